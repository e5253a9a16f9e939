"""Fixtures for tests that run the real data plane daemon with the demo service.

Every daemon started here listens on free loopback ports, lives in the test's tmp_path,
and is stopped at teardown whatever happened (SIGKILL as the last resort; its replicas
die with it through PR_SET_PDEATHSIG). Conditions are awaited with `wait_for`, which
polls with a deadline, never with fixed sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.polling import wait_for
from watchstander.dataplane import daemon

DEMO_COMMAND = [
    sys.executable,
    "-m",
    "watchstander.demo.service",
    "--port",
    "{port}",
    "--version",
    "{version}",
]
FAST_TARGET: dict[str, Any] = {
    "health": {"interval": "200ms", "timeout": "500ms", "failure_threshold": 2},
    "restart_backoff": "100ms",
    "restart_backoff_max": "1s",
    "drain_timeout": "10s",
    "ready_timeout": "10s",
}


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Awaitable[Any]]:
    return wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DataPlane:
    """A data plane daemon running for one test, and shortcuts to its admin API."""

    root: Path
    config_path: Path
    state_dir: Path
    listen: str
    admin: str
    pid: int = 0
    seen_pids: set[int] = field(default_factory=set)

    @property
    def router_url(self) -> str:
        return f"http://{self.listen}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin}"

    def start(self, timeout: float = 15.0) -> int:
        self.pid = daemon.start(self.config_path, self.state_dir, timeout=timeout)
        self.seen_pids.add(self.pid)
        return self.pid

    def stop(self) -> bool:
        return daemon.stop(self.state_dir)

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.admin_url, timeout=5.0) as client:
            return await client.request(method, path, json=body)

    async def state(self) -> dict[str, Any]:
        response = await self.request("GET", "/state")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def scale(self, version: str, replicas: int) -> None:
        (
            await self.request("PUT", f"/versions/{version}", {"replicas": replicas})
        ).raise_for_status()

    async def set_weights(self, weights: dict[str, float]) -> None:
        (await self.request("PUT", "/weights", {"weights": weights})).raise_for_status()

    async def stats(self, since: float, until: float) -> dict[str, Any]:
        response = await self.request("GET", f"/stats?since={since}&until={until}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def instances(self, version: str | None = None) -> list[dict[str, Any]]:
        return [
            i
            for i in (await self.state())["instances"]
            if version is None or i["version"] == version
        ]

    async def ready(self, version: str, count: int) -> bool:
        ready = [i for i in await self.instances(version) if i["ready"] and not i["draining"]]
        return len(ready) >= count

    async def deploy(self, replicas: dict[str, int], weights: dict[str, float]) -> None:
        """Scale every version, wait until all are ready, then set the weights."""
        for version, n in replicas.items():
            await self.scale(version, n)
        for version, n in replicas.items():
            await wait_for(partial(self.ready, version, n), 15, message=f"{n} ready {version}")
        await self.set_weights(weights)


def write_config(
    root: Path, *, listen: str, admin: str, faults: dict[str, Any] | None, target: dict[str, Any]
) -> Path:
    faults_path = root / "faults.json"
    faults_path.write_text(json.dumps(faults or {}), encoding="utf-8")
    config = {
        "service": {"name": "demo"},
        "target": {
            "type": "local",
            "listen": listen,
            "admin": admin,
            "command": [*DEMO_COMMAND, "--faults", str(faults_path)],
            **FAST_TARGET,
            **target,
        },
    }
    path = root / "watchstander.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _kill_leftovers(plane: DataPlane) -> None:
    with contextlib.suppress(Exception):
        daemon.stop(plane.state_dir, timeout=10)
    for pid in plane.seen_pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if daemon.running_pid(plane.state_dir) == pid:
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def make_dataplane(tmp_path: Path) -> Iterator[Callable[..., DataPlane]]:
    """make_dataplane(faults={version: profile}, start=True, **target_fields) -> DataPlane."""
    planes: list[DataPlane] = []

    def make(
        faults: dict[str, Any] | None = None, *, start: bool = True, **target: Any
    ) -> DataPlane:
        root = tmp_path / f"plane{len(planes)}"
        root.mkdir()
        listen, admin = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        plane = DataPlane(
            root=root,
            config_path=write_config(
                root, listen=listen, admin=admin, faults=faults, target=target
            ),
            state_dir=root / "state",
            listen=listen,
            admin=admin,
        )
        planes.append(plane)
        if start:
            plane.start()
        return plane

    yield make
    for plane in planes:
        _kill_leftovers(plane)


@pytest.fixture
def dataplane(make_dataplane: Callable[..., DataPlane]) -> DataPlane:
    """A running data plane with no replicas yet and no faults."""
    return make_dataplane()
