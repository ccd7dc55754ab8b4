"""The soak's verdicts (benchmarks/soak/judge.py: latency trend, memory growth) on series whose
answer is known: performance.md's soak results rest on them. benchmarks/ is on pytest's
pythonpath (pytest.ini)."""

from __future__ import annotations

import numpy as np
import pytest

from soak import judge


def test_fit_recovers_a_known_line_and_its_error():
    minutes = np.arange(30, dtype=float)
    slope, error, first = judge.fit(list(2.0 + 0.5 * minutes))
    assert (slope, first) == pytest.approx((0.5, 2.0)) and error == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    noisy = 100 + 0.2 * minutes + rng.normal(0, 1.0, 30)
    slope, error, _ = judge.fit(list(noisy))
    assert abs(slope - 0.2) < 3 * error and 0.01 < error < 0.1  # the textbook error of a slope: 1/sqrt(sum dx^2)
    assert all(np.isnan(v) for v in judge.fit([1.0, 2.0]))  # too few points
    assert all(np.isnan(v) for v in judge.fit([1.0, float("nan"), 2.0, 3.0]))


def test_trend_is_percent_of_the_first_minute_per_hour():
    flat = [300.0] * 20
    assert judge.trend(flat) == pytest.approx((0.0, 0.0), abs=1e-9)
    creeping = [300.0 * (1 + 0.10 * m / 60) for m in range(20)]  # +10 % an hour
    slope, error = judge.trend(creeping)
    assert slope == pytest.approx(10.0) and error == pytest.approx(0.0, abs=1e-9)
    every_two = [300.0 * (1 - 0.05 * m / 60) for m in range(0, 40, 2)]  # sampled every 2 minutes: -5 %/h
    assert judge.trend(every_two, list(range(0, 40, 2)))[0] == pytest.approx(-5.0)


def test_memory_growth_ignores_the_first_minute_and_spans_the_rest():
    floors = [400.0] + [500.0 + 2.0 * m for m in range(11)]  # a first-minute jump, then 2 MB a minute
    growth, error = judge.memory_growth(floors)
    assert growth == pytest.approx(2.0 * 10) and error == pytest.approx(0.0, abs=1e-9)
    assert judge.memory_growth([400.0] + [500.0] * 11)[0] == pytest.approx(0.0, abs=1e-9)
