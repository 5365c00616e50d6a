"""Copy a whole digest database into a new, empty one: SQLite to PostgreSQL, or back.

    source: at the code's revision, nothing at work on it ─► one read snapshot
        │   table by table in foreign-key order, a batch at a time, every row with its id
        ▼
    target: empty, brought to the code's revision ─► one transaction: its keys and indexes
            dropped (PostgreSQL), the rows, the keys and indexes made again, the id sequences
            set past them, the rows counted against the source's ─► commit

Everything the service keeps goes along: the archive's editions, the delivery ledger (so a
slot sent before the move is not sent again after it), the articles seen (an old story is not
news again), memberships with the readers' topic choices, suppressions, the inbound events and
the check of the secret key (so a machine with another key is refused, not allowed to break
every link already mailed). A failure anywhere rolls the target's transaction back: it is left
with the schema and no rows, and the copy can simply be run again.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Table, func, inspect, select, text
from sqlalchemy.exc import DatabaseError, DBAPIError

from digest.errors import DatabaseCopyError
from digest.shown import brief, database_shown
from digest.store.db import patient, sqlite_file
from digest.store.load_keys import keys_dropped
from digest.store.schema import ArticleSequenceRow, Base
from digest.store.schema_lacks import driver_reason
from digest.store.upgrades import HEAD_REVISION, known_revisions, upgrade

# Rows read and written at a time: memory stays flat whatever the database's size. Editions
# carry their HTML (some hundreds of KB each, twice over with the web copy) and pictures their
# bytes (up to a few MB): a thousand of them at once would be gigabytes.
BATCH_ROWS = 1000
_BATCH_ROWS_OF = {"editions": 20, "pictures": 10}

# The row migration 0006 seeds in a new database: the article sequence at 0, no data.
_SEEDED = (ArticleSequenceRow.__tablename__, 1)

# Sessions of other clients on the source PostgreSQL database: a worker, beat's tick, the
# readers' pages, `digest inbound`, or anyone's psql, each of which could write after the
# snapshot, and what it wrote would be lost with the move.
_OTHER_SESSIONS = text(
    "SELECT coalesce(nullif(application_name, ''), 'unnamed'), "
    "coalesce(host(client_addr), 'local socket'), count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
)


@dataclass(frozen=True)
class TableCopied:
    """One table as copied: its name and how many rows it holds on both sides."""

    name: str
    rows: int


@dataclass(frozen=True)
class CopySummary:
    tables: tuple[TableCopied, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


class CopyObserver:
    """What the copy tells as it goes (a progress bar); by default, nothing."""

    def table(self, name: str, rows: int) -> None:
        """``name`` is about to be copied; it holds ``rows``."""

    def copied(self, name: str, rows: int) -> None:
        """``rows`` more rows of ``name`` are in the target's transaction."""


def copy_database(
    source: Engine,
    target: Engine,
    *,
    observer: CopyObserver | None = None,
    say: Callable[[str], object] = lambda _: None,
) -> CopySummary:
    """Copy every table of ``source`` into ``target`` (module docstring); raises
    DatabaseCopyError, saying why, when the source is not at the code's revision or has the
    service at work on it, or when the target holds data, and when the copy fails midway."""
    seen = observer or CopyObserver()
    source_url = source.url.render_as_string(hide_password=False)
    target_url = target.url.render_as_string(hide_password=False)
    with _service_held_off(source_url), source.connect() as reading:
        _refuse_unless_current(reading, source_url)
        _refuse_while_at_work(reading, source_url)
        _refuse_unless_empty(target, target_url)
        upgrade(target, say=say)
        _refuse_unless_empty(target, target_url)  # what the upgrade made: no rows
        started = time.monotonic()
        tables = _copy_in_one_transaction(_snapshot(reading), target, target_url, seen)
    return CopySummary(tables, time.monotonic() - started)


def refuse_a_missing_source(url: str) -> None:
    """An SQLite source that is no file: said before a connection would make it, empty."""
    database = sqlite_file(url)
    if database is not None and not database.startswith("file:") and not Path(database).exists():
        raise DatabaseCopyError(
            f"the source database {database_shown(url)} does not exist: nothing to copy"
        )


