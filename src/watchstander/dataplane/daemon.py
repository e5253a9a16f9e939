"""Start, stop and inspect the data plane daemon from the CLI (synchronous, no asyncio).

The daemon is found through DIR/dataplane.pid. Before signalling a pid we check that it is
alive, not a zombie, and really a data plane (its command line), so a stale pid file left
by a reboot can never make `stop` kill an unrelated process that reused the pid.

`start` is idempotent: when a daemon already runs for DIR it returns that pid. It reports
failures as DataPlaneError with one line: what went wrong at startup (bad config, port in
use) comes straight from the daemon's stderr before it detaches; a later death is
reported with the last line of DIR/dataplane.log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from watchstander.config.loader import load_config
from watchstander.config.models import Config, local_target
from watchstander.dataplane import state
from watchstander.errors import ConfigError, DataPlaneError
from watchstander.processes import pid_alive

__all__ = ["start", "stop", "status", "running_pid", "log_path"]

_POLL_S = 0.05
_MARKER = b"watchstander.dataplane"


def log_path(state_dir: Path) -> Path:
    return state_dir / state.LOG_FILE


def _is_data_plane(pid: int) -> bool:
    """Alive, not a zombie, and (where /proc exists) running watchstander.dataplane."""
    if not pid_alive(pid):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True
    try:
        return _MARKER in (proc / "cmdline").read_bytes()
    except OSError:
        return False  # not ours to read, so not ours to manage


def running_pid(state_dir: Path) -> int | None:
    """The pid of the data plane serving from `state_dir`, or None."""
    try:
        pid = int((state_dir / state.PID_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return pid if _is_data_plane(pid) else None


def _last_log_line(state_dir: Path) -> str:
    try:
        lines = log_path(state_dir).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _healthz(admin: str, pid: int) -> bool:
    try:
        response = httpx.get(f"http://{admin}/healthz", timeout=1.0)
        return response.status_code == 200 and response.json().get("pid") == pid
    except (httpx.HTTPError, ValueError):
        return False


def start(
    config_path: Path, state_dir: Path, *, timeout: float = 15.0, environment: str = "production"
) -> int:
    """Start the daemon for `config_path` (or find it running); return its pid once its
    admin API answers. Raises ConfigError for a bad config, DataPlaneError otherwise."""
    try:
        config = load_config(config_path).for_environment(environment)
    except ValueError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None
    state_dir = state_dir.resolve()
    deadline = time.monotonic() + timeout
    pid = running_pid(state_dir)
    if pid is None:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / state.PID_FILE).unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "watchstander.dataplane",
            "--config",
            str(config_path.resolve()),
            "--state-dir",
            str(state_dir),
            "--detach",
            "--environment",
            environment,
        ]
        try:
            launcher = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                cwd=config_path.resolve().parent,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DataPlaneError(f"the data plane did not start within {timeout:g}s") from exc
        if launcher.returncode != 0:
            reason = launcher.stderr.decode(errors="replace").strip().splitlines()
            raise DataPlaneError(
                (reason[-1] if reason else f"exited with code {launcher.returncode}").removeprefix(
                    "error: "
                )
            )
    admin = local_target(config).admin
    seen: int | None = None
    while time.monotonic() < deadline:
        pid = running_pid(state_dir)
        if pid is not None and _healthz(admin, pid):
            return pid
        seen = seen or pid
        if pid is None and seen is not None:
            line = _last_log_line(state_dir)
            raise DataPlaneError(
                f"the data plane exited during startup: {line or 'no log'} "
                f"(see {log_path(state_dir)})"
            )
        time.sleep(_POLL_S)
    raise DataPlaneError(
        f"the data plane did not answer on {admin} within {timeout:g}s (see {log_path(state_dir)})"
    )


def stop(state_dir: Path, *, timeout: float = 15.0) -> bool:
    """Stop the daemon gracefully (SIGTERM: finish requests, drain and stop replicas).
    SIGKILL after `timeout` (replicas die with it). False when none was running."""
    state_dir = state_dir.resolve()
    pid = running_pid(state_dir)
    if pid is None:
        (state_dir / state.PID_FILE).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
    (state_dir / state.PID_FILE).unlink(missing_ok=True)
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_data_plane(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def status(config: Config, state_dir: Path) -> dict[str, Any]:
    """What runs and where, flat for printing:

    running, pid, service, listen, admin, state_dir, log; instances, weights,
    desired_replicas, observed_at from the live GET /state when running (else no instances
    and the saved desired state that the next start restores); reason: why it is not
    running or not answering, None when all is well.
    """
    state_dir = state_dir.resolve()
    pid = running_pid(state_dir)
    saved = state.load_state(state_dir, config.service.name)
    result: dict[str, Any] = {
        "running": pid is not None,
        "pid": pid,
        "service": config.service.name,
        "listen": config.target.listen,
        "admin": local_target(config).admin,
        "state_dir": str(state_dir),
        "log": str(log_path(state_dir)),
        "instances": [],
        "weights": dict(saved.weights),
        "desired_replicas": dict(saved.replicas),
        "observed_at": None,
        "reason": None if pid is not None else f"no data plane runs for {state_dir}",
    }
    if pid is not None:
        try:
            response = httpx.get(f"http://{local_target(config).admin}/state", timeout=2.0)
            response.raise_for_status()
            live = response.json()
            for key in ("instances", "weights", "desired_replicas", "observed_at"):
                result[key] = live[key]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            result["reason"] = (
                f"the data plane (pid {pid}) does not answer on {local_target(config).admin}: {exc}"
            )
    return result
