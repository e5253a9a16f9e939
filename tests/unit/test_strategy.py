"""The strategy recommender: the scoring table, the hard capability constraints, the
rationale and what is copied through."""

from __future__ import annotations

import itertools

import pytest

from watchstander.gates import strategy
from watchstander.gates.models import (
    Capabilities,
    Downtime,
    Recommendation,
    Risk,
    RollbackSpeed,
    StrategyInputs,
)

DURATIONS = {"canary": 1500.0, "blue-green": 600.0, "rolling": 900.0}
FULL = Capabilities(weighted_traffic=True, instant_switch=True, spare_capacity=True)


def recommend(
    *,
    risk: Risk = Risk.MEDIUM,
    downtime: Downtime = Downtime.MINIMAL,
    rollback: RollbackSpeed = RollbackSpeed.FAST,
    db_migration: bool = False,
    capabilities: Capabilities = FULL,
) -> Recommendation:
    inputs = StrategyInputs(risk, downtime, rollback, db_migration, capabilities)
    return strategy.recommend(inputs, durations=DURATIONS, observation=900.0)


@pytest.mark.parametrize(
    ("risk", "rollback", "winner"),
    [
        (Risk.HIGH, RollbackSpeed.INSTANT, "blue-green"),
        (Risk.HIGH, RollbackSpeed.FAST, "canary"),
        (Risk.HIGH, RollbackSpeed.MANUAL, "canary"),
        (Risk.MEDIUM, RollbackSpeed.INSTANT, "blue-green"),
        (Risk.MEDIUM, RollbackSpeed.FAST, "canary"),
        (Risk.MEDIUM, RollbackSpeed.MANUAL, "canary"),
        (Risk.LOW, RollbackSpeed.INSTANT, "blue-green"),
        (Risk.LOW, RollbackSpeed.FAST, "blue-green"),
        (Risk.LOW, RollbackSpeed.MANUAL, "rolling"),
    ],
)
def test_winner_for_every_risk_and_rollback(
    risk: Risk, rollback: RollbackSpeed, winner: str
) -> None:
    rec = recommend(risk=risk, rollback=rollback, capabilities=FULL)
    assert rec.strategy == winner
    assert {name for name, _ in rec.alternatives} == set(strategy.STRATEGIES) - {winner}


def test_defaults_recommend_canary() -> None:
    assert recommend().strategy == "canary"


@pytest.mark.parametrize(
    ("risk", "downtime", "rollback", "db"),
    list(itertools.product(Risk, Downtime, RollbackSpeed, (False, True))),
)
def test_scores_are_the_sum_of_the_table(
    risk: Risk, downtime: Downtime, rollback: RollbackSpeed, db: bool
) -> None:
    rec = recommend(risk=risk, downtime=downtime, rollback=rollback, db_migration=db)
    table = strategy.SCORING
    expected = {
        name: table["risk"][risk.value][name]
        + table["downtime"][downtime.value][name]
        + table["rollback"][rollback.value][name]
        + table["db_migration"]["yes" if db else "no"][name]
        for name in strategy.STRATEGIES
    }
    assert dict(rec.scores) == expected
    best = max(expected.values())
    first_best = next(name for name in strategy.STRATEGIES if expected[name] == best)
    assert rec.strategy == first_best  # ties go in STRATEGIES order


def test_a_tie_goes_to_the_earlier_strategy_and_says_so() -> None:
    rec = recommend(risk=Risk.HIGH, downtime=Downtime.ZERO, rollback=RollbackSpeed.FAST)
    assert dict(rec.scores)["canary"] == dict(rec.scores)["blue-green"]
    assert rec.strategy == "canary"
    assert any("tie" in line and "canary" in line for line in rec.rationale)
    assert dict(rec.alternatives)["blue-green"].startswith("ties with canary")


def test_no_weighted_traffic_rules_out_canary() -> None:
    caps = Capabilities(weighted_traffic=False, instant_switch=True, spare_capacity=True)
    rec = recommend(risk=Risk.HIGH, rollback=RollbackSpeed.FAST, capabilities=caps)
    assert rec.strategy == "blue-green"
    assert dict(rec.scores)["canary"] is None
    assert dict(rec.alternatives)["canary"] == "not possible: target has no weighted traffic"
    assert "canary is not possible: target has no weighted traffic" in rec.rationale


