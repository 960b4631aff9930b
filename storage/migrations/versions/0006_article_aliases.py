"""article aliases: the URLs an article was reached under, other than its own

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00

A page whose ``rel=canonical`` (or final redirect URL) differs from the feed's link is
stored under the canonical URL, but the crawl asks ``known_urls`` about the feed's link:
without a record of that link, the page was fetched again whenever its feed changed.
The store now writes the link here (insert-if-absent, in the article's transaction) and
``known_urls`` counts it as known. Deleting an article deletes its aliases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_aliases",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_aliases_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_article_aliases")),
    )
    op.create_index(op.f("ix_article_aliases_article_id"), "article_aliases", ["article_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_article_aliases_article_id"), table_name="article_aliases")
    op.drop_table("article_aliases")
