"""articles: the publisher's description of the picture

The mail gave each picture a credit for its alt text ("Photo · Gulf Wire"), which describes
nothing and repeats the byline. Feeds often describe the picture (``<media:description>``, an
``<img alt>``): it is kept with the article, and the mail reads it, or gives the picture an
empty alt when the publisher wrote none. Articles stored before have none.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 08:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("image_description", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("image_description")
