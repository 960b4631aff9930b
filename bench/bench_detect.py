"""Spike detection: speed, and how good its alerts are. Prints figures; no asserts.

1. Speed: 200 clusters x one year of hourly buckets, seconds (best of three untraced
   runs) and peak memory (one more run, under tracemalloc), beside a naive Poisson
   z-score against a trailing 14-day mean over the same data.
2. NAB standard-profile scores (bench/nab.py) on ``../shared/detection-dev`` of what
   ``mediawatch detect --series FILE --format json`` prints with its defaults (every
   row's ``timestamp`` is a detection), beside NAB's windowed Gaussian (bench/baselines.py)
   measured in the same run.
3. False alarms per series-week on the anomaly-free dev series and on synthetic null
   series (bench/synthetic.py), and recall of injected spikes of 30-60 stories in an
   hour at 5-minute, hourly and daily buckets.
4. NAB scores on tweet-like semi-synthetic series with labelled stories
   (bench/tweetlike.py, a smoke test of our own), beside the windowed Gaussian.

``python bench/bench_detect.py --tweet-seeds 55-62 --null-series 200`` runs section 4 on
eight seeds (with their mean) and the null sets on four times as many series (the default
50 put 16-17 series in each level, and a cell's rate is that noisy).

The CLI runs in-process from an empty temporary directory with $MEDIAWATCH_CONFIG
unset, so no config.toml can change its defaults. Sections 2-3 need the shared data
(``../shared/detection-dev`` from the repository root) and are skipped without it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from alerts.spikes import detect_spikes, tail_probability
from bench import nab, synthetic, tweetlike
from bench.baselines import NAB_WINDOW, NAB_Z_THRESHOLD, windowed_gaussian
from config.detection import DetectionConfig

CLUSTERS = 200
HOURS = 365 * 24
START = datetime(2025, 1, 6)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_ROOT = REPO_ROOT.parent / "shared" / "detection-dev"
WEEK = timedelta(days=7)

NULL_SERIES = 50
NULL_WEEKS = 8
RECALL_SERIES = 30
TWEET_LIKE_SERIES = 20
TWEET_LIKE_SEED = 55
SPIKE_STORIES = (30, 60)
BUCKETS = {
    "5-minute": timedelta(minutes=5),
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
}
LEVELS: tuple[synthetic.Level, ...] = ("quiet", "mid", "busy")


# --- 1. speed ------------------------------------------------------------------------


def make_counts(rng: np.random.Generator) -> np.ndarray:
    hours = np.arange(HOURS) % 24
    profile = 0.25 + 1.5 * np.exp(-((hours - 14) ** 2) / 18)
    weekday = ((np.arange(HOURS) // 24) % 7 < 5) * 0.5 + 0.6
    levels = rng.lognormal(mean=0.5, sigma=1.2, size=(CLUSTERS, 1))
    mean = levels * profile * weekday
    counts = rng.poisson(rng.gamma(5.0, mean / 5.0))
    bursts = rng.integers(24 * 20, HOURS, size=(CLUSTERS, 6))
    for row, columns in enumerate(bursts):
        counts[row, columns] += rng.poisson(6 * mean[row, columns] + 5)
    return counts


def naive_poisson_z(counts: np.ndarray, window: int = 14 * 24) -> np.ndarray:
    cumulative = np.concatenate([np.zeros((counts.shape[0], 1)), np.cumsum(counts, 1)], 1)
    end = np.arange(counts.shape[1])
    begin = np.maximum(end - window, 0)
    mean = (cumulative[:, end] - cumulative[:, begin]) / np.maximum(end - begin, 1)
    return (counts - mean) / np.sqrt(np.maximum(mean, 0.1)) > 3.09


def measure(label: str, run: Callable[[], object], repeats: int = 3) -> float:
    """Best of ``repeats`` untraced runs (seconds), and the peak memory of one more run
    under tracemalloc (which slows numpy's allocations: timed apart, it adds nothing)."""
    seconds = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds = min(seconds, time.perf_counter() - started)
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    flagged = int(np.asarray(result).sum())
    print(
        f"{label:<34} {seconds:6.2f} s (best of {repeats})   peak {peak / 2**20:7.1f} MiB"
        f"   flagged {flagged}"
    )
    return seconds


def bench_speed() -> None:
    counts = make_counts(np.random.default_rng(2024))
    buckets = counts.size
    print(f"{CLUSTERS} clusters x {HOURS} hourly buckets = {buckets:,} buckets")
    baseline = measure("naive Poisson z-score (baseline)", lambda: naive_poisson_z(counts))
    detector = measure(
        "NB detector (alerts.spikes)",
        lambda: detect_spikes(counts, START, timedelta(hours=1)).anomalous,
    )
    chunked = measure(
        "NB detector, 50 clusters at a time",
        lambda: np.concatenate(
            [
                detect_spikes(counts[i : i + 50], START, timedelta(hours=1)).anomalous
                for i in range(0, CLUSTERS, 50)
            ]
        ),
    )
    print(f"detector / baseline: {detector / baseline:.1f}x; target < 2 s: {detector:.2f} s")
    print(f"chunked: {chunked:.2f} s ({buckets / chunked / 1e6:.1f} M buckets/s)")


# --- the detector under test: the CLI with its defaults --------------------------------


def mediawatch_onsets(series: Path) -> list[datetime]:
    """Onsets ``mediawatch detect --series SERIES --format json`` prints, run in-process."""
    return [moment for moment, _ in mediawatch_alerts(series, updates=False)]


def mediawatch_alerts(series: Path, updates: bool = True) -> list[tuple[datetime, str]]:
    """``(timestamp, kind)`` of the alerts ``mediawatch detect --series SERIES --updates
    --format json`` prints (onsets and updates), run in-process."""
    from mediawatch.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    args = ["detect", "--series", str(series), "--format", "json"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args + (["--updates"] if updates else []))
        except SystemExit as exc:
            code = exc.code
    if code not in (0, None):
        raise RuntimeError(f"mediawatch detect {series.name} exited {code}: {err.getvalue()}")
    return [
        (datetime.fromisoformat(row["timestamp"]), row.get("kind", "open"))
        for row in json.loads(out.getvalue())
    ]


def read_values(path: Path) -> np.ndarray:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        next(rows, None)
        return np.array([float(row[1]) for row in rows if row])


def series_weeks(stamps: Sequence[datetime]) -> float:
    """Weeks a series covers, counting its last bucket."""
    step = stamps[1] - stamps[0] if len(stamps) > 1 else timedelta(0)
    return (stamps[-1] - stamps[0] + step) / WEEK


# --- 2. NAB scores on the dev set -------------------------------------------------------


def bench_nab(corpus: dict[str, nab.Labelled]) -> None:
    print(f"\nNAB standard profile on {DEV_ROOT.name}/ ({len(corpus)} files)")
    print(
        f"windowed Gaussian: NAB's parameters (window {NAB_WINDOW}, step 1), fires on every"
        f" row with |z| >= {NAB_Z_THRESHOLD} (NAB's optimised threshold 1.0)"
    )
    ours: dict[str, list[datetime]] = {}
    gaussian: dict[str, list[datetime]] = {}
    for name, labelled in corpus.items():
        ours[name] = mediawatch_onsets(DEV_ROOT / name)
        fired = windowed_gaussian(read_values(DEV_ROOT / name))
        gaussian[name] = [labelled.timestamps[i] for i in fired]
    mine = nab.score_corpus(corpus, ours)
    theirs = nab.score_corpus(corpus, gaussian)
    header = f"{'file':<52} {'win':>3}  {'mediawatch':>23}  {'windowed Gaussian':>23}"
    print(header)
    print(f"{'':<52} {'':>3}  {'score  found  FP':>23}  {'score  found  FP':>23}")
    for name in corpus:
        print(
            f"{name:<52} {mine.files[name].windows:>3}  {_file_cells(mine.files[name])}"
            f"  {_file_cells(theirs.files[name])}"
        )
    ratio = _ratio(mine.normalised, theirs.normalised)
    print(
        f"{'overall (raw scores summed, then normalised)':<56}"
        f"  {_number(mine.normalised):>7}{'':>16}  {_number(theirs.normalised):>7}"
    )
    print(
        f"raw: mediawatch {mine.raw:.3f}, windowed Gaussian {theirs.raw:.3f},"
        f" null {mine.null:.1f}, perfect {mine.perfect:.1f}"
    )
    print(f"mediawatch / windowed Gaussian: {ratio}")


def _file_cells(score: nab.FileScore) -> str:
    found = f"{score.detected_windows}/{score.windows}"
    return f"{_number(score.normalised):>7} {found:>6} {score.false_positives:>4}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "n/a"
    return f"{ours / theirs:.2f}x"


# --- 3. false alarms and recall on synthetic series ------------------------------------


def bench_no_anomaly(corpus: dict[str, nab.Labelled]) -> None:
    print("\nFalse alarms per series-week on anomaly-free dev series (every detection is one)")
    for name, labelled in corpus.items():
        if labelled.windows:
            continue
        weeks = series_weeks(labelled.timestamps)
        onsets = mediawatch_onsets(DEV_ROOT / name)
        fired = windowed_gaussian(read_values(DEV_ROOT / name))
        scored = nab.score_file(labelled, onsets).false_positives
        print(
            f"{name}: {weeks:.1f} weeks; mediawatch {len(onsets)} onsets"
            f" = {len(onsets) / weeks:.3f}/week ({scored} after NAB's probation);"
            f" windowed Gaussian {len(fired)} rows = {len(fired) / weeks:.3f}/week"
        )


def bench_null_set(workdir: Path, count: int = NULL_SERIES) -> None:
    for label, bucket in BUCKETS.items():
        _null_set(workdir, "leaked", bucket, label, count=count)
    _null_set(workdir, "reprints", timedelta(hours=1), "hourly", count=count)
    for label in ("5-minute", "hourly"):
        _null_set(workdir, "leaked", BUCKETS[label], label, wander=WANDER, count=count)


WANDER = 0.5
"""The stress test's drifting rate: a log-rate sd of 0.5 (hours 1.6 times as busy or as
quiet as usual are one sd), remembering for hours as real news days do. The budget is
the bound to compare with: the model knows no drift, only its calibration sees it."""


def _null_set(
    workdir: Path,
    clumps: synthetic.Clumps,
    bucket: timedelta,
    label: str,
    wander: float = 0.0,
    count: int = NULL_SERIES,
) -> None:
    rng = np.random.default_rng(12)
    share, (low, high) = synthetic.CLUMPS[clumps]
    stress = clumps != "leaked" or wander > 0
    target = "a stress test" if stress else "target < 0.1/cluster-week"
    drifting = (
        f", a rate drifting for hours (log-rate sd {wander:g},"
        f" {synthetic.WANDER_MEMORY.total_seconds() / 3600:g} h memory)"
        if wander
        else ""
    )
    budget = DetectionConfig().false_alarms
    print(
        f"\nSynthetic null set, {label} buckets: {count} series x {NULL_WEEKS} weeks,"
        f" negative-binomial with day/night profile and {clumps} wire clumps ({low}-{high}"
        f" extra stories for {share:.0%} of stories){drifting}; {target}"
        + (
            f", against the budget {budget} = {budget.count * WEEK / budget.per:.2f}/week"
            if wander
            else ""
        )
    )
    onsets = dict.fromkeys(LEVELS, 0)
    series = dict.fromkeys(LEVELS, 0)
    for i in range(count):
        level = LEVELS[i % len(LEVELS)]
        rows = synthetic.null_series(rng, NULL_WEEKS, bucket, level, clumps=clumps, wander=wander)
        path = workdir / f"null-{clumps}-{label}-{wander:g}-{i}.csv"
        synthetic.write_csv(path, rows)
        onsets[level] += len(mediawatch_onsets(path))
        series[level] += 1
    for level in LEVELS:
        per_week = onsets[level] / (series[level] * NULL_WEEKS)
        mean = synthetic.LEVEL_PER_HOUR[level]
        print(
            f"  {level:<5} ({mean:g}/h, {series[level]} series): {onsets[level]:>4} onsets"
            f" = {per_week:.3f} per cluster-week"
        )
    total = sum(onsets.values()) / (count * NULL_WEEKS)
    print(f"  all: {sum(onsets.values())} onsets = {total:.3f} per cluster-week")


def bench_recall(workdir: Path) -> None:
    rng = np.random.default_rng(30)
    print(
        f"\nRecall of injected spikes ({SPIKE_STORIES[0]}-{SPIKE_STORIES[1]} extra stories in"
        f" one hour, {RECALL_SERIES} series per cell, {NULL_WEEKS} weeks each, spike in weeks"
        " 4-8; a hit is an alert in the spike's bucket(s) or the next bucket: an onset, or"
        " the update of an episode already open, as the service sends; false alarms are"
        " onsets elsewhere)"
    )
    print("  (spike/sd: median of the spike's stories per bucket over the bucket's noise sd;")
    print("  oracle: the recall of a detector told each bucket's true mean and spread, testing")
    print("  the spike's buckets and its hour at the budget's per-bucket threshold: a ceiling)")
    print(
        f"  {'bucket':<9} {'level':<6} {'spike/sd':>8} {'recall':>7} {'oracle':>7}"
        f" {'false alarms/week':>18}"
    )
    for label, bucket in BUCKETS.items():
        for level in LEVELS:
            cell = _recall_cell(rng, workdir, bucket, level)
            weeks = RECALL_SERIES * NULL_WEEKS
            print(
                f"  {label:<9} {level:<6} {cell.strength:>8.1f} {cell.hits / RECALL_SERIES:>7.2f}"
                f" {cell.oracle_hits / RECALL_SERIES:>7.2f} {cell.false_alarms / weeks:>18.3f}"
            )


@dataclass(frozen=True)
class RecallCell:
    hits: int
    oracle_hits: int
    false_alarms: int
    strength: float


def _recall_cell(
    rng: np.random.Generator, workdir: Path, bucket: timedelta, level: synthetic.Level
) -> RecallCell:
    hits = oracle_hits = false_alarms = 0
    strengths = []
    threshold = DetectionConfig().spike_threshold(bucket)
    for i in range(RECALL_SERIES):
        rows = synthetic.null_series(rng, NULL_WEEKS, bucket, level)
        at = synthetic.START + timedelta(hours=int(rng.integers(21 * 24, NULL_WEEKS * 7 * 24)))
        extra = int(rng.integers(SPIKE_STORIES[0], SPIKE_STORIES[1] + 1))
        path = workdir / f"spike-{level}-{bucket.total_seconds():.0f}-{i}.csv"
        spiked = synthetic.inject_spike(rows, at, extra)
        synthetic.write_csv(path, spiked)
        first = synthetic.START + (at - synthetic.START) // bucket * bucket
        last = max(first + bucket, at + timedelta(hours=1))  # end of the spike's buckets
        _, noise = synthetic.bucket_noise(first, bucket, level)
        strengths.append(extra / max(1, round(timedelta(hours=1) / bucket)) / noise)
        alerts = mediawatch_alerts(path)
        found = [moment for moment, _ in alerts if first <= moment < last + bucket]
        hits += bool(found)
        onsets = [moment for moment, kind in alerts if kind == "open"]
        false_alarms += sum(not first <= moment < last + bucket for moment in onsets)
        oracle_hits += _oracle_finds(spiked, first, last, bucket, level, threshold)
    return RecallCell(hits, oracle_hits, false_alarms, float(np.median(strengths)))


def _oracle_finds(
    rows: Sequence[synthetic.Row],
    first: datetime,
    last: datetime,
    bucket: timedelta,
    level: synthetic.Level,
    threshold: float,
) -> bool:
    """Whether a detector told the generator's true mean and variance of every bucket
    would flag the spike: any of its buckets, or the hour (or bucket) holding it, with a
    negative-binomial tail below ``threshold``. A ceiling for any detector at that
    per-bucket threshold: it need not estimate anything, and its two tests do not split
    the threshold between them."""
    spans = [(moment, moment + bucket) for moment, _ in rows if first <= moment < last]
    spans.append((first, max(last, first + bucket)))
    for start, end in spans:
        count = sum(c for moment, c in rows if start <= moment < end)
        mean = var = 0.0
        moment = start
        while moment < end:
            m, v = synthetic.bucket_moments(moment, bucket, level)
            mean, var = mean + m, var + v
            moment += bucket
        size = mean * mean / max(var - mean, 1e-9)
        if float(tail_probability(count, mean, size)) < threshold:
            return True
    return False


# --- running it -------------------------------------------------------------------------


def in_empty_directory(run: Callable[[Path], None]) -> None:
    """Run with no config.toml in reach, so the CLI uses its defaults."""
    os.environ.pop("MEDIAWATCH_CONFIG", None)
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as scratch:
        os.chdir(scratch)
        try:
            run(Path(scratch))
        finally:
            os.chdir(before)


def bench_tweet_like(workdir: Path, seeds: Sequence[int] = (TWEET_LIKE_SEED,)) -> None:
    print(
        f"\nTweet-like series (bench/tweetlike.py; our own, a smoke test): {TWEET_LIKE_SERIES}"
        " x 55 days of 5-minute buckets, 2-5 labelled stories each; NAB standard profile"
    )
    scores: dict[str, list[float]] = {"mediawatch": [], "windowed Gaussian": []}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        corpus: dict[str, nab.Labelled] = {}
        ours: dict[str, list[datetime]] = {}
        gaussian: dict[str, list[datetime]] = {}
        for i in range(TWEET_LIKE_SERIES):
            series = tweetlike.tweet_like(rng)
            path = workdir / f"tweet-like-{seed}-{i}.csv"
            series.write_csv(path)
            corpus[path.name] = series.labelled()
            ours[path.name] = mediawatch_onsets(path)
            gaussian[path.name] = [series.timestamps[j] for j in windowed_gaussian(series.counts)]
        if len(seeds) > 1:
            print(f"  seed {seed}")
        for name, found in (("mediawatch", ours), ("windowed Gaussian", gaussian)):
            score = nab.score_corpus(corpus, found)
            files = score.files.values()
            detected = sum(f.detected_windows for f in files)
            windows = sum(f.windows for f in files)
            fps = sum(f.false_positives for f in files)
            print(
                f"  {name:<18} {_number(score.normalised):>6}  found {detected}/{windows},"
                f" {fps / len(corpus):.1f} false positives per series"
            )
            scores[name].append(score.normalised or 0.0)
    if len(seeds) > 1:
        print(f"  mean over {len(seeds)} seeds:")
        for name, values in scores.items():
            print(f"  {name:<18} {np.mean(values):>6.1f}")


def bench_quality(workdir: Path, null_series: int = NULL_SERIES) -> None:
    started = time.perf_counter()
    corpus = nab.load_corpus(DEV_ROOT)
    bench_nab(corpus)
    bench_no_anomaly(corpus)
    bench_null_set(workdir, null_series)
    bench_recall(workdir)
    print(f"\nquality sections: {time.perf_counter() - started:.1f} s")


def seed_list(text: str) -> list[int]:
    """``55``, ``55,57`` or ``55-62``."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tweet-seeds",
        type=seed_list,
        default=[TWEET_LIKE_SEED],
        help="seeds of the tweet-like section: 55, 55,57 or 55-62 (default %(default)s)",
    )
    parser.add_argument(
        "--null-series",
        type=int,
        default=NULL_SERIES,
        help="series per null set, a third per level (default %(default)s)",
    )
    args = parser.parse_args(argv)
    bench_speed()
    if (DEV_ROOT / "windows.json").exists():
        in_empty_directory(lambda workdir: bench_quality(workdir, args.null_series))
    else:
        print(f"\nskipped NAB scores, false alarms and recall: {DEV_ROOT} not found")
    in_empty_directory(lambda workdir: bench_tweet_like(workdir, args.tweet_seeds))


if __name__ == "__main__":
    main()
