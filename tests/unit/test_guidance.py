"""--guidance text and --interactive answers as settings: what is recognised, what each
focus adds, what is reported as not understood, and how the two sources merge."""

from __future__ import annotations

from typing import Any

import pytest

from watchstander.errors import UsageError
from watchstander.gates import guidance
from watchstander.gates.guidance import (
    INTERACTIVE_QUESTIONS,
    describe,
    guidance_from_answers,
    merge_guidance,
    parse_guidance,
)
from watchstander.gates.models import (
    APPROVAL_ROLES,
    FOCUS_FLAGS,
    Downtime,
    Guidance,
    Risk,
    RollbackSpeed,
    SloGoal,
)

SPEC_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    (
        "Zero-downtime critical, use blue-green strategy",
        {"downtime": Downtime.ZERO, "strategy": "blue-green", "risk": None},
    ),
    (
        "High-risk release, progressive canary with 5% → 25% → 100%",
        {"risk": Risk.HIGH, "strategy": "canary", "canary_steps": (5.0, 25.0, 100.0)},
    ),
    (
        "Database migration included, need extended maintenance window",
        {"db_migration": True, "downtime": Downtime.ACCEPTABLE},
    ),
    (
        "First production deployment, extra validation and monitoring",
        {
            "focus": frozenset({"first-deployment"}),
            "observation": 3600.0,
            "required_approvals": ("reliability",),
            "extra_gates": ("extended-smoke", "extended-observation"),
        },
    ),
]

PHRASINGS: list[tuple[str, dict[str, Any]]] = [
    *SPEC_EXAMPLES,
    # strategies
    ("blue green please", {"strategy": "blue-green"}),
    ("bluegreen", {"strategy": "blue-green"}),
    ("use a rolling update", {"strategy": "rolling"}),
    ("canary", {"strategy": "canary"}),
    # canary plans
    ("canary 5% -> 25% -> 100%", {"strategy": "canary", "canary_steps": (5.0, 25.0, 100.0)}),
    ("5%, 25%, 50%, 100%", {"canary_steps": (5.0, 25.0, 50.0, 100.0)}),
    ("steps 10% → 50%", {"canary_steps": (10.0, 50.0, 100.0)}),
    ("5/25/100", {"canary_steps": (5.0, 25.0, 100.0)}),
    ("1% -> 5% -> 25% -> 50%", {"canary_steps": (1.0, 5.0, 25.0, 50.0, 100.0)}),
    # observation
    ("60 min", {"observation": 3600.0}),
    ("60 minutes", {"observation": 3600.0}),
    ("1h", {"observation": 3600.0}),
    ("1 hour", {"observation": 3600.0}),
    ("90s", {"observation": 90.0}),
    ("observe for 30 minutes", {"observation": 1800.0}),
    ("monitoring 15 min", {"observation": 900.0}),
    ("45 min of observation", {"observation": 2700.0}),
    # risk
    ("high-risk", {"risk": Risk.HIGH}),
    ("high risk", {"risk": Risk.HIGH}),
    ("low risk", {"risk": Risk.LOW}),
    ("routine", {"risk": Risk.LOW}),
    ("architecture change", {"risk": Risk.HIGH}),
    ("critical release", {"risk": Risk.HIGH}),
    ("medium risk", {"risk": Risk.MEDIUM}),
    ("risk: low", {"risk": Risk.LOW}),
    # downtime
    ("zero downtime", {"downtime": Downtime.ZERO}),
    ("no downtime", {"downtime": Downtime.ZERO}),
    ("maintenance window", {"downtime": Downtime.ACCEPTABLE}),
    ("downtime acceptable", {"downtime": Downtime.ACCEPTABLE}),
    ("minimal downtime", {"downtime": Downtime.MINIMAL}),
    # rollback
    ("instant rollback", {"rollback": RollbackSpeed.INSTANT}),
    ("rollback within 5 min", {"rollback": RollbackSpeed.FAST, "observation": None}),
    ("rollback within 30 min", {"rollback": RollbackSpeed.MANUAL, "observation": None}),
    ("manual rollback is fine", {"rollback": RollbackSpeed.MANUAL}),
    # database
    ("database migration", {"db_migration": True}),
    ("schema change", {"db_migration": True}),
    ("db migration", {"db_migration": True}),
    ("no database migration", {"db_migration": False}),
    ("no migration", {"db_migration": False}),
    # regression threshold
    ("allow 5% regression", {"regression_threshold": 5.0}),
    ("regression threshold 5%", {"regression_threshold": 5.0}),
    ("zero regressions", {"regression_threshold": 0.0}),
    # timeline
    ("tight timeline", {"tight_timeline": True}),
    ("urgent", {"tight_timeline": True}),
    # SLO goals
    ("error rate <0.1%", {"slo_goals": (SloGoal("error_rate", "<", 0.1),)}),
    ("p99 < 500ms", {"slo_goals": (SloGoal("latency_p99", "<", 500.0),)}),
    (
        "latency p99 <500 ms",
        {"slo_goals": (SloGoal("latency_p99", "<", 500.0),), "focus": frozenset()},
    ),
    ("availability >99.95%", {"slo_goals": (SloGoal("availability", ">", 99.95),)}),
    ("p95 under 0.3s", {"slo_goals": (SloGoal("latency_p95", "<", 300.0),)}),
    # several at once, with the later mention winning
    (
        "canary 5%, 25%, 100%; observe for 30 min; low risk, then high risk",
        {
            "strategy": "canary",
            "canary_steps": (5.0, 25.0, 100.0),
            "observation": 1800.0,
            "risk": Risk.HIGH,
        },
    ),
    (
        "first deployment, observe for 20 min",
        {"observation": 1200.0, "focus": frozenset({"first-deployment"})},
    ),
]


