"""search index: normalised article words, full-text indexed; triggers queue changes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:00:00

The index holds each article's *normalised* title and text (``watchlist.normalise``:
Arabic letter folding, apostrophes, digits, accents), written by
``archive.search_index.sync_search_index``: the database's own tokenizer cannot do that
folding, and search results must equal what the watch-list matcher decides.

- ``search_pending``: article ids whose words must be (re)indexed. Triggers on
  ``articles`` fill it on insert and when title, text or summary change, so the spiders
  need not know the index exists.
- SQLite: ``article_fts``, a contentless FTS5 table (rowid = article id; unicode61 with
  diacritics removal, marks kept inside words so FTS tokens are exactly the normalised
  words). Contentless keeps only the index (no second copy of every text); an edited or
  deleted article leaves stale postings behind, which can only add candidates.
- PostgreSQL: ``article_search`` (article id, distinct normalised words; cascades on
  delete) with a GIN index on ``to_tsvector('simple', body)``.

The index is only a candidate prefilter; the matcher decides.

Indexes for trend reports (models should declare them too): mentions
``(cluster, seen_at, story_id, article_id)`` covers stories and articles per cluster and
bucket; articles ``(seen_at, story_id)`` covers all stories per bucket; on SQLite,
articles ``(id, publisher)`` lets the publisher join read a dense index instead of the
wide article rows (``reports.trends`` names it with ``INDEXED BY``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SQLITE_UP = (
    """CREATE VIRTUAL TABLE article_fts USING fts5(
        body, content='', tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
    )""",
    """CREATE TRIGGER articles_search_ai AFTER INSERT ON articles BEGIN
        INSERT OR IGNORE INTO search_pending(article_id) VALUES (new.id);
    END""",
    """CREATE TRIGGER articles_search_au AFTER UPDATE OF title, text, summary ON articles BEGIN
        INSERT OR IGNORE INTO search_pending(article_id) VALUES (new.id);
    END""",
)

_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS articles_search_au",
    "DROP TRIGGER IF EXISTS articles_search_ai",
    "DROP TABLE IF EXISTS article_fts",
)

_POSTGRES_UP = (
    "CREATE INDEX ix_article_search_fts ON article_search "
    "USING gin (to_tsvector('simple'::regconfig, body))",
    """CREATE FUNCTION mediawatch_search_pending() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_pending(article_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER articles_search_ai AFTER INSERT ON articles
        FOR EACH ROW EXECUTE FUNCTION mediawatch_search_pending()""",
    """CREATE TRIGGER articles_search_au AFTER UPDATE OF title, text, summary ON articles
        FOR EACH ROW EXECUTE FUNCTION mediawatch_search_pending()""",
)

_POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS articles_search_au ON articles",
    "DROP TRIGGER IF EXISTS articles_search_ai ON articles",
    "DROP FUNCTION IF EXISTS mediawatch_search_pending()",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect != "sqlite":
        op.create_table(
            "article_search",
            sa.Column("article_id", sa.Integer(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(
                ["article_id"],
                ["articles.id"],
                name=op.f("fk_article_search_article_id_articles"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
        )
    op.create_table(
        "search_pending",
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_search_pending")),
    )
    for statement in _SQLITE_UP if dialect == "sqlite" else _POSTGRES_UP:
        op.execute(statement)
    op.execute("INSERT INTO search_pending (article_id) SELECT id FROM articles")
    op.create_index(
        op.f("ix_mentions_cluster_seen_at_story_id_article_id"),
        "mentions",
        ["cluster", "seen_at", "story_id", "article_id"],
    )
    op.create_index(op.f("ix_articles_seen_at_story_id"), "articles", ["seen_at", "story_id"])
    if dialect == "sqlite":
        op.create_index(op.f("ix_articles_id_publisher"), "articles", ["id", "publisher"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.drop_index(op.f("ix_articles_id_publisher"), table_name="articles")
    op.drop_index(op.f("ix_articles_seen_at_story_id"), table_name="articles")
    op.drop_index(op.f("ix_mentions_cluster_seen_at_story_id_article_id"), table_name="mentions")
    for statement in _SQLITE_DOWN if dialect == "sqlite" else _POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("search_pending")
    if dialect != "sqlite":
        op.drop_table("article_search")
