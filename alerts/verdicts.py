"""An archive period judged bucket by bucket, the step detect and backtest share.

The counts start ``history`` plus ``EXTRA_HISTORY`` before the first bucket judged, so
its baseline (and the flags of the buckets before it) are known."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from alerts.counts import BucketGrid, ClusterCounts, counts_per_bucket
from alerts.episodes import BucketVerdict, EpisodePolicy, Transition, TransitionKind
from alerts.spikes import SpikeParams, SpikeResult, detect_spikes
from config.detection import DetectionConfig
from config.models import Config

EXTRA_HISTORY = timedelta(days=28)
"""Counted before the history window: day-of-week profile, and earlier buckets' flags."""


def policy_from_config(config: DetectionConfig, bucket: timedelta | None = None) -> EpisodePolicy:
    """The episode rules of ``[detection]`` for buckets of ``bucket`` (default: its own)."""
    return EpisodePolicy(
        bucket=bucket or config.bucket,
        cooldown=config.cooldown,
        close_after=config.close_after,
        quiet_threshold=config.quiet_for(bucket),
        min_count=config.min_count,
        update_factor=config.update_factor,
        backlog_fraction=config.backlog_fraction,
    )


@dataclass(frozen=True)
class EpisodeEvent:
    """One transition of a cluster's episode (open, update or close) at a bucket."""

    cluster: str
    kind: TransitionKind
    bucket_start: datetime
    observed: int
    expected: float
    tail_probability: float
    sources: int

    @classmethod
    def of(cls, cluster: str, transition: Transition) -> EpisodeEvent:
        verdict = transition.verdict
        return cls(
            cluster=cluster,
            kind=transition.kind,
            bucket_start=verdict.start,
            observed=round(verdict.count),  # whole stories in the service
            expected=verdict.expected,
            tail_probability=verdict.tail_probability,
            sources=verdict.sources,
        )


@dataclass(frozen=True)
class JudgedPeriod:
    """Every configured cluster's stories per bucket, and the detector's judgement of each."""

    grid: BucketGrid
    counts: dict[str, ClusterCounts]
    result: SpikeResult
    rows: dict[str, int]
    """Each cluster's row in ``result``, in config order."""

    def complete(self, now: datetime) -> int:
        """The number of buckets that have ended by ``now`` (the last may still be filling)."""
        return self.grid.length if self.grid.end <= now else self.grid.length - 1

    def verdicts(
        self, cluster: str, first: int, last: int, backlog: dict[int, int]
    ) -> list[BucketVerdict]:
        """Buckets ``first`` to ``last`` (exclusive) of ``cluster``; ``backlog`` holds the
        stories per bucket position that came from a source's backlog."""
        row = self.rows[cluster]
        counts = self.counts[cluster]
        verdicts = []
        for position in range(max(first, 0), last):
            stories = int(counts.stories[position])
            verdicts.append(
                BucketVerdict(
                    start=self.grid.bucket_start(position),
                    count=stories,
                    expected=float(self.result.expected[row, position]),
                    tail_probability=float(self.result.tail_probability[row, position]),
                    spike=bool(self.result.spike[row, position]),
                    sources=int(counts.sources[position]),
                    backlog_fraction=backlog.get(position, 0) / stories if stories else 0.0,
                )
            )
        return verdicts


def judge(session: Session, config: Config, since: datetime, until: datetime) -> JudgedPeriod:
    """Count and judge every configured cluster's buckets from ``since`` to ``until``."""
    detection = config.detection
    clusters = [cluster.name for cluster in config.clusters]
    grid = BucketGrid.covering(since, until, detection.bucket)
    counts = counts_per_bucket(session, grid, clusters)
    stories = np.stack([counts[name].stories for name in clusters])
    sources = np.stack([counts[name].sources for name in clusters])
    result = detect_spikes(
        stories, grid.start, grid.width, SpikeParams.from_config(detection), sources=sources
    )
    return JudgedPeriod(grid, counts, result, {name: row for row, name in enumerate(clusters)})
