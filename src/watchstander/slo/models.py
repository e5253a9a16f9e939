"""SLO definitions and the arithmetic of error budgets and burn rates.

An SLO says what share of events (or time slices) must be good over a window. The SLI is
measured through the metric-source interface into buckets (`Bucket`: good and total
counts for one stretch of time, kept in the store), so any window is a sum of buckets and
"all SLOs met for 72 consecutive hours" is a query over stored data.

Kinds and how a bucket counts:

* ``availability`` / ``error_rate`` (occurrences): total = requests, good = requests that
  did not fail (5xx). The objective is the share of good requests (99.9% availability is
  the same budget as "error rate below 0.1%").
* ``latency`` (timeslices): a slice is good when the window's quantile (p50/p95/p99) is at
  or under `threshold` ms.
* ``throughput`` (timeslices): a slice is good when requests/s are at or above `threshold`.

With timeslice budgeting a bucket is one slice (good 1 or 0, total 1); a slice with no
data counts neither way (it is recorded, as no data). Occurrence budgeting can also be
chosen for availability with `budgeting: timeslices` to judge per slice against
`timeslice_target` (OpenSLO's Timeslices).

The budget arithmetic (SRE workbook, handbook 4.1):

    error ratio   = bad / total
    burn rate     = error ratio / (1 - objective)
    budget        = (1 - objective) * total       (bad events allowed)
    consumed      = bad / budget                   (1.0 = the whole budget)
    remaining     = 1 - consumed

Status (the flow's ON TARGET / AT RISK / EXCEEDED) and assessment (HEALTHY / MONITOR /
CRITICAL) come from `remaining` and the current burn rate; see `assess`.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "SliKind",
    "Budgeting",
    "Window",
    "SloDefinition",
    "Bucket",
    "Counts",
    "Budget",
    "Status",
    "Assessment",
    "budget",
    "window_budget_share",
    "assess",
    "RECOMMENDATIONS",
    "QUANTILE_METRICS",
    "slug",
    "to_data",
    "from_data",
]

QUANTILE_METRICS = {0.5: "latency_p50", 0.95: "latency_p95", 0.99: "latency_p99"}


def slug(name: str) -> str:
    """Lower-case letters and digits joined by single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class SliKind(StrEnum):
    AVAILABILITY = "availability"
    ERROR_RATE = "error_rate"
    LATENCY = "latency"
    THROUGHPUT = "throughput"


class Budgeting(StrEnum):
    OCCURRENCES = "occurrences"
    TIMESLICES = "timeslices"


@dataclass(frozen=True)
class Window:
    """A rolling window (`duration` back from now) or a calendar one (this day, week or
    month in `timezone`). `duration` is the nominal length used to scale burn-rate alert
    factors (a calendar month counts as 30 days)."""

    duration: timedelta
    rolling: bool = True
    calendar: str | None = None  # "day" | "week" | "month" when not rolling
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError("window: duration must be positive")
        if not self.rolling and self.calendar not in ("day", "week", "month"):
            raise ValueError("window: a calendar window is a day, week or month")
        ZoneInfo(self.timezone)  # raises for an unknown zone

    def start(self, now: datetime) -> datetime:
        """Where the window that contains `now` begins."""
        if self.rolling:
            return now - self.duration
        local = now.astimezone(ZoneInfo(self.timezone))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.calendar == "week":
            day -= timedelta(days=day.weekday())
        elif self.calendar == "month":
            day = day.replace(day=1)
        # Re-localise: midnight may have a different offset than `now` (DST).
        naive = day.replace(tzinfo=None)
        return naive.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def end(self, now: datetime) -> datetime:
        """Where the window that contains `now` ends (now, for a rolling window)."""
        if self.rolling:
            return now
        start = self.start(now).astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        if self.calendar == "day":
            nxt = start + timedelta(days=1)
        elif self.calendar == "week":
            nxt = start + timedelta(days=7)
        else:
            days = _calendar.monthrange(start.year, start.month)[1]
            nxt = start + timedelta(days=days)
        return nxt.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def describe(self) -> str:
        days = self.duration / timedelta(days=1)
        if self.rolling:
            return f"rolling {days:g}d"
        return f"calendar {self.calendar} ({self.timezone})"


