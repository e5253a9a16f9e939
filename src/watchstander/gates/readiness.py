"""Pre-deployment validation (the flow's Step 2): pure check builders and the decision.

Each ``check_*`` function turns what was read (test results, findings, approvals, drills,
the target's state, ...) into Checks with their evidence and, for a WARN or FAIL, a
remedy. decide() folds the checks into GO / CONDITIONAL_GO / NO-GO:

* any FAIL -> NO-GO (the failed checks are the blockers);
* else any WARN -> CONDITIONAL_GO (the warnings are the conditions to accept or fix);
* else GO.

Pure: no IO and no clock; callers pass `now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from watchstander.gates.freeze import next_freeze, occurrence_at
from watchstander.gates.models import (
    Approval,
    Check,
    CheckStatus,
    ChecksumResult,
    Decision,
    Drill,
    Finding,
    FindingSeverity,
    FreezeWindow,
    IncidentRef,
    Readiness,
    SignatureResult,
    SloState,
    TestRun,
    TestStatus,
)
from watchstander.release.health import InstanceState, TargetState

__all__ = [
    "CATEGORIES",
    "ROLLBACK_STRATEGIES",
    "check_tests",
    "check_security",
    "check_approvals",
    "check_rollback",
    "check_environment",
    "check_monitoring",
    "check_incidents",
    "check_error_budget",
    "check_artifacts",
    "check_freeze",
    "decide",
]

# Every Check's category, in report order.
CATEGORIES = ("gates", "environment", "rollback", "artifacts", "schedule")
# The rollback each deploy strategy gives (the flow's wording).
ROLLBACK_STRATEGIES = {
    "blue-green": "blue-green instant",
    "canary": "canary abort",
    "rolling": "rolling undo",
}
_MAX_EVIDENCE = 10
_CLOSED_INCIDENT = ("resolved", "closed")


def _more(items: Sequence[str], limit: int = _MAX_EVIDENCE) -> tuple[str, ...]:
    if len(items) <= limit:
        return tuple(items)
    return (*items[:limit], f"... and {len(items) - limit} more")


def _ago(seconds: float) -> str:
    days = seconds / 86400
    if days >= 1:
        return f"{days:.1f} days ago"
    hours = seconds / 3600
    if hours >= 1:
        return f"{hours:.1f} hours ago"
    return f"{max(seconds, 0) / 60:.0f} minutes ago"


def _utc(at: datetime) -> datetime:
    """`at` in UTC; a naive datetime is taken to be UTC already (as the store keeps it)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _when(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


# -- gates ------------------------------------------------------------------------------------


def check_tests(
    runs: Sequence[TestRun] | None,
    *,
    label: str = "integration tests",
    required_pass_rate: float = 100.0,
) -> Check:
    """The test gate ("integration tests 100% passing").

    The pass rate is over the tests that ran: skipped tests are counted in the evidence but
    neither pass nor fail the gate. With the default 100% any failure or error FAILs; with
    a lower `required_pass_rate`, failures within it WARN (listed) and below it FAIL.
    """
    remedy_missing = "run the suite and give its JUnit XML (readiness.tests in watchstander.yaml)"
    if not runs:
        return Check(
            label, "gates", CheckStatus.WARN, "no test results given", remedy=remedy_missing
        )
    cases = [c for r in runs for c in r.cases]
    sources = tuple(s for r in runs for s in r.sources)
    src = (f"read: {', '.join(sources)}",) if sources else ()
    if not cases:
        return Check(
            label,
            "gates",
            CheckStatus.WARN,
            "the test results hold no test cases",
            evidence=src,
            remedy=remedy_missing,
        )
    passed = sum(1 for c in cases if c.status is TestStatus.PASSED)
    failing = [c for c in cases if c.status in (TestStatus.FAILED, TestStatus.ERROR)]
    skipped = sum(1 for c in cases if c.status is TestStatus.SKIPPED)
    ran = passed + len(failing)
    counts = f"{passed} passed, {len(failing)} failed, {skipped} skipped of {len(cases)}"
    if ran == 0:
        return Check(
            label,
            "gates",
            CheckStatus.WARN,
            f"all {len(cases)} {label} were skipped",
            evidence=(counts, *src),
            remedy="run the suite without skipping everything",
        )
    rate = passed * 100.0 / ran
    if failing:
        lines = [
            f"{c.status.value}: {c.id}"
            + (f" ({c.message.strip().splitlines()[0][:100]})" if c.message.strip() else "")
            for c in failing
        ]
        below = rate < required_pass_rate - 1e-9
        return Check(
            label,
            "gates",
            CheckStatus.FAIL if below else CheckStatus.WARN,
            f"{len(failing)} of {ran} {label} failed ({rate:.1f}% passing"
            + (f", {required_pass_rate:g}% required)" if required_pass_rate < 100 else ")"),
            evidence=(counts, *_more(lines), *src),
            remedy="fix the failing tests and run them again"
            if below
            else "accept or fix the failing tests (the pass rate meets the requirement)",
        )
    return Check(
        label,
        "gates",
        CheckStatus.PASS,
        f"{passed}/{ran} {label} passed ({rate:.1f}%)",
        evidence=(counts, *src),
    )


def _finding_line(f: Finding) -> str:
    where = f" at {f.location}" if f.location else ""
    tool = f" [{f.tool}]" if f.tool else ""
    return f"{f.severity.value.upper()} {f.id}: {f.title}{where}{tool}"


def check_security(
    findings: Sequence[Finding] | None, *, strict: bool = False, sources: Sequence[str] = ()
) -> Check:
    """The security gate ("no High/Critical vulnerabilities"); `strict` also warns on
    medium findings."""
    name = "security findings"
    src = (f"read: {', '.join(sources)}",) if sources else ()
    if findings is None:
        return Check(
            name,
            "gates",
            CheckStatus.WARN,
            "no security scan results given",
            evidence=src,
            remedy="run a scanner and give its SARIF or JSON (readiness.security in "
            "watchstander.yaml)",
        )
    by = {s: [f for f in findings if f.severity is s] for s in FindingSeverity}
    counts = ", ".join(f"{len(by[s])} {s.value}" for s in FindingSeverity)
    blocking = by[FindingSeverity.CRITICAL] + by[FindingSeverity.HIGH]
    if blocking:
        return Check(
            name,
            "gates",
            CheckStatus.FAIL,
            f"{len(by[FindingSeverity.CRITICAL])} critical and "
            f"{len(by[FindingSeverity.HIGH])} high findings",
            evidence=(counts, *_more([_finding_line(f) for f in blocking]), *src),
            remedy="fix or formally accept the critical and high findings, then scan again",
        )
    medium = by[FindingSeverity.MEDIUM]
    if medium and strict:
        return Check(
            name,
            "gates",
            CheckStatus.WARN,
            f"{len(medium)} medium findings (strict security gate)",
            evidence=(counts, *_more([_finding_line(f) for f in medium]), *src),
            remedy="fix or accept the medium findings",
        )
    summary = "no critical or high findings"
    if medium:
        summary += f"; {len(medium)} medium"
    return Check(name, "gates", CheckStatus.PASS, summary, evidence=(counts, *src))


def check_approvals(
    approvals: Sequence[Approval],
    required_roles: Sequence[str],
    *,
    version: str,
    service: str | None = None,
) -> tuple[Check, ...]:
    """One check per required role ("approval: release-manager"). Only approvals of this
    version (and service, when given) count; the latest one per role is shown."""
    checks: list[Check] = []
    for role in dict.fromkeys(required_roles):
        name = f"approval: {role}"
        mine = [
            a
            for a in approvals
            if a.role == role and a.version == version and (service is None or a.service == service)
        ]
        if not mine:
            checks.append(
                Check(
                    name,
                    "gates",
                    CheckStatus.FAIL,
                    f"no {role} approval for {version}",
                    remedy=f"watchstander approve {version} --role {role} --by NAME",
                )
            )
            continue
        latest = max(mine, key=lambda a: a.at)
        evidence = [f"approved by {a.by} at {_when(a.at)}" for a in mine]
        if latest.comment:
            evidence.append(f"comment: {latest.comment}")
        checks.append(
            Check(
                name,
                "gates",
                CheckStatus.PASS,
                f"approved by {latest.by} at {_when(latest.at)}",
                evidence=tuple(evidence),
            )
        )
    return tuple(checks)


# -- rollback ---------------------------------------------------------------------------------


def check_rollback(
    *,
    has_stable: bool,
    plan_files: Sequence[str],
    last_drill: Drill | None,
    now: datetime,
    max_drill_age_days: float = 7.0,
    db_migration: bool = False,
    migration_rollback_script: str | None = None,
    script_exists: bool = False,
    strategy: str = "canary",
) -> tuple[Check, ...]:
    """Rollback readiness: plan, recent drill, migration rollback script, and a
    "rollback readiness" roll-up whose summary starts READY or NOT_READY (READY only when
    every part passes; its status is the worst part's)."""
    how = ROLLBACK_STRATEGIES.get(strategy, strategy)
    if not has_stable:
        return (
            Check(
                "rollback readiness",
                "rollback",
                CheckStatus.PASS,
                "READY: nothing to roll back to: first release",
                evidence=(f"strategy: {how}",),
            ),
        )
    parts: list[Check] = []
    if plan_files:
        parts.append(
            Check(
                "rollback plan",
                "rollback",
                CheckStatus.PASS,
                f"documented in {len(plan_files)} file(s)",
                evidence=tuple(plan_files),
            )
        )
    else:
        parts.append(
            Check(
                "rollback plan",
                "rollback",
                CheckStatus.WARN,
                "no rollback plan found",
                remedy="write .aiwg/deployment/rollback-plan-<version>.md "
                "(readiness.rollback_plan in watchstander.yaml)",
            )
        )

    drill_remedy = "watchstander rollback drill"
    if last_drill is None:
        parts.append(
            Check(
                "rollback drill",
                "rollback",
                CheckStatus.WARN,
                "no rollback drill recorded",
                remedy=drill_remedy,
            )
        )
    else:
        d = last_drill
        age = (_utc(now) - _utc(d.at)).total_seconds()
        evidence = (
            f"at {_when(d.at)} ({_ago(age)}) on {d.environment}",
            f"{d.from_version} -> {d.to_version} in {d.duration:.1f}s",
            *((f"detail: {d.detail}",) if d.detail else ()),
        )
        if not d.ok:
            parts.append(
                Check(
                    "rollback drill",
                    "rollback",
                    CheckStatus.FAIL,
                    f"the last rollback drill on {d.environment} failed",
                    evidence=evidence,
                    remedy=f"fix the rollback, then {drill_remedy}",
                )
            )
        elif age > timedelta(days=max_drill_age_days).total_seconds():
            parts.append(
                Check(
                    "rollback drill",
                    "rollback",
                    CheckStatus.WARN,
                    f"last drill {_ago(age)}, older than {max_drill_age_days:g} days",
                    evidence=evidence,
                    remedy=drill_remedy,
                )
            )
        else:
            parts.append(
                Check(
                    "rollback drill",
                    "rollback",
                    CheckStatus.PASS,
                    f"drilled on {d.environment} {_ago(age)} ({d.duration:.1f}s)",
                    evidence=evidence,
                )
            )

    if db_migration:
        if migration_rollback_script and script_exists:
            parts.append(
                Check(
                    "migration rollback",
                    "rollback",
                    CheckStatus.PASS,
                    f"rollback script {migration_rollback_script} present",
                    evidence=(migration_rollback_script,),
                )
            )
        elif migration_rollback_script:
            parts.append(
                Check(
                    "migration rollback",
                    "rollback",
                    CheckStatus.FAIL,
                    f"migration rollback script {migration_rollback_script} not found",
                    remedy="commit the script, or fix readiness.migration_rollback_script",
                )
            )
        else:
            parts.append(
                Check(
                    "migration rollback",
                    "rollback",
                    CheckStatus.FAIL,
                    "a database migration without a rollback script",
                    remedy="write and test a migration rollback script and set "
                    "readiness.migration_rollback_script",
                )
            )

    worst = _worst(parts)
    gaps = [
        f"{c.name}: {c.status.value}: {c.summary}"
        for c in parts
        if c.status is not CheckStatus.PASS
    ]
    speed = (
        f"measured rollback time: {last_drill.duration:.1f}s"
        if last_drill is not None and last_drill.ok
        else "measured rollback time: unknown (no successful drill)"
    )
    summary = f"READY: {how}" if worst is CheckStatus.PASS else f"NOT_READY: {len(gaps)} gap(s)"
    parts.append(
        Check(
            "rollback readiness",
            "rollback",
            worst,
            summary,
            evidence=(f"strategy: {how}", speed, *gaps),
        )
    )
    return tuple(parts)


def _worst(checks: Sequence[Check]) -> CheckStatus:
    statuses = {c.status for c in checks}
    if CheckStatus.FAIL in statuses:
        return CheckStatus.FAIL
    if CheckStatus.WARN in statuses:
        return CheckStatus.WARN
    return CheckStatus.PASS


# -- environment ------------------------------------------------------------------------------


def _instance_problems(
    i: InstanceState, *, now: float, restart_window: float, max_restarts: int
) -> tuple[list[str], bool]:
    """(problems, severe): severe problems (crash loop, OOM, restarts) fail outright."""
    problems: list[str] = []
    severe = False
    if i.crash_loop:
        problems.append("crash-looping")
        severe = True
    if i.oom_kills:
        problems.append(f"OOM-killed {i.oom_kills}x")
        severe = True
    recent = sum(1 for t in i.restart_times if t >= now - restart_window)
    if recent > max_restarts:
        problems.append(f"{recent} restarts in the last {restart_window:g}s")
        severe = True
    if not i.running:
        problems.append("not running")
    elif not i.ready:
        problems.append("not ready")
    return problems, severe


def check_environment(
    state: TargetState | None,
    *,
    version_serving: str | None,
    error: str = "",
    now: float,
    restart_window: float = 300.0,
    max_restarts: int = 3,
) -> Check:
    """Infrastructure health of the target: HEALTHY (PASS), DEGRADED (WARN: some instances
    not ready but at least half ready) or UNHEALTHY (FAIL: unreachable, crash-looping,
    OOM-killed, restarting more than `max_restarts` times in `restart_window` seconds, or
    fewer than half ready). Judges the instances of `version_serving` (all instances when
    it is None); draining instances are left out."""
    name = "environment health"
    if state is None:
        return Check(
            name,
            "environment",
            CheckStatus.FAIL,
            f"UNHEALTHY: target unreachable{': ' + error if error else ''}",
            remedy="check the target is up and reachable, then run again",
        )
    if version_serving is not None:
        instances = [i for i in state.of(version_serving) if not i.draining]
        what = f"instances of {version_serving}"
    else:
        instances = [i for i in state.instances if not i.draining]
        what = "instances"
    if not instances:
        if version_serving is None:
            return Check(
                name,
                "environment",
                CheckStatus.PASS,
                "HEALTHY: no instances running and no stable version (first release)",
            )
        return Check(
            name,
            "environment",
            CheckStatus.FAIL,
            f"UNHEALTHY: no {what} running",
            remedy=f"restore {version_serving} on the target before deploying",
        )
    ready = sum(1 for i in instances if i.ready and i.running)
    lines: list[str] = []
    severe = False
    for i in instances:
        problems, bad = _instance_problems(
            i, now=now, restart_window=restart_window, max_restarts=max_restarts
        )
        severe = severe or bad
        if problems:
            exit_code = f", last exit {i.last_exit_code}" if i.last_exit_code is not None else ""
            lines.append(f"{i.id} ({i.version}) {i.address}: {', '.join(problems)}{exit_code}")
    counts = f"{ready}/{len(instances)} {what} ready"
    if not lines:
        return Check(name, "environment", CheckStatus.PASS, f"HEALTHY: {counts}")
    if severe or ready * 2 < len(instances):
        return Check(
            name,
            "environment",
            CheckStatus.FAIL,
            f"UNHEALTHY: {counts}",
            evidence=_more(lines),
            remedy="fix the unhealthy instances (`watchstander status`) before deploying",
        )
    return Check(
        name,
        "environment",
        CheckStatus.WARN,
        f"DEGRADED: {counts}",
        evidence=_more(lines),
        remedy="bring the remaining instances to ready, or accept deploying on reduced capacity",
    )


def check_monitoring(reachable: bool, detail: str) -> Check:
    """Monitoring must answer: the rollout's analysis and triggers depend on it."""
    if reachable:
        return Check(
            "monitoring",
            "environment",
            CheckStatus.PASS,
            "metric source reachable",
            evidence=(detail,) if detail else (),
        )
    return Check(
        "monitoring",
        "environment",
        CheckStatus.FAIL,
        "metric source unreachable",
        evidence=(detail,) if detail else (),
        remedy="fix the metrics configuration or the metric source; a rollout cannot be "
        "judged without it",
    )


def check_incidents(active: Sequence[IncidentRef] | None) -> Check:
    """No open P0/P1 incidents (resolved and closed ones are ignored)."""
    name = "active incidents"
    if active is None:
        return Check(
            name,
            "environment",
            CheckStatus.WARN,
            "incident store not available",
            remedy="check the state store, or confirm by hand that no P0/P1 incident is open",
        )
    open_ = [i for i in active if i.status.strip().lower() not in _CLOSED_INCIDENT]
    lines = [f"{i.priority.upper()} {i.id} ({i.status}): {i.title}" for i in open_]
    major = [i for i in open_ if i.priority.strip().upper() in ("P0", "P1")]
    if major:
        return Check(
            name,
            "environment",
            CheckStatus.FAIL,
            f"{len(major)} open P0/P1 incident(s): {', '.join(i.id for i in major)}",
            evidence=_more(lines),
            remedy="resolve or downgrade the P0/P1 incidents before deploying",
        )
    if open_:
        return Check(
            name,
            "environment",
            CheckStatus.PASS,
            f"no open P0/P1 incidents; {len(open_)} lower-priority open",
            evidence=_more(lines),
        )
    return Check(name, "environment", CheckStatus.PASS, "no open incidents")


def _budget_line(s: SloState) -> str:
    left = "no data yet" if s.remaining is None else f"{s.remaining:.1%} of budget left"
    burn = "" if s.burn_rate_1h is None else f", burning {s.burn_rate_1h:.2f}x over 1 h"
    alert = f", {s.alert} alert firing" if s.alert else ""
    return f"{s.name}: {s.status} / {s.assessment} ({left}{burn}{alert})"


def check_error_budget(
    slos: Sequence[SloState] | None, *, fix: str | None = None, stale: str = ""
) -> Check:
    """The SLOs' error budgets (the hypercare flow's assessment applied to releases).

    Any CRITICAL SLO (under 25% of its budget left, or none) is an incident freeze: FAIL,
    unless the change is a P0 or security fix, which the freeze lets through with a WARN.
    Any MONITOR SLO (under half left, or burning faster than 1x over the last hour):
    WARN, defer risky changes. `stale` names why the SLIs could not be measured just now
    (the stored measurements are judged then, and the check says so)."""
    name = "error budget"
    if slos is None:
        return Check(
            name,
            "environment",
            CheckStatus.WARN,
            "SLO state not available",
            evidence=(stale,) if stale else (),
            remedy="check the state store and metric source, or confirm the SLOs by hand",
        )
    if not slos:
        return Check(name, "environment", CheckStatus.PASS, "no SLOs defined for the service")
    note = (f"not measured just now ({stale}); judged on stored measurements",) if stale else ()
    critical = [s for s in slos if s.assessment == "CRITICAL"]
    monitor = [s for s in slos if s.assessment == "MONITOR"]
    evidence = _more([*map(_budget_line, [*critical, *monitor]), *note])
    if critical:
        names = ", ".join(s.name for s in critical)
        summary = f"error budget critical for {len(critical)} SLO(s): {names}"
        if fix is not None:
            return Check(
                name,
                "environment",
                CheckStatus.WARN,
                f"{summary}; allowed as a {fix} fix under the incident freeze",
                evidence=evidence,
                remedy="deploy the fix alone, with extended monitoring",
            )
        return Check(
            name,
            "environment",
            CheckStatus.FAIL,
            f"{summary}: incident freeze",
            evidence=evidence,
            remedy="halt changes other than P0 and security fixes until the budget "
            "recovers; say 'P0 fix' or 'security fix' in --guidance for such a change",
        )
    if monitor:
        return Check(
            name,
            "environment",
            CheckStatus.WARN,
            f"error budget at risk for {len(monitor)} SLO(s): {', '.join(s.name for s in monitor)}",
            evidence=evidence,
            remedy="defer risky changes and increase monitoring, or accept the risk",
        )
    ok = [s for s in slos if s.remaining is not None]
    least = min(ok, key=lambda s: s.remaining or 0.0, default=None)
    detail = (
        f"{len(slos)} SLO(s) healthy; least budget left: {least.name} {least.remaining:.1%}"
        if least is not None and least.remaining is not None
        else f"{len(slos)} SLO(s) with no measurements yet (nothing spent)"
    )
    return Check(name, "environment", CheckStatus.PASS, detail, evidence=note)


# -- artifacts --------------------------------------------------------------------------------


def check_artifacts(
    checksums: Sequence[ChecksumResult] | None,
    signature: SignatureResult | None,
    *,
    signature_required: bool,
) -> tuple[Check, ...]:
    """Artifact checksums and signature. A failed signature fails even when not required."""
    checks: list[Check] = []
    if checksums is None:
        checks.append(
            Check(
                "artifact checksums",
                "artifacts",
                CheckStatus.WARN,
                "no checksum file configured",
                remedy="set readiness.checksums to a sha256sum file",
            )
        )
    elif not checksums:
        checks.append(
            Check(
                "artifact checksums",
                "artifacts",
                CheckStatus.WARN,
                "the checksum file lists no artifacts",
                remedy="list the release artifacts in the checksum file",
            )
        )
    else:
        bad = [c for c in checksums if not c.ok]
        if bad:
            lines = [
                f"{c.path}: missing"
                if c.actual is None
                else f"{c.path}: expected {c.expected[:16]}..., got {c.actual[:16]}..."
                for c in bad
            ]
            checks.append(
                Check(
                    "artifact checksums",
                    "artifacts",
                    CheckStatus.FAIL,
                    f"INVALID: {len(bad)} of {len(checksums)} artifact(s) missing or "
                    f"mismatched: {', '.join(c.path for c in bad[:5])}"
                    + (" ..." if len(bad) > 5 else ""),
                    evidence=_more(lines),
                    remedy="rebuild or re-download the artifacts; do not deploy unverified files",
                )
            )
        else:
            checks.append(
                Check(
                    "artifact checksums",
                    "artifacts",
                    CheckStatus.PASS,
                    f"READY: {len(checksums)} artifact(s) match their checksums",
                    evidence=_more([c.path for c in checksums]),
                )
            )

    if signature is None:
        if signature_required:
            checks.append(
                Check(
                    "artifact signature",
                    "artifacts",
                    CheckStatus.FAIL,
                    "a signature is required but none was checked",
                    remedy="configure readiness.signature and sign the artifact",
                )
            )
    elif not signature.ok:
        checks.append(
            Check(
                "artifact signature",
                "artifacts",
                CheckStatus.FAIL,
                f"signature of {signature.artifact} did not verify ({signature.tool})",
                evidence=(signature.signature, signature.detail),
                remedy="sign the artifact again with an allowed key, or find out who changed it",
            )
        )
    else:
        checks.append(
            Check(
                "artifact signature",
                "artifacts",
                CheckStatus.PASS,
                f"signature of {signature.artifact} verified ({signature.tool})",
                evidence=(signature.signature, signature.detail),
            )
        )
    return tuple(checks)


# -- schedule ---------------------------------------------------------------------------------


def _local(at: datetime) -> str:
    return f"{at:%a %Y-%m-%d %H:%M} {at.tzname() or ''}".strip()


def check_freeze(
    windows: Sequence[FreezeWindow],
    now: datetime,
    *,
    warn_within: timedelta = timedelta(hours=2),
) -> Check:
    """FAIL inside a change freeze (naming it and its end in local time), WARN when one
    starts within `warn_within`, else PASS. An invalid window FAILs: a freeze that cannot
    be read must not silently allow a deploy."""
    name = "change freeze"
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not windows:
        return Check(name, "schedule", CheckStatus.PASS, "no change freeze configured")
    try:
        active = [(w, occurrence_at(w, now)) for w in windows]
        upcoming = next_freeze(windows, now)
    except ValueError as e:
        return Check(
            name,
            "schedule",
            CheckStatus.FAIL,
            "a change freeze window is invalid",
            evidence=(str(e),),
            remedy="fix readiness.freeze in watchstander.yaml (watchstander config validate)",
        )
    inside = [(w, occ) for w, occ in active if occ is not None]
    if inside:
        w, (start, end) = max(inside, key=lambda p: p[1][1])
        evidence = [
            f"{x.name}: {_local(s)} -> {_local(e)}" + (f" ({x.reason})" if x.reason else "")
            for x, (s, e) in inside
        ]
        return Check(
            name,
            "schedule",
            CheckStatus.FAIL,
            f"inside change freeze {w.name!r} until {_local(end)}"
            + (f": {w.reason}" if w.reason else ""),
            evidence=tuple(evidence),
            remedy=f"wait until {_local(end)}, or get the freeze lifted",
        )
    if upcoming is not None:
        w, start = upcoming
        # in UTC: datetimes of one zone subtract as wall clocks
        if start.astimezone(UTC) - now.astimezone(UTC) <= warn_within:
            return Check(
                name,
                "schedule",
                CheckStatus.WARN,
                f"change freeze {w.name!r} starts at {_local(start)}",
                evidence=(f"{w.name}: {w.reason}" if w.reason else w.name,),
                remedy="make sure the rollout (and its observation) finishes before the freeze",
            )
        return Check(
            name,
            "schedule",
            CheckStatus.PASS,
            "no change freeze active",
            evidence=(f"next: {w.name!r} at {_local(start)}",),
        )
    return Check(name, "schedule", CheckStatus.PASS, "no change freeze active")


# -- the decision -----------------------------------------------------------------------------


def _line(c: Check) -> str:
    text = f"{c.name}: {c.summary}"
    return f"{text} (remedy: {c.remedy})" if c.remedy else text


def decide(*, service: str, version: str, at: datetime, checks: Sequence[Check]) -> Readiness:
    """GO / CONDITIONAL_GO / NO-GO from the checks. With no checks at all the decision is
    CONDITIONAL_GO: nothing was verified, so a human has to accept that."""
    fails = [c for c in checks if c.status is CheckStatus.FAIL]
    warns = [c for c in checks if c.status is CheckStatus.WARN]
    passes = len(checks) - len(fails) - len(warns)
    rationale = [f"{len(checks)} checks: {passes} PASS, {len(warns)} WARN, {len(fails)} FAIL"]
    for cat in [*CATEGORIES, *sorted({c.category for c in checks} - set(CATEGORIES))]:
        mine = [c for c in checks if c.category == cat]
        if mine:
            rationale.append(f"{cat}: {_worst(mine).value} ({len(mine)} checks)")
    blockers = tuple(_line(c) for c in fails)
    conditions: tuple[str, ...] = ()
    if fails:
        decision = Decision.NO_GO
        rationale.append(f"NO-GO: {len(fails)} check(s) failed: {', '.join(c.name for c in fails)}")
    elif warns:
        decision = Decision.CONDITIONAL_GO
        conditions = tuple(_line(c) for c in warns)
        rationale.append(
            f"CONDITIONAL_GO: no check failed; {len(warns)} warning(s) to accept or fix: "
            f"{', '.join(c.name for c in warns)}"
        )
    elif not checks:
        decision = Decision.CONDITIONAL_GO
        conditions = ("no readiness checks ran: nothing was verified",)
        rationale.append("CONDITIONAL_GO: no checks ran")
    else:
        decision = Decision.GO
        rationale.append("GO: every check passed")
    return Readiness(
        version=version,
        service=service,
        at=at,
        checks=tuple(checks),
        decision=decision,
        rationale=tuple(rationale),
        conditions=conditions,
        blockers=blockers,
    )
