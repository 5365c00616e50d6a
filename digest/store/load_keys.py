"""Keys and indexes set aside for a bulk load into PostgreSQL, and made again after it, in
the load's transaction, as pg_restore does (used by ``digest db copy``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

# digest's keys (primary, unique, foreign: 'p', 'u', 'f') and indexes on PostgreSQL, each with
# the statement that makes it again as the migrations made it; foreign keys last, as they
# need the keys they point at.
_KEYS = text(
    "SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid "
    "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables) "
    "AND c.contype IN ('p', 'u', 'f') ORDER BY c.contype = 'f', t.relname, c.conname"
)
_INDEXES = text(
    "SELECT t.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
    "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
    "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables) "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid "
    "AND c.contype IN ('p', 'u', 'x')) ORDER BY t.relname, i.relname"
)


def keys_dropped(target: Connection, tables: Sequence[str]) -> list[str]:
    """PostgreSQL: the keys and indexes of ``tables`` dropped in ``target``'s transaction, and
    the statements that make them again as they were, to be run once every row is in (foreign
    keys last: they need the keys they point at). A foreign key checks each row as it goes in,
    and an index takes each in turn: the ledger's 200,000 rows, with its two foreign keys and
    four indexes, took 4.7 s of a 5.8 s copy. Made after the load, each index is built in one
    sort and each foreign key checked in one join; a row a key refuses (a reader twice, a
    delivery of no edition) fails the statement that makes it, and the transaction rolls the
    drop back with the rest. SQLite changes no key in place: nothing is dropped there."""
    if target.dialect.name != "postgresql":
        return []
    named = {"tables": list(tables)}
    keys = target.execute(_KEYS, named).all()
    indexes = target.execute(_INDEXES, named).all()
    quote = target.dialect.identifier_preparer.quote
    for table, name, *_ in reversed(keys):  # foreign keys first: they hold on to the others
        target.execute(text(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}"))
    for _, name, _ in indexes:
        target.execute(text(f"DROP INDEX {quote(name)}"))
    return [str(making) for _, _, making in indexes] + [
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
        for table, name, _, definition in keys
    ]
