"""`metrics.type: prometheus`: an existing Prometheus answers every metric by PromQL.

Secrets are never written in the file: the auth fields name environment variables, read
when the metric source starts (providers/metrics/prometheus.py). See
docs/backends/prometheus.md for the default queries and how to template your own.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from watchstander.config.base import Model
from watchstander.config.duration import Seconds

__all__ = ["PrometheusMetricsConfig", "PLACEHOLDERS", "METRICS"]

# What a query template may contain; anything else in braces is PromQL (label matchers).
PLACEHOLDERS = ("service", "version", "window", "window_seconds", "selector")
_LABEL = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"
# The metrics a source answers (analysis.models.SOURCE_METRICS; config stays a leaf).
METRICS = ("error_rate", "latency_p50", "latency_p95", "latency_p99", "throughput", "requests")


class PrometheusMetricsConfig(Model):
    type: Literal["prometheus"] = "prometheus"
    url: str = Field(pattern=r"^https?://")  # the server's base URL, e.g. http://prom:9090
    timeout: Seconds = Field(10.0, gt=0)
    # Auth from environment variables only (never the secret itself in the file).
    bearer_token_env: str | None = Field(None, pattern=_ENV)
    username_env: str | None = Field(None, pattern=_ENV)
    password_env: str | None = Field(None, pattern=_ENV)
    # The labels that carry the service and the version on the request metrics. An empty
    # service_label matches no service label at all (a Prometheus that scrapes one service).
    service_label: str = Field("service", pattern=r"^$|^[a-zA-Z_][a-zA-Z0-9_]*$")
    version_label: str = Field("version", pattern=_LABEL)
    # Per-metric PromQL templates with {service}, {version}, {window}, {window_seconds} and
    # {selector}; a
    # metric not named here uses the default query for the watchstander request metrics.
    queries: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        netloc = value.split("://", 1)[1].split("/", 1)[0]
        if "@" in netloc:
            raise ValueError(
                "put no user:password in the url; name environment variables in "
                "username_env and password_env (or bearer_token_env) instead"
            )
        return value.rstrip("/")

    @field_validator("queries")
    @classmethod
    def _known_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(METRICS))
        if unknown:
            raise ValueError(
                f"queries names unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}"
            )
        for metric, template in value.items():
            if not template.strip():
                raise ValueError(f"queries.{metric} is empty")
            named = set(re.findall(r"\{([a-z_]+)\}", template))
            # A lone word in braces is never valid PromQL, so it must be a misspelt placeholder.
            stray = sorted(named - set(PLACEHOLDERS))
            if stray:
                raise ValueError(
                    f"queries.{metric} has unknown placeholder(s) "
                    f"{', '.join('{' + s + '}' for s in stray)}; "
                    f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
                )
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusMetricsConfig:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together (basic auth)")
        if self.bearer_token_env is not None and self.username_env is not None:
            raise ValueError("set bearer_token_env or username_env/password_env, not both")
        return self
