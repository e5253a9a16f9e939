"""Hypercare documents, rendered from stored data (flow-hypercare-monitoring).

Setup (`.aiwg/deployment/`): hypercare-team-roster.md, production-dashboard-config.md,
alert-escalation-matrix.md. Daily: slo-report-{date}.md, user-adoption-{date}.md,
hypercare-standup-{date}.md; weekly `.aiwg/reports/hypercare-week-{N}-summary.md` on days
7, 14, ... Exit: `.aiwg/reports/hypercare-exit-criteria.md`, hypercare-exit-report.md and
`.aiwg/risks/hypercare-risk-validation.md`.

Every figure comes from the data passed in; what was not measured says so ("no data")
instead of leaving a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from watchstander.hypercare import matrix as matrix_rules
from watchstander.hypercare.exit import ExitVerdict
from watchstander.hypercare.models import SIGNOFF_ROLES, HypercarePeriod
from watchstander.hypercare.rotation import Schedule
from watchstander.reports.gates import format_seconds
from watchstander.reports.writer import _environment, _write, render

__all__ = [
    "write_setup",
    "write_day",
    "write_exit_criteria",
    "write_exit_report",
    "pct",
    "value",
]

DEPLOYMENT = "deployment"
REPORTS = "reports"


def pct(x: float | None, digits: int = 3) -> str:
    """A ratio as a percentage: 0.99912 -> "99.912%"; None -> "no data"."""
    return "no data" if x is None else f"{x * 100:.{digits}f}%"


def value(slo_kind: str, x: float | None) -> str:
    """The measured value behind an SLO: an error ratio, ms or req/s."""
    if x is None:
        return "no data"
    if slo_kind in ("availability", "error_rate"):
        return f"{x * 100:.3f}% errors"
    if slo_kind == "latency":
        return f"{x:.0f} ms"
    return f"{x:.1f} req/s"


def _minute(at: datetime | str | None) -> str:
    if at is None:
        return "n/a"
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _mark(met: bool | None) -> str:
    return {True: "✓", False: "✗", None: "⚠ no data"}[met]


def _period_view(period: HypercarePeriod, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": period.id,
        "service": period.service,
        "version": period.version,
        "start": _minute(period.start),
        "end": _minute(period.end),
        "days": period.total_days,
        "planned": period.days,
        "risk": period.risk.value,
        "guidance": period.guidance or "none given",
        "status": period.status.value,
        "extensions": [
            {"at": _minute(e.at), "days": e.days, "reason": e.reason, "by": e.by}
            for e in period.extensions
        ],
        "signoffs": [
            {
                "role": role,
                "by": s.by if (s := period.signoff(role)) else "not signed",
                "at": _minute(s.at) if s else "",
            }
            for role in SIGNOFF_ROLES
        ],
    }


# -- setup ----------------------------------------------------------------------------------------


def write_setup(
    root: Path,
    *,
    period: HypercarePeriod,
    schedule: Schedule,
    people_source: str,
    slos: Sequence[Mapping[str, Any]],
    config: Any,
    rules: Sequence[matrix_rules.Rule],
) -> list[Path]:
    env = _environment()
    base = root / DEPLOYMENT
    p = _period_view(period)
    shifts = [
        {
            "start": _minute(s.start),
            "end": _minute(s.end),
            "primary": s.primary,
            "backup": s.backup or "none",
            "note": "off hours" if s.off_hours else "",
        }
        for s in schedule.shifts
    ]
    people = sorted(
        {s.primary for s in schedule.shifts} | {s.backup for s in schedule.shifts if s.backup}
    )
    triggers = config.rollback.triggers
    dashboard_slos = [
        {
            "name": s["name"],
            "target": s["target"],
            "window": s["window"],
            "budgeting": s["budgeting"],
            "tiers": ", ".join(
                f"{t['severity']} {t['windows']} > {t['factor']:.2f}x" for t in s["tiers"]
            ),
        }
        for s in slos
    ]
    files = [
        (
            base / "hypercare-team-roster.md",
            render(
                env,
                "hypercare/hypercare-team-roster.md.j2",
                p=p,
                shifts=shifts,
                people=people,
                gaps=list(schedule.gaps),
                source=people_source,
                shift_hours=schedule.shift_hours,
                working=f"{schedule.working_hours[0]:02d}:00-{schedule.working_hours[1]:02d}:00",
                report_time=f"{config.hypercare.report_time} {config.hypercare.timezone}",
            ),
        ),
        (
            base / "production-dashboard-config.md",
            render(
                env,
                "hypercare/production-dashboard-config.md.j2",
                p=p,
                slos=dashboard_slos,
                triggers=triggers,
                resolution=format_seconds(config.slo_monitoring.resolution),
                snapshots=format_seconds(config.slo_monitoring.snapshot_every),
                metrics_type=config.metrics.type,
                active_users=config.hypercare.active_users or "not configured",
                features=[f.name for f in config.hypercare.features],
            ),
        ),
        (
            base / "alert-escalation-matrix.md",
            render(
                env,
                "hypercare/alert-escalation-matrix.md.j2",
                p=p,
                groups=[
                    {
                        "priority": prio.value,
                        "notify": matrix_rules.NOTIFY[prio],
                        "action": matrix_rules.ACTION[prio],
                        "response": matrix_rules.RESPONSE[prio],
                        "rules": [
                            {
                                "description": r.description,
                                "metric": r.metric,
                                "condition": r.condition,
                                "how": "evaluated on the SLO engine's buckets"
                                if r.measurable
                                else "not measured: declared by people",
                            }
                            for r in rules
                            if r.priority is prio
                        ],
                    }
                    for prio in dict.fromkeys(r.priority for r in rules)
                ],
            ),
        ),
    ]
    for path, text in files:
        _write(path, text)
    return [path for path, _ in files]


# -- daily ----------------------------------------------------------------------------------------


def _day_view(day: Mapping[str, Any], period: HypercarePeriod) -> dict[str, Any]:
    slos = []
    for s in day["slos"]:
        slos.append(
            {
                "name": s["name"],
                "target": s["target"],
                "sli_24h": pct(s["sli_24h"]),
                "sli_7d": pct(s["sli_7d"]),
                "value_24h": value(s["kind"], s["value_mean"]),
                "peak": value(s["kind"], s["value_peak"]),
                "remaining": pct(s["budget_remaining"], 1),
                "period_burn": pct(s["period_burn"], 1),
                "burn_24h": "no data"
                if s["burn_rate_24h"] is None
                else f"{s['burn_rate_24h']:.2f}x",
                "status": s["status"],
                "assessment": s["assessment"],
                "recommendation": s["recommendation"],
                "mark": _mark(s["met_24h"]),
                "met_hours": s["met_hours"],
                "allowed": f"{s['budget_allowed']:.0f}",
                "bad": f"{s['bad']:.0f}",
                "unit": "slices" if s["kind"] in ("latency", "throughput") else "requests",
            }
        )
    adoption = day["adoption"]
    feedback = day["feedback"]
    tomorrow = day.get("on_call_tomorrow")
    return {
        "day": day["day"],
        "date": day["date"],
        "of": period.total_days,
        "at": _minute(day["at"]),
        "since": _minute(day["since"]),
        "slos": slos,
        "health": day["health"],
        "reasons": day["reasons"] or ["every SLO met, no P0/P1, budget healthy"],
        "assessment": day["budget_assessment"],
        "incidents_24h": day["incidents_24h"],
        "incidents": [
            {
                **i,
                "detected": _minute(i["detected"]),
                "resolved": _minute(i["resolved"]) if i["resolved"] else "open",
                "actions": ", ".join(i["actions"]) or "none recorded",
                "users": "unknown" if i["users"] is None else f"{i['users']:g}%",
            }
            for i in day["incidents"]
        ],
        "open_p0": day["open_p0"],
        "open_p1": day["open_p1"],
        "adoption": {
            "users": "no data"
            if adoption["active_users"] is None
            else f"{adoption['active_users']:.0f}",
            "error": adoption.get("error"),
            "trend": adoption.get("trend") or "UNKNOWN (needs two days of data)",
            "change": (
                f"{adoption['change_pct']:+.1f}%"
                if adoption.get("change_pct") is not None
                else "n/a"
            ),
            "target": adoption.get("target_users") or "not set",
            "features": [
                {
                    "name": f["name"],
                    "users": "no data" if f["users"] is None else f"{f['users']:.0f}",
                    "pct": "no data" if f["pct"] is None else f"{f['pct']:.1f}%",
                    "target": "not set" if f["target_pct"] is None else f"{f['target_pct']:g}%",
                    "error": f.get("error"),
                }
                for f in adoption.get("features", [])
            ],
        },
        "feedback": {
            "tickets": feedback["tickets"],
            "feedback": feedback["feedback"],
            "categories": ", ".join(f"{k} {v}" for k, v in feedback["by_category"].items())
            or "none",
            "critical_open": feedback["critical_open"],
            "sentiment": (
                "no feedback"
                if feedback["sentiment_positive_pct"] is None
                else f"{feedback['sentiment_label']} ({feedback['sentiment_positive_pct']:.0f}% positive)"
            ),
            "issues": ", ".join(feedback["top_issues"]) or "none",
            "praises": "; ".join(feedback["top_praises"]) or "none",
            "response": (
                "no data"
                if feedback["avg_first_response_hours"] is None
                else f"{feedback['avg_first_response_hours']:.1f} h"
            ),
        },
        "actions": day["actions"],
        "tomorrow": (
            f"{tomorrow['primary']} (backup {tomorrow['backup'] or 'none'}), from {_minute(tomorrow['from'])}"
            if tomorrow
            else "nobody scheduled (no people file or the period ends)"
        ),
    }


def write_day(
    root: Path, *, period: HypercarePeriod, days: Sequence[Mapping[str, Any]], day: int
) -> list[Path]:
    env = _environment()
    current = next(d for d in days if d["day"] == day)
    v = _day_view(current, period)
    p = _period_view(period)
    base = root / DEPLOYMENT
    files = [
        (base / f"slo-report-{v['date']}.md", render(env, "hypercare/slo-report.md.j2", d=v, p=p)),
        (
            base / f"user-adoption-{v['date']}.md",
            render(env, "hypercare/user-adoption.md.j2", d=v, p=p),
        ),
        (
            base / f"hypercare-standup-{v['date']}.md",
            render(env, "hypercare/hypercare-standup.md.j2", d=v, p=p),
        ),
    ]
    if day % 7 == 0:
        week = day // 7
        chunk = [_day_view(d, period) for d in days if (week - 1) * 7 < d["day"] <= week * 7]
        previous = [d for d in days if (week - 2) * 7 < d["day"] <= (week - 1) * 7]
        files.append(
            (
                root / REPORTS / f"hypercare-week-{week}-summary.md",
                render(
                    env,
                    "hypercare/hypercare-week-summary.md.j2",
                    p=p,
                    w=_week_view(
                        week,
                        chunk,
                        [d for d in days if (week - 1) * 7 < d["day"] <= week * 7],
                        previous,
                    ),
                ),
            )
        )
    for path, text in files:
        _write(path, text)
    return [path for path, _ in files]


def _week_view(
    week: int,
    views: Sequence[Mapping[str, Any]],
    raw: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    order = {"GREEN": 0, "YELLOW": 1, "RED": 2}
    worst = max((d["health"] for d in raw), key=order.__getitem__, default="GREEN")
    incidents: dict[str, dict[str, Any]] = {}
    for d in raw:
        for i in d["incidents"]:
            incidents[i["id"]] = i
    slo_days = [s for d in raw for s in d["slos"]]
    met = sum(1 for s in slo_days if s["met_24h"] is True)
    tickets = sum(d["feedback"]["tickets"] for d in raw)
    before = sum(d["feedback"]["tickets"] for d in previous)
    users = [
        d["adoption"]["active_users"] for d in raw if d["adoption"]["active_users"] is not None
    ]
    prev_users = [
        d["adoption"]["active_users"] for d in previous if d["adoption"]["active_users"] is not None
    ]
    challenges = [
        f"Day {d['day']} ({d['date']}): {'; '.join(d['reasons'])}"
        for d in raw
        if d["health"] != "GREEN"
    ]
    good_days = [d["day"] for d in raw if d["health"] == "GREEN"]
    return {
        "n": week,
        "range": f"{raw[0]['date']} to {raw[-1]['date']}" if raw else "n/a",
        "status": worst,
        "days": views,
        "incidents": sorted(incidents.values(), key=lambda i: i["detected"]),
        "p0": sum(1 for i in incidents.values() if i["priority"] == "P0"),
        "p1": sum(1 for i in incidents.values() if i["priority"] == "P1"),
        "slo_compliance": f"{met / len(slo_days) * 100:.0f}% of SLO-days met"
        if slo_days
        else "no SLOs",
        "tickets": tickets,
        "tickets_change": f"{(tickets - before) / before * 100:+.0f}%"
        if before
        else "n/a (no earlier week)",
        "users": f"{users[-1]:.0f}" if users else "no data",
        "users_change": (
            f"{(users[-1] - prev_users[-1]) / prev_users[-1] * 100:+.1f}%"
            if users and prev_users
            else "n/a"
        ),
        "accomplishments": (
            [f"{len(good_days)} of {len(raw)} days GREEN (days {', '.join(map(str, good_days))})"]
            if good_days
            else []
        ),
        "challenges": challenges,
        "focus": sorted({r for d in raw if d["health"] != "GREEN" for r in d["reasons"]})
        or ["keep the SLOs met; watch the error budget"],
    }


# -- exit -------------------------------------------------------------------------------------------


def _verdict_view(verdict: ExitVerdict) -> dict[str, Any]:
    return {
        "at": _minute(verdict.at),
        "day": verdict.day,
        "status": verdict.status.value,
        "decision": verdict.decision.value,
        "criteria": [
            {
                "label": c.label,
                "area": c.area,
                "box": "x" if c.met else " ",
                "state": {True: "MET", False: "NOT MET", None: "UNKNOWN"}[c.met],
                "detail": c.detail,
                "blocking": "blocking" if c.blocking else "",
            }
            for c in verdict.criteria
        ],
        "unmet": list(verdict.unmet),
        "conditions": list(verdict.conditions),
        "escalation": list(verdict.escalation),
        "extension": (
            None
            if verdict.extension is None
            else {
                "days": verdict.extension.days,
                "focus": ", ".join(verdict.extension.focus),
                "revalidation": _minute(verdict.extension.revalidation),
                "needs": list(verdict.extension.needs),
            }
        ),
    }


def write_exit_criteria(root: Path, *, period: HypercarePeriod, verdict: ExitVerdict) -> list[Path]:
    env = _environment()
    path = root / REPORTS / "hypercare-exit-criteria.md"
    _write(
        path,
        render(
            env,
            "hypercare/hypercare-exit-criteria.md.j2",
            p=_period_view(period),
            v=_verdict_view(verdict),
        ),
    )
    return [path]


def _trend(kind: str, now: float | None, before: float | None) -> str:
    if now is None or before is None or before == 0:
        return "no baseline to compare with"
    change = (now - before) / before * 100
    worse = change > 5 if kind != "throughput" else change < -5
    better = change < -5 if kind != "throughput" else change > 5
    word = "DEGRADED" if worse else "IMPROVED" if better else "STABLE"
    return f"{word} ({change:+.1f}% vs pre-release)"


def write_exit_report(
    root: Path,
    *,
    period: HypercarePeriod,
    data: Mapping[str, Any],
    verdict: ExitVerdict,
    days: Sequence[Mapping[str, Any]],
    incidents: Sequence[Mapping[str, Any]],
    stats: Mapping[str, Any],
    slos: Sequence[Mapping[str, Any]],
) -> list[Path]:
    env = _environment()
    slo_rows = [
        {
            "name": s["name"],
            "target": s["target"],
            "achieved": pct(s["achieved"]),
            "mark": _mark(s["met"]),
            "burn": pct(s["period_burn"], 1),
            "trend": _trend(s["kind"], s["value_mean"], s["baseline_mean"]),
        }
        for s in slos
    ]
    met = sum(1 for s in slos if s["met"] is True)
    mttx = []
    for prio, row in sorted((stats.get("by_priority") or {}).items()):
        mttx.append(
            {
                "priority": prio,
                **{
                    k: format_seconds((row.get(k) or {}).get("mean_s"))
                    for k in ("mttd", "mtta", "mtte", "mttr")
                },
            }
        )
    counts = {p: sum(1 for i in incidents if i["priority"] == p) for p in ("P0", "P1", "P2", "P3")}
    feedback = days[-1]["feedback"] if days else None
    users = [
        d["adoption"]["active_users"] for d in days if d["adoption"]["active_users"] is not None
    ]
    tickets = sum(d["feedback"]["tickets"] for d in days)
    overall = {
        "PASS": "SUCCESS",
        "CONDITIONAL": "SUCCESS WITH CONDITIONS",
        "FAIL": "CHALLENGES",
    }[verdict.status.value]
    areas: dict[str, list[bool | None]] = {}
    for c in verdict.criteria:
        areas.setdefault(c.area, []).append(c.met)
    area_rows = [
        {
            "area": area,
            "state": "PASS"
            if all(m is True for m in ms)
            else "FAIL"
            if any(m is False for m in ms)
            else "CONDITIONAL",
        }
        for area, ms in areas.items()
    ]
    actions = [{"incident": i["id"], "title": a} for i in incidents for a in i["actions"]]
    view = {
        "p": _period_view(period),
        "v": _verdict_view(verdict),
        "overall": overall,
        "slos": slo_rows,
        "slo_rate": f"{met}/{len(slos)} SLOs met over the period" if slos else "no SLOs defined",
        "counts": counts,
        "incidents": [
            {
                **i,
                "detected": _minute(i["detected"]),
                "resolved": _minute(i["resolved"]) if i["resolved"] else "open",
            }
            for i in incidents
            if i["priority"] in ("P0", "P1")
        ],
        "total_incidents": len(incidents),
        "mttx": mttx,
        "users": f"{users[-1]:.0f}" if users else "no data",
        "users_change": (
            f"{(users[-1] - users[0]) / users[0] * 100:+.1f}% over the period"
            if len(users) > 1 and users[0]
            else "n/a"
        ),
        "tickets": tickets,
        "daily_tickets": f"{tickets / len(days):.1f}" if days else "n/a",
        "sentiment": (
            "no feedback"
            if not feedback or feedback["sentiment_positive_pct"] is None
            else f"{feedback['sentiment_positive_pct']:.0f}% positive"
        ),
        "days_green": sum(1 for d in days if d["health"] == "GREEN"),
        "days": len(days),
        "red_days": [
            f"{d['date']}: {'; '.join(d['reasons'])}" for d in days if d["health"] == "RED"
        ],
        "areas": area_rows,
        "actions": actions,
        "ended_by": data.get("ended_by", "unknown"),
        "release": data.get("release") or {},
    }
    report = root / REPORTS / "hypercare-exit-report.md"
    risks = root / "risks" / "hypercare-risk-validation.md"
    _write(report, render(env, "hypercare/hypercare-exit-report.md.j2", **view))
    _write(risks, render(env, "hypercare/hypercare-risk-validation.md.j2", **view))
    return [report, risks]
