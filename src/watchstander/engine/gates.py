"""The gates' IO edge: read the user's files, probe targets and metric sources, run the
regression suite, record every decision in the store, and render its report.

The decisions themselves are pure (watchstander.gates). Every input file is read and
checked before anything is written, so a malformed file stops the command with an
InputError naming it and leaves no half-written record or report behind.
"""

from __future__ import annotations

import asyncio
import glob
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from watchstander.analysis.models import MetricQuery
from watchstander.clock import Clock
from watchstander.config.models import Config
from watchstander.engine.operations import Workspace, make_metrics, make_target
from watchstander.engine.settings import gate_limits
from watchstander.engine.slo import SloMonitor, status_of
from watchstander.errors import UsageError, WatchstanderError
from watchstander.gates import readiness as rules
from watchstander.gates import regression
from watchstander.gates import strategy as strategy_rules
from watchstander.gates.models import (
    Capabilities,
    Check,
    CheckStatus,
    Decision,
    Downtime,
    Drill,
    FreezeWindow,
    Guidance,
    Readiness,
    Recommendation,
    RegressionResult,
    Risk,
    RollbackSpeed,
    SignatureResult,
    SloState,
    StrategyInputs,
    TestRun,
)
from watchstander.gates.serialize import to_data
from watchstander.inputs.checksums import verify_checksums
from watchstander.inputs.findings import load_findings
from watchstander.inputs.junit import load_junit
from watchstander.inputs.signatures import verify_gpg_signature, verify_ssh_signature
from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.smoke import run_smoke
from watchstander.providers.targets.base import Capability, Endpoint, Target
from watchstander.release.models import Strategy
from watchstander.release.plan import build_plan, estimate_duration
from watchstander.store.records import GateRecord
from watchstander.store.repository import Store

__all__ = [
    "resolve_paths",
    "recommend_strategy",
    "check_readiness",
    "ReadinessOutcome",
    "StagingOutcome",
    "staging_gate",
    "run_suite",
    "rollback_drill",
    "GATE_METRICS",
]

GATE_METRICS = ("error_rate", "latency_p99", "throughput")
STAGING_METRICS = ("error_rate", "latency_p99")


def resolve_paths(base: Path, patterns: Sequence[str], version: str) -> list[Path]:
    """Paths named in config (relative to `base`, `{version}` substituted, globs expanded).
    A plain path is returned whether or not it exists; a glob returns what matches."""
    out: list[Path] = []
    for pattern in patterns:
        text = pattern.replace("{version}", version)
        path = base / text
        if any(ch in text for ch in "*?["):
            out.extend(Path(p) for p in sorted(glob.glob(str(path))))
        else:
            out.append(path)
    return out


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- strategy ---------------------------------------------------------------------------


def capabilities_of(config: Config, target: Target | None = None) -> Capabilities:
    caps: frozenset[Capability] = (
        target.capabilities if target is not None else _declared_capabilities(config)
    )
    return Capabilities(
        weighted_traffic=Capability.WEIGHTED_TRAFFIC in caps,
        instant_switch=Capability.INSTANT_SWITCH in caps,
        spare_capacity=config.target.spare_capacity,
    )


def _declared_capabilities(config: Config) -> frozenset[Capability]:
    from watchstander.providers.registry import load_provider

    cls = load_provider("watchstander.targets", config.target.type)
    caps: frozenset[Capability] = frozenset(getattr(cls, "capabilities", frozenset()))
    return caps


def plan_durations(config: Config, *, observation: float | None = None) -> dict[str, float]:
    """Expected seconds of each strategy's plan with this config (all analyses passing)."""
    settings = config.strategy
    if observation is not None:
        settings = settings.model_copy(update={"observation": observation})
    out: dict[str, float] = {}
    for strategy in (Strategy.CANARY, Strategy.BLUE_GREEN, Strategy.ROLLING):
        plan = build_plan(
            strategy,
            settings,
            replicas=config.target.replicas,
            analysis_count=config.analysis.count,
            has_smoke=bool(config.smoke),
            has_stable=True,
            regression_gate=config.regression.production_gate,
            native_rolling=config.target.native_rolling,
        )
        out[strategy.value] = estimate_duration(
            plan, interval=config.analysis.interval, ready_time=min(config.target.ready_timeout, 10)
        )
    return out


