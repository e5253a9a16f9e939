"""The SLO engine's IO edge: measure SLIs into stored buckets, take snapshots, evaluate
burn-rate alerts, open incidents for pages.

Timing is from stored state, so every step is idempotent and a late engine catches up:

* **measure(now)**: for each SLO, the buckets between its last stored bucket and `now`
  (aligned to `slo_monitoring.resolution`, at most `backfill` back, since the local data
  plane keeps one hour) are measured through the metric source for the whole service
  (version "*") and stored. A bucket already stored is never measured or counted again.
* **snapshot(now)**: for each SLO, one snapshot per `snapshot_every` boundary passed since
  its last one: the SLI over that period, whether it met the objective (None: no data),
  budget remaining and burn rate over the SLO window.
* **alerts(now)**: the multiwindow burn-rate tiers (slo.alerts) on stored buckets. A tier
  firing starts an alert episode; a page opens an incident through the incident desk with
  the priority the hypercare escalation matrix gives the measured values (at least P2);
  an episode ends when nothing fires, noted on its incident.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from watchstander.analysis.models import MetricQuery
from watchstander.clock import Clock
from watchstander.config.models import Config, SloTarget
from watchstander.errors import ConfigError
from watchstander.providers.metrics.base import MetricSource
from watchstander.slo import alerts as burn
from watchstander.slo.models import (
    RECOMMENDATIONS,
    Budget,
    Budgeting,
    Counts,
    SliKind,
    SloDefinition,
    Window,
    assess,
    from_data,
    window_budget_share,
)
from watchstander.store.repository import Store

__all__ = [
    "ALL_VERSIONS",
    "definition_of",
    "definitions",
    "SloMonitor",
    "SloTick",
    "align",
    "service_states",
    "status_of",
    "window_counts",
]

ALL_VERSIONS = "*"
_HOUR = timedelta(hours=1)


def definition_of(target: SloTarget, service: str, index: int) -> SloDefinition:
    """The SLO engine's definition of a `slos:` entry of watchstander.yaml."""
    metric = target.metric
    where = f"watchstander.yaml: slos[{index}] ({target.name})"
    if metric == "error_rate":
        kind = SliKind(target.sli or "availability")
        assert target.max is not None
        objective = target.objective / 100 if target.objective is not None else 1 - target.max
        threshold, quantile = None, None
        budgeting = Budgeting(target.budgeting or "occurrences")
    elif metric.startswith("latency"):
        kind = SliKind.LATENCY
        objective = (target.objective or 99.0) / 100
        threshold, quantile = target.max, {"p50": 0.5, "p95": 0.95, "p99": 0.99}[metric[-3:]]
        budgeting = Budgeting(target.budgeting or "timeslices")
    else:
        kind = SliKind.THROUGHPUT
        objective = (target.objective or 99.0) / 100
        threshold, quantile = target.min, None
        budgeting = Budgeting(target.budgeting or "timeslices")
    try:
        return SloDefinition(
            name=target.name,
            service=service,
            kind=kind,
            objective=objective,
            window=Window(
                timedelta(seconds=target.window),
                rolling=target.calendar is None,
                calendar=target.calendar,
                timezone=target.timezone,
            ),
            budgeting=budgeting,
            threshold=threshold,
            quantile=quantile,
            timeslice_target=(
                target.timeslice_target / 100 if target.timeslice_target is not None else None
            ),
            description=target.description,
            error_query=target.error_query,
            total_query=target.total_query,
        )
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def definitions(config: Config, store: Store | None = None) -> list[SloDefinition]:
    """The SLOs of watchstander.yaml, then those imported into the store (by name)."""
    out = [definition_of(t, config.service.name, i) for i, t in enumerate(config.slos)]
    if store is not None:
        names = {d.name for d in out}
        out += [d for d in map(from_data, store.slo_definitions()) if d.name not in names]
    return out


def align(at: datetime, step: timedelta) -> datetime:
    """`at` rounded down to a multiple of `step` since the epoch."""
    seconds = step.total_seconds()
    return datetime.fromtimestamp(math.floor(at.timestamp() / seconds) * seconds, UTC)


@dataclass
class SloTick:
    buckets: int = 0
    snapshots: int = 0
    alerts_started: list[tuple[str, str]] = field(default_factory=list)  # (slo, severity)
    alerts_ended: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)


def window_counts(
    store: Store, slo: SloDefinition, spans: Sequence[timedelta], now: datetime
) -> dict[timedelta, Counts]:
    """Good and total events of `slo` over each span ending at `now` (one query)."""
    # Buckets are stored once complete, so "started before now" is "inside".
    sums = store.slo_window_sums(slo.name, [now - d for d in spans], now)
    return {d: Counts(g, t) for d, (g, t) in zip(spans, sums, strict=True)}


