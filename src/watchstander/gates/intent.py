"""Plain requests ("Deploy version 2.1.0 with canary", "Start hypercare for 14 days") as the
watchstander command they stand for.

The flows list the phrases people use to start them. We map those (and the rollout
controls: roll back, pause, promote, abort, status) to an argv after `watchstander`, so
the CLI can show the command and run it after a confirmation. Matching is on whole
phrases, case-insensitive, and ignores punctuation; the rules are tried in INTENT_ORDER,
most specific first ("roll back the deployment" is a rollback, not a deploy; "launch
post-deployment support" is hypercare).

Versions are opaque strings (a target may list "v2.1.0" or "2.1.0-rc1"), so a version is
kept exactly as written; only the word "version" in front of it is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from watchstander.gates.models import Intent

__all__ = ["INTENT_ORDER", "parse_intent"]

# A version as written: 2.1.0, v2.1.0, 2.1, 2.1.0-rc.1, 2.1.0+build.5.
_VERSION = re.compile(
    r"(?<![\w.])v?\d+(?:\.\d+){1,3}(?:-[0-9A-Za-z]+(?:[.\-][0-9A-Za-z]+)*)?"
    r"(?:\+[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)?(?![\w%]|\.\d)"
)
# "version X": any token with a digit in it, as written.
_AFTER_WORD_VERSION = re.compile(
    r"\bversion\s+((?=[^\s,;!?]*\d)[^\s,;!?]*[^\s,;!?.])", re.IGNORECASE
)


def _normal(text: str) -> str:
    """Lower case, punctuation as spaces (keeping what versions, 24/7 and hyphens need)."""
    text = text.lower().replace("’", "'").replace("→", " ")
    text = re.sub(r"[^\w\s./%+\-']", " ", text)
    text = re.sub(r"(?<!\d)[.](?!\d)", " ", text)  # full stops, not version dots
    return re.sub(r"\s+", " ", text).strip()


def _version(original: str) -> str | None:
    m = _AFTER_WORD_VERSION.search(original)
    if m:
        return m.group(1)
    m = _VERSION.search(original)
    return m.group(0) if m else None


def _strategy(normal: str) -> str | None:
    if re.search(r"\bcanary\b", normal):
        return "canary"
    if re.search(r"\bblue ?[-/]? ?green\b", normal):
        return "blue-green"
    if re.search(r"\brolling\b(?! back)", normal):
        return "rolling"
    return None


_Build = Callable[[re.Match[str], str, str], Intent]


def _deploy(m: re.Match[str], normal: str, original: str) -> Intent:
    version = _version(original)
    strategy = _strategy(normal)
    argv: tuple[str, ...] = ("deploy",)
    missing: tuple[str, ...] = ()
    if version is None:
        missing = ("VERSION",)
        what = "a new version (say which)"
    else:
        argv += (version,)
        what = version
    how = ""
    if strategy:
        argv += ("--strategy", strategy)
        how = f" with the {strategy} strategy"
    return Intent(
        action="deploy",
        argv=argv,
        summary=f"deploy {what} to production{how}",
        phrase=m.group(0),
        missing=missing,
    )


def _fixed(action: str, argv: tuple[str, ...], summary: str) -> _Build:
    def build(m: re.Match[str], normal: str, original: str) -> Intent:
        return Intent(action=action, argv=argv, summary=summary, phrase=m.group(0))

    return build


def _promote(m: re.Match[str], normal: str, original: str) -> Intent:
    if re.search(r"\b(fully|full|all the way|skip(?:ping)? (?:the )?analys[ie]s)\b", normal):
        return Intent(
            action="promote",
            argv=("rollout", "promote", "--full"),
            summary="promote the active rollout to 100%, skipping the remaining steps",
            phrase=m.group(0),
        )
    return Intent(
        action="promote",
        argv=("rollout", "promote"),
        summary="promote the active rollout past its current pause or analysis",
        phrase=m.group(0),
    )


_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "seven": 7, "ten": 10}


def _hypercare(m: re.Match[str], normal: str, original: str) -> Intent:
    argv: tuple[str, ...] = ("hypercare", "start")
    details: list[str] = []
    length = re.search(r"\b(\d+|one|two|three|four|seven|ten) (days?|weeks?)\b", normal)
    if length:
        count = _WORD_NUMBERS.get(length.group(1)) or int(length.group(1))
        days = count * 7 if length.group(2).startswith("week") else count
        argv += ("--days", str(days))
        details.append(f"{days} days")
    risk = re.search(
        r"\b(high|medium|low)[- ]risk\b|\brisk (?:is |level )?(high|medium|low)\b", normal
    )
    if risk:
        level = risk.group(1) or risk.group(2)
        argv += ("--risk", level)
        details.append(f"{level} risk")
    extra = f" ({', '.join(details)})" if details else ""
    return Intent(
        action="hypercare-start",
        argv=argv,
        summary=f"start a hypercare period for the live release{extra}",
        phrase=m.group(0),
    )


# Priority: impact, urgency. P0/P1/P2/P3 as the incident flow ranks them.
_PRIORITY_IMPACT = {
    "p0": ("high", "high"),
    "p1": ("high", "medium"),
    "p2": ("medium", "medium"),
    "p3": ("low", "low"),
}
_SEVERE = re.compile(
    r"\b(?:service (?:is )?down|(?:system|service|total|full|major) outage|outage"
    r"|(?:site|app|api|everything) (?:is )?down|critical production issue|sev ?1|emergency)\b"
)


def _incident(m: re.Match[str], normal: str, original: str) -> Intent:
    title = re.sub(r"\s+", " ", original).strip(" \t.!?")
    argv: tuple[str, ...] = ("incident", "declare", "--title", title)
    priority = re.search(r"\b(p[0-3])\b", normal)
    levels: tuple[str, str] | None = None
    if priority:
        levels = _PRIORITY_IMPACT[priority.group(1)]
    elif _SEVERE.search(normal):
        levels = ("high", "high")
    extra = ""
    if levels:
        argv += ("--impact", levels[0], "--urgency", levels[1])
        extra = f" (impact {levels[0]}, urgency {levels[1]})"
    return Intent(
        action="incident-declare",
        argv=argv,
        summary=f"declare an incident{extra}: {title}",
        phrase=m.group(0),
    )


def _readiness(m: re.Match[str], normal: str, original: str) -> Intent:
    version = m.groupdict().get("v") or _version(original)
    if version is None:
        return Intent(
            action="readiness-check",
            argv=("readiness", "check"),
            summary="check whether a version is ready for production (say which)",
            phrase=m.group(0),
            missing=("VERSION",),
        )
    # The version as written: find it again in the original text to keep its case.
    written = _version(original) or version
    return Intent(
        action="readiness-check",
        argv=("readiness", "check", written),
        summary=f"check whether {written} is ready for production (GO / CONDITIONAL_GO / NO-GO)",
        phrase=m.group(0),
    )


_V = r"v?\d+(?:\.\d+){1,3}\S*"
_DEPLOYMENT = r"(?:deploy(?:ment)?|release|rollout|roll out|launch)"

# (action, pattern on the normalised text, builder), most specific first.
INTENT_ORDER: Final[tuple[tuple[str, re.Pattern[str], _Build], ...]] = (
    (
        "regression-check",
        re.compile(r"\bregression[- ]?checks?\b|\bcheck (?:for )?regressions?\b"),
        _fixed(
            "regression-check",
            ("regression-check",),
            "compare the candidate against the baseline and report regressions",
        ),
    ),
    (
        "readiness-check",
        re.compile(
            rf"\breadiness(?: check)?\b|\bis (?:version )?(?P<v>{_V}) ready\b"
            rf"|\bready (?:to|for) (?:deploy|ship|production|prod|release)\b"
            rf"|\bgo ?/ ?no[- ]go\b"
        ),
        _readiness,
    ),
    (
        "hypercare-start",
        re.compile(
            r"\b(?:start|begin|activate|launch|kick off|enter)\b.*\bhypercare\b"
            r"|\bhypercare\b|\bpost[- ]?launch monitoring\b|\b24 ?/ ?7 support(?: period)?\b"
            r"|\blaunch post[- ]?deploy(?:ment)? support\b|\bpost[- ]?deploy(?:ment)? support\b"
        ),
        _hypercare,
    ),
    (
        "incident-declare",
        re.compile(
            r"\bhandle (?:an |the |this )?incident\b|\bincident response\b"
            r"|\bp[0-3] incident\b|\bdeclare (?:an |a )?(?:p[0-3] )?incident\b"
            r"|\b(?:critical )?production (?:issue|problem|incident)(?: detected)?\b"
            r"|\bservice (?:is )?down\b|\b(?:system |service |major |total )?outage\b"
            r"|\bemergency response\b|\bincident\b"
        ),
        _incident,
    ),
    (
        "abort",
        re.compile(
            rf"\babort\b(?: (?:the |this )?{_DEPLOYMENT})?"
            rf"|\b(?:cancel|stop|kill) (?:the |this )?{_DEPLOYMENT}\b"
        ),
        _fixed(
            "abort",
            ("rollout", "abort"),
            "abort the active rollout: all traffic back to the stable version",
        ),
    ),
    (
        "rollback",
        re.compile(
            # not "with instant rollback" (a wish about a deploy, not a request)
            rf"(?<!with )(?<!instant )(?<!automatic )(?<!auto )(?<!fast )(?<!quick )"
            rf"\broll ?-?back\b(?: (?:the |this )?{_DEPLOYMENT})?"
            rf"|\brevert (?:the |this |to the previous )?(?:{_DEPLOYMENT}|version)\b"
            rf"|\bundo (?:the |this |last )?{_DEPLOYMENT}\b"
        ),
        _fixed(
            "rollback",
            ("rollout", "undo"),
            "roll back: abort the active rollout, or undo the last completed release",
        ),
    ),
    (
        "pause",
        re.compile(rf"\b(?:pause|hold|freeze) (?:the |this )?{_DEPLOYMENT}\b|\bpause\b"),
        _fixed("pause", ("rollout", "pause"), "pause the active rollout at its current step"),
    ),
    (
        "resume",
        re.compile(rf"\b(?:resume|continue|unpause) (?:the |this )?{_DEPLOYMENT}\b|\bresume\b"),
        _fixed(
            "resume", ("rollout", "resume"), "resume the paused rollout and drive it to its end"
        ),
    ),
    ("promote", re.compile(r"\bpromote\b"), _promote),
    (
        "status",
        re.compile(
            rf"\b(?:status|progress) of (?:the |this )?{_DEPLOYMENT}\b"
            rf"|\b{_DEPLOYMENT} (?:status|progress)\b"
            rf"|\bhow (?:is|are) (?:the |this |my |our )?{_DEPLOYMENT}s? (?:going|doing)\b"
            rf"|\bwhere (?:is|are) (?:the |this |my |our )?{_DEPLOYMENT}\b"
        ),
        _fixed(
            "status",
            ("rollout", "status"),
            "show the active rollout: phase, step, weights and the last verdicts",
        ),
    ),
    (
        "deploy",
        re.compile(
            r"\bdeploy(?:ing)? to (?:production|prod)\b|\bproduction deployment\b"
            r"|\brelease (?:\S+ )?to (?:production|prod)\b|\bstart (?:the |a )?deployment\b"
            rf"|\bdeploy (?:version )?{_V}|\bgo live\b|\bexecute (?:the )?production rollout\b"
            rf"|\b(?:ship|release|roll out) (?:version )?{_V}|\bdeploy\b"
        ),
        _deploy,
    ),
)


def parse_intent(text: str) -> Intent | None:
    """The command a request stands for, or None when it matches no known phrase."""
    normal = _normal(text)
    for _, pattern, build in INTENT_ORDER:
        m = pattern.search(normal)
        if m:
            return build(m, normal, text)
    return None
