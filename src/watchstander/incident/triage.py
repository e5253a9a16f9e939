"""Regression triage (incident Step 1.5): is the incident a regression of a recent change,
can that change be rolled back, how far does it reach, and what to do first.

* regression_verdict() walks the flow's "Regression vs New Issue" decision tree over the
  deployments and commits the store and git know about, and grades the result on the
  flow's five-level scale with the five regression indicators as evidence:

  - it never worked (``worked_before`` NO) -> NOT_REGRESSION (HIGH);
  - unknown whether it worked -> NOT_REGRESSION (LOW), the tree's answer, unless a related
    change landed in the 48 h before the onset: then POSSIBLE (LOW), so that a deploy
    minutes before the outage is never waved through as "not a regression";
  - it worked and a related change landed within 48 h -> LIKELY (MEDIUM), or CONFIRMED
    (HIGH) when the onset was immediate (within an hour, or during the rollout), a commit
    of the change touches the failing component, endpoint or the file in the error, and
    staging/canary showed the same pattern or the metrics bend at the deployment;
  - it worked and only unrelated services changed within 48 h -> POSSIBLE (LOW);
  - it worked and nothing changed within 48 h -> POSSIBLE (LOW, a latent regression), or
    UNLIKELY (MEDIUM) when the tree's other checks (traffic pattern, an external
    dependency, data growth) found an explanation.

  A change is *related* when it deployed an affected service (every service counts when
  the symptoms name none), when it is a config or infrastructure change, when the onset
  was immediate, or when one of its commits correlates. Confidence follows the flow's
  bands: CONFIRMED >90 % (HIGH), LIKELY 70-90 % (MEDIUM), POSSIBLE <70 % (LOW).
* rollback_feasibility() reads the changed files, commit messages and diffs: schema
  migrations, API contracts and data formats make a rollback RISKY; destructive
  migrations (DROP/RENAME of tables and columns), declared breaking changes and
  irreversible steps make it BLOCKED.
* blast_radius() reports what the data allows: components touched, services and their
  downstream dependants, users and regions affected, and a LOW/MEDIUM/HIGH score.
* immediate_action() looks the case up in ACTION_MATRIX (one table merging the flow's
  Step 7 matrix, its decision tree and its rollback-vs-hotfix matrix).

Pure: no IO and no clock; callers pass `now`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath

from watchstander.errors import UsageError

__all__ = [
    "ChangeKind",
    "Deployment",
    "Commit",
    "Symptoms",
    "RegressionVerdict",
    "Confidence",
    "Indicators",
    "Verdict",
    "RollbackFeasibility",
    "RiskFactor",
    "DataLossRisk",
    "Feasibility",
    "Impact",
    "BlastRadius",
    "ActionType",
    "Urgency",
    "Action",
    "ACTION_MATRIX",
    "RECENT_WINDOW",
    "IMMEDIATE_WINDOW",
    "regression_verdict",
    "rollback_feasibility",
    "blast_radius",
    "parse_priority",
    "impact_for_priority",
    "immediate_action",
]

# "Review git log for last 24-48 hours": a change older than this is not "recent".
RECENT_WINDOW = timedelta(hours=48)
# "Issue appeared immediately after deployment": within the first hour, the span the
# deploy flow watches for critical errors after a release.
IMMEDIATE_WINDOW = timedelta(hours=1)
# Deployment outcomes after which the version no longer serves.
_WITHDRAWN = ("rolled_back", "aborted")


# -- inputs -----------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    DEPLOYMENT = "deployment"
    CONFIG = "config"  # touches every service reading it
    INFRASTRUCTURE = "infrastructure"  # touches every service running on it


@dataclass(frozen=True)
class Deployment:
    """A change that reached production, as the store saw it."""

    service: str
    version: str
    rollout_id: str
    finished_at: datetime | None  # None: still rolling out
    outcome: str = "succeeded"  # succeeded | rolled_back | aborted | failed | in_progress
    strategy: str = ""  # canary | blue-green | rolling
    started_at: datetime | None = None
    kind: ChangeKind = ChangeKind.DEPLOYMENT
    previous_version: str = ""  # the rollback target
    commits: tuple[str, ...] = ()  # SHAs (or prefixes) it shipped, when known

    def __post_init__(self) -> None:
        if self.finished_at is None and self.started_at is None:
            raise ValueError(f"deployment {self.rollout_id}: needs started_at or finished_at")

    @property
    def began_at(self) -> datetime:
        """When production first saw the change."""
        at = self.started_at if self.started_at is not None else self.finished_at
        assert at is not None  # __post_init__
        return at

    @property
    def label(self) -> str:
        kind = "" if self.kind is ChangeKind.DEPLOYMENT else f"{self.kind} change "
        how = f", {self.strategy}" if self.strategy else ""
        return f"{kind}{self.service} {self.version} (rollout {self.rollout_id}{how})"


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: datetime
    message: str
    files: tuple[str, ...] = ()
    pr_number: int | None = None

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


@dataclass(frozen=True)
class Symptoms:
    """What the incident looks like, summarised for triage."""

    started_at: datetime  # onset: when the symptoms began
    components: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()  # "/api/v1/refunds/{id}"
    error_signature: str = ""  # "KeyError: 'currency' at payments/refund.py:42"
    services: tuple[str, ...] = ()  # empty: not known, every deployment may be related
    worked_before: bool | None = None  # the tree's first question; None: UNKNOWN
    last_worked_at: datetime | None = None  # a known-good time implies worked_before
    inflection_at: datetime | None = None  # where the metrics bend, when analysis found one
    seen_in_staging: bool | None = None  # the same pattern in staging or the canary
    # What the tree's "no recent change" branch found: traffic pattern change, external
    # dependency failure, data growth, ...
    other_causes: tuple[str, ...] = ()

    def since(self, deployment: Deployment) -> timedelta | None:
        """How long after `deployment` finished the symptoms began: zero when they began
        during its rollout, None when they began before it."""
        if self.started_at < deployment.began_at:
            return None
        if deployment.finished_at is None or self.started_at <= deployment.finished_at:
            return timedelta(0)
        return self.started_at - deployment.finished_at


# -- the verdict --------------------------------------------------------------------------------


class RegressionVerdict(StrEnum):
    CONFIRMED = "CONFIRMED"
    LIKELY = "LIKELY"
    POSSIBLE = "POSSIBLE"
    UNLIKELY = "UNLIKELY"
    NOT_REGRESSION = "NOT_REGRESSION"


class Confidence(StrEnum):
    HIGH = "HIGH"  # >90 %
    MEDIUM = "MEDIUM"  # 70-90 %
    LOW = "LOW"  # <70 %


@dataclass(frozen=True)
class Indicators:
    """The flow's regression indicators; None: no data to say either way."""

    worked_before: bool | None  # functionality worked in the previous version
    immediate: bool  # the issue appeared immediately after a deployment
    commit: bool  # the issue correlates with a specific commit/PR
    staging: bool | None  # similar pattern in staging/canary
    inflection: bool | None  # metrics show an inflection point at deployment time

    @property
    def count(self) -> int:
        flags = (self.worked_before, self.immediate, self.commit, self.staging, self.inflection)
        return sum(1 for f in flags if f)


