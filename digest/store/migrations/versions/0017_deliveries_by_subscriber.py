"""deliveries: an index on the subscriber

A reader's rows of the ledger are read by their subscriber id: when a sign-up never confirmed is
dropped (at each cycle: the cascade of the delete and the foreign key's check both look for the
reader's copies), and when a reader's data is shown or forgotten. The only index naming the
subscriber led with the edition, so each of those reads walked every copy of every edition ever
sent, which after a year of a daily edition to 20,000 readers is 7.3 million rows.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 01:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscriber_id", table_name="deliveries")
