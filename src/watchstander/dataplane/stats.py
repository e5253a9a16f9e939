"""Per-version request statistics: per-second buckets for any window, plus cumulative totals.

Why per-second buckets instead of counters: an analysis asks "what was the error rate and
p99 of version 1.1.0 between 12:00:05 and 12:00:15", so the data plane must answer for an
arbitrary window, not only "since start". Each version keeps one bucket per second that saw
traffic for the last hour (RETENTION_S); a window is the sum of the buckets it overlaps.
Buckets are sparse (only seconds with traffic exist, and only latency bins that were hit),
so an idle version costs nothing and a busy one ~1 KB per second.

Latency goes into fine log-spaced bins: 20 per decade from 0.5 ms to ~63 s (each bin ~12%
wide), so a quantile interpolated inside a bin is within a few percent of the truth — good
enough to judge "p99 +20% over baseline". Cumulative totals (for Prometheus) use a coarser,
conventional bucket set because scrapers and dashboards expect a dozen buckets, not 100.

This module is pure (no IO, no clock): callers pass the time in, which keeps it testable.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchstander.exposition import PROMETHEUS_BOUNDS_S

__all__ = [
    "LATENCY_BOUNDS_MS",
    "PROMETHEUS_BOUNDS_S",
    "RETENTION_S",
    "CODE_CLASSES",
    "bucket_index",
    "bucket_range",
    "code_class",
    "quantile_ms",
    "WindowStats",
    "VersionStats",
    "StatsBook",
]

RETENTION_S = 3600  # how far back a window can reach
_PER_DECADE = 20
_FIRST_MS = 0.5
_LAST_MS = 60_000.0
_STEPS = math.ceil(_PER_DECADE * math.log10(_LAST_MS / _FIRST_MS))
# Upper bounds (inclusive) of the latency bins; one more overflow bin holds larger values.
LATENCY_BOUNDS_MS: tuple[float, ...] = tuple(
    _FIRST_MS * 10 ** (k / _PER_DECADE) for k in range(_STEPS + 1)
)
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def bucket_index(ms: float) -> int:
    """The latency bin of a duration in milliseconds (len(LATENCY_BOUNDS_MS) = overflow)."""
    if ms <= _FIRST_MS:
        return 0
    k = math.ceil(_PER_DECADE * math.log10(ms / _FIRST_MS) - 1e-9)
    # Float rounding can put a value on a bound one bin too high or low: fix it up.
    while k > 0 and k - 1 < len(LATENCY_BOUNDS_MS) and ms <= LATENCY_BOUNDS_MS[k - 1]:
        k -= 1
    while k < len(LATENCY_BOUNDS_MS) and ms > LATENCY_BOUNDS_MS[k]:
        k += 1
    return min(k, len(LATENCY_BOUNDS_MS))


def bucket_range(index: int) -> tuple[float, float]:
    """(lower, upper) milliseconds of a bin; the overflow bin's upper bound is infinity."""
    lower = 0.0 if index == 0 else LATENCY_BOUNDS_MS[index - 1]
    upper = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else math.inf
    return lower, upper


def code_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "5xx"


def quantile_ms(bins: Iterable[tuple[float, float, int]], q: float) -> float | None:
    """The q-quantile (0..1) from (lower_ms, upper_ms, count) bins, interpolated linearly
    inside the bin that holds it. None when there are no observations."""
    ordered = sorted((b for b in bins if b[2] > 0), key=lambda b: b[0])
    total = sum(b[2] for b in ordered)
    if total == 0:
        return None
    rank = min(max(q, 0.0), 1.0) * total
    seen = 0
    for lower, upper, count in ordered:
        if seen + count >= rank:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * max(rank - seen, 0.0) / count
        seen += count
    lower, upper, _ = ordered[-1]
    return lower if math.isinf(upper) else upper