@dataclass(frozen=True)
class Verdict:
    verdict: RegressionVerdict
    confidence: Confidence
    evidence: tuple[str, ...]
    indicators: Indicators
    recent: tuple[Deployment, ...]  # live changes in the 48 h before the onset, newest first
    suspect: Deployment | None = None  # the change most likely to blame
    lag: timedelta | None = None  # onset - suspect finished (zero: during the rollout)
    commits: tuple[Commit, ...] = ()  # commits correlating with the symptoms
    next_step: str = ""

    @property
    def is_regression(self) -> bool:
        """CONFIRMED or LIKELY: bisect, assess rollback and record it in the register."""
        return self.verdict in (RegressionVerdict.CONFIRMED, RegressionVerdict.LIKELY)


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(d: timedelta) -> str:
    minutes = int(abs(d).total_seconds()) // 60
    if minutes < 1:
        return f"{int(abs(d).total_seconds())} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 72:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


_GENERIC_SEGMENTS = {"api", "v1", "v2", "v3", "v4", "rest", "rpc", "internal", "public"}


def _terms(symptoms: Symptoms) -> list[tuple[str, str]]:
    """(lower-case term, what it stands for) to look for in commits."""
    terms = [(c.lower(), f"component '{c}'") for c in symptoms.components if c.strip()]
    for endpoint in symptoms.endpoints:
        segments = [
            s
            for s in endpoint.strip("/").split("/")
            if s and not s.isdigit() and s[0] not in "{:<" and s.lower() not in _GENERIC_SEGMENTS
        ]
        if segments:
            terms.append((segments[-1].lower(), f"endpoint '{endpoint}'"))
    return terms


def _path_words(path: str) -> set[str]:
    p = PurePosixPath(path.replace("\\", "/").lower())
    words = set(p.parts[:-1]) | {p.stem, p.name}
    words |= set(re.split(r"[_\-.]", p.stem))
    return words


