"""Synthetic story-count series with no anomaly, and spikes to inject into them.

For measuring false alarms (every onset on a null series is one) and recall (an
injected spike must be found) at any bucket width. Counts are generated every five
minutes and summed into the bucket asked for, so one series model serves 5-minute,
hourly and daily buckets alike.

The model, per 5-minute slot: a day/night profile (quiet at 04:00, busiest at 14:00,
averaging 1 over a day) and quieter weekends scale the level's hourly mean; the count
is negative-binomial (a Poisson whose rate is gamma-distributed, shape ``DISPERSION``).
"Wire clumps" are the non-anomalies that fool naive detectors: a story reprinted by
several outlets. mediawatch counts stories, so reprints dedupe recognises are one story;
what reaches the counter is the copies it misses (rewritten headlines): ``"leaked"``
clumps, 1 to 3 extra stories within the hour for 5 % of stories (the default). The harsh
``"reprints"`` clumps, 3 to 10 extra stories for 2 % of stories, are what a pipeline
without dedupe would count: a stress test, not the null the targets are about.

Example::

    rng = np.random.default_rng(7)
    rows = null_series(rng, weeks=8, bucket=timedelta(hours=1), level="mid")
    rows = inject_spike(rows, datetime(2025, 2, 20, 15), extra=40)
    write_csv(Path("mid.csv"), rows)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

Level = Literal["quiet", "mid", "busy"]
Row = tuple[datetime, int]

# Mean stories per hour at each level, before the day/night profile.
LEVEL_PER_HOUR: dict[str, float] = {"quiet": 0.05, "mid": 2.0, "busy": 100.0}
DISPERSION = 4.0
Clumps = Literal["leaked", "reprints", "none"]
CLUMPS: dict[str, tuple[float, tuple[int, int]]] = {
    "leaked": (0.05, (1, 3)),
    "reprints": (0.02, (3, 10)),
    "none": (0.0, (0, 0)),
}
"""Per kind: the share of stories that start a clump, and its extra stories (low, high)."""
SLOT = timedelta(minutes=5)
SLOTS_PER_HOUR = 12
START = datetime(2025, 1, 6)  # a Monday
WANDER_MEMORY = timedelta(hours=6)
"""How long a wandering rate remembers: the e-folding time of its AR(1) log-rate."""


def day_profile(slot_hours: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Relative rate at each slot: busiest mid-afternoon, a third as busy on weekends."""
    shape = 0.3 + 2.0 * np.exp(-((slot_hours - 14.0) ** 2) / 18.0)
    day_mean = np.mean(0.3 + 2.0 * np.exp(-((np.arange(0, 24, 1 / 12) - 14.0) ** 2) / 18.0))
    weekend = np.where(weekday >= 5, 0.6, 1.16)  # 5 x 1.16 + 2 x 0.6 = 7: a week averages 1
    return shape / day_mean * weekend


