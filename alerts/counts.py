"""What the detector counts, read from the archive: stories (not copies), articles and
distinct sources per cluster per bucket, by ``seen_at``; and, for an alert, the bucket's
languages and top headlines. Sessions are passed in.

A story counts once per cluster, in the bucket of its first mention there: a wire story
reprinted over the next hours is one story, not one per hour. Buckets are
``floor(epoch seconds / width)``, computed in SQL through ``bucket_index`` (compiled for
SQLite and PostgreSQL), so the hourly detect reads grouped rows, not every mention.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import BigInteger, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from clock.moments import epoch_seconds
from storage.models import Article, Mention, Poll

logger = logging.getLogger(__name__)

Ints = NDArray[np.int64]
EPOCH = datetime(1970, 1, 1)


class bucket_index(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it is
    """``floor(epoch_seconds(column) / width)`` for a naive-UTC datetime column."""

    type = BigInteger()
    inherit_cache = True
    name = "bucket_index"


@compiles(bucket_index, "sqlite")
def _bucket_index_sqlite(element: bucket_index, compiler: SQLCompiler, **kw: Any) -> str:
    column, width = list(element.clauses)
    return (
        f"(CAST(strftime('%s', {compiler.process(column, **kw)}) AS INTEGER)"
        f" / {compiler.process(width, **kw)})"
    )


@compiles(bucket_index, "postgresql")
def _bucket_index_postgresql(element: bucket_index, compiler: SQLCompiler, **kw: Any) -> str:
    column, width = list(element.clauses)
    return (
        f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(column, **kw)})"
        f" / {compiler.process(width, **kw)}) AS BIGINT)"
    )


@dataclass(frozen=True)
class BucketGrid:
    """Contiguous buckets of ``width`` from ``start`` (aligned to multiples of the width)."""

    start: datetime
    width: timedelta
    length: int

    @classmethod
    def covering(cls, since: datetime, until: datetime, width: timedelta) -> BucketGrid:
        """The buckets from the one holding ``since`` to the one holding ``until`` - 1 µs."""
        first = _index(since, width)
        last = _index(until - timedelta(microseconds=1), width)
        return cls(start=EPOCH + first * width, width=width, length=max(0, last - first + 1))

    @property
    def first_index(self) -> int:
        return _index(self.start, self.width)

    @property
    def end(self) -> datetime:
        return self.start + self.length * self.width

    def bucket_start(self, position: int) -> datetime:
        return self.start + position * self.width

    def position(self, moment: datetime) -> int:
        return _index(moment, self.width) - self.first_index


def _index(moment: datetime, width: timedelta) -> int:
    return int((moment - EPOCH) // width)


@dataclass(frozen=True)
class ClusterCounts:
    """Per bucket of a grid, for one cluster."""

    cluster: str
    stories: Ints
    articles: Ints
    sources: Ints


def counts_per_bucket(
    session: Session, grid: BucketGrid, clusters: Sequence[str]
) -> dict[str, ClusterCounts]:
    """Stories, articles and distinct sources per bucket for each of ``clusters``."""
    width = int(grid.width.total_seconds())
    shape = (len(clusters), grid.length)
    stories = np.zeros(shape, dtype=np.int64)
    articles = np.zeros(shape, dtype=np.int64)
    sources = np.zeros(shape, dtype=np.int64)
    row_of = {name: row for row, name in enumerate(clusters)}
    if not clusters or grid.length == 0:
        return {}
    in_window = and_(
        Mention.cluster.in_(list(clusters)),
        Mention.seen_at >= grid.start,
        Mention.seen_at < grid.end,
    )
    story = func.coalesce(Mention.story_id, Mention.article_id)
    first_seen = (
        select(
            Mention.cluster.label("cluster"),
            func.min(Mention.seen_at).label("first_seen"),
        )
        .where(in_window)
        .group_by(Mention.cluster, story)
        .subquery()
    )
    bucket = bucket_index(first_seen.c.first_seen, width)
    for cluster, index, count in session.execute(
        select(first_seen.c.cluster, bucket, func.count()).group_by(first_seen.c.cluster, bucket)
    ):
        stories[row_of[cluster], int(index) - grid.first_index] = count
    bucket = bucket_index(Mention.seen_at, width)
    for cluster, index, n_articles, n_sources in session.execute(
        select(
            Mention.cluster,
            bucket,
            func.count(func.distinct(Mention.article_id)),
            func.count(func.distinct(Article.publisher)),
        )
        .join(Article, Article.id == Mention.article_id)
        .where(in_window)
        .group_by(Mention.cluster, bucket)
    ):
        articles[row_of[cluster], int(index) - grid.first_index] = n_articles
        sources[row_of[cluster], int(index) - grid.first_index] = n_sources
    return {
        name: ClusterCounts(name, stories[row], articles[row], sources[row])
        for name, row in row_of.items()
    }


_poll_alias = Poll.__table__.alias("recovery").c


def backlog_stories(
    session: Session, grid: BucketGrid, since: datetime, clusters: Sequence[str]
) -> dict[str, dict[int, int]]:
    """Per cluster, bucket position -> stories (first seen at or after ``since``) that
    arrived as backlog: fetched by a source's first successful poll after failing, or by
    its first poll ever. Such a burst is the outage catching up, not news."""
    previous = (
        select(Poll.status)
        .where(Poll.source_id == _poll_alias.source_id, Poll.started_at < _poll_alias.started_at)
        .order_by(Poll.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    recoveries = session.execute(
        select(_poll_alias.source_id, _poll_alias.started_at, _poll_alias.finished_at, previous)
        .where(_poll_alias.finished_at >= since, _poll_alias.status != "error")
        .order_by(_poll_alias.started_at)
    ).all()
    windows: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for source_id, started_at, finished_at, before in recoveries:
        if before is None or before == "error":
            windows[source_id].append((started_at, finished_at))
    if not windows:
        return {}
    story = func.coalesce(Mention.story_id, Mention.article_id)
    rows = session.execute(
        select(Mention.cluster, story, Mention.seen_at, Article.source_id, Article.fetched_at)
        .join(Article, Article.id == Mention.article_id)
        .where(
            Mention.cluster.in_(list(clusters)),
            Mention.seen_at >= since,
            Mention.seen_at < grid.end,
        )
        .order_by(Mention.seen_at)
    ).all()
    first: dict[tuple[str, int], bool] = {}
    where: dict[tuple[str, int], int] = {}
    for cluster, story_id, seen_at, source_id, fetched_at in rows:
        key = (cluster, story_id)
        if key in first:
            continue
        first[key] = any(
            start <= fetched_at <= end + timedelta(seconds=1)
            for start, end in (windows.get(source_id, []) if source_id is not None else [])
        )
        where[key] = grid.position(seen_at)
    backlog: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for key, is_backlog in first.items():
        if is_backlog:
            backlog[key[0]][where[key]] += 1
    return {cluster: dict(per_bucket) for cluster, per_bucket in backlog.items()}


@dataclass(frozen=True)
class StoryHeadline:
    title: str
    url: str
    publisher: str
    published_at: datetime | None
    seen_at: datetime
    copies: int


def bucket_details(
    session: Session, cluster: str, start: datetime, end: datetime, limit: int = 5
) -> tuple[list[str], list[StoryHeadline]]:
    """Languages of the cluster's articles in ``[start, end)`` and its top headlines: one
    per story first seen there (the story's earliest article), most covered, then newest,
    first."""
    in_bucket = and_(Mention.cluster == cluster, Mention.seen_at >= start, Mention.seen_at < end)
    languages = sorted(
        language
        for language in session.scalars(
            select(Article.language)
            .join(Mention, Mention.article_id == Article.id)
            .where(in_bucket, Article.language.is_not(None))
            .distinct()
        )
        if language
    )
    story = func.coalesce(Mention.story_id, Mention.article_id)
    first_seen = (
        select(story.label("story"), func.min(Mention.seen_at).label("first_seen"))
        .where(Mention.cluster == cluster, Mention.seen_at < end)
        .group_by(story)
        .subquery()
    )
    story_ids = list(
        session.scalars(
            select(first_seen.c.story).where(
                first_seen.c.first_seen >= start, first_seen.c.first_seen < end
            )
        )
    )
    headlines: list[StoryHeadline] = []
    for chunk_start in range(0, len(story_ids), 500):
        chunk = story_ids[chunk_start : chunk_start + 500]
        articles = session.execute(
            select(
                func.coalesce(Article.story_id, Article.id),
                Article.title,
                Article.url,
                Article.publisher,
                Article.published_at,
                Article.seen_at,
                Article.id,
            ).where(
                (Article.story_id.in_(chunk)) | (Article.id.in_(chunk) & Article.story_id.is_(None))
            )
        ).all()
        by_story: dict[int, list[Any]] = defaultdict(list)
        for row in articles:
            by_story[row[0]].append(row)
        for members in by_story.values():
            earliest = min(members, key=lambda r: (r.seen_at, r.id))
            headlines.append(
                StoryHeadline(
                    title=earliest.title,
                    url=earliest.url,
                    publisher=earliest.publisher,
                    published_at=earliest.published_at,
                    seen_at=earliest.seen_at,
                    copies=len(members),
                )
            )
    headlines.sort(key=lambda h: (-h.copies, -epoch_seconds(h.seen_at)))
    return languages, headlines[:limit]
