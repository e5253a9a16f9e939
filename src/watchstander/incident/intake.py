"""Interactive incident intake: the aiwg incident flow's eight `--interactive` questions,
and what their answers mean for declaring the incident (priority.declare).

The questions keep the flow's order and meaning:

1. the observed user impact        -> title, description, outage, severe degradation,
                                      critical feature unavailable, category, detection method
2. the share of users affected     -> users_affected_pct (the flow: P0 >50%, P1 10-50%, P2 <10%)
3. when it started                 -> started
4. changes in the last 24 hours    -> recent_changes (guides the rollback decision)
5. security-related or data loss?  -> security_breach, data_loss, category
6. the business impact             -> urgency, business_impact
7. the on-call team's experience   -> team_experience (runbook detail, escalation speed)
8. the SLA status                  -> sla_status, sla_breached, error_budget_remaining_pct

Only question 1 must be answered (it becomes the title); a blank answer to any other means
"not known". Answers that cannot be understood are not guessed at: each comes back in
`DeclareFields.problems` ("Q2: 'lots' is not a percentage ..."), for the caller to ask
again. The eight questions do not ask for the affected systems; `affected_systems` stays
empty for the caller (the service being declared for) to fill.

Pure: no IO and no clock; relative answers to question 3 ("20 min ago", "14:05") need the
caller's `now`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from watchstander.incident.models import Category, DetectionMethod, Impact, Priority, Urgency
from watchstander.incident.priority import impact_from, priority

__all__ = [
    "IntakeQuestion",
    "INTAKE_QUESTIONS",
    "TeamExperience",
    "DeclareFields",
    "answers_to_fields",
]


@dataclass(frozen=True)
class IntakeQuestion:
    number: int  # 1..8, as the flow numbers them
    key: str  # a stable name for the answer
    text: str  # the question to ask
    hint: str  # example answers, shown under the question
    fills: tuple[str, ...]  # the DeclareFields attributes the answer sets
    required: bool = False  # a blank answer is a problem


INTAKE_QUESTIONS: tuple[IntakeQuestion, ...] = (
    IntakeQuestion(
        1,
        "user_impact",
        "What are users seeing?",
        "e.g. complete outage, checkout is very slow, search returns errors",
        (
            "title",
            "description",
            "outage",
            "severe_degradation",
            "critical_feature_unavailable",
            "category",
            "detection_method",
        ),
        required=True,
    ),
    IntakeQuestion(
        2,
        "users_affected",
        "Roughly what share of users is affected?",
        "a percentage: 40%, 10-20%, all, none, unknown (P0 above 50%, P1 10-50%, P2 below 10%)",
        ("users_affected_pct",),
    ),
    IntakeQuestion(
        3,
        "started",
        "When did it start?",
        "2026-11-21T14:05Z, 14:05 (UTC today), 20 min ago, unknown",
        ("started",),
    ),
    IntakeQuestion(
        4,
        "recent_changes",
        "What changed in the last 24 hours?",
        "deployments, configuration changes, infrastructure work, or none",
        ("recent_changes",),
    ),
    IntakeQuestion(
        5,
        "security_or_data_loss",
        "Is it security-related, or has data been lost?",
        "no, security, data loss, both",
        ("security_breach", "data_loss", "category"),
    ),
    IntakeQuestion(
        6,
        "business_impact",
        "How badly does it hurt the business?",
        "high / medium / low, or what is at stake: revenue loss, compliance risk, reputation",
        ("urgency", "business_impact"),
    ),
    IntakeQuestion(
        7,
        "team_experience",
        "How experienced is the on-call team with this system?",
        "new, mixed, experienced",
        ("team_experience",),
    ),
    IntakeQuestion(
        8,
        "sla_status",
        "Where does the SLA stand?",
        "e.g. 30% error budget left, breach in 2 h, already breached",
        ("sla_status", "sla_breached", "error_budget_remaining_pct"),
    ),
)


class TeamExperience(StrEnum):
    NEW = "new"  # detailed runbooks, escalate sooner
    MIXED = "mixed"
    EXPERIENCED = "experienced"


@dataclass(frozen=True)
class DeclareFields:
    """What the answers say, in priority.declare's terms. None: not known."""

    title: str = ""
    description: str = ""
    users_affected_pct: float | None = None
    outage: bool = False
    severe_degradation: bool = False
    critical_feature_unavailable: bool = False
    data_loss: bool = False
    security_breach: bool = False
    urgency: Urgency | None = None
    category: Category | None = None
    detection_method: DetectionMethod = DetectionMethod.MANUAL
    affected_systems: tuple[str, ...] = ()  # not asked: the caller fills it
    started: datetime | None = None  # UTC
    recent_changes: str = ""
    business_impact: str = ""
    team_experience: TeamExperience | None = None
    sla_status: str = ""
    sla_breached: bool = False
    error_budget_remaining_pct: float | None = None
    problems: tuple[str, ...] = ()

    @property
    def impact(self) -> Impact:
        """The flow's impact criteria applied to the answers (priority.impact_from)."""
        return impact_from(
            self.users_affected_pct,
            self.outage,
            self.data_loss,
            severe_degradation=self.severe_degradation,
            critical_feature_unavailable=self.critical_feature_unavailable,
        )

    @property
    def priority(self) -> Priority | None:
        """The matrix priority, once the urgency is known."""
        return None if self.urgency is None else priority(self.impact, self.urgency)


