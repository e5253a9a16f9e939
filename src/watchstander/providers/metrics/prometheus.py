"""PrometheusMetricSource: every metric is a PromQL query against an existing Prometheus.

Semantics mirror the builtin source (providers/metrics/builtin.py): error_rate 0..1,
latency_p50/p95/p99 in milliseconds, throughput in requests/s, requests as a count;
version "*" is the whole service; an idle version has no error rate or latency (None)
but a throughput and request count of 0.0; `Sample.count` is the requests behind a value.

A metric's query is a template (config `metrics.queries`, else DEFAULT_QUERIES for the
data plane's own exposition) with the placeholders {service}, {version}, {window} and
{selector}. A template that uses {window} is an *instant* query evaluated at the end of
the measurement window (`increase(x[{window}])` covers exactly the window); one without
{window} (a recording rule, a gauge) is a *range* query over the window, and its value is
the mean of the points. The count behind a value is the `requests` query for the same
version and window; analyses ask several metrics of a version at the same moment, so
identical evaluations are shared (in flight and for CACHE_TTL_S), like the builtin source.

Failures are data, never exceptions: NaN, +/-Inf and an empty result are "no data"
(value None, judged by the metric's no-data policy); HTTP errors, timeouts, unreadable
answers, `status: error` and results with several series come back as Sample.error, one
line naming the server and the query. Secrets come only from the environment variables
the config names, and appear in no error and no recorded query.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.config.prometheus import PrometheusMetricsConfig
from watchstander.exposition import DURATION_METRIC, REQUESTS_METRIC
from watchstander.providers.metrics.shared import SharedCalls

__all__ = [
    "PrometheusMetricSource",
    "DEFAULT_QUERIES",
    "ALL_VERSIONS",
    "CACHE_TTL_S",
    "Resolved",
    "resolve",
    "prom_duration",
]

ALL_VERSIONS = "*"
CACHE_TTL_S = 5.0
_CACHE_SIZE = 64
_MAX_RANGE_POINTS = 120  # a range query's step is window / this, at least one second


def _delta(series: str, by: str = "") -> str:
    """How much a counter grew over the window: its value at the end minus its value at the
    start. Not `increase()`, which extrapolates over the window and misses everything a new
    series (a canary's first requests) counted before its first scrape; a series that did
    not exist at the start counted from 0."""
    now, then = f"sum{by} ({series})", f"sum{by} ({series} offset {{window}})"
    return f"({now} - ({then} or 0 * {now}))"


def _quantile(q: str) -> str:
    buckets = _delta(DURATION_METRIC + "_bucket{{selector}}", " by (le)")
    return f"histogram_quantile({q}, {buckets}) * 1000"


_REQUESTS = _delta(REQUESTS_METRIC + "{{selector}}")
_ERRORS = _delta(REQUESTS_METRIC + '{code_class="5xx",{selector}}')

# The data plane's exposition (exposition.py); {selector} is the service and version
# matchers. Error rate counts 5xx, which includes the router's own proxy errors, as the
# builtin source does. `or vector(0)`: no 5xx series yet means no errors, and no series at
# all means no traffic (0 req/s, 0 requests), while 0/0 stays NaN, i.e. no data.
DEFAULT_QUERIES: Mapping[str, str] = {
    "error_rate": f"({_ERRORS} or vector(0)) / {_REQUESTS}",
    "latency_p50": _quantile("0.5"),
    "latency_p95": _quantile("0.95"),
    "latency_p99": _quantile("0.99"),
    "throughput": f"({_REQUESTS} or vector(0)) / {{window_seconds}}",
    "requests": f"{_REQUESTS} or vector(0)",
}

_PLACEHOLDER = re.compile(r"\{(service|version|window|window_seconds|selector)\}")
# `label="{version}"` cannot match every version; for "*" it becomes `label=~".*"`.
_VERSION_EQUALS = re.compile(r'(?<![!=~])=\s*"\{version\}"')


@dataclass(frozen=True)
class Resolved:
    """A template with its placeholders filled in: what is sent, and how."""

    expr: str
    instant: bool  # False: a range query over the window (the template has no {window})


def prom_duration(seconds: float) -> str:
    """A PromQL duration: whole seconds as "300s", otherwise milliseconds ("1500ms")."""
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def resolve(
    template: str, *, config: PrometheusMetricsConfig, service: str, version: str, window: float
) -> Resolved:
    """Fill in {service}, {version}, {window} and {selector}; joins the lines of a
    multi-line template so the recorded query is one line and is exactly what is sent."""
    matchers = []
    if config.service_label:
        matchers.append(f'{config.service_label}="{_string(service)}"')
    if version != ALL_VERSIONS:
        matchers.append(f'{config.version_label}="{_string(version)}"')
    if version == ALL_VERSIONS:
        template = _VERSION_EQUALS.sub('=~"{version}"', template)
    values = {
        "service": _string(service),
        "version": ".*" if version == ALL_VERSIONS else _string(version),
        "window": prom_duration(window),
        "window_seconds": f"{window:g}",
        "selector": ",".join(matchers),
    }
    lines = (line.strip() for line in template.splitlines())
    one_line = " ".join(line for line in lines if line)
    expr = _PLACEHOLDER.sub(lambda m: values[m.group(1)], one_line)
    return Resolved(expr, instant="{window}" in template)


class _Failed(Exception):
    """A query that gave no usable answer; the message is the Sample's error."""


class PrometheusMetricSource:
    """Answers MetricQuery with PromQL on the Prometheus HTTP API at `config.url`."""

    def __init__(
        self,
        config: PrometheusMetricsConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._where = _display(config.url)
        headers, auth, self._auth_error = _credentials(config, os.environ if env is None else env)
        self._client = httpx.AsyncClient(
            base_url=config.url,
            transport=transport,
            timeout=config.timeout,
            headers=headers,
            auth=auth,
        )
        self._calls: SharedCalls[tuple[object, ...], float | None] = SharedCalls(
            ttl=CACHE_TTL_S, size=_CACHE_SIZE
        )

    def resolve(self, metric: str, service: str, version: str, window: float) -> Resolved:
        template = self.config.queries.get(metric) or DEFAULT_QUERIES[metric]
        return resolve(
            template, config=self.config, service=service, version=version, window=window
        )

    async def query(self, q: MetricQuery) -> Sample:
        if q.metric not in DEFAULT_QUERIES:
            return Sample(None, error=f"unknown metric {q.metric!r}")
        window = (q.end - q.start).total_seconds()
        if window <= 0:
            return Sample(None, error="the window is empty (end <= start)")
        main = self.resolve(q.metric, q.service, q.version, window)
        recorded = _describe(main, q)
        if self._auth_error is not None:
            return Sample(None, query=recorded, error=self._auth_error)
        try:
            value = await self._evaluate(main, q)
            if q.metric == "requests":
                count = value
            else:
                count = await self._evaluate(
                    self.resolve("requests", q.service, q.version, window), q
                )
        except _Failed as exc:
            return Sample(None, query=recorded, error=str(exc))
        return Sample(value, round(count or 0.0), recorded)

    async def _evaluate(self, resolved: Resolved, q: MetricQuery) -> float | None:
        start, end = q.start.timestamp(), q.end.timestamp()
        # A failure (_Failed) is not remembered: the next measurement asks again.
        return await self._calls.get(
            (resolved, start, end), lambda: self._fetch(resolved, start, end)
        )

    async def _fetch(self, resolved: Resolved, start: float, end: float) -> float | None:
        where = f"prometheus at {self._where}"
        # The server gives up at our timeout too, rather than computing for nobody.
        form = {"query": resolved.expr, "timeout": prom_duration(self.config.timeout)}
        if resolved.instant:
            path = "/api/v1/query"
            form["time"] = f"{end:.3f}"
        else:
            path = "/api/v1/query_range"
            step = max(1.0, (end - start) / _MAX_RANGE_POINTS)
            form.update(start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step:.3f}")
        try:
            # POST: long queries do not hit URL length limits of proxies in front.
            response = await self._client.post(path, data=form)
        except httpx.TimeoutException:
            raise _Failed(
                f"{where}: timed out after {self.config.timeout:g}s; query: {resolved.expr}"
            ) from None
        except httpx.HTTPError as exc:
            reason = _one_line(str(exc)) or type(exc).__name__
            raise _Failed(f"{where}: {reason}; query: {resolved.expr}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            problem = (
                f"HTTP {response.status_code}"
                if response.is_error
                else f"answered HTTP {response.status_code} with no JSON object"
            )
            raise _Failed(f"{where}: {problem}; query: {resolved.expr}")
        if body.get("status") != "success":
            kind = body.get("errorType") or f"HTTP {response.status_code}"
            detail = _one_line(str(body.get("error") or "no error message"))
            raise _Failed(f"{where}: {kind}: {detail}; query: {resolved.expr}")
        try:
            return _value(body.get("data"))
        except ValueError as exc:
            raise _Failed(f"{where}: {exc}; query: {resolved.expr}") from None

    async def aclose(self) -> None:
        await self._calls.aclose()
        await self._client.aclose()


def _value(data: Any) -> float | None:
    """The one number in a query result; None for no data. ValueError when unreadable."""
    if not isinstance(data, dict):
        raise ValueError("the answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _finite(result)
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise ValueError(f"unexpected result type {kind!r}")
    if not result:
        return None
    if len(result) > 1:
        raise ValueError(
            f"the query returned {len(result)} series, not one (aggregate it, e.g. with sum)"
        )
    series = result[0]
    if not isinstance(series, dict):
        raise ValueError("unreadable series")
    if kind == "vector":
        return _finite(series.get("value"))
    points = [_finite(p) for p in series.get("values") or []]
    finite = [p for p in points if p is not None]
    return sum(finite) / len(finite) if finite else None


def _finite(point: Any) -> float | None:
    try:
        value = float(point[1])
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"unreadable sample {point!r}") from exc
    return value if math.isfinite(value) else None


def _credentials(
    config: PrometheusMetricsConfig, env: Mapping[str, str]
) -> tuple[dict[str, str], httpx.BasicAuth | None, str | None]:
    """(headers, basic auth, error). A missing variable is reported on every query (as
    Sample.error naming the field) rather than raised: a metric source never raises."""
    missing = [
        f"metrics.{field}: environment variable {name} is not set"
        for field, name in (
            ("bearer_token_env", config.bearer_token_env),
            ("username_env", config.username_env),
            ("password_env", config.password_env),
        )
        if name is not None and not env.get(name)
    ]
    if missing:
        return {}, None, "; ".join(missing)
    if config.bearer_token_env is not None:
        return {"Authorization": f"Bearer {env[config.bearer_token_env]}"}, None, None
    if config.username_env is not None and config.password_env is not None:
        return {}, httpx.BasicAuth(env[config.username_env], env[config.password_env]), None
    return {}, None, None


def _display(url: str) -> str:
    """The URL without any user:password@ part, for messages."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path.rstrip('/')}"


def _describe(resolved: Resolved, q: MetricQuery) -> str:
    # A PromQL comment: the recorded text pastes into the Prometheus UI as is.
    if resolved.instant:
        return f"{resolved.expr} # instant at {_hms(q.end)}"
    return f"{resolved.expr} # range {_hms(q.start)}..{_hms(q.end)}"


def _hms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
