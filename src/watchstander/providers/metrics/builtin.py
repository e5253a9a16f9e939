"""BuiltinMetricSource: per-version metrics from the local data plane's GET /stats.

The router measures every request itself, so a one-machine setup needs no Prometheus.
One /stats call returns every version's counts and latency histogram for a window, and an
analysis asks ~4 metrics x 2 versions over the same window at the same moment: calls are
shared per (since, until) — concurrent queries await the same request, and the answer is
reused for CACHE_TTL_S — so that costs one HTTP call, not eight.

Metrics: error_rate (5xx including proxy errors / requests, 0..1), latency_p50/p95/p99
(milliseconds, interpolated in the histogram bin), throughput (requests/s over the
window), requests (count). Version "*" (ALL_VERSIONS) answers for every version together,
as the SLO engine asks. With no requests, error_rate and latencies are None (no data)
while throughput and requests are 0.0 (zero traffic is an observation). Any failure (daemon down, HTTP error, bad answer) is returned as
Sample(value=None, error=...); this never raises.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.dataplane.stats import WindowStats
from watchstander.providers.metrics.shared import SharedCalls

__all__ = ["BuiltinMetricSource", "METRICS", "CACHE_TTL_S", "ALL_VERSIONS"]

ALL_VERSIONS = "*"  # MetricQuery.version for the whole service (every version together)

CACHE_TTL_S = 5.0
_CACHE_SIZE = 32
_QUANTILES = {"latency_p50": 0.50, "latency_p95": 0.95, "latency_p99": 0.99}
METRICS = frozenset({"error_rate", "throughput", "requests", *_QUANTILES})

_Stats = dict[str, Any]


class BuiltinMetricSource:
    """Answers MetricQuery from the data plane at `admin_address` (HOST:PORT)."""

    def __init__(
        self,
        admin_address: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.admin_address = admin_address
        self._client = httpx.AsyncClient(
            base_url=f"http://{admin_address}", transport=transport, timeout=timeout
        )
        self._calls: SharedCalls[tuple[float, float], _Stats] = SharedCalls(
            ttl=CACHE_TTL_S, size=_CACHE_SIZE
        )

    async def query(self, q: MetricQuery) -> Sample:
        since, until = q.start.timestamp(), q.end.timestamp()
        # The router counts per whole second. Only the seconds that lie entirely inside the
        # window are used: a partial second at either end would mix in traffic from before a
        # weight change (or the unfinished current second) and skew per-version shares.
        whole_since, whole_until = math.ceil(since), math.floor(until)
        if whole_until - whole_since >= 1:
            since, until = float(whole_since), float(whole_until)
        described = (
            f"builtin: {q.metric}{{service={q.service},version={q.version}}} "
            f"[{_hms(_utc(since))}, {_hms(_utc(until))}]"
        )
        if q.metric not in METRICS:
            return Sample(None, query=described, error=f"unknown metric {q.metric!r}")
        if until <= since:
            return Sample(None, query=described, error="the window is empty (end <= start)")
        try:
            stats = await self._stats(since, until)
        except Exception as exc:  # every failure is data, by contract
            return Sample(None, query=described, error=_describe(exc, self.admin_address))
        if stats.get("service") not in (None, q.service):
            return Sample(
                None,
                query=described,
                error=f"data plane at {self.admin_address} serves {stats.get('service')!r}, "
                f"not {q.service!r}",
            )
        try:
            versions = stats.get("versions", {})
            if q.version == ALL_VERSIONS:
                window = WindowStats.merge(WindowStats.from_json(v) for v in versions.values())
            else:
                window = WindowStats.from_json(versions.get(q.version) or {})
        except (TypeError, ValueError, KeyError) as exc:
            return Sample(None, query=described, error=f"unreadable /stats answer: {exc!r}")
        return Sample(_value(q.metric, window, until - since), window.count, described)

    async def _stats(self, since: float, until: float) -> _Stats:
        return await self._calls.get((since, until), lambda: self._fetch(since, until))

    async def _fetch(self, since: float, until: float) -> _Stats:
        response = await self._client.get("/stats", params={"since": since, "until": until})
        response.raise_for_status()
        data = response.json()
        if not isinstance(data, dict):
            raise ValueError("/stats did not answer a JSON object")
        return data

    async def aclose(self) -> None:
        await self._calls.aclose()
        await self._client.aclose()


def _value(metric: str, window: WindowStats, seconds: float) -> float | None:
    if metric == "requests":
        return float(window.count)
    if metric == "throughput":
        return window.count / seconds
    if metric == "error_rate":
        return window.error_rate()
    return window.quantile_ms(_QUANTILES[metric])


def _hms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%SZ")


def _describe(exc: Exception, address: str) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return f"data plane at {address} is not running (start it with 'watchstander dataplane up')"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"GET /stats answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return f"GET /stats on {address} timed out"
    return f"GET /stats on {address} failed: {exc!r}"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