def _refuse_unless_current(source: Connection, url: str) -> None:
    try:
        revision = source.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DatabaseError:
        revision = None
    source.rollback()  # a failed statement aborts PostgreSQL's transaction: start the next anew
    if revision == HEAD_REVISION:
        return
    shown = database_shown(url)
    if revision is None:
        raise DatabaseCopyError(
            f"the source database {shown} holds no digest schema: nothing to copy"
        )
    if revision not in known_revisions():
        raise DatabaseCopyError(
            f"the source database {shown} has schema {revision}, newer than this code knows "
            f"(its newest is {HEAD_REVISION}): copy it with the version of digest that upgraded it"
        )
    raise DatabaseCopyError(
        f"the source database {shown} has schema {revision}, this code needs {HEAD_REVISION}: "
        "run `digest db upgrade` on it first, then copy it"
    )


def _refuse_while_at_work(source: Connection, url: str) -> None:
    """PostgreSQL: refuse while other clients are connected to the source database."""
    if source.dialect.name != "postgresql":
        return
    sessions = source.execute(_OTHER_SESSIONS).all()
    source.rollback()
    if not sessions:
        return
    count = sum(int(row[2]) for row in sessions)
    named = ", ".join(f"{name} from {address} ({n})" for name, address, n in sessions[:5])
    raise DatabaseCopyError(
        f"{count} other sessions are connected to the source database {database_shown(url)} "
        f"({named}): stop digest beat, every digest worker, digest serve and digest inbound "
        "first, or what they write after the copy is lost with the move"
    )


@contextmanager
def _service_held_off(url: str) -> Iterator[None]:
    """SQLite: the locks a build (``DATABASE-building``) and a batch being sent
    (``DATABASE-sending``) take, taken whole for the copy's time; one held now means a digest
    command is building or sending on the source, and the copy is refused. A build that starts
    meanwhile waits for the copy to end, and a batch finds every copy taken."""
    database = sqlite_file(url)
    if database is None or database.startswith("file:") or not Path(database).exists():
        yield  # in memory, or no database at all (_refuse_unless_current says so)
        return
    if _open_elsewhere(database):
        raise DatabaseCopyError(
            f"the source database {database_shown(url)} is open in another process (digest "
            "run, digest serve, digest inbound, or an sqlite3 shell): stop it first, or what it "
            "writes after the copy is lost with the move"
        )
    with ExitStack() as held:
        for suffix, doing in (("building", "building an edition"), ("sending", "sending")):
            descriptor = os.open(f"{database}-{suffix}", os.O_RDWR | os.O_CREAT, 0o600)
            held.callback(os.close, descriptor)
            try:
                fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0)
            except OSError:
                raise DatabaseCopyError(
                    f"a digest command is {doing} on the source database "
                    f"{database_shown(url)}: stop digest run (and digest serve, digest inbound) "
                    "first, or what it writes after the copy is lost with the move"
                ) from None
        yield


# SQLite's lock byte in DATABASE-shm that every connection to a WAL database holds shared for
# as long as it is open ("DMS", https://www.sqlite.org/walformat.html#locks): an exclusive
# lock on it cannot be had while another process has the database open.
_DMS_LOCK_BYTE = 128


def _open_elsewhere(database: str) -> bool:
    """Whether another process has the SQLite ``database`` open: a `digest run` waiting for
    its next cycle holds no other lock. Asked before this process opens it: closing the
    descriptor would let go of this process's own locks on the file, SQLite's among them."""
    try:
        descriptor = os.open(f"{database}-shm", os.O_RDWR)
    except FileNotFoundError:
        return False  # made by the first connection, deleted by the last
    except PermissionError:
        return False  # not ours to lock: the other checks still hold
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _DMS_LOCK_BYTE)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # the lock, if taken, goes with it
    return False


