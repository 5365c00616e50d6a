"""edition queued_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 14:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(), nullable=True))
    # Editions stored before this revision count as queued when built: queueing them now would
    # mail readers who joined since an edition that was never theirs.
    op.execute("UPDATE editions SET queued_at = built_at WHERE status <> 'empty'")


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("queued_at")
