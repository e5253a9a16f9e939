"""The Prometheus metric source without a server: queries it resolves, answers it reads,
failures it turns into samples, credentials it sends (httpx.MockTransport handlers)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.config.loader import load_config
from watchstander.config.prometheus import PrometheusMetricsConfig
from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.metrics.prometheus import (
    DEFAULT_QUERIES,
    PrometheusMetricSource,
    prom_duration,
    resolve,
)
from watchstander.providers.registry import load_provider

DOCS = Path(__file__).parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "prometheus.yaml"
DOC = DOCS / "backends" / "prometheus.md"
URL = "http://prom.example:9090"
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
END = datetime(2026, 1, 1, 12, 5, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def config(**fields: Any) -> PrometheusMetricsConfig:
    return PrometheusMetricsConfig(url=URL, **fields)


def ask(metric: str = "error_rate", version: str = "1.1.0") -> MetricQuery:
    return MetricQuery(metric=metric, service="shop", version=version, start=START, end=END)


def vector(value: str) -> dict[str, Any]:
    point = {"metric": {}, "value": [END.timestamp(), value]}
    return {"status": "success", "data": {"resultType": "vector", "result": [point]}}


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


class Recorder:
    """A handler answering `answers[query]` (else 120 requests) and keeping every request."""

    def __init__(self, answers: dict[str, httpx.Response] | None = None) -> None:
        self.answers = answers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        expr = form(request)["query"]
        for needle, response in self.answers.items():
            if needle in expr:
                return response
        return httpx.Response(200, json=vector("120"))

    @property
    def queries(self) -> list[str]:
        return [form(r)["query"] for r in self.requests]


async def sample_of(
    handler: Handler,
    q: MetricQuery | None = None,
    *,
    env: dict[str, str] | None = None,
    **fields: Any,
) -> Sample:
    source = PrometheusMetricSource(
        config(**fields), transport=httpx.MockTransport(handler), env=env or {}
    )
    try:
        return await source.query(q or ask())
    finally:
        await source.aclose()


# -- resolving templates ---------------------------------------------------------------


def test_default_queries_select_service_and_version() -> None:
    expr = resolve(
        DEFAULT_QUERIES["requests"], config=config(), service="shop", version="1.1.0", window=300
    ).expr
    selector = 'watchstander_requests_total{service="shop",version="1.1.0"}'
    assert expr == (
        f"(sum ({selector}) - (sum ({selector} offset 300s) or 0 * sum ({selector}))) or vector(0)"
    )
    p99 = resolve(
        DEFAULT_QUERIES["latency_p99"], config=config(), service="shop", version="1.1.0", window=60
    )
    assert p99.instant and p99.expr.startswith("histogram_quantile(0.99, (sum by (le) (")
    assert (
        'watchstander_request_duration_seconds_bucket{service="shop",version="1.1.0"}' in p99.expr
    )
    assert p99.expr.endswith(")) * 1000")
    throughput = resolve(
        DEFAULT_QUERIES["throughput"], config=config(), service="shop", version="*", window=90
    ).expr
    assert throughput.endswith(" / 90") and 'version="' not in throughput


def test_every_version_and_no_service_label() -> None:
    expr = resolve(
        DEFAULT_QUERIES["error_rate"],
        config=config(service_label=""),
        service="shop",
        version="*",
        window=10.5,
    ).expr
    # A trailing comma in a matcher list is valid PromQL (checked by promtool in the
    # integration tests, which run these queries on a real Prometheus).
    assert 'watchstander_requests_total{code_class="5xx",}' in expr
    assert "watchstander_requests_total{}" in expr and "offset 10500ms" in expr


def test_user_templates_get_every_placeholder() -> None:
    template = """
        sum(rate(http_requests_total{job="{service}", release="{version}", code=~"5.."}[{window}]))
          /
        sum(rate(http_requests_total{job="{service}", release="{version}"}[{window}]))
    """
    one = resolve(template, config=config(), service="shop", version="2.0", window=120)
    assert one.instant and "\n" not in one.expr
    assert one.expr.startswith('sum(rate(http_requests_total{job="shop", release="2.0", code')
    assert "[2m]" not in one.expr and "[120s]" in one.expr
    every = resolve(template, config=config(), service="shop", version="*", window=120).expr
    assert 'release=~".*"' in every and '"{version}"' not in every
    negated = resolve('x{v!="{version}"}', config=config(), service="s", version="*", window=1)
    assert negated.expr == 'x{v!=".*"}'
    scoped = resolve("sum(x{{selector}}) / {window_seconds}", config=config(), service='a"b',
                     version="1", window=30)  # fmt: skip
    assert scoped.expr == 'sum(x{service="a\\"b",version="1"}) / 30'
    assert not resolve(
        "shop:error_ratio", config=config(), service="s", version="1", window=1
    ).instant


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "300s"), (0.25, "250ms"), (10.5, "10500ms"), (0.0001, "1ms")]
)
def test_window_as_a_promql_duration(seconds: float, text: str) -> None:
    assert prom_duration(seconds) == text


# -- answers ------------------------------------------------------------------------------


async def test_instant_query_at_the_window_end_with_its_count() -> None:
    recorder = Recorder({"5xx": httpx.Response(200, json=vector("0.05"))})
    sample = await sample_of(recorder)
    assert sample == Sample(0.05, 120, sample.query)
    assert sample.query.endswith(" # instant at 2026-01-01T12:05:00Z")
    assert sample.query.startswith("((sum (watchstander_requests_total{code_class=")
    first, count = recorder.requests
    assert first.method == "POST" and first.url.path == "/api/v1/query"
    assert form(first)["time"] == f"{END.timestamp():.3f}" and form(first)["timeout"] == "10s"
    assert (
        recorder.queries[1]
        == resolve(
            DEFAULT_QUERIES["requests"],
            config=config(),
            service="shop",
            version="1.1.0",
            window=300,
        ).expr
    )


async def test_the_count_query_is_shared_by_the_metrics_of_a_version() -> None:
    recorder = Recorder()
    source = PrometheusMetricSource(config(), transport=httpx.MockTransport(recorder), env={})
    try:
        for metric in ("error_rate", "latency_p99", "throughput", "requests"):
            assert (await source.query(ask(metric))).count == 120
    finally:
        await source.aclose()
    assert len(recorder.requests) == 4  # three metrics, and one requests query shared


async def test_a_template_without_window_is_a_range_query_averaged() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/query":
            return httpx.Response(200, json=vector("300"))
        values = [[0, "0.01"], [1, "0.03"], [2, "NaN"]]
        data = {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}
        return httpx.Response(200, json={"status": "success", "data": data})

    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    sample = await sample_of(recording, queries={"error_rate": 'shop:errors:ratio{v="{version}"}'})
    assert sample.value == pytest.approx(0.02) and sample.count == 300
    assert sample.query == (
        'shop:errors:ratio{v="1.1.0"} # range 2026-01-01T12:00:00Z..2026-01-01T12:05:00Z'
    )
    sent = form(seen[0])
    assert seen[0].url.path == "/api/v1/query_range"
    assert (sent["start"], sent["end"], sent["step"]) == (
        f"{START.timestamp():.3f}",
        f"{END.timestamp():.3f}",
        "2.500",
    )


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
async def test_non_finite_values_are_no_data(value: str) -> None:
    sample = await sample_of(Recorder({"le": httpx.Response(200, json=vector(value))}),
                             ask("latency_p95"))  # fmt: skip
    assert sample.error is None and sample.value is None and sample.count == 120
    assert not sample.has_data


async def test_an_empty_vector_and_a_scalar() -> None:
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}}
    none = await sample_of(lambda r: httpx.Response(200, json=empty), ask("throughput"))
    assert none == Sample(None, 0, none.query)
    seven = await sample_of(lambda r: httpx.Response(200, json=scalar), ask("requests"))
    assert seven.value == 7.0 and seven.count == 7


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            httpx.Response(
                400,
                json={
                    "status": "error",
                    "errorType": "bad_data",
                    "error": "1:5: parse error:\nunexpected",
                },
            ),
            "bad_data: 1:5: parse error: unexpected",
        ),
        (httpx.Response(503, text="<html>down</html>"), "HTTP 503"),
        (httpx.Response(200, text="{not json"), "answered HTTP 200 with no JSON object"),
        (
            httpx.Response(200, json={"status": "success", "data": {"resultType": "string"}}),
            "unexpected result type 'string'",
        ),  # fmt: skip
        (
            httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": [{"metric": {"a": "1"}, "value": [0, "1"]}] * 2,
                    },
                },
            ),
            "the query returned 2 series, not one (aggregate it, e.g. with sum)",
        ),
        (
            httpx.Response(200, json=vector("many")),
            "unreadable sample",
        ),
    ],
)
async def test_bad_answers_are_one_line_errors_naming_server_and_query(
    answer: httpx.Response, reason: str
) -> None:
    sample = await sample_of(lambda request: answer)
    assert sample.value is None and sample.error is not None
    assert sample.error.startswith(f"prometheus at {URL}: ") and reason in sample.error
    assert "; query: ((sum (watchstander_requests_total{" in sample.error
    assert "\n" not in sample.error and sample.query


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ReadTimeout("slow"), "timed out after 3s"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "[Errno 111] Connection refused"),
    ],
)
async def test_transport_failures_are_error_samples(exc: Exception, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    sample = await sample_of(handler, timeout=3.0)
    assert sample.value is None and sample.error is not None
    assert sample.error.startswith(f"prometheus at {URL}: {reason}; query: ")


async def test_a_failed_count_query_fails_the_sample() -> None:
    recorder = Recorder({"5xx": httpx.Response(200, json=vector("0.1")),
                         "sum (watchstander": httpx.Response(503)})  # fmt: skip
    sample = await sample_of(recorder, ask("latency_p50"))
    assert sample.value is None and sample.error is not None and "HTTP 503" in sample.error


async def test_unknown_metric_and_empty_window() -> None:
    unknown = await sample_of(Recorder(), ask("conversion"))
    assert unknown.error == "unknown metric 'conversion'"
    empty = MetricQuery("requests", "shop", "1", END, END)
    assert (await sample_of(Recorder(), empty)).error == "the window is empty (end <= start)"


# -- credentials -----------------------------------------------------------------------


async def test_bearer_token_from_the_environment_and_never_in_errors() -> None:
    recorder = Recorder({"": httpx.Response(401, text="unauthorized")})
    sample = await sample_of(recorder, env={"PROM_TOKEN": "s3cr3t"}, bearer_token_env="PROM_TOKEN")
    assert recorder.requests[0].headers["Authorization"] == "Bearer s3cr3t"
    assert sample.error is not None and "HTTP 401" in sample.error
    assert "s3cr3t" not in sample.error and "s3cr3t" not in sample.query


async def test_basic_auth_from_the_environment() -> None:
    recorder = Recorder()
    env = {"PROM_USER": "ws", "PROM_PASS": "pa:ss"}
    sample = await sample_of(recorder, env=env, username_env="PROM_USER", password_env="PROM_PASS")
    expected = base64.b64encode(b"ws:pa:ss").decode()
    assert recorder.requests[0].headers["Authorization"] == f"Basic {expected}"
    assert sample.has_data


async def test_a_missing_variable_is_an_error_naming_the_field() -> None:
    recorder = Recorder()
    sample = await sample_of(recorder, env={"PROM_USER": "ws"}, username_env="PROM_USER",
                             password_env="PROM_PASS")  # fmt: skip
    assert sample.error == "metrics.password_env: environment variable PROM_PASS is not set"
    assert recorder.requests == [] and sample.query


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username_env": "U"}, "username_env and password_env go together"),
        ({"bearer_token_env": "T", "username_env": "U", "password_env": "P"}, "not both"),
        ({"url": "http://user:pw@prom:9090"}, "put no user:password in the url"),
        ({"queries": {"conversion": "x"}}, "unknown metric(s) conversion"),
        ({"queries": {"requests": "sum(x{job='{servce}'})"}}, "unknown placeholder(s) {servce}"),
        ({"version_label": "a-b"}, "version_label"),
    ],
)
def test_config_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PrometheusMetricsConfig.model_validate({"url": URL, **fields})


# -- wiring ------------------------------------------------------------------------------


async def test_the_entry_point_and_the_example_file() -> None:
    cls = load_provider("watchstander.metrics", "prometheus")
    assert cls is PrometheusMetricSource
    loaded = load_config(EXAMPLE)
    assert isinstance(loaded.metrics, PrometheusMetricsConfig)
    assert loaded.metrics.bearer_token_env == "PROMETHEUS_TOKEN"
    source = cls(loaded.metrics)
    try:
        assert isinstance(source, MetricSource)
        p99 = source.resolve("latency_p99", "checkout", "2.0.0", 120).expr
        assert 'bucket{service="checkout",version="2.0.0"}[120s]' in p99 and "\n" not in p99
        assert source.resolve("requests", "checkout", "2.0.0", 120).expr.endswith("or vector(0)")
    finally:
        await source.aclose()


def test_the_complete_configs_in_the_doc_load(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    complete = [b for b in blocks if b.startswith("service:")]
    assert complete, "the doc shows a complete configuration"
    for i, block in enumerate(complete):
        path = tmp_path / f"doc{i}.yaml"
        path.write_text(block, encoding="utf-8")
        metrics = load_config(path).metrics
        assert isinstance(metrics, PrometheusMetricsConfig) and metrics.queries
        for metric in metrics.queries:
            resolved = resolve(
                metrics.queries[metric],
                config=metrics,
                service="checkout",
                version="1.0",
                window=60,
            )
            assert "{" + "service}" not in resolved.expr and "{" + "version}" not in resolved.expr
