"""Tweet-like mention series with labelled stories: a semi-synthetic smoke test.

The held-out yardstick of the detector is real mention volumes (5-minute buckets, about
55 days, a few labelled stories each) that cannot be had here. These series are shaped
like them, to see a change's direction before it meets real data; they are our own
generator, not proof. Its knobs were set so that the detectors whose real scores are
known fall in the same order and a little below them (``bench detect``'s 20 series; the
real score in brackets): NAB's windowed Gaussian 39 (51), the first mediawatch detector
26 (36), the same with a ten times smaller threshold 53 (56). So these series are, if
anything, harder than the real ones.

One series, per 5-minute bucket: a level of 3 to 150 (log-uniform) times a day/night
profile (busiest late afternoon UTC, with a smaller late-night bump) and quieter
weekends; a log-rate wandering for hours (AR(1), sd 0.2, 12 h memory) and 0-2 lasting
level shifts; negative-binomial noise; retweet cascades (small clumps over 1-3 buckets);
and bot bursts that nobody labels (about one in ten days, 1-3 buckets at a Pareto
multiple of the rate, capped at 100). The labelled stories: 2-5 per series, each at 3-50
times the hour's rate (log-uniform), rising over up to two hours and fading with an
e-folding of 30 minutes to 12 hours; each labelled with NAB's window (a tenth of the
series over the number of stories, centred on the story's start) after NAB's probation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bench import nab

ROWS = 15_840  # 55 days of 5-minute buckets
STEP = timedelta(minutes=5)
START = datetime(2015, 2, 26, 21, 42)  # real series rarely start on the hour
PER_HOUR = 12
WANDER_SD = 0.2
WANDER_MEMORY = 144  # buckets: 12 hours
SHIFT_SD = 0.3
NB_SHAPE = 12.0
BURSTS_PER_DAY = 0.1
STORY_TIMES = (3.0, 50.0)
STORY_FADE = (6.0, 144.0)  # e-folding in buckets: 30 minutes to 12 hours
STORIES = (2, 5)


@dataclass(frozen=True)
class Series:
    timestamps: tuple[datetime, ...]
    counts: np.ndarray
    windows: tuple[nab.Window, ...]

    def labelled(self) -> nab.Labelled:
        return nab.Labelled(self.timestamps, self.windows)

    def write_csv(self, path: Path) -> None:
        lines = ["timestamp,count"]
        lines += [
            f"{moment:%Y-%m-%d %H:%M:%S},{int(count)}"
            for moment, count in zip(self.timestamps, self.counts, strict=True)
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def tweet_like(rng: np.random.Generator) -> Series:
    """One series with its labelled windows (see the module doc)."""
    stamps = tuple(START + i * STEP for i in range(ROWS))
    rate = _usual_rate(rng, stamps)
    counts = rng.poisson(rng.gamma(NB_SHAPE, rate / NB_SHAPE)).astype(float)
    _add_cascades(rng, counts, rate)
    _add_bursts(rng, counts, rate)
    hourly = np.convolve(rate, np.ones(PER_HOUR) / PER_HOUR, mode="same")
    starts = _story_starts(rng)
    width = int(0.1 * ROWS / len(starts))
    windows = []
    for at in starts:
        counts += rng.poisson(hourly * _story_shape(rng, at))
        windows.append((stamps[at - width // 2], stamps[at + width // 2]))
    return Series(stamps, counts, tuple(windows))


def _usual_rate(rng: np.random.Generator, stamps: Sequence[datetime]) -> np.ndarray:
    hours = np.array([moment.hour + moment.minute / 60 for moment in stamps])
    weekend = np.array([moment.weekday() >= 5 for moment in stamps])
    profile = 0.35 + 1.3 * np.exp(-((hours - 16) ** 2) / 30) + 0.3 * np.exp(-((hours - 1) ** 2) / 8)
    profile = profile / profile.mean() * np.where(weekend, 0.75, 1.1)
    log_rate = _wander(rng)
    for _ in range(int(rng.integers(0, 3))):
        log_rate[int(rng.integers(0, ROWS)) :] += rng.normal(0.0, SHIFT_SD)
    level = math.exp(rng.uniform(math.log(3), math.log(150)))
    return np.asarray(level * profile * np.exp(log_rate))


def _wander(rng: np.random.Generator) -> np.ndarray:
    keep = math.exp(-1 / WANDER_MEMORY)
    shocks = rng.normal(0.0, WANDER_SD * math.sqrt(1 - keep**2), ROWS)
    out = np.empty(ROWS)
    level = rng.normal(0.0, WANDER_SD)
    for i, shock in enumerate(shocks):  # 16k steps: a loop is fine
        level = keep * level + shock
        out[i] = level
    return out


def _add_cascades(rng: np.random.Generator, counts: np.ndarray, rate: np.ndarray) -> None:
    cascades = rng.poisson(rate * 0.03)
    for i in np.flatnonzero(cascades):
        size = int(min(rate[i] * 5, 2 + rng.pareto(1.5) * 3)) * int(cascades[i])
        span = int(rng.integers(1, 4))
        counts[i : i + span] += size // span


def _add_bursts(rng: np.random.Generator, counts: np.ndarray, rate: np.ndarray) -> None:
    for i in rng.integers(0, ROWS, rng.poisson(BURSTS_PER_DAY * ROWS / 288)):
        times = min(100.0, 1 + rng.pareto(1.3) * 1.5)
        hit = slice(i, i + int(rng.integers(1, 4)))
        counts[hit] += rng.poisson(rate[i] * times, size=len(counts[hit]))


def _story_starts(rng: np.random.Generator) -> list[int]:
    wanted = int(rng.integers(STORIES[0], STORIES[1] + 1))
    width = int(0.1 * ROWS / wanted)
    first = int(nab.probation_rows(ROWS)) + width // 2
    starts: list[int] = []
    while len(starts) < wanted:
        at = int(rng.integers(first, ROWS - width // 2))
        if all(abs(at - other) > 1.2 * width for other in starts):
            starts.append(at)
    return sorted(starts)


def _story_shape(rng: np.random.Generator, at: int) -> np.ndarray:
    """Extra stories per bucket, in multiples of the hour's usual rate."""
    times = math.exp(rng.uniform(*np.log(STORY_TIMES)))
    rise = int(rng.integers(0, 2 * PER_HOUR))
    fade = math.exp(rng.uniform(*np.log(STORY_FADE)))
    after = np.arange(ROWS) - at
    rising = (after + rise + 1) / (rise + 1)
    fading = np.exp(-np.maximum(after, 0) / fade)
    shape = np.where(after < 0, np.where(after < -rise, 0.0, rising), fading)
    return np.asarray((times - 1) * shape)
