"""Prometheus rules export (watchstander.slo.rules): Sloth's rule names, groups and labels,
burn-rate factors scaled to the SLO window, skipped SLOs, ids and determinism."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from watchstander.slo.alerts import DEFAULT_WINDOWS, AlertWindow, Severity
from watchstander.slo.models import Budgeting, SliKind, SloDefinition, Window
from watchstander.slo.rules import alert_name, prometheus_rules, slo_id

SLI_RULES = [
    f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
]
META_RULES = [
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
    "sloth_slo_info",
]


def availability(
    name: str = "checkout-availability", service: str = "checkout", **kwargs: Any
) -> SloDefinition:
    return SloDefinition(name, service, SliKind.AVAILABILITY, 0.999, **kwargs)


def latency(threshold: float, name: str = "checkout-latency") -> SloDefinition:
    return SloDefinition(
        name,
        "checkout",
        SliKind.LATENCY,
        0.99,
        budgeting=Budgeting.TIMESLICES,
        threshold=threshold,
        quantile=0.95,
    )


def groups(text: str) -> dict[str, list[dict[str, Any]]]:
    loaded = yaml.safe_load(text)
    return {g["name"]: g["rules"] for g in loaded["groups"]}


def test_sloth_groups_rule_names_and_labels() -> None:
    slo = availability(labels={"team": "shop", "tier.level": "1"})
    result = prometheus_rules([slo])
    assert result.skipped == ()
    found = groups(result.text)
    sid = "checkout-checkout-availability"
    assert list(found) == [
        f"sloth-slo-sli-recordings-{sid}",
        f"sloth-slo-meta-recordings-{sid}",
        f"sloth-slo-alerts-{sid}",
    ]
    sli = found[f"sloth-slo-sli-recordings-{sid}"]
    assert [r["record"] for r in sli] == SLI_RULES
    ident = {"sloth_id": sid, "sloth_service": "checkout", "sloth_slo": "checkout-availability"}
    for rule in sli:
        window = rule["record"].removeprefix("slo:sli_error:ratio_rate")
        assert rule["labels"] == {
            **ident,
            "sloth_window": window,
            "team": "shop",
            "tier_level": "1",  # made a valid Prometheus label name
        }
    five = sli[0]["expr"]
    assert 'sum(rate(watchstander_requests_total{code_class="5xx"}[5m]))' in five
    assert "sum(rate(watchstander_requests_total[5m]))" in five
    assert "{{.window}}" not in result.text
    period = sli[-1]["expr"]
    assert period.startswith("sum_over_time(slo:sli_error:ratio_rate5m{")
    assert "[30d])\n/ ignoring (sloth_window)\ncount_over_time(" in period

    meta = found[f"sloth-slo-meta-recordings-{sid}"]
    assert [r["record"] for r in meta] == META_RULES
    by_name = {r["record"]: r for r in meta}
    assert by_name["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert by_name["slo:error_budget:ratio"]["expr"] == "vector(1 - 0.999)"
    assert by_name["slo:time_period:days"]["expr"] == "vector(30)"
    assert by_name["sloth_slo_info"]["labels"]["sloth_objective"] == "99.9"
    for rule in meta[:-1]:
        assert rule["labels"] == {**ident, "team": "shop", "tier_level": "1"}

    alerts = found[f"sloth-slo-alerts-{sid}"]
    assert [r["alert"] for r in alerts] == ["SloErrorBudgetBurnCheckoutAvailability"] * 2
    assert [r["labels"]["sloth_severity"] for r in alerts] == ["page", "ticket"]
    page, ticket = (r["expr"] for r in alerts)
    assert page.count("\nor\n") == 1 and page.count("\n  and\n") == 2
    assert "ratio_rate5m" in page and "ratio_rate1h" in page and "ratio_rate6h" in page
    assert "ratio_rate1d" not in page
    assert "(14.4 * slo:error_budget:ratio{" in page and "(6 * slo:error_budget:ratio{" in page
    assert "(3 * slo:error_budget:ratio{" in ticket and "(1 * slo:error_budget:ratio{" in ticket
    # the default queries' missing service label is pointed out
    assert "has no service label" in result.text


def test_factors_scale_with_a_28_day_window() -> None:
    slo = availability(window=Window(timedelta(days=28)))
    found = groups(prometheus_rules([slo]).text)
    page, ticket = (r["expr"] for r in found["sloth-slo-alerts-checkout-checkout-availability"])
    assert "(13.44 * slo:error_budget:ratio{" in page  # 2% of 28 d in 1 h
    assert "(5.6 * slo:error_budget:ratio{" in page
    assert "(2.8 * slo:error_budget:ratio{" in ticket
    assert "(0.933333 * slo:error_budget:ratio{" in ticket
    sli = found["sloth-slo-sli-recordings-checkout-checkout-availability"]
    assert sli[-1]["record"] == "slo:sli_error:ratio_rate28d"
    meta = {
        r["record"]: r for r in found["sloth-slo-meta-recordings-checkout-checkout-availability"]
    }
    assert meta["slo:time_period:days"]["expr"] == "vector(28)"
    assert "slo:sli_error:ratio_rate28d{" in meta["slo:period_burn_rate:ratio"]["expr"]


def test_custom_windows_and_a_window_that_is_an_alert_window() -> None:
    hour = timedelta(hours=1)
    windows = (AlertWindow(Severity.PAGE, 3 * hour, 15 * timedelta(minutes=1), 0.05),)
    slo = availability(window=Window(timedelta(days=3)))
    found = groups(prometheus_rules([slo], windows).text)
    sli = found["sloth-slo-sli-recordings-checkout-checkout-availability"]
    assert [r["record"] for r in sli] == [
        "slo:sli_error:ratio_rate5m",
        "slo:sli_error:ratio_rate15m",
        "slo:sli_error:ratio_rate3h",
        "slo:sli_error:ratio_rate3d",  # the SLO window itself: not averaged a second time
    ]
    (page,) = found["sloth-slo-alerts-checkout-checkout-availability"]
    assert page["labels"]["sloth_severity"] == "page"
    assert "(1.2 * slo:error_budget:ratio{" in page["expr"]  # 5% x 72 h / 3 h


def test_own_queries_are_used_with_the_window_filled_in() -> None:
    slo = availability(
        error_query='sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
        total_query="sum(rate(http_requests_total[{{ .window }}]))",
    )
    found = groups(prometheus_rules([slo]).text)
    rule = found["sloth-slo-sli-recordings-checkout-checkout-availability"][2]
    assert rule["record"] == "slo:sli_error:ratio_rate1h"
    assert rule["expr"] == (
        '(\nsum(rate(http_requests_total{code=~"5.."}[1h]))\n)\n/\n'
        "(\nsum(rate(http_requests_total[1h]))\n)"
    )
    assert "has no service label" not in prometheus_rules([slo]).text


def test_latency_at_a_bucket_bound_is_approximated_by_requests() -> None:
    result = prometheus_rules([latency(250.0)])
    assert result.skipped == ()
    found = groups(result.text)
    five = found["sloth-slo-sli-recordings-checkout-checkout-latency"][0]["expr"]
    assert 'watchstander_request_duration_seconds_bucket{le="0.25"}[5m]' in five
    assert "sum(rate(watchstander_request_duration_seconds_count[5m]))" in five
    assert "# checkout-checkout-latency: latency approximated by requests" in result.text
    assert "budgets latency by" in result.text and "timeslices" in result.text
    one_second = groups(prometheus_rules([latency(1000.0)]).text)
    assert 'le="1.0"' in one_second["sloth-slo-sli-recordings-checkout-checkout-latency"][0]["expr"]


def test_unexportable_slos_are_skipped_with_a_reason() -> None:
    throughput = SloDefinition(
        "checkout-throughput",
        "checkout",
        SliKind.THROUGHPUT,
        0.99,
        budgeting=Budgeting.TIMESLICES,
        threshold=50.0,
    )
    no_window = availability(
        "search-availability",
        "search",
        error_query="sum(search_errors_total)",
        total_query="sum(search_requests_total)",
    )
    result = prometheus_rules([throughput, latency(300.0), availability(), no_window])
    assert result.skipped == (
        "checkout-latency (checkout): latency threshold 300 ms is not a bucket bound of"
        " watchstander_request_duration_seconds (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000,"
        " 2500, 5000, 10000, 30000, 60000 ms), so the share of slower requests cannot be"
        " counted; give error_query and total_query",
        "checkout-throughput (checkout): a throughput SLO is judged per slice (requests/s"
        " against a floor) and has no error/total events to export; give error_query and"
        " total_query",
        "search-availability (search): its error_query has no {{.window}} range, so every rule"
        " window would measure the same thing",
    )
    assert list(groups(result.text)) == [
        "sloth-slo-sli-recordings-checkout-checkout-availability",
        "sloth-slo-meta-recordings-checkout-checkout-availability",
        "sloth-slo-alerts-checkout-checkout-availability",
    ]


def test_ids_from_names_and_duplicate_ids_are_rejected() -> None:
    assert slo_id("Checkout Availability (EU)") == "checkout-availability-eu"
    assert slo_id("checkout__availability") == "checkout-availability"
    with pytest.raises(ValueError, match="no letters or digits"):
        slo_id("--")
    assert alert_name(availability("api_v2-errors")) == "SloErrorBudgetBurnApiV2Errors"
    with pytest.raises(ValueError, match="same id 'checkout-checkout-availability'"):
        prometheus_rules(
            [availability("checkout-availability"), availability("Checkout_Availability")]
        )
    # the same name in two services is two SLOs
    two = prometheus_rules([availability("availability", "a"), availability("availability", "b")])
    assert len(groups(two.text)) == 6


def test_output_is_deterministic_and_sorted() -> None:
    slos = [
        availability("zeta", "payments", labels={"b": "2", "a": "1"}),
        latency(100.0, "alpha"),
        availability("mid", "checkout", window=Window(timedelta(days=7))),
    ]
    first = prometheus_rules(slos)
    again = prometheus_rules(list(reversed(slos)))
    assert first == again
    names = list(groups(first.text))
    ids = [n.removeprefix("sloth-slo-sli-recordings-") for n in names if "-sli-" in n]
    assert ids == ["checkout-alpha", "checkout-mid", "payments-zeta"]
    zeta = groups(first.text)["sloth-slo-meta-recordings-payments-zeta"][0]["labels"]
    assert list(zeta) == sorted(zeta)
    # no anchors or aliases, and nothing left to fill in
    assert "&id" not in first.text and "*id" not in first.text


def test_no_duplicate_rule_in_any_group() -> None:
    slos = [availability(), latency(250.0), availability("x", window=Window(timedelta(days=1)))]
    for rules in groups(prometheus_rules(slos, DEFAULT_WINDOWS).text).values():
        keys = [
            (r.get("record") or r.get("alert"), tuple(sorted(r.get("labels", {}).items())))
            for r in rules
        ]
        assert len(keys) == len(set(keys))


def test_calendar_windows_are_exported_as_their_nominal_length() -> None:
    slo = availability(window=Window(timedelta(days=30), rolling=False, calendar="month"))
    result = prometheus_rules([slo])
    assert "the calendar month (UTC) is exported as a rolling 30d" in result.text
    sli = groups(result.text)["sloth-slo-sli-recordings-checkout-checkout-availability"]
    assert sli[-1]["record"] == "slo:sli_error:ratio_rate30d"


def test_no_slos_is_an_empty_rule_file() -> None:
    result = prometheus_rules([])
    assert yaml.safe_load(result.text) == {"groups": []}


def test_a_timeslice_budget_exported_by_requests_is_pointed_out() -> None:
    slo = availability(budgeting=Budgeting.TIMESLICES, timeslice_target=0.95)
    text = prometheus_rules([slo]).text
    assert "# checkout-checkout-availability: the rules budget requests; the watchstander" in text
    assert "budgets" not in prometheus_rules([availability()]).text.split("groups:")[0]
