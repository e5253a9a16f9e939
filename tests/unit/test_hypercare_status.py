"""The daily GREEN / YELLOW / RED status and its reasons."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from watchstander.hypercare.status import Health, daily_health


def health(**kw: object) -> tuple[Health, list[str]]:
    args: dict[str, object] = {
        "slos_met": 4,
        "slos_total": 4,
        "slos_at_risk": 0,
        "open_p0": 0,
        "open_p1": 0,
        "incidents_24h": {"P2": 3, "P3": 5},
        "budget_assessment": "HEALTHY",
    }
    args.update(kw)
    return daily_health(**args)  # type: ignore[arg-type]


def test_green_when_nothing_is_wrong() -> None:
    status, reasons = health()
    assert status is Health.GREEN
    assert reasons == [
        "all 4 SLOs met, no open P0/P1 incidents, no P0/P1 in the last 24 h, error budget HEALTHY"
    ]


def test_green_with_no_slos_says_so() -> None:
    status, reasons = health(slos_met=0, slos_total=0)
    assert status is Health.GREEN
    assert reasons[0].startswith("no SLOs defined")


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"open_p0": 1}, Health.RED, "1 P0 incident is open"),
        ({"open_p0": 2}, Health.RED, "2 P0 incidents are open"),
        ({"incidents_24h": {"P0": 1}}, Health.RED, "1 P0 incident was detected in the last 24 h"),
        ({"slos_met": 3}, Health.RED, "1 of 4 SLOs not met"),
        ({"budget_assessment": "CRITICAL"}, Health.RED, "the error budget is CRITICAL"),
        ({"open_p1": 1}, Health.YELLOW, "1 P1 incident is open"),
        (
            {"incidents_24h": {"P1": 2}},
            Health.YELLOW,
            "2 P1 incidents were detected in the last 24 h",
        ),
        ({"slos_at_risk": 2}, Health.YELLOW, "2 of 4 SLOs at risk"),
        ({"budget_assessment": "monitor"}, Health.YELLOW, "the error budget needs monitoring"),
    ],
)
def test_each_condition_alone_sets_the_status(
    change: Mapping[str, object], status: Health, reason: str
) -> None:
    got, reasons = health(**change)
    assert got is status
    assert len(reasons) == 1
    assert reasons[0].startswith(reason)


def test_red_lists_its_reasons_first_then_the_yellow_ones() -> None:
    status, reasons = health(
        open_p1=1, slos_met=2, incidents_24h={"P0": 1, "P1": 1}, budget_assessment="MONITOR"
    )
    assert status is Health.RED
    assert reasons == [
        "1 P0 incident was detected in the last 24 h",
        "2 of 4 SLOs not met",
        "1 P1 incident is open",
        "1 P1 incident was detected in the last 24 h",
        "the error budget needs monitoring: defer risky changes",
    ]


def test_p2_and_p3_incidents_do_not_change_the_status() -> None:
    status, _ = health(incidents_24h={"P2": 40, "P3": 100})
    assert status is Health.GREEN


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"open_p0": -1}, "negative count for open_p0"),
        ({"incidents_24h": {"P1": -2}}, r"negative count for incidents_24h\[P1\]"),
        ({"slos_met": 5}, "5 SLOs met of only 4"),
        ({"budget_assessment": "FINE"}, "budget assessment 'FINE'"),
    ],
)
def test_bad_input_is_refused(change: Mapping[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        health(**change)