def _snapshot(source: Connection) -> Connection:
    """``source`` in one read transaction: every table as it was at one moment."""
    if source.dialect.name == "postgresql":
        source = source.execution_options(isolation_level="REPEATABLE READ")
        source.begin()
        return source
    # pysqlite opens no transaction for a SELECT: each would read the database as it is then.
    source.exec_driver_sql("BEGIN")
    return source


def _refuse_unless_empty(target: Engine, url: str) -> None:
    held = _rows_held(target)
    if not held:
        return
    shown = ", ".join(f"{name} ({rows:,})" for name, rows in held[:5])
    more = f" and {len(held) - 5} more tables" if len(held) > 5 else ""
    raise DatabaseCopyError(
        f"the target database {database_shown(url)} holds data: {shown}{more}. Copy into a new, "
        "empty database (drop this one and create it again), so that nothing of it is mixed "
        "with the copy"
    )


def _rows_held(target: Engine) -> list[tuple[str, int]]:
    """digest's tables on ``target`` that hold rows, largest first: none in a new database."""
    with target.connect() as connection:
        present = set(inspect(connection).get_table_names())
        held = []
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            rows = connection.execute(select(func.count()).select_from(table)).scalar_one()
            if table.name == _SEEDED[0] and rows == _SEEDED[1] and _only_the_seed(connection):
                continue
            if rows:
                held.append((table.name, int(rows)))
    return sorted(held, key=lambda item: -item[1])


def _only_the_seed(connection: Connection) -> bool:
    sequence = cast(Table, ArticleSequenceRow.__table__)
    return connection.execute(select(sequence.c.value)).scalar() == 0


def _copy_in_one_transaction(
    source: Connection, target: Engine, url: str, seen: CopyObserver
) -> tuple[TableCopied, ...]:
    with target.connect() as writing:
        try:
            with writing.begin():
                _unbounded_idle(writing)
                # The seed row comes from the source, with the sequence's value there.
                writing.execute(cast(Table, ArticleSequenceRow.__table__).delete())
                making = keys_dropped(writing, [table.name for table in _tables()])
                copied = tuple(_copy_table(table, source, writing, seen) for table in _tables())
                _keys_made_again(writing, making, seen)
                _sequences_past_ids(writing)
                _refuse_unless_counts_match(copied, writing, url)
        except DatabaseCopyError:
            raise
        except _SourceReadFailed as failed:
            source_url = source.engine.url.render_as_string(hide_password=False)
            raise DatabaseCopyError(
                f"reading {failed.table} from the source database {database_shown(source_url)} "
                f"failed: {_reason(failed.error)}; nothing was written to {database_shown(url)} "
                "(the target is left empty), and the source is as it was"
            ) from failed.error
        except DatabaseError as error:
            raise DatabaseCopyError(
                f"the copy into {database_shown(url)} stopped: {_reason(error)}; nothing was "
                "written there (the target is left empty), and the source is as it was"
            ) from error
    return copied


class _SourceReadFailed(Exception):
    """A read of the source failed: said of the source, not of the target being written."""

    def __init__(self, table: str, error: DatabaseError) -> None:
        super().__init__(table)
        self.table = table
        self.error = error


def _reason(error: DatabaseError) -> str:
    return brief(driver_reason(error, first_line=True))


def _tables() -> Sequence[Table]:
    return Base.metadata.sorted_tables  # foreign-key order: a row's parents are there before it


def _copy_table(
    table: Table, source: Connection, target: Connection, seen: CopyObserver
) -> TableCopied:
    try:
        total = int(source.execute(select(func.count()).select_from(table)).scalar_one())
    except DatabaseError as error:
        raise _SourceReadFailed(table.name, error) from error
    seen.table(table.name, total)
    write = _writer(table, target)
    for part in _batches_read(table, source):
        write(part)
        seen.copied(table.name, len(part))
    return TableCopied(table.name, total)


def _batches_read(table: Table, source: Connection) -> Iterator[Sequence[Row[Any]]]:
    batch = _BATCH_ROWS_OF.get(table.name, BATCH_ROWS)
    try:
        rows = source.execution_options(yield_per=batch).execute(
            select(table).order_by(*table.primary_key.columns)
        )
        yield from rows.partitions()
    except DatabaseError as error:
        raise _SourceReadFailed(table.name, error) from error


