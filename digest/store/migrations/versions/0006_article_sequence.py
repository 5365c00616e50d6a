"""article sequence: editions take articles in commit order, not by first-seen time

Existing articles are numbered in first-seen order and each edition is stamped with the number
of the last article first seen within its window, so that every window continues exactly where
it ended before the upgrade: no article is sent twice or missed across it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 15:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_articles = sa.table(
    "articles",
    sa.column("id", sa.Integer()),
    sa.column("first_seen_at", sa.DateTime()),
    sa.column("seq", sa.Integer()),
)


def upgrade() -> None:
    op.create_table(
        "article_sequence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_seq", sa.Integer(), nullable=True))
    bind = op.get_bind()
    ids = bind.execute(
        sa.select(_articles.c.id).order_by(_articles.c.first_seen_at, _articles.c.id)
    ).scalars()
    numbered = [{"row_id": article_id, "number": n} for n, article_id in enumerate(ids, 1)]
    if numbered:
        bind.execute(
            sa.update(_articles)
            .where(_articles.c.id == sa.bindparam("row_id"))
            .values(seq=sa.bindparam("number")),
            numbered,
        )
    # Numbered by first-seen time, the articles of an edition's old window are exactly those
    # numbered up to the count of articles first seen by its end.
    op.execute(
        "UPDATE editions SET window_seq = "
        "(SELECT COUNT(*) FROM articles WHERE articles.first_seen_at <= editions.window_end)"
    )
    op.execute(
        sa.text("INSERT INTO article_sequence (id, value) VALUES (1, :value)").bindparams(
            value=len(numbered)
        )
    )
    # Left nullable in the table (the code always writes them): making them NOT NULL on SQLite
    # means copying the table, and dropping the old one would cascade to the topics, the
    # editions' articles and the deliveries.
    op.create_index("ix_articles_seq", "articles", ["seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("window_seq")
    op.drop_index("ix_articles_seq", table_name="articles")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("seq")
    op.drop_table("article_sequence")
