"""`metrics.type: prometheus`: an existing Prometheus answers every metric by PromQL."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from watchstander.config.base import Model
from watchstander.config.duration import Seconds

__all__ = ["PrometheusMetricsConfig"]


class PrometheusMetricsConfig(Model):
    type: Literal["prometheus"] = "prometheus"
    url: str = Field(pattern=r"^https?://")  # the server's base URL, e.g. http://prom:9090
    timeout: Seconds = 10.0
    # Auth from environment variables only (never the secret itself in the file).
    bearer_token_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    # The labels that carry the service and the version on the request metrics.
    service_label: str = "service"
    version_label: str = "version"
    # Per-metric PromQL templates with {service}, {version} and {window}; a metric not
    # named here uses the default query for the watchstander request metrics.
    queries: dict[str, str] = Field(default_factory=dict)
