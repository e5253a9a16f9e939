"""OpenSLO v1 import (watchstander.slo.openslo): documents map onto SloDefinition fields,
invalid ones raise one InputError naming file, line and field for every problem, and
what watchstander reads past is reported with its line."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from watchstander.errors import InputError
from watchstander.slo.models import Budgeting, SliKind, Window
from watchstander.slo.openslo import ImportResult, parse_openslo

SOURCE = "slos.yaml"

RATIO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  displayName: Checkout availability
  labels: {team: shop, tier: "1"}
spec:
  service: checkout
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{code!~"5.."}[5m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total[5m]))'}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: Availability, target: 0.999}]
"""

REF = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: search-errors}
spec:
  ratioMetric:
    bad: {metricSource: {type: prometheus, spec: {promql: 'sum(rate(search_errors_total[1m]))'}}}
    total: {metricSource: {type: prometheus, spec: {promql: 'sum(rate(search_requests_total[1m]))'}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: search-availability}
spec:
  description: Search answers
  service: search
  indicatorRef: search-errors
  timeWindow:
    - duration: 1M
      calendar: {startTime: "2024-01-01 00:00:00", timeZone: Europe/Berlin}
  budgetingMethod: Occurrences
  objectives: [{targetPercent: 99.5}]
"""

LATENCY = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
  annotations: {watchstander.dev/quantile: "0.95"}
spec:
  service: checkout
  indicator:
    metadata: {name: checkout-latency-sli}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec: {query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives: [{op: lte, value: 300, target: 0.99, timeSliceWindow: 1m}]
"""


def parse(text: str, **kwargs: str) -> ImportResult:
    return parse_openslo(textwrap.dedent(text), SOURCE, **kwargs)


def error_of(text: str, **kwargs: str) -> str:
    with pytest.raises(InputError) as info:
        parse(text, **kwargs)
    return str(info.value)


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# -- valid documents ------------------------------------------------------------------------


def test_an_inline_ratio_sli_becomes_an_availability_slo_with_templated_queries() -> None:
    result = parse(RATIO)
    assert len(result.slos) == 1
    slo = result.slos[0]
    assert slo.name == "checkout-availability"
    assert slo.service == "checkout"
    assert slo.kind is SliKind.AVAILABILITY
    assert slo.budgeting is Budgeting.OCCURRENCES
    assert slo.objective == pytest.approx(0.999)
    assert slo.window == Window(timedelta(days=28))
    assert slo.description == "Checkout availability"  # displayName without spec.description
    assert dict(slo.labels) == {"team": "shop", "tier": "1"}
    assert slo.source == SOURCE
    assert slo.total_query == "sum(rate(http_requests_total[{{.window}}]))"
    assert slo.error_query == (
        "(sum(rate(http_requests_total[{{.window}}])))"
        ' - (sum(rate(http_requests_total{code!~"5.."}[{{.window}}])))'
    )
    assert result.unsupported == ()


def test_an_indicator_ref_and_a_calendar_month_with_target_percent() -> None:
    result = parse(REF)
    (slo,) = result.slos
    assert slo.name == "search-availability"
    assert slo.description == "Search answers"
    assert slo.objective == pytest.approx(0.995)
    assert slo.window == Window(
        timedelta(days=30), rolling=False, calendar="month", timezone="Europe/Berlin"
    )
    # bad + total: used as they are, the [1m] range templated
    assert slo.error_query == "sum(rate(search_errors_total[{{.window}}]))"
    assert slo.total_query == "sum(rate(search_requests_total[{{.window}}]))"
    assert result.unsupported == ()


def test_calendar_days_and_weeks_and_rolling_units() -> None:
    week = replace(REF, "duration: 1M", "duration: 1w")
    assert parse(week).slos[0].window.calendar == "week"
    assert parse(week).slos[0].window.duration == timedelta(weeks=1)
    day = replace(REF, "duration: 1M", "duration: 1d")
    assert parse(day).slos[0].window.calendar == "day"
    hours = replace(RATIO, "duration: 28d", "duration: 12h")
    assert parse(hours).slos[0].window == Window(timedelta(hours=12))
    month = parse(replace(RATIO, "duration: 28d", "duration: 1M"))
    assert month.slos[0].window == Window(timedelta(days=30))
    assert month.unsupported == (
        f"{SOURCE}:16: spec.timeWindow[0].duration: assumed: 1M rolling is 30d",
    )


def test_a_latency_threshold_metric_budgeted_by_timeslices() -> None:
    result = parse(LATENCY)
    (slo,) = result.slos
    assert slo.kind is SliKind.LATENCY
    assert slo.budgeting is Budgeting.TIMESLICES
    assert slo.threshold == 300.0  # ms
    assert slo.quantile == 0.95
    assert slo.objective == pytest.approx(0.99)
    assert slo.window == Window(timedelta(days=7))
    assert slo.error_query is None and slo.total_query is None
    assert slo.target_text() == "p95 <= 300 ms in 99% of slices"
    assert result.unsupported == (
        f"{SOURCE}:12: spec.indicator.spec.thresholdMetric.metricSource: not supported,"
        " ignored: watchstander measures a threshold SLI through its own metric source; this"
        " query is not used",
        f"{SOURCE}:17: spec.objectives[0].timeSliceWindow: not supported, ignored: watchstander"
        " judges slices at its own resolution (slo_monitoring.resolution)",
        f"{SOURCE}:17: spec.objectives[0].value: assumed: 300 is milliseconds (watchstander's"
        " latency unit), though the query measures seconds",
    )


def test_latency_quantile_from_the_query_or_assumed() -> None:
    no_annotation = replace(LATENCY, '  annotations: {watchstander.dev/quantile: "0.95"}\n', "")
    assert parse(no_annotation).slos[0].quantile == 0.95  # histogram_quantile(0.95, ...)
    plain = replace(
        no_annotation,
        "'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'",
        "'checkout_latency_p99_ms'",
    )
    result = parse(plain)
    assert result.slos[0].quantile == 0.99
    assert (
        f"{SOURCE}:7: spec.indicator.metadata.annotations.watchstander.dev/quantile: assumed:"
        " p99 (no watchstander.dev/quantile annotation on the SLO or SLI, and no"
        " histogram_quantile in the query)"
    ) in result.unsupported


def test_throughput_and_timeslice_availability() -> None:
    throughput = replace(LATENCY, "op: lte, value: 300", "op: gte, value: 50")
    (slo,) = parse(throughput).slos
    assert slo.kind is SliKind.THROUGHPUT and slo.threshold == 50.0
    slices = replace(
        replace(RATIO, "budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
        "target: 0.999}",
        "target: 0.99, timeSliceTarget: 0.95}",
    )
    (slo,) = parse(slices).slos
    assert slo.kind is SliKind.AVAILABILITY
    assert slo.budgeting is Budgeting.TIMESLICES
    assert slo.timeslice_target == 0.95


def test_default_service_fills_a_missing_service() -> None:
    text = replace(RATIO, "  service: checkout\n", "")
    assert parse(text, default_service="shop").slos[0].service == "shop"


def test_unsupported_fields_and_kinds_are_reported_with_lines() -> None:
    text = (
        textwrap.dedent(RATIO)
        .replace("  objectives:", "  alertPolicies: [page-me]\n  flavour: spicy\n  objectives:")
        .replace("counter: true", "counter: true\n        extra: 1")
    )
    text += textwrap.dedent(
        """\
        ---
        apiVersion: openslo/v1
        kind: AlertPolicy
        metadata: {name: page-me}
        spec: {conditions: []}
        ---
        apiVersion: openslo/v1
        kind: DataSource
        metadata: {name: prom}
        spec: {type: Prometheus}
        """
    )
    result = parse(text)
    assert len(result.slos) == 1
    assert result.unsupported == (
        f"{SOURCE}:14: spec.indicator.spec.ratioMetric.extra: not supported, ignored: not an"
        " OpenSLO v1 field here (known: counter, good, bad, total, raw, rawType)",
        f"{SOURCE}:19: spec.alertPolicies: not supported, ignored: watchstander uses its"
        " multiwindow burn-rate alerts (handbook 4.1)",
        f"{SOURCE}:20: spec.flavour: not supported, ignored: not an OpenSLO v1 field here (known:"
        " description, service, indicator, indicatorRef, timeWindow, budgetingMethod,"
        " objectives)",
        f"{SOURCE}:24: kind: not supported, ignored: AlertPolicy 'page-me': watchstander uses its"
        " multiwindow burn-rate alerts (handbook 4.1)",
        f"{SOURCE}:29: kind: not supported, ignored: DataSource 'prom': watchstander measures"
        " SLIs through its own metric sources (a DataSource is read only for the type a"
        " metricSourceRef points to)",
    )


def test_non_prometheus_sources_and_queries_without_a_range_are_reported() -> None:
    datadog = RATIO.replace("type: Prometheus, spec: {query:", "type: Datadog, spec: {q:")
    result = parse(datadog)
    assert result.slos[0].error_query is None and result.slos[0].total_query is None
    assert [u.split(": ", 2)[:2] for u in result.unsupported] == [
        [f"{SOURCE}:14", "spec.indicator.spec.ratioMetric.good.metricSource"],
        [f"{SOURCE}:15", "spec.indicator.spec.ratioMetric.total.metricSource"],
    ]
    assert "a Datadog metric source" in result.unsupported[0]
    no_range = RATIO.replace("sum(rate(http_requests_total[5m]))", "sum(http_requests_total)")
    result = parse(no_range)
    assert result.slos[0].total_query == "sum(http_requests_total)"  # kept, not exported
    assert result.unsupported == (
        f"{SOURCE}:15: spec.indicator.spec.ratioMetric.total.metricSource.query: not supported,"
        " ignored: it has no range selector such as [5m] to replace with each rule window"
        " ({{.window}}): kept as written, and the SLO's Prometheus rules are not exported"
        " until it has one",
    )


def test_a_metric_source_ref_takes_the_data_source_type() -> None:
    text = (
        "apiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: prom}\n"
        "spec: {type: Prometheus, connectionDetails: {url: 'http://prom:9090'}}\n---\n"
        + RATIO.replace("type: Prometheus, spec:", "metricSourceRef: prom, spec:")
    )
    slo = parse(text).slos[0]
    assert slo.total_query == "sum(rate(http_requests_total[{{.window}}]))"


# -- invalid documents ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            replace(RATIO, "  service: checkout\n", ""),
            f"{SOURCE}:7: spec.service: missing",
            id="missing-service",
        ),
        pytest.param(
            replace(
                RATIO,
                "timeWindow: [{duration: 28d, isRolling: true}]",
                "timeWindow:\n    - {duration: 28d, isRolling: true}\n    - {duration: 7d, isRolling: true}",
            ),
            f"{SOURCE}:16: spec.timeWindow: exactly one time window is supported, found 2",
            id="two-time-windows",
        ),
        pytest.param(
            replace(RATIO, "target: 0.999", "target: 1.0"),
            f"{SOURCE}:18: spec.objectives[0].target: 1: impossible objective: 100% leaves no"
            " error budget",
            id="target-1",
        ),
        pytest.param(
            replace(REF, "targetPercent: 99.5", "targetPercent: 100"),
            f"{SOURCE}:20: spec.objectives[0].targetPercent: 100: impossible objective: 100%"
            " leaves no error budget",
            id="target-percent-100",
        ),
        pytest.param(
            replace(RATIO, "budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices"),
            f"{SOURCE}:17: spec.budgetingMethod: RatioTimeslices is not supported",
            id="ratio-timeslices",
        ),
        pytest.param(
            replace(REF, "indicatorRef: search-errors", "indicatorRef: search-errorz"),
            f"{SOURCE}:15: spec.indicatorRef: no SLI named 'search-errorz' in the file (SLI"
            " documents here: search-errors)",
            id="unknown-indicator-ref",
        ),
        pytest.param(
            replace(RATIO, "apiVersion: openslo/v1", "apiVersion: openslo/v1alpha"),
            f"{SOURCE}:1: apiVersion: openslo/v1alpha is not supported: watchstander reads"
            " OpenSLO v1; rewrite the document as apiVersion: openslo/v1",
            id="v1alpha",
        ),
        pytest.param(
            replace(RATIO, "target: 0.999", "target: high"),
            f"{SOURCE}:18: spec.objectives[0].target: 'high' is not a number",
            id="target-not-a-number",
        ),
        pytest.param(
            replace(RATIO, "timeWindow: [{duration: 28d, isRolling: true}]", "timeWindow: 28d"),
            f"{SOURCE}:16: spec.timeWindow: expected a list",
            id="time-window-not-a-list",
        ),
        pytest.param(
            replace(RATIO, "  service: checkout", "  service: [checkout]"),
            f"{SOURCE}:8: spec.service: expected a value",
            id="service-a-list",
        ),
        pytest.param(
            replace(RATIO, "isRolling: true", "isRolling: maybe"),
            f"{SOURCE}:16: spec.timeWindow[0].isRolling: 'maybe' is not true or false",
            id="is-rolling-not-a-boolean",
        ),
        pytest.param(
            replace(LATENCY, "budgetingMethod: Timeslices", "budgetingMethod: Occurrences"),
            f"{SOURCE}:16: spec.budgetingMethod: a latency SLI (thresholdMetric) must be budgeted"
            " by Timeslices",
            id="latency-with-occurrences",
        ),
        pytest.param(
            replace(RATIO, "duration: 28d", "duration: 1Q"),
            f"{SOURCE}:16: spec.timeWindow[0].duration: 1Q: quarter and year windows are not"
            " supported",
            id="quarter",
        ),
        pytest.param(
            replace(REF, "duration: 1M", "duration: 2w"),
            f"{SOURCE}:17: spec.timeWindow[0].duration: 2w: a calendar window is one day, week or"
            " month",
            id="two-week-calendar",
        ),
        pytest.param(
            replace(RATIO, "duration: 28d", "duration: 4 weeks"),
            f"{SOURCE}:16: spec.timeWindow[0].duration: '4 weeks' is not an OpenSLO duration",
            id="bad-duration",
        ),
        pytest.param(
            replace(
                RATIO,
                "objectives: [{displayName: Availability, target: 0.999}]",
                "objectives: [{target: 0.999}, {target: 0.99}]",
            ),
            f"{SOURCE}:18: spec.objectives: 2 objectives: composite/multiple objectives are not"
            " supported",
            id="two-objectives",
        ),
        pytest.param(
            replace(RATIO, "kind: SLO", "kind: Budget"),
            f"{SOURCE}:2: kind: unknown kind 'Budget'",
            id="unknown-kind",
        ),
        pytest.param(
            replace(REF, "timeZone: Europe/Berlin", "timeZone: Mars/Olympus"),
            f"{SOURCE}:18: spec.timeWindow[0].calendar.timeZone: unknown time zone 'Mars/Olympus'",
            id="unknown-zone",
        ),
        pytest.param(
            replace(REF, "    bad: {metricSource", "    raw: {metricSource"),
            f"{SOURCE}:6: spec.ratioMetric.raw: not supported",
            id="raw-ratio",
        ),
        pytest.param(
            LATENCY.replace("checkout-latency", "checkout-speed").replace(
                "'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'",
                "'cpu_usage'",
            ),
            f"{SOURCE}:17: spec.objectives[0].op: lte: a threshold kept under a value is read as"
            " latency, and nothing in this SLI says latency",
            id="lte-not-latency",
        ),
        pytest.param(
            replace(RATIO, "name: checkout-availability", "name: checkout availability"),
            f"{SOURCE}:4: metadata.name: 'checkout availability': a name is letters, digits, '-'"
            " and '_'",
            id="name-with-space",
        ),
    ],
)
def test_invalid_documents_name_file_line_and_field(text: str, expected: str) -> None:
    message = error_of(text)
    assert any(line.startswith(expected) for line in message.splitlines()), message