@dataclass(frozen=True)
class SloDefinition:
    name: str
    service: str
    kind: SliKind
    objective: float  # 0 < objective < 1 (0.999 = 99.9%)
    window: Window = Window(timedelta(days=30))
    budgeting: Budgeting = Budgeting.OCCURRENCES
    threshold: float | None = None  # latency: ms; throughput: requests/s
    quantile: float | None = None  # latency: 0.5, 0.95 or 0.99
    timeslice_target: float | None = None  # availability with timeslices: good-slice ratio
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = "watchstander.yaml"  # where it was defined (a file for imports)
    # Prometheus queries for the exported rules (Sloth's events SLI, with {{.window}}).
    error_query: str | None = None
    total_query: str | None = None

    def __post_init__(self) -> None:
        where = f"SLO {self.name!r}"
        if not self.name.strip() or "\n" in self.name or not slug(self.name):
            raise ValueError(f"{where}: a name needs at least one letter or digit, on one line")
        if not 0.0 < self.objective < 1.0:
            raise ValueError(
                f"{where}: objective {self.objective * 100:g}% is impossible; it must be"
                " above 0% and below 100% (100% leaves no error budget)"
            )
        if self.kind is SliKind.LATENCY:
            if self.threshold is None or self.threshold <= 0:
                raise ValueError(f"{where}: a latency SLO needs a positive threshold (ms)")
            if self.quantile not in QUANTILE_METRICS:
                raise ValueError(f"{where}: latency quantile must be 0.5, 0.95 or 0.99")
            if self.budgeting is not Budgeting.TIMESLICES:
                raise ValueError(
                    f"{where}: a latency SLO is budgeted by timeslices (each slice's"
                    f" p{round(self.quantile * 100)} against the threshold)"
                )
        if self.kind is SliKind.THROUGHPUT:
            if self.threshold is None or self.threshold <= 0:
                raise ValueError(f"{where}: a throughput SLO needs a positive threshold (req/s)")
            if self.budgeting is not Budgeting.TIMESLICES:
                raise ValueError(f"{where}: a throughput SLO is budgeted by timeslices")
        if self.timeslice_target is not None and not 0.0 < self.timeslice_target <= 1.0:
            raise ValueError(f"{where}: timeslice_target must be in (0, 1]")
        if (self.error_query is None) != (self.total_query is None):
            raise ValueError(f"{where}: give both error_query and total_query, or neither")

    @property
    def id(self) -> str:
        """A stable identifier for files, labels and rule names: "p99 under 1 s" ->
        "p99-under-1-s"."""
        return slug(self.name)

    @property
    def metric(self) -> str:
        """The metric-source metric one bucket is measured with."""
        if self.kind is SliKind.LATENCY:
            assert self.quantile is not None
            return QUANTILE_METRICS[self.quantile]
        if self.kind is SliKind.THROUGHPUT:
            return "throughput"
        return "error_rate"

    @property
    def error_budget(self) -> float:
        return 1.0 - self.objective

    def target_text(self) -> str:
        """The objective as people say it: "99.9% of requests succeed", "p95 <= 300 ms in
        99% of 5m slices"."""
        pct = f"{self.objective * 100:g}%"
        if self.kind is SliKind.LATENCY:
            assert self.quantile is not None
            return f"p{round(self.quantile * 100)} <= {self.threshold:g} ms in {pct} of slices"
        if self.kind is SliKind.THROUGHPUT:
            return f">= {self.threshold:g} req/s in {pct} of slices"
        if self.kind is SliKind.ERROR_RATE:
            return f"error rate < {self.error_budget * 100:.3g}% ({pct} good)"
        return f">= {pct} of requests succeed"

    def judge(self, value: float | None, count: int, seconds: float) -> Bucket | None:
        """One bucket from one measurement over `seconds`: the metric's `value` (error
        ratio 0..1, a quantile in ms, or req/s) behind `count` requests. None: no data."""
        if self.kind in (SliKind.AVAILABILITY, SliKind.ERROR_RATE):
            if value is None or count <= 0:
                return None
            bad = round(value * count)
            if self.budgeting is Budgeting.TIMESLICES:
                target = self.timeslice_target if self.timeslice_target is not None else 1.0
                good_slice = (count - bad) / count >= target - 1e-12
                return Bucket(good=1.0 if good_slice else 0.0, total=1.0, value=value)
            return Bucket(good=float(count - bad), total=float(count), value=value)
        if value is None:
            return None
        assert self.threshold is not None
        ok = value <= self.threshold if self.kind is SliKind.LATENCY else value >= self.threshold
        return Bucket(good=1.0 if ok else 0.0, total=1.0, value=value)


@dataclass(frozen=True)
class Bucket:
    """The SLI over one stretch of time: good and total events (or slices), and the
    measured value behind it (error ratio, quantile ms or req/s)."""

    good: float
    total: float
    value: float | None = None

    def __post_init__(self) -> None:
        if self.total < 0 or self.good < 0 or self.good > self.total:
            raise ValueError(f"bucket: need 0 <= good <= total, got {self.good}/{self.total}")


@dataclass(frozen=True)
class Counts:
    """Good and total over a window (a sum of buckets)."""

    good: float = 0.0
    total: float = 0.0

    @property
    def bad(self) -> float:
        return self.total - self.good

    @property
    def sli(self) -> float | None:
        return self.good / self.total if self.total > 0 else None

    @property
    def error_ratio(self) -> float | None:
        return self.bad / self.total if self.total > 0 else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.good + other.good, self.total + other.total)


class Status(StrEnum):
    ON_TARGET = "ON TARGET"
    AT_RISK = "AT RISK"
    EXCEEDED = "EXCEEDED"


class Assessment(StrEnum):
    HEALTHY = "HEALTHY"
    MONITOR = "MONITOR"
    CRITICAL = "CRITICAL"


