"""Where the production regression gate and the baseline checks go in each plan, and
what the plan's expected duration is."""

from __future__ import annotations

import pytest

from watchstander.config.models import StrategyConfig
from watchstander.release.models import StepKind, Strategy
from watchstander.release.plan import build_plan, estimate_duration


def kinds(strategy: Strategy, settings: StrategyConfig | None = None, **kw) -> list[str]:
    plan = build_plan(
        strategy,
        settings or StrategyConfig(),
        replicas=3,
        analysis_count=2,
        has_smoke=True,
        has_stable=True,
        **kw,
    )
    return [f"{s.kind.value}:{s.scope}" if s.kind is StepKind.SMOKE else s.kind.value for s in plan]


@pytest.mark.parametrize("strategy", [Strategy.CANARY, Strategy.BLUE_GREEN, Strategy.ROLLING])
def test_the_gate_follows_the_observation_and_the_checks_follow_the_baseline(
    strategy: Strategy,
) -> None:
    steps = kinds(strategy, regression_gate=True, baseline_checks=True)
    assert steps[:2] == ["baseline", "smoke:baseline"]
    assert steps.count("regression-gate") == 1
    gate = steps.index("regression-gate")
    assert steps[gate - 1] == "observe"
    if strategy is Strategy.ROLLING:
        assert gate == len(steps) - 1  # rolling has replaced every instance: undo rolls back
    else:
        # the old version is still there when the gate decides: instant rollback
        assert "scale" in steps[gate + 1 :]


def test_without_the_gate_the_plan_is_unchanged() -> None:
    with_gate = kinds(Strategy.CANARY, regression_gate=True, baseline_checks=True)
    without = kinds(Strategy.CANARY)
    assert [k for k in with_gate if k not in ("regression-gate", "smoke:baseline")] == without


def test_without_observation_the_gate_follows_the_production_smoke() -> None:
    settings = StrategyConfig(observation=0)
    steps = kinds(Strategy.BLUE_GREEN, settings, regression_gate=True, baseline_checks=True)
    gate = steps.index("regression-gate")
    assert steps[gate - 1] == "smoke:production"


def test_first_releases_and_undo_have_no_gate() -> None:
    for strategy in (Strategy.INITIAL, Strategy.UNDO):
        assert "regression-gate" not in kinds(strategy, regression_gate=True)


def test_expected_duration_adds_analyses_observation_and_waits() -> None:
    settings = StrategyConfig(observation=600)
    plan = build_plan(
        Strategy.CANARY, settings, replicas=3, analysis_count=2, has_smoke=False, has_stable=True
    )
    analyses = sum(1 for s in plan if s.kind is StepKind.ANALYSIS)
    scales = sum(1 for s in plan if s.kind is StepKind.SCALE)
    assert (
        estimate_duration(plan, interval=60, ready_time=10) == analyses * 2 * 60 + 600 + scales * 10
    )


@pytest.mark.parametrize("strategy", [Strategy.CANARY, Strategy.BLUE_GREEN])
def test_no_preview_smoke_on_a_target_without_header_routing(strategy: Strategy) -> None:
    with_header = kinds(strategy)
    without = kinds(strategy, preview_smoke=False)
    assert "smoke:preview" in with_header and "smoke:preview" not in without
    assert "smoke:production" in without  # still tested, once traffic reaches it
    assert [k for k in with_header if k != "smoke:preview"] == without


def test_a_rollout_on_haproxy_says_why_it_has_no_preview_smoke(tmp_path) -> None:
    from datetime import UTC, datetime

    from watchstander.config.loader import parse_config
    from watchstander.engine.operations import create_rollout
    from watchstander.store.repository import Store

    config = parse_config(
        """\
service: {name: shop}
target:
  type: haproxy
  runtime_api: tcp:127.0.0.1:9999
  backend: shop
  command: ["./serve", "{port}"]
metrics: {type: prometheus, url: "http://127.0.0.1:9090"}
smoke: [{name: health, type: http, path: /health}]
"""
    )
    assert not config.target.header_routing
    now = datetime(2026, 11, 22, tzinfo=UTC)
    with Store.open(None, workdir=tmp_path) as store:
        store.set_stable(service="shop", version="1.0.0", rollout_id=None, at=now)
        r = create_rollout(
            store=store, config=config, version="1.1.0", strategy=Strategy.CANARY, now=now
        )
        scopes = [s.scope for s in r.plan if s.kind is StepKind.SMOKE]
        assert "preview" not in scopes and "production" in scopes
        created = store.events(r.id)[0]
    assert created.kind == "rollout.created"
    assert "no preview smoke tests: target haproxy cannot send a request to one version" in (
        created.message
    )
