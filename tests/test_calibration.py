"""The false-alarm budget and the calibrated tail: a series wilder than the model is
judged by its own history, the budget reads the same at any bucket width, and a burst
spread over an hour is found in 5-minute buckets."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.spikes import SpikeParams, detect_spikes
from config.detection import AlarmRate, DetectionConfig, parse_alarm_rate
from config.load import parse_config
from errors import ConfigError

START = datetime(2025, 1, 6)
HOUR = timedelta(hours=1)
FIVE = timedelta(minutes=5)


def day_night(length: int, level: float, per_hour: int = 1) -> np.ndarray:
    hours = (np.arange(length) // per_hour) % 24
    return level * (0.25 + 1.5 * np.exp(-((hours - 14) ** 2) / 18)) / per_hour


def bursty(rng: np.random.Generator, length: int, level: float) -> np.ndarray:
    """Poisson news with heavy-tailed bursts about once a day that are nobody's anomaly
    (a Pareto number of extra stories): heavier than any negative binomial."""
    counts = rng.poisson(day_night(length, level))
    starts = rng.random(length) < 1 / 24
    counts[starts] += np.minimum((rng.pareto(1.5, starts.sum()) + 1) * 3, 500).astype(int)
    return counts


# -- the budget ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "per"),
    [
        ("1/2w", 1, timedelta(weeks=2)),
        ("0.5/week", 0.5, timedelta(weeks=1)),
        ("2/30d", 2, timedelta(days=30)),
        ("1/month", 1, timedelta(days=30)),
        ("3 / day", 3, timedelta(days=1)),
    ],
)
def test_false_alarm_budgets_read_as_written(text: str, count: float, per: timedelta) -> None:
    assert parse_alarm_rate(text) == AlarmRate(count, per)


@given(st.text(max_size=20))
def test_any_budget_text_parses_to_a_positive_rate_or_a_clear_error(text: str) -> None:
    try:
        rate = parse_alarm_rate(text)
    except ValueError as exc:
        assert "false-alarm rate" in str(exc)
    else:
        assert rate.count > 0 and rate.per > timedelta(0)


@given(
    count=st.floats(0.01, 10),
    days=st.integers(1, 60),
    width=st.sampled_from([FIVE, timedelta(minutes=30), HOUR, timedelta(days=1)]),
)
def test_the_per_bucket_threshold_is_the_budget_spread_over_buckets(
    count: float, days: int, width: timedelta
) -> None:
    detection = DetectionConfig(false_alarms=f"{count}/{days}d")
    expected = min(0.1, count * width.total_seconds() / timedelta(days=days).total_seconds())
    assert detection.spike_threshold(width) == pytest.approx(expected)
    # Five-minute buckets test twelve times as often as hourly ones, at a twelfth of it.
    if detection.spike_threshold(HOUR) < 0.1:
        assert detection.spike_threshold(FIVE) == pytest.approx(
            detection.spike_threshold(HOUR) / 12
        )
    assert detection.quiet_for(width) > detection.spike_threshold(width)


def test_threshold_stays_an_expert_override() -> None:
    detection = DetectionConfig(threshold=0.001)
    assert detection.spike_threshold(FIVE) == detection.spike_threshold(timedelta(days=1)) == 0.001


def test_a_bad_budget_in_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="false_alarms"):
        parse_config({"detection": {"false_alarms": "often"}}, environ={})


# -- calibration --------------------------------------------------------------------------


def test_calibration_is_never_bolder_than_the_model() -> None:
    rng = np.random.default_rng(3)
    counts = np.stack([bursty(rng, 60 * 24, level) for level in (0.5, 3.0, 20.0)])
    # One pass: the same baseline both ways, so only the calibration differs.
    once = SpikeParams(threshold=0.002, max_passes=1)
    calibrated = detect_spikes(counts, START, HOUR, once)
    raw = detect_spikes(
        counts, START, HOUR, SpikeParams(threshold=0.002, max_passes=1, calibrate=False)
    )
    assert np.all(calibrated.tail_probability >= raw.tail_probability * (1 - 1e-9))
    assert (calibrated.tail_probability > 2 * raw.tail_probability).any()  # it does act


def test_a_series_that_bursts_every_day_keeps_to_its_budget() -> None:
    """The model alone fires on many daily bursts; once flags outrun the budget they are
    the series' habit and count among its peaks, and the flags come down toward it."""
    rng = np.random.default_rng(8)
    counts = np.stack([bursty(rng, 120 * 24, level) for level in (2.0, 5.0, 10.0, 30.0)])
    threshold = 0.0015  # one in four weeks, hourly
    calibrated = detect_spikes(counts, START, HOUR, SpikeParams(threshold=threshold))
    raw = detect_spikes(counts, START, HOUR, SpikeParams(threshold=threshold, calibrate=False))
    judged = calibrated.judged.sum()
    assert raw.anomalous.sum() / judged > 4 * threshold  # what the model alone does
    assert calibrated.anomalous.sum() / judged < 3 * threshold
    assert calibrated.anomalous.sum() < 0.6 * raw.anomalous.sum()