@pytest.mark.parametrize(("text", "expected"), PHRASINGS, ids=[t for t, _ in PHRASINGS])
def test_phrasings_are_recognised_completely(text: str, expected: dict[str, Any]) -> None:
    g = parse_guidance(text)
    assert g.text == text
    for name, value in expected.items():
        assert getattr(g, name) == value, name
    assert g.unrecognised == ()
    assert g.applied


@pytest.mark.parametrize("text", [t for t, _ in SPEC_EXAMPLES])
def test_every_clause_of_the_spec_examples_is_applied(text: str) -> None:
    g = parse_guidance(text)
    assert g.unrecognised == ()
    assert all(phrase in text for _, _, phrase in g.applied)


def test_applied_records_setting_value_and_phrase() -> None:
    g = parse_guidance("High-risk release, progressive canary with 5% → 25% → 100%, 60 min")
    assert g.applied == (
        ("risk", "high", "High-risk release"),
        ("strategy", "canary", "progressive canary"),
        ("canary_steps", "5% -> 25% -> 100%", "5% → 25% → 100%"),
        ("observation", "60 min", "60 min"),
    )


def test_a_rollback_time_is_not_an_observation() -> None:
    g = parse_guidance("rollback within 5 min, observe for 1 hour")
    assert g.rollback is RollbackSpeed.FAST
    assert g.observation == 3600.0


@pytest.mark.parametrize(
    ("flag", "text", "approvals", "gates", "reviewers"),
    [
        (
            "security",
            "security review needed",
            ("security",),
            ("security-scan-strict",),
            ("security-architect", "privacy-officer"),
        ),
        (
            "security",
            "audit trail",
            ("security",),
            ("security-scan-strict",),
            ("security-architect", "privacy-officer"),
        ),
        (
            "compliance",
            "GDPR",
            ("cab",),
            ("change-approval",),
            ("legal-liaison", "privacy-officer"),
        ),
        (
            "compliance",
            "regulatory sign-off",
            ("cab",),
            ("change-approval",),
            ("legal-liaison", "privacy-officer"),
        ),
        (
            "performance",
            "throughput matters",
            ("reliability",),
            ("performance-slo",),
            ("performance-engineer",),
        ),
        (
            "first-deployment",
            "first release",
            ("reliability",),
            ("extended-smoke", "extended-observation"),
            (),
        ),
    ],
)
def test_each_focus_adds_its_approvals_gates_and_reviewers(
    flag: str,
    text: str,
    approvals: tuple[str, ...],
    gates: tuple[str, ...],
    reviewers: tuple[str, ...],
) -> None:
    g = parse_guidance(text)
    assert g.focus == frozenset({flag})
    assert (g.required_approvals, g.extra_gates, g.reviewers) == (approvals, gates, reviewers)
    assert g.unrecognised == ()


