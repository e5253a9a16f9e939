"""`watchstander incident ...` and `watchstander watch`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
import yaml

from watchstander.cli.output import console
from watchstander.errors import InputError, UsageError
from watchstander.incident.models import (
    Category,
    Impact,
    IncidentStatus,
    Priority,
    Role,
    Urgency,
)

__all__ = ["register"]


def register(
    app: typer.Typer, state: Callable[[typer.Context], Any], handle_errors: Callable[[Any], Any]
) -> None:
    incident_app = typer.Typer(help="Incident response.", no_args_is_help=True)
    app.add_typer(incident_app, name="incident")

    @contextmanager
    def desk(ctx: typer.Context) -> Iterator[Any]:
        from watchstander.clock import SystemClock
        from watchstander.engine.incidents import IncidentDesk

        ws = state(ctx).workspace()
        with ws.open_store() as store:
            yield IncidentDesk(ws, store, SystemClock())

    def show(loaded: Any, verb: str) -> None:
        inc = loaded.incident
        console.print(
            f"✓ {inc.id} {verb}: {inc.priority.value} {inc.status.value} — {inc.title}",
            markup=False,
        )
        for role, person in sorted(inc.roles.items()):
            console.print(f"  {role.value}: {person}", markup=False)

    @incident_app.command("declare")
    @handle_errors
    def declare(
        ctx: typer.Context,
        title: str | None = typer.Option(None, "--title", "-t"),
        impact: Impact | None = typer.Option(None, "--impact", case_sensitive=False),
        urgency: Urgency | None = typer.Option(None, "--urgency", case_sensitive=False),
        description: str = typer.Option("", "--description", "-d"),
        users_affected: float | None = typer.Option(
            None, "--users-affected", min=0, max=100, help="Percent of users affected."
        ),
        outage: bool = typer.Option(False, "--outage"),
        data_loss: bool = typer.Option(False, "--data-loss"),
        security_breach: bool = typer.Option(False, "--security-breach"),
        category: Category = typer.Option(Category.AVAILABILITY, "--category"),
        by: str = typer.Option("cli", "--by", help="Who reports it."),
        interactive: bool = typer.Option(False, "--interactive", "-i"),
    ) -> None:
        """Declare an incident: priority from impact x urgency, roles from the roster for
        P0/P1, the initial alert and status-page update queued for every channel."""
        if interactive:
            fields = _ask()
            title = title or fields.title
            description = description or fields.description
            impact = impact or fields.impact
            urgency = urgency or fields.urgency
            users_affected = (
                users_affected if users_affected is not None else fields.users_affected_pct
            )
            outage = outage or fields.outage
            data_loss = data_loss or fields.data_loss
            security_breach = security_breach or fields.security_breach
        if not title:
            raise UsageError("--title is required (or use --interactive)")
        if urgency is None:
            raise UsageError("--urgency is required: high, medium or low")
        with desk(ctx) as d:
            loaded = d.declare(
                title=title,
                impact=impact,
                urgency=urgency,
                description=description,
                reporter=by,
                category=category,
                users_affected_pct=users_affected,
                outage=outage,
                data_loss=data_loss,
                security_breach=security_breach,
            )
            asyncio.run(d.deliver())
        show(loaded, "declared")

    @incident_app.command("list")
    @handle_errors
    def list_(
        ctx: typer.Context,
        all_: bool = typer.Option(False, "--all", help="Also resolved and closed ones."),
        output: str = typer.Option("table", "--output", "-o"),
    ) -> None:
        """Open incidents (or all of them)."""
        from rich.table import Table

        with desk(ctx) as d:
            incidents = d.all(open_only=not all_)
        if output == "json":
            console.print_json(
                json.dumps(
                    [
                        {
                            "id": i.id,
                            "priority": i.priority.value,
                            "status": i.status.value,
                            "title": i.title,
                            "detected": i.detected.isoformat(),
                        }
                        for i in incidents
                    ]
                )
            )
            return
        table = Table("id", "priority", "status", "detected", "title")
        for i in incidents:
            table.add_row(
                i.id, i.priority.value, i.status.value, f"{i.detected:%Y-%m-%d %H:%M}", i.title
            )
        console.print(table)

    @incident_app.command("show")
    @handle_errors
    def show_(
        ctx: typer.Context, incident_id: str, output: str = typer.Option("text", "--output", "-o")
    ) -> None:
        """An incident's record and timeline."""
        with desk(ctx) as d:
            data = d.store.incident(incident_id)
        if output == "json":
            console.print_json(json.dumps(data, default=str))
            return
        console.print(
            f"{data['id']} {data['priority']} {data['status']}: {data['title']}", markup=False
        )
        for entry in data["timeline"]:
            console.print(
                f"  {entry['at'][:19]} {entry['kind']:16} {entry['actor']}: {entry['summary']}",
                markup=False,
            )

    @incident_app.command("ack")
    @handle_errors
    def ack(ctx: typer.Context, incident_id: str, by: str = typer.Option(..., "--by")) -> None:
        """Acknowledge: stops the re-paging of Tier 1."""
        with desk(ctx) as d:
            show(d.acknowledge(incident_id, by), "acknowledged")

    @incident_app.command("assign")
    @handle_errors
    def assign(
        ctx: typer.Context,
        incident_id: str,
        role: Role = typer.Option(..., "--role"),
        person: str = typer.Option(..., "--person"),
        by: str = typer.Option("cli", "--by"),
    ) -> None:
        """Assign a role (incident_commander, technical_lead, communications_lead, ...)."""
        with desk(ctx) as d:
            show(d.assign(incident_id, role, person, by), "assigned")

    @incident_app.command("priority")
    @handle_errors
    def set_priority(
        ctx: typer.Context,
        incident_id: str,
        new: Priority = typer.Argument(..., case_sensitive=False),
        reason: str = typer.Option(..., "--reason"),
        by: str = typer.Option("cli", "--by"),
    ) -> None:
        """Change the priority (a reason is required and recorded)."""
        with desk(ctx) as d:
            show(d.set_priority(incident_id, new, reason, by), "re-prioritised")

    @incident_app.command("status")
    @handle_errors
    def set_status(
        ctx: typer.Context,
        incident_id: str,
        status: IncidentStatus = typer.Argument(..., case_sensitive=False),
        reason: str = typer.Option("", "--reason"),
        by: str = typer.Option("cli", "--by"),
    ) -> None:
        """Move the incident along DETECTED -> TRIAGED -> INVESTIGATING -> MITIGATING ->
        RESOLVED -> CLOSED (status-page update and, on RESOLVED, the resolution notice)."""
        with desk(ctx) as d:
            loaded = d.set_status(incident_id, status, by, reason)
            asyncio.run(d.deliver())
        show(loaded, "updated")

    @incident_app.command("note")
    @handle_errors
    def note(
        ctx: typer.Context, incident_id: str, text: str, by: str = typer.Option("cli", "--by")
    ) -> None:
        """Add a note to the timeline (an update: it resets the quiet-incident reminder)."""
        with desk(ctx) as d:
            show(d.note(incident_id, text, by), "noted")

    @incident_app.command("ingest")
    @handle_errors
    def ingest(
        ctx: typer.Context,
        kind: str = typer.Argument(..., help="alertmanager | pagerduty"),
        source: str = typer.Argument("-", help="A JSON file, or - for stdin."),
    ) -> None:
        """Take an Alertmanager v4 webhook or a PagerDuty Events v2 body (deduplicated)."""
        if kind not in ("alertmanager", "pagerduty"):
            raise UsageError(f"ingest alertmanager or pagerduty, not {kind!r}")
        if source == "-":
            data, name = sys.stdin.buffer.read(), "stdin"
        else:
            path = Path(source)
            if not path.is_file():
                raise InputError(f"{source}: no such file")
            data, name = path.read_bytes(), source
        with desk(ctx) as d:
            if kind == "alertmanager":
                incident_id, outcome = d.ingest_alertmanager(data, name)
            else:
                incident_id, outcome = d.ingest_pagerduty(data, name)
            asyncio.run(d.deliver())
        console.print(f"✓ {kind}: {outcome}" + (f" {incident_id}" if incident_id else ""))

    @incident_app.command("triage")
    @handle_errors
    def triage_(ctx: typer.Context, incident_id: str) -> None:
        """Regression triage: recent deployments, commits, verdict, feasibility, action."""
        with desk(ctx) as d:
            loaded = asyncio.run(d.triage(incident_id))
        t = loaded.extras["triage"]
        console.print(
            f"✓ {incident_id}: {t['verdict']['verdict']} ({t['verdict']['confidence']}); "
            f"rollback {t['feasibility']['level']}; immediate action {t['action']['type']}",
            markup=False,
        )
        for line in t["verdict"]["evidence"]:
            console.print(f"  - {line}", markup=False)

    @incident_app.command("bisect")
    @handle_errors
    def bisect(
        ctx: typer.Context,
        incident_id: str,
        good: str = typer.Option(..., "--good"),
        bad: str = typer.Option(..., "--bad"),
        test: str = typer.Option(
            ..., "--test", help="Exit 0 on good commits (split like a shell, run without one)."
        ),
        timeout: float = typer.Option(600.0, "--timeout"),
    ) -> None:
        """`git bisect run` in a throwaway worktree of incidents.repository."""
        with desk(ctx) as d:
            loaded = asyncio.run(
                d.bisect(incident_id, good=good, bad=bad, test=test, timeout=timeout)
            )
        c = loaded.extras["bisect"]["commit"]
        console.print(
            f"✓ introduced by {c['sha']} {c['subject']} ({c['author']}, {c['date'][:10]})",
            markup=False,
        )
        for name in c["files"]:
            console.print(f"  {name}", markup=False)

    @incident_app.command("mitigate")
    @handle_errors
    def mitigate(
        ctx: typer.Context,
        incident_id: str,
        rollback: bool = typer.Option(
            False, "--rollback", help="Abort or undo through the deploy engine."
        ),
        by: str = typer.Option("cli", "--by"),
    ) -> None:
        """Mitigate through the deploy engine and validate recovery."""
        if not rollback:
            raise UsageError(
                "only --rollback is automated; record other mitigations with 'incident note'"
            )
        with desk(ctx) as d:
            loaded = asyncio.run(d.mitigate_by_rollback(incident_id, by))
        m = loaded.extras["mitigation"]
        console.print(
            f"{'✓' if m['validated'] else '❌'} {incident_id}: rollout {m['rollout_id']} -> "
            f"{m['outcome']} ({'recovery validated' if m['validated'] else 'NOT validated'})",
            markup=False,
        )
        raise typer.Exit(0 if m["validated"] else 1)

    @incident_app.command("rca")
    @handle_errors
    def rca_(
        ctx: typer.Context, incident_id: str, path: Path, by: str = typer.Option("cli", "--by")
    ) -> None:
        """Record a root-cause analysis from YAML (five_whys, fishbone, preventive_actions)."""
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise InputError(f"{path}{where}: not valid YAML") from None
        with desk(ctx) as d:
            loaded = d.record_rca(incident_id, data, str(path), by)
        console.print(
            f"✓ {incident_id}: root cause recorded: {loaded.extras['rca']['root_cause']}",
            markup=False,
        )

    @incident_app.command("action")
    @handle_errors
    def action(
        ctx: typer.Context,
        incident_id: str,
        action_id: str,
        done: bool = typer.Option(False, "--done"),
        not_doing: bool = typer.Option(False, "--not-doing"),
        by: str = typer.Option(..., "--by"),
    ) -> None:
        """Close a preventive action (done, or decided against)."""
        if done == not_doing:
            raise UsageError("say --done or --not-doing")
        with desk(ctx) as d:
            show(d.complete_action(incident_id, action_id, by, not_doing=not_doing), "updated")

    @incident_app.command("evidence")
    @handle_errors
    def evidence(ctx: typer.Context, incident_id: str, by: str = typer.Option(..., "--by")) -> None:
        """Preserve evidence (logs, a metric snapshot, a sha256 manifest) in the incident's
        folder; `mitigate` does it first by itself for security incidents."""
        with desk(ctx) as d:
            loaded = asyncio.run(d.preserve_evidence(incident_id, by))
        ev = loaded.extras["evidence"]
        console.print(
            f"✓ {incident_id}: {len(ev['files'])} file(s), {ev['manifest']}", markup=False
        )

    @incident_app.command("freeze")
    @handle_errors
    def freeze(
        ctx: typer.Context,
        lift: bool = typer.Option(False, "--lift"),
        by: str = typer.Option("cli", "--by"),
        reason: str = typer.Option("", "--reason"),
    ) -> None:
        """Show the change freeze a major incident declared, or lift it."""
        with desk(ctx) as d:
            if lift:
                d.lift_freeze(by, reason)
                console.print(f"✓ change freeze lifted by {by}: {reason}", markup=False)
                return
            active = d.freeze()
        if active is None:
            console.print("no change freeze")
            return
        console.print(
            f"⚠️ change freeze since {active['at'][:16]}: {active['reason']}", markup=False
        )
        for line in active.get("actions", []):
            console.print(f"  - {line}", markup=False)
        raise typer.Exit(1)

    @incident_app.command("stats")
    @handle_errors
    def stats(
        ctx: typer.Context,
        since: str | None = typer.Option(None, "--since", help="ISO date or time (UTC)."),
        output: str = typer.Option("text", "--output", "-o"),
    ) -> None:
        """MTTD / MTTA / MTTE / MTTR by priority, regression detection, rollback success,
        recurrence and PIR completion, from the stored incidents."""
        from datetime import UTC, datetime

        start = None
        if since:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                raise UsageError(f"--since {since!r} is not an ISO date or time") from None
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
        with desk(ctx) as d:
            figures = d.stats(start)
        if output == "json":
            console.print_json(json.dumps(figures))
            return
        console.print(f"{figures['incidents']} incident(s)")
        for prio, row in figures["by_priority"].items():
            cells = []
            for name in ("mttd", "mtta", "mtte", "mttr"):
                mean = row[name]["mean_s"]
                cells.append(f"{name.upper()} " + ("-" if mean is None else f"{mean:.1f}s"))
            console.print(f"  {prio}: " + ", ".join(cells))
        for name in (
            "regression_detection_rate",
            "rollback_success_rate",
            "recurrence_rate",
            "pir_completion_rate",
        ):
            r = figures[name]
            value = "-" if r["value"] is None else f"{100 * r['value']:.0f}%"
            console.print(
                f"  {name.replace('_', ' ')}: {value} ({r['numerator']}/{r['denominator']})"
            )

    @incident_app.command("tick")
    @handle_errors
    def tick(ctx: typer.Context) -> None:
        """Fire due escalations and deliver queued messages once (what `watch` repeats)."""
        with desk(ctx) as d:
            report = asyncio.run(d.tick())
        for incident_id, reason in report.escalations:
            console.print(f"⚠️ {incident_id}: {reason}", markup=False)
        console.print(
            f"✓ {len(report.escalations)} escalation(s), {report.reminders} action reminder(s), "
            f"{report.delivered} delivered, "
            f"{report.failed} failed (retried later)"
            + (" — MAJOR INCIDENT: change freeze" if report.major else "")
        )

    @app.command("watch")
    @handle_errors
    def watch(
        ctx: typer.Context,
        interval: float = typer.Option(15.0, "--interval", min=0.1),
        once: bool = typer.Option(False, "--once"),
    ) -> None:
        """The long-running controller. Every second it adopts the service's active rollout
        when no other controller holds it and drives it to its end; every interval it
        measures SLOs and evaluates their burn-rate alerts (a page opens an incident), fires
        due escalations, delivers messages, and runs the hypercare daily cycle when due.
        Several controllers may share one store: each rollout and each of these timers is
        owned by one of them through a lease, and another takes over if it dies."""
        ws = state(ctx).workspace()
        try:
            asyncio.run(_watch(ws, interval=interval, once=once))
        except KeyboardInterrupt:
            console.print("stopped: leases released; the other controllers take over")


