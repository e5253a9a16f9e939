"""Who is on call, and which escalations are due.

Three parts, all pure (the engine's timer loop stores and delivers):

* **Roster**: people with contact addresses, rotations that staff a tier or a role in
  shifts, and overrides. Shifts are wall-clock shifts in the rotation's time zone, so a
  daily 09:00 Europe/Berlin handoff stays at 09:00 local across daylight-saving changes
  (the DST complaints of Grafana OnCall #3261, #5247, #5455).
* **Policy**: per priority, ordered steps "at T after detection, notify this tier or
  role", each stopping when the incident is acknowledged, mitigated or resolved, and
  optionally re-paging its target until someone acknowledges. DEFAULT_POLICY is the aiwg
  flow's: functional escalation Tier 1 -> 2 -> 3 (P0: 15 / 30 min, P1: 30 / 60 min,
  "issue unresolved after ..."), management (P0: 30 min; P1: 2 h unresolved) and executive
  (P0 unresolved after 2 h; immediately for a security breach or data loss), and on a
  security breach or data loss legal and compliance at once as well (the flow's
  "Legal and compliance: IMMEDIATE").
* **Regulatory deadlines**: `regulatory_deadlines(incident, rules)` dates each
  breach-reporting duty (DEFAULT_REGULATORY: GDPR Art. 33, 72 h) from when the breach or
  data loss was first recorded.
* **due / apply**: `due(incident, policy, roster, now)` returns exactly the escalations
  that are due and have not fired; `apply` records them on the incident (a fired marker
  plus an `escalated` timeline entry), so calling `due` again at the same or a later
  `now` never returns them again. An engine that was down and calls late gets each missed
  step once, and a missed run of repeats coalesced into one page.

Re-notify (the top OnCall complaint, #1792 #3870 #4062 #4760): while an acknowledged
incident is open and nobody has added to its timeline for the priority's update cadence
(priority.SLAS: P0 15 min, P1 30 min, P2 daily), its incident commander (else its on-call)
is reminded, and again every cadence until someone writes something. Escalation entries
themselves are not updates.

A person with no contact address is never a silent dead end (#1326/#1511, where the alert
skipped to directors): the rotation's next reachable member is notified instead and the
escalation says so; if nobody is reachable the escalation still comes back, with no
person and the problem spelled out, for the engine to raise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from watchstander.errors import NotFoundError
from watchstander.incident.models import (
    SYSTEM_KINDS,
    Incident,
    Priority,
    Role,
    TimelineEntry,
    TimelineKind,
    Value,
)
from watchstander.incident.priority import SLAS

__all__ = [
    "ACTOR",
    "Person",
    "Rotation",
    "Override",
    "Roster",
    "Shift",
    "shift_at",
    "on_call",
    "EscalationKind",
    "StopOn",
    "EscalationStep",
    "EscalationPolicy",
    "DEFAULT_POLICY",
    "Escalation",
    "due",
    "apply",
    "MajorIncident",
    "MAJOR_INCIDENT_ACTIONS",
    "major_incident",
    "major_incident_state",
    "RegulatoryRule",
    "DEFAULT_REGULATORY",
    "regulatory_deadlines",
]

ACTOR = "watchstander"  # the actor of the timeline entries apply() writes


# -- roster -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    contacts: Mapping[str, str] = field(default_factory=dict)  # kind -> address
    timezone: str = "UTC"  # for display and "local time" in messages
    roles: frozenset[str] = frozenset()  # the tiers and roles the person can take

    @property
    def reachable(self) -> bool:
        return any(address.strip() for address in self.contacts.values())


@dataclass(frozen=True)
class Rotation:
    """A rotation staffing one tier or role ("tier1", "management", "incident_commander").

    Shift n runs from `start` + n x `shift` to `start` + (n+1) x `shift`, counted in wall-clock
    time in `timezone`; its member is members[n mod len]. The handoff time of day is the local
    time of `start`. Nobody is on call before `start`.
    """

    name: str
    members: tuple[str, ...]  # person names, in handoff order
    start: datetime  # aware: the first handoff
    shift: timedelta = timedelta(days=7)
    timezone: str = "UTC"  # IANA name

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"rotation {self.name!r} has no members")
        if self.shift <= timedelta(0):
            raise ValueError(f"rotation {self.name!r}: shift length must be positive")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError(f"rotation {self.name!r}: start must be timezone-aware")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not at the first page

    @property
    def handoff(self) -> time:
        """The local time of day at which shifts change."""
        return self.start.astimezone(ZoneInfo(self.timezone)).time()


@dataclass(frozen=True)
class Override:
    """`person` takes `rotation` for [start, end), ahead of the regular shift."""

    person: str
    start: datetime
    end: datetime
    rotation: str

    def __post_init__(self) -> None:
        for when in (self.start, self.end):
            if when.tzinfo is None or when.utcoffset() is None:
                raise ValueError(f"override for {self.person}: times must be timezone-aware")


@dataclass(frozen=True)
class Roster:
    people: tuple[Person, ...]
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...] = ()  # later overrides win where they overlap

    def __post_init__(self) -> None:
        names = [p.name for p in self.people]
        rotations = [r.name for r in self.rotations]
        for label, values in (("person", names), ("rotation", rotations)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"roster: duplicate {label} {', '.join(dupes)}")
        known = set(names)
        for rotation in self.rotations:
            unknown = [m for m in rotation.members if m not in known]
            if unknown:
                raise ValueError(
                    f"roster: rotation {rotation.name!r} names unknown {', '.join(unknown)}"
                )
        for o in self.overrides:
            if o.person not in known:
                raise ValueError(f"roster: override names unknown person {o.person!r}")
            if o.rotation not in rotations:
                raise ValueError(f"roster: override names unknown rotation {o.rotation!r}")
            if not o.start < o.end:
                raise ValueError(f"roster: override for {o.person} ends before it starts")

    def person(self, name: str) -> Person:
        for p in self.people:
            if p.name == name:
                return p
        raise NotFoundError(f"nobody named {name!r} in the roster")

    def rotation(self, name: str) -> Rotation:
        for r in self.rotations:
            if r.name == name:
                return r
        raise NotFoundError(f"no rotation named {name!r} in the roster")


@dataclass(frozen=True)
class Shift:
    index: int  # 0 for the shift starting at rotation.start
    member: str
    start: datetime  # UTC
    end: datetime  # UTC


def _boundary(rotation: Rotation, zone: ZoneInfo, index: int) -> datetime:
    # Wall-clock arithmetic: local start + n shifts, then back to an instant. A local time
    # that does not exist (spring-forward gap) maps to just after the gap (fold=0).
    local = rotation.start.astimezone(zone).replace(tzinfo=None) + index * rotation.shift
    return local.replace(tzinfo=zone).astimezone(UTC)


def shift_at(rotation: Rotation, at: datetime) -> Shift | None:
    """The regular shift covering `at` (overrides not applied); None before the start."""
    zone = ZoneInfo(rotation.timezone)
    local_start = rotation.start.astimezone(zone).replace(tzinfo=None)
    local_at = at.astimezone(zone).replace(tzinfo=None)
    index = (local_at - local_start) // rotation.shift
    # The wall-clock estimate can be one off around a DST change: settle on instants.
    while index > 0 and _boundary(rotation, zone, index) > at:
        index -= 1
    while _boundary(rotation, zone, index + 1) <= at:
        index += 1
    if index < 0 or _boundary(rotation, zone, index) > at:
        return None
    return Shift(
        index,
        rotation.members[index % len(rotation.members)],
        _boundary(rotation, zone, index),
        _boundary(rotation, zone, index + 1),
    )


def on_call(roster: Roster, rotation: str, at: datetime) -> Person | None:
    """Who holds `rotation` at `at`: the latest override covering `at`, else the regular
    shift's member; None before the rotation starts. Unknown rotation: NotFoundError."""
    rot = roster.rotation(rotation)
    for o in reversed(roster.overrides):
        if o.rotation == rotation and o.start <= at < o.end:
            return roster.person(o.person)
    shift = shift_at(rot, at)
    return None if shift is None else roster.person(shift.member)


