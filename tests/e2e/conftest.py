"""Fixtures for end-to-end tests: the real `watchstander` CLI run as subprocesses.

Every test works in its own tmp_path workspace written by `write_demo` (free loopback
ports), and every data plane daemon or background `watchstander` process started there is
stopped at teardown, whatever happened in the test: background commands first (SIGINT,
then SIGKILL), then the daemon (`daemon.stop`: SIGTERM, SIGKILL after a timeout; its
replicas die with it). Conditions are awaited by polling with a deadline, never with
fixed sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchstander.dataplane import daemon
from watchstander.demo.setup import write_demo

CLI = (sys.executable, "-m", "watchstander")
HEALTHY_FAULTS: dict[str, dict[str, float]] = {v: {} for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs the real watchstander CLI as subprocesses")
    config.addinivalue_line(
        "markers", "demo: the full `watchstander demo` scenario (about a minute)"
    )


def cli_env() -> dict[str, str]:
    """A wide, colourless, unbuffered terminal so that matched lines are not wrapped."""
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env.update(COLUMNS="200", LINES="50", NO_COLOR="1", PYTHONUNBUFFERED="1", TERM="dumb")
    return env


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def json(self) -> Any:
        assert self.returncode == 0, self
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (
            f"`watchstander {' '.join(self.args)}` exited {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


def run_cli(*args: str, cwd: Path, timeout: float = 60.0, stdin: str | None = None) -> Result:
    proc = subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=cli_env(),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Background:
    """A `watchstander` command running in the background; output goes to files."""

    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"`watchstander {' '.join(self.args)}` still running after {timeout:g}s\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
            ) from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __str__(self) -> str:
        return (
            f"`watchstander {' '.join(self.args)}` (pid {self.pid}, "
            f"returncode {self.proc.returncode})\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


@dataclass
class Workspace:
    """A directory with a watchstander.yaml, driven through `watchstander -C ROOT ...`."""

    root: Path
    background: list[Background] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.root / "watchstander.yaml"

    @property
    def state_dir(self) -> Path:
        return self.root / ".watchstander"

    def cli(self, *args: str, timeout: float = 60.0, stdin: str | None = None) -> Result:
        return run_cli(
            "-C", str(self.root), *args, cwd=self.root.parent, timeout=timeout, stdin=stdin
        )

    def start(self, *args: str) -> Background:
        """Start `watchstander -C ROOT ARGS...` in the background (stopped at teardown)."""
        n = len(self.background)
        out, err = self.root.parent / f"bg{n}.out", self.root.parent / f"bg{n}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [*CLI, "-C", str(self.root), *args],
                cwd=self.root.parent,
                env=cli_env(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        bg = Background(("-C", str(self.root), *args), proc, out, err)
        self.background.append(bg)
        return bg

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self.cli("rollout", "status", "--output", "json").json()
        return data

    def edit_config(self, edit: Callable[[dict[str, Any]], None]) -> None:
        data = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        edit(data)
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def write_faults(self, faults: dict[str, dict[str, float]]) -> None:
        (self.root / "faults.json").write_text(json.dumps(faults), encoding="utf-8")

    def teardown(self) -> None:
        for bg in self.background:
            bg.stop()
        stop_dataplane(self.state_dir / "staging")
        stop_dataplane(self.state_dir)


def stop_dataplane(state_dir: Path) -> None:
    """Stop the daemon serving from `state_dir` if there is one (SIGKILL as a last resort)."""
    pid = daemon.running_pid(state_dir)
    with contextlib.suppress(Exception):
        daemon.stop(state_dir, timeout=10)
    if pid is not None and daemon.running_pid(state_dir) == pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def without_gates(config: dict[str, Any]) -> None:
    """No readiness check and no staging environment: for tests of the rollout itself
    (the gates have their own end-to-end tests in test_gates.py)."""
    config.pop("staging", None)
    config["readiness"] = {"enabled": False}


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """The demo's workspace (free ports) without the pre-rollout gates, nothing running yet."""
    write_demo(tmp_path / "ws")
    ws = Workspace((tmp_path / "ws").resolve())
    ws.edit_config(without_gates)
    try:
        yield ws
    finally:
        ws.teardown()


def dataplane_up(ws: Workspace) -> int:
    """`watchstander dataplane up`; returns the daemon's pid."""
    up = ws.cli("dataplane", "up")
    assert up.returncode == 0, up
    assert "data plane running" in up.stdout, up
    pid = daemon.running_pid(ws.state_dir)
    assert pid is not None, f"no data plane pid after `dataplane up`\n{up}"
    return pid


@pytest.fixture
def live_workspace(workspace: Workspace) -> Workspace:
    """The demo workspace with its data plane up (stopped by `workspace`'s teardown)."""
    dataplane_up(workspace)
    return workspace
