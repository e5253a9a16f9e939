"""LocalTarget against the real daemon, and FakeTarget held to the same contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import DataPlane, free_port, wait_for

from watchstander.clock import FakeClock
from watchstander.config.models import LocalTargetConfig
from watchstander.errors import DataPlaneError
from watchstander.providers.targets.base import Capability, Target
from watchstander.providers.targets.fake import FakeTarget, TargetCall
from watchstander.providers.targets.local import LocalTarget

pytestmark = pytest.mark.integration

V1, V2 = "1.0.0", "1.1.0"


def target_config(plane: DataPlane) -> LocalTargetConfig:
    return config(listen=plane.listen, admin=plane.admin)


def config(**fields: str) -> LocalTargetConfig:
    return LocalTargetConfig.model_validate({"command": ["x", "{port}"], **fields})


@pytest.fixture(params=["local", "fake"])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    """The real LocalTarget on a running daemon, and the FakeTarget: same contract."""
    if request.param == "local":
        plane: DataPlane = request.getfixturevalue("dataplane")
        subject: Target = LocalTarget(target_config(plane), service="demo")
    else:
        subject = FakeTarget()
    yield subject
    await subject.aclose()


async def all_ready(target: Target, version: str, n: int) -> bool:
    return (await target.state()).ready_count(version) == n


async def test_scale_and_weights_are_idempotent(target: Target) -> None:
    assert isinstance(target, Target)
    assert {Capability.WEIGHTED_TRAFFIC, Capability.SCALE} <= target.capabilities
    await target.ping()
    for _ in range(2):
        await target.scale(V1, 2)
        await target.scale(V2, 1)
        await target.set_weights({V1: 90, V2: 10})
    await wait_for(lambda: all_ready(target, V1, 2), message="2 ready 1.0.0")
    await wait_for(lambda: all_ready(target, V2, 1), message="1 ready 1.1.0")

    state = await target.state()
    assert len(state.of(V1)) == 2 and len(state.of(V2)) == 1
    assert state.weights == {V1: 90.0, V2: 10.0}
    assert state.desired_replicas == {V1: 2, V2: 1}
    assert state.versions() == (V1, V2)
    assert all(i.running and i.restarts == 0 and not i.crash_loop for i in state.instances)

    await target.scale(V2, 0)
    await wait_for(lambda: _gone(target, V2), message="1.1.0 gone")
    assert (await target.state()).desired_replicas == {V1: 2}


async def _gone(target: Target, version: str) -> bool:
    return not (await target.state()).of(version)


async def test_refused_weights_carry_the_reason(target: Target) -> None:
    with pytest.raises(DataPlaneError, match="weights must sum to 100"):
        await target.set_weights({V1: 50, V2: 20})


async def test_endpoint_previews_a_version(dataplane: DataPlane) -> None:
    local = LocalTarget(target_config(dataplane), service="demo")
    try:
        await local.scale(V1, 1)
        await local.scale(V2, 1)
        await local.set_weights({V1: 100})
        await wait_for(lambda: all_ready(local, V2, 1), message="1.1.0 ready")
        preview = local.endpoint(V2)
        assert local.endpoint().url == preview.url == dataplane.router_url
        assert local.endpoint().headers == {}
        async with httpx.AsyncClient() as client:
            response = await client.get(preview.url + "/version", headers=dict(preview.headers))
        assert response.json()["version"] == V2
    finally:
        await local.aclose()


async def test_ping_when_the_daemon_is_down_says_how_to_start_it() -> None:
    admin = f"127.0.0.1:{free_port()}"
    local = LocalTarget(config(admin=admin), service="demo")
    try:
        with pytest.raises(DataPlaneError) as caught:
            await local.ping()
        assert str(caught.value) == (
            f"data plane at {admin} is not running (start it with 'watchstander dataplane up')"
        )
        with pytest.raises(DataPlaneError, match="is not running"):
            await local.state()
    finally:
        await local.aclose()


async def test_ping_refuses_a_data_plane_of_another_service(dataplane: DataPlane) -> None:
    local = LocalTarget(target_config(dataplane), service="billing")
    try:
        with pytest.raises(DataPlaneError, match="serves 'demo', not 'billing'"):
            await local.ping()
    finally:
        await local.aclose()


async def test_local_target_over_a_mock_transport() -> None:
    seen: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.content))
        if request.url.path == "/state":
            return httpx.Response(
                200,
                json={
                    "instances": [
                        {
                            "id": "1.0.0-1",
                            "version": V1,
                            "address": "127.0.0.1:1",
                            "running": True,
                            "ready": True,
                            "restart_times": [1.0, 2.0],
                            "restarts": 2,
                            "pid": 42,  # extra fields are ignored
                        }
                    ],
                    "weights": {V1: 100},
                    "desired_replicas": {V1: 1},
                    "observed_at": 3.0,
                },
            )
        return httpx.Response(200, json={})

    local = LocalTarget(
        config(),
        service="demo",
        transport=httpx.MockTransport(handler),
    )
    try:
        await local.scale(V1, 1)
        state = await local.state()
    finally:
        await local.aclose()
    assert seen[0] == ("PUT", f"/versions/{V1}", b'{"replicas":1}')
    assert state.instances[0].restart_times == (1.0, 2.0)
    assert state.observed_at == 3.0 and state.ready_count(V1) == 1


async def test_fake_target_scripts_failures_for_engine_tests() -> None:
    clock = FakeClock()

    def handler(call: TargetCall, target: FakeTarget) -> None:
        if call.action == "ping":
            raise DataPlaneError("down")
        if call.action == "state" and V2 in target.desired:
            target.crash_loop(V2, count=1)
            target.oom_kill(V2, count=1)
            target.set_ready(V2, False, count=2)

    fake = FakeTarget(handler, clock=clock)
    with pytest.raises(DataPlaneError, match="down"):
        await fake.ping()
    await fake.scale(V2, 3)
    state = await fake.state()
    crashed = state.of(V2)[0]
    assert crashed.crash_loop and crashed.restarts == 4 and crashed.oom_kills == 1
    assert crashed.restart_times == (clock.now().timestamp(),) * 4
    assert state.ready_count(V2) == 1
    assert [c.action for c in fake.calls] == ["ping", "scale", "state"]
    assert fake.calls_of("scale") == [TargetCall("scale", version=V2, replicas=3)]