def _clean(path: str) -> str:
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


def _path_forms(path: str) -> set[str]:
    """How a changed file may appear in an error: the path, without a src/ root, dotted."""
    p = _clean(path)
    forms = {p}
    for root in ("src/", "lib/", "app/"):
        if p.startswith(root):
            forms.add(p[len(root) :])
    for f in list(forms):
        if f.endswith(".py"):
            forms.add(f[:-3].replace("/", "."))
    return {f for f in forms if "/" in f or "." in f.strip(".")}


def _correlation(commit: Commit, symptoms: Symptoms, terms: list[tuple[str, str]]) -> str:
    """Why `commit` correlates with the symptoms, or "" when it does not."""
    signature = symptoms.error_signature
    for path in commit.files:
        for form in sorted(_path_forms(path), key=len, reverse=True):
            if signature and form in signature:
                return f"touches {path}, named in the error"
    for term, what in terms:
        for path in commit.files:
            if term in _path_words(path):
                return f"touches {path}, matching {what}"
        if re.search(rf"\b{re.escape(term)}\b", commit.message, re.IGNORECASE):
            return f"its message mentions {what}"
    return ""


def _commit_line(c: Commit, why: str) -> str:
    pr = f", PR #{c.pr_number}" if c.pr_number is not None else ""
    return f"commit {c.sha[:12]} '{c.subject}' ({c.author}, {_when(c.date)}{pr}) {why}"


