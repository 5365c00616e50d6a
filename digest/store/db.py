"""Database engines and connections: one engine per URL, bounded statements, outages named."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, TextClause, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

from digest.errors import NOT_A_DATABASE, SchemaDriftError, StoreUnavailableError, disk_full
from digest.store.schema_lacks import (
    driver_reason,
    from_sqlite,
    missing_from_schema,
    sqlstate,
)

_log = logging.getLogger(__name__)


def sqlite_file(url: str | URL) -> str | None:
    """The file of the SQLite database ``url`` names; None for another database, or for one in
    the process's memory ("sqlite://"), which no file holds and no other process sees."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def _engine(url: str, **options: Any) -> Engine:
    """``create_engine``, with a driver the URL names and this machine lacks said in one line:
    SQLAlchemy imports it here, and its ImportError ended every command in a traceback."""
    try:
        # A statement's parameters hold readers' addresses and names: SQLAlchemy writes them
        # into the error of a statement that failed, which tracebacks, logs and messages quote.
        return create_engine(url, hide_parameters=True, **options)
    except (ImportError, NoSuchModuleError) as error:
        reason = f"its driver {make_url(url).drivername} is not installed ({error})"
        raise StoreUnavailableError(url, reason, missing_driver=True) from error
    except ArgumentError as error:
        # An option of the URL the dialect cannot read ("?port=abc"): the operator's to mend.
        raise StoreUnavailableError(url, str(error)) from error


# Seconds PostgreSQL has to take a connection, its greeting and login included: a server that
# accepts the connection and never answers (stopped with SIGSTOP, its machine paused, a port
# that is not PostgreSQL's) held every command, and each worker task, for ever. A URL's own
# connect_timeout wins.
CONNECT_SECONDS = 10
# Seconds one statement may take on PostgreSQL, a wait for a lock another session holds
# included (service.database_timeout_seconds): a transaction left open in psql, or another
# process stuck holding a lock, held `digest feeds`, `digest run --once` and each worker task
# for ever. The waits the service means (another build of the list, another upgrade) are
# exempt: advisory_locks and the migrations take them with no bound.
STATEMENT_SECONDS = 60.0


