"""A bound on the wait for PostgreSQL's answer, kept by the client (psycopg).

The server cancels a statement past its statement_timeout, but only while it runs: a server
process paused (SIGSTOP, its machine frozen) or a network that drops every packet answers
nothing, and the kernel still acknowledges what is sent to it, so neither TCP nor libpq ever
gives up. One watcher thread a process cuts the socket of a connection whose answer is late; the
waiting call then fails at once, with an error that says so, and its connection is thrown away.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

# How long past the statement bound the client waits: the server, when it runs, cancels the
# statement first and says why, which is the clearer error.
MOST_GRACE_SECONDS = 10.0


def answer_seconds(statement_seconds: float) -> float:
    """How long the client waits for an answer to a statement bounded by ``statement_seconds``."""
    return statement_seconds + min(statement_seconds, MOST_GRACE_SECONDS)


class _Watcher:
    """Deadlines of the calls waiting on the server, and the thread that cuts the late ones."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadlines: dict[int, tuple[float, int]] = {}  # call -> (deadline, socket)
        self._late: set[int] = set()
        self._calls = itertools.count()
        self._pid = 0  # the process whose thread runs: a forked worker starts its own

    @contextmanager
    def watching(self, descriptor: int, seconds: float) -> Iterator[set[int]]:
        """Watch one call on the socket ``descriptor``; yields the set of late calls, in which
        the call's number is once its socket was cut."""
        with self._condition:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._deadlines.clear()
                self._late.clear()
                threading.Thread(target=self._run, name="database-answers", daemon=True).start()
            call = next(self._calls)
            self._deadlines[call] = (time.monotonic() + seconds, descriptor)
            self._condition.notify()
        try:
            yield {call}
        finally:
            with self._condition:
                self._deadlines.pop(call, None)

    def late(self, calls: set[int]) -> bool:
        with self._condition:
            late = bool(calls & self._late)
            self._late -= calls
            return late

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for call, (deadline, descriptor) in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[call]
                        self._late.add(call)
                        _cut(descriptor)
                nearest = min((deadline for deadline, _ in self._deadlines.values()), default=None)
                self._condition.wait(None if nearest is None else max(0.0, nearest - now))


def _cut(descriptor: int) -> None:
    """Shut the socket down, both ways: the call waiting on it reads its end at once. Through a
    copy of the descriptor, which the connection still owns and closes."""
    try:
        with socket.socket(fileno=os.dup(descriptor)) as copy:
            copy.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed meanwhile: the call has its answer, or its error


_watcher = _Watcher()


@contextmanager
def _answer_within(connection: AnsweringConnection) -> Iterator[None]:
    seconds = connection.answer_seconds
    if seconds is None or connection.closed:
        yield
        return
    with _watcher.watching(connection.fileno(), seconds) as calls:
        try:
            yield
        except psycopg.Error as error:
            if not _watcher.late(calls):
                raise
            connection.close()  # mid-exchange: of no more use, and SQLAlchemy drops it
            raise psycopg.OperationalError(
                f"the server did not answer within {seconds:g} s (paused, overloaded, or the "
                "network to it is down)"
            ) from error
        if _watcher.late(calls):
            # Cut as its answer came in: the socket is shut, so the connection is of no more
            # use either; closed, it is not handed out again with a dead socket.
            connection.close()


class AnsweringCursor(psycopg.Cursor[Any]):
    """A cursor whose statements wait for their answer ``answer_seconds`` at most."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        with _answer_within(self._answering):
            return super().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> None:
        with _answer_within(self._answering):
            super().executemany(*args, **kwargs)

    @property
    def _answering(self) -> AnsweringConnection:
        connection = self.connection
        assert isinstance(connection, AnsweringConnection)
        return connection


class AnsweringConnection(psycopg.Connection[Any]):
    """A connection whose statements, commits and rollbacks wait ``answer_seconds`` at most for
    the server's answer; None: as long as it takes (a wait the service means)."""

    answer_seconds: float | None = None

    def commit(self) -> None:
        with _answer_within(self):
            super().commit()

    def rollback(self) -> None:
        with _answer_within(self):
            super().rollback()
