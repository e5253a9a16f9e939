"""What the report templates show, derived from stored records only.

`build(...)` turns a rollout and its records (timeline, measurements, smoke results,
commands) into a `RolloutReport` of display-ready strings, sorted, with no None left in
it, so the templates only lay data out. Nothing here reads a clock or a file: the same
records always give the same report.

Step times come from the timeline (see `timeline`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from watchstander.analysis.models import TARGET_METRICS, Measurement, Phase
from watchstander.release.models import (
    Event,
    Rollout,
    RolloutPhase,
    SmokeResult,
    StepKind,
)
from watchstander.reports import timeline
from watchstander.reports.rows import (
    AnalysisGroup,
    CommandRow,
    EventRow,
    MeasurementRow,
    Pair,
    RollbackView,
    RolloutReport,
    SloRow,
    SmokeRow,
    fmt_data,
    fmt_duration,
    fmt_number,
    fmt_time,
)
from watchstander.store.records import CommandRecord

__all__ = ["build", "ROLLBACK_PHASES"]

_WORST_FIRST = (Phase.FAIL, Phase.ERROR, Phase.INCONCLUSIVE, Phase.PASS)
_STATUS = {
    RolloutPhase.SUCCEEDED: "SUCCESS",
    RolloutPhase.ROLLED_BACK: "ROLLBACK",
    RolloutPhase.ABORTED: "ROLLBACK",
    RolloutPhase.FAILED: "FAILED",
}
ROLLBACK_PHASES = frozenset({RolloutPhase.ROLLED_BACK, RolloutPhase.ABORTED, RolloutPhase.FAILED})


def _tally(phases: Iterable[Phase]) -> tuple[str, Phase]:
    seen = list(phases)
    counts = [(p, seen.count(p)) for p in _WORST_FIRST if p in seen]
    worst = counts[0][0] if counts else Phase.PASS
    return ", ".join(f"{n} {p.value}" for p, n in counts) or "no measurement", worst


# -- derivations ------------------------------------------------------------------------


def _measurement_row(m: Measurement) -> MeasurementRow:
    return MeasurementRow(
        at=fmt_time(m.at),
        name=m.name,
        metric=m.metric,
        version=m.version or "-",
        value=fmt_number(m.value),
        baseline=fmt_number(m.baseline, missing="none"),
        threshold=fmt_number(m.threshold, missing="none"),
        phase=m.phase.value,
        reason=m.reason or "-",
        query=m.query or "-",
        count=m.count,
    )


def _groups(
    measurements: Sequence[tuple[int, bool, Measurement]],
) -> dict[tuple[bool, int], list[Measurement]]:
    groups: dict[tuple[bool, int], list[Measurement]] = {}
    for index, in_rollback, m in measurements:
        groups.setdefault((in_rollback, index), []).append(m)
    return dict(sorted(groups.items()))


def _analysis(
    rollout: Rollout, groups: dict[tuple[bool, int], list[Measurement]]
) -> tuple[AnalysisGroup, ...]:
    result = []
    for (in_rollback, index), ms in groups.items():
        tally, worst = _tally(m.phase for m in ms)
        result.append(
            AnalysisGroup(
                title=timeline.step_label(rollout, index, in_rollback),
                started=fmt_time(min(m.at for m in ms)),
                tally=tally,
                verdict=worst.value,
                rows=tuple(_measurement_row(m) for m in sorted(ms, key=_measurement_key)),
            )
        )
    return tuple(result)


def _measurement_key(m: Measurement) -> tuple[datetime, str, str]:
    return m.at, m.name, m.version


def _baseline_of(rollout: Rollout, m: Measurement) -> float | None:
    for key in (m.name, m.metric):
        if key in rollout.baseline:
            return rollout.baseline[key]
    return m.baseline


def _slo(rollout: Rollout, groups: dict[tuple[bool, int], list[Measurement]]) -> tuple[SloRow, ...]:
    rows = []
    for (in_rollback, index), ms in groups.items():
        for name in sorted({m.name for m in ms}):
            mine = sorted((m for m in ms if m.name == name), key=_measurement_key)
            values = [m.value for m in mine if m.value is not None]
            tally, worst = _tally(m.phase for m in mine)
            rows.append(
                SloRow(
                    step=timeline.step_label(rollout, index, in_rollback),
                    name=name,
                    metric=mine[-1].metric,
                    baseline=fmt_number(_baseline_of(rollout, mine[-1]), missing="none"),
                    latest=fmt_number(mine[-1].value),
                    range=f"{fmt_number(min(values))} to {fmt_number(max(values))}"
                    if values
                    else "no data",
                    threshold=fmt_number(mine[-1].threshold, missing="none"),
                    tally=tally,
                    status="BREACH" if worst is Phase.FAIL else worst.value,
                )
            )
    return tuple(rows)


def _smoke_row(rollout: Rollout, index: int, r: SmokeResult, in_rollback: bool) -> SmokeRow:
    return SmokeRow(
        step=timeline.step_label(rollout, index, in_rollback),
        name=r.name,
        scope=r.scope,
        version=r.version or "service",
        result="PASS" if r.passed else "FAIL",
        status="-" if r.status is None else str(r.status),
        duration=f"{r.duration_ms:.0f} ms",
        detail=r.detail or "-",
        at=fmt_time(r.at),
    )


def _trigger(
    rollout: Rollout,
    commands: Sequence[CommandRecord],
    failing: Sequence[Measurement],
    smoke: Sequence[tuple[int, SmokeResult]],
) -> str:
    """The spec's trigger names, plus deployment-error when no check failed."""
    if rollout.abort_requested or rollout.phase is RolloutPhase.ABORTED:
        return "manual"
    smoke_failed = [r.at for _, r in smoke if not r.passed and r.scope != "post-rollback"]
    slo_failed = [m.at for m in failing]
    if smoke_failed and (not slo_failed or min(smoke_failed) <= min(slo_failed)):
        return "smoke-test-failure"
    if slo_failed:
        return "slo-breach"
    if any(c.command.name == "abort" for c in commands):
        return "manual"
    return "deployment-error"


