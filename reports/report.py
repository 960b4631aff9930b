"""A whole trend report, read once from the archive and handed to any renderer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from reports.breakdowns import (
    CoOccurrence,
    EpisodeSummary,
    LanguageCount,
    SourceCount,
    co_occurrence,
    episodes,
    sources_and_languages,
)
from reports.trends import Period, TrendRow, cluster_trends

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrendReport:
    period: Period
    clusters: tuple[str, ...]
    rows: tuple[TrendRow, ...]
    generated_at: datetime
    top_sources: dict[str, list[SourceCount]] = field(default_factory=dict)
    languages: dict[str, list[LanguageCount]] = field(default_factory=dict)
    co_occurrence: tuple[CoOccurrence, ...] = ()
    episodes: tuple[EpisodeSummary, ...] = ()

    def series(self, cluster: str) -> list[TrendRow]:
        return [row for row in self.rows if row.cluster == cluster]

    def totals(self, cluster: str) -> tuple[int, int]:
        """(stories, articles) summed over the buckets of the period."""
        rows = self.series(cluster)
        return sum(r.stories for r in rows), sum(r.articles for r in rows)


def build_report(
    session: Session,
    period: Period,
    clusters: Sequence[str],
    now: datetime,
    *,
    detail: bool = False,
    episode_bucket: timedelta = timedelta(hours=1),
) -> TrendReport:
    """The trend rows; with ``detail`` also sources, languages, co-occurrence and
    episodes (what the HTML and PNG outputs show)."""
    clusters = tuple(clusters)
    rows = tuple(cluster_trends(session, period, clusters))
    if not detail:
        return TrendReport(period, clusters, rows, now)
    sources, languages = sources_and_languages(session, period, clusters)
    return TrendReport(
        period,
        clusters,
        rows,
        now,
        top_sources=sources,
        languages=languages,
        co_occurrence=tuple(co_occurrence(session, period, clusters)),
        episodes=tuple(episodes(session, period, clusters, episode_bucket)),
    )
