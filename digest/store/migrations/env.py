"""Alembic environment: runs migrations on the engine handed over by digest.store.db."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

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
with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
