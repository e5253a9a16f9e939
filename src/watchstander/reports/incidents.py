"""Write an incident's `.aiwg/` documents and messages from its stored data.

The input is what the store keeps for one incident: ``codec.to_data(incident)`` plus the
optional keys the engine adds (``triage``, ``bisect``, ``rca``, ``preventive_actions``,
``mitigation``, ``deliveries``, ``regressions``). Every optional key may be missing; a
document whose data is missing is either not written or says in words what is not
recorded yet, never "None" and never a placeholder.

`compose(kind, data)` gives the (subject, plain text) of one message about the incident as
it is; the notifier sends exactly that. `communications/{kind}.md` holds ``# {subject}``
followed by the same text, composed from the incident as it was when the message was last
sent (the latest `message` timeline entry whose data names the kind, which the engine
records right after composing), else as it is now: what was sent and what is filed never
differ, however often the documents are rendered again.

Nothing reads the wall clock. Where a judgement needs a "now" (is an SLA missed yet, is a
preventive action or the review overdue) it is taken "as of" the latest time recorded in
the data, and the documents say so; rendering the same data twice writes the same bytes.

Layout, relative to the `.aiwg` root (HANDBOOK 5.2):

    incidents/{id}/incident-record.md
    incidents/{id}/timeline.md
    incidents/{id}/triage-assessment.md
    incidents/{id}/regression-analysis.md           triage recorded
    incidents/{id}/mitigation-report.md             mitigation recorded
    incidents/{id}/root-cause-analysis.md           RCA recorded
    incidents/{id}/post-incident-review.md          P0/P1 resolved or closed, or asked for
    incidents/{id}/preventive-actions.md            actions recorded
    incidents/{id}/communications/{kind}.md         each message kind that applies
    incidents/{id}/communications/deliveries.md     deliveries recorded
    regression/register/{regression-id}.yaml        (write_regression_register)
    regression/regression-register-summary.md
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from watchstander.incident import codec, metrics, register
from watchstander.incident import rca as rca_mod
from watchstander.incident.models import (
    SYSTEM_KINDS,
    Impact,
    Incident,
    IncidentStatus,
    Milestones,
    Priority,
    Role,
    TimelineEntry,
    TimelineKind,
    Urgency,
)
from watchstander.incident.priority import MATRIX, SLAS, Sla
from watchstander.reports.gates import format_seconds
from watchstander.reports.hypercare import pct
from watchstander.reports.rows import fmt_time
from watchstander.reports.writer import _environment, _write, render

__all__ = [
    "INCIDENTS_DIR",
    "REGISTER_DIR",
    "REGISTER_SUMMARY",
    "COMMUNICATION_KINDS",
    "MESSAGE_KINDS",
    "status_page_phase",
    "compose",
    "write_incident_reports",
    "write_regression_register",
]

# Paths relative to the `.aiwg` root.
INCIDENTS_DIR = "incidents"
REGISTER_DIR = "regression/register"
REGISTER_SUMMARY = "regression/regression-register-summary.md"

# The message kinds filed under communications/, in the flow's order.
COMMUNICATION_KINDS = (
    "initial-alert",
    "status-page-update",
    "management-notification",
    "executive-notification",
    "legal-notification",
    "resolution-notification",
)
# Everything compose() knows: the filed kinds plus the pages the escalation timer sends.
MESSAGE_KINDS = (*COMMUNICATION_KINDS, "escalation", "renotify", "action-reminder")

_S = IncidentStatus
_DONE = (_S.RESOLVED, _S.CLOSED)
_REVIEWED = (Priority.P0, Priority.P1)
_DETECTION_TARGET = timedelta(minutes=5)  # the flow's "detected and logged within 5 minutes"
_HIGH_RISK_AT = 3  # regressions of one component that make it high-risk (register)

_ROLE_LABELS = {
    Role.INCIDENT_COMMANDER: "Incident Commander",
    Role.ON_CALL: "On-Call Engineer",
    Role.TECHNICAL_LEAD: "Technical Lead",
    Role.COMMUNICATIONS_LEAD: "Communications Lead",
    Role.COMPONENT_OWNER: "Component Owner",
    Role.DEPLOYMENT_MANAGER: "Deployment Manager",
    Role.SECURITY_LEAD: "Security Lead",
    Role.SCRIBE: "Scribe",
}
_CORE_ROLES = (
    Role.INCIDENT_COMMANDER,
    Role.ON_CALL,
    Role.TECHNICAL_LEAD,
    Role.COMMUNICATIONS_LEAD,
)
# The flow's escalation path per priority (Step 2).
_PATHS = {
    Priority.P0: "Page on-call -> Incident Commander -> Deployment Manager -> Executive (30 min)",
    Priority.P1: "Alert on-call -> Incident Commander -> Component Owner -> Management (2 h)",
    Priority.P2: "Create ticket -> On-call triage -> Component Owner if needed",
    Priority.P3: "Standard backlog",
}
_METRIC_LABELS = {
    metrics.Metric.MTTD: ("MTTD", "time to detect", "detected"),
    metrics.Metric.MTTA: ("MTTA", "time to acknowledge", "acknowledged"),
    metrics.Metric.MTTE: ("MTTE", "time to engage", "engaged"),
    metrics.Metric.MTTM: ("MTTM", "time to mitigate", "mitigated"),
    metrics.Metric.MTTR: ("MTTR", "time to resolve", "resolved"),
}
_CONFIDENCE = {"HIGH": "HIGH (>90%)", "MEDIUM": "MEDIUM (70-90%)", "LOW": "LOW (<70%)"}
_URGENCY = {
    "IMMEDIATE": "IMMEDIATE (<5 min)",
    "URGENT": "URGENT (<15 min)",
    "NORMAL": "NORMAL (standard SLA)",
}
_INDICATORS = (
    ("worked_before", "Functionality worked in previous version"),
    ("immediate", "Issue appeared immediately after deployment"),
    ("commit", "Issue correlates with specific commit/PR"),
    ("staging", "Similar pattern in staging/canary deployment"),
    ("inflection", "Metrics show clear inflection point at deployment time"),
)
_RISK_FACTORS = (
    ("migration", "Database migrations in between (incompatible schema)"),
    ("destructive-migration", "Destructive migration (drops or renames tables/columns)"),
    ("api-contract", "External API contract changes (breaking)"),
    ("breaking-change", "Declared breaking change"),
    ("data-format", "Data written in new format (can't be read by old version)"),
    ("irreversible", "Declared irreversible step"),
    ("dependents-updated", "Dependent services already updated (coordination required)"),
)
_HORIZONS = (
    ("1 week", "Immediate Actions (complete within 1 week)"),
    ("1 month", "Short-Term Actions (complete within 1 month)"),
    ("3 months", "Long-Term Actions (complete within 3 months)"),
)
_FISHBONE = ("people", "process", "technology", "environment")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


# -- small helpers ----------------------------------------------------------------------------


def _at(value: object) -> datetime | None:
    """A stored time (datetime or ISO text; naive counts as UTC) in UTC; None if it is none."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and value.strip():
        try:
            return _at(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def _when(value: object, missing: str = "not recorded yet") -> str:
    at = _at(value)
    return missing if at is None else fmt_time(at)


def _regulatory_rows(data: Mapping[str, Any], now: datetime) -> list[dict[str, str]]:
    """The breach-reporting deadlines the engine dated (data["regulatory"]), as of `now`."""
    rows = []
    for item in data.get("regulatory") or []:
        due = _at(item.get("due"))
        if due is None:
            continue
        left = due - now
        state = f"due in {_span(left)}" if left > timedelta(0) else f"OVERDUE by {_span(-left)}"
        rows.append({"name": str(item.get("name", "")), "due": _minute(due), "state": state})
    return rows


def _evidence_line(data: Mapping[str, Any]) -> str:
    ev = data.get("evidence")
    if not isinstance(ev, Mapping):
        return "not preserved yet"
    files = ev.get("files") or []
    at = _at(ev.get("at"))
    when = f" at {_minute(at)}" if at is not None else ""
    return (
        f"{len(files)} file(s) preserved{when} by {ev.get('by', 'unknown')},"
        f" manifest `{ev.get('manifest', '')}`"
    )


def _minute(at: datetime) -> str:
    """Message time: minutes are precise enough for people."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(delta: timedelta) -> str:
    return format_seconds(delta.total_seconds())


def _sla_span(target: timedelta | None) -> str:
    if target is None:
        return "no fixed target"
    return "immediate" if target == timedelta(0) else _span(target)


def _text(value: object, missing: str = "not recorded yet") -> str:
    """One line of text; `missing` for None or blank."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    text = " ".join(str(value).split())
    return text or missing


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _strings(value: object) -> list[str]:
    return [_text(v) for v in _seq(value) if _text(v, "")]


def _duration(value: object) -> timedelta | None:
    """A stored duration: a timedelta, seconds, or timedelta's own text ("0:05:00")."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        m = _TIMEDELTA.match(value.strip())
        if m:
            days = int(m.group(1) or 0)
            return timedelta(
                days=days,
                hours=int(m.group(2)),
                minutes=int(m.group(3)),
                seconds=float(m.group(4)),
            )
    return None


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    return "`" * max(3, max(runs, default=0) + 1)


def _yes_no(flag: bool) -> str:
    return "YES" if flag else "NO"


def _role(inc: Incident, role: Role, missing: str = "not assigned yet") -> str:
    return inc.roles.get(role) or missing


# -- what the incident data says -----------------------------------------------------------------


def _incident(data: Mapping[str, Any]) -> Incident:
    return codec.from_data(data)


def _deliveries(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [_map(d) for d in _seq(data.get("deliveries")) if isinstance(d, Mapping)]


def _as_of(inc: Incident, data: Mapping[str, Any]) -> datetime:
    """The latest time recorded anywhere in the data: the reports' "now"."""
    stamps: list[datetime | None] = [e.at for e in inc.timeline]
    stamps += [at for _, at in inc.milestones.items()]
    stamps += list(inc.escalations_fired.values())
    for key in ("triage", "bisect", "rca", "mitigation"):
        stamps.append(_at(_map(data.get(key)).get("at")))
    stamps += [_at(d.get("delivered_at")) for d in _deliveries(data)]
    return max(s for s in stamps if s is not None) if any(stamps) else inc.detected


def _last_update(inc: Incident) -> datetime:
    """The latest human or state-changing timeline entry (escalations are not updates)."""
    times = [e.at for e in inc.timeline if e.kind not in SYSTEM_KINDS]
    return max([inc.detected, *times])


def status_page_phase(data: Mapping[str, Any]) -> str:
    """The status page phase of a stored incident: Investigating, Identified (mitigating),
    Monitoring (impact stopped: mitigated milestone or a validated mitigation, not yet
    resolved) or Resolved (resolved or closed)."""
    return _phase(_incident(data), data)


def _phase(inc: Incident, data: Mapping[str, Any]) -> str:
    if inc.status in _DONE:
        return "Resolved"
    mitigation = _map(data.get("mitigation"))
    if inc.milestones.mitigated is not None or mitigation.get("validated") is True:
        return "Monitoring"
    if inc.status is _S.MITIGATING:
        return "Identified"
    return "Investigating"


def _phase_at(inc: Incident, data: Mapping[str, Any], phase: str) -> datetime:
    """When the current phase began."""
    m = inc.milestones
    if phase == "Resolved" and m.resolved is not None:
        return m.resolved
    if phase == "Monitoring":
        at = m.mitigated or _at(_map(data.get("mitigation")).get("at"))
        if at is not None:
            return at
    for entry in reversed(inc.timeline):
        if entry.kind is TimelineKind.STATUS_CHANGED and entry.data.get("to") == inc.status.value:
            return entry.at
    return inc.detected


def _fired_targets(inc: Incident) -> set[str]:
    """The roles and rotations an escalation has fired for (reminders excluded)."""
    targets: set[str] = set()
    for key in inc.escalations_fired:
        kind, _, target = key.split("#", 1)[0].partition(":")
        if kind != "renotify" and target:
            targets.add(target)
    return targets


def _user_impact(inc: Incident) -> str:
    parts = []
    if inc.outage:
        parts.append(f"complete outage of {inc.service}")
    if inc.data_loss:
        parts.append("data loss or corruption")
    if inc.security_breach:
        parts.append("security breach")
    if inc.users_affected_pct is not None:
        parts.append(f"{inc.users_affected_pct:g}% of users affected")
    return (
        "; ".join(parts) or "extent not known yet (no outage, data loss or share of users recorded)"
    )


def _symptoms(inc: Incident) -> str:
    return _text(inc.description, "") or inc.title


def _blast(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(_map(data.get("triage")).get("blast_radius"))


def _affected_users(inc: Incident, data: Mapping[str, Any]) -> str:
    blast = _blast(data)
    users, total = blast.get("users_affected"), blast.get("users_total")
    if isinstance(users, int) and not isinstance(users, bool):
        if isinstance(total, int) and total:
            return f"{users} of {total} users ({100.0 * users / total:.1f}%)"
        return f"{users} users"
    if inc.users_affected_pct is not None:
        return f"{inc.users_affected_pct:g}% of users"
    return "UNKNOWN"


def _affected_systems(inc: Incident, data: Mapping[str, Any]) -> str:
    blast = _blast(data)
    systems = [inc.service]
    for name in [*_strings(blast.get("services")), *_strings(blast.get("dependencies"))]:
        if name not in systems:
            systems.append(name)
    components = _strings(blast.get("components"))
    text = ", ".join(systems)
    return text + (f" (components: {', '.join(components)})" if components else "")


def _verdict(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(_map(data.get("triage")).get("verdict"))


def _is_regression(data: Mapping[str, Any]) -> bool:
    return _verdict(data).get("verdict") in ("CONFIRMED", "LIKELY")


def _deployment_label(d: Mapping[str, Any]) -> str:
    how = f", {d['strategy']}" if _text(d.get("strategy"), "") else ""
    return (
        f"{_text(d.get('service'), 'unknown service')} {_text(d.get('version'), '')}".strip()
        + f" (rollout {_text(d.get('rollout_id'), 'unknown')}{how})"
    )


def _root_cause(data: Mapping[str, Any]) -> str:
    """The confirmed root cause, or "" when none is recorded."""
    rca = _map(data.get("rca"))
    text = _text(rca.get("root_cause"), "")
    return text or _text(_map(rca.get("five_whys")).get("root_cause"), "")


def _cause_for_messages(data: Mapping[str, Any]) -> str:
    confirmed = _root_cause(data)
    if confirmed:
        return f"confirmed: {confirmed}"
    suspect = _map(_verdict(data).get("suspect"))
    if _is_regression(data) and suspect:
        verdict = _verdict(data)
        return (
            f"suspected regression from {_deployment_label(suspect)} "
            f"(verdict {verdict.get('verdict')}, confidence {verdict.get('confidence')})"
        )
    return "not identified yet"


def _mitigation_line(data: Mapping[str, Any]) -> str:
    """One sentence on the mitigation, or "" when none is recorded."""
    m = _map(data.get("mitigation"))
    if not m:
        return ""
    action = _text(m.get("action"), "mitigation")
    rollout = _text(m.get("rollout_id"), "")
    what = f"{action} of rollout {rollout}" if rollout else action
    outcome = _text(m.get("outcome"), "")
    checks = _strings(m.get("checks"))
    if m.get("validated") is True:
        check = f"validated by {len(checks)} check(s)" if checks else "validated"
    else:
        check = "not validated"
    by = _text(m.get("by"), "")
    when = _at(m.get("at"))
    tail = (f" by {by}" if by else "") + (f" at {fmt_time(when)}" if when else "")
    return f"{what}" + (f" ({outcome})" if outcome else "") + f", {check}{tail}"


def _cadence(sla: Sla) -> str:
    return f"every {_span(sla.update_every)}" if sla.update_every else "as the situation changes"


def _next_update(inc: Incident, sla: Sla) -> str:
    """Relative to the message itself, so the text does not depend on when it is filed."""
    if not inc.is_open:
        return "none planned: the incident is resolved"
    if sla.update_every is None:
        return f"as the situation changes (no update cadence for {inc.priority})"
    return f"within {_span(sla.update_every)} ({_cadence(sla)})"


def _eta(inc: Incident, sla: Sla) -> str:
    if inc.milestones.resolved is not None:
        return f"resolved at {_minute(inc.milestones.resolved)}"
    if sla.resolve is None:
        return "UNKNOWN (no resolution target for P3)"
    due = inc.detected + sla.resolve
    return f"UNKNOWN; the {inc.priority} resolution target is {_minute(due)} ({_span(sla.resolve)} after detection)"


def _duration_text(inc: Incident) -> str:
    start = inc.milestones.started or inc.detected
    since = "start of impact" if inc.milestones.started else "detection"
    if inc.milestones.resolved is not None:
        return f"{_span(inc.milestones.resolved - start)} (from {since} to resolution)"
    return f"ongoing since {_minute(start)} ({since})"


def _business_impact(inc: Incident) -> str:
    facts = []
    if inc.data_loss:
        facts.append("data loss: compliance risk")
    if inc.security_breach:
        facts.append("security breach: compliance and reputation risk")
    if inc.outage:
        facts.append("complete outage: revenue at risk")
    return "; ".join(facts) or "not recorded yet"


def _pir_window(prio: Priority) -> timedelta | None:
    return rca_mod.PIR_WINDOWS.get(prio.value)


# -- the shared record view -----------------------------------------------------------------------


def _sla_rows(inc: Incident, as_of: datetime) -> list[dict[str, str]]:
    sla = SLAS[inc.priority]
    m = inc.milestones
    rows = []
    for label, target, stamp in (
        ("Acknowledge", sla.acknowledge, m.acknowledged),
        ("Engage", sla.engage, m.engaged),
        ("Resolve", sla.resolve, m.resolved),
    ):
        if target is None:
            rows.append(
                {
                    "label": label,
                    "target": "no fixed target",
                    "due": "n/a",
                    "actual": _when(stamp, "not reached yet"),
                    "result": "n/a",
                }
            )
            continue
        due = inc.detected + target
        if stamp is not None:
            took = stamp - inc.detected
            result = "met" if stamp <= due else f"missed by {_span(stamp - due)}"
            actual = f"{fmt_time(stamp)} ({_span(took)} after detection)"
        else:
            actual = "not reached yet"
            result = f"missed (not reached by {fmt_time(due)})" if as_of > due else "pending"
        rows.append(
            {
                "label": label,
                "target": _sla_span(target),
                "due": fmt_time(due),
                "actual": actual,
                "result": result,
            }
        )
    return rows


def _sla_result(inc: Incident, label: str, as_of: datetime) -> str:
    return next(r["result"] for r in _sla_rows(inc, as_of) if r["label"] == label)


def _timeline_notes(entry: TimelineEntry, inc: Incident) -> str:
    if entry.kind is TimelineKind.CREATED:
        return _text(inc.description, "-")
    if entry.kind is TimelineKind.ESCALATED:
        notes = [f"due {_when(entry.data.get('due_at'))}"]
        if entry.data.get("problem"):
            notes.append(_text(entry.data.get("problem")))
        return "; ".join(notes)
    skip = {"from", "to", "key", "kind", "milestone", "role", "person", "target"}
    notes = []
    for key, value in entry.data.items():
        if key in skip or value is None or value == "":
            continue
        shown = _when(value) if isinstance(value, str) and _ISO.match(value) else _text(value)
        notes.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(notes) or "-"


def _timeline(inc: Incident) -> list[dict[str, str]]:
    entries = sorted(enumerate(inc.timeline), key=lambda p: (p[1].at, p[0]))
    return [
        {
            "at": fmt_time(e.at),
            "event": _text(e.summary, e.kind.value),
            "actor": _text(e.actor, "-"),
            "notes": _timeline_notes(e, inc),
        }
        for _, e in entries
    ]


def _escalations(inc: Incident) -> list[dict[str, str]]:
    rows = []
    for e in inc.timeline:
        if e.kind is not TimelineKind.ESCALATED:
            continue
        rows.append(
            {
                "at": fmt_time(e.at),
                "kind": _text(e.data.get("kind"), "-"),
                "target": _text(e.data.get("target"), "-"),
                "person": _text(e.data.get("person"), "nobody reachable"),
                "summary": _text(e.summary),
            }
        )
    return rows


def _record(inc: Incident, data: Mapping[str, Any], as_of: datetime) -> dict[str, Any]:
    sla = SLAS[inc.priority]
    phase = _phase(inc, data)
    m = inc.milestones
    roles = [
        {"label": label, "person": _role(inc, role)}
        for role, label in _ROLE_LABELS.items()
        if role in _CORE_ROLES or role in inc.roles
    ]
    return {
        "id": inc.id,
        "version": _text(data.get("version"), "0"),
        "title": _text(inc.title),
        "service": inc.service,
        "priority": inc.priority.value,
        "status": inc.status.value,
        "phase": phase,
        "phase_at": _minute(_phase_at(inc, data, phase)),
        "impact": inc.impact.value.upper(),
        "urgency": inc.urgency.value.upper(),
        "category": inc.category.value,
        "detection_method": inc.detection_method.value,
        "reporter": _text(inc.reporter),
        "description": _symptoms(inc),
        "symptoms": _symptoms(inc).rstrip("."),
        "user_impact": _user_impact(inc),
        "affected_systems": _affected_systems(inc, data),
        "affected_users": _affected_users(inc, data),
        "business_impact": _business_impact(inc),
        "detected": fmt_time(inc.detected),
        "detected_short": _minute(inc.detected),
        "started": _when(m.started),
        "start_short": _minute(m.started or inc.detected),
        "date": inc.detected.date().isoformat(),
        "commander": _role(inc, Role.INCIDENT_COMMANDER),
        "security_lead": _role(inc, Role.SECURITY_LEAD),
        "on_call": _role(inc, Role.ON_CALL),
        "technical_lead": _role(inc, Role.TECHNICAL_LEAD),
        "communications_lead": _role(inc, Role.COMMUNICATIONS_LEAD),
        "assigned": inc.roles.get(Role.ON_CALL)
        or inc.roles.get(Role.INCIDENT_COMMANDER)
        or "not assigned yet",
        "roles": roles,
        "other_roles": [
            {"label": _ROLE_LABELS[role], "person": person}
            for role, person in sorted(inc.roles.items())
            if role not in _CORE_ROLES
        ],
        "acknowledged": (
            f"{fmt_time(m.acknowledged)}" if m.acknowledged is not None else "not acknowledged yet"
        ),
        "milestones": [
            {"label": name.capitalize(), "at": _when(at, "not reached yet")}
            for name, at in m.items()
        ],
        "regulatory": _regulatory_rows(data, as_of),
        "evidence": _evidence_line(data),
        "rollout_id": inc.rollout_id or "none linked",
        "dedup_keys": ", ".join(sorted(inc.dedup_keys)) or "none",
        "flags": {
            "outage": _yes_no(inc.outage),
            "data_loss": _yes_no(inc.data_loss),
            "security_breach": _yes_no(inc.security_breach),
            "users": (
                f"{inc.users_affected_pct:g}%" if inc.users_affected_pct is not None else "UNKNOWN"
            ),
        },
        "cadence": _cadence(sla),
        "next_update": _next_update(inc, sla),
        "eta": _eta(inc, sla),
        "duration": _duration_text(inc),
        "cause": _cause_for_messages(data),
        "mitigation": _mitigation_line(data) or "not recorded yet",
        "as_of": fmt_time(as_of),
        "channel": "#incident-" + inc.id.removeprefix("INC-"),
        "timeline": _timeline(inc),
        "escalations": _escalations(inc),
        "sla_rows": _sla_rows(inc, as_of),
    }


# -- snapshots: a message as it was when it went out ----------------------------------------------

_EXTRAS_AT = ("triage", "bisect", "rca", "mitigation")
# compose() describes the incident as it is: it is called when the message goes out. The
# file of a message already sent is rendered from the incident as it was then, so the
# filed text stays the sent text whatever happened since.


def _sent_at(kind: str, inc: Incident) -> datetime | None:
    """When the message of `kind` was last sent: the latest `message` timeline entry whose
    data names the kind (the engine records one right after composing it). None: never."""
    times = [
        e.at for e in inc.timeline if e.kind is TimelineKind.MESSAGE and e.data.get("kind") == kind
    ]
    return max(times, default=None)


def _snapshot(
    inc: Incident, data: Mapping[str, Any], at: datetime
) -> tuple[Incident, Mapping[str, Any]]:
    """The incident and its extra data as they stood at `at`, replayed from the timeline
    (status, priority, impact and urgency, roles) and the stamps (milestones, fired
    escalations, the extras' `at`). Impact facts (share of users, outage, ...) are kept
    as now: they describe the incident, later entries only correct them. Falls back to
    the current state when the replay does not validate (a reopened incident)."""
    entries = tuple(e for e in inc.timeline if e.at <= at)
    status, prio = _S.DETECTED, inc.priority
    impact, urgency = inc.impact, inc.urgency
    roles: dict[Role, str] = {}
    try:
        for e in entries:
            d = e.data
            if e.kind is TimelineKind.STATUS_CHANGED and d.get("to"):
                status = _S(str(d["to"]))
            elif e.kind is TimelineKind.PRIORITY_CHANGED and d.get("to"):
                prio = Priority(str(d["to"]))
            elif e.kind in (TimelineKind.CREATED, TimelineKind.IMPACT_CHANGED):
                if d.get("priority"):
                    prio = Priority(str(d["priority"]))
                if d.get("impact"):
                    impact = Impact(str(d["impact"]))
                if d.get("urgency"):
                    urgency = Urgency(str(d["urgency"]))
            elif e.kind is TimelineKind.ROLE_ASSIGNED and d.get("role") and d.get("person"):
                roles[Role(str(d["role"]))] = str(d["person"])
        stamps = {name: stamp for name, stamp in inc.milestones.items()}
        milestones = Milestones(
            **{n: (s if s is not None and s <= at else None) for n, s in stamps.items()}
        )
        snap = replace(
            inc,
            status=status,
            priority=prio,
            impact=impact,
            urgency=urgency,
            milestones=milestones,
            roles=roles,
            timeline=entries,
            escalations_fired={k: v for k, v in inc.escalations_fired.items() if v <= at},
        )
    except ValueError:
        return inc, data
    kept = dict(data)
    for key in _EXTRAS_AT:
        stamp = _at(_map(data.get(key)).get("at"))
        if stamp is not None and stamp > at:
            kept.pop(key, None)
    return snap, kept


# -- messages -------------------------------------------------------------------------------------


def _reason(summary: str) -> str:
    """The reason in an escalation entry's summary: "Escalated to tier2 (bob): <reason>"
    with an optional " [problem]" after it."""
    _, sep, rest = summary.partition("): ")
    reason = rest if sep else summary
    return re.sub(r" \[[^\]]*\]$", "", reason)


def _escalation_info(inc: Incident, data: Mapping[str, Any], kind: str) -> dict[str, str]:
    """The escalation a page is about: data["escalation"], else the latest one recorded."""
    given = _map(data.get("escalation"))
    if not given:
        wanted = ("renotify",) if kind == "renotify" else ("functional", "hierarchical")
        for entry in reversed(inc.timeline):
            if entry.kind is TimelineKind.ESCALATED and entry.data.get("kind") in wanted:
                given = {
                    "kind": entry.data.get("kind"),
                    "target": entry.data.get("target"),
                    "person": entry.data.get("person"),
                    "reason": _reason(entry.summary),
                    "problem": entry.data.get("problem"),
                }
                break
    person = given.get("person")
    if isinstance(person, Mapping):
        person = person.get("name")
    return {
        "kind": _text(given.get("kind"), kind),
        "target": _text(given.get("target"), "the on-call responder"),
        "person": _text(person, "nobody reachable"),
        "reason": _text(given.get("reason"), "reason not recorded"),
        "problem": _text(given.get("problem"), ""),
    }


def _executive_action(data: Mapping[str, Any]) -> str:
    triage = _map(data.get("triage"))
    feasibility = _map(triage.get("feasibility"))
    if feasibility.get("level") == "BLOCKED":
        return "DECISION REQUIRED: the rollback is blocked; an emergency hotfix needs approval"
    return "AWARENESS ONLY"


def _subject(kind: str, r: Mapping[str, Any], extra: Mapping[str, str]) -> str:
    label = {
        "initial-alert": r["phase"],
        "status-page-update": r["phase"],
        "management-notification": f"Management notification, {r['phase']}",
        "executive-notification": f"Executive alert, {r['phase']}",
        "legal-notification": "Legal and compliance notification",
        "resolution-notification": "Resolved",
        "escalation": f"Escalated to {extra.get('target', '')}",
        "renotify": "Update overdue",
        "action-reminder": "Preventive action due",
    }[kind]
    return f"[{r['priority']}] {r['id']}: {r['title']} ({label})"


def _message_view(
    kind: str, inc: Incident, data: Mapping[str, Any], at: datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """The message of `kind` about the incident as it is, or as it was at `at`."""
    if at is not None:
        inc, data = _snapshot(inc, data, at)
    r = _record(inc, data, _as_of(inc, data) if at is None else at)
    extra: dict[str, str] = {}
    if kind in ("escalation", "renotify"):
        extra = _escalation_info(inc, data, kind)
    window = _pir_window(inc.priority)
    r["pir_promise"] = (
        f"A detailed post-incident review will be published within {_span(window)}."
        if window is not None
        else ""
    )
    r["public_cause"] = _root_cause(data).rstrip(".")
    r["executive_action"] = _executive_action(data)
    r["last_update"] = fmt_time(_last_update(inc))
    flags = [
        n
        for n, on in (("data loss", inc.data_loss), ("security breach", inc.security_breach))
        if on
    ]
    r["compliance"] = "YES: " + ", ".join(flags) if flags else "NO"
    r["resolved"] = _when(inc.milestones.resolved, "not resolved yet")
    r["total"] = (
        _span(inc.milestones.resolved - inc.detected)
        if inc.milestones.resolved is not None
        else "still open"
    )
    r["next_steps"] = _pir_next_step(inc)
    r["escalation"] = extra
    # action-reminder: the engine passes the actions it reminds about in data["reminder"].
    r["reminder"] = [
        {
            "id": str(a.get("id", "")),
            "title": str(a.get("title", "")),
            "owner": str(a.get("owner", "")),
            "horizon": str(a.get("horizon", "")),
            "due": fmt_time(datetime.fromisoformat(str(a["due"]))) if a.get("due") else "n/a",
            "state": str(a.get("state", "due")),
        }
        for a in (data.get("reminder") or [])
    ]
    return _subject(kind, r, extra), r


def _pir_next_step(inc: Incident) -> str:
    resolved = inc.milestones.resolved
    if resolved is None:
        return "post-incident review once resolved"
    due = rca_mod.pir_due(inc.priority.value, resolved)
    if due is None:
        return f"no post-incident review required for {inc.priority}"
    need = "required" if rca_mod.pir_required(inc.priority.value) else "optional"
    return f"post-incident review ({need}) due by {_minute(due)}"


def compose(kind: str, data: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, plain text) of one message about a stored incident, as it is now.

    Kinds: initial-alert, status-page-update, management-notification,
    executive-notification, resolution-notification, escalation and renotify (the last two
    read data["escalation"] = {kind, target, person, reason}, else the latest escalation
    in the timeline). The subject reads ``[P1] INC-2026-11-21-001: checkout errors
    (Investigating)``. ValueError for an unknown kind.
    """
    if kind not in MESSAGE_KINDS:
        raise ValueError(
            f"unknown message kind {kind!r}; expected one of {', '.join(MESSAGE_KINDS)}"
        )
    inc = _incident(data)
    subject, view = _message_view(kind, inc, data)
    text = render(_environment(), f"incidents/message-{kind}.md.j2", m=view)
    return subject, text


# -- triage, regression, mitigation, RCA views ---------------------------------------------------


def _matrix(inc: Incident) -> list[dict[str, Any]]:
    rows = []
    for impact in Impact:
        cells = []
        for urgency in Urgency:
            prio = MATRIX[impact, urgency].value
            here = impact is inc.impact and urgency is inc.urgency
            cells.append(f"**{prio} (this incident)**" if here else prio)
        rows.append({"impact": impact.value.capitalize(), "cells": cells})
    return rows


def _priority_note(inc: Incident) -> str:
    cell = MATRIX[inc.impact, inc.urgency]
    if cell is inc.priority:
        return f"Priority {inc.priority}: the matrix cell for impact {inc.impact.value.upper()} and urgency {inc.urgency.value.upper()}."
    reason = next(
        (e.summary for e in reversed(inc.timeline) if e.kind is TimelineKind.PRIORITY_CHANGED),
        "reason not recorded",
    )
    return f"Priority {inc.priority}, overriding the matrix cell {cell}: {_text(reason)}."


def _triage_view(inc: Incident, data: Mapping[str, Any], r: Mapping[str, Any]) -> dict[str, Any]:
    sla = SLAS[inc.priority]
    window = _pir_window(inc.priority)
    if window is None:
        review = "not required"
    else:
        need = "required" if sla.review_required else "optional"
        review = f"within {_span(window)} of resolution ({need})"
    return {
        "matrix": _matrix(inc),
        "priority_note": _priority_note(inc),
        "sla_rows": r["sla_rows"],
        "updates": _cadence(sla),
        "review": review,
        "sla_note": _text(sla.note, ""),
        "resolve_range": "1-2 h" if inc.priority is Priority.P0 else "",
        "needs_commander": inc.priority in _REVIEWED,
        "path": _PATHS[inc.priority],
        **_slo_view(_seq(_map(data.get("triage")).get("slos"))),
    }


def _slo_view(states: Sequence[Any]) -> dict[str, Any]:
    """The service's SLOs as triage recorded them, and what they say about urgency."""
    rows = [
        {
            "name": _text(s.get("name")),
            "target": _text(s.get("target")),
            "window": _text(s.get("window")),
            "sli_24h": pct(s.get("sli_24h")),
            "left": pct(s.get("budget_remaining"), 1),
            "burn": "no data" if s.get("burn_rate_1h") is None else f"{s['burn_rate_1h']:.2f}x",
            "status": f"{_text(s.get('status'))} / {_text(s.get('assessment'))}",
            "alert": _text(s.get("alert"), "none"),
        }
        for s in map(_map, states)
    ]
    pages = [
        r["name"] for r, s in zip(rows, map(_map, states), strict=True) if s.get("alert") == "page"
    ]
    critical = [
        r["name"]
        for r, s in zip(rows, map(_map, states), strict=True)
        if s.get("assessment") == "CRITICAL"
    ]
    monitor = [
        r["name"]
        for r, s in zip(rows, map(_map, states), strict=True)
        if s.get("assessment") == "MONITOR"
    ]
    notes = []
    if pages:
        notes.append(
            f"A page-level burn-rate alert is firing for {', '.join(pages)}: at this burn the "
            "budget is gone within hours, an SLA breach is imminent (urgency HIGH)."
        )
    if critical:
        notes.append(
            f"Error budget critical for {', '.join(critical)}: incident freeze, halt changes "
            "other than P0 and security fixes."
        )
    elif monitor:
        notes.append(
            f"Error budget at risk for {', '.join(monitor)}: defer risky changes, increase "
            "monitoring."
        )
    if rows and not notes:
        notes.append("Every SLO of the service is healthy: no SLO breach is imminent.")
    return {"slos": rows, "slo_notes": notes}


def _deployment_rows(triage: Mapping[str, Any], suspect_id: str) -> list[dict[str, str]]:
    given = _seq(triage.get("deployments")) or _seq(_map(triage.get("verdict")).get("recent"))
    rows = []
    for d in given:
        d = _map(d)
        rid = _text(d.get("rollout_id"), "unknown")
        rows.append(
            {
                "service": _text(d.get("service"), "-"),
                "version": _text(d.get("version"), "-"),
                "rollout": rid + (" (suspect)" if suspect_id and rid == suspect_id else ""),
                "finished": _when(d.get("finished_at"), "still rolling out"),
                "outcome": _text(d.get("outcome"), "-"),
                "strategy": _text(d.get("strategy"), "-"),
            }
        )
    return rows


def _commit_rows(commits: Iterable[Any]) -> list[dict[str, str]]:
    rows = []
    for c in commits:
        c = _map(c)
        subject = _text(c.get("subject"), "") or _text(
            (str(c.get("message") or "").strip().splitlines() or [""])[0], "-"
        )
        pr = c.get("pr_number")
        files = _strings(c.get("files"))
        rows.append(
            {
                "sha": _text(c.get("sha"), "unknown")[:12],
                "author": _text(c.get("author"), "-"),
                "date": _when(c.get("date"), "-"),
                "subject": subject + (f" (PR #{pr})" if pr is not None else ""),
                "files": ", ".join(files) or "-",
            }
        )
    return rows


def _bisect_view(data: Mapping[str, Any]) -> dict[str, Any] | None:
    b = _map(data.get("bisect"))
    if not b:
        return None
    c = _map(b.get("commit"))
    files = _strings(c.get("files"))
    message = str(c.get("message") or c.get("subject") or "").strip()
    log = str(b.get("log") or "").rstrip()
    email = _text(c.get("email"), "")
    tested = b.get("tested")
    return {
        "good": _text(b.get("good"), "not recorded"),
        "bad": _text(b.get("bad"), "not recorded"),
        "found": bool(c),
        "sha": _text(c.get("sha"), "not identified"),
        "author": _text(c.get("author"), "unknown") + (f" <{email}>" if email else ""),
        "date": _when(c.get("date")),
        "subject": _text(c.get("subject"), "")
        or _text(message.splitlines()[0] if message else "", "-"),
        "message": message or "(no message)",
        "message_fence": _fence(message),
        "files": files,
        "file_count": len(files),
        "tested": _text(tested, "not recorded") if tested is not None else "not recorded",
        "log": log,
        "log_fence": _fence(log),
        "at": _when(b.get("at")),
        "scope": "HIGH" if len(files) > 20 else "MEDIUM" if len(files) > 5 else "LOW",
    }


def _feasibility_view(f: Mapping[str, Any]) -> dict[str, Any] | None:
    if not f:
        return None
    factors = set(_strings(f.get("factors")))
    level = _text(f.get("level"), "not assessed")
    risk = {"SAFE": "LOW", "RISKY": "MEDIUM", "BLOCKED": "HIGH"}.get(level, "unknown")
    return {
        "level": level,
        "risk": risk,
        "data_loss": _text(f.get("data_loss"), "not assessed"),
        "reasons": _strings(f.get("reasons")),
        "factors": [
            {"label": label, "checked": "x" if key in factors else " "}
            for key, label in _RISK_FACTORS
        ],
    }


def _blast_view(b: Mapping[str, Any]) -> dict[str, Any] | None:
    if not b:
        return None
    pct = b.get("users_percent")
    users = b.get("users_affected")
    total = b.get("users_total")
    if users is not None and isinstance(pct, int | float) and not isinstance(pct, bool):
        user_text = f"{users} of {total} ({float(pct):.1f}%)"
    elif users is not None:
        user_text = f"{users} (total unknown)"
    else:
        user_text = "UNKNOWN"
    return {
        "components": ", ".join(_strings(b.get("components"))) or "none identified",
        "services": ", ".join(_strings(b.get("services"))) or "none identified",
        "dependencies": ", ".join(_strings(b.get("dependencies"))) or "none known",
        "users": user_text,
        "regions": ", ".join(_strings(b.get("regions"))) or "UNKNOWN",
        "score": _text(b.get("score"), "not scored (no data)"),
        "reasons": _strings(b.get("reasons")),
        "unknown": ", ".join(_strings(b.get("unknown"))),
    }


def _action_view(a: Mapping[str, Any]) -> dict[str, Any] | None:
    if not a:
        return None
    urgency = _text(a.get("urgency"), "")
    return {
        "type": _text(a.get("type"), "not decided"),
        "urgency": _URGENCY.get(urgency, urgency or "not decided"),
        "recommendation": _text(a.get("recommendation"), "none"),
        "rationale": _strings(a.get("rationale")),
    }


def _regression_view(inc: Incident, data: Mapping[str, Any]) -> dict[str, Any] | None:
    triage = _map(data.get("triage"))
    if not triage:
        return None
    v = _map(triage.get("verdict"))
    indicators = _map(v.get("indicators"))
    suspect = _map(v.get("suspect"))
    suspect_id = _text(suspect.get("rollout_id"), "")
    lag = _duration(v.get("lag"))
    if suspect and lag is not None:
        onset = (
            "the symptoms began during its rollout"
            if lag == timedelta(0)
            else f"the symptoms began {_span(lag)} after it finished"
        )
    else:
        onset = ""
    ind_rows = []
    for key, label in _INDICATORS:
        value = indicators.get(key)
        ind_rows.append(
            {
                "label": label,
                "checked": "x" if value is True else " ",
                "note": " (no data)" if value is None else "",
            }
        )
    verdict = _text(v.get("verdict"), "not assessed")
    confidence = _text(v.get("confidence"), "")
    regressions = [
        {
            "id": _text(e.get("regression_id")),
            "path": register.register_path(str(e.get("regression_id"))),
        }
        for e in (_map(x) for x in _seq(data.get("regressions")))
        if e.get("regression_id")
    ]
    return {
        "verdict": verdict,
        "confidence": _CONFIDENCE.get(confidence, confidence or "not assessed"),
        "is_regression": verdict in ("CONFIRMED", "LIKELY"),
        "indicator_count": sum(1 for key, _ in _INDICATORS if indicators.get(key) is True),
        "indicators": ind_rows,
        "evidence": _strings(v.get("evidence")),
        "next_step": _text(v.get("next_step"), "none recorded"),
        "suspect": _deployment_label(suspect) if suspect else "",
        "suspect_rollout": suspect_id,
        "onset": onset,
        "deployments": _deployment_rows(triage, suspect_id),
        "correlated": _commit_rows(_seq(v.get("commits"))),
        "commits": _commit_rows(_seq(triage.get("commits"))),
        "bisect": _bisect_view(data),
        "feasibility": _feasibility_view(_map(triage.get("feasibility"))),
        "blast": _blast_view(_map(triage.get("blast_radius"))),
        "action": _action_view(_map(triage.get("action"))),
        "at": _when(triage.get("at")),
        "regressions": regressions,
        "linked_rollout": inc.rollout_id or "",
    }


def _mitigation_view(inc: Incident, data: Mapping[str, Any]) -> dict[str, Any] | None:
    m = _map(data.get("mitigation"))
    if not m:
        return None
    validated = m.get("validated") is True
    if validated and inc.status in _DONE:
        status = "RESOLVED"
    elif validated:
        status = "PARTIALLY RESOLVED (impact stopped; monitoring before resolving)"
    else:
        status = "NOT RESOLVED: the mitigation did not validate"
    action = _map(_map(data.get("triage")).get("action"))
    start = inc.milestones.started or inc.detected
    mitigated = inc.milestones.mitigated
    return {
        "action": _text(m.get("action"), "not recorded"),
        "rollout": _text(m.get("rollout_id"), "none"),
        "outcome": _text(m.get("outcome"), "not recorded"),
        "validated": _yes_no(validated),
        "checks": _strings(m.get("checks")),
        "at": _when(m.get("at")),
        "by": _text(m.get("by"), "not recorded"),
        "status": status,
        "recommended": (
            f"{_text(action.get('type'))}: {_text(action.get('recommendation'))}"
            if action
            else "no recommendation recorded"
        ),
        "summary": _mitigation_line(data),
        "mitigated": _when(mitigated, "not recorded yet"),
        "resolved": _when(inc.milestones.resolved, "not resolved yet"),
        "time_to_mitigate": (
            _span(mitigated - start) if mitigated is not None else "not measurable yet"
        ),
        "since": "the start of impact" if inc.milestones.started else "detection",
    }


def _whys(raw: object) -> list[tuple[str, str]]:
    pairs = []
    for item in _seq(raw):
        if isinstance(item, Mapping):
            pairs.append((_text(item.get("why"), ""), _text(item.get("answer"), "")))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((_text(item[0], ""), _text(item[1], "")))
        elif isinstance(item, str):
            pairs.append(("", _text(item, "")))
    return pairs


def _rca_problems(five: Mapping[str, Any], fish: Mapping[str, Any]) -> list[str]:
    """What the rca module finds wrong with the stored analysis (validate, cross_check)."""
    problems: list[str] = []
    whys = None
    if five:
        whys = rca_mod.FiveWhys(
            problem=_text(five.get("problem"), ""),
            whys=tuple(rca_mod.Why(w, a) for w, a in _whys(five.get("whys"))),
            root_cause=_text(five.get("root_cause"), ""),
            validation=_text(five.get("validation"), ""),
        )
        problems += [f"5 Whys {p}" for p in whys.validate()]
    if fish:
        causes = []
        for c in _seq(fish.get("causes")):
            c = _map(c)
            try:
                category = rca_mod.Category(str(c.get("category")))
            except ValueError:
                continue
            causes.append(
                rca_mod.Cause(category, _text(c.get("text"), ""), c.get("primary") is True)
            )
        bone = rca_mod.Fishbone(_text(fish.get("problem"), ""), tuple(causes))
        problems += [f"fishbone {p}" for p in bone.validate()]
        if whys is not None:
            problems += list(rca_mod.cross_check(whys, bone))
    return problems


def _rca_view(data: Mapping[str, Any]) -> dict[str, Any] | None:
    rca = _map(data.get("rca"))
    if not rca:
        return None
    five = _map(rca.get("five_whys"))
    fish = _map(rca.get("fishbone"))
    categories = []
    primary = ""
    contributing = []
    for name in _FISHBONE:
        causes = []
        for c in _seq(fish.get("causes")):
            c = _map(c)
            if c.get("category") != name:
                continue
            text = _text(c.get("text"), "")
            if c.get("primary") is True:
                primary = text
                causes.append(f"{text} (primary)")
            else:
                causes.append(text)
                contributing.append(f"{name}: {text}")
        categories.append({"name": name.capitalize(), "causes": causes})
    whys = [
        {"why": w or "Why?", "answer": a or "no answer recorded"}
        for w, a in _whys(five.get("whys"))
    ]
    return {
        "root_cause": _root_cause(data) or "not recorded yet",
        "five": (
            {
                "problem": _text(five.get("problem")),
                "whys": whys,
                "root_cause": _text(five.get("root_cause")),
                "validation": _text(five.get("validation")),
            }
            if five
            else None
        ),
        "fishbone": (
            {
                "problem": _text(fish.get("problem")),
                "categories": categories,
                "primary": primary or "none marked",
                "contributing": contributing,
            }
            if fish
            else None
        ),
        "problems": _rca_problems(five, fish),
        "at": _when(rca.get("at")),
    }


def _action_rows(data: Mapping[str, Any], as_of: datetime) -> list[dict[str, str]]:
    rows = []
    for a in _seq(data.get("preventive_actions")):
        a = _map(a)
        due = _at(a.get("due"))
        done = _at(a.get("done_at"))
        status = _text(a.get("status"), "open")
        if status == "done":
            shown = f"done {fmt_time(done)}" if done else "done"
            overdue = "no" if done is None or due is None or done <= due else "done late"
        elif status == "not_doing":
            shown, overdue = "not doing", "no"
        else:
            shown = "open"
            overdue = "OVERDUE" if due is not None and as_of > due else "no"
        rows.append(
            {
                "id": _text(a.get("id"), "-"),
                "title": _text(a.get("title"), "-"),
                "owner": _text(a.get("owner"), "unassigned"),
                "horizon": _text(a.get("horizon"), "-"),
                "due": _when(due, "no due date"),
                "status": shown,
                "overdue": overdue,
            }
        )
    return sorted(rows, key=lambda r: (r["due"], r["id"]))


def _action_groups(rows: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    known = {h for h, _ in _HORIZONS}
    groups = [
        {"title": title, "rows": [r for r in rows if r["horizon"] == horizon]}
        for horizon, title in _HORIZONS
    ]
    other = [r for r in rows if r["horizon"] not in known]
    if other:
        groups.append({"title": "Other Actions", "rows": other})
    return groups


def _delivery_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "channel": _text(d.get("channel"), "-"),
            "kind": _text(d.get("kind"), "-"),
            "status": _text(d.get("status"), "pending"),
            "attempts": _text(d.get("attempts"), "0"),
            "last_result": _text(d.get("last_result"), "-"),
            "delivered_at": _when(d.get("delivered_at"), "not delivered yet"),
        }
        for d in _deliveries(data)
    ]


# -- the post-incident review ---------------------------------------------------------------------


def _metric_rows(inc: Incident) -> list[dict[str, str]]:
    d = metrics.durations(inc.milestones)
    stamps = dict(inc.milestones.items())
    rows = []
    for metric, (name, what, end) in _METRIC_LABELS.items():
        value = getattr(d, metric.value)
        if value is not None:
            shown = _span(value)
        else:
            missing = [n for n in ("started", end) if stamps.get(n) is None]
            shown = f"not measurable: {' and '.join(missing)} not recorded"
        rows.append({"name": name, "what": what, "end": end, "value": shown})
    return rows


def _assessment(
    inc: Incident, data: Mapping[str, Any], as_of: datetime
) -> tuple[list[str], list[str]]:
    """What went well and what could improve, from the recorded data."""
    well: list[str] = []
    improve: list[str] = []
    m = inc.milestones
    sla = SLAS[inc.priority]
    prio = inc.priority.value
    mttd = metrics.measure(m, metrics.Metric.MTTD)
    if mttd is None:
        improve.append("the start of impact was not recorded, so detection time cannot be measured")
    elif mttd <= _DETECTION_TARGET:
        well.append(f"detected {_span(mttd)} after the impact began (target: within 5 min)")
    else:
        improve.append(
            f"detection took {_span(mttd)} after the impact began (target: within 5 min)"
        )
    for label, target, stamp in (
        ("acknowledged", sla.acknowledge, m.acknowledged),
        ("engaged", sla.engage, m.engaged),
        ("resolved", sla.resolve, m.resolved),
    ):
        if target is None:
            continue
        if stamp is None:
            if label != "resolved":
                improve.append(f"the {label} milestone was not recorded")
            continue
        took = stamp - inc.detected
        if took <= target:
            well.append(
                f"{label} {_span(took)} after detection, within the {prio} target of {_sla_span(target)}"
            )
        else:
            improve.append(
                f"{label} {_span(took)} after detection, {_span(took - target)} over the "
                f"{prio} target of {_sla_span(target)}"
            )
    if inc.priority in _REVIEWED:
        commander = inc.roles.get(Role.INCIDENT_COMMANDER)
        if commander:
            well.append(f"an incident commander was assigned ({commander})")
        else:
            improve.append(f"no incident commander was assigned (required for {prio})")
    verdict = _verdict(data)
    suspect = _map(verdict.get("suspect"))
    if _is_regression(data) and suspect:
        well.append(
            f"regression triage linked the incident to {_deployment_label(suspect)} "
            f"(verdict {verdict.get('verdict')})"
        )
    bisect = _map(data.get("bisect"))
    sha = _text(_map(bisect.get("commit")).get("sha"), "")
    if sha:
        tested = bisect.get("tested")
        steps = f" after testing {tested} revision(s)" if tested is not None else ""
        well.append(f"bisect identified the introducing commit {sha[:12]}{steps}")
    mitigation = _map(data.get("mitigation"))
    if mitigation:
        line = _mitigation_line(data)
        (well if mitigation.get("validated") is True else improve).append(line)
    if not _root_cause(data):
        improve.append("the root cause is not recorded yet")
    if not _seq(data.get("preventive_actions")):
        improve.append("no preventive action is recorded yet")
    deliveries = _deliveries(data)
    pending = [d for d in deliveries if d.get("status") != "sent"]
    if deliveries and not pending:
        well.append(f"all {len(deliveries)} notification(s) were delivered")
    elif pending:
        improve.append(f"{len(pending)} of {len(deliveries)} notification(s) were not delivered")
    if not well:
        well.append("nothing recorded yet")
    return well, improve


def _pir_due_view(inc: Incident, as_of: datetime) -> dict[str, str]:
    prio = inc.priority.value
    resolved = inc.milestones.resolved
    if resolved is None:
        return {
            "due": "once the incident is resolved",
            "state": "not due yet: the incident is open",
        }
    due = rca_mod.pir_due(prio, resolved)
    if due is None:
        return {"due": f"no review required for {prio}", "state": "not required"}
    window = _pir_window(inc.priority)
    assert window is not None
    when = f"{fmt_time(due)} ({_span(window)} after resolution)"
    if not rca_mod.pir_required(prio):
        return {"due": when, "state": f"optional for {prio}, never late"}
    held = inc.milestones.closed
    late = rca_mod.pir_late(prio, resolved, as_of, held_at=held)
    if held is not None:
        state = f"held by {fmt_time(held)} (incident closed): " + ("LATE" if late else "on time")
    elif late:
        state = f"LATE: not held by its due time (as of {fmt_time(as_of)})"
    else:
        state = f"not held yet; not late as of {fmt_time(as_of)}"
    return {"due": when, "state": state}


def _lessons(rca: Mapping[str, Any] | None) -> dict[str, list[str]]:
    lessons: dict[str, list[str]] = {"technical": [], "process": []}
    if rca is None or rca["fishbone"] is None:
        return lessons
    for category in rca["fishbone"]["categories"]:
        key = "technical" if category["name"] in ("Technology", "Environment") else "process"
        lessons[key] += [f"{category['name'].lower()}: {c}" for c in category["causes"]]
    return lessons


def _register_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    for raw in _seq(data.get("regressions")):
        e = _map(raw)
        if not e.get("regression_id"):
            continue
        change = _map(e.get("introduced_change"))
        af = _map(e.get("affected_functionality"))
        gap = _map(e.get("detection_gap"))
        pr = change.get("pr_number")
        hours = gap.get("detection_time")
        minutes = e.get("mitigation_time")
        rows.append(
            {
                "id": _text(e.get("regression_id")),
                "path": register.register_path(str(e.get("regression_id"))),
                "commit": _text(change.get("commit_sha"), "not identified")
                + (f", PR #{pr}" if pr is not None else ""),
                "author": _text(change.get("author"), "not recorded"),
                "category": _text(e.get("regression_category")),
                "component": _text(af.get("component")),
                "feature": _text(af.get("feature")),
                "user_facing": _text(af.get("user_facing"), "YES"),
                "escaped": _text(gap.get("escaped_testing")),
                "detection_time": f"{hours:g} h after deployment"
                if isinstance(hours, int | float)
                else "not recorded yet",
                "reason": _text(gap.get("reason")),
                "mitigation": _text(e.get("mitigation_action")),
                "mitigation_time": f"{minutes:g} min after detection"
                if isinstance(minutes, int | float)
                else "not recorded yet",
                "actions": ", ".join(_strings(e.get("preventive_actions"))) or "none recorded yet",
                "status": _text(e.get("status"), "OPEN"),
            }
        )
    return rows


def _pir_view(
    inc: Incident, data: Mapping[str, Any], r: Mapping[str, Any], as_of: datetime
) -> dict[str, Any]:
    m = inc.milestones
    start = m.started or inc.detected
    end = m.mitigated or m.resolved
    downtime = (
        f"{_span(end - start)} {'complete outage' if inc.outage else 'degraded service'}"
        f" (from {'the start of impact' if m.started else 'detection'} to "
        f"{'mitigation' if m.mitigated else 'resolution'})"
        if end is not None
        else "still ongoing"
    )
    if m.resolved is not None:
        duration = f"{_span(m.resolved - inc.detected)} (detection to resolution)"
        resolved = (
            f"It was resolved at {fmt_time(m.resolved)}, {_span(m.resolved - inc.detected)} "
            "after detection."
        )
    else:
        duration = "still open"
        resolved = "It is not resolved yet."
    mttd = metrics.measure(m, metrics.Metric.MTTD)
    detected = (
        f"It was detected at {fmt_time(inc.detected)} by {r['reporter']} "
        f"({inc.detection_method.value})"
        + (f", {_span(mttd)} after the impact began." if mttd is not None else ".")
    )
    summary = [
        f"On {r['date']}, {inc.service} had a {inc.priority} incident: {r['title']}"
        + (f" ({r['symptoms']})" if r["symptoms"] != r["title"] else "")
        + ".",
        detected,
        resolved,
    ]
    well, improve = _assessment(inc, data, as_of)
    resolve_result = _sla_result(inc, "Resolve", as_of)
    if resolve_result.startswith("missed"):
        breach = f"YES: resolution target {resolve_result}"
    elif resolve_result == "met":
        breach = "NO: resolved within the target"
    elif resolve_result == "n/a":
        breach = f"n/a (no resolution target for {inc.priority})"
    else:
        breach = "not known yet (not resolved, target not passed)"
    verdict = _verdict(data)
    regression = None
    if data.get("triage"):
        bisect = _map(data.get("bisect"))
        sha = _text(_map(bisect.get("commit")).get("sha"), "")
        suspect = _map(verdict.get("suspect"))
        registered = _register_rows(data)
        if sha:
            change = f"commit {sha[:12]}"
        elif registered:
            change = f"commit {registered[0]['commit']}"
        elif suspect:
            change = _deployment_label(suspect)
        else:
            change = "not identified"
        regression = {
            "detected": _yes_no(_is_regression(data)),
            "verdict": _text(verdict.get("verdict"), "not assessed"),
            "change": change,
            "category": ", ".join(r2["category"] for r2 in registered) or "not registered",
            "gap": "; ".join(r2["reason"] for r2 in registered) or "not recorded yet",
            "entries": registered,
        }
    return {
        "duration": duration,
        "downtime": downtime,
        "summary": summary,
        "well": well,
        "improve": improve,
        "metrics": _metric_rows(inc),
        "breach": breach,
        "regression": regression,
        "due": _pir_due_view(inc, as_of),
        "compliance": r["business_impact"],
    }


# -- writing ----------------------------------------------------------------------------------------


def _communication_kinds(inc: Incident, data: Mapping[str, Any]) -> list[str]:
    """The messages filed under communications/: those sent or delivered, plus those the
    state calls for (the initial alert; the status page for P0/P1; management and
    executive notifications once their escalation fired; the resolution once resolved)."""
    sent = {str(e.data.get("kind")) for e in inc.timeline if e.kind is TimelineKind.MESSAGE}
    delivered = {str(d.get("kind")) for d in _deliveries(data)}
    fired = _fired_targets(inc)
    applies = {
        "initial-alert": True,
        "status-page-update": inc.priority in _REVIEWED,
        "management-notification": "management" in fired,
        "executive-notification": "executive" in fired,
        "legal-notification": bool({"legal", "compliance"} & fired),
        "resolution-notification": inc.status in _DONE,
    }
    return [k for k in COMMUNICATION_KINDS if applies[k] or k in sent or k in delivered]


def write_incident_reports(
    data: Mapping[str, Any],
    root: Path,
    *,
    pir: bool = False,
    as_of: datetime | None = None,
) -> list[Path]:
    """Render one incident's documents under ``root/incidents/{id}/`` (root is the `.aiwg`
    directory) and return the paths written, in writing order.

    The post-incident review is written for P0/P1 incidents once resolved or closed, and
    for any incident when `pir` is true. `as_of` is the "now" for overdue and SLA
    judgements; by default the latest time recorded in the data (so the same data always
    renders the same bytes)."""
    inc = _incident(data)
    now = _at(as_of) if as_of is not None else _as_of(inc, data)
    assert now is not None
    env = _environment()
    base = root / INCIDENTS_DIR / inc.id
    r = _record(inc, data, now)
    files = {
        name: f".aiwg/{INCIDENTS_DIR}/{inc.id}/{name}.md"
        for name in (
            "incident-record",
            "timeline",
            "triage-assessment",
            "regression-analysis",
            "mitigation-report",
            "root-cause-analysis",
            "post-incident-review",
            "preventive-actions",
        )
    }
    regression = _regression_view(inc, data)
    mitigation = _mitigation_view(inc, data)
    rca = _rca_view(data)
    actions = _action_rows(data, now)
    deliveries = _delivery_rows(data)
    context: dict[str, Any] = {
        "r": r,
        "files": files,
        "regression": regression,
        "mitigation": mitigation,
        "rca": rca,
        "actions": actions,
        "action_groups": _action_groups(actions),
        "deliveries": deliveries,
    }
    documents: list[tuple[str, str, dict[str, Any]]] = [
        ("incident-record.md", "incident-record", {}),
        ("timeline.md", "timeline", {}),
        ("triage-assessment.md", "triage-assessment", {"t": _triage_view(inc, data, r)}),
    ]
    if regression is not None:
        documents.append(("regression-analysis.md", "regression-analysis", {}))
    if mitigation is not None:
        documents.append(("mitigation-report.md", "mitigation-report", {}))
    if rca is not None:
        documents.append(("root-cause-analysis.md", "root-cause-analysis", {}))
    if pir or (inc.priority in _REVIEWED and inc.status in _DONE):
        view = _pir_view(inc, data, r, now)
        view["lessons"] = _lessons(rca)
        documents.append(("post-incident-review.md", "post-incident-review", {"p": view}))
    if actions:
        documents.append(("preventive-actions.md", "preventive-actions", {}))
    rendered = [
        (base / name, render(env, f"incidents/{template}.md.j2", **context, **extra))
        for name, template, extra in documents
    ]
    for kind in _communication_kinds(inc, data):
        subject, view = _message_view(kind, inc, data, _sent_at(kind, inc))
        body = render(env, f"incidents/message-{kind}.md.j2", m=view)
        text = render(env, "incidents/communication.md.j2", subject=subject, body=body)
        rendered.append((base / "communications" / f"{kind}.md", text))
    if deliveries:
        rendered.append(
            (
                base / "communications" / "deliveries.md",
                render(env, "incidents/deliveries.md.j2", **context),
            )
        )
    for path, text in rendered:
        _write(path, text)
    return [path for path, _ in rendered]


def _pattern_rows(counts: Counter[str], flag_at: int | None = None) -> list[dict[str, str]]:
    return [
        {
            "label": name,
            "count": str(n),
            "note": "high-risk" if flag_at is not None and n >= flag_at else "-",
        }
        for name, n in sorted(counts.items(), key=lambda p: (-p[1], p[0]))
    ]


def write_regression_register(entries: Sequence[Mapping[str, Any]], root: Path) -> list[Path]:
    """Write each entry to ``root/regression/register/{regression-id}.yaml`` (the
    handbook's field order) and the summary table with pattern counts to
    ``root/regression/regression-register-summary.md``. Entries are
    RegressionEntry.to_data() mappings; an invalid one raises InputError naming it. A
    regression id given twice keeps the last. Returns the YAML paths (by id), then the
    summary."""
    parsed: dict[str, register.RegressionEntry] = {}
    for raw in entries:
        rid = str(raw.get("regression_id") or "(no regression_id)")
        entry = register.RegressionEntry.from_data(raw, register.register_path(rid))
        parsed[entry.regression_id] = entry
    ordered = [parsed[k] for k in sorted(parsed)]
    written: list[Path] = []
    for entry in ordered:
        text = yaml.safe_dump(
            entry.to_data(), sort_keys=False, allow_unicode=True, default_flow_style=False
        )
        path = root / REGISTER_DIR / f"{entry.regression_id}.yaml"
        _write(path, text)
        written.append(path)
    view = {
        "header": list(register.SUMMARY_HEADER),
        "rows": [register.summary_row(e) for e in ordered],
        "components": _pattern_rows(
            Counter(e.affected_functionality.component for e in ordered), _HIGH_RISK_AT
        ),
        "categories": _pattern_rows(Counter(e.regression_category.value for e in ordered)),
        "statuses": _pattern_rows(Counter(e.status.value for e in ordered)),
        "escaped": _pattern_rows(
            Counter(
                e.detection_gap.escaped_testing.value
                for e in ordered
                if e.detection_gap.escaped_testing is not None
            )
        ),
        "high_risk_at": _HIGH_RISK_AT,
        "count": len(ordered),
    }
    summary = root / REGISTER_SUMMARY
    _write(summary, render(_environment(), "incidents/regression-register-summary.md.j2", v=view))
    written.append(summary)
    return written
