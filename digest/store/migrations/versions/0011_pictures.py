"""pictures: the copies of the editions' pictures that the service serves

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pictures",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.String(length=2048), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pictures")),
    )
    op.create_index(op.f("ix_pictures_used_at"), "pictures", ["used_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pictures_used_at"), table_name="pictures")
    op.drop_table("pictures")
