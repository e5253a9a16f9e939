"""Rollouts end to end: the real CLI against a real data plane daemon on free loopback
ports, with manual controls sent from other processes while a `deploy` runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    HEALTHY_FAULTS,
    Workspace,
    dataplane_up,
)
from tests.polling import wait_for

pytestmark = pytest.mark.e2e


def _deploy_first_release(ws: Workspace) -> None:
    first = ws.cli("deploy", "1.0.0", "--yes")
    assert first.returncode == 0, first


def _phase_is(ws: Workspace, phase: str) -> dict[str, Any] | None:
    status = ws.status()
    return status if status["phase"] == phase else None


def test_first_release_goes_live_on_the_data_plane(live_workspace: Workspace) -> None:
    ws = live_workspace

    deploy = ws.cli("deploy", "1.0.0", "--yes")

    assert deploy.returncode == 0, deploy
    assert "Succeeded" in deploy.stdout, deploy
    assert deploy.stderr == "", deploy
    assert (ws.root / ".aiwg" / "reports" / "deployment-report-1.0.0.md").is_file()

    status = ws.status()

    assert status["version"] == "1.0.0"
    assert status["phase"] == "Succeeded"
    assert status["strategy"] == "initial"
    assert status["live_weights"] == {"1.0.0": 100}

    plane = ws.cli("dataplane", "status", "--output", "json").json()

    assert plane["running"] is True and plane["reason"] is None, plane
    ready = [
        i
        for i in plane["instances"]
        if i["version"] == "1.0.0" and i["ready"] and not i["draining"]
    ]
    assert len(ready) == 3, plane["instances"]
    assert len(plane["instances"]) == 3, plane["instances"]
    assert plane["weights"] == {"1.0.0": 100}

    again = ws.cli("deploy", "1.0.0", "--yes")

    assert again.returncode == 2, again
    assert len(again.err_lines) == 1, again
    assert "already live" in again.stderr, again


async def test_second_deploy_is_refused_while_a_canary_waits_for_promotion(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.write_faults(HEALTHY_FAULTS)

    def canary_waits_for_promote(config: dict[str, Any]) -> None:
        # plan.py _canary: analysis off and no pause -> "pause until promoted" after 20%.
        config["strategy"]["canary"] = {"steps": [20, 100], "analysis": False}
        config["strategy"]["observation"] = "1s"
        config["analysis"]["interval"] = "300ms"
        config["analysis"]["no_data"] = "ignore"  # no load here: no data is no verdict

    ws.edit_config(canary_waits_for_promote)
    dataplane_up(ws)
    _deploy_first_release(ws)

    deploy = ws.start("deploy", "1.1.0", "--yes")
    paused = await wait_for(lambda: _phase_is(ws, "Paused"), 30, message="the canary to pause")

    assert paused["version"] == "1.1.0"
    assert paused["step"]["label"] == "pause until promoted", paused
    assert paused["live_weights"] == {"1.0.0": 80, "1.1.0": 20}, paused
    assert deploy.running(), deploy

    conflict = ws.cli("deploy", "1.2.0", "--yes")

    assert conflict.returncode == 5, conflict
    assert len(conflict.err_lines) == 1, conflict
    assert conflict.err_lines[0].startswith("error: "), conflict

    promote = ws.cli("rollout", "promote")

    assert promote.returncode == 0, promote
    assert "queued" in promote.stdout, promote  # applied by the running deploy
    assert promote.stderr == "", promote
    assert deploy.wait(30) == 0, deploy
    assert deploy.stderr == "", deploy
    assert "Succeeded" in deploy.stdout, deploy
    assert "post-deployment observation" in deploy.stdout, deploy

    status = ws.status()

    assert status["id"] == paused["id"]
    assert status["phase"] == "Succeeded", status
    assert status["live_weights"] == {"1.1.0": 100}, status
    rollouts = ws.cli("rollout", "list", "--output", "json").json()
    assert [r["version"] for r in rollouts if r["version"] == "1.2.0"] == [], rollouts

    abort = ws.cli("rollout", "abort")

    assert abort.returncode == 2, abort
    assert len(abort.err_lines) == 1, abort
    assert "already Succeeded" in abort.stderr, abort

    line = conflict.err_lines[0]
    assert paused["id"] in line and "1.1.0" in line, line  # names the rollout in progress


async def test_pause_and_resume_are_applied_by_the_running_deploy(workspace: Workspace) -> None:
    ws = workspace
    ws.write_faults(HEALTHY_FAULTS)

    def canary_with_timed_pause(config: dict[str, Any]) -> None:
        # plan.py _canary: analysis off and a pause of 10 s after 50%, then promotion.
        config["strategy"]["canary"] = {"steps": [50, 100], "analysis": False, "pause": "10s"}
        config["strategy"]["observation"] = "0s"

    ws.edit_config(canary_with_timed_pause)
    dataplane_up(ws)
    _deploy_first_release(ws)

    deploy = ws.start("deploy", "1.1.0", "--yes")
    await wait_for(lambda: "pause 10s" in deploy.stdout, 20, message="the 10 s pause to start")
    pause = ws.cli("rollout", "pause")

    assert pause.returncode == 0, pause
    assert "queued" in pause.stdout, pause
    assert pause.stderr == "", pause
    await wait_for(
        lambda: "paused by cli" in deploy.stdout, 10, message="the deploy to apply the pause"
    )
    paused = await wait_for(lambda: _phase_is(ws, "Paused"), 10, message="phase Paused")

    assert paused["version"] == "1.1.0" and paused["paused"] is True, paused
    assert paused["pause_reason"] == "paused by cli", paused
    assert paused["step"]["label"] == "pause 10s", paused
    assert paused["live_weights"] == {"1.0.0": 50, "1.1.0": 50}, paused
    assert deploy.running(), deploy

    resume = ws.cli("rollout", "resume")

    assert resume.returncode == 0, resume
    assert "queued" in resume.stdout, resume  # applied by the running deploy
    assert deploy.wait(30) == 0, deploy
    assert "resumed by cli" in deploy.stdout, deploy
    assert "Succeeded" in deploy.stdout, deploy
    status = ws.status()
    assert status["phase"] == "Succeeded", status
    assert status["live_weights"] == {"1.1.0": 100}, status
