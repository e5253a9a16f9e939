"""Regression triage: verdict, rollback feasibility, blast radius, immediate action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchstander.errors import UsageError
from watchstander.incident.triage import (
    ACTION_MATRIX,
    ActionType,
    ChangeKind,
    Commit,
    Confidence,
    DataLossRisk,
    Deployment,
    Feasibility,
    Impact,
    RegressionVerdict,
    RiskFactor,
    RollbackFeasibility,
    Symptoms,
    Urgency,
    blast_radius,
    immediate_action,
    impact_for_priority,
    parse_priority,
    regression_verdict,
    rollback_feasibility,
)

ONSET = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NOW = ONSET + timedelta(minutes=30)
V = RegressionVerdict


def deploy(
    before: timedelta,
    *,
    service: str = "payments",
    version: str = "2.4.1",
    rollout: str = "r-17",
    took: timedelta = timedelta(minutes=10),
    **kw: object,
) -> Deployment:
    """A deployment that finished `before` the onset, after rolling out for `took`."""
    finished = ONSET - before
    return Deployment(
        service=service,
        version=version,
        rollout_id=rollout,
        finished_at=finished,
        started_at=finished - took,
        strategy="canary",
        **kw,  # type: ignore[arg-type]
    )


def commit(
    sha: str = "1a2b3c4d5e6f7a8b",
    message: str = "Round refunds in minor units",
    files: tuple[str, ...] = ("src/payments/refund.py",),
    at: datetime = ONSET - timedelta(hours=3),
    **kw: object,
) -> Commit:
    return Commit(sha=sha, author="alice", date=at, message=message, files=files, **kw)  # type: ignore[arg-type]


def symptoms(**kw: object) -> Symptoms:
    base: dict[str, object] = {
        "started_at": ONSET,
        "components": ("payments",),
        "services": ("payments",),
        "worked_before": True,
    }
    base.update(kw)
    return Symptoms(**base)  # type: ignore[arg-type]


# -- the decision tree ------------------------------------------------------------------------


def test_never_worked_is_not_a_regression_even_right_after_a_deploy() -> None:
    v = regression_verdict(
        symptoms(worked_before=False), [deploy(timedelta(minutes=5))], [commit()], NOW
    )
    assert v.verdict is V.NOT_REGRESSION
    assert v.confidence is Confidence.HIGH
    assert v.suspect is None and v.lag is None
    assert "never worked" in v.evidence[0]
    assert not v.is_regression


def test_unknown_and_nothing_changed_is_not_a_regression() -> None:
    v = regression_verdict(symptoms(worked_before=None), [], [], NOW)
    assert v.verdict is V.NOT_REGRESSION
    assert v.confidence is Confidence.LOW
    assert "unknown whether it worked before" in v.evidence[0]


def test_unknown_with_a_recent_related_change_is_possible() -> None:
    d = deploy(timedelta(hours=30))
    v = regression_verdict(symptoms(worked_before=None), [d], [], NOW)
    assert v.verdict is V.POSSIBLE
    assert v.confidence is Confidence.LOW
    assert v.suspect == d
    assert "in parallel" in v.next_step


def test_last_worked_at_answers_the_first_question() -> None:
    v = regression_verdict(
        symptoms(worked_before=None, last_worked_at=ONSET - timedelta(hours=2)),
        [deploy(timedelta(hours=30))],
        [],
        NOW,
    )
    assert v.verdict is V.LIKELY
    assert v.indicators.worked_before is True
    assert any("last known to work at 2026-11-21 08:00 UTC" in e for e in v.evidence)


def test_an_inflection_at_the_deploy_shows_it_worked_before() -> None:
    d = deploy(timedelta(minutes=20))
    v = regression_verdict(
        symptoms(worked_before=None, inflection_at=ONSET - timedelta(minutes=15)), [d], [], NOW
    )
    assert v.indicators.worked_before is True
    assert v.indicators.inflection is True
    assert v.verdict is V.LIKELY  # no correlating commit, so not CONFIRMED


def test_worked_and_a_recent_related_change_is_likely_with_timings() -> None:
    d = deploy(timedelta(hours=40))
    v = regression_verdict(symptoms(), [d], [], NOW)
    assert v.verdict is V.LIKELY
    assert v.confidence is Confidence.MEDIUM
    assert v.is_regression
    assert v.suspect == d
    assert v.lag == timedelta(hours=40)
    assert v.recent == (d,)
    joined = "\n".join(v.evidence)
    assert "payments 2.4.1 (rollout r-17, canary) finished at 2026-11-19 18:00 UTC" in joined
    assert "40 h before the symptoms began at 2026-11-21 10:00 UTC" in joined
    assert "bisect" in v.next_step
    assert v.indicators.immediate is False


def test_immediate_onset_plus_commit_plus_staging_is_confirmed() -> None:
    d = deploy(timedelta(minutes=12))
    c = commit(pr_number=812)
    v = regression_verdict(symptoms(seen_in_staging=True), [d], [c], NOW)
    assert v.verdict is V.CONFIRMED
    assert v.confidence is Confidence.HIGH
    assert v.commits == (c,)
    assert v.indicators.count == 4  # worked, immediate, commit, staging
    joined = "\n".join(v.evidence)
    assert "commit 1a2b3c4d5e6f 'Round refunds in minor units' (alice" in joined
    assert "PR #812" in joined
    assert "touches src/payments/refund.py, matching component 'payments'" in joined
    assert "12 min before the symptoms began" in joined
    assert "a similar pattern was seen in staging/canary" in joined


def test_immediate_onset_plus_commit_plus_inflection_is_confirmed() -> None:
    d = deploy(timedelta(minutes=12))
    s = symptoms(inflection_at=ONSET - timedelta(minutes=5))
    v = regression_verdict(s, [d], [commit()], NOW)
    assert v.verdict is V.CONFIRMED
    assert v.indicators.inflection is True


def test_immediate_onset_plus_commit_alone_stays_likely() -> None:
    v = regression_verdict(symptoms(), [deploy(timedelta(minutes=12))], [commit()], NOW)
    assert v.verdict is V.LIKELY
    assert v.indicators.immediate and v.indicators.commit


def test_inflection_away_from_the_deploy_does_not_confirm() -> None:
    s = symptoms(inflection_at=ONSET - timedelta(hours=5))
    v = regression_verdict(s, [deploy(timedelta(minutes=12))], [commit()], NOW)
    assert v.verdict is V.LIKELY
    assert v.indicators.inflection is False
    assert any("not at a deployment time" in e for e in v.evidence)


def test_only_unrelated_services_changed_is_possible() -> None:
    other = deploy(timedelta(hours=20), service="search", version="9.1", rollout="r-3")
    v = regression_verdict(symptoms(), [other], [], NOW)
    assert v.verdict is V.POSSIBLE
    assert v.confidence is Confidence.LOW
    assert v.suspect is None
    assert "only unrelated services changed within 48 h (search)" in v.evidence[0]
    assert any("search is not an affected service" in e for e in v.evidence)


def test_an_unrelated_service_deployed_immediately_before_is_related() -> None:
    other = deploy(timedelta(minutes=3), service="search")
    v = regression_verdict(symptoms(), [other], [], NOW)
    assert v.verdict is V.LIKELY
    assert v.suspect == other


def test_a_config_change_counts_for_every_service() -> None:
    cfg = deploy(timedelta(hours=6), service="shared-config", kind=ChangeKind.CONFIG)
    v = regression_verdict(symptoms(), [cfg], [], NOW)
    assert v.verdict is V.LIKELY
    assert "config change shared-config" in "\n".join(v.evidence)


def test_no_services_named_means_every_deploy_is_related() -> None:
    other = deploy(timedelta(hours=20), service="search")
    v = regression_verdict(symptoms(services=()), [other], [], NOW)
    assert v.verdict is V.LIKELY


def test_a_deployment_that_ships_a_correlating_commit_is_related() -> None:
    c = commit()
    lib = deploy(timedelta(hours=20), service="billing-lib", commits=("1a2b3c4d",))
    v = regression_verdict(symptoms(), [lib], [c], NOW)
    assert v.verdict is V.LIKELY
    assert v.suspect == lib


def test_worked_and_nothing_changed_is_a_possible_latent_regression() -> None:
    old = deploy(timedelta(hours=49))
    v = regression_verdict(symptoms(), [old], [], NOW)
    assert v.verdict is V.POSSIBLE
    assert v.confidence is Confidence.LOW
    assert v.recent == ()
    assert "traffic pattern, external dependencies and data growth" in v.evidence[0]


def test_worked_nothing_changed_and_an_external_cause_is_unlikely() -> None:
    s = symptoms(other_causes=("traffic 4x normal from a marketing push",))
    v = regression_verdict(s, [], [], NOW)
    assert v.verdict is V.UNLIKELY
    assert v.confidence is Confidence.MEDIUM
    assert "explained by: traffic 4x normal" in v.evidence[0]
    assert v.next_step.startswith("continue to standard triage")


# -- the windows at their boundaries ----------------------------------------------------------


def test_the_48_hour_window_includes_its_edge() -> None:
    at_edge = deploy(timedelta(hours=48) - timedelta(minutes=10))  # began exactly 48 h before
    assert ONSET - at_edge.began_at == timedelta(hours=48)
    assert regression_verdict(symptoms(), [at_edge], [], NOW).verdict is V.LIKELY
    past = deploy(timedelta(hours=48) - timedelta(minutes=10) + timedelta(seconds=1))
    assert regression_verdict(symptoms(), [past], [], NOW).recent == ()


def test_immediate_means_within_an_hour_of_the_finish() -> None:
    edge = regression_verdict(symptoms(), [deploy(timedelta(hours=1))], [commit()], NOW)
    assert edge.indicators.immediate is True
    late = regression_verdict(symptoms(), [deploy(timedelta(hours=1, seconds=1))], [commit()], NOW)
    assert late.indicators.immediate is False


def test_symptoms_during_the_rollout_count_as_immediate() -> None:
    d = Deployment(
        service="payments",
        version="2.5.0",
        rollout_id="r-18",
        finished_at=None,
        outcome="in_progress",
        strategy="canary",
        started_at=ONSET - timedelta(minutes=25),
    )
    v = regression_verdict(symptoms(), [d], [], NOW)
    assert v.indicators.immediate is True
    assert v.lag == timedelta(0)
    assert any("during the rollout of payments 2.5.0" in e for e in v.evidence)


def test_changes_after_the_onset_are_not_causes() -> None:
    later = Deployment(
        "payments", "2.4.2", "r-19", finished_at=ONSET + timedelta(minutes=10), started_at=None
    )
    late_commit = commit(sha="ffff0000ffff0000", at=ONSET + timedelta(minutes=1))
    v = regression_verdict(symptoms(), [later], [late_commit], NOW)
    assert v.recent == () and v.commits == ()
    joined = "\n".join(v.evidence)
    assert (
        "payments 2.4.2 (rollout r-19) began at 2026-11-21 10:10 UTC, after the symptoms" in joined
    )
    assert "commit ffff0000ffff" in joined and "after the symptoms began" in joined


def test_a_deploy_rolled_back_before_the_onset_is_not_serving() -> None:
    gone = deploy(timedelta(hours=2), outcome="rolled_back")
    v = regression_verdict(symptoms(), [gone], [], NOW)
    assert v.recent == ()
    assert any("was rolled back at" in e and "not serving" in e for e in v.evidence)


def test_deployments_in_the_future_are_ignored() -> None:
    future = Deployment("payments", "3.0", "r-99", finished_at=NOW + timedelta(hours=1))
    v = regression_verdict(symptoms(), [future], [], NOW)
    assert v.recent == () and not any("r-99" in e for e in v.evidence)


# -- commit correlation ------------------------------------------------------------------------


def test_commit_named_in_the_error_signature_correlates() -> None:
    c = commit(files=("src/ledger/post.py",), message="Speed up posting")
    s = symptoms(components=(), error_signature="KeyError: 'currency' at ledger/post.py:42")
    v = regression_verdict(s, [deploy(timedelta(minutes=5))], [c], NOW)
    assert v.commits == (c,)
    assert any("touches src/ledger/post.py, named in the error" in e for e in v.evidence)


def test_commit_matching_an_endpoint_correlates() -> None:
    c = commit(files=("api/refunds/handlers.go",), message="Tidy handlers")
    s = symptoms(components=(), endpoints=("/api/v1/refunds/{id}",))
    v = regression_verdict(s, [deploy(timedelta(minutes=5))], [c], NOW)
    assert v.commits == (c,)
    assert any("matching endpoint '/api/v1/refunds/{id}'" in e for e in v.evidence)


def test_commit_message_mentioning_a_component_correlates() -> None:
    c = commit(files=("README.md",), message="Document the Payments retry policy")
    v = regression_verdict(symptoms(), [deploy(timedelta(minutes=5))], [c], NOW)
    assert any("its message mentions component 'payments'" in e for e in v.evidence)


def test_unrelated_commits_do_not_correlate() -> None:
    c = commit(files=("docs/intro.md",), message="Fix typo")
    v = regression_verdict(symptoms(), [deploy(timedelta(minutes=5))], [c], NOW)
    assert v.commits == () and v.indicators.commit is False


def test_a_commit_the_suspect_does_not_ship_does_not_confirm() -> None:
    d = deploy(timedelta(minutes=5), commits=("9999aaaa",))
    v = regression_verdict(symptoms(seen_in_staging=True), [d], [commit()], NOW)
    assert v.commits  # it correlates with the symptoms ...
    assert v.indicators.commit is False  # ... but is not in the suspect deployment
    assert v.verdict is V.LIKELY


# -- inputs -------------------------------------------------------------------------------------


def test_times_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        regression_verdict(symptoms(), [], [], NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="after now"):
        regression_verdict(symptoms(started_at=NOW + timedelta(seconds=1)), [], [], NOW)
    with pytest.raises(ValueError, match="needs started_at or finished_at"):
        Deployment("payments", "1", "r-1", finished_at=None)


def test_symptoms_since_a_deployment() -> None:
    s = symptoms()
    assert s.since(deploy(timedelta(minutes=7))) == timedelta(minutes=7)
    assert s.since(deploy(timedelta(minutes=-5), took=timedelta(minutes=1))) is None
    during = deploy(timedelta(minutes=-5), took=timedelta(minutes=30))
    assert s.since(during) == timedelta(0)


# -- rollback feasibility ------------------------------------------------------------------------


def test_plain_code_changes_are_safe() -> None:
    f = rollback_feasibility(
        ["src/payments/refund.py", "tests/test_refund.py"],
        ["Round refunds in minor units", "Drop support for Python 3.10", "Truncate long names"],
    )
    assert f.level is RollbackFeasibility.SAFE
    assert f.factors == frozenset()
    assert f.data_loss is DataLossRisk.NONE
    assert "no migration, contract or data-format change" in f.reasons[0]


@pytest.mark.parametrize(
    ("files", "messages", "diffs", "factor"),
    [
        (["alembic/versions/3f2a_add_currency.py"], [], [], RiskFactor.MIGRATION),
        (["app/migrations/0007_order_note.py"], [], [], RiskFactor.MIGRATION),
        (["db/migrate/20261120_add_index.rb"], [], [], RiskFactor.MIGRATION),
        (["db/patches/orders.SQL"], [], [], RiskFactor.MIGRATION),
        (
            [],
            ["Add note column: ALTER TABLE orders ADD COLUMN note text"],
            [],
            RiskFactor.MIGRATION,
        ),
        ([], [], ["+    op.add_column('orders', sa.Column('note'))"], RiskFactor.MIGRATION),
        (["api/openapi.yaml"], [], [], RiskFactor.API_CONTRACT),
        (["proto/payments/v1/refund.proto"], [], [], RiskFactor.API_CONTRACT),
        (["schemas/order-schema.json"], [], [], RiskFactor.API_CONTRACT),
        (["src/payments/serializers.py"], [], [], RiskFactor.DATA_FORMAT),
        (["events/refund.avsc"], [], [], RiskFactor.DATA_FORMAT),
        ([], ["Switch the cache format to msgpack"], [], RiskFactor.DATA_FORMAT),
        ([], ["Backfill currency on old refunds"], [], RiskFactor.DATA_FORMAT),
    ],
)
def test_schema_contract_and_format_changes_are_risky(
    files: list[str], messages: list[str], diffs: list[str], factor: RiskFactor
) -> None:
    f = rollback_feasibility(files, messages, diffs=diffs)
    assert f.level is RollbackFeasibility.RISKY
    assert factor in f.factors
    assert f.reasons


def test_updated_dependents_make_it_risky() -> None:
    f = rollback_feasibility(["src/a.py"], ["x"], dependents_updated=True)
    assert f.level is RollbackFeasibility.RISKY
    assert f.factors == {RiskFactor.DEPENDENTS_UPDATED}
    assert f.data_loss is DataLossRisk.NONE


@pytest.mark.parametrize(
    ("messages", "diffs", "factor"),
    [
        ([], ["ALTER TABLE orders DROP COLUMN legacy_total;"], RiskFactor.DESTRUCTIVE_MIGRATION),
        (["Remove the coupons table (DROP TABLE coupons)"], [], RiskFactor.DESTRUCTIVE_MIGRATION),
        ([], ["    op.drop_column('orders', 'legacy_total')"], RiskFactor.DESTRUCTIVE_MIGRATION),
        ([], ["alter table orders rename column total to amount"], RiskFactor.DESTRUCTIVE_MIGRATION),
        ([], ["migrations.RemoveField(model_name='order', name='note')"], RiskFactor.DESTRUCTIVE_MIGRATION),
        (["feat(api)!: remove the v1 refunds endpoint"], [], RiskFactor.BREAKING_CHANGE),
        (["Rework refunds\n\nBREAKING CHANGE: amounts are now in minor units"], [], RiskFactor.BREAKING_CHANGE),
        (["Re-key the ledger (irreversible)"], [], RiskFactor.IRREVERSIBLE),
    ],
)  # fmt: skip
def test_breaking_and_destructive_changes_block(
    messages: list[str], diffs: list[str], factor: RiskFactor
) -> None:
    f = rollback_feasibility(["alembic/versions/9a_drop.py"], messages, diffs=diffs)
    assert f.level is RollbackFeasibility.BLOCKED
    assert factor in f.factors


def test_feasibility_reasons_cite_the_evidence() -> None:
    f = rollback_feasibility(
        ["alembic/versions/9a_drop.py", "api/openapi.yaml"],
        ["Drop legacy total"],
        diffs=["ALTER TABLE orders DROP COLUMN legacy_total;"],
    )
    joined = "\n".join(f.reasons)
    assert "alembic/versions/9a_drop.py" in joined
    assert "'ALTER TABLE orders DROP'" in joined
    assert "api/openapi.yaml" in joined
    assert f.data_loss is DataLossRisk.SIGNIFICANT


def test_additive_migration_risks_minimal_data_loss() -> None:
    f = rollback_feasibility(["alembic/versions/3f2a.py"], ["Add currency"])
    assert f.data_loss is DataLossRisk.MINIMAL


def test_feasibility_maps_to_the_matrix_risk_column() -> None:
    assert [r.risk for r in RollbackFeasibility] == ["LOW", "MEDIUM", "HIGH"]


# -- blast radius -------------------------------------------------------------------------------


def test_blast_radius_from_users_and_services() -> None:
    c1 = commit(
        files=("src/payments/refund.py", "./src/payments/api.py", "setup.cfg", ".github/ci.yml")
    )
    b = blast_radius(
        symptoms(),
        [c1],
        suspect=deploy(timedelta(minutes=5)),
        users_affected=600,
        users_total=1000,
        dependents={"payments": ["checkout"], "checkout": ["web", "payments"]},
        component_map={"src/payments/": "payments-core"},
        regions_affected=["eu", "us"],
        regions_total=["us", "eu"],
    )
    assert b.components == ("(root)", ".github", "payments-core")
    assert b.services == ("payments",)
    assert b.dependencies == ("checkout", "web")
    assert b.users_percent == pytest.approx(60.0)
    assert b.regions == ("all",)
    assert b.score is Impact.HIGH
    assert b.unknown == ()


@pytest.mark.parametrize(
    ("affected", "score"),
    [(501, Impact.HIGH), (500, Impact.MEDIUM), (100, Impact.MEDIUM), (99, Impact.LOW)],
)
def test_blast_radius_user_bands(affected: int, score: Impact) -> None:
    b = blast_radius(symptoms(services=()), [], users_affected=affected, users_total=1000)
    assert b.score is score


def test_blast_radius_counts_services_reached() -> None:
    one = blast_radius(symptoms(), [])
    assert one.score is Impact.LOW
    two = blast_radius(symptoms(), [], dependents={"payments": ["checkout"]})
    assert two.score is Impact.MEDIUM
    users_low = blast_radius(
        symptoms(), [], users_affected=1, users_total=1000, dependents={"payments": ["a", "b"]}
    )
    assert users_low.score is Impact.HIGH  # the worse of the two


def test_blast_radius_says_what_it_does_not_know() -> None:
    b = blast_radius(symptoms(services=()), [])
    assert b.score is None
    assert b.users_percent is None
    assert b.unknown == (
        "users affected",
        "services impacted",
        "components touched (no commits)",
        "regions",
    )
    partial = blast_radius(symptoms(services=()), [], users_affected=40, regions_affected=["eu"])
    assert "share of users affected" in partial.unknown
    assert partial.regions == ("eu",)


# -- the immediate action -------------------------------------------------------------------------

S, R, B = RollbackFeasibility.SAFE, RollbackFeasibility.RISKY, RollbackFeasibility.BLOCKED
H, M, L = "P0", "P1", "P2"  # user impact HIGH, MEDIUM, LOW
RB, HF, INV, STD = (
    ActionType.ROLLBACK,
    ActionType.HOTFIX,
    ActionType.INVESTIGATE,
    ActionType.STANDARD_TRIAGE,
)
NOW_, URG, NORM = Urgency.IMMEDIATE, Urgency.URGENT, Urgency.NORMAL

EXPECTED = {
    (V.CONFIRMED, S, H): (RB, NOW_),
    (V.CONFIRMED, S, M): (RB, URG),
    (V.CONFIRMED, S, L): (RB, NORM),
    (V.CONFIRMED, R, H): (HF, NOW_),
    (V.CONFIRMED, R, M): (HF, URG),
    (V.CONFIRMED, R, L): (HF, NORM),
    (V.CONFIRMED, B, H): (HF, NOW_),
    (V.CONFIRMED, B, M): (HF, URG),
    (V.CONFIRMED, B, L): (HF, NORM),
    (V.LIKELY, S, H): (RB, URG),
    (V.LIKELY, S, M): (RB, URG),
    (V.LIKELY, S, L): (INV, NORM),
    (V.LIKELY, R, H): (INV, URG),
    (V.LIKELY, R, M): (INV, URG),
    (V.LIKELY, R, L): (INV, NORM),
    (V.LIKELY, B, H): (HF, URG),
    (V.LIKELY, B, M): (HF, URG),
    (V.LIKELY, B, L): (HF, NORM),
    **{(V.POSSIBLE, f, H): (INV, URG) for f in (S, R, B)},
    **{(V.POSSIBLE, f, p): (STD, NORM) for f in (S, R, B) for p in (M, L)},
    **{(v, f, p): (STD, NORM) for v in (V.UNLIKELY, V.NOT_REGRESSION) for f in (S, R, B) for p in (H, M, L)},
}  # fmt: skip


def test_every_cell_is_expected() -> None:
    assert len(EXPECTED) == 5 * 3 * 3


@pytest.mark.parametrize(("case", "expected"), sorted(EXPECTED.items()))
def test_action_matrix_cell(
    case: tuple[RegressionVerdict, RollbackFeasibility, str],
    expected: tuple[ActionType, Urgency],
) -> None:
    verdict, feasibility, priority = case
    a = immediate_action(verdict, priority, feasibility)
    assert (a.type, a.urgency) == expected
    assert a.verdict is verdict and a.feasibility is feasibility
    assert a.recommendation
    assert a.rationale[0] == f"regression: {verdict}"


def test_matrix_rows_are_reachable() -> None:
    used = set()
    for (verdict, feasibility, priority), _ in EXPECTED.items():
        a = immediate_action(verdict, priority, feasibility)
        used.add((a.verdict, a.recommendation, a.type, a.urgency))
    rows = {(v, text, act, urg) for v, _, _, act, urg, text in ACTION_MATRIX}
    assert used == rows  # no dead rows


def test_spec_wording_for_the_headline_cells() -> None:
    assert immediate_action(V.CONFIRMED, "P0", S).recommendation == "roll back immediately"
    assert "quick validation (5 min)" in immediate_action(V.LIKELY, "P0", S).recommendation
    assert "emergency hotfix" in immediate_action(V.CONFIRMED, "P0", B).recommendation


def test_p3_is_low_impact_and_sev_aliases_work() -> None:
    assert impact_for_priority("P3") is Impact.LOW
    assert impact_for_priority("sev1") is Impact.HIGH
    assert impact_for_priority("SEV-2") is Impact.MEDIUM
    assert parse_priority(" p2 ") == "P2"
    assert immediate_action(V.CONFIRMED, "P3", S).urgency is Urgency.NORMAL
    with pytest.raises(UsageError, match="unknown priority 'P5'"):
        immediate_action(V.CONFIRMED, "P5", S)


def test_unassessed_rollback_is_treated_as_risky() -> None:
    a = immediate_action(V.CONFIRMED, "P0", None)
    assert a.type is ActionType.HOTFIX
    assert a.feasibility is None
    assert "not assessed: treated as RISKY" in a.rationale[-1]
    assert immediate_action(V.UNLIKELY, "P0", None).type is ActionType.STANDARD_TRIAGE


def test_action_takes_the_verdict_and_feasibility_objects() -> None:
    v = regression_verdict(
        symptoms(seen_in_staging=True), [deploy(timedelta(minutes=12))], [commit()], NOW
    )
    f = rollback_feasibility(["src/payments/refund.py"], ["Round refunds"])
    assert isinstance(f, Feasibility)
    a = immediate_action(v, "P0", f)
    assert (a.type, a.urgency) == (ActionType.ROLLBACK, Urgency.IMMEDIATE)
    assert "rollback: SAFE (risk LOW)" in a.rationale
