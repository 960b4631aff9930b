"""What the HTML report shows beside the trend lines: top sources and languages per
cluster, clusters reported together, and spike episodes with their top headlines."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union_all
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
    story: int
    """The story's id (``story_id``, or the id of an article that starts its own)."""


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
    return sources_and_languages(session, period, clusters, limit)[0]


def languages(
    session: Session, period: Period, clusters: Sequence[str]
) -> dict[str, list[LanguageCount]]:
    """Per cluster, articles per language, most first."""
    return sources_and_languages(session, period, clusters)[1]


def sources_and_languages(
    session: Session, period: Period, clusters: Sequence[str], limit: int = 10
) -> tuple[dict[str, list[SourceCount]], dict[str, list[LanguageCount]]]:
    """``top_sources`` and ``languages`` from one read of the period's articles: both are
    counts over the same mention x article rows, grouped two ways in one statement."""
    hits = (
        select(
            Mention.cluster.label("cluster"),
            Mention.article_id.label("article_id"),
            func.coalesce(Mention.story_id, Mention.article_id).label("story"),
            Article.publisher.label("publisher"),
            Article.language.label("language"),
        )
        .join(Article, Article.id == Mention.article_id)
        .where(*_in_period(period, clusters))
        .cte("hits")
    )
    articles = func.count(func.distinct(hits.c.article_id))
    by_publisher = select(
        hits.c.cluster,
        literal("publisher").label("grouped_by"),
        hits.c.publisher.label("value"),
        articles.label("articles"),
        func.count(func.distinct(hits.c.story)).label("stories"),
    ).group_by(hits.c.cluster, hits.c.publisher)
    by_language = select(
        hits.c.cluster,
        literal("language"),
        hits.c.language,
        articles,
        literal(0),
    ).group_by(hits.c.cluster, hits.c.language)
    sources: dict[str, list[SourceCount]] = {name: [] for name in clusters}
    spoken: dict[str, list[LanguageCount]] = {name: [] for name in clusters}
    for cluster, grouped_by, value, count, stories in session.execute(
        union_all(by_publisher, by_language)
    ):
        if grouped_by == "publisher":
            sources[cluster].append(SourceCount(cluster, value, int(count), int(stories)))
        else:
            spoken[cluster].append(LanguageCount(cluster, value or "?", int(count)))
    for name, counts in sources.items():
        counts.sort(key=lambda c: (-c.articles, -c.stories, c.publisher))
        sources[name] = counts[:limit]
    for found in spoken.values():
        found.sort(key=lambda c: (-c.articles, c.language))
    return sources, spoken


def co_occurrence(session: Session, period: Period, clusters: Sequence[str]) -> list[CoOccurrence]:
    """Pairs of clusters and the stories mentioning both, most first (pairs with none left out)."""
    if len(set(clusters)) < 2:
        return []  # no pair to count: a report of one cluster, as the desk's page asks
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
    widely carried first (copies, then publishers, then earliest).

    The ranking is one grouped query (a story's first article is the earliest by
    ``seen_at, id``, which a window function names); only the ``limit`` winners' articles
    are read back, for their titles and the order their publishers carried them in."""
    hits = _hit_articles(cluster, since, until)
    stories = [int(story) for story in session.scalars(_ranked_stories(hits, limit))]
    if not stories:
        return []
    copies: dict[int, list[tuple[int, str, str, str, datetime]]] = defaultdict(list)
    rows = session.execute(
        select(_STORY, Article.id, Article.title, Article.url, Article.publisher, Article.seen_at)
        .where(_of_stories(stories), Article.id.in_(hits))
        .order_by(Article.seen_at, Article.id)
    )
    for story, article_id, title, url, publisher, seen_at in rows:
        copies[int(story)].append((article_id, title, url, publisher, seen_at))
    summaries = []
    for story in stories:
        found = copies[story]
        _, title, url, publisher, seen_at = found[0]
        publishers = tuple(dict.fromkeys(copy[3] for copy in found))
        summaries.append(Headline(title, url, publisher, seen_at, len(found), publishers, story))
    return summaries


_STORY = func.coalesce(Article.story_id, Article.id)


def _hit_articles(cluster: str, since: datetime, until: datetime) -> Select[Any]:
    """The ids of the articles mentioning ``cluster`` in ``[since, until)``."""
    return select(Mention.article_id).where(
        Mention.cluster == cluster, Mention.seen_at >= since, Mention.seen_at < until
    )


def _ranked_stories(hits: Select[Any], limit: int) -> Select[Any]:
    """The ``limit`` stories with the most hit articles, then publishers, then the earliest
    first article (its ``seen_at``, then its id)."""
    placed = (
        select(
            Article.id,
            _STORY.label("story"),
            Article.publisher,
            Article.seen_at,
            func.row_number()
            .over(partition_by=_STORY, order_by=(Article.seen_at, Article.id))
            .label("place"),
        )
        .where(Article.id.in_(hits))
        .subquery("placed")
    )
    copies = func.count()
    publishers = func.count(func.distinct(placed.c.publisher))
    first_id = func.max(case((placed.c.place == 1, placed.c.id)))
    return (
        select(placed.c.story)
        .group_by(placed.c.story)
        .order_by(copies.desc(), publishers.desc(), func.min(placed.c.seen_at), first_id)
        .limit(limit)
    )


def _of_stories(stories: Sequence[int]) -> ColumnElement[bool]:
    """Articles of these stories, as two indexed lookups (``story_id``, then the id of a
    first article whose ``story_id`` is unset) rather than a scan for ``coalesce``."""
    return or_(
        Article.story_id.in_(stories),
        and_(Article.story_id.is_(None), Article.id.in_(stories)),
    )
