"""Alert episodes: when a spike opens one, when it earns its one update, when it closes.

Pure: bucket verdicts and the current episode state in, the new state and the
transitions out. The caller stores the state (``AlertEpisode`` rows) and sends one
alert per ``open`` and ``update`` transition.

* **open**: a spike bucket with no episode open and the cooldown since the last close over.
  A bucket whose stories mostly arrived as *backlog* (a source's first successful poll
  after an outage, or its first poll ever) is not news and opens nothing.
* **update**: at most ``max_updates`` (one) per episode, when a spike bucket counts at least
  ``update_factor`` times the opening count.
* **close** (hysteresis): after ``close_after`` consecutive quiet buckets; *quiet* is looser
  than a spike: the tail probability is at least ``quiet_threshold`` (or the count is
  below ``min_count``). ``closed_at`` is the end of the last quiet bucket.
* **cooldown**: no new episode opens in a bucket wholly before ``closed_at + cooldown``.
* A **partial** bucket (the current, incomplete one) may open an episode early (its count
  can only grow, so the verdict is conservative) but never updates or counts as quiet; the
  state does not move past it, so the next run judges it again once complete. That
  completed onset bucket only refreshes the opening and peak counts: it is the same news,
  never an update.

Replaying the same verdicts from the same state gives the same transitions: that is what
makes the detect job idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

logger = logging.getLogger(__name__)

TransitionKind = Literal["open", "update", "close"]


@dataclass(frozen=True)
class EpisodePolicy:
    bucket: timedelta = timedelta(hours=1)
    cooldown: timedelta = timedelta(hours=6)
    close_after: int = 3
    """Consecutive quiet buckets that close an episode."""
    quiet_threshold: float = 0.05
    min_count: int = 5
    update_factor: float = 2.0
    max_updates: int = 1
    backlog_fraction: float = 0.5
    """A bucket with at least this share of backlog stories opens and updates nothing."""


@dataclass(frozen=True)
class BucketVerdict:
    """One bucket as the detector judged it."""

    start: datetime
    count: float
    """Stories in the bucket: whole in the service, any number in a CSV backtest."""
    expected: float
    tail_probability: float
    spike: bool
    sources: int = 0
    backlog_fraction: float = 0.0


@dataclass(frozen=True)
class EpisodeState:
    status: Literal["open", "closed"]
    onset_bucket: datetime
    last_bucket: datetime
    """The last complete bucket this episode has taken into account."""
    opening_count: float
    peak_count: float
    updates: int = 0
    quiet_buckets: int = 0
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Transition:
    kind: TransitionKind
    verdict: BucketVerdict
    state: EpisodeState
    """The episode after this transition."""


def advance(
    state: EpisodeState | None,
    verdicts: Sequence[BucketVerdict],
    policy: EpisodePolicy,
    partial: BucketVerdict | None = None,
) -> tuple[EpisodeState | None, list[Transition]]:
    """Feed complete buckets (in time order) and optionally the partial one.

    Buckets at or before ``state.last_bucket`` are skipped (already taken into account).
    Returns the state after the last bucket and the transitions on the way; a transition
    of kind ``open`` starts a new episode (the previous state, if any, was closed)."""
    transitions: list[Transition] = []
    for verdict in verdicts:
        if state is not None and verdict.start <= state.last_bucket:
            continue
        state, transition = _step(state, verdict, policy)
        if transition is not None:
            transitions.append(transition)
    if partial is not None and _may_open(state, partial, policy):
        opened = _open(partial, last_bucket=partial.start - policy.bucket)
        transitions.append(Transition("open", partial, opened))
        state = opened
    return state, transitions


def is_backlog(verdict: BucketVerdict, policy: EpisodePolicy) -> bool:
    return verdict.backlog_fraction >= policy.backlog_fraction


def is_quiet(verdict: BucketVerdict, policy: EpisodePolicy) -> bool:
    return verdict.tail_probability >= policy.quiet_threshold or verdict.count < policy.min_count


def _step(
    state: EpisodeState | None, verdict: BucketVerdict, policy: EpisodePolicy
) -> tuple[EpisodeState | None, Transition | None]:
    if state is None or state.status == "closed":
        if _may_open(state, verdict, policy):
            opened = _open(verdict, last_bucket=verdict.start)
            return opened, Transition("open", verdict, opened)
        return state, None

    # An open episode.
    peak = max(state.peak_count, verdict.count)
    if verdict.start == state.onset_bucket:
        # Opened early from this bucket while partial; now complete: the same news.
        refreshed = replace(
            state,
            last_bucket=verdict.start,
            opening_count=max(state.opening_count, verdict.count),
            peak_count=peak,
        )
        return refreshed, None
    if is_quiet(verdict, policy):
        quiet = state.quiet_buckets + 1
        if quiet >= policy.close_after:
            closed = replace(
                state,
                status="closed",
                last_bucket=verdict.start,
                peak_count=peak,
                quiet_buckets=quiet,
                closed_at=verdict.start + policy.bucket,
            )
            return closed, Transition("close", verdict, closed)
        return replace(state, last_bucket=verdict.start, peak_count=peak, quiet_buckets=quiet), None
    grown = (
        verdict.spike
        and not is_backlog(verdict, policy)
        and state.updates < policy.max_updates
        and verdict.count >= policy.update_factor * state.opening_count
    )
    updated = replace(
        state,
        last_bucket=verdict.start,
        peak_count=peak,
        quiet_buckets=0,
        updates=state.updates + (1 if grown else 0),
    )
    return updated, Transition("update", verdict, updated) if grown else None


def _may_open(state: EpisodeState | None, verdict: BucketVerdict, policy: EpisodePolicy) -> bool:
    if not verdict.spike:
        return False
    if is_backlog(verdict, policy):
        logger.info(
            "spike at %s not opened: %.0f%% of its stories are backlog after a source outage",
            verdict.start.isoformat(),
            100 * verdict.backlog_fraction,
        )
        return False
    if state is None:
        return True
    if state.status == "open":
        return False
    # A bucket wholly inside the cooldown opens nothing; one reaching past it may (a day
    # after a close at midnight, where the start alone would never clear 6 hours).
    return state.closed_at is None or (
        verdict.start + policy.bucket > state.closed_at + policy.cooldown
    )


def _open(verdict: BucketVerdict, last_bucket: datetime) -> EpisodeState:
    return EpisodeState(
        status="open",
        onset_bucket=verdict.start,
        last_bucket=last_bucket,
        opening_count=verdict.count,
        peak_count=verdict.count,
    )
