"""The rollout controller with a real SQLite store, test-double target and metric source
(FakeTarget, FakeMetricSource) and virtual time (FakeClock)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import FakeClock
from watchstander.config.loader import parse_config
from watchstander.engine.controller import RolloutController
from watchstander.engine.operations import create_rollout
from watchstander.engine.settings import settings_from_config
from watchstander.errors import ConflictError, DataPlaneError
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.providers.targets.fake import FakeTarget, TargetCall
from watchstander.release.models import Command, RolloutPhase, Strategy
from watchstander.store.repository import Store

CONFIG = """\
service: {name: shop}
target:
  type: local
  command: ["serve", "{port}"]
  replicas: 3
strategy: {observation: 2m}
analysis: {interval: 30s, count: 2}
smoke:
  - {name: health, type: http, path: /health}
"""


class Died(BaseException):
    """Stands in for SIGKILL: nothing after it runs, not even except Exception blocks."""


def healthy(q: MetricQuery) -> Sample:
    values = {"error_rate": 0.001, "latency_p99": 40.0, "throughput": 50.0}
    return Sample(value=values.get(q.metric, 1.0), count=500, query=f"{q.metric}{{{q.version}}}")


def slow(version: str):
    def handler(q: MetricQuery) -> Sample:
        if q.version == version and q.metric == "latency_p99":
            return Sample(value=400.0, count=500, query="p99")
        return healthy(q)

    return handler


def smoke_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="ok")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(None, workdir=tmp_path) as s:
        yield s


def controller(
    store: Store,
    target: FakeTarget,
    metrics: FakeMetricSource,
    clock: FakeClock,
    tmp_path: Path | None = None,
) -> RolloutController:
    config = parse_config(CONFIG)
    return RolloutController(
        store=store,
        target=target,
        metrics=metrics,
        config=config,
        settings=settings_from_config(config),
        clock=clock,
        reports_root=tmp_path,
        smoke_transport=httpx.MockTransport(smoke_ok),
    )


async def release(
    store: Store,
    clock: FakeClock,
    version: str,
    target: FakeTarget,
    metrics: FakeMetricSource,
    strategy: Strategy | None = None,
):
    c = controller(store, target, metrics, clock)
    c.acquire("shop")
    try:
        r = create_rollout(
            store=store, config=c.config, version=version, strategy=strategy, now=clock.now()
        )
        return await c.run(r.id)
    finally:
        c.release("shop")


async def test_first_release_then_a_healthy_canary(store: Store) -> None:
    clock = FakeClock()
    target = FakeTarget(clock=clock)
    metrics = FakeMetricSource(healthy)
    first = await release(store, clock, "1.0.0", target, metrics)
    assert first.phase is RolloutPhase.SUCCEEDED and store.stable_version("shop") == "1.0.0"
    canary = await release(store, clock, "1.1.0", target, metrics, Strategy.CANARY)
    assert canary.phase is RolloutPhase.SUCCEEDED
    assert store.stable_version("shop") == "1.1.0"
    assert target.weights == {"1.1.0": 100.0} and len(target.of("1.0.0")) == 0
    kinds = [e.kind for e in store.events(canary.id)]
    assert kinds[0] == "rollout.created" and kinds[-1] == "rollout.succeeded"
    assert "action.intent" in kinds
    ms = store.measurements(canary.id)
    assert {m.name for _, _, m in ms} >= {"error-rate", "latency-p99", "throughput", "restarts"}
    assert all(m.query for _, _, m in ms)
    smoke = store.smoke_results(canary.id)
    assert {r.scope for _, r in smoke} == {"baseline", "preview", "production", "gate"}
    kinds_gate = [e for e in store.events(canary.id) if e.kind == "regression.production"]
    assert len(kinds_gate) == 1 and kinds_gate[0].data["result"]["verdict"] == "PASS"


async def test_regressing_canary_is_rolled_back_and_recorded(store: Store) -> None:
    clock = FakeClock()
    target = FakeTarget(clock=clock)
    await release(store, clock, "1.0.0", target, FakeMetricSource(healthy))
    bad = await release(store, clock, "1.1.0", target, FakeMetricSource(slow("1.1.0")))
    assert bad.phase is RolloutPhase.ROLLED_BACK
    assert store.stable_version("shop") == "1.0.0"
    assert target.weights == {"1.0.0": 100.0} and target.of("1.1.0") == []
    failing = [m for _, _, m in store.measurements(bad.id) if m.phase.value == "FAIL"]
    assert (
        failing[0].name == "latency-p99"
        and failing[0].value == 400.0
        and failing[0].baseline == 40.0
    )
    assert [e.kind for e in store.events(bad.id)][-1] == "rollback.verified"


async def test_a_controller_killed_mid_canary_is_finished_by_another(store: Store) -> None:
    clock = FakeClock()
    metrics = FakeMetricSource(healthy)
    target = FakeTarget(clock=clock)
    await release(store, clock, "1.0.0", target, metrics)

    def die_at_25(call: TargetCall, t: FakeTarget) -> None:
        if call.action == "set_weights" and call.weights and call.weights.get("1.1.0") == 25.0:
            raise Died

    target.handler = die_at_25
    first = controller(store, target, metrics, clock)
    first.acquire("shop")
    rollout = create_rollout(
        store=store, config=first.config, version="1.1.0", strategy=None, now=clock.now()
    )
    with pytest.raises(Died):
        await first.run(rollout.id)
    assert target.weights == {"1.1.0": 5.0, "1.0.0": 95.0}  # traffic stays where it was
    target.handler = None

    second = controller(store, target, metrics, clock)
    with pytest.raises(ConflictError, match="lease"):
        second.acquire("shop")  # the dead holder's lease has not expired yet
    clock.advance(first.lease_ttl + 1)
    second.acquire("shop")
    done = await second.run(rollout.id)
    assert done.phase is RolloutPhase.SUCCEEDED
    assert target.weights == {"1.1.0": 100.0}
    intents = [e.message for e in store.events(rollout.id) if e.kind == "action.intent"]
    assert intents.count("set traffic 1.0.0 75%, 1.1.0 25%") == 1  # re-issued, not re-recorded


async def test_commands_from_another_process_are_applied(store: Store) -> None:
    clock = FakeClock()
    metrics = FakeMetricSource(healthy)
    target = FakeTarget(clock=clock)
    await release(store, clock, "1.0.0", target, metrics)

    def abort_at_25(call: TargetCall, t: FakeTarget) -> None:
        if call.action == "set_weights" and call.weights and call.weights.get("1.1.0") == 25.0:
            r = store.active_rollout("shop")
            assert r is not None
            store.enqueue_command(Command(rollout_id=r.id, name="abort", by="ops", at=clock.now()))

    target.handler = abort_at_25
    aborted = await release(store, clock, "1.1.0", target, metrics)
    assert aborted.phase is RolloutPhase.ABORTED and "by ops" in (aborted.rollback_reason or "")
    assert target.weights == {"1.0.0": 100.0}
    assert store.pending_commands(aborted.id) == []


async def test_a_target_that_fails_is_retried_not_fatal(store: Store) -> None:
    clock = FakeClock()
    metrics = FakeMetricSource(healthy)
    failures = {"n": 0}

    def flaky(call: TargetCall, t: FakeTarget) -> None:
        if call.action == "scale" and failures["n"] < 2:
            failures["n"] += 1
            raise DataPlaneError("connection refused")

    target = FakeTarget(flaky, clock=clock)
    done = await release(store, clock, "1.0.0", target, metrics)
    assert done.phase is RolloutPhase.SUCCEEDED
    failed = [e for e in store.events(done.id) if e.kind == "action.failed"]
    assert len(failed) == 2 and "connection refused" in failed[0].message


async def test_a_second_deploy_of_the_same_service_is_refused(store: Store) -> None:
    clock = FakeClock()
    target = FakeTarget(clock=clock)
    c = controller(store, target, FakeMetricSource(healthy), clock)
    c.acquire("shop")
    create_rollout(store=store, config=c.config, version="1.0.0", strategy=None, now=clock.now())
    with pytest.raises(ConflictError, match="still Pending"):
        create_rollout(
            store=store, config=c.config, version="1.0.1", strategy=None, now=clock.now()
        )
    other = controller(store, target, FakeMetricSource(healthy), clock)
    with pytest.raises(ConflictError, match="driving the rollout of shop"):
        other.acquire("shop")


async def test_reports_are_rendered_from_the_store_at_the_end(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    target = FakeTarget(clock=clock)
    await release(store, clock, "1.0.0", target, FakeMetricSource(healthy))
    c = controller(store, target, FakeMetricSource(slow("1.1.0")), clock, tmp_path / ".aiwg")
    c.acquire("shop")
    r = create_rollout(
        store=store, config=c.config, version="1.1.0", strategy=None, now=clock.now()
    )
    done = await c.run(r.id)
    c.release("shop")
    report = (tmp_path / ".aiwg/reports/deployment-report-1.1.0.md").read_text()
    assert "Status: ROLLBACK" in report
    assert "400" in report and "latency-p99" in report
    rollback = (tmp_path / ".aiwg/deployment/rollback-report-1.1.0.md").read_text()
    assert "1.0.0" in rollback
    for name in (
        "deployment-execution-log.md",
        "slo-monitoring-report.md",
        "rollback-execution-log.md",
    ):
        assert (tmp_path / ".aiwg/deployment" / name).is_file()
    assert (tmp_path / ".aiwg/working/deployment/stakeholder-notification-1.1.0.md").is_file()
    archive = list((tmp_path / ".aiwg/archive").glob("*/deployment-1.1.0/audit-trail.md"))
    assert archive and done.id in archive[0].read_text()
    # the step timeline carries the engine's step events
    log = (tmp_path / ".aiwg/deployment/deployment-execution-log.md").read_text()
    row = next(line for line in log.splitlines() if "| canary at 5% |" in line)
    assert "2026-01-01" in row and "not reached" not in row
    later = next(line for line in log.splitlines() if "| canary at 25% |" in line)
    assert "not reached" in later


# -- the production regression gate --------------------------------------------------------


def subtle_errors(version: str):
    """The candidate fails 0.4% of requests: under the 2 pp rollback trigger, over the
    gate's 0.1 pp noise floor, so only the production regression gate sees it."""

    def handler(q: MetricQuery) -> Sample:
        if q.version == version and q.metric == "error_rate":
            return Sample(value=0.005, count=500, query="errors")
        return healthy(q)

    return handler


