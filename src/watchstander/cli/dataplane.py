"""`watchstander dataplane up|down|status`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer

from watchstander.cli.output import console

__all__ = ["register"]


def register(
    group: typer.Typer, state: Callable[[typer.Context], Any], handle_errors: Callable[[Any], Any]
) -> None:
    @group.command("up")
    @handle_errors
    def up(ctx: typer.Context) -> None:
        """Start the router and supervisor in the background (they outlive this command)."""
        import asyncio

        from watchstander.dataplane import daemon
        from watchstander.engine import operations

        ws = state(ctx).workspace()
        pid = daemon.start(ws.config_path, ws.state_dir)
        console.print(
            f"✓ data plane running (pid {pid}): traffic on http://{ws.config.target.listen}, "
            f"admin on http://{ws.config.target.admin}"
        )
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
    def down(ctx: typer.Context) -> None:
        """Drain and stop the replicas and the router."""
        from watchstander.dataplane import daemon

        ws = state(ctx).workspace()
        stopped = daemon.stop(ws.state_dir)
        console.print("✓ data plane stopped" if stopped else "data plane was not running")

    @group.command("status")
    @handle_errors
    def status(ctx: typer.Context, output: str = typer.Option("table", "--output", "-o")) -> None:
        """Instances, readiness, restarts and weights per version."""
        from rich.table import Table

        from watchstander.dataplane import daemon

        ws = state(ctx).workspace()
        info = daemon.status(ws.config, ws.state_dir)
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