def create_database_engine(url: str, *, statement_seconds: float = STATEMENT_SECONDS) -> Engine:
    """An engine for ``url``; for SQLite, the folder is created and foreign keys and WAL are on;
    for PostgreSQL, a connection not made within CONNECT_SECONDS fails, and a statement not
    done within ``statement_seconds`` is cancelled by the server."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.get_backend_name() != "postgresql":
            return _engine(url, pool_pre_ping=True)
        connect_args = (
            {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_SECONDS}
        )
        engine = _engine(url, pool_pre_ping=True, connect_args=connect_args)
        _bound_statements(engine, statement_seconds)
        if parsed.get_driver_name() == "psycopg":
            _bound_answers(engine, statement_seconds)
            _prepared_only_on_a_server_of_its_own(engine)
        return engine
    database = sqlite_file(parsed)
    if database is not None:
        folder = Path(database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            reason = f"cannot make its folder {folder}: {error.strerror or error}"
            raise StoreUnavailableError(url, reason) from error
    engine = _engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


# The engines open_engine handed out, by (URL, statement seconds), each with its number of
# users. Held weakly: a store never closed (a test's, a script's) lets its engine go with it.
_in_use: dict[tuple[str, float], tuple[weakref.ref[Engine], int]] = {}
# The engines no one uses now, their connections closed, the most recently used last.
_idle: OrderedDict[tuple[str, float], Engine] = OrderedDict()
_engines_lock = threading.Lock()
# A config edit that moves the database away and back finds its engine; edits to ever new URLs
# keep no more than these.
KEPT_IDLE_ENGINES = 4


def open_engine(url: str, *, statement_seconds: float = STATEMENT_SECONDS) -> Engine:
    """The engine of ``url`` this process uses, made by ``create_database_engine`` at its first
    use; give it back with ``close_engine``.

    `digest run`, the readers' pages and each worker build their services anew at every edit of
    the config, and check the edit on the database before they take it. Each engine has its own
    dialect, and the ORM keeps the statements it compiled for each dialect in its caches for the
    life of the process: an engine made at each edit grew a process that took an edit a minute
    by some 100 KB an edit. One engine for a URL, whatever the edits, compiles each statement
    once. A database only in this process's memory ("sqlite://") is never shared: two stores
    opened on it are two databases."""
    if sqlite_file(url) is None and make_url(url).get_backend_name() == "sqlite":
        return create_database_engine(url, statement_seconds=statement_seconds)
    key = (url, statement_seconds)
    with _engines_lock:
        held, users = _in_use.get(key, (None, 0))
        engine = held() if held is not None else None
        if engine is None:
            engine = _idle.pop(key, None) or create_database_engine(
                url, statement_seconds=statement_seconds
            )
            users = 0
        _in_use[key] = (weakref.ref(engine), users + 1)
        return engine


def close_engine(engine: Engine) -> None:
    """Give back an engine of ``open_engine``: once no one uses it, its connections are closed
    (a test may drop its database, an operator move the file) and the engine is kept, empty,
    for the next to open its URL. Any other engine is disposed of."""
    with _engines_lock:
        key = next((key for key, (held, _) in _in_use.items() if held() is engine), None)
        if key is not None:
            users = _in_use[key][1] - 1
            if users > 0:
                _in_use[key] = (_in_use[key][0], users)
                return
            del _in_use[key]
            _idle[key] = engine
            while len(_idle) > KEPT_IDLE_ENGINES:
                _idle.popitem(last=False)
        for gone in [key for key, (held, _) in _in_use.items() if held() is None]:
            del _in_use[gone]
    engine.dispose()  # outside the lock: closing connections to a server away may take long


def _bound_statements(engine: Engine, seconds: float) -> None:
    """Every connection of ``engine`` has PostgreSQL cancel a statement after ``seconds``, or
    after the statement_timeout the server gives the session when that one is shorter: one a
    DBA set for the role or the database (``ALTER ROLE … SET statement_timeout``) stays in
    force, and the service's bound (which its wait for an answer is measured on) holds past it.

    Set by a statement when the connection is made, not by the startup packet's options, which
    a connection pooler in front of the server (PgBouncer) may refuse; committed, so that the
    rollback of a connection given back to the pool keeps it. Through a pooler in transaction
    pooling, a session's SET stays with the one server connection it was run on: the
    service's later transactions, on others, ran unbounded, and the clients given that one
    later ran under the service's bound. There the bound is set for each transaction
    (``SET LOCAL``), and ends with it."""
    milliseconds = max(1, round(seconds * 1000))

    @event.listens_for(engine, "connect")
    def _statement_timeout(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # In milliseconds, whatever unit it was set in; 0 is none.
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
        row = cursor.fetchone()
        given = int(row[0]) if row is not None and str(row[0]).isdigit() else 0
        bound = min(milliseconds, given) if given > 0 else milliseconds
        if _through_a_pooler(dbapi_connection, record):
            record.info[_TRANSACTION_BOUND] = bound
        else:
            cursor.execute(f"SET statement_timeout = {bound}")
        cursor.close()
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _transaction_bound(connection: Connection) -> None:
        proxied = connection.connection
        bound = proxied.info.get(_TRANSACTION_BOUND)
        dbapi_connection = proxied.dbapi_connection
        if bound is None or dbapi_connection is None or dbapi_connection.autocommit:
            return
        cursor = dbapi_connection.cursor()  # opens the transaction, which the bound is for
        cursor.execute(f"SET LOCAL statement_timeout = {bound}")
        cursor.close()


# The connection record's note of the statement bound each of its transactions sets.
_TRANSACTION_BOUND = "digest_statement_bound"
_POOLED = "digest_through_a_pooler"


def _through_a_pooler(dbapi_connection: Any, record: Any) -> bool:
    """Whether ``dbapi_connection`` goes through a connection pooler: the server process that
    answers is not the one the greeting named (its own process key). Asked once a connection."""
    if _POOLED not in record.info:
        greeted = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
        cursor.close()
        dbapi_connection.commit()
        record.info[_POOLED] = row is not None and greeted is not None and row[0] != greeted
    return bool(record.info[_POOLED])


def _prepared_only_on_a_server_of_its_own(engine: Engine) -> None:
    """psycopg prepares a statement on the server at its fifth run on a connection; through a
    connection pooler in transaction pooling (PgBouncer before 1.21, or without
    ``max_prepared_statements``) the next run goes to another server connection, where the
    statement is missing ("prepared statement "_pg3_0" does not exist") or made already by
    another client ("… already exists"), and the statement fails. A connection whose server
    process is not the one the greeting named goes through a pooler (its own process key):
    it prepares nothing."""

    @event.listens_for(engine, "connect")
    def _through_a_pooler_prepare_nothing(dbapi_connection: Any, record: Any) -> None:
        if _through_a_pooler(dbapi_connection, record):
            dbapi_connection.prepare_threshold = None


def _bound_answers(engine: Engine, statement_seconds: float) -> None:
    """Every connection of ``engine`` waits for the server's answers a little past
    ``statement_seconds`` at most (digest.store.answers): a server that cannot cancel the
    statement itself, paused or cut off, held the command, or the worker's task, for ever."""
    from digest.store.answers import AnsweringConnection, AnsweringCursor, answer_seconds

    bound = answer_seconds(statement_seconds)

    @event.listens_for(engine, "do_connect")
    def _answering(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        connection = AnsweringConnection.connect(*cargs, cursor_factory=AnsweringCursor, **cparams)
        connection.answer_seconds = bound
        return connection


@contextmanager
def patient(dbapi_connection: Any) -> Iterator[None]:
    """No client bound on the answers of ``dbapi_connection`` (one _bound_answers made) in the
    block: for a wait the service means, which the server bounds, or not, itself."""
    bound = getattr(dbapi_connection, "answer_seconds", None)
    if bound is None:
        yield
        return
    dbapi_connection.answer_seconds = None
    try:
        yield
    finally:
        dbapi_connection.answer_seconds = bound


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn the database driver's "cannot connect / cannot open" into a StoreUnavailableError that
    names the database (password masked) and what to do, and a statement refused for a table or
    column the schema lacks into a SchemaDriftError; for the boundary of a command or task."""
    with _unavailable(url), _schema_lacking(url):
        yield


@contextmanager
def _schema_lacking(url: str) -> Iterator[None]:
    """A table or column the code expects and the schema lacks, said as that: SQLite's "no such
    column" read "cannot open the database …; check that its folder exists"."""
    try:
        yield
    except DatabaseError as error:
        drift = schema_drift_of(url, error)
        if drift is None:
            raise
        raise drift from error


def schema_drift_of(url: str, error: DBAPIError) -> SchemaDriftError | None:
    """The SchemaDriftError of ``error`` when it refused a table or column the schema lacks,
    else None."""
    missing = missing_from_schema(error)
    if missing is None:
        return None
    return schema_drift(url, missing, driver_reason(error, first_line=True))


@contextmanager
def _unavailable(url: str) -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        if (sqlstate(error) or "") in _GAVE_UP_WAITING:
            reason = driver_reason(error, first_line=True)  # its context lines name the statement
            raise StoreUnavailableError(url, reason, timed_out=True) from error
        raise StoreUnavailableError(url, driver_reason(error)) from error
    except DatabaseError as error:
        # SQLite says a file that is no database (another file, or a damaged one) with a
        # DatabaseError, at the first statement of a connection, and PostgreSQL a user without
        # the rights on the schema or its tables, or a server that takes no writes, with one
        # too; other DatabaseErrors (an integrity error...) are bugs and keep their traceback.
        reason = driver_reason(error)
        if isinstance(error, ProgrammingError) and error.statement is None:
            # Raised before any statement, by the driver making the connection: an option of
            # the URL it does not know ("?foo=bar": invalid connection option "foo").
            raise StoreUnavailableError(url, reason) from error
        refused = _refused(error)
        if refused is not None:
            # Its first line: the statement's text and a caret follow.
            raise StoreUnavailableError(
                url,
                driver_reason(error, first_line=True),
                not_permitted=refused == _INSUFFICIENT_PRIVILEGE,
                read_only=refused == _READ_ONLY_TRANSACTION,
            ) from error
        if reason not in NOT_A_DATABASE:
            raise
        raise StoreUnavailableError(url, reason) from error


# PostgreSQL's refusals of a statement that are the deployment's, not the code's, by their
# SQLSTATE (the code, not the words, which follow the server's lc_messages).
# insufficient_privilege: "permission denied for schema public" (PostgreSQL 15 and later, to a
# user that does not own the database), "... for table feeds" (tables another user made).
_INSUFFICIENT_PRIVILEGE = "42501"
# read_only_sql_transaction: "cannot execute INSERT in a read-only transaction", from a standby
# (the URL names a replica, or the old primary after a failover) or a database set read-only.
_READ_ONLY_TRANSACTION = "25006"


# PostgreSQL gave up on a statement: query_canceled ("canceling statement due to statement
# timeout", or an operator's pg_cancel_backend) and lock_not_available (a lock_timeout the
# operator set on the server or the user).
_GAVE_UP_WAITING = ("57014", "55P03")


# SQLite's words for a database that gave way under a command, its statements as they were: the
# file's disk gone or failing, the file made unreadable or taken away, another process's lock
# held past the busy timeout, the file (or its -wal) made read-only.
_SQLITE_GAVE_WAY = ("disk I/O error", "unable to open database file", "database is locked",
                    "attempt to write a readonly database")  # fmt: skip
# PostgreSQL's, by the class of its SQLSTATE: connection_exception (08), insufficient_resources
# (53: a full disk, no memory, too many connections), operator_intervention (57: a shutdown, a
# statement cancelled or timed out), system_error (58: an I/O error).
_POSTGRESQL_GAVE_WAY = ("08", "53", "57", "58")


def database_gave_way(error: DBAPIError) -> bool:
    """Whether ``error`` is the database giving way under a command (its disk full, its
    connection or file lost, a lock or a time bound given up on), which the next run gets past
    once it passes; not a statement it refused (a table or column the code expects and the
    schema lacks, a syntax error), which the next run meets again."""
    if error.connection_invalidated:  # SQLAlchemy's word for a disconnect
        return True
    reason = driver_reason(error)
    if disk_full(reason):
        return True
    if from_sqlite(error):
        return reason.startswith(_SQLITE_GAVE_WAY)
    code = sqlstate(error)
    if code is None:  # libpq's own words, no server's: a connection refused, cut or timed out
        return isinstance(error, OperationalError)
    return code.startswith(_POSTGRESQL_GAVE_WAY) or code in _GAVE_UP_WAITING


def schema_drift(url: str, missing: str, reason: str) -> SchemaDriftError:
    """The error for a statement refused for ``missing``, with the schema's revision as the
    database records it (read anew: the database answers), which tells what to run."""
    from digest.store.upgrades import HEAD_REVISION, known_revisions, stored_revision

    current: str | None = None
    try:
        engine = create_database_engine(url)
        try:
            current = stored_revision(engine)
        finally:
            engine.dispose()
    except (SQLAlchemyError, StoreUnavailableError):
        pass  # told without it
    known = current is None or current in known_revisions()
    return SchemaDriftError(url, missing, reason, current, HEAD_REVISION, known=known)


def _refused(error: DatabaseError) -> str | None:
    """The SQLSTATE of one of PostgreSQL's refusals above, else None."""
    code = sqlstate(error)
    return code if code in (_INSUFFICIENT_PRIVILEGE, _READ_ONLY_TRANSACTION) else None


@contextmanager
def advisory_locks(
    engine: Engine, take: TextClause, parameters: Mapping[str, Any]
) -> Iterator[list[Any]]:
    """PostgreSQL: run ``take``, a statement that takes advisory locks of the transaction
    (``pg_advisory_xact_lock``…), on a connection of the block's own, and hold them until the
    block ends; yields what the statement returned (one value a row). A process killed outright
    lets go of them with its connection; a failed statement takes its locks with the
    connection, thrown away.

    The locks are the transaction's, which stays open for the block, not the session's: a
    connection pooler in transaction pooling (PgBouncer's ``pool_mode = transaction``) gives
    the server connection to another client between two transactions, and with it a session's
    locks: the other client then took the same rows, or the same list's build, as its own, and
    the locks were never let go of. A transaction keeps its server connection to itself."""
    connection = engine.connect()
    try:
        # A wait the service means (another build of the list holds the lock until its edition
        # is stored, however long that takes): no statement bound for this transaction, and
        # no bound on its idle time (a DBA's idle_in_transaction_session_timeout on the role)
        # while the block sends a batch or builds an edition.
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        with patient(connection.connection.dbapi_connection):
            rows = list(connection.execute(take, dict(parameters)).scalars())
    except BaseException:
        connection.invalidate()  # a lock the failed statement took goes with the connection
        connection.close()
        raise
    try:
        yield rows
    finally:
        try:
            connection.rollback()  # the locks go with the transaction: it wrote nothing
        except SQLAlchemyError:
            # Lost (the database restarted): its locks went with it. The connection must not go
            # back to the pool, where locks it still held would outlive the block.
            connection.invalidate()
        finally:
            connection.close()


T = TypeVar("T")
# Waits between tries of a write that must not be lost to a database gone for a moment (a
# restart, a failover): about a minute in all, well inside a delivery batch's time limit.
OUTAGE_WAITS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def outlasting_outages(
    write: Callable[[], T], what: str, waits: Sequence[float] = OUTAGE_WAITS
) -> T:
    """``write()`` (one transaction, safe to run again), tried again while the database cannot be
    reached (``database_gave_way``), after each of ``waits``; its last failure is raised, and a
    statement it refused at once.

    For what records a fact of the world, such as the copies a mail server took: lost, they
    would go again (invariant 3).
    """
    for wait in waits:
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            # A statement the database refused (a column its schema lacks) is refused again:
            # waited on, it held every command a minute before it said anything. An
            # InterfaceError is the driver's word for a connection it lost.
            if isinstance(error, OperationalError) and not database_gave_way(error):
                raise
            reason = driver_reason(error)
            if disk_full(reason):
                # Not an outage that passes by itself: said so, the operator may free room
                # before the last try, and what it records is then not sent twice.
                _log.warning(
                    "%s: the disk that holds the database is full (%s): free space there "
                    "within a minute, or what this records goes again; again in %g s",
                    what,
                    reason,
                    wait,
                )
            else:
                _log.warning(
                    "%s: the database is unreachable (%s); again in %g s", what, reason, wait
                )
            time.sleep(wait)
    return write()
