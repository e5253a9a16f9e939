"""Config -> the plain Settings the state machine takes."""

from __future__ import annotations

from watchstander.analysis.specs import build_specs
from watchstander.config.models import Config
from watchstander.gates.regression import HardLimits, Tolerances
from watchstander.release.actions import Settings

__all__ = ["settings_from_config", "gate_limits"]


def gate_limits(config: Config) -> tuple[Tolerances, HardLimits]:
    """The regression gates' noise floors (regression.tolerances) and the hard limits
    that make a metric regression CRITICAL (the rollback triggers)."""
    tol = config.regression.tolerances
    triggers = config.rollback.triggers
    return (
        Tolerances(
            error_rate_pp=tol.error_rate_pp,
            latency_pct=tol.latency_pct,
            latency_ms=tol.latency_ms,
            throughput_pct=tol.throughput_pct,
        ),
        HardLimits(
            error_rate_pp=triggers.error_rate_increase_pp or 2.0,
            latency_p99_pct=triggers.latency_p99_increase_pct or 20.0,
            throughput_drop_pct=triggers.throughput_drop_pct or 30.0,
        ),
    )


def settings_from_config(config: Config) -> Settings:
    tolerances, hard = gate_limits(config)
    specs = build_specs(config.analysis, config.rollback.triggers, config.slos)
    triggers = config.rollback.triggers
    return Settings(
        specs=tuple(s for s in specs if not s.from_target),
        health=tuple(s for s in specs if s.from_target),
        interval=config.analysis.interval,
        window=config.analysis.window,
        poll=min(0.5, max(0.05, config.target.health.interval / 2)),
        ready_timeout=min(config.target.ready_timeout, config.strategy.progress_deadline),
        restart_window=triggers.restart_window,
        verify_window=config.rollback.verify_window,
        error_rate_pp=triggers.error_rate_increase_pp
        if triggers.error_rate_increase_pp is not None
        else 2.0,
        smoke_failure_rolls_back=triggers.smoke_failure,
        tolerances=tolerances,
        hard_limits=hard,
        critical_tests=tuple(config.regression.critical_tests),
        min_requests=config.analysis.min_requests,
    )
