"""The metric source contract (metrics_contract.py) held by the Prometheus source, against
a real Prometheus scraping the real data plane's /metrics every second."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from conftest import DataPlane, free_port
from metrics_contract import SERVICE, MetricSourceContract, Settle
from prometheus_server import PrometheusServer, running_prometheus

from tests.polling import wait_for
from watchstander.config.prometheus import PrometheusMetricsConfig
from watchstander.exposition import REQUESTS_METRIC
from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.metrics.prometheus import PrometheusMetricSource


class TestPrometheusMetricsContract(MetricSourceContract):
    @pytest.fixture
    async def prometheus(self, plane: DataPlane, tmp_path: Path) -> AsyncIterator[PrometheusServer]:
        with running_prometheus(tmp_path, {plane.admin: {"service": SERVICE}}) as server:
            await wait_for(server.ready, 30, interval=0.2, message="prometheus ready")
            yield server

    @pytest.fixture
    def settle(self, prometheus: PrometheusServer) -> Settle:
        async def scraped(totals: Mapping[str, int]) -> None:
            for version, n in totals.items():
                selector = f'service="{SERVICE}",version="{version}"'
                await prometheus.wait_until(f"sum({REQUESTS_METRIC}{{{selector}}}) == {n}")

        return scraped

    @pytest.fixture
    async def source(self, prometheus: PrometheusServer) -> AsyncIterator[MetricSource]:
        subject = PrometheusMetricSource(PrometheusMetricsConfig(url=prometheus.url))
        yield subject
        await subject.aclose()

    @pytest.fixture
    async def unreachable(self) -> AsyncIterator[MetricSource]:
        config = PrometheusMetricsConfig(url=f"http://127.0.0.1:{free_port()}", timeout=2.0)
        subject = PrometheusMetricSource(config)
        yield subject
        await subject.aclose()