def _writer(table: Table, target: Connection) -> Callable[[Sequence[Row[Any]]], None]:
    """What writes a batch of ``table``'s rows into ``target``'s transaction.

    PostgreSQL: one COPY a batch (a statement a batch, within the statement bound), each value
    as SQLAlchemy binds it (UTC datetimes without their zone, JSON serialised). An INSERT's
    executemany ran one statement a row through psycopg: 3,000 rows a second. SQLite's
    executemany runs in C, one prepared statement for the batch."""
    if target.dialect.name != "postgresql":
        insert = table.insert()
        return lambda part: target.execute(insert, [row._asdict() for row in part]).close()
    dialect = target.dialect
    quote = dialect.identifier_preparer
    columns = ", ".join(quote.quote(column.name) for column in table.columns)
    statement = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    driver_error = dialect.loaded_dbapi.Error
    # Only the columns whose type binds a value its own way (the datetimes, JSON): a call a
    # value for the others was a fifth of the ledger's copy.
    binders = [
        (place, bind)
        for place, column in enumerate(table.columns)
        if (bind := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]

    def copy(part: Sequence[Row[Any]]) -> None:
        cursor = target.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(statement) as copying:
                for row in part:
                    values = list(row)
                    for place, bind in binders:
                        values[place] = bind(values[place])
                    copying.write_row(values)
        except driver_error as error:
            # As SQLAlchemy wraps the driver's errors of its own statements.
            raise DBAPIError.instance(statement, None, error, driver_error) from error
        finally:
            cursor.close()

    return copy


# What the copy's progress calls the making of the keys and indexes after the load.
KEYS_MADE = "keys and indexes"


def _keys_made_again(target: Connection, making: Sequence[str], seen: CopyObserver) -> None:
    """The keys and indexes dropped before the load made again (``keys_dropped``), one step of
    the progress each. Each one reads a whole table (an index of a year's ledger, 7 million
    rows, is one statement), so none has the statement bound, which a batch of the load is
    measured on: the copy's transaction holds every table it makes them on, and waits on no
    one's lock."""
    if not making:
        return
    seen.table(KEYS_MADE, len(making))
    bound = target.exec_driver_sql("SHOW statement_timeout").scalar()
    target.exec_driver_sql("SET LOCAL statement_timeout = 0")
    with patient(target.connection.dbapi_connection):
        for statement in making:
            target.exec_driver_sql(statement)  # the server's own text: no parameters in it
            seen.copied(KEYS_MADE, 1)
    target.execute(text("SELECT set_config('statement_timeout', :bound, true)"), {"bound": bound})


def _sequences_past_ids(target: Connection) -> None:
    """PostgreSQL: each id sequence set past the ids copied, so that the next row stored gets a
    new id, not one of theirs (an IntegrityError). SQLite takes the largest id plus one."""
    if target.dialect.name != "postgresql":
        return
    for table in _tables():
        for column in table.primary_key.columns:
            sequence = target.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence is None:
                continue
            largest = target.execute(select(func.max(column))).scalar()
            target.execute(
                text("SELECT setval(:sequence, :value, :called)"),
                {"sequence": sequence, "value": largest or 1, "called": largest is not None},
            )


def _refuse_unless_counts_match(
    copied: Sequence[TableCopied], target: Connection, url: str
) -> None:
    for table in copied:
        stored = target.execute(
            select(func.count()).select_from(Base.metadata.tables[table.name])
        ).scalar_one()
        if stored != table.rows:
            raise DatabaseCopyError(
                f"the copy into {database_shown(url)} holds {stored:,} rows of {table.name}, "
                f"the source {table.rows:,}: nothing was written there (the target is left "
                "empty), and the source is as it was"
            )


def _unbounded_idle(target: Connection) -> None:
    """PostgreSQL: a role's idle_in_transaction_session_timeout does not end the copy's
    transaction while it waits on a large read of the source."""
    if target.dialect.name == "postgresql":
        target.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
