"""The article sequence: a counter that orders the transactions storing new articles by commit,
so that an edition's window is a range of it and never misses an article committed late.

    store transaction: UPDATE counter + 1 RETURNING value ─► stamp its new articles ─► commit
    edition build:     read the committed value V ─► window = (previous edition's V, V]

Why this holds where a window by first-seen time did not: the UPDATE locks the counter row until
its transaction ends, so the transaction holding stamp k+1 got it only after the one holding k
committed (or rolled back, leaving k unused). A build reads the committed value V with a plain
SELECT, which never waits on that lock (READ COMMITTED on PostgreSQL; SQLite writes one at a
time): every transaction stamped V or less has committed, and is visible to the build's next
statement, while the one holding the lock, if any, commits with V+1 and falls into the next
edition. A first-seen time is taken when the transaction starts, long before it commits.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from digest.store.schema import ArticleSequenceRow

_SEQUENCE = cast(Table, ArticleSequenceRow.__table__)
# One row, created by the migration that introduced the sequence (0006).
_ROW = 1
_NEXT = (
    update(_SEQUENCE)
    .where(_SEQUENCE.c.id == _ROW)
    .values(value=_SEQUENCE.c.value + 1)
    .returning(_SEQUENCE.c.value)
)
_CURRENT = select(_SEQUENCE.c.value).where(_SEQUENCE.c.id == _ROW)


def next_stamp(session: Session) -> int:
    """The stamp of this transaction's new articles; the counter stays locked until it ends."""
    return int(session.execute(_NEXT).scalar_one())


def committed(session: Session) -> int:
    """The stamp of the last transaction that stored articles and committed: all those with a
    smaller or equal stamp are visible to the statements that follow."""
    return int(session.execute(_CURRENT).scalar_one())
