"""Three `watchstander watch` controllers on one PostgreSQL store: a detached canary is
driven by exactly one of them, and when that one is SIGKILLed another finishes it.

Everything is real: a PostgreSQL server (initdb + pg_ctl on a free loopback port), the
local data plane daemon with the demo service, three `watch` processes and the
`deploy --detach` CLI, with a load generator sending traffic through the router. Which
controller drove the rollout is read from the rollout's own timeline
(`controller.acquired` / `controller.takeover`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import DataPlane
from tests.integration.postgres_server import PostgresServer, postgres_server
from tests.polling import wait_for
from watchstander.demo.loadgen import LoadGenerator
from watchstander.engine.controller import CLAIM_KINDS
from watchstander.release.models import Event, RolloutPhase
from watchstander.store import Store

pytestmark = pytest.mark.integration

PASSWORD_ENV = "WATCHSTANDER_TEST_PG_PASSWORD"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PostgresServer]:
    with postgres_server(tmp_path) as running:
        yield running


@pytest.fixture
def env(server: PostgresServer) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", PASSWORD_ENV: server.password}


@pytest.fixture
def plane(make_dataplane: Callable[..., DataPlane], server: PostgresServer) -> DataPlane:
    """The demo service's data plane, its config pointed at PostgreSQL, fast timings."""
    plane = make_dataplane(replicas=2)
    config = yaml.safe_load(plane.config_path.read_text())
    config["store"] = {"url": server.url, "password_env": PASSWORD_ENV}
    config["strategy"] = {"canary": {"steps": [5, 25, 50, 100]}, "observation": "2s"}
    config["analysis"] = {"interval": "2s", "count": 1, "window": "5s", "min_requests": 3}
    # The test is about which controller drives the rollout: a p99 of a few requests on a
    # busy 2-core machine is noise, so latency must rise by 200 ms before it counts.
    config["rollback"] = {
        "verify_window": "1s",
        "triggers": {"latency_p99_min_increase_ms": 200},
    }
    config["readiness"] = {"enabled": False}
    plane.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return plane


def cli(plane: DataPlane, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "watchstander", "-C", str(plane.root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def controllers(
    plane: DataPlane, env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[int], list[subprocess.Popen[bytes]]]]:
    """start(n) -> n `watch` processes (logs in tmp_path); all stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start(n: int) -> list[subprocess.Popen[bytes]]:
        for i in range(n):
            log = (tmp_path / f"watch{len(started)}.log").open("wb")
            logs.append(log)
            started.append(
                subprocess.Popen(  # noqa: S603
                    [
                        sys.executable,
                        "-m",
                        "watchstander",
                        "-C",
                        str(plane.root),
                        "watch",
                        "--interval",
                        "1",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
            del i
        return started

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    for log in logs:
        log.close()


def open_store(server: PostgresServer, tmp_path: Path) -> Store:
    return Store.open(server.url_with_password, workdir=tmp_path)


def claims(store: Store, rollout_id: str) -> list[Event]:
    return [e for e in store.events(rollout_id) if e.kind in CLAIM_KINDS]


def pid_of(holder: str) -> int:
    return int(holder.split(":")[1])


def logs_of(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
        for p in sorted(tmp_path.glob("watch*.log"))
    )


async def test_one_controller_drives_a_rollout_and_another_takes_over_when_it_dies(
    plane: DataPlane,
    server: PostgresServer,
    env: dict[str, str],
    controllers: Callable[[int], list[subprocess.Popen[bytes]]],
    tmp_path: Path,
) -> None:
    first = cli(plane, env, "deploy", "1.0.0", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    watchers = controllers(3)
    by_pid = {proc.pid: proc for proc in watchers}

    with open_store(server, tmp_path) as store:
        # every timer has one owner among the three
        for kind in ("slo", "incidents", "hypercare"):

            def owned(kind: str = kind) -> bool:
                lease = store.lease(f"{kind}:demo")
                return lease is not None and pid_of(lease.holder) in by_pid

            await wait_for(owned, 30, message=f"a controller owning the {kind} timers")

        async with LoadGenerator(plane.router_url, rps=100) as load:
            # traffic for longer than the analysis window first: the baseline needs data
            await wait_for(lambda: load.report().requests >= 600, 30, message="6 s of traffic")
            detached = cli(
                plane, env, "deploy", "1.2.0", "--strategy", "canary", "--yes", "--detach"
            )
            assert detached.returncode == 0, detached.stdout + detached.stderr
            rollout = store.find_rollout("demo", version="1.2.0")
            assert rollout is not None and "created" in detached.stdout

            def progressed() -> bool:
                return any(
                    e.kind == "weights.set" and e.data.get("weights", {}).get("1.2.0") == 5.0
                    for e in store.events(rollout.id)
                )

            await wait_for(progressed, 60, message=f"the 5% step\n{logs_of(tmp_path)}")
            (acquired,) = claims(store, rollout.id)
            assert acquired.kind == "controller.acquired"
            driver = acquired.data["holder"]
            assert pid_of(driver) in by_pid
            assert all(proc.poll() is None for proc in watchers)  # the others are waiting
            assert store.get_rollout(rollout.id).phase is RolloutPhase.PROGRESSING

            by_pid[pid_of(driver)].send_signal(signal.SIGKILL)
            by_pid[pid_of(driver)].wait(timeout=15)

            def taken_over() -> Event | None:
                return next(
                    (e for e in claims(store, rollout.id) if e.kind == "controller.takeover"),
                    None,
                )

            takeover: Event = await wait_for(
                taken_over, 30, message=f"a takeover\n{logs_of(tmp_path)}"
            )
            successor = takeover.data["holder"]
            assert takeover.data["from"] == driver
            assert takeover.data["reason"] == "its process is gone"
            assert pid_of(successor) in by_pid and successor != driver
            assert by_pid[pid_of(successor)].poll() is None

            def finished() -> bool:
                return store.get_rollout(rollout.id).terminal

            await wait_for(finished, 120, message=f"the rollout's end\n{logs_of(tmp_path)}")
        report = load.report()

        done = store.get_rollout(rollout.id)
        assert done.phase is RolloutPhase.SUCCEEDED, done.message
        assert store.stable_version("demo") == "1.2.0"
        # exactly two drivers ever: the first, then the one that took over from it
        assert [(e.kind, e.data["holder"]) for e in claims(store, rollout.id)] == [
            ("controller.acquired", driver),
            ("controller.takeover", successor),
        ]
        assert report.connection_errors == 0, report.error_samples
        state = await plane.state()
        assert state["weights"] == {"1.2.0": 100.0}
        # the dead controller's timers moved to a live one as well
        for kind in ("slo", "incidents", "hypercare"):

            def alive_owner(kind: str = kind) -> bool:
                lease = store.lease(f"{kind}:demo")
                return (
                    lease is not None
                    and lease.holder != driver
                    and pid_of(lease.holder) in {p.pid for p in watchers if p.poll() is None}
                )

            await wait_for(alive_owner, 30, message=f"a live owner of the {kind} timers")
        # SIGTERM: the successor stops cleanly and releases what it held at once
        stopped = by_pid[pid_of(successor)]
        stopped.send_signal(signal.SIGTERM)
        assert stopped.wait(timeout=30) == 0, logs_of(tmp_path)
        for kind in ("slo", "incidents", "hypercare", "rollout"):
            lease = store.lease(f"{kind}:demo")
            assert lease is None or lease.holder != successor, lease
        # released by the one that finished, and nobody takes it without an active rollout
        await wait_for(lambda: store.lease("rollout:demo") is None, 15, message="no rollout lease")