# -- policy -----------------------------------------------------------------------------------


class EscalationKind(StrEnum):
    FUNCTIONAL = "functional"  # more expertise: Tier 1 -> 2 -> 3
    HIERARCHICAL = "hierarchical"  # more authority: management, executive
    RENOTIFY = "renotify"  # a reminder: acknowledged but quiet


class StopOn(StrEnum):
    """What makes a step unnecessary (it does not fire once this has happened)."""

    ACKNOWLEDGED = "acknowledged"  # OnCall / PagerDuty semantics: someone has it
    MITIGATED = "mitigated"  # user impact stopped
    RESOLVED = "resolved"  # the aiwg flow's "unresolved after ..."


@dataclass(frozen=True)
class EscalationStep:
    """At `after` from detection, notify `target`: a Role assigned on the incident, or
    else a roster rotation of that name ("tier2", "management").

    `after` is measured from detection, not from the previous step, because the flow states
    every timer that way ("Tier 3: unresolved after 30 min"). While the incident is not
    acknowledged the target is paged again every `repeat_every`, up to `repeat` times.
    """

    after: timedelta
    target: str
    kind: EscalationKind = EscalationKind.FUNCTIONAL
    stop_on: StopOn = StopOn.RESOLVED
    repeat: int = 0
    repeat_every: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.after < timedelta(0):
            raise ValueError(f"escalation to {self.target}: `after` must not be negative")
        if self.repeat < 0:
            raise ValueError(f"escalation to {self.target}: `repeat` must not be negative")
        if self.repeat and self.repeat_every <= timedelta(0):
            raise ValueError(f"escalation to {self.target}: `repeat_every` must be positive")

    @property
    def key(self) -> str:
        """The fired marker's key. Not priority-specific: a step that fired before a
        priority change does not fire again after it."""
        return f"{self.kind.value}:{self.target}"


