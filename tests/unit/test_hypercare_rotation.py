"""The generated 24/7 rotation: tiling, follow-the-sun, backups, gaps, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchstander.hypercare.rotation import (
    Member,
    Schedule,
    generate,
    in_working_hours,
    on_call_at,
)

H = timedelta(hours=1)
BERLIN = Member("anna", "Europe/Berlin", {"email": "anna@example.com"})
NEW_YORK = Member("ben", "America/New_York", {"slack": "@ben"})
TOKYO = Member("chie", "Asia/Tokyo", {"phone": "+81 3 1234"})
WINTER = datetime(2026, 1, 12, tzinfo=UTC)
SUMMER = datetime(2026, 7, 13, tzinfo=UTC)


def assert_tiles(schedule: Schedule, start: datetime, days: int) -> None:
    shifts = schedule.shifts
    assert shifts[0].start == start
    assert shifts[-1].end == start + timedelta(days=days) == schedule.end
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert before.end == after.start  # no hole, no overlap
    assert [s.index for s in shifts] == list(range(len(shifts)))


@pytest.mark.parametrize("start", [WINTER, SUMMER], ids=["winter", "summer"])
def test_three_time_zones_follow_the_sun(start: datetime) -> None:
    # 00-08 UTC is 09-17 in Tokyo, 08-16 UTC is 09-17 (winter) / 10-18 (summer) in Berlin,
    # 16-24 UTC is 11-19 (winter) / 12-20 (summer) in New York: all inside 08:00-20:00.
    s = generate([BERLIN, NEW_YORK, TOKYO], start, days=2)
    assert_tiles(s, start, 2)
    assert len(s.shifts) == 6
    assert [sh.primary for sh in s.shifts] == ["chie", "anna", "ben"] * 2
    assert not any(sh.off_hours for sh in s.shifts)
    assert s.gaps == ()
    for sh in s.shifts:
        assert sh.backup is not None and sh.backup != sh.primary
    assert s.load() == {"anna": (2, 2), "ben": (2, 2), "chie": (2, 2)}


def test_narrow_working_hours_leave_off_hours_shifts() -> None:
    # With 09:00-17:00, New York's 16-24 UTC shift (11:00-19:00 EST) ends too late.
    s = generate([BERLIN, NEW_YORK, TOKYO], WINTER, days=2, working_hours=(9, 17))
    off = [sh for sh in s.shifts if sh.off_hours]
    assert [sh.start for sh in off] == [WINTER + 16 * H, WINTER + 40 * H]
    assert s.gaps == (
        "off-hours 2026-01-12 16:00 UTC to 2026-01-13 00:00 UTC (1 shift, ben): "
        "nobody is within working hours 09:00-17:00 local",
        "off-hours 2026-01-13 16:00 UTC to 2026-01-14 00:00 UTC (1 shift, ben): "
        "nobody is within working hours 09:00-17:00 local",
    )


def test_off_hours_runs_are_coalesced() -> None:
    s = generate([BERLIN, Member("bob", "Europe/Berlin", {"e": "x"})], WINTER, days=1)
    # Berlin covers 08-16 UTC (09-17 CET) only; 00-08 and 16-24 are off-hours.
    assert [sh.off_hours for sh in s.shifts] == [True, False, True]
    assert len([g for g in s.gaps if g.startswith("off-hours")]) == 2
    s = generate([BERLIN], WINTER, days=1, shift_hours=4)
    # 00-08 UTC (two 4 h shifts) is one range; 08-12 and 12-16 are in hours (09-17 CET);
    # 16-20 (17-21 CET) is not, and 20-24 neither: another range.
    assert [sh.off_hours for sh in s.shifts] == [True, True, False, False, True, True]
    off = [g for g in s.gaps if g.startswith("off-hours")]
    assert off[0].startswith("off-hours 2026-01-12 00:00 UTC to 2026-01-12 08:00 UTC (2 shifts")
    assert off[1].startswith("off-hours 2026-01-12 16:00 UTC to 2026-01-13 00:00 UTC (2 shifts")


def test_a_single_member_has_no_backup() -> None:
    s = generate([TOKYO], WINTER, days=1)
    assert {sh.primary for sh in s.shifts} == {"chie"}
    assert all(sh.backup is None for sh in s.shifts)
    assert s.gaps[0] == "only one member (chie): no backup for any shift"


def test_no_members_is_a_gap_not_a_crash() -> None:
    s = generate([], WINTER, days=1)
    assert s.shifts == ()
    assert s.gaps == ("no members: nobody is on call",)
    assert on_call_at(s, WINTER) is None


def test_a_member_without_contacts_is_a_gap() -> None:
    mute = Member("dan", "Europe/Berlin", {"email": "  "})
    s = generate([BERLIN, mute], WINTER, days=1)
    assert "dan has no contact address" in s.gaps
    assert "anna has no contact address" not in s.gaps


def test_load_is_shared_fairly_among_people_in_the_same_zone() -> None:
    team = [Member(n, "Asia/Tokyo", {"e": n}) for n in ("kei", "aki", "yui")]
    s = generate(team, WINTER, days=3, shift_hours=8)
    # 00-08 UTC is the only in-hours shift each day for Tokyo (09-17 JST); the others
    # are off-hours, shared out by load then name.
    assert [sh.primary for sh in s.shifts[:3]] == ["aki", "kei", "yui"]
    assert {p for p, _ in s.load().values()} == {3}
    for sh in s.shifts:
        assert sh.backup is not None and sh.backup != sh.primary


def test_the_backup_prefers_someone_in_working_hours() -> None:
    second_tokyo = Member("dai", "Asia/Tokyo", {"e": "d"})
    s = generate([BERLIN, NEW_YORK, TOKYO, second_tokyo], WINTER, days=1)
    tokyo_shift = s.shifts[0]  # 00-08 UTC
    assert {tokyo_shift.primary, tokyo_shift.backup} == {"chie", "dai"}


@pytest.mark.parametrize("hours", [1, 2, 3, 4, 6, 8, 12, 24])
def test_shifts_tile_the_period_exactly(hours: int) -> None:
    start = datetime(2026, 3, 27, 5, 30, tzinfo=UTC)  # across the EU spring-forward
    s = generate([BERLIN, NEW_YORK, TOKYO], start, days=3, shift_hours=hours)
    assert_tiles(s, start, 3)
    assert len(s.shifts) == 3 * 24 // hours
    assert all(sh.end - sh.start == timedelta(hours=hours) for sh in s.shifts)


@pytest.mark.parametrize("hours", [0, 5, 7, 25, -8])
def test_shift_hours_must_divide_24(hours: int) -> None:
    with pytest.raises(ValueError, match="divide 24"):
        generate([BERLIN], WINTER, days=1, shift_hours=hours)


def test_other_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        generate([BERLIN], WINTER, days=0)
    with pytest.raises(ValueError, match="working hours"):
        generate([BERLIN], WINTER, days=1, working_hours=(20, 8))
    with pytest.raises(ValueError, match="duplicate member anna"):
        generate([BERLIN, BERLIN], WINTER, days=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate([BERLIN], datetime(2026, 1, 12), days=1)
    with pytest.raises(Exception, match="Mars/Olympus"):
        Member("zed", "Mars/Olympus")


def test_dst_moves_which_shifts_are_in_hours() -> None:
    # New York springs forward on 2026-03-08 (07:00 UTC). 12:00-16:00 UTC is 07:00-11:00
    # EST before (starts before 08:00) and 08:00-12:00 EDT after.
    ny = Member("ben", "America/New_York", {"e": "b"})
    s = generate(
        [ny], datetime(2026, 3, 6, tzinfo=UTC), days=4, shift_hours=4, working_hours=(8, 16)
    )
    noon = {sh.start.day: sh.off_hours for sh in s.shifts if sh.start.hour == 12}
    assert noon == {6: True, 7: True, 8: False, 9: False}
    assert all(sh.end - sh.start == 4 * H for sh in s.shifts)


def test_in_working_hours_needs_the_whole_shift_on_one_local_day() -> None:
    tokyo = WINTER  # 00:00 UTC = 09:00 JST
    assert in_working_hours(TOKYO, tokyo, tokyo + 8 * H, (9, 17))
    assert not in_working_hours(TOKYO, tokyo, tokyo + 8 * H + timedelta(minutes=1), (9, 17))
    assert not in_working_hours(TOKYO, tokyo - timedelta(minutes=1), tokyo + 7 * H, (9, 17))
    # 20:00-04:00 local with working hours 0-24 spans two local days: not "within" one day.
    assert not in_working_hours(TOKYO, tokyo + 11 * H, tokyo + 19 * H, (0, 24))
    assert in_working_hours(TOKYO, tokyo + 7 * H, tokyo + 15 * H, (0, 24))  # 16:00-24:00


def test_on_call_at() -> None:
    s = generate([BERLIN, NEW_YORK, TOKYO], WINTER, days=1)
    assert on_call_at(s, WINTER) == s.shifts[0]
    assert on_call_at(s, WINTER + 8 * H - timedelta(seconds=1)) == s.shifts[0]
    shift = on_call_at(s, WINTER + 8 * H)
    assert shift is not None and shift.primary == "anna"
    assert on_call_at(s, WINTER - timedelta(seconds=1)) is None
    assert on_call_at(s, WINTER + 24 * H) is None
