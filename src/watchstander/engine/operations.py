"""Deploy and control rollouts: the library API behind the CLI (and later the service).

A Workspace is a directory with a watchstander.yaml; everything it needs (store, target,
metric source, reports folder) is derived from it and passed explicitly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from watchstander.clock import Clock, SystemClock
from watchstander.config.loader import find_config, load_config
from watchstander.config.models import Config, StrategyConfig, local_target
from watchstander.engine.controller import RolloutController, apply_commands
from watchstander.engine.lease import ServiceLease
from watchstander.engine.settings import settings_from_config
from watchstander.errors import ConflictError, NotFoundError, UsageError, WatchstanderError
from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.registry import load_provider
from watchstander.providers.targets.base import Target
from watchstander.release.models import (
    Command,
    Event,
    Rollout,
    RolloutPhase,
    Strategy,
)
from watchstander.release.plan import build_plan
from watchstander.store.repository import Store

__all__ = [
    "Workspace",
    "make_target",
    "make_metrics",
    "create_rollout",
    "deploy",
    "create_detached",
    "declare_incident",
    "resume",
    "control",
    "undo",
    "retry",
    "VERSION_PATTERN",
    "validate_version",
]

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


@dataclass
class Workspace:
    root: Path
    config_path: Path
    config: Config

    @classmethod
    def load(cls, root: Path, config_path: Path | None = None) -> Workspace:
        path = config_path or find_config(root)
        root = root.resolve()
        config = load_config(path).with_root(root)
        return cls(root=root, config_path=path.resolve(), config=config)

    @property
    def state_dir(self) -> Path:
        return self.root / ".watchstander"

    @property
    def reports_root(self) -> Path:
        return self.root / self.config.reports.dir

    def open_store(self) -> Store:
        store = self.config.store
        return Store.open(store.url, workdir=self.root, password_env=store.password_env)


def make_target(config: Config) -> Target:
    cls = load_provider("watchstander.targets", config.target.type)
    target: Target = cls(config.target, service=config.service.name)
    return target


def make_metrics(config: Config) -> MetricSource:
    cls = load_provider("watchstander.metrics", config.metrics.type)
    if config.metrics.type == "builtin":
        # The builtin source reads the local router's per-version statistics.
        source: MetricSource = cls(local_target(config).admin)
        return source
    source = cls(config.metrics)
    return source


def create_rollout(
    *,
    store: Store,
    config: Config,
    version: str,
    strategy: Strategy | None,
    now: datetime,
    rollback_on_regression: bool | None = None,
    stable_version: str | None = None,
    parent_id: str | None = None,
    regression_threshold: float | None = None,
    strategy_config: StrategyConfig | None = None,
    gate_ids: Sequence[int] = (),
    preamble: Sequence[Event] = (),
) -> Rollout:
    service = config.service.name
    validate_version(config, version)
    active = store.active_rollout(service)
    if active is not None:
        raise ConflictError(
            f"rollout {active.id} of {service} {active.version} is still {active.phase.value}: "
            "wait for it, or 'watchstander rollout abort'"
        )
    stable = stable_version if stable_version is not None else store.stable_version(service)
    if stable == version and strategy is not Strategy.UNDO:
        raise UsageError(f"{service} {version} is already live")
    chosen = strategy or Strategy(config.strategy.default)
    if stable is None:
        chosen = Strategy.INITIAL
    gate = config.regression.production_gate
    plan = build_plan(
        chosen,
        strategy_config or config.strategy,
        replicas=config.target.replicas,
        analysis_count=config.analysis.count,
        has_smoke=bool(config.smoke),
        has_stable=stable is not None,
        regression_gate=gate,
        baseline_checks=bool(config.smoke or config.regression.journeys),
        native_rolling=config.target.native_rolling,
        preview_smoke=config.target.header_routing,
    )
    rollout = Rollout(
        id=store.next_rollout_id(service, now),
        service=service,
        version=version,
        stable_version=stable,
        strategy=chosen,
        replicas=config.target.replicas,
        plan=plan,
        rollback_on_regression=(
            config.rollback.on_regression
            if rollback_on_regression is None
            else rollback_on_regression
        ),
        regression_threshold=(
            config.regression.threshold if regression_threshold is None else regression_threshold
        ),
        regression_scope=config.regression.production_scope,
        created_at=now,
        updated_at=now,
        parent_id=parent_id,
    )
    note = ""
    if config.smoke and not config.target.header_routing and chosen in _PREVIEWED:
        note = (
            f" (no preview smoke tests: target {config.target.type} cannot send a request to "
            "one version by header; the smoke tests run in production after the switch)"
        )
    store.create_rollout(
        rollout,
        [
            *preamble,
            Event(
                at=now,
                kind="rollout.created",
                message=f"{chosen.value} rollout of {service} {version} planned in {len(plan)} steps"
                + note,
                data={
                    "plan": [s.label for s in plan],
                    "stable": stable,
                    "config_hash": hashlib.sha256(config.model_dump_json().encode()).hexdigest()[
                        :16
                    ],
                },
            ),
        ],
    )
    store.link_gates(gate_ids, rollout.id)
    return rollout


_PREVIEWED = frozenset({Strategy.CANARY, Strategy.BLUE_GREEN})


def validate_version(config: Config, version: str) -> None:
    """Refuse a malformed version, or one the target does not know, before touching anything."""
    if not VERSION_PATTERN.match(version):
        raise UsageError(f"{version!r} is not a version (letters, digits, '.', '_', '+', '-')")
    known = config.target.versions
    if known is not None and version not in known:
        raise NotFoundError(
            f"unknown version {version!r} of {config.service.name} "
            f"(target.versions lists: {', '.join(known)})"
        )


EventSink = Callable[[Rollout, Event], None]


def _controller(
    ws: Workspace,
    store: Store,
    target: Target,
    metrics: MetricSource,
    clock: Clock,
    on_event: EventSink | None,
) -> RolloutController:
    return RolloutController(
        store=store,
        target=target,
        metrics=metrics,
        config=ws.config,
        settings=settings_from_config(ws.config),
        clock=clock,
        reports_root=ws.reports_root,
        on_event=on_event,
    )


async def _drive(
    ws: Workspace,
    *,
    clock: Clock,
    on_event: EventSink | None,
    start: Callable[[Store], Rollout],
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> Rollout:
    own_target = target is None
    own_metrics = metrics is None
    target = target or make_target(ws.config)
    metrics = metrics or make_metrics(ws.config)
    try:
        await target.ping()
        with ws.open_store() as store:
            controller = _controller(ws, store, target, metrics, clock, on_event)
            try:
                taken = controller.acquire(ws.config.service.name)
            except ConflictError as exc:
                active = store.active_rollout(ws.config.service.name)
                if active is None:
                    raise
                raise ConflictError(
                    f"rollout {active.id} of {active.service} {active.version} is still "
                    f"{active.phase.value} and {exc}"
                ) from None
            try:
                rollout = start(store)
                rollout = await controller.run(rollout.id, taken=taken)
            finally:
                controller.release(ws.config.service.name)
            await declare_incident(ws, store, rollout, clock, on_event)
            return rollout
    finally:
        if own_target:
            await target.aclose()
        if own_metrics:
            await metrics.aclose()


async def declare_incident(
    ws: Workspace, store: Store, rollout: Rollout, clock: Clock, on_event: EventSink | None
) -> None:
    """A deploy that rolled back (or whose rollback failed) declares an incident linked to
    it (incidents.auto_declare). A failure here is recorded on the rollout, never raised:
    the deploy's outcome stands either way."""
    if not ws.config.incidents.auto_declare:
        return
    if rollout.phase not in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED):
        return
    from watchstander.engine.incidents import IncidentDesk
    from watchstander.release.models import Severity

    try:
        loaded = await IncidentDesk(ws, store, clock).declare_from_rollout(rollout)
    except WatchstanderError as exc:
        event = Event(
            at=clock.now(),
            kind="incident.declare_failed",
            message=f"could not declare the incident: {exc}",
            severity=Severity.ERROR,
        )
    else:
        if loaded is None:
            return
        inc = loaded.incident
        event = Event(
            at=clock.now(),
            kind="incident.declared",
            message=f"incident {inc.id} ({inc.priority.value}) declared: {inc.title}",
            severity=Severity.CRITICAL if inc.priority.value == "P0" else Severity.ERROR,
            data={"incident": inc.id, "priority": inc.priority.value},
        )
    store.append_event(rollout_id=rollout.id, service=rollout.service, event=event)
    if on_event is not None:
        on_event(rollout, event)


