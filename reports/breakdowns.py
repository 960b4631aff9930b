"""What the HTML report shows beside the trend lines: top sources and languages per
cluster, clusters reported together, and spike episodes with their top headlines."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from reports.trends import Period
from storage.models import AlertEpisode, Article, Mention

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceCount:
    cluster: str
    publisher: str
    articles: int
    stories: int


@dataclass(frozen=True)
class LanguageCount:
    cluster: str
    language: str
    """ISO code, or ``"?"`` when unknown."""
    articles: int


@dataclass(frozen=True)
class CoOccurrence:
    """Stories that count for both clusters (``first`` < ``second`` by name)."""

    first: str
    second: str
    stories: int


@dataclass(frozen=True)
class Headline:
    """One story of an episode: its first article, and how widely it was carried."""

    title: str
    url: str
    publisher: str
    seen_at: datetime
    copies: int
    publishers: tuple[str, ...]


@dataclass(frozen=True)
class EpisodeSummary:
    id: int
    cluster: str
    status: str
    onset: datetime
    last_bucket: datetime
    observed: int
    expected: float
    peak_count: int
    sources: int
    headlines: tuple[Headline, ...]


def _in_period(period: Period, clusters: Sequence[str]) -> list[ColumnElement[bool]]:
    return [
        Mention.cluster.in_(list(clusters)),
        Mention.seen_at >= period.since,
        Mention.seen_at < period.until,
    ]


def top_sources(
    session: Session, period: Period, clusters: Sequence[str], limit: int = 10
) -> dict[str, list[SourceCount]]:
    """Per cluster, the publishers with the most articles (then stories, then name)."""
    rows = session.execute(
        select(
            Mention.cluster,
            Article.publisher,
            func.count(func.distinct(Mention.article_id)),
            func.count(func.distinct(func.coalesce(Mention.story_id, Mention.article_id))),
        )
        .join(Article, Article.id == Mention.article_id)
        .where(*_in_period(period, clusters))
        .group_by(Mention.cluster, Article.publisher)
    )
    per_cluster: dict[str, list[SourceCount]] = {name: [] for name in clusters}
    for cluster, publisher, articles, stories in rows:
        per_cluster[cluster].append(SourceCount(cluster, publisher, int(articles), int(stories)))
    for name, counts in per_cluster.items():
        counts.sort(key=lambda c: (-c.articles, -c.stories, c.publisher))
        per_cluster[name] = counts[:limit]
    return per_cluster


def languages(
    session: Session, period: Period, clusters: Sequence[str]
) -> dict[str, list[LanguageCount]]:
    """Per cluster, articles per language, most first."""
    rows = session.execute(
        select(Mention.cluster, Article.language, func.count(func.distinct(Mention.article_id)))
        .join(Article, Article.id == Mention.article_id)
        .where(*_in_period(period, clusters))
        .group_by(Mention.cluster, Article.language)
    )
    per_cluster: dict[str, list[LanguageCount]] = {name: [] for name in clusters}
    for cluster, language, articles in rows:
        per_cluster[cluster].append(LanguageCount(cluster, language or "?", int(articles)))
    for counts in per_cluster.values():
        counts.sort(key=lambda c: (-c.articles, c.language))
    return per_cluster


def co_occurrence(session: Session, period: Period, clusters: Sequence[str]) -> list[CoOccurrence]:
    """Pairs of clusters and the stories mentioning both, most first (pairs with none left out)."""
    story = func.coalesce(Mention.story_id, Mention.article_id)
    pairs = (
        select(Mention.cluster.label("cluster"), story.label("story"))
        .where(*_in_period(period, clusters))
        .distinct()
        .cte("story_clusters")
    )
    left, right = aliased(pairs), aliased(pairs)
    rows = session.execute(
        select(left.c.cluster, right.c.cluster, func.count())
        .join(right, and_(left.c.story == right.c.story, left.c.cluster < right.c.cluster))
        .group_by(left.c.cluster, right.c.cluster)
    )
    found = [CoOccurrence(a, b, int(n)) for a, b, n in rows]
    return sorted(found, key=lambda c: (-c.stories, c.first, c.second))


def partners(
    session: Session, period: Period, cluster: str, clusters: Sequence[str]
) -> list[tuple[str, int]]:
    """The other clusters of ``clusters`` that share stories with ``cluster`` in the period,
    with how many, most first: ``co_occurrence`` seen from one cluster, without pairing all."""
    story = func.coalesce(Mention.story_id, Mention.article_id)
    its_stories = select(story).where(*_in_period(period, [cluster])).distinct()
    others = [name for name in clusters if name != cluster]
    rows = session.execute(
        select(Mention.cluster, func.count(func.distinct(story)))
        .where(*_in_period(period, others), story.in_(its_stories.scalar_subquery()))
        .group_by(Mention.cluster)
    )
    return sorted(((name, int(n)) for name, n in rows), key=lambda pair: (-pair[1], pair[0]))


def episodes(
    session: Session,
    period: Period,
    clusters: Sequence[str],
    bucket: timedelta,
    headlines: int = 5,
) -> list[EpisodeSummary]:
    """Spike episodes overlapping the period, oldest first, each with its top stories."""
    rows = session.scalars(
        select(AlertEpisode)
        .where(
            AlertEpisode.cluster.in_(list(clusters)),
            AlertEpisode.onset_bucket < period.until,
            or_(
                AlertEpisode.last_bucket >= period.since - bucket,
                AlertEpisode.closed_at >= period.since,
            ),
        )
        .order_by(AlertEpisode.onset_bucket, AlertEpisode.id)
    ).all()
    return [
        EpisodeSummary(
            id=row.id,
            cluster=row.cluster,
            status=row.status,
            onset=row.onset_bucket,
            last_bucket=row.last_bucket,
            observed=row.observed,
            expected=row.expected,
            peak_count=row.peak_count,
            sources=row.sources,
            headlines=tuple(
                top_headlines(
                    session, row.cluster, row.onset_bucket, row.last_bucket + bucket, headlines
                )
            ),
        )
        for row in rows
    ]


def top_headlines(
    session: Session, cluster: str, since: datetime, until: datetime, limit: int = 5
) -> list[Headline]:
    """The cluster's stories in ``[since, until)``, one headline per story, the most
    widely carried first (copies, then publishers, then earliest)."""
    rows = session.execute(
        select(
            func.coalesce(Article.story_id, Article.id),
            Article.id,
            Article.title,
            Article.url,
            Article.publisher,
            Article.seen_at,
        )
        .join(Mention, Mention.article_id == Article.id)
        .where(Mention.cluster == cluster, Mention.seen_at >= since, Mention.seen_at < until)
        .distinct()
        .order_by(Article.seen_at, Article.id)
    )
    stories: dict[int, list[tuple[int, str, str, str, datetime]]] = defaultdict(list)
    for story, article_id, title, url, publisher, seen_at in rows:
        stories[int(story)].append((article_id, title, url, publisher, seen_at))
    summaries = []
    for copies in stories.values():
        first = copies[0]
        publishers = tuple(dict.fromkeys(copy[3] for copy in copies))
        summaries.append(Headline(first[1], first[2], first[3], first[4], len(copies), publishers))
    summaries.sort(key=lambda h: (-h.copies, -len(h.publishers), h.seen_at))
    return summaries[:limit]
