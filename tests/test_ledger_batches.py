"""The ledger read in batches on PostgreSQL: each batch reads about its own rows, not every
pending row of the edition (which made handing out 100,000 deliveries quadratic)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, text

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


def test_an_edition_half_sent_is_found_unsettled_from_one_row_not_its_pending_ones(
    postgres_url: str,
) -> None:
    """settle_edition runs after every batch of a large list: whether a copy is still pending
    is one row read, not each of the thousands still waiting, nor the old versions of the rows
    sent so far."""
    store = open_store(fresh_database(postgres_url))
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    members = [SubscriberInput(f"reader{n}@example.org") for n in range(READERS)]
    add_members(store, "daily", members, T0)
    store.queue_deliveries(state.id, "daily", T0)
    ids = store.pending_deliveries(state.id)
    # A reader's transaction open since before the sends keeps the rows' pending versions in the
    # index, as they stay until vacuum: below the live ones, where the lookup must not walk.
    onlooker = store.engine.connect()
    onlooker.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
    onlooker.exec_driver_sql("SELECT count(*) FROM deliveries")
    store.mark_delivered_many([(row, f"<{row}@example.org>") for row in ids[: READERS // 2]], T0)
    asked: list[tuple[str, Any]] = []

    def keep_the_lookup(
        connection: Any, cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        if statement.startswith("SELECT deliveries.id"):
            asked.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", keep_the_lookup)
    store.settle_edition(state.id)
    event.remove(store.engine, "before_cursor_execute", keep_the_lookup)
    [(statement, parameters)] = asked
    with store.engine.connect() as connection:
        [[explained]] = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters
        )
    onlooker.close()
    assert store.edition_for_slot("daily", T0).status == "ready"  # type: ignore[union-attr]
    store.engine.dispose()
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    read = rows_read(plan)
    pages = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    print(f"settling an edition with {READERS // 2:,} rows pending read {read} rows, {pages} pages")
    # From the highest id down, a few pages; up from the lowest, past every sent row's old
    # version first (42 pages here).
    assert read <= 5 and pages <= 10
