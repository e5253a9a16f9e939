"""The deploy flow before the rollout: guidance -> strategy -> readiness -> staging gate.

`prepare` runs steps 1, 2 and 2.5 of the deploy flow and returns what the rollout needs
(strategy, plan settings, threshold, the gate records to link), or raises BlockedError
when a gate stops the deploy. Questions to a human go through `confirm`, so the CLI asks
at a terminal and tests answer in code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watchstander.clock import Clock
from watchstander.config.models import StrategyConfig
from watchstander.engine import gates as engine_gates
from watchstander.engine.operations import Workspace, make_target, validate_version
from watchstander.errors import BlockedError, UsageError
from watchstander.gates.models import Decision, Guidance, Readiness, Recommendation
from watchstander.gates.models import RegressionResult as RegressionOutcome
from watchstander.release.models import Event, Severity, Strategy

__all__ = ["Prepared", "prepare", "strategy_config_for"]

Confirm = Callable[[str], bool]
Say = Callable[[str], None]


@dataclass
class Prepared:
    strategy: Strategy | None
    strategy_config: StrategyConfig
    threshold: float
    gate_ids: list[int] = field(default_factory=list)
    preamble: list[Event] = field(default_factory=list)
    recommendation: Recommendation | None = None
    readiness: Readiness | None = None
    staging: RegressionOutcome | None = None


def strategy_config_for(base: StrategyConfig, guidance: Guidance | None) -> StrategyConfig:
    """The config's strategy settings with what guidance changed (canary steps, observation)."""
    if guidance is None:
        return base
    update: dict[str, object] = {}
    if guidance.canary_steps:
        update["canary"] = base.canary.model_copy(update={"steps": list(guidance.canary_steps)})
    if guidance.observation is not None:
        update["observation"] = guidance.observation
    return base.model_copy(update=update) if update else base


