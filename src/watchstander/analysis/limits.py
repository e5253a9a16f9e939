"""Summing measurements under limits: when does a metric, and an analysis run, end?

Argo Rollouts semantics: a metric FAILS when failures > failure_limit (-1: never), is
INCONCLUSIVE when inconclusives > inconclusive_limit, and ERRORS when consecutive errors >
consecutive_error_limit. A run that collected its `count` measurements with none of
those is PASS. Unlike Argo (#4479), a run whose measurements were all ERROR or
INCONCLUSIVE is never PASS: it is ERROR / INCONCLUSIVE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchstander.analysis.models import Measurement, MetricSpec, Phase

__all__ = ["MetricTally", "tally", "metric_phase", "run_phase"]


@dataclass(frozen=True)
class MetricTally:
    total: int = 0
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0

    def add(self, phase: Phase) -> MetricTally:
        return MetricTally(
            total=self.total + 1,
            passed=self.passed + (phase is Phase.PASS),
            failed=self.failed + (phase is Phase.FAIL),
            inconclusive=self.inconclusive + (phase is Phase.INCONCLUSIVE),
            errors=self.errors + (phase is Phase.ERROR),
            consecutive_errors=self.consecutive_errors + 1 if phase is Phase.ERROR else 0,
        )


def tally(measurements: Iterable[Measurement]) -> MetricTally:
    result = MetricTally()
    for m in measurements:
        result = result.add(m.phase)
    return result


def metric_phase(spec: MetricSpec, t: MetricTally, *, complete: bool) -> Phase | None:
    """The metric's verdict so far, or None while it is still running."""
    if spec.failure_limit >= 0 and t.failed > spec.failure_limit:
        return Phase.FAIL
    if t.consecutive_errors > spec.consecutive_error_limit:
        return Phase.ERROR
    if t.inconclusive > spec.inconclusive_limit:
        return Phase.INCONCLUSIVE
    if not complete:
        return None
    if t.total and t.passed == 0:
        # Nothing ever passed: the run proves nothing (Argo #4479 would call it Successful).
        return Phase.ERROR if t.errors >= t.inconclusive else Phase.INCONCLUSIVE
    return Phase.PASS


_SEVERITY = {Phase.FAIL: 3, Phase.ERROR: 2, Phase.INCONCLUSIVE: 1, Phase.PASS: 0}


def run_phase(
    specs: Sequence[MetricSpec],
    tallies: dict[str, MetricTally],
    *,
    complete: bool,
) -> tuple[Phase | None, list[str]]:
    """The run's verdict (worst metric first) and the names of the metrics that decided it."""
    phases: dict[str, Phase | None] = {
        s.name: metric_phase(s, tallies.get(s.name, MetricTally()), complete=complete)
        for s in specs
    }
    decided = {name: p for name, p in phases.items() if p is not None and p is not Phase.PASS}
    if decided:
        worst = max(decided.values(), key=lambda p: _SEVERITY[p])
        return worst, sorted(n for n, p in decided.items() if p is worst)
    if complete:
        return Phase.PASS, []
    return None, []
