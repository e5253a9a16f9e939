"""Reports rendered from a real SQLite store, for the outcomes a rollout can have."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchstander.analysis.models import Measurement, Phase
from watchstander.errors import NotFoundError
from watchstander.release.models import (
    Command,
    Event,
    Role,
    Rollout,
    RolloutPhase,
    Severity,
    SmokeResult,
    Step,
    StepKind,
    Strategy,
)
from watchstander.reports import write_rollout_reports
from watchstander.store import Store

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
PROMQL = 'sum(rate(http_requests_total{version="v2",code=~"5.."}[1m]))'

CANARY_PLAN = (
    Step(kind=StepKind.BASELINE, label="measure the stable baseline"),
    Step(kind=StepKind.SCALE, replicas=1, label="start 1 canary instance(s)"),
    Step(kind=StepKind.SMOKE, scope="preview", label="smoke tests (preview)"),
    Step(kind=StepKind.SET_WEIGHT, weight=10.0, label="canary at 10%"),
    Step(kind=StepKind.ANALYSIS, count=2, label="analysis at 10%"),
    Step(kind=StepKind.SET_WEIGHT, weight=50.0, label="canary at 50%"),
    Step(kind=StepKind.ANALYSIS, count=2, label="analysis at 50%"),
    Step(kind=StepKind.SCALE, replicas=4, label="scale the new version to 4 instances"),
    Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="route 100% of traffic"),
    Step(kind=StepKind.OBSERVE, duration=300, label="post-deployment observation"),
    Step(kind=StepKind.SCALE, role=Role.STABLE, replicas=0, label="retire the previous version"),
)
ROLLBACK_PLAN = (
    Step(kind=StepKind.SET_WEIGHT, weight=0.0, label="all traffic to the previous version"),
    Step(kind=StepKind.SCALE, role=Role.STABLE, replicas=4, label="previous version at 4"),
    Step(kind=StepKind.SCALE, replicas=0, label="stop the new version"),
    Step(kind=StepKind.VERIFY, label="verify the rollback"),
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def measure(
    name: str, metric: str, value: float | None, seconds: float, phase: Phase = Phase.PASS
) -> Measurement:
    limits = {"error_rate": (0.4, 2.4), "latency_p99": (120.0, 144.0), "restarts": (None, 3.0)}
    baseline, threshold = limits[metric]
    return Measurement(
        name=name,
        metric=metric,
        phase=phase,
        value=value,
        baseline=baseline,
        threshold=threshold,
        reason=f"{value} vs limit {threshold}" if phase is not Phase.PASS else "within limit",
        query=PROMQL if metric == "error_rate" else f"builtin {metric} of v2 | window 60s",
        at=at(seconds),
        count=900,
        version="v2",
    )


@dataclass
class Driver:
    """Plays an engine: every step is a save_rollout with its timeline entries."""

    store: Store
    rollout: Rollout
    clock: float = 0.0
    events: list[Event] = field(default_factory=list)

    def save(self, **changes: object) -> None:
        self.rollout = self.rollout.model_copy(update={"updated_at": at(self.clock), **changes})

    def step(
        self,
        index: int,
        seconds: float,
        *,
        rollback: bool = False,
        complete: bool = True,
        measurements: tuple[Measurement, ...] = (),
        smoke: tuple[SmokeResult, ...] = (),
        extra: tuple[Event, ...] = (),
        **changes: object,
    ) -> None:
        plan = self.rollout.rollback_plan if rollback else self.rollout.plan
        data = {"index": index, "rollback": rollback}
        events = [
            Event(at=at(self.clock), kind="step.started", message=plan[index].label, data=data)
        ]
        self.clock += seconds
        events += extra
        if complete:
            events.append(
                Event(
                    at=at(self.clock), kind="step.completed", message=plan[index].label, data=data
                )
            )
        self.save(step_index=index, **changes)
        self.store.save_rollout(
            self.rollout,
            events=events,
            measurements=[(index, rollback, m) for m in measurements],
            smoke=[(index, s) for s in smoke],
        )

    def finish(self, phase: RolloutPhase, **changes: object) -> None:
        self.save(phase=phase, finished_at=at(self.clock), **changes)
        event = Event(at=at(self.clock), kind=f"rollout.{phase.value.lower()}", message=phase.value)
        self.store.save_rollout(self.rollout, events=[event])


def smoke_result(name: str, scope: str, seconds: float, passed: bool = True) -> SmokeResult:
    return SmokeResult(
        name=name,
        scope=scope,
        version="v2" if scope == "preview" else None,
        passed=passed,
        detail="HTTP 200" if passed else "HTTP 503 | upstream reset",
        at=at(seconds),
        duration_ms=42.0,
        status=200 if passed else 503,
    )


def start(
    store: Store, *, strategy: Strategy = Strategy.CANARY, plan: tuple[Step, ...] = CANARY_PLAN
) -> Driver:
    rollout = Rollout(
        id=store.next_rollout_id("shop", T0),
        service="shop",
        version="v2",
        stable_version="v1",
        strategy=strategy,
        replicas=4,
        plan=plan,
        rollback_plan=ROLLBACK_PLAN,
        phase=RolloutPhase.PROGRESSING,
        baseline={"error_rate": 0.4, "latency_p99": 120.0},
        baseline_window=(at(-300), at(0)),
        created_at=T0,
        updated_at=T0,
    )
    created = Event(
        at=T0,
        kind="rollout.created",
        message="rollout created",
        data={"config_hash": "sha256:abc123"},
    )
    store.create_rollout(rollout, [created])
    driver = Driver(store, rollout)
    driver.step(0, 60)
    driver.step(1, 20, weights={"v1": 100.0, "v2": 0.0})
    driver.step(
        2, 5, smoke=(smoke_result("health", "preview", 84), smoke_result("login", "preview", 84))
    )
    driver.step(3, 1, weights={"v1": 90.0, "v2": 10.0})
    return driver


def succeed(store: Store) -> str:
    d = start(store)
    d.step(
        4,
        120,
        measurements=(
            measure("error-rate", "error_rate", 0.5, 146),
            measure("p99", "latency_p99", 125.0, 146),
            measure("error-rate", "error_rate", 0.45, 206),
            measure("p99", "latency_p99", 130.0, 206),
            measure("restarts", "restarts", 0.0, 206),
        ),
    )
    command_id = store.enqueue_command(
        Command(rollout_id=d.rollout.id, name="promote", by="alice", at=at(210))
    )
    store.complete_command(command_id, at=at(211), result="promoted one step")
    d.step(5, 1, weights={"v1": 50.0, "v2": 50.0})
    d.step(6, 120, measurements=(measure("error-rate", "error_rate", 0.41, 330),))
    d.step(7, 30)
    d.step(8, 1, weights={"v2": 100.0})
    d.step(9, 300, measurements=(measure("error-rate", "error_rate", 0.39, 600),))
    d.step(10, 10)
    store.set_stable(service="shop", version="v2", rollout_id=d.rollout.id, at=at(d.clock))
    d.finish(RolloutPhase.SUCCEEDED, message="v2 promoted")
    return d.rollout.id


def roll_back(store: Store, *, verified: bool) -> str:
    d = start(store)
    breach = measure("error-rate", "error_rate", 7.5, 175, Phase.FAIL)
    d.step(
        4,
        90,
        complete=False,
        measurements=(measure("error-rate", "error_rate", 0.6, 145), breach),
        extra=(
            Event(
                at=at(175),
                kind="analysis.failed",
                message="error-rate 7.5 > 2.4",
                severity=Severity.ERROR,
            ),
        ),
    )
    d.save(phase=RolloutPhase.ROLLING_BACK, rollback_reason="error-rate: 7.5 > 2.4 (FAIL)")
    d.store.save_rollout(
        d.rollout,
        events=[
            Event(
                at=at(d.clock),
                kind="rollback.started",
                message="rolling back: error-rate breached",
                severity=Severity.WARNING,
            )
        ],
    )
    d.step(0, 1, rollback=True, weights={"v1": 100.0, "v2": 0.0})
    d.step(1, 20, rollback=True)
    d.step(2, 5, rollback=True)
    if verified:
        d.step(
            3,
            60,
            rollback=True,
            measurements=(measure("error-rate", "error_rate", 0.42, 250),),
            smoke=(smoke_result("health", "post-rollback", 250),),
        )
        d.finish(RolloutPhase.ROLLED_BACK, message="rolled back to v1")
    else:
        d.step(
            3,
            60,
            rollback=True,
            complete=False,
            smoke=(smoke_result("health", "post-rollback", 250, passed=False),),
            extra=(
                Event(
                    at=at(251),
                    kind="rollback.unverified",
                    message="the previous version does not answer",
                    severity=Severity.CRITICAL,
                ),
            ),
        )
        d.finish(
            RolloutPhase.FAILED,
            rollback_attempts=["weights back to v1: done", "health of v1: 503 twice"],
            message="rollback could not be verified",
        )
    return d.rollout.id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(workdir=tmp_path) as opened:
        yield opened


PLACEHOLDER = re.compile(r"\{[\w-]+\}|\{\{|\}\}|\{%|%\}")


def check_clean(paths: list[Path]) -> None:
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert not PLACEHOLDER.search(text), (path, PLACEHOLDER.search(text))
        assert "None" not in text, path
        assert "TBD" not in text, path
        assert "\n\n\n" not in text, path
        assert text.endswith("\n") and not text.endswith("\n\n"), path


def render_twice(store: Store, rollout_id: str, root: Path) -> list[Path]:
    first = write_rollout_reports(store=store, rollout_id=rollout_id, root=root, project="Shop")
    before = {p: p.read_bytes() for p in first}
    second = write_rollout_reports(store=store, rollout_id=rollout_id, root=root, project="Shop")
    assert second == first
    assert {p: p.read_bytes() for p in second} == before
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    check_clean(first)
    return first


def test_succeeded_canary(store: Store, tmp_path: Path) -> None:
    rollout_id = succeed(store)
    root = tmp_path / ".aiwg"
    paths = render_twice(store, rollout_id, root)
    archive = root / "archive" / "2026-11-21" / "deployment-v2"
    assert [p.relative_to(root).as_posix() for p in paths] == [
        "deployment/deployment-execution-log.md",
        "deployment/slo-monitoring-report.md",
        "reports/deployment-report-v2.md",
        "working/deployment/stakeholder-notification-v2.md",
        *(
            f"archive/2026-11-21/deployment-v2/{name}"
            for name in (
                "deployment-execution-log.md",
                "slo-monitoring-report.md",
                "deployment-report-v2.md",
                "stakeholder-notification-v2.md",
                "audit-trail.md",
            )
        ),
    ]
    assert not (root / "deployment" / "rollback-report-v2.md").exists()

    report = (root / "reports" / "deployment-report-v2.md").read_text()
    assert "- Status: SUCCESS" in report
    assert "- Project: Shop" in report
    assert "- Previous version: v1" in report
    assert "- Strategy: canary" in report
    assert "- Duration: 11.1 minutes (11m 08s)" in report
    assert "| Canary at 10% | 2026-11-21 10:01:26 UTC |" in report
    assert "| Canary at 50% | 2026-11-21 10:03:27 UTC |" in report
    assert "| SLO breaches (failed measurements) | 0 |" in report
    assert "| error_rate | 0.4 |" in report  # the pre-deployment baseline
    assert "Preview checks passed: 2/2" in report
    assert "No readiness check recorded for this rollout." in report
    assert "| 0.45 | 0.45 to 0.5 | 2.4 | 2 PASS | PASS |" in report
    assert "| restarts (v2) | 0 | 1 |" in report
    assert "- Tests passed: 2/2" in report
    assert (
        "The post-deployment observation window held for 5m 00s: 1 measurement(s), none failed."
        in report
    )
    assert "- Promotion: promoted manually by alice at 2026-11-21 10:03:30 UTC" in report
    assert "| promote | - | alice | 2026-11-21 10:03:31 UTC | promoted one step |" in report
    assert report == (archive / "deployment-report-v2.md").read_text()

    slo = (root / "deployment" / "slo-monitoring-report.md").read_text()
    assert "### step 5: analysis at 10%" in slo
    assert "- Verdict: PASS" in slo
    assert "| 0.45 | 0.4 | 2.4 | PASS | 900 | within limit |" in slo
    assert 'code=~"5.."' in slo and "`builtin latency_p99 of v2 \\| window 60s`" in slo

    log = (root / "deployment" / "deployment-execution-log.md").read_text()
    assert "| deploy | 5 | analysis | analysis at 10% | 2026-11-21 10:01:26 UTC" in log
    assert "| 2m 00s | completed |" in log
    assert log.count("| step.started |") == 11

    notice = (root / "working" / "deployment" / "stakeholder-notification-v2.md").read_text()
    assert "shop v2 is live for all users, replacing v1." in notice
    assert "- Serving now: v2 100%" in notice

    audit = (archive / "audit-trail.md").read_text()
    assert f"- Rollout: {rollout_id}" in audit
    assert "- Config hash: sha256:abc123" in audit
    assert "| alice |" in audit


def test_rolled_back_canary(store: Store, tmp_path: Path) -> None:
    rollout_id = roll_back(store, verified=True)
    root = tmp_path / ".aiwg"
    paths = render_twice(store, rollout_id, root)
    names = {p.relative_to(root).as_posix() for p in paths}
    assert {
        "deployment/rollback-execution-log.md",
        "deployment/rollback-report-v2.md",
        "archive/2026-11-21/deployment-v2/rollback-report-v2.md",
        "archive/2026-11-21/deployment-v2/audit-trail.md",
    } <= names

    report = (root / "reports" / "deployment-report-v2.md").read_text()
    assert "- Status: ROLLBACK" in report
    assert "| Canary at 10% | 2026-11-21 10:01:26 UTC |" in report
    assert "| Canary at 50% | not reached |" in report
    assert "| SLO breaches (failed measurements) | 1 |" in report
    assert "| 7.5 | 0.6 to 7.5 | 2.4 | 1 FAIL, 1 PASS | BREACH |" in report
    assert "- Rollback trigger: slo-breach" in report
    assert "- Rollback success: YES" in report
    assert "- Smoke tests after rollback: PASS" in report
    assert "| ERROR | error-rate 7.5 > 2.4 |" in report
    assert (
        "The error-rate trigger fired first: error_rate of v2 measured 7.5 against a threshold "
        "of 2.4 (FAIL: 7.5 vs limit 2.4), 1m 29s after step 5: analysis at 10% started."
    ) in report
    assert "| deploy | 5 | analysis | analysis at 10% | 2026-11-21 10:01:26 UTC" in report
    assert "| interrupted |" in report

    rollback = (root / "deployment" / "rollback-report-v2.md").read_text()
    assert "- Status: ROLLED BACK" in rollback
    assert "- Reason: error-rate: 7.5 > 2.4 (FAIL)" in rollback
    assert "| 7.5 | 0.4 | 2.4 | FAIL |" in rollback
    assert "- Traffic weights: v1 100%, v2 0%" in rollback
    assert "| 0.42 | 0.4 | 2.4 | PASS |" in rollback  # the verification
    assert "Escalation" not in rollback

    log = (root / "deployment" / "rollback-execution-log.md").read_text()
    assert "- Rollback duration: 1m 26s" in log
    assert "| rollback | 4 | verify | verify the rollback |" in log
    assert "| rollback.started | WARNING | rolling back: error-rate breached |" in log

    notice = (root / "working" / "deployment" / "stakeholder-notification-v2.md").read_text()
    assert "was stopped and rolled back; v1 serves users again." in notice
    assert "- Serving now: v1 100%" in notice


def test_failed_rollback_is_critical(store: Store, tmp_path: Path) -> None:
    rollout_id = roll_back(store, verified=False)
    root = tmp_path / ".aiwg"
    render_twice(store, rollout_id, root)

    report = (root / "reports" / "deployment-report-v2.md").read_text()
    assert "- Status: FAILED" in report
    assert "- Rollback success: NO" in report
    assert "- Smoke tests after rollback: FAIL" in report
    assert "| CRITICAL | the previous version does not answer |" in report
    assert "Restore the service by hand and declare a P0 incident." in report
    # a pipe in a smoke detail stays inside its cell
    assert "HTTP 503 \\| upstream reset" in report

    rollback = (root / "deployment" / "rollback-report-v2.md").read_text()
    assert "- Status: CRITICAL: rollback failed" in rollback
    assert "1. weights back to v1: done\n2. health of v1: 503 twice" in rollback
    assert "## Escalation" in rollback
    notice = (root / "working" / "deployment" / "stakeholder-notification-v2.md").read_text()
    assert notice.startswith("# Deployment Notice: Shop v2\n\nCRITICAL:")


def test_a_running_rollout_is_not_archived(store: Store, tmp_path: Path) -> None:
    rollout_id = start(store).rollout.id
    root = tmp_path / ".aiwg"
    paths = render_twice(store, rollout_id, root)
    assert not (root / "archive").exists()
    assert len(paths) == 4
    report = (root / "reports" / "deployment-report-v2.md").read_text()
    assert "- Status: IN PROGRESS" in report
    assert "- End time: still running\n- Duration: still running\n" in report
    assert "| SLO monitoring | not reached | - |" in report


@pytest.mark.parametrize(
    ("strategy", "plan", "expected"),
    [
        (
            Strategy.BLUE_GREEN,
            (
                Step(kind=StepKind.BASELINE, label="measure blue"),
                Step(kind=StepKind.SCALE, replicas=4, label="start green"),
                Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="switch traffic to green"),
                Step(kind=StepKind.SCALE, role=Role.STABLE, replicas=0, label="retire blue"),
            ),
            [
                "| Green deployment | 2026-11-21 10:01:10 UTC |",
                "| Traffic cutover | 2026-11-21 10:01:20 UTC |",
                "| Blue retirement | 2026-11-21 10:01:30 UTC |",
            ],
        ),
        (
            Strategy.ROLLING,
            (
                Step(kind=StepKind.BASELINE, label="measure the baseline"),
                Step(kind=StepKind.SCALE, replicas=2, label="batch 1: 2/4 new"),
                Step(kind=StepKind.PAUSE, label="manual gate after batch 1"),
                Step(kind=StepKind.SCALE, replicas=4, label="batch 2: 4/4 new"),
            ),
            [
                "| Instances updated | 4/4 |",
                "| Batch size | 2 |",
                "| Pause duration | 0.2 minutes |",
            ],
        ),
    ],
    ids=["blue-green", "rolling"],
)
def test_strategy_details(
    store: Store, tmp_path: Path, strategy: Strategy, plan: tuple[Step, ...], expected: list[str]
) -> None:
    rollout = Rollout(
        id="R-20261121-001",
        service="shop",
        version="v2",
        stable_version="v1",
        strategy=strategy,
        replicas=4,
        plan=plan,
        created_at=T0,
        updated_at=T0,
    )
    store.create_rollout(rollout)
    d = Driver(store, rollout)
    for index in range(len(plan)):
        d.step(index, 60 if index == 0 else 10)
    d.finish(RolloutPhase.SUCCEEDED)
    root = tmp_path / ".aiwg"
    render_twice(store, rollout.id, root)
    report = (root / "reports" / "deployment-report-v2.md").read_text()
    for line in expected:
        assert line in report
    assert "- Promotion: promoted automatically" in report
    assert "No manual command was issued for this rollout." in report
    assert "No baseline was measured" in report


def test_unknown_rollout(store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        write_rollout_reports(store=store, rollout_id="R-19990101-001", root=tmp_path)
