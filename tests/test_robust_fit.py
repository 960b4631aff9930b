"""Big stories do not blind the detector to the next one. The negative binomial models a
series' ordinary buckets and the calibration its tail; neither may let two or three
giant stories, or the long fading hours after a story, say that stories are ordinary.
Each test here failed before its change (winsorised dispersion moments, winsorised run
excesses, the aftermath left out of the baseline). On tweet-like 5-minute series of my
own (several stories a month at 3-50 times the usual; a smoke test, not proof) the
detector found 52 of 79 labelled stories before and finds 62 now."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from alerts.series import Series, find_onsets
from alerts.spikes import SpikeParams, detect_spikes
from alerts.verdicts import policy_from_config
from bench.synthetic import null_series
from config.detection import DetectionConfig

START = datetime(2025, 1, 6)  # a Monday
FIVE = timedelta(minutes=5)
PER_DAY = 288


def ordinary(rng: np.random.Generator, days: int, level: float) -> np.ndarray:
    """Five-minute counts with a day/night profile and a rate that wanders a little."""
    n = days * PER_DAY
    hours = (np.arange(n) % PER_DAY) / 12
    profile = 0.4 + 1.2 * np.exp(-((hours - 15) ** 2) / 30)
    mean = level * profile / profile.mean()
    return rng.poisson(rng.gamma(12.0, mean / 12.0)).astype(float)


def story(counts: np.ndarray, at: int, times: float, decay: float, level: float) -> np.ndarray:
    """``counts`` plus a story from bucket ``at``: ``times`` the usual at once, fading
    with an e-folding of ``decay`` buckets."""
    after = np.arange(len(counts)) - at
    extra = np.where(after >= 0, level * (times - 1) * np.exp(-np.maximum(after, 0) / decay), 0)
    return counts + np.rint(extra)


def with_giants(seed: int, days: int) -> np.ndarray:
    """``days`` of ordinary counts (15 per bucket) with stories at 60 times the usual on
    days 9, 15 and 21."""
    counts = ordinary(np.random.default_rng(seed), days, level=15.0)
    for day in (9, 15, 21):
        counts = story(counts, day * PER_DAY + 200, times=60.0, decay=4.0, level=15.0)
    return counts


def flagged_within(counts: np.ndarray, at: int, buckets: int) -> bool:
    params = SpikeParams.from_config(DetectionConfig(), FIVE)
    result = detect_spikes(counts, START, FIVE, params)
    return bool(result.anomalous[at : at + buckets].any())


def test_a_story_that_fades_for_hours_does_not_hide_the_next() -> None:
    """A story that fades over half a day leaves hundreds of buckets above the usual
    and unflagged. Counted in full by the dispersion's moments, they made the next
    week's spread ten times wider, and a story at ten times the usual went unseen."""
    misses = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        counts = ordinary(rng, 24, level=12.0)
        counts = story(counts, 12 * PER_DAY + 180, times=25.0, decay=150.0, level=12.0)
        counts = story(counts, 16 * PER_DAY + 170, times=20.0, decay=120.0, level=12.0)
        nxt = 20 * PER_DAY + 190
        counts = story(counts, nxt, times=10.0, decay=24.0, level=12.0)
        misses += not flagged_within(counts, nxt, 24)
    assert misses == 0


def test_two_giant_stories_do_not_make_a_big_one_ordinary() -> None:
    """Three stories at 60 times the usual in three weeks, then one at six times the
    usual for two hours. Before, that fourth story was missed on every seed: the giants'
    surprise (scores near 50 where the threshold's is 4) went into the calibration's
    moments at face value and into the spread, and a story ten times less surprising
    looked like the series' habit."""
    misses = 0
    for seed in range(6):
        counts = with_giants(100 + seed, 30)
        nxt = 27 * PER_DAY + 180
        counts = story(counts, nxt, times=6.0, decay=24.0, level=15.0)
        misses += not flagged_within(counts, nxt, 24)
    assert misses == 0


def test_ordinary_days_between_the_stories_stay_quiet() -> None:
    """The other side of the robust fits: with the stories' weight capped, the
    ordinary buckets of the same series still raise no more than the budget's share."""
    params = SpikeParams.from_config(DetectionConfig(), FIVE)
    onsets = 0
    weeks = 0.0
    for seed in range(6):
        counts = with_giants(200 + seed, 42)
        result = detect_spikes(counts, START, FIVE, params)
        quiet = result.anomalous[24 * PER_DAY :]  # the last 18 days hold no story
        onsets += int((quiet[1:] & ~quiet[:-1]).sum() + quiet[0])
        weeks += len(quiet) / (7 * PER_DAY)
    budget = DetectionConfig().false_alarms
    assert onsets / weeks <= budget.count / (budget.per / timedelta(weeks=1))


def test_a_story_s_aftermath_is_not_the_usual() -> None:
    """Two stories at eight times the usual, each fading over a day: their flagged hours
    stayed out of the baseline, but the long tail after them (still well above the
    usual, no longer a spike) went in, and raised the level and the spread. A story at
    4.5 times the usual three days later was missed on 3 of 12 seeds; with the
    aftermath left out too, on none."""
    misses = 0
    for seed in range(12):
        counts = ordinary(np.random.default_rng(300 + seed), 30, level=12.0)
        for day in (18, 23):
            counts = story(counts, day * PER_DAY + 170, times=8.0, decay=200.0, level=12.0)
        nxt = 27 * PER_DAY + 180
        counts = story(counts, nxt, times=4.5, decay=36.0, level=12.0)
        misses += not flagged_within(counts, nxt, 36)
    assert misses == 0


def test_a_news_day_running_hot_for_hours_is_not_a_spike_every_hour() -> None:
    """A busy cluster (100 stories an hour) whose rate wanders for hours at a time, as news
    days do (log-rate sd 0.5, six hours' memory): one in four weeks is the budget. Against
    the two weeks' profile alone every hot afternoon was a spike (0.45 flagged runs a
    week); against the level of the hours before, it is the day's level."""
    rng = np.random.default_rng(3)
    hour = timedelta(hours=1)
    config = DetectionConfig()
    params = SpikeParams.from_config(config, hour)
    policy = policy_from_config(config, hour)
    weeks, clusters = 8, 16
    onsets = 0
    for _ in range(clusters):
        rows = null_series(rng, weeks, hour, "busy", wander=0.5)
        times = [moment for moment, _ in rows]
        series = Series([t.isoformat() for t in times], times, [float(c) for _, c in rows])
        onsets += len(find_onsets(series, params, policy))
    assert onsets / (clusters * weeks) <= 0.25


def test_an_outage_is_not_a_quiet_day() -> None:
    """Four hours without a single story where 20-60 come every five minutes is a crawler
    or a feed down, not the day's level: once it ends, nothing is flagged that would not
    have been flagged without it. (Read as a level, every recovery was a spike.)"""
    params = SpikeParams.from_config(DetectionConfig(), FIVE)
    for seed in range(10):
        counts = ordinary(np.random.default_rng(seed), 21, level=40.0)
        outage = 18 * PER_DAY + 9 * 12
        down = counts.copy()
        down[outage : outage + 48] = 0
        after = slice(outage + 48, outage + 48 + 72)  # the six hours after it
        with_outage = detect_spikes(down, START, FIVE, params).anomalous[after]
        without = detect_spikes(counts, START, FIVE, params).anomalous[after]
        assert not (with_outage & ~without).any(), seed
