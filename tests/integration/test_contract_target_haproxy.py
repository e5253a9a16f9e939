"""The target contract (target_contract.py) held by the HAProxy target on a real HAProxy
on loopback, in both modes: instances of the demo service started by the target itself
(`command`), and servers that exist in haproxy.cfg with replicas the test runs (`servers`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import DEMO_COMMAND
from haproxy_server import BACKEND, HaproxyServer, free_port
from target_contract import SERVICE, V1, V2, TargetContract

from watchstander.config.haproxy import HaproxyTargetConfig
from watchstander.providers.targets.base import Target
from watchstander.providers.targets.haproxy import HaproxyTarget


def target_config(server: HaproxyServer, **fields: object) -> HaproxyTargetConfig:
    return HaproxyTargetConfig.model_validate(
        {
            "runtime_api": server.runtime_api,
            "backend": BACKEND,
            "listen": server.listen,
            "command": DEMO_COMMAND,
            "health": {"interval": "200ms", "timeout": "500ms", "failure_threshold": 2},
            "ready_timeout": "15s",
            "drain_timeout": "5s",
            **fields,
        }
    )


def kill_recorded(state_dir: Path) -> None:
    """Whatever a test left running: every instance recorded under `state_dir`."""
    for path in state_dir.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            for instance in json.loads(path.read_text()).get("instances", []):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(instance["pid"]), signal.SIGKILL)


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[HaproxyServer]:
    server = HaproxyServer.start(tmp_path / "haproxy")
    try:
        yield server
    finally:
        kill_recorded(tmp_path / "ws" / ".watchstander" / "haproxy")
        server.stop()


class TestHaproxyTargetContract(TargetContract):
    real_traffic = True

    @pytest.fixture
    async def target(self, haproxy: HaproxyServer, tmp_path: Path) -> AsyncIterator[Target]:
        workdir = tmp_path / "ws"
        workdir.mkdir()
        subject = HaproxyTarget(target_config(haproxy), service=SERVICE, workdir=workdir)
        yield subject
        await subject.aclose()
        assert haproxy.alive()


@pytest.fixture
def existing(tmp_path: Path) -> Iterator[tuple[HaproxyServer, dict[str, list[str]]]]:
    """Two demo replicas per version, running before anything routes to them, and an
    HAProxy whose backend lists them as servers in maintenance (`disabled`)."""
    replicas: list[subprocess.Popen[bytes]] = []
    servers: dict[str, list[str]] = {}
    lines: list[str] = []
    server: HaproxyServer | None = None
    try:
        for version in (V1, V2):
            for n in (1, 2):
                port = free_port()
                argv = [
                    a.replace("{port}", str(port)).replace("{version}", version)
                    for a in DEMO_COMMAND
                ]
                replicas.append(
                    subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
                )
                name = f"app-{version}-{n}"
                servers.setdefault(version, []).append(name)
                lines.append(f"server {name} 127.0.0.1:{port} check disabled weight 0")
        server = HaproxyServer.start(tmp_path / "haproxy", backend_lines=lines)
        yield server, servers
    finally:
        if server is not None:
            server.stop()
        for replica in replicas:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(replica.pid, signal.SIGKILL)
            replica.wait(timeout=10)


class TestHaproxyExistingServersContract(TargetContract):
    real_traffic = True

    @pytest.fixture
    async def target(
        self, existing: tuple[HaproxyServer, dict[str, list[str]]], tmp_path: Path
    ) -> AsyncIterator[Target]:
        server, servers = existing
        workdir = tmp_path / "ws"
        workdir.mkdir()
        config = target_config(server, command=None, servers=servers)
        subject = HaproxyTarget(config, service=SERVICE, workdir=workdir)
        yield subject
        await subject.aclose()
        assert server.alive()
