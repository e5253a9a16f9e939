"""What the local data plane's router costs, and how fast traffic follows a weight change.

    .venv/bin/python bench/router_bench.py [--requests 3000] [--concurrency 16]

Starts a real data plane daemon (in a temporary directory, on free loopback ports) with
one replica of the demo service per version, then:

1. sends the same fixed number of GET / requests with the same client and concurrency
   straight to a replica and through the router, and prints requests/s, p50 and p99 of
   each and what the router adds;
2. runs a closed-loop client against the router and flips PUT /weights between the two
   versions several times, timing from the moment the PUT is sent until the first
   response served by the newly weighted version (and the PUT's own round trip).

Client, router and replica share the machine's cores, so absolute numbers depend on it;
the difference between the two rows is the point. Results are recorded in README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from watchstander.dataplane import daemon
from watchstander.dataplane.supervisor import free_port

V1, V2 = "1.0.0", "1.1.0"
HEADER = "X-Watchstander-Version"


@dataclass(frozen=True)
class Run:
    label: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    failures: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def hammer(url: str, *, requests: int, concurrency: int, label: str) -> Run:
    """`requests` GETs from `concurrency` workers over one keep-alive session."""
    latencies: list[float] = []
    failures = 0
    remaining = requests

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status != 200:
                        failures += 1
                latencies.append((time.perf_counter() - started) * 1000.0)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    return Run(label, requests, seconds, latencies, failures)


async def time_switches(router: str, admin: str, *, switches: int) -> list[tuple[float, float]]:
    """(PUT round trip ms, PUT sent -> first response from the new version ms) per switch."""
    results: list[tuple[float, float]] = []
    seen: list[tuple[float, str]] = []  # (response received, version)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            while not stop.is_set():
                async with session.get(f"{router}/") as resp:
                    await resp.read()
                    seen.append((time.perf_counter(), resp.headers.get(HEADER, "")))

        task = asyncio.create_task(client())
        try:
            target = V2
            for _ in range(switches):
                await asyncio.sleep(0.3)  # let the client settle on the current version
                sent = time.perf_counter()
                async with session.put(f"{admin}/weights", json={"weights": {target: 100}}) as resp:
                    resp.raise_for_status()
                put_ms = (time.perf_counter() - sent) * 1000.0
                while not any(t >= sent and v == target for t, v in seen):
                    await asyncio.sleep(0.001)
                first = min(t for t, v in seen if t >= sent and v == target)
                results.append((put_ms, (first - sent) * 1000.0))
                target = V1 if target == V2 else V2
        finally:
            stop.set()
            await task
    return results


async def prepare(root: Path) -> tuple[str, str, str]:
    """Start the daemon with one ready replica per version; (router, admin, replica) URLs."""
    listen, admin = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    config = {
        "service": {"name": "bench"},
        "target": {
            "type": "local",
            "listen": listen,
            "admin": admin,
            "command": [
                sys.executable,
                "-m",
                "watchstander.demo.service",
                "--port",
                "{port}",
                "--version",
                "{version}",
            ],
        },
    }
    path = root / "watchstander.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    daemon.start(path, root / "state")
    async with aiohttp.ClientSession(base_url=f"http://{admin}") as session:
        for version in (V1, V2):
            async with session.put(f"/versions/{version}", json={"replicas": 1}) as resp:
                resp.raise_for_status()
        async with session.put("/weights", json={"weights": {V1: 100}}) as resp:
            resp.raise_for_status()
        deadline = time.monotonic() + 20
        while True:
            async with session.get("/state") as resp:
                state: dict[str, Any] = await resp.json()
            ready = [i for i in state["instances"] if i["ready"]]
            if len(ready) == 2:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"replicas not ready: {json.dumps(state['instances'])}")
            await asyncio.sleep(0.05)
    replica = next(i["address"] for i in ready if i["version"] == V1)
    return f"http://{listen}", f"http://{admin}", f"http://{replica}"


async def main(requests: int, concurrency: int, switches: int) -> None:
    with tempfile.TemporaryDirectory(prefix="watchstander-bench-") as tmp:
        root = Path(tmp)
        try:
            router, admin, replica = await prepare(root)
            for url in (replica, router):  # warm up both paths (connections, caches)
                await hammer(f"{url}/", requests=300, concurrency=concurrency, label="warmup")
            direct = await hammer(
                f"{replica}/", requests=requests, concurrency=concurrency, label="direct replica"
            )
            routed = await hammer(
                f"{router}/", requests=requests, concurrency=concurrency, label="through router"
            )
            flips = await time_switches(router, admin, switches=switches)
        finally:
            daemon.stop(root / "state")

    cores = os.cpu_count()
    print(
        f"watchstander router benchmark: {requests} x GET / per row, concurrency "
        f"{concurrency}, {cores} CPU cores shared by client, router and replica"
    )
    print(f"{'':16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for run in (direct, routed):
        print(
            f"{run.label:16} {run.rps:8.0f} {run.pct(0.5):8.2f} {run.pct(0.99):8.2f} "
            f"{run.failures:7d}"
        )
    print(
        f"{'router adds':16} {'':8} {routed.pct(0.5) - direct.pct(0.5):+8.2f} "
        f"{routed.pct(0.99) - direct.pct(0.99):+8.2f}"
    )
    puts = [p for p, _ in flips]
    follows = [f for _, f in flips]
    print(
        f"weight switch ({len(flips)} flips between {V1} and {V2}, closed-loop client): "
        f"PUT /weights round trip median {statistics.median(puts):.2f} ms; "
        f"first response from the new version median {statistics.median(follows):.2f} ms, "
        f"max {max(follows):.2f} ms after the PUT was sent"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--switches", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.switches))
