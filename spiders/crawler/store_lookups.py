"""What the article store reads before it decides: the fingerprints of recent articles
(one query, for loading the dedupe index and for catching up with other writers), the
source ids, and the ids of a stored original."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spiders.parsing.dedupe import Fingerprint
from storage.models import Article, Source


def recent_fingerprints(
    session: Session, since: datetime, *, after_id: int | None = None
) -> list[Fingerprint]:
    """The fingerprints of the articles seen since ``since`` (and, given ``after_id``, stored
    after that article), oldest first."""
    query = select(
        Article.url, Article.publisher, Article.seen_at, Article.title_hash,
        Article.simhash, Article.id, Article.story_id,
    ).where(Article.seen_at >= since)  # fmt: skip
    if after_id is not None:
        query = query.where(Article.id > after_id)
    return [
        Fingerprint(url, publisher, seen, title, simhash, article_id, story or article_id)
        for url, publisher, seen, title, simhash, article_id, story in session.execute(
            query.order_by(Article.id)
        )
    ]


def newest_article_id(session: Session) -> int:
    """The highest article id stored so far (0 for an empty archive)."""
    return session.scalar(select(func.max(Article.id))) or 0


def source_ids(session: Session) -> dict[str, int]:
    """Each source's id, by name."""
    return {name: id_ for name, id_ in session.execute(select(Source.name, Source.id))}


def stored_ids(session: Session, url: str) -> tuple[int, int] | None:
    """(id, story id) of the article stored under ``url``, if any."""
    row = session.execute(select(Article.id, Article.story_id).where(Article.url == url)).first()
    if row is None:
        return None
    return row[0], row[1] or row[0]
