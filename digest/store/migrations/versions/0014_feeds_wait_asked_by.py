"""feeds: the origin whose server asked to wait, and until when

A 429 or 503 with a Retry-After holds back every feed of the server that answered. The store
kept no trace of that server: the pause was read back from the feed's error text (it quoted
"(Retry-After"), so a reworded error turned it off, and it held the feed's own host even when a
redirect had taken the poll to another host, the one that asked. It lasted until the feed's
own next poll, which its backoff after earlier errors may put hours past the server's
Retry-After, and held every other feed of the server that long.

Rows paused before this revision are filled from that text, with the feed's own address and its
next poll: what the code that wrote them held back, and until when. The pauses they hold then
outlive the upgrade, and nothing reads the error's words any more.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 09:20:00.000000
"""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> str:
    """``scheme://host:port`` as ``digest.polling.host_of`` spelt it at this revision (a copy:
    a migration must not change with the code after it)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{scheme}://{(parts.hostname or '').lower()}:{port or _DEFAULT_PORTS.get(scheme, '')}"


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wait_asked_by", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("wait_asked_until", sa.DateTime(), nullable=True))
    feeds = sa.table(
        "feeds",
        sa.column("id", sa.Integer),
        sa.column("url", sa.String),
        sa.column("current_url", sa.String),
        sa.column("last_status", sa.Integer),
        sa.column("last_error", sa.Text),
        sa.column("consecutive_errors", sa.Integer),
        sa.column("next_poll_at", sa.DateTime),
        sa.column("wait_asked_by", sa.String),
        sa.column("wait_asked_until", sa.DateTime),
    )
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(feeds.c.id, feeds.c.url, feeds.c.current_url, feeds.c.next_poll_at).where(
            feeds.c.consecutive_errors > 0,
            feeds.c.last_status.in_((429, 503)),
            feeds.c.last_error.like("%(Retry-After%"),
        )
    ).all()
    for feed_id, url, current_url, next_poll_at in waiting:
        connection.execute(
            sa.update(feeds)
            .where(feeds.c.id == feed_id)
            .values(wait_asked_by=_origin(current_url or url), wait_asked_until=next_poll_at)
        )


def downgrade() -> None:
    # The error text still quotes the Retry-After: the code of 0013 reads its pauses from it.
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("wait_asked_until")
        batch_op.drop_column("wait_asked_by")
