"""The Target protocol: what the engine may ask of whatever runs and routes the service.

Every action is idempotent: calling it twice with the same arguments changes nothing the
second time. That is what makes crash recovery safe: after a restart the engine simply
re-issues the action of the step it was in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from watchstander.release.health import InstanceState, TargetState
from watchstander.release.models import DeploymentStatus

__all__ = [
    "Capability",
    "DeploymentStatus",
    "NativeRolling",
    "InstanceState",
    "TargetState",
    "Endpoint",
    "Target",
]


class Capability(StrEnum):
    WEIGHTED_TRAFFIC = "weighted-traffic"  # split requests between versions by percent
    INSTANT_SWITCH = "instant-switch"  # move all traffic at once (blue-green)
    SCALE = "scale"  # change the number of instances of a version
    HEADER_ROUTING = "header-routing"  # reach one version by a request header (preview)
    DRAIN = "drain"  # finish in-flight requests before stopping an instance
    NATIVE_ROLLING = "native-rolling"  # its own rolling update, with pause, resume and undo


@dataclass(frozen=True)
class Endpoint:
    """How to reach the service (or one version of it) from outside."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Target(Protocol):
    capabilities: frozenset[Capability]

    async def ping(self) -> None:
        """Raise DataPlaneError with a one-line reason if the target cannot be reached."""
        ...

    async def scale(self, version: str, replicas: int) -> None:
        """Make `replicas` instances of `version` exist (0 drains and stops them all)."""
        ...

    async def set_weights(self, weights: Mapping[str, float]) -> None:
        """Route traffic by percent per version; versions not named get 0."""
        ...

    async def state(self) -> TargetState: ...

    def endpoint(self, version: str | None = None) -> Endpoint:
        """The service address, or a preview address for one version."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class NativeRolling(Protocol):
    """A target whose own rolling update replaces pods (a Kubernetes Deployment's
    RollingUpdate strategy). Targets with Capability.NATIVE_ROLLING implement it; the
    rolling strategy then moves the update's template instead of scaling versions."""

    async def roll(
        self, version: str, *, max_surge: int | None = None, max_unavailable: int | None = None
    ) -> None:
        """Point the update at `version` (the previous one is remembered for undo)."""
        ...

    async def pause_rollout(self) -> None: ...

    async def resume_rollout(self) -> None: ...

    async def undo_rollout(self, expected: str | None = None) -> None:
        """Back to the previous version; refuse when it is not `expected`."""
        ...

    async def rollout_status(self) -> DeploymentStatus: ...
