"""SLOs: definitions, error budgets, burn-rate alerts, OpenSLO import, Prometheus rules (pure)."""
