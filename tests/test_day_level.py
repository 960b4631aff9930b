"""The day's level (``Baseline._recent_level``): sub-daily buckets are judged against the
hours before them as well as against the profile. Each test here failed before the
change it pins (found by review: the level read only unflagged buckets, and took every
empty bucket of a busy cluster for an outage)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.baseline import _lagged_sum
from alerts.spikes import SpikeParams, detect_spikes
from config.detection import DetectionConfig

START = datetime(2024, 1, 1)  # a Monday
FIVE = timedelta(minutes=5)
PER_DAY = 288


def usual(days: int, level: float) -> np.ndarray:
    """Expected stories per five minutes: busiest at 14:00, quieter at weekends."""
    t = np.arange(days * PER_DAY)
    hour = (t / 12.0) % 24
    weekend = (t // PER_DAY) % 7 >= 5
    return level * (0.4 + np.exp(-((hour - 14) ** 2) / 20)) * np.where(weekend, 0.6, 1.0)


def test_a_feed_polled_every_half_hour_is_not_an_outage() -> None:
    """Stories are counted when they are seen: a source polled every thirty minutes
    leaves five of six buckets of a busy cluster empty. Those zeros are how this cluster
    looks, not an outage; taken for outages (and skipped), they pushed the day's level
    to twice the truth and the stories went unseen."""
    rng = np.random.default_rng(3)
    days = 22
    rate = usual(days, 20.0)
    published = rng.poisson(rate).astype(float)
    last = (days - 1) * PER_DAY
    stories = [last + 10 * 12, last + 15 * 12, last + 20 * 12]
    for at in stories:  # 1200 more stories in an hour, where about 340 is the busiest
        published[at : at + 12] += rng.poisson(100.0, 12)
    total = np.cumsum(published)
    polls = np.arange(5, len(published), 6)
    seen = np.zeros_like(published)
    seen[polls] = np.diff(np.concatenate([[0.0], total[polls]]))
    result = detect_spikes(seen, START, FIVE, SpikeParams.from_config(DetectionConfig(), FIVE))
    day = slice(last, last + PER_DAY)
    assert 0.8 < result.expected[day].sum() / rate[day].sum() < 1.25  # 2.2 before
    # The 15:00 story sits on the busiest hour in half-hour lumps (a tail of 6e-4
    # against 1e-4): the profile alone did not see it either.
    assert result.anomalous[stories[0] : stories[0] + 18].any()
    assert result.anomalous[stories[2] : stories[2] + 18].any()


def test_a_day_that_stays_hot_becomes_its_own_level() -> None:
    """A mid-sized cluster whose day turns to twice its usual rate at noon and stays
    there. Reading only unflagged buckets, the day's level fell back to the profile as
    soon as the afternoon was flagged, and every bucket until midnight was flagged (and
    each bucket's level hung on the verdicts before it). Reading every bucket, bursts
    clipped, the evening is measured against the day it is."""
    rng = np.random.default_rng(0)
    days = 22
    t = np.arange(days * PER_DAY)
    hour = (t / 12.0) % 24
    rate = 4.0 * (0.4 + np.exp(-((hour - 14) ** 2) / 20))
    rate = rate * rng.gamma(20.0, 1 / 20, size=days).repeat(PER_DAY)
    last = (days - 1) * PER_DAY
    rate[last:] *= 1 + np.clip((hour[last:] - 12) / 2, 0, 1)
    counts = rng.poisson(rate).astype(float)
    result = detect_spikes(counts, START, FIVE, SpikeParams.from_config(DetectionConfig(), FIVE))
    evening = slice(last + 18 * 12, last + PER_DAY)
    assert result.expected[evening].sum() / rate[evening].sum() > 0.45  # 0.32 before
    assert result.anomalous[evening].mean() < 0.6  # every bucket before


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 1e6), min_size=1, max_size=80),
    st.integers(1, 40),
    st.integers(1, 90),
)
def test_the_recent_window_is_the_span_ending_gap_buckets_before(
    values: list[float], span: int, gap: int
) -> None:
    summed = _lagged_sum(np.array([values]), span, gap)[0]
    for t in range(len(values)):
        expected = sum(values[max(0, t - gap - span + 1) : max(0, t - gap + 1)])
        assert summed[t] == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_a_level_that_steps_overnight_is_not_a_spike_every_morning() -> None:
    """Busy clusters whose days each run at their own level (a gamma with CV 0.32),
    stepping at midnight: the first hours of a day are measured against the evening
    before. With one variance inflation for every hour of the day, the hour test flagged
    18 of 370 days (the profile alone, 5); each hour now keeps its own."""
    rng = np.random.default_rng(100)
    days, series = 40, 10
    level = rng.gamma(10.0, 0.1, size=(series, days)).repeat(PER_DAY, axis=1)
    counts = rng.poisson(usual(days, 20.0) * level).astype(float)
    params = SpikeParams.from_config(DetectionConfig(), FIVE)
    flags = detect_spikes(counts, START, FIVE, params).anomalous
    per_day = flags[:, 3 * PER_DAY :].reshape(series, days - 3, PER_DAY).any(axis=2)
    assert per_day.sum() <= 8
