"""list_starts: when each list began to run, apart from when it first built an edition

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_starts",
        sa.Column("list_slug", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("list_slug", name=op.f("pk_list_starts")),
    )


def downgrade() -> None:
    op.drop_table("list_starts")
