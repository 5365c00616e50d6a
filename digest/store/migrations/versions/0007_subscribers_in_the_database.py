"""subscribers in the database: pending, confirmed, unsubscribed; history, suppressions, file marks

Memberships become pending | confirmed | unsubscribed with the channel of their last change.
Existing rows: ``active`` becomes ``confirmed`` (channel "import": the file put them there);
``removed`` (left out of the list's file by a sync) becomes ``unsubscribed`` with channel
"import", so the file's last word holds and no import undoes it; ``unsubscribed`` stays, with
channel "unrecorded", since nothing said which channel it came by. The history starts empty:
changes before this revision were not recorded.

Columns are added, never a table copied: on SQLite a copy of ``subscribers`` would cascade to
the delivery ledger.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscribers",
        sa.Column("set_by", sa.String(16), server_default="import", nullable=False),
    )
    op.create_index("ix_subscribers_email_lower", "subscribers", [sa.text("lower(email)")])
    op.add_column(
        "subscriptions",
        sa.Column("channel", sa.String(32), server_default="import", nullable=False),
    )
    # In this order: the new column says "import" for every row until the old unsubscribes
    # are told apart from the removed rows.
    op.execute("UPDATE subscriptions SET channel = 'unrecorded' WHERE status = 'unsubscribed'")
    op.execute(
        "UPDATE subscriptions SET status = 'unsubscribed', channel = 'import' "
        "WHERE status = 'removed'"
    )
    op.execute("UPDATE subscriptions SET status = 'confirmed' WHERE status = 'active'")
    op.create_table(
        "subscription_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name="fk_subscription_history_subscriber_id_subscribers",
            ),
            nullable=False,
        ),
        sa.Column("list_slug", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_history"),
    )
    op.create_index(
        "ix_subscription_history_subscriber_id", "subscription_history", ["subscriber_id"]
    )
    op.create_index(
        "ix_subscription_history_to_status_at", "subscription_history", ["to_status", "at"]
    )
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address_key", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.UniqueConstraint("address_key", name="uq_suppressions_address_key"),
    )
    op.create_index("ix_suppressions_email", "suppressions", ["email"])
    op.create_table(
        "file_marks",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("history_upto", sa.Integer(), nullable=False),
        sa.Column("suppressions_upto", sa.Integer(), nullable=False),
        sa.Column("copied", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_file_marks"),
    )


def downgrade() -> None:
    op.drop_table("file_marks")
    op.drop_index("ix_suppressions_email", "suppressions")
    op.drop_table("suppressions")
    op.drop_index("ix_subscription_history_to_status_at", "subscription_history")
    op.drop_index("ix_subscription_history_subscriber_id", "subscription_history")
    op.drop_table("subscription_history")
    op.execute(
        "UPDATE subscriptions SET status = 'active' WHERE status IN ('confirmed', 'pending')"
    )
    op.execute(
        "UPDATE subscriptions SET status = 'removed' "
        "WHERE status = 'unsubscribed' AND channel = 'import'"
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("channel")
    op.drop_index("ix_subscribers_email_lower", "subscribers")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("set_by")
