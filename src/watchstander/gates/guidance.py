"""`--guidance` text and `--interactive` answers as concrete settings.

The flows take free text ("High-risk release, progressive canary with 5% → 25% → 100%").
Rather than guess, we recognise a fixed set of phrases, each mapped to one setting, and
report everything else back as not understood, so the user sees exactly what was applied
and what was ignored (`describe`).

How the text is read:

1. Every recogniser (RECOGNISERS, in priority order) scans the whole text. A match that
   overlaps one already claimed is skipped, so "rollback within 5 min" is a rollback
   tolerance and never also an observation period, and "latency" inside an SLO target
   ("latency p99 <500 ms") does not also switch on the performance focus.
2. The claimed matches are applied in text order, so when the text says a thing twice
   the later mention wins.
3. The text is split into clauses on , ; . and the words and/with/but/plus/then, except
   inside a claimed match (a canary plan "5%, 25%, 100%" stays whole). A clause with no
   match that holds more than filler words ("please", "use", "need") is reported as not
   understood.

Focus flags (security, performance, compliance, first-deployment) add required
approvals, extra readiness gates and reviewers from FOCUS_EFFECTS. A first production
deployment or "extra monitoring" also stretches the observation to an hour unless the
text names one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, TypeVar

from watchstander.errors import UsageError
from watchstander.gates.models import (
    Downtime,
    Guidance,
    Risk,
    RollbackSpeed,
    SloGoal,
)

__all__ = [
    "FOCUS_EFFECTS",
    "FocusEffect",
    "EXTENDED_OBSERVATION",
    "INTERACTIVE_QUESTIONS",
    "parse_guidance",
    "guidance_from_answers",
    "merge_guidance",
    "describe",
    "format_seconds",
    "rollback_speed",
    "RECOGNISERS",
]


_T = TypeVar("_T")


@dataclass(frozen=True)
class FocusEffect:
    approvals: tuple[str, ...]  # approval roles that must sign off (APPROVAL_ROLES)
    gates: tuple[str, ...]  # extra readiness gates
    reviewers: tuple[str, ...]  # people to add to the review


FOCUS_EFFECTS: Final[dict[str, FocusEffect]] = {
    # Medium findings count as blocking too (security-scan-strict).
    "security": FocusEffect(
        approvals=("security",),
        gates=("security-scan-strict",),
        reviewers=("security-architect", "privacy-officer"),
    ),
    "compliance": FocusEffect(
        approvals=("cab",),
        gates=("change-approval",),
        reviewers=("legal-liaison", "privacy-officer"),
    ),
    "performance": FocusEffect(
        approvals=("reliability",),
        gates=("performance-slo",),
        reviewers=("performance-engineer",),
    ),
    "first-deployment": FocusEffect(
        approvals=("reliability",),
        gates=("extended-smoke", "extended-observation"),
        reviewers=(),
    ),
}

# Seconds of observation for a first deployment or "extra monitoring" when none is named.
EXTENDED_OBSERVATION: Final = 3600.0

# The six --interactive questions, in order: (question, hint).
INTERACTIVE_QUESTIONS: Final[tuple[tuple[str, str], ...]] = (
    (
        "Which deployment strategy do you prefer?",
        "canary = progressive rollout, blue-green = instant cutover, rolling = node by "
        "node; or 'recommend'",
    ),
    (
        "How risky is this release?",
        "low = routine update, medium = new features, high = architecture change",
    ),
    (
        "What are your SLO targets?",
        "e.g. error rate <0.1%, p99 <500ms, availability >99.95%",
    ),
    (
        "Does the release include a database migration or schema change?",
        "yes / no; it affects rollback and the strategy",
    ),
    (
        "How quickly must you be able to roll back?",
        "instant, within 5 min, or 30 min is fine",
    ),
    (
        "How long should the release be observed before it is declared a success?",
        "e.g. 15 min, 30 min, 1h",
    ),
)

# -- the phrases ------------------------------------------------------------------------------

_NUM = r"(?<![\d.])\d+(?:\.\d+)?"  # a whole number: never starts mid-digits
_UNIT = r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)"
_DURATION = rf"{_NUM}\s*{_UNIT}\b"
_ROLLBACK = r"roll[- ]?backs?"
_ARROW = r"\s*(?:->|→|=>|⇒|>)\s*"
_PCT = rf"{_NUM}\s*%"

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _duration_seconds(text: str) -> float:
    match = re.fullmatch(rf"({_NUM})\s*([a-z]+)", text.strip().lower())
    assert match is not None
    unit = match.group(2)
    # "min"/"minutes" start with m, "hrs" with h, ...; "ms" is never a duration here.
    return float(match.group(1)) * _UNIT_SECONDS[unit[0]]


def format_seconds(seconds: float) -> str:
    """A short human form of an observation: "90 s", "30 min", "60 min"."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


