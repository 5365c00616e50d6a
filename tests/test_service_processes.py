"""The distributed mode with real processes: redis-server, PostgreSQL, an SMTP server, the feed
server, ``digest worker`` and ``digest beat``. Each reader gets exactly one copy of the edition.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import select

from digest.delivering import DELIVERY_BATCH_SIZE
from digest.store.schema import EditionRow
from tests.feedserver import answer, feed_server
from tests.servers import redis_server, smtp_server
from tests.service_cluster import (
    DIGEST,
    config_text,
    deployment,
    fresh_database,
    process,
    rss,
    tally,
    wait_for,
    write_members,
)

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


def test_a_feeds_password_never_reaches_the_workers_log(tmp_path: Path) -> None:
    """Celery logs each task's result at INFO, and a poll's result names its feed: the
    password of a feed behind HTTP authentication was written into the worker's log (and
    the result backend) at every poll, though errors and `digest feeds` mask it."""
    routes = {
        "/wire.xml": answer(200, rss(datetime.now(UTC)), {"Content-Type": "application/rss+xml"})
    }
    with redis_server() as broker, feed_server(routes) as feeds:
        address = feeds.url("/wire.xml").replace("http://", f"http://desk:{FEED_PASSWORD}@")
        config = tmp_path / "digest.toml"
        config.write_text(config_text(tmp_path, None, address))
        write_members(tmp_path, 1)
        env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
        env["DIGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'digest.db'}"
        digest = [str(DIGEST), "--config", str(config)]
        subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
        env["DIGEST_BROKER_URL"] = broker
        worker_log = tmp_path / "worker.log"

        def polled() -> bool:
            lines = worker_log.read_text(errors="replace").splitlines()
            return any("digest.poll_feed[" in line and " succeeded " in line for line in lines)

        with (
            process([*digest, "worker", "-c", "1"], env, worker_log),
            process([*digest, "beat", "--interval", "1"], env, tmp_path / "beat.log"),
        ):
            wait_for(polled, "a poll's result in the worker's log")
    logged = worker_log.read_text(errors="replace")
    assert FEED_PASSWORD not in logged
    assert "desk:***@127.0.0.1" in logged


FEED_PASSWORD = "feed-pass-7d1c"
