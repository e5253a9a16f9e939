"""Alert intake: Alertmanager v4 webhook bodies, PagerDuty Events v2 bodies, and PagerDuty's
dedup state machine."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from watchstander.errors import InputError
from watchstander.inputs.alertmanager import (
    parse_alertmanager,
    priority_from_labels,
    severity_hint,
)
from watchstander.inputs.pagerduty import (
    PagerDutyDedup,
    PagerDutyEvent,
    parse_pagerduty_event,
)
from watchstander.inputs.pagerduty import severity_hint as pd_severity_hint

ZERO = "0001-01-01T00:00:00Z"


def am_alert(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"},
        "annotations": {"summary": "checkout 5xx above 5%", "runbook_url": "https://rb/x"},
        "startsAt": "2024-05-01T10:00:00.123456789Z",
        "endsAt": ZERO,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "fingerprint": "c0ffee0123456789",
    }
    alert.update(overrides)
    return alert


def am_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "watchstander",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            am_alert(),
            am_alert(
                labels={
                    "alertname": "HighErrorRate",
                    "service": "checkout",
                    "severity": "critical",
                },
                annotations={"description": "pod b"},
                startsAt="2024-05-01T10:01:00+02:00",
                fingerprint="",
            ),
        ],
    }
    body.update(overrides)
    return body


def parse(body: Any) -> Any:
    return parse_alertmanager(json.dumps(body).encode(), "alertmanager")


# -- Alertmanager ------------------------------------------------------------------------------


def test_two_firing_alerts() -> None:
    group = parse(am_payload())
    assert group.version == "4" and group.status == "firing" and group.receiver == "watchstander"
    assert group.group_key == '{}:{alertname="HighErrorRate"}'
    assert group.external_url == "http://alertmanager:9093"
    assert group.common_labels["service"] == "checkout"
    assert len(group.alerts) == 2 and len(group.firing) == 2 and not group.resolved
    first, second = group.alerts
    assert first.name == "HighErrorRate" and first.summary == "checkout 5xx above 5%"
    # nanoseconds cut to microseconds; Go's zero time is unset
    assert first.starts_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None
    assert first.fingerprint == "c0ffee0123456789"
    assert first.generator_url.startswith("http://prometheus:9090/")
    assert second.starts_at == datetime(2024, 5, 1, 10, 1, tzinfo=timezone(timedelta(hours=2)))
    assert second.summary == "pod b"
    # a missing fingerprint is computed from the labels, stably
    assert len(second.fingerprint) == 16
    assert parse(am_payload()).alerts[1].fingerprint == second.fingerprint
    assert group.summary == "checkout 5xx above 5%"
    # the most severe firing alert wins: critical -> P0
    assert severity_hint(group) == "P0"


def test_resolved_group() -> None:
    body = am_payload(
        status="resolved",
        alerts=[am_alert(status="resolved", endsAt="2024-05-01T10:30:00Z")],
    )
    group = parse(body)
    assert group.status == "resolved" and not group.firing and len(group.resolved) == 1
    assert group.alerts[0].ends_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert severity_hint(group) == "P2"  # nothing fires: every alert counts


def test_optional_maps_may_be_missing_and_text_input_works() -> None:
    body = am_payload()
    for key in (
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "truncatedAlerts",
    ):
        del body[key]
    body["alerts"] = [{"status": "firing", "labels": {"alertname": "X"}, "startsAt": ZERO}]
    group = parse_alertmanager(json.dumps(body), "am.json")
    assert group.common_labels == {} and group.truncated_alerts == 0
    assert group.alerts[0].starts_at is None and group.alerts[0].annotations == {}
    assert severity_hint(group) is None
    assert group.summary == "X"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "3"}, "alertmanager: version: '3' is not supported"),
        ({"version": 4}, "alertmanager: version: 4 is not supported"),
        ({"status": "pending"}, "alertmanager: status: 'pending' is not one of firing, resolved"),
        ({"groupKey": ""}, "alertmanager: groupKey: must not be empty"),
        ({"receiver": None}, "alertmanager: receiver: missing"),
        ({"alerts": []}, "alertmanager: alerts: empty"),
        ({"alerts": None}, "alertmanager: alerts: missing"),
        ({"alerts": {"a": 1}}, "alertmanager: alerts: expected an array, got an object"),
        (
            {"commonLabels": {"severity": 3}},
            "alertmanager: commonLabels.severity: expected a string",
        ),
        ({"truncatedAlerts": -1}, "alertmanager: truncatedAlerts: -1 is not a count"),
        (
            {"alerts": [am_alert(), am_alert(startsAt="yesterday")]},
            "alertmanager: alerts[1].startsAt: 'yesterday' is not an RFC 3339 time",
        ),
        (
            {"alerts": [am_alert(startsAt="2024-05-01T10:00:00")]},
            "alertmanager: alerts[0].startsAt: '2024-05-01T10:00:00' is not an RFC 3339 time",
        ),
        (
            {"alerts": [am_alert(endsAt="2024-13-01T10:00:00Z")]},
            "alertmanager: alerts[0].endsAt: '2024-13-01T10:00:00Z' is not a valid time",
        ),
        ({"alerts": [am_alert(status="ok")]}, "alertmanager: alerts[0].status: 'ok' is not one of"),
        (
            {"alerts": [am_alert(labels=["a"])]},
            "alertmanager: alerts[0].labels: expected an object",
        ),
        ({"alerts": ["x"]}, "alertmanager: alerts[0]: expected an object, got a string"),
        (
            {"alerts": [am_alert(annotations={"summary": None})]},
            "alertmanager: alerts[0].annotations.summary: expected a string, got null",
        ),
    ],
)
def test_malformed_alertmanager_payloads_name_the_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match="^" + _escape(message)) as caught:
        parse(am_payload(**change))
    assert caught.value.exit_code == 2


def test_missing_alert_fields_are_named() -> None:
    alert = am_alert()
    del alert["startsAt"]
    with pytest.raises(InputError, match=r"^alertmanager: alerts\[0\]\.startsAt: missing"):
        parse(am_payload(alerts=[alert]))
    alert = am_alert()
    del alert["labels"]
    with pytest.raises(InputError, match=r"^alertmanager: alerts\[0\]\.labels: missing"):
        parse(am_payload(alerts=[alert]))


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(InputError, match=r"^hook:2:14: invalid JSON"):
        parse_alertmanager(b'{"version": "4",\n "groupKey": }', "hook")
    with pytest.raises(InputError, match=r"^hook:1:2: not UTF-8"):
        parse_alertmanager(b"{\xff}", "hook")
    with pytest.raises(InputError, match=r"^hook: empty"):
        parse_alertmanager(b"  ", "hook")
    with pytest.raises(
        InputError, match=r"^hook: the webhook body must be a JSON object, got an array"
    ):
        parse_alertmanager(b"[]", "hook")
    with pytest.raises(InputError, match=r"^hook:1:\d+: invalid JSON \(NaN is not valid JSON\)"):
        parse_alertmanager(b'{"version": NaN}', "hook")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, "P0"),
        ({"severity": "Error"}, "P1"),
        ({"severity": "warning"}, "P2"),
        ({"severity": "info"}, "P3"),
        ({"severity": "bogus"}, None),
        ({"priority": "P1", "severity": "info"}, "P1"),  # priority wins
        ({"priority": "p2"}, "P2"),
        ({"priority": "sev2"}, "P1"),  # SEV1..SEV4 are P0..P3, as in the incident model
        ({"priority": "SEV-1"}, "P0"),
        ({"priority": "SEV 4"}, "P3"),
        ({"priority": "sev0"}, "P0"),
        ({"priority": "P5"}, "P3"),  # clamped
        ({"priority": "2"}, None),  # a bare number is ambiguous
        ({"priority": "high"}, "P1"),
        ({"priority": "?", "severity": "critical"}, "P0"),
        ({}, None),
    ],
)
def test_priority_mapping(labels: dict[str, str], expected: str | None) -> None:
    assert priority_from_labels(labels) == expected


# -- PagerDuty events ----------------------------------------------------------------------------


def pd_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": "R0123456789abcdef0123456789abcde",
        "event_action": "trigger",
        "dedup_key": "checkout-errors",
        "payload": {
            "summary": "checkout 5xx above 5%",
            "source": "prometheus",
            "severity": "critical",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "component": "checkout",
            "group": "prod",
            "class": "errors",
            "custom_details": {"error_rate": 0.07},
        },
        "links": [{"href": "https://grafana/x", "text": "dashboard"}],
        "images": [{"src": "https://img/x.png"}],
        "client": "Prometheus",
    }
    body.update(overrides)
    return body


def pd(body: Any) -> PagerDutyEvent:
    return parse_pagerduty_event(json.dumps(body).encode(), "pagerduty")


def test_trigger_event() -> None:
    event = pd(pd_body())
    assert event.event_action == "trigger" and event.dedup_key == "checkout-errors"
    assert event.payload is not None
    assert event.payload.summary == "checkout 5xx above 5%" and event.payload.source == "prometheus"
    assert event.payload.severity == "critical" and event.payload.class_ == "errors"
    assert event.payload.timestamp == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert event.payload.custom_details == {"error_rate": 0.07}
    assert event.links[0]["href"] == "https://grafana/x" and event.client == "Prometheus"
    assert pd_severity_hint(event) == "P0"
    assert "R0123456789" not in repr(event)  # the routing key stays out of logs


def test_acknowledge_and_resolve_need_only_a_key() -> None:
    ack = pd({"routing_key": "r", "event_action": "acknowledge", "dedup_key": "k"})
    assert ack.payload is None and pd_severity_hint(ack) is None
    resolve = pd({"routing_key": "r", "event_action": "resolve", "dedup_key": "k", "payload": 3})
    assert resolve.event_action == "resolve" and resolve.payload is None  # ignored, as PD does


def test_trigger_without_key_and_naive_timestamp() -> None:
    body = pd_body()
    del body["dedup_key"]
    body["payload"]["timestamp"] = "2024-01-01T00:00:00"
    event = pd(body)
    assert event.dedup_key is None
    assert event.payload is not None and event.payload.timestamp == datetime(2024, 1, 1, tzinfo=UTC)


def _without(key: str) -> dict[str, Any]:
    body = pd_body()
    del body[key]
    return body


def _payload_without(key: str) -> dict[str, Any]:
    body = pd_body()
    del body["payload"][key]
    return body


def _payload_with(**changes: Any) -> dict[str, Any]:
    body = pd_body()
    body["payload"].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_without("routing_key"), "pagerduty: routing_key: missing"),
        (pd_body(routing_key=" "), "pagerduty: routing_key: must not be empty"),
        (_without("event_action"), "pagerduty: event_action: missing"),
        (pd_body(event_action="ack"), "pagerduty: event_action: 'ack' is not one of trigger"),
        (pd_body(dedup_key="k" * 256), "pagerduty: dedup_key: 256 characters, more than the 255"),
        (pd_body(dedup_key=""), "pagerduty: dedup_key: must not be empty"),
        (pd_body(dedup_key=12), "pagerduty: dedup_key: expected a string, got a number"),
        (
            {"routing_key": "r", "event_action": "resolve"},
            "pagerduty: dedup_key: missing; resolve needs",
        ),
        (
            {"routing_key": "r", "event_action": "acknowledge"},
            "pagerduty: dedup_key: missing; acknowledge needs",
        ),
        (_without("payload"), "pagerduty: payload: missing; a trigger needs"),
        (pd_body(payload=[1]), "pagerduty: payload: expected an object, got an array"),
        (_payload_without("summary"), "pagerduty: payload.summary: missing"),
        (_payload_with(summary="x" * 1025), "pagerduty: payload.summary: 1025 characters"),
        (_payload_with(summary=" "), "pagerduty: payload.summary: must not be empty"),
        (_payload_without("source"), "pagerduty: payload.source: missing"),
        (_payload_without("severity"), "pagerduty: payload.severity: missing"),
        (_payload_with(severity="high"), "pagerduty: payload.severity: 'high' is not one of"),
        (_payload_with(timestamp="soon"), "pagerduty: payload.timestamp: 'soon' is not an ISO"),
        (_payload_with(component=1), "pagerduty: payload.component: expected a string"),
        (pd_body(links=[{"text": "x"}]), r"pagerduty: links[0].href: missing"),
        (pd_body(images="x"), "pagerduty: images: expected an array"),
    ],
)
def test_malformed_pagerduty_events_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match="^" + _escape(message)):
        pd(body)


def test_pagerduty_body_size_limit_and_json_errors() -> None:
    body = pd_body()
    body["payload"]["custom_details"] = {"blob": "x" * (512 * 1024)}
    with pytest.raises(InputError, match=r"^pagerduty: \d+ bytes, over the 512 KB"):
        pd(body)
    with pytest.raises(InputError, match=r"^pd:1:1: invalid JSON"):
        parse_pagerduty_event("nope", "pd")
    with pytest.raises(InputError, match=r"^pd: the event must be a JSON object, got a number"):
        parse_pagerduty_event("3", "pd")


# -- dedup -----------------------------------------------------------------------------------


def event(action: str, key: str | None = "k") -> PagerDutyEvent:
    body: dict[str, Any] = {"routing_key": "r", "event_action": action}
    if key is not None:
        body["dedup_key"] = key
    if action == "trigger":
        body["payload"] = {"summary": "s", "source": "src", "severity": "error"}
    return pd(body)


def test_dedup_lifecycle() -> None:
    apply = PagerDutyDedup.apply
    state: dict[str, Any] = {}
    state, outcome = apply(state, event("trigger"))
    assert outcome == "opened" and state == {"k": "triggered"}
    state, outcome = apply(state, event("trigger"))
    assert outcome == "duplicate" and state == {"k": "triggered"}
    state, outcome = apply(state, event("acknowledge"))
    assert outcome == "acknowledged" and state == {"k": "acknowledged"}
    state, outcome = apply(state, event("acknowledge"))
    assert outcome == "duplicate"
    state, outcome = apply(state, event("trigger"))
    assert outcome == "duplicate" and state == {"k": "acknowledged"}  # stays acknowledged
    state, outcome = apply(state, event("resolve"))
    assert outcome == "resolved" and state == {"k": "resolved"}
    # after resolve: acknowledge and resolve are dropped ...
    state, outcome = apply(state, event("acknowledge"))
    assert outcome == "dropped" and state == {"k": "resolved"}
    state, outcome = apply(state, event("resolve"))
    assert outcome == "dropped" and state == {"k": "resolved"}
    # ... and a trigger opens a new alert under the same key
    state, outcome = apply(state, event("trigger"))
    assert outcome == "opened" and state == {"k": "triggered"}
    # a triggered alert can be resolved without an acknowledge
    state, outcome = apply(state, event("resolve"))
    assert outcome == "resolved"


def test_dedup_unknown_keys_and_purity() -> None:
    apply = PagerDutyDedup.apply
    before: dict[str, Any] = {"other": "triggered"}
    after, outcome = apply(before, event("resolve", "k"))
    assert outcome == "dropped" and after == before
    after, outcome = apply(before, event("acknowledge", "k"))
    assert outcome == "dropped"
    after, outcome = apply(before, event("trigger", "k"))
    assert outcome == "opened" and before == {"other": "triggered"}  # input untouched
    assert after == {"other": "triggered", "k": "triggered"}


def test_trigger_without_key_uses_the_new_key() -> None:
    after, outcome = PagerDutyDedup.apply({}, event("trigger", None), new_key="generated-1")
    assert outcome == "opened" and after == {"generated-1": "triggered"}
    with pytest.raises(ValueError, match="new_key"):
        PagerDutyDedup.apply({}, event("trigger", None))


def _escape(text: str) -> str:
    return re.escape(text)
