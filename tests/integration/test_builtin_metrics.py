"""BuiltinMetricSource against the real data plane (and its failure modes)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from conftest import DataPlane, free_port

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import utc
from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.metrics.builtin import ALL_VERSIONS, BuiltinMetricSource
from watchstander.providers.metrics.fake import FakeMetricSource

pytestmark = pytest.mark.integration

V1, V2 = "1.0.0", "1.1.0"
METRICS = ("error_rate", "latency_p50", "latency_p95", "latency_p99", "throughput", "requests")


def query(metric: str, version: str, start: datetime, end: datetime) -> MetricQuery:
    return MetricQuery(metric=metric, service="demo", version=version, start=start, end=end)


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def split_traffic(
    make_dataplane: Callable[..., DataPlane],
) -> tuple[DataPlane, datetime, datetime, int]:
    """100 requests split 50/50 between V1 and a V2 failing ~20%: (plane, start, end,
    failed). Whole seconds: the source only counts seconds entirely inside a window."""
    plane = make_dataplane({V2: {"error_rate": 0.2, "latency_ms": 40}})
    await plane.deploy({V1: 1, V2: 1}, {V1: 50, V2: 50})
    start = utc(math.floor(time.time()))
    async with httpx.AsyncClient(base_url=plane.router_url) as client:
        responses = [await client.get("/work") for _ in range(100)]
    end = utc(math.ceil(time.time() + 0.01))
    return plane, start, end, sum(1 for r in responses if r.status_code == 500)


async def test_metrics_per_version_from_one_stats_call(
    make_dataplane: Callable[..., DataPlane],
) -> None:
    plane, start, end, failed = await split_traffic(make_dataplane)
    assert 0 < failed < 50

    transport = CountingTransport()
    source = BuiltinMetricSource(plane.admin, transport=transport)
    try:
        assert isinstance(source, MetricSource)
        queries = [query(m, v, start, end) for m in METRICS for v in (V1, V2)]
        samples = dict(zip(queries, await asyncio.gather(*map(source.query, queries)), strict=True))
        assert transport.calls == 1  # twelve queries, one GET /stats
        again = await source.query(queries[0])
        assert transport.calls == 1 and again == samples[queries[0]]
    finally:
        await source.aclose()

    def value(metric: str, version: str) -> float:
        sample = samples[query(metric, version, start, end)]
        assert sample.error is None and sample.count == 50 and sample.value is not None
        return sample.value

    assert value("requests", V1) == value("requests", V2) == 50
    assert value("error_rate", V1) == 0.0
    assert value("error_rate", V2) == pytest.approx(failed / 50)
    assert 0 < value("latency_p50", V1) <= value("latency_p99", V1) < 40
    assert 40 <= value("latency_p50", V2) <= value("latency_p95", V2) <= value("latency_p99", V2)
    assert value("latency_p99", V2) < 200
    window = (end - start).total_seconds()
    assert value("throughput", V1) == pytest.approx(50 / window)
    described = samples[query("error_rate", V2, start, end)].query
    assert described == (
        f"builtin: error_rate{{service=demo,version={V2}}} [{start:%H:%M:%S}Z, {end:%H:%M:%S}Z]"
    )


async def test_all_versions_together_for_service_level_slis(
    make_dataplane: Callable[..., DataPlane],
) -> None:
    plane, start, end, failed = await split_traffic(make_dataplane)
    source = BuiltinMetricSource(plane.admin)
    try:
        both = await source.query(query("error_rate", ALL_VERSIONS, start, end))
        requests = await source.query(query("requests", ALL_VERSIONS, start, end))
    finally:
        await source.aclose()
    assert both.error is None and both.count == 100, both
    assert both.value == pytest.approx(failed / 100)
    assert requests.value == 100


async def test_no_traffic_is_no_data(dataplane: DataPlane) -> None:
    now = time.time()
    source = BuiltinMetricSource(dataplane.admin)
    try:
        samples = [await source.query(query(m, V1, utc(now - 10), utc(now))) for m in METRICS]
    finally:
        await source.aclose()
    by_metric = dict(zip(METRICS, samples, strict=True))
    assert all(s.error is None and s.count == 0 for s in samples)
    assert [by_metric[m].value for m in METRICS[:4]] == [None] * 4
    assert by_metric["throughput"].value == 0.0 and by_metric["requests"].value == 0.0


async def test_daemon_down_is_an_error_sample_not_an_exception() -> None:
    admin = f"127.0.0.1:{free_port()}"
    source = BuiltinMetricSource(admin)
    now = time.time()
    try:
        sample = await source.query(query("error_rate", V1, utc(now - 10), utc(now)))
    finally:
        await source.aclose()
    assert sample.value is None and not sample.has_data
    assert sample.error == (
        f"data plane at {admin} is not running (start it with 'watchstander dataplane up')"
    )
    assert sample.query.startswith("builtin: error_rate{service=demo,version=1.0.0}")


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(500, text="boom"), "GET /stats answered HTTP 500"),
        (httpx.Response(200, text="not json"), "failed"),
        (httpx.Response(200, json={"service": "other", "versions": {}}), "serves 'other'"),
    ],
)
async def test_bad_answers_are_error_samples(response: httpx.Response, error: str) -> None:
    source = BuiltinMetricSource(
        "127.0.0.1:1", transport=httpx.MockTransport(lambda request: response)
    )
    now = time.time()
    try:
        sample = await source.query(query("latency_p99", V1, utc(now - 10), utc(now)))
        unknown = await source.query(query("conversion", V1, utc(now - 10), utc(now)))
    finally:
        await source.aclose()
    assert sample.value is None and sample.error is not None and error in sample.error
    assert unknown.error == "unknown metric 'conversion'"


async def test_fake_metric_source_turns_exceptions_into_samples() -> None:
    def handler(q: MetricQuery) -> Sample:
        if q.version == V2:
            raise RuntimeError("no such series")
        return Sample(0.01, count=100, query="fake")

    source = FakeMetricSource(handler)
    now = utc(time.time())
    ok = await source.query(query("error_rate", V1, now, now))
    failed = await source.query(query("error_rate", V2, now, now))
    await source.aclose()
    assert ok == Sample(0.01, count=100, query="fake")
    assert failed.error == "RuntimeError('no such series')" and failed.value is None
    assert [q.version for q in source.queries] == [V1, V2] and source.closed


async def test_only_whole_seconds_inside_the_window_are_counted() -> None:
    """A partial second at either end would mix traffic from before a weight change into
    the window (a false throughput drop at 25% was seen this way)."""
    seen: list[tuple[float, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((float(request.url.params["since"]), float(request.url.params["until"])))
        return httpx.Response(200, json={"service": "demo", "versions": {}})

    source = BuiltinMetricSource("127.0.0.1:9", transport=httpx.MockTransport(handler))
    try:
        sample = await source.query(query("throughput", V1, utc(1000.4), utc(1003.7)))
        short = await source.query(query("throughput", V1, utc(2000.2), utc(2000.9)))
    finally:
        await source.aclose()
    assert seen[0] == (1001.0, 1003.0)
    assert "[00:16:41Z, 00:16:43Z]" in sample.query
    assert seen[1] == (2000.2, 2000.9)  # under one whole second: the window as asked
    assert short.error is None