def status_of(store: Store, slo: SloDefinition, now: datetime) -> dict[str, Any]:
    """Everything `slo status` shows of one SLO at `now`, as plain data, from the stored
    buckets alone (nothing is measured)."""
    start = slo.window.start(now)
    spans = [now - start, _HOUR, 24 * _HOUR, 7 * 24 * _HOUR]
    # One query for every window shown and every burn-rate tier's two windows.
    counts = window_counts(store, slo, list(dict.fromkeys([*spans, *burn.windows_needed()])), now)
    period = Budget(slo.objective, counts[spans[0]])
    hour = Budget(slo.objective, counts[_HOUR])
    status, assessment = assess(period, hour.burn_rate)
    tiers = burn.evaluate(slo, counts.__getitem__)
    severity = burn.severity(tiers)
    return {
        "name": slo.name,
        "id": slo.id,
        "service": slo.service,
        "kind": slo.kind.value,
        "target": slo.target_text(),
        "objective": slo.objective,
        "window": slo.window.describe(),
        "budgeting": slo.budgeting.value,
        "sli": counts[spans[0]].sli,
        "sli_24h": counts[24 * _HOUR].sli,
        "sli_7d": counts[7 * 24 * _HOUR].sli,
        "good": counts[spans[0]].good,
        "total": counts[spans[0]].total,
        "budget_allowed": period.allowed,
        "budget_consumed": period.consumed,
        "budget_remaining": period.remaining,
        "burn_rate_period": period.burn_rate,
        "burn_rate_1h": hour.burn_rate,
        "status": status.value,
        "assessment": assessment.value,
        "recommendation": RECOMMENDATIONS[assessment],
        "alert": severity.value if severity else None,
        "tiers": [
            {
                "severity": t.window.severity.value,
                "windows": t.window.name,
                "factor": t.factor,
                "long_burn": t.long_burn,
                "short_burn": t.short_burn,
                "firing": t.firing,
            }
            for t in tiers
        ],
        "source": slo.source,
        "as_of": now.isoformat(),
    }


def service_states(
    config: Config, store: Store, now: datetime, service: str | None = None
) -> list[dict[str, Any]]:
    """`status_of` every SLO of `service` (default: the configured one), from stored
    buckets: what the deploy gates and incident triage cite."""
    service = service or config.service.name
    return [status_of(store, s, now) for s in definitions(config, store) if s.service == service]


