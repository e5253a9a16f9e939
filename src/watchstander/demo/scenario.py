"""`watchstander demo`: the deploy flow under steady load, on the embedded defaults, with
a second local data plane as staging.

1. v1.0.0 comes up with 3 replicas (the first release); a rollback drill runs on staging;
2. v1.1.0 by canary: ~5% HTTP 500 and ~150 ms slower -> its regression suite fails on
   staging -> the staging regression gate blocks it; production never sees it;
3. v1.1.0 again with --skip-staging -> the production canary's analysis fails -> rolled back;
4. v1.2.0 by blue-green: staging gate passes, production regression gate passes -> succeeds;
5. v1.3.0 by rolling with --skip-staging: crash-loops -> the rollout is undone.
Every version is approved by the release manager and passes through the readiness check
first (CONDITIONAL_GO: the demo has no CI test results or security scans to read, and
accepts that condition out loud).
A load generator sends steady traffic through the router the whole time. The figures in
the final table come from the store's timeline, the load generator's own counts and the
data plane's instance states, not from the scenario's expectations.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from watchstander.clock import SystemClock
from watchstander.dataplane import daemon
from watchstander.demo.loadgen import LoadGenerator
from watchstander.demo.setup import write_demo
from watchstander.engine import operations
from watchstander.engine.gates import rollback_drill
from watchstander.engine.pipeline import prepare
from watchstander.errors import BlockedError
from watchstander.gates.models import Approval
from watchstander.release.models import Event, Rollout, RolloutPhase, Severity, Strategy
from watchstander.store.repository import Store

__all__ = ["run_demo", "SCENARIO", "DemoRow"]

BLOCKED = "Blocked"  # stopped by a gate before production was touched
# (version, strategy, skip the staging gate, expected outcome)
SCENARIO: tuple[tuple[str, Strategy, bool, str], ...] = (
    ("1.1.0", Strategy.CANARY, False, BLOCKED),
    ("1.1.0", Strategy.CANARY, True, RolloutPhase.ROLLED_BACK.value),
    ("1.2.0", Strategy.BLUE_GREEN, False, RolloutPhase.SUCCEEDED.value),
    ("1.3.0", Strategy.ROLLING, True, RolloutPhase.ROLLED_BACK.value),
)
RPS = 100.0


@dataclass
class DemoRow:
    version: str
    strategy: str
    outcome: str
    expected: str
    detect_s: float | None
    restore_s: float | None
    bad_version_requests: int
    connection_errors: int

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected and self.connection_errors == 0


class _CrashWatch:
    """Records when each version's first instance crashed (seen in the target's state)."""

    def __init__(self, ws: operations.Workspace) -> None:
        self.ws = ws
        self.first_crash: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        target = operations.make_target(self.ws.config)
        try:
            while True:
                try:
                    state = await target.state()
                except Exception:  # noqa: BLE001 - a missed poll is only a missed sample
                    state = None
                if state is not None:
                    for inst in state.instances:
                        crashed = [t for t in inst.restart_times]
                        if crashed and inst.version not in self.first_crash:
                            self.first_crash[inst.version] = min(crashed)
                await asyncio.sleep(0.2)
        finally:
            await target.aclose()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _ts(value: datetime) -> float:
    return value.timestamp()


def _first_bad_request(load: LoadGenerator, rollout: Rollout, *, since: float) -> float | None:
    """The first request the new version answered badly: a 5xx, or slower than the
    previous version's p99 over the 10 s before the deployment + 20% + 50 ms (the demo's
    latency trigger)."""
    before = sorted(
        r.latency_s
        for r in load.results
        if r.version == rollout.stable_version and since - 10 <= r.sent_at < since and r.status
    )
    p99 = before[min(len(before) - 1, int(0.99 * len(before)))] if before else 0.0
    slow = p99 * 1.2 + 0.050
    times = [
        r.sent_at
        for r in load.results
        if r.version == rollout.version
        and r.sent_at >= since
        and ((r.status or 0) >= 500 or r.latency_s > slow)
    ]
    return min(times, default=None)


def _figures(
    store: Store, rollout: Rollout, load: LoadGenerator, crashes: _CrashWatch, started: float
) -> tuple[float | None, float | None]:
    events = store.events(rollout.id)
    detected = next((e for e in events if e.kind == "rollback.started"), None)
    restored = next((e for e in events if e.kind == "traffic.restored"), None)
    if detected is None:
        return None, None
    candidates = []
    bad = _first_bad_request(load, rollout, since=started)
    if bad is not None:
        candidates.append(bad)
    if rollout.version in crashes.first_crash:
        candidates.append(crashes.first_crash[rollout.version])
    first_bad = min(candidates) if candidates else None
    detect = _ts(detected.at) - first_bad if first_bad is not None else None
    restore = _ts(restored.at) - _ts(detected.at) if restored is not None else None
    return detect, restore


async def run_demo(workdir: Path, *, console: Console | None = None, rps: float = RPS) -> int:
    out = console or Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, 110)  # the results table, readable in logs and CI
    workdir = workdir.resolve()
    if (workdir / ".watchstander").exists():
        daemon.stop(workdir / ".watchstander" / "staging")
        daemon.stop(workdir / ".watchstander")
    # A demo run starts from nothing: old state, reports and logs would mix with the new.
    for leftover in (".watchstander", ".aiwg"):
        shutil.rmtree(workdir / leftover, ignore_errors=True)
    write_demo(workdir)
    ws = operations.Workspace.load(workdir)
    t0 = time.monotonic()

    def show(rollout: Rollout, event: Event) -> None:
        if (
            event.kind in ("action.intent", "step.completed", "analysis.measured")
            and event.severity is Severity.INFO
        ):
            return
        icon = {"ERROR": "❌", "CRITICAL": "❌", "WARNING": "⚠️"}.get(event.severity.value, "✓")
        if event.kind.endswith(".started") and event.severity is Severity.INFO:
            icon = "⏳"
        out.print(f"  [dim]{time.monotonic() - t0:6.1f}s[/dim] {icon} {event.message}")

    out.print(f"[bold]watchstander demo[/bold] in {workdir}")
    pid = daemon.start(ws.config_path, ws.state_dir)
    out.print(f"✓ data plane up (pid {pid}) on http://{ws.config.target.listen}")
    staging_dir = ws.state_dir / "staging"
    assert ws.config.staging is not None
    spid = daemon.start(ws.config_path, staging_dir, environment="staging")
    out.print(f"✓ staging data plane up (pid {spid}) on http://{ws.config.staging.target.listen}")
    rows: list[DemoRow] = []
    load = LoadGenerator(f"http://{ws.config.target.listen}", rps=rps)
    crashes = _CrashWatch(ws)
    clock = SystemClock()

    def say(line: str) -> None:
        out.print(f"  {line}", markup=False, highlight=False)

    async def ship(version: str, strategy: Strategy | None, skip_staging: bool) -> Rollout | None:
        """The deploy command's flow: approve, readiness, staging gate, rollout."""
        with ws.open_store() as store:
            store.add_approval(
                Approval(
                    service=ws.config.service.name,
                    version=version,
                    role="release-manager",
                    by="demo release manager",
                    at=clock.now(),
                    comment="watchstander demo",
                )
            )
        say(f"✓ release-manager approved {version}")

        def accept(question: str) -> bool:
            say(f"{question} yes (the demo accepts: it has no CI results to read)")
            return True

        try:
            prepared = await prepare(
                ws,
                version,
                clock=clock,
                strategy=strategy,
                guidance=None,
                threshold=None,
                confirm=lambda question: True,
                confirm_conditions=accept,
                say=say,
                skip_staging=skip_staging,
            )
        except BlockedError as exc:
            out.print(f"  ❌ {str(exc).splitlines()[0]}", markup=False, highlight=False)
            return None
        return await operations.deploy(
            ws,
            version,
            strategy=prepared.strategy,
            regression_threshold=prepared.threshold,
            strategy_config=prepared.strategy_config,
            gate_ids=prepared.gate_ids,
            preamble=prepared.preamble,
            clock=clock,
            on_event=show,
        )

    try:
        out.print("[bold]1. v1.0.0, first release, 3 replicas[/bold]")
        first = await ship("1.0.0", None, False)
        if first is None or first.phase is not RolloutPhase.SUCCEEDED:
            out.print(f"❌ v1.0.0 did not come up: {first.message if first else 'blocked'}")
            return 1
        await load.start()
        crashes.start()
        with ws.open_store() as store:
            drill = await rollback_drill(
                ws, store, version="1.2.0", to_version="1.0.0", clock=clock
            )
        out.print(
            f"  {'✓' if drill.ok else '❌'} rollback drill on staging: 1.2.0 -> 1.0.0 "
            f"in {drill.duration * 1000:.0f} ms ({drill.detail})",
            markup=False,
            highlight=False,
        )
        # Let the stable version build a baseline before the first canary.
        await asyncio.sleep(ws.config.analysis.interval + 1.0)
        for number, (version, strategy, skip, expected) in enumerate(SCENARIO, start=2):
            note = " with --skip-staging" if skip else ""
            out.print(f"[bold]{number}. v{version} by {strategy.value}{note}[/bold]")
            errors_before = load.report().connection_errors
            served_before = load.report().by_version.get(version, 0)
            started = time.time()
            rollout = await ship(version, strategy, skip)
            report = load.report()
            if rollout is None:
                detect, restore, outcome = None, None, BLOCKED
            else:
                with ws.open_store() as store:
                    detect, restore = _figures(store, rollout, load, crashes, started)
                    _close_incident(ws, store, clock, rollout, say)
                outcome = rollout.phase.value
            rows.append(
                DemoRow(
                    version=version,
                    strategy=strategy.value + (" (no staging)" if skip else ""),
                    outcome=outcome,
                    expected=expected,
                    detect_s=detect,
                    restore_s=restore,
                    bad_version_requests=(
                        report.by_version.get(version, 0) - served_before
                        if expected != RolloutPhase.SUCCEEDED.value
                        else 0
                    ),
                    connection_errors=report.connection_errors - errors_before,
                )
            )
            # Let traffic settle on the version now serving before the next deployment.
            await asyncio.sleep(1.0)
        hypercare_ok = await _hypercare(ws, clock, out)
    finally:
        await crashes.stop()
        await load.stop()
        daemon.stop(ws.state_dir)
        daemon.stop(staging_dir)
    _table(out, rows, load)
    out.print("[bold]Artifacts[/bold]")
    for path in sorted((ws.reports_root).rglob("*.md")):
        if "archive" not in path.parts:
            out.print(f"  {path.relative_to(workdir)}")
    ok = all(r.ok for r in rows) and len(rows) == len(SCENARIO) and hypercare_ok
    out.print(
        f"[bold]{'✓ every outcome matched the scenario' if ok else '❌ an outcome did not match the scenario'}[/bold]"
        f" ({time.monotonic() - t0:.0f}s)"
    )
    return 0 if ok else 1


