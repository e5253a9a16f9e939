"""Change freeze windows (watchstander.gates.freeze)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchstander.gates.freeze import active_freeze, next_freeze, occurrence_at, validate_window
from watchstander.gates.models import FreezeWindow

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def weekly(
    days: tuple[str, ...], start: str, end: str, tz: str = "Europe/Berlin", name: str = "w"
) -> FreezeWindow:
    return FreezeWindow(name=name, timezone=tz, start=start, end=end, days=days)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 2026-11-20 is a Friday.
FRIDAY_NIGHT = weekly(("fri",), "18:00", "08:00", name="weekend")


@pytest.mark.parametrize(
    ("local", "active"),
    [
        (datetime(2026, 11, 20, 17, 59), False),  # Friday before the start
        (datetime(2026, 11, 20, 18, 0), True),  # start is inclusive
        (datetime(2026, 11, 20, 23, 59), True),
        (datetime(2026, 11, 21, 0, 30), True),  # Saturday: still Friday's window
        (datetime(2026, 11, 21, 7, 59), True),
        (datetime(2026, 11, 21, 8, 0), False),  # end is exclusive
        (datetime(2026, 11, 21, 18, 30), False),  # Saturday evening: no window
        (datetime(2026, 11, 20, 3, 0), False),  # Friday morning: Thursday has no window
    ],
)
def test_weekly_window_wraps_past_midnight(local: datetime, active: bool) -> None:
    now = local.replace(tzinfo=BERLIN)
    got = active_freeze([FRIDAY_NIGHT], now)
    assert (got is FRIDAY_NIGHT) is active


def test_occurrence_bounds_in_local_time() -> None:
    occ = occurrence_at(FRIDAY_NIGHT, datetime(2026, 11, 21, 2, 0, tzinfo=BERLIN))
    assert occ is not None
    start, end = occ
    assert start == datetime(2026, 11, 20, 18, 0, tzinfo=BERLIN)
    assert end == datetime(2026, 11, 21, 8, 0, tzinfo=BERLIN)
    assert start.tzinfo == BERLIN and end.utcoffset() == timedelta(hours=1)


def test_now_in_another_zone_is_converted() -> None:
    # 17:30 UTC = 18:30 CET on Friday
    assert active_freeze([FRIDAY_NIGHT], utc(2026, 11, 20, 17, 30)) is FRIDAY_NIGHT
    assert active_freeze([FRIDAY_NIGHT], utc(2026, 11, 20, 16, 59)) is None


def test_weekly_local_time_holds_across_dst() -> None:
    w = weekly(("fri",), "18:00", "20:00")
    # Winter (CET, UTC+1): 18:00 local is 17:00 UTC.
    assert active_freeze([w], utc(2026, 3, 20, 17, 0)) is w
    assert active_freeze([w], utc(2026, 3, 20, 16, 30)) is None
    # Summer (CEST, UTC+2) after 2026-03-29: 18:00 local is 16:00 UTC.
    assert active_freeze([w], utc(2026, 4, 3, 16, 0)) is w
    assert active_freeze([w], utc(2026, 4, 3, 18, 0)) is None


def test_window_over_the_spring_forward_night_is_shorter() -> None:
    # Saturday 22:00 CET -> Sunday 06:00 CEST across 2026-03-29 02:00 -> 03:00: 7 real hours.
    w = weekly(("sat",), "22:00", "06:00")
    assert active_freeze([w], utc(2026, 3, 28, 21, 0)) is w  # 22:00 CET
    assert active_freeze([w], utc(2026, 3, 29, 3, 59)) is w  # 05:59 CEST
    assert active_freeze([w], utc(2026, 3, 29, 4, 0)) is None  # 06:00 CEST
    occ = occurrence_at(w, utc(2026, 3, 29, 1, 0))
    assert occ is not None
    # same-zone datetimes subtract as wall clocks (8 h); the real length shows in UTC
    assert occ[1].astimezone(UTC) - occ[0].astimezone(UTC) == timedelta(hours=7)


def test_start_in_the_spring_forward_gap_starts_at_the_jump() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: the clock jumps 02:00 CET -> 03:00 CEST
    # at 01:00 UTC, which is when the window starts.
    w = weekly(("sun",), "02:30", "05:00")
    assert active_freeze([w], utc(2026, 3, 29, 0, 59)) is None
    assert active_freeze([w], utc(2026, 3, 29, 1, 0)) is w


def test_ambiguous_fall_back_time_takes_the_longest_window() -> None:
    # 2026-11-01 01:30 happens twice in New York (EDT, then EST).
    w = weekly(("sun",), "01:30", "03:00", tz="America/New_York")
    assert active_freeze([w], utc(2026, 11, 1, 5, 29)) is None
    assert active_freeze([w], utc(2026, 11, 1, 5, 30)) is w  # 01:30 EDT (first)
    assert active_freeze([w], utc(2026, 11, 1, 7, 59)) is w  # 02:59 EST
    assert active_freeze([w], utc(2026, 11, 1, 8, 0)) is None  # 03:00 EST
    ending = weekly(("sun",), "00:00", "01:30", tz="America/New_York")
    assert active_freeze([ending], utc(2026, 11, 1, 6, 29)) is ending  # 01:29 EST
    assert active_freeze([ending], utc(2026, 11, 1, 6, 30)) is None  # 01:30 EST (second)


def test_one_off_window() -> None:
    w = FreezeWindow(
        name="holidays",
        timezone="Europe/Berlin",
        start="2026-12-20T00:00",
        end="2027-01-04T09:00",
        reason="year end",
    )
    assert active_freeze([w], datetime(2026, 12, 19, 23, 59, tzinfo=BERLIN)) is None
    assert active_freeze([w], datetime(2026, 12, 20, 0, 0, tzinfo=BERLIN)) is w
    assert active_freeze([w], utc(2027, 1, 4, 7, 59)) is w  # 08:59 CET
    assert active_freeze([w], utc(2027, 1, 4, 8, 0)) is None  # 09:00 CET
    occ = occurrence_at(w, utc(2026, 12, 25))
    assert occ == (
        datetime(2026, 12, 20, tzinfo=BERLIN),
        datetime(2027, 1, 4, 9, 0, tzinfo=BERLIN),
    )


def test_first_active_window_in_order() -> None:
    a = weekly(("fri",), "18:00", "23:00", name="a")
    b = weekly(("fri", "sat"), "12:00", "24:00", name="b")
    now = datetime(2026, 11, 20, 19, 0, tzinfo=BERLIN)
    assert active_freeze([a, b], now) is a
    assert active_freeze([b, a], now) is b
    assert active_freeze([b], datetime(2026, 11, 21, 23, 59, tzinfo=BERLIN)) is b
    assert active_freeze([], now) is None


def test_full_day_names_and_case() -> None:
    w = weekly(("Friday", "SAT"), "00:00", "24:00")
    assert validate_window(w) == []
    assert active_freeze([w], datetime(2026, 11, 21, 12, 0, tzinfo=BERLIN)) is w
    assert active_freeze([w], datetime(2026, 11, 22, 0, 0, tzinfo=BERLIN)) is None


# -- next_freeze ----------------------------------------------------------------------------


def test_next_weekly_start() -> None:
    now = datetime(2026, 11, 18, 12, 0, tzinfo=BERLIN)  # Wednesday
    got = next_freeze([FRIDAY_NIGHT], now)
    assert got == (FRIDAY_NIGHT, datetime(2026, 11, 20, 18, 0, tzinfo=BERLIN))
    # while inside the window, the next start is next week's
    inside = datetime(2026, 11, 20, 19, 0, tzinfo=BERLIN)
    got = next_freeze([FRIDAY_NIGHT], inside)
    assert got is not None and got[1] == datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)


def test_next_picks_the_earliest_and_one_offs_any_time_ahead() -> None:
    later = FreezeWindow(
        name="next year", timezone="UTC", start="2028-01-01T00:00", end="2028-01-02T00:00"
    )
    past = FreezeWindow(
        name="past", timezone="UTC", start="2020-01-01T00:00", end="2020-01-02T00:00"
    )
    now = datetime(2026, 11, 18, 12, 0, tzinfo=BERLIN)
    assert next_freeze([later, past], now) == (later, datetime(2028, 1, 1, tzinfo=ZoneInfo("UTC")))
    got = next_freeze([later, FRIDAY_NIGHT], now)
    assert got is not None and got[0] is FRIDAY_NIGHT
    assert next_freeze([past], now) is None
    assert next_freeze([], now) is None


def test_next_start_in_new_york_after_dst_end() -> None:
    w = weekly(("mon",), "09:00", "10:00", tz="America/New_York")
    now = utc(2026, 10, 31, 12, 0)  # Saturday, EDT
    got = next_freeze([w], now)
    assert got is not None
    assert got[1] == datetime(2026, 11, 2, 9, 0, tzinfo=NEW_YORK)
    assert got[1].astimezone(UTC) == utc(2026, 11, 2, 14, 0)  # EST, UTC-5


# -- validation -----------------------------------------------------------------------------


def test_valid_windows_have_no_problems() -> None:
    assert validate_window(FRIDAY_NIGHT) == []
    assert (
        validate_window(
            FreezeWindow(name="x", timezone="UTC", start="2026-12-20", end="2026-12-21T09:00")
        )
        == []
    )


@pytest.mark.parametrize(
    ("window", "fragment"),
    [
        (weekly(("fri",), "18:00", "08:00", tz="Mars/Olympus"), "unknown time zone"),
        (weekly(("fri",), "25:00", "08:00"), "bad start time"),
        (weekly(("fri",), "18:00", "8 am"), "bad end time"),
        (weekly(("fri",), "24:00", "08:00"), "bad start time"),
        (weekly(("friyay",), "18:00", "08:00"), "unknown day name"),
        (weekly(("fri",), "18:00", "18:00"), "start and end"),
        (
            FreezeWindow(name="x", timezone="UTC", start="2027-01-04T09:00", end="2026-12-20"),
            "before start",
        ),
        (
            FreezeWindow(name="x", timezone="UTC", start="2026-12-20T09:00", end="soon"),
            "bad end date-time",
        ),
        (FreezeWindow(name="x", timezone="UTC", start="18:00", end="08:00"), "without a date"),
        (FreezeWindow(name="", timezone="UTC", start="2026-12-20", end="2026-12-21"), "no name"),
    ],
)
def test_validation_problems(window: FreezeWindow, fragment: str) -> None:
    problems = validate_window(window)
    assert any(fragment in p for p in problems), problems


def test_invalid_window_raises_when_evaluated() -> None:
    bad = weekly(("fri",), "18:00", "08:00", tz="Nowhere/Special")
    with pytest.raises(ValueError, match="unknown time zone"):
        active_freeze([bad], utc(2026, 11, 20))
    with pytest.raises(ValueError):
        next_freeze([bad], utc(2026, 11, 20))


def test_naive_now_rejected() -> None:
    naive = datetime(2026, 11, 20, 19, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        active_freeze([FRIDAY_NIGHT], naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_freeze([FRIDAY_NIGHT], naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrence_at(FRIDAY_NIGHT, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        active_freeze([], naive)
