"""Schema revisions and upgrades (Alembic, configured in code: no alembic.ini to find)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DatabaseError, NoSuchTableError

from digest.errors import MigrationDriftError, SchemaMismatchError, StoreUnavailableError
from digest.store.schema_lacks import driver_reason, from_sqlite, missing_from_schema, sqlstate

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_log = logging.getLogger(__name__)


# Alembic is imported where a migration is run or read, not with the store: with Mako it is
# a tenth of the import time of every command, and most commands never migrate.
def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


# The newest migration this code ships, as migrations/versions has it (a test keeps the two in
# step): a database already there is told by one SELECT, without Alembic's import and the
# scripts it reads, which cost every command that opens the store 0.15-0.2 s at its start.
HEAD_REVISION = "0021"


def stored_revision(engine: Engine) -> str | None:
    """The schema's revision as the database records it; None before the first migration (or
    when it cannot be read: Alembic, which runs then, says why). A database that cannot be
    reached raises, as Alembic would."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DatabaseError:  # no such table yet, or no database at all (a file of another kind)
            return None


def upgrade(
    engine: Engine, revision: str = "head", *, say: Callable[[str], object] = _log.warning
) -> None:
    """Bring the schema to ``revision``; safe to run at every start. A database a newer release
    upgraded (the code rolled back) raises SchemaMismatchError: Alembic, not finding its
    revision, ended every command that opens the store in a traceback. Another application's
    database raises StoreUnavailableError, and is left as it was.

    Before upgrading a schema of an earlier release, ``say`` is told from which revision to
    which: a migration that indexes or copies the ledger of a database a year old takes 15 s
    and more, in which a command that opens the store (`digest run` after an update) looked
    hung."""
    if revision == "head" and stored_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    current = current_revision(engine)
    refuse_another_applications(engine, current)
    if current is not None and current not in known_revisions():
        url = engine.url.render_as_string(hide_password=False)
        raise SchemaMismatchError(url, current, head_revision(), newer=True)
    if current is not None:  # a new schema is made at once: nothing to say
        target = head_revision() if revision == "head" else revision
        say(
            f"Upgrading the database from revision {current} to {target}: on a large database "
            "this takes a while; let it finish (stopped, it is left as it was and starts again "
            "at the next upgrade)"
        )
    try:
        command.upgrade(alembic_config(engine), revision)
    except (DatabaseError, NoSuchTableError, PartMissing, KeyError, ValueError) as error:
        # KeyError and ValueError: Alembic's batch mode, which finds the parts it changes in
        # the table it copies (SQLite), says one it lacks so.
        drift = migration_drift(engine, error, current)
        if drift is None:
            raise
        raise drift from error


class PartMissing(LookupError):
    """A column a migration is written for and finds missing (``require_columns``)."""

    def __init__(self, table: str, column: str) -> None:
        super().__init__(f"the table {table} has no column {column}")
        self.missing = f"the column {table}.{column}"


def require_columns(connection: Connection, table: str, *columns: str) -> None:
    """Raise PartMissing for the first of ``columns`` that ``table`` lacks.

    For a migration whose batch makes a key or an index of them: on SQLite, Alembic's batch
    mode copies the table and leaves out of the copy a key whose columns it does not find, so
    a column renamed by hand took 0009's key on (list, slot, variant) with it, the upgrade went
    through, and the database kept no key on its editions (invariant 2)."""
    from sqlalchemy import inspect

    found = {column["name"] for column in inspect(connection).get_columns(table)}
    lacking = next((column for column in columns if column not in found), None)
    if lacking is not None:
        raise PartMissing(table, lacking)


# PostgreSQL's undefined_object, for a constraint or index a migration drops or replaces
# ('constraint "uq_editions_list_slot" of relation "editions" does not exist').
_UNDEFINED_OBJECT = "42704"
_MISSING_OBJECT = re.compile(r'^(constraint|index) "([^"]+)"(?: of relation "[^"]+")? does not')
# The part a migration's statement drops, read from the statement when PostgreSQL's words are
# in another language than English (its lc_messages): a utility statement has no position.
_DROPPED = re.compile(r'\bDROP\s+(CONSTRAINT|INDEX)\s+(?:IF\s+EXISTS\s+)?"?(\w+)', re.I)
# SQLite's, for an index a migration drops outside batch mode.
_SQLITE_MISSING_INDEX = re.compile(r"^no such (index): (\S+)")
# Alembic's batch mode, for a constraint or index it drops and the table it copies lacks.
_BATCH_MISSING = re.compile(r"^No such (constraint|index): '([^']+)'$")
_BATCH_MODULE = f"alembic{os.sep}operations{os.sep}batch.py"


def migration_drift(
    engine: Engine,
    error: DatabaseError | NoSuchTableError | LookupError | ValueError,
    current: str | None,
) -> MigrationDriftError | None:
    """The error for a migration that met a table, column, constraint or index the database's
    schema (at revision ``current``) lacks; None for any other failure. Each migration was
    written for the schema the revision before it made, so a part it finds missing was dropped
    or renamed by hand: the upgrade said "run `digest db upgrade` once", the command that had
    just failed, and on SQLite, where batch mode copies a table, ended in a traceback."""
    migration = _failed_migration(error.__traceback__)
    if current is None or migration is None:
        return None
    found = _missing_part(error)
    if found is None:
        return None
    url = engine.url.render_as_string(hide_password=False)
    return MigrationDriftError(url, *found, current, *migration)