async def _hypercare(ws: operations.Workspace, clock: Any, out: Console) -> bool:
    """Start a short hypercare for the release that succeeded and print its day-1 status,
    measured from the data plane (the SLO engine backfills the demo's traffic)."""
    from watchstander.cli.slo import print_day
    from watchstander.engine.hypercare import HypercareDesk
    from watchstander.engine.incidents import IncidentDesk
    from watchstander.engine.slo import SloMonitor

    out.print("[bold]6. Hypercare for the release that succeeded[/bold]")
    source = operations.make_metrics(ws.config)
    try:
        with ws.open_store() as store:
            desk = IncidentDesk(ws, store, clock)
            monitor = SloMonitor(ws.config, store, clock, source, desk=desk)
            care = HypercareDesk(ws, store, clock, source, monitor=monitor)
            tick = await monitor.tick()
            period, paths = care.start(days=3, risk="low", guidance="demo: stability first")
            out.print(
                f"  ✓ {period.id}: {period.service} {period.version}, {period.days} days;"
                f" {tick.buckets} SLI buckets measured, {tick.snapshots} snapshots",
                markup=False,
                highlight=False,
            )
            for path in paths:
                out.print(f"  ✓ {path.relative_to(ws.root)}", markup=False, highlight=False)
            day = await care.preview()
            print_day(day, period, out)
            measured = all(s["sli_24h"] is not None for s in day["slos"]) and bool(day["slos"])
    finally:
        await source.aclose()
    return measured


