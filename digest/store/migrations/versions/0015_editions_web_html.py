"""editions: the whole edition's HTML for its web copy

An edition too large for Gmail's clip even as bare headlines leaves its last stories out of the
mail's HTML. Those stories were in the plain-text part alone, which few mail programs show, and
the web copy, the stored mail HTML, lacked them too. The renderer now also keeps the whole
edition's HTML for the web when it leaves stories out of the mail; editions stored before have
none, and their web copy stays the mail's HTML.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 16:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("web_html", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("web_html")
