"""Whole rollouts driven by the engine on the Kubernetes target, rolling by the
Deployment's own strategy (`rolling: native`).

No cluster runs on these machines: the target talks, through the official client, to the
recorded-contract fake API server (k8s_fake_api.py), a TEST DOUBLE whose simulated
Deployment controller replaces pods within maxSurge / maxUnavailable and honours
`spec.paused`. Its pods serve no traffic, so the metric source here is the FakeMetricSource
TEST DOUBLE answering healthy figures; pod health (readiness, restarts, OOMKilled) comes
from the fake's pod statuses through the real target. The rollouts run in real time, in
seconds, because the fake's controller does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from k8s_fake_api import FakeKubernetesApi
from rich.console import Console

from tests.polling import wait_for
from watchstander.analysis.models import MetricQuery, Sample
from watchstander.cli.output import rollout_json, rollout_table
from watchstander.clock import SystemClock
from watchstander.config.loader import parse_config
from watchstander.config.models import Config
from watchstander.engine.controller import RolloutController
from watchstander.engine.operations import create_rollout
from watchstander.engine.settings import settings_from_config
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.providers.targets.base import Capability
from watchstander.providers.targets.kubernetes import KubernetesTarget
from watchstander.release.models import Command, Rollout, RolloutPhase, StepKind, Strategy
from watchstander.store.repository import Store

pytestmark = pytest.mark.integration

NS = "shop"
V1, V2 = "1.0.0", "1.1.0"

CONFIG = """\
service: {{name: shop}}
target:
  type: kubernetes
  kubeconfig: {kubeconfig}
  namespace: shop
  app: shop
  image: registry.example.com/shop:{{version}}
  replicas: 3
  ready_timeout: 20s
  health: {{path: /health, interval: 0.1s}}
metrics: {{type: prometheus, url: "http://127.0.0.1:9"}}
strategy:
  default: rolling
  rolling: {{batch_size: 1, max_unavailable: 0, manual_gate: {gate}}}
  observation: 0s
