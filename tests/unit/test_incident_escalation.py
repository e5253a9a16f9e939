"""Rosters and escalation timers (watchstander.incident.escalation).

Pure code: time is a plain `now` argument, so a day of escalations is a loop over
datetimes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from watchstander.errors import NotFoundError
from watchstander.incident import escalation, models, priority
from watchstander.incident.escalation import (
    DEFAULT_POLICY,
    Escalation,
    EscalationKind,
    EscalationPolicy,
    EscalationStep,
    Override,
    Person,
    Roster,
    Rotation,
    StopOn,
)
from watchstander.incident.models import (
    Impact,
    Incident,
    IncidentStatus,
    Priority,
    Role,
    TimelineKind,
    Urgency,
)

S = IncidentStatus
F, H, R = EscalationKind.FUNCTIONAL, EscalationKind.HIERARCHICAL, EscalationKind.RENOTIFY
SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# Thursday 2026-01-15, 08:50 in Berlin (CET, UTC+1).
T0 = datetime(2026, 1, 15, 7, 50, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def person(name: str, **contacts: str) -> Person:
    return Person(name, contacts if contacts else {"email": f"{name}@example.com"})


def make_roster(*people: Person, overrides: tuple[Override, ...] = ()) -> Roster:
    names = "alice bob carol dave erin frank grace ivy lena".split()
    given = {p.name: p for p in people}
    return Roster(
        tuple(given.get(n, person(n)) for n in names),
        (
            # Daily, handing off at 09:00 Berlin time.
            Rotation(
                "tier1",
                ("alice", "bob"),
                datetime(2026, 1, 14, 8, 0, tzinfo=UTC),
                timedelta(days=1),
                "Europe/Berlin",
            ),
            # Weekly from Monday 2026-01-12, UTC.
            Rotation("tier2", ("carol", "dave"), datetime(2026, 1, 12, tzinfo=UTC)),
            Rotation("tier3", ("erin",), datetime(2026, 1, 1, tzinfo=UTC)),
            Rotation("management", ("frank",), datetime(2026, 1, 1, tzinfo=UTC)),
            Rotation("executive", ("grace",), datetime(2026, 1, 1, tzinfo=UTC)),
            # Legal is staffed; compliance deliberately is not (see the breach tests).
            Rotation("legal", ("lena",), datetime(2026, 1, 1, tzinfo=UTC)),
        ),
        overrides,
    )


ROSTER = make_roster()


def at(hh: int, mm: int, day: int = 15) -> datetime:
    return datetime(2026, 1, day, hh, mm, tzinfo=UTC)


def incident(impact: Impact = Impact.HIGH, urgency: Urgency = Urgency.HIGH, **kw: Any) -> Incident:
    return priority.declare(
        id="INC-2026-01-15-001",
        title="checkout returns 500",
        service="checkout",
        detected=T0,
        started=T0 - 6 * MIN,
        reporter="alertmanager",
        impact=impact,
        urgency=urgency,
        **kw,
    )


def p0(**kw: Any) -> Incident:
    return incident(Impact.HIGH, Urgency.HIGH, **kw)


def p1(**kw: Any) -> Incident:
    return incident(Impact.HIGH, Urgency.MEDIUM, **kw)


def due(inc: Incident, now: datetime, policy: EscalationPolicy = DEFAULT_POLICY) -> list[str]:
    return [e.key for e in escalation.due(inc, policy, ROSTER, now)]


def run(inc: Incident, until: datetime, policy: EscalationPolicy = DEFAULT_POLICY) -> Incident:
    """Fire everything due up to `until`, minute by minute, as the engine would."""
    now = inc.detected
    while now <= until:
        inc = escalation.apply(inc, escalation.due(inc, policy, ROSTER, now), now)
        now += MIN
    return inc


# -- rosters ----------------------------------------------------------------------------------


def who(roster: Roster, rotation: str, at: datetime) -> str | None:
    p = escalation.on_call(roster, rotation, at)
    return p.name if p else None


def shift_index(rotation: Rotation, at: datetime) -> int | None:
    shift = escalation.shift_at(rotation, at)
    return shift.index if shift else None


def test_on_call_follows_the_rotation() -> None:
    # tier1 hands off at 09:00 Berlin = 08:00 UTC in winter.
    assert escalation.on_call(ROSTER, "tier1", at(8, 0, day=14)) == ROSTER.person("alice")
    assert who(ROSTER, "tier1", at(8, 0) - SEC) == "alice"
    assert who(ROSTER, "tier1", at(8, 0)) == "bob"
    assert who(ROSTER, "tier1", at(8, 0, day=16)) == "alice"
    assert who(ROSTER, "tier2", at(0, 0, day=19)) == "dave"


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    assert escalation.on_call(ROSTER, "tier1", datetime(2026, 1, 14, 8, tzinfo=UTC) - SEC) is None


def test_unknown_rotation() -> None:
    with pytest.raises(NotFoundError, match="no rotation named 'tier9'"):
        escalation.on_call(ROSTER, "tier9", T0)


def test_overrides_take_precedence_and_later_ones_win() -> None:
    roster = make_roster(
        overrides=(
            Override("erin", T0, T0 + 2 * HOUR, "tier1"),
            Override("frank", T0 + HOUR, T0 + 90 * MIN, "tier1"),
        )
    )

    assert who(roster, "tier1", T0 - SEC) == "alice"
    assert who(roster, "tier1", T0) == "erin"
    assert who(roster, "tier1", T0 + HOUR) == "frank"
    assert who(roster, "tier1", T0 + 90 * MIN) == "erin"
    assert who(roster, "tier1", T0 + 2 * HOUR - SEC) == "erin"
    # The end is exclusive; bob's regular shift began at 08:00.
    assert who(roster, "tier1", T0 + 2 * HOUR) == "bob"


def test_roster_validation() -> None:
    with pytest.raises(ValueError, match="unknown nobody"):
        Roster((person("a"),), (Rotation("t", ("a", "nobody"), T0),))
    with pytest.raises(ValueError, match="duplicate person a"):
        Roster((person("a"), person("a")), ())
    with pytest.raises(ValueError, match="unknown rotation"):
        Roster((person("a"),), (), (Override("a", T0, T0 + HOUR, "t"),))
    with pytest.raises(ValueError, match="no members"):
        Rotation("t", (), T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Rotation("t", ("a",), datetime(2026, 1, 1))


def berlin_daily() -> Rotation:
    # From Monday 2025-10-20, 09:00 CEST (07:00 UTC). Summer time ends Sunday 2025-10-26,
    # 03:00 CEST -> 02:00 CET (the last Sunday of October).
    return Rotation(
        "tier1",
        ("alice", "bob", "carol"),
        datetime(2025, 10, 20, 7, 0, tzinfo=UTC),
        timedelta(days=1),
        "Europe/Berlin",
    )


def test_dst_end_daily_handoff_stays_at_0900_local() -> None:
    rot = berlin_daily()
    roster = Roster(tuple(person(n) for n in ("alice", "bob", "carol")), (rot,))
    assert rot.handoff == time(9, 0)
    saturday = datetime(2025, 10, 25, 7, 0, tzinfo=UTC)  # 09:00 CEST
    sunday = datetime(2025, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET, after the change
    monday = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # 09:00 CET
    for handoff in (saturday, sunday, monday):
        assert handoff.astimezone(BERLIN).time() == time(9, 0)
    assert [shift_index(rot, t) for t in (saturday - SEC, saturday)] == [4, 5]
    assert [shift_index(rot, t) for t in (sunday - SEC, sunday)] == [5, 6]
    assert [shift_index(rot, t) for t in (monday - SEC, monday)] == [6, 7]
    # A fixed 24 h shift would have handed off at 07:00 UTC (08:00 CET) on Sunday.
    assert who(roster, "tier1", datetime(2025, 10, 26, 7, 30, tzinfo=UTC)) == "carol"
    assert who(roster, "tier1", sunday) == "alice"
    sat = escalation.shift_at(rot, saturday)
    assert sat is not None and (sat.start, sat.end) == (saturday, sunday)
    assert sat.end - sat.start == timedelta(hours=25)


def test_dst_weekly_and_spring_forward() -> None:
    weekly = replace(berlin_daily(), shift=timedelta(days=7))
    week = escalation.shift_at(weekly, datetime(2025, 10, 26, 12, tzinfo=UTC))
    assert week is not None
    assert (week.start, week.end) == (
        datetime(2025, 10, 20, 7, 0, tzinfo=UTC),
        datetime(2025, 10, 27, 8, 0, tzinfo=UTC),  # Monday 09:00 CET
    )
    # Summer time starts Sunday 2026-03-29: 09:00 CEST is 07:00 UTC again, 23 h later.
    spring = escalation.shift_at(berlin_daily(), datetime(2026, 3, 29, 7, 0, tzinfo=UTC))
    assert spring is not None
    assert spring.start == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    before = escalation.shift_at(berlin_daily(), spring.start - SEC)
    assert before is not None and before.end == spring.start
    assert before.end - before.start == timedelta(hours=23)


# -- the functional and hierarchical timers ---------------------------------------------------


@pytest.mark.parametrize(
    ("make", "key", "after"),
    [
        (p0, "functional:tier2", 15 * MIN),
        (p0, "functional:tier3", 30 * MIN),
        (p0, "hierarchical:management", 30 * MIN),
        (p0, "hierarchical:executive", 2 * HOUR),
        (p1, "functional:tier2", 30 * MIN),
        (p1, "functional:tier3", 60 * MIN),
        (p1, "hierarchical:management", 2 * HOUR),
    ],
)
def test_rule_boundary(make: Callable[[], Incident], key: str, after: timedelta) -> None:
    # Acknowledged at once: the spec escalates tiers while the issue is *unresolved*.
    inc = models.acknowledge(make(), T0 + MIN, "alice")
    inc = run(inc, T0 + after - MIN)
    assert key not in due(inc, T0 + after - SEC)
    assert key in due(inc, T0 + after)
    fired = escalation.apply(
        inc, escalation.due(inc, DEFAULT_POLICY, ROSTER, T0 + after), T0 + after
    )
    assert fired.escalations_fired[key] == T0 + after
    assert key not in due(fired, T0 + after)
    assert key not in due(fired, T0 + after + 5 * HOUR)


def test_p1_never_reaches_executive_and_p3_escalates_nothing() -> None:
    inc = run(models.acknowledge(p1(), T0 + MIN, "alice"), T0 + 24 * HOUR)
    assert "hierarchical:executive" not in inc.escalations_fired
    assert due(incident(Impact.LOW, Urgency.LOW), T0 + 24 * HOUR) == []


def test_first_page_and_repeats_until_acknowledged() -> None:
    inc = p0()
    assert due(inc, T0 - SEC) == []
    assert due(inc, T0) == ["functional:tier1"]
    inc = run(inc, T0)
    assert due(inc, T0 + 5 * MIN - SEC) == []
    assert due(inc, T0 + 5 * MIN) == ["functional:tier1#1"]
    inc = run(inc, T0 + 5 * MIN)
    assert due(inc, T0 + 5 * MIN) == []
    assert due(inc, T0 + 10 * MIN) == ["functional:tier1#2"]
    inc = run(inc, T0 + 14 * MIN)
    assert due(inc, T0 + 15 * MIN) == ["functional:tier2"]  # repeat=2: no third repeat


def test_acknowledgement_stops_repeat_paging() -> None:
    inc = models.acknowledge(run(p0(), T0 + 3 * MIN), T0 + 3 * MIN, "alice")
    assert due(inc, T0 + 5 * MIN) == []
    assert due(inc, T0 + 10 * MIN) == []


def test_acknowledgement_stops_functional_escalation_when_the_policy_says_so() -> None:
    # OnCall / PagerDuty semantics: an acknowledged incident stops escalating.
    oncall_style = EscalationPolicy(
        {
            Priority.P0: (
                EscalationStep(0 * MIN, "tier1", F, StopOn.ACKNOWLEDGED),
                EscalationStep(15 * MIN, "tier2", F, StopOn.ACKNOWLEDGED),
            )
        },
        renotify=False,
    )
    inc = run(p0(), T0 + 10 * MIN, oncall_style)
    assert due(inc, T0 + 15 * MIN, oncall_style) == ["functional:tier2"]
    acked = models.acknowledge(inc, T0 + 10 * MIN, "alice")
    assert due(acked, T0 + 15 * MIN, oncall_style) == []
    # The default policy follows the flow: Tier 2 when *unresolved* after 15 min.
    assert "functional:tier2" in due(acked, T0 + 15 * MIN)


def test_mitigation_stops_steps_that_stop_on_mitigation() -> None:
    policy = EscalationPolicy(
        {Priority.P0: (EscalationStep(30 * MIN, "tier3", F, StopOn.MITIGATED),)}, renotify=False
    )
    inc = models.set_milestone(p0(), models.Milestone.MITIGATED, T0 + 20 * MIN, "carol")
    assert due(inc, T0 + 30 * MIN, policy) == []
    assert due(p0(), T0 + 30 * MIN, policy) == ["functional:tier3"]


@pytest.mark.parametrize("final", [S.RESOLVED, S.CLOSED])
def test_resolution_stops_everything(final: IncidentStatus) -> None:
    inc = run(p0(security_breach=True), T0 + 20 * MIN)
    inc = models.transition(inc, S.RESOLVED, T0 + 20 * MIN, "ivy", "rolled back")
    if final is S.CLOSED:
        inc = models.transition(inc, S.CLOSED, T0 + 40 * MIN, "ivy", "PIR done")
    for later in (T0 + 20 * MIN, T0 + 30 * MIN, T0 + 2 * HOUR, T0 + 24 * HOUR):
        assert due(inc, later) == []


def test_nothing_before_detection() -> None:
    assert due(p0(), T0 - HOUR) == []


# -- re-notify --------------------------------------------------------------------------------


def test_renotify_after_quiet_and_every_cadence() -> None:
    inc = models.acknowledge(run(p0(), T0 + 2 * MIN), T0 + 2 * MIN, "alice")
    inc = models.assign_role(inc, Role.INCIDENT_COMMANDER, "ivy", T0 + 2 * MIN, "alice")
    renotify = "renotify:2026-01-15T07:52:00+00:00"

    def reminders(at: datetime) -> list[Escalation]:
        return [e for e in escalation.due(inc, DEFAULT_POLICY, ROSTER, at) if e.kind is R]

    assert reminders(T0 + 17 * MIN - SEC) == []
    (first,) = reminders(T0 + 17 * MIN)
    assert (first.key, first.target, first.person) == (
        f"{renotify}#1",
        "incident_commander",
        ROSTER.person("ivy"),
    )
    assert first.reason == "P0 acknowledged but no update for 15 min"
    inc = run(inc, T0 + 17 * MIN)
    assert reminders(T0 + 17 * MIN) == []
    assert reminders(T0 + 32 * MIN - SEC) == []  # its own entry is not an update
    assert [e.key for e in reminders(T0 + 32 * MIN)] == [f"{renotify}#2"]
    inc = run(inc, T0 + 39 * MIN)
    inc = models.record(inc, TimelineKind.MESSAGE, T0 + 40 * MIN, "ivy", "rolling back")
    assert reminders(T0 + 55 * MIN - SEC) == []
    assert [e.key for e in reminders(T0 + 55 * MIN)] == ["renotify:2026-01-15T08:30:00+00:00#1"]


def test_renotify_only_when_acknowledged_and_at_the_priority_cadence() -> None:
    inc = run(p0(), T0 + 3 * HOUR)
    assert not [k for k in inc.escalations_fired if k.startswith("renotify")]
    acked = models.acknowledge(p1(), T0 + MIN, "alice")
    assert [k for k in due(acked, T0 + 31 * MIN - SEC) if k.startswith("renotify")] == []
    assert [k for k in due(acked, T0 + 31 * MIN) if k.startswith("renotify")] == [
        "renotify:2026-01-15T07:51:00+00:00#1"
    ]


def test_renotify_falls_back_to_the_on_call_rotation() -> None:
    inc = models.acknowledge(p0(), T0 + 2 * MIN, "alice")
    (reminder,) = [
        e for e in escalation.due(inc, DEFAULT_POLICY, ROSTER, T0 + 17 * MIN) if e.kind is R
    ]
    assert (reminder.target, reminder.person) == ("tier1", ROSTER.person("bob"))


def test_a_late_engine_sends_one_repeat_not_a_burst() -> None:
    inc = run(p0(), T0)
    assert due(inc, T0 + 14 * MIN) == ["functional:tier1#2"]
    acked = models.acknowledge(inc, T0 + MIN, "alice")
    late = escalation.apply(
        acked, escalation.due(acked, DEFAULT_POLICY, ROSTER, T0 + 60 * MIN), T0 + 60 * MIN
    )
    reminders = [k for k in late.escalations_fired if k.startswith("renotify")]
    assert reminders == ["renotify:2026-01-15T07:51:00+00:00#3"]


# -- security breach, data loss, major incidents ----------------------------------------------


@pytest.mark.parametrize("flag", ["security_breach", "data_loss"])
def test_breach_or_data_loss_goes_to_executive_legal_and_compliance_immediately(
    flag: str,
) -> None:
    inc = incident(Impact.LOW, Urgency.HIGH, **{flag: True})  # a P2
    assert inc.priority is Priority.P2
    compliance, exec_, legal = [
        e for e in escalation.due(inc, DEFAULT_POLICY, ROSTER, T0) if e.kind is H
    ]
    assert (exec_.key, exec_.target, exec_.person, exec_.at) == (
        "hierarchical:executive",
        "executive",
        ROSTER.person("grace"),
        T0,
    )
    assert exec_.reason.endswith("notify executive immediately")
    assert (legal.key, legal.person, legal.at) == ("hierarchical:legal", ROSTER.person("lena"), T0)
    assert legal.reason.endswith("notify legal immediately")
    # Nobody holds compliance: it still comes back, with the problem spelled out.
    assert (compliance.key, compliance.person, compliance.at) == (
        "hierarchical:compliance",
        None,
        T0,
    )
    assert "no one holds compliance" in compliance.problem
    inc = run(inc, T0 + 24 * HOUR)
    for target in ("executive", "legal", "compliance"):
        assert inc.escalations_fired[f"hierarchical:{target}"] == T0


def test_a_major_incident_alone_does_not_page_legal() -> None:
    a = open_with_commander(1, Impact.HIGH, "ivy")
    targets = {e.target for e in escalation.due(a, DEFAULT_POLICY, ROSTER, T0, major=True)}
    assert "executive" in targets
    assert not {"legal", "compliance"} & targets


def test_regulatory_deadlines_count_from_when_the_breach_was_recorded() -> None:
    rules = (
        escalation.RegulatoryRule("HIPAA breach notice", 60 * 24 * HOUR, on_security_breach=False),
        *escalation.DEFAULT_REGULATORY,
    )
    inc = run(p1(), T0 + 39 * MIN)
    assert escalation.regulatory_deadlines(inc, rules) == []
    inc = models.set_flags(inc, at=T0 + 40 * MIN, by="sec", reason="exfil", security_breach=True)
    ((rule, due_at),) = escalation.regulatory_deadlines(inc, rules)  # HIPAA: data loss only
    assert rule.name.startswith("GDPR") and due_at == T0 + 40 * MIN + 72 * HOUR
    inc = models.set_flags(inc, at=T0 + 50 * MIN, by="sec", reason="rows gone", data_loss=True)
    found = escalation.regulatory_deadlines(inc, rules)
    # Both counted from the first flag (40 min), earliest due first.
    assert [(r.name[:5], d) for r, d in found] == [
        ("GDPR ", T0 + 40 * MIN + 72 * HOUR),
        ("HIPAA", T0 + 40 * MIN + 60 * 24 * HOUR),
    ]
    with pytest.raises(ValueError, match="must be positive"):
        escalation.RegulatoryRule("x", timedelta(0))
    with pytest.raises(ValueError, match="applies to nothing"):
        escalation.RegulatoryRule("x", HOUR, on_security_breach=False, on_data_loss=False)


def test_breach_found_later_escalates_when_recorded() -> None:
    inc = run(p1(), T0 + 39 * MIN)
    assert "hierarchical:executive" not in due(inc, T0 + 40 * MIN)
    inc = models.set_flags(
        inc, at=T0 + 40 * MIN, by="sec", reason="exfiltration", security_breach=True
    )
    _, exec_, _ = [
        e for e in escalation.due(inc, DEFAULT_POLICY, ROSTER, T0 + 40 * MIN) if e.kind is H
    ]
    assert exec_.at == T0 + 40 * MIN
    assert exec_.reason == "security breach: notify executive immediately"


def open_with_commander(n: int, prio: Impact, commander: str | None) -> Incident:
    inc = replace(incident(prio, Urgency.MEDIUM), id=f"INC-2026-01-15-00{n}")
    if commander:
        inc = models.assign_role(inc, Role.INCIDENT_COMMANDER, commander, T0, "x")
    return inc


def test_major_incident() -> None:
    a = open_with_commander(1, Impact.HIGH, "ivy")  # P1
    b = open_with_commander(2, Impact.HIGH, "ivy")  # P1
    c = open_with_commander(3, Impact.MEDIUM, None)  # P2
    assert not escalation.major_incident([a, c])
    assert escalation.major_incident([a, b, c])
    resolved = models.transition(b, S.RESOLVED, T0 + HOUR, "ivy")
    assert not escalation.major_incident([a, resolved])
    state = escalation.major_incident_state([a, b, c])
    assert state is not None
    assert state.incidents == ("INC-2026-01-15-001", "INC-2026-01-15-002")
    assert state.change_freeze and state.separate_commanders and state.executive_notification
    assert state.shared_commanders == (("ivy", ("INC-2026-01-15-001", "INC-2026-01-15-002")),)
    assert state.missing_commander == ()
    assert escalation.major_incident_state([a, c]) is None
    # Declared major: executives hear at once, for P0/P1 only.
    assert "hierarchical:executive" in [
        e.key for e in escalation.due(a, DEFAULT_POLICY, ROSTER, T0 + MIN, major=True)
    ]
    assert "hierarchical:executive" not in [
        e.key for e in escalation.due(c, DEFAULT_POLICY, ROSTER, T0 + MIN, major=True)
    ]


# -- who gets the page ------------------------------------------------------------------------


def test_person_without_contacts_falls_back_to_the_next_member() -> None:
    roster = make_roster(Person("carol"))
    (page,) = [
        e for e in escalation.due(run(p0(), T0 + 14 * MIN), DEFAULT_POLICY, roster, T0 + 15 * MIN)
    ]
    assert page.person == roster.person("dave")
    assert page.problem == (
        "carol (on call for tier2) has no contact address; notifying dave instead"
    )


def test_nobody_reachable_is_reported_not_skipped() -> None:
    roster = make_roster(Person("erin", {"email": " "}))
    inc = run(p0(), T0 + 29 * MIN)
    tier3 = [
        e for e in escalation.due(inc, DEFAULT_POLICY, roster, T0 + 30 * MIN) if e.target == "tier3"
    ]
    assert [(e.person, e.problem) for e in tier3] == [
        (
            None,
            "erin (on call for tier3) has no contact address; nobody on the tier3 rotation is reachable",
        )
    ]
    fired = escalation.apply(inc, tier3, T0 + 30 * MIN)
    assert fired.timeline[-1].data["problem"] is not None
    assert "nobody reachable" in fired.timeline[-1].summary


def test_steps_can_target_an_assigned_role() -> None:
    policy = EscalationPolicy(
        {Priority.P0: (EscalationStep(0 * MIN, "incident_commander", H),)}, renotify=False
    )
    inc = models.assign_role(p0(), Role.INCIDENT_COMMANDER, "ivy", T0, "alice")
    (page,) = escalation.due(inc, policy, ROSTER, T0)
    assert page.person == ROSTER.person("ivy")
    (unassigned,) = escalation.due(p0(), policy, ROSTER, T0)
    assert unassigned.person is None
    assert (
        unassigned.problem == "no one holds incident_commander: not assigned and no such rotation"
    )


def test_apply_is_idempotent_and_refuses_early_escalations() -> None:
    inc = p0()
    pages = escalation.due(inc, DEFAULT_POLICY, ROSTER, T0)
    once = escalation.apply(inc, pages, T0)
    assert escalation.apply(once, pages, T0 + MIN) is once
    tier2 = escalation.due(run(p0(), T0 + 14 * MIN), DEFAULT_POLICY, ROSTER, T0 + 15 * MIN)
    with pytest.raises(ValueError, match="not due until"):
        escalation.apply(inc, tier2, T0 + 14 * MIN)


def test_due_is_pure() -> None:
    inc = models.acknowledge(p0(), T0 + 2 * MIN, "alice")
    now = T0 + 3 * HOUR
    assert escalation.due(inc, DEFAULT_POLICY, ROSTER, now) == escalation.due(
        inc, DEFAULT_POLICY, ROSTER, now
    )
    assert inc.escalations_fired == {}


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="share a target"):
        EscalationPolicy({Priority.P0: (EscalationStep(0 * MIN, "t"), EscalationStep(MIN, "t"))})
    with pytest.raises(ValueError, match="must not be negative"):
        EscalationStep(-MIN, "t")


# -- a day in the life of a P0 ----------------------------------------------------------------


def test_p0_scenario_over_24_hours() -> None:
    """Detected 07:50 UTC (08:50 in Berlin, ten minutes before tier 1's handoff), acked
    late by the incoming on-call, a failed rollback, resolved 10:30, closed next morning."""
    events: dict[datetime, Callable[[Incident], Incident]] = {
        at(7, 53): lambda i: priority.triage(
            i, impact=Impact.HIGH, urgency=Urgency.HIGH, at=at(7, 53), by="alice"
        ),
        at(8, 2): lambda i: models.acknowledge(i, at(8, 2), "bob"),
        at(8, 3): lambda i: models.assign_role(i, Role.INCIDENT_COMMANDER, "ivy", at(8, 3), "bob"),
        at(8, 10): lambda i: models.transition(i, S.INVESTIGATING, at(8, 10), "ivy"),
        at(8, 20): lambda i: models.record(
            i, TimelineKind.NOTE, at(8, 20), "carol", "pool exhausted since 2.4.1?"
        ),
        at(8, 40): lambda i: models.transition(i, S.MITIGATING, at(8, 40), "ivy", "roll back"),
        at(9, 12): lambda i: models.transition(
            i, S.INVESTIGATING, at(9, 12), "ivy", "rollback did not help"
        ),
        at(9, 45): lambda i: models.record(
            i, TimelineKind.MESSAGE, at(9, 45), "ivy", "status page updated"
        ),
        at(10, 30): lambda i: models.transition(i, S.RESOLVED, at(10, 30), "ivy", "pool raised"),
        T0 + 20 * HOUR: lambda i: models.transition(i, S.CLOSED, T0 + 20 * HOUR, "ivy", "PIR held"),
    }
    inc = p0()
    fired: list[tuple[datetime, str, str, str | None]] = []
    for minute in range(24 * 60 + 1):
        now = T0 + minute * MIN
        if now in events:
            inc = events[now](inc)
        escalations = escalation.due(inc, DEFAULT_POLICY, ROSTER, now)
        assert all(e.at == now for e in escalations)  # an engine on time is never late
        inc = escalation.apply(inc, escalations, now)
        assert escalation.due(inc, DEFAULT_POLICY, ROSTER, now) == []
        fired += [(now, e.kind, e.target, e.person.name if e.person else None) for e in escalations]

    assert fired == [
        (at(7, 50), F, "tier1", "alice"),
        (at(7, 55), F, "tier1", "alice"),  # unacknowledged: repeat 1
        (at(8, 0), F, "tier1", "bob"),  # repeat 2, to the new on-call (09:00 Berlin)
        (at(8, 5), F, "tier2", "carol"),  # acknowledged, but unresolved at 15 min
        (at(8, 20), F, "tier3", "erin"),
        (at(8, 20), H, "management", "frank"),
        (at(8, 35), R, "incident_commander", "ivy"),  # quiet since the 08:20 note
        (at(8, 55), R, "incident_commander", "ivy"),  # quiet since 08:40
        (at(9, 10), R, "incident_commander", "ivy"),
        (at(9, 27), R, "incident_commander", "ivy"),  # quiet since 09:12
        (at(9, 42), R, "incident_commander", "ivy"),
        (at(9, 50), H, "executive", "grace"),  # unresolved after 2 h
        (at(10, 0), R, "incident_commander", "ivy"),  # quiet since 09:45
        (at(10, 15), R, "incident_commander", "ivy"),
    ]
    assert inc.status is S.CLOSED
    escalated = [e for e in inc.timeline if e.kind is TimelineKind.ESCALATED]
    assert [(e.at, e.data["target"]) for e in escalated] == [(f[0], f[2]) for f in fired]
    assert len(inc.escalations_fired) == len(fired)
