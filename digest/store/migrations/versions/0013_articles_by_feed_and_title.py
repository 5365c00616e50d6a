"""articles: an index on (feed, title)

An entry whose guid and link are both new (a feed that stamps each item with a new guid and a
cache-busting link at every poll) is looked up among its feed's articles by its title, date and
summary. Without an index that read walked every article the feed ever stored, at every poll
that brought a new entry.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 20:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_feed_title", "articles", ["feed_id", "title"])


def downgrade() -> None:
    op.drop_index("ix_articles_feed_title", table_name="articles")
