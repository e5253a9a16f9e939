"""The exported Prometheus rules pass the real `promtool check rules` (with duplicate rules
as fatal lint errors, Sloth #211), and promtool does fail a broken file."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from watchstander.slo.models import Budgeting, SliKind, SloDefinition, Window
from watchstander.slo.openslo import parse_openslo
from watchstander.slo.rules import prometheus_rules

pytestmark = pytest.mark.integration

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: search-availability, labels: {team: discovery}}
spec:
  service: search
  indicator:
    metadata: {name: search-errors}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{job="search",code!~"5.."}[5m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{job="search"}[5m]))'}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.995}]
"""


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: run scripts/system-deps.sh (Debian's prometheus"
            " package provides /usr/bin/promtool)"
        )
    return path


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "check", "rules", "--lint=all", "--lint-fatal", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exported_rules_pass_promtool(tmp_path: Path) -> None:
    imported = parse_openslo(OPENSLO, "search.openslo.yaml").slos
    slos = [
        # config-style availability, with a label that needs cleaning and a calendar window
        SloDefinition(
            "checkout-availability",
            "checkout",
            SliKind.AVAILABILITY,
            0.999,
            labels={"team": "shop", "cost.center": "42"},
        ),
        SloDefinition(
            "checkout_errors_monthly",
            "checkout",
            SliKind.ERROR_RATE,
            0.99,
            window=Window(timedelta(days=30), rolling=False, calendar="month"),
        ),
        *imported,  # OpenSLO with its own queries
        SloDefinition(  # latency at a bucket bound (250 ms)
            "checkout-latency",
            "checkout",
            SliKind.LATENCY,
            0.99,
            window=Window(timedelta(days=7)),
            budgeting=Budgeting.TIMESLICES,
            threshold=250.0,
            quantile=0.95,
        ),
        SloDefinition(  # skipped: throughput has no events to export
            "checkout-throughput",
            "checkout",
            SliKind.THROUGHPUT,
            0.99,
            budgeting=Budgeting.TIMESLICES,
            threshold=10.0,
        ),
    ]
    result = prometheus_rules(slos)
    assert len(result.skipped) == 1 and result.skipped[0].startswith("checkout-throughput")
    path = tmp_path / "slo-rules.yaml"
    path.write_text(result.text, encoding="utf-8")
    proc = check(path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # 4 SLOs x (8 SLI recordings + 7 metadata recordings + 2 alerts)
    assert "SUCCESS: 68 rules found" in output, output
    assert "FAILED" not in output and "duplicate" not in output, output
    match = re.search(r"SUCCESS: (\d+) rules found", output)
    assert match is not None
    assert int(match.group(1)) == result.text.count("- record:") + result.text.count("- alert:")


def test_promtool_fails_a_broken_rule_file(tmp_path: Path) -> None:
    slo = SloDefinition(
        "checkout-availability",
        "checkout",
        SliKind.AVAILABILITY,
        0.999,
        error_query="sum(rate(errors_total[{{.window}}])",  # one parenthesis short
        total_query="sum(rate(requests_total[{{.window}}]))",
    )
    path = tmp_path / "broken.yaml"
    path.write_text(prometheus_rules([slo]).text, encoding="utf-8")
    proc = check(path)
    assert proc.returncode != 0
    assert "could not parse expression" in proc.stdout + proc.stderr

    good = prometheus_rules([SloDefinition("a", "s", SliKind.AVAILABILITY, 0.9)]).text
    # the same recording twice in a group: a fatal lint error with --lint-fatal
    lines = good.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  - record:"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  - "))
    duplicated = "".join(lines[:end] + lines[start:end] + lines[end:])
    path.write_text(duplicated, encoding="utf-8")
    proc = check(path)
    assert proc.returncode != 0
    assert "duplicate rule" in proc.stdout + proc.stderr
