"""Spike detection over 200 clusters x one year of hourly buckets: seconds and peak memory.

Baseline in the same run: a naive Poisson z-score against a trailing 14-day mean (no
profile, no dispersion, no flags left out), over the same data. Prints figures; no asserts.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime, timedelta

import numpy as np

from alerts.spikes import detect_spikes

CLUSTERS = 200
HOURS = 365 * 24
START = datetime(2025, 1, 6)


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


def measure(label: str, run) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    flagged = int(np.asarray(result).sum())
    print(f"{label:<34} {seconds:6.2f} s   peak {peak / 2**20:7.1f} MiB   flagged {flagged}")
    return seconds


def main() -> None:
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


if __name__ == "__main__":
    main()
