"""The ledger read in batches on PostgreSQL: each batch reads about its own rows, not every
pending row of the edition (which made handing out 100,000 deliveries quadratic)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from digest.store import SubscriberInput, open_store
from digest.store.deliveries import pending_batch_query
from tests.members import add_members
from tests.service_cluster import fresh_database
from tests.test_store import T0, make_edition

READERS = 10_000
BATCH = 200


def rows_read(plan: dict[str, Any]) -> int:
    """The rows every scan of an EXPLAIN ANALYZE plan read: kept, and removed by a filter."""
    read = 0
    if "Scan" in plan["Node Type"]:
        read += plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
    return read + sum(rows_read(child) for child in plan.get("Plans", []))


def test_a_batch_of_a_large_edition_reads_its_own_rows_not_the_whole_ledger(
    postgres_url: str,
) -> None:
    store = open_store(fresh_database(postgres_url))
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    members = [SubscriberInput(f"reader{n}@example.org") for n in range(READERS)]
    add_members(store, "daily", members, T0)
    assert store.queue_deliveries(state.id, "daily", T0) == READERS
    ids = store.pending_deliveries(state.id)
    middle = ids[READERS // 2]
    query = pending_batch_query(state.id, middle, BATCH, T0).compile(
        store.engine, compile_kwargs={"literal_binds": True}
    )
    with store.engine.connect() as connection:
        [[explained]] = connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}"))
    store.engine.dispose()
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    read = rows_read(plan)
    print(f"a batch of {BATCH} in the middle of {READERS:,} pending rows read {read} rows")
    # A walk from the last id read reads about a batch; a sort of the pending rows, half the list.
    assert read <= 5 * BATCH
