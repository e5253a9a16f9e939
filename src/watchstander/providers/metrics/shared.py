"""SharedCalls: one request per key for concurrent askers, its answer reused briefly.

An analysis asks several metrics for two versions over the same window at the same
moment; a metric source keys its backend call on what the call depends on, and everyone
asking the same key awaits one task. A success is reused for `ttl` seconds (bounded to
`size` keys, oldest first out); a failure is never remembered, so the next ask retries.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedCalls"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedCalls(Generic[K, V]):
    def __init__(self, *, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._calls: OrderedDict[K, tuple[float, asyncio.Task[V]]] = OrderedDict()

    async def get(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        now = time.monotonic()
        cached = self._calls.get(key)
        if cached is None or now - cached[0] > self.ttl:
            task = asyncio.ensure_future(call())
            cached = self._calls[key] = (now, task)
            while len(self._calls) > self.size:
                self._calls.popitem(last=False)
        task = cached[1]
        try:
            # Shielded: one asker being cancelled does not cancel the others' answer.
            return await asyncio.shield(task)
        except Exception:
            current = self._calls.get(key)
            if current is not None and current[1] is task:
                del self._calls[key]
            raise

    async def aclose(self) -> None:
        """Cancel whatever is still in flight and forget everything."""
        tasks = [task for _, task in self._calls.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._calls.clear()
