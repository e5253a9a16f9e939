"""`watchstander slo ...` and `watchstander hypercare ...` as a user runs them: bad input
exits 2 naming file, line and field, and nothing is stored."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.e2e.conftest import Workspace

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  service: demo
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{code!~"5.."}[5m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total[5m]))'}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: Availability, target: 0.999}]
"""


def rows(ws: Workspace, table: str) -> int:
    db = ws.state_dir / "state.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"select count(*) from {table}").fetchone()[0])


def test_an_impossible_objective_names_the_field(workspace: Workspace) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["slos"] = [{"name": "avail", "metric": "error_rate", "max": 0.001, "objective": 100}]

    workspace.edit_config(edit)
    result = workspace.cli("slo", "export-rules")
    assert result.returncode == 2, result
    assert "watchstander.yaml:" in result.stderr and "slos.0" in result.stderr, result.stderr
    assert "impossible" in result.stderr


def test_import_export_and_a_bad_import_that_stores_nothing(workspace: Workspace) -> None:
    bad = workspace.root / "bad.yaml"
    bad.write_text(OPENSLO.replace("target: 0.999", "target: 1.0"), encoding="utf-8")
    result = workspace.cli("slo", "import", str(bad))
    assert result.returncode == 2, result
    assert "bad.yaml:" in result.stderr and "target" in result.stderr, result.stderr
    assert rows(workspace, "slo_definitions") == 0

    good = workspace.root / "slo.yaml"
    good.write_text(OPENSLO, encoding="utf-8")
    result = workspace.cli("slo", "import", str(good))
    assert result.returncode == 0, result
    assert "imported checkout-availability" in result.stdout
    assert rows(workspace, "slo_definitions") == 1

    result = workspace.cli("slo", "export-rules", "--format", "prometheus")
    assert result.returncode == 0, result
    assert "slo:sli_error:ratio_rate5m" in result.stdout
    assert "sloth_slo: checkout-availability" in result.stdout
    assert "http_requests_total" in result.stdout  # the imported SLO's own queries


def test_hypercare_without_a_release_and_a_malformed_ticket_file(workspace: Workspace) -> None:
    result = workspace.cli("hypercare", "status")
    assert result.returncode != 0 and "no active hypercare period" in result.stderr, result
    tickets = workspace.root / "tickets.json"
    tickets.write_text(
        json.dumps([{"id": "T-1", "created": "2026-11-21T10:00:00", "category": "bug"}]),
        encoding="utf-8",
    )
    result = workspace.cli("hypercare", "start", "--version", "1.0.0")
    assert result.returncode == 0, result
    assert "hypercare HC-" in result.stdout
    assert (workspace.root / ".aiwg/deployment/alert-escalation-matrix.md").exists()
    result = workspace.cli("hypercare", "feedback", str(tickets))
    assert result.returncode == 2, result
    assert "tickets.json" in result.stderr and "created" in result.stderr, result.stderr
    assert rows(workspace, "feedback") == 0
    again = workspace.cli("hypercare", "start", "--version", "1.0.0")
    assert again.returncode != 0 and "already has an active hypercare period" in again.stderr
