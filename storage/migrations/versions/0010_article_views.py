"""article views: a Telegram post's view count

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 04:10:00

A post's page shows how many times it was viewed; the crawl keeps that count (as shown
when the post was fetched) beside the article. Other articles have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("views", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("views")
