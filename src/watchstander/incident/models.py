"""The incident record and its lifecycle.

An Incident is immutable: every change is a function that takes an incident and returns a
new one with one timeline entry appended, so the timeline is the audit log of everything
that happened to it (Step 1's "initial timeline entry" onwards). The store keeps the
latest value.

Lifecycle (the aiwg flow's statuses plus an explicit TRIAGED step)::

    DETECTED -> TRIAGED -> INVESTIGATING <-> MITIGATING -> RESOLVED -> CLOSED

DETECTED and TRIAGED may skip ahead to any later open status or to RESOLVED (a false alarm,
an alert that cleared); RESOLVED may reopen to INVESTIGATING; CLOSED is final. TRANSITIONS
holds the moves as data.

Milestones follow FireHydrant and Rootly (started, detected, acknowledged, engaged,
mitigated, resolved, closed); "started" must be the earliest. The MTTx definitions in
watchstander.incident.metrics are differences of these stamps.

Pure: no IO and no clock; every change takes its time as `at`. All stored datetimes are
timezone-aware UTC (aware values in another zone are converted; naive ones refused).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "Priority",
    "Impact",
    "Urgency",
    "IncidentStatus",
    "TRANSITIONS",
    "OPEN_STATUSES",
    "Category",
    "DetectionMethod",
    "Role",
    "Milestone",
    "Milestones",
    "TimelineKind",
    "SYSTEM_KINDS",
    "TimelineEntry",
    "Incident",
    "Value",
    "incident_id",
    "transition",
    "acknowledge",
    "assign_role",
    "set_milestone",
    "set_flags",
    "record",
    "link_rollout",
    "add_dedup_key",
]

# What a timeline entry's data may hold: JSON scalars, so the store can keep it as is.
Value = str | int | float | bool | None

_ID = re.compile(r"^INC-\d{4}-\d{2}-\d{2}-\d{3,}$")
_SEV = re.compile(r"^SEV-?([1-4])$")


# -- classification ---------------------------------------------------------------------------


class Priority(StrEnum):
    """P0 (critical) .. P3 (low). The `incident-triage` skill's SEV1..SEV4 are aliases."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @classmethod
    def parse(cls, text: str) -> Priority:
        """ "P0", "p1", "SEV1" (= P0) .. "SEV4" (= P3), "sev-2"; anything else is a ValueError."""
        token = text.strip().upper().replace(" ", "")
        sev = _SEV.match(token)
        if sev:
            return cls(f"P{int(sev.group(1)) - 1}")
        try:
            return cls(token)
        except ValueError:
            raise ValueError(f"unknown priority {text!r}: expected P0..P3 or SEV1..SEV4") from None

    @property
    def rank(self) -> int:
        """0 for P0 (most severe) .. 3 for P3."""
        return int(self.value[1])