def test_every_problem_is_reported_at_once() -> None:
    text = replace(
        replace(RATIO, "  service: checkout\n", ""), "target: 0.999", "targetPercent: 100"
    )
    text = replace(text, "budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices")
    lines = error_of(text).splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        [f"{SOURCE}:7", "spec.service"],
        [f"{SOURCE}:16", "spec.budgetingMethod"],
        [f"{SOURCE}:17", "spec.objectives[0].targetPercent"],
    ]


def test_nothing_partial_is_returned_when_one_document_is_invalid() -> None:
    good = textwrap.dedent(RATIO)
    bad = replace(good, "name: checkout-availability", "name: other").replace("0.999", "1.5")
    with pytest.raises(InputError, match=r"slos.yaml:37: spec.objectives\[0\].target"):
        parse_openslo(good + "---\n" + bad, SOURCE)


def test_not_yaml_and_empty_and_no_slo() -> None:
    assert error_of("apiVersion: openslo/v1\nkind: [SLO\n").startswith(f"{SOURCE}:3: invalid YAML")
    assert error_of("") == f"{SOURCE}: the file is empty (no OpenSLO documents)"
    assert error_of("- a\n- b\n").startswith(f"{SOURCE}:1: (document): expected a mapping")
    only_sli = REF.split("---")[0]
    assert "no SLO in the file (found only SLI)" in error_of(only_sli)


def test_duplicate_slo_names_and_two_documents_with_line_numbers() -> None:
    text = textwrap.dedent(RATIO) + "---\n" + textwrap.dedent(RATIO)
    message = error_of(text)
    assert message == (
        f"{SOURCE}:23: metadata.name: an SLO named checkout-availability is already on line 4"
    )


def test_both_indicator_and_ref_and_missing_indicator() -> None:
    both = replace(RATIO, "  indicator:\n", "  indicatorRef: x\n  indicator:\n")
    assert "spec.indicator: give indicator or indicatorRef, not both" in error_of(both)
    text = textwrap.dedent(RATIO)
    start = text.index("  indicator:")
    end = text.index("  timeWindow:")
    missing = text[:start] + text[end:]
    assert f"{SOURCE}:7: spec.indicator: missing: give indicator or indicatorRef" in error_of(
        missing
    )