def answers_to_fields(answers: Sequence[str], *, now: datetime | None = None) -> DeclareFields:
    """Read the answers to INTAKE_QUESTIONS, in order; missing trailing answers count as
    blank. `now` (aware) resolves relative start times and catches start times in the
    future. More answers than questions is a ValueError."""
    if len(answers) > len(INTAKE_QUESTIONS):
        raise ValueError(f"{len(answers)} answers for {len(INTAKE_QUESTIONS)} intake questions")
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise ValueError("answers_to_fields: now must be timezone-aware")
    a = [_clean(x) for x in answers] + [""] * (len(INTAKE_QUESTIONS) - len(answers))
    problems: list[str] = []

    impact, pct, when, changes, flags, business, team, sla = a
    if not impact:
        problems.append("Q1: no answer: describe what users see; it becomes the incident title")
    users_affected_pct, problem = _percentage(pct)
    _add(problems, 2, problem)
    started, problem = _started(when, now)
    _add(problems, 3, problem)
    (security_breach, data_loss), problem = _flags(flags)
    _add(problems, 5, problem)
    urgency, problem = _urgency(business)
    _add(problems, 6, problem)
    team_experience, problem = _experience(team)
    _add(problems, 7, problem)
    breached, budget = _sla(sla)

    low = impact.lower()
    category = (
        Category.SECURITY
        if security_breach
        else Category.DATA_INTEGRITY
        if data_loss
        else _first(_CATEGORY_WORDS, low)
    )
    return DeclareFields(
        title=_title(impact),
        description=impact,
        users_affected_pct=users_affected_pct,
        outage=bool(_OUTAGE.search(low)) and not _PARTIAL.search(low),
        severe_degradation=bool(_SLOW.search(low) and _SEVERE.search(low)),
        critical_feature_unavailable=bool(
            (_CRITICAL.search(low) and _BROKEN.search(low)) or _PARTIAL.search(low)
        ),
        data_loss=data_loss,
        security_breach=security_breach,
        urgency=urgency,
        category=category,
        detection_method=_first(_DETECTION_WORDS, low) or DetectionMethod.MANUAL,
        started=started,
        recent_changes="" if _NONE.fullmatch(changes.lower().rstrip("?!. ")) else changes,
        business_impact=business,
        team_experience=team_experience,
        sla_status="" if _unknown(sla.lower()) else sla,
        sla_breached=breached,
        error_budget_remaining_pct=budget,
        problems=tuple(problems),
    )


# -- the answers --------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


def _add(problems: list[str], number: int, problem: str | None) -> None:
    if problem:
        problems.append(f"Q{number}: {problem}")


_T = TypeVar("_T")


def _first(table: Sequence[tuple[re.Pattern[str], _T]], text: str) -> _T | None:
    return next((value for pattern, value in table if pattern.search(text)), None)


_UNKNOWN = re.compile(
    r"|\?+|unknown|unsure|not sure|no idea|don'?t know|dunno|n/?a|tbd|skip|-+", re.IGNORECASE
)


def _unknown(text: str) -> bool:
    """A blank or "don't know" answer (trailing punctuation ignored)."""
    return _UNKNOWN.fullmatch(text.rstrip("?!. ")) is not None


_NONE = re.compile(r"no|n|none|nothing|no changes?|not that i know( of)?|" + _UNKNOWN.pattern)


