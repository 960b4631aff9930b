"""The search index: each article's normalised words, full-text indexed by the database.

``articles`` triggers queue new and edited articles in ``search_pending`` (migration
0004); ``sync_search_index`` indexes the queued articles. A body is
``normalize(title) + " " + normalize(text or summary)``: the same words the watch-list
matcher sees, so the database tokenizer only has to split on spaces.

- SQLite: rows of the contentless FTS5 table ``article_fts`` (rowid = article id), words
  in order, for phrase queries. An edited article is indexed again; its old postings
  stay (they can only add candidates, which the matcher drops).
- PostgreSQL: ``article_search`` rows, each word once (``to_tsvector`` caps positions
  and size, and ``search`` only ANDs words there), at most ``MAX_DISTINCT_BODY`` characters
  so that one pathological page cannot stop indexing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import table
from sqlalchemy.sql.expression import column

from mediawatch.mentions import matchable_text
from mediawatch.normalize import normalize
from storage.engine import transaction
from storage.models import Article

logger = logging.getLogger(__name__)

BATCH = 2_000
MAX_DISTINCT_BODY = 400_000
"""PostgreSQL rejects a tsvector over 1 MB; a body of distinct words this long is a data
dump, not an article (words past the cap are not searchable through the index)."""

article_search = table("article_search", column("article_id"), column("body"))
search_pending = table("search_pending", column("article_id"))


def search_body(title: str, text: str, *, distinct: bool = False) -> str:
    """Normalised words of title and text; each word once when ``distinct``."""
    body = f"{normalize(title)} {normalize(text)}".strip()
    if distinct:
        body = " ".join(dict.fromkeys(body.split()))
        if len(body) > MAX_DISTINCT_BODY:
            body = body[: body.rfind(" ", 0, MAX_DISTINCT_BODY)]
    return body


def pending_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(search_pending)) or 0)


def sync_search_index(factory: sessionmaker[Session], batch: int = BATCH) -> int:
    """Index every queued article, one transaction per batch; returns how many."""
    done = 0
    while True:
        with transaction(factory) as session:
            indexed = _sync_batch(session, batch)
        if indexed == 0:
            break
        done += indexed
        if done % (batch * 25) < batch:
            logger.info("search index: %d articles indexed", done)
    if done:
        logger.info("search index: %d articles indexed", done)
    return done


def _sync_batch(session: Session, batch: int) -> int:
    ids = list(
        session.scalars(
            select(search_pending.c.article_id).order_by(search_pending.c.article_id).limit(batch)
        )
    )
    if not ids:
        return 0
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(Article.id, Article.title, Article.text, Article.summary).where(Article.id.in_(ids))
    ).all()
    bodies = [
        {
            "article_id": article_id,
            "body": search_body(
                title or "", matchable_text(text, summary), distinct=dialect == "postgresql"
            ),
        }
        for article_id, title, text, summary in rows
    ]
    if bodies and dialect == "sqlite":
        session.execute(
            text("INSERT INTO article_fts (rowid, body) VALUES (:article_id, :body)"), bodies
        )
    elif bodies:
        _upsert(session, bodies)
    session.execute(delete(search_pending).where(search_pending.c.article_id.in_(ids)))
    return len(ids)


def _upsert(session: Session, bodies: Sequence[dict[str, object]]) -> None:
    statement = pg_insert(article_search)
    statement = statement.on_conflict_do_update(
        index_elements=[article_search.c.article_id], set_={"body": statement.excluded.body}
    )
    session.execute(statement, list(bodies))


def rebuild_search_index(factory: sessionmaker[Session], batch: int = BATCH) -> int:
    """Drop the whole index and index every article again (clears stale SQLite postings
    left by edited and deleted articles); returns how many were indexed."""
    with transaction(factory) as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("INSERT INTO article_fts (article_fts) VALUES ('delete-all')"))
            session.execute(text("INSERT OR IGNORE INTO search_pending SELECT id FROM articles"))
        else:
            session.execute(delete(article_search))
            session.execute(
                text("INSERT INTO search_pending SELECT id FROM articles ON CONFLICT DO NOTHING")
            )
    return sync_search_index(factory, batch)