def _weights(weights: dict[str, float]) -> str:
    shown = [f"{v} {weights[v]:g}%" for v in sorted(weights)]
    return ", ".join(shown) or "none applied"


def _rollback_view(
    rollout: Rollout,
    *,
    start: datetime | None,
    spans: timeline.Spans,
    events: Sequence[Event],
    event_rows: Sequence[EventRow],
    measurements: Sequence[tuple[int, bool, Measurement]],
    failing: Sequence[Measurement],
    smoke: Sequence[tuple[int, SmokeResult]],
    commands: Sequence[CommandRecord],
) -> RollbackView:
    after = [r for _, r in smoke if r.scope == "post-rollback"]
    verified = [m for _, rb, m in measurements if rb]
    failed = rollout.phase is RolloutPhase.FAILED
    return RollbackView(
        status="CRITICAL: rollback failed" if failed else "ROLLED BACK",
        trigger=_trigger(rollout, commands, failing, smoke),
        reason=rollout.rollback_reason or rollout.message or "no reason recorded",
        started=fmt_time(start, missing="not recorded"),
        duration=fmt_duration(start, rollout.finished_at, missing="not recorded"),
        success="NO" if failed else "YES",
        smoke_after=("PASS" if all(r.passed for r in after) else "FAIL") if after else "not run",
        weights=_weights(rollout.weights),
        attempts=tuple(rollout.rollback_attempts),
        failing=tuple(_measurement_row(m) for m in sorted(failing, key=_measurement_key)),
        verification=tuple(_measurement_row(m) for m in sorted(verified, key=_measurement_key)),
        steps=timeline.step_rows(rollout, spans, True),
        events=tuple(
            row
            for row, e in zip(event_rows, events, strict=True)
            if start is not None and e.at >= start
        ),
    )


def _promotion(rollout: Rollout, commands: Sequence[CommandRecord]) -> str:
    promotes = [c.command for c in commands if c.command.name == "promote"]
    if promotes:
        return "; ".join(
            f"promoted manually by {c.by or 'an unnamed operator'} at {fmt_time(c.at)}"
            for c in promotes
        )
    if rollout.phase is RolloutPhase.SUCCEEDED:
        return "promoted automatically: every step of the plan passed without a manual command"
    if rollout.phase in ROLLBACK_PHASES:
        return "not promoted: the rollout was rolled back"
    return "not promoted yet"


