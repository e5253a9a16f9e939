"""`watchstander demo` and `watchstander demo init`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from watchstander.cli.output import console

__all__ = ["register"]

DEFAULT_WORKDIR = Path("watchstander-demo")


def register(app: typer.Typer, handle_errors: Callable[[Any], Any]) -> None:
    demo_app = typer.Typer(
        help="Run the three-deployment demo (or write its config with 'demo init').",
        invoke_without_command=True,
    )
    app.add_typer(demo_app, name="demo")

    @demo_app.callback()
    @handle_errors
    def demo(
        ctx: typer.Context,
        workdir: Path = typer.Option(
            DEFAULT_WORKDIR, "--workdir", "-w", help="Where the demo keeps its files."
        ),
    ) -> None:
        """Canary that rolls back, blue-green that succeeds, rolling that is undone."""
        if ctx.invoked_subcommand is not None:
            return
        import asyncio

        from watchstander.demo.scenario import run_demo

        raise typer.Exit(asyncio.run(run_demo(workdir, console=console)))

    @demo_app.command("init")
    @handle_errors
    def demo_init(
        workdir: Path = typer.Option(DEFAULT_WORKDIR, "--workdir", "-w"),
    ) -> None:
        """Write the demo's watchstander.yaml and fault profile into WORKDIR."""
        from watchstander.demo.setup import write_demo

        path = write_demo(workdir)
        console.print(f"✓ wrote {path}")
        console.print(f"  next: watchstander -C {workdir} dataplane up")
        console.print(f"        watchstander -C {workdir} deploy 1.0.0 --yes")
        console.print(f"        watchstander -C {workdir} deploy 1.1.0 --strategy canary --yes")