def test_a_real_spike_still_stands_out_of_a_bursty_series() -> None:
    rng = np.random.default_rng(9)
    found = 0
    for _ in range(5):
        counts = bursty(rng, 60 * 24, 5.0)
        at = 50 * 24 + 14
        counts[at] += 400  # far beyond the daily bursts (their median is 6)
        result = detect_spikes(counts, START, HOUR, SpikeParams(threshold=0.0015))
        found += bool(result.anomalous[at])
    assert found == 5


def test_thirty_stories_over_an_hour_are_found_in_five_minute_buckets() -> None:
    """2.5 stories per 5 minutes is under min_count; the hour they make is a spike."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        counts = rng.poisson(day_night(28 * 288, 0.5, per_hour=12))
        at = 25 * 288 + 14 * 12
        counts[at : at + 12] += 30 // 12 + (np.arange(12) < 30 % 12)
        threshold = DetectionConfig().spike_threshold(FIVE)
        result = detect_spikes(counts, START, FIVE, SpikeParams(threshold=threshold))
        assert result.anomalous[at : at + 12].any(), seed
        assert not result.anomalous[: at - 12].any()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    level=st.sampled_from([0.05, 1.0, 8.0, 60.0]),
    width=st.sampled_from([FIVE, HOUR, timedelta(days=1)]),
)
def test_tails_are_probabilities_and_spikes_are_below_the_threshold(
    seed: int, level: float, width: timedelta
) -> None:
    rng = np.random.default_rng(seed)
    per_hour = max(1, round(HOUR / width))
    length = int(timedelta(days=40) / width)
    mean = day_night(length * max(1, round(width / HOUR)), level)[:length] * (width / HOUR)
    counts = rng.poisson(mean if per_hour == 1 else day_night(length, level, per_hour))
    params = SpikeParams(threshold=DetectionConfig().spike_threshold(width))
    result = detect_spikes(counts, START, width, params)
    assert np.all((result.tail_probability > 0) & (result.tail_probability <= 1))
    assert np.all(np.isfinite(result.expected))
    assert np.all(result.tail_probability[result.anomalous] < params.threshold)


# -- through the CLI ----------------------------------------------------------------------


def write_series(path: Path, counts: np.ndarray, width: timedelta) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "count"])
        for i, count in enumerate(counts):
            writer.writerow([(START + i * width).isoformat(), int(count)])


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDIAWATCH_CONFIG", raising=False)
    return tmp_path


def test_detect_series_takes_a_false_alarm_budget(cli, no_config: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    path = no_config / "bursty.csv"
    write_series(path, bursty(rng, 90 * 24, 4.0), HOUR)
    loose = cli("detect", "--series", str(path), "--false-alarms", "2/w", "--format", "json")
    strict = cli("detect", "--series", str(path), "--false-alarms", "1/26w", "--format", "json")
    assert loose.code == 0 and strict.code == 0, (loose, strict)
    assert len(json.loads(strict.out)) < len(json.loads(loose.out))
    bad = cli("detect", "--series", str(path), "--false-alarms", "sometimes")
    assert bad.code == 2 and "false-alarm rate" in bad.err


def test_hours_of_correlated_five_minute_buckets_are_not_spikes() -> None:
    """A story's follow-ups land in the same hour: the trailing hour varies more than
    twelve independent buckets would, and that is learnt, not alarmed on."""
    rng = np.random.default_rng(21)
    weeks = 6
    length = weeks * 7 * 288
    base = rng.poisson(day_night(length, 2.0, per_hour=12))
    follow_ups = np.zeros(length, dtype=int)
    for start in np.flatnonzero(rng.random(length) < 0.01):  # a few times a day
        spread = start + rng.integers(0, 12, size=int(rng.integers(2, 6)))
        np.add.at(follow_ups, spread[spread < length], 1)
    counts = np.stack([base + follow_ups])
    threshold = DetectionConfig().spike_threshold(FIVE)
    result = detect_spikes(counts, START, FIVE, SpikeParams(threshold=threshold))
    onsets = np.flatnonzero(np.diff(result.anomalous[0].astype(int)) == 1)
    assert len(onsets) / weeks <= 0.25  # within the budget: one in four weeks


def test_a_csv_backtest_opens_what_the_service_would_open(  # type: ignore[no-untyped-def]
    cli, migrated_engine, now: datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive's stories per hour, written as a CSV, give ``detect --series`` the same
    onsets as ``alerts backtest`` over the archive: one detector, one set of episode rules."""
    from support.detect_fixtures import CLUSTER, PUBLISHERS, Newsroom, make_config

    from alerts.backtest import backtest
    from alerts.counts import BucketGrid, counts_per_bucket
    from alerts.verdicts import EXTRA_HISTORY
    from storage.engine import session_factory

    config = make_config()
    room = Newsroom(migrated_engine)
    room.background(now, days=40, seed=5)
    bursts = [now - timedelta(days=d, hours=h) for d, h in ((12, 3), (6, 9), (2, 15))]
    for n, start in enumerate(bursts):
        for i in range(10 + 4 * n):  # from every publisher: min_sources holds
            room.story(start + timedelta(minutes=4 * i), PUBLISHERS[i % len(PUBLISHERS)])
    since = now - timedelta(days=14)
    with session_factory(migrated_engine)() as session:
        events = backtest(session, config, since, now)
        bucket = config.detection.bucket
        grid = BucketGrid.covering(since - config.detection.history - EXTRA_HISTORY, now, bucket)
        stories = counts_per_bucket(session, grid, [CLUSTER])[CLUSTER].stories
    served = [e.bucket_start for e in events if e.cluster == CLUSTER and e.kind == "open"]
    assert len(served) >= len(bursts)

    path = tmp_path / "stories.csv"
    complete = [(grid.bucket_start(i), int(n)) for i, n in enumerate(stories)]
    complete = [(start, n) for start, n in complete if start + bucket <= now]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "stories"])
        writer.writerows((start.isoformat(), n) for start, n in complete)
    monkeypatch.chdir(tmp_path)  # no config.toml: the defaults, as make_config's
    monkeypatch.delenv("MEDIAWATCH_CONFIG", raising=False)
    run = cli("detect", "--series", str(path), "--format", "json")
    assert run.code == 0, run
    backtested = [datetime.fromisoformat(row["timestamp"]) for row in json.loads(run.out)]
    assert [t for t in backtested if t >= since] == served