def test_focus_effects_are_merged_without_duplicates_in_order() -> None:
    g = parse_guidance("security and compliance, performance, first production deployment")
    assert g.focus == frozenset(FOCUS_FLAGS)
    assert g.required_approvals == ("security", "cab", "reliability")
    assert g.extra_gates == (
        "security-scan-strict",
        "change-approval",
        "performance-slo",
        "extended-smoke",
        "extended-observation",
    )
    assert g.reviewers == (
        "security-architect",
        "privacy-officer",
        "legal-liaison",
        "performance-engineer",
    )


def test_focus_table_uses_known_roles_and_flags() -> None:
    assert set(guidance.FOCUS_EFFECTS) == set(FOCUS_FLAGS)
    for effect in guidance.FOCUS_EFFECTS.values():
        assert set(effect.approvals) <= set(APPROVAL_ROLES)


def test_first_deployment_keeps_a_stated_observation() -> None:
    assert parse_guidance("first deployment").observation == 3600.0
    assert parse_guidance("first deployment, 15 min").observation == 900.0
    assert parse_guidance("15 min, first deployment").observation == 900.0


def test_several_slo_goals() -> None:
    g = parse_guidance("error rate <0.1%, latency p99 <500 ms, availability >99.95%")
    assert g.slo_goals == (
        SloGoal("error_rate", "<", 0.1),
        SloGoal("latency_p99", "<", 500.0),
        SloGoal("availability", ">", 99.95),
    )
    assert g.focus == frozenset()  # "latency" in a target is not a performance focus


def test_unrecognised_text_is_reported() -> None:
    g = parse_guidance("deploy on a full moon")
    assert g.unrecognised == ("deploy on a full moon",)


def test_only_the_unrecognised_clause_is_reported() -> None:
    g = parse_guidance("canary, deploy on a full moon; please")
    assert g.strategy == "canary"
    assert g.unrecognised == ("deploy on a full moon",)


def test_filler_alone_is_not_noise() -> None:
    assert parse_guidance("please, use, need").unrecognised == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("5% -> 50% -> 25%", "must increase"),
        ("50%, 25%, 100%", "must increase"),
        ("5% -> 150%", "at most 100"),
    ],
)
def test_invalid_canary_order_is_reported(text: str, reason: str) -> None:
    g = parse_guidance(text)
    assert g.canary_steps is None
    assert len(g.unrecognised) == 1
    assert g.unrecognised[0].startswith(text) and reason in g.unrecognised[0]


def test_empty_text_is_empty_guidance() -> None:
    assert parse_guidance("") == Guidance()
    assert parse_guidance("   ") == Guidance(text="   ")


def test_describe() -> None:
    lines = describe(parse_guidance("progressive canary, security, deploy on a full moon"))
    assert lines == [
        "strategy: canary (from 'progressive canary')",
        "focus: security (from 'security')",
        "approvals required: security",
        "extra gates: security-scan-strict",
        "reviewers added: security-architect, privacy-officer",
        "not understood: 'deploy on a full moon'",
    ]
    first = describe(parse_guidance("first deployment"))
    assert "observation (default): 60 min (from 'first deployment')" in first


# -- interactive ------------------------------------------------------------------------------


def test_six_questions_in_the_spec_order() -> None:
    assert len(INTERACTIVE_QUESTIONS) == 6
    keywords = ["strategy", "risk", "slo", "database", "roll back", "observ"]
    for (question, hint), word in zip(INTERACTIVE_QUESTIONS, keywords, strict=True):
        assert word in question.lower()
        assert hint


SETTINGS = (
    "strategy",
    "canary_steps",
    "observation",
    "risk",
    "downtime",
    "rollback",
    "db_migration",
    "focus",
    "regression_threshold",
    "slo_goals",
    "required_approvals",
    "extra_gates",
    "reviewers",
)


def settings(g: Guidance) -> dict[str, object]:
    return {name: getattr(g, name) for name in SETTINGS}


@pytest.mark.parametrize(
    ("answers", "text"),
    [
        (
            ["canary", "high", "error rate <0.1%, p99 <500ms", "yes", "5 min", "30 min"],
            "canary, high risk, error rate <0.1%, p99 <500ms, database migration, "
            "rollback within 5 min, observe for 30 min",
        ),
        (
            ["recommend", "Low (routine updates)", "", "no", "instant", "1h"],
            "low risk, no database migration, instant rollback, 1h",
        ),
        (
            ["blue-green", "medium", "availability >99.95%", "No", "30 min", "15 minutes"],
            "blue-green, medium risk, availability >99.95%, no migration, "
            "rollback within 30 min, monitoring 15 minutes",
        ),
        (["rolling", "-", "don't know", "no preference", "", ""], "rolling update"),
    ],
)
def test_answers_give_the_same_settings_as_guidance_text(answers: list[str], text: str) -> None:
    from_answers = guidance_from_answers(answers)
    assert settings(from_answers) == settings(parse_guidance(text))
    assert from_answers.unrecognised == ()
    assert from_answers.text  # the synthesized guidance
    assert parse_guidance(from_answers.text).unrecognised == ()


