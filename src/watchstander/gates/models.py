"""The data the gates decide on and the decisions they return.

Everything here is plain frozen data: parsers (watchstander.inputs) produce it from files,
the engine produces it from targets and metric sources, and the pure functions in
watchstander.gates turn it into decisions. Nothing here does IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Risk",
    "Downtime",
    "RollbackSpeed",
    "Capabilities",
    "StrategyInputs",
    "Recommendation",
    "SloGoal",
    "Guidance",
    "Intent",
    "TestStatus",
    "TestCase",
    "TestRun",
    "FindingSeverity",
    "Finding",
    "ChecksumResult",
    "SignatureResult",
    "CheckStatus",
    "Check",
    "Decision",
    "Readiness",
    "FreezeWindow",
    "Approval",
    "Drill",
    "IncidentRef",
    "SloState",
    "GateSeverity",
    "TestRegression",
    "MetricComparison",
    "RegressionResult",
    "APPROVAL_ROLES",
    "FOCUS_FLAGS",
]

# Who can sign off a release (`watchstander approve --role`).
APPROVAL_ROLES = ("release-manager", "security", "reliability", "cab")
# Guidance focus flags; each adds gates and reviewers (gates.guidance).
FOCUS_FLAGS = ("security", "performance", "compliance", "first-deployment")


# -- strategy selection ---------------------------------------------------------------------


class Risk(StrEnum):
    LOW = "low"  # routine updates
    MEDIUM = "medium"  # new features
    HIGH = "high"  # architecture changes


class Downtime(StrEnum):
    ZERO = "zero"
    MINIMAL = "minimal"
    ACCEPTABLE = "acceptable"


class RollbackSpeed(StrEnum):
    INSTANT = "instant"  # seconds
    FAST = "fast"  # within ~5 minutes
    MANUAL = "manual"  # ~30 minutes is fine


@dataclass(frozen=True)
class Capabilities:
    """What the deploy target can do (from the Target's capabilities and its config)."""

    weighted_traffic: bool  # route a percentage of requests to a version
    instant_switch: bool  # move all traffic between versions at once
    spare_capacity: bool  # run a second full set of instances side by side


@dataclass(frozen=True)
class StrategyInputs:
    risk: Risk = Risk.MEDIUM
    downtime: Downtime = Downtime.MINIMAL
    rollback: RollbackSpeed = RollbackSpeed.FAST
    db_migration: bool = False
    capabilities: Capabilities = Capabilities(True, True, True)


@dataclass(frozen=True)
class Recommendation:
    strategy: str  # "canary" | "blue-green" | "rolling"
    inputs: StrategyInputs
    rationale: tuple[str, ...]
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    requirements: tuple[str, ...]
    expected_duration: float  # seconds, from the plan the strategy would run
    observation: float  # seconds of post-deployment observation
    # The other strategies and why they were not chosen (or could not be).
    alternatives: tuple[tuple[str, str], ...] = ()
    # Scores per strategy, for the report (higher is better; None: not possible here).
    scores: tuple[tuple[str, int | None], ...] = ()


# -- guidance and natural language ----------------------------------------------------------


@dataclass(frozen=True)
class SloGoal:
    """An SLO target named in guidance or an interactive answer ("p99 <500ms")."""

    metric: str  # error_rate | latency_p50 | latency_p95 | latency_p99 | availability | throughput
    op: str  # "<" | "<=" | ">" | ">="
    value: float  # error_rate and availability in percent, latency in ms, throughput in rps


@dataclass(frozen=True)
class Guidance:
    """Concrete settings parsed from `--guidance` text or `--interactive` answers.

    None means "not said"; the config (or the recommender) decides then.
    """

    text: str = ""
    strategy: str | None = None
    canary_steps: tuple[float, ...] | None = None  # percentages, ending at 100
    observation: float | None = None  # seconds
    risk: Risk | None = None
    downtime: Downtime | None = None
    rollback: RollbackSpeed | None = None
    db_migration: bool | None = None
    focus: frozenset[str] = frozenset()  # subset of FOCUS_FLAGS
    tight_timeline: bool = False
    regression_threshold: float | None = None  # percent
    slo_goals: tuple[SloGoal, ...] = ()
    # What the focus flags add: approval roles required and extra readiness gates.
    required_approvals: tuple[str, ...] = ()  # subset of APPROVAL_ROLES
    extra_gates: tuple[str, ...] = ()  # e.g. "security-scan-strict", "performance-slo"
    reviewers: tuple[str, ...] = ()  # e.g. "security-architect", "privacy-officer"
    # What the change fixes, if it is one the error-budget freeze lets through: "P0" or
    # "security" (from "P0 fix", "hotfix for INC-...", "security fix", "CVE fix").
    fix: str | None = None
    # (setting, value, the phrase it came from), in the order found, for display.
    applied: tuple[tuple[str, str, str], ...] = ()
    unrecognised: tuple[str, ...] = ()  # fragments that mapped to nothing


@dataclass(frozen=True)
class Intent:
    """A natural-language request mapped to the watchstander command it stands for."""

    action: str  # deploy | rollback | hypercare-start | incident-declare | status | ...
    argv: tuple[str, ...]  # arguments after `watchstander`
    summary: str  # one line: what the command will do
    phrase: str  # the trigger phrase that matched
    missing: tuple[str, ...] = ()  # what the request did not say but the command needs


# -- inputs: tests, security findings, artifacts --------------------------------------------


class TestStatus(StrEnum):
    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TestCase:
    __test__ = False

    id: str  # "classname::name" (or "file::name" when there is no classname)
    status: TestStatus
    message: str = ""
    duration: float = 0.0  # seconds
    suite: str = ""
    critical: bool = False  # a P0/P1 test (property priority=P0|P1, critical=true, or config)
    source: str = ""  # "results.xml:12"


@dataclass(frozen=True)
class TestRun:
    __test__ = False

    sources: tuple[str, ...]  # the files read
    cases: tuple[TestCase, ...]
    timestamp: datetime | None = None
    ref: str = ""  # what the run stands for: "production", a path, a saved baseline name

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.status is TestStatus.PASSED)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if c.status in (TestStatus.FAILED, TestStatus.ERROR))