async def _watch(ws: Any, *, interval: float, once: bool) -> None:
    import signal

    from watchstander.cli.output import print_event
    from watchstander.cli.slo import print_day
    from watchstander.clock import SystemClock
    from watchstander.engine.hypercare import HypercareDesk
    from watchstander.engine.incidents import IncidentDesk
    from watchstander.engine.operations import make_metrics
    from watchstander.engine.slo import SloMonitor
    from watchstander.engine.watch import Watcher

    clock = SystemClock()
    source = make_metrics(ws.config)
    try:
        with ws.open_store() as store:
            desk = IncidentDesk(ws, store, clock)
            monitor = SloMonitor(ws.config, store, clock, source, desk=desk)
            care = HypercareDesk(ws, store, clock, source, monitor=monitor)

            async def no_slos() -> None:
                return None

            def on_tick(kind: str, result: Any) -> None:
                if kind == "slo" and result is not None:
                    for name, severity in result.alerts_started:
                        console.print(f"🔥 SLO {name}: burn-rate {severity} alert", markup=False)
                    for incident_id in result.incidents:
                        console.print(f"⚠️ {incident_id} declared for an SLO page", markup=False)
                elif kind == "incidents":
                    for incident_id, reason in result.escalations:
                        console.print(f"⚠️ {incident_id}: {reason}", markup=False)
                elif kind == "hypercare":
                    for day in result:
                        period, _ = care.load()
                        print_day(day, period)

            watcher = Watcher(
                ws=ws,
                store=store,
                clock=clock,
                ticks={
                    "slo": monitor.tick if monitor.slos else no_slos,
                    "incidents": desk.tick,
                    "hypercare": care.tick,
                },
                on_tick=on_tick,
                on_event=lambda r, e: print_event(r, e),
                say=lambda message: console.print(f"watch: {message}", markup=False),
            )
            console.print(f"watch: controller {watcher.holder} on {store.url}", markup=False)
            main = asyncio.current_task()
            loop = asyncio.get_running_loop()
            terminated: list[bool] = []

            def terminate() -> None:
                terminated.append(True)
                if main is not None:
                    main.cancel()

            # SIGTERM ends the loop like Ctrl-C: leases released, rollouts left as stored.
            loop.add_signal_handler(signal.SIGTERM, terminate)
            try:
                await watcher.run(interval=interval, once=once)
            except asyncio.CancelledError:
                if not terminated:
                    raise  # Ctrl-C: asyncio.run turns it back into KeyboardInterrupt
                console.print("stopped: leases released; the other controllers take over")
            finally:
                loop.remove_signal_handler(signal.SIGTERM)
    finally:
        await source.aclose()


def _ask() -> Any:
    from watchstander.incident.intake import INTAKE_QUESTIONS, answers_to_fields

    answers = []
    for i, question in enumerate(INTAKE_QUESTIONS, 1):
        text = (
            question[0] if isinstance(question, tuple) else getattr(question, "text", str(question))
        )
        console.print(f"Q{i}: {text}", markup=False)
        try:
            answers.append(str(typer.prompt(f"Q{i}", default="", show_default=False)))
        except (typer.Abort, EOFError):
            answers.append("")
    from datetime import UTC, datetime

    fields = answers_to_fields(answers, now=datetime.now(UTC))
    for problem in fields.problems:
        console.print(f"  not understood: {problem}", markup=False)
    return fields
