"""Judges: one Sample (and its baseline) in, one Measurement with a reason out."""

from __future__ import annotations

import math
from datetime import datetime

from watchstander.analysis.models import (
    Judge,
    Measurement,
    MetricSpec,
    NoDataPolicy,
    Phase,
    Sample,
)

__all__ = ["judge"]

_NO_DATA_PHASE = {
    NoDataPolicy.FAIL: Phase.FAIL,
    NoDataPolicy.INCONCLUSIVE: Phase.INCONCLUSIVE,
    NoDataPolicy.IGNORE: Phase.PASS,
}


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value * 100:.2f}%"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "rps":
        return f"{value:.2f} req/s"
    return f"{value:g}"


def judge(
    spec: MetricSpec,
    candidate: Sample,
    baseline: Sample | None,
    *,
    at: datetime,
    version: str = "",
    expected_ratio: float = 1.0,
) -> Measurement:
    """Judge `candidate` against `spec` (and `baseline` for relative judges).

    `expected_ratio` scales the baseline before comparing, for throughput: a canary with
    5% of the traffic is expected to serve 5/95 of what the stable version serves.
    """

    def result(
        phase: Phase,
        reason: str,
        *,
        value: float | None = candidate.value,
        base: float | None = None,
        threshold: float | None = None,
    ) -> Measurement:
        return Measurement(
            name=spec.name,
            metric=spec.metric,
            phase=phase,
            value=value,
            baseline=base,
            threshold=threshold,
            reason=reason,
            query=candidate.query,
            at=at,
            count=candidate.count,
            version=version,
        )

    if candidate.error is not None:
        return result(Phase.ERROR, f"query failed: {candidate.error}", value=None)
    if candidate.value is None or math.isnan(candidate.value) or candidate.count < spec.min_count:
        why = (
            "no data"
            if candidate.value is None or math.isnan(candidate.value)
            else f"only {candidate.count} requests (< {spec.min_count})"
        )
        phase = _NO_DATA_PHASE[spec.no_data]
        return result(
            phase, f"{why}; no-data policy {spec.no_data.value} -> {phase.value}", value=None
        )

    value = candidate.value
    unit = spec.unit
    if not spec.needs_baseline:
        if spec.judge is Judge.MAX:
            ok = value <= spec.limit
            rel = "<=" if ok else ">"
        else:
            ok = value >= spec.limit
            rel = ">=" if ok else "<"
        return result(
            Phase.PASS if ok else Phase.FAIL,
            f"{_fmt(value, unit)} {rel} limit {_fmt(spec.limit, unit)}",
            threshold=spec.limit,
        )

    if (
        baseline is None
        or baseline.error is not None
        or baseline.value is None
        or (math.isnan(baseline.value))
    ):
        why = "baseline query failed" if baseline and baseline.error else "no baseline data"
        if baseline is not None and baseline.error is not None:
            return result(Phase.ERROR, f"{why}: {baseline.error}")
        phase = _NO_DATA_PHASE[spec.no_data]
        return result(phase, f"{why}; no-data policy {spec.no_data.value} -> {phase.value}")
    if baseline.count < spec.min_count and spec.metric != "throughput":
        phase = _NO_DATA_PHASE[spec.no_data]
        return result(
            phase,
            f"baseline has only {baseline.count} requests (< {spec.min_count}); "
            f"no-data policy {spec.no_data.value} -> {phase.value}",
            base=baseline.value,
        )

    base = baseline.value * expected_ratio
    if spec.judge is Judge.MAX_INCREASE_ABS:
        threshold = base + spec.limit
        ok = value <= threshold
        detail = f"baseline {_fmt(base, unit)} + {_fmt(spec.limit, unit)}"
    elif spec.judge is Judge.MAX_INCREASE_PCT:
        threshold = max(base * (1 + spec.limit / 100.0), base + spec.min_delta)
        ok = value <= threshold
        detail = f"baseline {_fmt(base, unit)} +{spec.limit:g}%"
        if spec.min_delta:
            detail += f" (at least +{_fmt(spec.min_delta, unit)})"
    else:  # MAX_DECREASE_PCT
        threshold = base * (1 - spec.limit / 100.0)
        ok = value >= threshold
        detail = f"expected {_fmt(base, unit)} -{spec.limit:g}%"
    rel = (
        ("<=" if ok else ">") if spec.judge is not Judge.MAX_DECREASE_PCT else (">=" if ok else "<")
    )
    return result(
        Phase.PASS if ok else Phase.FAIL,
        f"{_fmt(value, unit)} {rel} {_fmt(threshold, unit)} ({detail})",
        base=base,
        threshold=threshold,
    )
