"""Prometheus rules for SLOs, in Sloth's layout (handbook 4.2), so the burn-rate alerts
watchstander evaluates can also run in Prometheus.

Per SLO, three groups (the SLO id is its name in lower case, runs of anything but letters
and digits turned into '-'; `sloth_id` is ``{service}-{id}`` the same way):

* ``sloth-slo-sli-recordings-{sloth_id}``: ``slo:sli_error:ratio_rate<w>`` for 5m and every
  short and long alert window (error query / total query with ``{{.window}}`` replaced by
  the window), and for the SLO window the average of the 5m ratios
  (``sum_over_time / count_over_time``, as Sloth does). Each carries `sloth_window`.
* ``sloth-slo-meta-recordings-{sloth_id}``: ``slo:objective:ratio``,
  ``slo:error_budget:ratio``, ``slo:time_period:days``, ``slo:current_burn_rate:ratio``,
  ``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio`` and
  ``sloth_slo_info``.
* ``sloth-slo-alerts-{sloth_id}``: one alert name (``SloErrorBudgetBurn`` + the id in
  CamelCase) with two rules, ``sloth_severity: page`` and ``ticket``; each ORs its tiers'
  AND-ed short/long pairs, the ratio above ``factor x slo:error_budget:ratio`` where the
  factor is `AlertWindow.factor(slo.window.duration)` (14.4 for 1h/5m at 30 days, 13.44 at
  28 days).

Every series carries `sloth_id`, `sloth_service`, `sloth_slo` and the SLO's labels (names
made valid for Prometheus). Queries are the SLO's `error_query`/`total_query` when given;
otherwise the watchstander data plane's own metrics as Prometheus scrapes them:
availability and error rate from ``watchstander_requests_total`` (5xx over all), latency
(when its threshold is one of the data plane's histogram bounds) as the share of requests
slower than the threshold - a request-based approximation of the engine's timeslice
budget, said so in a comment in the file. Throughput SLOs, latency thresholds between
bounds and queries without ``{{.window}}`` cannot be exported and come back in
`RulesResult.skipped` with the reason. A calendar window is exported as a rolling window of
its nominal length (a month: 30 days).

The output is deterministic (SLOs sorted by sloth_id, labels by name) and has no duplicate
rule (name and labels) in a group, so ``promtool check rules --lint-fatal`` accepts it.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from watchstander.exposition import DURATION_METRIC, PROMETHEUS_BOUNDS_S, REQUESTS_METRIC
from watchstander.slo.alerts import DEFAULT_WINDOWS, AlertWindow, Severity, window_label
from watchstander.slo.models import Budgeting, SliKind, SloDefinition

__all__ = [
    "PROMETHEUS_BOUNDS_S",
    "REQUESTS_METRIC",
    "DURATION_METRIC",
    "RulesResult",
    "alert_name",
    "prometheus_rules",
    "slo_id",
]


_WINDOW_VAR = re.compile(r"\{\{\s*\.window\s*\}\}")
_BASE = timedelta(minutes=5)  # the ratio the period average and the current burn rate use
_MATCH = "on (sloth_id, sloth_service, sloth_slo) group_left ()"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED = ("sloth_id", "sloth_service", "sloth_slo", "sloth_window", "sloth_severity")


@dataclass(frozen=True)
class RulesResult:
    """A Prometheus rule file (`groups:`) and, per SLO that could not be exported, why
    (`name (service): reason`)."""

    text: str
    skipped: tuple[str, ...] = ()


def slo_id(name: str) -> str:
    """A stable id for a name: lower case, runs of non-alphanumerics as one '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise ValueError(f"{name!r} has no letters or digits to make an id from")
    return slug


def alert_name(slo: SloDefinition) -> str:
    """The SLO's alert: SloErrorBudgetBurn + its id in CamelCase."""
    return "SloErrorBudgetBurn" + "".join(p.capitalize() for p in slo_id(slo.name).split("-"))


