"""The metric specs a rollout judges, built from the config's triggers and SLO targets."""

from __future__ import annotations

import dataclasses

from watchstander.analysis.models import Judge, MetricSpec, NoDataPolicy
from watchstander.config.models import AnalysisConfig, SloTarget, TriggerConfig

__all__ = ["build_specs", "health_specs"]

_UNITS = {
    "error_rate": "%",
    "latency_p50": "ms",
    "latency_p95": "ms",
    "latency_p99": "ms",
    "throughput": "rps",
}


def health_specs(triggers: TriggerConfig) -> list[MetricSpec]:
    """Infrastructure triggers read from the target: they act at the first failure."""
    specs: list[MetricSpec] = []
    if triggers.max_restarts is not None:
        specs.append(
            MetricSpec(
                name="restarts",
                metric="restarts",
                judge=Judge.MAX,
                limit=float(triggers.max_restarts),
                no_data=NoDataPolicy.IGNORE,
            )
        )
    if triggers.oom_kill:
        specs.append(
            MetricSpec(
                name="oom-kills",
                metric="oom_kills",
                judge=Judge.MAX,
                limit=0.0,
                no_data=NoDataPolicy.IGNORE,
            )
        )
    if triggers.unhealthy_pct is not None:
        specs.append(
            MetricSpec(
                name="unhealthy-instances",
                metric="unhealthy_pct",
                judge=Judge.MAX,
                limit=triggers.unhealthy_pct,
                no_data=NoDataPolicy.IGNORE,
                unit="",
            )
        )
    return specs


def build_specs(
    analysis: AnalysisConfig,
    triggers: TriggerConfig,
    slos: list[SloTarget] | tuple[SloTarget, ...] = (),
) -> list[MetricSpec]:
    """Baseline-relative triggers, absolute SLO targets, then the health triggers."""
    no_data = NoDataPolicy(analysis.no_data)
    common = {
        "min_count": analysis.min_requests,
        "no_data": no_data,
        "failure_limit": analysis.failure_limit,
        "inconclusive_limit": analysis.inconclusive_limit,
        "consecutive_error_limit": analysis.consecutive_error_limit,
    }
    specs: list[MetricSpec] = []
    if triggers.error_rate_increase_pp is not None:
        specs.append(
            MetricSpec(
                name="error-rate",
                metric="error_rate",
                judge=Judge.MAX_INCREASE_ABS,
                limit=triggers.error_rate_increase_pp / 100.0,
                unit="%",
                **common,  # type: ignore[arg-type]
            )
        )
    if triggers.latency_p99_increase_pct is not None:
        specs.append(
            MetricSpec(
                name="latency-p99",
                metric="latency_p99",
                judge=Judge.MAX_INCREASE_PCT,
                limit=triggers.latency_p99_increase_pct,
                min_delta=triggers.latency_p99_min_increase_ms,
                unit="ms",
                **common,  # type: ignore[arg-type]
            )
        )
    if triggers.throughput_drop_pct is not None:
        specs.append(
            MetricSpec(
                name="throughput",
                metric="throughput",
                judge=Judge.MAX_DECREASE_PCT,
                limit=triggers.throughput_drop_pct,
                unit="rps",
                **common,  # type: ignore[arg-type]
            )
        )
    for slo in slos:
        for judge_kind, bound in ((Judge.MAX, slo.max), (Judge.MIN, slo.min)):
            if bound is None:
                continue
            specs.append(
                MetricSpec(
                    name=f"slo:{slo.name}",
                    metric=slo.metric,
                    judge=judge_kind,
                    limit=bound,
                    unit=_UNITS[slo.metric],
                    **common,  # type: ignore[arg-type]
                )
            )
    specs.extend(health_specs(triggers))
    return [_override(spec, analysis) for spec in specs]


def _override(spec: MetricSpec, analysis: AnalysisConfig) -> MetricSpec:
    """Apply `analysis.metrics[<name>]`: the explicit per-metric settings win."""
    o = analysis.metrics.get(spec.name)
    if o is None:
        return spec
    changes: dict[str, object] = {}
    if o.no_data is not None:
        changes["no_data"] = NoDataPolicy(o.no_data)
    if o.failure_limit is not None:
        changes["failure_limit"] = o.failure_limit
    if o.inconclusive_limit is not None:
        changes["inconclusive_limit"] = o.inconclusive_limit
    if o.consecutive_error_limit is not None:
        changes["consecutive_error_limit"] = o.consecutive_error_limit
    if o.min_requests is not None:
        changes["min_count"] = o.min_requests
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]
