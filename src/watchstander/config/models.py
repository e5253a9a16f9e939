"""The schema of watchstander.yaml.

Every section has defaults taken from the deploy flow (../shared/spec) so that a minimal
file names only the service, the target and the command. Models are frozen: config is
read once and passed explicitly; nothing reads it from a global.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from watchstander.config.base import (
    HealthCheckConfig,
    Model,
    TargetCommon,
    command_has_port,
    host_port,
)
from watchstander.config.duration import Seconds
from watchstander.config.haproxy import HaproxyTargetConfig
from watchstander.config.kubernetes import KubernetesTargetConfig
from watchstander.config.prometheus import PrometheusMetricsConfig

__all__ = [
    "Config",
    "ServiceConfig",
    "HealthCheckConfig",
    "LocalTargetConfig",
    "HaproxyTargetConfig",
    "KubernetesTargetConfig",
    "TargetCommon",
    "TargetConfig",
    "MetricsConfig",
    "BuiltinMetricsConfig",
    "PrometheusMetricsConfig",
    "CanaryConfig",
    "BlueGreenConfig",
    "RollingConfig",
    "StrategyConfig",
    "AnalysisConfig",
    "MetricOverride",
    "TRIGGER_NAMES",
    "TriggerConfig",
    "RollbackConfig",
    "HttpSmokeCheck",
    "CommandSmokeCheck",
    "SmokeCheck",
    "SloTarget",
    "SloMonitoringConfig",
    "HypercareConfig",
    "AdoptionFeature",
    "StoreConfig",
    "ReportsConfig",
    "StrategyName",
    "NoData",
    "SignatureConfig",
    "FreezeWindowConfig",
    "ReadinessConfig",
    "StagingConfig",
    "RegressionSuiteConfig",
    "RegressionConfig",
    "ToleranceConfig",
    "SlackNotifierConfig",
    "WebhookNotifierConfig",
    "EmailNotifierConfig",
    "PagerDutyNotifierConfig",
    "NotifierConfig",
    "IncidentsConfig",
    "local_target",
]

StrategyName = Literal["canary", "blue-green", "rolling"]
NoData = Literal["fail", "inconclusive", "ignore"]
_Model = Model


class ServiceConfig(_Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""


class LocalTargetConfig(TargetCommon):
    """The embedded data plane: a router daemon plus supervised replica processes."""

    type: Literal["local"] = "local"
    admin: str = "127.0.0.1:8081"

    @property
    def header_routing(self) -> bool:
        return True  # the router picks the version the header names

    command: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    memory_limit_mb: int | None = Field(None, ge=16)
    restart_backoff: Seconds = 0.5
    restart_backoff_max: Seconds = 10.0
    drain_timeout: Seconds = 30.0
    retries: int = Field(2, ge=0, le=10)
    upstream_timeout: Seconds = 30.0

    @field_validator("command")
    @classmethod
    def _has_port(cls, value: list[str]) -> list[str]:
        return command_has_port(value)

    @field_validator("admin")
    @classmethod
    def _admin(cls, value: str) -> str:
        return host_port(value)


TargetConfig = Annotated[
    LocalTargetConfig | HaproxyTargetConfig | KubernetesTargetConfig, Field(discriminator="type")
]


class BuiltinMetricsConfig(_Model):
    """The local data plane's own measurements (GET /stats on target.admin)."""

    type: Literal["builtin"] = "builtin"


MetricsConfig = Annotated[
    BuiltinMetricsConfig | PrometheusMetricsConfig, Field(discriminator="type")
]


class CanaryConfig(_Model):
    """Traffic steps in percent; each is followed by an analysis unless `analysis` is off."""

    steps: list[float] = Field(default_factory=lambda: [5.0, 25.0, 50.0, 100.0], min_length=1)
    pause: Seconds | None = None
    analysis: bool = True
    replicas: int | None = Field(None, ge=1)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(not 0 < v <= 100 for v in value):
            raise ValueError("canary weights are percentages between 0 (exclusive) and 100")
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("canary weights must increase step by step")
        if value[-1] != 100:
            value = [*value, 100.0]
        return value


class BlueGreenConfig(_Model):
    auto_promote: bool = True
    pre_promotion_analysis: bool = True
    scale_down_delay: Seconds = 30.0


class RollingConfig(_Model):
    batch_size: int = Field(1, ge=1)
    max_unavailable: int = Field(0, ge=0)
    manual_gate: bool = False


