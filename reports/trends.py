"""Trend queries over the archive: what a report shows. Sessions are passed in.

Per cluster and bucket (hour, day or week of ``seen_at``):

- ``stories``: distinct stories (``story_id``; syndicated copies count once per bucket);
- ``articles``: distinct articles; ``sources``: distinct publishers;
- ``share``: the cluster's stories / all stories stored in that bucket (matching or
  not), so a trend is not just "we added more feeds".

Empty buckets are filled with zeros. The SQL is the same on SQLite and PostgreSQL but
for bucket truncation (``reports.buckets``). Breakdowns (top sources, languages,
co-occurrence, episodes) live in ``reports.breakdowns``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import DateTime, Engine, bindparam, func, literal_column, select, text
from sqlalchemy.orm import Session

from reports.buckets import Granularity, bucket_grid, bucket_sql, bucket_value
from storage.models import Article, Mention

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Period:
    """``[since, until)`` in naive UTC, bucketed ``by``."""

    since: datetime
    until: datetime
    by: Granularity

    @property
    def buckets(self) -> list[datetime]:
        return bucket_grid(self.since, self.until, self.by)


@dataclass(frozen=True)
class TrendRow:
    """One cluster in one bucket."""

    cluster: str
    bucket: datetime
    articles: int
    stories: int
    sources: int
    share: float
    """Cluster stories / all stories stored in the bucket (0.0 when there were none)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "cluster": self.cluster,
            "bucket": self.bucket.isoformat(),
            "articles": self.articles,
            "stories": self.stories,
            "sources": self.sources,
            "share": round(self.share, 6),
        }


def cluster_trends(
    session: Session, period: Period, clusters: Sequence[str], *, workers: int | None = None
) -> list[TrendRow]:
    """Rows for every cluster x bucket of the period (zeros included), cluster-major.

    The counts of cluster groups and the all-stories count are independent queries; with
    ``workers`` > 1 (default: the CPU count, at most 4) they run at once, each on its own
    connection of the session's engine, so they read committed data (a report never
    writes). An in-memory SQLite database, whose connections do not share data, and a
    session bound to a single connection run them in turn."""
    dialect = session.get_bind().dialect.name
    engine = session.get_bind()
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    groups = [list(clusters[i::workers]) for i in range(workers)]
    tasks: list[Callable[[Session], object]] = [
        partial(_cluster_counts, period=period, clusters=group, dialect=dialect)
        for group in groups
        if group
    ]
    tasks.append(partial(all_stories, period=period, dialect=dialect))
    if workers > 1 and isinstance(engine, Engine) and _shares_data(engine):
        results = _concurrently(engine, tasks)
    else:
        results = [task(session) for task in tasks]
    totals: dict[datetime, int] = results[-1]  # type: ignore[assignment]
    counted: dict[tuple[str, datetime], tuple[int, int, int]] = {}
    for part in results[:-1]:
        counted.update(part)  # type: ignore[call-overload]
    rows = []
    for cluster in clusters:
        for bucket in period.buckets:
            articles, stories, sources = counted.get((cluster, bucket), (0, 0, 0))
            total = totals.get(bucket, 0)
            share = stories / total if total else 0.0
            rows.append(TrendRow(cluster, bucket, articles, stories, sources, share))
    return rows


def _shares_data(engine: Engine) -> bool:
    """Whether a second connection sees the same database (not SQLite ``:memory:``)."""
    if engine.dialect.name != "sqlite":
        return True
    database = engine.url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in database


def _concurrently(engine: Engine, tasks: Sequence[Callable[[Session], T]]) -> list[T]:
    def run(task: Callable[[Session], T]) -> T:
        with engine.connect() as connection, Session(bind=connection) as session:
            return task(session)

    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="report") as pool:
        return list(pool.map(run, tasks))


_SQLITE_COUNTS = """
SELECT m.cluster, {bucket} AS bucket, count(DISTINCT m.article_id),
       count(DISTINCT coalesce(m.story_id, m.article_id)), count(DISTINCT a.publisher)
FROM mentions AS m JOIN articles AS a INDEXED BY ix_articles_id_publisher ON a.id = m.article_id
WHERE m.cluster IN :clusters AND m.seen_at >= :since AND m.seen_at < :until
GROUP BY m.cluster, bucket
"""


def _cluster_counts(
    session: Session, period: Period, clusters: Sequence[str], dialect: str
) -> dict[tuple[str, datetime], tuple[int, int, int]]:
    if not clusters:
        return {}
    if dialect == "sqlite":
        return _sqlite_cluster_counts(session, period, clusters)
    bucket = bucket_sql(Mention.seen_at, period.by, dialect).label("bucket")
    query = (
        select(
            Mention.cluster,
            bucket,
            func.count(func.distinct(Mention.article_id)),
            func.count(func.distinct(func.coalesce(Mention.story_id, Mention.article_id))),
            func.count(func.distinct(Article.publisher)),
        )
        .join(Article, Article.id == Mention.article_id)
        .where(
            Mention.cluster.in_(list(clusters)),
            Mention.seen_at >= period.since,
            Mention.seen_at < period.until,
        )
        .group_by(Mention.cluster, bucket)
    )
    return {
        (cluster, bucket_value(value)): (int(articles), int(stories), int(sources))
        for cluster, value, articles, stories, sources in session.execute(query)
    }


def _sqlite_cluster_counts(
    session: Session, period: Period, clusters: Sequence[str]
) -> dict[tuple[str, datetime], tuple[int, int, int]]:
    """The same counts in SQL that names the narrow publisher index: SQLite's planner
    would otherwise fetch each wide article row (2-3x slower at a million articles)."""
    bucket = bucket_sql(literal_column("m.seen_at"), period.by, "sqlite")
    sql = _SQLITE_COUNTS.format(bucket=bucket.compile(compile_kwargs={"literal_binds": True}))
    statement = text(sql).bindparams(
        bindparam("clusters", list(clusters), expanding=True),
        bindparam("since", period.since, type_=DateTime()),
        bindparam("until", period.until, type_=DateTime()),
    )
    return {
        (cluster, bucket_value(value)): (int(articles), int(stories), int(sources))
        for cluster, value, articles, stories, sources in session.execute(statement)
    }


def all_stories(
    session: Session, period: Period, dialect: str | None = None
) -> dict[datetime, int]:
    """Distinct stories stored per bucket, whatever they mention."""
    dialect = dialect or session.get_bind().dialect.name
    bucket = bucket_sql(Article.seen_at, period.by, dialect).label("bucket")
    query = (
        select(bucket, func.count(func.distinct(func.coalesce(Article.story_id, Article.id))))
        .where(Article.seen_at >= period.since, Article.seen_at < period.until)
        .group_by(bucket)
    )
    return {bucket_value(value): int(count) for value, count in session.execute(query)}
