"""The contract every Target keeps, as a base class of tests each target subclasses.

    class TestLocalTargetContract(TargetContract):
        real_traffic = True                  # requests to endpoint() reach real replicas

        @pytest.fixture
        async def target(self, ...) -> AsyncIterator[Target]:
            subject = LocalTarget(...)       # for service "shop", versions 1.0.0 and 1.1.0
            yield subject
            await subject.aclose()

The `target` fixture yields a reachable Target for service "shop" on which `V1` and `V2`
can be scaled, with no instances yet; it cleans up whatever the test started. Set
`real_traffic = False` for a target whose endpoint() reaches no real server (a fake
Kubernetes API): the traffic test then checks only the shape of the endpoint.
`ready_timeout` bounds every wait for instances to come or go.

What the contract holds (the Target protocol in providers/targets/base.py): capabilities
is a frozenset of Capability; ping succeeds; scaling makes ready instances appear and is
idempotent; set_weights is reflected in state().weights, is idempotent and gives versions
it does not name 0; scaling to 0 removes every instance of a version; and, when traffic is
real, requests follow the weights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import httpx
import pytest

from tests.polling import wait_for
from watchstander.providers.targets.base import Capability, Endpoint, Target

__all__ = ["TargetContract", "V1", "V2", "SERVICE"]

SERVICE = "shop"
V1, V2 = "1.0.0", "1.1.0"


async def ready_count(target: Target, version: str) -> int:
    return (await target.state()).ready_count(version)


async def count_versions(endpoint: Endpoint, requests: int) -> Counter[str]:
    """Send `requests` GET /version through `endpoint`; count the versions that answered."""
    served: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=5.0, headers=dict(endpoint.headers)) as client:
        for _ in range(requests):
            response = await client.get(endpoint.url + "/version")
            assert response.status_code == 200, response.text
            served[response.json()["version"]] += 1
    return served


@pytest.mark.integration
class TargetContract:
    """Tests every target passes; see the module docstring for what a subclass provides."""

    real_traffic: bool = True
    ready_timeout: float = 30.0

    async def wait_ready(self, target: Target, version: str, n: int) -> None:
        async def done() -> bool:
            state = await target.state()
            return state.ready_count(version) == n and len(state.of(version)) == n

        await wait_for(done, self.ready_timeout, message=f"{n} ready instance(s) of {version}")

    async def wait_gone(self, target: Target, version: str) -> None:
        async def gone() -> bool:
            return not (await target.state()).of(version)

        await wait_for(gone, self.ready_timeout, message=f"no instance of {version} left")

    async def weights(self, target: Target) -> dict[str, float]:
        """The non-zero weights the target reports."""
        return {v: w for v, w in (await target.state()).weights.items() if w}

    # -- the contract ------------------------------------------------------------------

    async def test_is_a_target_with_capabilities(self, target: Target) -> None:
        assert isinstance(target, Target)
        assert isinstance(target.capabilities, frozenset)
        assert target.capabilities, "a target that can do nothing is no target"
        assert all(isinstance(c, Capability) for c in target.capabilities)
        assert Capability.SCALE in target.capabilities

    async def test_ping(self, target: Target) -> None:
        await target.ping()
        await target.ping()  # pinging changes nothing

    async def test_scale_up_then_instances_are_ready(self, target: Target) -> None:
        await target.scale(V1, 2)
        await self.wait_ready(target, V1, 2)
        state = await target.state()
        assert state.desired_replicas.get(V1) == 2
        instances = state.of(V1)
        assert len({i.id for i in instances}) == 2
        assert len({i.address for i in instances}) == 2
        assert all(i.running and i.ready and not i.draining for i in instances)
        assert all(i.version == V1 and not i.crash_loop for i in instances)
        assert V1 in state.versions() and not state.of(V2)

    async def test_scale_twice_is_idempotent(self, target: Target) -> None:
        await target.scale(V1, 1)
        await self.wait_ready(target, V1, 1)
        before = {i.id for i in (await target.state()).of(V1)}
        await target.scale(V1, 1)
        after = await target.state()
        assert {i.id for i in after.of(V1)} == before
        assert after.ready_count(V1) == 1 and after.desired_replicas.get(V1) == 1

    async def test_weights_are_reflected_and_idempotent(self, target: Target) -> None:
        await target.scale(V1, 1)
        await target.scale(V2, 1)
        await self.wait_ready(target, V1, 1)
        await self.wait_ready(target, V2, 1)
        for _ in range(2):
            await target.set_weights({V1: 90, V2: 10})
            assert await self.weights(target) == pytest.approx({V1: 90.0, V2: 10.0})
        await target.set_weights({V1: 25, V2: 75})
        assert await self.weights(target) == pytest.approx({V1: 25.0, V2: 75.0})

    async def test_unnamed_versions_get_no_traffic(self, target: Target) -> None:
        await target.scale(V1, 1)
        await target.scale(V2, 1)
        await self.wait_ready(target, V1, 1)
        await self.wait_ready(target, V2, 1)
        await target.set_weights({V1: 50, V2: 50})
        await target.set_weights({V2: 100})
        state = await target.state()
        assert state.weights.get(V1, 0.0) == 0.0
        assert state.weights.get(V2) == pytest.approx(100.0)

    async def test_scale_to_zero_removes_instances(self, target: Target) -> None:
        await target.scale(V1, 1)
        await target.scale(V2, 2)
        await self.wait_ready(target, V1, 1)
        await self.wait_ready(target, V2, 2)
        await target.set_weights({V1: 100})
        await target.scale(V2, 0)
        await self.wait_gone(target, V2)
        state = await target.state()
        assert V2 not in state.desired_replicas or state.desired_replicas[V2] == 0
        assert state.ready_count(V1) == 1, "scaling one version down leaves the other alone"
        await target.scale(V2, 0)  # idempotent: nothing left to stop
        assert not (await target.state()).of(V2)

    async def test_requests_follow_the_weights(self, target: Target) -> None:
        endpoint = target.endpoint()
        assert isinstance(endpoint, Endpoint) and endpoint.url.startswith("http")
        if not self.real_traffic:
            return  # a target without real servers: the endpoint's shape is all to check
        await target.scale(V1, 1)
        await target.scale(V2, 1)
        await self.wait_ready(target, V1, 1)
        await self.wait_ready(target, V2, 1)
        expectations: list[tuple[Mapping[str, float], Mapping[str, tuple[float, float]]]] = [
            ({V1: 100}, {V1: (1.0, 1.0)}),
            ({V2: 100}, {V2: (1.0, 1.0)}),
            ({V1: 50, V2: 50}, {V1: (0.3, 0.7), V2: (0.3, 0.7)}),
        ]
        for weights, shares in expectations:
            await target.set_weights(weights)
            # A weight change may take a moment to reach every router: measure once only
            # versions that should serve answer.
            served = await wait_for(
                lambda s=shares: _only(endpoint, set(s)),
                self.ready_timeout,
                message=f"traffic to follow {dict(weights)}",
            )
            total = sum(served.values())
            for version, (low, high) in shares.items():
                assert low <= served[version] / total <= high, (weights, dict(served))
            assert set(served) <= set(shares), (weights, dict(served))


async def _only(endpoint: Endpoint, versions: set[str]) -> Counter[str] | None:
    served = await count_versions(endpoint, 100)
    return served if set(served) <= versions else None