class StrategyConfig(_Model):
    default: StrategyName = "canary"
    canary: CanaryConfig = CanaryConfig()
    blue_green: BlueGreenConfig = BlueGreenConfig()
    rolling: RollingConfig = RollingConfig()
    observation: Seconds = 900.0
    progress_deadline: Seconds = 600.0


class MetricOverride(_Model):
    """Per-metric settings that replace the analysis-wide ones for one judged metric."""

    no_data: NoData | None = None
    failure_limit: int | None = Field(None, ge=-1)
    inconclusive_limit: int | None = Field(None, ge=0)
    consecutive_error_limit: int | None = Field(None, ge=0)
    min_requests: int | None = Field(None, ge=0)


# The names of the judged metrics that overrides may name (SLO targets add "slo:<name>").
TRIGGER_NAMES = (
    "error-rate",
    "latency-p99",
    "throughput",
    "restarts",
    "oom-kills",
    "unhealthy-instances",
)


class AnalysisConfig(_Model):
    """How often to measure, over what window, and how many verdicts each analysis needs."""

    interval: Seconds = 60.0
    window: Seconds = 300.0
    count: int = Field(3, ge=1)
    failure_limit: int = Field(0, ge=-1)
    inconclusive_limit: int = Field(1, ge=0)
    consecutive_error_limit: int = Field(4, ge=0)
    min_requests: int = Field(20, ge=0)
    no_data: NoData = "inconclusive"
    # e.g. {"error-rate": {"no_data": "fail"}, "slo:p99": {"failure_limit": 2}}
    metrics: dict[str, MetricOverride] = Field(default_factory=dict)


class TriggerConfig(_Model):
    """Automatic rollback triggers (defaults: the deploy flow's)."""

    error_rate_increase_pp: float | None = Field(2.0, ge=0)
    latency_p99_increase_pct: float | None = Field(20.0, ge=0)
    latency_p99_min_increase_ms: float = Field(10.0, ge=0)
    throughput_drop_pct: float | None = Field(30.0, ge=0, le=100)
    max_restarts: int | None = Field(3, ge=0)
    restart_window: Seconds = 300.0
    oom_kill: bool = True
    unhealthy_pct: float | None = Field(50.0, ge=0, le=100)
    smoke_failure: bool = True


class RollbackConfig(_Model):
    on_regression: bool = True
    triggers: TriggerConfig = TriggerConfig()
    verify_window: Seconds = 10.0


class HttpSmokeCheck(_Model):
    name: str
    type: Literal["http"] = "http"
    path: str = "/"
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: int = Field(200, ge=100, le=599)
    body_contains: str | None = None
    json_field: str | None = None
    json_equals: str | None = None
    max_latency_ms: float | None = Field(None, gt=0)
    timeout: Seconds = 5.0

    @model_validator(mode="after")
    def _json_pair(self) -> HttpSmokeCheck:
        if (self.json_field is None) != (self.json_equals is None):
            raise ValueError("json_field and json_equals go together")
        return self


class CommandSmokeCheck(_Model):
    """Runs argv directly (never through a shell); {url} and {version} are substituted."""

    name: str
    type: Literal["command"]
    command: list[str] = Field(min_length=1)
    timeout: Seconds = 30.0


SmokeCheck = Annotated[HttpSmokeCheck | CommandSmokeCheck, Field(discriminator="type")]


