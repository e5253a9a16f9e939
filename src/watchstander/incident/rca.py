"""Root cause analysis and the post-incident review's follow-ups (incident Steps 5 and 7).

* FiveWhys: a problem, a chain of whys with their answers, and the root cause the chain
  ends in. validate() lists what is wrong: no whys, an empty answer, an answer that
  repeats an earlier one (the chain went round in a circle), more than MAX_WHYS levels,
  a missing root cause, or a root cause that is not where the chain ended (the root
  cause must be, contain or be contained in the last answer, ignoring case, a leading
  "because" and final punctuation).
* Fishbone: contributing factors under the four categories people, process, technology
  and environment, exactly one of them marked primary.
* from_yaml_data() builds either from a parsed YAML mapping and raises InputError naming
  the file and field (``rca.yaml: whys[2].answer: empty``; lists count from 0). Reading
  the file is the caller's business.
* PreventiveAction: the PIR's immediate / short-term / long-term actions, due 1 week,
  1 month or 3 months (calendar months) after the PIR, with reminders and overdue lists.
* pir_due() / pir_late(): a PIR is due 24 h after resolution for P0 and 48 h for P1
  (required); P2 within a week (optional, never late); P3 needs none.

Pure: no IO and no clock; callers pass `now`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from watchstander.errors import InputError
from watchstander.incident.triage import parse_priority


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


__all__ = [
    "MAX_WHYS",
    "Why",
    "FiveWhys",
    "Category",
    "Cause",
    "Fishbone",
    "cross_check",
    "Horizon",
    "ActionStatus",
    "PreventiveAction",
    "due_date",
    "due_reminders",
    "overdue",
    "PIR_WINDOWS",
    "PIR_REQUIRED",
    "pir_due",
    "pir_required",
    "pir_late",
]

# "5 Whys" is a habit, not a law: fewer is fine when the root cause is reached; a chain
# longer than this has usually lost the thread.
MAX_WHYS = 7


def _norm(text: str) -> str:
    t = " ".join(text.casefold().split())
    t = re.sub(r"^because\b[\s,:]*", "", t)
    return t.rstrip(" .!;:")


def _fail(source: str, problems: Iterable[str]) -> None:
    lines = [f"{source}: {p}" for p in problems]
    if lines:
        raise InputError("\n".join(lines))


def _mapping(data: object, source: str, at: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        where = at.rstrip(".") or "(top)"
        raise InputError(f"{source}: {where}: expected a mapping, got {type(data).__name__}")
    return data


def _text(data: Mapping[str, object], key: str, source: str, at: str, *, required: bool) -> str:
    value = data.get(key)
    if value is None:
        if required and key not in data:
            raise InputError(f"{source}: {at}{key}: missing")
        return ""
    if not isinstance(value, str):
        raise InputError(f"{source}: {at}{key}: expected text, got {type(value).__name__}")
    return value.strip()


def _unknown(data: Mapping[str, object], known: Iterable[str], source: str, at: str) -> None:
    extra = sorted(str(k) for k in data if k not in set(known))
    if extra:
        raise InputError(f"{source}: {at}{extra[0]}: unknown field")


# -- 5 Whys -----------------------------------------------------------------------------------


class Why(NamedTuple):
    why: str  # "Why did the checkout fail?" (may be left empty)
    answer: str  # "Because the payment client timed out"


@dataclass(frozen=True)
class FiveWhys:
    problem: str
    whys: tuple[Why, ...]
    root_cause: str
    validation: str = ""  # the test that confirms the root cause

    def validate(self) -> tuple[str, ...]:
        """What is wrong with the chain, each as ``field: problem``; empty when valid."""
        problems: list[str] = []
        if not self.problem.strip():
            problems.append("problem: empty")
        if not self.whys:
            problems.append("whys: empty; at least one why is needed")
        elif len(self.whys) > MAX_WHYS:
            problems.append(f"whys: {len(self.whys)} levels; at most {MAX_WHYS}")
        seen: dict[str, int] = {}
        for i, (_, answer) in enumerate(self.whys):
            key = _norm(answer)
            if not key:
                problems.append(f"whys[{i}].answer: empty")
            elif key in seen:
                problems.append(f"whys[{i}].answer: repeats whys[{seen[key]}].answer")
            else:
                seen[key] = i
        root = _norm(self.root_cause)
        if not root:
            problems.append("root_cause: empty")
        elif self.whys:
            last = _norm(self.whys[-1].answer)
            if last and root not in last and last not in root:
                problems.append(
                    f"root_cause: not where the chain ends (whys[{len(self.whys) - 1}].answer)"
                )
        return tuple(problems)

    @classmethod
    def from_yaml_data(cls, data: object, source: str, *, at: str = "") -> FiveWhys:
        """From ``{problem, whys: [{why, answer}, ...], root_cause, validation}``; a why may
        also be a plain string (its answer). `at` prefixes field names when the 5 Whys sit
        inside a larger document ("five_whys.")."""
        m = _mapping(data, source, at)
        _unknown(m, ("problem", "whys", "root_cause", "validation"), source, at)
        raw = m.get("whys")
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise InputError(f"{source}: {at}whys: expected a list, got {type(raw).__name__}")
        whys = []
        for i, item in enumerate(raw):
            where = f"{at}whys[{i}]."
            if isinstance(item, str):
                whys.append(Why("", item.strip()))
                continue
            w = _mapping(item, source, where)
            _unknown(w, ("why", "answer"), source, where)
            whys.append(
                Why(
                    _text(w, "why", source, where, required=False),
                    _text(w, "answer", source, where, required=True),
                )
            )
        result = cls(
            problem=_text(m, "problem", source, at, required=True),
            whys=tuple(whys),
            root_cause=_text(m, "root_cause", source, at, required=True),
            validation=_text(m, "validation", source, at, required=False),
        )
        _fail(source, (at + p for p in result.validate()))
        return result


# -- fishbone ----------------------------------------------------------------------------------


class Category(StrEnum):
    PEOPLE = "people"
    PROCESS = "process"
    TECHNOLOGY = "technology"
    ENVIRONMENT = "environment"


@dataclass(frozen=True)
class Cause:
    category: Category
    text: str
    primary: bool = False


@dataclass(frozen=True)
class Fishbone:
    problem: str
    causes: tuple[Cause, ...]  # in category order, then as listed

    def in_category(self, category: Category) -> tuple[Cause, ...]:
        return tuple(c for c in self.causes if c.category is category)

    def where(self, cause: Cause) -> str:
        """The cause's field name: ``technology[1]``."""
        for i, c in enumerate(self.in_category(cause.category)):
            if c is cause:
                return f"{cause.category}[{i}]"
        raise ValueError("cause is not in this fishbone")

    @property
    def primary(self) -> Cause | None:
        marked = [c for c in self.causes if c.primary]
        return marked[0] if len(marked) == 1 else None

    def validate(self) -> tuple[str, ...]:
        problems: list[str] = []
        if not self.problem.strip():
            problems.append("problem: empty")
        if not self.causes:
            problems.append("causes: none; name at least one contributing factor")
        for category in Category:
            seen: dict[str, int] = {}
            for i, cause in enumerate(self.in_category(category)):
                key = _norm(cause.text)
                if not key:
                    problems.append(f"{category}[{i}]: empty")
                elif key in seen:
                    problems.append(f"{category}[{i}]: repeats {category}[{seen[key]}]")
                else:
                    seen[key] = i
        marked = [self.where(c) for c in self.causes if c.primary]
        if self.causes and not marked:
            problems.append("primary: no cause is marked primary; mark exactly one")
        elif len(marked) > 1:
            problems.append(
                f"primary: {len(marked)} causes marked primary ({', '.join(marked)}); "
                "mark exactly one"
            )
        return tuple(problems)

    @classmethod
    def from_yaml_data(cls, data: object, source: str, *, at: str = "") -> Fishbone:
        """From ``{problem, people: [...], process: [...], technology: [...],
        environment: [...]}`` where each cause is a string or ``{cause, primary}``."""
        m = _mapping(data, source, at)
        names = ", ".join(c.value for c in Category)
        for key in m:
            if key != "problem" and key not in {c.value for c in Category}:
                raise InputError(f"{source}: {at}{key}: unknown category; expected {names}")
        causes: list[Cause] = []
        for category in Category:
            raw = m.get(category.value)
            if raw is None:
                continue
            if not isinstance(raw, list):
                raise InputError(
                    f"{source}: {at}{category}: expected a list, got {type(raw).__name__}"
                )
            for i, item in enumerate(raw):
                where = f"{at}{category}[{i}]"
                if isinstance(item, str):
                    causes.append(Cause(category, item.strip()))
                    continue
                c = _mapping(item, source, where)
                _unknown(c, ("cause", "primary"), source, where + ".")
                primary = c.get("primary", False)
                if not isinstance(primary, bool):
                    raise InputError(f"{source}: {where}.primary: expected true or false")
                text = _text(c, "cause", source, where + ".", required=True)
                causes.append(Cause(category, text, primary))
        result = cls(_text(m, "problem", source, at, required=True), tuple(causes))
        _fail(source, (at + p for p in result.validate()))
        return result


