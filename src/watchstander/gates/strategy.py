"""Which deployment strategy fits a release: canary, blue-green or rolling.

The choice is a plain sum over a fixed table (SCORING), so a report can print the table
and anyone can redo the arithmetic by hand. Each input (risk, downtime tolerance, rollback
speed, database migration) adds points to each strategy; the highest total wins. What the
target cannot do is not a weight but a hard constraint: without weighted traffic there is
no canary, without spare capacity or an instant all-traffic switch there is no blue-green.
Rolling is always possible.

Why the table looks the way it does:

- risk: a high-risk change (architecture) is best validated on a small share of users
  first, so canary leads and blue-green (a full fleet validated before the switch) is
  second. Medium risk (new features) still leans to canary. Low risk (routine updates)
  does not need a slow canary: blue-green and rolling are enough.
- downtime: rolling replaces instances one at a time, so it serves with reduced capacity
  and a mix of versions during the update. Zero tolerance does not rule it out (nothing
  goes fully down) but penalises it; blue-green, whose old fleet stays up until the
  switch, gains. When downtime is acceptable, rolling's cost advantage counts.
- rollback: blue-green rolls back by moving traffic to the old fleet, which is still
  running, so "instant" strongly favours it; canary only has to take back the share it
  moved (fast); rolling must redeploy the old version instance by instance (slow), which
  only a manual (~30 minute) tolerance allows.
- database migration: a schema change makes canary and rolling serve two versions
  against one schema for the whole rollout. Blue-green serves one version at a time, so
  it gains. None of them makes a destructive migration safe to roll back: the rationale
  asks for expand/contract (backward-compatible now, remove the old shape later).

Ties are broken in STRATEGIES order: canary (fewest users exposed, no second fleet), then
blue-green, then rolling (slowest rollback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from watchstander.gates.models import Capabilities, Recommendation, StrategyInputs

__all__ = [
    "STRATEGIES",
    "SCORING",
    "REASONS",
    "PROFILES",
    "StrategyProfile",
    "recommend",
    "possible",
    "score",
]

# The strategies, in tie-break order.
STRATEGIES: Final = ("canary", "blue-green", "rolling")

# factor -> input value -> strategy -> points. Every input adds its row; higher wins.
SCORING: Final[Mapping[str, Mapping[str, Mapping[str, int]]]] = {
    "risk": {
        "high": {"canary": 3, "blue-green": 2, "rolling": 0},
        "medium": {"canary": 2, "blue-green": 1, "rolling": 1},
        "low": {"canary": 1, "blue-green": 2, "rolling": 2},
    },
    "downtime": {
        "zero": {"canary": 2, "blue-green": 3, "rolling": 0},
        "minimal": {"canary": 2, "blue-green": 2, "rolling": 1},
        "acceptable": {"canary": 1, "blue-green": 1, "rolling": 2},
    },
    "rollback": {
        "instant": {"canary": 2, "blue-green": 4, "rolling": -2},
        "fast": {"canary": 2, "blue-green": 2, "rolling": 0},
        "manual": {"canary": 1, "blue-green": 0, "rolling": 2},
    },
    "db_migration": {
        "yes": {"canary": 0, "blue-green": 3, "rolling": 0},
        "no": {"canary": 0, "blue-green": 0, "rolling": 0},
    },
}

# factor -> input value -> the rationale line citing that input.
REASONS: Final[Mapping[str, Mapping[str, str]]] = {
    "risk": {
        "high": (
            "risk is high (architecture change): canary exposes 5% of traffic first (its default first step) and "
            "checks the SLOs before each step; blue-green is next, validating a full fleet "
            "before the switch"
        ),
        "medium": (
            "risk is medium (new features): canary validates them on a small share of "
            "traffic before everyone gets them"
        ),
        "low": (
            "risk is low (routine update): blue-green or rolling is enough; a step-by-step "
            "canary adds time for little gain"
        ),
    },
    "downtime": {
        "zero": (
            "downtime tolerance is zero: blue-green switches all traffic at once while the "
            "old fleet stays up; rolling serves with one instance fewer while it replaces them"
        ),
        "minimal": (
            "downtime tolerance is minimal: every strategy keeps serving, rolling with "
            "reduced capacity while instances are replaced"
        ),
        "acceptable": (
            "downtime is acceptable: rolling's reduced capacity during the update is fine "
            "and it needs no extra infrastructure"
        ),
    },
    "rollback": {
        "instant": (
            "rollback must be instant: blue-green moves traffic back to the old fleet, "
            "which is still running, in one switch; canary takes back only the share it "
            "moved; rolling has to redeploy the old version instance by instance"
        ),
        "fast": (
            "rollback within about 5 minutes: canary and blue-green both return traffic to "
            "the stable version quickly; rolling has to redeploy the old version"
        ),
        "manual": (
            "rollback may take about 30 minutes: redeploying the old version instance by "
            "instance is acceptable, so no second fleet is needed"
        ),
    },
    "db_migration": {
        "yes": (
            "a database migration is included: canary and rolling serve two versions "
            "against one schema for the whole rollout, blue-green one version at a time; "
            "keep the migration backward compatible (expand now, contract in a later "
            "release) so the old version can take traffic back on rollback"
        ),
        "no": "no database migration: old and new versions can serve side by side",
    },
}


@dataclass(frozen=True)
class StrategyProfile:
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    requirements: tuple[str, ...]


PROFILES: Final[Mapping[str, StrategyProfile]] = {
    "canary": StrategyProfile(
        pros=(
            "gradual: a problem reaches only the share of traffic at the current step",
            "each step is gated on the SLOs, so a breach rolls back automatically",
            "cheap: only the canary share runs on extra instances",
        ),
        cons=(
            "slowest to reach 100%: analysis and pauses at every step",
            "needs traffic splitting and per-version metrics automation",
            "two versions serve users for the whole rollout",
        ),
        requirements=(
            "weighted traffic routing (a percentage of requests per version)",
            "per-version metrics for the SLO analysis after each step",
        ),
    ),
    "blue-green": StrategyProfile(
        pros=(
            "one cutover: users never see a mix of versions",
            "instant rollback: the old fleet keeps running until the release is confirmed",
            "the new fleet is validated before it takes any traffic",
        ),
        cons=(
            "twice the capacity while both fleets run",
            "everyone moves at once, so a problem missed in validation reaches all users",
            "needs a duplicate environment kept in step with the live one",
        ),
        requirements=(
            "spare capacity for a second full set of instances",
            "an instant all-traffic switch (load balancer or router)",
        ),
    ),
    "rolling": StrategyProfile(
        pros=(
            "no extra infrastructure",
            "simple: the orchestrator replaces instances one at a time",
            "works for legacy and stateful services",
        ),
        cons=(
            "slow, and rollback means redeploying the old version instance by instance",
            "capacity is reduced and versions are mixed during the update",
            "validation between batches is mostly manual",
        ),
        requirements=(
            "basic orchestration that replaces instances one at a time",
            "health checks that gate each replaced instance",
        ),
    ),
}


def possible(capabilities: Capabilities) -> dict[str, str | None]:
    """Per strategy: None if the target can run it, else why not ("not possible: ...")."""
    blue_green: list[str] = []
    if not capabilities.spare_capacity:
        blue_green.append("target has no spare capacity for a second fleet")
    if not capabilities.instant_switch:
        blue_green.append("target cannot switch all traffic at once")
    return {
        "canary": None
        if capabilities.weighted_traffic
        else "not possible: target has no weighted traffic",
        "blue-green": "not possible: " + " and ".join(blue_green) if blue_green else None,
        "rolling": None,
    }


def _rows(inputs: StrategyInputs) -> list[tuple[str, str]]:
    """The (factor, value) rows of SCORING that apply to these inputs."""
    return [
        ("risk", inputs.risk.value),
        ("downtime", inputs.downtime.value),
        ("rollback", inputs.rollback.value),
        ("db_migration", "yes" if inputs.db_migration else "no"),
    ]


def score(inputs: StrategyInputs) -> dict[str, int | None]:
    """Each strategy's total from SCORING, or None where the target cannot run it."""
    blocked = possible(inputs.capabilities)
    rows = _rows(inputs)
    return {
        name: None if blocked[name] else sum(SCORING[factor][value][name] for factor, value in rows)
        for name in STRATEGIES
    }


