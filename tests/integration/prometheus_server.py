"""A real Prometheus for one test: free loopback port, config and TSDB in tmp_path.

    with running_prometheus(tmp_path, {plane.admin: {"service": "demo"}}) as prom:
        await prom.wait_until(f'sum(watchstander_requests_total{{service="demo"}}) == 100')

It scrapes each target's /metrics every second, adding the given target labels (the
data plane's exposition has no service label: the scrape config adds it, as
docs/backends/prometheus.md recommends). The process is stopped at exit, also when the
test failed: SIGTERM, then SIGKILL as the last resort.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import free_port

from tests.polling import wait_for

__all__ = ["PrometheusServer", "running_prometheus", "scrape_config"]

SCRAPE_INTERVAL = "1s"


def scrape_config(targets: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """A prometheus.yml scraping each HOST:PORT's /metrics with the given target labels."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": "watchstander-dataplane",
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [address], "labels": dict(labels)}
                    for address, labels in targets.items()
                ],
            }
        ],
    }


@dataclass
class PrometheusServer:
    root: Path
    address: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    async def instant(self, expr: str) -> list[dict[str, Any]]:
        """The result vector of `expr` evaluated now."""
        async with httpx.AsyncClient(base_url=self.url, timeout=5.0) as client:
            response = await client.get("/api/v1/query", params={"query": expr})
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    async def wait_until(self, expr: str, timeout: float = 20.0) -> None:
        """Poll until `expr` (a PromQL condition such as `x == 3`) has a result."""

        async def holds() -> bool:
            return bool(await self.instant(expr))

        await wait_for(holds, timeout, interval=0.2, message=f"Prometheus to see {expr}")

    async def ready(self) -> bool:
        if self.process.poll() is not None:
            log = (self.root / "prometheus.log").read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"prometheus exited with {self.process.returncode}:\n{log[-2000:]}")
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                return (await client.get(f"{self.url}/-/ready")).status_code == 200
        except httpx.HTTPError:
            return False


def _binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.fail(
            "prometheus is not installed: run scripts/system-deps.sh (Debian's prometheus"
            " package provides /usr/bin/prometheus)"
        )
    return path


@contextlib.contextmanager
def running_prometheus(
    root: Path, targets: Mapping[str, Mapping[str, str]]
) -> Iterator[PrometheusServer]:
    """Start Prometheus in `root`/prometheus scraping `targets`; stop it on exit. Await
    `wait_for(server.ready)` before querying (done by the `prometheus` helpers of tests)."""
    home = root / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(targets)), encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    with (home / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            [
                _binary(),
                f"--config.file={config}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address={address}",
                "--web.console.templates=",  # Debian's defaults point at /etc
                "--web.console.libraries=",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrometheusServer(root=home, address=address, process=process)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