def regression_verdict(
    symptoms: Symptoms,
    deployments: Sequence[Deployment],
    commits: Sequence[Commit],
    now: datetime,
    *,
    window: timedelta = RECENT_WINDOW,
    immediate: timedelta = IMMEDIATE_WINDOW,
) -> Verdict:
    """Is the incident a regression of a recent change? See the module docstring."""
    _require_aware(now, "now")
    _require_aware(symptoms.started_at, "symptoms.started_at")
    onset = symptoms.started_at
    if onset > now:
        raise ValueError("symptoms.started_at is after now")
    evidence: list[str] = []

    recent: list[Deployment] = []
    for d in sorted(deployments, key=lambda d: d.began_at, reverse=True):
        if d.began_at > now:
            continue
        if d.began_at > onset:
            evidence.append(
                f"{d.label} began at {_when(d.began_at)}, after the symptoms: not a cause"
            )
        elif onset - d.began_at > window:
            continue
        elif d.outcome in _WITHDRAWN and d.finished_at is not None and d.finished_at <= onset:
            evidence.append(
                f"{d.label} was {d.outcome.replace('_', ' ')} at {_when(d.finished_at)}, "
                "before the symptoms began: not serving"
            )
        else:
            recent.append(d)

    def lag_of(d: Deployment) -> timedelta:
        since = symptoms.since(d)
        assert since is not None  # recent changes began before the onset
        return since

    def is_immediate(d: Deployment) -> bool:
        return lag_of(d) <= immediate

    def bends_at(d: Deployment) -> bool:
        at = symptoms.inflection_at
        end = d.finished_at if d.finished_at is not None else now
        return at is not None and d.began_at <= at <= end + immediate

    terms = _terms(symptoms)
    correlated: list[tuple[Commit, str]] = []
    for c in sorted(commits, key=lambda c: c.date, reverse=True):
        if c.date > onset:
            evidence.append(_commit_line(c, "was committed after the symptoms began: not a cause"))
            continue
        why = _correlation(c, symptoms, terms)
        if why:
            correlated.append((c, why))

    def ships_correlated(d: Deployment) -> bool:
        return any(
            c.sha.startswith(s) or s.startswith(c.sha) for c, _ in correlated for s in d.commits
        )

    affected = set(symptoms.services)
    related = [
        d
        for d in recent
        if not affected
        or d.service in affected
        or d.kind is not ChangeKind.DEPLOYMENT
        or is_immediate(d)
        or ships_correlated(d)
    ]
    # The suspect: the newest related change with an immediate onset, else the newest.
    suspect = next((d for d in related if is_immediate(d)), related[0] if related else None)

    worked = symptoms.worked_before
    if worked is None and symptoms.last_worked_at is not None:
        worked = True
        evidence.append(f"last known to work at {_when(symptoms.last_worked_at)}")
    if worked is None and suspect is not None and bends_at(suspect):
        worked = True
        evidence.append("the metrics were steady before their inflection, so it worked before")

    hours = f"{_span(window)}"
    if recent:
        evidence.append(
            f"{len(recent)} change(s) reached production in the {hours} before the onset"
        )
    lag: timedelta | None = None
    if suspect is not None:
        lag = lag_of(suspect)
        if suspect.finished_at is None or lag == timedelta(0):
            evidence.append(
                f"the symptoms began at {_when(onset)}, during the rollout of {suspect.label} "
                f"(started {_when(suspect.began_at)})"
            )
        else:
            evidence.append(
                f"{suspect.label} finished at {_when(suspect.finished_at)}, "
                f"{_span(lag)} before the symptoms began at {_when(onset)}"
            )
    for d in recent:
        if d is not suspect:
            note = "" if d in related else f"; {d.service} is not an affected service"
            evidence.append(
                f"also {d.label} began at {_when(d.began_at)}, "
                f"{_span(onset - d.began_at)} before the onset{note}"
            )
    for c, why in correlated:
        evidence.append(_commit_line(c, why))
    inflection = None
    if symptoms.inflection_at is not None:
        inflection = suspect is not None and bends_at(suspect)
        where = "at" if inflection else "not at"
        evidence.append(
            f"the metrics bend at {_when(symptoms.inflection_at)}, {where} a deployment time"
        )
    if symptoms.seen_in_staging is not None:
        seen = "was" if symptoms.seen_in_staging else "was not"
        evidence.append(f"a similar pattern {seen} seen in staging/canary")

    indicators = Indicators(
        worked_before=worked,
        immediate=suspect is not None and is_immediate(suspect),
        # A commit the suspect is known not to ship does not tie the symptoms to it.
        commit=bool(correlated)
        and (suspect is None or not suspect.commits or ships_correlated(suspect)),
        staging=symptoms.seen_in_staging,
        inflection=inflection,
    )

    def verdict(v: RegressionVerdict, conf: Confidence, reason: str, step: str) -> Verdict:
        return Verdict(
            verdict=v,
            confidence=conf,
            evidence=(reason, *evidence),
            indicators=indicators,
            recent=tuple(recent),
            suspect=suspect if v is not RegressionVerdict.NOT_REGRESSION else None,
            lag=lag if v is not RegressionVerdict.NOT_REGRESSION else None,
            commits=tuple(commit for commit, _ in correlated),
            next_step=step,
        )

    triage = "continue to standard triage (Step 2)"
    parallel = "investigate the regression in parallel with standard triage"
    if worked is False:
        return verdict(
            RegressionVerdict.NOT_REGRESSION,
            Confidence.HIGH,
            "the functionality never worked: a defect, not a regression",
            triage,
        )
    if worked is None:
        if suspect is not None:
            return verdict(
                RegressionVerdict.POSSIBLE,
                Confidence.LOW,
                "unknown whether it worked before, but a related change landed within "
                f"{hours} of the onset",
                parallel,
            )
        return verdict(
            RegressionVerdict.NOT_REGRESSION,
            Confidence.LOW,
            f"unknown whether it worked before, and no related change within {hours}",
            triage,
        )
    if suspect is not None:
        strong = indicators.immediate and indicators.commit
        if strong and (indicators.staging or indicators.inflection):
            return verdict(
                RegressionVerdict.CONFIRMED,
                Confidence.HIGH,
                f"regression confirmed: {indicators.count} of 5 indicators",
                "bisect to the introducing commit and assess rollback",
            )
        return verdict(
            RegressionVerdict.LIKELY,
            Confidence.MEDIUM,
            f"it worked before and a related change landed within {hours} of the onset",
            "bisect to the introducing commit and assess rollback",
        )
    if recent:
        services = ", ".join(sorted({d.service for d in recent}))
        return verdict(
            RegressionVerdict.POSSIBLE,
            Confidence.LOW,
            f"only unrelated services changed within {hours} ({services}); one may be a dependency",
            parallel,
        )
    if symptoms.other_causes:
        return verdict(
            RegressionVerdict.UNLIKELY,
            Confidence.MEDIUM,
            f"no change within {hours}; explained by: " + "; ".join(symptoms.other_causes),
            triage,
        )
    return verdict(
        RegressionVerdict.POSSIBLE,
        Confidence.LOW,
        f"it worked before but nothing changed within {hours}: check the traffic pattern, "
        "external dependencies and data growth for a latent regression",
        parallel,
    )


# -- rollback feasibility -------------------------------------------------------------------------


