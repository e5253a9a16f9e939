"""`target.type: haproxy`: an existing HAProxy, driven through its runtime API.

Two ways to provide instances:

- `command`: watchstander starts one detached process per instance (like the local
  target) and adds it to `backend` as a dynamic server (`add server`, HAProxy >= 2.6);
- `servers`: the servers exist already in haproxy.cfg, listed per version; watchstander
  only routes to them (weights, ready / drain / maint) and never starts anything.

Every name that ends up in a runtime API command is checked here, so a newline or a `;`
in a backend or server name can never smuggle in a second command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from watchstander.config.base import TargetCommon, command_has_port
from watchstander.config.duration import Seconds

__all__ = ["HaproxyTargetConfig", "NAME_PATTERN", "check_name"]

# What HAProxy accepts in proxy and server names, minus anything a command line could abuse.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,255}$")


def check_name(kind: str, value: str) -> str:
    """`value` if it is safe inside a runtime API command (letters, digits, . _ : -)."""
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{kind} {value!r} may hold only letters, digits and . _ : - (max 100)")
    return value


class HaproxyTargetConfig(TargetCommon):
    type: Literal["haproxy"] = "haproxy"
    # The runtime API: "unix:/run/haproxy/admin.sock" or "tcp:127.0.0.1:9999" (level admin).
    runtime_api: str = Field(pattern=r"^(unix:.+|tcp:[^:]+:\d+)$")
    backend: str = Field(min_length=1)  # the backend whose servers carry the service
    timeout: Seconds = 5.0  # for one runtime API command
    # Instances watchstander starts itself (like the local target), one process per
    # server, or None when the servers exist already and are only routed to.
    command: list[str] | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    # The address started instances listen on and HAProxy connects to.
    host: str = "127.0.0.1"
    # Where started instances are recorded (pid, port, server), relative to the workspace.
    state_dir: str = ".watchstander/haproxy"
    # Pre-existing servers per version ("1.4.0": ["app-a1", "app-a2"]), when command is None.
    servers: dict[str, list[str]] = Field(default_factory=dict)
    # Scaling down: a server drains (no new requests) until its sessions end or this passes.
    drain_timeout: Seconds = 30.0

    def resolved(self, root: Path) -> Self:
        update: dict[str, str] = {}
        if self.runtime_api.startswith("unix:"):
            socket = Path(self.runtime_api.removeprefix("unix:")).expanduser()
            if not socket.is_absolute():
                update["runtime_api"] = f"unix:{root / socket}"
        for name in ("state_dir", "cwd"):
            value = getattr(self, name)
            if value is not None and not Path(value).expanduser().is_absolute():
                update[name] = str(root / value)
        return self.model_copy(update=update) if update else self

    @field_validator("runtime_api")
    @classmethod
    def _runtime_api(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("runtime_api must be one line")
        return value

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        return check_name("backend", value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.fullmatch(value):
            raise ValueError(f"host {value!r} is not an IP address or host name")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("command needs at least the program to run")
        return command_has_port(value)

    @field_validator("servers")
    @classmethod
    def _servers(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: set[str] = set()
        for version, names in value.items():
            check_name("version", version)
            for name in names:
                check_name("server", name)
                if name in seen:
                    raise ValueError(f"server {name!r} is listed under more than one version")
                seen.add(name)
        return value

    @model_validator(mode="after")
    def _one_source_of_instances(self) -> HaproxyTargetConfig:
        if self.command is None and not self.servers:
            raise ValueError(
                "target: set command (watchstander starts the instances) or servers "
                "(the backend's existing servers per version)"
            )
        if self.command is not None and self.servers:
            raise ValueError("target: set command or servers, not both")
        return self
