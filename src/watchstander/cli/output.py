"""Rich output shared by the commands: event lines with the flow's indicators, tables."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from watchstander.release.models import Event, Rollout, RolloutPhase, Severity

__all__ = ["console", "err_console", "print_event", "rollout_table", "rollout_json", "ICONS"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ICONS = {"done": "✓", "progress": "⏳", "error": "❌", "attention": "⚠️"}


def _icon(event: Event) -> str:
    if event.severity in (Severity.ERROR, Severity.CRITICAL):
        return ICONS["error"]
    if event.severity is Severity.WARNING:
        return ICONS["attention"]
    if event.kind.endswith(".started") or event.kind == "action.intent":
        return ICONS["progress"]
    return ICONS["done"]


_QUIET = {"action.intent", "step.completed"}


def print_event(rollout: Rollout, event: Event, *, verbose: bool = False) -> None:
    if event.kind in _QUIET and not verbose:
        return
    stamp = event.at.strftime("%H:%M:%S")
    style = {
        Severity.CRITICAL: "bold red",
        Severity.ERROR: "red",
        Severity.WARNING: "yellow",
    }.get(event.severity, "")
    console.print(f"[dim]{stamp}[/dim] {_icon(event)} {event.message}", style=style, markup=True)


_PHASE_STYLE = {
    RolloutPhase.SUCCEEDED: "green",
    RolloutPhase.ROLLED_BACK: "yellow",
    RolloutPhase.ABORTED: "yellow",
    RolloutPhase.FAILED: "bold red",
    RolloutPhase.PAUSED: "yellow",
}


def rollout_json(
    rollout: Rollout, *, verdicts: list[dict[str, Any]], live_weights: dict[str, float] | None
) -> str:
    step = rollout.current_step
    return json.dumps(
        {
            "id": rollout.id,
            "service": rollout.service,
            "version": rollout.version,
            "stable_version": rollout.stable_version,
            "strategy": rollout.strategy.value,
            "phase": rollout.phase.value,
            "paused": rollout.paused,
            "pause_reason": rollout.pause_reason,
            "step": {
                "index": rollout.current_index,
                "of": len(rollout.current_plan),
                "label": step.label if step else None,
                "kind": step.kind.value if step else None,
                "rollback": rollout.rolling_back,
            },
            "weights": rollout.weights,
            "live_weights": live_weights,
            "deployment": rollout.deployment.model_dump() if rollout.deployment else None,
            "rollback_reason": rollout.rollback_reason,
            "last_verdicts": verdicts,
            "created_at": rollout.created_at.isoformat(),
            "finished_at": rollout.finished_at.isoformat() if rollout.finished_at else None,
            "message": rollout.message,
        },
        indent=2,
    )


def rollout_table(
    rollout: Rollout, *, verdicts: list[dict[str, Any]], live_weights: dict[str, float] | None
) -> Table:
    table = Table(title=f"{rollout.id}: {rollout.service} {rollout.version}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    style = _PHASE_STYLE.get(rollout.phase, "")
    table.add_row(
        "phase", f"[{style}]{rollout.phase.value}[/{style}]" if style else rollout.phase.value
    )
    table.add_row("strategy", rollout.strategy.value)
    table.add_row("previous version", rollout.stable_version or "none")
    plan = rollout.current_plan
    step = rollout.current_step
    where = "rollback " if rollout.rolling_back else ""
    table.add_row(
        "step",
        f"{where}{min(rollout.current_index + 1, len(plan))}/{len(plan)}: {step.label if step else 'done'}",
    )
    weights = live_weights if live_weights is not None else rollout.weights
    table.add_row(
        "weights" + (" (live)" if live_weights is not None else " (last applied)"),
        ", ".join(f"{v} {w:g}%" for v, w in sorted(weights.items())) or "none",
    )
    d = rollout.deployment
    if d is not None:
        table.add_row(
            "deployment (last seen)",
            f"{d.name}: template {d.version}, {d.updated_ready}/{d.replicas} pods of it ready"
            + (", paused" if d.paused else "")
            + (", complete" if d.complete else ""),
        )
    if rollout.pause_reason:
        table.add_row("paused", rollout.pause_reason)
    if rollout.rollback_reason:
        table.add_row("rollback reason", rollout.rollback_reason)
    for v in verdicts:
        table.add_row(f"  {v['name']}", f"{v['phase']}: {v['reason']}")
    if rollout.message:
        table.add_row("message", rollout.message)
    return table
