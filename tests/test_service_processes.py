"""The distributed mode with real processes: redis-server, PostgreSQL, an SMTP server, the feed
server, ``digest worker`` and ``digest beat``. Each reader gets exactly one copy of the edition.
"""

from __future__ import annotations

from pathlib import Path

import redis
from sqlalchemy import select

from digest.delivering import DELIVERY_BATCH_SIZE
from digest.store.schema import EditionRow
from tests.servers import redis_server, smtp_server
from tests.service_cluster import deployment, fresh_database, tally, wait_for

READERS = 2 * DELIVERY_BATCH_SIZE + 50  # three delivery batches


def test_beat_and_workers_deliver_one_copy_to_every_reader(
    tmp_path: Path, postgres_url: str
) -> None:
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, READERS) as service,
    ):
        try:
            with service.worker("worker"), service.beat():
                wait_for(
                    lambda: service.sent() == READERS and len(sink.received) >= READERS,
                    f"{READERS} deliveries",
                )
                # More ticks pass: none of them may send a copy again.
                seen = service.ticks()
                wait_for(lambda: service.ticks() >= seen + 3, "three more ticks")
        except AssertionError:
            service.print_logs()
            raise
        with service.engine.connect() as connection:
            editions = connection.execute(select(EditionRow.article_count)).scalars().all()
        result = tally(sink, service)
        # The fanned-out tasks (ticks, polls, builds, batches) leave no results behind in Redis:
        # nobody reads them, and each would stay there for a day.
        with redis.Redis.from_url(broker) as client:
            stored_results = client.keys("celery-task-meta-*")

    result.show("one copy each")
    print(f"editions {len(editions)}")
    assert editions == [3]
    assert result.lost == 0 and result.duplicates == 0 and result.sent == READERS
    assert stored_results == []
