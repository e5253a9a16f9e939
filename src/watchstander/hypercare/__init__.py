"""Hypercare: the period after a release, its daily status, escalation matrix and exit criteria (pure)."""
