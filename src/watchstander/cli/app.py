"""`watchstander` entry point: init, deploy, rollout controls, data plane, demo, report.

Exit codes (docs/cli.md): 0 ok; 1 the rollout ended rolled back / aborted; 2 bad config or
arguments; 3 rollback failed (CRITICAL); 4 not found; 5 conflict (another rollout or
controller); 6 data plane or provider unreachable; 7 store error; 130 interrupted.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from watchstander.cli.output import (
    console,
    err_console,
    print_event,
    rollout_json,
    rollout_table,
)
from watchstander.config.loader import CONFIG_FILE
from watchstander.config.template import EXAMPLE_CONFIG
from watchstander.engine import operations
from watchstander.errors import UsageError, WatchstanderError
from watchstander.release.models import Rollout, RolloutPhase, Strategy

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchstander",
    help="Safe production releases: canary, blue-green and rolling deploys with automatic rollback.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rollout_app = typer.Typer(help="Inspect and control rollouts.", no_args_is_help=True)
dataplane_app = typer.Typer(
    help="The local data plane: router and replica supervisor.", no_args_is_help=True
)
app.add_typer(rollout_app, name="rollout")
app.add_typer(dataplane_app, name="dataplane")

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Map WatchstanderError to a one-line message and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WatchstanderError as exc:
            lines = str(exc).splitlines() or [type(exc).__name__]
            err_console.print(f"[red]error:[/red] {lines[0]}", markup=True, highlight=False)
            for line in lines[1:]:
                err_console.print(f"       {line}", markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print(
                "interrupted: the data plane keeps the last traffic weights; "
                "continue with 'watchstander rollout resume'"
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class State:
    def __init__(self, directory: Path, config: Path | None) -> None:
        self.directory = directory
        self.config = config

    def workspace(self) -> operations.Workspace:
        return operations.Workspace.load(self.directory, self.config)


@app.callback()
def _options(
    ctx: typer.Context,
    directory: Path = typer.Option(
        Path("."), "--dir", "-C", help="The directory with watchstander.yaml."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="Path to the config file."),
) -> None:
    ctx.obj = State(directory, config)


def _state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def _exit_for(rollout: Rollout) -> int:
    if rollout.phase is RolloutPhase.SUCCEEDED:
        return 0
    if rollout.phase is RolloutPhase.FAILED:
        return 3
    if rollout.phase is RolloutPhase.PAUSED:
        return 0
    return 1


def _summary(rollout: Rollout, ws: operations.Workspace) -> None:
    icon = {RolloutPhase.SUCCEEDED: "✓", RolloutPhase.FAILED: "❌"}.get(rollout.phase, "⚠️")
    console.print(
        f"{icon} {rollout.id}: {rollout.service} {rollout.version} -> {rollout.phase.value}"
    )
    if rollout.message:
        console.print(f"  {rollout.message}")
    report = ws.reports_root / "reports" / f"deployment-report-{rollout.version}.md"
    if report.exists():
        console.print(f"  report: {report}")


# -- init ---------------------------------------------------------------------------------


@app.command()
@handle_errors
def init(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing watchstander.yaml."),
) -> None:
    """Write a commented example watchstander.yaml."""
    path = _state(ctx).directory / CONFIG_FILE
    if path.exists() and not force:
        raise UsageError(f"{path} exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    console.print(
        f"✓ wrote {path}: edit service.name and target.command, then 'watchstander dataplane up'"
    )


# -- deploy -------------------------------------------------------------------------------


@app.command()
@handle_errors
def deploy(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The version to roll out."),
    strategy: Strategy | None = typer.Option(
        None,
        "--strategy",
        "-s",
        help="canary | blue-green | rolling (default: from --guidance, else recommended).",
    ),
    guidance: str | None = typer.Option(
        None,
        "--guidance",
        "-g",
        help='Plain-language direction, e.g. "high-risk, canary 5% -> 25% -> 100%, 1h observation".',
    ),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Answer six questions that tailor the deploy."
    ),
    regression_threshold: float | None = typer.Option(
        None,
        "--regression-threshold",
        min=0,
        max=100,
        help="Percent of regression the gates tolerate (default: regression.threshold, 0).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    accept_conditions: bool = typer.Option(
        False, "--accept-conditions", help="Proceed on CONDITIONAL_GO without asking."
    ),
    skip_staging: bool = typer.Option(
        False, "--skip-staging", help="Skip the staging regression gate (recorded)."
    ),
    rollback_on_regression: bool | None = typer.Option(
        None,
        "--rollback-on-regression/--no-rollback-on-regression",
        help="Roll back automatically when a trigger or the production gate fires "
        "(default: rollback.on_regression).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every step and action."),
    detach: bool = typer.Option(
        False,
        "--detach",
        help="Create the rollout after the gates and return: a running 'watchstander watch' "
        "controller drives it.",
    ),
) -> None:
    """Roll out VERSION: strategy, readiness, staging gate, then the rollout with live progress
    (or, with --detach, left to the `watchstander watch` controllers)."""
    from watchstander.cli.gates import ask_guidance, conditions_confirmer, confirmer, show_guidance
    from watchstander.clock import SystemClock
    from watchstander.engine.pipeline import prepare
    from watchstander.gates.guidance import merge_guidance, parse_guidance

    if strategy in (Strategy.INITIAL, Strategy.UNDO):
        raise UsageError(f"--strategy {strategy.value} is chosen automatically, not by hand")
    ws = _state(ctx).workspace()
    parsed = parse_guidance(guidance) if guidance else None
    if interactive:
        answered = ask_guidance()
        parsed = merge_guidance(parsed, answered) if parsed is not None else answered
    if parsed is not None:
        show_guidance(parsed)
    confirm = confirmer(yes)
    clock = SystemClock()
    prepared = asyncio.run(
        prepare(
            ws,
            version,
            clock=clock,
            strategy=strategy,
            guidance=parsed,
            threshold=regression_threshold,
            confirm=confirm,
            say=console.print,
            confirm_conditions=conditions_confirmer(yes=yes, accept=accept_conditions),
            skip_staging=skip_staging,
        )
    )
    if not confirm(f"Deploy {ws.config.service.name} {version}?"):
        raise typer.Exit(1)
    if detach:
        created = operations.create_detached(
            ws,
            version,
            strategy=prepared.strategy,
            rollback_on_regression=rollback_on_regression,
            regression_threshold=prepared.threshold,
            strategy_config=prepared.strategy_config,
            gate_ids=prepared.gate_ids,
            preamble=prepared.preamble,
            clock=clock,
        )
        console.print(
            f"✓ {created.id}: {created.strategy.value} rollout of {created.service} "
            f"{created.version} created; a 'watchstander watch' controller drives it "
            f"(follow it with 'watchstander rollout watch {created.id}')"
        )
        return
    rollout = asyncio.run(
        operations.deploy(
            ws,
            version,
            strategy=prepared.strategy,
            rollback_on_regression=rollback_on_regression,
            regression_threshold=prepared.threshold,
            strategy_config=prepared.strategy_config,
            gate_ids=prepared.gate_ids,
            preamble=prepared.preamble,
            clock=clock,
            on_event=lambda r, e: print_event(r, e, verbose=verbose),
        )
    )
    _summary(rollout, ws)
    raise typer.Exit(_exit_for(rollout))


# -- rollout ------------------------------------------------------------------------------


def _verdicts(store: Any, rollout: Rollout) -> list[dict[str, Any]]:
    latest: dict[str, Any] = {}
    for _step, _rb, m in store.measurements(rollout.id):
        latest[m.name] = m
    return [
        {
            "name": m.name,
            "phase": m.phase.value,
            "value": m.value,
            "baseline": m.baseline,
            "threshold": m.threshold,
            "reason": m.reason,
            "at": m.at.isoformat(),
        }
        for m in latest.values()
    ]


async def _live_weights(ws: operations.Workspace) -> dict[str, float] | None:
    target = operations.make_target(ws.config)
    try:
        state = await target.state()
        return dict(state.weights)
    except (WatchstanderError, OSError):
        return None
    except Exception:  # noqa: BLE001 - status must print even when the data plane is odd
        return None
    finally:
        await target.aclose()


@rollout_app.command("status")
@handle_errors
def rollout_status(
    ctx: typer.Context,
    rollout_id: str | None = typer.Argument(
        None, help="Rollout id (default: the active or latest)."
    ),
    output: str = typer.Option("table", "--output", "-o", help="table | json"),
) -> None:
    """Phase, step, weights per version and the last verdicts."""
    if output not in ("table", "json"):
        raise UsageError(f"--output must be table or json, not {output!r}")
    ws = _state(ctx).workspace()
    with ws.open_store() as store:
        rollout = operations._find(store, ws, rollout_id)
        verdicts = _verdicts(store, rollout)
    live = asyncio.run(_live_weights(ws))
    if output == "json":
        console.print_json(rollout_json(rollout, verdicts=verdicts, live_weights=live))
    else:
        console.print(rollout_table(rollout, verdicts=verdicts, live_weights=live))


@rollout_app.command("watch")
@handle_errors
def rollout_watch(
    ctx: typer.Context,
    rollout_id: str | None = typer.Argument(None),
    timeout: float = typer.Option(
        0, "--timeout", help="Stop watching after this many seconds (0: until the end)."
    ),
) -> None:
    """Follow a rollout's timeline until it ends."""
    ws = _state(ctx).workspace()
    seen = 0
    deadline = time.monotonic() + timeout if timeout else None
    with ws.open_store() as store:
        rollout = operations._find(store, ws, rollout_id)
        while True:
            events = store.events(rollout.id)
            for event in events[seen:]:
                print_event(rollout, event)
            seen = len(events)
            rollout = store.get_rollout(rollout.id)
            if rollout.terminal or (deadline is not None and time.monotonic() > deadline):
                break
            time.sleep(0.5)  # a CLI poll of the store, not a test wait
    _summary(rollout, ws)


