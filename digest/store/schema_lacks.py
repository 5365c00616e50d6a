"""What the database said of a statement it refused: its own words (``driver_reason``), its
SQLSTATE, and what it says the schema lacks ("the column deliveries.sent_at"), read from
SQLite's and PostgreSQL's own words.

Apart from ``digest.store.db`` so that the upgrade (``digest.store.upgrades``), which
``digest.store.db`` asks for the schema's revision, can read a migration's refusal too.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError


def driver_reason(error: DBAPIError, *, first_line: bool = False) -> str:
    """The driver's own words for ``error``, without the statement, parameters and background
    link SQLAlchemy adds; with ``first_line``, without PostgreSQL's further lines too ("LINE 1:"
    and a caret, "DETAIL:"), which quote the statement and the values it wrote. An error the
    driver gave no words is named by its kind."""
    reason = str(error.orig) if error.orig is not None else str(error)
    if first_line:
        reason = next(iter(reason.strip().splitlines()), "")
    return reason or type(error.orig if error.orig is not None else error).__name__


def from_sqlite(error: DBAPIError) -> bool:
    """Whether SQLite's driver raised ``error``: it gives no SQLSTATE, only its words."""
    return error.orig is not None and type(error.orig).__module__.startswith("sqlite3")


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE of ``error`` (psycopg names the code ``sqlstate``, psycopg2 ``pgcode``)."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code if isinstance(code, str) else None


# PostgreSQL's undefined_table ('relation "feeds" does not exist') and undefined_column
# ('column feeds.etag does not exist', 'column "etag" of relation "feeds" does not exist').
_UNDEFINED = ("42P01", "42703")
# The words naming what is missing, SQLite's and PostgreSQL's (in English; in another
# lc_messages PostgreSQL's are read where it points in the statement: _named_where_pointed).
_MISSING_TABLE = re.compile(r'^(?:no such table: (\S+)|relation "([^"]+)" does not exist)')
_MISSING_COLUMN = re.compile(
    r"no such column: (\S+)|table (\S+) has no column named (\S+)"
    r'|column "([^"]+)" of relation "([^"]+)" does not exist'
    r"|column (\S+)(?: named in key)? does not exist"  # the latter, of an index or a key made
)
# The one table a statement writes, alters or indexes, to name a column given alone ("no such
# column: sent_at" of an UPDATE deliveries, "column "title" does not exist" of a migration's
# CREATE INDEX … ON articles).
_WRITTEN_TABLE = re.compile(
    r'^\s*(?:UPDATE|INSERT INTO|DELETE FROM|ALTER TABLE|CREATE (?:UNIQUE )?INDEX \S+ ON)\s+"?(\w+)',
    re.IGNORECASE,
)
# A name the server's words quote, in any language's quotes ("etag", »etag«, « etag »).
_QUOTED = re.compile(r"[^\w\s.]\s?([\w.]+)\s?[^\w\s.]")
# A name in SQL, quoted or not, with what qualifies it ("feeds.etag", '"feeds"."etag"').
_NAME = re.compile(r'"[^"]+"(?:\."[^"]+"|\.\w+)*|\w+(?:\.(?:"[^"]+"|\w+))*')
# psycopg's placeholders, which the server reads as $1, $2...: its positions count those.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


def missing_from_schema(error: DBAPIError) -> str | None:
    """What ``error`` says the schema lacks ("the table editions", "the column
    deliveries.sent_at"), for a statement refused so; None for any other error."""
    reason = driver_reason(error)
    code = sqlstate(error)
    sqlite = from_sqlite(error)
    if not sqlite and code not in _UNDEFINED:
        return None
    table = _MISSING_TABLE.search(reason)
    if table is not None:
        return f"the table {table.group(1) or table.group(2)}"
    column = _MISSING_COLUMN.search(reason)
    if column is None:  # SQLite's other words; PostgreSQL's in another language
        if sqlite:
            return None
        pointed = _named_where_pointed(error) or _quoted_from_the_statement(error, reason)
        if code == "42P01":
            return "a table" if pointed is None else f"the table {pointed}"
        if pointed is None:
            return "a column"
        name = pointed
    else:
        name = (column.group(1) or column.group(6) or "").strip('"')
        if column.group(2) or column.group(5):
            name = f"{column.group(2) or column.group(5)}.{column.group(3) or column.group(4)}"
    written = _WRITTEN_TABLE.match(error.statement or "")
    if "." not in name and written is not None:
        name = f"{written.group(1)}.{name}"
    return f"the column {name}"


def _named_where_pointed(error: DBAPIError) -> str | None:
    """The name PostgreSQL points at in the statement it refused (its error's position, which
    it gives in every language): the table or column it lacks. psycopg's ``error.diag`` has
    no column_name or table_name for these two refusals, and its message_primary is in the
    server's lc_messages ("Spalte »etag« existiert nicht")."""
    position = getattr(getattr(error.orig, "diag", None), "statement_position", None)
    if not error.statement or not str(position or "").isdigit():
        return None
    found = _NAME.match(_as_the_server_read_it(error.statement), int(str(position)) - 1)
    return None if found is None else found.group(0).replace('"', "")


def _quoted_from_the_statement(error: DBAPIError, reason: str) -> str | None:
    """The one name the server's words quote that is a name in the statement too: for a
    statement it points at no place in (a migration's CREATE INDEX or ALTER TABLE), in its
    lc_messages' words and quotes ("Spalte »title« existiert nicht")."""
    named = {found.group(0).replace('"', "") for found in _NAME.finditer(error.statement or "")}
    quoted = {name for name in _QUOTED.findall(reason) if name in named}
    return quoted.pop() if len(quoted) == 1 else None


def _as_the_server_read_it(statement: str) -> str:
    """``statement`` with psycopg's placeholders as the server reads them ($1, $2...; one
    number a name), which the error's position counts in."""
    numbers: dict[str, int] = {}

    def numbered(placeholder: re.Match[str]) -> str:
        if placeholder.group(0) == "%%":
            return "%"
        key = placeholder.group(1) or f"#{len(numbers)}"
        return f"${numbers.setdefault(key, len(numbers) + 1)}"

    return _PLACEHOLDER.sub(numbered, statement)
