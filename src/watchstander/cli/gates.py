"""Commands around the rollout: strategy recommend, readiness check, approve, rollback
drill, regression-check, ask; and the prompts `deploy --interactive` uses."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from watchstander.cli.output import console, err_console
from watchstander.errors import UsageError, WatchstanderError
from watchstander.gates.guidance import (
    INTERACTIVE_QUESTIONS,
    describe,
    guidance_from_answers,
    parse_guidance,
)
from watchstander.gates.models import (
    APPROVAL_ROLES,
    Approval,
    Decision,
    Downtime,
    Guidance,
    Risk,
    RollbackSpeed,
)

__all__ = [
    "register",
    "confirmer",
    "conditions_confirmer",
    "ask_guidance",
    "show_guidance",
]

Confirm = Callable[[str], bool]


def confirmer(yes: bool) -> Confirm:
    """Yes with --yes; otherwise ask (a closed stdin answers no)."""

    def confirm(question: str) -> bool:
        if yes:
            return True
        try:
            return bool(typer.confirm(question, default=False))
        except (typer.Abort, EOFError):
            return False

    return confirm


def conditions_confirmer(*, yes: bool, accept: bool) -> Confirm:
    """CONDITIONAL_GO needs an explicit yes: --accept-conditions, or an answer at the
    prompt. --yes alone does not accept conditions it has not seen."""

    def confirm(question: str) -> bool:
        if accept:
            return True
        if yes:
            err_console.print("--yes does not accept readiness conditions: add --accept-conditions")
            return False
        return confirmer(False)(question)

    return confirm


def ask_guidance() -> Guidance:
    """The deploy flow's six questions at the prompt (stdin may be a pipe)."""
    console.print("I'll ask 6 questions to tailor this deployment (Enter skips one).")
    answers: list[str] = []
    for i, (question, hint) in enumerate(INTERACTIVE_QUESTIONS, 1):
        console.print(f"Q{i}: {question}")
        console.print(f"    ({hint})")
        try:
            answers.append(str(typer.prompt(f"Q{i}", default="", show_default=False)))
        except (typer.Abort, EOFError):
            answers.append("")
    return guidance_from_answers(answers)


def show_guidance(g: Guidance) -> None:
    console.print("✓ guidance applied:")
    for line in describe(g):
        console.print(f"  - {line}")


