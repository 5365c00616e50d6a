"""retention: keys of pruned articles, and editions whose ledger was pruned

Old articles and settled ledger rows are deleted after ``retention.articles_days`` and
``retention.deliveries_days`` (digest.retention). A feed may still serve an item whose article
was deleted; its key stays in ``pruned_articles`` so it is not stored and mailed again. An
edition whose copies began to be deleted is marked, so it is never queued again for readers
whose rows are gone. An article deleted takes its places in editions with it, found by an
index on the article.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 07:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pruned_articles",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pruned_articles")),
    )
    op.create_index(op.f("ix_pruned_articles_seen_at"), "pruned_articles", ["seen_at"])
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("ledger_pruned_at", sa.DateTime(), nullable=True))
    op.create_index("ix_edition_articles_article_id", "edition_articles", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_edition_articles_article_id", table_name="edition_articles")
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("ledger_pruned_at")
    op.drop_index(op.f("ix_pruned_articles_seen_at"), table_name="pruned_articles")
    op.drop_table("pruned_articles")