class RollbackFeasibility(StrEnum):
    SAFE = "SAFE"  # no schema or data issues
    RISKY = "RISKY"  # schema, contract or data-format concerns
    BLOCKED = "BLOCKED"  # breaking changes: the old version cannot run

    @property
    def risk(self) -> str:
        """The Step 7 matrix's "Rollback Risk" column."""
        return {"SAFE": "LOW", "RISKY": "MEDIUM", "BLOCKED": "HIGH"}[self.value]


class RiskFactor(StrEnum):
    MIGRATION = "migration"  # database migration in between
    DESTRUCTIVE_MIGRATION = "destructive-migration"  # drops or renames tables/columns
    API_CONTRACT = "api-contract"  # external API contract changed
    BREAKING_CHANGE = "breaking-change"  # declared breaking
    DATA_FORMAT = "data-format"  # data written in a format the old version cannot read
    IRREVERSIBLE = "irreversible"  # declared one-way
    DEPENDENTS_UPDATED = "dependents-updated"  # dependent services already updated


class DataLossRisk(StrEnum):
    NONE = "NONE"
    MINIMAL = "MINIMAL"
    SIGNIFICANT = "SIGNIFICANT"


@dataclass(frozen=True)
class Feasibility:
    level: RollbackFeasibility
    reasons: tuple[str, ...]  # one per finding, citing the file or commit
    factors: frozenset[RiskFactor]
    data_loss: DataLossRisk


_MIGRATION_PATHS = (
    re.compile(r"(^|/)(migrations?|migrate)/"),  # Django, Rails db/migrate, Prisma, ...
    re.compile(r"(^|/)alembic/versions/"),
    re.compile(r"(^|/)db/changelog/"),  # Liquibase
    re.compile(r"\.sql$"),
)
_CONTRACT_PATHS = (
    re.compile(r"(^|/)(openapi|swagger|asyncapi)[^/]*\.(ya?ml|json)$"),
    re.compile(r"\.(proto|graphqls?|thrift)$"),
    re.compile(r"(^|/)[^/]*schema[^/]*\.(json|ya?ml|graphql)$"),
)
_FORMAT_PATHS = (
    re.compile(r"\.avsc$"),
    re.compile(r"(^|/)[^/]*(serializers?|codecs?|marshal\w*)\.[a-z]+$"),
)
_DESTRUCTIVE = re.compile(
    r"\bDROP\s+(TABLE|COLUMN|SCHEMA|DATABASE)\b"
    r"|\bALTER\s+TABLE\b[^;\n]*\bDROP\b"
    r"|\bRENAME\s+(COLUMN|TO)\b"
    r"|\bTRUNCATE\s+TABLE\b"
    r"|\bop\.(drop_table|drop_column)\b"
    r"|\bmigrations\.(RemoveField|DeleteModel|RenameField|RenameModel)\b",
    re.IGNORECASE,
)
_SCHEMA = re.compile(
    r"\bALTER\s+TABLE\b|\bCREATE\s+TABLE\b|\bDROP\s+(INDEX|CONSTRAINT)\b"
    r"|\bop\.(add_column|alter_column|create_table|drop_index|drop_constraint)\b"
    r"|\bmigrations\.(AddField|AlterField|CreateModel)\b",
    re.IGNORECASE,
)
_BREAKING = re.compile(r"BREAKING[ -]CHANGE|^\w+(\([^)]*\))?!:", re.MULTILINE)
_IRREVERSIBLE = re.compile(
    r"\birreversible\b|\bone-way\b|\bno down(grade)?( migration)?\b", re.IGNORECASE
)
_FORMAT_TEXT = re.compile(
    r"\b(data|storage|wire|file|cache|event|message|record) format\b|\bseriali[sz]\w*"
    r"|\bschema version\b|\bbackfill\w*|\bre-?encod\w*|\bdata migration\b",
    re.IGNORECASE,
)