async def gated_release(store: Store, clock: FakeClock, handler, **options):
    target = FakeTarget(clock=clock)
    await release(store, clock, "1.0.0", target, FakeMetricSource(healthy))
    c = controller(store, target, FakeMetricSource(handler), clock)
    c.acquire("shop")
    try:
        r = create_rollout(
            store=store,
            config=c.config,
            version="1.1.0",
            strategy=Strategy.CANARY,
            now=clock.now(),
            **options,
        )
        return await c.run(r.id), target
    finally:
        c.release("shop")


async def test_the_production_gate_rolls_back_a_regression_the_triggers_miss(
    store: Store,
) -> None:
    clock = FakeClock()
    rollout, target = await gated_release(store, clock, subtle_errors("1.1.0"))
    assert rollout.phase is RolloutPhase.ROLLED_BACK
    assert "production regression gate" in (rollout.rollback_reason or "")
    gate = [e for e in store.events(rollout.id) if e.kind == "regression.production"]
    assert len(gate) == 1
    result = gate[0].data["result"]
    assert result["verdict"] == "FAIL"
    error_rate = next(m for m in result["metrics"] if m["name"] == "error_rate")
    assert error_rate["regressed"] is True and error_rate["change"] > 0.1
    # the analyses before it all passed: the gate, not a trigger, caught it
    kinds = [e.kind for e in store.events(rollout.id)]
    assert "analysis.failed" not in kinds and kinds.index("regression.production") < kinds.index(
        "rollback.started"
    )
    assert target.weights == {"1.0.0": 100.0}