@pytest.mark.parametrize(
    ("caps", "reason"),
    [
        (
            Capabilities(weighted_traffic=True, instant_switch=True, spare_capacity=False),
            "no spare capacity",
        ),
        (
            Capabilities(weighted_traffic=True, instant_switch=False, spare_capacity=True),
            "cannot switch all traffic at once",
        ),
    ],
)
def test_blue_green_needs_spare_capacity_and_an_instant_switch(
    caps: Capabilities, reason: str
) -> None:
    rec = recommend(risk=Risk.LOW, rollback=RollbackSpeed.INSTANT, capabilities=caps)
    assert rec.strategy == "canary"  # blue-green would win with full capabilities
    assert dict(rec.scores)["blue-green"] is None
    why = dict(rec.alternatives)["blue-green"]
    assert why.startswith("not possible:") and reason in why


def test_rolling_is_always_possible() -> None:
    none = Capabilities(weighted_traffic=False, instant_switch=False, spare_capacity=False)
    rec = recommend(risk=Risk.HIGH, rollback=RollbackSpeed.INSTANT, capabilities=none)
    assert rec.strategy == "rolling"
    assert dict(rec.scores) == {"canary": None, "blue-green": None, "rolling": -1}
    why = dict(rec.alternatives)["blue-green"]
    assert "no spare capacity" in why and "cannot switch" in why


def test_a_database_migration_favours_blue_green_with_an_expand_contract_note() -> None:
    without = recommend(risk=Risk.MEDIUM, rollback=RollbackSpeed.FAST)
    with_migration = recommend(risk=Risk.MEDIUM, rollback=RollbackSpeed.FAST, db_migration=True)
    assert without.strategy == "canary"
    assert with_migration.strategy == "blue-green"
    note = next(line for line in with_migration.rationale if "database migration" in line)
    assert "expand" in note and "contract" in note and "two versions" in note


def test_rationale_cites_the_inputs() -> None:
    rec = recommend(
        risk=Risk.HIGH,
        downtime=Downtime.ZERO,
        rollback=RollbackSpeed.INSTANT,
        db_migration=True,
    )
    text = "\n".join(rec.rationale)
    assert "risk is high" in text and "canary exposes 5% of traffic first" in text
    assert "downtime tolerance is zero" in text
    assert "rollback must be instant" in text
    assert "a database migration is included" in text
    assert rec.rationale[-1].startswith("scores: canary ")
    assert rec.rationale[-1].endswith(f"-> {rec.strategy}")


def test_low_risk_manual_rollback_rationale() -> None:
    rec = recommend(risk=Risk.LOW, downtime=Downtime.ACCEPTABLE, rollback=RollbackSpeed.MANUAL)
    assert rec.strategy == "rolling"
    assert any(line.startswith("risk is low") for line in rec.rationale)
    assert any(line.startswith("downtime is acceptable") for line in rec.rationale)
    assert any(line.startswith("rollback may take about 30 minutes") for line in rec.rationale)


def test_alternatives_say_why_not() -> None:
    rec = recommend(risk=Risk.HIGH, rollback=RollbackSpeed.FAST)
    why = dict(rec.alternatives)
    assert why["blue-green"].startswith("scores 6 against 7 for canary")
    assert "risk (high)" in why["blue-green"]
    assert why["rolling"].startswith("scores 1 against 7 for canary")


@pytest.mark.parametrize("name", strategy.STRATEGIES)
def test_profile_and_durations_are_copied(name: str) -> None:
    caps = {
        "canary": Capabilities(True, False, False),
        "blue-green": Capabilities(False, True, True),
        "rolling": Capabilities(False, False, False),
    }[name]
    inputs = StrategyInputs(risk=Risk.HIGH, capabilities=caps)
    rec = strategy.recommend(inputs, durations=DURATIONS, observation=1800.0)
    assert rec.strategy == name
    assert rec.inputs is inputs
    assert rec.expected_duration == DURATIONS[name]
    assert rec.observation == 1800.0
    profile = strategy.PROFILES[name]
    assert (rec.pros, rec.cons, rec.requirements) == (
        profile.pros,
        profile.cons,
        profile.requirements,
    )
    assert rec.pros and rec.cons and rec.requirements


def test_a_missing_duration_for_the_winner_is_an_error() -> None:
    with pytest.raises(ValueError, match="canary"):
        strategy.recommend(StrategyInputs(), durations={"rolling": 1.0}, observation=0.0)


def test_the_table_covers_every_input_value() -> None:
    assert set(strategy.SCORING["risk"]) == {r.value for r in Risk}
    assert set(strategy.SCORING["downtime"]) == {d.value for d in Downtime}
    assert set(strategy.SCORING["rollback"]) == {r.value for r in RollbackSpeed}
    for factor, rows in strategy.SCORING.items():
        assert set(strategy.REASONS[factor]) == set(rows)
        for row in rows.values():
            assert set(row) == set(strategy.STRATEGIES)
