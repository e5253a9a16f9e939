"""Data of an analysis: what was asked, what was seen, what was decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Phase",
    "NoDataPolicy",
    "Judge",
    "MetricQuery",
    "Sample",
    "MetricSpec",
    "Measurement",
    "SOURCE_METRICS",
    "TARGET_METRICS",
]

# Metric names a metric source answers per version over a window.
SOURCE_METRICS = frozenset(
    {"error_rate", "latency_p50", "latency_p95", "latency_p99", "throughput", "requests"}
)
# Metric names read from the target's instance states.
TARGET_METRICS = frozenset({"restarts", "oom_kills", "unhealthy_pct"})


class Phase(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


class NoDataPolicy(StrEnum):
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    IGNORE = "ignore"


class Judge(StrEnum):
    MAX = "max"  # value <= limit
    MIN = "min"  # value >= limit
    MAX_INCREASE_ABS = "max-increase-abs"  # value <= baseline + limit
    MAX_INCREASE_PCT = "max-increase-pct"  # value <= baseline * (1 + limit/100)
    MAX_DECREASE_PCT = "max-decrease-pct"  # value >= expected * (1 - limit/100)


@dataclass(frozen=True)
class MetricQuery:
    metric: str  # one of SOURCE_METRICS
    service: str
    version: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Sample:
    """One observation of one metric for one version over one window."""

    value: float | None  # None: no data
    count: int = 0  # requests behind the value
    query: str = ""  # the resolved query, for reports
    error: str | None = None  # the query failed

    @property
    def has_data(self) -> bool:
        return self.error is None and self.value is not None


@dataclass(frozen=True)
class MetricSpec:
    """One metric judged at every measurement of an analysis."""

    name: str
    metric: str  # a SOURCE_METRICS or TARGET_METRICS name
    judge: Judge
    limit: float
    # A relative judge also needs the change to exceed this much in absolute terms, so
    # that 1.0 ms -> 1.3 ms of loopback jitter is not a "30% regression".
    min_delta: float = 0.0
    min_count: int = 0  # fewer requests than this is no data
    no_data: NoDataPolicy = NoDataPolicy.INCONCLUSIVE
    failure_limit: int = 0  # FAILED when failures > limit; -1 never
    inconclusive_limit: int = 1
    consecutive_error_limit: int = 4
    unit: str = ""
    trigger: bool = True  # a failure is a rollback trigger (False: SLO info only)

    @property
    def needs_baseline(self) -> bool:
        return self.judge in {
            Judge.MAX_INCREASE_ABS,
            Judge.MAX_INCREASE_PCT,
            Judge.MAX_DECREASE_PCT,
        }

    @property
    def from_target(self) -> bool:
        return self.metric in TARGET_METRICS


@dataclass(frozen=True)
class Measurement:
    """A judged sample: the value, what it was compared with, and why it got its phase."""

    name: str
    metric: str
    phase: Phase
    value: float | None
    baseline: float | None
    threshold: float | None
    reason: str
    query: str
    at: datetime
    count: int = 0
    version: str = ""
