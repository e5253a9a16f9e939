"""The one way tests wait for a condition: poll it with a deadline.

The predicate is checked every `interval` seconds, and the test fails with `message` when
`timeout` passes first. Between checks the event loop runs, so a load generator or a
subprocess being awaited keeps going. No test waits a fixed time.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

__all__ = ["wait_for"]


async def wait_for(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll `predicate` (sync, or returning an awaitable) until it gives something truthy;
    return that. Fails the test with `message` when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message} (last: {result!r})"
            )
        await asyncio.sleep(interval)