def register(
    app: typer.Typer, state: Callable[[typer.Context], Any], handle_errors: Callable[[Any], Any]
) -> None:
    strategy_app = typer.Typer(help="Deployment strategy selection.", no_args_is_help=True)
    readiness_app = typer.Typer(help="Pre-deployment validation.", no_args_is_help=True)
    rollback_app = typer.Typer(help="Rollback readiness.", no_args_is_help=True)
    app.add_typer(strategy_app, name="strategy")
    app.add_typer(readiness_app, name="readiness")
    app.add_typer(rollback_app, name="rollback")

    @strategy_app.command("recommend")
    @handle_errors
    def strategy_recommend(
        ctx: typer.Context,
        version: str = typer.Option("next", "--version", help="The version it is for."),
        risk: Risk | None = typer.Option(None, "--risk", help="low | medium | high"),
        downtime: Downtime | None = typer.Option(
            None, "--downtime", help="zero | minimal | acceptable"
        ),
        rollback: RollbackSpeed | None = typer.Option(
            None, "--rollback", help="instant | fast (5 min) | manual (30 min)"
        ),
        db_migration: bool | None = typer.Option(
            None, "--db-migration/--no-db-migration", help="A schema change is included."
        ),
        guidance: str | None = typer.Option(None, "--guidance", "-g"),
        output: str = typer.Option("text", "--output", "-o", help="text | json"),
    ) -> None:
        """Recommend blue-green, canary or rolling, with rationale; writes
        .aiwg/working/deployment/strategy-recommendation.md."""
        from watchstander.clock import SystemClock
        from watchstander.engine import gates as engine_gates
        from watchstander.gates.serialize import to_data

        if output not in ("text", "json"):
            raise UsageError(f"--output must be text or json, not {output!r}")
        ws = state(ctx).workspace()
        g = parse_guidance(guidance) if guidance else None
        if g is not None and output == "text":
            show_guidance(g)
        inputs = engine_gates.strategy_inputs(
            g,
            engine_gates.capabilities_of(ws.config),
            risk=risk,
            downtime=downtime,
            rollback=rollback,
            db_migration=db_migration,
        )
        with ws.open_store() as store:
            rec, _record = engine_gates.recommend_strategy(
                ws, store, version=version, inputs=inputs, guidance=g, now=SystemClock().now()
            )
        path = ws.reports_root / "working" / "deployment" / "strategy-recommendation.md"
        if output == "json":
            console.print_json(json.dumps(to_data(rec)))
            return
        console.print(f"Recommended: [bold]{rec.strategy}[/bold]")
        for line in rec.rationale:
            console.print(f"  - {line}")
        console.print("Pros: " + "; ".join(rec.pros))
        console.print("Cons: " + "; ".join(rec.cons))
        console.print("Requirements: " + "; ".join(rec.requirements))
        console.print(f"Expected duration: {_minutes(rec.expected_duration)}")
        for name, why in rec.alternatives:
            console.print(f"  not {name}: {why}")
        console.print(f"✓ {path}")

    @readiness_app.command("check")
    @handle_errors
    def readiness_check(
        ctx: typer.Context,
        version: str = typer.Argument(..., help="The version to validate."),
        guidance: str | None = typer.Option(None, "--guidance", "-g"),
        strategy: str | None = typer.Option(None, "--strategy", "-s"),
        output: str = typer.Option("text", "--output", "-o", help="text | json"),
    ) -> None:
        """Pre-deployment validation: GO (exit 0), CONDITIONAL_GO (exit 1) or NO-GO (exit 3);
        writes .aiwg/deployment/deployment-readiness-report.md."""
        from watchstander.clock import SystemClock
        from watchstander.engine import gates as engine_gates
        from watchstander.engine.operations import validate_version
        from watchstander.gates.serialize import to_data

        if output not in ("text", "json"):
            raise UsageError(f"--output must be text or json, not {output!r}")
        ws = state(ctx).workspace()
        validate_version(ws.config, version)
        g = parse_guidance(guidance) if guidance else None
        with ws.open_store() as store:
            outcome = asyncio.run(
                engine_gates.check_readiness(
                    ws, store, version, clock=SystemClock(), guidance=g, strategy=strategy
                )
            )
        r = outcome.readiness
        if output == "json":
            console.print_json(json.dumps(to_data(r)))
        else:
            for check in r.checks:
                mark = {"PASS": "✓", "WARN": "⚠️", "FAIL": "❌"}[check.status.value]
                console.print(f"{mark} [{check.category}] {check.name}: {check.summary}")
                for line in check.evidence[:5]:
                    console.print(f"     {line}", markup=False)
            console.print(f"Overall Status: [bold]{r.decision.value}[/bold]")
            for line in r.blockers:
                console.print(f"  blocker: {line}", markup=False)
            for line in r.conditions:
                console.print(f"  condition: {line}", markup=False)
            console.print(f"✓ {outcome.report}")
        raise typer.Exit(
            {Decision.GO: 0, Decision.CONDITIONAL_GO: 1, Decision.NO_GO: 3}[r.decision]
        )

    @app.command("approve")
    @handle_errors
    def approve(
        ctx: typer.Context,
        version: str = typer.Argument(..., help="The version signed off."),
        role: str = typer.Option(..., "--role", help=" | ".join(APPROVAL_ROLES)),
        by: str = typer.Option(..., "--by", help="Who signs off."),
        comment: str = typer.Option("", "--comment"),
    ) -> None:
        """Record a sign-off of VERSION by a role (read by the readiness check)."""
        from watchstander.clock import SystemClock
        from watchstander.engine.operations import validate_version

        if role not in APPROVAL_ROLES:
            raise UsageError(f"--role must be one of {', '.join(APPROVAL_ROLES)}, not {role!r}")
        if not by.strip():
            raise UsageError("--by must name who approves")
        ws = state(ctx).workspace()
        validate_version(ws.config, version)
        now = SystemClock().now()
        with ws.open_store() as store:
            store.add_approval(
                Approval(
                    service=ws.config.service.name,
                    version=version,
                    role=role,
                    by=by.strip(),
                    at=now,
                    comment=comment,
                )
            )
        console.print(
            f"✓ {role} approval of {ws.config.service.name} {version} by {by.strip()} "
            f"recorded at {now:%Y-%m-%d %H:%M:%S} UTC"
        )

    @rollback_app.command("drill")
    @handle_errors
    def rollback_drill(
        ctx: typer.Context,
        version: str = typer.Option(..., "--version", help="The version to roll back from."),
        to: str | None = typer.Option(
            None, "--to", help="The version to roll back to (default: production's stable)."
        ),
        environment: str = typer.Option("staging", "--environment", "-e"),
    ) -> None:
        """Practise a rollback on a non-production target and record it (the readiness
        check wants one within 7 days)."""
        from watchstander.clock import SystemClock
        from watchstander.engine import gates as engine_gates
        from watchstander.engine.operations import validate_version

        ws = state(ctx).workspace()
        validate_version(ws.config, version)
        with ws.open_store() as store:
            back_to = to or store.stable_version(ws.config.service.name)
            if back_to is None:
                raise UsageError("nothing to roll back to yet: pass --to VERSION")
            validate_version(ws.config, back_to)
            if back_to == version:
                raise UsageError("--version and --to must differ")
            drill = asyncio.run(
                engine_gates.rollback_drill(
                    ws,
                    store,
                    version=version,
                    to_version=back_to,
                    clock=SystemClock(),
                    environment=environment,
                )
            )
        mark = "✓" if drill.ok else "❌"
        console.print(
            f"{mark} rollback drill on {environment}: {version} -> {back_to} "
            f"{'OK' if drill.ok else 'FAILED'} in {drill.duration * 1000:.0f} ms"
        )
        console.print(f"  {drill.detail}", markup=False)
        raise typer.Exit(0 if drill.ok else 1)

    @app.command("regression-check")
    def regression_check(
        ctx: typer.Context,
        baseline: str = typer.Option(
            ...,
            "--baseline",
            help="JUnit file or directory, a saved baseline name, or an environment "
            "(production, staging), optionally with a window: production@-30m..-15m",
        ),
        candidate: str = typer.Option("staging", "--candidate", help="Same forms as --baseline."),
        scope: str = typer.Option("full", "--scope", help="full | critical | targeted"),
        target: list[str] = typer.Option([], "--target", help="Test id patterns (targeted)."),
        threshold: float = typer.Option(0.0, "--threshold", min=0, max=100),
        fmt: str = typer.Option("summary", "--format", help="summary | detailed | json"),
        save_baseline: str | None = typer.Option(
            None, "--save-baseline", help="Keep the baseline's JUnit under this name."
        ),
    ) -> None:
        """Compare two test result sets and/or two environments' metrics. Exit codes:
        0 no regression beyond the threshold, 1 critical, 2 major, 3 minor, 4 execution error."""
        try:
            code = _regression_check(
                state(ctx),
                baseline=baseline,
                candidate=candidate,
                scope=scope,
                targets=target,
                threshold=threshold,
                fmt=fmt,
                save_baseline=save_baseline,
            )
        except WatchstanderError as exc:
            lines = str(exc).splitlines() or [type(exc).__name__]
            err_console.print(f"[red]error:[/red] {lines[0]}", highlight=False)
            raise typer.Exit(4) from None
        raise typer.Exit(code)

    @app.command("ask")
    @handle_errors
    def ask(
        ctx: typer.Context,
        request: str = typer.Argument(..., help='e.g. "deploy version 2.1.0 with canary"'),
        yes: bool = typer.Option(False, "--yes", "-y", help="Run it without asking."),
    ) -> None:
        """Map a plain-language request to the watchstander command it stands for, show
        it, and run it after confirmation."""
        from watchstander.gates.intent import parse_intent

        intent = parse_intent(request)
        if intent is None:
            raise UsageError(
                f"not understood: {request!r} (try 'deploy version 2.1.0 with canary', "
                "'roll back', 'start hypercare', 'declare incident')"
            )
        argv = list(intent.argv)
        obj = state(ctx)
        if intent.action == "rollback":
            argv = _rollback_argv(obj)
        shown = "watchstander " + " ".join(_quote(a) for a in argv)
        console.print(f"→ {intent.summary}")
        console.print(f"  {shown}", markup=False)
        if intent.missing:
            raise UsageError(
                f"the request does not say {', '.join(intent.missing)}: "
                f"run '{shown} {' '.join(intent.missing)}'"
            )
        if not _known_command(app, argv):
            raise UsageError(f"'{shown}' is not available in this version of watchstander")
        if not confirmer(yes)("Run it?"):
            console.print("not run")
            raise typer.Exit(1)
        prefix = ["-C", str(obj.directory)]
        if obj.config is not None:
            prefix += ["--config", str(obj.config)]
        extra = ["--yes"] if yes and argv[0] == "deploy" else []
        done = subprocess.run(
            [sys.executable, "-m", "watchstander", *prefix, *argv, *extra], check=False
        )
        raise typer.Exit(done.returncode)


