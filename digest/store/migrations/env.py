"""Alembic environment: runs migrations on the engine handed over by digest.store.upgrades."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from digest.store.db import patient
from digest.store.schema import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `digest db upgrade`, which provides the engine")

# Taken before the schema's revision is read, held until the migrations are committed: commands
# started together on an older database (`digest run` beside `digest serve` and `digest
# inbound`) each read the same old revision and ran the same migration, and all but the first
# ended in "table ... already exists" or a traceback. Now the others wait, then find it done.
# PostgreSQL: an advisory lock of the transaction; SQLite: its write lock, for up to the
# engine's 30-second busy timeout.
MIGRATION_LOCK = "1835624306, 0"  # "migr" in ASCII: apart from the ledger's ("ledg", ...)
# The client waits for the migrations' answers as long as they take (digest.store.answers):
# the server bounds what it should, below.
with engine.connect() as connection, patient(connection.connection.dbapi_connection):
    sqlite = connection.dialect.name == "sqlite"
    if connection.dialect.name == "postgresql":
        # A migration may rewrite a large table, and another upgrade's may run before it: no
        # statement bound for the transaction. Once the migration lock is held, a wait for a
        # table's lock has one (the statement bound the connection was given): a transaction
        # of a worker or of psql left open would hold the upgrade, and every session queued
        # behind the lock it asks for, for ever.
        bound = connection.exec_driver_sql("SHOW statement_timeout").scalar()
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        connection.exec_driver_sql(
            "SELECT set_config('lock_timeout', %(bound)s, true)", {"bound": bound}
        )
    elif sqlite:
        # SQLite changes a table's columns or keys by copying it and dropping the old one (batch
        # mode), and with foreign keys on, that drop deletes every row first, cascading: 0009's
        # copy of `editions` emptied the delivery ledger and the editions' articles. Off for the
        # migration, as SQLite's own procedure for schema changes says; it can only be switched
        # outside a transaction, so before BEGIN.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    except BaseException:
        # Not back to the pool with foreign keys off: the store would then cascade nothing.
        connection.invalidate()
        raise
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