def test_answers_are_read_in_the_context_of_their_question() -> None:
    g = guidance_from_answers(["", "high", "", "yes", "5 min", "30 min"])
    assert g.risk is Risk.HIGH
    assert g.db_migration is True
    assert g.rollback is RollbackSpeed.FAST
    assert g.observation == 1800.0


def test_bare_numbers_count_in_minutes_and_none_means_no_migration() -> None:
    g = guidance_from_answers(["", "", "", "none", "5", "30"])
    assert g.db_migration is False
    assert g.rollback is RollbackSpeed.FAST
    assert g.observation == 1800.0


def test_unparseable_answers_are_reported_with_their_question() -> None:
    g = guidance_from_answers(["sideways", "sort of", "", "maybe", "whenever", "a while"])
    assert g.unrecognised == (
        "Q1: sideways",
        "Q2: sort of",
        "Q4: maybe",
        "Q5: whenever",
        "Q6: a while",
    )
    assert g.text == ""


def test_blank_answers_give_empty_guidance() -> None:
    assert guidance_from_answers(["", "", "", "", "", ""]) == Guidance()
    assert guidance_from_answers([]) == Guidance()


def test_too_many_answers_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        guidance_from_answers(["x"] * 7)


def test_merge_second_wins_on_conflicts() -> None:
    first = parse_guidance(
        "canary 5% -> 50%, high risk, error rate <0.1%, p99 <500ms, observe for 30 min, security"
    )
    second = guidance_from_answers(["blue-green", "low", "error rate <0.5%", "", "", ""])
    merged = merge_guidance(first, second)
    assert merged.strategy == "blue-green"
    assert merged.risk is Risk.LOW
    assert merged.canary_steps == (5.0, 50.0, 100.0)  # only the first said it
    assert merged.observation == 1800.0
    assert merged.slo_goals == (SloGoal("error_rate", "<", 0.5), SloGoal("latency_p99", "<", 500.0))
    assert merged.focus == frozenset({"security"})
    assert merged.required_approvals == ("security",)
    assert merged.text == f"{first.text}; {second.text}"
    assert merged.applied == first.applied + second.applied


def test_merge_a_named_observation_beats_a_focus_default() -> None:
    stated = parse_guidance("observe for 20 min")
    default = parse_guidance("first production deployment")
    assert merge_guidance(stated, default).observation == 1200.0
    assert merge_guidance(default, stated).observation == 1200.0
    assert merge_guidance(default, Guidance()).observation == 3600.0


def test_merge_keeps_unrecognised_from_both() -> None:
    merged = merge_guidance(
        parse_guidance("deploy on a full moon"), guidance_from_answers(["sideways"])
    )
    assert merged.unrecognised == ("deploy on a full moon", "Q1: sideways")


@pytest.mark.parametrize(
    ("text", "fix", "security"),
    [
        ("P0 fix for the checkout outage", "P0", False),
        ("emergency hotfix", "P0", False),
        ("hotfix for INC-2026-11-20-001", "P0", False),
        ("sev0 fix, canary 10%, 50%, 100%", "P0", False),
        ("security fix for the login bypass", "security", True),
        ("CVE fix", "security", True),
        ("security-sensitive release", None, True),  # a security change, not a fix
        ("fix the typo in the footer", None, False),
    ],
)
def test_fixes_the_error_budget_freeze_lets_through(
    text: str, fix: str | None, security: bool
) -> None:
    g = parse_guidance(text)
    assert g.fix == fix
    assert ("security" in g.focus) is security
    if fix is not None:
        assert ("fix", fix) in [(setting, value) for setting, value, _ in g.applied]


def test_a_fix_survives_merging_with_interactive_answers() -> None:
    merged = merge_guidance(parse_guidance("P0 fix"), parse_guidance("canary"))
    assert merged.fix == "P0"
