"""The local data plane end to end: real daemon, real replicas, real HTTP on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import DataPlane, wait_for

from watchstander.config.loader import load_config
from watchstander.config.models import Config
from watchstander.dataplane import daemon
from watchstander.demo.loadgen import LoadGenerator
from watchstander.errors import DataPlaneError

pytestmark = pytest.mark.integration

V1, V2 = "1.0.0", "1.1.0"
MakeDataPlane = Callable[..., DataPlane]


async def get_many(url: str, n: int, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        return [await client.get(url, headers=headers) for _ in range(n)]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def test_scale_serve_and_report(dataplane: DataPlane) -> None:
    since = time.time()
    await dataplane.deploy({V1: 3}, {V1: 100})

    responses = await get_many(f"{dataplane.router_url}/work", 60)

    assert {r.status_code for r in responses} == {200}
    assert {r.headers["X-Watchstander-Version"] for r in responses} == {V1}
    served_by = Counter(r.json()["instance"] for r in responses)
    assert len(served_by) == 3 and set(served_by.values()) == {20}  # round-robin
    stats = (await dataplane.stats(since, time.time()))["versions"][V1]
    assert stats["count"] == 60
    assert stats["by_class"] == {"2xx": 60}
    assert stats["proxy_errors"] == 0 and stats["first_5xx_at"] is None
    assert sum(n for _, _, n in stats["latency_ms"]["bins"]) == 60
    metrics = (await dataplane.request("GET", "/metrics")).text
    assert f'watchstander_requests_total{{code_class="2xx",version="{V1}"}} 60.0' in metrics
    assert f'watchstander_request_duration_seconds_count{{version="{V1}"}} 60.0' in metrics
    assert f'watchstander_traffic_weight{{version="{V1}"}} 100.0' in metrics
    assert metrics.count("watchstander_instance_ready{") == 3
    assert "watchstander_instance_restarts_total{" in metrics


async def test_weights_split_exactly_and_preview_header(dataplane: DataPlane) -> None:
    await dataplane.deploy({V1: 1, V2: 1}, {V1: 95, V2: 5})

    responses = await get_many(f"{dataplane.router_url}/", 200)

    split = Counter(r.headers["X-Watchstander-Version"] for r in responses)
    assert abs(split[V2] - 10) <= 1 and split[V1] + split[V2] == 200
    preview = await get_many(f"{dataplane.router_url}/", 5, {"X-Watchstander-Version": V2})
    assert {r.headers["X-Watchstander-Version"] for r in preview} == {V2}
    unknown = await get_many(f"{dataplane.router_url}/", 1, {"X-Watchstander-Version": "9.9"})
    assert unknown[0].status_code == 503
    assert "no ready replica" in unknown[0].json()["error"]


async def test_weight_changes_under_load_drop_nothing(dataplane: DataPlane) -> None:
    await dataplane.deploy({V1: 2, V2: 2}, {V1: 100, V2: 0})
    load = LoadGenerator(dataplane.router_url, rps=150)
    await load.start()
    try:
        await wait_for(lambda: len(load.results) > 100, message="traffic on 1.0.0")
        switched = 0.0
        for weights in ({V1: 50, V2: 50}, {V1: 5, V2: 95}, {V1: 0, V2: 100}):
            await dataplane.set_weights(weights)
            switched = time.time()
            mark = len(load.results)
            await wait_for(lambda m=mark: len(load.results) > m + 60, message="more traffic")
    finally:
        report = await load.stop()

    assert report.connection_errors == 0, report.error_samples
    assert report.server_errors == 0
    assert report.skipped == 0
    assert report.by_version[V1] > 100 and report.by_version[V2] > 100
    last_v1 = load.last_served_at(V1)
    assert last_v1 is not None and last_v1 < switched  # 0% means nothing at all


async def test_crash_loop_is_reported_and_hidden_from_clients(
    make_dataplane: MakeDataPlane,
) -> None:
    plane = make_dataplane({V2: {"crash_after": 0.5}})
    await plane.deploy({V1: 2, V2: 2}, {V1: 50, V2: 50})
    load = LoadGenerator(plane.router_url, rps=100)
    await load.start()
    try:
        crashed = await wait_for(
            lambda: _all_crash_looping(plane, V2), 15, message="1.1.0 in a crash loop"
        )
    finally:
        report = await load.stop()

    assert all(i["restarts"] >= 3 and i["last_exit_code"] == 1 for i in crashed)
    assert all(len(i["restart_times"]) == i["restarts"] for i in crashed)
    assert report.requests > 200
    assert report.connection_errors == 0, report.error_samples
    assert report.server_errors == 0
    assert report.by_version[V1] > report.requests / 2  # it took over 1.1.0's share
    healthy = await plane.instances(V1)
    assert all(i["restarts"] == 0 and not i["crash_loop"] for i in healthy)
    metrics = (await plane.request("GET", "/metrics")).text
    restarts = f'watchstander_instance_restarts_total{{instance="{V2}-1",version="{V2}"}} '
    line = next(line for line in metrics.splitlines() if line.startswith(restarts))
    assert float(line.removeprefix(restarts)) >= 3


async def _all_crash_looping(plane: DataPlane, version: str) -> list[dict[str, Any]] | None:
    instances = await plane.instances(version)
    return instances if instances and all(i["crash_loop"] for i in instances) else None


async def test_scale_down_drains_requests_in_flight(dataplane: DataPlane) -> None:
    await dataplane.deploy({V1: 2}, {V1: 100})
    url = f"{dataplane.router_url}/work?delay_ms=1500"
    async with httpx.AsyncClient(timeout=10.0) as client:
        slow = [asyncio.create_task(client.get(url)) for _ in range(6)]
        await wait_for(
            lambda: _inflight(dataplane, 6), message="6 requests in flight on the replicas"
        )
        await dataplane.scale(V1, 0)
        draining = await dataplane.instances(V1)
        responses = await asyncio.gather(*slow)

    assert draining and all(i["draining"] for i in draining)
    assert [r.status_code for r in responses] == [200] * 6
    await wait_for(lambda: _no_instances(dataplane), message="replicas stopped after the drain")
    assert (await dataplane.state())["desired_replicas"] == {}


async def _inflight(plane: DataPlane, n: int) -> bool:
    return bool(sum(i["inflight"] for i in await plane.instances()) >= n)


async def _no_instances(plane: DataPlane) -> bool:
    return not await plane.instances()


async def test_memory_limit_kills_and_records_oom(make_dataplane: MakeDataPlane) -> None:
    plane = make_dataplane({V2: {"memory_mb": 120}}, memory_limit_mb=64)
    await plane.deploy({V1: 1}, {V1: 100})
    await plane.scale(V2, 1)

    oom = await wait_for(lambda: _oom_killed(plane, V2), message="an OOM kill of 1.1.0")

    assert oom["last_exit_code"] == -signal.SIGKILL
    assert "OOM" in oom["last_error"] and "64 MiB" in oom["last_error"]
    healthy = await plane.instances(V1)
    assert healthy[0]["oom_kills"] == 0 and healthy[0]["ready"]
    metrics = (await plane.request("GET", "/metrics")).text
    assert f'watchstander_instance_oom_kills_total{{instance="{V2}-1",version="{V2}"}}' in metrics


async def _oom_killed(plane: DataPlane, version: str) -> dict[str, Any] | None:
    return next((i for i in await plane.instances(version) if i["oom_kills"] >= 1), None)


async def test_admin_api_rejects_bad_requests_with_reasons(dataplane: DataPlane) -> None:
    bad_sum = await dataplane.request("PUT", "/weights", {"weights": {V1: 90, V2: 5}})
    assert bad_sum.status_code == 400
    assert bad_sum.json()["error"] == f"weights must sum to 100, got {V1}=90 + {V2}=5 = 95"
    bad_version = await dataplane.request("PUT", "/versions/v@1", {"replicas": 1})
    assert bad_version.status_code == 400
    assert "is not a valid version" in bad_version.json()["error"]
    bad_body = await dataplane.request("PUT", f"/versions/{V1}", {"replicas": "three"})
    assert bad_body.status_code == 400
    assert "whole number" in bad_body.json()["error"]
    bad_window = await dataplane.request("GET", "/stats?since=20&until=10")
    assert bad_window.status_code == 400
    empty = await dataplane.request("PUT", "/weights", {"weights": {V1: 100}})
    assert empty.json()["warnings"] == [
        f"version '{V1}' has no replicas: its share goes to the other versions"
    ]


async def test_no_replica_answers_503_and_counts_it(dataplane: DataPlane) -> None:
    since = time.time()
    response = (await get_many(f"{dataplane.router_url}/", 1))[0]
    assert response.status_code == 503
    stats = (await dataplane.stats(since, time.time()))["versions"]["unrouted"]
    assert stats["proxy_errors"] == 1 and stats["by_class"] == {"5xx": 1}


def test_start_is_idempotent_and_reports_failures(make_dataplane: MakeDataPlane) -> None:
    plane = make_dataplane()
    assert daemon.start(plane.config_path, plane.state_dir) == plane.pid
    other = make_dataplane(start=False)
    other.config_path.write_text(
        plane.config_path.read_text().replace(other.admin, plane.admin), encoding="utf-8"
    )
    with pytest.raises(DataPlaneError, match=r"^cannot listen on 127\.0\.0\.1:\d+: .*in use"):
        other.start()
    running = daemon.status(_config(plane), plane.state_dir)
    assert running["running"] is True and running["pid"] == plane.pid
    assert running["reason"] is None and running["instances"] == []
    assert plane.stop() is True
    assert plane.stop() is False
    stopped = daemon.status(_config(plane), plane.state_dir)
    assert stopped["running"] is False and stopped["pid"] is None
    assert stopped["reason"] == f"no data plane runs for {plane.state_dir.resolve()}"


def _config(plane: DataPlane) -> Config:
    return load_config(plane.config_path)


async def test_survives_its_starter_and_restores_state(make_dataplane: MakeDataPlane) -> None:
    plane = make_dataplane(start=False)
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from watchstander.dataplane import start; "
            "print(start(Path(sys.argv[1]), Path(sys.argv[2])), flush=True); sys.stdin.read()",
            str(plane.config_path),
            str(plane.state_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        plane.pid = int(starter.stdout.readline())
        plane.seen_pids.add(plane.pid)
        await plane.deploy({V1: 2, V2: 1}, {V1: 80, V2: 20})
        starter.kill()  # SIGKILL: the process that started the daemon is gone
        starter.wait(timeout=5)
    finally:
        starter.kill()
        starter.wait(timeout=5)
        assert starter.stdin is not None and starter.stdout is not None
        starter.stdin.close()
        starter.stdout.close()
    assert {r.status_code for r in await get_many(f"{plane.router_url}/", 20)} == {200}

    # A graceful restart restores replicas and weights from dataplane.json.
    assert plane.stop() is True
    plane.start()
    await wait_for(lambda: plane.ready(V1, 2), message="1.0.0 restored")
    await wait_for(lambda: plane.ready(V2, 1), message="1.1.0 restored")
    state = await plane.state()
    assert state["weights"] == {V1: 80.0, V2: 20.0}
    assert state["desired_replicas"] == {V1: 2, V2: 1}
    status = daemon.status(_config(plane), plane.state_dir)
    assert status["weights"] == state["weights"] and len(status["instances"]) == 3

    # A SIGKILLed daemon takes its replicas with it, and comes back the same.
    replica_pids = [i["pid"] for i in state["instances"]]
    os.kill(plane.pid, signal.SIGKILL)
    await wait_for(lambda: not any(map(pid_alive, replica_pids)), message="no orphaned replica")
    plane.start()
    await wait_for(lambda: plane.ready(V1, 2), message="1.0.0 restored after SIGKILL")
    await wait_for(lambda: plane.ready(V2, 1), message="1.1.0 restored after SIGKILL")
    responses = await get_many(f"{plane.router_url}/", 10)
    assert Counter(r.headers["X-Watchstander-Version"] for r in responses) == {V1: 8, V2: 2}


async def test_a_command_that_cannot_start_is_restarted_with_a_reason(
    make_dataplane: MakeDataPlane,
) -> None:
    plane = make_dataplane(command=["/nonexistent/service", "--port", "{port}"])
    await plane.scale(V1, 1)

    failing = await wait_for(lambda: _restarted(plane, V1), message="a restart of 1.0.0")

    assert failing["last_error"] == "cannot start '/nonexistent/service': No such file or directory"
    assert not failing["running"] and not failing["ready"] and failing["pid"] is None


async def _restarted(plane: DataPlane, version: str) -> dict[str, Any] | None:
    return next((i for i in await plane.instances(version) if i["restarts"] >= 2), None)


async def test_load_generator_and_router_agree_on_errors(make_dataplane: MakeDataPlane) -> None:
    plane = make_dataplane({V2: {"error_rate": 0.3}})
    await plane.deploy({V1: 1, V2: 1}, {V1: 50, V2: 50})
    since = time.time()
    load = LoadGenerator(plane.router_url, rps=100)
    await load.start()
    try:
        await wait_for(lambda: len(load.results) >= 60, message="60 responses")
    finally:
        report = await load.stop()

    first = load.first_error_at(V2)
    assert first is not None and report.first_5xx_at == {V2: first}
    assert load.first_error_at(V1) is None and load.first_error_at(V2, since=time.time()) is None
    assert report.by_status[500] == report.server_errors > 0
    assert report.by_version[V1] + report.by_version[V2] == report.requests
    served = load.first_served_at(V1)
    assert served is not None and served <= (load.last_served_at(V1) or 0)
    stats = (await plane.stats(since, time.time()))["versions"]
    assert stats[V2]["by_class"]["5xx"] == report.server_errors
    assert stats[V2]["count"] == report.by_version[V2]
    assert first <= stats[V2]["first_5xx_at"] < first + 1.0  # sent, then answered