def _health(forward: Sequence[tuple[int, Measurement]]) -> tuple[Pair, ...]:
    """The worst value of each instance-health metric per version."""
    values: dict[tuple[str, str], list[float]] = {}
    for _, m in forward:
        if m.metric in TARGET_METRICS and m.value is not None:
            values.setdefault((m.metric, m.version or "-"), []).append(m.value)
    return tuple(
        Pair(f"{metric} ({version})", fmt_number(max(vs)), str(len(vs)))
        for (metric, version), vs in sorted(values.items())
    )


def _smoke_summary(smoke: Sequence[tuple[int, SmokeResult]]) -> tuple[Pair, ...]:
    scopes = sorted({r.scope for _, r in smoke})
    by_scope = {scope: [r.passed for _, r in smoke if r.scope == scope] for scope in scopes}
    return tuple(Pair(s, f"{sum(ok)}/{len(ok)}") for s, ok in by_scope.items())


def _command_row(c: CommandRecord) -> CommandRow:
    return CommandRow(
        at=fmt_time(c.command.at),
        name=c.command.name,
        args=fmt_data(c.command.args),
        by=c.command.by or "unnamed",
        done_at=fmt_time(c.done_at, missing="pending"),
        result=c.result or "-",
    )


def build(
    *,
    rollout: Rollout,
    events: Sequence[Event],
    measurements: Sequence[tuple[int, bool, Measurement]],
    smoke: Sequence[tuple[int, SmokeResult]],
    commands: Sequence[CommandRecord],
    stable_now: str | None,
    project: str,
) -> RolloutReport:
    """Everything the templates show about one rollout."""
    spans = timeline.step_spans(rollout, events)
    groups = _groups(measurements)
    event_rows = tuple(
        EventRow(fmt_time(e.at), e.kind, e.severity.value, e.message, fmt_data(e.data))
        for e in events
    )
    forward = [(i, m) for i, rb, m in measurements if not rb]
    failing = [(i, m) for i, m in forward if m.phase in (Phase.FAIL, Phase.ERROR)]
    rollback_start = timeline.rollback_start(events, spans, measurements)
    rollback = None
    if rollout.phase in ROLLBACK_PHASES:
        rollback = _rollback_view(
            rollout,
            start=rollback_start,
            spans=spans,
            events=events,
            event_rows=event_rows,
            measurements=measurements,
            failing=[m for _, m in failing],
            smoke=smoke,
            commands=commands,
        )
    went_well, could_improve, actions = _lessons(rollout, spans, forward, failing, smoke, rollback)
    failed = sum(1 for _, m in forward if m.phase is Phase.FAIL)
    finished = rollout.finished_at
    window = rollout.baseline_window
    return RolloutReport(
        id=rollout.id,
        project=project,
        service=rollout.service,
        version=rollout.version,
        previous=rollout.stable_version or "none (first release)",
        strategy=rollout.strategy.value,
        phase=rollout.phase.value,
        status=_STATUS.get(rollout.phase, "IN PROGRESS"),
        terminal=rollout.terminal,
        date=rollout.created_at.strftime("%Y-%m-%d"),
        started=fmt_time(rollout.created_at),
        ended=fmt_time(finished, missing="still running"),
        duration=fmt_duration(rollout.created_at, finished, missing="still running"),
        duration_minutes=(
            f"{(finished - rollout.created_at).total_seconds() / 60:.1f}" if finished else "n/a"
        ),
        replicas=rollout.replicas,
        message=rollout.message or "-",
        weights=_weights(rollout.weights),
        serving=_serving(rollout, stable_now),
        config_hash=next(
            (str(e.data["config_hash"]) for e in events if "config_hash" in e.data),
            "not recorded",
        ),
        events=event_rows,
        issues=tuple(r for r, e in zip(event_rows, events, strict=True) if e.severity != "INFO"),
        readiness=tuple(
            r
            for r, e in zip(event_rows, events, strict=True)
            if e.kind.startswith(("readiness.", "gate."))
        ),
        regression=tuple(
            r for r, e in zip(event_rows, events, strict=True) if e.kind.startswith("regression.")
        ),
        rollback_on_regression="on" if rollout.rollback_on_regression else "off",
        steps=timeline.step_rows(rollout, spans, False) + timeline.step_rows(rollout, spans, True),
        milestones=timeline.milestones(rollout, spans, rollback_start),
        strategy_details=timeline.strategy_details(rollout, spans, failed),
        baseline=tuple(Pair(k, fmt_number(rollout.baseline[k])) for k in sorted(rollout.baseline)),
        baseline_window=(
            f"{fmt_time(window[0])} to {fmt_time(window[1])}" if window else "not recorded"
        ),
        analysis=_analysis(rollout, groups),
        slo=_slo(rollout, groups),
        # post-rollback checks belong to the rollback plan's verify step
        smoke=tuple(_smoke_row(rollout, i, r, r.scope == "post-rollback") for i, r in smoke),
        smoke_summary=_smoke_summary(smoke),
        smoke_passed=sum(r.passed for _, r in smoke),
        failed_measurements=failed,
        health=_health(forward),
        commands=tuple(_command_row(c) for c in commands),
        promotion=_promotion(rollout, commands),
        went_well=went_well,
        could_improve=could_improve,
        actions=actions,
        rollback=rollback,
    )