def cross_check(whys: FiveWhys, fishbone: Fishbone) -> tuple[str, ...]:
    """The fishbone's primary cause should be the 5 Whys root cause ("Primary Root Cause:
    from 5 Whys"); returns the mismatch, if any."""
    primary = fishbone.primary
    root = _norm(whys.root_cause)
    if primary is None or not root:
        return ()
    text = _norm(primary.text)
    if root in text or text in root:
        return ()
    return (
        f"{fishbone.where(primary)}: the primary cause is not the 5 Whys root cause "
        f"({whys.root_cause!r})",
    )


# -- preventive actions ------------------------------------------------------------------------


class Horizon(StrEnum):
    WEEK = "1 week"  # immediate actions
    MONTH = "1 month"  # short-term actions
    QUARTER = "3 months"  # long-term actions


_HORIZON_NAMES = {
    "1 week": Horizon.WEEK,
    "1w": Horizon.WEEK,
    "week": Horizon.WEEK,
    "immediate": Horizon.WEEK,
    "1 month": Horizon.MONTH,
    "1m": Horizon.MONTH,
    "month": Horizon.MONTH,
    "short-term": Horizon.MONTH,
    "3 months": Horizon.QUARTER,
    "3m": Horizon.QUARTER,
    "quarter": Horizon.QUARTER,
    "long-term": Horizon.QUARTER,
}


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    NOT_DOING = "not_doing"  # decided against, with the reason in the PIR


