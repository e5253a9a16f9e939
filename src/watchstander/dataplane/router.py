"""The weighted HTTP router: the one socket users talk to while versions come and go.

Choices and why:

- Version by smooth weighted round-robin (nginx's algorithm), not random: with 95/5 every
  run of 20 requests sends exactly one to the canary, so a 5% canary gets 5% from the
  first second and small test runs are not noisy.
- Only versions with a routable replica take part, so a version that lost all its
  replicas (crash loop, drained) gives its share to the others instead of failing
  requests; with no weighted version routable, any routable replica serves.
- Weights are one immutable mapping swapped in a single assignment: a request already
  in flight keeps its replica, the listening socket never closes, so a weight change or a
  cutover drops and refuses nothing.
- Retries hide replica deaths from clients: a refused or timed-out *connect* is retried
  on another replica for any method (nothing was sent); a reset or disconnect after the
  request was sent is retried only for idempotent methods. Only when every attempt fails
  does the client get a 502 (504 on upstream timeout), counted as a 5xx and a proxy error.
- `X-Watchstander-Version: V` on a request previews V (smoke tests against green before
  the switch). If V has no ready replica the answer is 503: a smoke test for green must
  never be answered by blue. Every proxied response names its version in the same header.

Limits: request and response bodies are buffered (no streaming, no WebSocket upgrade); a
POST whose pooled keep-alive connection turns out dead is not retried (it may have run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from watchstander.dataplane.stats import StatsBook
from watchstander.dataplane.supervisor import Replica, Supervisor

__all__ = ["VERSION_HEADER", "UNROUTED", "WeightedPicker", "Router", "new_upstream_session"]

VERSION_HEADER = "X-Watchstander-Version"
UNROUTED = "unrouted"  # the stats bucket of requests no replica could take
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {VERSION_HEADER.lower()}
_CONNECT_TIMEOUT_S = 2.0


def new_upstream_session() -> aiohttp.ClientSession:
    """The pooled keep-alive session the router proxies through.

    Bodies pass through untouched (no decompression), no cookies are kept, and no
    User-Agent/Accept headers are invented for requests that did not carry them.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1000, keepalive_timeout=15.0),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
    )


class WeightedPicker:
    """Smooth weighted round-robin over the versions a request may go to."""

    def __init__(self) -> None:
        self._current: dict[str, float] = {}

    def reset(self) -> None:
        self._current.clear()

    def pick(self, weights: Mapping[str, float], candidates: list[str]) -> str | None:
        total = 0.0
        best: str | None = None
        for version in candidates:
            weight = weights[version]
            total += weight
            current = self._current.get(version, 0.0) + weight
            self._current[version] = current
            if best is None or current > self._current[best]:
                best = version
        if best is not None:
            self._current[best] -= total
        return best


class Router:
    """The aiohttp handler that picks a replica, proxies, retries and records stats."""

    def __init__(
        self,
        supervisor: Supervisor,
        stats: StatsBook,
        *,
        session: aiohttp.ClientSession,
        retries: int,
        upstream_timeout: float,
    ) -> None:
        self._supervisor = supervisor
        self._stats = stats
        self._session = session
        self._retries = retries
        self._timeout = aiohttp.ClientTimeout(
            total=upstream_timeout, sock_connect=min(upstream_timeout, _CONNECT_TIMEOUT_S)
        )
        self._picker = WeightedPicker()
        self._turn: dict[str, int] = {}
        self.weights: Mapping[str, float] = MappingProxyType({})

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Swap the weights in one assignment (requests in flight are unaffected)."""
        self.weights = MappingProxyType(dict(weights))
        self._picker.reset()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- choosing ----------------------------------------------------------------------

    def choose_version(self) -> str | None:
        weights = self.weights
        candidates = [v for v in sorted(weights) if weights[v] > 0 and self._supervisor.pool(v)]
        return self._picker.pick(weights, candidates)

    def _next_replica(self, version: str, tried: set[str]) -> Replica | None:
        pool = [r for r in self._supervisor.pool(version) if r.id not in tried]
        if not pool:
            return None
        turn = self._turn[version] = self._turn.get(version, -1) + 1
        return pool[turn % len(pool)]

    def _attempts(self, first: str | None, *, preview: bool) -> Iterator[Replica]:
        """Replicas to try in order; lazy, so each retry sees the pools as they are now."""
        tried: set[str] = set()
        versions = [first] if first is not None else []
        if not preview:
            weights = self.weights
            versions += sorted((v for v in weights if weights[v] > 0), key=lambda v: -weights[v])
            versions += sorted({r.version for r in self._supervisor.routable()})
        for version in dict.fromkeys(versions):
            while (replica := self._next_replica(version, tried)) is not None:
                tried.add(replica.id)
                yield replica

    # -- proxying ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        body = await request.read()
        preview = request.headers.get(VERSION_HEADER) or None
        first = preview or self.choose_version()
        headers = _forward_headers(request)
        url_tail = request.rel_url.raw_path_qs
        budget = self._retries + 1
        failure = "no ready replica"
        status = 503
        attributed: str | None = None
        retried_from: str | None = None
        for replica in self._attempts(first, preview=preview is not None):
            if retried_from is not None:
                # Counted only now that another attempt follows: the last failed attempt
                # is the proxy error itself.
                self._stats.of(retried_from).record_failed_attempt(time.time())
            attributed = attributed or replica.version
            budget -= 1
            replica.acquire()
            try:
                async with self._session.request(
                    request.method,
                    f"http://{replica.address}{url_tail}",
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    timeout=self._timeout,
                ) as upstream:
                    payload = await upstream.read()
                    response = web.Response(
                        status=upstream.status,
                        reason=upstream.reason,
                        headers=_backward_headers(upstream),
                        body=payload,
                    )
                    response.headers[VERSION_HEADER] = replica.version
                    self._record(replica.version, upstream.status, started)
                    return response
            except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
                # Nothing was sent: safe to retry whatever the method.
                replica.mark_unreachable()
                failure, status, retry = f"{replica.id}: cannot connect: {exc}", 502, True
            except TimeoutError:
                failure, status, retry = f"{replica.id}: no answer in time", 504, False
            except (
                aiohttp.ClientOSError,
                aiohttp.ServerDisconnectedError,
                aiohttp.ClientPayloadError,
            ) as exc:
                failure = f"{replica.id}: connection lost: {exc!r}"
                status, retry = 502, request.method in IDEMPOTENT
            except aiohttp.ClientError as exc:
                failure, status, retry = f"{replica.id}: {exc!r}", 502, False
            finally:
                replica.release()
            if not retry or budget <= 0:
                break
            retried_from = replica.version
        if preview is not None and attributed is None:
            failure = f"version {preview!r} has no ready replica"
        self._record(attributed or UNROUTED, status, started, proxy_error=True)
        return web.json_response({"error": failure}, status=status)

    def _record(
        self, version: str, status: int, started: float, *, proxy_error: bool = False
    ) -> None:
        self._stats.of(version).record(
            time.time(), status, time.perf_counter() - started, proxy_error=proxy_error
        )


def _forward_headers(request: web.Request) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED
    )
    if request.host:
        headers["X-Forwarded-Host"] = request.host
    if request.remote:
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {request.remote}" if prior else request.remote
    headers["X-Forwarded-Proto"] = request.scheme
    return headers


def _backward_headers(upstream: aiohttp.ClientResponse) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP)