def null_series(
    rng: np.random.Generator,
    weeks: int = 8,
    bucket: timedelta = timedelta(hours=1),
    level: Level | float = "mid",
    start: datetime = START,
    clumps: Clumps = "leaked",
    wander: float = 0.0,
) -> list[Row]:
    """A series with no anomaly: ``(bucket start, stories)`` for ``weeks`` weeks.

    ``level`` is a named level or a mean number of stories per hour. ``bucket`` must
    be a whole number of 5-minute slots dividing the series evenly (5m, 1h, 1d do).
    ``wander`` (a stress test) lets the rate drift for hours at a time, as real news
    days do: a log-rate with that standard deviation and ``WANDER_MEMORY``.
    """
    per_hour = LEVEL_PER_HOUR[level] if isinstance(level, str) else float(level)
    slots = weeks * 7 * 24 * SLOTS_PER_HOUR
    per_bucket = _slots_per_bucket(bucket, slots)
    index = np.arange(slots)
    slot_hours = (index % (24 * SLOTS_PER_HOUR)) / SLOTS_PER_HOUR
    weekday = (index // (24 * SLOTS_PER_HOUR)) % 7
    mean = per_hour / SLOTS_PER_HOUR * day_profile(slot_hours, weekday)
    if wander > 0:
        mean = mean * np.exp(_drift(rng, slots, wander) - wander**2 / 2)
    counts = rng.poisson(rng.gamma(DISPERSION, mean / DISPERSION)).astype(np.int64)
    counts += _wire_clumps(rng, counts, clumps)
    totals = counts.reshape(-1, per_bucket).sum(axis=1)
    return [(start + i * bucket, int(total)) for i, total in enumerate(totals)]


def bucket_noise(
    bucket_start: datetime, bucket: timedelta, level: Level | float, start: datetime = START
) -> tuple[float, float]:
    """Mean and standard deviation of a bucket's count in a null series, clumps left out."""
    mean = _slot_means(bucket_start, bucket, level, start)
    return float(mean.sum()), float(np.sqrt(np.sum(mean + mean**2 / DISPERSION)))


def _slot_means(
    bucket_start: datetime, bucket: timedelta, level: Level | float, start: datetime
) -> np.ndarray:
    """The generator's mean stories in each 5-minute slot of the bucket (no clumps)."""
    per_hour = LEVEL_PER_HOUR[level] if isinstance(level, str) else float(level)
    first = (bucket_start - start) // SLOT
    index = np.arange(first, first + _slots_per_bucket(bucket, 0))
    slot_hours = (index % (24 * SLOTS_PER_HOUR)) / SLOTS_PER_HOUR
    weekday = (index // (24 * SLOTS_PER_HOUR)) % 7
    return np.asarray(per_hour / SLOTS_PER_HOUR * day_profile(slot_hours, weekday))


def bucket_moments(
    bucket_start: datetime,
    bucket: timedelta,
    level: Level | float,
    clumps: Clumps = "leaked",
    start: datetime = START,
) -> tuple[float, float]:
    """Mean and variance of a bucket's count in a null series, wire clumps included.

    A slot of ``n`` stories starts a clump with probability ``1 - (1 - share)**n``
    (``_wire_clumps``); over the slot's gamma-Poisson count that is ``1 - (1 + m share /
    DISPERSION)**-DISPERSION``. A clump's stories are counted in its own bucket: those
    spilling into the next are as many as spill in from the one before, so the mean is
    exact, but the variance is somewhat overstated below daily buckets (simulated: 0.8-0.95
    of it at 5-minute and hourly ones), which makes the oracle a little more cautious."""
    m = _slot_means(bucket_start, bucket, level, start)
    var = m + m**2 / DISPERSION
    share, (low, high) = CLUMPS[clumps]
    if share == 0:
        return float(m.sum()), float(var.sum())
    sizes = np.arange(low, high + 1, dtype=float)
    size_mean, size_square = float(sizes.mean()), float((sizes**2).mean())
    base = 1.0 + m * share / DISPERSION
    starts = 1.0 - base**-DISPERSION
    # E[n (1 - share)**n] for the slot's count n, from its generating function.
    kept = (1.0 - share) * m * base ** (-DISPERSION - 1.0)
    covariance = size_mean * (m - kept - m * starts)
    extra_var = starts * size_square - (starts * size_mean) ** 2
    mean = m + starts * size_mean
    return float(mean.sum()), float((var + extra_var + 2.0 * covariance).sum())


def inject_spike(
    rows: Sequence[Row], at: datetime, extra: int, span: timedelta = timedelta(hours=1)
) -> list[Row]:
    """``rows`` with ``extra`` stories spread evenly over the buckets in ``[at, at + span)``.

    A bucket as wide as ``span`` or wider takes them all in the bucket holding ``at``.
    """
    starts = [moment for moment, _ in rows]
    hit = [i for i, moment in enumerate(starts) if at <= moment < at + span]
    if not hit:
        holding = [i for i, moment in enumerate(starts) if moment <= at]
        if not holding:
            raise ValueError(f"{at} is before the series starts")
        hit = [holding[-1]]
    share, remainder = divmod(extra, len(hit))
    added = {index: share + (k < remainder) for k, index in enumerate(hit)}
    return [(moment, count + added.get(i, 0)) for i, (moment, count) in enumerate(rows)]


def write_csv(path: Path, rows: Sequence[Row]) -> None:
    """The ``timestamp,count`` CSV that ``mediawatch detect --series`` reads."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "count"])
        for moment, count in rows:
            writer.writerow([moment.strftime("%Y-%m-%d %H:%M:%S"), count])


def _slots_per_bucket(bucket: timedelta, slots: int) -> int:
    per_bucket, rest = divmod(bucket, SLOT)
    if per_bucket < 1 or rest or slots % per_bucket:
        raise ValueError(f"bucket {bucket} must be a whole number of 5-minute slots")
    return int(per_bucket)


def _wire_clumps(rng: np.random.Generator, counts: np.ndarray, kind: Clumps) -> np.ndarray:
    """Extra stories from reprints: each clump spreads its stories over its next hour."""
    share, (low, high) = CLUMPS[kind]
    extra = np.zeros_like(counts)
    if share == 0:
        return extra
    starts = np.flatnonzero(rng.binomial(counts, share))
    for first in starts:
        size = int(rng.integers(low, high + 1))
        slots = first + rng.integers(0, SLOTS_PER_HOUR, size=size)
        np.add.at(extra, slots[slots < len(counts)], 1)
    return extra


def _drift(rng: np.random.Generator, slots: int, sd: float) -> np.ndarray:
    """A stationary AR(1) log-rate per slot with standard deviation ``sd``."""
    keep = float(np.exp(-SLOT / WANDER_MEMORY))
    shocks = rng.normal(0.0, sd * np.sqrt(1 - keep**2), slots)
    shocks[0] = rng.normal(0.0, sd)
    drift = np.empty(slots)
    level = 0.0
    for i, shock in enumerate(shocks):  # 16k slots for 8 weeks: a loop is fine
        level = keep * level + shock
        drift[i] = level
    return drift