def _title(impact: str, limit: int = 80) -> str:
    first = re.split(r"(?<=[.!?])\s", impact, maxsplit=1)[0].rstrip(".")
    if len(first) > limit:
        first = first[: limit - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return first[:1].upper() + first[1:]


# Question 1: what users see. Outage, degradation and feature words feed impact_from;
# the first matching category wins.
_OUTAGE = re.compile(
    r"\boutage\b|\b(completely|totally|entirely|fully)\s+down\b"
    r"|\b(site|service|app|api|website|platform|everything|system|production|prod)"
    r"\s+(is\s+|are\s+|went\s+|has\s+gone\s+)?(completely\s+|totally\s+)?down\b"
    r"|\bunreachable\b|\bnothing (works|loads)\b|\ball requests fail"
)
_PARTIAL = re.compile(r"\bpartial(ly)?\b")
_SLOW = re.compile(r"\bslow|\blatency\b|\bdegrad|\btime ?outs?\b|\btiming out\b|\blag")
_SEVERE = re.compile(
    r"\b(severe(ly)?|major|significant(ly)?|heav(y|ily)|very|extremely|unusable|badly)\b"
)
_CRITICAL = re.compile(
    r"\b(critical|core|key|main|checkout|payments?|login|log in|sign[ -]?in|signup|sign[ -]?up)\b"
)
_BROKEN = re.compile(
    r"\bunavailable\b|\bbroken\b|\bfail(s|ing|ed)?\b|\bnot working\b|\bdown\b|\berrors?\b"
    r"|\bcan'?t\b|\bcannot\b"
)
_CATEGORY_WORDS: tuple[tuple[re.Pattern[str], Category], ...] = (
    (
        re.compile(r"\bsecurity\b|\bbreach|\bcompromis|\bunauthori[sz]ed\b|\bintrusion\b"),
        Category.SECURITY,
    ),
    (
        re.compile(
            r"data[ -]integrity|\bcorrupt|\bdata loss\b|\blost data\b|\bwrong data\b"
            r"|\bmissing data\b|\binconsistent\b|\bduplicated?\b"
        ),
        Category.DATA_INTEGRITY,
    ),
    (re.compile(r"\bavailability\b"), Category.AVAILABILITY),
    (re.compile(r"\bperformance\b"), Category.PERFORMANCE),
    (re.compile(r"\bfunctionality\b|\bfeature\b"), Category.FUNCTIONALITY),
    (_OUTAGE, Category.AVAILABILITY),
    (_SLOW, Category.PERFORMANCE),
    (
        re.compile(r"\bunavailable\b|\bdown\b|\b5\d\d\b|\bnot loading\b|\bcan'?t connect\b"),
        Category.AVAILABILITY,
    ),
    (_BROKEN, Category.FUNCTIONALITY),
    (re.compile(r"\bbug\b|\bwrong\b|\bincorrect\b"), Category.FUNCTIONALITY),
)
_DETECTION_WORDS: tuple[tuple[re.Pattern[str], DetectionMethod], ...] = (
    (
        re.compile(r"\balert|\bpaged\b|\bpagerduty\b|\balertmanager\b"),
        DetectionMethod.AUTOMATED_ALERT,
    ),
    (
        re.compile(
            r"\b(users?|customers?|clients?) (report|complain|say|tell)|\bsupport tickets?\b"
        ),
        DetectionMethod.USER_REPORT,
    ),
    (
        re.compile(r"\bdashboards?\b|\bmonitoring\b|\bgrafana\b|\bgraphs?\b"),
        DetectionMethod.MONITORING,
    ),
)


# Question 2: a share of users.
_QUALIFIER = re.compile(
    r"^(about|around|approx(imately|\.)?|roughly|nearly|almost|maybe|est(imated|\.)?|~|ca\.?)\s*"
)
_OF_USERS = re.compile(r"\s*(of\s+)?(the\s+|all\s+)?(users|customers|traffic|requests|sessions)$")
_NUMBER = r"(\d+(?:\.\d+)?)\s*%?"
_PCT = re.compile(rf"{_NUMBER}(?:\s*(?:-|–|to)\s*{_NUMBER})?")
_WORDS = {
    "all": 100.0,
    "everyone": 100.0,
    "everybody": 100.0,
    "every user": 100.0,
    "half": 50.0,
    "none": 0.0,
    "nobody": 0.0,
    "no one": 0.0,
    "zero": 0.0,
}


def _percentage(text: str) -> tuple[float | None, str | None]:
    low = text.lower()
    if _unknown(low):
        return None, None
    low = _OF_USERS.sub("", _QUALIFIER.sub("", low)).strip()
    if low in _WORDS:
        return _WORDS[low], None
    match = _PCT.fullmatch(low)
    not_pct = f"{text!r} is not a percentage (answer e.g. 40%, 10-20%, all or unknown)"
    if match is None:
        return None, not_pct
    low_end = float(match.group(1))
    value = float(match.group(2)) if match.group(2) is not None else low_end
    if value < low_end:
        return None, f"{text!r}: the range runs backwards"
    if value > 100:
        # "500 users" is a count, not a share.
        return None, f"{text!r} is more than 100%" if "%" in text else not_pct
    # For a range, the upper end: severity errs on the side of the wider impact.
    return value, None


# Question 3: a time, absolute (UTC unless it says otherwise) or relative to `now`.
_AGO = re.compile(r"(?:about |around |~)?((?:\d+\s*[a-z]+\s*)+)ago")
_AGO_PART = re.compile(r"(\d+)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\s*")
_CLOCK = re.compile(r"(?:at\s+)?(\d{1,2}):(\d{2})(?:\s*(?:z|utc))?")


def _started(text: str, now: datetime | None) -> tuple[datetime | None, str | None]:
    low = text.lower()
    if _unknown(low):
        return None, None
    needs_now = f"{text!r} is relative to now, and no current time was given"
    started: datetime | None = None
    if low in ("now", "just now", "right now"):
        if now is None:
            return None, needs_now
        started = now
    elif match := _AGO.fullmatch(low):
        total, pos, spec = timedelta(0), 0, match.group(1).strip()
        for part in _AGO_PART.finditer(spec):
            if part.start() != pos:
                break
            unit = part.group(2)[0]
            total += (
                int(part.group(1))
                * {
                    "d": timedelta(days=1),
                    "h": timedelta(hours=1),
                    "m": timedelta(minutes=1),
                    "s": timedelta(seconds=1),
                }[unit]
            )
            pos = part.end()
        if pos != len(spec):
            return None, f"{text!r} is not a time (answer e.g. 2026-11-21T14:05Z or 20 min ago)"
        if now is None:
            return None, needs_now
        started = now - total
    elif match := _CLOCK.fullmatch(low):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            return None, f"{text!r} is not a time of day"
        if now is None:
            return None, needs_now
        today = now.astimezone(UTC)
        started = today.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if started > today:
            started -= timedelta(days=1)  # a clock time later than now means yesterday
    else:
        iso = re.sub(r"\s*utc$", "", text, flags=re.IGNORECASE)
        try:
            started = datetime.fromisoformat(iso)
        except ValueError:
            return None, f"{text!r} is not a time (answer e.g. 2026-11-21T14:05Z or 20 min ago)"
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
    started = started.astimezone(UTC)
    if now is not None and started > now:
        return None, f"{text!r} is in the future"
    return started, None


# Question 5: security and data loss, possibly negated clause by clause
# ("no data loss, but a security breach").
_CLAUSES = re.compile(r"[,;:/.]|\band\b|\bbut\b|\bor\b|\bplus\b")
_NEGATED = re.compile(r"^(no|not|non|none|nope|without|neither|nor)\b")
_YES = re.compile(r"y|yes|yep|yeah|true|possibly|probably|maybe|likely")
_NO = re.compile(r"n|no|nope|none|neither|false|not that i know( of)?|no signs?( of either)?")
_SECURITY = re.compile(
    r"securit|\bbreach|\bhack|\battack|\bcompromis|\bunauthori[sz]ed|\bintrusion|\bleak"
    r"|\bexfiltrat|\bransomware|\bmalware|\bcve\b|\bexploit"
)
_DATA_LOSS = re.compile(
    r"data[ -]?loss|\blost\s+(\w+\s+)?(data|records?|rows?|orders?|files?|messages?|writes?"
    r"|transactions?|events?|uploads?)\b|\bcorrupt|\bdeleted\b|\bwiped\b"
    r"|\bmissing (data|records|rows)\b"
)


def _flags(text: str) -> tuple[tuple[bool, bool], str | None]:
    low = text.lower()
    if _unknown(low) or _NO.fullmatch(low):
        return (False, False), None
    if re.fullmatch(r"(yes\W*)?both", low):
        return (True, True), None
    security = data_loss = understood = False
    for clause in (c.strip() for c in _CLAUSES.split(low)):
        if not clause:
            continue
        negated = bool(_NEGATED.match(clause))
        hits = (bool(_SECURITY.search(clause)), bool(_DATA_LOSS.search(clause)))
        if negated or any(hits):
            understood = True
        if not negated:
            security = security or hits[0]
            data_loss = data_loss or hits[1]
    if security or data_loss:
        return (security, data_loss), None
    if _YES.fullmatch(low) or not understood:
        return (False, False), (
            f"{text!r}: say which: security, data loss, both, or no"
            if _YES.fullmatch(low)
            else f"{text!r} is not understood (answer no, security, data loss or both)"
        )
    return (False, False), None


# Question 6: the business impact sets the urgency; the highest named stake wins.
_LEVELS = {
    "h": Urgency.HIGH,
    "high": Urgency.HIGH,
    "critical": Urgency.HIGH,
    "urgent": Urgency.HIGH,
    "severe": Urgency.HIGH,
    "m": Urgency.MEDIUM,
    "med": Urgency.MEDIUM,
    "medium": Urgency.MEDIUM,
    "moderate": Urgency.MEDIUM,
    "l": Urgency.LOW,
    "low": Urgency.LOW,
    "minor": Urgency.LOW,
    "minimal": Urgency.LOW,
    "negligible": Urgency.LOW,
    "none": Urgency.LOW,
    "no": Urgency.LOW,
}
_STAKES: tuple[tuple[re.Pattern[str], Urgency], ...] = (
    (
        re.compile(
            r"\brevenue|\bmoney\b|\bsales\b|\bpayments?\b|\borders?\b|\bcomplian|\bregulat"
            r"|\blegal\b|\bfines?\b|\bgdpr\b|\bcontract|\bsla (breach|penalt)|\bhigh\b|\bcritical\b"
        ),
        Urgency.HIGH,
    ),
    (
        re.compile(
            r"\breputation|\bbrand\b|\bpress\b|\bcomplaints?\b|\bchurn\b|\bmedium\b|\bmoderate\b"
        ),
        Urgency.MEDIUM,
    ),
    (
        re.compile(
            r"\binternal\b|\bcosmetic\b|\bno (business )?impact\b|\bnegligible\b|\blow\b|\bminor\b"
        ),
        Urgency.LOW,
    ),
)


def _urgency(text: str) -> tuple[Urgency | None, str | None]:
    low = text.lower().rstrip(".!")
    if _unknown(low):
        return None, None
    if low in _LEVELS:
        return _LEVELS[low], None
    found = _first(_STAKES, low)
    if found is None:
        return None, (
            f"cannot tell the urgency from {text!r} (answer high, medium or low, or name the"
            " stake: revenue loss, compliance risk, reputation damage)"
        )
    return found, None


# Question 7: the on-call team's experience. The "new" words are tried first, so "not
# very experienced" and "inexperienced" read as new.
_EXPERIENCE: tuple[tuple[re.Pattern[str], TeamExperience], ...] = (
    (
        re.compile(
            r"\b(new|newbies?|junior|juniors|inexperienced|novices?|beginners?|green|low|first"
            r"|little|limited|none|no experience|not (very )?experienced)\b"
        ),
        TeamExperience.NEW,
    ),
    (
        re.compile(r"\b(mixed|medium|moderate|intermediate|some|average|med)\b"),
        TeamExperience.MIXED,
    ),
    (
        re.compile(
            r"\b(experienced|senior|seniors|expert|experts|veterans?|seasoned|high|strong)\b"
        ),
        TeamExperience.EXPERIENCED,
    ),
)


def _experience(text: str) -> tuple[TeamExperience | None, str | None]:
    low = text.lower()
    if _unknown(low):
        return None, None
    single = {"l": TeamExperience.NEW, "m": TeamExperience.MIXED, "h": TeamExperience.EXPERIENCED}
    if low in single:
        return single[low], None
    found = _first(_EXPERIENCE, low)
    if found is None:
        return None, f"{text!r} is not understood (answer new, mixed or experienced)"
    return found, None


# Question 8: free text; a breach and the remaining error budget are picked out.
_BREACHED = re.compile(
    r"\b(already )?(breached|violated|blown|exhausted|missed|burn(ed|t) through)\b"
    r"|\bout of (error )?budget\b|\bno (error )?budget( left)?\b|\bover budget\b"
)
_BUDGET = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def _sla(text: str) -> tuple[bool, float | None]:
    low = text.lower()
    breached = bool(_BREACHED.search(low))
    percentages = _BUDGET.findall(low)
    budget = float(percentages[0]) if len(percentages) == 1 and "budget" in low else None
    if budget is not None and budget > 100:
        budget = None
    return breached, budget