@dataclass(frozen=True)
class WindowStats:
    """The requests of one version over one window, as served on GET /stats."""

    count: int = 0
    by_class: Mapping[str, int] = field(default_factory=dict)
    proxy_errors: int = 0  # no upstream answered (502/503/504 made by the router)
    failed_attempts: int = 0  # upstream attempts that failed and were retried elsewhere
    latency_bins: tuple[tuple[float, float, int], ...] = ()  # (lower_ms, upper_ms, count)
    latency_sum_ms: float = 0.0
    first_5xx_at: float | None = None  # POSIX time of the first 5xx in the window

    @property
    def errors(self) -> int:
        return self.by_class.get("5xx", 0)

    def error_rate(self) -> float | None:
        return self.errors / self.count if self.count else None

    def quantile_ms(self, q: float) -> float | None:
        return quantile_ms(self.latency_bins, q)

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by_class": dict(self.by_class),
            "proxy_errors": self.proxy_errors,
            "failed_attempts": self.failed_attempts,
            "latency_ms": {
                # Sparse: only bins that were hit; "le" None is the overflow bin.
                "bins": [
                    [lo, None if math.isinf(hi) else hi, n] for lo, hi, n in self.latency_bins
                ],
                "sum": self.latency_sum_ms,
            },
            "first_5xx_at": self.first_5xx_at,
        }

    @classmethod
    def merge(cls, parts: Iterable[WindowStats]) -> WindowStats:
        """Several versions' windows as one (a service-level SLI counts every request)."""
        count = proxy = failed = 0
        by_class: dict[str, int] = {}
        bins: dict[tuple[float, float], int] = {}
        total_ms = 0.0
        first: float | None = None
        for w in parts:
            count += w.count
            proxy += w.proxy_errors
            failed += w.failed_attempts
            total_ms += w.latency_sum_ms
            for cls_, n in w.by_class.items():
                by_class[cls_] = by_class.get(cls_, 0) + n
            for lo, hi, n in w.latency_bins:
                bins[lo, hi] = bins.get((lo, hi), 0) + n
            if w.first_5xx_at is not None and (first is None or w.first_5xx_at < first):
                first = w.first_5xx_at
        return cls(
            count=count,
            by_class=by_class,
            proxy_errors=proxy,
            failed_attempts=failed,
            latency_bins=tuple((lo, hi, bins[lo, hi]) for lo, hi in sorted(bins)),
            latency_sum_ms=total_ms,
            first_5xx_at=first,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WindowStats:
        latency = data.get("latency_ms") or {}
        bins = tuple(
            (float(lo), math.inf if hi is None else float(hi), int(n))
            for lo, hi, n in latency.get("bins", [])
        )
        first = data.get("first_5xx_at")
        return cls(
            count=int(data.get("count", 0)),
            by_class={str(k): int(v) for k, v in (data.get("by_class") or {}).items()},
            proxy_errors=int(data.get("proxy_errors", 0)),
            failed_attempts=int(data.get("failed_attempts", 0)),
            latency_bins=bins,
            latency_sum_ms=float(latency.get("sum", 0.0)),
            first_5xx_at=None if first is None else float(first),
        )


class _Second:
    """The traffic of one version in one second."""

    __slots__ = (
        "count",
        "by_class",
        "proxy_errors",
        "failed_attempts",
        "bins",
        "sum_ms",
        "first_5xx_at",
    )

    def __init__(self) -> None:
        self.count = 0
        self.by_class: dict[str, int] = {}
        self.proxy_errors = 0
        self.failed_attempts = 0
        self.bins: dict[int, int] = {}
        self.sum_ms = 0.0
        self.first_5xx_at: float | None = None


class VersionStats:
    """One version's per-second ring (last RETENTION_S seconds) and cumulative totals."""

    def __init__(self, retention_s: int = RETENTION_S) -> None:
        self._retention = retention_s
        self._seconds: dict[int, _Second] = {}
        self._order: deque[int] = deque()  # seconds in arrival order, for pruning
        # Cumulative, for Prometheus (never reset while the daemon lives).
        self.total_by_class: dict[str, int] = {}
        self.total_proxy_errors = 0
        self.prom_buckets = [0] * (len(PROMETHEUS_BOUNDS_S) + 1)  # non-cumulative, +Inf last
        self.total_sum_s = 0.0
        self.total_count = 0

    def _second(self, at: float) -> _Second:
        sec = int(at)
        bucket = self._seconds.get(sec)
        if bucket is None:
            bucket = self._seconds[sec] = _Second()
            self._order.append(sec)
            horizon = sec - self._retention
            while self._order and self._order[0] < horizon:
                self._seconds.pop(self._order.popleft(), None)
        return bucket

    def record(
        self, at: float, status: int, latency_s: float, *, proxy_error: bool = False
    ) -> None:
        """One response sent to a client at POSIX time `at`."""
        cls = code_class(status)
        ms = latency_s * 1000.0
        bucket = self._second(at)
        bucket.count += 1
        bucket.by_class[cls] = bucket.by_class.get(cls, 0) + 1
        index = bucket_index(ms)
        bucket.bins[index] = bucket.bins.get(index, 0) + 1
        bucket.sum_ms += ms
        if proxy_error:
            bucket.proxy_errors += 1
            self.total_proxy_errors += 1
        if cls == "5xx" and bucket.first_5xx_at is None:
            bucket.first_5xx_at = at
        self.total_count += 1
        self.total_by_class[cls] = self.total_by_class.get(cls, 0) + 1
        self.total_sum_s += latency_s
        self.prom_buckets[_prom_index(latency_s)] += 1

    def record_failed_attempt(self, at: float) -> None:
        """An upstream attempt that failed but was retried (the client did not see it)."""
        self._second(at).failed_attempts += 1

    def window(self, since: float, until: float) -> WindowStats:
        """Everything in the seconds overlapping [since, until]."""
        # Second s covers [s, s+1): it overlaps the window when s <= until and s+1 > since.
        first, last = math.floor(since), math.ceil(until) - 1
        if last - first > len(self._seconds):
            seconds: Iterable[int] = (s for s in self._order if first <= s <= last)
        else:
            seconds = range(first, last + 1)
        count = proxy = failed = 0
        by_class: dict[str, int] = {}
        bins: dict[int, int] = {}
        total_ms = 0.0
        first_5xx: float | None = None
        for sec in seconds:
            bucket = self._seconds.get(sec)
            if bucket is None:
                continue
            count += bucket.count
            proxy += bucket.proxy_errors
            failed += bucket.failed_attempts
            total_ms += bucket.sum_ms
            for cls, n in bucket.by_class.items():
                by_class[cls] = by_class.get(cls, 0) + n
            for index, n in bucket.bins.items():
                bins[index] = bins.get(index, 0) + n
            if bucket.first_5xx_at is not None and (
                first_5xx is None or bucket.first_5xx_at < first_5xx
            ):
                first_5xx = bucket.first_5xx_at
        return WindowStats(
            count=count,
            by_class=by_class,
            proxy_errors=proxy,
            failed_attempts=failed,
            latency_bins=tuple((*bucket_range(i), bins[i]) for i in sorted(bins)),
            latency_sum_ms=total_ms,
            first_5xx_at=first_5xx,
        )

    def prometheus_buckets(self) -> list[tuple[str, int]]:
        """Cumulative (le, count) pairs in the shape prometheus_client expects."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip(PROMETHEUS_BOUNDS_S, self.prom_buckets, strict=False):
            running += n
            out.append((repr(bound), running))
        out.append(("+Inf", running + self.prom_buckets[-1]))
        return out


def _prom_index(latency_s: float) -> int:
    for i, bound in enumerate(PROMETHEUS_BOUNDS_S):
        if latency_s <= bound:
            return i
    return len(PROMETHEUS_BOUNDS_S)


class StatsBook:
    """VersionStats by version, created on first use."""

    def __init__(self, retention_s: int = RETENTION_S) -> None:
        self._retention = retention_s
        self.versions: dict[str, VersionStats] = {}

    def of(self, version: str) -> VersionStats:
        stats = self.versions.get(version)
        if stats is None:
            stats = self.versions[version] = VersionStats(self._retention)
        return stats

    def window(
        self, since: float, until: float, versions: Sequence[str] | None = None
    ) -> dict[str, WindowStats]:
        names = sorted(self.versions) if versions is None else versions
        return {v: self.of(v).window(since, until) for v in names}
