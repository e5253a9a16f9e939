"""FakeTarget: an in-memory Target for engine tests, scripted by a handler function.

In the spirit of httpx.MockTransport: the fake records every call in `calls` and keeps a
TargetState in memory (scale creates instances that are ready at once, set_weights checks
and stores weights, both idempotent like the real thing). Before applying a call it runs
`handler(call, target)`, which may

- raise (e.g. DataPlaneError) to make the call fail with no effect,
- script the world through the helpers below, typically on a "state" call so that the
  engine observes it: crash_loop(), oom_kill(), set_ready(), update(),
- or do nothing.

    def handler(call: TargetCall, target: FakeTarget) -> None:
        if call.action == "state" and target.desired.get("2.0"):
            target.crash_loop("2.0")          # the canary restarts 3 times

    target = FakeTarget(handler, clock=fake_clock)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from watchstander.clock import Clock
from watchstander.dataplane.state import validate_weights
from watchstander.errors import DataPlaneError
from watchstander.providers.targets.base import Capability, Endpoint, InstanceState, TargetState

__all__ = ["TargetCall", "Handler", "FakeTarget", "ALL_CAPABILITIES"]

ALL_CAPABILITIES = frozenset(Capability)
Action = Literal["ping", "scale", "set_weights", "state"]


@dataclass(frozen=True)
class TargetCall:
    action: Action
    version: str | None = None
    replicas: int | None = None
    weights: Mapping[str, float] | None = None


Handler = Callable[[TargetCall, "FakeTarget"], None]


class FakeTarget:
    """An in-memory target; see the module docstring."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        capabilities: Iterable[Capability] = ALL_CAPABILITIES,
        clock: Clock | None = None,
        ready: bool = True,
        url: str = "http://127.0.0.1:8080",
    ) -> None:
        self.capabilities: frozenset[Capability] = frozenset(capabilities)
        self.handler = handler
        self.clock = clock
        self.ready_on_start = ready
        self.url = url
        self.calls: list[TargetCall] = []
        self.instances: dict[str, InstanceState] = {}
        self.weights: dict[str, float] = {}
        self.desired: dict[str, int] = {}
        self.closed = False
        self._serial = 0

    def now(self) -> float:
        return self.clock.now().timestamp() if self.clock is not None else time.time()

    def _enter(self, call: TargetCall) -> None:
        self.calls.append(call)
        if self.handler is not None:
            self.handler(call, self)

    def calls_of(self, action: Action) -> list[TargetCall]:
        return [c for c in self.calls if c.action == action]

    # -- the Target protocol -------------------------------------------------------------

    async def ping(self) -> None:
        self._enter(TargetCall("ping"))

    async def scale(self, version: str, replicas: int) -> None:
        self._enter(TargetCall("scale", version=version, replicas=replicas))
        current = self.of(version)
        for _ in range(replicas - len(current)):
            self._serial += 1
            instance = InstanceState(
                id=f"{version}-{self._serial}",
                version=version,
                address=f"127.0.0.1:{20000 + self._serial}",
                running=True,
                ready=self.ready_on_start,
                started_at=self.now(),
            )
            self.instances[instance.id] = instance
        for instance in current[replicas:] if replicas < len(current) else ():
            del self.instances[instance.id]
        if replicas:
            self.desired[version] = replicas
        else:
            self.desired.pop(version, None)

    async def set_weights(self, weights: Mapping[str, float]) -> None:
        self._enter(TargetCall("set_weights", weights=dict(weights)))
        try:
            self.weights = validate_weights(weights)
        except ValueError as exc:
            raise DataPlaneError(f"data plane refused PUT /weights: {exc}") from exc

    async def state(self) -> TargetState:
        self._enter(TargetCall("state"))
        return TargetState(
            instances=tuple(self.instances.values()),
            weights=dict(self.weights),
            observed_at=self.now(),
            desired_replicas=dict(self.desired),
        )

    def endpoint(self, version: str | None = None) -> Endpoint:
        return Endpoint(self.url, {"X-Watchstander-Version": version} if version else {})

    async def aclose(self) -> None:
        self.closed = True

    # -- scripting helpers -----------------------------------------------------------------

    def of(self, version: str) -> list[InstanceState]:
        return [i for i in self.instances.values() if i.version == version]

    def update(self, version: str, *, count: int | None = None, **changes: Any) -> None:
        """Replace fields of the first `count` (default all) instances of `version`."""
        for instance in self.of(version)[:count]:
            self.instances[instance.id] = dataclasses.replace(instance, **changes)

    def set_ready(self, version: str, ready: bool, *, count: int | None = None) -> None:
        """Make instances pass (or fail) their health checks."""
        self.update(version, count=count, ready=ready, health_failures=0 if ready else 3)

    def crash_loop(self, version: str, *, restarts: int = 3, count: int | None = None) -> None:
        """Instances that restarted `restarts` more times just now and are not ready."""
        now = self.now()
        for instance in self.of(version)[:count]:
            self.instances[instance.id] = dataclasses.replace(
                instance,
                ready=False,
                restarts=instance.restarts + restarts,
                restart_times=(*instance.restart_times, *([now] * restarts)),
                last_exit_code=1,
                crash_loop=True,
            )

    def oom_kill(self, version: str, *, count: int | None = None) -> None:
        """Instances killed once for exceeding their memory limit (and restarted)."""
        now = self.now()
        for instance in self.of(version)[:count]:
            self.instances[instance.id] = dataclasses.replace(
                instance,
                oom_kills=instance.oom_kills + 1,
                restarts=instance.restarts + 1,
                restart_times=(*instance.restart_times, now),
                last_exit_code=-9,
            )
