"""The data plane's Prometheus exposition, shared by the data plane that serves it and the
SLO rules that query it (a leaf: no imports)."""

from __future__ import annotations

__all__ = ["REQUESTS_METRIC", "DURATION_METRIC", "PROMETHEUS_BOUNDS_S"]

REQUESTS_METRIC = "watchstander_requests_total"  # labels: version, code_class
DURATION_METRIC = "watchstander_request_duration_seconds"  # histogram, label: version
# The histogram's bucket bounds in seconds: the conventional dozen scrapers expect.
PROMETHEUS_BOUNDS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
