"""deliveries: the (edition, status) index also ordered by id

A sent row leaves its old version in the index as pending until vacuum. Reading an edition's
pending rows by id (the next batch after the last id read; whether any is left, from the
highest id down) then starts where the live ones are instead of walking every copy sent so far,
which made each batch of a large list slower than the one before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 05:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_edition_status_id", "deliveries", ["edition_id", "status", "id"])
    op.drop_index("ix_deliveries_edition_status", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_edition_status", "deliveries", ["edition_id", "status"])
    op.drop_index("ix_deliveries_edition_status_id", table_name="deliveries")
