"""An open-loop HTTP load generator that remembers which version answered each request.

Open loop: requests leave on a fixed schedule (rps) whether or not earlier ones came back,
as real users do, so a slow or failing version shows up as latency and errors instead of
quietly lowering the request rate. Concurrency is bounded; a request that would exceed the
bound is not sent and is counted as `skipped`, so saturation of the generator itself is
visible rather than hidden.

Every result keeps its send time, status (None when no HTTP response came back: refused,
reset, timeout), latency and the version from the X-Watchstander-Version response header,
so a caller can ask "when did version V first fail after time T" or "when did V last
serve", which is how the demo and the benchmark time a rollback or a weight change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

__all__ = ["RequestResult", "LoadReport", "LoadGenerator", "VERSION_HEADER"]

VERSION_HEADER = "X-Watchstander-Version"


@dataclass(frozen=True)
class RequestResult:
    sent_at: float  # POSIX time
    latency_s: float
    status: int | None  # None: no HTTP response (connection error)
    version: str | None  # who served it, from the response header
    error: str | None = None


@dataclass(frozen=True)
class LoadReport:
    requests: int
    by_status: Mapping[int, int]
    connection_errors: int
    by_version: Mapping[str, int]
    first_5xx_at: Mapping[str, float]  # version -> POSIX time of its first 5xx
    skipped: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    error_samples: tuple[str, ...] = field(default_factory=tuple)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)


class LoadGenerator:
    """Send `rps` requests per second to url+path until stopped."""

    def __init__(
        self,
        url: str,
        *,
        rps: float,
        path: str = "/work",
        timeout: float = 10.0,
        concurrency: int = 256,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if rps <= 0:
            raise ValueError("rps must be positive")
        self.url = url.rstrip("/") + path
        self.rps = rps
        self.timeout = timeout
        self.concurrency = concurrency
        self.headers = dict(headers or {})
        self.results: list[RequestResult] = []
        self.skipped = 0
        self._session: aiohttp.ClientSession | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._ticker is not None:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency),
        )
        self._ticker = asyncio.create_task(self._tick(), name="loadgen")

    async def stop(self) -> LoadReport:
        """Stop sending, wait for the requests in flight, close the client."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.timeout + 1.0)
        for task in list(self._inflight):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        return self.report()

    async def __aenter__(self) -> LoadGenerator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rps
        begin = loop.time()
        sent = 0
        while True:
            sent += 1
            delay = begin + sent * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(self._inflight) >= self.concurrency:
                self.skipped += 1
                continue
            task = asyncio.create_task(self._one())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _one(self) -> None:
        assert self._session is not None
        sent_at = time.time()
        started = time.perf_counter()
        try:
            async with self._session.get(self.url, headers=self.headers) as resp:
                await resp.read()
                result = RequestResult(
                    sent_at=sent_at,
                    latency_s=time.perf_counter() - started,
                    status=resp.status,
                    version=resp.headers.get(VERSION_HEADER),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            result = RequestResult(
                sent_at=sent_at,
                latency_s=time.perf_counter() - started,
                status=None,
                version=None,
                error=repr(exc),
            )
        self.results.append(result)

    # -- reading the results ---------------------------------------------------------------

    def report(self) -> LoadReport:
        results = list(self.results)
        by_status = Counter(r.status for r in results if r.status is not None)
        by_version = Counter(r.version for r in results if r.version is not None)
        first_5xx: dict[str, float] = {}
        for r in sorted(results, key=lambda r: r.sent_at):
            if r.status is not None and r.status >= 500:
                first_5xx.setdefault(r.version or "", r.sent_at)
        latencies = sorted(r.latency_s for r in results if r.status is not None)
        errors = [r.error for r in results if r.error]
        return LoadReport(
            requests=len(results),
            by_status=dict(by_status),
            connection_errors=sum(1 for r in results if r.status is None),
            by_version=dict(by_version),
            first_5xx_at=first_5xx,
            skipped=self.skipped,
            latency_p50_ms=_percentile_ms(latencies, 0.50),
            latency_p99_ms=_percentile_ms(latencies, 0.99),
            error_samples=tuple(dict.fromkeys(errors))[:5],
        )

    def first_error_at(self, version: str | None = None, *, since: float = 0.0) -> float | None:
        """Send time of the first 5xx sent at or after `since` (served by `version`, if
        given; a 502 made by the router itself carries no version)."""
        times = [
            r.sent_at
            for r in self.results
            if r.status is not None
            and r.status >= 500
            and r.sent_at >= since
            and (version is None or r.version == version)
        ]
        return min(times, default=None)

    def first_served_at(self, version: str, *, since: float = 0.0) -> float | None:
        """Send time of the first request sent at or after `since` that `version` answered."""
        times = [r.sent_at for r in self.results if r.version == version and r.sent_at >= since]
        return min(times, default=None)

    def last_served_at(self, version: str) -> float | None:
        """Send time of the last request `version` answered."""
        return max((r.sent_at for r in self.results if r.version == version), default=None)


def _percentile_ms(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0
