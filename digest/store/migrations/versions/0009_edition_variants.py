"""edition variants: several editions of one (list, slot), each for the readers of one window

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from digest.store.upgrades import require_columns

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The new key's columns: SQLite's copy of the table leaves out a key it cannot make.
    require_columns(op.get_bind(), "editions", "list_slug", "slot")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("variant", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.drop_constraint("uq_editions_list_slot", type_="unique")
        batch_op.create_unique_constraint(
            "uq_editions_list_slot_variant", ["list_slug", "slot", "variant"]
        )


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_editions_list_slot_variant", type_="unique")
        batch_op.create_unique_constraint("uq_editions_list_slot", ["list_slug", "slot"])
        batch_op.drop_column("variant")