_M = timedelta(minutes=1)
_F, _H = EscalationKind.FUNCTIONAL, EscalationKind.HIERARCHICAL


@dataclass(frozen=True)
class EscalationPolicy:
    steps: Mapping[Priority, tuple[EscalationStep, ...]]
    # Notified at once (from detection) when the incident is a security breach or has lost
    # data, whatever its priority; also when a major incident is declared (due(major=True)).
    immediate: tuple[EscalationStep, ...] = (EscalationStep(timedelta(0), "executive", _H),)
    renotify: bool = True
    # Who gets the quiet reminder: the first target that resolves to somebody.
    renotify_to: tuple[str, ...] = (
        Role.INCIDENT_COMMANDER.value,
        Role.ON_CALL.value,
        "tier1",
    )
    # Notified at once on a security breach or data loss only (not for a major incident):
    # the flow's "Legal and compliance: IMMEDIATE".
    breach: tuple[EscalationStep, ...] = (
        EscalationStep(timedelta(0), "legal", _H),
        EscalationStep(timedelta(0), "compliance", _H),
    )

    def __post_init__(self) -> None:
        if self.renotify and not self.renotify_to:
            raise ValueError("escalation policy: renotify needs at least one renotify_to target")
        for prio, steps in self.steps.items():
            keys = [s.key for s in steps]
            if len(set(keys)) != len(keys):
                raise ValueError(f"escalation policy {prio}: two steps share a target and kind")


DEFAULT_POLICY = EscalationPolicy(
    steps=MappingProxyType(
        {
            # Page on-call (re-page until acknowledged) -> Tier 2 -> Tier 3; management at
            # 30 min, executive when unresolved after 2 h.
            Priority.P0: (
                EscalationStep(0 * _M, "tier1", _F, repeat=2, repeat_every=5 * _M),
                EscalationStep(15 * _M, "tier2", _F),
                EscalationStep(30 * _M, "tier3", _F),
                EscalationStep(30 * _M, "management", _H),
                EscalationStep(120 * _M, "executive", _H),
            ),
            # Alert on-call (ack SLA 5 min) -> Tier 2 at 30 min -> Tier 3 at 1 h;
            # management when unresolved after 2 h.
            Priority.P1: (
                EscalationStep(0 * _M, "tier1", _F, repeat=5, repeat_every=5 * _M),
                EscalationStep(30 * _M, "tier2", _F),
                EscalationStep(60 * _M, "tier3", _F),
                EscalationStep(120 * _M, "management", _H),
            ),
            # A ticket for on-call triage (ack SLA 30 min); the component owner "if needed"
            # is a human call, not a timer.
            Priority.P2: (EscalationStep(0 * _M, "tier1", _F, repeat=3, repeat_every=30 * _M),),
            Priority.P3: (),  # standard backlog
        }
    )
)


