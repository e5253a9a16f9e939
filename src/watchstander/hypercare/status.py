"""The daily hypercare status: GREEN, YELLOW or RED, with the reasons.

The aiwg flow's daily standup ends in "Overall Status: {GREEN | YELLOW | RED}" without
saying how to pick one. watchstander's rule, from the flow's own escalation levels and
error-budget assessment (Step 2: "Assessment: {HEALTHY | MONITOR | CRITICAL}"):

* **RED**: an open P0; a P0 detected in the last 24 h; an SLO not met; the error budget
  CRITICAL (the flow: "recommend incident freeze, focus on stability").
* **YELLOW**: an open P1; a P1 detected in the last 24 h; an SLO at risk; the error budget
  at MONITOR ("recommend increased monitoring, defer risky changes").
* **GREEN**: none of these.

The reasons list every condition found, the RED ones first, each a sentence naming the
counts, so a RED day also shows its YELLOW concerns. A GREEN day has one reason saying
what was checked. Pure: the caller counts; nothing here reads metrics or incidents.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["Health", "BUDGET_ASSESSMENTS", "daily_health"]


class Health(StrEnum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


BUDGET_ASSESSMENTS = ("HEALTHY", "MONITOR", "CRITICAL")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _is(count: int) -> str:
    return "is" if count == 1 else "are"


def daily_health(
    *,
    slos_met: int,
    slos_total: int,
    slos_at_risk: int,
    open_p0: int,
    open_p1: int,
    incidents_24h: Mapping[str, int],
    budget_assessment: str,
) -> tuple[Health, list[str]]:
    """(status, reasons). `incidents_24h` maps a priority ("P0".."P3") to the number of
    incidents detected in the last 24 h; missing priorities count 0. `budget_assessment`
    is HEALTHY, MONITOR or CRITICAL (any case). Negative counts, more SLOs met than
    defined, or another assessment are a ValueError."""
    counts = {
        "slos_met": slos_met,
        "slos_total": slos_total,
        "slos_at_risk": slos_at_risk,
        "open_p0": open_p0,
        "open_p1": open_p1,
        **{f"incidents_24h[{k}]": v for k, v in incidents_24h.items()},
    }
    negative = [name for name, value in counts.items() if value < 0]
    if negative:
        raise ValueError(f"daily health: negative count for {', '.join(negative)}")
    if slos_met > slos_total:
        raise ValueError(f"daily health: {slos_met} SLOs met of only {slos_total}")
    budget = budget_assessment.strip().upper()
    if budget not in BUDGET_ASSESSMENTS:
        raise ValueError(
            f"daily health: budget assessment {budget_assessment!r} is not one of "
            + ", ".join(BUDGET_ASSESSMENTS)
        )
    p0_24h = incidents_24h.get("P0", 0)
    p1_24h = incidents_24h.get("P1", 0)
    missed = slos_total - slos_met

    red: list[str] = []
    if open_p0:
        red.append(f"{_n(open_p0, 'P0 incident')} {_is(open_p0)} open")
    if p0_24h:
        red.append(f"{_n(p0_24h, 'P0 incident')} {_was(p0_24h)} detected in the last 24 h")
    if missed:
        red.append(f"{missed} of {_n(slos_total, 'SLO')} not met")
    if budget == "CRITICAL":
        red.append("the error budget is CRITICAL: freeze changes and focus on stability")

    yellow: list[str] = []
    if open_p1:
        yellow.append(f"{_n(open_p1, 'P1 incident')} {_is(open_p1)} open")
    if p1_24h:
        yellow.append(f"{_n(p1_24h, 'P1 incident')} {_was(p1_24h)} detected in the last 24 h")
    if slos_at_risk:
        yellow.append(f"{slos_at_risk} of {_n(slos_total, 'SLO')} at risk")
    if budget == "MONITOR":
        yellow.append("the error budget needs monitoring: defer risky changes")

    if red:
        return Health.RED, red + yellow
    if yellow:
        return Health.YELLOW, yellow
    slos = f"all {_n(slos_total, 'SLO')} met" if slos_total else "no SLOs defined"
    return Health.GREEN, [
        f"{slos}, no open P0/P1 incidents, no P0/P1 in the last 24 h, error budget HEALTHY"
    ]