def strategy_inputs(
    guidance: Guidance | None,
    capabilities: Capabilities,
    *,
    risk: Risk | None = None,
    downtime: Downtime | None = None,
    rollback: RollbackSpeed | None = None,
    db_migration: bool | None = None,
) -> StrategyInputs:
    g = guidance or Guidance()
    return StrategyInputs(
        risk=risk or g.risk or Risk.MEDIUM,
        downtime=downtime or g.downtime or Downtime.MINIMAL,
        rollback=rollback or g.rollback or RollbackSpeed.FAST,
        db_migration=bool(db_migration if db_migration is not None else g.db_migration),
        capabilities=capabilities,
    )


def recommend_strategy(
    ws: Workspace,
    store: Store,
    *,
    version: str,
    inputs: StrategyInputs,
    guidance: Guidance | None,
    now: datetime,
) -> tuple[Recommendation, GateRecord]:
    """Recommend a strategy, record it, and write strategy-recommendation.md."""
    from watchstander.reports.gates import write_strategy_recommendation

    config = ws.config
    observation = guidance.observation if guidance and guidance.observation else None
    rec = strategy_rules.recommend(
        inputs,
        durations=plan_durations(config, observation=observation),
        observation=observation if observation is not None else config.strategy.observation,
    )
    caps = capabilities_of(config)
    data = {
        "recommendation": to_data(rec),
        "guidance": to_data(guidance) if guidance is not None else None,
        "target": {
            "type": config.target.type,
            "capabilities": [
                name
                for name, on in (
                    ("weighted traffic", caps.weighted_traffic),
                    ("instant switch", caps.instant_switch),
                    ("spare capacity", caps.spare_capacity),
                )
                if on
            ],
        },
        "confirmed": None,
    }
    gate_id = store.save_gate(
        service=config.service.name,
        version=version,
        kind="strategy",
        decision=rec.strategy,
        data=data,
        at=now,
    )
    record = store.gates(service=config.service.name, version=version, kind="strategy")[-1]
    assert record.id == gate_id
    write_strategy_recommendation(record, ws.reports_root)
    return rec, record


# -- readiness --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadinessOutcome:
    readiness: Readiness
    record: GateRecord
    report: Path


def _signature(config: Config, base: Path, version: str) -> SignatureResult | None:
    sig = config.readiness.signature
    if sig is None:
        return None
    artifact = base / sig.artifact.replace("{version}", version)
    signature = base / sig.signature.replace("{version}", version)
    for path in (artifact, signature):
        if not path.exists():
            return SignatureResult(
                artifact=str(artifact),
                signature=str(signature),
                tool=sig.type,
                ok=False,
                detail=f"{path} does not exist",
            )
    if sig.type == "ssh":
        assert sig.allowed_signers is not None and sig.identity is not None
        return verify_ssh_signature(
            artifact,
            signature,
            allowed_signers=base / sig.allowed_signers,
            identity=sig.identity,
            namespace=sig.namespace,
        )
    assert sig.keyring is not None
    return verify_gpg_signature(artifact, signature, keyring=(base / sig.keyring).resolve())


def _missing(name: str, category: str, patterns: Sequence[str], version: str) -> Check:
    shown = ", ".join(p.replace("{version}", version) for p in patterns)
    return Check(
        name,
        category,
        CheckStatus.FAIL,
        f"no results for {version}: {shown} matches no file",
        remedy="run the suite for this version, or fix readiness paths in watchstander.yaml",
    )


async def _environment(
    config: Config, target: Target | None, stable: str | None, now: datetime
) -> Check:
    own = target is None
    target = target or make_target(config)
    try:
        await target.ping()
        state = await target.state()
        error = ""
    except (WatchstanderError, OSError, httpx.HTTPError) as exc:
        state, error = None, str(exc) or type(exc).__name__
    finally:
        if own:
            await target.aclose()
    return rules.check_environment(
        state,
        version_serving=stable,
        error=error,
        now=now.timestamp(),
        restart_window=config.rollback.triggers.restart_window,
        max_restarts=config.rollback.triggers.max_restarts or 3,
    )