analysis: {{interval: 0.3s, window: 5s, count: 1}}
rollback: {{verify_window: 0.1s}}
"""


def healthy(q: MetricQuery) -> Sample:
    values = {"error_rate": 0.001, "latency_p99": 40.0, "throughput": 50.0}
    return Sample(value=values.get(q.metric, 1.0), count=500, query=f"fake {q.metric}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeKubernetesApi]:
    # Pods take 0.6 s to become ready: slow enough that a batch can be held (the engine
    # polls every 0.05 s), fast enough that 3 pods one at a time take a few seconds.
    async with FakeKubernetesApi(ready_after=0.6) as api:
        yield api


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(None, workdir=tmp_path) as s:
        yield s


class Rig:
    def __init__(self, fake: FakeKubernetesApi, store: Store, tmp_path: Path) -> None:
        self.fake, self.store, self.tmp_path = fake, store, tmp_path
        self.kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
        self.targets: list[KubernetesTarget] = []

    def config(self, *, gate: bool = False) -> Config:
        return parse_config(CONFIG.format(kubeconfig=self.kubeconfig, gate=str(gate).lower()))

    def controller(self, config: Config) -> RolloutController:
        assert config.target.type == "kubernetes"
        target = KubernetesTarget(config.target, service="shop")
        self.targets.append(target)
        return RolloutController(
            store=self.store,
            target=target,
            metrics=FakeMetricSource(healthy),
            config=config,
            settings=settings_from_config(config),
            clock=SystemClock(),
        )

    def start(self, version: str, *, gate: bool = False) -> tuple[Rollout, asyncio.Task[Rollout]]:
        config = self.config(gate=gate)
        controller = self.controller(config)
        controller.acquire("shop")
        rollout = create_rollout(
            store=self.store,
            config=config,
            version=version,
            strategy=None,
            now=datetime.now(UTC),
        )

        async def drive() -> Rollout:
            try:
                return await controller.run(rollout.id)
            finally:
                controller.release("shop")

        return rollout, asyncio.create_task(drive())

    async def release(self, version: str, *, gate: bool = False) -> Rollout:
        _, task = self.start(version, gate=gate)
        return await asyncio.wait_for(task, 60)

    def deployment(self) -> dict[str, Any]:
        found = self.fake.get("deployments", NS, "shop")
        assert found is not None, "the rolling Deployment 'shop' does not exist"
        return found

    def template_version(self) -> str:
        annotations = self.deployment()["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["watchstander.io/version"])

    def pods(self, version: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.fake.items("pods", NS)
            if p["metadata"]["annotations"].get("watchstander.io/version") == version
            and "deletionTimestamp" not in p["metadata"]
        ]

    def kinds(self, rollout_id: str) -> list[str]:
        return [e.kind for e in self.store.events(rollout_id)]

    async def aclose(self) -> None:
        for target in self.targets:
            await target.aclose()


@pytest.fixture
async def rig(fake: FakeKubernetesApi, store: Store, tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(fake, store, tmp_path)
    yield r
    await r.aclose()


async def test_first_release_and_a_rolling_update_by_the_deployments_own_strategy(
    rig: Rig,
) -> None:
    config = rig.config()
    assert Capability.NATIVE_ROLLING in KubernetesTarget(config.target, service="shop").capabilities

    first = await rig.release(V1)
    assert first.phase is RolloutPhase.SUCCEEDED, first.message
    assert [s.kind for s in first.plan] == [StepKind.ROLL]
    assert rig.template_version() == V1 and len(rig.pods(V1)) == 3
    assert rig.fake.get("deployments", NS, "shop-1.0.0") is None, "no per-version Deployment"
    service = rig.fake.get("services", NS, "shop")
    assert service is not None
    assert service["spec"]["selector"] == {"app": "shop", "watchstander.io/track": "rolling"}

    second = await rig.release(V2)
    assert second.phase is RolloutPhase.SUCCEEDED, second.message
    assert second.strategy is Strategy.ROLLING
    assert [s.kind for s in second.plan] == [
        StepKind.BASELINE,
        StepKind.ROLL,
        StepKind.ANALYSIS,
        StepKind.GATE,
    ]
    dep = rig.deployment()
    # batch_size 1, max_unavailable 0: one new pod at a time, never one fewer ready.
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert rig.fake.peak[(NS, "shop")] == 4, "more than replicas + maxSurge pods at once"
    assert rig.fake.low[(NS, "shop")] >= 3, "fewer than replicas - maxUnavailable ready pods"
    assert rig.template_version() == V2 and len(rig.pods(V2)) == 3 and not rig.pods(V1)
    assert dep["metadata"]["annotations"]["watchstander.io/previous-version"] == V1
    kinds = rig.kinds(second.id)
    assert kinds.index("deployment.rolling") < kinds.index("deployment.rolled")
    assert "analysis.passed" in kinds and kinds[-1] == "rollout.succeeded"
    rolled = next(e for e in rig.store.events(second.id) if e.kind == "deployment.rolled")
    assert rolled.message == "shop: 3/3 pods of 1.1.0 ready"
    assert second.deployment is not None and second.deployment.name == "shop"
    assert rig.store.stable_version("shop") == V2


async def test_a_crash_looping_version_is_undone_by_the_deployment(rig: Rig) -> None:
    assert (await rig.release(V1)).phase is RolloutPhase.SUCCEEDED
    rig.fake.faults[V2] = "crash-loop"
    failed = await rig.release(V2)
    assert failed.phase is RolloutPhase.ROLLED_BACK, failed.message
    assert "restarts" in (failed.rollback_reason or "")
    assert [s.kind for s in failed.rollback_plan] == [StepKind.UNDO, StepKind.VERIFY]
    # The Deployment went back to 1.0.0 by its own strategy and runs it on every pod.
    assert rig.template_version() == V1 and len(rig.pods(V1)) == 3 and not rig.pods(V2)
    assert not rig.deployment()["spec"].get("paused")
    kinds = rig.kinds(failed.id)
    assert kinds.index("rollback.started") < kinds.index("deployment.undone")
    assert kinds.index("deployment.undone") < kinds.index("rollback.verified")
    intents = [e.message for e in rig.store.events(failed.id) if e.kind == "action.intent"]
    assert "undo the target's rolling update back to 1.0.0" in intents
    assert rig.store.stable_version("shop") == V1


async def test_manual_gate_holds_the_deployment_and_pause_resume_reach_it(rig: Rig) -> None:
    assert (await rig.release(V1)).phase is RolloutPhase.SUCCEEDED
    rollout, task = rig.start(V2, gate=True)

    def phase() -> RolloutPhase:
        return rig.store.get_rollout(rollout.id).phase

    await wait_for(lambda: phase() is RolloutPhase.PAUSED, 30, message="the manual gate")
    held = rig.store.get_rollout(rollout.id)
    assert held.current_step is not None and held.current_step.kind is StepKind.PAUSE
    assert rig.deployment()["spec"]["paused"] is True
    status = held.deployment
    assert status is not None and status.paused and status.version == V2
    assert 1 <= status.updated_ready < 3, status
    before = len(rig.pods(V2))
    assert before < 3 and rig.pods(V1), "held: old pods still serve beside the new"
    assert "deployment.held" in rig.kinds(rollout.id)
    # `rollout status` shows where the Deployment was held.
    console = Console(width=200, record=True)
    console.print(rollout_table(held, verdicts=[], live_weights=None))
    shown = console.export_text()
    assert f"shop: template 1.1.0, {status.updated_ready}/3 pods of it ready, paused" in shown
    as_json = json.loads(rollout_json(held, verdicts=[], live_weights=None))
    assert as_json["deployment"]["paused"] is True and as_json["deployment"]["name"] == "shop"

    rig.store.enqueue_command(Command(rollout_id=rollout.id, name="promote", at=datetime.now(UTC)))

    def rolling_again() -> bool:
        r = rig.store.get_rollout(rollout.id)
        step = r.current_step
        return step is not None and step.kind is StepKind.ROLL and not r.paused

    await wait_for(rolling_again, 30, message="promote to resume the update")
    rig.store.enqueue_command(Command(rollout_id=rollout.id, name="pause", at=datetime.now(UTC)))

    def paused_while_rolling() -> bool:
        r = rig.store.get_rollout(rollout.id)
        return r.paused and r.deployment is not None and r.deployment.paused

    await wait_for(paused_while_rolling, 30, message="`rollout pause` to pause the Deployment")
    paused = rig.store.get_rollout(rollout.id)
    assert paused.current_step is not None and paused.current_step.kind is StepKind.ROLL
    assert rig.deployment()["spec"]["paused"] is True
    assert "deployment.paused" in rig.kinds(rollout.id)

    rig.store.enqueue_command(Command(rollout_id=rollout.id, name="resume", at=datetime.now(UTC)))
    done = await asyncio.wait_for(task, 60)
    assert done.phase is RolloutPhase.SUCCEEDED, done.message
    assert not rig.deployment()["spec"].get("paused")
    assert rig.template_version() == V2 and len(rig.pods(V2)) == 3
    kinds = rig.kinds(rollout.id)
    assert kinds.index("deployment.held") < kinds.index("rollout.promoted")
    assert kinds.index("deployment.paused") < kinds.index("deployment.resumed")


async def test_native_rolling_over_per_version_deployments_is_refused_and_undone(
    rig: Rig,
) -> None:
    """A service released by canary runs on per-version Deployments: switching its Service
    to a rolling Deployment that has no ready pod would drop traffic, so the roll is
    refused, the rollout rolls back past its progress deadline, and nothing changed."""
    # A first release on per-version Deployments, as canary and blue-green leave it.
    config = rig.config()
    assert config.target.type == "kubernetes"
    target = KubernetesTarget(config.target, service="shop")
    rig.targets.append(target)
    await target.scale(V1, 3)
    await target.set_weights({V1: 100.0})
    rig.store.set_stable(service="shop", version=V1, rollout_id=None, at=datetime.now(UTC))
    await wait_for(lambda: rig.fake.settled(NS), 10, message="shop-1.0.0 to run")

    quick = parse_config(
        CONFIG.format(kubeconfig=rig.kubeconfig, gate="false").replace(
            "ready_timeout: 20s", "ready_timeout: 1s"
        )
    )
    controller = rig.controller(quick)
    controller.acquire("shop")
    try:
        rollout = create_rollout(
            store=rig.store, config=quick, version=V2, strategy=None, now=datetime.now(UTC)
        )
        done = await asyncio.wait_for(controller.run(rollout.id), 60)
    finally:
        controller.release("shop")
    assert done.phase is RolloutPhase.ROLLED_BACK, done.message
    assert "served by per-version Deployments (shop-1.0.0)" in (done.rollback_reason or "")
    assert "progress deadline exceeded after 1s" in (done.rollback_reason or "")
    assert rig.fake.get("deployments", NS, "shop") is None, "no rolling Deployment was created"
    service = rig.fake.get("services", NS, "shop")
    assert service is not None and service["spec"]["selector"] == {"app": "shop", "version": V1}
    undone = next(e for e in rig.store.events(done.id) if e.kind == "deployment.undone")
    assert undone.message == "shop: no pod of the update runs; 1.0.0 serves as before"
    assert "rollback.verified" in rig.kinds(done.id)
