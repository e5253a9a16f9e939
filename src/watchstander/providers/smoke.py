"""Smoke checks: HTTP requests and commands run against a preview or production endpoint.

Commands run as argv lists (no shell), with {url} and {version} substituted per argument,
so nothing in the config can inject shell syntax.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import datetime

import httpx

from watchstander.config.models import CommandSmokeCheck, HttpSmokeCheck, SmokeCheck
from watchstander.providers.targets.base import Endpoint
from watchstander.release.models import SmokeResult

__all__ = ["run_smoke"]


async def run_smoke(
    checks: Sequence[SmokeCheck],
    *,
    endpoint: Endpoint,
    scope: str,
    version: str | None,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[SmokeResult, ...]:
    async with httpx.AsyncClient(transport=transport) as client:
        results = await asyncio.gather(
            *(
                _http(client, c, endpoint, scope, version, now)
                if isinstance(c, HttpSmokeCheck)
                else _command(c, endpoint, scope, version, now)
                for c in checks
            )
        )
    return tuple(results)


class _Recorder:
    """Builds one check's SmokeResult, timed from its creation."""

    def __init__(self, name: str, scope: str, version: str | None, now: datetime) -> None:
        self.name, self.scope, self.version, self.now = name, scope, version, now
        self.started = time.perf_counter()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def __call__(self, passed: bool, detail: str, status: int | None = None) -> SmokeResult:
        return SmokeResult(
            name=self.name,
            scope=self.scope,
            version=self.version,
            passed=passed,
            detail=detail,
            at=self.now,
            duration_ms=round(self.elapsed_ms(), 1),
            status=status,
        )


def _field(data: object, path: str) -> object:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            raise KeyError(path)
    return data


async def _http(
    client: httpx.AsyncClient,
    check: HttpSmokeCheck,
    endpoint: Endpoint,
    scope: str,
    version: str | None,
    now: datetime,
) -> SmokeResult:
    url = endpoint.url.rstrip("/") + "/" + check.path.lstrip("/")
    result = _Recorder(check.name, scope, version, now)

    try:
        response = await client.request(
            check.method, url, headers=dict(endpoint.headers), timeout=check.timeout
        )
    except httpx.HTTPError as exc:
        return result(False, f"{check.method} {check.path}: {type(exc).__name__}: {exc}")
    elapsed = result.elapsed_ms()
    if response.status_code != check.expect_status:
        return result(
            False,
            f"{check.method} {check.path} returned {response.status_code}, expected {check.expect_status}",
            response.status_code,
        )
    if check.body_contains is not None and check.body_contains not in response.text:
        return result(False, f"body lacks {check.body_contains!r}", response.status_code)
    if check.json_field is not None:
        expected = (check.json_equals or "").replace("{version}", version or "")
        try:
            got = _field(json.loads(response.text), check.json_field)
        except (ValueError, KeyError):
            return result(False, f"no JSON field {check.json_field!r}", response.status_code)
        if str(got) != expected:
            return result(
                False, f"{check.json_field} is {got!r}, expected {expected!r}", response.status_code
            )
    if check.max_latency_ms is not None and elapsed > check.max_latency_ms:
        return result(
            False, f"took {elapsed:.0f} ms > {check.max_latency_ms:g} ms", response.status_code
        )
    return result(True, f"{response.status_code} in {elapsed:.0f} ms", response.status_code)


async def _command(
    check: CommandSmokeCheck, endpoint: Endpoint, scope: str, version: str | None, now: datetime
) -> SmokeResult:
    argv = [
        part.replace("{url}", endpoint.url).replace("{version}", version or "")
        for part in check.command
    ]
    result = _Recorder(check.name, scope, version, now)

    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as exc:
        return result(False, f"cannot run {argv[0]!r}: {exc.strerror}")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=check.timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return result(False, f"timed out after {check.timeout:g}s")
    lines = out.decode(errors="replace").strip().splitlines()
    tail = lines[-1][:200] if lines else ""
    code = proc.returncode if proc.returncode is not None else -1
    if code != 0:
        return result(False, f"exit {code}: {tail}".rstrip(": "), code)
    return result(True, f"exit 0{': ' + tail if tail else ''}", 0)
