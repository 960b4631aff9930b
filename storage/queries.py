"""Queries over sources and articles. Sessions and ``now`` are always passed in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Text, and_, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from storage.models import Article, ArticleAlias, Source


class SourceSpec(Protocol):
    """What storage needs to know of a configured source."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def every(self) -> timedelta | None: ...


@dataclass(frozen=True)
class SyncResult:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    disabled: tuple[str, ...]


def sync_sources(
    session: Session, specs: Sequence[SourceSpec], now: datetime, default_interval: timedelta
) -> SyncResult:
    """Make the sources table agree with the config, keeping each row's polling state.

    New sources are due at once; a changed URL resets the conditional-GET validators;
    sources gone from the config are disabled, not deleted (their articles stay)."""
    existing = {source.name: source for source in session.scalars(select(Source))}
    added, updated, disabled = [], [], []
    for spec in specs:
        interval = int((spec.every or default_interval).total_seconds())
        row = existing.pop(spec.name, None)
        if row is None:
            session.add(
                Source(
                    name=spec.name,
                    url=spec.url,
                    kind=spec.kind,
                    enabled=spec.enabled,
                    interval_seconds=interval,
                    next_poll_at=now,
                    created_at=now,
                    consecutive_failures=0,
                    healthy=True,
                )
            )
            added.append(spec.name)
            continue
        changed = (row.url, row.kind, row.enabled) != (spec.url, spec.kind, spec.enabled)
        if row.url != spec.url:
            row.etag = row.last_modified = None
            row.next_poll_at = now
        row.url, row.kind, row.enabled = spec.url, spec.kind, spec.enabled
        if (
            spec.every is not None
            and row.interval_seconds != interval
            and row.last_polled_at is None
        ):
            row.interval_seconds = interval
        if changed:
            updated.append(spec.name)
    for row in existing.values():
        if row.enabled:
            row.enabled = False
            disabled.append(row.name)
    session.flush()
    return SyncResult(tuple(added), tuple(updated), tuple(disabled))


def list_sources(session: Session, *, enabled_only: bool = False) -> list[Source]:
    query = select(Source).order_by(Source.name)
    if enabled_only:
        query = query.where(Source.enabled.is_(True))
    return list(session.scalars(query))


def source_is_due(now: datetime, early: timedelta = timedelta(0)) -> ColumnElement[bool]:
    """The one "source is due" condition: enabled, and its ``next_poll_at`` has come, or
    comes within ``early`` (``due_early``: the service polls at its ticks, and a source is
    best polled at the tick nearest its time, not at the first one after it)."""
    return and_(Source.enabled.is_(True), Source.next_poll_at <= now + early)


def due_early(tick: timedelta) -> timedelta:
    """How early a source counts as due when polls happen every ``tick``: half of it, so
    each poll lands at the tick nearest its due time (never more than half a tick early or
    late) instead of up to a whole tick late."""
    return tick / 2


def due_sources(
    session: Session, now: datetime, names: Sequence[str] = (), early: timedelta = timedelta(0)
) -> list[Source]:
    """Enabled sources due at ``now`` (``source_is_due``), soonest first."""
    query = select(Source).where(source_is_due(now, early)).order_by(Source.next_poll_at)
    if names:
        query = query.where(Source.name.in_(names))
    return list(session.scalars(query))


def articles_per_source(session: Session, since: datetime) -> dict[int, int]:
    """Articles stored per source id since ``since``."""
    rows = session.execute(
        select(Article.source_id, func.count())
        .where(Article.fetched_at >= since, Article.source_id.is_not(None))
        .group_by(Article.source_id)
    )
    return {source_id: count for source_id, count in rows if source_id is not None}


def iter_articles(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 500,
) -> Iterator[Article]:
    """Stored articles in id order with their mentions and duplicate, streamed in batches."""
    last_id = 0
    while True:
        query = (
            select(Article)
            .where(Article.id > last_id)
            .order_by(Article.id)
            .limit(batch)
            .options(selectinload(Article.mentions), selectinload(Article.duplicate_of))
        )
        if since is not None:
            query = query.where(Article.seen_at >= since)
        if until is not None:
            query = query.where(Article.seen_at < until)
        rows = list(session.scalars(query))
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()


def article_clusters(article: Article) -> list[str]:
    """Names of the clusters an article mentions, sorted."""
    return sorted({mention.cluster for mention in article.mentions})


def stored_urls(session: Session, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` are the URLs of stored articles (``articles.url``)."""
    found: set[str] = set()
    for start in range(0, len(urls), 500):
        chunk = list(urls[start : start + 500])
        found.update(session.scalars(select(Article.url).where(Article.url.in_(chunk))))
    return found


def known_urls(session: Session, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` need not be fetched (checked before fetching anything): the URLs
    of stored articles, and the URLs they were reached under (``article_aliases``)."""
    found = stored_urls(session, urls)
    rest = [url for url in urls if url not in found]
    for start in range(0, len(rest), 500):
        chunk = rest[start : start + 500]
        found.update(session.scalars(select(ArticleAlias.url).where(ArticleAlias.url.in_(chunk))))
    return found


def add_aliases(session: Session, aliases: Sequence[tuple[str, str]]) -> None:
    """Record each ``(alias, article_url)``: ``alias`` is another URL of the article stored
    under ``article_url``. Insert-if-absent (``ON CONFLICT DO NOTHING``, on SQLite and
    PostgreSQL alike), so an alias already there, or written meanwhile by a concurrent
    crawl, is left as it is; a pair whose article is not stored is skipped."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for alias, article_url in dict(aliases).items():
        if alias == article_url:
            continue
        rows = select(literal(alias, Text), Article.id).where(Article.url == article_url)
        statement = insert(ArticleAlias).from_select(["url", "article_id"], rows)
        session.execute(statement.on_conflict_do_nothing(index_elements=["url"]))
