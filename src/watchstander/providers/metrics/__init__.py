"""Metric sources answer per-version queries over a window (builtin, later Prometheus)."""
