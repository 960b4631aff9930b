"""``mediawatch detect --series FILE.csv``: the contract, with or without a config file."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

START = datetime(2025, 3, 3)


def write_series(path: Path, spikes: dict[int, int], step: timedelta, days: int = 30) -> None:
    rng = np.random.default_rng(1)
    per_day = int(timedelta(days=1) / step)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for i in range(days * per_day):
            hour = (i * step / timedelta(hours=1)) % 24
            mean = (3 + 6 * np.exp(-((hour - 14) ** 2) / 18)) * step / timedelta(hours=1)
            count = spikes.get(i, int(rng.poisson(mean)))
            if i % 97 == 5 and i not in spikes:
                continue  # a missing bucket counts 0
            writer.writerow([(START + i * step).isoformat() + "Z", count])


@pytest.fixture(autouse=True)
def _no_config_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDIAWATCH_CONFIG", raising=False)


def test_json_lists_each_spike_onset_once(cli, tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    onset = 24 * 20 + 13
    write_series(
        path, {onset: 70, onset + 1: 80, onset + 2: 60, 24 * 26 + 11: 55}, timedelta(hours=1)
    )
    result = cli("detect", "--series", str(path), "--format", "json")
    assert result.code == 0, result
    rows = json.loads(result.out)
    assert [row["timestamp"] for row in rows] == [
        (START + onset * timedelta(hours=1)).isoformat() + "Z",
        (START + (24 * 26 + 11) * timedelta(hours=1)).isoformat() + "Z",
    ]
    first = rows[0]
    assert set(first) >= {"timestamp", "count", "expected", "score"}  # the contract
    assert first["every"].endswith(("hours", "days", "weeks", "years"))
    assert first["count"] == 70
    assert 3 < first["expected"] < 15
    assert first["score"] > 3  # -log10 of the tail probability


def test_updates_show_the_alert_an_open_episode_sends_for_a_bigger_story(
    cli, tmp_path: Path
) -> None:
    """A quiet cluster (one story a day) has a day of eight; its episode stays open
    while the next days are not quiet, and two days on comes a day of sixty. The service
    sends that day as the episode's update: ``--updates`` shows it, so a backtest lists
    every alert a user would have had, and the default still lists one row per onset."""
    path = tmp_path / "daily.csv"
    rng = np.random.default_rng(3)
    counts = rng.poisson(1.0, 60)
    counts[40], counts[41], counts[42] = 8, 6, 60
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["day", "stories"])
        for i, count in enumerate(counts):
            writer.writerow([(START + i * timedelta(days=1)).date().isoformat(), int(count)])
    onsets = json.loads(cli("detect", "--series", str(path), "--format", "json").out)
    every = cli("detect", "--series", str(path), "--format", "json", "--updates")
    assert every.code == 0, every
    alerts = json.loads(every.out)
    day = lambda n: (START + n * timedelta(days=1)).date().isoformat()  # noqa: E731
    assert [(row["timestamp"], row["kind"]) for row in alerts] == [
        (day(40), "open"),
        (day(42), "update"),
    ]
    assert alerts[1]["count"] == 60
    assert [row["timestamp"] for row in onsets] == [day(40)]
    assert all("kind" not in row for row in onsets)


def test_bucket_width_is_inferred_from_the_timestamps(cli, tmp_path: Path) -> None:
    path = tmp_path / "five-minutes.csv"
    step = timedelta(minutes=5)
    write_series(path, {288 * 10 + 160: 40}, step, days=14)
    result = cli("detect", "--series", str(path), "--format", "json", "--threshold", "1e-6")
    rows = json.loads(result.out)
    assert [row["timestamp"] for row in rows] == [
        (START + (288 * 10 + 160) * step).isoformat() + "Z"
    ]


def test_threshold_and_min_count_overrides(cli, tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    write_series(path, {24 * 20 + 13: 25}, timedelta(hours=1))
    assert len(json.loads(cli("detect", "--series", str(path), "--format", "json").out)) == 1
    strict = cli("detect", "--series", str(path), "--format", "json", "--min-count", "30")
    assert json.loads(strict.out) == []
    tighter = cli("detect", "--series", str(path), "--format", "json", "--threshold", "1e-30")
    assert json.loads(tighter.out) == []


def test_table_format_is_readable(cli, tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    write_series(path, {24 * 20 + 13: 70}, timedelta(hours=1))
    result = cli("detect", "--series", str(path))
    assert result.code == 0, result
    header = result.out.splitlines()[0].split("\t")
    assert header == ["timestamp", "count", "expected", "score", "every"]


def test_config_values_are_used_when_there_is_a_config(cli, write_config, tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    write_series(path, {24 * 20 + 13: 25}, timedelta(hours=1))
    config = write_config("[detection]\nmin_count = 40\n")
    result = cli("--config", str(config), "detect", "--series", str(path), "--format", "json")
    assert result.code == 0, result
    assert json.loads(result.out) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("timestamp,count\n2025-01-01T00:00,abc\n", "line 2: count 'abc' is not a number"),
        ("timestamp,count\nyesterday,3\n", "line 2: 'yesterday' is not a timestamp"),
        ("timestamp,count\n", "no rows"),
        # Two of these in one bucket summed to inf: a traceback before.
        ("timestamp,count\n2025-01-01T00:00,1e308\n", "count must be a number from 0 to 1e+15"),
        (
            "timestamp,count\n0,1\n1,2\n2,3\n4000000000,4\n",
            "4000000001 buckets, more than 1,000,000",
        ),
    ],
)
def test_bad_series_is_one_line(cli, tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    result = cli("detect", "--series", str(path), "--format", "json")
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "option", [["--updates"], ["--threshold", "0.001"], ["--false-alarms", "1/2w"]]
)
def test_series_options_without_a_series_are_refused(cli, option: list[str]) -> None:
    """Without --series, ``detect`` judges the archive and queues real alerts with the
    [detection] rules: an option that only shapes a backtest must not be dropped in
    silence from that run."""
    result = cli("detect", *option)
    assert result.code == 2
    assert f"{option[0]} only apply with --series" in result.err


def test_find_onsets_refuses_a_span_of_too_many_buckets() -> None:
    from alerts.episodes import EpisodePolicy
    from alerts.series import Series, SeriesError, find_onsets
    from alerts.spikes import SpikeParams

    times = [START, START + timedelta(days=365)]
    series = Series(["a", "b"], times, [1.0, 2.0])
    with pytest.raises(SeriesError, match="more than 1,000,000"):
        find_onsets(series, SpikeParams(), EpisodePolicy(), bucket=timedelta(seconds=1))
