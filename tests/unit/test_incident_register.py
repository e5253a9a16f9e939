"""The regression register: ids, entries, summary rows, status and pattern queries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from watchstander.errors import InputError, UsageError
from watchstander.incident.register import (
    SUMMARY_HEADER,
    AffectedFunctionality,
    DetectionGap,
    EscapedTesting,
    IntroducedChange,
    MitigationAction,
    RegressionCategory,
    RegressionEntry,
    RegressionStatus,
    detection_hours,
    mitigation_minutes,
    next_regression_id,
    parse_regression_id,
    pattern_summary,
    patterns,
    register_path,
    regression_id,
    summary_row,
    transition,
    transition_problems,
)

DAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
Status = RegressionStatus


def entry(
    rid: str = "REG-2026-11-21-001",
    *,
    detected: date = DAY,
    component: str = "payments",
    category: RegressionCategory = RegressionCategory.FUNCTIONAL,
    author: str = "alice",
    **kw: Any,
) -> RegressionEntry:
    return RegressionEntry(
        regression_id=rid,
        incident_id="INC-2026-11-21-004",
        detection_date=detected,
        severity="P1",
        introduced_change=IntroducedChange(
            commit_sha="1a2b3c4d5e6f",
            pr_number=812,
            author=author,
            merge_date=date(2026, 11, 20),
            deployment_date=date(2026, 11, 21),
        ),
        regression_category=category,
        affected_functionality=AffectedFunctionality(component, "refunds", user_facing=True),
        **kw,
    )


# -- ids ----------------------------------------------------------------------------------------


def test_regression_ids() -> None:
    assert regression_id(DAY, 1) == "REG-2026-11-21-001"
    assert regression_id(DAY, 42) == "REG-2026-11-21-042"
    assert regression_id(DAY, 1000) == "REG-2026-11-21-1000"
    with pytest.raises(ValueError, match="1 or more"):
        regression_id(DAY, 0)


def test_an_aware_datetime_counts_in_utc() -> None:
    late_in_new_york = datetime(2026, 11, 21, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert regression_id(late_in_new_york, 3) == "REG-2026-11-22-003"


def test_parse_and_next_ids() -> None:
    assert parse_regression_id("REG-2026-11-21-007") == (DAY, 7)
    assert parse_regression_id("REG-0001") is None
    assert parse_regression_id("REG-2026-13-40-001") is None
    existing = ["REG-2026-11-21-001", "REG-2026-11-21-004", "REG-2026-11-20-009", "junk"]
    assert next_regression_id(DAY, existing) == "REG-2026-11-21-005"
    assert next_regression_id(date(2026, 11, 22), existing) == "REG-2026-11-22-001"
    assert register_path("REG-2026-11-21-001") == (
        ".aiwg/regression/register/REG-2026-11-21-001.yaml"
    )


def test_durations_for_the_entry() -> None:
    deployed = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert detection_hours(deployed, deployed + timedelta(minutes=95)) == 1.58
    assert mitigation_minutes(deployed, deployed + timedelta(seconds=754)) == 12.6


# -- the entry and its row ----------------------------------------------------------------------


def test_to_data_has_the_handbook_fields_in_order() -> None:
    e = entry(
        detection_gap=DetectionGap(EscapedTesting.E2E, 1.5, "no refund journey in e2e"),
        mitigation_action=MitigationAction.ROLLBACK,
        mitigation_time=12.0,
        preventive_actions=("add a refund e2e test", "alert on refund errors"),
    )
    data = e.to_data()
    assert list(data) == [
        "regression_id",
        "incident_id",
        "detection_date",
        "severity",
        "introduced_change",
        "regression_category",
        "affected_functionality",
        "detection_gap",
        "mitigation_action",
        "mitigation_time",
        "preventive_actions",
        "status",
    ]
    assert data["introduced_change"] == {
        "commit_sha": "1a2b3c4d5e6f",
        "pr_number": 812,
        "author": "alice",
        "merge_date": "2026-11-20",
        "deployment_date": "2026-11-21",
    }
    assert data["affected_functionality"] == {
        "component": "payments",
        "feature": "refunds",
        "user_facing": "YES",
    }
    assert data["detection_gap"] == {
        "escaped_testing": "e2e",
        "detection_time": 1.5,
        "reason": "no refund journey in e2e",
    }
    assert data["detection_date"] == "2026-11-21"
    assert data["mitigation_action"] == "rollback"
    assert data["status"] == "OPEN"


def test_a_fresh_entry_has_nulls_not_guesses() -> None:
    data = entry().to_data()
    assert data["mitigation_action"] is None and data["mitigation_time"] is None
    assert data["detection_gap"] == {"escaped_testing": None, "detection_time": None, "reason": ""}
    assert data["preventive_actions"] == []


def test_the_yaml_round_trip() -> None:
    e = entry(
        detection_gap=DetectionGap(EscapedTesting.STAGING, 2.0, "staging has no real cards"),
        mitigation_action=MitigationAction.FEATURE_FLAG_DISABLE,
        mitigation_time=4.5,
        preventive_actions=("mirror card traffic to staging",),
        status=Status.MITIGATED,
    )
    e = dataclasses.replace(
        e, affected_functionality=AffectedFunctionality("payments", "refunds", False)
    )
    text = yaml.safe_dump(e.to_data(), sort_keys=False)
    assert "user_facing: 'NO'" in text  # quoted, so it stays text
    assert RegressionEntry.from_data(yaml.safe_load(text), "r.yaml") == e


def test_hand_written_yes_and_dates_are_read() -> None:
    text = """