class Impact(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Urgency(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class IncidentStatus(StrEnum):
    DETECTED = "DETECTED"
    TRIAGED = "TRIAGED"
    INVESTIGATING = "INVESTIGATING"
    MITIGATING = "MITIGATING"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


_S = IncidentStatus
# The legal moves. DETECTED/TRIAGED may go straight to RESOLVED (a false alarm, or an alert
# that resolved itself); MITIGATING may fall back to INVESTIGATING (the mitigation did not
# work); RESOLVED may reopen to INVESTIGATING (it came back). CLOSED is final.
TRANSITIONS: Mapping[IncidentStatus, frozenset[IncidentStatus]] = MappingProxyType(
    {
        _S.DETECTED: frozenset({_S.TRIAGED, _S.INVESTIGATING, _S.MITIGATING, _S.RESOLVED}),
        _S.TRIAGED: frozenset({_S.INVESTIGATING, _S.MITIGATING, _S.RESOLVED}),
        _S.INVESTIGATING: frozenset({_S.MITIGATING, _S.RESOLVED}),
        _S.MITIGATING: frozenset({_S.INVESTIGATING, _S.RESOLVED}),
        _S.RESOLVED: frozenset({_S.CLOSED, _S.INVESTIGATING}),
        _S.CLOSED: frozenset(),
    }
)
OPEN_STATUSES = frozenset({_S.DETECTED, _S.TRIAGED, _S.INVESTIGATING, _S.MITIGATING})


class Category(StrEnum):
    AVAILABILITY = "availability"
    PERFORMANCE = "performance"
    FUNCTIONALITY = "functionality"
    SECURITY = "security"
    DATA_INTEGRITY = "data-integrity"


class DetectionMethod(StrEnum):
    AUTOMATED_ALERT = "automated-alert"
    USER_REPORT = "user-report"
    MONITORING = "monitoring"
    MANUAL = "manual"


class Role(StrEnum):
    """Who does what in an incident (Step 2's assignments plus Dispatch's scribe)."""

    INCIDENT_COMMANDER = "incident_commander"
    TECHNICAL_LEAD = "technical_lead"
    COMMUNICATIONS_LEAD = "communications_lead"
    ON_CALL = "on_call"
    COMPONENT_OWNER = "component_owner"
    DEPLOYMENT_MANAGER = "deployment_manager"
    SECURITY_LEAD = "security_lead"
    SCRIBE = "scribe"


# -- milestones -------------------------------------------------------------------------------


class Milestone(StrEnum):
    STARTED = "started"  # impact began (often known only afterwards)
    DETECTED = "detected"  # the first alert or report
    ACKNOWLEDGED = "acknowledged"  # a responder took it
    ENGAGED = "engaged"  # the right expertise is working on it
    MITIGATED = "mitigated"  # user impact stopped
    RESOLVED = "resolved"  # fixed and validated
    CLOSED = "closed"  # follow-up done (PIR)


def _utc(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Milestones:
    """When the incident passed each point. None: not (yet) known.

    Validated on construction: `started` is the earliest; nothing in the response
    (acknowledged .. closed) precedes `detected`; mitigated <= resolved <= closed.
    """

    started: datetime | None = None
    detected: datetime | None = None
    acknowledged: datetime | None = None
    engaged: datetime | None = None
    mitigated: datetime | None = None
    resolved: datetime | None = None
    closed: datetime | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, _utc(f"milestone {f.name}", value))
        stamps = {name: at for name, at in self.items() if at is not None}
        if self.started is not None:
            for name, at in stamps.items():
                if at < self.started:
                    raise ValueError(
                        f"milestone 'started' must be the earliest: {name} ({at.isoformat()})"
                        f" is before started ({self.started.isoformat()})"
                    )
        if self.detected is not None:
            for name, at in stamps.items():
                if name not in ("started", "detected") and at < self.detected:
                    raise ValueError(
                        f"milestone {name!r} ({at.isoformat()}) is before detection"
                        f" ({self.detected.isoformat()})"
                    )
        for early, late in (("mitigated", "resolved"), ("resolved", "closed")):
            if early in stamps and late in stamps and stamps[late] < stamps[early]:
                raise ValueError(
                    f"milestone {late!r} ({stamps[late].isoformat()}) is before {early!r}"
                    f" ({stamps[early].isoformat()})"
                )

    def items(self) -> tuple[tuple[str, datetime | None], ...]:
        """(name, stamp) in lifecycle order."""
        return tuple((f.name, getattr(self, f.name)) for f in fields(self))

    def get(self, milestone: Milestone) -> datetime | None:
        value: datetime | None = getattr(self, milestone.value)
        return value


# -- timeline ---------------------------------------------------------------------------------


class TimelineKind(StrEnum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    IMPACT_CHANGED = "impact_changed"  # triage, affected users, outage / data loss / breach
    ROLE_ASSIGNED = "role_assigned"
    MILESTONE = "milestone"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # written by escalation.apply
    NOTIFIED = "notified"  # a delivery result (engine)
    MESSAGE = "message"  # a status update to stakeholders or the status page
    DECISION = "decision"
    ACTION = "action"
    NOTE = "note"
    LINKED = "linked"  # a rollout or an alert dedup key attached


# Entries the machinery writes about itself. They are not "updates": an incident whose only
# new entries are escalations has gone quiet (escalation's re-notify rule).
SYSTEM_KINDS = frozenset({TimelineKind.ESCALATED, TimelineKind.NOTIFIED})
# What record() may append; the other kinds have their own function that also changes state.
_FREE_KINDS = frozenset(
    {
        TimelineKind.MESSAGE,
        TimelineKind.DECISION,
        TimelineKind.ACTION,
        TimelineKind.NOTE,
        TimelineKind.NOTIFIED,
    }
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: TimelineKind
    actor: str  # a person, or "watchstander" / an integration for automatic entries
    summary: str  # one line, for the timeline table
    data: Mapping[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc("timeline entry time", self.at))


# -- the incident -----------------------------------------------------------------------------


def incident_id(day: date, sequence: int) -> str:
    """`INC-{YYYY-MM-DD}-{NNN}`: the day's `sequence`-th incident (from 1)."""
    if sequence < 1:
        raise ValueError(f"incident sequence starts at 1, got {sequence}")
    return f"INC-{day.isoformat()}-{sequence:03d}"


@dataclass(frozen=True)
class Incident:
    """One incident, as stored. Change it only through this package's functions."""

    id: str  # INC-YYYY-MM-DD-NNN (incident_id)
    title: str
    service: str
    impact: Impact
    urgency: Urgency
    priority: Priority  # normally MATRIX[impact, urgency]; change_priority overrides it
    status: IncidentStatus
    milestones: Milestones  # `detected` is required
    category: Category = Category.AVAILABILITY
    detection_method: DetectionMethod = DetectionMethod.AUTOMATED_ALERT
    reporter: str = ""
    description: str = ""
    users_affected_pct: float | None = None  # None: UNKNOWN
    outage: bool = False
    data_loss: bool = False
    security_breach: bool = False
    roles: Mapping[Role, str] = field(default_factory=dict)  # role -> person name
    timeline: tuple[TimelineEntry, ...] = ()
    dedup_keys: frozenset[str] = frozenset()  # alert group keys that attach to this incident
    rollout_id: str | None = None  # the rollout suspected of causing it
    # Escalation state: key of each escalation already fired -> when (escalation.apply).
    escalations_fired: Mapping[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"incident id {self.id!r} is not INC-YYYY-MM-DD-NNN")
        if self.milestones.detected is None:
            raise ValueError(f"{self.id}: an incident needs its detection time")
        pct = self.users_affected_pct
        if pct is not None and not 0 <= pct <= 100:
            raise ValueError(f"{self.id}: users_affected_pct must be within 0..100, got {pct}")
        if self.status in (_S.RESOLVED, _S.CLOSED) and self.milestones.resolved is None:
            raise ValueError(f"{self.id}: status {self.status} needs the resolved milestone")
        if self.status is _S.CLOSED and self.milestones.closed is None:
            raise ValueError(f"{self.id}: status closed needs the closed milestone")

    @property
    def detected(self) -> datetime:
        """The detection time (always set)."""
        assert self.milestones.detected is not None  # checked in __post_init__
        return self.milestones.detected

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def _append(incident: Incident, entry: TimelineEntry, **changes: object) -> Incident:
    return replace(incident, timeline=(*incident.timeline, entry), **changes)  # type: ignore[arg-type]


# -- changes ----------------------------------------------------------------------------------


def transition(
    incident: Incident, to: IncidentStatus, at: datetime, by: str, reason: str = ""
) -> Incident:
    """Move to status `to`; illegal moves (see TRANSITIONS) raise ValueError.

    RESOLVED stamps the resolved milestone and CLOSED the closed one (unless already set);
    reopening a resolved incident needs a reason and clears `resolved` (the old stamp is
    kept in the timeline entry), so MTTR measures the final resolution.
    """
    allowed = TRANSITIONS[incident.status]
    if to not in allowed:
        options = ", ".join(sorted(allowed)) or "none: it is final"
        raise ValueError(
            f"{incident.id}: cannot move from {incident.status} to {to}"
            f" (allowed from {incident.status}: {options})"
        )
    at = _utc("transition time", at)
    milestones = incident.milestones
    data: dict[str, Value] = {"from": incident.status.value, "to": to.value}
    if to is _S.RESOLVED:
        if milestones.resolved is None:
            milestones = replace(milestones, resolved=at)
    elif to is _S.CLOSED:
        if milestones.closed is None:
            milestones = replace(milestones, closed=at)
    elif incident.status is _S.RESOLVED:  # reopening
        if not reason.strip():
            raise ValueError(f"{incident.id}: reopening a resolved incident needs a reason")
        data["previously_resolved"] = _iso(milestones.resolved)
        milestones = replace(milestones, resolved=None)
    summary = f"Status {incident.status} -> {to}" + (f": {reason}" if reason else "")
    entry = TimelineEntry(at, TimelineKind.STATUS_CHANGED, by, summary, data)
    return _append(incident, entry, status=to, milestones=milestones)


def acknowledge(incident: Incident, at: datetime, by: str) -> Incident:
    """`by` takes the incident. The first acknowledgement stamps the milestone; later ones
    are recorded too. Acknowledging a resolved or closed incident changes nothing (it must
    not reopen it: the race of Grafana OnCall #3161)."""
    if not incident.is_open:
        return incident
    at = _utc("acknowledgement time", at)
    milestones = incident.milestones
    if milestones.acknowledged is None:
        milestones = replace(milestones, acknowledged=at)
    entry = TimelineEntry(at, TimelineKind.ACKNOWLEDGED, by, f"Acknowledged by {by}")
    return _append(incident, entry, milestones=milestones)


def assign_role(incident: Incident, role: Role, person: str, at: datetime, by: str) -> Incident:
    """Give `role` to `person` (replacing whoever held it)."""
    if not person.strip():
        raise ValueError(f"{incident.id}: assign {role} to whom?")
    previous = incident.roles.get(role)
    summary = f"{role.value.replace('_', ' ').capitalize()}: {person}" + (
        f" (was {previous})" if previous else ""
    )
    data: dict[str, Value] = {"role": role.value, "person": person, "previous": previous}
    entry = TimelineEntry(at, TimelineKind.ROLE_ASSIGNED, by, summary, data)
    return _append(incident, entry, roles={**incident.roles, role: person})


def set_milestone(incident: Incident, milestone: Milestone, at: datetime, by: str) -> Incident:
    """Set (or correct) one milestone; the result must still validate (Milestones)."""
    milestones = replace(incident.milestones, **{milestone.value: at})
    when = milestones.get(milestone)
    assert when is not None
    entry = TimelineEntry(
        when,
        TimelineKind.MILESTONE,
        by,
        f"Milestone {milestone.value}: {when.isoformat()}",
        {"milestone": milestone.value, "previous": _iso(incident.milestones.get(milestone))},
    )
    return _append(incident, entry, milestones=milestones)


def set_flags(
    incident: Incident,
    *,
    at: datetime,
    by: str,
    reason: str,
    outage: bool | None = None,
    data_loss: bool | None = None,
    security_breach: bool | None = None,
    users_affected_pct: float | None = None,
) -> Incident:
    """Record new facts about the impact (None: unchanged). Priority is not recomputed
    here: re-triage (priority.triage) or override it (priority.change_priority)."""
    changes: dict[str, bool | float] = {}
    for name, value in (
        ("outage", outage),
        ("data_loss", data_loss),
        ("security_breach", security_breach),
        ("users_affected_pct", users_affected_pct),
    ):
        if value is not None and value != getattr(incident, name):
            changes[name] = value
    if not changes:
        return incident
    summary = "Impact: " + ", ".join(f"{k}={v}" for k, v in changes.items())
    summary += f" ({reason})" if reason else ""
    data: dict[str, Value] = dict(changes)
    entry = TimelineEntry(at, TimelineKind.IMPACT_CHANGED, by, summary, data)
    return _append(incident, entry, **changes)


def record(
    incident: Incident,
    kind: TimelineKind,
    at: datetime,
    actor: str,
    summary: str,
    data: Mapping[str, Value] | None = None,
) -> Incident:
    """Append a message, decision, action, note or delivery result. Kinds that change
    the incident (status, priority, roles, ...) have their own functions."""
    if kind not in _FREE_KINDS:
        raise ValueError(
            f"record() appends {', '.join(sorted(_FREE_KINDS))}; {kind} has its own function"
        )
    return _append(incident, TimelineEntry(at, kind, actor, summary, dict(data or {})))


def link_rollout(incident: Incident, rollout_id: str, at: datetime, by: str) -> Incident:
    """Attach the rollout suspected of causing the incident (regression triage)."""
    entry = TimelineEntry(
        at,
        TimelineKind.LINKED,
        by,
        f"Linked to rollout {rollout_id}",
        {"rollout_id": rollout_id, "previous": incident.rollout_id},
    )
    return _append(incident, entry, rollout_id=rollout_id)


def add_dedup_key(incident: Incident, key: str, at: datetime, by: str) -> Incident:
    """Attach an alert group key (Alertmanager groupKey, PagerDuty dedup_key) so later
    alerts with it join this incident. Adding a key twice changes nothing."""
    if key in incident.dedup_keys:
        return incident
    entry = TimelineEntry(at, TimelineKind.LINKED, by, f"Alert key {key}", {"dedup_key": key})
    return _append(incident, entry, dedup_keys=incident.dedup_keys | {key})


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