def prometheus_rules(
    slos: Sequence[SloDefinition], windows: Sequence[AlertWindow] = DEFAULT_WINDOWS
) -> RulesResult:
    """Sloth-style recording and alerting rules for `slos` (see the module docstring).
    ValueError when two SLOs have the same sloth_id (service and name, as ids)."""
    by_id: dict[str, SloDefinition] = {}
    for slo in slos:
        sid = f"{slo_id(slo.service)}-{slo_id(slo.name)}"
        if sid in by_id:
            other = by_id[sid]
            raise ValueError(
                f"SLOs {other.name!r} and {slo.name!r} of service {slo.service!r} have the same"
                f" id {sid!r}: rename one"
            )
        by_id[sid] = slo
    groups: list[dict[str, Any]] = []
    skipped: list[str] = []
    comments: list[str] = []
    default_requests = False
    for sid in sorted(by_id):
        slo = by_id[sid]
        queries = _queries(slo)
        if isinstance(queries, str):
            skipped.append(f"{slo.name} ({slo.service}): {queries}")
            continue
        error_query, total_query, note = queries
        if slo.error_query is None and slo.kind in (SliKind.AVAILABILITY, SliKind.ERROR_RATE):
            default_requests = True
        if note:
            comments.append(f"{sid}: {note}")
        dropped = _labels(slo)[1]
        if dropped:
            comments.append(
                f"{sid}: label(s) {', '.join(dropped)} left out (reserved, or the same name as"
                " another once made a valid Prometheus label name)"
            )
        if not slo.window.rolling:
            comments.append(
                f"{sid}: the calendar {slo.window.calendar} ({slo.window.timezone}) is exported"
                f" as a rolling {window_label(slo.window.duration)}"
            )
        groups.extend(_groups(slo, sid, error_query, total_query, windows))
    header = [
        "# Prometheus rules for watchstander SLOs, Sloth's layout (slo:sli_error:ratio_rate*,",
        "# slo:* metadata, multiwindow burn-rate alerts). Generated by watchstander: do not edit.",
    ]
    if default_requests:
        header += [
            f"# {REQUESTS_METRIC} is the watchstander data plane's own counter (labels version,",
            "# code_class) and has no service label: when Prometheus scrapes more than one data",
            '# plane, add a selector such as {job="<data plane>"} to its queries.',
        ]
    for comment in comments:
        header += textwrap.wrap(
            comment, width=98, initial_indent="# ", subsequent_indent="#   ", break_long_words=False
        )
    body = yaml.dump(
        {"groups": groups},
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,
    )
    return RulesResult("\n".join(header) + "\n" + body, tuple(skipped))


# -- internals ---------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the expressions) as literal blocks; no anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def _queries(slo: SloDefinition) -> tuple[str, str, str] | str:
    """(error query, total query, a note for the file) or why the SLO cannot be exported."""
    if slo.error_query is not None and slo.total_query is not None:
        for name, query in (("error_query", slo.error_query), ("total_query", slo.total_query)):
            if not _WINDOW_VAR.search(query):
                return (
                    f"its {name} has no {{{{.window}}}} range, so every rule window would"
                    " measure the same thing"
                )
        return slo.error_query, slo.total_query, _by_requests(slo)
    if slo.kind in (SliKind.AVAILABILITY, SliKind.ERROR_RATE):
        error = f'sum(rate({REQUESTS_METRIC}{{code_class="5xx"}}[{{{{.window}}}}]))'
        total = f"sum(rate({REQUESTS_METRIC}[{{{{.window}}}}]))"
        return error, total, _by_requests(slo)
    if slo.kind is SliKind.LATENCY:
        assert slo.threshold is not None
        seconds = slo.threshold / 1000.0
        bound = next((b for b in PROMETHEUS_BOUNDS_S if math.isclose(b, seconds)), None)
        if bound is None:
            bounds = ", ".join(f"{b * 1000:g}" for b in PROMETHEUS_BOUNDS_S)
            return (
                f"latency threshold {slo.threshold:g} ms is not a bucket bound of"
                f" {DURATION_METRIC} ({bounds} ms), so the share of slower requests cannot be"
                " counted; give error_query and total_query"
            )
        total = f"sum(rate({DURATION_METRIC}_count[{{{{.window}}}}]))"
        good = f'sum(rate({DURATION_METRIC}_bucket{{le="{bound!r}"}}[{{{{.window}}}}]))'
        note = (
            f"latency approximated by requests: bad = requests slower than {bound:g} s"
            f" ({DURATION_METRIC}); the watchstander engine itself budgets latency by"
            f" timeslices (p{round((slo.quantile or 0) * 100)} per slice at or under"
            f" {slo.threshold:g} ms), so the two budgets can differ"
        )
        return f"{total}\n-\n{good}", total, note
    return (
        "a throughput SLO is judged per slice (requests/s against a floor) and has no"
        " error/total events to export; give error_query and total_query"
    )


