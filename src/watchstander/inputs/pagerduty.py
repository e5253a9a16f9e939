"""PagerDuty Events API v2 bodies, as sent to `POST /v2/enqueue`, and PagerDuty's dedup rules.

    {"routing_key": "...", "event_action": "trigger", "dedup_key": "...",
     "payload": {"summary": "...", "source": "...", "severity": "critical",
                 "timestamp": "...", "component": "...", "group": "...", "class": "...",
                 "custom_details": {...}},
     "images": [{"src": "..."}], "links": [{"href": "..."}], "client": "...", "client_url": "..."}

Checked like PagerDuty does: a body of at most 512 KB; a non-empty routing_key;
event_action trigger, acknowledge or resolve; dedup_key a non-empty string of at most 255
characters, required for acknowledge and resolve; for trigger a payload with a summary
(1-1024 characters), a source and a severity (critical, error, warning or info), and
optional timestamp (ISO 8601; without an offset it reads as UTC), component, group, class
(strings) and custom_details (any JSON). Payloads of acknowledge and resolve events are
ignored, as PagerDuty ignores them. images need a `src`, links an `href`. Every problem
raises InputError `source: field: problem`.

PagerDutyDedup applies PagerDuty's alert deduplication to a state map (see its docs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from watchstander.inputs.alertmanager import JsonFields
from watchstander.inputs.jsonshape import kind

__all__ = [
    "EventAction",
    "PagerDutyPayload",
    "PagerDutyEvent",
    "parse_pagerduty_event",
    "PagerDutyDedup",
    "DedupState",
    "DedupOutcome",
    "severity_hint",
    "MAX_BODY_BYTES",
]

EventAction = Literal["trigger", "acknowledge", "resolve"]
PagerDutySeverity = Literal["critical", "error", "warning", "info"]
DedupState = Literal["triggered", "acknowledged", "resolved"]
DedupOutcome = Literal["opened", "duplicate", "acknowledged", "resolved", "dropped"]

ACTIONS: tuple[EventAction, ...] = ("trigger", "acknowledge", "resolve")
SEVERITIES: tuple[PagerDutySeverity, ...] = ("critical", "error", "warning", "info")
PRIORITY = {"critical": "P0", "error": "P1", "warning": "P2", "info": "P3"}
MAX_BODY_BYTES = 512 * 1024
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


@dataclass(frozen=True)
class PagerDutyPayload:
    summary: str
    source: str
    severity: PagerDutySeverity
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = None
    """The payload's `class`."""
    custom_details: Any = field(default=None, hash=False)


@dataclass(frozen=True)
class PagerDutyEvent:
    routing_key: str = field(repr=False)
    event_action: EventAction
    dedup_key: str | None
    payload: PagerDutyPayload | None
    """Set for trigger events, None for acknowledge and resolve."""
    images: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    links: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    client: str | None = None
    client_url: str | None = None


def parse_pagerduty_event(data: bytes | str, source: str) -> PagerDutyEvent:
    """Read one Events v2 body. Raises InputError naming `source` and the field."""
    fields = JsonFields(source)
    size = len(data if isinstance(data, bytes) else data.encode())
    if size > MAX_BODY_BYTES:
        raise fields.fail("", f"{size} bytes, over the 512 KB PagerDuty accepts")
    document = fields.obj(fields.load(data), "", what="the event")

    routing_key = fields.string(document.get("routing_key"), "routing_key", required=True)
    if not routing_key.strip():
        raise fields.fail("routing_key", "must not be empty")
    action = document.get("event_action")
    if action is None:
        raise fields.fail("event_action", "missing; expected trigger, acknowledge or resolve")
    if action not in ACTIONS:
        raise fields.fail("event_action", f"{action!r} is not one of {', '.join(ACTIONS)}")
    event_action = cast(EventAction, action)

    dedup_key: str | None = None
    if document.get("dedup_key") is not None:
        dedup_key = fields.string(document["dedup_key"], "dedup_key", max_length=MAX_DEDUP_KEY)
        if not dedup_key:
            raise fields.fail("dedup_key", "must not be empty")
    elif event_action != "trigger":
        raise fields.fail("dedup_key", f"missing; {event_action} needs the alert's dedup_key")

    payload = None
    if event_action == "trigger":
        if document.get("payload") is None:
            raise fields.fail("payload", "missing; a trigger needs summary, source and severity")
        payload = _payload(fields, fields.obj(document["payload"], "payload"))

    return PagerDutyEvent(
        routing_key=routing_key,
        event_action=event_action,
        dedup_key=dedup_key,
        payload=payload,
        images=_references(fields, document.get("images"), "images", "src"),
        links=_references(fields, document.get("links"), "links", "href"),
        client=fields.string(document.get("client"), "client") or None,
        client_url=fields.string(document.get("client_url"), "client_url") or None,
    )


