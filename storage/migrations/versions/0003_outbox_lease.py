"""outbox lease: who is sending a message, since when

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00

A deliverer claims a pending message by setting ``status='sending'``, ``claimed_at``
and a random ``claim_token``; a message left 'sending' past its lease (a crash
mid-send) goes back to pending. The token makes "mark sent" apply to one's own claim.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("claim_token", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
        batch_op.drop_column("claimed_at")