def _add_months(at: datetime, months: int) -> datetime:
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def due_date(horizon: Horizon, pir_at: datetime) -> datetime:
    """When an action of `horizon` is due: 7 days, or 1 or 3 calendar months (the day
    clamped to the month's end: 31 January + 1 month is 28/29 February), after the PIR,
    at the same wall-clock time."""
    if horizon is Horizon.WEEK:
        return pir_at + timedelta(days=7)
    return _add_months(pir_at, 1 if horizon is Horizon.MONTH else 3)


@dataclass(frozen=True)
class PreventiveAction:
    id: str
    title: str
    owner: str
    horizon: Horizon
    due: datetime
    status: ActionStatus = ActionStatus.OPEN
    done_at: datetime | None = None

    @classmethod
    def plan(
        cls, id: str, title: str, owner: str, horizon: Horizon, *, pir_at: datetime
    ) -> PreventiveAction:
        """A new open action due `horizon` after the PIR."""
        return cls(id, title, owner, horizon, due_date(horizon, pir_at))

    @property
    def is_open(self) -> bool:
        return self.status is ActionStatus.OPEN

    @classmethod
    def list_from_yaml_data(
        cls, data: object, source: str, *, pir_at: datetime, at: str = "actions"
    ) -> tuple[PreventiveAction, ...]:
        """From ``[{id, title, owner, horizon, status, done_at}, ...]``; the due dates
        come from `pir_at`. A done action needs done_at (tz-aware); an open one has none."""
        if not isinstance(data, list):
            raise InputError(f"{source}: {at}: expected a list, got {type(data).__name__}")
        actions: list[PreventiveAction] = []
        ids: dict[str, int] = {}
        for i, item in enumerate(data):
            where = f"{at}[{i}]."
            m = _mapping(item, source, where)
            _unknown(m, ("id", "title", "owner", "horizon", "status", "done_at"), source, where)
            problems: list[str] = []
            fields = {
                k: _text(m, k, source, where, required=True) for k in ("id", "title", "owner")
            }
            problems += [f"{where}{k}: empty" for k, v in fields.items() if not v]
            if fields["id"] in ids:
                problems.append(f"{where}id: repeats {at}[{ids[fields['id']]}].id")
            ids.setdefault(fields["id"], i)
            horizon_text = _text(m, "horizon", source, where, required=True).lower()
            horizon = _HORIZON_NAMES.get(horizon_text)
            if horizon is None:
                problems.append(
                    f"{where}horizon: {horizon_text!r}; expected 1 week, 1 month or 3 months"
                )
            status_text = _text(m, "status", source, where, required=False) or "open"
            try:
                status = ActionStatus(status_text.lower().replace(" ", "_").replace("-", "_"))
            except ValueError:
                problems.append(f"{where}status: {status_text!r}; expected open, done or not_doing")
                status = ActionStatus.OPEN
            done_at = m.get("done_at")
            reported = len(problems)
            if isinstance(done_at, str):
                try:
                    done_at = datetime.fromisoformat(done_at)
                except ValueError:
                    problems.append(f"{where}done_at: not an ISO 8601 time")
                    done_at = None
            if done_at is not None and not isinstance(done_at, datetime):
                problems.append(f"{where}done_at: expected a time, got {type(done_at).__name__}")
                done_at = None
            if isinstance(done_at, datetime) and done_at.utcoffset() is None:
                problems.append(f"{where}done_at: needs a timezone")
            if status is ActionStatus.DONE and done_at is None and len(problems) == reported:
                problems.append(f"{where}done_at: missing; a done action needs it")
            if status is ActionStatus.OPEN and done_at is not None:
                problems.append(f"{where}done_at: set on an open action")
            _fail(source, problems)
            assert horizon is not None
            actions.append(
                cls(
                    id=fields["id"],
                    title=fields["title"],
                    owner=fields["owner"],
                    horizon=horizon,
                    due=due_date(horizon, pir_at),
                    status=status,
                    done_at=done_at if isinstance(done_at, datetime) else None,
                )
            )
        return tuple(actions)


