"""The search index: each article's normalised words, full-text indexed by the database.

``articles`` triggers queue new and edited articles in ``search_pending`` (migration
0004); ``sync_search_index`` indexes the queued articles. A body is
``normalise(title) + " " + normalise(text or summary)``: the same words the watch-list
matcher sees, so the database tokenizer only has to split on spaces.

- SQLite: rows of the contentless FTS5 table ``article_fts`` (rowid = article id), words
  in order, for phrase queries. An edited article is indexed again; its old postings
  stay (they can only add candidates, which the matcher drops).
- PostgreSQL: ``article_search`` rows, each word once (``to_tsvector`` caps positions,
  and ``search`` only ANDs words there).

Bodies are bounded in UTF-8 bytes, the unit the database limits: PostgreSQL refuses a
tsvector over 1 MB, which 400,000 characters of a 3-byte script exceed. Words past the
bound are not searchable through the index. One row the database still refuses never
blocks its batch: a failing batch is split in halves until the refused rows are alone,
and each is skipped (one log line, out of the queue until the article changes or the
index is rebuilt) while the others are indexed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import table
from sqlalchemy.sql.expression import column

from storage.engine import transaction
from storage.models import Article
from watchlist.mentions import matchable_text
from watchlist.normalise import normalise

logger = logging.getLogger(__name__)

BATCH = 2_000
TSVECTOR_BUDGET = 512 * 1024
"""Bytes of a PostgreSQL body's tsvector strings (``_tsvector_cost`` per word): half of
the 1 MB PostgreSQL accepts, a margin for words its parser splits into several lexemes."""
MAX_LEXEME_BYTES = 2_047
"""PostgreSQL drops longer words from a tsvector anyway; they would only use budget."""
FTS5_BUDGET = 2 * 1024 * 1024
"""Bytes of a SQLite body: the longest article text (400,000 characters) in any script."""

article_search = table("article_search", column("article_id"), column("body"))
search_pending = table("search_pending", column("article_id"))

Body = dict[str, object]
"""``{"article_id": ..., "body": ...}``, one row to index."""


def search_body(title: str, text: str, *, distinct: bool = False) -> str:
    """Normalised words of title and text, within the byte budget of the index; each word
    once (PostgreSQL) when ``distinct``."""
    words = f"{normalise(title)} {normalise(text)}".split()
    if distinct:
        unique = (w for w in dict.fromkeys(words) if len(w.encode()) <= MAX_LEXEME_BYTES)
        return " ".join(_within(unique, TSVECTOR_BUDGET, _tsvector_cost))
    return " ".join(_within(words, FTS5_BUDGET, _spaced_bytes))


def _tsvector_cost(word: str) -> int:
    """What one lexeme adds to PostgreSQL's tsvector size: its bytes, padded to even,
    then a position count and one position (2 bytes each)."""
    size = len(word.encode())
    return size + size % 2 + 4


def _spaced_bytes(word: str) -> int:
    return len(word.encode()) + 1


def _within(words: Iterable[str], budget: int, cost: Callable[[str], int]) -> list[str]:
    """The leading words whose costs add up to at most ``budget``."""
    kept: list[str] = []
    spent = 0
    for word in words:
        spent += cost(word)
        if spent > budget:
            break
        kept.append(word)
    return kept


def pending_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(search_pending)) or 0)


def sync_search_index(factory: sessionmaker[Session], batch: int = BATCH) -> int:
    """Index every queued article, a batch at a time; returns how many were indexed."""
    done = 0
    while True:
        taken, indexed = _sync_batch(factory, batch)
        if taken == 0:
            break
        done += indexed
        if done % (batch * 25) < batch:
            logger.info("search index: %d articles indexed", done)
    if done:
        logger.info("search index: %d articles indexed", done)
    return done


def _sync_batch(factory: sessionmaker[Session], batch: int) -> tuple[int, int]:
    """Index the next ``batch`` queued articles; returns (taken off the queue, indexed)."""
    with factory() as session:
        ids = list(
            session.scalars(
                select(search_pending.c.article_id)
                .order_by(search_pending.c.article_id)
                .limit(batch)
            )
        )
        if not ids:
            return 0, 0
        dialect = session.get_bind().dialect.name
        rows = session.execute(
            select(Article.id, Article.title, Article.text, Article.summary).where(
                Article.id.in_(ids)
            )
        ).all()
    bodies = {
        article_id: search_body(
            title or "", matchable_text(text, summary), distinct=dialect == "postgresql"
        )
        for article_id, title, text, summary in rows
    }
    skipped = _index_in_halves(factory, dialect, ids, bodies)
    return len(ids), len(bodies) - len(skipped)


def _index_in_halves(
    factory: sessionmaker[Session], dialect: str, ids: list[int], bodies: dict[int, str]
) -> list[int]:
    """Index ``ids`` (deleted articles have no body) and take them off the queue, one
    transaction per group; a group the database refuses is halved until the refused
    rows are alone. Returns the ids skipped."""
    skipped: list[int] = []
    groups = [ids]
    while groups:
        group = groups.pop()
        try:
            with transaction(factory) as session:
                rows = [{"article_id": i, "body": bodies[i]} for i in group if i in bodies]
                _insert(session, dialect, rows)
                _dequeue(session, group)
        except DBAPIError as error:
            if not _refused_data(error):
                raise
            if len(group) > 1:
                middle = len(group) // 2
                groups += [group[middle:], group[:middle]]
                continue
            reason = str(error.orig).splitlines()[0] if error.orig else type(error).__name__
            logger.warning("search index: article %d skipped, the database refused it: %s",
                           group[0], reason)  # fmt: skip
            with transaction(factory) as session:
                _dequeue(session, group)
            skipped += group
    return skipped


def _refused_data(error: DBAPIError) -> bool:
    """Whether the database refused the rows themselves (too long, malformed, a
    constraint), not the connection, a lock or a timeout: only then is halving useful."""
    state = getattr(error.orig, "sqlstate", None)  # psycopg
    if isinstance(state, str):
        # 22 data exception, 23 integrity constraint violation, 54 program limit exceeded
        return state[:2] in ("22", "23", "54")
    name = getattr(error.orig, "sqlite_errorname", "")
    return name.startswith("SQLITE_CONSTRAINT") or name in ("SQLITE_TOOBIG", "SQLITE_MISMATCH")


def _insert(session: Session, dialect: str, rows: Sequence[Body]) -> None:
    if not rows:
        return
    if dialect == "sqlite":
        session.execute(
            text("INSERT INTO article_fts (rowid, body) VALUES (:article_id, :body)"), rows
        )
        return
    statement = pg_insert(article_search)
    statement = statement.on_conflict_do_update(
        index_elements=[article_search.c.article_id], set_={"body": statement.excluded.body}
    )
    session.execute(statement, list(rows))


def _dequeue(session: Session, ids: Sequence[int]) -> None:
    session.execute(delete(search_pending).where(search_pending.c.article_id.in_(ids)))


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
