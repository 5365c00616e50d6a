"""suppressions: the key of the suppressed address's mailbox

A sign-up form is refused for an address whose mailbox is suppressed ("ann+news@" when "ann@"
complained). The suppression now also keeps its own mailbox's key, so the refusal holds the
other way round too ("ann@" when "ann+news@" complained). The keys are HMACs under the
service's secret key, which a migration does not have: rows kept before are given theirs by the
next cycle (digest.unsubscribes.reconcile_suppressions), forgotten ones never.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("mailbox_key", sa.String(64), nullable=True))
        batch.create_index("ix_suppressions_mailbox_key", ["mailbox_key"])


def downgrade() -> None:
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_index("ix_suppressions_mailbox_key")
        batch.drop_column("mailbox_key")