def _control(
    ctx: typer.Context, name: str, rollout_id: str | None, args: dict[str, Any] | None = None
) -> None:
    ws = _state(ctx).workspace()
    rollout, driven = asyncio.run(
        operations.control(ws, name, rollout_id=rollout_id, args=args, on_event=print_event)
    )
    if not driven:
        console.print(
            f"✓ {name} queued for {rollout.id}; the controller driving it applies it within a second"
        )
        return
    _summary(rollout, ws)
    raise typer.Exit(
        _exit_for(rollout)
        if name != "abort"
        else (3 if rollout.phase is RolloutPhase.FAILED else 0)
    )


@rollout_app.command("pause")
@handle_errors
def rollout_pause(ctx: typer.Context, rollout_id: str | None = typer.Argument(None)) -> None:
    """Hold the rollout at its current step (traffic stays as it is)."""
    _control(ctx, "pause", rollout_id)


@rollout_app.command("promote")
@handle_errors
def rollout_promote(
    ctx: typer.Context,
    rollout_id: str | None = typer.Argument(None),
    full: bool = typer.Option(False, "--full", help="Skip all remaining analysis and pauses."),
) -> None:
    """Move past the current pause or analysis (or, with --full, all of them)."""
    _control(ctx, "promote", rollout_id, {"full": full})


