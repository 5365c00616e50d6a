"""subscriptions: when a pending sign-up was last asked for

A reader who signs up again while pending is sent the confirmation mail again, saying its link
works for ``web.confirm_days``; the sign-up lapsed that long after the first ask, taking the new
link with it. The latest ask is now kept, and the lapse counts from it. Rows kept before have
none, and lapse from their first ask as before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("asked_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("asked_at")
