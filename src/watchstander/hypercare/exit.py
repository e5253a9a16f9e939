"""Hypercare exit criteria, evaluated from data, and the END / EXTEND / ESCALATE decision.

The aiwg flow's exit criteria (Step 5, "Validate Hypercare Exit Criteria") as watchstander
checks them (handbook 4.7):

===============  ==================================================  ========================
key              criterion                                           area
===============  ==================================================  ========================
no_p0_48h        zero P0 detected in the last 48 hours               Production stability
no_p1_24h        zero P1 detected in the last 24 hours               Production stability
slos_72h         every SLO met for 72 consecutive hours              SLO compliance
budget           error budget healthy: every SLO burned < 50% of     Error budget
                 the period's budget (the flow's "Error budget burn
                 rate ... target: <50% during hypercare")
no_open_p0_p1    no open P0/P1 incidents                             Production stability
pirs             a post-incident review for every P0/P1              Incident follow-up
adoption         user adoption trending positive                     User adoption
sentiment        user sentiment at least 70% positive                User adoption
support_ready    support team ready: the Support Lead has signed     Support readiness
===============  ==================================================  ========================

The first five are stability criteria and **blocking**; the others are not.

* **Clocks.** "A P0 incident resets the 48h 'zero critical incidents' requirement": the P0
  clock runs from the latest P0's detection and clears 48 h later (exactly 48 h later counts
  as clear); the P1 clock likewise with 24 h. Only incidents detected at or before `now`
  count: the evaluation is as of `now`.
* **SLO streaks** come from the hourly SLO snapshots (`SloFact.met_hours`); an SLO that is
  not compliant now has a streak of 0 whatever the snapshots said. Exactly 72 h passes.
* **Budget.** A burn of exactly 0.5 is not "below 50%". An SLO with no burn figure makes
  the criterion unknown (unless another SLO already fails it).
* **Adoption.** INCREASING is met; STABLE is met too ("not declining": the flow's other
  adoption check is "support ticket volume stable or decreasing"); DECREASING is not met;
  no trend is unknown. **Sentiment** of exactly 70% passes.
* A criterion with no data is unknown (`met=None`), never silently met.

Outcome:

* **status**: PASS when every criterion is met; FAIL when a blocking one is not met;
  otherwise CONDITIONAL (a non-blocking criterion unmet, or anything unknown). The
  conditions to accept or resolve are listed.
* **decision**: END HYPERCARE for PASS and CONDITIONAL (the flow's success: "Exit criteria
  validated: PASS or CONDITIONAL PASS"). FAIL means EXTEND HYPERCARE, or ESCALATE
  ("executive decision required") when a P0 is still open, an SLO has exhausted the
  period's error budget (burn >= 100%), or the period has been extended twice already
  (ITIL Early Life Support: repeated extension is a decision for management, not a default).
* **extension plan** (EXTEND and ESCALATE): enough whole days for the failing clocks to
  clear, at least 1: the P0 / P1 clocks' remainders, 48 / 24 h from now for an open P0 /
  P1 (it has to be resolved and then stay quiet), 72 h minus the shortest SLO streak; focus
  areas are the failing criteria's areas; re-validation is `now` + those days.

Pure and deterministic: no IO and no clock; everything is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from watchstander.hypercare.models import SUPPORT_ROLE, HypercarePeriod, Signoff, as_utc
from watchstander.incident.models import Priority

__all__ = [
    "P0_CLEAR",
    "P1_CLEAR",
    "SLO_HOURS",
    "BUDGET_LIMIT",
    "BUDGET_EXHAUSTED",
    "SENTIMENT_MIN",
    "MAX_EXTENSIONS",
    "AREAS",
    "TRENDS",
    "BLOCKING",
    "IncidentFact",
    "SloFact",
    "ExitInputs",
    "Criterion",
    "ExitStatus",
    "ExitDecision",
    "ExtensionPlan",
    "ExitVerdict",
    "evaluate",
]

P0_CLEAR = timedelta(hours=48)
P1_CLEAR = timedelta(hours=24)
SLO_HOURS = 72
BUDGET_LIMIT = 0.5  # burn must stay below this fraction of the period's budget
BUDGET_EXHAUSTED = 1.0  # at or above: the budget is gone -> ESCALATE
SENTIMENT_MIN = 70.0  # percent positive
MAX_EXTENSIONS = 2  # a FAIL after this many extensions escalates

STABILITY = "Production stability"
SLO_AREA = "SLO compliance"
BUDGET_AREA = "Error budget"
FOLLOW_UP = "Incident follow-up"
ADOPTION = "User adoption"
SUPPORT = "Support readiness"
AREAS = (STABILITY, SLO_AREA, BUDGET_AREA, FOLLOW_UP, ADOPTION, SUPPORT)

TRENDS = ("INCREASING", "STABLE", "DECREASING")
BLOCKING = frozenset({"no_p0_48h", "no_p1_24h", "slos_72h", "budget", "no_open_p0_p1"})

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_SERIOUS = (Priority.P0.value, Priority.P1.value)


# -- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentFact:
    id: str
    priority: str  # "P0".."P3" (SEV1..SEV4 accepted and normalised)
    detected: datetime
    open: bool
    pir_done: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "priority", Priority.parse(self.priority).value)
        object.__setattr__(self, "detected", as_utc(f"{self.id} detection", self.detected))


@dataclass(frozen=True)
class SloFact:
    name: str
    met_hours: int  # consecutive hours met up to now, from the hourly snapshots
    budget_burn: float | None = None  # fraction of the period's error budget used; None: unknown
    compliant_now: bool = True

    def __post_init__(self) -> None:
        if self.met_hours < 0:
            raise ValueError(f"SLO {self.name}: met_hours must not be negative")
        burn = self.budget_burn
        if burn is not None and not burn >= 0:  # also refuses NaN
            raise ValueError(f"SLO {self.name}: budget_burn must be 0 or more, not {burn}")

    @property
    def streak(self) -> int:
        """Hours met in a row up to now; 0 when the SLO is not met now."""
        return self.met_hours if self.compliant_now else 0


@dataclass(frozen=True)
class ExitInputs:
    now: datetime
    period: HypercarePeriod
    incidents: Sequence[IncidentFact] = ()
    slos: Sequence[SloFact] = ()
    adoption_trend: str | None = None  # INCREASING | STABLE | DECREASING; None: unknown
    sentiment_positive_pct: float | None = None  # None: unknown

    def __post_init__(self) -> None:
        object.__setattr__(self, "now", as_utc("now", self.now))
        object.__setattr__(self, "incidents", tuple(self.incidents))
        object.__setattr__(self, "slos", tuple(self.slos))
        if self.adoption_trend is not None:
            trend = self.adoption_trend.strip().upper()
            if trend not in TRENDS:
                raise ValueError(
                    f"adoption trend {self.adoption_trend!r} is not one of {', '.join(TRENDS)}"
                )
            object.__setattr__(self, "adoption_trend", trend)
        pct = self.sentiment_positive_pct
        if pct is not None and not 0 <= pct <= 100:
            raise ValueError(f"sentiment must be a percentage from 0 to 100, not {pct}")

    @property
    def signoffs(self) -> tuple[Signoff, ...]:
        return self.period.signoffs


# -- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    area: str  # one of AREAS
    met: bool | None  # None: unknown (no data)
    detail: str
    blocking: bool


class ExitStatus(StrEnum):
    PASS = "PASS"
    CONDITIONAL = "CONDITIONAL"
    FAIL = "FAIL"


class ExitDecision(StrEnum):
    END = "END HYPERCARE"
    EXTEND = "EXTEND HYPERCARE"
    ESCALATE = "ESCALATE"


@dataclass(frozen=True)
class ExtensionPlan:
    days: int
    focus: tuple[str, ...]  # AREAS of the failing criteria, in AREAS order
    revalidation: datetime  # now + days
    needs: tuple[str, ...]  # why this many days: each failing clock and what it needs

    def to_data(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "focus": list(self.focus),
            "revalidation": self.revalidation.isoformat(),
            "needs": list(self.needs),
        }


@dataclass(frozen=True)
class ExitVerdict:
    at: datetime
    period_id: str
    day: int  # the period's day number at `at`
    criteria: tuple[Criterion, ...]
    status: ExitStatus
    decision: ExitDecision
    unmet: tuple[str, ...]  # "label: detail" of every criterion not met
    conditions: tuple[str, ...]  # CONDITIONAL only: what to accept or resolve before ending
    escalation: tuple[str, ...]  # ESCALATE only: why
    extension: ExtensionPlan | None  # EXTEND and ESCALATE

    def criterion(self, key: str) -> Criterion:
        for c in self.criteria:
            if c.key == key:
                return c
        raise KeyError(key)

    def to_data(self) -> dict[str, Any]:
        """A JSON-able mapping for the store and the exit report."""
        return {
            "at": self.at.isoformat(),
            "period_id": self.period_id,
            "day": self.day,
            "status": self.status.value,
            "decision": self.decision.value,
            "criteria": [
                {
                    "key": c.key,
                    "label": c.label,
                    "area": c.area,
                    "met": c.met,
                    "detail": c.detail,
                    "blocking": c.blocking,
                }
                for c in self.criteria
            ],
            "unmet": list(self.unmet),
            "conditions": list(self.conditions),
            "escalation": list(self.escalation),
            "extension": None if self.extension is None else self.extension.to_data(),
        }


# -- helpers ----------------------------------------------------------------------------------


def _when(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


def _span(delta: timedelta) -> str:
    """ "13 h 5 min", "48 h", "20 min" (rounded up to the minute)."""
    minutes = -(-delta // timedelta(minutes=1))
    hours, rest = divmod(max(minutes, 0), 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def _ids(facts: Sequence[IncidentFact]) -> str:
    return ", ".join(f.id for f in facts)


def _seen(inputs: ExitInputs) -> list[IncidentFact]:
    """Incidents detected at or before `now`, oldest first (ties by id)."""
    facts = [f for f in inputs.incidents if f.detected <= inputs.now]
    return sorted(facts, key=lambda f: (f.detected, f.id))


def _clear_at(facts: Sequence[IncidentFact], priority: str, window: timedelta) -> datetime | None:
    """When the quiet clock for `priority` clears: the latest detection + window."""
    latest = max((f.detected for f in facts if f.priority == priority), default=None)
    return None if latest is None else latest + window


# -- criteria ---------------------------------------------------------------------------------


def _quiet(
    key: str, facts: Sequence[IncidentFact], priority: str, window: timedelta, now: datetime
) -> Criterion:
    hours = int(window / _HOUR)
    label = f"Zero {priority} incidents in the last {hours} hours"
    clears = _clear_at(facts, priority, window)
    if clears is None:
        return Criterion(key, label, STABILITY, True, f"no {priority} incidents", True)
    if clears <= now:
        last = max((f for f in facts if f.priority == priority), key=lambda f: f.detected)
        detail = (
            f"last {priority} ({last.id}) detected {_when(last.detected)}, "
            f"{_span(now - last.detected)} ago"
        )
        return Criterion(key, label, STABILITY, True, detail, True)
    recent = [f for f in facts if f.priority == priority and now - f.detected < window]
    detail = (
        f"{priority} {_ids(recent)} detected in the last {hours} h; the clock restarts at "
        f"the latest and clears at {_when(clears)} (in {_span(clears - now)})"
    )
    return Criterion(key, label, STABILITY, False, detail, True)


def _slos(slos: Sequence[SloFact]) -> Criterion:
    key, label = "slos_72h", f"All SLOs met for {SLO_HOURS} consecutive hours"
    if not slos:
        return Criterion(key, label, SLO_AREA, None, "no SLOs defined", True)
    short = [s for s in slos if s.streak < SLO_HOURS]
    if not short:
        low = min(slos, key=lambda s: (s.streak, s.name))
        detail = (
            f"all {len(slos)} SLOs met for at least {SLO_HOURS} h "
            f"(shortest: {low.name}, {low.streak} h)"
        )
        return Criterion(key, label, SLO_AREA, True, detail, True)
    parts = [
        f"{s.name}: {s.streak} h of {SLO_HOURS}" + ("" if s.compliant_now else " (not met now)")
        for s in short
    ]
    return Criterion(key, label, SLO_AREA, False, "; ".join(parts), True)


def _budget(slos: Sequence[SloFact]) -> Criterion:
    key = "budget"
    label = f"Error budget healthy (burn below {_pct(BUDGET_LIMIT)})"
    if not slos:
        return Criterion(key, label, BUDGET_AREA, None, "no SLOs defined", True)
    over = [s for s in slos if s.budget_burn is not None and s.budget_burn >= BUDGET_LIMIT]
    if over:
        parts = [
            f"{s.name} burned {_pct(s.budget_burn or 0.0)} of the period's budget" for s in over
        ]
        return Criterion(key, label, BUDGET_AREA, False, "; ".join(parts), True)
    unknown = [s.name for s in slos if s.budget_burn is None]
    if unknown:
        detail = f"no error-budget burn known for {', '.join(unknown)}"
        return Criterion(key, label, BUDGET_AREA, None, detail, True)
    top = max(slos, key=lambda s: (s.budget_burn or 0.0, s.name))
    detail = f"highest burn {_pct(top.budget_burn or 0.0)} ({top.name})"
    return Criterion(key, label, BUDGET_AREA, True, detail, True)


def _open(facts: Sequence[IncidentFact]) -> Criterion:
    key, label = "no_open_p0_p1", "No open P0/P1 incidents"
    still = [f for f in facts if f.open and f.priority in _SERIOUS]
    if not still:
        return Criterion(key, label, STABILITY, True, "no P0/P1 incident is open", True)
    detail = "open: " + ", ".join(f"{f.id} ({f.priority})" for f in still)
    return Criterion(key, label, STABILITY, False, detail, True)


def _pirs(facts: Sequence[IncidentFact]) -> Criterion:
    key, label = "pirs", "Post-incident reviews done for every P0/P1"
    serious = [f for f in facts if f.priority in _SERIOUS]
    if not serious:
        return Criterion(key, label, FOLLOW_UP, True, "no P0/P1 incidents to review", False)
    missing = [f for f in serious if not f.pir_done]
    if not missing:
        return Criterion(key, label, FOLLOW_UP, True, f"{len(serious)} reviewed", False)
    detail = "no PIR yet for " + ", ".join(f"{f.id} ({f.priority})" for f in missing)
    return Criterion(key, label, FOLLOW_UP, False, detail, False)


def _adoption(trend: str | None) -> Criterion:
    key, label = "adoption", "User adoption trending positive"
    if trend is None:
        return Criterion(key, label, ADOPTION, None, "no adoption trend known", False)
    if trend == "INCREASING":
        return Criterion(key, label, ADOPTION, True, "increasing", False)
    if trend == "STABLE":
        return Criterion(key, label, ADOPTION, True, "stable (not declining)", False)
    return Criterion(key, label, ADOPTION, False, "decreasing", False)


def _sentiment(pct: float | None) -> Criterion:
    key, label = "sentiment", f"User sentiment at least {SENTIMENT_MIN:g}% positive"
    if pct is None:
        return Criterion(key, label, ADOPTION, None, "no sentiment data", False)
    detail = f"{pct:g}% positive"
    return Criterion(key, label, ADOPTION, pct >= SENTIMENT_MIN, detail, False)


def _support(period: HypercarePeriod) -> Criterion:
    key, label = "support_ready", "Support team ready for standard operations"
    signed = period.signoff(SUPPORT_ROLE)
    if signed is None:
        return Criterion(key, label, SUPPORT, False, "no Support Lead sign-off yet", False)
    detail = f"signed off by {signed.by} (Support Lead) {_when(signed.at)}"
    return Criterion(key, label, SUPPORT, True, detail, False)


def _criteria(inputs: ExitInputs) -> tuple[Criterion, ...]:
    facts = _seen(inputs)
    now = inputs.now
    return (
        _quiet("no_p0_48h", facts, Priority.P0.value, P0_CLEAR, now),
        _quiet("no_p1_24h", facts, Priority.P1.value, P1_CLEAR, now),
        _slos(inputs.slos),
        _budget(inputs.slos),
        _open(facts),
        _pirs(facts),
        _adoption(inputs.adoption_trend),
        _sentiment(inputs.sentiment_positive_pct),
        _support(inputs.period),
    )


# -- decision ---------------------------------------------------------------------------------


def _status(criteria: Sequence[Criterion]) -> ExitStatus:
    if all(c.met is True for c in criteria):
        return ExitStatus.PASS
    if any(c.blocking and c.met is False for c in criteria):
        return ExitStatus.FAIL
    return ExitStatus.CONDITIONAL


def _escalation(inputs: ExitInputs, facts: Sequence[IncidentFact]) -> tuple[str, ...]:
    reasons: list[str] = []
    open_p0 = [f for f in facts if f.open and f.priority == Priority.P0.value]
    if open_p0:
        reasons.append(f"P0 still open: {_ids(open_p0)}")
    for s in inputs.slos:
        if s.budget_burn is not None and s.budget_burn >= BUDGET_EXHAUSTED:
            reasons.append(
                f"error budget exhausted: {s.name} burned {_pct(s.budget_burn)} of the period's budget"
            )
    count = len(inputs.period.extensions)
    if count >= MAX_EXTENSIONS:
        added = sum(e.days for e in inputs.period.extensions)
        reasons.append(f"already extended {count} times ({added} days)")
    return tuple(reasons)


def _plan(
    inputs: ExitInputs, facts: Sequence[IncidentFact], criteria: Sequence[Criterion]
) -> ExtensionPlan:
    now = inputs.now
    failing = {c.key for c in criteria if c.met is False}
    needs: list[tuple[timedelta, str]] = []
    for key, prio, window in (
        ("no_p0_48h", Priority.P0.value, P0_CLEAR),
        ("no_p1_24h", Priority.P1.value, P1_CLEAR),
    ):
        clears = _clear_at(facts, prio, window)
        if key in failing and clears is not None:
            needs.append((clears - now, f"{prio} clock clears at {_when(clears)}"))
    if "no_open_p0_p1" in failing:
        for prio, window in ((Priority.P0.value, P0_CLEAR), (Priority.P1.value, P1_CLEAR)):
            still = [f for f in facts if f.open and f.priority == prio]
            if still:
                hours = int(window / _HOUR)
                needs.append(
                    (window, f"open {prio} {_ids(still)}: resolve, then {hours} h without a {prio}")
                )
    if "slos_72h" in failing:
        low = min(inputs.slos, key=lambda s: (s.streak, s.name))
        short = SLO_HOURS - low.streak
        needs.append((short * _HOUR, f"{low.name} needs {short} more hours met in a row"))
    longest = max((n[0] for n in needs), default=timedelta(0))
    days = max(1, -(-longest // _DAY))
    focus = tuple(a for a in AREAS if any(c.area == a and c.met is False for c in criteria))
    return ExtensionPlan(days, focus, now + days * _DAY, tuple(n[1] for n in needs))


def _line(c: Criterion) -> str:
    return f"{c.label}: {c.detail}"


def evaluate(inputs: ExitInputs) -> ExitVerdict:
    """Evaluate every exit criterion as of `inputs.now` and decide."""
    criteria = _criteria(inputs)
    status = _status(criteria)
    unmet = tuple(_line(c) for c in criteria if c.met is False)
    conditions: tuple[str, ...] = ()
    escalation: tuple[str, ...] = ()
    extension: ExtensionPlan | None = None
    if status is ExitStatus.FAIL:
        facts = _seen(inputs)
        escalation = _escalation(inputs, facts)
        decision = ExitDecision.ESCALATE if escalation else ExitDecision.EXTEND
        extension = _plan(inputs, facts, criteria)
    else:
        decision = ExitDecision.END
        if status is ExitStatus.CONDITIONAL:
            conditions = tuple(
                _line(c) if c.met is False else f"{c.label}: unknown ({c.detail})"
                for c in criteria
                if c.met is not True
            )
    return ExitVerdict(
        at=inputs.now,
        period_id=inputs.period.id,
        day=inputs.period.day_number(inputs.now),
        criteria=criteria,
        status=status,
        decision=decision,
        unmet=unmet,
        conditions=conditions,
        escalation=escalation,
        extension=extension,
    )