regression_id: REG-2026-11-21-001
incident_id: INC-2026-11-21-004
detection_date: 2026-11-21
severity: sev2
introduced_change: {commit_sha: 1a2b3c4d5e6f, pr_number: 812, author: alice,
                    merge_date: 2026-11-20, deployment_date: 2026-11-21}
regression_category: functional
affected_functionality: {component: payments, feature: refunds, user_facing: YES}
status: open
"""
    e = RegressionEntry.from_data(yaml.safe_load(text), "r.yaml")
    assert e == entry()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(regression_id="REG-0001"), "r.yaml: regression_id: 'REG-0001' is not REG-YYYY-MM-DD-NNN"),
        (lambda d: d.pop("incident_id"), "r.yaml: incident_id: missing"),
        (lambda d: d.update(severity="P5"), "r.yaml: severity: 'P5'; expected P0 | P1 | P2 | P3"),
        (lambda d: d.update(detection_date="21/11/2026"), "r.yaml: detection_date: '21/11/2026' is not a YYYY-MM-DD date"),
        (lambda d: d["introduced_change"].pop("commit_sha"), "r.yaml: introduced_change.commit_sha: missing"),
        (lambda d: d["introduced_change"].update(pr_number="#812"), "r.yaml: introduced_change.pr_number: expected a number, got '#812'"),
        (lambda d: d.update(regression_category="ui"),
         "r.yaml: regression_category: 'ui'; expected functional | performance | security | data-integrity"),
        (lambda d: d["affected_functionality"].update(user_facing="maybe"),
         "r.yaml: affected_functionality.user_facing: 'maybe'; expected YES | NO"),
        (lambda d: d["detection_gap"].update(escaped_testing="smoke"),
         "r.yaml: detection_gap.escaped_testing: 'smoke'; expected unit | integration | e2e | manual | staging"),
        (lambda d: d.update(mitigation_action="revert"),
         "r.yaml: mitigation_action: 'revert'; expected rollback | hotfix | feature-flag-disable"),
        (lambda d: d.update(mitigation_time="soon"), "r.yaml: mitigation_time: expected a number, got 'soon'"),
        (lambda d: d.update(preventive_actions="one"), "r.yaml: preventive_actions: expected a list of text"),
        (lambda d: d.update(status="DONE"), "r.yaml: status: 'DONE'; expected OPEN | MITIGATED | ANALYZED | CLOSED"),
        (lambda d: d.update(introduced_change=None), "r.yaml: introduced_change: expected a mapping, got NoneType"),
    ],
)  # fmt: skip
def test_malformed_entries_name_the_field(change: Any, message: str) -> None:
    data = entry().to_data()
    change(data)
    with pytest.raises(InputError) as exc:
        RegressionEntry.from_data(data, "r.yaml")
    assert str(exc.value) == message


def test_summary_row() -> None:
    assert summary_row(entry()) == (
        "| REG-2026-11-21-001 | INC-2026-11-21-004 | 2026-11-21 | P1 | 1a2b3c4d5e6f "
        "| functional | OPEN |"
    )
    p3 = dataclasses.replace(
        entry(category=RegressionCategory.DATA_INTEGRITY), severity="P3", status=Status.CLOSED
    )
    assert summary_row(p3).endswith("| P3 | 1a2b3c4d5e6f | data-integrity | CLOSED |")
    assert SUMMARY_HEADER[0].count("|") == summary_row(p3).count("|")


# -- status -------------------------------------------------------------------------------------------


def test_the_happy_path_through_every_status() -> None:
    e = entry()
    e = transition(
        e, Status.MITIGATED, mitigation_action=MitigationAction.HOTFIX, mitigation_time=35
    )
    assert (e.status, e.mitigation_action, e.mitigation_time) == (
        Status.MITIGATED,
        MitigationAction.HOTFIX,
        35,
    )
    e = transition(
        e,
        Status.ANALYZED,
        detection_gap=DetectionGap(EscapedTesting.UNIT, 3.0, "rounding not unit-tested"),
        preventive_actions=["property test for rounding"],
    )
    assert e.status is Status.ANALYZED and e.preventive_actions == ("property test for rounding",)
    assert transition(e, Status.CLOSED).status is Status.CLOSED


def test_mitigated_needs_the_action_and_time() -> None:
    assert transition_problems(entry(), Status.MITIGATED) == (
        "mitigation_action: missing; MITIGATED needs it",
        "mitigation_time: missing; MITIGATED needs it",
    )
    with pytest.raises(UsageError, match="REG-2026-11-21-001: mitigation_time: missing"):
        transition(entry(), Status.MITIGATED, mitigation_action=MitigationAction.ROLLBACK)


def test_analyzed_needs_the_gap_and_preventive_actions() -> None:
    mitigated = entry(
        mitigation_action=MitigationAction.ROLLBACK, mitigation_time=9.0, status=Status.MITIGATED
    )
    assert transition_problems(mitigated, Status.ANALYZED) == (
        "detection_gap.escaped_testing: missing; ANALYZED needs it",
        "detection_gap.reason: empty; ANALYZED needs it",
        "preventive_actions: empty; ANALYZED needs at least one",
    )


def test_a_failed_mitigation_reopens() -> None:
    mitigated = entry(
        mitigation_action=MitigationAction.ROLLBACK, mitigation_time=9.0, status=Status.MITIGATED
    )
    assert transition(mitigated, Status.OPEN).status is Status.OPEN


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        (Status.OPEN, Status.ANALYZED, "MITIGATED"),
        (Status.OPEN, Status.CLOSED, "MITIGATED"),
        (Status.MITIGATED, Status.CLOSED, "ANALYZED, OPEN"),
        (Status.ANALYZED, Status.OPEN, "CLOSED"),
        (Status.CLOSED, Status.OPEN, "none, it is final"),
        (Status.OPEN, Status.OPEN, "MITIGATED"),
    ],
)
def test_forbidden_transitions(start: Status, to: Status, allowed: str) -> None:
    e = entry(status=start)
    with pytest.raises(UsageError) as exc:
        transition(e, to)
    assert (
        str(exc.value) == f"REG-2026-11-21-001: cannot go from {start} to {to} (allowed: {allowed})"
    )


# -- patterns -----------------------------------------------------------------------------------------


def history() -> list[RegressionEntry]:
    perf = RegressionCategory.PERFORMANCE
    return [
        entry("REG-2026-11-21-001"),
        entry("REG-2026-08-23-001", detected=DAY - timedelta(days=90)),  # the window's first day
        entry("REG-2026-08-22-001", detected=DAY - timedelta(days=91)),  # just outside
        entry("REG-2026-11-01-001", detected=date(2026, 11, 1), category=perf),
        entry("REG-2026-10-01-001", detected=date(2026, 10, 1), component="search", author="bob"),
        entry("REG-2026-11-22-001", detected=DAY + timedelta(days=1)),  # after now: ignored
    ]


def ids(entries: tuple[RegressionEntry, ...]) -> list[str]:
    return [e.regression_id for e in entries]


def test_the_90_day_window_includes_its_first_day() -> None:
    got = patterns(history(), component="payments", now=NOW)
    assert ids(got) == [
        "REG-2026-08-23-001",
        "REG-2026-11-01-001",
        "REG-2026-11-21-001",
    ]


def test_same_component_and_category() -> None:
    got = patterns(history(), component="payments", category=RegressionCategory.FUNCTIONAL, now=NOW)
    assert ids(got) == ["REG-2026-08-23-001", "REG-2026-11-21-001"]
    assert ids(patterns(history(), category=RegressionCategory.PERFORMANCE, now=NOW)) == [
        "REG-2026-11-01-001"
    ]


def test_any_time_and_exclusion() -> None:
    got = patterns(
        history(), component="payments", now=NOW, days=None, exclude="REG-2026-11-21-001"
    )
    assert ids(got) == ["REG-2026-08-22-001", "REG-2026-08-23-001", "REG-2026-11-01-001"]
    assert ids(patterns(history(), author="bob", now=NOW)) == ["REG-2026-10-01-001"]


def test_the_window_is_counted_in_utc_days() -> None:
    # 00:30 on 22 November in UTC+1 is still 21 November in UTC.
    local = datetime(2026, 11, 22, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert "REG-2026-11-22-001" not in ids(patterns(history(), now=local))
    with pytest.raises(ValueError, match="timezone-aware"):
        patterns(history(), now=datetime(2026, 11, 21))


def test_pattern_summary() -> None:
    s = pattern_summary(history()[0], history(), now=NOW)
    assert s.same_component == 3  # any time up to now, this one left out
    assert s.same_category == 2  # functional in the last 90 days: payments and search
    assert s.same_author == 3
    assert s.component_recent == 3
    assert s.high_risk
    assert not pattern_summary(history()[0], history(), now=NOW, high_risk_at=4).high_risk