# -- due / apply ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    key: str  # recorded in incident.escalations_fired by apply()
    kind: EscalationKind
    target: str  # the role or rotation escalated to
    at: datetime  # when it fell due (not when due() was asked)
    person: Person | None  # whom to notify; None: nobody reachable (see `problem`)
    reason: str  # for the timeline: "P0 unresolved 15 min after detection"
    problem: str = ""  # why the notification does not go to the scheduled person


_KIND_ORDER = {
    EscalationKind.FUNCTIONAL: 0,
    EscalationKind.HIERARCHICAL: 1,
    EscalationKind.RENOTIFY: 2,
}
_ROLES = frozenset(r.value for r in Role)


def due(
    incident: Incident,
    policy: EscalationPolicy,
    roster: Roster,
    now: datetime,
    *,
    major: bool = False,
) -> list[Escalation]:
    """The escalations due at `now` and not yet fired, in order (time, kind, key).

    Pure and idempotent: the answer depends only on the stored incident (its milestones,
    timeline and fired markers) and `now`. Nothing is due for a resolved or closed
    incident. `major`: a major incident is declared (major_incident); executive
    notification is then immediate for its P0/P1 incidents.
    """
    if not incident.is_open or now < incident.detected:
        return []
    fired = incident.escalations_fired
    found: list[Escalation] = []

    def add(step: EscalationStep, key: str, at: datetime, reason: str) -> None:
        if key in fired or any(e.key == key for e in found):
            return
        person, problem = _resolve(incident, roster, step.target, now)
        found.append(Escalation(key, step.kind, step.target, at, person, reason, problem))

    prio = incident.priority
    acknowledged = _happened(incident.milestones.acknowledged, now)
    for step in policy.steps.get(prio, ()):
        scheduled = incident.detected + step.after
        if scheduled > now or _stopped(incident, step.stop_on, now):
            continue
        add(step, step.key, scheduled, f"{prio} {_since(step)}")
        first_page = fired.get(step.key)
        if step.repeat and first_page is not None and not acknowledged:
            count = min(step.repeat, (now - scheduled) // step.repeat_every)
            at = scheduled + count * step.repeat_every
            # Only repeats after the first page went out; a late engine sends the latest
            # missed repeat once instead of a burst.
            if count and at > first_page:
                reason = f"{prio} still unacknowledged (repeat {count} of {step.repeat})"
                add(step, f"{step.key}#{count}", at, reason)

    flags = [
        name
        for name, on in (
            ("security breach", incident.security_breach),
            ("data loss", incident.data_loss),
        )
        if on
    ]
    since: datetime | None = None
    immediate = policy.immediate
    if flags:
        since, cause = _flagged_at(incident), " and ".join(flags)
        immediate = (*policy.immediate, *policy.breach)
    elif major and prio in (Priority.P0, Priority.P1):
        since, cause = now, "major incident declared"
    if since is not None:
        for step in immediate:
            at = max(incident.detected + step.after, since)
            if at <= now and not _stopped(incident, step.stop_on, now):
                add(step, step.key, at, f"{cause}: notify {step.target} immediately")

    found.extend(_renotify(incident, policy, roster, now))
    found.sort(key=lambda e: (e.at, _KIND_ORDER[e.kind], e.key))
    return found


def apply(incident: Incident, escalations: Iterable[Escalation], now: datetime) -> Incident:
    """Record `escalations` as fired at `now`: a marker each plus an `escalated` timeline
    entry. Applying one that already fired changes nothing; one not yet due is refused."""
    fired = dict(incident.escalations_fired)
    entries: list[TimelineEntry] = []
    for e in escalations:
        if e.key in fired:
            continue
        if e.at > now:
            raise ValueError(f"{incident.id}: escalation {e.key} is not due until {e.at}")
        fired[e.key] = now
        who = e.person.name if e.person else "nobody reachable"
        verb = "Reminded" if e.kind is EscalationKind.RENOTIFY else "Escalated to"
        summary = f"{verb} {e.target} ({who}): {e.reason}" + (
            f" [{e.problem}]" if e.problem else ""
        )
        data: dict[str, Value] = {
            "key": e.key,
            "kind": e.kind.value,
            "target": e.target,
            "person": e.person.name if e.person else None,
            "due_at": e.at.isoformat(),
            "problem": e.problem or None,
        }
        entries.append(TimelineEntry(now, TimelineKind.ESCALATED, ACTOR, summary, data))
    if not entries:
        return incident
    return replace(incident, timeline=(*incident.timeline, *entries), escalations_fired=fired)


def _happened(stamp: datetime | None, now: datetime) -> bool:
    return stamp is not None and stamp <= now


def _stopped(incident: Incident, stop_on: StopOn, now: datetime) -> bool:
    m = incident.milestones
    if stop_on is StopOn.ACKNOWLEDGED:
        return _happened(m.acknowledged, now) or _happened(m.resolved, now)
    if stop_on is StopOn.MITIGATED:
        return _happened(m.mitigated, now) or _happened(m.resolved, now)
    return _happened(m.resolved, now)


def _since(step: EscalationStep) -> str:
    if step.after == timedelta(0):
        return "detected"
    minutes = int(step.after.total_seconds() // 60)
    span = f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
    return f"un{step.stop_on.value} {span} after detection"


def _flagged_at(incident: Incident) -> datetime:
    """When the breach / data-loss flag was first recorded (declare or set_flags)."""
    for entry in incident.timeline:
        if entry.data.get("security_breach") is True or entry.data.get("data_loss") is True:
            return entry.at
    return incident.detected


def _resolve(
    incident: Incident, roster: Roster, target: str, now: datetime
) -> tuple[Person | None, str]:
    """(whom to notify, problem) for a role or rotation name."""
    assigned = incident.roles.get(Role(target)) if target in _ROLES else None
    if assigned is not None:
        try:
            person = roster.person(assigned)
        except NotFoundError:
            return None, f"{target} {assigned} is not in the roster"
        if person.reachable:
            return person, ""
        return None, f"{target} {assigned} has no contact address"
    try:
        rotation = roster.rotation(target)
    except NotFoundError:
        return None, f"no one holds {target}: not assigned and no such rotation"
    scheduled = on_call(roster, target, now)
    if scheduled is not None and scheduled.reachable:
        return scheduled, ""
    # The path is blocked: try the rotation's other members in handoff order (the flow's
    # "check on-call rotation for backup/secondary contact").
    shift = shift_at(rotation, now)
    first = 0 if shift is None else shift.index % len(rotation.members)
    order = rotation.members[first:] + rotation.members[:first]
    backup = next(
        (roster.person(n) for n in order if roster.person(n).reachable),
        None,
    )
    why = (
        f"nobody on call for {target} yet"
        if scheduled is None
        else f"{scheduled.name} (on call for {target}) has no contact address"
    )
    if backup is None:
        return None, f"{why}; nobody on the {target} rotation is reachable"
    return backup, f"{why}; notifying {backup.name} instead"


def _last_update(incident: Incident, now: datetime) -> datetime:
    """The latest human or state-changing timeline entry at or before `now`."""
    latest = incident.detected
    for entry in incident.timeline:
        if entry.kind not in SYSTEM_KINDS and latest < entry.at <= now:
            latest = entry.at
    acked = incident.milestones.acknowledged
    return max(latest, acked) if acked is not None and acked <= now else latest


def _renotify(
    incident: Incident, policy: EscalationPolicy, roster: Roster, now: datetime
) -> list[Escalation]:
    cadence = SLAS[incident.priority].update_every
    if not policy.renotify or cadence is None:
        return []
    if not _happened(incident.milestones.acknowledged, now):
        return []  # unacknowledged incidents are paged by the steps' repeats instead
    quiet_since = _last_update(incident, now)
    count = (now - quiet_since) // cadence
    if count < 1:
        return []
    key = f"renotify:{quiet_since.isoformat()}#{count}"
    if key in incident.escalations_fired:
        return []
    attempts = [(t, *_resolve(incident, roster, t, now)) for t in policy.renotify_to]
    target, person, problem = next(
        (a for a in attempts if a[1] is not None),
        (attempts[0][0], None, "; ".join(a[2] for a in attempts)),
    )
    minutes = int((count * cadence).total_seconds() // 60)
    reason = f"{incident.priority} acknowledged but no update for {minutes} min"
    at = quiet_since + count * cadence
    return [Escalation(key, EscalationKind.RENOTIFY, target, at, person, reason, problem)]


# -- major incidents --------------------------------------------------------------------------

# What declaring a major incident means (the flow's "Multiple Concurrent Incidents").
MAJOR_INCIDENT_ACTIONS = (
    "assign a separate incident commander to each incident",
    "establish central coordination under a senior incident commander",
    "triage the incidents by business impact",
    "allocate resources, pulling from non-critical work if needed",
    "notify executives immediately",
    'update the status page: "Multiple service disruptions"',
    "implement a change freeze: halt all deployments",
)


@dataclass(frozen=True)
class MajorIncident:
    """The state a major incident puts the organisation in, and what is missing."""

    incidents: tuple[str, ...]  # ids of the open P0/P1 incidents
    change_freeze: bool  # halt all deployments
    separate_commanders: bool  # every incident needs its own commander
    executive_notification: bool  # immediately (due(..., major=True))
    missing_commander: tuple[str, ...]  # incidents with no commander yet
    shared_commanders: tuple[tuple[str, tuple[str, ...]], ...]  # (person, incidents) > 1
    actions: tuple[str, ...] = MAJOR_INCIDENT_ACTIONS


def _serious_open(incidents: Iterable[Incident]) -> list[Incident]:
    return [i for i in incidents if i.is_open and i.priority in (Priority.P0, Priority.P1)]


def major_incident(open_incidents: Iterable[Incident]) -> bool:
    """Two or more open P0/P1 incidents at once (resolved ones passed in are ignored)."""
    return len(_serious_open(open_incidents)) >= 2


def major_incident_state(open_incidents: Sequence[Incident]) -> MajorIncident | None:
    """None when there is no major incident; else what it requires and what is missing."""
    serious = _serious_open(open_incidents)
    if len(serious) < 2:
        return None
    by_commander: dict[str, list[str]] = {}
    missing: list[str] = []
    for i in serious:
        commander = i.roles.get(Role.INCIDENT_COMMANDER)
        if commander is None:
            missing.append(i.id)
        else:
            by_commander.setdefault(commander, []).append(i.id)
    shared = tuple((name, tuple(ids)) for name, ids in sorted(by_commander.items()) if len(ids) > 1)
    return MajorIncident(
        incidents=tuple(i.id for i in serious),
        change_freeze=True,
        separate_commanders=True,
        executive_notification=True,
        missing_commander=tuple(missing),
        shared_commanders=shared,
    )


# -- regulatory deadlines ------------------------------------------------------------------------


@dataclass(frozen=True)
class RegulatoryRule:
    """A duty to report a breach within `within` of becoming aware of it (the flow's
    "Regulatory reporting: {GDPR, HIPAA, etc.} within required timeframes")."""

    name: str  # "GDPR Art. 33: notify the supervisory authority"
    within: timedelta
    on_security_breach: bool = True
    on_data_loss: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("regulatory rule: name must not be empty")
        if self.within <= timedelta(0):
            raise ValueError(f"regulatory rule {self.name}: `within` must be positive")
        if not (self.on_security_breach or self.on_data_loss):
            raise ValueError(f"regulatory rule {self.name}: applies to nothing")


DEFAULT_REGULATORY: tuple[RegulatoryRule, ...] = (
    RegulatoryRule("GDPR Art. 33: notify the supervisory authority", timedelta(hours=72)),
)


def regulatory_deadlines(
    incident: Incident, rules: Sequence[RegulatoryRule]
) -> list[tuple[RegulatoryRule, datetime]]:
    """(rule, due) for each rule the incident's flags trigger, counted from when the flag
    was first recorded (declaration or a later set_flags); earliest first."""
    out = [
        (rule, _flagged_at(incident) + rule.within)
        for rule in rules
        if (rule.on_security_breach and incident.security_breach)
        or (rule.on_data_loss and incident.data_loss)
    ]
    return sorted(out, key=lambda item: (item[1], item[0].name))
