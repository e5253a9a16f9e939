"""Per-second stats, window aggregation, histogram quantiles, weights and version choice."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from watchstander.dataplane import stats
from watchstander.dataplane.router import WeightedPicker
from watchstander.dataplane.state import validate_weights
from watchstander.dataplane.stats import StatsBook, VersionStats, WindowStats

T0 = 1_800_000_000.0  # a POSIX second


def test_bins_are_log_spaced_from_half_a_millisecond_to_a_minute() -> None:
    bounds = stats.LATENCY_BOUNDS_MS
    assert bounds[0] == 0.5 and bounds[-1] >= 60_000 > bounds[-2]
    ratios = {round(b / a, 6) for a, b in zip(bounds, bounds[1:], strict=False)}
    assert ratios == {round(10 ** (1 / 20), 6)}  # ~12% wide: 20 bins per decade


@pytest.mark.parametrize("index", range(len(stats.LATENCY_BOUNDS_MS)))
def test_every_bound_belongs_to_its_own_bin(index: int) -> None:
    bound = stats.LATENCY_BOUNDS_MS[index]
    assert stats.bucket_index(bound) == index
    assert stats.bucket_index(bound * 1.000001) == index + 1
    lower, upper = stats.bucket_range(index)
    assert upper == bound and lower < bound


def test_extremes() -> None:
    assert stats.bucket_index(0.0) == 0
    overflow = len(stats.LATENCY_BOUNDS_MS)
    assert stats.bucket_index(10**7) == overflow
    assert stats.bucket_range(overflow)[1] == math.inf


def test_quantiles_interpolate_inside_a_bin() -> None:
    assert stats.quantile_ms([], 0.99) is None
    assert stats.quantile_ms([(10.0, 20.0, 0)], 0.5) is None
    assert stats.quantile_ms([(10.0, 20.0, 4)], 0.5) == pytest.approx(15.0)
    bins = [(0.0, 1.0, 50), (1.0, 2.0, 49), (100.0, 200.0, 1)]
    assert stats.quantile_ms(bins, 0.5) == pytest.approx(1.0)
    assert stats.quantile_ms(bins, 0.99) == pytest.approx(2.0)
    assert stats.quantile_ms(bins, 1.0) == pytest.approx(200.0)
    assert stats.quantile_ms([(60_000.0, math.inf, 3)], 0.5) == 60_000.0


@pytest.mark.parametrize("true_ms", [0.8, 3.0, 12.5, 150.0, 2_000.0, 45_000.0])
def test_quantiles_of_recorded_latencies_are_within_the_bin_width(true_ms: float) -> None:
    book = VersionStats()
    for i in range(1000):
        book.record(T0 + i / 1000, 200, true_ms / 1000 * (1 + i / 100_000))
    window = book.window(T0, T0 + 1)
    for q in (0.5, 0.95, 0.99):
        value = window.quantile_ms(q)
        assert value is not None and abs(value - true_ms) / true_ms < 0.13


def test_a_window_sums_the_seconds_it_overlaps() -> None:
    book = VersionStats()
    for second in range(10):
        for _ in range(10):
            book.record(T0 + second + 0.5, 200, 0.010)
    book.record(T0 + 3.2, 503, 0.001, proxy_error=True)
    book.record(T0 + 3.7, 500, 0.020)
    book.record(T0 + 8.1, 500, 0.020)
    book.record_failed_attempt(T0 + 3.3)

    window = book.window(T0 + 2.5, T0 + 5.0)  # seconds 2, 3 and 4

    assert window.count == 32
    assert window.by_class == {"2xx": 30, "5xx": 2}
    assert window.error_rate() == pytest.approx(2 / 32)
    assert window.proxy_errors == 1 and window.failed_attempts == 1
    assert window.first_5xx_at == pytest.approx(T0 + 3.2)
    assert window.latency_sum_ms == pytest.approx(300 + 1 + 20)
    assert book.window(T0 + 5.0, T0 + 5.0).count == 0
    assert book.window(T0 - 100, T0 + 100).count == 103
    assert book.window(T0 + 8.0, T0 + 9.0).first_5xx_at == pytest.approx(T0 + 8.1)


def test_seconds_older_than_the_retention_are_dropped() -> None:
    book = VersionStats(retention_s=60)
    book.record(T0, 200, 0.001)
    book.record(T0 + 30, 200, 0.001)
    book.record(T0 + 61, 200, 0.001)
    assert book.window(T0 - 1, T0 + 100).count == 2
    assert book.total_count == 3  # cumulative totals are kept for Prometheus


def test_prometheus_buckets_are_cumulative() -> None:
    book = VersionStats()
    for latency in (0.0005, 0.003, 0.003, 0.2, 120.0):
        book.record(T0, 200, latency)
    buckets = dict(book.prometheus_buckets())
    assert buckets["0.001"] == 1 and buckets["0.005"] == 3 and buckets["0.25"] == 4
    assert buckets["60.0"] == 4 and buckets["+Inf"] == 5
    assert book.total_sum_s == pytest.approx(120.2065)


def test_window_stats_survive_json() -> None:
    book = StatsBook()
    book.of("1.0").record(T0, 500, 90.0)
    book.of("1.0").record(T0, 200, 0.004)
    window = book.window(T0, T0 + 1)["1.0"]
    again = WindowStats.from_json(window.to_json())
    assert again == window
    assert again.quantile_ms(0.99) == stats.LATENCY_BOUNDS_MS[-1]  # overflow: its lower bound
    assert WindowStats.from_json({}).count == 0


def test_smooth_weighted_round_robin_is_exact() -> None:
    picker = WeightedPicker()
    weights = {"a": 95.0, "b": 5.0}
    picks = [picker.pick(weights, ["a", "b"]) for _ in range(200)]
    assert Counter(picks) == {"a": 190, "b": 10}
    assert picks[:20].count("b") == 1  # spread out, not bunched
    assert picker.pick(weights, ["a"]) == "a"
    assert picker.pick(weights, []) is None


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "non-empty"),
        ({"1.0": 60, "1.1": 30}, "must sum to 100, got 1.0=60 + 1.1=30 = 90"),
        ({"1.0": 110, "1.1": -10}, "between 0 and 100"),
        ({"1.0": "100"}, "must be a number"),
        ({"bad version": 100}, "not a valid version"),
    ],
)
def test_weights_are_checked(weights: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_weights(weights)


def test_valid_weights() -> None:
    assert validate_weights({"1.0": 99.995, "1.1": 0}) == {"1.0": 99.995, "1.1": 0.0}
