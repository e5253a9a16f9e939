"""A real HAProxy fronts the demo service's replicas, started by the HAProxy target, and
the real rollout engine carries one canary to success and another to rollback.

Metrics: the builtin source reads the local data plane, which is not in the path here, so
the analysis reads a FakeMetricSource fed by this test's own closed-loop client: every
response is counted per version (the demo's JSON body names the version that answered),
with its status and latency, and each query is answered from the responses inside its
window. The client also counts failed requests (connection errors and anything HAProxy
answers itself: 502, 503, 504), and none is allowed at any time: not during the weight
changes, not while instances start, drain and stop. HAProxy's pid stays the same from
start to end: nothing is reloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from haproxy_server import BACKEND, HaproxyServer, documented
from test_contract_target_haproxy import kill_recorded

from tests.polling import wait_for
from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import SystemClock
from watchstander.config.haproxy import HaproxyTargetConfig
from watchstander.config.loader import load_config, parse_config
from watchstander.config.models import Config
from watchstander.engine.controller import RolloutController
from watchstander.engine.operations import create_rollout
from watchstander.engine.settings import settings_from_config
from watchstander.errors import ConfigError, DataPlaneError
from watchstander.processes import pid_alive
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.providers.targets.haproxy import HaproxyTarget
from watchstander.release.models import Rollout, RolloutPhase, Strategy
from watchstander.store.repository import Store

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs"
V1, GOOD, BAD = "1.0.0", "1.1.0", "1.2.0"


@dataclass
class Response:
    at: float
    version: str | None
    status: int
    latency_ms: float


@dataclass
class Client:
    """Closed-loop clients sending GET / through HAProxy as fast as answers come back."""

    url: str
    workers: int = 4
    responses: list[Response] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _loop(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            started = time.time()
            try:
                response = await client.get(self.url + "/")
            except httpx.HTTPError as exc:
                self.failures.append(f"{started:.3f} {exc!r}")
                continue
            latency = (time.time() - started) * 1000.0
            try:
                version = response.json().get("version")
            except ValueError:
                version = None
            if version is None or response.status_code not in (200, 500):
                self.failures.append(f"{started:.3f} HTTP {response.status_code}")
                continue
            self.responses.append(Response(started, version, response.status_code, latency))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Client]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            tasks = [asyncio.create_task(self._loop(client)) for _ in range(self.workers)]
            try:
                yield self
            finally:
                self._stop.set()
                await asyncio.gather(*tasks)

    def query(self, q: MetricQuery) -> Sample:
        since, until = q.start.timestamp(), q.end.timestamp()
        window = [
            r
            for r in self.responses
            if since <= r.at < until and (q.version == "*" or r.version == q.version)
        ]
        described = f"client: {q.metric}{{version={q.version}}} over {until - since:.1f}s"
        if q.metric == "requests":
            return Sample(float(len(window)), len(window), described)
        if not window:
            return Sample(None, 0, described)
        if q.metric == "error_rate":
            value = sum(1 for r in window if r.status >= 500) / len(window)
        elif q.metric == "throughput":
            value = len(window) / max(until - since, 1e-9)
        else:
            quantile = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}[q.metric]
            ordered = sorted(r.latency_ms for r in window)
            value = ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]
        return Sample(value, len(window), described)

    def served(self, version: str) -> int:
        return sum(1 for r in self.responses if r.version == version)


def runtime_pid(server: HaproxyServer) -> int:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(server.socket_path))
        sock.sendall(b"show info\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    line = next(x for x in data.decode().splitlines() if x.startswith("Pid:"))
    return int(line.split()[1])


def workspace_config(ws: Path, server: HaproxyServer) -> Config:
    """docs/examples/haproxy.yaml pointed at this test's HAProxy, with fast timings."""
    text = (DOCS / "examples" / "haproxy.yaml").read_text(encoding="utf-8")
    faults = ws / "faults.json"
    faults.write_text(json.dumps({BAD: {"error_rate": 0.3}}), encoding="utf-8")
    config = parse_config(text)
    data = config.model_dump(mode="json", exclude_none=True)
    data["target"].update(
        runtime_api=server.runtime_api,
        backend=BACKEND,
        listen=server.listen,
        command=[
            sys.executable,
            "-m",
            "watchstander.demo.service",
            "--port",
            "{port}",
            "--version",
            "{version}",
            "--faults",
            str(faults),
        ],
        cwd=str(ws),
        replicas=2,
        health={"interval": 0.2, "timeout": 0.5, "failure_threshold": 2},
        ready_timeout=15.0,
        drain_timeout=5.0,
    )
    data["strategy"]["canary"]["steps"] = [20.0, 50.0, 100.0]
    data["strategy"]["observation"] = 1.5
    data["analysis"].update(interval=1.0, window=1.0, count=1, min_requests=5)
    # A closed-loop client's throughput follows the latency of whoever answers, and its
    # p99 over one-second windows on a busy test machine is noise: the error rate decides.
    data["rollback"]["triggers"]["throughput_drop_pct"] = None
    data["rollback"]["triggers"]["latency_p99_min_increase_ms"] = 500.0
    data["regression"]["tolerances"].update(latency_ms=500.0, throughput_pct=100.0)
    data["rollback"]["verify_window"] = 1.0
    data["readiness"] = {"enabled": False}
    data.pop("staging", None)
    return Config.model_validate(data)


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[HaproxyServer]:
    server = HaproxyServer.start(tmp_path / "haproxy")
    try:
        yield server
    finally:
        kill_recorded(tmp_path / "ws" / ".watchstander" / "haproxy")
        server.stop()


