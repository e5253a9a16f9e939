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

__all__ = [
    "Capability",
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
