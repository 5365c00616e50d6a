"""inbound events: bounces, complaints and mailto unsubscribes taken in once; webhook tokens seen

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:10:00.000000
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
        "inbound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("list_slug", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("event_id", name="uq_inbound_events_event_id"),
    )
    op.create_index(
        "ix_inbound_events_email_kind", "inbound_events", ["email", "kind", "received_at"]
    )
    op.create_table(
        "webhook_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_tokens")),
        sa.UniqueConstraint("provider", "token", name="uq_webhook_tokens_token"),
    )
    op.create_index(op.f("ix_webhook_tokens_seen_at"), "webhook_tokens", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_tokens_seen_at"), table_name="webhook_tokens")
    op.drop_table("webhook_tokens")
    op.drop_index("ix_inbound_events_email_kind", table_name="inbound_events")
    op.drop_table("inbound_events")