def test_peaks_in_a_row_count_as_one_onset() -> None:
    """Sixty peak buckets as ten six-bucket bursts are ten onsets, not sixty: a bucket more
    surprising than all of them is judged rarer than if the sixty had come one by one (the
    extremal index by runs, 10/60, shrunk toward 1 by the prior's pseudo-peaks)."""
    from alerts.calibration import Calibration, calibrated_tail

    n = 6000
    calibration = Calibration(threshold=0.001, min_count=1)

    def whole(values: np.ndarray) -> np.ndarray:  # the window is the whole series
        return np.full_like(values, values.sum(), dtype=float)

    def judged_with(peaks: np.ndarray) -> float:
        tail = np.full(n, 0.5)
        tail[peaks] = 1e-4
        tail[-1] = 1e-9  # the bucket being judged
        sample, counts = np.ones(n), np.full(n, 10.0)
        return float(calibrated_tail(tail, sample, np.zeros(n), counts, whole, calibration)[-1])

    one_by_one = judged_with(np.arange(60) * 90 + 5)
    in_bursts = judged_with((np.arange(10)[:, None] * 500 + 5 + np.arange(6)).ravel())
    assert in_bursts < one_by_one / 2
    assert in_bursts >= 1e-9  # never bolder than the model


def _onsets(flags: np.ndarray, cooldown: int) -> int:
    """Runs of flagged buckets, runs closer than ``cooldown`` buckets counted as one."""
    flagged = np.flatnonzero(flags)
    return 0 if flagged.size == 0 else 1 + int((np.diff(flagged) > cooldown).sum())


