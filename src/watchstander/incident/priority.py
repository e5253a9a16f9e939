"""Triage: impact, the impact x urgency matrix, response SLAs, and priority changes.

Everything here is the aiwg incident flow's Step 2, as data:

* impact from the facts (`impact_from`), with the flow's criteria: HIGH is a complete
  outage, data loss/corruption or more than 50% of users; MEDIUM is 10-50% of users, a
  severe degradation or a critical feature unavailable; LOW is anything less;
* priority from the 3x3 matrix (`MATRIX`, exactly the handbook's table);
* the response SLAs per priority (`SLAS`), including the update cadence the escalation
  rules use to re-notify an acknowledged incident that went quiet.

Pure: no IO and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from watchstander.incident.models import (
    Category,
    DetectionMethod,
    Impact,
    Incident,
    IncidentStatus,
    Milestones,
    Priority,
    TimelineEntry,
    TimelineKind,
    Urgency,
    Value,
    transition,
)

__all__ = [
    "HIGH_IMPACT_PCT",
    "MEDIUM_IMPACT_PCT",
    "MATRIX",
    "Sla",
    "SLAS",
    "impact_from",
    "priority",
    "cell_for",
    "declare",
    "triage",
    "change_priority",
]

# Share of users affected (percent) from which impact is HIGH (strictly above) and MEDIUM
# (at or above): the flow's "HIGH: >50% users", "MEDIUM: 10-50%", "LOW: <10%".
HIGH_IMPACT_PCT = 50.0
MEDIUM_IMPACT_PCT = 10.0

_I, _U, _P = Impact, Urgency, Priority
MATRIX: Mapping[tuple[Impact, Urgency], Priority] = MappingProxyType(
    {
        (_I.HIGH, _U.HIGH): _P.P0,
        (_I.HIGH, _U.MEDIUM): _P.P1,
        (_I.HIGH, _U.LOW): _P.P2,
        (_I.MEDIUM, _U.HIGH): _P.P1,
        (_I.MEDIUM, _U.MEDIUM): _P.P2,
        (_I.MEDIUM, _U.LOW): _P.P3,
        (_I.LOW, _U.HIGH): _P.P2,
        (_I.LOW, _U.MEDIUM): _P.P3,
        (_I.LOW, _U.LOW): _P.P3,
    }
)


@dataclass(frozen=True)
class Sla:
    """Response targets for one priority, measured from detection. None: no target."""

    acknowledge: timedelta | None
    engage: timedelta | None
    resolve: timedelta | None  # the upper bound where the flow gives a range (P0: 1-2 h)
    update_every: timedelta | None  # stakeholder update cadence while open
    review_within: timedelta | None  # post-incident review after resolution (Step 7)
    review_required: bool
    note: str = ""


_MIN = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
SLAS: Mapping[Priority, Sla] = MappingProxyType(
    {
        _P.P0: Sla(timedelta(0), 15 * _MIN, 2 * _HOUR, 15 * _MIN, 24 * _HOUR, True),
        _P.P1: Sla(5 * _MIN, 30 * _MIN, 4 * _HOUR, 30 * _MIN, 48 * _HOUR, True),
        _P.P2: Sla(
            30 * _MIN, 4 * _HOUR, 24 * _HOUR, _DAY, 7 * _DAY, False, "the review is optional"
        ),
        # "1 business day" is not a fixed duration; the engine's calendar decides it.
        _P.P3: Sla(
            None, None, None, None, None, False, "acknowledge within 1 business day; backlog"
        ),
    }
)


def impact_from(
    users_affected_pct: float | None,
    outage: bool = False,
    data_loss: bool = False,
    *,
    severe_degradation: bool = False,
    critical_feature_unavailable: bool = False,
) -> Impact:
    """The flow's impact criteria. An unknown share of users (None) counts as no evidence
    of a wide impact: the other facts, or a manual `impact`, decide."""
    pct = users_affected_pct
    if outage or data_loss or (pct is not None and pct > HIGH_IMPACT_PCT):
        return Impact.HIGH
    if severe_degradation or critical_feature_unavailable or (pct or 0.0) >= MEDIUM_IMPACT_PCT:
        return Impact.MEDIUM
    return Impact.LOW


def priority(impact: Impact, urgency: Urgency) -> Priority:
    return MATRIX[impact, urgency]


# The cell a priority-only intake is declared in (the diagonal where the matrix has one).
_CELLS: Mapping[Priority, tuple[Impact, Urgency]] = MappingProxyType(
    {
        _P.P0: (_I.HIGH, _U.HIGH),
        _P.P1: (_I.HIGH, _U.MEDIUM),
        _P.P2: (_I.MEDIUM, _U.MEDIUM),
        _P.P3: (_I.LOW, _U.LOW),
    }
)


def cell_for(prio: Priority) -> tuple[Impact, Urgency]:
    """Impact x urgency that give `prio` (for intake that knows only a priority: an
    alert's severity, an SLO page); MATRIX[cell_for(p)] is p."""
    return _CELLS[prio]


def declare(
    *,
    id: str,
    title: str,
    service: str,
    detected: datetime,
    reporter: str,
    urgency: Urgency,
    impact: Impact | None = None,
    started: datetime | None = None,
    category: Category = Category.AVAILABILITY,
    detection_method: DetectionMethod = DetectionMethod.AUTOMATED_ALERT,
    description: str = "",
    users_affected_pct: float | None = None,
    outage: bool = False,
    data_loss: bool = False,
    security_breach: bool = False,
    dedup_keys: Iterable[str] = (),
    rollout_id: str | None = None,
) -> Incident:
    """A new DETECTED incident (Step 1) with its first timeline entry. Impact defaults to
    `impact_from` the facts; the priority is the matrix cell."""
    if impact is None:
        impact = impact_from(users_affected_pct, outage, data_loss)
    prio = priority(impact, urgency)
    data: dict[str, Value] = {
        "priority": prio.value,
        "impact": impact.value,
        "urgency": urgency.value,
        "detection_method": detection_method.value,
        "outage": outage,
        "data_loss": data_loss,
        "security_breach": security_breach,
    }
    entry = TimelineEntry(
        detected,
        TimelineKind.CREATED,
        reporter,
        f"Incident detected: {title} ({prio}, impact {impact}, urgency {urgency})",
        data,
    )
    return Incident(
        id=id,
        title=title,
        service=service,
        impact=impact,
        urgency=urgency,
        priority=prio,
        status=IncidentStatus.DETECTED,
        milestones=Milestones(started=started, detected=detected),
        category=category,
        detection_method=detection_method,
        reporter=reporter,
        description=description,
        users_affected_pct=users_affected_pct,
        outage=outage,
        data_loss=data_loss,
        security_breach=security_breach,
        timeline=(entry,),
        dedup_keys=frozenset(dedup_keys),
        rollout_id=rollout_id,
    )


def triage(
    incident: Incident, *, impact: Impact, urgency: Urgency, at: datetime, by: str
) -> Incident:
    """Step 2: set impact and urgency, take the matrix priority, and move a DETECTED
    incident to TRIAGED. Re-triaging later keeps the status."""
    prio = priority(impact, urgency)
    data: dict[str, Value] = {
        "impact": impact.value,
        "urgency": urgency.value,
        "priority": prio.value,
        "previous": incident.priority.value,
    }
    entry = TimelineEntry(
        at,
        TimelineKind.IMPACT_CHANGED,
        by,
        f"Triage complete, severity {prio} assigned (impact {impact}, urgency {urgency})",
        data,
    )
    triaged = replace(
        incident,
        impact=impact,
        urgency=urgency,
        priority=prio,
        timeline=(*incident.timeline, entry),
    )
    if triaged.status is IncidentStatus.DETECTED:
        triaged = transition(triaged, IncidentStatus.TRIAGED, at, by, "triage complete")
    return triaged


def change_priority(
    incident: Incident, new: Priority, reason: str, at: datetime, by: str
) -> Incident:
    """Override the priority (up or down). A reason is required; the same priority again
    changes nothing; a closed incident's priority is final."""
    if not reason.strip():
        raise ValueError(f"{incident.id}: changing the priority needs a reason")
    if new is incident.priority:
        return incident
    if incident.status is IncidentStatus.CLOSED:
        raise ValueError(f"{incident.id}: the incident is closed; its priority is final")
    data: dict[str, Value] = {"from": incident.priority.value, "to": new.value}
    entry = TimelineEntry(
        at,
        TimelineKind.PRIORITY_CHANGED,
        by,
        f"Priority {incident.priority} -> {new}: {reason}",
        data,
    )
    return replace(incident, priority=new, timeline=(*incident.timeline, entry))
