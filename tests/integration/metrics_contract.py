"""The contract every MetricSource keeps, as a base class of tests each source subclasses.

    class TestBuiltinMetricsContract(MetricSourceContract):
        @pytest.fixture
        async def source(self, plane: DataPlane) -> AsyncIterator[MetricSource]:
            subject = BuiltinMetricSource(plane.admin)
            yield subject
            await subject.aclose()

        @pytest.fixture
        async def unreachable(self) -> AsyncIterator[MetricSource]: ...  # nothing listens

The base class starts `plane`: the real data plane of service "demo" (conftest.py), where
`V2` answers ~20% HTTP 500 about 40 ms late and `V1` is healthy. A subclass yields a
`source` reading that plane's traffic, an `unreachable` source pointed at a port where
nothing listens, and may override the `settle` fixture: an awaitable that returns once the
source has seen the given request totals per version (a Prometheus scrapes every second;
the builtin source sees requests at once).

What the contract holds (the MetricSource protocol in providers/metrics/base.py and the
builtin source's semantics): known traffic to a version gives its exact request count,
error rate, throughput and plausible latency quantiles, and every value carries that
count; version "*" covers every version; an idle version has no error rate or latency
(None) but 0.0 throughput and requests, without an error; an unreachable source and an
unknown metric give Sample.error and never raise; every sample records its query.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import httpx
import pytest
from conftest import DataPlane

from watchstander.analysis.models import SOURCE_METRICS, MetricQuery, Sample
from watchstander.clock import utc
from watchstander.dataplane.router import VERSION_HEADER
from watchstander.providers.metrics.base import MetricSource

__all__ = ["MetricSourceContract", "Settle", "SERVICE", "V1", "V2", "ALL"]

SERVICE = "demo"
V1, V2 = "1.0.0", "1.1.0"
ALL = "*"
METRICS = sorted(SOURCE_METRICS)
QUANTILES = ("latency_p50", "latency_p95", "latency_p99")

Settle = Callable[[Mapping[str, int]], Awaitable[None]]


def ask(metric: str, version: str, start: datetime, end: datetime) -> MetricQuery:
    return MetricQuery(metric=metric, service=SERVICE, version=version, start=start, end=end)


async def ask_all(
    source: MetricSource, versions: tuple[str, ...], start: datetime, end: datetime
) -> dict[tuple[str, str], Sample]:
    """Every metric of every version at once, as an analysis asks them."""
    keys = [(m, v) for m in METRICS for v in versions]
    samples = await asyncio.gather(*(source.query(ask(m, v, start, end)) for m, v in keys))
    return dict(zip(keys, samples, strict=True))


@pytest.mark.integration
class MetricSourceContract:
    """Tests every metric source passes; see the module docstring for the fixtures."""

    @pytest.fixture
    def plane(self, make_dataplane: Callable[..., DataPlane]) -> DataPlane:
        return make_dataplane({V2: {"error_rate": 0.2, "latency_ms": 40}})

    @pytest.fixture
    def settle(self) -> Settle:
        async def seen_at_once(totals: Mapping[str, int]) -> None:
            return None

        return seen_at_once

    async def traffic(
        self, plane: DataPlane, settle: Settle, weights: dict[str, float], requests: int
    ) -> tuple[datetime, datetime, dict[str, int], int]:
        """Send `requests` GET /work at `weights` (every version with a weight gets a
        replica) inside a window of whole seconds; (start, end, served per version, 500s)."""
        await plane.deploy({v: 1 for v in weights}, weights)
        start = utc(math.floor(time.time()))
        served: dict[str, int] = {}
        failed = 0
        async with httpx.AsyncClient(base_url=plane.router_url, timeout=5.0) as client:
            for _ in range(requests):
                response = await client.get("/work")
                version = response.headers[VERSION_HEADER]  # the router's own stamp
                served[version] = served.get(version, 0) + 1
                failed += response.status_code == 500
        await settle(served)
        return start, utc(math.ceil(time.time() + 0.01)), served, failed

    async def test_known_traffic_gives_matching_figures_per_version(
        self, plane: DataPlane, source: MetricSource, settle: Settle
    ) -> None:
        start, end, served, failed = await self.traffic(plane, settle, {V1: 50, V2: 50}, 100)
        assert served == {V1: 50, V2: 50} and 0 < failed < 50
        samples = await ask_all(source, (V1, V2), start, end)

        for (metric, version), sample in samples.items():
            assert sample.error is None, (metric, version, sample)
            assert sample.value is not None and sample.count == 50, (metric, version, sample)
            # The resolved query is recorded, and names what it asked.
            assert SERVICE in sample.query and version in sample.query, sample.query

        def value(metric: str, version: str) -> float:
            found = samples[metric, version].value
            assert found is not None
            return found

        assert value("requests", V1) == value("requests", V2) == 50
        assert value("error_rate", V1) == 0.0
        assert value("error_rate", V2) == pytest.approx(failed / 50)
        window = (end - start).total_seconds()
        assert value("throughput", V1) == pytest.approx(50 / window)
        for version in (V1, V2):
            p50, p95, p99 = (value(q, version) for q in QUANTILES)
            assert 0 < p50 <= p95 <= p99, (version, p50, p95, p99)
        # ~1 ms against ~40 ms; sources bin latencies differently, hence loose bounds.
        assert value("latency_p50", V1) < 25 <= value("latency_p50", V2)
        assert value("latency_p99", V1) < value("latency_p99", V2) < 200

    async def test_version_star_covers_every_version(
        self, plane: DataPlane, source: MetricSource, settle: Settle
    ) -> None:
        start, end, served, failed = await self.traffic(plane, settle, {V1: 50, V2: 50}, 60)
        assert sum(served.values()) == 60
        samples = await ask_all(source, (ALL,), start, end)
        assert all(s.error is None and s.count == 60 for s in samples.values()), samples
        assert samples["requests", ALL].value == 60
        assert samples["error_rate", ALL].value == pytest.approx(failed / 60)
        p50 = samples["latency_p50", ALL].value
        assert p50 is not None and p50 > 0
        assert V1 not in samples["error_rate", ALL].query

    async def test_an_idle_version_is_no_data_without_an_error(
        self, plane: DataPlane, source: MetricSource, settle: Settle
    ) -> None:
        start, end, served, _ = await self.traffic(plane, settle, {V1: 100, V2: 0}, 20)
        assert served == {V1: 20}
        idle = await ask_all(source, (V2,), start, end)
        # V1 before its first request: the same answer from a version that has a history.
        before = await ask_all(source, (V1,), utc(start.timestamp() - 5), start)
        for samples in (idle, before):
            assert all(s.error is None and s.count == 0 for s in samples.values()), samples
            assert [samples[q, v].value for q, v in samples if q in QUANTILES] == [None] * 3
            assert [samples[m, v].value for m, v in samples if m == "error_rate"] == [None]
            assert [samples[m, v].value for m, v in samples if m == "throughput"] == [0.0]
            assert [samples[m, v].value for m, v in samples if m == "requests"] == [0.0]
            assert all(s.query for s in samples.values())

    async def test_an_unreachable_source_gives_error_samples(
        self, unreachable: MetricSource
    ) -> None:
        now = time.time()
        start, end = utc(now - 10), utc(now)
        samples = await ask_all(unreachable, (V1, ALL), start, end)
        for sample in samples.values():
            assert sample.value is None and not sample.has_data
            assert sample.error and "\n" not in sample.error, sample
            assert sample.query, sample
        unknown = await unreachable.query(ask("conversion", V1, start, end))
        assert unknown.value is None and unknown.error == "unknown metric 'conversion'"
        empty = await unreachable.query(ask("requests", V1, end, end))
        assert empty.value is None and empty.error is not None
