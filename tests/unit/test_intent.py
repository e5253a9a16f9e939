"""Natural-language requests as watchstander commands."""

from __future__ import annotations

import pytest

from watchstander.gates.intent import parse_intent

DEPLOY_TRIGGERS = [
    "Deploy to production",
    "Production deployment",
    "Release to prod",
    "Start deployment",
    "Go live with new release",
    "Execute production rollout",
]
HYPERCARE_TRIGGERS = [
    "Start hypercare",
    "Begin hypercare period",
    "Post-launch monitoring",
    "24/7 support period",
    "Activate hypercare monitoring",
    "Launch post-deployment support",
]
INCIDENT_TRIGGERS = [
    "Handle incident",
    "Production issue detected",
    "Incident response",
    "P0 incident",
    "Service down",
    "System outage",
    "Critical production issue",
    "Emergency response",
]


@pytest.mark.parametrize("text", DEPLOY_TRIGGERS)
def test_deploy_triggers_without_a_version_ask_for_one(text: str) -> None:
    intent = parse_intent(text)
    assert intent is not None
    assert intent.action == "deploy"
    assert intent.argv == ("deploy",)
    assert intent.missing == ("VERSION",)
    assert intent.phrase
    assert "deploy" in intent.summary


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("Deploy version 2.1.0", ("deploy", "2.1.0")),
        ("deploy version 2.1.0 with canary", ("deploy", "2.1.0", "--strategy", "canary")),
        ("Deploy 2.1.0 blue-green.", ("deploy", "2.1.0", "--strategy", "blue-green")),
        ("deploy 2.1.0 using a rolling update", ("deploy", "2.1.0", "--strategy", "rolling")),
        ("release 2.1.0 to production", ("deploy", "2.1.0")),
        ("go live with v2.1.0", ("deploy", "v2.1.0")),  # versions are kept as written
        ("DEPLOY VERSION 2.1.0-RC.1!", ("deploy", "2.1.0-RC.1")),
        ("deploy 2.1.0 with instant rollback", ("deploy", "2.1.0")),
    ],
)
def test_deploy_with_version_and_strategy(text: str, argv: tuple[str, ...]) -> None:
    intent = parse_intent(text)
    assert intent is not None
    assert intent.action == "deploy"
    assert intent.argv == argv
    assert intent.missing == ()
    assert argv[1] in intent.summary


@pytest.mark.parametrize("text", HYPERCARE_TRIGGERS)
def test_hypercare_triggers(text: str) -> None:
    intent = parse_intent(text)
    assert intent is not None
    assert intent.action == "hypercare-start"
    assert intent.argv == ("hypercare", "start")


def test_hypercare_days_and_risk() -> None:
    intent = parse_intent("Start hypercare for 14 days, high risk")
    assert intent is not None
    assert intent.argv == ("hypercare", "start", "--days", "14", "--risk", "high")
    assert "14 days" in intent.summary and "high risk" in intent.summary
    weeks = parse_intent("begin hypercare for 2 weeks")
    assert weeks is not None and weeks.argv == ("hypercare", "start", "--days", "14")


@pytest.mark.parametrize("text", INCIDENT_TRIGGERS)
def test_incident_triggers(text: str) -> None:
    intent = parse_intent(text)
    assert intent is not None
    assert intent.action == "incident-declare"
    assert intent.argv[:4] == ("incident", "declare", "--title", text)


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("P0 incident", ("high", "high")),
        ("Service down", ("high", "high")),
        ("System outage", ("high", "high")),
        ("the service is down!", ("high", "high")),
        ("P1 incident: checkout is slow", ("high", "medium")),
        ("Handle incident", None),
        ("Production issue detected", None),
    ],
)
def test_incident_impact_and_urgency(text: str, levels: tuple[str, str] | None) -> None:
    intent = parse_intent(text)
    assert intent is not None
    if levels is None:
        assert "--impact" not in intent.argv
    else:
        assert intent.argv[4:] == ("--impact", levels[0], "--urgency", levels[1])


@pytest.mark.parametrize(
    ("text", "action", "argv"),
    [
        ("roll back", "rollback", ("rollout", "undo")),
        ("Rollback!", "rollback", ("rollout", "undo")),
        ("please roll back the deployment", "rollback", ("rollout", "undo")),
        ("revert the release", "rollback", ("rollout", "undo")),
        ("undo the deployment", "rollback", ("rollout", "undo")),
        ("pause the rollout", "pause", ("rollout", "pause")),
        ("resume the rollout", "resume", ("rollout", "resume")),
        ("promote", "promote", ("rollout", "promote")),
        ("promote it fully", "promote", ("rollout", "promote", "--full")),
        ("abort", "abort", ("rollout", "abort")),
        ("Abort the deployment.", "abort", ("rollout", "abort")),
        ("status of the rollout", "status", ("rollout", "status")),
        ("How is the deployment going?", "status", ("rollout", "status")),
        ("readiness check 2.1.0", "readiness-check", ("readiness", "check", "2.1.0")),
        ("is 2.1.0 ready?", "readiness-check", ("readiness", "check", "2.1.0")),
        ("regression check", "regression-check", ("regression-check",)),
        ("run a regression-check", "regression-check", ("regression-check",)),
    ],
)
def test_rollout_controls_and_checks(text: str, action: str, argv: tuple[str, ...]) -> None:
    intent = parse_intent(text)
    assert intent is not None
    assert (intent.action, intent.argv) == (action, argv)
    assert intent.summary


def test_readiness_without_a_version_asks_for_one() -> None:
    intent = parse_intent("readiness check")
    assert intent is not None
    assert intent.argv == ("readiness", "check")
    assert intent.missing == ("VERSION",)


@pytest.mark.parametrize(
    "text", ["", "what's the weather like", "write me a poem", "hello there", "2.1.0"]
)
def test_unrelated_text_is_none(text: str) -> None:
    assert parse_intent(text) is None


def test_phrase_is_the_trigger_that_matched() -> None:
    intent = parse_intent("Okay, let's go live with new release now")
    assert intent is not None
    assert intent.phrase == "go live"
