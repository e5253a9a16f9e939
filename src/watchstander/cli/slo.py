"""`watchstander slo ...` and `watchstander hypercare ...`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from watchstander.cli.output import console
from watchstander.errors import InputError, UsageError
from watchstander.reports.hypercare import pct as _pct

__all__ = ["register", "engines", "print_day"]


@contextmanager
def engines(ws: Any) -> Iterator[tuple[Any, Any, Any, Any]]:
    """(store, incident desk, SLO monitor, hypercare desk) on the real clock and the
    configured metric source."""
    from watchstander.clock import SystemClock
    from watchstander.engine.hypercare import HypercareDesk
    from watchstander.engine.incidents import IncidentDesk
    from watchstander.engine.operations import make_metrics
    from watchstander.engine.slo import SloMonitor

    clock = SystemClock()
    source = make_metrics(ws.config)
    try:
        with ws.open_store() as store:
            desk = IncidentDesk(ws, store, clock)
            monitor = SloMonitor(ws.config, store, clock, source, desk=desk)
            yield store, desk, monitor, HypercareDesk(ws, store, clock, source, monitor=monitor)
    finally:
        asyncio.run(source.aclose())


def _burn(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


_HEALTH_STYLE = {"GREEN": "green", "YELLOW": "yellow", "RED": "red"}


def print_day(day: dict[str, Any], period: Any, out: Any = None) -> None:
    """The one-screen daily status."""
    from rich.table import Table

    out = out or console

    style = _HEALTH_STYLE.get(day["health"], "white")
    out.print(
        f"[bold]Hypercare {period.id}[/] {period.service} {period.version}: day {day['day']}"
        f" of {period.total_days} ({day.get('date', '')})  [bold {style}]{day['health']}[/]"
    )
    for reason in day["reasons"]:
        out.print(f"  • {reason}", markup=False)
    table = Table("SLO", "target", "24h", "budget left", "period budget used", "status")
    for s in day["slos"]:
        table.add_row(
            s["name"],
            s["target"],
            _pct(s["sli_24h"]),
            _pct(s["budget_remaining"], 1),
            _pct(s["period_burn"], 1),
            s["status"],
        )
    out.print(table)
    counts = day["incidents_24h"]
    out.print(
        f"Incidents (24h): P0 {counts['P0']}, P1 {counts['P1']}, P2 {counts['P2']},"
        f" P3 {counts['P3']}; open P0 {day['open_p0']}, open P1 {day['open_p1']}",
        markup=False,
    )
    adoption = day["adoption"]
    users = adoption["active_users"]
    out.print(
        "Active users: "
        + (
            f"{users:.0f} ({adoption.get('trend') or 'trend unknown'})"
            if users is not None
            else f"no data ({adoption.get('error')})"
        ),
        markup=False,
    )
    fb = day["feedback"]
    out.print(f"Tickets (24h): {fb['tickets']}; critical open: {fb['critical_open']}", markup=False)
    tomorrow = day.get("on_call_tomorrow")
    if tomorrow:
        out.print(
            f"Next on call: {tomorrow['primary']} (backup {tomorrow['backup']})", markup=False
        )


def register(
    app: typer.Typer, state: Callable[[typer.Context], Any], handle_errors: Callable[[Any], Any]
) -> None:
    slo_app = typer.Typer(help="SLOs, error budgets and burn-rate alerts.", no_args_is_help=True)
    care_app = typer.Typer(help="The hypercare period after a release.", no_args_is_help=True)
    app.add_typer(slo_app, name="slo")
    app.add_typer(care_app, name="hypercare")

    @slo_app.command("status")
    @handle_errors
    def slo_status(
        ctx: typer.Context,
        output: str = typer.Option("table", "--output", "-o", help="table or json"),
        measure: bool = typer.Option(
            True, "--measure/--no-measure", help="measure what is due first"
        ),
    ) -> None:
        """Each SLO's SLI, error budget (total, consumed, remaining), burn rates, status
        (ON TARGET / AT RISK / EXCEEDED), assessment and alert tiers."""
        if output not in ("table", "json"):
            raise UsageError(f"--output {output!r}: expected table or json")
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, monitor, _):
            if not monitor.slos:
                raise UsageError(
                    "no SLOs: define `slos:` in watchstander.yaml or `slo import` a file"
                )
            if measure:
                asyncio.run(monitor.measure())
                monitor.snapshot()
            rows = [monitor.status(s) for s in monitor.slos]
        if output == "json":
            typer.echo(json.dumps({"slos": rows}, indent=2))
            return
        from rich.table import Table

        table = Table(
            "SLO",
            "objective",
            "window",
            "SLI",
            "budget left",
            "burn 1h",
            "status",
            "assessment",
            "alert",
        )
        for r in rows:
            table.add_row(
                r["name"],
                r["target"],
                r["window"],
                _pct(r["sli"]),
                _pct(r["budget_remaining"], 1),
                _burn(r["burn_rate_1h"]),
                r["status"],
                r["assessment"],
                r["alert"] or "-",
            )
        console.print(table)
        for r in rows:
            if r["assessment"] != "HEALTHY":
                console.print(f"{r['name']}: {r['recommendation']}", markup=False)

    @slo_app.command("import")
    @handle_errors
    def slo_import(
        ctx: typer.Context, file: Path = typer.Argument(..., help="an OpenSLO v1 YAML file")
    ) -> None:
        """Import SLOs from an OpenSLO v1 file; unsupported fields are listed, never dropped
        silently. Nothing is stored unless the whole file is valid."""
        from datetime import UTC, datetime

        from watchstander.slo.models import to_data
        from watchstander.slo.openslo import parse_openslo

        ws = state(ctx).workspace()
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{file}: cannot read: {exc}") from exc
        result = parse_openslo(text, str(file), default_service=ws.config.service.name)
        if not result.slos:
            raise InputError(f"{file}: no SLO documents")
        configured = {t.name for t in ws.config.slos}
        clash = sorted(s.name for s in result.slos if s.name in configured)
        if clash:
            raise InputError(
                f"{file}: SLO names already defined in watchstander.yaml: {', '.join(clash)}"
            )
        with ws.open_store() as store:
            store.replace_slo_definitions(
                [to_data(s) for s in result.slos], source=str(file), at=datetime.now(UTC)
            )
        for s in result.slos:
            console.print(
                f"✓ imported {s.name} ({s.service}): {s.target_text()}, {s.window.describe()}",
                markup=False,
            )
        for note in result.unsupported:
            console.print(f"⚠ {note}", markup=False)

    @slo_app.command("export-rules")
    @handle_errors
    def slo_export_rules(
        ctx: typer.Context,
        format: str = typer.Option("prometheus", "--format"),
        out: Path | None = typer.Option(None, "--out", "-o", help="write to a file"),
    ) -> None:
        """Prometheus recording and alerting rules (Sloth-style names) for every SLO."""
        from watchstander.engine.slo import definitions
        from watchstander.slo.rules import prometheus_rules

        if format != "prometheus":
            raise UsageError(f"--format {format!r}: only prometheus is supported")
        ws = state(ctx).workspace()
        with ws.open_store() as store:
            store_slos = definitions(ws.config, store)
        if not store_slos:
            raise UsageError("no SLOs to export")
        try:
            result = prometheus_rules(store_slos)
        except ValueError as exc:  # two SLOs whose names make the same rule id
            raise UsageError(str(exc)) from exc
        if out is None:
            typer.echo(result.text, nl=False)
        else:
            out.write_text(result.text, encoding="utf-8")
            console.print(f"✓ {out}", markup=False)
        for why in result.skipped:
            typer.echo(f"skipped: {why}", err=True)

    # -- hypercare ----------------------------------------------------------------------

    @care_app.command("start")
    @handle_errors
    def care_start(
        ctx: typer.Context,
        days: int | None = typer.Argument(
            None, min=1, max=90, help="default 7 (low risk) or 14 (high)"
        ),
        risk: str | None = typer.Option(None, "--risk", help="low or high"),
        guidance: str = typer.Option("", "--guidance"),
        interactive: bool = typer.Option(False, "--interactive"),
        version: str | None = typer.Option(
            None, "--version", help="default: the latest successful rollout"
        ),
    ) -> None:
        """Start hypercare for the latest release: roster and 24/7 rotation, dashboard
        config and escalation matrix in .aiwg/deployment/."""
        if risk is not None and risk not in ("low", "high"):
            raise UsageError(f"--risk {risk!r}: expected low or high")
        if interactive:
            guidance, risk = _interview(guidance, risk)
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, monitor, care):
            asyncio.run(monitor.measure())
            period, paths = care.start(days=days, risk=risk, guidance=guidance, version=version)
        console.print(
            f"✓ hypercare {period.id} for {period.service} {period.version}: {period.days} days"
            f" ({period.risk.value} risk), until {period.end:%Y-%m-%d %H:%M} UTC",
            markup=False,
        )
        for p in paths:
            console.print(f"✓ {p}", markup=False)

    @care_app.command("tick")
    @handle_errors
    def care_tick(ctx: typer.Context) -> None:
        """Measure SLOs, fire alerts, and run every daily cycle that is due (idempotent)."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, desk, monitor, care):
            asyncio.run(monitor.tick())
            asyncio.run(desk.tick())
            days = asyncio.run(care.tick())
            period, _ = care.load()
        if not days:
            console.print("no daily cycle due", markup=False)
        for day in days:
            print_day(day, period)

    @care_app.command("status")
    @handle_errors
    def care_status(ctx: typer.Context) -> None:
        """Today's one-screen status, measured now (GREEN / YELLOW / RED)."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, monitor, care):
            asyncio.run(monitor.measure())
            monitor.snapshot()
            day = asyncio.run(care.preview())
            period, _ = care.load()
        print_day(day, period)

    @care_app.command("exit-check")
    @handle_errors
    def care_exit_check(ctx: typer.Context) -> None:
        """Evaluate the exit criteria from data: PASS / CONDITIONAL / FAIL and END / EXTEND /
        ESCALATE. Exit code 0 for END, 1 otherwise."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, monitor, care):
            asyncio.run(monitor.measure())
            monitor.snapshot()
            verdict, paths = care.exit_check()
        for c in verdict.criteria:
            mark = {True: "✓", False: "✗", None: "?"}[c.met]
            console.print(f"{mark} {c.label}: {c.detail}", markup=False)
        console.print(
            f"Status: {verdict.status.value}  Decision: {verdict.decision.value}", markup=False
        )
        if verdict.extension is not None:
            e = verdict.extension
            console.print(
                f"Extension plan: {e.days} day(s), focus {', '.join(e.focus)},"
                f" re-validate {e.revalidation:%Y-%m-%d %H:%M} UTC",
                markup=False,
            )
        for p in paths:
            console.print(f"✓ {p}", markup=False)
        if verdict.decision.value != "END HYPERCARE":
            raise typer.Exit(1)

    @care_app.command("signoff")
    @handle_errors
    def care_signoff(
        ctx: typer.Context,
        role: str = typer.Option(
            ...,
            "--role",
            help="hypercare-lead, reliability-engineer, support-lead, product-owner, project-manager",
        ),
        by: str = typer.Option(..., "--by"),
    ) -> None:
        """Record a sign-off (support-lead's is the support-readiness criterion)."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, _, care):
            period = care.signoff(role, by)
        console.print(
            f"✓ {period.id}: {role} signed off by {by}; missing: {', '.join(period.missing_signoffs) or 'none'}",
            markup=False,
        )

    @care_app.command("extend")
    @handle_errors
    def care_extend(
        ctx: typer.Context,
        days: int = typer.Argument(..., min=1, max=90),
        reason: str = typer.Option(..., "--reason"),
        by: str = typer.Option("cli", "--by"),
    ) -> None:
        """Extend the active period by DAYS."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, _, care):
            period = care.extend(days, reason, by)
            care.write_setup(period)
        console.print(
            f"✓ {period.id} extended by {days} day(s): now until {period.end:%Y-%m-%d %H:%M} UTC",
            markup=False,
        )

    @care_app.command("end")
    @handle_errors
    def care_end(ctx: typer.Context, by: str = typer.Option("cli", "--by")) -> None:
        """End the period: a last exit check, the exit report and the risk validation."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, monitor, care):
            asyncio.run(monitor.measure())
            monitor.snapshot()
            period, verdict, paths = care.end(by)
        console.print(
            f"✓ {period.id} ended: {verdict.status.value}, {verdict.decision.value}", markup=False
        )
        for p in paths:
            console.print(f"✓ {p}", markup=False)

    @care_app.command("feedback")
    @handle_errors
    def care_feedback(
        ctx: typer.Context, file: Path = typer.Argument(..., help="tickets/feedback CSV or JSON")
    ) -> None:
        """Import support tickets and user feedback (all or nothing)."""
        ws = state(ctx).workspace()
        with engines(ws) as (_, _, _, care):
            new, replaced = care.import_feedback(file)
        console.print(f"✓ {file}: {new} new, {replaced} updated", markup=False)


_QUESTIONS = (
    "What are your top priorities for hypercare?",
    "What's the deployment risk level? (low / high)",
    "What are your critical SLOs?",
    "What's your expected user volume?",
    "What's your support team's experience level?",
    "What are your biggest concerns about this deployment?",
    "Are there regulatory or compliance requirements?",
    "What's your incident response capability? (24/7 on-call, business hours)",
)


def _interview(guidance: str, risk: str | None) -> tuple[str, str | None]:
    """The flow's eight questions; the answers become the guidance text, and Q2 the risk."""
    answers = []
    for i, question in enumerate(_QUESTIONS, 1):
        console.print(f"Q{i}: {question}", markup=False)
        try:
            answer = str(typer.prompt(f"Q{i}", default="", show_default=False)).strip()
        except (typer.Abort, EOFError):
            answer = ""
        if i == 2 and risk is None:
            low = answer.lower()
            risk = "high" if "high" in low else "low" if "low" in low else None
        if answer:
            answers.append(f"{question.split('?')[0]}: {answer}")
    text = "; ".join(([guidance] if guidance else []) + answers)
    return text, risk