@rollout_app.command("abort")
@handle_errors
def rollout_abort(ctx: typer.Context, rollout_id: str | None = typer.Argument(None)) -> None:
    """Send all traffic back to the stable version and stop the rollout."""
    _control(ctx, "abort", rollout_id)


@rollout_app.command("resume")
@handle_errors
def rollout_resume(ctx: typer.Context, rollout_id: str | None = typer.Argument(None)) -> None:
    """Continue a paused or interrupted rollout from its stored state to its end."""
    ws = _state(ctx).workspace()
    rollout, driven = asyncio.run(operations.resume(ws, rollout_id, on_event=print_event))
    if not driven:
        console.print(
            f"✓ resume queued for {rollout.id}; the controller driving it applies it within a second"
        )
        return
    _summary(rollout, ws)
    raise typer.Exit(_exit_for(rollout))


@rollout_app.command("undo")
@handle_errors
def rollout_undo(ctx: typer.Context) -> None:
    """Go back to the version that served before the last completed release."""
    ws = _state(ctx).workspace()
    rollout = asyncio.run(operations.undo(ws, on_event=print_event))
    _summary(rollout, ws)
    raise typer.Exit(_exit_for(rollout))


@rollout_app.command("retry")
@handle_errors
def rollout_retry(ctx: typer.Context) -> None:
    """Start the last rolled-back or aborted rollout again."""
    ws = _state(ctx).workspace()
    rollout = asyncio.run(operations.retry(ws, on_event=print_event))
    _summary(rollout, ws)
    raise typer.Exit(_exit_for(rollout))


@rollout_app.command("list")
@handle_errors
def rollout_list(ctx: typer.Context, output: str = typer.Option("table", "--output", "-o")) -> None:
    """Recent rollouts of the service."""
    import json

    from rich.table import Table

    ws = _state(ctx).workspace()
    with ws.open_store() as store:
        rollouts = store.list_rollouts(service=ws.config.service.name)
    if output == "json":
        console.print_json(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "version": r.version,
                        "strategy": r.strategy.value,
                        "phase": r.phase.value,
                        "created_at": r.created_at.isoformat(),
                    }
                    for r in rollouts
                ]
            )
        )
        return
    table = Table("id", "version", "strategy", "phase", "started")
    for r in rollouts:
        table.add_row(
            r.id, r.version, r.strategy.value, r.phase.value, f"{r.created_at:%Y-%m-%d %H:%M:%S}"
        )
    console.print(table)


# -- report -------------------------------------------------------------------------------


@app.command()
@handle_errors
def report(ctx: typer.Context, rollout_id: str | None = typer.Argument(None)) -> None:
    """Render the .aiwg/ reports of a rollout again from the store."""
    from watchstander.reports.writer import write_rollout_reports

    ws = _state(ctx).workspace()
    with ws.open_store() as store:
        rollout = operations._find(store, ws, rollout_id)
        paths = write_rollout_reports(
            store=store,
            rollout_id=rollout.id,
            root=ws.reports_root,
            project=ws.config.reports.project or ws.config.service.name,
        )
    for path in paths:
        console.print(f"✓ {path}")


# -- data plane and demo live in their own modules ----------------------------------------

from watchstander.cli import dataplane as _dataplane  # noqa: E402
from watchstander.cli import demo as _demo  # noqa: E402
from watchstander.cli import gates as _gates  # noqa: E402
from watchstander.cli import incidents as _incidents  # noqa: E402
from watchstander.cli import slo as _slo  # noqa: E402

_dataplane.register(dataplane_app, _state, handle_errors)
_demo.register(app, handle_errors)
_gates.register(app, _state, handle_errors)
_incidents.register(app, _state, handle_errors)
_slo.register(app, _state, handle_errors)


def main() -> None:
    app()
