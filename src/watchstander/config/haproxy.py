"""`target.type: haproxy`: an existing HAProxy, driven through its runtime API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from watchstander.config.base import TargetCommon
from watchstander.config.duration import Seconds

__all__ = ["HaproxyTargetConfig"]


class HaproxyTargetConfig(TargetCommon):
    type: Literal["haproxy"] = "haproxy"
    # The runtime API: "unix:/run/haproxy/admin.sock" or "tcp:127.0.0.1:9999".
    runtime_api: str = Field(pattern=r"^(unix:.+|tcp:[^:]+:\d+)$")
    backend: str = Field(min_length=1)  # the backend whose servers carry the service
    timeout: Seconds = 5.0
    # Instances watchstander starts itself (like the local target), one process per
    # server, or None when the servers exist already and are only routed to.
    command: list[str] | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    # Pre-existing servers per version ("1.4.0": ["app-a1", "app-a2"]), when command is None.
    servers: dict[str, list[str]] = Field(default_factory=dict)
