"""A canary judged from PromQL: a real Prometheus scrapes the local data plane's /metrics,
watchstander (`metrics.type: prometheus`) measures the demo service through it, and the
bad v1.1.0 (~5% HTTP 500s, ~150 ms slower) is rolled back.

Real processes throughout: the data plane daemon with the demo service, Prometheus, the
`watchstander deploy` CLI and a load generator sending traffic the whole time. Also: the
scrape configuration that docs/backends/prometheus.md tells users to write is the one
this test runs, and it passes `promtool check config`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_server import PrometheusServer, running_prometheus, scrape_config

from tests.polling import wait_for
from watchstander.analysis.models import Phase
from watchstander.dataplane import daemon
from watchstander.demo.loadgen import LoadGenerator
from watchstander.demo.setup import write_demo
from watchstander.exposition import REQUESTS_METRIC
from watchstander.release.models import RolloutPhase
from watchstander.store.repository import Store

pytestmark = pytest.mark.integration

ENV = {**os.environ, "COLUMNS": "200"}
DOC = Path(__file__).parents[2] / "docs" / "backends" / "prometheus.md"


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "watchstander", "-C", str(ws), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
    )


async def acli(ws: Path, *args: str, timeout: float = 150) -> tuple[int, str]:
    """The CLI as a subprocess, awaited so the load generator keeps sending meanwhile;
    killed if it outlives `timeout` (the test then fails with its output so far)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watchstander",
        "-C",
        str(ws),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=ENV,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """The demo workspace with the data plane up; metrics from the Prometheus of
    `prometheus` (its URL is written into the config there)."""
    ws = tmp_path / "ws"
    config_path = write_demo(ws)
    config = yaml.safe_load(config_path.read_text())
    # Fast timings: a measurement every 3 s over the last 6 s, two per analysis.
    config["analysis"].update({"interval": "3s", "count": 2, "window": "6s", "min_requests": 5})
    config["strategy"]["observation"] = "3s"
    config["rollback"]["verify_window"] = "3s"
    # The pre-rollout gates have their own tests; this one is about the canary's analysis.
    config.pop("staging")
    config["readiness"] = {"enabled": False}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        up = cli(ws, "dataplane", "up")
        assert up.returncode == 0, up.stderr
        yield ws
    finally:
        daemon.stop(ws / ".watchstander")


@pytest.fixture
async def prometheus(workspace: Path, tmp_path: Path) -> AsyncIterator[PrometheusServer]:
    config_path = workspace / "watchstander.yaml"
    config = yaml.safe_load(config_path.read_text())
    # The data plane's exposition has no service label: the scrape adds it (see the docs).
    with running_prometheus(tmp_path, {config["target"]["admin"]: {"service": "demo"}}) as prom:
        await wait_for(prom.ready, 30, interval=0.2, message="prometheus ready")
        config["metrics"] = {"type": "prometheus", "url": prom.url, "timeout": "5s"}
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        yield prom


async def test_a_bad_canary_is_judged_from_promql_and_rolled_back(
    workspace: Path, prometheus: PrometheusServer
) -> None:
    ws = workspace
    listen = yaml.safe_load((ws / "watchstander.yaml").read_text())["target"]["listen"]
    first = cli(ws, "deploy", "1.0.0", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr

    async with LoadGenerator(f"http://{listen}", rps=100) as load:
        # The stable version's history is in Prometheus before the canary starts.
        await prometheus.wait_until(
            f'sum({REQUESTS_METRIC}{{service="demo",version="1.0.0"}}) > 200', timeout=30
        )
        code, output = await acli(ws, "deploy", "1.1.0", "--strategy", "canary", "--yes")
        report = load.report()

    assert code == 1, output  # rolled back
    assert report.connection_errors == 0, report.error_samples
    with Store.open(None, workdir=ws) as store:
        rollout = store.find_rollout("demo", version="1.1.0")
        assert rollout is not None
        assert rollout.phase is RolloutPhase.ROLLED_BACK, rollout.message
        measured = [m for _, _, m in store.measurements(rollout.id)]
    assert measured
    from_source = [m for m in measured if m.metric in {"error_rate", "latency_p99"}]
    assert from_source, measured
    for m in from_source:
        # Every measurement records the PromQL that was sent, with its evaluation time.
        assert REQUESTS_METRIC in m.query or "histogram_quantile(" in m.query, m.query
        assert re.search(r" # instant at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", m.query), m.query
        assert 'service="demo"' in m.query and not m.query.startswith("builtin:")
    failed = [m for m in from_source if m.phase is Phase.FAIL and m.version == "1.1.0"]
    assert failed, [(m.name, m.version, m.phase, m.reason) for m in from_source]
    assert any('version="1.1.0"' in m.query for m in failed)

    status = cli(ws, "dataplane", "status", "--output", "json")
    assert json.loads(status.stdout)["weights"] == {"1.0.0": 100.0}


def test_the_documented_scrape_config_is_the_tested_one(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    documented = next(yaml.safe_load(b) for b in blocks if "scrape_configs:" in b)
    job = documented["scrape_configs"][0]
    tested = scrape_config({"127.0.0.1:7070": {"service": "checkout"}})["scrape_configs"][0]
    assert job["metrics_path"] == tested["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["labels"] == {"service": "checkout"}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(documented), encoding="utf-8")
    check = subprocess.run(  # noqa: S603
        ["promtool", "check", "config", str(path)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout + check.stderr
