"""The running daemon: wires desired state, supervisor, router, stats and admin API.

One asyncio process serves both ports. It restores the desired state saved in
DIR/dataplane.json at start (replicas per version, weights), saves every change before
acknowledging it, and on SIGTERM, SIGINT or POST /shutdown stops in this order: the router
stops accepting and finishes the requests in flight, then replicas drain and stop, then
the admin API closes. The listening sockets are created by the caller (see __main__) so
that "address already in use" is reported to whoever started the daemon, before it
detaches.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from watchstander.config.models import Config, local_target
from watchstander.dataplane import admin, state
from watchstander.dataplane.router import Router, new_upstream_session
from watchstander.dataplane.stats import StatsBook
from watchstander.dataplane.supervisor import Supervisor

__all__ = ["DataPlane", "bind"]

_MAX_REPLICAS = 64
log = logging.getLogger(__name__)


def bind(address: str) -> socket.socket:
    """A bound (not yet listening) TCP socket for HOST:PORT."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


class DataPlane:
    """The daemon's state and the operations the admin API exposes."""

    def __init__(self, config: Config, *, config_dir: Path, state_dir: Path) -> None:
        self.service = config.service.name
        self.target = local_target(config)
        self.state_dir = state_dir
        self.config_dir = config_dir
        self.desired = state.load_state(state_dir, self.service)
        self.stats = StatsBook()
        self.started_at = time.time()
        self._stopping: asyncio.Event | None = None
        # Set in run(); the admin API is only served while these exist.
        self.supervisor: Supervisor
        self.router: Router

    # -- operations ----------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        return {
            "ok": True,
            "service": self.service,
            "pid": os.getpid(),
            "state_dir": str(self.state_dir),
            "listen": self.target.listen,
            "admin": self.target.admin,
            "started_at": self.started_at,
        }

    def scale(self, version: str, replicas: int) -> bool:
        """Desired replicas of a version; True when that changed the desired state."""
        state.validate_version(version)
        if not 0 <= replicas <= _MAX_REPLICAS:
            raise ValueError(f"replicas must be between 0 and {_MAX_REPLICAS}, not {replicas}")
        changed = self.desired.replicas.get(version, 0) != replicas
        if changed:
            if replicas:
                self.desired.replicas[version] = replicas
            else:
                self.desired.replicas.pop(version, None)
            state.save_state(self.state_dir, self.desired)
            log.info("scale %s to %d", version, replicas)
        self.supervisor.scale(version, replicas)
        return changed

    def set_weights(self, raw: Any) -> tuple[bool, list[str]]:
        """Validate and apply weights; (changed, warnings about versions without replicas)."""
        weights = state.validate_weights(raw)
        changed = weights != self.desired.weights
        if changed:
            self.desired.weights = weights
            state.save_state(self.state_dir, self.desired)
            self.router.set_weights(weights)
            log.info("weights %s", weights)
        warnings = [
            f"version {v!r} has no replicas: its share goes to the other versions"
            for v, w in sorted(weights.items())
            if w > 0 and not self.desired.replicas.get(v)
        ]
        return changed, warnings

    def state_json(self) -> dict[str, Any]:
        now = time.time()
        return {
            "service": self.service,
            "instances": self.supervisor.snapshot(now),
            "weights": dict(self.router.weights),
            "desired_replicas": dict(self.desired.replicas),
            "observed_at": now,
        }

    def stats_json(self, since: float, until: float) -> dict[str, Any]:
        windows = self.stats.window(since, until)
        return {
            "service": self.service,
            "since": since,
            "until": until,
            "versions": {v: w.to_json() for v, w in windows.items()},
        }

    def request_shutdown(self) -> None:
        if self._stopping is not None and not self._stopping.is_set():
            log.info("shutdown requested")
            self._stopping.set()

    # -- running -------------------------------------------------------------------------

    async def run(self, listen_sock: socket.socket, admin_sock: socket.socket) -> None:
        """Serve until a shutdown is requested, then stop gracefully."""
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_shutdown)
        cwd = self.config_dir / (self.target.cwd or ".")
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as probes,
            new_upstream_session() as upstream,
        ):
            self.supervisor = Supervisor(
                self.target, cwd=cwd, log_dir=self.state_dir / "logs", probe_session=probes
            )
            self.router = Router(
                self.supervisor,
                self.stats,
                session=upstream,
                retries=self.target.retries,
                upstream_timeout=self.target.upstream_timeout,
            )
            self.router.set_weights(self.desired.weights)
            for version, replicas in sorted(self.desired.replicas.items()):
                self.supervisor.scale(version, replicas)
            if self.desired.replicas or self.desired.weights:
                log.info(
                    "restored replicas %s weights %s", self.desired.replicas, self.desired.weights
                )
            router_runner = web.AppRunner(
                self.router.app(), access_log=None, shutdown_timeout=self.target.drain_timeout
            )
            admin_runner = web.AppRunner(admin.admin_app(self), access_log=None)
            await router_runner.setup()
            await admin_runner.setup()
            try:
                await web.SockSite(router_runner, listen_sock, backlog=1024).start()
                await web.SockSite(admin_runner, admin_sock, backlog=128).start()
                log.info(
                    "serving %s on %s, admin on %s (pid %d)",
                    self.service,
                    self.target.listen,
                    self.target.admin,
                    os.getpid(),
                )
                await self._stopping.wait()
            finally:
                log.info("stopping: finishing requests in flight")
                await router_runner.cleanup()
                log.info("stopping replicas")
                await self.supervisor.shutdown(drain_timeout=self.target.drain_timeout)
                await admin_runner.cleanup()
                log.info("stopped")