def _serving(rollout: Rollout, stable_now: str | None) -> str:
    live = {v: w for v, w in rollout.weights.items() if w > 0}
    if live:
        return _weights(live)
    return stable_now or rollout.stable_version or "nothing"


def _lessons(
    rollout: Rollout,
    spans: timeline.Spans,
    forward: Sequence[tuple[int, Measurement]],
    failing: Sequence[tuple[int, Measurement]],
    smoke: Sequence[tuple[int, SmokeResult]],
    rollback: RollbackView | None,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What went well, what could improve and what to do next: facts from the records."""
    good: list[str] = []
    bad: list[str] = []
    todo: list[str] = []
    if failing:
        index, first = min(failing, key=lambda item: _measurement_key(item[1]))
        span = spans.get((False, index))
        after = fmt_duration(span.start if span else None, first.at, missing="an unknown time")
        bad.append(
            f"The {first.name} trigger fired first: {first.metric} of "
            f"{first.version or rollout.version} measured {fmt_number(first.value)} against a "
            f"threshold of {fmt_number(first.threshold, missing='none')} "
            f"({first.phase.value}: {first.reason}), {after} after "
            f"{timeline.step_label(rollout, index, False)} started."
        )
        todo.append(f"Find why {first.metric} degraded in {rollout.version} before redeploying it.")
    failed_smoke = [r for _, r in smoke if not r.passed]
    bad.extend(f"Smoke check {r.name} ({r.scope}) failed: {r.detail}." for r in failed_smoke)
    if failed_smoke:
        todo.append("Fix the failing smoke checks and run them again before moving traffic.")
    inconclusive = sum(1 for _, m in forward if m.phase is Phase.INCONCLUSIVE)
    if inconclusive:
        bad.append(f"{inconclusive} measurement(s) had too little data to judge.")
        todo.append("Give the analysis more traffic or a longer interval so every round has data.")
    errors = sum(1 for _, m in forward if m.phase is Phase.ERROR)
    if errors:
        todo.append(f"Check the metric source: {errors} query(ies) failed.")
    if rollback is not None and rollback.success == "YES":
        good.append(
            f"The rollback restored {rollout.stable_version or 'the previous state'} and was "
            f"verified {rollback.duration} after it began."
        )
    elif rollback is not None:
        tried = "; ".join(rollback.attempts) or "nothing recorded"
        bad.append(f"The rollback could not be verified (tried: {tried}).")
        todo.append("Restore the service by hand and declare a P0 incident.")
    if rollout.phase is RolloutPhase.SUCCEEDED:
        for i, step in enumerate(rollout.plan):
            span = spans.get((False, i))
            if step.kind is not StepKind.OBSERVE or span is None or not span.completed:
                continue
            seen = [m for index, m in forward if index == i]
            if not any(m.phase in (Phase.FAIL, Phase.ERROR) for m in seen):
                good.append(
                    f"The post-deployment observation window held for "
                    f"{fmt_duration(span.start, span.end)}: {len(seen)} measurement(s), "
                    "none failed."
                )
        if forward and not failing:
            passed = sum(1 for _, m in forward if m.phase is Phase.PASS)
            good.append(f"{passed} of {len(forward)} measurement(s) passed and none failed.")
    if smoke and not failed_smoke:
        good.append(f"All {len(smoke)} smoke check run(s) passed.")
    return (
        tuple(good) or ("Nothing in the records stands out as having gone well.",),
        tuple(bad) or ("Nothing in the records calls for a change.",),
        tuple(todo) or ("No action item follows from the recorded data.",),
    )
