"""backfill windows: the GDELT date windows ``mediawatch backfill`` has finished

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:00:00

One row per (cluster, scope, window) whose listed articles were all fetched and stored:
a rerun (or a run after kill -9) skips these windows and asks GDELT only for the rest.
``scope`` is the source a run was limited to (``--source``), or empty for every domain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_windows",
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "cluster", "scope", "start", "end", name=op.f("pk_backfill_windows")
        ),
    )


def downgrade() -> None:
    op.drop_table("backfill_windows")