def rollback_feasibility(
    changed_files: Iterable[str],
    commit_messages: Iterable[str],
    *,
    diffs: Iterable[str] = (),
    dependents_updated: bool = False,
) -> Feasibility:
    """SAFE / RISKY / BLOCKED for rolling back past these changes, with the reasons."""
    files = [f.replace("\\", "/") for f in changed_files]
    messages = [m for m in commit_messages if m.strip()]
    texts = [*(("commit", m) for m in messages), *(("diff", d) for d in diffs)]
    factors: set[RiskFactor] = set()
    reasons: list[str] = []

    def found(factor: RiskFactor, reason: str) -> None:
        factors.add(factor)
        reasons.append(reason)

    migrations = [f for f in files if any(p.search(f.lower()) for p in _MIGRATION_PATHS)]
    if migrations:
        found(RiskFactor.MIGRATION, "database migration(s) in between: " + ", ".join(migrations))
    for kind, text in texts:
        subject = text.strip().splitlines()[0][:80]
        if m := _DESTRUCTIVE.search(text):
            found(
                RiskFactor.DESTRUCTIVE_MIGRATION,
                f"{kind} '{subject}' has '{m.group(0)}': the old version expects what it removes",
            )
        elif m := _SCHEMA.search(text):
            found(RiskFactor.MIGRATION, f"{kind} '{subject}' changes the schema ('{m.group(0)}')")
        if _BREAKING.search(text):
            found(RiskFactor.BREAKING_CHANGE, f"{kind} '{subject}' declares a breaking change")
        if m := _IRREVERSIBLE.search(text):
            found(RiskFactor.IRREVERSIBLE, f"{kind} '{subject}' says '{m.group(0)}'")
        if m := _FORMAT_TEXT.search(text):
            found(
                RiskFactor.DATA_FORMAT,
                f"{kind} '{subject}' mentions '{m.group(0)}': data written since may not "
                "be readable by the old version",
            )
    contracts = [f for f in files if any(p.search(f.lower()) for p in _CONTRACT_PATHS)]
    if contracts:
        found(
            RiskFactor.API_CONTRACT,
            "API contract changed: " + ", ".join(contracts) + " (clients may rely on it)",
        )
    formats = [f for f in files if any(p.search(f.lower()) for p in _FORMAT_PATHS)]
    if formats:
        found(RiskFactor.DATA_FORMAT, "data format code changed: " + ", ".join(formats))
    if dependents_updated:
        found(RiskFactor.DEPENDENTS_UPDATED, "dependent services already updated: coordinate")

    blocking = {
        RiskFactor.DESTRUCTIVE_MIGRATION,
        RiskFactor.BREAKING_CHANGE,
        RiskFactor.IRREVERSIBLE,
    }
    if factors & blocking:
        level = RollbackFeasibility.BLOCKED
    elif factors:
        level = RollbackFeasibility.RISKY
    else:
        level = RollbackFeasibility.SAFE
        reasons.append(
            f"{len(files)} file(s), {len(messages)} commit(s): no migration, contract or "
            "data-format change"
        )
    if factors & {RiskFactor.DESTRUCTIVE_MIGRATION, RiskFactor.IRREVERSIBLE}:
        loss = DataLossRisk.SIGNIFICANT
    elif factors & {RiskFactor.MIGRATION, RiskFactor.DATA_FORMAT}:
        loss = DataLossRisk.MINIMAL
    else:
        loss = DataLossRisk.NONE
    return Feasibility(level, tuple(reasons), frozenset(factors), loss)


# -- blast radius ---------------------------------------------------------------------------------


