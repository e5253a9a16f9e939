"""IO providers behind small protocols: targets, metric sources (later notifiers, vcs)."""