def due_reminders(
    actions: Iterable[PreventiveAction], now: datetime, *, remind_before: timedelta
) -> tuple[PreventiveAction, ...]:
    """Open actions due within `remind_before` of `now` (from ``due - remind_before`` up to
    and including ``due``), soonest first."""
    _require_aware(now, "now")
    hits = [a for a in actions if a.is_open and a.due - remind_before <= now <= a.due]
    return tuple(sorted(hits, key=lambda a: (a.due, a.id)))


def overdue(actions: Iterable[PreventiveAction], now: datetime) -> tuple[PreventiveAction, ...]:
    """Open actions past their due time (``now > due``), most overdue first."""
    _require_aware(now, "now")
    hits = [a for a in actions if a.is_open and now > a.due]
    return tuple(sorted(hits, key=lambda a: (a.due, a.id)))


# -- the post-incident review ------------------------------------------------------------------

# How long after resolution the PIR is due; P3 needs none.
PIR_WINDOWS: Mapping[str, timedelta] = {
    "P0": timedelta(hours=24),
    "P1": timedelta(hours=48),
    "P2": timedelta(days=7),
}
# The PIRs that must happen (P2's is optional).
PIR_REQUIRED: Sequence[str] = ("P0", "P1")


def pir_required(priority: str) -> bool:
    return parse_priority(priority) in PIR_REQUIRED


def pir_due(priority: str, resolved_at: datetime) -> datetime | None:
    """When the PIR is due (P0 24 h, P1 48 h, P2 7 days after resolution); None for P3."""
    _require_aware(resolved_at, "resolved_at")
    window = PIR_WINDOWS.get(parse_priority(priority))
    return None if window is None else resolved_at + window


def pir_late(
    priority: str, resolved_at: datetime, now: datetime, *, held_at: datetime | None = None
) -> bool:
    """A required PIR (P0/P1) not held by its due time: held after it, or not held and
    `now` past it. Exactly at the due time is on time."""
    _require_aware(now, "now")
    due = pir_due(priority, resolved_at)
    if due is None or not pir_required(priority):
        return False
    return held_at > due if held_at is not None else now > due