class Impact(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


@dataclass(frozen=True)
class BlastRadius:
    components: tuple[str, ...]  # touched by the change
    services: tuple[str, ...]  # impacted: affected plus the suspect's
    dependencies: tuple[str, ...]  # downstream of the impacted services
    users_affected: int | None
    users_total: int | None
    users_percent: float | None
    regions: tuple[str, ...]  # ("all",) when every known region is affected
    score: Impact | None  # None: no data to score on
    reasons: tuple[str, ...]
    unknown: tuple[str, ...]  # what the data did not allow


def _component(path: str, component_map: Mapping[str, str]) -> str:
    p = _clean(path)
    best = max((prefix for prefix in component_map if p.startswith(prefix)), key=len, default="")
    if best:
        return component_map[best]
    parent = str(PurePosixPath(p).parent)
    return "(root)" if parent == "." else parent


def blast_radius(
    symptoms: Symptoms,
    commits: Sequence[Commit],
    *,
    suspect: Deployment | None = None,
    users_affected: int | None = None,
    users_total: int | None = None,
    dependents: Mapping[str, Sequence[str]] | None = None,
    component_map: Mapping[str, str] | None = None,
    regions_affected: Sequence[str] = (),
    regions_total: Sequence[str] = (),
) -> BlastRadius:
    """The reach of the introducing change, from what is known.

    `dependents` maps a service to the services that call it (followed transitively);
    `component_map` maps path prefixes to component names (else the file's directory).
    The score is the worse of users affected (HIGH >50 %, MEDIUM 10-50 %, LOW <10 %, the
    flow's impact bands) and services reached (HIGH >=3, MEDIUM 2, LOW 1).
    """
    cmap = component_map or {}
    components = sorted({_component(f, cmap) for c in commits for f in c.files})
    services = set(symptoms.services) | ({suspect.service} if suspect is not None else set())
    graph = dependents or {}
    downstream: set[str] = set()
    todo = list(services)
    while todo:
        for caller in graph.get(todo.pop(), ()):
            if caller not in services and caller not in downstream:
                downstream.add(caller)
                todo.append(caller)
    reasons: list[str] = []
    unknown: list[str] = []
    scores: list[Impact] = []

    percent: float | None = None
    if users_affected is not None and users_total:
        percent = 100.0 * users_affected / users_total
        band = Impact.HIGH if percent > 50 else Impact.MEDIUM if percent >= 10 else Impact.LOW
        scores.append(band)
        reasons.append(
            f"{users_affected} of {users_total} users affected ({percent:.1f} %): {band}"
        )
    elif users_affected is not None:
        reasons.append(f"{users_affected} users affected (total unknown)")
        unknown.append("share of users affected")
    else:
        unknown.append("users affected")
    reach = len(services | downstream)
    if reach:
        band = Impact.HIGH if reach >= 3 else Impact.MEDIUM if reach == 2 else Impact.LOW
        scores.append(band)
        reasons.append(f"{reach} service(s) reached: " + ", ".join(sorted(services | downstream)))
    else:
        unknown.append("services impacted")
    if not components:
        unknown.append("components touched (no commits)")
    regions: tuple[str, ...] = tuple(sorted(set(regions_affected)))
    if regions_total and set(regions_total) <= set(regions_affected):
        regions = ("all",)
    if not regions:
        unknown.append("regions")
    order = [Impact.LOW, Impact.MEDIUM, Impact.HIGH]
    score = max(scores, key=order.index) if scores else None
    return BlastRadius(
        components=tuple(components),
        services=tuple(sorted(services)),
        dependencies=tuple(sorted(downstream)),
        users_affected=users_affected,
        users_total=users_total,
        users_percent=percent,
        regions=regions,
        score=score,
        reasons=tuple(reasons),
        unknown=tuple(unknown),
    )


# -- the immediate action -------------------------------------------------------------------------


class ActionType(StrEnum):
    ROLLBACK = "ROLLBACK"
    HOTFIX = "HOTFIX"
    INVESTIGATE = "INVESTIGATE"
    STANDARD_TRIAGE = "STANDARD_TRIAGE"


class Urgency(StrEnum):
    IMMEDIATE = "IMMEDIATE"  # < 5 min
    URGENT = "URGENT"  # < 15 min
    NORMAL = "NORMAL"  # the priority's SLA


@dataclass(frozen=True)
class Action:
    type: ActionType
    urgency: Urgency
    recommendation: str
    verdict: RegressionVerdict
    feasibility: RollbackFeasibility | None
    impact: Impact
    rationale: tuple[str, ...]


_V = RegressionVerdict
_F = RollbackFeasibility
_A = ActionType
_U = Urgency
_I = Impact

# (verdict, rollback feasibility or None for any, user impact or None for any,
#  action, urgency, recommendation). The first matching row wins.
ACTION_MATRIX: tuple[
    tuple[RegressionVerdict, RollbackFeasibility | None, Impact | None, ActionType, Urgency, str],
    ...,
] = (
    (_V.CONFIRMED, _F.SAFE, _I.HIGH, _A.ROLLBACK, _U.IMMEDIATE, "roll back immediately"),
    (_V.CONFIRMED, _F.SAFE, _I.MEDIUM, _A.ROLLBACK, _U.URGENT, "roll back"),
    (_V.CONFIRMED, _F.SAFE, _I.LOW, _A.ROLLBACK, _U.NORMAL, "roll back within the SLA"),
    (_V.CONFIRMED, _F.RISKY, _I.HIGH, _A.HOTFIX, _U.IMMEDIATE, "hotfix: rollback too risky"),
    (_V.CONFIRMED, _F.RISKY, _I.MEDIUM, _A.HOTFIX, _U.URGENT, "hotfix: rollback too risky"),
    (_V.CONFIRMED, _F.RISKY, _I.LOW, _A.HOTFIX, _U.NORMAL, "hotfix: rollback too risky"),
    (_V.CONFIRMED, _F.BLOCKED, _I.HIGH, _A.HOTFIX, _U.IMMEDIATE, "emergency hotfix: rollback blocked"),
    (_V.CONFIRMED, _F.BLOCKED, _I.MEDIUM, _A.HOTFIX, _U.URGENT, "hotfix: rollback blocked"),
    (_V.CONFIRMED, _F.BLOCKED, _I.LOW, _A.HOTFIX, _U.NORMAL, "hotfix: rollback blocked"),
    (_V.LIKELY, _F.SAFE, _I.HIGH, _A.ROLLBACK, _U.URGENT, "roll back after a quick validation (5 min)"),
    (_V.LIKELY, _F.SAFE, _I.MEDIUM, _A.ROLLBACK, _U.URGENT, "roll back after a quick validation"),
    (_V.LIKELY, _F.SAFE, _I.LOW, _A.INVESTIGATE, _U.NORMAL, "investigate; keep the rollback ready"),
    (_V.LIKELY, _F.RISKY, _I.HIGH, _A.INVESTIGATE, _U.URGENT, "investigate, prepare the rollback, develop a hotfix in parallel"),
    (_V.LIKELY, _F.RISKY, _I.MEDIUM, _A.INVESTIGATE, _U.URGENT, "investigate and develop a hotfix in parallel"),
    (_V.LIKELY, _F.RISKY, _I.LOW, _A.INVESTIGATE, _U.NORMAL, "investigate and develop a hotfix in parallel"),
    (_V.LIKELY, _F.BLOCKED, _I.HIGH, _A.HOTFIX, _U.URGENT, "hotfix while confirming: rollback blocked"),
    (_V.LIKELY, _F.BLOCKED, _I.MEDIUM, _A.HOTFIX, _U.URGENT, "hotfix while confirming: rollback blocked"),
    (_V.LIKELY, _F.BLOCKED, _I.LOW, _A.HOTFIX, _U.NORMAL, "hotfix while confirming: rollback blocked"),
    (_V.POSSIBLE, None, _I.HIGH, _A.INVESTIGATE, _U.URGENT, "investigate in parallel with Tier 1; prepare a rollback"),
    (_V.POSSIBLE, None, None, _A.STANDARD_TRIAGE, _U.NORMAL, "standard triage; investigate the regression in parallel"),
    (_V.UNLIKELY, None, None, _A.STANDARD_TRIAGE, _U.NORMAL, "continue to standard triage (Step 2)"),
    (_V.NOT_REGRESSION, None, None, _A.STANDARD_TRIAGE, _U.NORMAL, "continue to standard triage (Step 2)"),
)  # fmt: skip

# The rollback-vs-hotfix matrix reads user impact off the priority: HIGH (P0), MEDIUM (P1),
# LOW (P2); P3 is lower still. SEV1-SEV4 are the incident-triage skill's aliases.
_IMPACT = {"P0": _I.HIGH, "P1": _I.MEDIUM, "P2": _I.LOW, "P3": _I.LOW}
_SEV = {"SEV1": "P0", "SEV2": "P1", "SEV3": "P2", "SEV4": "P3"}


def parse_priority(priority: str) -> str:
    """ "P0".."P3" from a priority as written ("p1", "SEV2"); UsageError when it is none."""
    key = priority.strip().upper().replace("-", "")
    key = _SEV.get(key, key)
    if key not in _IMPACT:
        raise UsageError(f"unknown priority {priority!r}: expected P0, P1, P2 or P3")
    return key


def impact_for_priority(priority: str) -> Impact:
    """User impact for the action matrix from a priority (P0..P3, SEV1..SEV4)."""
    return _IMPACT[parse_priority(priority)]


def immediate_action(
    verdict: Verdict | RegressionVerdict,
    priority: str,
    feasibility: Feasibility | RollbackFeasibility | None,
) -> Action:
    """The first ACTION_MATRIX row matching the case. A CONFIRMED or LIKELY regression
    whose rollback was not assessed (`feasibility` None) is treated as RISKY."""
    v = verdict.verdict if isinstance(verdict, Verdict) else verdict
    level = feasibility.level if isinstance(feasibility, Feasibility) else feasibility
    impact = impact_for_priority(priority)
    rationale = [f"regression: {v}", f"user impact: {impact} ({parse_priority(priority)})"]
    lookup = level
    if level is None and v in (_V.CONFIRMED, _V.LIKELY):
        lookup = _F.RISKY
        rationale.append("rollback feasibility not assessed: treated as RISKY")
    elif level is not None:
        rationale.append(f"rollback: {level} (risk {level.risk})")
    for row_v, row_f, row_i, action, urgency, text in ACTION_MATRIX:
        if row_v is v and row_f in (None, lookup) and row_i in (None, impact):
            return Action(action, urgency, text, v, level, impact, tuple(rationale))
    raise AssertionError(f"ACTION_MATRIX has no row for {v}/{lookup}/{impact}")  # pragma: no cover