def recommend(
    inputs: StrategyInputs, *, durations: Mapping[str, float], observation: float
) -> Recommendation:
    """The strategy with the highest score (ties: STRATEGIES order) and why.

    `durations` holds each strategy's expected seconds, from the plan the caller would
    run; the chosen one is copied into `expected_duration`. `observation` is the
    post-deployment observation in seconds and is passed through.
    """
    blocked = possible(inputs.capabilities)
    scores = score(inputs)
    ranked = sorted(
        (name for name in STRATEGIES if scores[name] is not None),
        key=lambda name: (-_points(scores, name), STRATEGIES.index(name)),
    )
    chosen = ranked[0]  # rolling is always possible
    if chosen not in durations:
        raise ValueError(f"no expected duration given for the {chosen} strategy")
    best = _points(scores, chosen)

    rationale = [REASONS[factor][value] for factor, value in _rows(inputs)]
    rationale += [f"{name} is {reason}" for name, reason in blocked.items() if reason]
    totals = ", ".join(
        f"{name} {scores[name]}" if scores[name] is not None else f"{name} not possible"
        for name in STRATEGIES
    )
    rationale.append(f"scores: {totals} -> {chosen}")
    tied = [name for name in ranked if _points(scores, name) == best]
    if len(tied) > 1:
        rationale.append(
            f"{' and '.join(tied)} tie at {best}; the tie goes to {chosen} "
            f"(order: {', '.join(STRATEGIES)})"
        )

    alternatives: list[tuple[str, str]] = []
    for name in STRATEGIES:
        if name == chosen:
            continue
        reason = blocked[name]
        if reason is None:
            reason = _why_not(inputs, name, chosen, scores)
        alternatives.append((name, reason))

    profile = PROFILES[chosen]
    return Recommendation(
        strategy=chosen,
        inputs=inputs,
        rationale=tuple(rationale),
        pros=profile.pros,
        cons=profile.cons,
        requirements=profile.requirements,
        expected_duration=float(durations[chosen]),
        observation=float(observation),
        alternatives=tuple(alternatives),
        scores=tuple((name, scores[name]) for name in STRATEGIES),
    )


def _points(scores: Mapping[str, int | None], name: str) -> int:
    value = scores[name]
    assert value is not None
    return value


def _why_not(
    inputs: StrategyInputs, name: str, chosen: str, scores: Mapping[str, int | None]
) -> str:
    mine, best = _points(scores, name), _points(scores, chosen)
    if mine == best:
        return f"ties with {chosen} at {best}; the tie goes to {chosen}"
    # The input where this strategy falls furthest behind the chosen one.
    factor, value = max(
        _rows(inputs),
        key=lambda row: SCORING[row[0]][row[1]][chosen] - SCORING[row[0]][row[1]][name],
    )
    label = factor.replace("_", " ")
    return (
        f"scores {mine} against {best} for {chosen}, behind most on {label} ({value}); "
        f"{PROFILES[name].cons[0]}"
    )