def _by_requests(slo: SloDefinition) -> str:
    """A note when the engine budgets the SLO by timeslices but the rules by requests."""
    if slo.budgeting is not Budgeting.TIMESLICES:
        return ""
    return (
        "the rules budget requests; the watchstander engine budgets this SLO by timeslices,"
        " so the two budgets can differ"
    )


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _labels(slo: SloDefinition) -> tuple[dict[str, str], list[str]]:
    """The SLO's labels with names Prometheus accepts, and the names left out (reserved
    ones, and names that clash once made valid)."""
    out: dict[str, str] = {}
    dropped: list[str] = []
    for name in sorted(slo.labels):
        clean = name if _LABEL_NAME.match(name) else re.sub(r"[^a-zA-Z0-9_]", "_", name)
        if not _LABEL_NAME.match(clean):
            clean = f"_{clean}"
        if clean.startswith("__") or clean in _RESERVED or clean in out:
            dropped.append(name)
            continue
        out[clean] = str(slo.labels[name])
    return out, dropped


def _sorted(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: labels[k] for k in sorted(labels)}


def _groups(
    slo: SloDefinition,
    sid: str,
    error_query: str,
    total_query: str,
    windows: Sequence[AlertWindow],
) -> list[dict[str, Any]]:
    ident = {"sloth_id": sid, "sloth_service": slo.service, "sloth_slo": slo_id(slo.name)}
    base = _sorted({**_labels(slo)[0], **ident})
    selector = "{" + ", ".join(f"{k}={_quote(v)}" for k, v in ident.items()) + "}"
    period = window_label(slo.window.duration)

    sli_windows = sorted({_BASE, *(d for w in windows for d in (w.long, w.short))})
    sli_rules: list[dict[str, Any]] = []
    for d in sli_windows:
        label = window_label(d)
        error = _WINDOW_VAR.sub(label, error_query)
        total = _WINDOW_VAR.sub(label, total_query)
        sli_rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{label}",
                "expr": f"(\n{error}\n)\n/\n(\n{total}\n)",
                "labels": _sorted({**base, "sloth_window": label}),
            }
        )
    if slo.window.duration not in sli_windows:
        base_rule = f"slo:sli_error:ratio_rate{window_label(_BASE)}{selector}"
        sli_rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{period}",
                "expr": f"sum_over_time({base_rule}[{period}])\n/ ignoring (sloth_window)\n"
                f"count_over_time({base_rule}[{period}])",
                "labels": _sorted({**base, "sloth_window": period}),
            }
        )

    objective = repr(slo.objective)
    info = _sorted(
        {
            **base,
            "sloth_mode": "watchstander",
            "sloth_objective": f"{slo.objective * 100:g}",
            "watchstander_kind": slo.kind.value,
            "watchstander_budgeting": slo.budgeting.value,
        }
    )
    meta_rules: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({objective})", "labels": base},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1 - {objective})", "labels": base},
        {
            "record": "slo:time_period:days",
            "expr": f"vector({slo.window.duration / timedelta(days=1):g})",
            "labels": base,
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{window_label(_BASE)}{selector}\n/ {_MATCH}\n"
            f"slo:error_budget:ratio{selector}",
            "labels": base,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{selector}\n/ {_MATCH}\n"
            f"slo:error_budget:ratio{selector}",
            "labels": base,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{selector}",
            "labels": base,
        },
        {"record": "sloth_slo_info", "expr": "vector(1)", "labels": info},
    ]

    alert_rules: list[dict[str, Any]] = []
    name = alert_name(slo)
    for severity in (Severity.PAGE, Severity.TICKET):
        tiers = sorted((w for w in windows if w.severity is severity), key=lambda w: w.long)
        if not tiers:
            continue
        pairs = []
        for w in tiers:
            factor = f"{round(w.factor(slo.window.duration), 6):g}"
            budget = f"({factor} * slo:error_budget:ratio{selector})"
            sides = [
                f"  max(slo:sli_error:ratio_rate{window_label(d)}{selector}"
                f" > {_MATCH} {budget}) without (sloth_window)"
                for d in (w.short, w.long)
            ]
            pairs.append("(\n" + "\n  and\n".join(sides) + "\n)")
        alert_rules.append(
            {
                "alert": name,
                "expr": "\nor\n".join(pairs),
                "labels": _sorted({**base, "sloth_severity": severity.value}),
                "annotations": {
                    "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO"
                    " error budget burn rate is over expected.",
                    "title": f"({severity.value}) {{{{$labels.sloth_service}}}}"
                    " {{$labels.sloth_slo}} SLO error budget burn rate is too fast.",
                    "objective": slo.target_text(),
                },
            }
        )
    out = [
        {"name": f"sloth-slo-sli-recordings-{sid}", "rules": sli_rules},
        {"name": f"sloth-slo-meta-recordings-{sid}", "rules": meta_rules},
    ]
    if alert_rules:
        out.append({"name": f"sloth-slo-alerts-{sid}", "rules": alert_rules})
    return out
