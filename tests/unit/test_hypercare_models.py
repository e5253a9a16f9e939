"""The hypercare period: default lengths, day numbers, extensions, sign-offs, ids, data."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from watchstander.hypercare.models import (
    SIGNOFF_ROLES,
    SUPPORT_ROLE,
    Extension,
    HypercarePeriod,
    PeriodStatus,
    Risk,
    Signoff,
    default_days,
    period_id,
)

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
H = timedelta(hours=1)


def period(**kw: object) -> HypercarePeriod:
    base = HypercarePeriod(
        id="HC-2026-03-02-001",
        service="checkout",
        version="2.4.0",
        start=START,
        days=7,
        risk=Risk.LOW,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_default_days_by_risk() -> None:
    assert default_days(Risk.LOW) == 7
    assert default_days(Risk.HIGH) == 14
    assert default_days("high") == 14  # type: ignore[arg-type]


def test_end_is_start_plus_days_and_extensions() -> None:
    p = period()
    assert p.total_days == 7
    assert p.end == START + timedelta(days=7)
    p = p.extend(3, "P1 on day 6", "lead", START + timedelta(days=6))
    p = p.extend(2, "SLO streak short", "lead", START + timedelta(days=9))
    assert p.total_days == 12
    assert p.end == START + timedelta(days=12)
    assert [e.days for e in p.extensions] == [3, 2]


def test_end_ignores_dst_elapsed_days() -> None:
    # 2026-03-29 is the EU spring-forward; the period still ends 7 x 24 h later.
    start = datetime(2026, 3, 27, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    p = period(start=start)
    assert p.start.tzinfo is UTC
    assert p.end - p.start == timedelta(hours=7 * 24)


@pytest.mark.parametrize(
    ("offset", "day"),
    [
        (timedelta(0), 1),
        (24 * H - timedelta(seconds=1), 1),
        (24 * H, 2),
        (6 * 24 * H + 23 * H, 7),
        (7 * 24 * H, 8),  # past the end: still counting
        (-timedelta(seconds=1), 0),  # before the start
    ],
)
def test_day_number_is_one_based_24h_days(offset: timedelta, day: int) -> None:
    assert period().day_number(START + offset) == day


def test_day_number_accepts_other_zones() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert period().day_number(datetime(2026, 3, 2, 18, 29, tzinfo=tokyo)) == 0  # 09:29 UTC
    assert period().day_number(datetime(2026, 3, 2, 18, 30, tzinfo=tokyo)) == 1  # the start
    assert period().day_number(datetime(2026, 3, 3, 18, 29, tzinfo=tokyo)) == 1
    assert period().day_number(datetime(2026, 3, 3, 18, 30, tzinfo=tokyo)) == 2


@pytest.mark.parametrize(
    ("days", "reason", "message"),
    [(0, "why", "at least 1 day"), (-2, "why", "at least 1 day"), (2, "  ", "reason")],
)
def test_extend_refuses_bad_extensions(days: int, reason: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        period().extend(days, reason, "lead", START)


def test_extend_refuses_an_ended_period() -> None:
    ended = period().finish(START + timedelta(days=7))
    with pytest.raises(ValueError, match="ended"):
        ended.extend(3, "late P0", "lead", START + timedelta(days=8))


def test_extend_returns_a_new_period() -> None:
    p = period()
    longer = p.extend(3, " P1 on day 6 ", "lead", START)
    assert p.extensions == ()
    assert longer.extensions == (Extension(START, 3, "P1 on day 6", "lead"),)


def test_sign_replaces_the_earlier_signoff_for_a_role() -> None:
    p = period().sign("product-owner", "pat", START)
    p = p.sign(SUPPORT_ROLE, "sam", START + H)
    p = p.sign(SUPPORT_ROLE, "sue", START + 2 * H)
    assert [(s.role, s.by) for s in p.signoffs] == [
        ("support-lead", "sue"),
        ("product-owner", "pat"),
    ]
    assert p.signoff(SUPPORT_ROLE) == Signoff(SUPPORT_ROLE, "sue", START + 2 * H)
    assert p.missing_signoffs == ("hypercare-lead", "reliability-engineer", "project-manager")


def test_five_signoff_roles() -> None:
    assert len(SIGNOFF_ROLES) == 5
    p = period()
    for role in SIGNOFF_ROLES:
        p = p.sign(role, "x", START)
    assert p.missing_signoffs == ()


def test_sign_refuses_an_unknown_role() -> None:
    with pytest.raises(ValueError, match="unknown sign-off role 'cto'"):
        period().sign("cto", "boss", START)


def test_finish() -> None:
    at = START + timedelta(days=7, hours=2)
    done = period().finish(at)
    assert done.status is PeriodStatus.ENDED
    assert done.ended_at == at
    assert not done.active
    with pytest.raises(ValueError, match="already ended"):
        done.finish(at)
    with pytest.raises(ValueError, match="before it starts"):
        period().finish(START - H)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period(start=datetime(2026, 3, 2, 9, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        period().day_number(datetime(2026, 3, 2, 9, 30))


def test_inconsistent_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        period(days=0)
    with pytest.raises(ValueError, match="ended_at"):
        period(status=PeriodStatus.ENDED)
    with pytest.raises(ValueError, match="more than one sign-off"):
        period(signoffs=(Signoff("support-lead", "a", START), Signoff("support-lead", "b", START)))


def test_data_round_trip_through_json() -> None:
    p = (
        period(guidance="payments: integrity critical", risk=Risk.HIGH, days=14)
        .extend(3, "late P1", "lead", START + timedelta(days=13))
        .sign("hypercare-lead", "hana", START + timedelta(days=17))
        .finish(START + timedelta(days=17, hours=1))
    )
    data = json.loads(json.dumps(p.to_data()))
    assert data["start"] == "2026-03-02T09:30:00+00:00"
    assert data["risk"] == "high"
    assert data["status"] == "ended"
    assert HypercarePeriod.from_data(data) == p


def test_from_data_names_a_missing_field() -> None:
    data = period().to_data()
    del data["start"]
    with pytest.raises(ValueError, match="missing field 'start'"):
        HypercarePeriod.from_data(data)


def test_period_id_takes_the_next_free_sequence_of_the_day() -> None:
    assert period_id(START, []) == "HC-2026-03-02-001"
    existing = ["HC-2026-03-02-001", "HC-2026-03-02-004", "HC-2026-03-01-009", "INC-2026-03-02-007"]
    assert period_id(START, existing) == "HC-2026-03-02-005"
    # The day is the UTC day: 01:00 in Tokyo on 03-03 is still 03-02 UTC.
    tokyo = datetime(2026, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=9)))
    assert period_id(tokyo, existing) == "HC-2026-03-02-005"
    assert period_id(START + timedelta(days=1), existing) == "HC-2026-03-03-001"
