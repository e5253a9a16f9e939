"""Instances the HAProxy target starts: detached processes recorded on disk.

The data plane must not depend on the control plane: an instance has to keep serving when
the watchstander process that started it exits, and a later watchstander process has to
find it, scale it down and stop it. So an instance is started through a tiny launcher
(`python -m watchstander.providers.targets.haproxy_instances`) that starts the command in
its own session and exits at once: the instance is nobody's child, never a zombie of ours,
and not killed with us. Its pid, port, argv and HAProxy server name are written to
STATE_DIR/<service>.json (atomically: temporary file, fsync, rename) before the server is
added to HAProxy, together with the traffic percents last applied.

Before signalling a recorded pid we check that the process still runs the recorded argv,
so a stale file after a reboot never makes us kill an unrelated process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from watchstander.errors import DataPlaneError
from watchstander.processes import pid_alive

__all__ = ["Instance", "Record", "load", "save", "launch", "is_ours", "terminate"]

_LAUNCHER = "watchstander.providers.targets.haproxy_instances"
_POLL_S = 0.05


@dataclass
class Instance:
    id: str
    version: str
    server: str  # the HAProxy server name
    port: int
    pid: int
    argv: list[str]
    started_at: float
    draining: bool = False


@dataclass
class Record:
    """What one service's HAProxy target has started and applied."""

    service: str
    backend: str
    instances: list[Instance] = field(default_factory=list)
    serial: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    def of(self, version: str) -> list[Instance]:
        return [i for i in self.instances if i.version == version]


def load(path: Path, *, service: str, backend: str) -> Record:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Record(service, backend)
    except (OSError, ValueError) as exc:
        raise DataPlaneError(f"{path} is unreadable: {exc}") from None
    if data.get("service") != service or data.get("backend") != backend:
        raise DataPlaneError(
            f"{path} belongs to service {data.get('service')!r} on backend "
            f"{data.get('backend')!r}, not {service!r} on {backend!r}"
        )
    try:
        return Record(
            service=service,
            backend=backend,
            instances=[Instance(**raw) for raw in data.get("instances", [])],
            serial={str(k): int(v) for k, v in data.get("serial", {}).items()},
            weights={str(k): float(v) for k, v in data.get("weights", {}).items()},
        )
    except (TypeError, ValueError) as exc:
        raise DataPlaneError(f"{path} is unreadable: {exc}") from None


def save(path: Path, record: Record) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "service": record.service,
        "backend": record.backend,
        "instances": [asdict(i) for i in record.instances],
        "serial": record.serial,
        "weights": record.weights,
        "updated_at": time.time(),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


async def launch(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> int:
    """Start `argv` detached (own session, not our child); return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        _LAUNCHER,
        str(cwd),
        str(log),
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0 or not out.strip().isdigit():
        reason = err.decode(errors="replace").strip().splitlines()
        raise DataPlaneError(
            f"cannot start {argv[0]!r}: {reason[-1] if reason else f'exit {proc.returncode}'}"
        )
    return int(out.strip())


def is_ours(instance: Instance) -> bool:
    """The recorded pid is alive and still runs the recorded command."""
    if not pid_alive(instance.pid):
        return False
    try:
        cmdline = Path(f"/proc/{instance.pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc: the pid is all we know
    return cmdline.rstrip(b"\0").split(b"\0") == [a.encode() for a in instance.argv]


async def terminate(instance: Instance, *, grace: float = 5.0) -> None:
    """SIGTERM the instance's process group, SIGKILL after `grace`; wait until it is gone."""
    if not is_ours(instance):
        return
    _signal_group(instance.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_ours(instance) and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_S)
    if is_ours(instance):
        _signal_group(instance.pid, signal.SIGKILL)
        deadline = time.monotonic() + grace
        while is_ours(instance) and time.monotonic() < deadline:
            await asyncio.sleep(_POLL_S)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the instance leads its own session and group
    except ProcessLookupError:
        pass
    except PermissionError:
        raise DataPlaneError(f"not allowed to stop instance pid {pid}") from None


def main(args: list[str]) -> int:
    """The launcher: CWD LOG ARGV...; prints the started pid and exits."""
    cwd, log, argv = args[0], args[1], args[2:]
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - argv from the config, never a shell
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        print(exc.strerror or str(exc), file=sys.stderr)
        return 1
    print(proc.pid, flush=True)
    proc.returncode = 0  # not ours to wait for: it outlives this launcher on purpose
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
