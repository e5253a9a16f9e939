"""Multiwindow, multi-burn-rate alerts (SRE workbook table 5-8, Sloth's defaults).

A tier fires when the burn rate over BOTH its long and its short window is above the
tier's factor: the long window makes it significant, the short one makes it reset
quickly once the burning stops. The factor is derived from the share of the SLO window's
budget the tier guards (Sloth's approach): factor = share x SLO window / long window, so
for a 30-day SLO the defaults are the workbook's 14.4 / 6 / 3 / 1, and a 28-day or 7-day
SLO gets factors that mean the same budget share.

| severity | long | short | budget share | factor at 30 d |
|---|---|---|---|---|
| page | 1h | 5m | 2% | 14.4 |
| page | 6h | 30m | 5% | 6 |
| ticket | 1d | 2h | 10% | 3 |
| ticket | 3d | 6h | 10% | 1 |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from watchstander.slo.models import Counts, SloDefinition

__all__ = [
    "Severity",
    "AlertWindow",
    "DEFAULT_WINDOWS",
    "TierState",
    "evaluate",
    "severity",
    "windows_needed",
    "window_label",
]


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True)
class AlertWindow:
    severity: Severity
    long: timedelta
    short: timedelta
    budget_share: float  # of the SLO window's budget spent within `long` at this rate

    def __post_init__(self) -> None:
        if not timedelta(0) < self.short < self.long:
            raise ValueError("alert window: need 0 < short < long")
        if not 0.0 < self.budget_share <= 1.0:
            raise ValueError("alert window: budget_share must be in (0, 1]")

    def factor(self, period: timedelta) -> float:
        """The burn rate that spends `budget_share` of a `period` budget in `long`."""
        return self.budget_share * (period / self.long)

    @property
    def name(self) -> str:
        return f"{window_label(self.long)}/{window_label(self.short)}"


_H = timedelta(hours=1)
_M = timedelta(minutes=1)
DEFAULT_WINDOWS: tuple[AlertWindow, ...] = (
    AlertWindow(Severity.PAGE, 1 * _H, 5 * _M, 0.02),
    AlertWindow(Severity.PAGE, 6 * _H, 30 * _M, 0.05),
    AlertWindow(Severity.TICKET, 24 * _H, 2 * _H, 0.10),
    AlertWindow(Severity.TICKET, 72 * _H, 6 * _H, 0.10),
)


@dataclass(frozen=True)
class TierState:
    window: AlertWindow
    factor: float
    long_burn: float | None  # None: no data in the window
    short_burn: float | None
    firing: bool


def _burn(slo: SloDefinition, counts: Counts) -> float | None:
    ratio = counts.error_ratio
    return None if ratio is None else ratio / slo.error_budget


def evaluate(
    slo: SloDefinition,
    counts_for: Callable[[timedelta], Counts],
    windows: Sequence[AlertWindow] = DEFAULT_WINDOWS,
) -> list[TierState]:
    """Each tier's burn rates and whether it fires. `counts_for(d)` sums the SLO's buckets
    over the last `d`. No data in a window never fires (no traffic spends no budget)."""
    out = []
    for w in windows:
        factor = w.factor(slo.window.duration)
        long_burn = _burn(slo, counts_for(w.long))
        short_burn = _burn(slo, counts_for(w.short))
        firing = (
            long_burn is not None
            and short_burn is not None
            and long_burn > factor
            and short_burn > factor
        )
        out.append(TierState(w, factor, long_burn, short_burn, firing))
    return out


def severity(states: Sequence[TierState]) -> Severity | None:
    """The most severe firing tier: page over ticket; None when nothing fires."""
    fired = {s.window.severity for s in states if s.firing}
    if Severity.PAGE in fired:
        return Severity.PAGE
    if Severity.TICKET in fired:
        return Severity.TICKET
    return None


def windows_needed(windows: Sequence[AlertWindow] = DEFAULT_WINDOWS) -> list[timedelta]:
    return sorted({d for w in windows for d in (w.long, w.short)})


def window_label(d: timedelta) -> str:
    """Prometheus-style duration: 5m, 1h, 1d, 30d."""
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
