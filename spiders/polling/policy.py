"""Adaptive polling: when should a source be polled next? A pure function of what the
last poll saw; no database, no clock (``now`` and the jitter draw are passed in).

The rules, in order:

* **Failure**: exponential backoff from the current interval, ``interval * 2**(failures-1)``,
  capped at ``max_interval``; a ``Retry-After`` is a floor. The normal interval is kept for
  when the source recovers. A source failing ``UNHEALTHY_AFTER_FAILURES`` times in a row
  and for at least ``UNHEALTHY_AFTER`` is marked unhealthy: still polled (at the backoff
  pace), never silently dropped.
* **Partial**: the source answered but some of what it listed is not stored yet (a child
  sitemap or a page failed, the crawl ended first). The interval adapts as on success,
  but the source is retried soon, ``min_interval * 2**(failures-1)`` capped at
  ``max_interval``, counting as a failure: a part that never comes back costs a few
  polls a day, not one every tick, and shows in ``sources status``.
* **Success**: the interval moves toward the source's publishing rate: half the median
  gap between its entries' publication times, so a poll usually finds about one new entry
  before it scrolls away. The median, not the mean: one entry dated 1970 (or 2099) in a
  busy feed must not throttle it; impossible dates are left out altogether. With no
  dates to go by: shrink when most entries were new (we may be missing some), grow by
  half when nothing was new (or 304).
* **Caching hints** (RSS ``ttl``, ``sy:updatePeriod``, ``Cache-Control: max-age``,
  ``Retry-After``) are floors: we never poll sooner than the publisher asks, but no
  later than ``max_interval`` either, whatever a server says.
* Everything stays within ``[min_interval, max_interval]``, and a ±10% jitter spreads
  the polls of sources (and hosts) that would otherwise fire in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Literal

from clock.moments import plausible

UNHEALTHY_AFTER_FAILURES = 8
UNHEALTHY_AFTER = timedelta(hours=24)
GROWTH = 1.5
SHRINK = 0.5
JITTER = 0.1

PollStatus = Literal["ok", "not_modified", "partial", "error"]
"""What ``sources status`` shows: ``partial`` is an answer some of whose parts are missing."""


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of a source saw."""

    status: PollStatus
    entries: int = 0
    new: int = 0
    entry_times: Sequence[datetime] = ()
    """Publication times of the entries in the feed (any order)."""
    ttl: timedelta | None = None
    """The publisher's own hint: RSS ttl, sy:updatePeriod, Cache-Control max-age."""
    retry_after: timedelta | None = None


@dataclass(frozen=True)
class Bounds:
    min_interval: timedelta
    max_interval: timedelta

    def clamp(self, value: timedelta) -> timedelta:
        return max(self.min_interval, min(self.max_interval, value))


@dataclass(frozen=True)
class Schedule:
    interval: timedelta
    """The source's normal interval from now on (unchanged by failures)."""
    next_poll_at: datetime
    failures: int
    healthy: bool


def next_schedule(
    outcome: PollOutcome,
    *,
    interval: timedelta,
    failures: int,
    last_success_at: datetime | None,
    bounds: Bounds,
    now: datetime,
    jitter: float,
) -> Schedule:
    """The schedule after ``outcome``; ``jitter`` is a uniform draw in [0, 1)."""
    spread = 1 + JITTER * (2 * jitter - 1)
    # A server's hint is data: a Retry-After of a billion seconds waits max_interval.
    floor = min(
        max(outcome.ttl or timedelta(0), outcome.retry_after or timedelta(0)), bounds.max_interval
    )
    if outcome.status in ("error", "partial"):
        failures += 1
        failing_since_long = last_success_at is None or now - last_success_at >= UNHEALTHY_AFTER
        healthy = not (failures >= UNHEALTHY_AFTER_FAILURES and failing_since_long)
        if outcome.status == "error":
            base = max(interval, bounds.min_interval)
        else:
            base = bounds.min_interval
            interval = bounds.clamp(adapted_interval(outcome, interval, now))
        delay = min(bounds.max_interval, base * 2 ** min(failures - 1, 30)) * spread
        return Schedule(interval, now + max(delay, floor), failures, healthy)

    interval = bounds.clamp(adapted_interval(outcome, interval, now))
    delay = bounds.clamp(interval * spread)
    return Schedule(interval, now + max(delay, floor), 0, True)


def adapted_interval(outcome: PollOutcome, interval: timedelta, now: datetime) -> timedelta:
    """The normal interval after a successful poll, before bounds and hints."""
    gap = typical_gap([t for t in outcome.entry_times if plausible(t, now)])
    if outcome.status == "not_modified" or (outcome.new == 0 and outcome.entries > 0):
        grown = interval * GROWTH
        return grown if gap is None else min(grown, max(interval, gap / 2))
    if gap is not None:
        return gap / 2
    if outcome.entries and outcome.new * 2 >= outcome.entries:
        return interval * SHRINK
    return interval


def typical_gap(times: Sequence[datetime]) -> timedelta | None:
    """Median time between consecutive distinct entry times, or None with fewer than three
    (entries published together are one publishing event; a feed's build time is none)."""
    ordered = sorted(set(times))
    if len(ordered) < 3:
        return None
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(ordered)]
    return timedelta(seconds=median(gaps))
