"""KubernetesTarget against the fake API server (k8s_fake_api.py).

No cluster runs on these machines: every test here talks, through the official client, to
a recorded-contract TEST DOUBLE of the API server on loopback, not to Kubernetes. What the
fake does not model (scheduling, kube-proxy, real traffic) is not tested here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_fake_api import FakeKubernetesApi, recorded

from tests.polling import wait_for
from watchstander.config.kubernetes import KubernetesTargetConfig
from watchstander.config.loader import load_config
from watchstander.errors import DataPlaneError
from watchstander.providers.targets.base import Capability, Target
from watchstander.providers.targets.kubernetes import (
    VERSION_HEADER,
    KubernetesTarget,
    replica_split,
)
from watchstander.release.health import health_samples

pytestmark = pytest.mark.integration

NS = "shop"
V1, V2 = "1.0.0", "1.1.0"
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "kubernetes.yaml"

MakeTarget = Callable[..., KubernetesTarget]


@pytest.fixture
async def fake() -> AsyncIterator[FakeKubernetesApi]:
    async with FakeKubernetesApi() as api:
        yield api


@pytest.fixture
async def make_target(fake: FakeKubernetesApi, tmp_path: Path) -> AsyncIterator[MakeTarget]:
    """make_target(**config fields) -> a KubernetesTarget pointed at the fake by kubeconfig."""
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    made: list[KubernetesTarget] = []

    def make(**fields: Any) -> KubernetesTarget:
        config = {
            "app": "shop",
            "image": "registry.example.com/shop:{version}",
            "namespace": NS,
            "kubeconfig": str(kubeconfig),
            "replicas": 3,
            **fields,
        }
        target = KubernetesTarget(KubernetesTargetConfig.model_validate(config), service="shop")
        made.append(target)
        return target

    yield make
    for target in made:
        await target.aclose()


def add_route(fake: FakeKubernetesApi) -> dict[str, Any]:
    """The HTTPRoute a user creates: parentRefs to their Gateway and one path rule."""
    route = recorded("httproute.json")
    route["metadata"] = {"name": "shop", "namespace": NS}
    route["spec"]["rules"] = [{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}]}]
    route.pop("status")
    return fake.put(route)


async def settle(target: KubernetesTarget, ready: dict[str, int]) -> None:
    async def done() -> bool:
        state = await target.state()
        return all(state.ready_count(v) == n and len(state.of(v)) == n for v, n in ready.items())

    await wait_for(done, 10, message=f"ready instances {ready}")


def selector(fake: FakeKubernetesApi) -> dict[str, str]:
    service = fake.get("services", NS, "shop")
    assert service is not None
    return dict(service["spec"]["selector"])


# -- shapes ------------------------------------------------------------------------------


async def test_the_fake_answers_in_the_recorded_shapes(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    target = make_target()
    await target.scale(V1, 1)
    await settle(target, {V1: 1})
    deployment = fake.get("deployments", NS, "shop-1.0.0")
    assert deployment is not None
    example = recorded("deployment.json")
    assert set(example) == set(deployment)
    assert set(deployment["metadata"]) <= set(example["metadata"])
    assert set(deployment["status"]) <= set(example["status"]) | {"unavailableReplicas"}
    (pod,) = fake.items("pods", NS)
    example_pod = recorded("pod-running.json")
    assert set(pod["status"]) == set(example_pod["status"])
    assert set(pod["status"]["containerStatuses"][0]) == set(
        example_pod["status"]["containerStatuses"][0]
    )
    for name in ("status-404.json", "status-409-conflict.json", "status-422.json"):
        status = recorded(name)
        assert status["kind"] == "Status" and isinstance(status["code"], int), name


# -- blue-green --------------------------------------------------------------------------


async def test_blue_green_switches_the_service_selector(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    target = make_target()
    assert Capability.INSTANT_SWITCH in target.capabilities
    assert Capability.HEADER_ROUTING not in target.capabilities
    await target.ping()
    await target.scale(V1, 3)
    await target.set_weights({V1: 100})
    assert selector(fake) == {"app": "shop", "version": V1}
    await target.scale(V2, 3)
    await settle(target, {V1: 3, V2: 3})

    await target.set_weights({V2: 100})
    assert selector(fake) == {"app": "shop", "version": V2}
    state = await target.state()
    assert state.weights == {V2: 100.0}
    assert state.desired_replicas == {V1: 3, V2: 3}, "blue stays for an instant switch back"
    assert target.endpoint(V2).headers == {}, "replica mode has no per-version address"

    dep = fake.get("deployments", NS, "shop-1.1.0")
    assert dep is not None
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/shop:1.1.0"
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8080}
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "shop", "version": V2}


# -- canary by replica ratio -------------------------------------------------------------


def test_replica_split_rounds_half_up_and_keeps_every_canary() -> None:
    assert replica_split({V1: 95, V2: 5}, 3) == {V1: 3, V2: 1}
    assert replica_split({V1: 75, V2: 25}, 4) == {V1: 3, V2: 1}
    assert replica_split({V1: 50, V2: 50}, 3) == {V1: 2, V2: 2}
    assert replica_split({V1: 100, V2: 0}, 3) == {V1: 3}


async def test_canary_by_replicas_scales_to_the_ratio(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    target = make_target(replicas=4)
    await target.scale(V1, 4)
    await target.set_weights({V1: 100})
    await target.scale(V2, 1)
    await settle(target, {V1: 4, V2: 1})

    await target.set_weights({V1: 75, V2: 25})
    assert selector(fake) == {"app": "shop"}, "the Service now spreads over both versions"
    await settle(target, {V1: 3, V2: 1})
    state = await target.state()
    assert state.desired_replicas == {V1: 3, V2: 1}
    assert state.weights == {V1: 75.0, V2: 25.0}

    await target.set_weights({V1: 50, V2: 50})
    await settle(target, {V1: 2, V2: 2})

    await target.set_weights({V1: 100})  # the rollback: one selector patch, pods untouched
    assert selector(fake) == {"app": "shop", "version": V1}
    assert (await target.state()).desired_replicas == {V1: 2, V2: 2}


# -- canary by Gateway API HTTPRoute -----------------------------------------------------


async def test_canary_by_httproute_weights(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    add_route(fake)
    target = make_target(canary_mode="gateway", httproute="shop")
    assert Capability.HEADER_ROUTING in target.capabilities
    await target.ping()
    await target.scale(V1, 2)
    await target.scale(V2, 1)
    await settle(target, {V1: 2, V2: 1})
    assert fake.get("services", NS, "shop-1-1-0") is not None
    assert target.endpoint(V2).headers == {VERSION_HEADER: V2}

    await target.set_weights({V1: 95, V2: 5})
    route = fake.get("httproutes", NS, "shop")
    assert route is not None
    assert route["spec"]["parentRefs"][0]["name"] == "public", "the user's Gateway is kept"
    previews, main = route["spec"]["rules"][:2], route["spec"]["rules"][2]
    assert [r["matches"][0]["headers"][0]["value"] for r in previews] == [V1, V2]
    assert main["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert [(b["name"], b["weight"]) for b in main["backendRefs"]] == [
        ("shop-1-0-0", 9500),
        ("shop-1-1-0", 500),
    ]
    assert (await target.state()).weights == {V1: 95.0, V2: 5.0}

    await target.set_weights({V1: 100})
    await target.scale(V2, 0)
    route = fake.get("httproutes", NS, "shop")
    assert route is not None
    assert len(route["spec"]["rules"]) == 2, "the preview rule of a stopped version goes"
    assert [b["name"] for b in route["spec"]["rules"][1]["backendRefs"]] == ["shop-1-0-0"]
    assert (await target.state()).weights == {V1: 100.0}


# -- Deployment-native rolling -----------------------------------------------------------


async def test_rolling_pause_resume_and_undo(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    target = make_target()
    await target.roll(V1)
    await wait_for(lambda: _complete(target), 10, message="the first rollout to complete")
    assert selector(fake) == {"app": "shop", "watchstander.io/track": "rolling"}
    assert (await target.state()).weights == {V1: 100.0}

    await target.pause_rollout()
    await target.roll(V2)

    async def observed() -> bool:
        dep = fake.get("deployments", NS, "shop")
        assert dep is not None
        return bool(dep["status"]["observedGeneration"] == dep["metadata"]["generation"])

    await wait_for(observed, 10, message="the controller to see the paused change")
    status = await target.rollout_status()
    assert status.paused and status.version == V2 and status.previous == V1
    assert status.updated == 0 and not status.complete
    assert {i.version for i in (await target.state()).instances} == {V1}, "paused: no pod moves"

    await target.resume_rollout()
    await wait_for(lambda: _complete(target), 10, message="the resumed rollout to complete")
    await wait_for(lambda: _only_version(target, V2), 10, message="every pod on 1.1.0")

    await target.undo_rollout()
    await wait_for(lambda: _complete(target), 10, message="the undo to complete")
    await wait_for(lambda: _only_version(target, V1), 10, message="every pod back on 1.0.0")
    await wait_for(lambda: fake.settled(NS), 10, message="the fake controller to settle")
    writes, versions = len(fake.writes()), fake.resource_versions(NS)
    await target.undo_rollout()
    await target.resume_rollout()
    assert len(fake.writes()) == writes and fake.resource_versions(NS) == versions


async def _complete(target: KubernetesTarget) -> bool:
    return (await target.rollout_status()).complete


async def _only_version(target: KubernetesTarget, version: str) -> bool:
    state = await target.state()
    return {i.version for i in state.instances} == {version} and state.ready_count(version) == 3


# -- health --------------------------------------------------------------------------


async def test_crash_loop_maps_to_restarts_and_crash_loop(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    fake.faults[V2] = "crash-loop"
    target = make_target()
    await target.scale(V2, 1)

    async def restarted() -> bool:
        (pod,) = (await target.state()).of(V2) or (None,)
        return pod is not None and pod.restarts >= 2

    await wait_for(restarted, 10, message="the crash-looping pod to restart twice")
    state = await target.state()
    (pod,) = state.of(V2)
    assert pod.crash_loop and pod.running is False and pod.ready is False
    assert pod.last_exit_code == 1 and pod.oom_kills == 0
    assert len(pod.restart_times) == pod.restarts
    samples = health_samples(state, V2, now=state.observed_at, restart_window=300)
    assert samples["restarts"].value is not None and samples["restarts"].value >= 2
    assert samples["unhealthy_pct"].value == 100.0


async def test_oom_killed_and_never_ready(fake: FakeKubernetesApi, make_target: MakeTarget) -> None:
    fake.faults.update({V1: "oom-killed", V2: "never-ready"})
    target = make_target()
    await target.scale(V1, 1)
    await target.scale(V2, 2)

    async def observed() -> bool:
        state = await target.state()
        return any(i.oom_kills for i in state.of(V1)) and all(i.running for i in state.of(V2))

    await wait_for(observed, 10, message="an OOM kill and running pods")
    state = await target.state()
    (oom,) = state.of(V1)
    assert oom.oom_kills == 1 and oom.last_exit_code == 137 and oom.restarts == 1
    assert oom.ready and not oom.crash_loop
    assert len(state.of(V2)) == 2
    assert all(i.running and not i.ready for i in state.of(V2))
    now = state.observed_at
    assert health_samples(state, V1, now=now, restart_window=300)["oom_kills"].value == 1.0
    assert health_samples(state, V2, now=now, restart_window=300)["unhealthy_pct"].value == 100.0


# -- errors ------------------------------------------------------------------------------


async def test_api_errors_become_one_line_dataplane_errors(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    target = make_target()
    await target.scale(V1, 1)
    fake.fail("PATCH", "deployments", code=422, reason="Invalid", message="spec.replicas:\nInvalid")
    with pytest.raises(DataPlaneError, match=r"422 Invalid: spec\.replicas: Invalid$") as info:
        await target.scale(V1, 2)
    assert "\n" not in str(info.value)
    fake.fail(
        "GET",
        "deployments",
        code=403,
        reason="Forbidden",
        message='deployments.apps is forbidden: User "x" cannot list resource',
    )
    with pytest.raises(DataPlaneError, match="403 Forbidden: deployments.apps is forbidden"):
        await target.ping()
    await target.scale(V1, 2)  # the failures had no effect: it works afterwards
    assert (await target.state()).desired_replicas == {V1: 2}


async def test_a_conflicting_route_update_is_retried(
    fake: FakeKubernetesApi, make_target: MakeTarget
) -> None:
    add_route(fake)
    target = make_target(canary_mode="gateway", httproute="shop")
    fake.fail("PATCH", "httproutes", code=409, reason="Conflict", message="modified")
    await target.set_weights({V1: 100})
    assert (await target.state()).weights == {V1: 100.0}
    fake.fail("PATCH", "httproutes", code=409, reason="Conflict", message="modified", times=3)
    with pytest.raises(DataPlaneError, match="409 Conflict"):
        await target.set_weights({V1: 50, V2: 50})


async def test_missing_route_unreachable_api_and_bad_kubeconfig(
    fake: FakeKubernetesApi, make_target: MakeTarget, tmp_path: Path
) -> None:
    with pytest.raises(DataPlaneError, match="HTTPRoute 'shop' not found in namespace 'shop'"):
        await make_target(canary_mode="gateway", httproute="shop").ping()
    with pytest.raises(DataPlaneError, match="cannot load the Kubernetes config"):
        await make_target(kubeconfig=str(tmp_path / "missing")).ping()
    with pytest.raises(DataPlaneError, match="weights must sum to 100"):
        await make_target().set_weights({V1: 50, V2: 20})
    dead = make_target()
    await fake.stop()
    with pytest.raises(DataPlaneError, match=r"Kubernetes API at http://127\.0\.0\.1:\d+ failed"):
        await dead.ping()


async def test_a_missing_client_asks_for_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    config = KubernetesTargetConfig(app="shop", image="shop:{version}")
    with pytest.raises(DataPlaneError, match=r"install watchstander\[kubernetes\]"):
        KubernetesTarget(config, service="shop")


# -- idempotency ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["replicas", "gateway"])
async def test_every_action_twice_changes_nothing_the_second_time(
    fake: FakeKubernetesApi, make_target: MakeTarget, mode: str
) -> None:
    if mode == "gateway":
        add_route(fake)
    target = make_target(canary_mode=mode, httproute="shop" if mode == "gateway" else None)
    actions: list[Callable[[], Any]] = [
        lambda: target.scale(V1, 3),
        lambda: target.set_weights({V1: 100}),
        lambda: target.scale(V2, 1),
        lambda: target.set_weights({V1: 75, V2: 25}),
        lambda: target.set_weights({V2: 100}),
        lambda: target.scale(V1, 0),
    ]
    for action in actions:
        await action()
        await wait_for(lambda: _settled(target), 10, message="the pods to follow")
        await wait_for(lambda: fake.settled(NS), 10, message="the fake controller to settle")
        writes, versions = len(fake.writes()), fake.resource_versions(NS)
        await action()
        assert len(fake.writes()) == writes, f"{mode}: a repeated action wrote"
        assert fake.resource_versions(NS) == versions
    assert json.loads(json.dumps((await target.state()).weights)) == {V2: 100.0}


async def _settled(target: KubernetesTarget) -> bool:
    state = await target.state()
    return all(
        state.ready_count(v) == n and len(state.of(v)) == n
        for v, n in state.desired_replicas.items()
    ) and not any(i.version not in state.desired_replicas for i in state.instances)


# -- config ------------------------------------------------------------------------------


def test_the_documented_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert isinstance(config.target, KubernetesTargetConfig)
    assert config.target.canary_mode == "gateway" and config.target.httproute
    assert config.metrics.type == "prometheus"


def test_config_refuses_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="needs httproute"):
        KubernetesTargetConfig(app="shop", image="shop:{version}", canary_mode="gateway")
    with pytest.raises(ValueError, match=r"must contain \{version\}"):
        KubernetesTargetConfig(app="shop", image="shop:latest")
    with pytest.raises(ValueError, match="RFC 1123"):
        KubernetesTargetConfig(app="Shop_App", image="shop:{version}")


def test_the_class_is_a_target() -> None:
    config = KubernetesTargetConfig(app="shop", image="shop:{version}")
    assert isinstance(KubernetesTarget(config, service="shop"), Target)