def test_new_five_minute_clusters_do_not_alarm_on_noise_in_their_first_week() -> None:
    """With days of history an hour slot's rate is uncertain, and the twelve buckets of
    an hour share that error (they read the same slot): the hour they make is judged with
    it. Summed as independent errors, new clusters alarmed on noise at twice the target."""
    from bench.synthetic import null_series

    rng = np.random.default_rng(0)
    series = [
        null_series(rng, weeks=1, bucket=FIVE, level=level, start=START)
        for level in ("mid", "busy")
        for _ in range(60)
    ]
    counts = np.array([[count for _, count in rows] for rows in series], dtype=float)
    detection = DetectionConfig()
    params = SpikeParams(threshold=detection.spike_threshold(FIVE))
    result = detect_spikes(counts, START, FIVE, params)
    cooldown = detection.cooldown // FIVE
    onsets = sum(_onsets(row, cooldown) for row in result.anomalous)
    assert onsets / len(series) < 0.1  # false onsets per cluster-week


def test_a_sparse_cluster_may_come_in_clumps_until_its_history_says_otherwise() -> None:
    """Two weeks of about a story a day cannot show whether its stories come in clumps
    (copies dedupe missed, follow-ups); the prior says they may, so a day of five is about
    a one-in-fifty day. A Poisson prior called it one in a hundred, and sparse daily
    clusters alarmed on their ordinary busy days."""
    day = timedelta(days=1)
    history = [1, 2, 0, 1, 1, 2, 1, 0, 2, 1, 1, 0, 2, 1]
    params = SpikeParams(threshold=DetectionConfig().spike_threshold(day))
    result = detect_spikes([*history, 5], START, day, params)
    assert 1 / 60 < result.tail_probability[-1] < 1 / 30


def test_a_burst_that_keeps_coming_back_stops_alarming() -> None:
    """Every three or four days the same four-hour burst, triple the usual at its height:
    by the second month it is the series' habit, not news. The calibration counts each
    burst as one run with its highest surprise, flags included (censored at the
    threshold's): when flagged bursts were left out, it only ever saw the bursts that fell
    short, and went on flagging 2.2 a month against a budget of one."""
    rng = np.random.default_rng(0)
    days = 70
    rows = []
    for series in range(160):
        rate = np.full(days * 24, 20.0)
        for day in range(4, days - 1, 3 + series % 2):
            at = day * 24 + int(rng.integers(0, 18))
            rate[at : at + 4] *= 1 + 2.0 * np.array([0.5, 1.0, 0.8, 0.5])
        rows.append(rng.poisson(rate))
    params = SpikeParams(threshold=DetectionConfig().spike_threshold(HOUR))
    flags = detect_spikes(np.array(rows, dtype=float), START, HOUR, params).anomalous
    last_month = flags[:, -28 * 24 :]
    bursts = int((last_month[:, 1:] & ~last_month[:, :-1]).sum() + last_month[:, 0].sum())
    budget = params.threshold * 28 * 24  # flagged buckets a month the budget allows
    assert bursts / len(rows) <= 1.25 * budget


