"""The detector over any count series (a CSV of timestamp, count): for backtesting and
tuning, and for ``mediawatch detect --series``. Pure apart from reading the text given.

The bucket width is the median gap between consecutive distinct timestamps; buckets are
laid from the first timestamp, values falling in the same bucket are added up and
missing buckets count 0. Spike onsets are the ``open`` transitions of the same episode
rules as the service (hysteresis, cooldown), so a long spike is reported once.
``score`` is ``-log10`` of the onset bucket's tail probability (3 = one in a thousand).
A series that would need more than ``MAX_BUCKETS`` buckets (a far-off timestamp among
close ones) is refused with a ``SeriesError`` instead of allocating them.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import median

import numpy as np

from alerts.episodes import BucketVerdict, EpisodePolicy, TransitionKind, advance
from alerts.spikes import SpikeParams, detect_spikes, score
from clock.moments import utc

logger = logging.getLogger(__name__)

MAX_BUCKETS = 1_000_000
MAX_COUNT = 1e15
"""Counts above this are refused: no series counts that many of anything per row, and a
bucket's sum must stay finite."""


class SeriesError(ValueError):
    """The series cannot be read; the message names the line."""


@dataclass(frozen=True)
class Series:
    labels: list[str]
    """The timestamps as written, one per row."""
    times: list[datetime]
    """Naive UTC."""
    counts: list[float]


@dataclass(frozen=True)
class Onset:
    timestamp: str
    """The first timestamp of the onset bucket, as written in the series."""
    start: datetime
    count: float
    expected: float
    tail_probability: float
    score: float
    kind: TransitionKind = "open"
    """``open``: an episode's onset; ``update``: the one update an open episode earns
    when its count doubles (``find_onsets(..., updates=True)``)."""


def read_series(lines: Iterable[str]) -> Series:
    """Rows of ``timestamp,count`` after a header row; more columns are ignored."""
    reader = csv.reader(lines)
    labels: list[str] = []
    times: list[datetime] = []
    counts: list[float] = []
    header_seen = False
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # a field past the csv module's limit, a stray NUL
            raise SeriesError(f"line {reader.line_num}: {exc}") from None
        if not row or not any(cell.strip() for cell in row):
            continue
        if not header_seen:
            header_seen = True
            continue
        line = reader.line_num
        if len(row) < 2:
            raise SeriesError(f"line {line}: expected timestamp,count")
        label = row[0].strip()
        times.append(parse_timestamp(label, line))
        try:
            value = float(row[1])
        except ValueError:
            raise SeriesError(f"line {line}: count {row[1]!r} is not a number") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_COUNT:
            raise SeriesError(
                f"line {line}: count must be a number from 0 to {MAX_COUNT:g}, got {row[1]!r}"
            )
        labels.append(label)
        counts.append(value)
    if not counts:
        raise SeriesError("the series has no rows after the header")
    check_span(times, infer_bucket(times))
    return Series(labels, times, counts)


def check_span(times: list[datetime], width: timedelta) -> None:
    """Refuse a series spanning more than ``MAX_BUCKETS`` buckets of ``width``."""
    span = max(times) - min(times)
    buckets = span // width + 1
    if buckets > MAX_BUCKETS:
        raise SeriesError(
            f"the timestamps span {span.days} days in {int(width.total_seconds())}s buckets: "
            f"{buckets} buckets, more than {MAX_BUCKETS:,} (a far-off or mistyped timestamp?)"
        )


def parse_timestamp(text: str, line: int = 0) -> datetime:
    """ISO 8601 (date, date and time, with or without a zone) or epoch seconds."""
    refused = SeriesError(f"line {line}: {text!r} is not a timestamp")
    try:
        return utc(datetime.fromtimestamp(float(text), UTC))
    except (OverflowError, OSError):  # epoch seconds out of the platform's range
        raise refused from None
    except ValueError:
        pass
    try:
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # not ISO 8601, or out of range once in UTC
        raise refused from None


def infer_bucket(times: list[datetime]) -> timedelta:
    """The median gap between consecutive distinct timestamps (one hour for a single row)."""
    distinct = sorted(set(times))
    gaps = [(b - a).total_seconds() for a, b in pairwise(distinct)]
    if not gaps:
        return timedelta(hours=1)
    return timedelta(seconds=max(1, round(median(gaps))))


def find_onsets(
    series: Series,
    params: SpikeParams,
    policy: EpisodePolicy,
    bucket: timedelta | None = None,
    updates: bool = False,
) -> list[Onset]:
    """Spike onsets of the series, oldest first; with ``updates``, also the updates the
    service would send (each an alert too: a spike that doubles an open episode's count)."""
    width = bucket or infer_bucket(series.times)
    check_span(series.times, width)
    start = min(series.times)
    positions = [round((t - start) / width) for t in series.times]
    counts = np.zeros(max(positions) + 1)
    np.add.at(counts, positions, series.counts)
    first_label: dict[int, str] = {}
    for position, label in sorted(zip(positions, series.labels, strict=True), key=lambda p: p[0]):
        first_label.setdefault(position, label)
    result = detect_spikes(counts, start, width, params)
    verdicts = [
        BucketVerdict(
            start=start + i * width,
            count=float(counts[i]),
            expected=float(result.expected[i]),
            tail_probability=float(result.tail_probability[i]),
            spike=bool(result.spike[i]),
        )
        for i in range(len(counts))
    ]
    _, transitions = advance(None, verdicts, _policy_for(policy, width))
    onsets = []
    for transition in transitions:
        if transition.kind == "close" or (transition.kind == "update" and not updates):
            continue
        i = round((transition.verdict.start - start) / width)
        onsets.append(
            Onset(
                timestamp=first_label.get(i, transition.verdict.start.isoformat()),
                start=transition.verdict.start,
                count=float(counts[i]),
                expected=float(result.expected[i]),
                tail_probability=float(result.tail_probability[i]),
                score=float(score(result.tail_probability[i])),
                kind=transition.kind,
            )
        )
    logger.debug(
        "series: %d buckets of %ss, %d spike bucket(s), %d onset(s)",
        len(counts),
        int(width.total_seconds()),
        int(result.spike.sum()),
        len(onsets),
    )
    return onsets


def _policy_for(policy: EpisodePolicy, width: timedelta) -> EpisodePolicy:
    return EpisodePolicy(
        bucket=width,
        cooldown=policy.cooldown,
        close_after=policy.close_after,
        quiet_threshold=policy.quiet_threshold,
        min_count=policy.min_count,
        update_factor=policy.update_factor,
        max_updates=policy.max_updates,
        backlog_fraction=policy.backlog_fraction,
    )
