"""`watchstander demo`: the deploy flow's scenario under load, run as users run it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli, stop_dataplane
from tests.polling import wait_for
from watchstander.dataplane import daemon
from watchstander.dataplane.state import PID_FILE
from watchstander.processes import pid_alive

pytestmark = [pytest.mark.e2e, pytest.mark.demo]

DEMO_TIMEOUT_S = 240.0


@pytest.fixture
def demo_dir(tmp_path: Path) -> Iterator[Path]:
    workdir = tmp_path / "demo"
    try:
        yield workdir
    finally:
        # The demo stops its daemon itself; this is for a demo that failed or was killed.
        stop_dataplane(workdir / ".watchstander" / "staging")
        stop_dataplane(workdir / ".watchstander")


def _results_rows(stdout: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in stdout.splitlines()
        if re.match(r"│ \d+\.\d+\.\d+ ", line.strip())
    ]


async def test_demo_matches_every_outcome_and_leaves_nothing_running(demo_dir: Path) -> None:
    result = run_cli(
        "demo", "--workdir", str(demo_dir), cwd=demo_dir.parent, timeout=DEMO_TIMEOUT_S
    )

    assert result.returncode == 0, result
    assert "every outcome matched" in result.stdout, result
    header = next(line for line in result.stdout.splitlines() if "conn errs" in line)
    columns = [cell.strip() for cell in header.strip().strip("┃").split("┃")]
    assert columns[0] == "version" and columns[-1] == "conn errs", header
    expected = [
        ("1.1.0", "canary", "Blocked"),
        ("1.1.0", "canary (no staging)", "RolledBack"),
        ("1.2.0", "blue-green", "Succeeded"),
        ("1.3.0", "rolling (no staging)", "RolledBack"),
    ]
    rows = _results_rows(result.stdout)
    assert [(r[0], r[1], r[columns.index("outcome")]) for r in rows] == expected, result.stdout
    for row in rows:
        assert len(row) == len(columns), row
        assert row[columns.index("conn errs")] == "0", row
    # The staging gate stopped 1.1.0 before production served a single request of it.
    assert rows[0][columns.index("bad reqs")] == "0", rows[0]
    assert re.search(r"load generator: \d+ requests, 0 connection errors", result.stdout)
    # It ends with a short hypercare for 1.2.0 and its day-1 status, measured.
    assert re.search(r"Hypercare HC-\d{4}-\d\d-\d\d-001 demo 1\.2\.0: day 1 of 3", result.stdout)
    availability = next(line for line in result.stdout.splitlines() if "│ availability" in line)
    assert re.search(r"\d+\.\d{3}%", availability), availability  # a measured SLI, not "no data"
    assert (demo_dir / ".aiwg/deployment/alert-escalation-matrix.md").exists()

    reports = demo_dir / ".aiwg" / "reports"
    deployment = demo_dir / ".aiwg" / "deployment"
    for version, status in (("1.1.0", "ROLLBACK"), ("1.2.0", "SUCCESS"), ("1.3.0", "ROLLBACK")):
        report = (reports / f"deployment-report-{version}.md").read_text(encoding="utf-8")
        assert f"Status: {status}" in report, f"{version}:\n{report[:500]}"
    for version in ("1.1.0", "1.3.0"):
        assert (deployment / f"rollback-report-{version}.md").is_file()
    assert not (deployment / "rollback-report-1.2.0.md").exists()
    # The staging gate's reports for the blocked 1.1.0 are kept in the archive.
    blocked = next((demo_dir / ".aiwg" / "archive").glob("*/deployment-1.1.0"))
    gate = (blocked / "regression-gate-staging.md").read_text(encoding="utf-8")
    assert "FAIL" in gate and "test_order_latency_p95" in gate
    assert (blocked / "regression-impact-assessment-staging.md").is_file()
    # 1.2.0 passed both regression gates; the last production gate report is its.
    assert "PASS" in (deployment / "regression-gate-staging.md").read_text(encoding="utf-8")
    assert (
        demo_dir / ".aiwg" / "working" / "deployment" / "production-baseline-snapshot.md"
    ).is_file()
    assert (deployment / "deployment-readiness-report.md").is_file()
    # Each rollback declared a P1 incident linked to its rollout, with a timeline, a
    # regression analysis naming the rollout and a post-incident review with real figures.
    from watchstander.store.repository import Store

    with Store.open(None, workdir=demo_dir) as store:
        incidents = store.incidents()
        rolled_back = {r.id: r.version for r in store.list_rollouts(service="demo")}
    assert [i["priority"] for i in incidents] == ["P1", "P1"], incidents
    assert sorted(rolled_back[i["rollout_id"]] for i in incidents) == ["1.1.0", "1.3.0"]
    first = next(i for i in incidents if rolled_back[i["rollout_id"]] == "1.1.0")
    folder = demo_dir / ".aiwg" / "incidents" / first["id"]
    assert (folder / "timeline.md").is_file()
    assert first["rollout_id"] in (folder / "regression-analysis.md").read_text(encoding="utf-8")
    review = (folder / "post-incident-review.md").read_text(encoding="utf-8")
    assert "MTTD" in review and first["rollout_id"] in review
    assert f"incident {first['id']} (P1) declared" in result.stdout

    state_dir = demo_dir / ".watchstander"
    assert daemon.running_pid(state_dir) is None, "the demo left its data plane running"
    assert daemon.running_pid(state_dir / "staging") is None, "the demo left staging running"
    pid_file = state_dir / PID_FILE
    if pid_file.exists():
        pid = int(pid_file.read_text(encoding="ascii").strip())
        assert not pid_alive(pid), f"the demo's data plane (pid {pid}) is still alive"
    faults = str(demo_dir / "faults.json").encode()
    await wait_for(
        lambda: not _processes_mentioning(faults),
        5,
        message="the demo's replicas to exit",
    )


def _processes_mentioning(needle: bytes) -> list[int]:
    """Live processes whose command line contains `needle` (the demo's replicas)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and int(proc.name) != os.getpid() and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found
