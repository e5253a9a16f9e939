"""A tiny sample service with per-version fault injection, for demos, tests and benchmarks.

    python -m watchstander.demo.service --port P --version V [--faults FILE] [--host H]

Endpoints: GET / (JSON {"version", "ok", "instance"}), GET /health, GET /version, GET /work (the load
generator's endpoint; `?delay_ms=N` adds N ms, for drain tests). FILE is JSON mapping a
version (or "*" for any) to a fault profile:

    {"1.1.0": {"error_rate": 0.05, "latency_ms": 150, "crash_after": 2.0,
               "memory_mb": 0, "healthy": true}}

- error_rate: that fraction of / and /work answers HTTP 500 (seeded RNG per version, so a
  run is repeatable);
- latency_ms: added to every /work;
- crash_after: the process exits with code 1 that many seconds after start (it becomes
  ready, serves, then dies: a crash loop under the supervisor);
- memory_mb: allocated (and touched) at start, to trip a memory limit;
- healthy: false makes /health answer 503 (an instance that never gets ready).

Written on the standard library's asyncio streams rather than aiohttp so that a replica
starts in well under 100 ms: the supervisor restarts crashed replicas often, and tests
start dozens. It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) for the
router, probes and curl. SIGTERM finishes the requests in flight, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FaultProfile", "load_faults", "main"]

_IDLE_TIMEOUT_S = 120.0  # longer than any client pool keeps an idle connection
_STOP_GRACE_S = 10.0
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip


@dataclass(frozen=True)
class FaultProfile:
    error_rate: float = 0.0
    latency_ms: float = 0.0
    crash_after: float | None = None
    memory_mb: int = 0
    healthy: bool = True


def load_faults(path: Path | None, version: str) -> FaultProfile:
    if path is None:
        return FaultProfile()
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    profile = data.get(version, data.get("*", {}))
    return FaultProfile(
        error_rate=float(profile.get("error_rate", 0.0)),
        latency_ms=float(profile.get("latency_ms", 0.0)),
        crash_after=None if profile.get("crash_after") is None else float(profile["crash_after"]),
        memory_mb=int(profile.get("memory_mb", 0)),
        healthy=bool(profile.get("healthy", True)),
    )


class SampleService:
    def __init__(self, version: str, faults: FaultProfile) -> None:
        self.version = version
        self.faults = faults
        self.started_at = time.time()
        self.inflight = 0
        self.stopping = False
        self._rng = random.Random(f"watchstander-demo:{version}")
        self.instance = os.environ.get("WATCHSTANDER_INSTANCE", "")
        self._idle = asyncio.Event()
        self._idle.set()

    async def route(self, method: str, target: str) -> tuple[int, dict[str, Any]]:
        url = urlsplit(target)
        if method not in {"GET", "HEAD"}:
            return 400, {"error": f"{method} is not supported"}
        if url.path == "/health":
            if not self.faults.healthy:
                return 503, {"status": "unhealthy", "version": self.version}
            return 200, {"status": "ok", "version": self.version}
        if url.path == "/version":
            return 200, {"version": self.version}
        if url.path in {"/", "/work"}:
            if url.path == "/work":
                query = parse_qs(url.query)
                delay = self.faults.latency_ms + float(query.get("delay_ms", ["0"])[0])
                if delay > 0:
                    await asyncio.sleep(delay / 1000.0)
            if self._rng.random() < self.faults.error_rate:
                return 500, {"version": self.version, "ok": False, "error": "injected fault"}
            return 200, {"version": self.version, "ok": True, "instance": self.instance}
        return 404, {"error": f"no route {url.path}"}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self.stopping:
                line = await asyncio.wait_for(reader.readline(), _IDLE_TIMEOUT_S)
                if not line.strip():
                    break
                method, target, protocol = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or "0")
                if length:
                    await reader.readexactly(length)
                self.inflight += 1
                self._idle.clear()
                try:
                    status, payload = await self.route(method, target)
                finally:
                    self.inflight -= 1
                    if self.inflight == 0:
                        self._idle.set()
                keep = (
                    protocol.strip() == "HTTP/1.1"
                    and headers.get("connection", "").lower() != "close"
                    and not self.stopping
                )
                body = b"" if method == "HEAD" else json.dumps(payload).encode()
                writer.write(
                    (
                        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
                        f"Content-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n"
                        f"X-Served-By: {self.version}\r\n"
                        f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
                    ).encode("latin-1")
                    + body
                )
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def drained(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), _STOP_GRACE_S)


def _crash(after: float) -> None:
    print(f"crash_after={after:g}s: exiting with code 1", file=sys.stderr, flush=True)
    os._exit(1)


async def serve(host: str, port: int, version: str, faults: FaultProfile) -> None:
    service = SampleService(version, faults)
    ballast = bytearray(b"\xa5") * (faults.memory_mb * 1024 * 1024) if faults.memory_mb else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if faults.crash_after is not None:
        loop.call_later(faults.crash_after, _crash, faults.crash_after)
    server = await asyncio.start_server(service.handle, host, port, reuse_address=True)
    print(f"sample service {version} on {host}:{port}", file=sys.stderr, flush=True)
    await stop.wait()
    service.stopping = True
    server.close()
    await service.drained()
    del ballast


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchstander.demo.service")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--faults", type=Path, default=None, help="JSON fault profiles")
    args = parser.parse_args(argv)
    faults = load_faults(args.faults, args.version)
    asyncio.run(serve(args.host, args.port, args.version, faults))
    return 0


if __name__ == "__main__":
    sys.exit(main())
