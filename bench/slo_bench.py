"""What the SLO engine costs per SLO and per tick, at hundreds and thousands of SLOs.

    .venv/bin/python bench/slo_bench.py [--slos 100,1000] [--hours 24] [--resolution 300]

Builds a real SQLite store (in a temporary directory) holding N availability SLOs, each
with `--hours` of stored buckets at `--resolution` seconds (what the watch loop would have
measured), then times, in one run:

1. `status_of` for every SLO (what `slo status`, the readiness gate and triage read): the
   budget over the 30-day window, 1 h / 24 h / 7 d SLIs and the four burn-rate tiers,
   from ONE query per SLO; side by side with the same figures from one query per window
   (the naive way), so the ratio shows what folding the windows into one query buys;
2. the pure part alone (budget, assessment and the four tiers from counts already in
   memory), so the store's share of the cost is visible;
3. watch-loop ticks of `SloMonitor` over all N SLOs: the first catches up a day of hourly
   snapshots; the steady one measures the bucket that came due (through a
   FakeMetricSource test double answering at once, so the figure is the engine's and the
   store's cost, not a metric backend's), snapshots and evaluates the burn-rate alerts;
   the last runs again at the same instant, with nothing due.

Absolute numbers depend on the machine (and on what else runs on it); the ratios within
one run are the point. Results are recorded in README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import FakeClock
from watchstander.config.loader import parse_config
from watchstander.engine.slo import SloMonitor, status_of, window_counts
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.slo import alerts as burn
from watchstander.slo.models import (
    Budget,
    Counts,
    SliKind,
    SloDefinition,
    Window,
    assess,
    to_data,
)
from watchstander.store.repository import Store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

CONFIG = """
service: {name: shop}
target: {type: local, command: [serve, "{port}"]}
slo_monitoring: {resolution: %ds, snapshot_every: 1h, backfill: 1h}
"""


def slo(i: int) -> SloDefinition:
    return SloDefinition(
        name=f"availability-{i:04d}",
        service="shop",
        kind=SliKind.AVAILABILITY,
        objective=0.999,
        window=Window(duration=timedelta(days=30)),
    )


def fill(store: Store, slos: list[SloDefinition], hours: int, resolution: int) -> float:
    """Store `hours` of buckets per SLO ending at NOW; returns the seconds it took."""
    step = timedelta(seconds=resolution)
    count = int(hours * 3600 / resolution)
    started = time.perf_counter()
    for n, s in enumerate(slos):
        rows = []
        for k in range(count):
            start = NOW - (count - k) * step
            bad = 1.0 if (k + n) % 7 == 0 else 0.0  # a little budget spent, varying per SLO
            rows.append((start, start + step, 1000.0 - bad, 1000.0, bad / 1000.0))
        store.add_slo_buckets(s.name, rows)
    return time.perf_counter() - started


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """The median wall time of `repeat` calls, in seconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def naive_status(store: Store, s: SloDefinition, now: datetime) -> object:
    """The same figures as status_of, asking the store once per window."""
    spans = [now - s.window.start(now), HOUR, 24 * HOUR, 7 * 24 * HOUR]
    counts = {d: window_counts(store, s, [d], now)[d] for d in spans}
    period = Budget(s.objective, counts[spans[0]])
    assess(period, Budget(s.objective, counts[HOUR]).burn_rate)
    return burn.evaluate(s, lambda d: window_counts(store, s, [d], now)[d])


def pure(s: SloDefinition, counts: dict[timedelta, Counts], period: timedelta) -> object:
    budget = Budget(s.objective, counts[period])
    assess(budget, Budget(s.objective, counts[HOUR]).burn_rate)
    return burn.severity(burn.evaluate(s, counts.__getitem__))


def healthy(q: MetricQuery) -> Sample:
    return Sample(value=0.0005, count=1000, query=f"fake: {q.metric}{{{q.version}}}")


async def ticks(store: Store, resolution: int) -> tuple[float, float, float, int]:
    """Three watch-loop ticks: the first catches up a day of hourly snapshots, the second
    comes one bucket later (steady state), the third at the same instant (nothing due)."""
    config = parse_config(CONFIG % resolution, source="bench")
    clock = FakeClock(NOW)
    monitor = SloMonitor(config, store, clock, FakeMetricSource(healthy))
    started = time.perf_counter()
    await monitor.tick(NOW)
    catch_up = time.perf_counter() - started
    clock.advance(resolution)
    started = time.perf_counter()
    report = await monitor.tick(clock.now())
    steady = time.perf_counter() - started
    started = time.perf_counter()
    await monitor.tick(clock.now())
    idle = time.perf_counter() - started
    return catch_up, steady, idle, report.buckets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", default="100,1000", help="SLO counts, comma separated")
    parser.add_argument("--hours", type=int, default=24, help="hours of buckets per SLO")
    parser.add_argument("--resolution", type=int, default=300, help="bucket seconds")
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.slos.split(","))
    largest = max(sizes)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'state.db'}", workdir=Path(tmp))
        slos = [slo(i) for i in range(largest)]
        store.replace_slo_definitions([to_data(s) for s in slos], source="bench", at=NOW)
        rows = int(args.hours * 3600 / args.resolution) * largest
        seconds = fill(store, slos, args.hours, args.resolution)
        print(
            f"store: SQLite, {largest} SLOs x {args.hours} h of {args.resolution} s buckets "
            f"= {rows} rows, written in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
        )
        print()
        print("| SLOs | status_of, 1 query/SLO | naive, 1 query/window | ratio | pure only |")
        print("|---|---|---|---|---|")
        spans = [30 * 24 * HOUR, HOUR, 24 * HOUR, 7 * 24 * HOUR, *burn.windows_needed()]
        for n in sizes:
            some = slos[:n]
            one = timed(lambda some=some: [status_of(store, s, NOW) for s in some])
            per_window = timed(
                lambda some=some: [naive_status(store, s, NOW) for s in some], repeat=1
            )
            counts = {s.name: window_counts(store, s, spans, NOW) for s in some}
            only = timed(lambda some=some, c=counts: [pure(s, c[s.name], spans[0]) for s in some])
            print(
                f"| {n} | {one:.3f} s ({one / n * 1000:.2f} ms/SLO) "
                f"| {per_window:.3f} s ({per_window / n * 1000:.2f} ms/SLO) "
                f"| {per_window / one:.1f}x | {only * 1000:.1f} ms ({only / n * 1e6:.0f} us/SLO) |"
            )
        print()
        catch_up, steady, idle, measured = asyncio.run(ticks(store, args.resolution))
        print(
            f"watch-loop ticks over {largest} SLOs: catching up 24 hourly snapshots each "
            f"{catch_up:.2f} s; steady (measure {measured} due buckets, snapshot, burn-rate "
            f"alerts) {steady:.2f} s = {steady / args.resolution:.1%} of the {args.resolution} s "
            f"bucket interval; nothing due {idle:.2f} s"
        )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
