"""Replica processes: start, probe, restart with backoff, OOM-kill, drain and stop.

This is the small slice of a container runtime plus kubelet that a one-machine data plane
needs, so that a release on a laptop fails the same ways it fails in production:

- each replica runs `target.command` directly (argv, never a shell) with `{port}` and
  `{version}` substituted, in its own process group, on a fresh free loopback port;
- a crashed replica is restarted with exponential backoff (restart_backoff doubling up to
  restart_backoff_max; back to the start once it stayed up STABLE_AFTER_S), and every
  restart is timestamped so "3 restarts within 60 s" (crash loop) is derived, not stored;
- health probes (HTTP GET health.path) decide readiness: ready after success_threshold
  successes, out of the routing pool after failure_threshold failures; a replica that never
  becomes ready within ready_timeout is killed and restarted (like a failed startup probe);
- memory_limit_mb is enforced by polling the replica's RSS (VmRSS of /proc/PID/status)
  every MEMORY_POLL_S and SIGKILLing the process group when it is over the limit, counted
  as an OOM kill. This is honest polling, not a cgroup: a burst that allocates and frees
  memory between two polls goes unseen, and only the replica process's own RSS counts
  (not its children). An exit by SIGKILL that we did not send is a crash, not an OOM kill;
- scaling down drains: the replica leaves the pool first, in-flight requests finish (up to
  drain_timeout), then SIGTERM to the group, SIGKILL after STOP_GRACE_S;
- replicas never outlive the daemon: a graceful stop stops them all, and on Linux each
  replica gets PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILLed daemon leaves no orphans.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp

from watchstander.config.models import LocalTargetConfig

__all__ = [
    "CRASH_LOOP_RESTARTS",
    "CRASH_LOOP_WINDOW_S",
    "Replica",
    "Supervisor",
    "free_port",
    "rss_mb",
]

CRASH_LOOP_RESTARTS = 3  # this many restarts ...
CRASH_LOOP_WINDOW_S = 60.0  # ... within this many seconds is a crash loop
STABLE_AFTER_S = 60.0  # a replica that stayed up this long restarts with the initial backoff
STOP_GRACE_S = 5.0  # SIGTERM, then SIGKILL after this long
MEMORY_POLL_S = 0.2
STARTUP_PROBE_S = 0.05  # probe this often until the first success, so starts are quick
_RESTART_HISTORY = 64

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MiB, None if it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGKILL the child when the daemon dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the daemon died before prctl took effect
            os._exit(1)

    return preexec


class Replica:
    """One replica of one version and its lifecycle task (start, watch, restart, stop)."""

    def __init__(
        self,
        *,
        replica_id: str,
        version: str,
        target: LocalTargetConfig,
        cwd: Path,
        log_path: Path,
        probe_session: aiohttp.ClientSession,
    ) -> None:
        self.id = replica_id
        self.version = version
        self._target = target
        self._cwd = cwd
        self._log_path = log_path
        self._probes = probe_session
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None
        self.ready = False
        self.draining = False
        self.inflight = 0
        self.restarts = 0
        self.restart_times: deque[float] = deque(maxlen=_RESTART_HISTORY)
        self.oom_kills = 0
        self.last_exit_code: int | None = None
        self.last_error: str | None = None  # why the last run ended, kept across restarts
        self._kill_reason: str | None = None  # why we are killing the current run
        self._oom_killed = False
        self.health_failures = 0
        self._health_successes = 0
        self.started_at: float | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop = asyncio.Event()
        self._grace = STOP_GRACE_S
        self._task: asyncio.Task[None] | None = None

    # -- routing bookkeeping (called by the router) --------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def routable(self) -> bool:
        return self.ready and not self.draining and self.running

    def acquire(self) -> None:
        self.inflight += 1
        self._idle.clear()

    def release(self) -> None:
        self.inflight -= 1
        if self.inflight <= 0:
            self.inflight = 0
            self._idle.set()

    def mark_unreachable(self) -> None:
        """The router could not connect: leave the pool until a probe succeeds again."""
        self.ready = False
        self._health_successes = 0

    def crash_loop(self, now: float) -> bool:
        recent = sum(1 for t in self.restart_times if t >= now - CRASH_LOOP_WINDOW_S)
        return recent >= CRASH_LOOP_RESTARTS

    def snapshot(self, now: float) -> dict[str, Any]:
        """The InstanceState fields, plus pid, inflight and last_error for people."""
        return {
            "id": self.id,
            "version": self.version,
            "address": self.address,
            "running": self.running,
            "ready": self.ready and self.running,
            "draining": self.draining,
            "restarts": self.restarts,
            "restart_times": list(self.restart_times),
            "oom_kills": self.oom_kills,
            "last_exit_code": self.last_exit_code,
            "crash_loop": self.crash_loop(now),
            "health_failures": self.health_failures,
            "started_at": self.started_at,
            "pid": self.process.pid if self.running and self.process else None,
            "inflight": self.inflight,
            "last_error": self.last_error,
        }

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"replica {self.id}")

    async def stop(self, *, drain_timeout: float, grace: float = STOP_GRACE_S) -> None:
        """Drain (leave the pool, let in-flight requests finish), then terminate."""
        self.draining = True
        if self.inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), drain_timeout)
            if self.inflight:
                log.warning("%s: drain timed out with %d in flight", self.id, self.inflight)
        self._grace = grace
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        failures_in_row = 0
        try:
            while not self._stop.is_set():
                await self._run_once()
                if self._stop.is_set():
                    break
                if self.started_at is not None and time.time() - self.started_at >= STABLE_AFTER_S:
                    failures_in_row = 0
                delay = min(
                    self._target.restart_backoff * 2**failures_in_row,
                    self._target.restart_backoff_max,
                )
                failures_in_row += 1
                log.warning("%s: %s; restarting in %.2fs", self.id, self.last_error, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                if self._stop.is_set():
                    break
                self.restarts += 1
                self.restart_times.append(time.time())
        finally:
            # Cancelled or failed: whatever happened, the process group must not survive.
            if self.process is not None and self.process.returncode is None:
                _kill_group(self.process.pid, signal.SIGKILL)
            self.ready = False

    async def _spawn(self) -> asyncio.subprocess.Process | None:
        self.port = free_port()
        subst: dict[str, str] = {"{port}": str(self.port), "{version}": self.version}

        def fill(text: str) -> str:
            for key, value in subst.items():
                text = text.replace(key, value)
            return text

        argv = [fill(arg) for arg in self._target.command]
        env = dict(os.environ)
        env.update({k: fill(v) for k, v in self._target.env.items()})
        env.update(
            WATCHSTANDER_VERSION=self.version,
            WATCHSTANDER_PORT=str(self.port),
            WATCHSTANDER_INSTANCE=self.id,
        )
        self.started_at = time.time()
        self.ready = False
        self._health_successes = self.health_failures = 0
        self._kill_reason, self._oom_killed = None, False
        try:
            with open(self._log_path, "ab") as out:
                return await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=self._cwd,
                    env=env,
                    start_new_session=True,  # its own process group, killed as a whole
                    preexec_fn=_die_with_parent(),
                )
        except OSError as exc:
            self.last_exit_code = None
            self.last_error = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
            return None

    async def _run_once(self) -> None:
        """Start the process, watch it until it exits or a stop is requested."""
        proc = await self._spawn()
        if proc is None:
            return
        self.process = proc
        log.info("%s: started pid %d on %s", self.id, proc.pid, self.address)
        helpers = [asyncio.create_task(self._probe(proc))]
        if self._target.memory_limit_mb is not None:
            helpers.append(asyncio.create_task(self._watch_memory(proc)))
        exited = asyncio.create_task(proc.wait())
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                self.ready = False
                _kill_group(proc.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(asyncio.shield(exited), self._grace)
                except TimeoutError:
                    log.warning("%s: no exit %.0fs after SIGTERM, killing", self.id, self._grace)
                    _kill_group(proc.pid, signal.SIGKILL)
            code = await exited
        finally:
            stop.cancel()
            for task in helpers:
                task.cancel()
            await asyncio.gather(stop, *helpers, return_exceptions=True)
            # Children the replica left behind in its group die with it, as in a cgroup.
            _kill_group(proc.pid, signal.SIGKILL)
            self.ready = False
        # Counted when the exit is seen, so a snapshot never shows an OOM kill without
        # the exit code and reason that go with it.
        self.last_exit_code = code
        if self._oom_killed:
            self.oom_kills += 1
        self.last_error = self._kill_reason or (
            f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        )

    async def _probe(self, proc: asyncio.subprocess.Process) -> None:
        health = self._target.health
        url = f"http://{self.address}{health.path}"
        timeout = aiohttp.ClientTimeout(total=health.timeout)
        ever_ready = False
        while proc.returncode is None:
            try:
                async with self._probes.get(url, timeout=timeout) as resp:
                    await resp.read()
                    ok = 200 <= resp.status < 400
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                self._health_successes += 1
                self.health_failures = 0
                if not self.ready and self._health_successes >= health.success_threshold:
                    self.ready = ever_ready = True
                    log.info("%s: ready", self.id)
            else:
                self._health_successes = 0
                self.health_failures += 1
                if self.ready and self.health_failures >= health.failure_threshold:
                    self.ready = False
                    log.warning("%s: unready after %d failed probes", self.id, self.health_failures)
                started = self.started_at or time.time()
                if not ever_ready and time.time() - started > self._target.ready_timeout:
                    self._kill_reason = f"not ready within {self._target.ready_timeout:g}s"
                    _kill_group(proc.pid, signal.SIGKILL)
                    return
            await asyncio.sleep(health.interval if ever_ready else STARTUP_PROBE_S)

    async def _watch_memory(self, proc: asyncio.subprocess.Process) -> None:
        limit = self._target.memory_limit_mb
        assert limit is not None
        while proc.returncode is None:
            rss = rss_mb(proc.pid)
            if rss is not None and rss > limit:
                self.ready = False
                self._oom_killed = True
                self._kill_reason = f"OOM killed: RSS {rss:.0f} MiB over the {limit} MiB limit"
                _kill_group(proc.pid, signal.SIGKILL)
                return
            await asyncio.sleep(MEMORY_POLL_S)


class Supervisor:
    """Keeps `desired` replicas per version running; the router reads its pools."""

    def __init__(
        self,
        target: LocalTargetConfig,
        *,
        cwd: Path,
        log_dir: Path,
        probe_session: aiohttp.ClientSession,
    ) -> None:
        self._target = target
        self._cwd = cwd
        self._log_dir = log_dir
        self._probes = probe_session
        self.replicas: dict[str, Replica] = {}
        self._serial: dict[str, int] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def pool(self, version: str) -> list[Replica]:
        """Replicas of `version` that may take new requests."""
        return [r for r in self.replicas.values() if r.version == version and r.routable]

    def routable(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.routable]

    def active(self, version: str) -> list[Replica]:
        return [r for r in self.replicas.values() if r.version == version and not r.draining]

    def scale(self, version: str, replicas: int) -> None:
        """Converge `version` on `replicas` instances; extras drain in the background."""
        active = self.active(version)
        for _ in range(replicas - len(active)):
            self._start(version)
        if len(active) > replicas:
            # Unready first, then idle, then the newest: keep the proven, busy ones longest.
            active.sort(key=lambda r: (r.ready, -r.inflight, -(r.started_at or 0.0)))
            for replica in active[: len(active) - replicas]:
                self._retire(replica)

    def _start(self, version: str) -> None:
        self._serial[version] = serial = self._serial.get(version, 0) + 1
        self._log_dir.mkdir(parents=True, exist_ok=True)
        replica = Replica(
            replica_id=f"{version}-{serial}",
            version=version,
            target=self._target,
            cwd=self._cwd,
            log_path=self._log_dir / f"{version}.log",
            probe_session=self._probes,
        )
        self.replicas[replica.id] = replica
        replica.start()

    def _retire(self, replica: Replica) -> None:
        replica.draining = True  # out of the pool now, before any await

        async def retire() -> None:
            try:
                await replica.stop(drain_timeout=self._target.drain_timeout)
            finally:
                self.replicas.pop(replica.id, None)
                log.info("%s: stopped", replica.id)

        task = asyncio.create_task(retire(), name=f"retire {replica.id}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def shutdown(self, *, drain_timeout: float) -> None:
        """Stop every replica (draining first) and wait until all are gone."""
        replicas: Iterable[Replica] = list(self.replicas.values())
        for replica in replicas:
            replica.draining = True
        await asyncio.gather(
            *(r.stop(drain_timeout=drain_timeout) for r in replicas),
            *list(self._retiring),
            return_exceptions=True,
        )
        self.replicas.clear()

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        return [r.snapshot(now) for r in self.replicas.values()]
