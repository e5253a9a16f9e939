"""The MetricSource protocol: observe, never judge, never raise for a failed query.

A failed or empty query comes back as a Sample with `error` or `value=None`; the
analysis package decides what that means (phase ERROR, or the metric's no-data policy).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from watchstander.analysis.models import MetricQuery, Sample

__all__ = ["MetricQuery", "Sample", "MetricSource"]


@runtime_checkable
class MetricSource(Protocol):
    async def query(self, q: MetricQuery) -> Sample: ...

    async def aclose(self) -> None: ...
