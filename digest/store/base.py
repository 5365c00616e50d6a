"""What every part of the store shares: the session factory, one transaction per call, and
lookups a bounded slice at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

CHUNK = 500  # addresses or ids per lookup: well under SQLite's bound-parameter cap

T = TypeVar("T")


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._sessions.begin() as session:
            try:
                yield session
            except KeyboardInterrupt:
                # Ctrl-C (or SIGTERM, digest.cli.boundary) may break off a statement between
                # its sending and its answer, the connection left mid-command: its rollback
                # then failed ("another command is already in progress") and that error
                # replaced the interrupt, which ended the command "cannot open the database",
                # exit 1; and the connection, back in the pool, failed the next statement.
                # Thrown away instead, the interrupt goes on as it came.
                for connection in _connections_of(session):
                    connection.invalidate()
                raise


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough for an IN list on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _connections_of(session: Session) -> list[Connection]:
    """The connections the session's transaction holds (none checked out for the asking)."""
    transaction = session.get_transaction()
    if transaction is None:
        return []
    return [connection for connection, *_ in transaction._connections.values()]
