"""Time as an injected dependency.

Everything long-running (canary pauses, analysis intervals, observation windows, later
escalation timers and hypercare days) asks a Clock for `now()` and waits through
`sleep()`. SystemClock is the wall clock; FakeClock is virtual time, so tests drive hours
of behaviour in milliseconds. The pure core never calls either: it is handed `now`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "SystemClock", "FakeClock", "utc"]


def utc(ts: float) -> datetime:
    """An aware UTC datetime from a POSIX timestamp."""
    return datetime.fromtimestamp(ts, tz=UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    async def sleep(self, seconds: float) -> None:
        # Imported here so that importing the clock module stays IO-free for the core.
        import asyncio

        await asyncio.sleep(max(0.0, seconds))

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """Virtual time: `sleep` advances the clock instead of waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now = self._now + timedelta(seconds=seconds)
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
