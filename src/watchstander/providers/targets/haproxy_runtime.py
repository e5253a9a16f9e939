"""HAProxy's runtime API as plain functions: send one command, parse `show stat`, map
traffic percents onto server weights.

The runtime API (the `stats socket` of haproxy.cfg, `level admin`) answers one command per
connection in its non-interactive mode: we write the command and a newline, read until
HAProxy closes the connection, and judge the text. Setters answer an empty line when they
succeed and a sentence when they refuse ("No such server.", "Absolute weight can only be
between 0 and 256 inclusive."), so anything else is an error. Every failure is a
DataPlaneError of one line naming the socket and the command; nothing here reloads
HAProxy, so changing weights never drops a connection.

Names that end up in a command (backend, server, address) are checked against a strict
alphabet first: a newline or a `;` in a name would otherwise run a second command.
"""

from __future__ import annotations

import asyncio
import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watchstander.config.haproxy import NAME_PATTERN, check_name
from watchstander.errors import DataPlaneError

__all__ = [
    "MAX_WEIGHT",
    "NAME_PATTERN",
    "RuntimeApi",
    "ServerStat",
    "check_name",
    "health_failures",
    "parse_address",
    "parse_stat",
    "server_weights",
    "version_weights",
    "run_command",
]

MAX_WEIGHT = 256  # HAProxy's largest server weight
_READ_LIMIT = 16 * 1024 * 1024
_OK_ANSWERS = {"add server": "New server registered.", "del server": "Server deleted."}