class SloMonitor:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        source: MetricSource,
        *,
        desk: Any | None = None,  # engine.incidents.IncidentDesk, for page-level alerts
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.source = source
        self.desk = desk
        settings = config.slo_monitoring
        self.resolution = timedelta(seconds=settings.resolution)
        self.snapshot_every = timedelta(seconds=settings.snapshot_every)
        self.backfill = timedelta(seconds=settings.backfill)
        self.slos = definitions(config, store)
        self.errors: list[str] = []  # metric-source failures seen while measuring
        # Bounded: a backfill is hundreds of small windows; a data plane answering
        # hundreds of /stats at once would time out.
        self._limit = asyncio.Semaphore(8)

    # -- measuring ---------------------------------------------------------------------

    async def measure(self, now: datetime | None = None) -> int:
        now = now or self.clock.now()
        results = await asyncio.gather(*(self._measure(slo, now) for slo in self.slos))
        return sum(results)

    async def _measure(self, slo: SloDefinition, now: datetime) -> int:
        end = align(now, self.resolution)
        last = self.store.last_slo_bucket_end(slo.name)
        start = align(now - self.backfill, self.resolution)
        if last is not None and last > start:
            start = last
        starts = []
        at = start
        while at + self.resolution <= end:
            starts.append(at)
            at += self.resolution
        if not starts:
            return 0

        async def ask(s: datetime) -> Any:
            async with self._limit:
                return await self.source.query(
                    MetricQuery(
                        metric=slo.metric,
                        service=slo.service,
                        version=ALL_VERSIONS,
                        start=s,
                        end=s + self.resolution,
                    )
                )

        samples = await asyncio.gather(*(ask(s) for s in starts))
        rows: list[tuple[datetime, datetime, float, float, float | None]] = []
        seconds = self.resolution.total_seconds()
        for s, sample in zip(starts, samples, strict=True):
            if sample.error is not None:
                # The source failed (down, timed out): stop here, so the next tick asks
                # again from this bucket instead of recording "no data" for good.
                self.errors.append(f"{slo.name}: {sample.error}")
                break
            bucket = slo.judge(sample.value, sample.count, seconds)
            if bucket is None:  # measured, no data: stored so it is not asked again
                rows.append((s, s + self.resolution, 0.0, 0.0, None))
            else:
                rows.append((s, s + self.resolution, bucket.good, bucket.total, bucket.value))
        return self.store.add_slo_buckets(slo.name, rows)

    # -- reading -----------------------------------------------------------------------

    def counts(
        self, slo: SloDefinition, spans: Sequence[timedelta], now: datetime
    ) -> dict[timedelta, Counts]:
        return window_counts(self.store, slo, spans, now)

    def period_counts(self, slo: SloDefinition, since: datetime, until: datetime) -> Counts:
        ((g, t),) = self.store.slo_window_sums(slo.name, [since], until)
        return Counts(g, t)

    def window_share(self, slo: SloDefinition, since: datetime, until: datetime) -> float | None:
        """Share of the SLO window's budget used in [since, until) (see
        slo.models.window_budget_share); timeslices count the span they measured."""
        counts = self.period_counts(slo, since, until)
        span = (
            self.resolution * counts.total
            if slo.budgeting is Budgeting.TIMESLICES
            else until - since
        )
        return window_budget_share(slo, counts, span)

    def status(self, slo: SloDefinition, now: datetime | None = None) -> dict[str, Any]:
        """Everything `slo status` shows of one SLO, as plain data."""
        return status_of(self.store, slo, now or self.clock.now())

    # -- snapshots ---------------------------------------------------------------------

    def snapshot(self, now: datetime | None = None) -> int:
        now = now or self.clock.now()
        made = 0
        for slo in self.slos:
            last = self.store.last_slo_snapshot(slo.name)
            boundary = align(now, self.snapshot_every)
            first = (
                last + self.snapshot_every
                if last is not None
                else max(boundary - 24 * self.snapshot_every, self._first_bucket(slo, boundary))
            )
            at = first
            while at <= boundary:
                made += self._snapshot_at(slo, at)
                at += self.snapshot_every
        return made

    def _first_bucket(self, slo: SloDefinition, boundary: datetime) -> datetime:
        rows = self.store.slo_buckets(slo.name, boundary - 25 * self.snapshot_every, boundary)
        if not rows:
            return boundary + self.snapshot_every  # nothing measured yet: no snapshot
        return align(rows[0]["start"], self.snapshot_every) + self.snapshot_every

    def _snapshot_at(self, slo: SloDefinition, at: datetime) -> int:
        last, whole = self.store.slo_window_sums(
            slo.name, [at - self.snapshot_every, slo.window.start(at)], at
        )
        counts = Counts(*last)
        period = Budget(slo.objective, Counts(*whole))
        met = Budget(slo.objective, counts).met
        data = {
            "good": counts.good,
            "total": counts.total,
            "sli": counts.sli,
            "budget_remaining": period.remaining,
            "burn_rate": Budget(slo.objective, counts).burn_rate,
        }
        return int(self.store.save_slo_snapshot(slo.name, at, met, data))

    def met_hours(self, slo: SloDefinition, now: datetime) -> int:
        """Consecutive snapshot periods up to `now` that met the objective, in hours. A
        period with no data or a missing snapshot breaks the streak."""
        rows = self.store.slo_snapshots(slo.name, since=now - 31 * 24 * _HOUR, until=now)
        streak = timedelta(0)
        expected = align(now, self.snapshot_every)
        for row in reversed(rows):
            if row["at"] != expected or row["met"] is not True:
                break
            streak += self.snapshot_every
            expected -= self.snapshot_every
        return int(streak / _HOUR)

    # -- alerts ------------------------------------------------------------------------

    async def alerts(self, now: datetime | None = None, report: SloTick | None = None) -> SloTick:
        now = now or self.clock.now()
        report = report or SloTick()
        spans = burn.windows_needed()
        for slo in self.slos:
            counts = self.counts(slo, spans, now)
            tiers = burn.evaluate(slo, lambda d, c=counts: c[d])  # type: ignore[misc]
            severity = burn.severity(tiers)
            current = self.store.open_slo_alert(slo.name)
            detail = {
                "tiers": [
                    {
                        "windows": t.window.name,
                        "severity": t.window.severity.value,
                        "factor": round(t.factor, 4),
                        "long_burn": t.long_burn,
                        "short_burn": t.short_burn,
                    }
                    for t in tiers
                    if t.firing
                ]
            }
            if severity is None:
                if current is not None:
                    self.store.update_slo_alert(current["id"], ended_at=now)
                    report.alerts_ended.append(slo.name)
                    if current.get("incident_id") and self.desk is not None:
                        self.desk.note(
                            current["incident_id"],
                            f"burn-rate alert on SLO {slo.name} cleared: no tier fires",
                            by="watchstander",
                        )
                continue
            if current is None:
                alert_id = self.store.start_slo_alert(slo.name, severity.value, now, detail)
                report.alerts_started.append((slo.name, severity.value))
                current = {"id": alert_id, "severity": severity.value, "incident_id": None}
            elif current["severity"] != severity.value and severity is burn.Severity.PAGE:
                self.store.update_slo_alert(current["id"], severity=severity.value, data=detail)
                report.alerts_started.append((slo.name, severity.value))
            if (
                severity is burn.Severity.PAGE
                and current.get("incident_id") is None
                and self.desk is not None
                and self.config.slo_monitoring.declare_incidents
            ):
                incident_id = self._declare(slo, now, tiers)
                self.store.update_slo_alert(current["id"], incident_id=incident_id)
                report.incidents.append(incident_id)
        return report

    def measured_values(
        self, slo_list: Sequence[SloDefinition], now: datetime, span: timedelta
    ) -> dict[str, float | None]:
        """The escalation matrix's inputs over the last `span`: availability and error
        rate in percent, p95 in ms, from the buckets of the SLOs that measure them."""
        values: dict[str, float | None] = {}
        for slo in slo_list:
            rows = self.store.slo_buckets(slo.name, now - span, now + self.resolution)
            measured = [r for r in rows if r["value"] is not None]
            if not measured:
                continue
            if slo.kind in (SliKind.AVAILABILITY, SliKind.ERROR_RATE):
                c = Counts(sum(r["good"] for r in rows), sum(r["total"] for r in rows))
                if slo.budgeting is Budgeting.OCCURRENCES and c.error_ratio is not None:
                    values["error_rate"] = c.error_ratio * 100
                    values["availability"] = (1 - c.error_ratio) * 100
                else:
                    ratio = sum(r["value"] for r in measured) / len(measured)
                    values["error_rate"] = ratio * 100
                    values["availability"] = (1 - ratio) * 100
            elif slo.kind is SliKind.LATENCY and slo.quantile == 0.95:
                values["latency_p95"] = max(r["value"] for r in measured)
        return values

    def latency_sla(self) -> float | None:
        """The p95 SLA of the escalation matrix: the first p95 latency SLO's threshold."""
        for slo in self.slos:
            if slo.kind is SliKind.LATENCY and slo.quantile == 0.95:
                return slo.threshold
        for slo in self.slos:
            if slo.kind is SliKind.LATENCY:
                return slo.threshold
        return None

    def _declare(self, slo: SloDefinition, now: datetime, tiers: Sequence[burn.TierState]) -> str:
        from watchstander.hypercare import matrix
        from watchstander.incident.models import Category, DetectionMethod, Priority
        from watchstander.incident.priority import cell_for

        fired = [t for t in tiers if t.firing and t.window.severity is burn.Severity.PAGE]
        fastest = min(fired, key=lambda t: t.window.long)
        values = self.measured_values(self.slos, now, fastest.window.short)
        rules = matrix.build_matrix(self.latency_sla())
        match = matrix.evaluate(rules, values)
        prio = match.rule.priority.value if match is not None else "P2"
        if prio in ("P3",):
            prio = "P2"  # a page is at least P2
        impact, urgency = cell_for(Priority(prio))
        why = (
            f"{match.rule.description} (measured {match.value:.4g}{match.rule.unit})"
            if match is not None
            else "no escalation-matrix condition matched; a page is at least P2"
        )
        burns = ", ".join(
            f"{t.window.name} burn {t.long_burn:.1f}x/{t.short_burn:.1f}x > {t.factor:.2f}x"
            for t in fired
            if t.long_burn is not None and t.short_burn is not None
        )
        category = Category.PERFORMANCE if slo.kind is SliKind.LATENCY else Category.AVAILABILITY
        loaded = self.desk.declare(  # type: ignore[union-attr]
            title=f"SLO {slo.name} burning its error budget",
            urgency=urgency,
            impact=impact,
            service=slo.service,
            description=f"Burn-rate page on SLO {slo.name} ({slo.target_text()}): {burns}."
            f" Priority {prio} from the escalation matrix: {why}.",
            reporter="watchstander slo",
            detection_method=DetectionMethod.AUTOMATED_ALERT,
            category=category,
            dedup_keys=[f"slo:{slo.id}:{now.isoformat()}"],
            detected=now,
        )
        return str(loaded.incident.id)

    # -- the loop ----------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> SloTick:
        now = now or self.clock.now()
        report = SloTick()
        report.buckets = await self.measure(now)
        report.snapshots = self.snapshot(now)
        await self.alerts(now, report)
        return report