async def test_a_threshold_above_the_regression_lets_the_gate_pass(store: Store) -> None:
    clock = FakeClock()
    rollout, _ = await gated_release(store, clock, subtle_errors("1.1.0"), regression_threshold=1.0)
    assert rollout.phase is RolloutPhase.SUCCEEDED
    gate = [e for e in store.events(rollout.id) if e.kind == "regression.production"]
    assert gate[0].data["result"]["verdict"] == "PASS"


async def test_without_rollback_on_regression_a_failed_gate_waits_for_a_decision(
    store: Store,
) -> None:
    clock = FakeClock()
    target = FakeTarget(clock=clock)
    await release(store, clock, "1.0.0", target, FakeMetricSource(healthy))
    c = controller(store, target, FakeMetricSource(subtle_errors("1.1.0")), clock)
    c.acquire("shop")
    try:
        r = create_rollout(
            store=store,
            config=c.config,
            version="1.1.0",
            strategy=Strategy.CANARY,
            now=clock.now(),
            rollback_on_regression=False,
        )
        paused = await run_until_paused(c, r.id, clock)
        assert paused.phase is RolloutPhase.PAUSED
        assert "production regression gate" in (paused.pause_reason or "")
        assert target.weights == {"1.1.0": 100.0}  # nothing rolled back while waiting
        store.enqueue_command(Command(rollout_id=r.id, name="promote", by="alice", at=clock.now()))
        done = await c.run(r.id)
    finally:
        c.release("shop")
    assert done.phase is RolloutPhase.SUCCEEDED  # the human accepted the risk


async def run_until_paused(c: RolloutController, rollout_id: str, clock: FakeClock):
    """Drive the loop until the rollout pauses: the pause event stops the controller
    (it would otherwise wait for a command forever)."""

    def stop_on_pause(rollout, event) -> None:
        if event.kind == "rollout.paused":
            raise Died

    c.on_event = stop_on_pause
    with pytest.raises(Died):
        await c.run(rollout_id)
    c.on_event = None
    return c.store.get_rollout(rollout_id)