async def deploy(
    ws: Workspace,
    version: str,
    *,
    strategy: Strategy | None = None,
    rollback_on_regression: bool | None = None,
    regression_threshold: float | None = None,
    strategy_config: StrategyConfig | None = None,
    gate_ids: Sequence[int] = (),
    preamble: Sequence[Event] = (),
    clock: Clock | None = None,
    on_event: EventSink | None = None,
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> Rollout:
    """Create a rollout of `version` and drive it to its end in this process. Gate
    records (`gate_ids`) are linked to it and `preamble` opens its timeline."""
    clock = clock or SystemClock()
    validate_version(ws.config, version)

    options = _options(
        strategy,
        rollback_on_regression,
        regression_threshold,
        strategy_config,
        gate_ids,
        preamble,
    )

    def start(store: Store) -> Rollout:
        return create_rollout(
            store=store, config=ws.config, version=version, now=clock.now(), **options
        )

    return await _drive(
        ws, clock=clock, on_event=on_event, start=start, target=target, metrics=metrics
    )


def create_detached(
    ws: Workspace,
    version: str,
    *,
    strategy: Strategy | None = None,
    rollback_on_regression: bool | None = None,
    regression_threshold: float | None = None,
    strategy_config: StrategyConfig | None = None,
    gate_ids: Sequence[int] = (),
    preamble: Sequence[Event] = (),
    clock: Clock | None = None,
) -> Rollout:
    """Create a rollout of `version` and leave it Pending for a `watchstander watch`
    controller to adopt and drive (`deploy --detach`)."""
    clock = clock or SystemClock()
    with ws.open_store() as store:
        return create_rollout(
            store=store,
            config=ws.config,
            version=version,
            now=clock.now(),
            **_options(
                strategy,
                rollback_on_regression,
                regression_threshold,
                strategy_config,
                gate_ids,
                preamble,
            ),
        )


def _options(
    strategy: Strategy | None,
    rollback_on_regression: bool | None,
    regression_threshold: float | None,
    strategy_config: StrategyConfig | None,
    gate_ids: Sequence[int],
    preamble: Sequence[Event],
) -> dict[str, Any]:
    """The create_rollout options `deploy` and `deploy --detach` share."""
    return {
        "strategy": strategy,
        "rollback_on_regression": rollback_on_regression,
        "regression_threshold": regression_threshold,
        "strategy_config": strategy_config,
        "gate_ids": gate_ids,
        "preamble": preamble,
    }


def _find(store: Store, ws: Workspace, rollout_id: str | None) -> Rollout:
    if rollout_id:
        return store.get_rollout(rollout_id)
    service = ws.config.service.name
    rollout = store.active_rollout(service) or store.find_rollout(service)
    if rollout is None:
        raise NotFoundError(f"no rollout of {service} yet (run 'watchstander deploy VERSION')")
    return rollout


async def resume(
    ws: Workspace,
    rollout_id: str | None = None,
    *,
    clock: Clock | None = None,
    on_event: EventSink | None = None,
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> tuple[Rollout, bool]:
    """Continue a rollout from its stored state to a consistent end (after a crash, or
    after a pause). A paused rollout is unpaused: through the controller that drives it,
    if one is running (then this returns at once, with driven_here False)."""
    clock = clock or SystemClock()
    with ws.open_store() as store:
        rollout = _find(store, ws, rollout_id)
    if rollout.paused:
        return await control(
            ws,
            "resume",
            rollout_id=rollout.id,
            clock=clock,
            on_event=on_event,
            target=target,
            metrics=metrics,
        )
    return await _continue(
        ws, rollout.id, clock=clock, on_event=on_event, target=target, metrics=metrics
    ), True


async def _continue(
    ws: Workspace,
    rollout_id: str,
    *,
    clock: Clock,
    on_event: EventSink | None,
    target: Target | None,
    metrics: MetricSource | None,
) -> Rollout:
    return await _drive(
        ws,
        clock=clock,
        on_event=on_event,
        start=lambda store: store.get_rollout(rollout_id),
        target=target,
        metrics=metrics,
    )


async def control(
    ws: Workspace,
    name: str,
    *,
    rollout_id: str | None = None,
    args: dict[str, Any] | None = None,
    by: str = "cli",
    clock: Clock | None = None,
    on_event: EventSink | None = None,
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> tuple[Rollout, bool]:
    """Queue pause | resume | promote | abort. If a controller is running it applies the command
    within one poll; otherwise this process applies it and, for promote and abort, drives
    the rollout on to its end. Returns (rollout, driven_here)."""
    clock = clock or SystemClock()
    with ws.open_store() as store:
        rollout = _find(store, ws, rollout_id)
        if rollout.terminal:
            raise UsageError(f"rollout {rollout.id} is already {rollout.phase.value}")
        store.enqueue_command(
            Command(rollout_id=rollout.id, name=name, args=args or {}, by=by, at=clock.now())
        )
        lease = ServiceLease(store, clock)
        try:
            lease.acquire(rollout.service)
        except ConflictError:
            return rollout, False  # a live controller applies it within one poll
        try:
            if name == "pause":
                # Nothing to perform: apply it here and leave the rollout paused.
                return apply_commands(store, store.get_rollout(rollout.id), clock, on_event), True
        finally:
            lease.release(rollout.service)
    done = await _continue(
        ws, rollout.id, clock=clock, on_event=on_event, target=target, metrics=metrics
    )
    return done, True


async def undo(
    ws: Workspace,
    *,
    clock: Clock | None = None,
    on_event: EventSink | None = None,
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> Rollout:
    """Roll a completed release back to the version that served before it."""
    clock = clock or SystemClock()
    service = ws.config.service.name

    def start(store: Store) -> Rollout:
        history = store.release_history(service)
        if len(history) < 2:
            raise NotFoundError(f"{service} has no earlier release to go back to")
        current, previous = history[0].version, history[1].version  # newest first
        return create_rollout(
            store=store,
            config=ws.config,
            version=previous,
            strategy=Strategy.UNDO,
            now=clock.now(),
            stable_version=current,
        )

    return await _drive(
        ws, clock=clock, on_event=on_event, start=start, target=target, metrics=metrics
    )


async def retry(
    ws: Workspace,
    *,
    clock: Clock | None = None,
    on_event: EventSink | None = None,
    target: Target | None = None,
    metrics: MetricSource | None = None,
) -> Rollout:
    """Start the last rolled-back or aborted rollout again, with the same plan."""
    clock = clock or SystemClock()
    service = ws.config.service.name

    def start(store: Store) -> Rollout:
        last = store.find_rollout(service)
        if last is None or last.phase not in (
            RolloutPhase.ROLLED_BACK,
            RolloutPhase.ABORTED,
            RolloutPhase.FAILED,
        ):
            raise UsageError(f"nothing to retry: the last rollout of {service} did not roll back")
        return create_rollout(
            store=store,
            config=ws.config,
            version=last.version,
            strategy=last.strategy,
            now=clock.now(),
            rollback_on_regression=last.rollback_on_regression,
            parent_id=last.id,
        )

    return await _drive(
        ws, clock=clock, on_event=on_event, start=start, target=target, metrics=metrics
    )