def test_the_documented_examples_load() -> None:
    """docs/examples/haproxy.yaml and the `servers` example of docs/backends/haproxy.md are
    complete watchstander.yaml files (the haproxy.cfg there is what every test here runs)."""
    config = load_config(DOCS / "examples" / "haproxy.yaml")
    assert isinstance(config.target, HaproxyTargetConfig)
    assert config.target.runtime_api == "unix:/run/haproxy/admin.sock"
    assert config.target.command is not None and "{port}" in config.target.command
    existing = parse_config(documented("yaml", 1))
    assert isinstance(existing.target, HaproxyTargetConfig) and existing.target.command is None
    assert existing.target.servers["1.5.0"] == ["shop-b1", "shop-b2", "shop-b3"]
    with pytest.raises(ConfigError):
        parse_config(documented("yaml", 0))  # the excerpt alone lacks service and metrics


async def test_canary_to_success_and_to_rollback_without_a_failed_request(
    haproxy: HaproxyServer, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    config = workspace_config(ws, haproxy)
    pid = runtime_pid(haproxy)
    assert pid == haproxy.pid
    assert isinstance(config.target, HaproxyTargetConfig)
    target = HaproxyTarget(config.target, service=config.service.name, workdir=ws)
    client = Client(f"http://{haproxy.listen}")
    metrics = FakeMetricSource(client.query)
    clock = SystemClock()
    with Store.open(None, workdir=ws) as store:

        async def release(version: str, strategy: Strategy | None) -> Rollout:
            controller = RolloutController(
                store=store,
                target=target,
                metrics=metrics,
                config=config,
                settings=settings_from_config(config),
                clock=clock,
            )
            controller.acquire(config.service.name)
            try:
                rollout = create_rollout(
                    store=store, config=config, version=version, strategy=strategy, now=clock.now()
                )
                return await controller.run(rollout.id)
            finally:
                controller.release(config.service.name)

        try:
            assert (await release(V1, None)).phase is RolloutPhase.SUCCEEDED
            async with client.running():
                await wait_for(lambda: client.served(V1) > 50, 10, message="traffic on 1.0.0")
                good = await release(GOOD, Strategy.CANARY)
                assert good.phase is RolloutPhase.SUCCEEDED, good.message
                good_state = await target.state()
                assert good_state.weights == {GOOD: 100.0}
                assert good_state.ready_count(GOOD) == 2 and not good_state.of(V1)
                served_good = client.served(GOOD)
                await wait_for(
                    lambda: client.served(GOOD) > served_good + 50, 10, message="traffic on 1.1.0"
                )

                bad = await release(BAD, Strategy.CANARY)
                assert bad.phase is RolloutPhase.ROLLED_BACK, bad.message
                bad_state = await target.state()
                assert bad_state.weights == {GOOD: 100.0}
                assert bad_state.ready_count(GOOD) == 2 and not bad_state.of(BAD)
                served_after = len(client.responses)
                await wait_for(
                    lambda: len(client.responses) > served_after + 50, 10, message="traffic after"
                )
        finally:
            await target.aclose()

        failed = [m.name for _, _, m in store.measurements(bad.id) if m.phase.value == "FAIL"]
        assert "error-rate" in failed
        changes = [
            e.at.timestamp()
            for r in (good, bad)
            for e in store.events(r.id)
            if e.kind == "weights.set"
        ]
    # Every weight change happened under load: answers came in right before and after it.
    assert len(changes) >= 5
    for at in changes:
        assert any(at - 1.0 <= r.at < at for r in client.responses), at
        assert any(at <= r.at < at + 1.0 for r in client.responses), at

    assert client.failures == [], client.failures[:5]
    assert client.served(BAD) > 0, "the bad canary served some traffic before the rollback"
    bad_errors = sum(1 for r in client.responses if r.version == BAD and r.status == 500)
    assert bad_errors > 0
    assert haproxy.alive() and runtime_pid(haproxy) == pid  # never reloaded


async def test_runtime_api_failures_are_one_line_data_plane_errors(
    haproxy: HaproxyServer, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    config = workspace_config(ws, haproxy)
    assert isinstance(config.target, HaproxyTargetConfig)
    wrong = config.target.model_copy(update={"backend": "nosuch"})
    target = HaproxyTarget(wrong, service="shop", workdir=ws)
    with pytest.raises(DataPlaneError) as caught:
        await target.ping()
    message = str(caught.value)
    assert "\n" not in message and haproxy.runtime_api in message
    assert "show stat nosuch" in message and "No such proxy" in message

    gone = config.target.model_copy(update={"runtime_api": f"unix:{ws / 'missing.sock'}"})
    target = HaproxyTarget(gone, service="shop", workdir=ws)
    with pytest.raises(DataPlaneError, match=r"unreachable .*'show stat shop 4 -1'"):
        await target.state()


STARTER = """
import asyncio, sys
from pathlib import Path
from watchstander.config.haproxy import HaproxyTargetConfig
from watchstander.providers.targets.haproxy import HaproxyTarget

async def main() -> None:
    config = HaproxyTargetConfig.model_validate_json(sys.argv[1])
    target = HaproxyTarget(config, service="shop", workdir=Path(sys.argv[2]))
    await target.scale("1.0.0", 2)
    await target.set_weights({"1.0.0": 100})

asyncio.run(main())
"""


async def test_instances_outlive_the_process_that_started_them(
    haproxy: HaproxyServer, tmp_path: Path
) -> None:
    """The data plane does not depend on the control plane: a watchstander process starts
    two instances and exits; HAProxy keeps serving them, and a later process finds them
    in the state directory, sees them ready, drains and stops them."""
    ws = tmp_path / "ws"
    ws.mkdir()
    config = workspace_config(ws, haproxy)
    starter = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTER, config.target.model_dump_json(), str(ws)
    )
    assert await asyncio.wait_for(starter.wait(), 60) == 0

    async with httpx.AsyncClient(timeout=5.0) as client:
        for _ in range(10):
            response = await client.get(f"http://{haproxy.listen}/version")
            assert response.json()["version"] == V1

    assert isinstance(config.target, HaproxyTargetConfig)
    later = HaproxyTarget(config.target, service="shop", workdir=ws)
    state = await later.state()
    assert state.ready_count(V1) == 2 and state.weights == {V1: 100.0}
    record = json.loads((ws / ".watchstander" / "haproxy" / "shop.json").read_text())
    pids = [i["pid"] for i in record["instances"]]
    assert len(pids) == 2 and all(pid_alive(p) for p in pids)

    await later.scale(V1, 0)
    assert not (await later.state()).of(V1)
    await wait_for(lambda: not any(pid_alive(p) for p in pids), 10, message="instances stopped")
    await later.aclose()
