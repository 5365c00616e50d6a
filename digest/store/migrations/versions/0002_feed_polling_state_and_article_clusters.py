"""feed polling state and article clusters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:43:39.713283
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_cluster_id"), ["cluster_id"], unique=False)

    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("next_poll_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("disabled_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("entries_per_day", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("last_new_entry_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_feeds_next_poll_at"), ["next_poll_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feeds_next_poll_at"))
        batch_op.drop_column("last_new_entry_at")
        batch_op.drop_column("entries_per_day")
        batch_op.drop_column("disabled_reason")
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("next_poll_at")
        batch_op.drop_column("current_url")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_cluster_id"))
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("cluster_id")
