"""What a target reports about its instances, and the health figures derived from it.

Plain data, shared by providers (which fill it) and the pure core (which judges it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from watchstander.analysis.models import Sample

__all__ = ["InstanceState", "TargetState", "health_samples"]


@dataclass(frozen=True)
class InstanceState:
    """One running (or crash-looping) replica of one version."""

    id: str
    version: str
    address: str  # host:port the replica listens on
    running: bool
    ready: bool  # passing health checks and in the routing pool
    draining: bool = False
    restarts: int = 0
    restart_times: tuple[float, ...] = ()  # POSIX times of recent restarts
    oom_kills: int = 0
    last_exit_code: int | None = None
    crash_loop: bool = False
    health_failures: int = 0  # consecutive failed probes
    started_at: float | None = None


@dataclass(frozen=True)
class TargetState:
    """What the target reports: its instances and the traffic weights it applies."""

    instances: tuple[InstanceState, ...]
    weights: Mapping[str, float]  # version -> percent of traffic
    observed_at: float  # POSIX time
    desired_replicas: Mapping[str, int] = field(default_factory=dict)

    def of(self, version: str) -> tuple[InstanceState, ...]:
        return tuple(i for i in self.instances if i.version == version)

    def ready_count(self, version: str) -> int:
        return sum(1 for i in self.of(version) if i.ready and not i.draining)

    def versions(self) -> tuple[str, ...]:
        return tuple(sorted({i.version for i in self.instances}))


def health_samples(
    state: TargetState, version: str, *, now: float, restart_window: float
) -> dict[str, Sample]:
    """Restarts within the window, OOM kills and the share of unhealthy instances of one
    version, as Samples the health judges take."""
    instances = [i for i in state.of(version) if not i.draining]
    where = f"target: instances of {version}"
    restarts = sum(1 for i in instances for t in i.restart_times if t >= now - restart_window)
    ooms = sum(i.oom_kills for i in instances)
    if instances:
        unhealthy = 100.0 * sum(1 for i in instances if not i.ready) / len(instances)
        unhealthy_value: float | None = unhealthy
    else:
        unhealthy_value = None
    return {
        "restarts": Sample(
            value=float(restarts),
            count=len(instances),
            query=f"{where}: restarts in the last {restart_window:g}s",
        ),
        "oom_kills": Sample(value=float(ooms), count=len(instances), query=f"{where}: OOM kills"),
        "unhealthy_pct": Sample(
            value=unhealthy_value,
            count=len(instances),
            query=f"{where}: % not passing health checks",
        ),
    }
