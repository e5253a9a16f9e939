"""Incident response through the real CLI: declare (flags and --interactive), Alertmanager
intake with deduplication, ack, triage, bisect in a real git repository, resolve, tick."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Workspace

pytestmark = pytest.mark.e2e


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A service repository of 12 commits; the 8th breaks value.txt."""
    path = tmp_path / "service-repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for n in range(1, 13):
        (path / "value.txt").write_text("bad\n" if n >= 8 else "ok\n", encoding="utf-8")
        (path / f"change-{n}.txt").write_text(f"{n}\n", encoding="utf-8")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"change {n}" + (": new pricing" if n == 8 else ""))
    return path


def with_repo(repo: Path):
    def edit(config: dict[str, Any]) -> None:
        config["incidents"] = {"repository": str(repo)}

    return edit


def test_declare_list_show_ack_resolve(workspace: Workspace) -> None:
    declared = workspace.cli(
        "incident",
        "declare",
        "--title",
        "checkout failing",
        "--impact",
        "high",
        "--urgency",
        "medium",
    )
    assert declared.returncode == 0, declared
    assert "P1" in declared.stdout and "INC-" in declared.stdout
    incident_id = declared.stdout.split()[1]
    listed = json.loads(workspace.cli("incident", "list", "--output", "json").stdout)
    assert [i["id"] for i in listed] == [incident_id]
    ack = workspace.cli("incident", "ack", incident_id, "--by", "alice")
    assert ack.returncode == 0, ack
    resolved = workspace.cli("incident", "status", incident_id, "resolved", "--by", "alice")
    assert resolved.returncode == 0, resolved
    shown = json.loads(workspace.cli("incident", "show", incident_id, "--output", "json").stdout)
    kinds = [e["kind"] for e in shown["timeline"]]
    assert "acknowledged" in kinds and shown["status"] == "RESOLVED"
    folder = workspace.root / ".aiwg" / "incidents" / incident_id
    assert (folder / "timeline.md").is_file()
    assert (folder / "communications" / "resolution-notification.md").is_file()
    assert workspace.cli("incident", "list", "--output", "json").stdout.strip() == "[]"
    missing = workspace.cli("incident", "ack", "INC-2026-01-01-001", "--by", "x")
    assert missing.returncode == 4


def test_interactive_declaration_reads_the_eight_answers(workspace: Workspace) -> None:
    answers = "\n".join(
        [
            "Checkout returns errors for every user",
            "80%",
            "20 min ago",
            "deployed 1.1.0 an hour ago",
            "no",
            "revenue loss",
            "experienced",
            "SLA breached",
        ]
    )
    result = workspace.cli("incident", "declare", "--interactive", stdin=answers + "\n")
    assert result.returncode == 0, result
    assert "Q8" in result.stdout and "P0" in result.stdout


def alertmanager(status: str) -> str:
    alert = {
        "status": status,
        "labels": {"alertname": "ErrorBudgetBurn", "severity": "critical"},
        "annotations": {"summary": "error budget burning 14x"},
        "startsAt": "2026-11-21T09:58:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "abc",
    }
    second = {**alert, "labels": {**alert["labels"], "instance": "b"}, "fingerprint": "def"}
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="ErrorBudgetBurn"}',
            "status": status,
            "receiver": "watchstander",
            "groupLabels": {},
            "commonLabels": {"severity": "critical"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager",
            "alerts": [alert, second],
        }
    )


def test_alertmanager_intake_deduplicates_and_resolves(
    workspace: Workspace, tmp_path: Path
) -> None:
    firing = tmp_path / "firing.json"
    firing.write_text(alertmanager("firing"), encoding="utf-8")
    first = workspace.cli("incident", "ingest", "alertmanager", str(firing))
    assert first.returncode == 0 and "opened" in first.stdout, first
    again = workspace.cli("incident", "ingest", "alertmanager", str(firing))
    assert "updated" in again.stdout, again
    resolved = workspace.cli(
        "incident", "ingest", "alertmanager", "-", stdin=alertmanager("resolved")
    )
    assert "resolved" in resolved.stdout, resolved
    listed = json.loads(workspace.cli("incident", "list", "--all", "--output", "json").stdout)
    assert len(listed) == 1 and listed[0]["status"] == "RESOLVED"
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "4", "alerts": [', encoding="utf-8")
    broken = workspace.cli("incident", "ingest", "alertmanager", str(bad))
    assert broken.returncode == 2 and "bad.json" in broken.stderr
    assert (
        len(json.loads(workspace.cli("incident", "list", "--all", "--output", "json").stdout)) == 1
    )


def test_bisect_finds_the_introducing_commit_without_touching_the_checkout(
    workspace: Workspace, repo: Path
) -> None:
    workspace.edit_config(with_repo(repo))
    head = git(repo, "rev-parse", "HEAD")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD")
    declared = workspace.cli("incident", "declare", "--title", "prices wrong", "--urgency", "high")
    incident_id = declared.stdout.split()[1]
    test = f"{sys.executable} -c \"import sys; sys.exit(open('value.txt').read().strip() != 'ok')\""
    result = workspace.cli(
        "incident",
        "bisect",
        incident_id,
        "--good",
        first,
        "--bad",
        head,
        "--test",
        test,
        timeout=120,
    )
    assert result.returncode == 0, result
    assert "change 8: new pricing" in result.stdout
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    analysis = workspace.root / ".aiwg" / "incidents" / incident_id / "regression-analysis.md"
    triage = workspace.cli("incident", "triage", incident_id)
    assert triage.returncode == 0, triage
    assert "change 8" in analysis.read_text(encoding="utf-8")


def test_tick_reports_escalations_and_watch_once_runs(workspace: Workspace) -> None:
    roster = {
        "people": [{"name": "ann", "contacts": {"email": "ann@example.invalid"}}],
        "rotations": [
            {"name": "tier1", "start": "2026-01-05T09:00", "members": ["ann"]},
            {"name": "incident_commander", "start": "2026-01-05T09:00", "members": ["ann"]},
        ],
    }
    (workspace.root / "roster.yaml").write_text(yaml.safe_dump(roster), encoding="utf-8")

    def use_roster(config: dict[str, Any]) -> None:
        config["incidents"] = {"roster": "roster.yaml"}

    workspace.edit_config(use_roster)
    declared = workspace.cli(
        "incident", "declare", "--title", "down", "--urgency", "high", "--outage"
    )
    assert "incident_commander: ann" in declared.stdout, declared
    tick = workspace.cli("incident", "tick")
    assert tick.returncode == 0 and "tier1 (ann)" in tick.stdout, tick
    again = workspace.cli("incident", "tick")
    assert "0 escalation(s)" in again.stdout, again  # idempotent
    once = workspace.cli("watch", "--once")
    assert once.returncode == 0, once
    (workspace.root / "roster.yaml").write_text(
        "people:\n  - name: ann\n    shoe: 9\n", encoding="utf-8"
    )
    broken = workspace.cli("incident", "tick")
    assert broken.returncode == 2 and "roster.yaml:3" in broken.stderr, broken