def _close_incident(
    ws: operations.Workspace, store: Store, clock: SystemClock, rollout: Rollout, say: Any
) -> None:
    """The incident a rollback declared: the rollback already mitigated it and verified
    recovery, so the demo's incident commander resolves it (an open P1 would rightly make
    every later deploy NO-GO)."""
    from watchstander.engine.incidents import IncidentDesk
    from watchstander.incident.models import IncidentStatus

    desk = IncidentDesk(ws, store, clock)
    for data in store.incidents(open_only=True):
        if data.get("rollout_id") != rollout.id:
            continue
        desk.acknowledge(str(data["id"]), "demo incident commander")
        desk.set_status(
            str(data["id"]),
            IncidentStatus.RESOLVED,
            "demo incident commander",
            "the automatic rollback restored service and was verified",
        )
        say(f"✓ incident {data['id']} resolved: rollback verified; review due within 48 h")


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(out: Console, rows: list[DemoRow], load: LoadGenerator) -> None:
    table = Table(title="demo results")
    for col in (
        "version",
        "strategy",
        "outcome",
        "expected",
        "detect s",
        "restore s",
        "bad reqs",
        "conn errs",
    ):
        table.add_column(col)
    for r in rows:
        style = "green" if r.ok else "red"
        table.add_row(
            r.version,
            r.strategy,
            f"[{style}]{r.outcome}[/{style}]",
            r.expected,
            _fmt(r.detect_s, 1),
            _fmt(r.restore_s, 2),
            str(r.bad_version_requests) if r.expected != "Succeeded" else "-",
            str(r.connection_errors),
        )
    out.print(table)
    out.print(
        "[dim]detect s: first bad request (5xx, too slow, or a crash) to the rollback decision; "
        "restore s: rollback decision to all traffic back on the previous version; "
        "bad reqs: requests the bad version answered; conn errs: connection errors the load "
        "generator saw during that deployment[/dim]"
    )
    total = load.report()
    out.print(
        f"load generator: {total.requests} requests, {total.connection_errors} connection errors, "
        f"status classes {dict(sorted(total.by_status.items()))}"
    )
