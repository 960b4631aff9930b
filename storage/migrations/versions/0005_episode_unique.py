"""alert episodes: at most one per cluster and onset bucket

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 08:00:00

Two detection runs at once could each open an episode for the same spike, and each
queue its alert (the idempotency key names the episode). The detect job now serialises
itself on PostgreSQL (an advisory lock); a unique index on ``(cluster, onset_bucket)``
is the safety net on every database.

A unique *index* rather than a table constraint: on SQLite adding a constraint means
rebuilding ``alert_episodes``, and dropping the old table while foreign keys are on
(they are, inside the migration's transaction) sets every ``alert_outbox.episode_id``
to NULL. An index is added in place, and enforces the same.

Duplicates written before this revision are merged first: the outbox rows of a
duplicate move to the oldest episode of its (cluster, onset bucket), then it is deleted.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_MERGE_OUTBOX = """
UPDATE alert_outbox SET episode_id = (
    SELECT MIN(kept.id) FROM alert_episodes AS kept
    JOIN alert_episodes AS dup
        ON kept.cluster = dup.cluster AND kept.onset_bucket = dup.onset_bucket
    WHERE dup.id = alert_outbox.episode_id
)
WHERE episode_id IN (
    SELECT dup.id FROM alert_episodes AS dup
    JOIN alert_episodes AS kept
        ON kept.cluster = dup.cluster AND kept.onset_bucket = dup.onset_bucket
        AND kept.id < dup.id
)
"""

_DELETE_DUPLICATES = """
DELETE FROM alert_episodes WHERE EXISTS (
    SELECT 1 FROM alert_episodes AS kept
    WHERE kept.cluster = alert_episodes.cluster
        AND kept.onset_bucket = alert_episodes.onset_bucket
        AND kept.id < alert_episodes.id
)
"""


def upgrade() -> None:
    op.execute(_MERGE_OUTBOX)
    op.execute(_DELETE_DUPLICATES)
    with op.batch_alter_table("alert_episodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_episodes_cluster_onset_bucket"),
            ["cluster", "onset_bucket"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_episodes_cluster_onset_bucket"))
