"""Kill the deploying process with SIGKILL at several points of a canary; the router keeps
serving at the last weights, and `watchstander rollout resume` (another process) ends each
rollout consistently: fully promoted or fully rolled back.

Real processes throughout: the data plane daemon with the demo service, the `watchstander
deploy` CLI that is killed, the `watchstander rollout resume` CLI, and a load generator
sending traffic through the router the whole time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.polling import wait_for
from watchstander.dataplane import daemon
from watchstander.demo.loadgen import LoadGenerator
from watchstander.demo.setup import write_demo
from watchstander.release.models import Event, RolloutPhase
from watchstander.store.repository import Store

ENV = {**os.environ, "COLUMNS": "200"}


def cli(ws: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "watchstander", "-C", str(ws), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "ws"
    config_path = write_demo(ws)
    config = yaml.safe_load(config_path.read_text())
    # Fast timings: one measurement every 2 s, one per analysis, a short observation.
    config["analysis"].update({"interval": "2s", "count": 1, "window": "5s", "min_requests": 3})
    config["strategy"]["observation"] = "2s"
    config["rollback"]["verify_window"] = "1s"
    # The pre-rollout gates have their own tests; these crash the rollout itself.
    config.pop("staging")
    config["readiness"] = {"enabled": False}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        up = cli(ws, "dataplane", "up")
        assert up.returncode == 0, up.stderr
        first = cli(ws, "deploy", "1.0.0", "--yes")
        assert first.returncode == 0, first.stdout + first.stderr
        yield ws
    finally:
        daemon.stop(ws / ".watchstander")


def events(ws: Path) -> list[Event]:
    with Store.open(None, workdir=ws) as store:
        rollout = store.active_rollout("demo") or store.find_rollout("demo")
        return store.events(rollout.id) if rollout else []


def latest_phase(ws: Path) -> RolloutPhase:
    with Store.open(None, workdir=ws) as store:
        rollout = store.find_rollout("demo")
        assert rollout is not None
        return rollout.phase


async def acli(ws: Path, *args: str) -> tuple[int, str]:
    """The CLI as a subprocess, awaited, so the load generator keeps sending meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watchstander",
        "-C",
        str(ws),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=ENV,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


Point = Callable[[Event], bool]

KILL_POINTS: dict[str, tuple[str, Point, RolloutPhase]] = {
    # name: (version, the event after which the process is killed, expected end)
    "after the 5% weight is set": (
        "1.2.0",
        lambda e: e.kind == "weights.set" and e.data.get("weights", {}).get("1.2.0") == 5.0,
        RolloutPhase.SUCCEEDED,
    ),
    "with the 25% weight intended": (
        "1.2.0",
        lambda e: e.kind == "action.intent" and "1.2.0 25%" in e.message,
        RolloutPhase.SUCCEEDED,
    ),
    "during the analysis at 50%": (
        "1.2.0",
        lambda e: e.kind == "step.started" and e.message == "analysis at 50%",
        RolloutPhase.SUCCEEDED,
    ),
    "during the post-deployment observation": (
        "1.2.0",
        lambda e: e.kind == "step.started" and e.message == "post-deployment observation",
        RolloutPhase.SUCCEEDED,
    ),
    "in the middle of a rollback": (
        "1.1.0",
        lambda e: e.kind == "rollback.started",
        RolloutPhase.ROLLED_BACK,
    ),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
async def test_sigkill_then_resume_ends_consistently(workspace: Path, point: str) -> None:
    version, kill_after, expected = KILL_POINTS[point]
    ws = workspace
    listen = yaml.safe_load((ws / "watchstander.yaml").read_text())["target"]["listen"]
    async with LoadGenerator(f"http://{listen}", rps=100) as load:
        deployer = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "watchstander",
                "-C",
                str(ws),
                "deploy",
                version,
                "--strategy",
                "canary",
                "--yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
            start_new_session=True,
        )
        try:
            await wait_for(
                lambda: asyncio.to_thread(lambda: any(kill_after(e) for e in events(ws))),
                timeout=60,
                message=point,
            )
            os.kill(deployer.pid, signal.SIGKILL)
            assert deployer.wait(timeout=10) == -signal.SIGKILL
        finally:
            if deployer.poll() is None:
                deployer.kill()
                deployer.wait()
        killed_in = latest_phase(ws)
        assert killed_in in (RolloutPhase.PROGRESSING, RolloutPhase.ROLLING_BACK)
        # The data plane does not depend on the dead controller: still serving.
        served_before = load.report().requests
        await wait_for(
            lambda: load.report().requests > served_before + 40,
            timeout=10,
            message="traffic flowing",
        )

        code, output = await acli(ws, "rollout", "resume")
        assert code == (0 if expected is RolloutPhase.SUCCEEDED else 1), output
        report = load.report()

    assert latest_phase(ws) is expected
    assert report.connection_errors == 0, report.error_samples
    status = json.loads(cli(ws, "dataplane", "status", "--output", "json").stdout)
    live = "1.2.0" if expected is RolloutPhase.SUCCEEDED else "1.0.0"
    assert status["weights"] == {live: 100.0}
    assert {i["version"] for i in status["instances"]} == {live}
    assert sum(1 for i in status["instances"] if i["ready"]) == 3
    kinds = [e.kind for e in events(ws) if not e.kind.startswith("incident.")]
    assert kinds[-1] in ("rollout.succeeded", "rollback.verified")
    # a rollback (even one finished by `resume` in another process) declares one incident
    declared = [e for e in events(ws) if e.kind == "incident.declared"]
    assert len(declared) == (0 if expected is RolloutPhase.SUCCEEDED else 1)
    with Store.open(None, workdir=ws) as store:
        assert store.stable_version("demo") == live