async def _monitoring(
    config: Config, metrics: MetricSource, stable: str | None, now: datetime
) -> Check:
    version = stable or "-"
    sample = await metrics.query(
        MetricQuery(
            "error_rate",
            config.service.name,
            version,
            now - timedelta(seconds=config.analysis.window),
            now,
        )
    )
    if sample.error is not None:
        return rules.check_monitoring(False, f"{config.metrics.type}: {sample.error}")
    shown = "no traffic yet" if sample.value is None else f"error rate {sample.value:.2%}"
    return rules.check_monitoring(
        True, f"{config.metrics.type} answered ({shown}, {sample.count} requests): {sample.query}"
    )


async def _error_budget(
    config: Config, store: Store, metrics: MetricSource, clock: Clock, fix: str | None
) -> Check:
    """The SLOs' budgets, measured up to now first (what is due, as the watch loop would)
    so the gate does not judge on stale buckets; a source that fails is named and the
    stored measurements are judged."""
    monitor = SloMonitor(config, store, clock, metrics)
    mine = [s for s in monitor.slos if s.service == config.service.name]
    if not mine:
        return rules.check_error_budget([], fix=fix)
    now = clock.now()
    await monitor.measure(now)
    states = [
        SloState(
            name=row["name"],
            status=row["status"],
            assessment=row["assessment"],
            remaining=row["budget_remaining"],
            burn_rate_1h=row["burn_rate_1h"],
            alert=row["alert"],
        )
        for row in (status_of(store, s, now) for s in mine)
    ]
    return rules.check_error_budget(states, fix=fix, stale="; ".join(monitor.errors[:3]))


