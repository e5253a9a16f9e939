"""Root cause analysis (5 Whys, fishbone), preventive actions and PIR timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watchstander.errors import InputError, UsageError
from watchstander.incident.rca import (
    MAX_WHYS,
    ActionStatus,
    Category,
    Cause,
    Fishbone,
    FiveWhys,
    Horizon,
    PreventiveAction,
    Why,
    cross_check,
    due_date,
    due_reminders,
    overdue,
    pir_due,
    pir_late,
    pir_required,
)

ROOT = "the migration added no index on orders.created_at"


def whys_data() -> dict[str, Any]:
    return {
        "problem": "Checkout returned 500s for 40 minutes",
        "whys": [
            {"why": "Why did checkout fail?", "answer": "The orders query timed out"},
            {"why": "Why did the query time out?", "answer": "It scanned the whole table"},
            {"answer": f"Because {ROOT}."},
        ],
        "root_cause": ROOT,
        "validation": "EXPLAIN shows a seq scan; adding the index fixes it in staging",
    }


def fishbone_data() -> dict[str, Any]:
    return {
        "problem": "Checkout 500s",
        "people": ["reviewer unfamiliar with the orders schema"],
        "process": ["no query-plan check in CI"],
        "technology": [{"cause": f"{ROOT}", "primary": True}, "connection pool exhausted"],
        "environment": ["Black Friday traffic"],
    }


# -- 5 Whys --------------------------------------------------------------------------------------


def test_valid_five_whys() -> None:
    w = FiveWhys.from_yaml_data(whys_data(), "rca.yaml")
    assert w.validate() == ()
    assert w.whys[0] == Why("Why did checkout fail?", "The orders query timed out")
    assert w.whys[2].why == ""  # the question may be left out
    why, answer = w.whys[1]  # whys are (why, answer) pairs
    assert answer == "It scanned the whole table"
    assert w.validation.startswith("EXPLAIN")


def test_whys_may_be_plain_answers() -> None:
    data = whys_data()
    data["whys"] = ["The orders query timed out", f"because {ROOT}"]
    w = FiveWhys.from_yaml_data(data, "rca.yaml")
    assert [x.answer for x in w.whys] == ["The orders query timed out", f"because {ROOT}"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(whys=[]), "rca.yaml: whys: empty; at least one why is needed"),
        (lambda d: d.pop("whys"), "rca.yaml: whys: empty; at least one why is needed"),
        (lambda d: d["whys"][2].update(answer="  "), "rca.yaml: whys[2].answer: empty"),
        (lambda d: d["whys"][1].update(answer="the orders query timed out."),
         "rca.yaml: whys[1].answer: repeats whys[0].answer"),
        (lambda d: d.update(root_cause=""), "rca.yaml: root_cause: empty"),
        (lambda d: d.update(root_cause="bad luck"),
         "rca.yaml: root_cause: not where the chain ends (whys[2].answer)"),
        (lambda d: d.update(problem=""), "rca.yaml: problem: empty"),
        (lambda d: d["whys"].extend({"answer": f"level {i}"} for i in range(MAX_WHYS - 2)),
         "rca.yaml: whys: 8 levels; at most 7"),
    ],
)  # fmt: skip
def test_invalid_five_whys_name_the_field(change: Any, message: str) -> None:
    data = whys_data()
    change(data)
    with pytest.raises(InputError) as exc:
        FiveWhys.from_yaml_data(data, "rca.yaml")
    assert message in str(exc.value).splitlines()


def test_seven_levels_are_allowed() -> None:
    data = whys_data()
    data["whys"][2:2] = [{"answer": f"level {i}"} for i in range(MAX_WHYS - 3)]
    assert len(FiveWhys.from_yaml_data(data, "rca.yaml").whys) == MAX_WHYS


def test_root_cause_may_restate_the_last_answer_more_fully() -> None:
    w = FiveWhys(
        "p",
        (Why("", "a"), Why("", "missing index")),
        "Root cause: the migration had a missing index.",
    )
    assert w.validate() == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "rca.yaml: (top): expected a mapping, got list"),
        ({"problem": "p", "whys": "x", "root_cause": "r"}, "rca.yaml: whys: expected a list, got str"),
        ({"problem": "p", "whys": [3], "root_cause": "r"}, "rca.yaml: whys[0]: expected a mapping, got int"),
        ({"problem": "p", "whys": [{"why": "w"}], "root_cause": "r"}, "rca.yaml: whys[0].answer: missing"),
        ({"problem": "p", "whys": [{"answer": 4}], "root_cause": "r"}, "rca.yaml: whys[0].answer: expected text, got int"),
        ({"problem": "p", "whys": [{"answr": "a"}], "root_cause": "a"}, "rca.yaml: whys[0].answr: unknown field"),
        ({"problem": "p", "whys": ["a"]}, "rca.yaml: root_cause: missing"),
        ({"problem": "p", "whys": ["a"], "root": "a"}, "rca.yaml: root: unknown field"),
    ],
)  # fmt: skip
def test_malformed_five_whys(data: Any, message: str) -> None:
    with pytest.raises(InputError) as exc:
        FiveWhys.from_yaml_data(data, "rca.yaml")
    assert str(exc.value) == message


def test_every_problem_is_reported_with_a_prefix() -> None:
    data = {"problem": "", "whys": [{"answer": ""}], "root_cause": ""}
    with pytest.raises(InputError) as exc:
        FiveWhys.from_yaml_data(data, "rca.yaml", at="five_whys.")
    assert str(exc.value).splitlines() == [
        "rca.yaml: five_whys.problem: empty",
        "rca.yaml: five_whys.whys[0].answer: empty",
        "rca.yaml: five_whys.root_cause: empty",
    ]


# -- fishbone ------------------------------------------------------------------------------------


def test_valid_fishbone() -> None:
    f = Fishbone.from_yaml_data(fishbone_data(), "rca.yaml")
    assert f.validate() == ()
    assert f.primary == Cause(Category.TECHNOLOGY, ROOT, primary=True)
    assert f.where(f.causes[3]) == "technology[1]"
    assert [c.category for c in f.causes] == [
        Category.PEOPLE,
        Category.PROCESS,
        Category.TECHNOLOGY,
        Category.TECHNOLOGY,
        Category.ENVIRONMENT,
    ]
    assert len(f.in_category(Category.TECHNOLOGY)) == 2


def test_a_category_may_be_empty() -> None:
    data = fishbone_data()
    del data["people"], data["environment"]
    assert Fishbone.from_yaml_data(data, "rca.yaml").validate() == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["process"].append(" "), "rca.yaml: process[1]: empty"),
        (lambda d: d["process"].append("No query-plan check in CI."),
         "rca.yaml: process[1]: repeats process[0]"),
        (lambda d: d["technology"][0].update(primary=False),
         "rca.yaml: primary: no cause is marked primary; mark exactly one"),
        (lambda d: d["people"].__setitem__(0, {"cause": "tired", "primary": True}),
         "rca.yaml: primary: 2 causes marked primary (people[0], technology[0]); mark exactly one"),
        (lambda d: d.update(problem=" "), "rca.yaml: problem: empty"),
        (lambda d: [d.pop(k) for k in ("people", "process", "technology", "environment")],
         "rca.yaml: causes: none; name at least one contributing factor"),
    ],
)  # fmt: skip
def test_invalid_fishbone_names_the_field(change: Any, message: str) -> None:
    data = fishbone_data()
    change(data)
    with pytest.raises(InputError) as exc:
        Fishbone.from_yaml_data(data, "rca.yaml")
    assert message in str(exc.value).splitlines()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(machines=["x"]),
         "rca.yaml: machines: unknown category; expected people, process, technology, environment"),
        (lambda d: d.update(people="tired"), "rca.yaml: people: expected a list, got str"),
        (lambda d: d["technology"][0].update(primary="yes"),
         "rca.yaml: technology[0].primary: expected true or false"),
        (lambda d: d["technology"][0].pop("cause"), "rca.yaml: technology[0].cause: missing"),
        (lambda d: d["technology"][0].update(weight=3), "rca.yaml: technology[0].weight: unknown field"),
    ],
)  # fmt: skip
def test_malformed_fishbone(change: Any, message: str) -> None:
    data = fishbone_data()
    change(data)
    with pytest.raises(InputError) as exc:
        Fishbone.from_yaml_data(data, "rca.yaml")
    assert str(exc.value) == message


def test_fishbone_primary_should_be_the_root_cause() -> None:
    w = FiveWhys.from_yaml_data(whys_data(), "rca.yaml")
    f = Fishbone.from_yaml_data(fishbone_data(), "rca.yaml")
    assert cross_check(w, f) == ()
    data = fishbone_data()
    data["technology"][0]["primary"] = False
    data["environment"] = [{"cause": "Black Friday traffic", "primary": True}]
    other = Fishbone.from_yaml_data(data, "rca.yaml")
    (problem,) = cross_check(w, other)
    assert problem.startswith("environment[0]: the primary cause is not the 5 Whys root cause")


# -- preventive actions ----------------------------------------------------------------------------

PIR = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("horizon", "due"),
    [
        (Horizon.WEEK, datetime(2026, 2, 7, 15, 0, tzinfo=UTC)),
        (Horizon.MONTH, datetime(2026, 2, 28, 15, 0, tzinfo=UTC)),  # clamped to February
        (Horizon.QUARTER, datetime(2026, 4, 30, 15, 0, tzinfo=UTC)),
    ],
)
def test_due_dates_from_the_pir(horizon: Horizon, due: datetime) -> None:
    assert due_date(horizon, PIR) == due


def test_due_dates_cross_the_year() -> None:
    assert due_date(Horizon.QUARTER, datetime(2026, 11, 21, tzinfo=UTC)) == datetime(
        2027, 2, 21, tzinfo=UTC
    )
    assert due_date(Horizon.MONTH, datetime(2028, 1, 30, tzinfo=UTC)).day == 29  # leap year


def actions() -> tuple[PreventiveAction, ...]:
    return (
        PreventiveAction.plan("PA-1", "Add the index", "dba", Horizon.WEEK, pir_at=PIR),
        PreventiveAction.plan(
            "PA-2", "Query-plan check in CI", "devops", Horizon.MONTH, pir_at=PIR
        ),
        PreventiveAction.plan("PA-3", "Load test before sales", "sre", Horizon.QUARTER, pir_at=PIR),
    )


def test_reminders_at_their_boundaries() -> None:
    a = actions()
    due = a[0].due
    before = timedelta(days=2)
    assert due_reminders(a, due - before - timedelta(seconds=1), remind_before=before) == ()
    assert due_reminders(a, due - before, remind_before=before) == (a[0],)
    assert due_reminders(a, due, remind_before=before) == (a[0],)  # still on time
    assert due_reminders(a, due + timedelta(seconds=1), remind_before=before) == ()


def test_overdue_at_the_boundary() -> None:
    a = actions()
    assert overdue(a, a[0].due) == ()
    assert overdue(a, a[0].due + timedelta(seconds=1)) == (a[0],)
    assert overdue(a, a[2].due + timedelta(days=1)) == a  # oldest due first


def test_closed_actions_never_remind_or_go_overdue() -> None:
    done = PreventiveAction(
        "PA-1", "x", "dba", Horizon.WEEK, due_date(Horizon.WEEK, PIR), ActionStatus.DONE, PIR
    )
    dropped = PreventiveAction(
        "PA-2", "y", "dba", Horizon.WEEK, due_date(Horizon.WEEK, PIR), ActionStatus.NOT_DOING
    )
    late = PIR + timedelta(days=30)
    assert overdue([done, dropped], late) == ()
    assert due_reminders([done, dropped], done.due, remind_before=timedelta(days=1)) == ()


def test_reminders_need_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        overdue(actions(), datetime(2026, 2, 1))


def test_actions_from_yaml() -> None:
    data = [
        {"id": "PA-1", "title": "Add the index", "owner": "dba", "horizon": "1 week"},
        {"id": "PA-2", "title": "CI check", "owner": "devops", "horizon": "short-term",
         "status": "done", "done_at": "2026-02-10T09:00:00+00:00"},
        {"id": "PA-3", "title": "Load test", "owner": "sre", "horizon": "3 months",
         "status": "not doing"},
    ]  # fmt: skip
    a = PreventiveAction.list_from_yaml_data(data, "preventive-actions.yaml", pir_at=PIR)
    assert [x.horizon for x in a] == [Horizon.WEEK, Horizon.MONTH, Horizon.QUARTER]
    assert a[1].status is ActionStatus.DONE
    assert a[1].done_at == datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
    assert a[2].status is ActionStatus.NOT_DOING
    assert a[0].due == datetime(2026, 2, 7, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"title": "t", "owner": "o", "horizon": "1 week"}, "f.yaml: actions[0].id: missing"),
        ({"id": "A", "title": "t", "owner": " ", "horizon": "1 week"}, "f.yaml: actions[0].owner: empty"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "2 weeks"},
         "f.yaml: actions[0].horizon: '2 weeks'; expected 1 week, 1 month or 3 months"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "1 week", "status": "wip"},
         "f.yaml: actions[0].status: 'wip'; expected open, done or not_doing"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "1 week", "status": "done"},
         "f.yaml: actions[0].done_at: missing; a done action needs it"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "1 week", "status": "done",
          "done_at": "2026-02-01T10:00:00"}, "f.yaml: actions[0].done_at: needs a timezone"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "1 week", "status": "done",
          "done_at": "yesterday"}, "f.yaml: actions[0].done_at: not an ISO 8601 time"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "1 week",
          "done_at": "2026-02-01T10:00:00+00:00"}, "f.yaml: actions[0].done_at: set on an open action"),
        ({"id": "A", "title": "t", "owner": "o", "horizon": "1 week", "due": "2026-02-01"},
         "f.yaml: actions[0].due: unknown field"),
    ],
)  # fmt: skip
def test_malformed_actions(item: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as exc:
        PreventiveAction.list_from_yaml_data([item], "f.yaml", pir_at=PIR)
    assert message in str(exc.value).splitlines()


def test_action_ids_are_unique() -> None:
    item = {"id": "A", "title": "t", "owner": "o", "horizon": "1 week"}
    with pytest.raises(InputError, match=r"actions\[1\]\.id: repeats actions\[0\]\.id"):
        PreventiveAction.list_from_yaml_data([item, item], "f.yaml", pir_at=PIR)
    with pytest.raises(InputError, match="f.yaml: actions: expected a list, got dict"):
        PreventiveAction.list_from_yaml_data(item, "f.yaml", pir_at=PIR)


# -- the PIR ----------------------------------------------------------------------------------------

RESOLVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_pir_due_by_priority() -> None:
    assert pir_due("P0", RESOLVED) == RESOLVED + timedelta(hours=24)
    assert pir_due("P1", RESOLVED) == RESOLVED + timedelta(hours=48)
    assert pir_due("SEV3", RESOLVED) == RESOLVED + timedelta(days=7)
    assert pir_due("P3", RESOLVED) is None
    assert [pir_required(p) for p in ("P0", "P1", "P2", "P3")] == [True, True, False, False]
    with pytest.raises(UsageError):
        pir_due("urgent", RESOLVED)


def test_p1_pir_is_late_after_48_hours() -> None:
    due = RESOLVED + timedelta(hours=48)
    assert not pir_late("P1", RESOLVED, due)
    assert pir_late("P1", RESOLVED, due + timedelta(seconds=1))
    assert not pir_late("P1", RESOLVED, due + timedelta(days=3), held_at=due)
    assert pir_late("P1", RESOLVED, due, held_at=due + timedelta(minutes=1))


def test_p0_pir_is_late_after_24_hours() -> None:
    assert not pir_late("P0", RESOLVED, RESOLVED + timedelta(hours=24))
    assert pir_late("P0", RESOLVED, RESOLVED + timedelta(hours=24, seconds=1))


def test_optional_and_absent_pirs_are_never_late() -> None:
    much_later = RESOLVED + timedelta(days=60)
    assert not pir_late("P2", RESOLVED, much_later)
    assert not pir_late("P3", RESOLVED, much_later)
