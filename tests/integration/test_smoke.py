"""Smoke checks: HTTP checks (httpx MockTransport as the server) and command checks run as
real processes, never through a shell."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import httpx

from watchstander.config.models import CommandSmokeCheck, HttpSmokeCheck
from watchstander.providers.smoke import run_smoke
from watchstander.providers.targets.base import Endpoint

NOW = datetime(2026, 11, 21, tzinfo=UTC)
ENDPOINT = Endpoint("http://127.0.0.1:9999", {"X-Watchstander-Version": "2.0"})


def server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/version":
        return httpx.Response(200, json={"build": {"version": "2.0"}})
    if request.url.path == "/down":
        return httpx.Response(503, text="maintenance")
    return httpx.Response(200, text=f"hello from {request.headers.get('x-watchstander-version')}")


async def test_http_checks_judge_status_body_json_and_reach_the_preview() -> None:
    checks = [
        HttpSmokeCheck(name="root", path="/", body_contains="hello from 2.0"),
        HttpSmokeCheck(
            name="version", path="/version", json_field="build.version", json_equals="{version}"
        ),
        HttpSmokeCheck(
            name="wrong version", path="/version", json_field="build.version", json_equals="1.0"
        ),
        HttpSmokeCheck(name="down", path="/down"),
        HttpSmokeCheck(name="missing field", path="/version", json_field="nope", json_equals="x"),
    ]
    results = await run_smoke(
        checks,
        endpoint=ENDPOINT,
        scope="preview",
        version="2.0",
        now=NOW,
        transport=httpx.MockTransport(server),
    )
    by = {r.name: r for r in results}
    assert by["root"].passed and by["root"].status == 200
    assert by["version"].passed
    assert not by["wrong version"].passed and "expected '1.0'" in by["wrong version"].detail
    assert not by["down"].passed and "returned 503, expected 200" in by["down"].detail
    assert not by["missing field"].passed and "no JSON field" in by["missing field"].detail
    assert all(r.scope == "preview" and r.version == "2.0" for r in results)


async def test_http_connection_failure_is_a_failed_check() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    [r] = await run_smoke(
        [HttpSmokeCheck(name="root")],
        endpoint=ENDPOINT,
        scope="production",
        version="2.0",
        now=NOW,
        transport=httpx.MockTransport(refuse),
    )
    assert not r.passed and "ConnectError" in r.detail


async def test_command_checks_run_argv_without_a_shell() -> None:
    script = "import sys; print('checked', sys.argv[1], sys.argv[2]); sys.exit(0)"
    fail = "import sys; print('journey broke'); sys.exit(3)"
    checks = [
        CommandSmokeCheck(
            name="ok",
            type="command",
            command=[sys.executable, "-c", script, "{url}", "$(echo {version})"],
        ),
        CommandSmokeCheck(name="fails", type="command", command=[sys.executable, "-c", fail]),
        CommandSmokeCheck(
            name="slow",
            type="command",
            command=[
                sys.executable,
                "-c",
                "import threading; threading.Event().wait()",
            ],  # never ends
            timeout=0.3,
        ),
        CommandSmokeCheck(name="missing", type="command", command=["/nonexistent/smoke"]),
    ]
    by = {
        r.name: r
        for r in await run_smoke(
            checks, endpoint=ENDPOINT, scope="production", version="2.0", now=NOW
        )
    }
    # {url} and {version} are substituted; "$(...)" stays literal: no shell ran it.
    assert (
        by["ok"].passed and by["ok"].detail == "exit 0: checked http://127.0.0.1:9999 $(echo 2.0)"
    )
    assert (
        not by["fails"].passed and by["fails"].status == 3 and "journey broke" in by["fails"].detail
    )
    assert not by["slow"].passed and "timed out" in by["slow"].detail
    assert not by["missing"].passed and "cannot run" in by["missing"].detail