class SloTarget(_Model):
    """An SLO: checked at every analysis step (max/min) and tracked with an error budget
    over its window by the SLO engine (objective, window, budgeting).

    The SLI follows from `metric`: error_rate -> availability (occurrences: the share of
    requests that do not fail); latency_p50/p95/p99 -> latency (timeslices: slices whose
    quantile is at or under `max` ms); throughput -> throughput (timeslices at or above
    `min` req/s). `objective` is a percentage; by default 100 - max x 100 for error_rate
    (max 0.001 -> 99.9%) and 99% for the others."""

    name: str = Field(min_length=1, max_length=200)
    metric: Literal["error_rate", "latency_p50", "latency_p95", "latency_p99", "throughput"]
    max: float | None = None
    min: float | None = None
    objective: float | None = None  # percent, 0 < objective < 100
    sli: Literal["availability", "error_rate", "latency", "throughput"] | None = None
    window: Seconds = 30 * 86400.0  # rolling window length
    calendar: Literal["day", "week", "month"] | None = None  # a calendar window instead
    timezone: str = "UTC"  # of a calendar window
    budgeting: Literal["occurrences", "timeslices"] | None = None
    timeslice_target: float | None = None  # percent of good requests a good slice needs
    error_query: str | None = None  # PromQL with {{.window}} for `slo export-rules`
    total_query: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _bound(self) -> SloTarget:
        if self.max is None and self.min is None:
            raise ValueError("an SLO target needs max or min")
        if self.metric == "throughput" and self.min is None:
            raise ValueError("a throughput SLO needs min (requests/s)")
        if self.metric.startswith("latency") and self.max is None:
            raise ValueError("a latency SLO needs max (ms)")
        if self.metric == "error_rate" and self.max is None:
            raise ValueError("an error_rate SLO needs max (a ratio, 0.001 = 0.1%)")
        if self.objective is not None and not 0.0 < self.objective < 100.0:
            raise ValueError(
                f"objective {self.objective:g}% is impossible: it must be above 0 and below"
                " 100 (100% leaves no error budget)"
            )
        if self.metric == "error_rate" and self.max is not None and not 0 < self.max < 1:
            raise ValueError("error_rate max is a ratio between 0 and 1 (0.001 = 0.1%)")
        if self.timeslice_target is not None and not 0.0 < self.timeslice_target <= 100.0:
            raise ValueError("timeslice_target is a percentage in (0, 100]")
        if (self.error_query is None) != (self.total_query is None):
            raise ValueError("give both error_query and total_query, or neither")
        return self


class SloMonitoringConfig(_Model):
    """How the SLO engine measures: one bucket per `resolution` through the metric source,
    a snapshot per `snapshot_every`, burn-rate alerts evaluated by `watchstander watch`."""

    resolution: Seconds = 60.0
    snapshot_every: Seconds = 3600.0
    declare_incidents: bool = True  # a page-level alert opens an incident
    backfill: Seconds = 3600.0  # how far back a late engine measures (the data plane keeps 1 h)

    @model_validator(mode="after")
    def _sizes(self) -> SloMonitoringConfig:
        if self.resolution < 10 or self.resolution > 3600:
            raise ValueError("resolution must be between 10s and 1h")
        if self.snapshot_every < self.resolution or self.snapshot_every % self.resolution:
            raise ValueError("snapshot_every must be a whole multiple of resolution")
        return self


class AdoptionFeature(_Model):
    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)  # users of the feature, asked of the metric source
    target_pct: float | None = Field(None, gt=0, le=100)  # of active users


