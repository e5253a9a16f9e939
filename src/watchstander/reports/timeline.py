"""Step times of a rollout, read from its timeline.

The engine records `step.started` and `step.completed` events whose data carries `index`
(the step's position in its plan) and `rollback` (true for a step of the rollback plan).
A step without a completion event ends when the next step starts, or when the rollout
finished; a rollback starts at its `rollback.started` event (or its first step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watchstander.analysis.models import Measurement
from watchstander.release.models import Event, Role, Rollout, StepKind, Strategy
from watchstander.reports.rows import Pair, StepRow, fmt_duration, fmt_seconds, fmt_time

__all__ = [
    "STEP_STARTED",
    "STEP_COMPLETED",
    "ROLLBACK_STARTED",
    "Span",
    "Spans",
    "step_spans",
    "step_label",
    "step_rows",
    "milestones",
    "strategy_details",
    "rollback_start",
]

STEP_STARTED = "step.started"
STEP_COMPLETED = "step.completed"
ROLLBACK_STARTED = "rollback.started"


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime | None  # None: still running
    completed: bool  # a completion event was recorded


# (in the rollback plan, index in that plan) -> when the step ran
Spans = dict[tuple[bool, int], Span]


def step_spans(rollout: Rollout, events: Sequence[Event]) -> Spans:
    starts: dict[tuple[bool, int], datetime] = {}
    ends: dict[tuple[bool, int], datetime] = {}
    order: list[tuple[datetime, tuple[bool, int]]] = []
    for event in events:
        index = event.data.get("index")
        if event.kind not in (STEP_STARTED, STEP_COMPLETED) or not isinstance(index, int):
            continue
        key = (bool(event.data.get("rollback", False)), index)
        if event.kind == STEP_STARTED:
            starts.setdefault(key, event.at)
            order.append((event.at, key))
        else:
            ends[key] = event.at
    spans: Spans = {}
    for key, start in starts.items():
        end = ends.get(key)
        if end is None:
            later = [at for at, other in order if at > start and other != key]
            end = min(later) if later else rollout.finished_at
        spans[key] = Span(start, end, key in ends)
    return spans


def step_label(rollout: Rollout, index: int, in_rollback: bool) -> str:
    plan = rollout.rollback_plan if in_rollback else rollout.plan
    label = plan[index].label if 0 <= index < len(plan) else "unknown step"
    return f"{'rollback ' if in_rollback else ''}step {index + 1}: {label}"


def step_rows(rollout: Rollout, spans: Spans, in_rollback: bool) -> tuple[StepRow, ...]:
    plan = rollout.rollback_plan if in_rollback else rollout.plan
    rows = []
    for index, step in enumerate(plan):
        span = spans.get((in_rollback, index))
        if span is None:
            outcome = "not reached"
        elif span.completed:
            outcome = "completed"
        elif not rollout.terminal and rollout.current_index == index:
            outcome = "in progress"
        else:
            outcome = "interrupted"
        rows.append(
            StepRow(
                plan="rollback" if in_rollback else "deploy",
                number=index + 1,
                kind=step.kind.value,
                label=step.label,
                started=fmt_time(span.start if span else None),
                ended=fmt_time(span.end if span else None, missing="-"),
                duration=fmt_duration(span.start, span.end) if span else "-",
                outcome=outcome,
            )
        )
    return tuple(rows)


def milestones(rollout: Rollout, spans: Spans, rollback_start: datetime | None) -> tuple[Pair, ...]:
    def over(kinds: set[StepKind]) -> Pair:
        chosen = [
            spans[(False, i)]
            for i, step in enumerate(rollout.plan)
            if step.kind in kinds and (False, i) in spans
        ]
        if not chosen:
            return Pair("", "not reached", "-")
        first = min(s.start for s in chosen)
        total = sum((s.end - s.start).total_seconds() for s in chosen if s.end is not None)
        return Pair("", fmt_time(first), fmt_seconds(total))

    named = [
        ("Pre-deployment validation (baseline)", over({StepKind.BASELINE})),
        ("Deployment execution", over({StepKind.SCALE, StepKind.SET_WEIGHT})),
        ("Smoke tests", over({StepKind.SMOKE})),
        ("SLO monitoring", over({StepKind.ANALYSIS, StepKind.OBSERVE})),
    ]
    if rollback_start is not None:
        end = Pair(
            "", fmt_time(rollback_start), fmt_duration(rollback_start, rollout.finished_at, "-")
        )
        named.append(("Rollback", end))
    elif rollout.finished_at is not None:
        named.append(("Completion", Pair("", fmt_time(rollout.finished_at), "-")))
    return tuple(Pair(label, p.value, p.extra) for label, p in named)


def reached(spans: Spans, indexes: Sequence[int]) -> datetime | None:
    """When the first of these deploy steps completed."""
    span = spans.get((False, indexes[0])) if indexes else None
    return span.end if span is not None and span.completed else None


def strategy_details(rollout: Rollout, spans: Spans, failed: int) -> tuple[Pair, ...]:
    plan = list(enumerate(rollout.plan))

    def where(kind: StepKind, role: Role | None = None, **fields: float) -> list[int]:
        return [
            i
            for i, s in plan
            if s.kind is kind
            and (role is None or s.role is role)
            and all(getattr(s, k) == v for k, v in fields.items())
        ]

    if rollout.strategy is Strategy.CANARY:
        weights = [
            Pair(f"Canary at {rollout.plan[i].weight:g}%", fmt_time(reached(spans, [i])))
            for i in where(StepKind.SET_WEIGHT)
        ]
        return (*weights, Pair("SLO breaches (failed measurements)", str(failed)))
    if rollout.strategy is Strategy.BLUE_GREEN:
        retired = reached(spans, where(StepKind.SCALE, Role.STABLE, replicas=0))
        return (
            Pair(
                "Green deployment", fmt_time(reached(spans, where(StepKind.SCALE, Role.CANDIDATE)))
            ),
            Pair(
                "Traffic cutover", fmt_time(reached(spans, where(StepKind.SET_WEIGHT, weight=100)))
            ),
            Pair("Blue retirement", fmt_time(retired, missing="N/A")),
        )
    if rollout.strategy is Strategy.ROLLING:
        ups = where(StepKind.SCALE, Role.CANDIDATE)
        updated = [rollout.plan[i].replicas or 0 for i in ups if reached(spans, [i])]
        pauses = [spans[(False, i)] for i in where(StepKind.PAUSE) if (False, i) in spans]
        paused = sum((p.end - p.start).total_seconds() for p in pauses if p.end is not None)
        return (
            Pair("Instances updated", f"{max(updated, default=0)}/{rollout.replicas}"),
            Pair("Batch size", str(rollout.plan[ups[0]].replicas or 0) if ups else "0"),
            Pair("Pause duration", f"{paused / 60:.1f} minutes"),
        )
    return ()


def rollback_start(
    events: Sequence[Event],
    spans: Spans,
    measurements: Sequence[tuple[int, bool, Measurement]],
) -> datetime | None:
    candidates = [e.at for e in events if e.kind == ROLLBACK_STARTED]
    candidates += [s.start for (rb, _), s in spans.items() if rb]
    candidates += [m.at for _, rb, m in measurements if rb]
    return min(candidates) if candidates else None