@dataclass(frozen=True)
class RuntimeApi:
    """Where the runtime API listens: a Unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"tcp:{self.host}:{self.port}"


def parse_address(value: str) -> RuntimeApi:
    """RuntimeApi from "unix:/run/haproxy/admin.sock" or "tcp:127.0.0.1:9999"."""
    kind, _, rest = value.partition(":")
    if kind == "unix" and rest:
        return RuntimeApi(path=rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return RuntimeApi(host=host.strip("[]"), port=int(port))
    raise ValueError(f"runtime_api {value!r} is neither unix:PATH nor tcp:HOST:PORT")


async def run_command(api: RuntimeApi, command: str, *, timeout: float) -> str:
    """Send one command; return HAProxy's answer. Raises DataPlaneError (one line)."""
    if "\n" in command or "\r" in command or ";" in command:
        raise DataPlaneError(f"HAProxy runtime API {api}: refusing unsafe command {command!r}")

    async def exchange() -> bytes:
        if api.path is not None:
            reader, writer = await asyncio.open_unix_connection(api.path, limit=_READ_LIMIT)
        else:
            reader, writer = await asyncio.open_connection(api.host, api.port, limit=_READ_LIMIT)
        try:
            writer.write(command.encode("ascii") + b"\n")
            await writer.drain()
            return await reader.read(-1)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    try:
        raw = await asyncio.wait_for(exchange(), timeout)
    except TimeoutError:
        raise DataPlaneError(
            f"HAProxy runtime API {api}: no answer to {command!r} within {timeout:g}s"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DataPlaneError(
            f"HAProxy runtime API {api} is unreachable ({reason}) for {command!r}"
        ) from None
    answer = raw.decode("utf-8", errors="replace")
    _judge(api, command, answer)
    return answer


def _judge(api: RuntimeApi, command: str, answer: str) -> None:
    text = answer.strip()
    verb = " ".join(command.split()[:2])
    if command.startswith("show "):
        refused = text.startswith(("Unknown command", "Permission denied", "No such"))
    elif verb in _OK_ANSWERS:
        refused = text != _OK_ANSWERS[verb]
    else:
        refused = bool(text)
    if refused:
        first = text.splitlines()[0] if text else "empty answer"
        raise DataPlaneError(f"HAProxy runtime API {api} refused {command!r}: {first}")


# -- show stat ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerStat:
    """One server row of `show stat`: the columns watchstander reads."""

    backend: str
    server: str
    status: str  # UP, DOWN, "UP 1/3" (going down), "DOWN 1/2" (going up), MAINT, DRAIN, no check
    weight: int  # the weight set at runtime (uweight), 0..256
    address: str
    current_sessions: int
    total_sessions: int
    check_status: str  # L4OK, L7OK, L4CON, L7STS, ... ("" without checks)
    check_failures: int  # chkfail: failed checks since start
    check_downs: int  # chkdown: UP -> DOWN transitions
    check_desc: str
    responses_5xx: int
    last_change_s: int

    @property
    def up(self) -> bool:
        """Passing its health checks (or not checked) and taking traffic."""
        return self.status.startswith("UP") or self.status == "no check"

    @property
    def draining(self) -> bool:
        return self.status.startswith("DRAIN") or self.status.startswith("NOLB")

    @property
    def in_maintenance(self) -> bool:
        return self.status.startswith("MAINT")


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def parse_stat(text: str, backend: str) -> list[ServerStat]:
    """The server rows of `backend` in `show stat` CSV (header line "# pxname,svname,...")."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("show stat: no CSV header")
    rows = csv.DictReader([lines[0][2:], *lines[1:]])
    servers: list[ServerStat] = []
    for row in rows:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        # type 2 is a server; older releases leave it out of filtered output
        if row.get("type") not in (None, "", "2"):
            continue
        servers.append(
            ServerStat(
                backend=backend,
                server=row.get("svname") or "",
                status=row.get("status") or "",
                weight=_int(row.get("uweight") or row.get("weight")),
                address=row.get("addr") or "",
                current_sessions=_int(row.get("scur")),
                total_sessions=_int(row.get("stot")),
                check_status=(row.get("check_status") or "").lstrip("* "),
                check_failures=_int(row.get("chkfail")),
                check_downs=_int(row.get("chkdown")),
                check_desc=row.get("check_desc") or "",
                responses_5xx=_int(row.get("hrsp_5xx")),
                last_change_s=_int(row.get("lastchg")),
            )
        )
    return servers


def health_failures(status: str, fall: int) -> int:
    """Consecutive failed checks a status shows: "UP a/b" (going down, a of b checks left
    before DOWN) has b - a; DOWN has at least `fall`; anything else none."""
    word, _, progress = status.partition(" ")
    if word == "DOWN" and not progress:
        return fall
    if word == "UP" and "/" in progress:
        left, _, of = progress.partition("/")
        if left.isdigit() and of.isdigit():
            return max(0, int(of) - int(left))
    return 0


# -- weights ------------------------------------------------------------------------------


def server_weights(
    weights: Mapping[str, float], servers: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """HAProxy weights (0..256) per server so that each version gets its percent of the
    traffic, split evenly over its servers. HAProxy balances by weight / sum of weights,
    so the heaviest server gets 256 and the rest in proportion; a version with a non-zero
    percent never rounds down to 0. Servers of versions not named get 0."""
    per_server = {
        version: weights.get(version, 0.0) / len(names)
        for version, names in servers.items()
        if names
    }
    top = max(per_server.values(), default=0.0)
    result: dict[str, int] = {}
    for version, names in servers.items():
        share = per_server.get(version, 0.0)
        weight = 0 if share <= 0 or top <= 0 else max(1, round(MAX_WEIGHT * share / top))
        for name in names:
            result[name] = weight
    return result


def version_weights(
    stats: Sequence[ServerStat], servers: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """The percent of traffic each version gets from the weights HAProxy applies now:
    servers in maintenance take nothing."""
    by_server = {s.server: s for s in stats}
    totals: dict[str, float] = {}
    for version, names in servers.items():
        totals[version] = float(
            sum(
                by_server[n].weight
                for n in names
                if n in by_server and not by_server[n].in_maintenance
            )
        )
    whole = sum(totals.values())
    if whole <= 0:
        return {}
    return {v: 100.0 * w / whole for v, w in totals.items() if w > 0 and not math.isnan(w)}
