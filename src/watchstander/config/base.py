"""What every section of watchstander.yaml shares, and what every target has in common.

The backend sections (config/haproxy.py, config/kubernetes.py, config/prometheus.py) build
on these; config/models.py assembles the whole file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from watchstander.config.duration import Seconds

__all__ = ["Model", "HealthCheckConfig", "TargetCommon", "host_port", "command_has_port"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def host_port(value: str) -> str:
    """`value` if it is HOST:PORT with a port in 1..65535."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return value


def command_has_port(value: list[str]) -> list[str]:
    if not any("{port}" in part for part in value):
        raise ValueError("the command must contain {port} so each replica gets its own port")
    return value


class HealthCheckConfig(Model):
    path: str = "/health"
    interval: Seconds = 1.0
    timeout: Seconds = 1.0
    failure_threshold: int = Field(3, ge=1)
    success_threshold: int = Field(1, ge=1)


class TargetCommon(Model):
    """Fields the engine reads of any target."""

    # Where clients (smoke tests, the load generator) reach the service: HOST:PORT.
    listen: str = "127.0.0.1:8080"
    replicas: int = Field(3, ge=1, le=64)
    health: HealthCheckConfig = HealthCheckConfig()
    ready_timeout: Seconds = 60.0
    # The versions that exist as artifacts; when set, deploying any other is refused.
    versions: list[str] | None = None
    # Room to run a second full set of instances beside the first (blue-green needs it).
    spare_capacity: bool = True

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return host_port(value)

    def resolved(self, root: Path) -> Self:
        """This target with its relative paths made absolute against the workspace root
        (so that a command run from another directory finds the same files)."""
        return self

    @property
    def native_rolling(self) -> bool:
        """Whether the rolling strategy uses the target's own rolling update."""
        return False

    @property
    def header_routing(self) -> bool:
        """Whether a request reaches one version by the X-Watchstander-Version header
        (preview smoke tests); Capability.HEADER_ROUTING on the target says the same."""
        return False
