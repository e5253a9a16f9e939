"""Write the gates' `.aiwg/` documents from their stored records and rollout events.

Each gate decision (strategy recommendation, pre-deployment readiness, the staging
regression gate, a standalone regression check) is stored as a GateRecord whose `data` is
the whole result; the production gate and its rollback verification live in the rollout's
timeline. The functions here turn those into display-ready values (every number is
formatted from the data; what was not measured says so, never "None"), render them with
the shared Jinja2 environment of `writer` (StrictUndefined) and write them atomically.
Nothing reads the clock, so rendering the same records twice writes the same bytes.

Layout, relative to the `.aiwg` root (HANDBOOK 5.2):

    working/deployment/strategy-recommendation.md
    deployment/deployment-readiness-report.md
    deployment/regression-gate-staging.md
    deployment/regression-impact-assessment-staging.md    staging gate FAIL only
    working/deployment/staging-deployment-log.md
    testing/regression-reports/regression-{YYYYMMDDTHHMMSSZ}.{md,json}
    working/deployment/production-baseline-snapshot.md     baseline.measured
    deployment/regression-gate-production.md               regression.production
    deployment/regression-verification-post-rollback.md    automatic rollback verified/failed
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchstander.gates.readiness import CATEGORIES
from watchstander.release.models import Event, Rollout, RolloutPhase
from watchstander.reports.rows import fmt_time
from watchstander.reports.writer import _environment, _write, render
from watchstander.store.records import GateRecord

__all__ = [
    "STRATEGY_RECOMMENDATION",
    "READINESS_REPORT",
    "STAGING_GATE",
    "STAGING_IMPACT",
    "STAGING_LOG",
    "REGRESSION_REPORTS",
    "BASELINE_SNAPSHOT",
    "PRODUCTION_GATE",
    "POST_ROLLBACK",
    "write_strategy_recommendation",
    "write_readiness_report",
    "write_staging_gate",
    "write_regression_check",
    "write_production_gate_reports",
    "format_seconds",
]

# Paths relative to the `.aiwg` root.
STRATEGY_RECOMMENDATION = "working/deployment/strategy-recommendation.md"
READINESS_REPORT = "deployment/deployment-readiness-report.md"
STAGING_GATE = "deployment/regression-gate-staging.md"
STAGING_IMPACT = "deployment/regression-impact-assessment-staging.md"
STAGING_LOG = "working/deployment/staging-deployment-log.md"
REGRESSION_REPORTS = "testing/regression-reports"
BASELINE_SNAPSHOT = "working/deployment/production-baseline-snapshot.md"
PRODUCTION_GATE = "deployment/regression-gate-production.md"
POST_ROLLBACK = "deployment/regression-verification-post-rollback.md"

_METRIC_LABELS = {
    "error_rate": "Error rate",
    "latency_p50": "Latency p50",
    "latency_p95": "Latency p95",
    "latency_p99": "Latency p99",
    "throughput": "Throughput",
    "availability": "Availability",
}
# The baseline snapshot's rows, in order (HANDBOOK / flow Step 4.1).
_SNAPSHOT_METRICS = (
    "error_rate",
    "availability",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "throughput",
)
_SECTION_TITLES = {
    "gates": "Gate Validation",
    "environment": "Environment Health",
    "rollback": "Rollback Readiness",
    "artifacts": "Artifacts",
    "schedule": "Schedule",
}
_SECTION_INTROS = {
    "gates": "Quality gates: tests, security findings and the required approvals.",
    "environment": "The production target, the metric source and active incidents.",
    "rollback": "Whether this release can be rolled back: plan, drill and migration rollback.",
    "artifacts": "The release artifacts: presence, checksums and signatures.",
    "schedule": "Change freezes.",
}
_TYPE_LABELS = {
    "new_failure": "new failure",
    "missing": "missing",
    "behavior_change": "behaviour change (now skipped)",
    "performance": "metric",
}
_FAILING = ("failed", "error")
_FUNCTIONAL_PREFIXES = ("smoke::", "journey::")
_MAX_ERROR = 160


# -- formatting -------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    """A duration for people: "4 min 30 s", "30 min", "1 h 5 min", "2.3 s"; "n/a" if unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if 0 < seconds < 60 and seconds != round(seconds):
        return f"{seconds:.1f} s"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs or not parts else []
    return " ".join(parts)


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(value: datetime | str | None, missing: str = "not recorded") -> str:
    """A stored time (datetime or ISO text; naive is UTC, as the store keeps it) in UTC."""
    at = _utc(value)
    if at is None:
        return value if isinstance(value, str) and value else missing
    return fmt_time(at)


