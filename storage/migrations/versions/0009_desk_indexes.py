"""desk indexes: what the reports' period counts read from articles, in the index itself

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 04:00:00

PostgreSQL only. A report reads, for a period, each matching article's story, publisher
and language (by id, from its mentions) and every article's story (by ``seen_at``, for
the share). From the table that is one random heap page per article, and at a million
articles the desk's cluster page spent most of its time there (and the planner's cost
estimate crossed the JIT threshold, adding its own compile time to each query). Two
covering indexes make these index-only scans once the table is vacuumed (autovacuum
does that on a live archive).

SQLite needs neither: an index there holds the rowid (the article id) already, so
``(seen_at, story_id)`` covers the share, and ``ix_articles_id_publisher`` (0004) serves
the per-bucket counts.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        op.f("ix_articles_seen_at_story_id_id"), "articles", ["seen_at", "story_id", "id"]
    )
    op.create_index(
        op.f("ix_articles_id_covering"),
        "articles",
        ["id"],
        postgresql_include=["story_id", "seen_at", "publisher", "language"],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(op.f("ix_articles_id_covering"), table_name="articles")
    op.drop_index(op.f("ix_articles_seen_at_story_id_id"), table_name="articles")
