"""Hypercare's IO edge: start a period after a release, run the daily cycle, check the exit
criteria, sign off, extend and end. The rules are in watchstander.hypercare (pure); the
SLO figures come from the SLO engine's stored buckets and snapshots (engine.slo).

The daily cycle runs once per day at `hypercare.report_time` (in `hypercare.timezone`):
cycle k is the k-th report time after the start and covers the 24 h before it. What it
measured is stored (hypercare_days), once per day, so `tick(now)` is idempotent and a late
engine writes every missed day. Reports are rendered from the stored days.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from watchstander.analysis.models import MetricQuery
from watchstander.clock import Clock
from watchstander.engine.operations import Workspace
from watchstander.engine.slo import ALL_VERSIONS, SloMonitor
from watchstander.errors import ConflictError, InputError, NotFoundError, UsageError
from watchstander.hypercare import exit as exit_rules
from watchstander.hypercare import matrix, rotation, status
from watchstander.hypercare.models import (
    HypercarePeriod,
    Risk,
    default_days,
    period_id,
)
from watchstander.incident import codec
from watchstander.providers.metrics.base import MetricSource
from watchstander.slo.models import Budget, Counts
from watchstander.store.repository import Store

__all__ = ["HypercareDesk", "cycle_times", "feedback_items"]

_DAY = timedelta(days=1)
_TREND_BAND = 0.05  # +-5% day over day is STABLE


def cycle_times(period: HypercarePeriod, report_time: str, zone: str) -> list[datetime]:
    """The daily cycle's times for the whole period (with extensions): the report time on
    each local day after the start, one per day of the period."""
    tz = ZoneInfo(zone)
    hh, mm = (int(x) for x in report_time.split(":"))
    local = period.start.astimezone(tz)
    first_day = local.date()
    candidate = datetime.combine(first_day, time(hh, mm), tz)
    if candidate <= local:
        candidate = datetime.combine(first_day + _DAY, time(hh, mm), tz)
    out = []
    day = candidate.date()
    for _ in range(period.total_days):
        out.append(datetime.combine(day, time(hh, mm), tz).astimezone(UTC))
        day += _DAY
    return out


def feedback_items(rows: Sequence[dict[str, Any]]) -> list[Any]:
    from watchstander.inputs.feedback import FeedbackItem

    def at(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    return [
        FeedbackItem(
            id=str(r["id"]),
            created=datetime.fromisoformat(str(r["created"])),
            kind=str(r["kind"]),
            category=str(r["category"]),
            sentiment=r.get("sentiment"),
            status=str(r.get("status", "open")),
            critical=bool(r.get("critical")),
            first_response_hours=r.get("first_response_hours"),
            resolved=at(r.get("resolved")),
            text=str(r.get("text") or ""),
        )
        for r in rows
    ]


class HypercareDesk:
    def __init__(
        self,
        ws: Workspace,
        store: Store,
        clock: Clock,
        source: MetricSource,
        *,
        monitor: SloMonitor | None = None,
    ) -> None:
        self.ws = ws
        self.store = store
        self.clock = clock
        self.source = source
        self.monitor = monitor or SloMonitor(ws.config, store, clock, source)
        self.settings = ws.config.hypercare

    # -- periods -------------------------------------------------------------------------

    def load(self, period_id_: str | None = None) -> tuple[HypercarePeriod, dict[str, Any]]:
        """The period (the service's active one when no id is given) and its stored data."""
        if period_id_ is None:
            active = self.store.hypercare_periods(
                service=self.ws.config.service.name, active_only=True
            )
            if not active:
                raise NotFoundError(
                    f"no active hypercare period for {self.ws.config.service.name}"
                    " (start one: watchstander hypercare start)"
                )
            data = active[-1]
        else:
            data = self.store.hypercare(period_id_)
        return HypercarePeriod.from_data(data["period"]), data

    def save(self, period: HypercarePeriod, data: dict[str, Any], *, new: bool = False) -> None:
        revision = int(data.get("revision", 0))
        data = {**data, "period": period.to_data(), "revision": revision + 1}
        self.store.save_hypercare(
            id=period.id,
            service=period.service,
            version=period.version,
            status=period.status.value,
            start=period.start,
            data=data,
            expect_revision=None if new else revision,
        )

    def start(
        self,
        *,
        days: int | None = None,
        risk: str | None = None,
        guidance: str = "",
        version: str | None = None,
    ) -> tuple[HypercarePeriod, list[Path]]:
        service = self.ws.config.service.name
        if self.store.hypercare_periods(service=service, active_only=True):
            raise ConflictError(
                f"{service} already has an active hypercare period; end it first"
                " (watchstander hypercare end)"
            )
        release = self._release(version)
        now = self.clock.now()
        level = Risk(risk or self.settings.risk)
        length = days or self.settings.days or default_days(level)
        existing = [p["period"]["id"] for p in self.store.hypercare_periods()]
        period = HypercarePeriod(
            id=period_id(now, existing),
            service=service,
            version=release["version"],
            start=now,
            days=length,
            risk=level,
            guidance=guidance,
        )
        data: dict[str, Any] = {
            "release": release,
            "baseline": self._baseline(now),
        }
        self.save(period, data, new=True)
        return period, self.write_setup(period)

    def _release(self, version: str | None) -> dict[str, Any]:
        """The release the period follows: the given version's, else the latest rollout of
        the service that succeeded."""
        from watchstander.release.models import RolloutPhase

        rollouts = [
            r
            for r in self.store.list_rollouts(service=self.ws.config.service.name)
            if r.phase is RolloutPhase.SUCCEEDED and (version is None or r.version == version)
        ]
        if not rollouts:
            if version is not None:
                return {"version": version, "rollout_id": None, "started_at": None}
            raise UsageError(
                "no successful rollout to follow: deploy first, or name the version"
                " (watchstander hypercare start --version V)"
            )
        latest = rollouts[0]  # newest first
        return {
            "version": latest.version,
            "rollout_id": latest.id,
            "started_at": latest.created_at.isoformat(),
        }

    def _baseline(self, now: datetime) -> dict[str, Any]:
        """The pre-release figures the exit report compares with: each SLO's SLI over the
        day before the start."""
        out = {}
        for slo in self.monitor.slos:
            counts = self.monitor.period_counts(slo, now - _DAY, now)
            out[slo.name] = {
                "sli": counts.sli,
                "value_mean": self._values(slo, now - _DAY, now)["mean"],
            }
        return out

    def _values(self, slo: Any, since: datetime, until: datetime) -> dict[str, float | None]:
        """Mean, worst and best of the measured values (error ratio, ms or req/s) behind
        an SLO's buckets in [since, until); None with no data."""
        values = [
            r["value"]
            for r in self.store.slo_buckets(slo.name, since, until)
            if r["value"] is not None
        ]
        if not values:
            return {"mean": None, "peak": None, "min": None}
        return {"mean": sum(values) / len(values), "peak": max(values), "min": min(values)}

    # -- setup artifacts ---------------------------------------------------------------------

    def members(self) -> tuple[list[rotation.Member], str]:
        """The people of the 24/7 rotation and where they came from."""
        from watchstander.inputs.roster import load_roster

        base = self.ws.config_path.parent
        path = self.settings.people or self.ws.config.incidents.roster
        if path is None:
            return [], "no people file (hypercare.people) and no incident roster"
        roster = load_roster(base / path).roster
        members = [
            rotation.Member(p.name, p.timezone, dict(p.contacts), tuple(sorted(p.roles)))
            for p in roster.people
        ]
        return members, str(path)

    def schedule(self, period: HypercarePeriod) -> tuple[rotation.Schedule, str]:
        members, source = self.members()
        return (
            rotation.generate(members, period.start, period.total_days, self.settings.shift_hours),
            source,
        )

    def write_setup(self, period: HypercarePeriod) -> list[Path]:
        from watchstander.reports.hypercare import write_setup

        schedule, source = self.schedule(period)
        rules = matrix.build_matrix(self.monitor.latency_sla())
        return write_setup(
            self.ws.reports_root,
            period=period,
            schedule=schedule,
            people_source=source,
            slos=[self.monitor.status(s, period.start) for s in self.monitor.slos],
            config=self.ws.config,
            rules=rules,
        )

    # -- daily cycle ---------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Run every daily cycle that is due and not yet recorded; returns the new days."""
        now = now or self.clock.now()
        written: list[dict[str, Any]] = []
        for raw in self.store.hypercare_periods(
            service=self.ws.config.service.name, active_only=True
        ):
            period = HypercarePeriod.from_data(raw["period"])
            done = {d["day"] for d in self.store.hypercare_days(period.id)}
            times = cycle_times(period, self.settings.report_time, self.settings.timezone)
            for k, at in enumerate(times, 1):
                if at > now or k in done:
                    continue
                day = await self._cycle(period, k, at)
                date = at.astimezone(ZoneInfo(self.settings.timezone)).date().isoformat()
                if self.store.save_hypercare_day(period.id, k, date, now, day):
                    written.append({"day": k, "date": date, **day})
                    self._render_day(period, k)
        return written

    async def _cycle(self, period: HypercarePeriod, k: int, at: datetime) -> dict[str, Any]:
        since = at - _DAY
        slos = []
        for slo in self.monitor.slos:
            c24 = self.monitor.period_counts(slo, since, at)
            c7 = self.monitor.period_counts(slo, max(at - 7 * _DAY, period.start - _DAY), at)
            window = self.monitor.period_counts(slo, slo.window.start(at), at)
            values = self._values(slo, since, at)
            st = self.monitor.status(slo, at)
            b_window = Budget(slo.objective, window)
            slos.append(
                {
                    "name": slo.name,
                    "kind": slo.kind.value,
                    "target": slo.target_text(),
                    "objective": slo.objective,
                    "sli_24h": c24.sli,
                    "sli_7d": c7.sli,
                    "met_24h": Budget(slo.objective, c24).met,
                    "value_peak": values["peak"],
                    "value_mean": values["mean"],
                    "value_min": values["min"],
                    "budget_remaining": b_window.remaining,
                    "budget_allowed": b_window.allowed,
                    "bad": window.bad,
                    "period_burn": self.monitor.window_share(slo, period.start, at),
                    "burn_rate_24h": Budget(slo.objective, c24).burn_rate,
                    "status": st["status"],
                    "assessment": st["assessment"],
                    "recommendation": st["recommendation"],
                    "met_hours": self.monitor.met_hours(slo, at),
                    "resolution_s": self.monitor.resolution.total_seconds(),
                }
            )
        incidents = [
            self._incident_row(d)
            for d in self.store.incidents(service=period.service, since=period.start - _DAY)
        ]
        recent = [i for i in incidents if since <= datetime.fromisoformat(i["detected"]) < at]
        by_prio = {
            p: sum(1 for i in recent if i["priority"] == p) for p in ("P0", "P1", "P2", "P3")
        }
        open_p0 = sum(1 for i in incidents if i["open"] and i["priority"] == "P0")
        open_p1 = sum(1 for i in incidents if i["open"] and i["priority"] == "P1")
        order = {"HEALTHY": 0, "MONITOR": 1, "CRITICAL": 2}
        worst = max((s["assessment"] for s in slos), key=order.__getitem__, default="HEALTHY")
        met = sum(1 for s in slos if s["met_24h"] is not False)
        at_risk = sum(1 for s in slos if s["status"] != "ON TARGET")
        health, reasons = status.daily_health(
            slos_met=met,
            slos_total=len(slos),
            slos_at_risk=at_risk,
            open_p0=open_p0,
            open_p1=open_p1,
            incidents_24h=by_prio,
            budget_assessment=worst,
        )
        schedule, _ = self.schedule(period)
        tomorrow = rotation.on_call_at(schedule, at + _DAY)
        return {
            "at": at.isoformat(),
            "since": since.isoformat(),
            "slos": slos,
            "budget_assessment": worst,
            "incidents_24h": by_prio,
            "incidents": [i for i in incidents if i["open"] or i in recent],
            "open_p0": open_p0,
            "open_p1": open_p1,
            "adoption": await self._adoption(period, k, since, at),
            "feedback": self._feedback(since, at),
            "actions": self._open_actions(period),
            "on_call_tomorrow": (
                {
                    "primary": tomorrow.primary,
                    "backup": tomorrow.backup,
                    "from": tomorrow.start.isoformat(),
                }
                if tomorrow is not None
                else None
            ),
            "health": health.value,
            "reasons": reasons,
        }

    def _incident_row(self, data: dict[str, Any]) -> dict[str, Any]:
        inc = codec.from_data(data)
        rca = data.get("rca") or {}
        actions = data.get("preventive_actions") or []
        return {
            "id": inc.id,
            "priority": inc.priority.value,
            "title": inc.title,
            "status": inc.status.value,
            "open": inc.is_open,
            "detected": inc.detected.isoformat(),
            "resolved": inc.milestones.resolved.isoformat() if inc.milestones.resolved else None,
            "users": inc.users_affected_pct,
            "root_cause": rca.get("root_cause") or "not established yet",
            "pir_done": bool(rca),
            "actions": [str(a.get("title")) for a in actions],
        }

    def _open_actions(self, period: HypercarePeriod) -> list[dict[str, Any]]:
        out = []
        for d in self.store.incidents(service=period.service, since=period.start - _DAY):
            for a in d.get("preventive_actions") or []:
                if a.get("status", "open") == "open":
                    out.append(
                        {
                            "incident": d["id"],
                            "title": a.get("title"),
                            "owner": a.get("owner"),
                            "due": a.get("due"),
                        }
                    )
        return out

    async def _adoption(
        self, period: HypercarePeriod, k: int, since: datetime, at: datetime
    ) -> dict[str, Any]:
        """Active users and feature adoption from business metrics, asked of the metric
        source for the 24 h before the cycle; the trend against the previous day."""

        async def ask(metric: str) -> tuple[float | None, str | None]:
            sample = await self.source.query(
                MetricQuery(
                    metric=metric, service=period.service, version=ALL_VERSIONS, start=since, end=at
                )
            )
            return sample.value, sample.error

        out: dict[str, Any] = {"active_users": None, "error": None, "features": [], "trend": None}
        if self.settings.active_users is None:
            out["error"] = "no business metric configured (hypercare.active_users)"
            return out
        users, error = await ask(self.settings.active_users)
        out["active_users"], out["error"] = users, error
        days = {d["day"]: d for d in self.store.hypercare_days(period.id)}
        before = (days.get(k - 1) or {}).get("adoption", {}).get("active_users")
        out["previous"] = before
        if users is not None and before:
            change = (users - before) / before
            out["change_pct"] = change * 100
            out["trend"] = (
                "INCREASING"
                if change > _TREND_BAND
                else "DECREASING"
                if change < -_TREND_BAND
                else "STABLE"
            )
        out["target_users"] = self.settings.target_users
        for f in self.settings.features:
            value, err = await ask(f.metric)
            pct = value / users * 100 if value is not None and users else None
            out["features"].append(
                {
                    "name": f.name,
                    "users": value,
                    "pct": pct,
                    "target_pct": f.target_pct,
                    "error": err,
                }
            )
        return out

    def _feedback(self, since: datetime, until: datetime) -> dict[str, Any]:
        from watchstander.inputs.feedback import summarize

        items = feedback_items(self.store.feedback(self.ws.config.service.name, until=until))
        return dataclasses.asdict(summarize(items, since, until))

    def _render_day(self, period: HypercarePeriod, k: int) -> list[Path]:
        from watchstander.reports.hypercare import write_day

        days = self.store.hypercare_days(period.id)
        return write_day(self.ws.reports_root, period=period, days=days, day=k)

    # -- exit --------------------------------------------------------------------------------

    def exit_check(self, now: datetime | None = None) -> tuple[exit_rules.ExitVerdict, list[Path]]:
        from watchstander.reports.hypercare import write_exit_criteria

        now = now or self.clock.now()
        period, data = self.load()
        verdict = exit_rules.evaluate(self._inputs(period, now))
        data = {**data, "exit": verdict.to_data()}
        self.save(period, data)
        return verdict, write_exit_criteria(self.ws.reports_root, period=period, verdict=verdict)

    def _inputs(self, period: HypercarePeriod, now: datetime) -> exit_rules.ExitInputs:
        from watchstander.inputs.feedback import summarize

        facts = [
            exit_rules.IncidentFact(
                r["id"],
                r["priority"],
                datetime.fromisoformat(r["detected"]),
                r["open"],
                r["pir_done"],
            )
            for r in map(
                self._incident_row,
                self.store.incidents(service=period.service, since=period.start),
            )
        ]
        slos = []
        for slo in self.monitor.slos:
            recent = Budget(
                slo.objective,
                self.monitor.period_counts(slo, now - self.monitor.snapshot_every, now),
            )
            slos.append(
                exit_rules.SloFact(
                    slo.name,
                    self.monitor.met_hours(slo, now),
                    self.monitor.window_share(slo, period.start, now),
                    recent.met is not False,
                )
            )
        days = self.store.hypercare_days(period.id)
        trend = days[-1]["adoption"].get("trend") if days else None
        items = feedback_items(self.store.feedback(period.service, until=now))
        sentiment = summarize(items, period.start, now).sentiment_positive_pct if items else None
        return exit_rules.ExitInputs(now, period, facts, slos, trend, sentiment)

    def signoff(self, role: str, by: str) -> HypercarePeriod:
        period, data = self.load()
        try:
            period = period.sign(role, by, self.clock.now())
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        self.save(period, data)
        return period

    def extend(self, days: int, reason: str, by: str) -> HypercarePeriod:
        period, data = self.load()
        try:
            period = period.extend(days, reason, by, self.clock.now())
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        self.save(period, data)
        return period

    def end(self, by: str) -> tuple[HypercarePeriod, exit_rules.ExitVerdict, list[Path]]:
        """End the period: a last exit check, then the exit report and risk validation."""
        from watchstander.reports.hypercare import write_exit_report

        verdict, paths = self.exit_check()
        period, data = self.load()
        now = self.clock.now()
        period = period.finish(now)
        data = {**data, "ended_by": by}
        self.save(period, data)
        stats = self._stats(period, now)
        paths += write_exit_report(
            self.ws.reports_root,
            period=period,
            data=data,
            verdict=verdict,
            days=self.store.hypercare_days(period.id),
            incidents=[
                self._incident_row(d)
                for d in self.store.incidents(service=period.service, since=period.start)
            ],
            stats=stats,
            slos=[self._slo_summary(s, period, now, data) for s in self.monitor.slos],
        )
        return period, verdict, paths

    def _stats(self, period: HypercarePeriod, now: datetime) -> dict[str, Any]:
        from watchstander.engine.incidents import IncidentDesk

        desk = IncidentDesk(self.ws, self.store, self.clock, notifiers={})
        return desk.stats(since=period.start)

    def _slo_summary(
        self, slo: Any, period: HypercarePeriod, now: datetime, data: dict[str, Any]
    ) -> dict[str, Any]:
        counts: Counts = self.monitor.period_counts(slo, period.start, now)
        b = Budget(slo.objective, counts)
        base = (data.get("baseline") or {}).get(slo.name) or {}
        return {
            "name": slo.name,
            "kind": slo.kind.value,
            "target": slo.target_text(),
            "objective": slo.objective,
            "achieved": counts.sli,
            "met": b.met,
            "period_burn": self.monitor.window_share(slo, period.start, now),
            "value_mean": self._values(slo, period.start, now)["mean"],
            "baseline_mean": base.get("value_mean"),
            "baseline_sli": base.get("sli"),
        }

    async def preview(self, now: datetime | None = None) -> dict[str, Any]:
        """Today's figures so far, computed now and not stored (the demo's day-1 status)."""
        now = now or self.clock.now()
        period, _ = self.load()
        day = await self._cycle(period, max(period.day_number(now), 1), now)
        return {"day": period.day_number(now), "date": now.date().isoformat(), **day}

    def import_feedback(self, path: Path) -> tuple[int, int]:
        from watchstander.inputs.feedback import read_feedback

        items = read_feedback(path)
        if not items:
            raise InputError(f"{path}: no items")
        rows = []
        for item in items:
            row = dataclasses.asdict(item)
            row["created"] = item.created.isoformat()
            row["resolved"] = item.resolved.isoformat() if item.resolved else None
            rows.append(row)
        return self.store.save_feedback(self.ws.config.service.name, rows)
