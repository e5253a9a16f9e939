"""Interactive intake (watchstander.incident.intake): the eight questions and what their
answers mean for declaring an incident."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from watchstander.incident.intake import (
    INTAKE_QUESTIONS,
    DeclareFields,
    TeamExperience,
    answers_to_fields,
)
from watchstander.incident.models import (
    Category,
    DetectionMethod,
    Impact,
    Priority,
    Urgency,
)

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
FULL = [
    "Complete outage of the web shop. Every page returns 503 since the deploy.",
    "about 60% of users",
    "2026-11-21T14:40Z",
    "Deployed shop v2.3.1 at 14:30, feature flag new-cart on",
    "No",
    "Revenue loss: no orders can be placed",
    "experienced",
    "30% error budget left, SLA breach in 2 h",
]


def with_answer(number: int, answer: str) -> list[str]:
    answers = ["Checkout is slow"] + [""] * 7
    answers[number - 1] = answer
    return answers


# -- the questions ----------------------------------------------------------------------------


def test_eight_questions_in_the_flows_order() -> None:
    assert [q.number for q in INTAKE_QUESTIONS] == list(range(1, 9))
    assert [q.key for q in INTAKE_QUESTIONS] == [
        "user_impact",
        "users_affected",
        "started",
        "recent_changes",
        "security_or_data_loss",
        "business_impact",
        "team_experience",
        "sla_status",
    ]
    assert [q.required for q in INTAKE_QUESTIONS] == [True] + [False] * 7
    for q in INTAKE_QUESTIONS:
        assert q.text.endswith("?") and q.hint


def test_every_question_fills_declare_fields() -> None:
    names = {f.name for f in dataclasses.fields(DeclareFields)}
    filled = [name for q in INTAKE_QUESTIONS for name in q.fills]
    assert set(filled) <= names
    assert len(filled) == len(set(filled)) + 1  # category: from Q1, unless Q5 decides it
    for name in ("title", "users_affected_pct", "started", "security_breach", "data_loss"):
        assert name in filled
    assert {"urgency"} == set(INTAKE_QUESTIONS[5].fills) - {"business_impact"}


# -- all eight answers ------------------------------------------------------------------------


def test_all_eight_answers_become_fields() -> None:
    fields = answers_to_fields(FULL, now=NOW)
    assert fields == DeclareFields(
        title="Complete outage of the web shop",
        description=FULL[0],
        users_affected_pct=60.0,
        outage=True,
        urgency=Urgency.HIGH,
        category=Category.AVAILABILITY,
        detection_method=DetectionMethod.MANUAL,
        started=datetime(2026, 11, 21, 14, 40, tzinfo=UTC),
        recent_changes=FULL[3],
        business_impact=FULL[5],
        team_experience=TeamExperience.EXPERIENCED,
        sla_status=FULL[7],
        sla_breached=False,
        error_budget_remaining_pct=30.0,
    )
    assert fields.impact is Impact.HIGH
    assert fields.priority is Priority.P0


def test_a_second_set_of_answers() -> None:
    fields = answers_to_fields(
        [
            "  Customers report   that search is very slow  ",
            "10-20%",
            "45 min ago",
            "none",
            "no data loss, but a security breach is possible",
            "m",
            "not very experienced",
            "already breached",
        ],
        now=NOW,
    )
    assert fields.title == "Customers report that search is very slow"
    assert fields.users_affected_pct == 20.0  # a range counts at its upper end
    assert fields.severe_degradation and not fields.outage
    assert fields.started == NOW - timedelta(minutes=45)
    assert fields.recent_changes == ""
    assert (fields.security_breach, fields.data_loss) == (True, False)
    assert fields.category is Category.SECURITY
    assert fields.detection_method is DetectionMethod.USER_REPORT
    assert fields.urgency is Urgency.MEDIUM
    assert fields.team_experience is TeamExperience.NEW
    assert fields.sla_breached
    assert fields.impact is Impact.MEDIUM
    assert fields.priority is Priority.P2
    assert fields.problems == ()


def test_a_long_first_answer_is_cut_for_the_title() -> None:
    long = "The payment provider callback fails for every card payment " * 3
    fields = answers_to_fields([long])
    assert len(fields.title) <= 80 and fields.title.endswith("...")
    assert fields.description == long.strip()


# -- blanks -----------------------------------------------------------------------------------


def test_only_the_first_answer_is_required() -> None:
    fields = answers_to_fields(["Login fails for everyone"])
    assert fields.problems == ()
    assert fields.users_affected_pct is None
    assert fields.started is None
    assert fields.urgency is None and fields.priority is None
    assert fields.team_experience is None
    assert (fields.security_breach, fields.data_loss) == (False, False)
    assert fields.critical_feature_unavailable
    assert fields.category is Category.FUNCTIONALITY
    assert fields.impact is Impact.MEDIUM


@pytest.mark.parametrize("blank", ["", "   ", "?", "unknown", "not sure", "n/a", "dunno?"])
def test_blank_and_unknown_answers_are_not_problems(blank: str) -> None:
    fields = answers_to_fields(["Checkout is slow"] + [blank] * 7, now=NOW)
    assert fields.problems == ()
    assert fields == DeclareFields(
        title="Checkout is slow",
        description="Checkout is slow",
        category=Category.PERFORMANCE,
        business_impact=blank.strip(),
        recent_changes="",
        sla_status="",
    )


def test_no_answer_to_the_first_question_is_a_problem() -> None:
    fields = answers_to_fields(["", "40%"])
    assert fields.problems == (
        "Q1: no answer: describe what users see; it becomes the incident title",
    )
    assert fields.users_affected_pct == 40.0


def test_more_answers_than_questions_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="9 answers for 8"):
        answers_to_fields(["x"] * 9)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        answers_to_fields(["x"], now=datetime(2026, 11, 21))


# -- unparseable answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "answer", "problem"),
    [
        (2, "lots", "Q2: 'lots' is not a percentage"),
        (2, "500 users", "Q2: '500 users' is not a percentage"),
        (2, "140%", "Q2: '140%' is more than 100%"),
        (2, "50-10%", "Q2: '50-10%': the range runs backwards"),
        (3, "yesterday-ish", "Q3: 'yesterday-ish' is not a time"),
        (3, "2 months ago", "Q3: '2 months ago' is not a time"),
        (3, "25:10", "Q3: '25:10' is not a time of day"),
        (3, "2026-11-22T09:00Z", "Q3: '2026-11-22T09:00Z' is in the future"),
        (5, "yes", "Q5: 'yes': say which: security, data loss, both, or no"),
        (5, "perhaps something", "Q5: 'perhaps something' is not understood"),
        (6, "hmm", "Q6: cannot tell the urgency from 'hmm'"),
        (7, "they are fine", "Q7: 'they are fine' is not understood"),
    ],
)
def test_each_unparseable_answer_is_reported(number: int, answer: str, problem: str) -> None:
    fields = answers_to_fields(with_answer(number, answer), now=NOW)
    assert len(fields.problems) == 1
    assert fields.problems[0].startswith(problem), fields.problems


def test_several_problems_come_back_together_in_question_order() -> None:
    answers = ["", "lots", "soonish", "", "yes", "hmm", "eh", ""]
    problems = answers_to_fields(answers, now=NOW).problems
    assert [p.split(":")[0] for p in problems] == ["Q1", "Q2", "Q3", "Q5", "Q6", "Q7"]


@pytest.mark.parametrize("answer", ["20 min ago", "14:05", "now"])
def test_relative_times_need_now(answer: str) -> None:
    fields = answers_to_fields(with_answer(3, answer))
    assert fields.started is None
    assert fields.problems == (f"Q3: {answer!r} is relative to now, and no current time was given",)


# -- answer forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "pct"),
    [
        ("40%", 40.0),
        ("40", 40.0),
        ("40 %", 40.0),
        ("~40%", 40.0),
        ("about 12.5% of users", 12.5),
        ("10 to 20%", 20.0),
        ("10%-20%", 20.0),
        ("all", 100.0),
        ("Everyone", 100.0),
        ("half", 50.0),
        ("none", 0.0),
        ("0", 0.0),
        ("unknown", None),
    ],
)
def test_percentage_forms(answer: str, pct: float | None) -> None:
    fields = answers_to_fields(with_answer(2, answer))
    assert fields.problems == ()
    assert fields.users_affected_pct == pct


@pytest.mark.parametrize(
    ("answer", "started"),
    [
        ("2026-11-21T14:05Z", datetime(2026, 11, 21, 14, 5, tzinfo=UTC)),
        ("2026-11-21 14:05", datetime(2026, 11, 21, 14, 5, tzinfo=UTC)),  # UTC by default
        ("2026-11-21 14:05 UTC", datetime(2026, 11, 21, 14, 5, tzinfo=UTC)),
        ("2026-11-21T15:05+01:00", datetime(2026, 11, 21, 14, 5, tzinfo=UTC)),
        ("14:05", datetime(2026, 11, 21, 14, 5, tzinfo=UTC)),
        ("at 16:30", datetime(2026, 11, 20, 16, 30, tzinfo=UTC)),  # later than now: yesterday
        ("20 min ago", NOW - timedelta(minutes=20)),
        ("about 2 hours ago", NOW - timedelta(hours=2)),
        ("1h30m ago", NOW - timedelta(hours=1, minutes=30)),
        ("3 days ago", NOW - timedelta(days=3)),
        ("just now", NOW),
    ],
)
def test_start_time_forms(answer: str, started: datetime) -> None:
    fields = answers_to_fields(with_answer(3, answer), now=NOW)
    assert fields.problems == ()
    assert fields.started == started


@pytest.mark.parametrize(
    ("answer", "security", "data_loss", "category"),
    [
        ("no", False, False, Category.PERFORMANCE),
        ("N", False, False, Category.PERFORMANCE),
        ("neither", False, False, Category.PERFORMANCE),
        ("not that I know of", False, False, Category.PERFORMANCE),
        ("security", True, False, Category.SECURITY),
        ("yes, looks like a breach", True, False, Category.SECURITY),
        ("data loss", False, True, Category.DATA_INTEGRITY),
        ("y: we lost some orders", False, True, Category.DATA_INTEGRITY),
        ("both", True, True, Category.SECURITY),
        ("security and data-loss", True, True, Category.SECURITY),
        ("no security issue, but records were deleted", False, True, Category.DATA_INTEGRITY),
        ("no data loss and not security related", False, False, Category.PERFORMANCE),
    ],
)
def test_security_and_data_loss_forms(
    answer: str, security: bool, data_loss: bool, category: Category
) -> None:
    fields = answers_to_fields(with_answer(5, answer))
    assert fields.problems == ()
    assert (fields.security_breach, fields.data_loss) == (security, data_loss)
    assert fields.category is category


def test_data_loss_raises_the_impact() -> None:
    fields = answers_to_fields(with_answer(5, "data loss"))
    assert fields.impact is Impact.HIGH


@pytest.mark.parametrize(
    ("answer", "urgency"),
    [
        ("high", Urgency.HIGH),
        ("H", Urgency.HIGH),
        ("critical", Urgency.HIGH),
        ("revenue loss", Urgency.HIGH),
        ("compliance risk (GDPR)", Urgency.HIGH),
        ("reputation damage", Urgency.MEDIUM),
        ("Medium.", Urgency.MEDIUM),
        ("m", Urgency.MEDIUM),
        ("low", Urgency.LOW),
        ("l", Urgency.LOW),
        ("internal tools only", Urgency.LOW),
        ("none", Urgency.LOW),
        ("reputation and revenue", Urgency.HIGH),  # the highest stake wins
    ],
)
def test_business_impact_forms(answer: str, urgency: Urgency) -> None:
    fields = answers_to_fields(with_answer(6, answer))
    assert fields.problems == ()
    assert fields.urgency is urgency
    assert fields.business_impact == answer


@pytest.mark.parametrize(
    ("answer", "level"),
    [
        ("new", TeamExperience.NEW),
        ("junior team, first P0", TeamExperience.NEW),
        ("inexperienced", TeamExperience.NEW),
        ("l", TeamExperience.NEW),
        ("mixed", TeamExperience.MIXED),
        ("intermediate", TeamExperience.MIXED),
        ("senior", TeamExperience.EXPERIENCED),
        ("very experienced", TeamExperience.EXPERIENCED),
        ("h", TeamExperience.EXPERIENCED),
    ],
)
def test_team_experience_forms(answer: str, level: TeamExperience) -> None:
    fields = answers_to_fields(with_answer(7, answer))
    assert fields.problems == ()
    assert fields.team_experience is level


@pytest.mark.parametrize(
    ("answer", "breached", "budget"),
    [
        ("40% error budget remaining", False, 40.0),
        ("error budget exhausted", True, None),
        ("SLA breach in 30 min", False, None),
        ("out of budget", True, None),
        ("99.9% SLO, 5% budget left", False, None),  # two percentages: not guessed
    ],
)
def test_sla_status_forms(answer: str, breached: bool, budget: float | None) -> None:
    fields = answers_to_fields(with_answer(8, answer))
    assert fields.problems == ()
    assert fields.sla_status == answer
    assert fields.sla_breached is breached
    assert fields.error_budget_remaining_pct == budget


@pytest.mark.parametrize(
    ("impact", "category", "outage", "detection"),
    [
        ("complete outage", Category.AVAILABILITY, True, DetectionMethod.MANUAL),
        ("the site is down", Category.AVAILABILITY, True, DetectionMethod.MANUAL),
        ("partial outage in eu-west", Category.AVAILABILITY, False, DetectionMethod.MANUAL),
        ("degraded performance", Category.PERFORMANCE, False, DetectionMethod.MANUAL),
        ("specific feature unavailable", Category.FUNCTIONALITY, False, DetectionMethod.MANUAL),
        ("exports produce corrupt files", Category.DATA_INTEGRITY, False, DetectionMethod.MANUAL),
        ("API returns 502 for some calls", Category.AVAILABILITY, False, DetectionMethod.MANUAL),
        (
            "paged by an alert: p99 latency",
            Category.PERFORMANCE,
            False,
            DetectionMethod.AUTOMATED_ALERT,
        ),
        (
            "the grafana dashboard shows errors",
            Category.FUNCTIONALITY,
            False,
            DetectionMethod.MONITORING,
        ),
        ("something feels off", None, False, DetectionMethod.MANUAL),
    ],
)
def test_the_first_answer_suggests_category_outage_and_detection(
    impact: str, category: Category | None, outage: bool, detection: DetectionMethod
) -> None:
    fields = answers_to_fields([impact])
    assert fields.problems == ()
    assert fields.category is category
    assert fields.outage is outage
    assert fields.detection_method is detection


@pytest.mark.parametrize("answer", ["none", "No", "nothing", "no changes", "unknown"])
def test_no_recent_changes(answer: str) -> None:
    assert answers_to_fields(with_answer(4, answer)).recent_changes == ""
