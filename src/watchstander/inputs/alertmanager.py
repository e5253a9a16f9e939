"""Prometheus Alertmanager webhook notifications (payload version 4).

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing",
     "receiver": "...", "groupLabels": {...}, "commonLabels": {...},
     "commonAnnotations": {...}, "externalURL": "...",
     "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
                 "startsAt": "<RFC 3339>", "endsAt": "<RFC 3339>",
                 "generatorURL": "...", "fingerprint": "..."}]}

Required: version "4", a non-empty groupKey, status (firing or resolved), receiver, and a
non-empty alerts array whose entries have a status, labels and startsAt. The label and
annotation maps (string to string), externalURL, truncatedAlerts, and each alert's
annotations, endsAt, generatorURL and fingerprint may be missing and read as empty. Times
are RFC 3339 with an offset (Go's nanoseconds are cut to microseconds); Go's zero time
`0001-01-01T00:00:00Z`, which Alertmanager sends for an unset endsAt, reads as None. An
alert without a fingerprint gets one computed from its labels (stable, but not
Alertmanager's). Unknown fields are ignored.

Every malformed piece raises InputError naming the source and the JSON path of the field
(`alertmanager: alerts[1].startsAt: 'yesterday' is not an RFC 3339 time`); invalid JSON
names line and column. `severity_hint` maps the alerts' labels to a priority (below).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from watchstander.errors import InputError
from watchstander.inputs.jsonshape import kind, reject_constant

__all__ = [
    "Alert",
    "AlertGroup",
    "AlertStatus",
    "parse_alertmanager",
    "severity_hint",
    "priority_from_labels",
    "SEVERITY_PRIORITY",
]

AlertStatus = Literal["firing", "resolved"]
_STATUSES = ("firing", "resolved")

SEVERITY_PRIORITY: dict[str, str] = {
    **dict.fromkeys(("critical", "crit", "fatal", "emergency", "emerg", "page", "disaster"), "P0"),
    **dict.fromkeys(("error", "err", "high", "major", "severe", "alert"), "P1"),
    **dict.fromkeys(("warning", "warn", "medium", "moderate", "minor", "average"), "P2"),
    **dict.fromkeys(("info", "informational", "low", "notice", "none", "debug", "ok"), "P3"),
}
"""The `severity` label's values (any case) to priorities. It is the inverse of the
PagerDuty notifier's P0 critical, P1 error, P2 warning, P3 info, widened with the words
Prometheus rule sets commonly use."""

_P_LEVEL = re.compile(r"^p\s*(\d)$")
_SEV_LEVEL = re.compile(r"^sev[\s-]?(\d)$")
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Alert:
    status: AlertStatus
    labels: dict[str, str] = field(hash=False)
    annotations: dict[str, str] = field(hash=False)
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        """The `alertname` label ("" without one)."""
        return self.labels.get("alertname", "")

    @property
    def summary(self) -> str:
        """The `summary` annotation, else `description`, else the alert name."""
        return self.annotations.get("summary") or self.annotations.get("description") or self.name

    @property
    def firing(self) -> bool:
        return self.status == "firing"


@dataclass(frozen=True)
class AlertGroup:
    source: str
    version: str
    group_key: str
    status: AlertStatus
    receiver: str
    group_labels: dict[str, str] = field(hash=False)
    common_labels: dict[str, str] = field(hash=False)
    common_annotations: dict[str, str] = field(hash=False)
    external_url: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int = 0

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.firing)

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if not a.firing)

    @property
    def summary(self) -> str:
        """The common `summary` annotation, else the first alert's summary, else the
        group labels as `k=v, ...`."""
        return (
            self.common_annotations.get("summary")
            or next((a.summary for a in self.alerts if a.summary), "")
            or ", ".join(f"{k}={v}" for k, v in sorted(self.group_labels.items()))
        )


def parse_alertmanager(data: bytes | str, source: str) -> AlertGroup:
    """Read one Alertmanager v4 webhook body. Raises InputError naming `source` and the
    field for anything malformed."""
    fields = JsonFields(source)
    document = fields.obj(fields.load(data), "", what="the webhook body")
    version = document.get("version")
    if version != "4":
        if version is None:
            raise fields.fail("version", 'missing; expected "4"')
        raise fields.fail("version", f'{version!r} is not supported (only "4")')
    group_key = fields.string(document.get("groupKey"), "groupKey", required=True)
    if not group_key:
        raise fields.fail("groupKey", "must not be empty")
    truncated = document.get("truncatedAlerts", 0)
    if truncated is None:
        truncated = 0
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise fields.fail("truncatedAlerts", f"{truncated!r} is not a count")
    raw_alerts = fields.array(document.get("alerts"), "alerts")
    if not raw_alerts:
        raise fields.fail("alerts", "empty; a notification carries at least one alert")
    return AlertGroup(
        source=source,
        version="4",
        group_key=group_key,
        status=fields.status(document.get("status"), "status"),
        receiver=fields.string(document.get("receiver"), "receiver", required=True),
        group_labels=fields.labels(document.get("groupLabels"), "groupLabels"),
        common_labels=fields.labels(document.get("commonLabels"), "commonLabels"),
        common_annotations=fields.labels(document.get("commonAnnotations"), "commonAnnotations"),
        external_url=fields.string(document.get("externalURL"), "externalURL"),
        alerts=tuple(
            _alert(fields, fields.obj(raw, f"alerts[{i}]"), f"alerts[{i}]")
            for i, raw in enumerate(raw_alerts)
        ),
        truncated_alerts=truncated,
    )


def _alert(fields: JsonFields, raw: dict[str, Any], where: str) -> Alert:
    if "labels" not in raw:
        raise fields.fail(f"{where}.labels", "missing")
    labels = fields.labels(raw.get("labels"), f"{where}.labels")
    if "startsAt" not in raw:
        raise fields.fail(f"{where}.startsAt", "missing")
    fingerprint = fields.string(raw.get("fingerprint"), f"{where}.fingerprint")
    return Alert(
        status=fields.status(raw.get("status"), f"{where}.status"),
        labels=labels,
        annotations=fields.labels(raw.get("annotations"), f"{where}.annotations"),
        starts_at=fields.time(raw.get("startsAt"), f"{where}.startsAt"),
        ends_at=fields.time(raw.get("endsAt"), f"{where}.endsAt"),
        generator_url=fields.string(raw.get("generatorURL"), f"{where}.generatorURL"),
        fingerprint=fingerprint or _fingerprint(labels),
    )


def _fingerprint(labels: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def priority_from_labels(labels: Mapping[str, str]) -> str | None:
    """P0..P3 from one label set, like the incident model reads priorities: the `priority`
    label first (P0..P3, any case, P4 and beyond reading as P3; SEV1..SEV4 as P0..P3, with
    SEV0 as P0; or a severity word), else the `severity` label through SEVERITY_PRIORITY.
    None when neither says anything known (bare numbers are ambiguous and ignored)."""
    for key in ("priority", "severity"):
        value = labels.get(key)
        if value is None:
            continue
        word = value.strip().lower()
        if key == "priority":
            if match := _P_LEVEL.match(word):
                return f"P{min(int(match.group(1)), 3)}"
            if match := _SEV_LEVEL.match(word):
                return f"P{min(max(int(match.group(1)) - 1, 0), 3)}"
        if word in SEVERITY_PRIORITY:
            return SEVERITY_PRIORITY[word]
    return None


def severity_hint(group: AlertGroup) -> str | None:
    """The most severe priority any firing alert (every alert, when none fires) or the
    common labels suggest; see priority_from_labels. None when no label says."""
    alerts = group.firing or group.alerts
    hints = [
        hint
        for hint in (priority_from_labels(labels) for labels in _label_sets(group, alerts))
        if hint is not None
    ]
    return min(hints) if hints else None


def _label_sets(group: AlertGroup, alerts: Iterable[Alert]) -> Iterable[Mapping[str, str]]:
    yield group.common_labels
    for alert in alerts:
        yield alert.labels


# -- JSON reading shared by the intake parsers -------------------------------------------------


class JsonFields:
    """Reads a JSON document from `source`, raising InputError `source: path: problem` for
    anything of the wrong shape. Shared by the Alertmanager and PagerDuty parsers."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> InputError:
        return InputError(
            f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}"
        )

    def load(self, data: bytes | str) -> Any:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
                col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
                byte = data[exc.start : exc.start + 1].hex()
                raise InputError(
                    f"{self.source}:{line}:{col}: not UTF-8 text (byte 0x{byte}), not JSON"
                ) from None
        else:
            text = data.removeprefix("\ufeff")
        if not text.strip():
            raise InputError(f"{self.source}: empty, not JSON")
        try:
            return json.loads(text, parse_constant=reject_constant)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.source}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})"
            ) from None
        except RecursionError:
            raise InputError(f"{self.source}: invalid JSON (nested too deeply)") from None

    def obj(
        self, value: Any, where: str, *, optional: bool = False, what: str = ""
    ) -> dict[str, Any]:
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            expected = f"{what} must be a JSON object" if what else "expected an object"
            raise self.fail(where, f"{expected}, got {kind(value)}")
        return value

    def array(self, value: Any, where: str, *, optional: bool = False) -> list[Any]:
        if value is None:
            if optional:
                return []
            raise self.fail(where, "missing")
        if not isinstance(value, list):
            raise self.fail(where, f"expected an array, got {kind(value)}")
        return value

    def string(
        self, value: Any, where: str, *, required: bool = False, max_length: int | None = None
    ) -> str:
        if value is None:
            if required:
                raise self.fail(where, "missing")
            return ""
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {kind(value)}")
        if max_length is not None and len(value) > max_length:
            raise self.fail(where, f"{len(value)} characters, more than the {max_length} allowed")
        return value

    def status(self, value: Any, where: str) -> AlertStatus:
        if value is None:
            raise self.fail(where, "missing; expected firing or resolved")
        if value not in _STATUSES:
            raise self.fail(where, f"{value!r} is not one of firing, resolved")
        return cast(AlertStatus, value)

    def labels(self, value: Any, where: str) -> dict[str, str]:
        mapping = self.obj(value, where, optional=True)
        for key, item in mapping.items():
            if not isinstance(item, str):
                raise self.fail(f"{where}.{key}", f"expected a string, got {kind(item)}")
        return dict(mapping)

    def time(self, value: Any, where: str) -> datetime | None:
        """An RFC 3339 time with an offset; None for a missing value or Go's zero time."""
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"expected an RFC 3339 time string, got {kind(value)}")
        match = _RFC3339.match(value.strip())
        if not match:
            raise self.fail(where, f"{value!r} is not an RFC 3339 time")
        day, clock, fraction, offset = match.groups()
        iso = f"{day}T{clock}"
        if fraction:
            iso += "." + fraction[:6].ljust(6, "0")
        iso += "+00:00" if offset in ("Z", "z") else offset
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError as exc:
            raise self.fail(where, f"{value!r} is not a valid time ({exc})") from None
        if parsed.replace(tzinfo=None) == _ZERO_TIME.replace(tzinfo=None):
            return None
        return parsed