class FindingSeverity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    id: str  # rule id
    severity: FindingSeverity
    title: str
    location: str = ""  # "src/app.py:12"
    tool: str = ""
    source: str = ""  # "scan.sarif: runs[0].results[3]"


@dataclass(frozen=True)
class ChecksumResult:
    path: str  # as named in the checksum file
    expected: str
    actual: str | None  # None: the file is missing
    ok: bool
    source: str = ""  # "SHA256SUMS:3"


@dataclass(frozen=True)
class SignatureResult:
    artifact: str
    signature: str
    tool: str  # "ssh" | "gpg"
    ok: bool
    detail: str  # the tool's own words (first line), or why it could not run


# -- readiness --------------------------------------------------------------------------------


class CheckStatus(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One pre-deployment check with the evidence it read."""

    name: str  # "integration tests", "security findings", "approval: release-manager", ...
    category: str  # gates | environment | rollback | artifacts | schedule
    status: CheckStatus
    summary: str
    evidence: tuple[str, ...] = ()
    remedy: str = ""  # what to do about a WARN or FAIL


class Decision(StrEnum):
    GO = "GO"
    CONDITIONAL_GO = "CONDITIONAL_GO"
    NO_GO = "NO-GO"


@dataclass(frozen=True)
class Readiness:
    version: str
    service: str
    at: datetime
    checks: tuple[Check, ...]
    decision: Decision
    rationale: tuple[str, ...]
    conditions: tuple[str, ...]  # what must be accepted or fixed (CONDITIONAL_GO)
    blockers: tuple[str, ...]  # what stops the deploy (NO-GO)


@dataclass(frozen=True)
class FreezeWindow:
    """A change freeze: no deploys between start and end (local time in `timezone`).

    One-off windows give dates; weekly windows give `days` (mon..sun) and times only.
    """

    name: str
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    start: str  # "2026-12-20T00:00" (one-off) or "18:00" (weekly)
    end: str  # "2027-01-04T09:00" or "08:00" (may wrap past midnight)
    days: tuple[str, ...] = ()  # weekly: ("fri",), ("sat", "sun")
    reason: str = ""


@dataclass(frozen=True)
class Approval:
    """A sign-off stored by `watchstander approve VERSION --role ROLE --by NAME`."""

    service: str
    version: str
    role: str  # one of APPROVAL_ROLES
    by: str
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class Drill:
    """A rollback drill recorded by `watchstander rollback drill` on a non-production target."""

    service: str
    environment: str  # the target it ran on, e.g. "staging"
    from_version: str  # what was rolled back
    to_version: str  # what it rolled back to
    at: datetime
    ok: bool
    duration: float  # seconds from the rollback decision to traffic restored
    detail: str = ""


@dataclass(frozen=True)
class IncidentRef:
    """The narrow view of an incident the readiness gate needs (the incident model proper
    lives with incident response)."""

    id: str
    priority: str  # P0..P3
    status: str
    title: str
    service: str = ""


@dataclass(frozen=True)
class SloState:
    """The narrow view of an SLO's error budget the readiness gate needs (computed by the
    SLO engine from stored measurements)."""

    name: str
    status: str  # ON TARGET | AT RISK | EXCEEDED
    assessment: str  # HEALTHY | MONITOR | CRITICAL
    remaining: float | None  # share of the window's budget left; None: no data yet
    burn_rate_1h: float | None = None
    alert: str | None = None  # page | ticket: a burn-rate tier firing now


# -- regression gates ------------------------------------------------------------------------


class GateSeverity(StrEnum):
    CRITICAL = "CRITICAL"  # exit 1
    HIGH = "HIGH"  # "major", exit 2
    MEDIUM = "MEDIUM"  # "minor", exit 3
    LOW = "LOW"  # "minor", exit 3


@dataclass(frozen=True)
class TestRegression:
    __test__ = False

    test: str
    type: str  # new_failure | missing | behavior_change
    severity: GateSeverity
    baseline_status: str
    current_status: str
    error: str = ""
    action: str = ""  # what to do: "fix before release", "confirm the test was removed"


@dataclass(frozen=True)
class MetricComparison:
    name: str  # error_rate | latency_p99 | throughput | availability | ...
    baseline: float | None
    candidate: float | None
    change: float | None  # error_rate: percentage points; others: percent (+ is worse)
    unit: str  # "pp" | "%"
    limit: float  # the threshold the change was held against
    regressed: bool
    severity: GateSeverity | None = None
    note: str = ""  # "no data", "within noise floor of 10 ms", ...


@dataclass(frozen=True)
class RegressionResult:
    scope: str  # full | critical | targeted
    threshold: float  # percent
    baseline_ref: str
    candidate_ref: str
    baseline_pass: int
    candidate_pass: int
    total: int  # tests compared (in scope)
    regression_rate: float  # percent; (baseline_pass - candidate_pass) / baseline_pass * 100
    new_failures: tuple[TestRegression, ...]
    fixed: tuple[str, ...]
    regressions: tuple[TestRegression, ...]  # all test regressions, new failures included
    metrics: tuple[MetricComparison, ...]
    passed: bool  # the gate decision: PASS / FAIL
    severity: GateSeverity | None  # worst regression that fails the gate; None if none
    blockers: tuple[str, ...]
    exit_code: int  # 0 none, 1 critical, 2 major, 3 minor (4 is an execution error)
    notes: tuple[str, ...] = field(default=())

    @property
    def decision(self) -> str:
        return "PASS" if self.passed else "FAIL"