@dataclass
class _Reading:
    """What has been read so far (mutable while parsing, frozen into a Guidance)."""

    strategy: str | None = None
    canary_steps: tuple[float, ...] | None = None
    observation: float | None = None
    risk: Risk | None = None
    downtime: Downtime | None = None
    rollback: RollbackSpeed | None = None
    db_migration: bool | None = None
    focus: list[str] = field(default_factory=list)
    tight_timeline: bool = False
    fix: str | None = None
    regression_threshold: float | None = None
    slo_goals: list[SloGoal] = field(default_factory=list)
    effects: list[FocusEffect] = field(default_factory=list)
    wants_long_observation: str | None = None  # the phrase that asked for it
    applied: list[tuple[str, str, str]] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)


class _Invalid(Exception):
    """A phrase that was recognised but cannot be used (reported with the reason)."""


_Handler = Callable[[re.Match[str], _Reading], list[tuple[str, str]]]


@dataclass(frozen=True)
class _Recogniser:
    name: str
    pattern: re.Pattern[str]
    handler: _Handler


def _set_strategy(name: str) -> _Handler:
    def handle(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
        r.strategy = name
        return [("strategy", name)]

    return handle


def _set_risk(level: Risk) -> _Handler:
    def handle(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
        r.risk = level
        return [("risk", level.value)]

    return handle


def _risk_word(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    word = (m.group("level") or m.group("level2")).lower()
    level = {"high": Risk.HIGH, "low": Risk.LOW}.get(word, Risk.MEDIUM)
    return _set_risk(level)(m, r)


def _set_downtime(value: Downtime) -> _Handler:
    def handle(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
        r.downtime = value
        return [("downtime", value.value)]

    return handle


def _set_rollback(value: RollbackSpeed) -> _Handler:
    def handle(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
        r.rollback = value
        return [("rollback", value.value)]

    return handle


def rollback_speed(seconds: float) -> RollbackSpeed:
    """A rollback time limit as a tolerance: up to a minute is instant, up to ten minutes
    fast, anything longer manual."""
    if seconds <= 60:
        return RollbackSpeed.INSTANT
    if seconds <= 600:
        return RollbackSpeed.FAST
    return RollbackSpeed.MANUAL


def _rollback_within(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    return _set_rollback(rollback_speed(_duration_seconds(m.group("d") or m.group("d2"))))(m, r)


def _set_db(value: bool) -> _Handler:
    def handle(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
        r.db_migration = value
        return [("db_migration", "yes" if value else "no")]

    return handle


def _observation(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    seconds = _duration_seconds(m.group("d"))
    if seconds <= 0:
        raise _Invalid("an observation period must be longer than zero")
    r.observation = seconds
    return [("observation", format_seconds(seconds))]


def _canary_plan(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    steps = [float(v) for v in re.findall(_NUM, m.group(0))]
    if any(not 0 < v <= 100 for v in steps):
        raise _Invalid("canary steps are percentages above 0 and at most 100")
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise _Invalid("canary steps must increase step by step")
    if steps[-1] != 100:
        steps.append(100.0)
    r.canary_steps = tuple(steps)
    return [("canary_steps", " -> ".join(f"{v:g}%" for v in steps))]


def _threshold(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    number = next((g for g in m.groups() if g is not None), None)
    value = float(number) if number is not None else 0.0
    if not 0 <= value <= 100:
        raise _Invalid("a regression threshold is a percentage from 0 to 100")
    r.regression_threshold = value
    return [("regression_threshold", f"{value:g}%")]


_SLO_OPS = {
    "<": "<",
    "<=": "<=",
    "≤": "<=",
    ">": ">",
    ">=": ">=",
    "≥": ">=",
    "below": "<",
    "under": "<",
    "less than": "<",
    "at most": "<=",
    "above": ">",
    "over": ">",
    "more than": ">",
    "greater than": ">",
    "at least": ">=",
}


def _slo(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    metric_text = re.sub(r"\s+", " ", m.group("metric").lower())
    percentile = re.search(r"p(50|95|99)", metric_text)
    if percentile:
        metric = f"latency_p{percentile.group(1)}"
    elif metric_text.startswith("latency"):
        metric = "latency_p99"  # the percentile the regression gates hold latency to
    elif metric_text.startswith("error"):
        metric = "error_rate"
    elif metric_text in ("availability", "uptime"):
        metric = "availability"
    else:
        metric = "throughput"
    op = _SLO_OPS[re.sub(r"\s+", " ", m.group("op").lower())]
    value = float(m.group("value"))
    unit = (m.group("unit") or "").lower()
    if metric.startswith("latency"):
        if unit in ("s", "sec", "second", "seconds"):
            value *= 1000.0
        elif unit not in ("", "ms", "millisecond", "milliseconds"):
            raise _Invalid("latency targets are in ms or s")
        shown = f"{value:g} ms"
    elif metric == "throughput":
        shown = f"{value:g} rps"
    else:
        if unit not in ("", "%"):
            raise _Invalid(f"{metric.replace('_', ' ')} targets are percentages")
        if not 0 <= value <= 100:
            raise _Invalid(f"{metric.replace('_', ' ')} is a percentage from 0 to 100")
        shown = f"{value:g}%"
    goal = SloGoal(metric=metric, op=op, value=value)
    r.slo_goals = [g for g in r.slo_goals if g.metric != metric] + [goal]
    return [("slo", f"{metric} {op} {shown}")]


def _set_focus(flag: str) -> _Handler:
    def handle(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
        if flag in r.focus:
            return []  # "security audit": one flag, shown once
        r.focus.append(flag)
        r.effects.append(FOCUS_EFFECTS[flag])
        return [("focus", flag)]

    return handle


def _first_deployment(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    r.wants_long_observation = r.wants_long_observation or m.group(0)
    return _set_focus("first-deployment")(m, r)


def _tight(_: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    r.tight_timeline = True
    return [("tight_timeline", "yes")]


def _fix(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    """A P0 or security fix: the change the error-budget freeze lets through. A security
    fix is also a security change (its focus flag applies)."""
    if m.group("sec"):
        r.fix = "security"
        return [("fix", "security"), *_set_focus("security")(m, r)]
    r.fix = "P0"
    return [("fix", "P0")]


_VALIDATION = r"validation|verification|smoke[- ]tests?|testing|checks"
_MONITORING = r"monitoring|observation"


def _extra(m: re.Match[str], r: _Reading) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for word in (m.group("a"), m.group("b")):
        if word is None:
            continue
        if re.fullmatch(_MONITORING, word, re.I):
            gate = "extended-observation"
            r.wants_long_observation = r.wants_long_observation or m.group(0)
        else:
            gate = "extended-smoke"
        r.effects.append(FocusEffect(approvals=(), gates=(gate,), reviewers=()))
        out.append(("extra_gate", gate))
    return out


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# In priority order: an earlier recogniser claims its text first.
RECOGNISERS: Final[tuple[_Recogniser, ...]] = (
    _Recogniser(
        "slo",
        _rx(
            r"\b(?P<metric>error[- ]rate|errors|latency\s+p(?:50|95|99)|p(?:50|95|99)(?:\s+latency)?"
            r"|latency|availability|uptime|throughput)\s*(?:of\s+|is\s+|:\s*)?"
            r"(?P<op><=|>=|≤|≥|<|>|below|under|less than|at most|above|over|more than"
            r"|greater than|at least)\s*"
            rf"(?P<value>{_NUM})\s*(?P<unit>%|ms\b|milliseconds?\b|s\b|sec\b|seconds?\b|rps\b"
            r"|req/s|requests? per second\b)?"
        ),
        _slo,
    ),
    _Recogniser(
        "rollback",
        _rx(
            rf"\b(?:instant(?:ly)?|immediate(?:ly)?)[- ]?{_ROLLBACK}\b"
            rf"|\b{_ROLLBACK}\s+(?:must\s+be\s+|should\s+be\s+|is\s+)?"
            r"(?:instant(?:ly)?|immediate(?:ly)?|in\s+seconds)\b"
        ),
        _set_rollback(RollbackSpeed.INSTANT),
    ),
    _Recogniser(
        "rollback",
        _rx(
            rf"\b{_ROLLBACK}(?:\s+(?:tolerance|time))?\s*(?:of|is|:|=)?\s*"
            r"(?:(?:in|within|under|in\s+under|in\s+less\s+than|less\s+than)\s+)?"
            rf"(?:about\s+|~\s*)?(?P<d>{_DURATION})"
            rf"|\b(?P<d2>{_DURATION})\s+{_ROLLBACK}\b"
        ),
        _rollback_within,
    ),
    _Recogniser(
        "rollback",
        _rx(rf"\b(?:fast|quick|rapid)\s+{_ROLLBACK}\b"),
        _set_rollback(RollbackSpeed.FAST),
    ),
    _Recogniser(
        "rollback",
        _rx(rf"\b(?:manual|slow)\s+{_ROLLBACK}(?:\s+(?:is\s+)?(?:ok|okay|fine|acceptable))?\b"),
        _set_rollback(RollbackSpeed.MANUAL),
    ),
    _Recogniser(
        "regression_threshold",
        _rx(
            rf"\ballow(?:ing)?\s+(?:up\s+to\s+)?({_NUM})\s*%\s+(?:of\s+)?regressions?\b"
            rf"|\bregression\s+threshold\s*(?:of\s+|at\s+|is\s+|=\s*|:\s*)?({_NUM})\s*%?"
            rf"|\b(?:up\s+to\s+)?({_NUM})\s*%\s+regressions?\s+(?:is\s+)?"
            r"(?:allowed|ok|okay|acceptable|tolerated)\b"
            r"|\b(?:zero|no)\s+regressions?(?:\s+(?:tolerance|allowed))?\b"
        ),
        _threshold,
    ),
    _Recogniser(
        "canary_steps",
        _rx(
            rf"(?<![\d.]){_PCT}(?:(?:{_ARROW}){_NUM}\s*%?"
            rf"|(?:\s*,\s*(?:and\s+)?|\s+(?:and|then|to)\s+|\s*/\s*){_PCT})+"
            rf"|(?<![\d./]){_NUM}(?:(?:{_ARROW}|\s*/\s*){_NUM}){{2,}}(?![\d./]|\s*%)"
        ),
        _canary_plan,
    ),
    _Recogniser(
        "observation",
        _rx(
            r"\b(?:observe|observing|observation(?:\s+period)?|monitor(?:ing)?(?:\s+period)?"
            r"|watch|bake(?:\s+time)?|soak(?:\s+time)?)"
            r"(?:\s+(?:for|of|period|window|time))?\s*[:=]?\s*(?:about\s+|~\s*)?"
            rf"(?P<d>{_DURATION})"
        ),
        _observation,
    ),
    _Recogniser(
        "observation",
        _rx(rf"(?P<d>{_DURATION})\s+(?:of\s+)?(?:observation|monitoring)(?:\s+period)?\b"),
        _observation,
    ),
    _Recogniser("observation", _rx(rf"(?<![\w.])(?P<d>{_DURATION})"), _observation),
    _Recogniser(
        "db_migration",
        _rx(
            r"\b(?:no|without(?:\s+a)?|not\s+(?:a|any))\s+(?:database\s+|db\s+|schema\s+|data\s+)?"
            r"(?:migrations?|schema\s+changes?)\b|\bno\s+(?:database|db|schema)\s+changes?\b"
        ),
        _set_db(False),
    ),
    _Recogniser(
        "db_migration",
        _rx(
            r"\b(?:database|db|schema|data)\s+migrations?"
            r"(?:\s+(?:included|required|needed|planned))?\b"
            r"|\bschema\s+changes?(?:\s+(?:included|required))?\b|\bmigrations?\s+included\b"
        ),
        _set_db(True),
    ),
    _Recogniser(
        "downtime",
        _rx(
            r"\b(?:zero|no)[- ]downtime(?:\s+(?:is\s+)?(?:critical|required|essential|mandatory"
            r"|needed|a\s+must))?\b"
        ),
        _set_downtime(Downtime.ZERO),
    ),
    _Recogniser(
        "downtime",
        _rx(
            r"\b(?:minimal|minimum|brief|short|little)[- ]downtime"
            r"(?:\s+(?:is\s+)?(?:ok|okay|fine|acceptable))?\b"
        ),
        _set_downtime(Downtime.MINIMAL),
    ),
    _Recogniser(
        "downtime",
        _rx(
            r"\b(?:(?:extended|long(?:er)?|planned|scheduled)\s+)?maintenance\s+window\b"
            r"|\bdowntime\s+(?:is\s+)?(?:acceptable|ok|okay|fine|allowed)\b"
            r"|\b(?:acceptable|planned|scheduled)\s+downtime\b"
        ),
        _set_downtime(Downtime.ACCEPTABLE),
    ),
    _Recogniser(
        "risk",
        _rx(
            r"\b(?P<level>high|medium|moderate|low)[- ]risk"
            r"(?:\s+(?:release|change|deployment|update))?\b"
            r"|\brisk(?:\s+level)?\s*(?:is\s+|:\s*|=\s*)?(?P<level2>high|medium|moderate|low)\b"
        ),
        _risk_word,
    ),
    _Recogniser(
        "risk",
        _rx(
            r"\barchitecture(?:al)?\s+changes?\b|\bcritical\s+(?:release|change|update)\b"
            r"|\brisky\b"
        ),
        _set_risk(Risk.HIGH),
    ),
    _Recogniser("risk", _rx(r"\bnew\s+features?\b"), _set_risk(Risk.MEDIUM)),
    _Recogniser(
        "risk",
        _rx(r"\broutine(?:\s+(?:update|release|change|fix|patch)(?:e?s)?)?\b"),
        _set_risk(Risk.LOW),
    ),
    _Recogniser(
        "strategy",
        _rx(
            r"\b(?:(?:progressive|gradual|staged)\s+)?canary"
            r"(?:\s+(?:strategy|deployment|release|rollout|deploy))?\b"
            r"|\bprogressive\s+(?:rollout|delivery|deployment)\b"
        ),
        _set_strategy("canary"),
    ),
    _Recogniser(
        "strategy",
        _rx(
            r"\bblue[- /]?green(?:\s+(?:strategy|deployment|cutover|switch|deploy))?\b"
            r"|\binstant\s+cutover\b"
        ),
        _set_strategy("blue-green"),
    ),
    _Recogniser(
        "strategy",
        _rx(
            r"\brolling(?!\s+back)(?:\s+(?:update|upgrade|deployment|deploy|restart|strategy"
            r"|release))?\b|\bnode[- ]by[- ]node\b"
        ),
        _set_strategy("rolling"),
    ),
    _Recogniser(
        "focus",
        _rx(
            r"\bfirst\s+(?:ever\s+)?(?:production\s+|prod\s+)?(?:deployment|deploy|release|launch"
            r"|rollout)\b|\binitial\s+(?:production\s+)?(?:deployment|release|launch)\b"
        ),
        _first_deployment,
    ),
    _Recogniser(
        "extra_gate",
        _rx(
            r"\b(?:extra|extended|additional|more|thorough|comprehensive|deeper)\s+"
            rf"(?P<a>{_VALIDATION}|{_MONITORING})"
            rf"(?:\s*(?:,|and|&|\+)\s*(?P<b>{_VALIDATION}|{_MONITORING}))?\b"
        ),
        _extra,
    ),
    _Recogniser(
        "fix",
        _rx(
            r"\b(?:(?P<sec>security|cve|vulnerability|vuln)\s+(?:hot\s?)?fix(?:es)?"
            r"|(?:p0|sev\s?0|emergency)\s+(?:hot\s?)?fix(?:es)?"
            r"|hot\s?fix\s+for\s+(?:the\s+)?(?:p0|inc-[\w-]+))\b"
        ),
        _fix,
    ),
    # The operations spec's keyword lists.
    _Recogniser("focus", _rx(r"\b(?:security|secur\w*|audit\w*)\b"), _set_focus("security")),
    _Recogniser(
        "focus",
        _rx(r"\b(?:performance|latency|speed|throughput)\b"),
        _set_focus("performance"),
    ),
    _Recogniser(
        "focus",
        _rx(r"\b(?:complian\w*|regulat\w*|gdpr|hipaa|sox|pci(?:[- ]dss)?)\b"),
        _set_focus("compliance"),
    ),
    _Recogniser(
        "tight_timeline",
        _rx(r"\b(?:tight|urgent\w*|deadlines?|crisis)(?:\s+(?:timeline|schedule|deadline))?\b"),
        _tight,
    ),
)

# Words that say nothing on their own; a clause of only these is not reported.
_FILLER: Final = frozenset(
    """please pls use using need needs needed we i want would like the a an to for it
    this that is are be should must do also just ok okay thanks thank you let lets let's
    and with of on in go strategy release deployment deploy included required important
    our my me can could will make sure really very""".split()
)

_SEPARATOR = re.compile(r"[,;!?\n]|\.(?=\s|$)|\s+(?:and|with|but|plus|then)\s+", re.IGNORECASE)
_SKIP_ANSWER = re.compile(
    r"(?:|-+|n/?a|none|no preference|any|anything|don'?t know|do not know|dunno|not sure"
    r"|skip|default|defaults|whatever|you decide|recommend(?:ed|ation)?|auto)",
    re.IGNORECASE,
)


def parse_guidance(text: str) -> Guidance:
    """The settings `text` names, what each came from, and what was not understood.

    `applied` uses the Guidance field names as settings, plus "slo" (one per goal),
    "extra_gate" (from "extra validation", "extended monitoring") and
    "observation-default" (the hour a first deployment or extra monitoring asks for when
    the text names no observation). A phrase that was recognised but cannot be used (a
    canary plan that does not increase) is reported in `unrecognised` with the reason.
    """
    reading = _read(text)
    return _freeze(text, reading)


def _read(text: str) -> _Reading:
    reading = _Reading()
    claimed: list[tuple[int, int]] = []
    hits: list[tuple[int, _Recogniser, re.Match[str]]] = []
    for recogniser in RECOGNISERS:
        pos = 0
        while (m := recogniser.pattern.search(text, pos)) is not None:
            start, end = m.span()
            if start == end or any(start < e and s < end for s, e in claimed):
                pos = start + 1
                continue
            claimed.append((start, end))
            hits.append((start, recogniser, m))
            pos = end
    for _, recogniser, m in sorted(hits, key=lambda hit: hit[0]):
        phrase = m.group(0).strip()
        try:
            for setting, value in recogniser.handler(m, reading):
                reading.applied.append((setting, value, phrase))
        except _Invalid as exc:
            reading.unrecognised.append(f"{phrase} ({exc})")
    reading.unrecognised[:0] = _unmatched_clauses(text, claimed)
    if reading.observation is None and reading.wants_long_observation:
        reading.observation = EXTENDED_OBSERVATION
        reading.applied.append(
            (
                "observation-default",
                format_seconds(EXTENDED_OBSERVATION),
                reading.wants_long_observation.strip(),
            )
        )
    return reading


def _unmatched_clauses(text: str, claimed: Sequence[tuple[int, int]]) -> list[str]:
    cuts = [0]
    for sep in _SEPARATOR.finditer(text):
        s, e = sep.span()
        if any(cs < e and s < ce for cs, ce in claimed):
            continue  # a separator inside a recognised phrase ("5%, 25%, 100%")
        cuts += [s, e]
    cuts.append(len(text))
    out: list[str] = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=True):
        if any(start < ce and cs < end for cs, ce in claimed):
            continue
        clause = text[start:end].strip(" \t\r\n.,;:!?-()\"'")
        words = re.findall(r"[\w'%]+", clause.lower())
        if words and not all(word in _FILLER for word in words):
            out.append(clause)
    return out


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _freeze(text: str, r: _Reading) -> Guidance:
    return Guidance(
        text=text,
        strategy=r.strategy,
        canary_steps=r.canary_steps,
        observation=r.observation,
        risk=r.risk,
        downtime=r.downtime,
        rollback=r.rollback,
        db_migration=r.db_migration,
        focus=frozenset(r.focus),
        tight_timeline=r.tight_timeline,
        fix=r.fix,
        regression_threshold=r.regression_threshold,
        slo_goals=tuple(r.slo_goals),
        required_approvals=_unique(a for e in r.effects for a in e.approvals),
        extra_gates=_unique(g for e in r.effects for g in e.gates),
        reviewers=_unique(p for e in r.effects for p in e.reviewers),
        applied=tuple(r.applied),
        unrecognised=tuple(r.unrecognised),
    )


# -- interactive answers ----------------------------------------------------------------------


def _rephrase(question: int, answer: str) -> str:
    """An answer as guidance text, read in the context of its question (0-based)."""
    a = answer.strip()
    low = a.lower().rstrip(".!")
    if question == 1:  # risk: "high", "Medium (new features)"
        m = re.match(r"(high|medium|moderate|low)\b(?![- ]risk)", low)
        if m:
            return f"{m.group(1)} risk{a[m.end() :]}"
    elif question == 3:  # database migration
        m = re.match(r"(yes|y|yep|yeah|true|included)\b", low)
        if m:
            return f"database migration{a[m.end() :]}"
        m = re.match(r"(no|n|nope|none|false)\b(?!\s+(?:migration|database|db|schema))", low)
        if m:
            return f"no database migration{a[m.end() :]}"
    elif question == 4:  # rollback tolerance
        if re.fullmatch(r"(instant(ly)?|immediate(ly)?|seconds|asap)", low):
            return "instant rollback"
        if re.fullmatch(r"(fast|quick(ly)?)", low):
            return "fast rollback"
        if re.fullmatch(r"(manual|slow|(30 min(utes)? )?is fine)", low):
            return "manual rollback"
        m = re.fullmatch(rf"(?:with)?in\s+({_DURATION})|({_DURATION})", low)
        if m:
            return f"rollback within {m.group(1) or m.group(2)}"
        if re.fullmatch(_NUM, low):  # the hint counts in minutes
            return f"rollback within {a} min"
    elif question == 5:  # observation period
        if re.fullmatch(_DURATION, low):
            return f"observe for {a}"
        if re.fullmatch(_NUM, low):
            return f"observe for {a} min"
    return a


def guidance_from_answers(answers: Sequence[str]) -> Guidance:
    """Guidance from the answers to INTERACTIVE_QUESTIONS, in order (blank: not said).

    Each answer is read in the context of its question ("high" to Q2 is a high risk, "yes"
    to Q4 a database migration, "5 min" to Q5 a rollback tolerance) and turned into a
    guidance clause; the clauses make up `text`. An answer that names nothing lands in
    `unrecognised` as "Q2: <answer>".
    """
    if len(answers) > len(INTERACTIVE_QUESTIONS):
        raise UsageError(
            f"{len(answers)} answers for {len(INTERACTIVE_QUESTIONS)} interactive questions"
        )
    clauses: list[str] = []
    unrecognised: list[str] = []
    for index, answer in enumerate(answers):
        said = answer.strip().rstrip(".!")
        if _SKIP_ANSWER.fullmatch(said) and not (index == 3 and said.lower() == "none"):
            continue  # "none" to Q4 means no migration
        clause = _rephrase(index, answer)
        reading = _read(clause)
        if reading.applied:
            clauses.append(clause)
        unrecognised += [f"Q{index + 1}: {item}" for item in reading.unrecognised]
        if not reading.applied and not reading.unrecognised:
            unrecognised.append(f"Q{index + 1}: {answer.strip()}")
    text = "; ".join(clauses)
    reading = _read(text)
    reading.unrecognised = unrecognised
    return _freeze(text, reading)


# -- merging and display ----------------------------------------------------------------------


def _pick(a: _T | None, b: _T | None) -> _T | None:
    return b if b is not None else a


def _observation_of(g: Guidance) -> tuple[float | None, bool]:
    """The observation and whether it was named (rather than a first-deployment default)."""
    derived = any(setting == "observation-default" for setting, _, _ in g.applied)
    return g.observation, g.observation is not None and not derived


def merge_guidance(first: Guidance, second: Guidance) -> Guidance:
    """Both sets of settings; where both name a setting, `second` wins.

    Used when `--guidance` and `--interactive` are both given (the answers come second).
    Focus flags, approvals, gates, reviewers and notes are combined; SLO goals are
    combined per metric. An observation that was named beats a default from a focus.
    """
    obs_first, named_first = _observation_of(first)
    obs_second, named_second = _observation_of(second)
    if named_second or (not named_first and obs_second is not None):
        observation = obs_second
    else:
        observation = obs_first if obs_first is not None else obs_second
    goals = {goal.metric: goal for goal in first.slo_goals}
    goals.update({goal.metric: goal for goal in second.slo_goals})

    return replace(
        first,
        text="; ".join(t for t in (first.text.strip(), second.text.strip()) if t),
        strategy=_pick(first.strategy, second.strategy),
        canary_steps=_pick(first.canary_steps, second.canary_steps),
        observation=observation,
        risk=_pick(first.risk, second.risk),
        downtime=_pick(first.downtime, second.downtime),
        rollback=_pick(first.rollback, second.rollback),
        db_migration=_pick(first.db_migration, second.db_migration),
        focus=first.focus | second.focus,
        tight_timeline=first.tight_timeline or second.tight_timeline,
        fix=_pick(first.fix, second.fix),
        regression_threshold=_pick(first.regression_threshold, second.regression_threshold),
        slo_goals=tuple(goals.values()),
        required_approvals=_unique((*first.required_approvals, *second.required_approvals)),
        extra_gates=_unique((*first.extra_gates, *second.extra_gates)),
        reviewers=_unique((*first.reviewers, *second.reviewers)),
        applied=(*first.applied, *second.applied),
        unrecognised=(*first.unrecognised, *second.unrecognised),
    )


def describe(g: Guidance) -> list[str]:
    """Lines for people: each applied setting with the phrase it came from, what the focus
    flags add, and what was not understood."""
    lines = []
    for setting, value, phrase in g.applied:
        label = "observation (default)" if setting == "observation-default" else setting
        lines.append(f"{label.replace('_', ' ')}: {value} (from '{phrase}')")
    if g.required_approvals:
        lines.append(f"approvals required: {', '.join(g.required_approvals)}")
    if g.extra_gates:
        lines.append(f"extra gates: {', '.join(g.extra_gates)}")
    if g.reviewers:
        lines.append(f"reviewers added: {', '.join(g.reviewers)}")
    lines += [f"not understood: '{item}'" for item in g.unrecognised]
    return lines
