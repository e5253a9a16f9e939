"""The gates before and around the rollout, through the real CLI: readiness (GO /
CONDITIONAL_GO / NO-GO), approvals, the staging regression gate on a second local data
plane, regression-check, strategy recommend, --interactive, ask, rollback drill.

The workspace is the demo's with all its gates on (staging, approvals, checksums)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Workspace
from watchstander.dataplane import daemon
from watchstander.demo.setup import write_demo
from watchstander.store.repository import Store

pytestmark = pytest.mark.e2e

HEALTHY = {v: {} for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}


def fast(config: dict[str, Any]) -> None:
    config["analysis"].update({"interval": "1s", "count": 1, "window": "3s", "min_requests": 3})
    config["strategy"]["observation"] = "2s"
    config["strategy"]["canary"]["steps"] = [50, 100]
    config["strategy"]["blue_green"]["scale_down_delay"] = "1s"
    config["rollback"]["verify_window"] = "1s"


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Workspace]:
    """The demo workspace with every gate on; nothing running yet."""
    write_demo(tmp_path / "ws")
    ws = Workspace((tmp_path / "ws").resolve())
    ws.edit_config(fast)
    try:
        yield ws
    finally:
        ws.teardown()


def up(ws: Workspace, *environments: str) -> None:
    for env in environments:
        result = ws.cli("dataplane", "up", "--environment", env)
        assert result.returncode == 0, result


def report(ws: Workspace, name: str) -> str:
    return (ws.root / ".aiwg" / name).read_text(encoding="utf-8")


def test_no_go_without_approval_then_conditional_go_then_deploy(gated: Workspace) -> None:
    up(gated, "production")
    refused = gated.cli("deploy", "1.0.0", "--yes")
    assert refused.returncode == 3, refused
    assert "NO-GO" in refused.stderr and "release-manager" in refused.stderr
    readiness = report(gated, "deployment/deployment-readiness-report.md")
    assert "Overall Status: NO-GO" in readiness
    assert "watchstander approve 1.0.0 --role release-manager" in readiness

    approved = gated.cli("approve", "1.0.0", "--role", "release-manager", "--by", "alice")
    assert approved.returncode == 0, approved
    # No CI results or scans configured: CONDITIONAL_GO; --yes alone does not accept it.
    conditional = gated.cli("deploy", "1.0.0", "--yes")
    assert conditional.returncode == 3, conditional
    assert "CONDITIONAL_GO" in conditional.stdout + conditional.stderr
    assert "--accept-conditions" in conditional.stderr
    assert "Overall Status: CONDITIONAL_GO" in report(
        gated, "deployment/deployment-readiness-report.md"
    )

    done = gated.cli("deploy", "1.0.0", "--yes", "--accept-conditions")
    assert done.returncode == 0, done
    with Store.open(None, workdir=gated.root) as store:
        rollout = store.find_rollout("demo")
        assert rollout is not None and rollout.phase.value == "Succeeded"
        linked = store.gates(rollout_id=rollout.id)
        assert [g.kind for g in linked] == ["readiness"]
        assert linked[0].decision == "CONDITIONAL_GO"
        kinds = [e.kind for e in store.events(rollout.id)]
    assert kinds[:2] == ["readiness.decided", "readiness.accepted"]


def test_a_critical_sarif_finding_and_a_tampered_artifact_give_no_go(gated: Workspace) -> None:
    up(gated, "production")
    scan = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "scanner", "rules": [{"id": "SQLI"}]}},
                "results": [
                    {
                        "ruleId": "SQLI",
                        "level": "error",
                        "message": {"text": "SQL injection in /orders"},
                        "properties": {"security-severity": "9.8"},
                    }
                ],
            }
        ],
    }
    (gated.root / "scan.sarif").write_text(json.dumps(scan), encoding="utf-8")
    artifact = gated.root / "artifacts" / "1.0.0" / "demo-1.0.0.tar"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    def security(config: dict[str, Any]) -> None:
        config["readiness"]["security"] = ["scan.sarif"]
        config["readiness"]["approvals"] = []

    gated.edit_config(security)
    check = gated.cli("readiness", "check", "1.0.0")
    assert check.returncode == 3, check
    assert "Overall Status: NO-GO" in check.stdout
    text = report(gated, "deployment/deployment-readiness-report.md")
    assert "SQL injection" in text and "critical" in text.lower()
    assert "demo-1.0.0.tar" in text
    as_json = gated.cli("readiness", "check", "1.0.0", "--output", "json")
    assert as_json.returncode == 3
    data = json.loads(as_json.stdout)
    failed = {c["name"] for c in data["checks"] if c["status"] == "FAIL"}
    assert "security findings" in failed
    assert any("checksum" in name for name in failed)


@pytest.mark.parametrize(
    ("name", "setting", "content", "where"),
    [
        (
            "results.xml",
            "tests",
            "<testsuite>\n  <testcase name='a'>\n</testsuite>\n",
            "results.xml:3",
        ),
        ("scan.sarif", "security", '{"version": "2.1.0",\n "runs": [', "scan.sarif:2"),
        ("SHA256SUMS", "checksums", "0123 not-a-checksum-line\n", "SHA256SUMS:1"),
    ],
)
def test_malformed_input_files_are_named_and_nothing_is_recorded(
    gated: Workspace, name: str, setting: str, content: str, where: str
) -> None:
    (gated.root / name).write_text(content, encoding="utf-8")

    def point_at(config: dict[str, Any]) -> None:
        config["readiness"][setting] = name if setting == "checksums" else [name]

    gated.edit_config(point_at)
    result = gated.cli("readiness", "check", "1.0.0")
    assert result.returncode == 2, result
    assert result.err_lines[0].startswith("error: ") and where in result.stderr, result
    assert not (gated.root / ".aiwg" / "deployment" / "deployment-readiness-report.md").exists()
    with Store.open(None, workdir=gated.root) as store:
        assert store.gates(kind="readiness") == []


def test_regression_check_compares_two_time_windows_of_production(gated: Workspace) -> None:
    up(gated, "production")
    gated.cli("approve", "1.0.0", "--role", "release-manager", "--by", "alice")
    assert gated.cli("deploy", "1.0.0", "--yes", "--accept-conditions").returncode == 0
    result = gated.cli(
        "regression-check",
        "--baseline",
        "production@-20s..-10s",
        "--candidate",
        "production@-10s..now",
        "--format",
        "json",
    )
    assert result.returncode == 0, result
    data = json.loads(result.stdout)
    assert data["baseline"]["ref"] == "production@-20s..-10s"
    names = {m["name"] for m in data["metrics"]}
    assert {"error_rate", "latency_p99"} <= names
    backwards = gated.cli("regression-check", "--baseline", "production@now..-1m")
    assert backwards.returncode == 4 and "ends before it starts" in backwards.stderr


def test_the_staging_gate_blocks_a_regression_before_production(gated: Workspace) -> None:
    up(gated, "production", "staging")
    for version in ("1.0.0", "1.1.0"):
        ok = gated.cli("approve", version, "--role", "release-manager", "--by", "alice")
        assert ok.returncode == 0, ok
    first = gated.cli("deploy", "1.0.0", "--yes", "--accept-conditions")
    assert first.returncode == 0, first
    blocked = gated.cli(
        "deploy", "1.1.0", "--strategy", "canary", "--yes", "--accept-conditions", timeout=120
    )
    assert blocked.returncode == 3, blocked
    assert "staging regression gate FAILED" in blocked.stderr
    gate = report(gated, "deployment/regression-gate-staging.md")
    assert "FAIL" in gate and "test_order_latency_p95" in gate
    assert (
        gated.root / ".aiwg" / "deployment" / "regression-impact-assessment-staging.md"
    ).exists()
    # production never saw 1.1.0
    status = json.loads(gated.cli("dataplane", "status", "--output", "json").stdout)
    assert status["weights"] == {"1.0.0": 100.0}
    assert {i["version"] for i in status["instances"]} == {"1.0.0"}
    with Store.open(None, workdir=gated.root) as store:
        staging = store.latest_gate(service="demo", version="1.1.0", kind="staging")
        assert staging is not None and staging.decision == "FAIL"
        assert staging.data["result"]["regression_rate"] > 0
        assert store.find_rollout("demo", version="1.1.0") is None


def test_regression_check_exit_codes_and_json(gated: Workspace, tmp_path: Path) -> None:
    def suite(cases: dict[str, str]) -> str:
        rows = []
        for name, status in cases.items():
            inner = "<failure message='boom'>boom</failure>" if status == "failed" else ""
            rows.append(f"<testcase classname='t' name='{name}'>{inner}</testcase>")
        return f"<testsuite name='s'>{''.join(rows)}</testsuite>"

    base = tmp_path / "base.xml"
    cand = tmp_path / "cand.xml"
    base.write_text(suite({"a": "passed", "b": "passed", "c": "failed"}), encoding="utf-8")
    cand.write_text(suite({"a": "passed", "b": "failed", "c": "passed"}), encoding="utf-8")
    args = ("regression-check", "--baseline", str(base), "--candidate", str(cand))
    zero = gated.cli(*args, "--format", "json")
    # b broke, c was fixed: 2 -> 2 passing is a 0% rate; b is not critical: passes at 0%
    data = json.loads(zero.stdout)
    assert zero.returncode == 0, zero
    assert set(data) >= {"baseline", "current", "summary", "regressions", "verdict"}
    assert data["summary"]["new_failures"] == 1 and data["summary"]["fixed_tests"] == 1
    cand.write_text(suite({"a": "passed", "b": "failed", "c": "failed"}), encoding="utf-8")
    major = gated.cli(*args, "--format", "detailed")
    assert major.returncode == 2, major  # 50% > 0%: a non-critical new failure is major
    assert "regression rate 50.0%" in major.stdout
    assert gated.cli(*args, "--threshold", "50").returncode == 0  # exactly at the threshold
    reports = list((gated.root / ".aiwg" / "testing" / "regression-reports").glob("*.json"))
    assert reports
    bad = tmp_path / "bad.xml"
    bad.write_text("<testsuite", encoding="utf-8")
    broken = gated.cli("regression-check", "--baseline", str(bad), "--candidate", str(cand))
    assert broken.returncode == 4 and "bad.xml" in broken.stderr


def test_strategy_recommend_writes_its_report(gated: Workspace) -> None:
    result = gated.cli(
        "strategy", "recommend", "--risk", "high", "--rollback", "fast", "--output", "json"
    )
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["strategy"] == "canary"
    text = report(gated, "working/deployment/strategy-recommendation.md")
    assert "canary" in text.lower() and "high" in text.lower()
    instant = gated.cli("strategy", "recommend", "--rollback", "instant")
    assert "Recommended: blue-green" in instant.stdout


def test_interactive_answers_become_settings(gated: Workspace) -> None:
    up(gated, "production")
    approve = gated.cli("approve", "1.0.0", "--role", "release-manager", "--by", "alice")
    assert approve.returncode == 0
    answers = "canary\nhigh\np99 < 800ms\nno\ninstant\n3s\n"
    result = gated.cli(
        "deploy", "1.0.0", "--interactive", "--yes", "--accept-conditions", stdin=answers
    )
    assert result.returncode == 0, result
    out = result.stdout
    assert "Q6" in out and "guidance applied" in out
    assert "strategy" in out and "canary" in out and "risk" in out


def test_ask_maps_requests_to_commands(gated: Workspace) -> None:
    shown = gated.cli("ask", "roll back", stdin="n\n")
    assert "watchstander rollout undo" in shown.stdout
    assert shown.returncode == 1  # declined
    unknown = gated.cli("ask", "make me a sandwich")
    assert unknown.returncode == 2 and "not understood" in unknown.stderr
    deploy = gated.cli("ask", "deploy version 1.0.0 with canary", stdin="n\n")
    assert "watchstander deploy 1.0.0 --strategy canary" in deploy.stdout


def test_rollback_drill_on_staging_is_recorded(gated: Workspace) -> None:
    up(gated, "staging")
    drill = gated.cli("rollback", "drill", "--version", "1.1.0", "--to", "1.0.0", timeout=90)
    assert drill.returncode == 0, drill
    assert "rollback drill on staging: 1.1.0 -> 1.0.0 OK" in drill.stdout
    refused = gated.cli("rollback", "drill", "--version", "1.1.0", "--environment", "production")
    assert refused.returncode == 2
    with Store.open(None, workdir=gated.root) as store:
        last = store.last_drill("demo")
    assert last is not None and last.ok and last.environment == "staging"
    assert last.from_version == "1.1.0" and last.to_version == "1.0.0" and last.duration < 1.0


def test_daemons_are_gone(gated: Workspace) -> None:
    """The staging data plane starts and stops like production's."""
    up(gated, "staging")
    assert daemon.running_pid(gated.state_dir / "staging") is not None
    down = gated.cli("dataplane", "down", "--environment", "staging")
    assert down.returncode == 0, down
    assert daemon.running_pid(gated.state_dir / "staging") is None
    unknown = gated.cli("dataplane", "up", "--environment", "qa")
    assert unknown.returncode == 2


def test_the_suite_module_writes_junit_the_gate_reads(tmp_path: Path) -> None:
    """The demo suite fails against nothing listening, and says so in JUnit."""
    out = tmp_path / "junit.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "watchstander.demo.suite",
            "--url",
            "http://127.0.0.1:9",
            "--junit",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    from watchstander.inputs.junit import load_junit

    run = load_junit([out])
    assert run.total == 5 and run.passed == 0
    assert any(c.critical for c in run.cases)
