"""FakeMetricSource: a MetricSource answered by a plain function, for engine tests.

    def handler(q: MetricQuery) -> Sample:
        if q.metric == "error_rate" and q.version == "2.0":
            return Sample(0.08, count=500, query="fake: error_rate")
        return Sample(0.001, count=500, query="fake")

    source = FakeMetricSource(handler)

Every query is recorded in `queries`. Whatever the handler raises comes back as
Sample(value=None, error=...), as the protocol demands of real sources.
"""

from __future__ import annotations

from collections.abc import Callable

from watchstander.analysis.models import MetricQuery, Sample

__all__ = ["FakeMetricSource", "Handler"]

Handler = Callable[[MetricQuery], Sample]


class FakeMetricSource:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.queries: list[MetricQuery] = []
        self.closed = False

    async def query(self, q: MetricQuery) -> Sample:
        self.queries.append(q)
        try:
            return self.handler(q)
        except Exception as exc:  # a failed query is data, never an exception
            return Sample(None, query=f"fake: {q.metric}", error=repr(exc))

    async def aclose(self) -> None:
        self.closed = True
