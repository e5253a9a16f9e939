"""The admin API (JSON over HTTP on target.admin) and its Prometheus exposition.

The control plane drives the data plane only through these endpoints, so the daemon can
outlive any watchstander process and any client (LocalTarget, curl, a dashboard) sees
the same thing:

    GET  /healthz                         liveness and identity (service, pid, state dir)
    GET  /state                           instances, weights, desired replicas, observed_at
    PUT  /versions/{version}  {"replicas": n}      idempotent scale; 0 drains and stops
    PUT  /weights             {"weights": {v: %}}  idempotent; must sum to 100
    GET  /stats?since=POSIX&until=POSIX   per-version window statistics
    GET  /metrics                         Prometheus text (admin port only, never the
                                          router port, so users cannot scrape internals)
    POST /shutdown                        graceful stop, same as SIGTERM

Prometheus metrics are produced by a custom collector reading the live objects at scrape
time (in its own CollectorRegistry), so there is one source of truth and nothing to keep
in sync.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from watchstander.dataplane.server import DataPlane

__all__ = ["admin_app", "DataPlaneCollector", "DEFAULT_STATS_WINDOW_S"]

DEFAULT_STATS_WINDOW_S = 60.0
_PLANE: web.AppKey[DataPlane] = web.AppKey("plane")
_REGISTRY = web.AppKey("registry", CollectorRegistry)


def admin_app(plane: DataPlane) -> web.Application:
    app = web.Application()
    app[_PLANE] = plane
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DataPlaneCollector(plane))
    app[_REGISTRY] = registry
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/state", _state)
    app.router.add_put("/versions/{version}", _scale)
    app.router.add_put("/weights", _weights)
    app.router.add_get("/stats", _stats)
    app.router.add_get("/metrics", _metrics)
    app.router.add_post("/shutdown", _shutdown)
    return app


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise _BadRequest(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


class _BadRequest(web.HTTPBadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response(request.app[_PLANE].identity())


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[_PLANE].state_json())


async def _scale(request: web.Request) -> web.Response:
    plane = request.app[_PLANE]
    body = await _json_body(request)
    replicas = body.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        return _bad('the body must be {"replicas": N} with N a whole number')
    try:
        changed = plane.scale(request.match_info["version"], replicas)
    except ValueError as exc:
        return _bad(str(exc))
    return web.json_response(
        {"version": request.match_info["version"], "replicas": replicas, "changed": changed}
    )


async def _weights(request: web.Request) -> web.Response:
    plane = request.app[_PLANE]
    body = await _json_body(request)
    try:
        changed, warnings = plane.set_weights(body.get("weights"))
    except ValueError as exc:
        return _bad(str(exc))
    return web.json_response(
        {"weights": dict(plane.router.weights), "changed": changed, "warnings": warnings}
    )


async def _stats(request: web.Request) -> web.Response:
    try:
        until = float(request.query.get("until", time.time()))
        since = float(request.query.get("since", until - DEFAULT_STATS_WINDOW_S))
    except ValueError:
        return _bad("since and until must be POSIX timestamps (seconds)")
    if since > until:
        return _bad(f"since ({since}) is after until ({until})")
    return web.json_response(request.app[_PLANE].stats_json(since, until))


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[_REGISTRY])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _shutdown(request: web.Request) -> web.Response:
    request.app[_PLANE].request_shutdown()
    return web.json_response({"stopping": True}, status=202)


class DataPlaneCollector(Collector):
    """Cumulative counters and live gauges, read from the data plane at scrape time."""

    def __init__(self, plane: DataPlane) -> None:
        self._plane = plane

    def collect(self) -> Iterator[Metric]:
        plane = self._plane
        requests = CounterMetricFamily(
            "watchstander_requests",
            "Requests answered by the router, by version and status class.",
            labels=["version", "code_class"],
        )
        proxy_errors = CounterMetricFamily(
            "watchstander_proxy_errors",
            "Requests no replica answered (the router made the 5xx).",
            labels=["version"],
        )
        duration = HistogramMetricFamily(
            "watchstander_request_duration_seconds",
            "Time from request to response at the router.",
            labels=["version"],
        )
        for version, stats in sorted(plane.stats.versions.items()):
            for cls, n in sorted(stats.total_by_class.items()):
                requests.add_metric([version, cls], n)
            proxy_errors.add_metric([version], stats.total_proxy_errors)
            duration.add_metric([version], stats.prometheus_buckets(), stats.total_sum_s)
        yield requests
        yield proxy_errors
        yield duration

        restarts = CounterMetricFamily(
            "watchstander_instance_restarts",
            "Restarts of a replica by the supervisor.",
            labels=["version", "instance"],
        )
        oom = CounterMetricFamily(
            "watchstander_instance_oom_kills",
            "Replica kills for exceeding memory_limit_mb.",
            labels=["version", "instance"],
        )
        ready = GaugeMetricFamily(
            "watchstander_instance_ready",
            "1 when the replica passes health checks and takes traffic.",
            labels=["version", "instance"],
        )
        for replica in list(plane.supervisor.replicas.values()):
            labels = [replica.version, replica.id]
            restarts.add_metric(labels, replica.restarts)
            oom.add_metric(labels, replica.oom_kills)
            ready.add_metric(labels, 1.0 if replica.routable else 0.0)
        yield restarts
        yield oom
        yield ready

        weight = GaugeMetricFamily(
            "watchstander_traffic_weight",
            "Percent of traffic routed to a version.",
            labels=["version"],
        )
        for version, pct in sorted(plane.router.weights.items()):
            weight.add_metric([version], pct)
        yield weight
