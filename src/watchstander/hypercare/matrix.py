"""The Alert Escalation Matrix, as rules that can be evaluated against measurements.

The aiwg hypercare flow's Step 1 ("Create Alert Escalation Matrix") defines, per priority,
the conditions that raise an alert, what to do and the response SLA:

* **P0 (Critical), page immediately**: availability < 99%, error rate > 1%, all instances
  down, security breach detected. Page on-call engineer + Hypercare Lead; immediate
  acknowledgment, 15 min time-to-engage.
* **P1 (High), alert within 5 minutes**: availability < 99.5%, error rate > 0.5%, response
  time p95 > 2x SLA. Alert on-call engineer via Slack + SMS; 30 min acknowledgment, 1 hour
  time-to-mitigation.
* **P2 (Medium), alert within 30 minutes**: availability < 99.9%, error rate > 0.1%, resource
  utilization > 80%. Alert on-call engineer via Slack; 4 hours.
* **P3 (Low), log and review**: minor performance degradation (here: p95 above the SLA),
  non-critical errors. Create ticket for review; 1 business day.

Units: availability, error rate, unhealthy instances and resource utilization are PERCENT
(availability 99.0, error rate 1.0, not fractions); latency is milliseconds. The latency
rules exist only when the service has a latency SLA (`build_matrix(latency_sla_ms)`).

"Security breach" and "non-critical errors" are not measurements: they are in the matrix
(for the report) with `measurable=False` and never match; a breach is declared, not
measured. Comparisons are strict as written: availability exactly 99.0 is not "< 99%", an
error rate of exactly 1.0 is not "> 1%"; "all instances down" is unhealthy_pct >= 100.

`evaluate` gives the most severe breached rule; `matches` all of them, most severe first.
A metric with no value (None, or NaN) never matches. Pure: no IO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from watchstander.incident.models import Priority

__all__ = [
    "Op",
    "METRICS",
    "Rule",
    "Match",
    "NOTIFY",
    "ACTION",
    "RESPONSE",
    "build_matrix",
    "evaluate",
    "matches",
]

Op = Literal["<", ">", ">="]
_OPS: tuple[str, ...] = ("<", ">", ">=")

# metric -> unit. The keys callers pass to evaluate() / matches().
METRICS: Mapping[str, str] = MappingProxyType(
    {
        "availability": "%",  # percent of successful requests / uptime
        "error_rate": "%",  # percent of requests failing
        "unhealthy_pct": "%",  # percent of instances failing health checks
        "resource_pct": "%",  # the highest CPU / memory / disk utilization
        "latency_p95": "ms",
        "security_breach": "",  # not measured
        "non_critical_errors": "",  # not measured
    }
)

_P0, _P1, _P2, _P3 = Priority.P0, Priority.P1, Priority.P2, Priority.P3

# How fast the alert goes out (the matrix's headings).
NOTIFY: Mapping[Priority, str] = MappingProxyType(
    {
        _P0: "Page immediately",
        _P1: "Alert within 5 minutes",
        _P2: "Alert within 30 minutes",
        _P3: "Log and review",
    }
)
ACTION: Mapping[Priority, str] = MappingProxyType(
    {
        _P0: "Page on-call engineer + Hypercare Lead",
        _P1: "Alert on-call engineer via Slack + SMS",
        _P2: "Alert on-call engineer via Slack",
        _P3: "Create ticket for review",
    }
)
RESPONSE: Mapping[Priority, str] = MappingProxyType(
    {
        _P0: "Immediate acknowledgment, 15 min time-to-engage",
        _P1: "30 min acknowledgment, 1 hour time-to-mitigation",
        _P2: "4 hours",
        _P3: "1 business day",
    }
)


@dataclass(frozen=True)
class Rule:
    """`metric op threshold` raises an alert of `priority`."""

    priority: Priority
    metric: str
    op: Op
    threshold: float
    unit: str
    description: str  # the matrix's wording: "Availability <99%"
    measurable: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "priority", Priority(self.priority))
        if self.op not in _OPS:
            raise ValueError(f"rule {self.description!r}: unknown operator {self.op!r}")
        if math.isnan(self.threshold):
            raise ValueError(f"rule {self.description!r}: threshold is NaN")

    def breached(self, value: float | None) -> bool:
        """Whether `value` meets the alert condition; never for an unmeasurable rule or a
        missing (None / NaN) value."""
        if not self.measurable or value is None or math.isnan(value):
            return False
        if self.op == "<":
            return value < self.threshold
        if self.op == ">":
            return value > self.threshold
        return value >= self.threshold

    @property
    def condition(self) -> str:
        """ "availability < 99%" """
        return f"{self.metric} {self.op} {self.threshold:g}{self.unit}"


@dataclass(frozen=True)
class Match:
    rule: Rule
    value: float

    @property
    def summary(self) -> str:
        """ "P0: availability 98.7% (< 99%): Availability <99%" """
        r = self.rule
        return (
            f"{r.priority}: {r.metric} {self.value:g}{r.unit} "
            f"({r.op} {r.threshold:g}{r.unit}): {r.description}"
        )


def _rule(
    priority: Priority,
    metric: str,
    op: Op,
    threshold: float,
    description: str,
    measurable: bool = True,
) -> Rule:
    return Rule(priority, metric, op, threshold, METRICS[metric], description, measurable)


def build_matrix(latency_sla_ms: float | None = None) -> tuple[Rule, ...]:
    """The flow's matrix, most severe first. With `latency_sla_ms` (the p95 SLA) it also
    holds P1 "p95 > 2x SLA" and P3 "p95 > SLA"; without one there is no latency rule."""
    if latency_sla_ms is not None and not latency_sla_ms > 0:
        raise ValueError(f"the latency SLA must be a positive number of ms, not {latency_sla_ms}")
    sla = latency_sla_ms
    rules: list[Rule] = [
        _rule(_P0, "availability", "<", 99.0, "Availability <99%"),
        _rule(_P0, "error_rate", ">", 1.0, "Error rate >1%"),
        _rule(_P0, "unhealthy_pct", ">=", 100.0, "All instances down"),
        _rule(_P0, "security_breach", ">=", 1.0, "Security breach detected", measurable=False),
        _rule(_P1, "availability", "<", 99.5, "Availability <99.5%"),
        _rule(_P1, "error_rate", ">", 0.5, "Error rate >0.5%"),
    ]
    if sla is not None:
        rules.append(
            _rule(_P1, "latency_p95", ">", 2 * sla, f"Response time p95 >2x SLA ({sla:g}ms)")
        )
    rules += [
        _rule(_P2, "availability", "<", 99.9, "Availability <99.9%"),
        _rule(_P2, "error_rate", ">", 0.1, "Error rate >0.1%"),
        _rule(_P2, "resource_pct", ">", 80.0, "Resource utilization >80%"),
    ]
    if sla is not None:
        rules.append(
            _rule(
                _P3, "latency_p95", ">", sla, f"Minor performance degradation: p95 >SLA ({sla:g}ms)"
            )
        )
    rules.append(
        _rule(_P3, "non_critical_errors", ">=", 1.0, "Non-critical errors", measurable=False)
    )
    return tuple(rules)


def matches(rules: Sequence[Rule], values: Mapping[str, float | None]) -> list[Match]:
    """Every rule whose metric has a value that breaches it, most severe first (rules of
    one priority keep their order in `rules`)."""
    found = [
        Match(rule, float(value))
        for rule in rules
        if (value := values.get(rule.metric)) is not None and rule.breached(value)
    ]
    return sorted(found, key=lambda m: m.rule.priority.rank)


def evaluate(rules: Sequence[Rule], values: Mapping[str, float | None]) -> Match | None:
    """The most severe breached rule (the first in `rules` among equals), or None."""
    found = matches(rules, values)
    return found[0] if found else None