def _missing_part(
    error: DatabaseError | NoSuchTableError | LookupError | ValueError,
) -> tuple[str, str] | None:
    """What ``error`` says the schema lacks ("the index ix_deliveries_edition_status"), and
    the words that said it; None for any other error."""
    if isinstance(error, NoSuchTableError):
        # SQLite's batch mode reads the table to copy it, and finds none.
        return f"the table {error}", f"no such table: {error}"
    if isinstance(error, PartMissing):
        return error.missing, str(error)
    if not isinstance(error, DatabaseError):
        return _batch_missing(error)
    reason = driver_reason(error, first_line=True)  # its context lines name the statement
    missing = missing_from_schema(error)
    part = None
    if sqlstate(error) == _UNDEFINED_OBJECT:
        part = _MISSING_OBJECT.match(reason) or _DROPPED.search(error.statement or "")
    if from_sqlite(error):
        part = _SQLITE_MISSING_INDEX.match(reason)
    if missing is None and part is not None:
        missing = f"the {part.group(1).lower()} {part.group(2)}"
    return None if missing is None else (missing, reason)


def _batch_missing(error: LookupError | ValueError) -> tuple[str, str] | None:
    """What Alembic's batch mode found missing in the table it copies: a column it alters,
    drops or indexes (a KeyError of its name), a constraint or an index it drops (a ValueError
    "No such constraint: 'NAME'"); None for an error raised elsewhere."""
    table = _batch_table(error.__traceback__)
    if table is None:
        return None
    if isinstance(error, KeyError) and error.args:
        column = error.args[0]
        return f"the column {table}.{column}", f"the table {table} has no column {column}"
    words = _BATCH_MISSING.match(str(error))
    if isinstance(error, ValueError) and words is not None:
        return f"the {words.group(1)} {words.group(2)}", f"{words.group(0)} in the table {table}"
    return None


def _batch_table(trace: TracebackType | None) -> str | None:
    """The table Alembic's batch mode was copying where ``trace`` failed, if it failed there."""
    table = None
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_filename.endswith(_BATCH_MODULE):
            copied = getattr(frame.f_locals.get("self"), "table", None)
            table = getattr(copied, "name", table)
        trace = trace.tb_next
    return table


def _failed_migration(trace: TracebackType | None) -> tuple[str, str] | None:
    """The revision and title (its docstring's first line) of the innermost migration script
    in ``trace``: the one that was running when it failed."""
    versions = str(MIGRATIONS / "versions")
    found = None
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_filename.startswith(versions) and "revision" in frame.f_globals:
            title = (frame.f_globals.get("__doc__") or "").strip().splitlines() or [""]
            found = (str(frame.f_globals["revision"]), title[0])
        trace = trace.tb_next
    return found


_EXTENSION_TABLES = text(
    "SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid "
    "WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'"
)
# Tables every digest schema has had since its first revision.
DIGEST_TABLES = frozenset({"feeds", "articles", "editions", "deliveries", "subscribers"})


def refuse_another_applications(engine: Engine, current: str | None) -> None:
    """Raise StoreUnavailableError when the database is not digest's: tables but no digest
    revision, or a revision digest never had in a database without digest's tables (another
    application's Alembic). A URL pointed at another application's database had the schema
    created among its tables, or failed on a name both use ("table feeds already exists") with
    the advice of a folder that cannot be written, or was said to be from a newer digest."""
    if current is not None and current in known_revisions():
        return
    from sqlalchemy import inspect

    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        if tables and connection.dialect.name == "postgresql":
            # An extension's own tables (PostGIS's spatial_ref_sys, in a database made from a
            # template that has it) are no application's data.
            tables -= set(connection.execute(_EXTENSION_TABLES).scalars())
    if not tables or (current is not None and tables >= DIGEST_TABLES):
        return  # a new database, or one a newer digest upgraded (SchemaMismatchError says so)
    shown = sorted(tables)
    names = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    url = engine.url.render_as_string(hide_password=False)
    if current is None:
        reason = f"it holds tables ({names}) and no digest schema"
    else:
        reason = f"it holds tables ({names}) and schema {current}, not digest's"
    raise StoreUnavailableError(url, reason, not_digest=True)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine, url: str) -> None:
    """Raise SchemaMismatchError unless the database's schema is the one this code ships.

    The processes of the distributed mode check rather than upgrade: several workers starting
    at once must not race one migration, and an operator upgrades on purpose, once
    (``digest db upgrade``), before the new code runs.
    """
    if stored_revision(engine) == HEAD_REVISION:
        return
    head, current = head_revision(), current_revision(engine)
    if current == head:
        return
    refuse_another_applications(engine, current)
    newer = current is not None and current not in known_revisions()
    raise SchemaMismatchError(url, current, head, newer=newer)


def known_revisions() -> set[str]:
    """Every migration this code ships."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