def _minutes(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[A-Za-z0-9._/:=@%+-]+", arg) else json.dumps(arg)


def _rollback_argv(obj: Any) -> list[str]:
    """'roll back': abort the rollout in progress, or undo the last release."""
    try:
        ws = obj.workspace()
        with ws.open_store() as store:
            active = store.active_rollout(ws.config.service.name)
    except WatchstanderError:
        active = None
    return ["rollout", "abort"] if active is not None else ["rollout", "undo"]


def _known_command(app: typer.Typer, argv: list[str]) -> bool:
    """Whether `argv` names a command this build has (hypercare and incidents may not)."""
    import click

    command = typer.main.get_command(app)
    for word in argv:
        if not isinstance(command, click.Group):
            return True
        sub = command.get_command(click.Context(command), word)
        if sub is None:
            return False
        command = sub
    return True


# -- regression-check ----------------------------------------------------------------------


def _regression_check(
    obj: Any,
    *,
    baseline: str,
    candidate: str,
    scope: str,
    targets: list[str],
    threshold: float,
    fmt: str,
    save_baseline: str | None,
) -> int:
    from watchstander.clock import SystemClock
    from watchstander.engine.gates import regression_check

    if fmt not in ("summary", "detailed", "json"):
        raise UsageError(f"--format must be summary, detailed or json, not {fmt!r}")
    ws = obj.workspace()
    with ws.open_store() as store:
        outcome = regression_check(
            ws,
            store,
            baseline=baseline,
            candidate=candidate,
            scope=scope,
            targets=targets,
            threshold=threshold,
            save_baseline=save_baseline,
            cwd=Path(obj.directory),
            now=SystemClock().now(),
        )
    result = outcome.result
    if fmt == "json":
        sys.stdout.write(json.dumps(outcome.data, indent=2, sort_keys=True) + "\n")
        return result.exit_code
    console.print(
        f"Regression check {baseline} -> {candidate} (scope {scope}): "
        f"[bold]{result.decision}[/bold]"
    )
    console.print(
        f"  regression rate {result.regression_rate:.1f}% (threshold {threshold:g}%): "
        f"{result.baseline_pass} -> {result.candidate_pass} passing of {result.total}"
    )
    console.print(
        f"  new failures {len(result.new_failures)}, fixed {len(result.fixed)}, "
        f"metric regressions {sum(1 for m in result.metrics if m.regressed)}"
    )
    for line in result.blockers:
        console.print(f"  ❌ {line}", markup=False)
    if fmt == "detailed":
        for reg in result.regressions:
            console.print(
                f"  - {reg.test}: {reg.type} {reg.severity.value} "
                f"({reg.baseline_status} -> {reg.current_status}) {reg.error}",
                markup=False,
            )
        for m in result.metrics:
            console.print(
                f"  - {m.name}: {m.baseline} -> {m.candidate} change {m.change} {m.unit} "
                f"limit {m.limit:g} {'REGRESSED' if m.regressed else 'ok'} {m.note}",
                markup=False,
            )
        for name in result.fixed:
            console.print(f"  + fixed: {name}", markup=False)
    for path in outcome.reports:
        console.print(f"✓ {path}")
    return result.exit_code