# The flow's recommendations per assessment.
RECOMMENDATIONS = {
    Assessment.HEALTHY: "releases proceed; keep monitoring",
    Assessment.MONITOR: "increase monitoring; defer risky changes",
    Assessment.CRITICAL: "incident freeze: halt changes other than P0 fixes and security"
    " fixes, focus on stability",
}
AT_RISK_BELOW = 0.5  # remaining budget under half: AT RISK / MONITOR
CRITICAL_BELOW = 0.25  # remaining budget under a quarter: CRITICAL


@dataclass(frozen=True)
class Budget:
    objective: float
    counts: Counts

    @property
    def allowed(self) -> float:
        """Bad events (or slices) the window allows."""
        return (1.0 - self.objective) * self.counts.total

    @property
    def consumed(self) -> float | None:
        """Share of the budget spent (1.0 = all of it; can exceed 1). None: no data."""
        if self.counts.total <= 0:
            return None
        return self.counts.bad / self.allowed

    @property
    def remaining(self) -> float | None:
        consumed = self.consumed
        return None if consumed is None else 1.0 - consumed

    @property
    def burn_rate(self) -> float | None:
        ratio = self.counts.error_ratio
        return None if ratio is None else ratio / (1.0 - self.objective)

    @property
    def met(self) -> bool | None:
        sli = self.counts.sli
        return None if sli is None else sli >= self.objective - 1e-12


def window_budget_share(slo: SloDefinition, counts: Counts, span: timedelta) -> float | None:
    """The share of the SLO window's whole error budget that `counts`, measured over
    `span`, used: "% of the monthly budget consumed" during a hypercare period. The
    window's budget is extrapolated from the traffic seen (events per second, or slices
    measured) over `span`. None when nothing was measured."""
    if counts.total <= 0 or span <= timedelta(0):
        return None
    window_budget = (1.0 - slo.objective) * counts.total * (slo.window.duration / span)
    return counts.bad / window_budget


def budget(objective: float, counts: Counts) -> Budget:
    return Budget(objective, counts)


def assess(period: Budget, recent_burn: float | None = None) -> tuple[Status, Assessment]:
    """Status and assessment of a window's budget. `recent_burn`: the burn rate over a
    recent window (1 h); above 1 the budget is being spent faster than it accrues.

    EXCEEDED / CRITICAL: nothing left (remaining <= 0); CRITICAL also under 25% left.
    AT RISK / MONITOR: under 50% left, or burning faster than 1x now.
    ON TARGET / HEALTHY otherwise (also with no data: nothing was spent)."""
    remaining = period.remaining
    if remaining is not None:
        remaining = round(remaining, 9)  # 100 of 100 allowed is all, despite float noise
    if remaining is not None and remaining <= 0:
        return Status.EXCEEDED, Assessment.CRITICAL
    burning = recent_burn is not None and recent_burn > 1.0
    if remaining is not None and remaining < CRITICAL_BELOW:
        return Status.AT_RISK, Assessment.CRITICAL
    if (remaining is not None and remaining < AT_RISK_BELOW) or burning:
        return Status.AT_RISK, Assessment.MONITOR
    return Status.ON_TARGET, Assessment.HEALTHY


# -- storage form -------------------------------------------------------------------------------


def to_data(slo: SloDefinition) -> dict[str, object]:
    """A JSON-able dict of an SLO definition (imported SLOs are stored like this)."""
    w = slo.window
    return {
        "name": slo.name,
        "service": slo.service,
        "kind": slo.kind.value,
        "objective": slo.objective,
        "window": {
            "seconds": w.duration.total_seconds(),
            "rolling": w.rolling,
            "calendar": w.calendar,
            "timezone": w.timezone,
        },
        "budgeting": slo.budgeting.value,
        "threshold": slo.threshold,
        "quantile": slo.quantile,
        "timeslice_target": slo.timeslice_target,
        "description": slo.description,
        "labels": dict(slo.labels),
        "source": slo.source,
        "error_query": slo.error_query,
        "total_query": slo.total_query,
    }


def from_data(data: Mapping[str, object]) -> SloDefinition:
    w = data["window"]
    assert isinstance(w, Mapping)
    labels = data.get("labels") or {}
    assert isinstance(labels, Mapping)

    def opt(key: str) -> float | None:
        v = data.get(key)
        return None if v is None else float(str(v))

    def text(key: str) -> str | None:
        v = data.get(key)
        return None if v is None else str(v)

    return SloDefinition(
        name=str(data["name"]),
        service=str(data["service"]),
        kind=SliKind(str(data["kind"])),
        objective=float(str(data["objective"])),
        window=Window(
            timedelta(seconds=float(str(w["seconds"]))),
            rolling=bool(w.get("rolling", True)),
            calendar=None if w.get("calendar") is None else str(w["calendar"]),
            timezone=str(w.get("timezone", "UTC")),
        ),
        budgeting=Budgeting(str(data.get("budgeting", "occurrences"))),
        threshold=opt("threshold"),
        quantile=opt("quantile"),
        timeslice_target=opt("timeslice_target"),
        description=str(data.get("description") or ""),
        labels={str(k): str(v) for k, v in labels.items()},
        source=str(data.get("source") or ""),
        error_query=text("error_query"),
        total_query=text("total_query"),
    )
