"""`python -m watchstander.dataplane --config PATH --state-dir DIR [--detach]`.

Startup is ordered so that every mistake a user can make is reported to the terminal that
ran `watchstander dataplane up`, and only then does the daemon detach: load the config,
bind both ports, then (with --detach) fork, start a new session and send stdio to
DIR/dataplane.log. The forked child is not a child of the caller, so killing the caller
(or the whole control plane) leaves the data plane serving.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from watchstander.config.loader import load_config
from watchstander.config.models import local_target
from watchstander.dataplane import state
from watchstander.dataplane.server import DataPlane, bind
from watchstander.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchstander.dataplane")
    parser.add_argument("--config", required=True, type=Path, help="watchstander.yaml")
    parser.add_argument("--state-dir", required=True, type=Path, help="pid, state and logs")
    parser.add_argument(
        "--detach", action="store_true", help="fork into the background after binding"
    )
    parser.add_argument(
        "--environment",
        default="production",
        help="which target of the config to serve: production (target) or staging",
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config).for_environment(args.environment)
    except ValueError as exc:
        print(f"error: {args.config}: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state_dir: Path = args.state_dir.resolve()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create {state_dir}: {exc.strerror}", file=sys.stderr)
        return 1
    sockets = []
    for address in (config.target.listen, local_target(config).admin):
        try:
            sockets.append(bind(address))
        except OSError as exc:
            print(f"error: cannot listen on {address}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    if args.detach:
        _detach(state_dir / state.LOG_FILE)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    pid_path = state_dir / state.PID_FILE
    tmp = pid_path.with_name(f".{pid_path.name}.tmp")
    tmp.write_text(f"{os.getpid()}\n", encoding="ascii")
    os.replace(tmp, pid_path)
    plane = DataPlane(config, config_dir=args.config.resolve().parent, state_dir=state_dir)
    try:
        asyncio.run(plane.run(sockets[0], sockets[1]))
    except Exception:
        logging.getLogger("watchstander.dataplane").exception("the data plane failed")
        return 1
    finally:
        with contextlib.suppress(OSError):
            if pid_path.read_text(encoding="ascii").strip() == str(os.getpid()):
                pid_path.unlink()
    return 0


def _detach(log_path: Path) -> None:
    """Fork; the parent exits 0 at once, the child leads a new session logging to a file."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