async def check_readiness(
    ws: Workspace,
    store: Store,
    version: str,
    *,
    clock: Clock,
    guidance: Guidance | None = None,
    strategy: str | None = None,
    threshold: float | None = None,
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> ReadinessOutcome:
    """Run every pre-deployment check of `version`, decide GO / CONDITIONAL_GO / NO-GO,
    record it and write deployment-readiness-report.md."""
    from watchstander.reports.gates import write_readiness_report

    config = ws.config
    rc = config.readiness
    service = config.service.name
    base = ws.config_path.parent
    g = guidance or Guidance()
    now = clock.now()

    # Files first: a malformed one raises InputError before anything is recorded.
    checks: list[Check] = []
    if rc.tests:
        paths = [p for p in resolve_paths(base, rc.tests, version) if p.exists()]
        if paths:
            run = load_junit(paths, ref=version, critical_patterns=config.regression.critical_tests)
            checks.append(rules.check_tests([run]))
        else:
            checks.append(_missing("integration tests", "gates", rc.tests, version))
    else:
        checks.append(rules.check_tests(None))
    strict = "security-scan-strict" in g.extra_gates
    if rc.security:
        paths = [p for p in resolve_paths(base, rc.security, version) if p.exists()]
        if paths:
            findings = [f for p in paths for f in load_findings(p)]
            checks.append(
                rules.check_security(findings, strict=strict, sources=[str(p) for p in paths])
            )
        else:
            checks.append(_missing("security findings", "gates", rc.security, version))
    else:
        checks.append(rules.check_security(None, strict=strict))
    checksums = None
    checksum_missing: Check | None = None
    if rc.checksums is not None:
        checksum_file = base / rc.checksums.replace("{version}", version)
        if checksum_file.exists():
            checksums = verify_checksums(checksum_file)
        else:
            checksum_missing = Check(
                "artifact checksums",
                "artifacts",
                CheckStatus.FAIL,
                f"checksum file {checksum_file} does not exist",
                remedy="publish the sha256 checksum file with the artifacts",
            )
    signature = _signature(config, base, version)

    # Then the stored state and the live environment.
    stable = store.stable_version(service)
    required = _unique([*rc.approvals, *g.required_approvals])
    checks.extend(
        rules.check_approvals(
            store.approvals(service, version), required, version=version, service=service
        )
    )
    plans = [str(p) for p in resolve_paths(ws.root, rc.rollback_plan, version) if p.exists()]
    db_migration = rc.database_migration or bool(g.db_migration)
    script = rc.migration_rollback_script
    script_path = (base / script.replace("{version}", version)) if script else None
    chosen = strategy or config.strategy.default
    checks.extend(
        rules.check_rollback(
            has_stable=stable is not None,
            plan_files=plans,
            last_drill=store.last_drill(service),
            now=now,
            max_drill_age_days=rc.drill_max_age / 86400.0,
            db_migration=db_migration,
            migration_rollback_script=str(script_path) if script_path else None,
            script_exists=bool(script_path and script_path.exists()),
            strategy=chosen,
        )
    )
    own_metrics = metrics is None
    source = metrics or make_metrics(config)
    try:
        environment, monitoring, budget = await asyncio.gather(
            _environment(config, target, stable, now),
            _monitoring(config, source, stable, now),
            _error_budget(config, store, source, clock, g.fix),
        )
    finally:
        if own_metrics:
            await source.aclose()
    checks.append(environment)
    checks.append(monitoring)
    checks.append(rules.check_incidents(store.active_incidents(service)))
    checks.append(budget)
    if checksum_missing is not None:
        checks.append(checksum_missing)
        checks.extend(
            c
            for c in rules.check_artifacts(
                None, signature, signature_required=bool(rc.signature and rc.signature.required)
            )
            if c.name != checksum_missing.name and "checksum" not in c.name
        )
    else:
        checks.extend(
            rules.check_artifacts(
                checksums,
                signature,
                signature_required=bool(rc.signature and rc.signature.required),
            )
        )
    windows = [
        FreezeWindow(
            name=w.name,
            timezone=w.timezone,
            start=w.start,
            end=w.end,
            days=tuple(w.days),
            reason=w.reason,
        )
        for w in rc.freeze
    ]
    checks.append(rules.check_freeze(windows, now))

    readiness = rules.decide(service=service, version=version, at=now, checks=checks)
    store.save_gate(
        service=service,
        version=version,
        kind="readiness",
        decision=readiness.decision.value,
        at=now,
        data={
            "readiness": to_data(readiness),
            "guidance": to_data(guidance) if guidance is not None else None,
            "required_approvals": required,
            "strategy": chosen,
            "threshold": threshold if threshold is not None else config.regression.threshold,
        },
    )
    record = store.gates(service=service, version=version, kind="readiness")[-1]
    report = write_readiness_report(record, ws.reports_root)
    if readiness.decision is Decision.NO_GO:
        archive_reports([report], ws.reports_root, version, now)
    return ReadinessOutcome(readiness=readiness, record=record, report=report)


def archive_reports(paths: Sequence[Path], root: Path, version: str, at: datetime) -> list[Path]:
    """Keep the reports of a deploy a gate stopped under archive/{date}/deployment-{version}/
    (the live copies are overwritten by the next check; a blocked deploy has no rollout
    whose archive would keep them)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", version).strip("-") or "unnamed"
    folder = root / "archive" / f"{at:%Y-%m-%d}" / f"deployment-{safe}"
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        dest = folder / path.name
        shutil.copyfile(path, dest)
        copies.append(dest)
    return copies


# -- the regression suite ----------------------------------------------------------------


@dataclass(frozen=True)
class SuiteRun:
    environment: str
    url: str
    junit: Path
    exit_code: int | None
    duration: float
    run: TestRun | None
    error: str = ""


def run_suite(
    config: Config, *, environment: str, url: str, version: str, out_dir: Path
) -> SuiteRun:
    """Run the configured regression suite against `url` (argv, no shell) and read the
    JUnit XML it writes. A suite that fails tests exits non-zero: that is data, not an
    error; a suite that writes no JUnit is an execution error (SuiteRun.error)."""
    suite = config.regression.suite
    if suite is None:
        raise UsageError("regression.suite is not configured in watchstander.yaml")
    out_dir.mkdir(parents=True, exist_ok=True)
    junit = out_dir / f"{environment}.xml"
    junit.unlink(missing_ok=True)
    values = {"url": url, "junit": str(junit), "version": version, "environment": environment}
    argv = [part.format_map(values) for part in suite.command]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=suite.timeout,
            check=False,
        )
        code: int | None = proc.returncode
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
    except FileNotFoundError:
        return SuiteRun(environment, url, junit, None, 0.0, None, f"{argv[0]}: not found")
    except subprocess.TimeoutExpired:
        return SuiteRun(
            environment,
            url,
            junit,
            None,
            suite.timeout,
            None,
            f"timed out after {suite.timeout:g}s",
        )
    duration = time.monotonic() - started
    if not junit.exists():
        why = tail[0] if tail else f"exit code {code}"
        return SuiteRun(environment, url, junit, code, duration, None, f"no JUnit written ({why})")
    run = load_junit([junit], ref=environment, critical_patterns=config.regression.critical_tests)
    return SuiteRun(environment, url, junit, code, duration, run)


# -- staging gate ------------------------------------------------------------------------


@dataclass(frozen=True)
class StagingOutcome:
    result: RegressionResult
    record: GateRecord
    reports: list[Path]
    deployed: bool


async def _wait_ready(target: Target, version: str, replicas: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        state = await target.state()
        ready = state.ready_count(version)
        if ready >= replicas or time.monotonic() > deadline:
            return ready
        await asyncio.sleep(0.2)


def _url(config: Config) -> str:
    return f"http://{config.target.listen}"


async def _metrics_for(
    config: Config, version: str | None, start: datetime, end: datetime
) -> dict[str, float | None]:
    if version is None:
        return {}
    source = make_metrics(config)
    try:
        samples = await asyncio.gather(
            *(
                source.query(MetricQuery(m, config.service.name, version, start, end))
                for m in GATE_METRICS
            )
        )
    finally:
        await source.aclose()
    out: dict[str, float | None] = {}
    for metric, sample in zip(GATE_METRICS, samples, strict=True):
        enough = sample.has_data and (
            metric == "throughput" or sample.count >= config.analysis.min_requests
        )
        out[metric] = sample.value if enough else None
    return out


async def staging_gate(
    ws: Workspace,
    store: Store,
    version: str,
    *,
    clock: Clock,
    threshold: float | None = None,
    scope: str | None = None,
) -> StagingOutcome:
    """Deploy `version` to the staging target, compare staging with production (the
    regression suite, smoke and journey checks, and metrics over the same window), record
    the decision and write regression-gate-staging.md (and, on FAIL, the impact
    assessment). Production is not touched."""

    config = ws.config
    if config.staging is None:
        raise UsageError("no staging environment: add a 'staging:' section to watchstander.yaml")
    staging = config.for_environment("staging")
    service = config.service.name
    threshold = config.regression.threshold if threshold is None else threshold
    scope = scope or config.regression.staging_scope
    stable = store.stable_version(service)
    target = make_target(staging)
    started = clock.now()
    deployment: dict[str, Any] = {
        "environment": "staging",
        "target": f"{staging.target.type} {staging.target.listen}",
        "replicas": staging.target.replicas,
        "ready": 0,
        "started_at": started.isoformat(),
        "ready_at": None,
        "health": "FAIL",
        "status": "FAILED",
        "detail": "",
    }
    try:
        await target.ping()
        await target.scale(version, staging.target.replicas)
        ready = await _wait_ready(
            target, version, staging.target.replicas, staging.target.ready_timeout
        )
        deployment["ready"] = ready
        if ready >= staging.target.replicas:
            await target.set_weights({version: 100.0})
            state = await target.state()
            for other in state.versions():
                if other != version:
                    await target.scale(other, 0)
            deployment.update(
                ready_at=clock.now().isoformat(),
                health="PASS",
                status="SUCCESS",
                detail=f"{ready}/{staging.target.replicas} instances of {version} ready",
            )
        else:
            deployment["detail"] = (
                f"only {ready}/{staging.target.replicas} instances of {version} became ready "
                f"within {staging.target.ready_timeout:g}s"
            )
    finally:
        await target.aclose()

    if deployment["status"] != "SUCCESS":
        result = regression.evaluate(
            baseline=regression.checks_as_run({"staging deployment": True}, ref="production"),
            candidate=regression.checks_as_run({"staging deployment": False}, ref="staging"),
            threshold=threshold,
            scope="full",
            baseline_ref="production",
            candidate_ref="staging",
        )
        return _record_staging(ws, store, version, stable, result, deployment, None, None, clock)

    await clock.sleep(config.staging.settle)
    window_start = clock.now()
    suite: dict[str, Any] | None = None
    baseline_run: TestRun | None = None
    candidate_run: TestRun | None = None
    if config.regression.suite is not None:
        out_dir = ws.state_dir / "regression" / f"{version}-{window_start:%Y%m%dT%H%M%S}"
        runs = await asyncio.gather(
            asyncio.to_thread(
                run_suite,
                config,
                environment="production",
                url=_url(config),
                version=stable or version,
                out_dir=out_dir,
            ),
            asyncio.to_thread(
                run_suite,
                config,
                environment="staging",
                url=_url(staging),
                version=version,
                out_dir=out_dir,
            ),
        )
        for r in runs:
            if r.error:
                raise UsageError(f"regression suite against {r.environment} {r.url}: {r.error}")
        baseline_run, candidate_run = runs[0].run, runs[1].run
        suite = {
            "command": list(config.regression.suite.command),
            "runs": [
                {
                    "environment": r.environment,
                    "url": r.url,
                    "junit": str(r.junit),
                    "exit_code": r.exit_code,
                    "duration": round(r.duration, 3),
                    "tests": r.run.total if r.run else 0,
                }
                for r in runs
            ],
        }
    checks = [*config.smoke, *config.regression.journeys]
    if checks:
        base_results, cand_results = await asyncio.gather(
            run_smoke(
                checks,
                endpoint=Endpoint(url=_url(config)),
                scope="baseline",
                version=stable,
                now=clock.now(),
            ),
            run_smoke(
                checks,
                endpoint=Endpoint(url=_url(staging)),
                scope="staging",
                version=version,
                now=clock.now(),
            ),
        )
        base_checks = regression.checks_as_run(
            {f"smoke::{r.name}": r.passed for r in base_results}, ref="production"
        )
        cand_checks = regression.checks_as_run(
            {f"smoke::{r.name}": r.passed for r in cand_results}, ref="staging"
        )
        baseline_run = _merge(baseline_run, base_checks)
        candidate_run = _merge(candidate_run, cand_checks)
    # Let the window cover at least `window` seconds of traffic on both sides.
    elapsed = (clock.now() - window_start).total_seconds()
    if elapsed < config.staging.window:
        await clock.sleep(config.staging.window - elapsed)
    window_end = clock.now()
    base_metrics, cand_metrics = await asyncio.gather(
        _metrics_for(config, stable, window_start, window_end),
        _metrics_for(staging, version, window_start, window_end),
    )
    tolerances, hard = gate_limits(config)
    result = regression.evaluate(
        baseline=baseline_run,
        candidate=candidate_run,
        baseline_metrics=base_metrics or None,
        candidate_metrics=cand_metrics if base_metrics else None,
        threshold=threshold,
        scope=scope,
        critical_patterns=config.regression.critical_tests,
        tolerances=tolerances,
        hard=hard,
        baseline_ref="production",
        candidate_ref="staging",
        # Traffic volume differs between environments: compare errors and latency only.
        metric_names=STAGING_METRICS,
    )
    window = {"start": window_start.isoformat(), "end": window_end.isoformat()}
    return _record_staging(ws, store, version, stable, result, deployment, suite, window, clock)


def _merge(run: TestRun | None, extra: TestRun) -> TestRun:
    if run is None:
        return extra
    return TestRun(
        sources=(*run.sources, *extra.sources),
        cases=(*run.cases, *extra.cases),
        timestamp=run.timestamp,
        ref=run.ref,
    )


def _record_staging(
    ws: Workspace,
    store: Store,
    version: str,
    stable: str | None,
    result: RegressionResult,
    deployment: dict[str, Any],
    suite: dict[str, Any] | None,
    window: dict[str, str] | None,
    clock: Clock,
) -> StagingOutcome:
    from watchstander.reports.gates import write_staging_gate

    service = ws.config.service.name
    now = clock.now()
    store.save_gate(
        service=service,
        version=version,
        kind="staging",
        decision=result.decision,
        at=now,
        data={
            "result": regression.to_json(
                result,
                baseline_timestamp=window["start"] if window else None,
                current_timestamp=window["end"] if window else None,
            ),
            "versions": {"baseline": stable, "candidate": version},
            "deployment": deployment,
            "suite": suite,
            "window": window,
        },
    )
    record = store.gates(service=service, version=version, kind="staging")[-1]
    if result.passed:
        # An assessment left by an earlier failed gate would now say the opposite.
        (ws.reports_root / "deployment" / "regression-impact-assessment-staging.md").unlink(
            missing_ok=True
        )
    reports = write_staging_gate(record, ws.reports_root)
    if not result.passed:
        reports += archive_reports(reports, ws.reports_root, version, now)
    return StagingOutcome(
        result=result,
        record=record,
        reports=reports,
        deployed=deployment["status"] == "SUCCESS",
    )


# -- rollback drill ----------------------------------------------------------------------


async def rollback_drill(
    ws: Workspace,
    store: Store,
    *,
    version: str,
    to_version: str,
    clock: Clock,
    environment: str = "staging",
) -> Drill:
    """Practise a rollback on a non-production target: run `version` there with all
    traffic, then switch all traffic back to `to_version` and verify it serves; record
    how long the switch took. Production is refused."""
    if environment == "production":
        raise UsageError("a rollback drill never runs on production: use --environment staging")
    try:
        config = ws.config.for_environment(environment)
    except ValueError as exc:
        raise UsageError(f"{exc}: add a 'staging:' section to watchstander.yaml") from None
    target = make_target(config)
    replicas = config.target.replicas
    started = clock.now()
    ok, detail, duration = False, "", 0.0
    try:
        await target.ping()
        for v in (to_version, version):
            await target.scale(v, replicas)
        ready = {
            v: await _wait_ready(target, v, replicas, config.target.ready_timeout)
            for v in (to_version, version)
        }
        if min(ready.values()) < replicas:
            detail = "instances not ready: " + ", ".join(
                f"{v} {n}/{replicas}" for v, n in ready.items()
            )
        else:
            await target.set_weights({version: 100.0})
            t0 = time.monotonic()
            await target.set_weights({to_version: 100.0})
            state = await target.state()
            duration = time.monotonic() - t0
            checks = await run_smoke(
                config.smoke,
                endpoint=target.endpoint(None),
                scope="drill",
                version=to_version,
                now=clock.now(),
            )
            failed = [c for c in checks if not c.passed]
            weight = state.weights.get(to_version, 0.0)
            ok = weight == 100.0 and state.ready_count(to_version) >= 1 and not failed
            detail = (
                f"{to_version} serves {weight:g}% with {state.ready_count(to_version)} ready; "
                f"smoke {len(checks) - len(failed)}/{len(checks)} passed"
            )
            if failed:
                detail += ": " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
            await target.scale(version, 0)
    except (WatchstanderError, OSError, httpx.HTTPError) as exc:
        detail = f"drill failed: {exc}"
    finally:
        await target.aclose()
    drill = Drill(
        service=ws.config.service.name,
        environment=environment,
        from_version=version,
        to_version=to_version,
        at=started,
        ok=ok,
        duration=duration,
        detail=detail,
    )
    store.add_drill(drill)
    return drill


# -- regression-check --------------------------------------------------------------------

_WINDOW = re.compile(r"^(?P<env>[a-z][a-z0-9-]*)@(?P<start>[^.]+)\.\.(?P<end>.+)$")
_RELATIVE = re.compile(r"^-(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")


def _when(text: str, now: datetime) -> datetime:
    """ISO 8601, 'now', or relative to now: -30s, -15m, -2h, -1d."""
    m = _RELATIVE.match(text.strip())
    if m:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m["unit"]]
        return now - timedelta(seconds=float(m["n"]) * scale)
    if text.strip() == "now":
        return now
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a time (ISO 8601, 'now', or -30m / -2h)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CheckOutcome:
    result: RegressionResult
    data: dict[str, Any]  # the JSON form (handbook section 5)
    record: GateRecord
    reports: list[Path]


def regression_check(
    ws: Workspace,
    store: Store,
    *,
    baseline: str,
    candidate: str,
    scope: str,
    targets: Sequence[str],
    threshold: float,
    save_baseline: str | None,
    cwd: Path,
    now: datetime,
) -> CheckOutcome:
    """`watchstander regression-check`: resolve both refs (JUnit file or directory, saved
    baseline, environment, environment@window), compare, record, and write the reports."""
    from watchstander.reports.gates import write_regression_check

    if scope not in regression.SCOPES:
        raise UsageError(f"--scope must be one of {', '.join(regression.SCOPES)}, not {scope!r}")
    config = ws.config
    baselines_dir = ws.reports_root / "testing" / "baselines"
    environments = {"production", *(["staging"] if config.staging is not None else [])}
    critical = config.regression.critical_tests

    def resolve(ref: str) -> tuple[TestRun | None, dict[str, float | None] | None]:
        window = _WINDOW.match(ref)
        env = window["env"] if window else ref
        path = Path(ref) if Path(ref).is_absolute() else cwd / ref
        if path.exists():
            return load_junit([path], ref=ref, critical_patterns=critical), None
        if (baselines_dir / ref).is_dir():
            return load_junit([baselines_dir / ref], ref=ref, critical_patterns=critical), None
        if env not in environments:
            raise UsageError(
                f"{ref!r} is not a JUnit file or directory, a saved baseline in "
                f"{baselines_dir}, or an environment ({', '.join(sorted(environments))})"
            )
        env_config = config.for_environment(env)
        if window:
            start, end = _when(window["start"], now), _when(window["end"], now)
        else:
            start, end = now - timedelta(seconds=config.analysis.window), now
        if end <= start:
            raise UsageError(f"{ref}: the window ends before it starts")
        version = asyncio.run(_served_version(env_config))
        metrics = asyncio.run(_metrics_for(env_config, version, start, end))
        run = None
        if config.regression.suite is not None and window is None:
            suite = run_suite(
                config,
                environment=env,
                url=_url(env_config),
                version=version or "unknown",
                out_dir=ws.state_dir / "regression" / f"check-{now:%Y%m%dT%H%M%S}",
            )
            if suite.error:
                raise UsageError(f"regression suite against {env}: {suite.error}")
            run = suite.run
            if save_baseline and ref == baseline:
                _save(suite.junit, baselines_dir / save_baseline)
        return run, metrics

    base_run, base_metrics = resolve(baseline)
    cand_run, cand_metrics = resolve(candidate)
    if save_baseline and (cwd / baseline).exists():
        _save(cwd / baseline, baselines_dir / save_baseline)
    tolerances, hard = gate_limits(config)
    result = regression.evaluate(
        baseline=base_run if cand_run is not None else None,
        candidate=cand_run if base_run is not None else None,
        baseline_metrics=base_metrics if cand_metrics is not None else None,
        candidate_metrics=cand_metrics if base_metrics is not None else None,
        threshold=threshold,
        scope=scope,
        targets=targets,
        critical_patterns=critical,
        tolerances=tolerances,
        hard=hard,
        baseline_ref=baseline,
        candidate_ref=candidate,
    )
    data = regression.to_json(
        result,
        baseline_commit=_commit(baseline, cwd),
        current_commit=_commit(candidate, cwd),
        baseline_timestamp=_iso(base_run),
        current_timestamp=_iso(cand_run),
    )
    store.save_gate(
        service=config.service.name,
        version=candidate,
        kind="regression-check",
        decision=result.decision,
        data={"result": data},
        at=now,
    )
    record = store.gates(service=config.service.name, kind="regression-check")[-1]
    return CheckOutcome(result, data, record, write_regression_check(record, ws.reports_root))


def _iso(run: TestRun | None) -> str | None:
    return run.timestamp.isoformat() if run is not None and run.timestamp else None


def _save(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(source.glob("*.xml")) if source.is_dir() else [source]
    for f in files:
        shutil.copy2(f, dest / f.name)


def _commit(ref: str, cwd: Path) -> str | None:
    """The git commit a ref names in the repository at `cwd`, when it names one."""
    if (cwd / ref).exists() or _WINDOW.match(ref):
        return None
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


async def _served_version(config: Config) -> str | None:
    """The version that takes most of the environment's traffic now."""
    target = make_target(config)
    try:
        state = await target.state()
    finally:
        await target.aclose()
    if not state.weights:
        return None
    return max(state.weights.items(), key=lambda kv: kv[1])[0]
