"""`watchstander dataplane up|down|status`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer

from watchstander.cli.output import console
from watchstander.config.models import local_target

__all__ = ["register"]

ENVIRONMENT = typer.Option(
    "production", "--environment", "-e", help="production (target:) or staging (staging.target:)."
)


def _config_for(ws: Any, environment: str) -> Any:
    from watchstander.errors import UsageError

    try:
        return ws.config.for_environment(environment)
    except ValueError as exc:
        raise UsageError(f"{exc}: environments are production and staging") from None


def _state_dir(ws: Any, environment: str) -> Any:
    return ws.state_dir if environment == "production" else ws.state_dir / environment


def register(
    group: typer.Typer, state: Callable[[typer.Context], Any], handle_errors: Callable[[Any], Any]
) -> None:
    @group.command("up")
    @handle_errors
    def up(ctx: typer.Context, environment: str = ENVIRONMENT) -> None:
        """Start the router and supervisor in the background (they outlive this command)."""
        import asyncio

        from watchstander.dataplane import daemon
        from watchstander.engine import operations

        ws = state(ctx).workspace()
        config = _config_for(ws, environment)
        pid = daemon.start(ws.config_path, _state_dir(ws, environment), environment=environment)
        console.print(
            f"✓ {environment} data plane running (pid {pid}): traffic on "
            f"http://{config.target.listen}, admin on http://{local_target(config).admin}"
        )
        if environment != "production":
            return
        # Bring back what production ran last, so `up` after a reboot restores service.
        with ws.open_store() as store:
            stable = store.stable_version(ws.config.service.name)
        if stable is not None:
            asyncio.run(_restore(operations, ws, stable))
            console.print(
                f"✓ {ws.config.service.name} {stable} serving ({ws.config.target.replicas} replicas)"
            )

    @group.command("down")
    @handle_errors
    def down(ctx: typer.Context, environment: str = ENVIRONMENT) -> None:
        """Drain and stop the replicas and the router."""
        from watchstander.dataplane import daemon

        ws = state(ctx).workspace()
        _config_for(ws, environment)
        stopped = daemon.stop(_state_dir(ws, environment))
        console.print("✓ data plane stopped" if stopped else "data plane was not running")

    @group.command("status")
    @handle_errors
    def status(
        ctx: typer.Context,
        output: str = typer.Option("table", "--output", "-o"),
        environment: str = ENVIRONMENT,
    ) -> None:
        """Instances, readiness, restarts and weights per version."""
        from rich.table import Table

        from watchstander.dataplane import daemon

        ws = state(ctx).workspace()
        info = daemon.status(_config_for(ws, environment), _state_dir(ws, environment))
        if output == "json":
            console.print_json(json.dumps(info, default=str))
            return
        if not info.get("running"):
            console.print(f"data plane is not running ({info.get('reason', 'no pid file')})")
            raise typer.Exit(6)
        console.print(f"data plane pid {info.get('pid')}: weights {info.get('weights')}")
        table = Table(
            "instance", "version", "address", "ready", "restarts", "oom kills", "last exit"
        )
        for inst in info.get("instances", []):
            table.add_row(
                str(inst.get("id")),
                str(inst.get("version")),
                str(inst.get("address")),
                "yes" if inst.get("ready") else ("draining" if inst.get("draining") else "no"),
                str(inst.get("restarts")),
                str(inst.get("oom_kills")),
                str(inst.get("last_exit_code")),
            )
        console.print(table)


async def _restore(operations: Any, ws: Any, version: str) -> None:
    target = operations.make_target(ws.config)
    try:
        await target.scale(version, ws.config.target.replicas)
        await target.set_weights({version: 100.0})
    finally:
        await target.aclose()
