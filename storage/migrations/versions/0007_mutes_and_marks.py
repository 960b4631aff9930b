"""alert fatigue: muted clusters, episodes marked useful or a false alarm

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00

``cluster_mutes`` holds ``alerts mute CLUSTER --for 24h`` (one row per muted cluster;
``alerts unmute`` deletes it). ``alert_episodes`` gains ``muted`` (opened while its
cluster was muted: listed, never alerted), ``updated_at`` (when its update alert was
queued: digests list episodes opened or updated since the previous one) and
``feedback``/``feedback_at`` (``alerts mark``: the yardstick of ``alerts backtest``).

Plain ``ADD COLUMN`` on every database: on SQLite a batch rebuild of ``alert_episodes``
would drop the table with foreign keys on and null every ``alert_outbox.episode_id``
(see 0005).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_mutes",
        sa.Column("cluster", sa.String(length=200), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("muted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", name=op.f("pk_cluster_mutes")),
    )
    op.add_column("alert_episodes", sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.add_column(
        "alert_episodes",
        sa.Column("muted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("alert_episodes", sa.Column("feedback", sa.String(length=20), nullable=True))
    op.add_column("alert_episodes", sa.Column("feedback_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_episodes", schema=None) as batch_op:
        batch_op.drop_column("feedback_at")
        batch_op.drop_column("feedback")
        batch_op.drop_column("muted")
        batch_op.drop_column("updated_at")
    op.drop_table("cluster_mutes")