def test_three_stories_in_a_month_do_not_make_the_fourth_ordinary() -> None:
    """Five-minute buckets, about five stories each; in the window before the last story,
    three stories (two hours at four to ten times the usual, a week apart), then a fourth
    at twice the usual for two hours. Three flagged bursts are news, not yet a habit: when
    three were a habit, the fourth was seen in 51 of these 90 series; 72 when four were,
    and 79 with a story's flickering flags counted as one burst. It must be seen in at
    least two in three."""
    five = timedelta(minutes=5)
    per_day = 288
    rng = np.random.default_rng(2)
    rows, fourth = [], []
    for _ in range(90):
        rate = np.full(42 * per_day, 5.0)
        for day in (16, 23, 30):
            at = day * per_day + int(rng.integers(0, 200))
            rate[at : at + 24] *= rng.uniform(4, 10)
        at = 38 * per_day + int(rng.integers(0, 200))
        rate[at : at + 24] *= 2.0
        fourth.append(at)
        rows.append(rng.poisson(rng.gamma(10.0, rate / 10.0)))
    params = SpikeParams(threshold=DetectionConfig().spike_threshold(five))
    flags = detect_spikes(np.array(rows, dtype=float), START, five, params).anomalous
    found = sum(bool(flags[i, at : at + 24].any()) for i, at in enumerate(fourth))
    assert found >= 2 / 3 * len(fourth), found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.booleans(), min_size=1, max_size=30), min_size=1, max_size=3),
    st.integers(0, 6),
)
def test_bridging_fills_exactly_the_short_gaps_between_marks(
    rows: list[list[bool]], gap: int
) -> None:
    from alerts.calibration import bridged

    width = max(len(row) for row in rows)
    marks = np.array([row + [False] * (width - len(row)) for row in rows])
    out = bridged(marks, gap)
    for r, row in enumerate(marks):
        marked = np.flatnonzero(row)
        for t in range(width):
            before = marked[marked <= t]
            after = marked[marked >= t]
            short = bool(before.size and after.size and after[0] - before[-1] - 1 < gap)
            assert out[r, t] == (bool(row[t]) or short), (row, gap, t)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 10), st.sampled_from([0.0, 1.0])), max_size=40),
    st.integers(1, 3),
)
def test_runs_are_counted_once_where_they_end_with_their_highest_kept_excess(
    cells: list[tuple[bool, float, float]], rows: int
) -> None:
    from alerts.calibration import run_maxima

    width = max(1, len(cells))
    cells = (cells or [(False, 0.0, 0.0)]) * rows
    peaks = np.array([c[0] for c in cells]).reshape(rows, width)
    excess = np.array([c[1] for c in cells]).reshape(rows, width)
    weight = np.array([c[2] for c in cells]).reshape(rows, width)
    ended, maxima = run_maxima(peaks, excess, weight)
    for r in range(rows):
        expected_ends, expected_max = np.zeros(width), np.zeros(width)
        kept: list[float] = []
        for i in range(width):
            if peaks[r, i] and weight[r, i] > 0:
                kept.append(excess[r, i])
            last = peaks[r, i] and (i + 1 == width or not peaks[r, i + 1])
            if last and kept:
                expected_ends[i], expected_max[i] = 1.0, max(kept)
            if not peaks[r, i] or last:
                kept = []
        assert ended[r].tolist() == expected_ends.tolist()
        assert maxima[r].tolist() == expected_max.tolist()