def _payload(fields: JsonFields, raw: dict[str, Any]) -> PagerDutyPayload:
    summary = fields.string(
        raw.get("summary"), "payload.summary", required=True, max_length=MAX_SUMMARY
    )
    if not summary.strip():
        raise fields.fail("payload.summary", "must not be empty")
    origin = fields.string(raw.get("source"), "payload.source", required=True)
    if not origin.strip():
        raise fields.fail("payload.source", "must not be empty")
    severity = raw.get("severity")
    if severity is None:
        raise fields.fail("payload.severity", f"missing; expected one of {', '.join(SEVERITIES)}")
    if severity not in SEVERITIES:
        raise fields.fail("payload.severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
    return PagerDutyPayload(
        summary=summary,
        source=origin,
        severity=cast(PagerDutySeverity, severity),
        timestamp=_timestamp(fields, raw.get("timestamp")),
        component=fields.string(raw.get("component"), "payload.component") or None,
        group=fields.string(raw.get("group"), "payload.group") or None,
        class_=fields.string(raw.get("class"), "payload.class") or None,
        custom_details=raw.get("custom_details"),
    )


def _timestamp(fields: JsonFields, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise fields.fail("payload.timestamp", f"expected an ISO 8601 string, got {kind(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise fields.fail("payload.timestamp", f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _references(
    fields: JsonFields, value: Any, where: str, required: str
) -> tuple[dict[str, Any], ...]:
    items = fields.array(value, where, optional=True)
    found = []
    for i, raw in enumerate(items):
        item = fields.obj(raw, f"{where}[{i}]")
        fields.string(item.get(required), f"{where}[{i}].{required}", required=True)
        found.append(dict(item))
    return tuple(found)


def severity_hint(event: PagerDutyEvent) -> str | None:
    """The priority a trigger's severity suggests: critical P0, error P1, warning P2,
    info P3; None for acknowledge and resolve."""
    return PRIORITY[event.payload.severity] if event.payload is not None else None


class PagerDutyDedup:
    """PagerDuty's alert deduplication as a pure function over a state map
    `{dedup_key: "triggered" | "acknowledged" | "resolved"}`.

    ============  ===================  ======================  ==================
    event         no alert / resolved  triggered               acknowledged
    ============  ===================  ======================  ==================
    trigger       opened (triggered)   duplicate               duplicate
    acknowledge   dropped              acknowledged            duplicate
    resolve       dropped              resolved                resolved
    ============  ===================  ======================  ==================

    So after a resolve, acknowledge and resolve are dropped and a trigger opens a new
    alert under the same key. PagerDuty matches keys only within one routing key: keep one
    state map per routing_key. A trigger without a dedup_key always opens a new alert,
    under the key PagerDuty would make up: pass it as `new_key`.
    """

    @staticmethod
    def apply(
        state: Mapping[str, DedupState], event: PagerDutyEvent, *, new_key: str | None = None
    ) -> tuple[dict[str, DedupState], DedupOutcome]:
        """The state after `event` (a new dict; `state` is not changed) and what happened."""
        after = dict(state)
        key = event.dedup_key
        if key is None:
            if event.event_action != "trigger":
                return after, "dropped"
            if not new_key:
                raise ValueError("a trigger without dedup_key needs new_key for the new alert")
            key = new_key
        current = state.get(key)
        is_open = current in ("triggered", "acknowledged")
        if event.event_action == "trigger":
            if is_open:
                return after, "duplicate"
            after[key] = "triggered"
            return after, "opened"
        if not is_open:
            return after, "dropped"
        if event.event_action == "acknowledge":
            if current == "acknowledged":
                return after, "duplicate"
            after[key] = "acknowledged"
            return after, "acknowledged"
        after[key] = "resolved"
        return after, "resolved"
