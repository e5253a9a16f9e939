"""Incident <-> JSON-able data, for the store (and the reports, which read the data).

`to_data` and `from_data` are exact inverses: `from_data(to_data(i)) == i`. The data also
carries `version`, a counter the engine bumps on every save so that two writers never
overwrite each other (Store.save_incident(expect_version=...)).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watchstander.incident.models import (
    Category,
    DetectionMethod,
    Impact,
    Incident,
    IncidentStatus,
    Milestones,
    Priority,
    Role,
    TimelineEntry,
    TimelineKind,
    Urgency,
    Value,
)

__all__ = ["to_data", "from_data", "KEYS"]


# The keys to_data writes; anything else in a stored record belongs to the engine.
KEYS = frozenset(
    {
        "version",
        "id",
        "title",
        "service",
        "impact",
        "urgency",
        "priority",
        "status",
        "milestones",
        "category",
        "detection_method",
        "reporter",
        "description",
        "users_affected_pct",
        "outage",
        "data_loss",
        "security_breach",
        "roles",
        "timeline",
        "dedup_keys",
        "rollout_id",
        "escalations_fired",
    }
)


def _at(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def to_data(incident: Incident, *, version: int = 0) -> dict[str, Any]:
    return {
        "version": version,
        "id": incident.id,
        "title": incident.title,
        "service": incident.service,
        "impact": incident.impact.value,
        "urgency": incident.urgency.value,
        "priority": incident.priority.value,
        "status": incident.status.value,
        "milestones": {name: _at(at) for name, at in incident.milestones.items()},
        "category": incident.category.value,
        "detection_method": incident.detection_method.value,
        "reporter": incident.reporter,
        "description": incident.description,
        "users_affected_pct": incident.users_affected_pct,
        "outage": incident.outage,
        "data_loss": incident.data_loss,
        "security_breach": incident.security_breach,
        "roles": {role.value: person for role, person in sorted(incident.roles.items())},
        "timeline": [
            {
                "at": _at(e.at),
                "kind": e.kind.value,
                "actor": e.actor,
                "summary": e.summary,
                "data": dict(e.data),
            }
            for e in incident.timeline
        ],
        "dedup_keys": sorted(incident.dedup_keys),
        "rollout_id": incident.rollout_id,
        "escalations_fired": {k: _at(v) for k, v in sorted(incident.escalations_fired.items())},
    }


def _value_map(data: Mapping[str, Any]) -> dict[str, Value]:
    return {str(k): v for k, v in data.items()}


def from_data(data: Mapping[str, Any]) -> Incident:
    milestones = {name: _parse(at) for name, at in dict(data["milestones"]).items()}
    fired = {str(k): _parse(v) for k, v in dict(data.get("escalations_fired", {})).items()}
    return Incident(
        id=str(data["id"]),
        title=str(data["title"]),
        service=str(data["service"]),
        impact=Impact(data["impact"]),
        urgency=Urgency(data["urgency"]),
        priority=Priority(data["priority"]),
        status=IncidentStatus(data["status"]),
        milestones=Milestones(**milestones),
        category=Category(data["category"]),
        detection_method=DetectionMethod(data["detection_method"]),
        reporter=str(data.get("reporter", "")),
        description=str(data.get("description", "")),
        users_affected_pct=data.get("users_affected_pct"),
        outage=bool(data.get("outage", False)),
        data_loss=bool(data.get("data_loss", False)),
        security_breach=bool(data.get("security_breach", False)),
        roles={Role(k): str(v) for k, v in dict(data.get("roles", {})).items()},
        timeline=tuple(
            TimelineEntry(
                at=datetime.fromisoformat(str(e["at"])),
                kind=TimelineKind(e["kind"]),
                actor=str(e["actor"]),
                summary=str(e["summary"]),
                data=_value_map(e.get("data", {})),
            )
            for e in data.get("timeline", [])
        ),
        dedup_keys=frozenset(str(k) for k in data.get("dedup_keys", [])),
        rollout_id=data.get("rollout_id"),
        escalations_fired={k: v for k, v in fired.items() if v is not None},
    )