class HypercareConfig(_Model):
    """The hypercare period after a release (flow-hypercare-monitoring)."""

    risk: Literal["low", "high"] = "low"  # 7 days low, 14 high, unless `days`
    days: int | None = Field(None, ge=1, le=90)
    report_time: str = Field("09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    timezone: str = "UTC"
    people: str | None = None  # a people file for the 24/7 rotation; default: the roster
    shift_hours: int = Field(8, ge=1, le=24)
    active_users: str | None = None  # metric-source metric: distinct active users
    features: list[AdoptionFeature] = Field(default_factory=list)
    target_users: int | None = Field(None, ge=1)

    @field_validator("shift_hours")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if 24 % value:
            raise ValueError("shift_hours must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)")
        return value


class SignatureConfig(_Model):
    """A detached signature over an artifact, verified with OpenSSH or GnuPG."""

    type: Literal["ssh", "gpg"]
    artifact: str  # path, may contain {version}
    signature: str  # path, may contain {version}
    allowed_signers: str | None = None  # ssh: an allowed_signers file
    identity: str | None = None  # ssh: the principal that must have signed
    namespace: str = "file"  # ssh: the -n namespace used when signing
    keyring: str | None = None  # gpg: a public keyring file for gpgv
    required: bool = True

    @model_validator(mode="after")
    def _tool_fields(self) -> SignatureConfig:
        if self.type == "ssh" and (self.allowed_signers is None or self.identity is None):
            raise ValueError("an ssh signature needs allowed_signers and identity")
        if self.type == "gpg" and self.keyring is None:
            raise ValueError("a gpg signature needs keyring")
        return self


class FreezeWindowConfig(_Model):
    """No deploys inside this window: one-off (dates) or weekly (days + times)."""

    name: str
    timezone: str = "UTC"
    start: str  # "2026-12-20T00:00" or, weekly, "18:00"
    end: str
    days: list[str] = Field(default_factory=list)  # weekly: mon..sun
    reason: str = ""

    @model_validator(mode="after")
    def _valid_window(self) -> FreezeWindowConfig:
        from watchstander.gates.freeze import validate_window
        from watchstander.gates.models import FreezeWindow

        problems = validate_window(
            FreezeWindow(
                name=self.name,
                timezone=self.timezone,
                start=self.start,
                end=self.end,
                days=tuple(self.days),
                reason=self.reason,
            )
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


ApprovalRole = Literal["release-manager", "security", "reliability", "cab"]
_DEFAULT_APPROVALS: tuple[ApprovalRole, ...] = ("release-manager",)


class ReadinessConfig(_Model):
    """Pre-deployment validation inputs (paths are relative to watchstander.yaml and may
    contain {version})."""

    enabled: bool = True
    tests: list[str] = Field(default_factory=list)  # JUnit XML files or directories
    security: list[str] = Field(default_factory=list)  # SARIF 2.1.0 or JSON findings lists
    approvals: list[ApprovalRole] = Field(default_factory=lambda: list(_DEFAULT_APPROVALS))
    rollback_plan: list[str] = Field(
        default_factory=lambda: [".aiwg/deployment/rollback-plan*.md"]
    )  # glob patterns
    drill_max_age: Seconds = 7 * 86400.0
    database_migration: bool = False
    migration_rollback_script: str | None = None
    checksums: str | None = None  # a sha256sum file
    signature: SignatureConfig | None = None
    freeze: list[FreezeWindowConfig] = Field(default_factory=list)


class StagingConfig(_Model):
    """The environment the staging regression gate deploys the candidate to first."""

    target: TargetConfig
    settle: Seconds = 5.0  # let traffic reach the new version before measuring
    window: Seconds = 10.0  # metric comparison window (staging vs production)


class RegressionSuiteConfig(_Model):
    """A regression suite run against an environment: argv (never a shell) with {url},
    {junit} (the JUnit XML file it must write), {version} and {environment}."""

    command: list[str] = Field(min_length=1)
    timeout: Seconds = 300.0

    @field_validator("command")
    @classmethod
    def _writes_junit(cls, value: list[str]) -> list[str]:
        if not any("{junit}" in part for part in value):
            raise ValueError("the command must contain {junit}: where it writes JUnit XML")
        return value


class ToleranceConfig(_Model):
    """Noise floors: metric changes below these never count as regressions."""

    error_rate_pp: float = Field(0.1, ge=0)
    latency_pct: float = Field(5.0, ge=0)
    latency_ms: float = Field(10.0, ge=0)
    throughput_pct: float = Field(10.0, ge=0)


class RegressionConfig(_Model):
    threshold: float = Field(0.0, ge=0, le=100)  # percent (--regression-threshold)
    staging_scope: Literal["full", "critical", "targeted"] = "full"
    production_scope: Literal["full", "critical", "targeted"] = "critical"
    suite: RegressionSuiteConfig | None = None
    critical_tests: list[str] = Field(default_factory=list)  # fnmatch patterns on test ids
    # Top user journeys, checked before the rollout and again at the production gate.
    journeys: list[SmokeCheck] = Field(default_factory=list)
    tolerances: ToleranceConfig = ToleranceConfig()
    production_gate: bool = True


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Notifier(_Model):
    name: str | None = None
    # Which messages go here (initial-alert, status-page-update, management-notification,
    # executive-notification, resolution-notification); empty: all of them.
    kinds: list[str] = Field(default_factory=list)
    min_priority: Literal["P0", "P1", "P2", "P3"] = "P3"  # P1: only P0 and P1


class SlackNotifierConfig(_Notifier):
    """A Slack incoming webhook; the URL is a secret, so only its env variable is named."""

    type: Literal["slack"]
    url_env: str = Field(pattern=_ENV_NAME)


class WebhookNotifierConfig(_Notifier):
    """A generic JSON webhook, signed with HMAC-SHA256 when a secret is given."""

    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = Field(None, pattern=_ENV_NAME)
    secret_env: str | None = Field(None, pattern=_ENV_NAME)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookNotifierConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a webhook needs exactly one of url or url_env")
        return self


class EmailNotifierConfig(_Notifier):
    type: Literal["email"]
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str
    to: list[str] = Field(min_length=1)
    username_env: str | None = Field(None, pattern=_ENV_NAME)
    password_env: str | None = Field(None, pattern=_ENV_NAME)
    starttls: bool = False


class PagerDutyNotifierConfig(_Notifier):
    type: Literal["pagerduty"]
    routing_key_env: str = Field(pattern=_ENV_NAME)
    url: str = "https://events.pagerduty.com/v2/enqueue"


NotifierConfig = Annotated[
    SlackNotifierConfig | WebhookNotifierConfig | EmailNotifierConfig | PagerDutyNotifierConfig,
    Field(discriminator="type"),
]


class RegulatoryConfig(_Model):
    """A breach-reporting duty: report within `within` of the breach being recorded."""

    name: str = Field(min_length=1)  # "GDPR Art. 33: notify the supervisory authority"
    within: Seconds
    applies_to: tuple[Literal["security_breach", "data_loss"], ...] = Field(
        ("security_breach", "data_loss"), min_length=1
    )

    @field_validator("within")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value


class IncidentsConfig(_Model):
    """Incident response: who is on call, how to reach them, where the code is."""

    roster: str | None = None  # a roster YAML file (people, rotations, overrides)
    notify: list[NotifierConfig] = Field(default_factory=list)
    auto_declare: bool = True  # declare an incident when a deploy rolls back
    repository: str | None = None  # the service's git repository (triage, bisect)
    triage_window: Seconds = 48 * 3600.0  # recent deployments considered
    intake_token_env: str | None = Field(None, pattern=_ENV_NAME)  # webhook intake (HTTP)
    # Breach-reporting duties dated on a security breach or data loss; None: GDPR's 72 h.
    regulatory: list[RegulatoryConfig] | None = None


class StoreConfig(_Model):
    """Where the state lives: SQLite under .watchstander/ by default, or any SQLAlchemy URL
    (e.g. postgresql+psycopg://user@host:5432/db). The password is a secret, so it is
    never written in the URL: only the environment variable holding it is named."""

    url: str | None = None
    password_env: str | None = Field(None, pattern=_ENV_NAME)

    @field_validator("url")
    @classmethod
    def _no_password(cls, url: str | None) -> str | None:
        if url is not None and urlsplit(url).password is not None:
            raise ValueError(
                "store.url must not contain a password: put it in an environment "
                "variable and name that in store.password_env"
            )
        return url


class ReportsConfig(_Model):
    dir: str = ".aiwg"
    project: str | None = None


class Config(_Model):
    service: ServiceConfig
    target: TargetConfig
    metrics: MetricsConfig = BuiltinMetricsConfig()
    strategy: StrategyConfig = StrategyConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    rollback: RollbackConfig = RollbackConfig()
    smoke: list[SmokeCheck] = Field(default_factory=list)
    slos: list[SloTarget] = Field(default_factory=list)
    store: StoreConfig = StoreConfig()
    reports: ReportsConfig = ReportsConfig()
    readiness: ReadinessConfig = ReadinessConfig()
    staging: StagingConfig | None = None
    regression: RegressionConfig = RegressionConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    slo_monitoring: SloMonitoringConfig = SloMonitoringConfig()
    hypercare: HypercareConfig = HypercareConfig()

    def with_root(self, root: Path) -> Config:
        """This config with the targets' relative paths made absolute against `root`."""
        update: dict[str, Any] = {"target": self.target.resolved(root)}
        if self.staging is not None:
            staging = self.staging.model_copy(update={"target": self.staging.target.resolved(root)})
            update["staging"] = staging
        return self.model_copy(update=update)

    def for_environment(self, environment: str) -> Config:
        """This config with the target of `environment` ("production" or "staging")."""
        if environment == "production":
            return self
        if environment == "staging" and self.staging is not None:
            return self.model_copy(update={"target": self.staging.target})
        raise ValueError(f"no {environment!r} environment in this config")

    @model_validator(mode="after")
    def _overrides_name_metrics(self) -> Config:
        names = [slo.name for slo in self.slos]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"slos: each SLO needs its own name; given twice: {', '.join(twice)}")
        known = {*TRIGGER_NAMES, *(f"slo:{slo.name}" for slo in self.slos)}
        unknown = sorted(set(self.analysis.metrics) - known)
        if unknown:
            raise ValueError(
                f"analysis.metrics names unknown metric(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        if self.metrics.type == "builtin" and self.target.type != "local":
            raise ValueError(
                f"metrics: the builtin source reads the local data plane; with target.type "
                f"{self.target.type} set metrics.type: prometheus"
            )
        return self


def local_target(config: Config) -> LocalTargetConfig:
    """The target as the local data plane's: an error naming the type when it is not."""
    if not isinstance(config.target, LocalTargetConfig):
        from watchstander.errors import ConfigError

        raise ConfigError(
            f"watchstander.yaml: target.type is {config.target.type}; the local data plane "
            "(dataplane up, the builtin metric source) needs target.type: local"
        )
    return config.target