def _stamp(at: datetime) -> str:
    utc = _utc(at)
    assert utc is not None
    return utc.strftime("%Y%m%dT%H%M%SZ")


def _pct(value: float | None, near: float | None = None) -> str:
    """A percentage with one decimal ("5.0%"); more digits when one decimal would show a
    non-zero value as 0.0, or a value that differs from `near` (the threshold) as equal."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.1f}"
    hides_value = value != 0 and float(text) == 0
    hides_side = near is not None and value != near and text == f"{near:.1f}"
    if hides_value or hides_side:
        text = f"{value:.4g}"
    return f"{text}%"


def _g(value: float) -> str:
    return f"{value:.6g}"


def _threshold(value: float) -> str:
    return f"{value:g}%"


def _metric_value(name: str, value: float | None, missing: str = "n/a") -> str:
    """Error rate and availability are fractions (shown in percent), latencies ms,
    throughput requests per second."""
    if value is None or not math.isfinite(value):
        return missing
    if name in ("error_rate", "availability"):
        return f"{_g(value * 100)}%"
    if name.startswith("latency"):
        return f"{_g(value)} ms"
    if name == "throughput":
        return f"{_g(value)} rps"
    return _g(value)


def _change(change: float | None, unit: str) -> str:
    if change is None or not math.isfinite(change):
        return "n/a"
    return f"{change:+.2f}%" if unit == "%" else f"{change:+.2f} pp"


def _limit(limit: float | None, unit: str) -> str:
    if limit is None:
        return "n/a"
    return f"{limit:g}%" if unit == "%" else f"{limit:g} pp"


def _label(metric: str) -> str:
    return _METRIC_LABELS.get(metric, metric)


def _yes_no(value: bool | None, missing: str = "n/a") -> str:
    if value is None:
        return missing
    return "yes" if value else "no"


def _first_line(text: str | None, missing: str = "-") -> str:
    lines = (text or "").strip().splitlines()
    if not lines:
        return missing
    line = lines[0].strip()
    return line if len(line) <= _MAX_ERROR else line[: _MAX_ERROR - 3] + "..."


def _join(items: Iterable[str], missing: str = "none") -> str:
    text = ", ".join(items)
    return text or missing


def _version(value: str | None, missing: str = "none recorded") -> str:
    return value if value else missing


def _title(strategy: str) -> str:
    return "-".join(part.capitalize() for part in strategy.split("-"))


# -- regression results (the to_json shape) ---------------------------------------------


def _is_functional(r: Mapping[str, Any]) -> bool:
    test = str(r.get("test", ""))
    return test.startswith(_FUNCTIONAL_PREFIXES) and r.get("current_status") in _FAILING


def _test_row(r: Mapping[str, Any]) -> dict[str, str]:
    kind = str(r.get("type", ""))
    return {
        "test": str(r.get("test", "")),
        "type": _TYPE_LABELS.get(kind, kind),
        "severity": str(r.get("severity") or "n/a"),
        "baseline": str(r.get("baseline_status") or "n/a"),
        "current": str(r.get("current_status") or "n/a"),
        "error": _first_line(r.get("error")),
        "action": str(r.get("action") or "-"),
    }


def _metric_row(m: Mapping[str, Any]) -> dict[str, str]:
    name = str(m["name"])
    unit = str(m.get("unit") or "%")
    regressed = bool(m.get("regressed"))
    severity = m.get("severity")
    return {
        "name": name,
        "label": _label(name),
        "baseline": _metric_value(name, m.get("baseline"), "no data"),
        "candidate": _metric_value(name, m.get("candidate"), "no data"),
        "change": _change(m.get("change"), unit),
        "limit": _limit(m.get("limit"), unit),
        "regressed": f"yes ({severity})" if regressed and severity else _yes_no(regressed),
        "severity": str(severity or "n/a"),
        "note": str(m.get("note") or "-"),
    }


def _regression_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """The display values of a regression gate result (gates.regression.to_json)."""
    regressions = [r for r in result.get("regressions", []) if isinstance(r, Mapping)]
    tests = [r for r in regressions if r.get("type") != "performance"]
    metrics = [_metric_row(m) for m in result.get("metrics", [])]
    summary = result.get("summary", {})
    baseline = result.get("baseline", {})
    current = result.get("current", {})
    threshold = float(result["threshold"])
    rate = float(result["regression_rate"])
    b_pass, c_pass = int(result["baseline_pass"]), int(result["candidate_pass"])
    passed = result["verdict"] == "PASS"
    severity = result.get("severity")
    if b_pass > 0:
        formula = f"({b_pass} - {c_pass}) / {b_pass} * 100 = {_pct(rate, threshold)}"
    else:
        formula = "no test passed in the baseline, so there is nothing to regress from: 0.0%"
    if rate > threshold + 1e-9:
        rate_verdict = "above the threshold"
    else:
        rate_verdict = "at or below the threshold"
    return {
        "baseline_ref": str(baseline.get("ref") or "baseline"),
        "baseline_commit": str(baseline.get("commit") or "n/a"),
        "baseline_time": _when(baseline.get("timestamp"), "n/a"),
        "candidate_ref": str(current.get("ref") or "candidate"),
        "candidate_commit": str(current.get("commit") or "n/a"),
        "candidate_time": _when(current.get("timestamp"), "n/a"),
        "scope": str(result.get("scope") or "n/a"),
        "threshold": _threshold(threshold),
        "rate": _pct(rate, threshold),
        "rate_verdict": rate_verdict,
        "formula": formula,
        "baseline_pass": b_pass,
        "candidate_pass": c_pass,
        "total": int(summary.get("total_tests", 0)),
        "new_failures": int(summary.get("new_failures", 0)),
        "behavior_changes": int(summary.get("behavior_changes", 0)),
        "missing": int(result.get("missing_tests", 0)),
        "fixed": [str(t) for t in result.get("fixed", [])],
        "tests": [_test_row(r) for r in tests],
        "new_failure_rows": [_test_row(r) for r in tests if r.get("type") == "new_failure"],
        "other_test_rows": [_test_row(r) for r in tests if r.get("type") != "new_failure"],
        "functional_rows": [_test_row(r) for r in tests if _is_functional(r)],
        "plain_test_rows": [_test_row(r) for r in tests if not _is_functional(r)],
        "metrics": metrics,
        "degraded": [m for m in metrics if m["regressed"] != "no"],
        "passed": passed,
        "decision": "PASS" if passed else "FAIL",
        "severity": str(severity) if severity else "n/a (nothing failed the gate)",
        "severity_value": str(severity) if severity else "",
        "exit_code": int(result.get("exit_code", 0)),
        "blockers": [str(b) for b in result.get("blockers", [])],
        "notes": [str(n) for n in result.get("notes", [])],
    }


# -- 1. strategy recommendation -----------------------------------------------------------


def _setting(name: str) -> str:
    label = "observation (default)" if name == "observation-default" else name
    return label.replace("_", " ")


def _guidance_view(guidance: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not guidance:
        return None
    return {
        "text": str(guidance.get("text") or ""),
        "applied": [
            {"setting": _setting(str(a[0])), "value": str(a[1]), "phrase": str(a[2])}
            for a in guidance.get("applied", [])
            if len(a) >= 3
        ],
        "unrecognised": [str(u) for u in guidance.get("unrecognised", [])],
        "approvals": _join(guidance.get("required_approvals", [])),
        "extra_gates": _join(guidance.get("extra_gates", [])),
        "reviewers": _join(guidance.get("reviewers", [])),
        "focus": _join(guidance.get("focus", [])),
    }


def _strategy_view(record: GateRecord) -> dict[str, Any]:
    data = record.data
    rec = data["recommendation"]
    inputs = rec.get("inputs", {})
    caps = inputs.get("capabilities", {})
    target = data.get("target") or {}
    chosen = str(rec["strategy"])
    confirmed = data.get("confirmed")
    if confirmed is True:
        confirmation = "yes: the operator accepted this strategy"
    elif confirmed is False:
        confirmation = "no: the operator declined this strategy"
    else:
        confirmation = "not asked"
    scores = []
    for name, points in rec.get("scores", []):
        shown = "not possible" if points is None else str(points)
        scores.append(
            {"strategy": f"{name} (recommended)" if name == chosen else str(name), "score": shown}
        )
    target_caps = [str(c) for c in target.get("capabilities", [])]
    return {
        "service": record.service,
        "version": record.version,
        "id": record.id,
        "at": _when(record.at),
        "strategy": _title(chosen),
        "target": str(target.get("type") or "n/a"),
        "target_capabilities": _join(target_caps, "none reported"),
        "confirmed": confirmation,
        "rationale": [str(line) for line in rec.get("rationale", [])],
        "pros": [str(p) for p in rec.get("pros", [])],
        "cons": [str(c) for c in rec.get("cons", [])],
        "requirements": [str(r) for r in rec.get("requirements", [])],
        "duration": format_seconds(rec.get("expected_duration")),
        "observation": format_seconds(rec.get("observation")),
        "inputs": [
            {"label": "Risk", "value": str(inputs.get("risk") or "n/a")},
            {"label": "Downtime tolerance", "value": str(inputs.get("downtime") or "n/a")},
            {"label": "Rollback speed", "value": str(inputs.get("rollback") or "n/a")},
            {"label": "Database migration", "value": _yes_no(inputs.get("db_migration"))},
            {"label": "Weighted traffic", "value": _yes_no(caps.get("weighted_traffic"))},
            {"label": "Instant switch", "value": _yes_no(caps.get("instant_switch"))},
            {"label": "Spare capacity", "value": _yes_no(caps.get("spare_capacity"))},
        ],
        "scores": scores,
        "alternatives": [
            {"strategy": str(name), "why": str(why)} for name, why in rec.get("alternatives", [])
        ],
        "guidance": _guidance_view(data.get("guidance")),
    }


def write_strategy_recommendation(record: GateRecord, root: Path) -> Path:
    """Render a "strategy" gate record to working/deployment/strategy-recommendation.md."""
    text = render(_environment(), "strategy-recommendation.md.j2", s=_strategy_view(record))
    path = root / STRATEGY_RECOMMENDATION
    _write(path, text)
    return path


# -- 2. readiness ---------------------------------------------------------------------------


def _check_view(c: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": str(c.get("name") or "unnamed check"),
        "category": str(c.get("category") or "other"),
        "status": str(c.get("status") or "n/a"),
        "summary": str(c.get("summary") or "-"),
        "evidence": [str(e) for e in c.get("evidence", [])],
        "remedy": str(c.get("remedy") or ""),
        "done": c.get("status") == "PASS",
    }


def _readiness_view(record: GateRecord) -> dict[str, Any]:
    data = record.data
    rd = data["readiness"]
    checks = [_check_view(c) for c in rd.get("checks", [])]
    extra = sorted({c["category"] for c in checks} - set(CATEGORIES))
    sections = []
    for cat in [*CATEGORIES, *extra]:
        mine = [c for c in checks if c["category"] == cat]
        title = _SECTION_TITLES.get(cat, f"Other Checks: {cat}")
        headline = ""
        if cat == "rollback":
            rollup = next((c for c in mine if c["name"] == "rollback readiness"), None)
            headline = (
                f"Rollback readiness: {rollup['summary']}"
                if rollup is not None
                else "Rollback readiness: not assessed (no rollback readiness check ran)"
            )
        sections.append(
            {
                "title": title,
                "intro": _SECTION_INTROS.get(cat, ""),
                "headline": headline,
                "checks": mine,
                "empty": f"No {title.lower()} check ran.",
            }
        )
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in ("PASS", "WARN", "FAIL")}
    threshold = data.get("threshold")
    strategy = data.get("strategy")
    return {
        "service": str(rd.get("service") or record.service),
        "version": str(rd.get("version") or record.version),
        "id": record.id,
        "at": _when(rd.get("at") or record.at),
        "decision": str(rd.get("decision") or record.decision),
        "tally": (
            f"{len(checks)} ({counts['PASS']} PASS, {counts['WARN']} WARN, {counts['FAIL']} FAIL)"
        ),
        "strategy": str(strategy) if strategy else "not chosen yet",
        "threshold": _threshold(float(threshold)) if threshold is not None else "n/a",
        "approvals": _join(data.get("required_approvals") or []),
        "sections": sections,
        "checks": checks,
        "rationale": [str(line) for line in rd.get("rationale", [])],
        "conditions": [str(line) for line in rd.get("conditions", [])],
        "warnings": [
            f"{c['name']}: {c['summary']}" + (f" (remedy: {c['remedy']})" if c["remedy"] else "")
            for c in checks
            if c["status"] == "WARN"
        ],
        "blockers": [str(line) for line in rd.get("blockers", [])],
        "guidance": _guidance_view(data.get("guidance")),
    }


def write_readiness_report(record: GateRecord, root: Path) -> Path:
    """Render a "readiness" gate record to deployment/deployment-readiness-report.md."""
    text = render(_environment(), "deployment-readiness-report.md.j2", r=_readiness_view(record))
    path = root / READINESS_REPORT
    _write(path, text)
    return path


# -- 3. staging gate ------------------------------------------------------------------------

# Recommended next step for a regressed metric, by metric.
_METRIC_STEPS = {
    "error_rate": (
        "read the staging error logs for the new errors, fix their cause, then redeploy to staging"
    ),
    "latency": (
        "profile the slow path (compare traces or timings of both versions for the same "
        "requests) and remove the added latency"
    ),
    "throughput": (
        "find what limits throughput in the new version (CPU, connection or worker pools, "
        "locks) and load-test staging again"
    ),
    "availability": (
        "find why requests fail or instances drop out (health checks, crashes, restarts) and fix it"
    ),
}


def _next_step(r: Mapping[str, Any], deployment: Mapping[str, Any] | None) -> str:
    test = str(r.get("test", ""))
    kind = r.get("type")
    if kind == "performance":
        key = "latency" if test.startswith("latency") else test
        return _METRIC_STEPS.get(key, "investigate the metric change before release")
    if test == "smoke::staging deployment" and deployment is not None:
        detail = str(deployment.get("detail") or "").strip()
        why = f" ({detail})" if detail else ""
        return f"make the new version start and pass its health checks on staging{why}"
    if _is_functional(r):
        return (
            f"reproduce the failing check {test} against staging, fix the path it exercises, "
            "then rerun the staging gate"
        )
    if kind == "new_failure":
        return "reproduce the failure locally, fix the test or the code it covers, rerun"
    if kind == "missing":
        return "confirm the test was removed on purpose, or restore it"
    if kind == "behavior_change":
        return "confirm why the test is now skipped, or enable it again"
    return str(r.get("action") or "investigate before release")


def _category(r: Mapping[str, Any]) -> str:
    if r.get("type") == "performance":
        return "metric"
    return "functional" if _is_functional(r) else "test"


def _remediation(result: Mapping[str, Any], deployment: Mapping[str, Any] | None) -> list[Any]:
    rows = []
    for r in result.get("regressions", []):
        rows.append(
            {
                "what": str(r.get("test", "")),
                "category": _category(r),
                "severity": str(r.get("severity") or "n/a"),
                "step": _next_step(r, deployment),
            }
        )
    return rows


def _impact_lines(g: Mapping[str, Any], base: str, cand: str) -> list[str]:
    lines = []
    for row in g["functional_rows"]:
        what = "user journey" if row["test"].startswith("journey::") else "smoke check"
        lines.append(
            f"{what} {row['test']} passed on {base} and now fails on {cand} ({row['current']}): "
            f"{row['error']}"
        )
    for m in g["degraded"]:
        lines.append(
            f"{m['label']}: {m['baseline']} on {base}, {m['candidate']} on {cand} "
            f"({m['change']}, limit {m['limit']})"
        )
    return lines


def _deployment_view(deployment: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not deployment:
        return None
    started, ready = _utc(deployment.get("started_at")), _utc(deployment.get("ready_at"))
    took = format_seconds((ready - started).total_seconds()) if started and ready else "n/a"
    replicas = deployment.get("replicas")
    return {
        "environment": str(deployment.get("environment") or "staging"),
        "target": str(deployment.get("target") or "n/a"),
        "status": str(deployment.get("status") or "n/a"),
        "ready": f"{deployment.get('ready', 0)}/{replicas if replicas is not None else 'n/a'}",
        "health": str(deployment.get("health") or "n/a"),
        "started": _when(deployment.get("started_at")),
        "ready_at": _when(deployment.get("ready_at"), "never (not all instances became ready)"),
        "took": took,
        "detail": str(deployment.get("detail") or "-"),
        "ok": deployment.get("status") == "SUCCESS",
    }


def _suite_view(suite: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not suite:
        return None
    return {
        "command": " ".join(str(a) for a in suite.get("command", [])) or "n/a",
        "runs": [
            {
                "environment": str(run.get("environment") or "n/a"),
                "url": str(run.get("url") or "n/a"),
                "junit": str(run.get("junit") or "n/a"),
                "exit_code": "n/a" if run.get("exit_code") is None else str(run["exit_code"]),
                "duration": format_seconds(run.get("duration")),
                "tests": str(run.get("tests", 0)),
            }
            for run in suite.get("runs", [])
        ],
    }


def _window_view(window: Mapping[str, Any] | None) -> str:
    if not window:
        return "not recorded (no metrics window)"
    return f"{_when(window.get('start'))} to {_when(window.get('end'))}"


def _staging_view(record: GateRecord) -> dict[str, Any]:
    data = record.data
    result = data["result"]
    versions = data.get("versions") or {}
    deployment = data.get("deployment")
    g = _regression_view(result)
    return {
        "service": record.service,
        "version": str(versions.get("candidate") or record.version),
        "baseline_version": _version(versions.get("baseline"), "none recorded (first release)"),
        "id": record.id,
        "at": _when(record.at),
        "g": g,
        "deployment": _deployment_view(deployment),
        "suite": _suite_view(data.get("suite")),
        "window": _window_view(data.get("window")),
        "impact": _impact_lines(g, "production", "staging"),
        "remediation": _remediation(result, deployment),
        "files": {"gate": STAGING_GATE, "impact": STAGING_IMPACT, "log": STAGING_LOG},
    }


def write_staging_gate(record: GateRecord, root: Path) -> list[Path]:
    """Render a "staging" gate record: the gate report, the impact assessment (FAIL only)
    and the staging deployment log. Returns the paths written, in that order."""
    view = _staging_view(record)
    env = _environment()
    documents = [(STAGING_GATE, "regression-gate-staging.md.j2")]
    if record.decision == "FAIL":
        documents.append((STAGING_IMPACT, "regression-impact-assessment-staging.md.j2"))
    documents.append((STAGING_LOG, "staging-deployment-log.md.j2"))
    rendered = [(root / path, render(env, template, v=view)) for path, template in documents]
    for path, text in rendered:
        _write(path, text)
    return [path for path, _ in rendered]


# -- 4. regression check --------------------------------------------------------------------


def write_regression_check(record: GateRecord, root: Path) -> list[Path]:
    """Render a "regression-check" gate record to
    testing/regression-reports/regression-{YYYYMMDDTHHMMSSZ}.md and its .json twin (the
    result as stored: sorted keys, two-space indent). Returns [md, json]."""
    result = record.data["result"]
    versions = record.data.get("versions") or {}
    stem = f"regression-{_stamp(record.at)}"
    md = root / REGRESSION_REPORTS / f"{stem}.md"
    js = root / REGRESSION_REPORTS / f"{stem}.json"
    view = {
        "service": record.service,
        "version": record.version,
        "id": record.id,
        "at": _when(record.at),
        "baseline_version": _version(versions.get("baseline"), "n/a"),
        "candidate_version": _version(versions.get("candidate"), record.version),
        "g": _regression_view(result),
        "json_name": js.name,
    }
    text = render(_environment(), "regression-check.md.j2", v=view)
    _write(md, text)
    _write(js, json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return [md, js]


# -- 5. production gate, baseline snapshot, post-rollback verification ----------------------


def _last(events: Sequence[Event], *kinds: str) -> tuple[int, Event] | None:
    for index in range(len(events) - 1, -1, -1):
        if events[index].kind in kinds:
            return index, events[index]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _checks_summary(checks: Mapping[str, Any]) -> str:
    passed = sum(1 for ok in checks.values() if ok)
    return f"{passed}/{len(checks)} passed"


def _snapshot_view(rollout: Rollout, measured: Event, checks_event: Event | None) -> dict[str, Any]:
    baseline = measured.data.get("baseline") or {}
    rows = []
    for name in _SNAPSHOT_METRICS:
        value = _number(baseline.get(name))
        source = "measured" if value is not None else "not measured"
        if name == "availability" and value is None:
            err = _number(baseline.get("error_rate"))
            if err is not None:
                value, source = 1.0 - err, "derived: 1 - error rate"
        rows.append(
            {"label": _label(name), "value": _metric_value(name, value, "n/a"), "source": source}
        )
    for name in sorted(set(baseline) - set(_SNAPSHOT_METRICS)):
        value = _number(baseline.get(name))
        rows.append(
            {
                "label": name,
                "value": _metric_value(name, value, "n/a"),
                "source": "measured" if value is not None else "not measured",
            }
        )
    checks: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if checks_event is not None:
        checks = dict(checks_event.data.get("checks") or {})
        details = dict(checks_event.data.get("details") or {})
    window = rollout.baseline_window
    return {
        "service": rollout.service,
        "rollout": rollout.id,
        "candidate": rollout.version,
        "version": _version(rollout.stable_version, "none (first release)"),
        "at": _when(measured.at),
        "window": f"{_when(window[0])} to {_when(window[1])}" if window else "not recorded",
        "metrics": rows,
        "checks_ran": checks_event is not None,
        "checks_summary": _checks_summary(checks),
        "checks": [
            {
                "name": str(name),
                "result": "pass" if ok else "fail",
                "detail": _first_line(str(details.get(name) or "")),
            }
            for name, ok in checks.items()
        ],
        "checks_at": _when(checks_event.at) if checks_event is not None else "n/a",
    }


def _aftermath(passed: bool, after: Sequence[Event]) -> list[str]:
    """What happened after the production gate, from the events that followed it."""
    reaction = next((e for e in after if e.kind in ("rollback.started", "rollout.paused")), None)
    rollback = next((e for e in after if e.kind == "rollback.started"), None)
    lines: list[str] = []
    if not passed:
        if reaction is None:
            lines.append("no rollback or pause was recorded after the gate")
        elif reaction.kind == "rollback.started":
            reason = reaction.data.get("reason") or reaction.message
            lines.append(f"automatic rollback triggered at {_when(reaction.at)}: {reason}")
        else:
            lines.append(
                f"rollout paused at {_when(reaction.at)}: awaiting manual decision: "
                "`watchstander rollout promote` (accept) or `watchstander rollout abort` "
                "(roll back)"
            )
            if rollback is not None:
                reason = rollback.data.get("reason") or rollback.message
                lines.append(f"rollback started at {_when(rollback.at)}: {reason}")
    else:
        lines.append("deployment continues")
        if rollback is not None:
            reason = rollback.data.get("reason") or rollback.message
            lines.append(
                f"a rollback started later, at {_when(rollback.at)}, for another reason: {reason}"
            )
    done = next(
        (
            e
            for e in after
            if e.kind in ("rollout.succeeded", "rollback.verified", "rollback.failed")
        ),
        None,
    )
    if done is not None:
        lines.append(f"{done.kind} at {_when(done.at)}: {done.message}")
    return lines


def _production_view(
    rollout: Rollout, index: int, gate: Event, events: Sequence[Event]
) -> dict[str, Any]:
    result = gate.data.get("result") or {}
    g = _regression_view(result)
    checks = result.get("checks") or {}
    before = dict(checks.get("baseline") or {})
    now = dict(checks.get("current") or {})
    details = result.get("details") or {}
    names = [*before, *(n for n in now if n not in before)]
    versions = result.get("versions") or {}

    def shown(table: Mapping[str, Any], name: str) -> str:
        if name not in table:
            return "not run"
        return "pass" if table[name] else "fail"

    return {
        "service": rollout.service,
        "rollout": rollout.id,
        "version": str(versions.get("candidate") or rollout.version),
        "baseline_version": _version(versions.get("baseline") or rollout.stable_version),
        "at": _when(gate.at),
        "g": g,
        "checks": [
            {
                "name": str(n),
                "before": shown(before, n),
                "now": shown(now, n),
                "detail": _first_line(str(details.get(n) or "")),
            }
            for n in names
        ],
        "next": _aftermath(g["passed"], events[index + 1 :]),
        "snapshot": BASELINE_SNAPSHOT,
    }


def _verification_view(
    rollout: Rollout,
    verdict: Event,
    measured: Event | None,
    checks_event: Event | None,
    gate_ran: bool,
) -> dict[str, Any]:
    data = verdict.data
    verified = verdict.kind == "rollback.verified"
    stable = _version(rollout.stable_version, "none (first release)")
    err = _number(data.get("error_rate"))
    base_err = _number(data.get("baseline_error_rate"))
    if base_err is None and measured is not None:
        base_err = _number((measured.data.get("baseline") or {}).get("error_rate"))
    change = "n/a"
    if err is not None and base_err is not None:
        change = _change((err - base_err) * 100.0, "pp")
    smoke = str(data.get("smoke") or "")
    pre_checks = dict(checks_event.data.get("checks") or {}) if checks_event else {}
    ready = data.get("ready")
    tried = [str(t) for t in data.get("tried", [])] or list(rollout.rollback_attempts)
    return {
        "service": rollout.service,
        "rollout": rollout.id,
        "version": rollout.version,
        "stable": stable,
        "at": _when(verdict.at),
        "verdict": "VERIFIED" if verified else "NOT VERIFIED",
        "eliminated": "YES" if verified else "NO",
        "reason": rollout.rollback_reason or "not recorded",
        "phase": rollout.phase.value,
        "message": verdict.message,
        "rows": [
            {
                "label": "Traffic",
                "after": str(data.get("weights") or "not measured"),
                "before": f"{stable} 100%",
                "required": f"{stable} serves 100%",
            },
            {
                "label": f"Ready instances of {stable}",
                "after": "not measured" if ready is None else str(ready),
                "before": "n/a (not recorded)",
                "required": "at least 1",
            },
            {
                "label": "Smoke tests",
                "after": f"{smoke} passed" if smoke else "not run",
                "before": (
                    f"{_checks_summary(pre_checks)} (smoke and journey checks)"
                    if pre_checks
                    else "not run"
                ),
                "required": "all pass",
            },
            {
                "label": "Error rate",
                "after": _metric_value("error_rate", err, "not measured")
                + (f" ({change})" if change != "n/a" else ""),
                "before": _metric_value("error_rate", base_err, "not measured"),
                "required": "at most the baseline plus the verification allowance",
            },
        ],
        "tests_restored": smoke or "not measured",
        "tried": tried,
        "snapshot": BASELINE_SNAPSHOT,
        "gate": PRODUCTION_GATE if gate_ran else "",
    }


def write_production_gate_reports(
    *, rollout: Rollout, events: Sequence[Event], root: Path
) -> list[Path]:
    """Render the production-side gate documents of one rollout from its timeline (in
    stored order), each only when its events exist: the baseline snapshot
    (baseline.measured), the production regression gate (the last regression.production)
    and, after an automatic rollback (not an abort), the post-rollback verification
    (rollback.verified / rollback.failed). Returns the paths written, in that order."""
    env = _environment()
    documents: list[tuple[Path, str]] = []
    measured = _last(events, "baseline.measured")
    checks = _last(events, "baseline.checks")
    checks_event = checks[1] if checks else None
    if measured is not None:
        view = _snapshot_view(rollout, measured[1], checks_event)
        documents.append(
            (root / BASELINE_SNAPSHOT, render(env, "production-baseline-snapshot.md.j2", v=view))
        )
    gate = _last(events, "regression.production")
    if gate is not None:
        view = _production_view(rollout, gate[0], gate[1], events)
        documents.append(
            (root / PRODUCTION_GATE, render(env, "regression-gate-production.md.j2", v=view))
        )
    rolled_back = rollout.phase in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED)
    verdict = _last(events, "rollback.verified", "rollback.failed")
    if rolled_back and not rollout.abort_requested and verdict is not None:
        view = _verification_view(
            rollout,
            verdict[1],
            measured[1] if measured else None,
            checks_event,
            gate_ran=gate is not None,
        )
        documents.append(
            (
                root / POST_ROLLBACK,
                render(env, "regression-verification-post-rollback.md.j2", v=view),
            )
        )
    for path, text in documents:
        _write(path, text)
    return [path for path, _ in documents]
