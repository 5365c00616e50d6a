"""The store behind PgBouncer in transaction pooling, as managed PostgreSQL services offer it.

Between two transactions of one client connection, PgBouncer may hand the client's server
connection to another client: locks taken for a session, prepared statements and SET stay with
the server connection, not with the client that made them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from digest.store import Store, open_store
from tests.servers import pgbouncer, redis_cluster, smtp_server
from tests.service_cluster import (
    check_repeats,
    deployment,
    fresh_database,
    in_flight_now,
    tally,
    wait_for,
)


@pytest.fixture
def pooled(postgres_url: str) -> Iterator[str]:
    """A fresh database, its schema made, reached through PgBouncer in transaction pooling."""
    url = fresh_database(postgres_url)
    open_store(url).engine.dispose()
    with pgbouncer(url, pool_mode="transaction") as through:
        yield through


def _two_stores(url: str) -> tuple[Store, Store]:
    # Two URLs, two engines: two processes' worth of connections, as two workers hold.
    return open_store(url, shared=True), open_store(f"{url}?application_name=second", shared=True)


def test_a_batch_handed_out_twice_sends_each_row_once_through_pgbouncer(pooled: str) -> None:
    first, second = _two_stores(pooled)
    try:
        with first.claimed([1, 2, 3]) as held:
            assert held == [1, 2, 3]
            with second.claimed([2, 3, 4]) as also_held:
                assert also_held == [4]  # 2 and 3 are the first batch's
        with second.claimed([1, 2, 3]) as held_after:
            assert held_after == [1, 2, 3]  # let go of at the end of the first block
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_a_lists_builds_wait_for_each_other_through_pgbouncer(pooled: str) -> None:
    first, second = _two_stores(pooled)
    entered = threading.Event()

    def build() -> None:
        with second.building("daily"):
            entered.set()

    try:
        with first.building("daily"):
            other = threading.Thread(target=build)
            other.start()
            assert not entered.wait(1.0), "a second build of the list ran beside the first"
        other.join(10)
        assert entered.is_set()  # and went on once the first ended
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_statements_run_again_and_again_on_shared_server_connections(pooled: str) -> None:
    # psycopg prepares a statement on the server at its fifth run on a connection; PgBouncer
    # then runs the next on another server connection, where it is missing or already made.
    store = open_store(pooled, shared=True)
    try:
        with store.engine.connect() as one, store.engine.connect() as other:
            for n in range(12):
                for connection in (one, other):
                    assert connection.execute(text("SELECT :n"), {"n": n}).scalar() == n
                    connection.commit()
    finally:
        store.engine.dispose()


def test_the_statement_bound_holds_in_every_transaction_and_stays_with_the_service(
    pooled: str,
) -> None:
    # The bound was SET on the session at connect: through transaction pooling it stayed with
    # the one server connection it was set on. The service's later transactions, on other
    # server connections, ran unbounded, and other clients of that server connection got the
    # service's bound.
    store = open_store(pooled, shared=True, statement_seconds=1.5)
    other = create_engine(pooled, poolclass=NullPool)  # another program, a new client each time
    show = text("SHOW statement_timeout")
    try:
        with other.connect() as busy:
            busy.execute(show)  # holds a server connection in its transaction
            with store.engine.connect() as connection:
                first = connection.execute(show).scalar()
        seen = []
        for _ in range(4):
            with store.engine.connect() as connection:  # the pool's one connection, again
                seen.append(connection.execute(show).scalar())
            with other.connect() as elsewhere:
                leaked = elsewhere.execute(show).scalar()
                assert leaked == "0", "the service's bound went to another client"
    finally:
        store.engine.dispose()
        other.dispose()
    assert [first, *seen] == ["1500ms"] * 5


def test_a_connection_straight_to_postgresql_still_prepares_its_statements(
    postgres_url: str,
) -> None:
    store = open_store(fresh_database(postgres_url))
    try:
        with store.engine.connect() as connection:
            assert connection.connection.dbapi_connection.prepare_threshold == 5  # type: ignore[union-attr]
    finally:
        store.engine.dispose()


def test_a_role_idle_in_transaction_timeout_does_not_end_a_batch_holding_its_rows(
    postgres_url: str,
) -> None:
    # Managed PostgreSQL services set idle_in_transaction_session_timeout on the role; the
    # transaction that holds a batch's rows is idle while the batch sends.
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE ROLE hurried LOGIN"))
        connection.execute(text("ALTER ROLE hurried SET idle_in_transaction_session_timeout = 300"))
        connection.execute(text("CREATE DATABASE hurried OWNER hurried"))
    admin.dispose()
    url = make_url(postgres_url).set(username="hurried", database="hurried")
    open_store(url.render_as_string(hide_password=False)).engine.dispose()
    first, second = _two_stores(url.render_as_string(hide_password=False))
    try:
        with first.claimed([1, 2]) as held:
            time.sleep(1.0)
            with second.claimed([1, 2]) as also_held:
                assert (held, also_held) == ([1, 2], [])
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_redis_restarted_mid_delivery_through_pgbouncer_sends_each_reader_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two workers and beat, their database reached through PgBouncer in transaction pooling:
    Redis restarts empty during a delivery, the next tick hands the pending rows out again while
    the first batches still send, and only the row locks keep those from going twice."""
    readers = 1500
    with (
        redis_cluster() as broker,
        smtp_server() as sink,
        pgbouncer(fresh_database(postgres_url)) as through,
        deployment(tmp_path, through, broker.url, sink, readers) as service,
    ):
        try:
            with service.worker("worker-a"), service.worker("worker-b"), service.beat():
                wait_for(lambda: service.sent() >= 200, "the delivery under way")
                broker.restart()
                in_flight = in_flight_now(sink, service)
                wait_for(service.settled, f"every delivery of {readers} settled", 180)
        except AssertionError:
            service.print_logs()
            raise
        result = tally(sink, service)
    result.show("redis restarted, through pgbouncer")
    assert result.lost == 0
    check_repeats(result, in_flight)
