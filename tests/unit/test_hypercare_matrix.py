"""The Alert Escalation Matrix: every rule at its boundary, priority order, no-data."""

from __future__ import annotations

import math

import pytest

from watchstander.hypercare.matrix import (
    ACTION,
    NOTIFY,
    RESPONSE,
    Match,
    Rule,
    build_matrix,
    evaluate,
    matches,
)
from watchstander.incident.models import Priority

P0, P1, P2, P3 = Priority.P0, Priority.P1, Priority.P2, Priority.P3
RULES = build_matrix(latency_sla_ms=200)


def descriptions(rules: tuple[Rule, ...] | list[Rule]) -> list[str]:
    return [r.description for r in rules]


def test_the_matrix_holds_the_flows_conditions_most_severe_first() -> None:
    assert [(r.priority, r.metric, r.op, r.threshold) for r in RULES] == [
        (P0, "availability", "<", 99.0),
        (P0, "error_rate", ">", 1.0),
        (P0, "unhealthy_pct", ">=", 100.0),
        (P0, "security_breach", ">=", 1.0),
        (P1, "availability", "<", 99.5),
        (P1, "error_rate", ">", 0.5),
        (P1, "latency_p95", ">", 400.0),
        (P2, "availability", "<", 99.9),
        (P2, "error_rate", ">", 0.1),
        (P2, "resource_pct", ">", 80.0),
        (P3, "latency_p95", ">", 200.0),
        (P3, "non_critical_errors", ">=", 1.0),
    ]
    unmeasurable = [r.description for r in RULES if not r.measurable]
    assert unmeasurable == ["Security breach detected", "Non-critical errors"]


def test_without_a_latency_sla_there_are_no_latency_rules() -> None:
    rules = build_matrix(None)
    assert all(r.metric != "latency_p95" for r in rules)
    assert len(rules) == len(RULES) - 2
    assert evaluate(rules, {"latency_p95": 10_000.0}) is None


def test_a_latency_sla_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        build_matrix(0)


def test_response_slas_and_actions_per_priority() -> None:
    assert RESPONSE[P0] == "Immediate acknowledgment, 15 min time-to-engage"
    assert RESPONSE[P1] == "30 min acknowledgment, 1 hour time-to-mitigation"
    assert RESPONSE[P2] == "4 hours"
    assert RESPONSE[P3] == "1 business day"
    assert ACTION[P0] == "Page on-call engineer + Hypercare Lead"
    assert ACTION[P1] == "Alert on-call engineer via Slack + SMS"
    assert NOTIFY[P0] == "Page immediately"
    assert set(RESPONSE) == set(ACTION) == set(NOTIFY) == set(Priority)


# Each case: a single metric at a value just inside and just across a boundary, and the
# priority expected (None: healthy). Other metrics are absent.
@pytest.mark.parametrize(
    ("metric", "value", "priority", "description"),
    [
        ("availability", 99.95, None, None),
        ("availability", 99.9, None, None),  # not < 99.9
        ("availability", 99.89, P2, "Availability <99.9%"),
        ("availability", 99.5, P2, "Availability <99.9%"),  # not < 99.5
        ("availability", 99.49, P1, "Availability <99.5%"),
        ("availability", 99.0, P1, "Availability <99.5%"),  # not < 99.0
        ("availability", 98.99, P0, "Availability <99%"),
        ("error_rate", 0.1, None, None),  # not > 0.1
        ("error_rate", 0.11, P2, "Error rate >0.1%"),
        ("error_rate", 0.5, P2, "Error rate >0.1%"),
        ("error_rate", 0.51, P1, "Error rate >0.5%"),
        ("error_rate", 1.0, P1, "Error rate >0.5%"),
        ("error_rate", 1.01, P0, "Error rate >1%"),
        ("unhealthy_pct", 99.9, None, None),
        ("unhealthy_pct", 100.0, P0, "All instances down"),
        ("resource_pct", 80.0, None, None),
        ("resource_pct", 80.5, P2, "Resource utilization >80%"),
        ("latency_p95", 200.0, None, None),
        ("latency_p95", 201.0, P3, "Minor performance degradation: p95 >SLA (200ms)"),
        ("latency_p95", 400.0, P3, "Minor performance degradation: p95 >SLA (200ms)"),
        ("latency_p95", 400.5, P1, "Response time p95 >2x SLA (200ms)"),
    ],
)
def test_each_rule_at_its_boundary(
    metric: str, value: float, priority: Priority | None, description: str | None
) -> None:
    found = evaluate(RULES, {metric: value})
    if priority is None:
        assert found is None
    else:
        assert found is not None
        assert (found.rule.priority, found.rule.description, found.value) == (
            priority,
            description,
            value,
        )


def test_missing_values_never_match() -> None:
    assert evaluate(RULES, {}) is None
    assert evaluate(RULES, {"availability": None, "error_rate": None}) is None
    assert evaluate(RULES, {"availability": math.nan}) is None
    # A breach flag passed as a number still does not match: breaches are declared.
    assert evaluate(RULES, {"security_breach": 1.0, "non_critical_errors": 5.0}) is None


def test_the_most_severe_match_wins_whatever_the_metric_order() -> None:
    values = {"resource_pct": 95.0, "error_rate": 0.7, "availability": 98.0}
    found = evaluate(RULES, values)
    assert found == Match(RULES[0], 98.0)
    assert found.summary == "P0: availability 98% (< 99%): Availability <99%"


def test_matches_lists_every_breach_sorted_by_priority() -> None:
    values = {"resource_pct": 95.0, "error_rate": 0.7, "availability": 99.7, "latency_p95": 250.0}
    found = matches(RULES, values)
    assert [(m.rule.priority, m.rule.description) for m in found] == [
        (P1, "Error rate >0.5%"),
        (P2, "Availability <99.9%"),
        (P2, "Error rate >0.1%"),
        (P2, "Resource utilization >80%"),
        (P3, "Minor performance degradation: p95 >SLA (200ms)"),
    ]


def test_matches_sorts_rules_given_out_of_order() -> None:
    shuffled = tuple(reversed(RULES))
    found = matches(shuffled, {"availability": 98.0})
    assert [m.rule.priority for m in found] == [P0, P1, P2]


def test_a_rule_refuses_an_unknown_operator() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        Rule(P2, "error_rate", "<=", 1.0, "%", "bad")  # type: ignore[arg-type]


def test_rule_condition_text() -> None:
    assert descriptions(list(RULES[:2])) == ["Availability <99%", "Error rate >1%"]
    assert RULES[0].condition == "availability < 99%"
    assert RULES[6].condition == "latency_p95 > 400ms"