async def prepare(
    ws: Workspace,
    version: str,
    *,
    clock: Clock,
    strategy: Strategy | None,
    guidance: Guidance | None,
    threshold: float | None,
    confirm: Confirm,
    say: Say,
    confirm_conditions: Confirm | None = None,
    skip_staging: bool = False,
) -> Prepared:
    config = ws.config
    validate_version(config, version)
    service = config.service.name
    threshold = (
        threshold
        if threshold is not None
        else (
            guidance.regression_threshold
            if guidance is not None and guidance.regression_threshold is not None
            else config.regression.threshold
        )
    )
    if not 0 <= threshold <= 100:
        raise UsageError(f"--regression-threshold must be between 0 and 100, not {threshold:g}")
    prepared = Prepared(
        strategy=strategy,
        strategy_config=strategy_config_for(config.strategy, guidance),
        threshold=threshold,
    )
    now = clock.now()
    frozen = None
    # A freeze can only be recorded in a store that exists: never create one just to look.
    if ws.config.store.url is not None or (ws.state_dir / "state.db").exists():
        with ws.open_store() as store:
            frozen = _change_freeze(store)
    if frozen is not None:
        raise BlockedError(
            f"change freeze since {frozen.at:%Y-%m-%d %H:%M} UTC: {frozen.data.get('reason')}"
            "\nlift it with 'watchstander incident freeze --lift --by NAME --reason TEXT'"
        )
    # The data plane first: a deploy that cannot reach production changes nothing.
    target = make_target(config)
    try:
        await target.ping()
    finally:
        await target.aclose()
    with ws.open_store() as store:
        stable = store.stable_version(service)
        # Step 1: strategy (guidance names one, or the recommender picks one).
        if prepared.strategy is None and guidance is not None and guidance.strategy:
            prepared.strategy = Strategy(guidance.strategy)
            say(f"✓ strategy from guidance: {guidance.strategy}")
        if prepared.strategy is None and "default" in config.strategy.model_fields_set:
            # The config names the service's strategy: that is a choice, not a gap.
            prepared.strategy = Strategy(config.strategy.default)
        if prepared.strategy is None and stable is not None:
            caps = engine_gates.capabilities_of(config)
            rec, record = engine_gates.recommend_strategy(
                ws,
                store,
                version=version,
                inputs=engine_gates.strategy_inputs(guidance, caps),
                guidance=guidance,
                now=now,
            )
            prepared.recommendation = rec
            prepared.gate_ids.append(record.id)
            say(f"✓ strategy recommendation: {rec.strategy}")
            for line in rec.rationale:
                say(f"  - {line}")
            if not confirm(f"Proceed with {rec.strategy}?"):
                raise BlockedError(f"deploy of {version} cancelled: strategy not confirmed")
            prepared.strategy = Strategy(rec.strategy)
            prepared.preamble.append(
                Event(
                    at=now,
                    kind="gate.strategy",
                    message=f"strategy recommended and confirmed: {rec.strategy}",
                    data={"strategy": rec.strategy, "rationale": list(rec.rationale)},
                )
            )

        # Step 2: pre-deployment validation.
        if config.readiness.enabled:
            say("⏳ validating deployment readiness...")
            outcome = await engine_gates.check_readiness(
                ws,
                store,
                version,
                clock=clock,
                guidance=guidance,
                strategy=(prepared.strategy or Strategy(config.strategy.default)).value,
                threshold=threshold,
            )
            r = outcome.readiness
            prepared.readiness = r
            prepared.gate_ids.append(outcome.record.id)
            for check in r.checks:
                mark = {"PASS": "✓", "WARN": "⚠️", "FAIL": "❌"}[check.status.value]
                say(f"  {mark} {check.name}: {check.summary}")
            say(f"{'✓' if r.decision is Decision.GO else '⚠️'} readiness: {r.decision.value}")
            say(f"  report: {outcome.report}")
            prepared.preamble.append(
                Event(
                    at=r.at,
                    kind="readiness.decided",
                    message=f"pre-deployment validation: {r.decision.value}",
                    severity=Severity.INFO if r.decision is Decision.GO else Severity.WARNING,
                    data={
                        "decision": r.decision.value,
                        "conditions": list(r.conditions),
                        "blockers": list(r.blockers),
                    },
                )
            )
            if r.decision is Decision.NO_GO:
                raise BlockedError(
                    f"NO-GO for {service} {version}: "
                    + "; ".join(r.blockers)
                    + f"\nsee {outcome.report}"
                )
            if r.decision is Decision.CONDITIONAL_GO:
                for condition in r.conditions:
                    say(f"  condition: {condition}")
                ask = confirm_conditions or confirm
                if not ask(
                    f"CONDITIONAL_GO with {len(r.conditions)} condition(s): accept and deploy?"
                ):
                    raise BlockedError(
                        f"CONDITIONAL_GO for {service} {version} and the conditions were not "
                        "accepted (use --accept-conditions to accept them)"
                    )
                prepared.preamble.append(
                    Event(
                        at=clock.now(),
                        kind="readiness.accepted",
                        message="conditions accepted: " + "; ".join(r.conditions),
                        severity=Severity.WARNING,
                    )
                )

        # Step 2.5: staging regression gate.
        if config.staging is not None and stable is not None and not skip_staging:
            say(f"⏳ staging regression gate: deploying {version} to staging...")
            staged = await engine_gates.staging_gate(
                ws, store, version, clock=clock, threshold=threshold
            )
            res = staged.result
            prepared.staging = res
            prepared.gate_ids.append(staged.record.id)
            prepared.preamble.append(
                Event(
                    at=staged.record.at,
                    kind="regression.staging",
                    message=(
                        f"staging regression gate: {res.decision} (regression "
                        f"{res.regression_rate:.1f}% vs threshold {res.threshold:g}%)"
                    ),
                    severity=Severity.INFO if res.passed else Severity.ERROR,
                    data={"decision": res.decision, "blockers": list(res.blockers)},
                )
            )
            if not res.passed:
                for path in staged.reports:
                    say(f"  report: {path}")
                raise BlockedError(
                    f"staging regression gate FAILED for {version}: "
                    + "; ".join(res.blockers[:5])
                    + "\ndeployment blocked: production was not touched"
                )
            say(
                f"✓ staging gate PASSED: regression {res.regression_rate:.1f}% <= "
                f"threshold {res.threshold:g}%"
            )
        elif config.staging is not None and skip_staging:
            prepared.preamble.append(
                Event(
                    at=now,
                    kind="regression.staging",
                    message="staging regression gate skipped (--skip-staging)",
                    severity=Severity.WARNING,
                )
            )
    return prepared


def _change_freeze(store: Any) -> Any:
    """The active incident change freeze (a major incident), if any."""
    records = store.gates(service="*", kind="freeze")
    return records[-1] if records and records[-1].decision == "ACTIVE" else None
