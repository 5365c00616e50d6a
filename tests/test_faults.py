"""The distributed mode under faults, with real processes: redis-server, PostgreSQL, two
``digest worker`` processes, ``digest beat`` and an SMTP server on loopback, all started here.

Each test prints what reached the mail server (sent, duplicates, lost) and asserts that no reader
is lost, and that a reader who got a message twice got the same Message-ID twice, one that was in
flight at the fault (taken by the server, not yet on the ledger): invariant 3.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import func, select

from digest.delivering import UNRECORDED_AT_MOST
from digest.store.schema import DeliveryRow, EditionRow
from tests.servers import SmtpSink, postgres_cluster, redis_cluster, redis_server, smtp_server
from tests.service_cluster import (
    QUICK_RETRIES,
    WIRE_SETTLE_SECONDS,
    Deployment,
    check_repeats,
    children,
    deployment,
    ended,
    fresh_database,
    in_flight_now,
    reader,
    tally,
    wait_for,
)
from tests.smtp_faults import DroppingSink, FlakySink, RefusingSink, on_free_port


@contextmanager
def two_workers_and_beat(service: Deployment) -> Iterator[None]:
    """Two ``digest worker`` processes and ``digest beat`` for the block; their logs printed
    when the block fails an assertion."""
    try:
        with service.worker("worker-a"), service.worker("worker-b"), service.beat():
            yield
    except AssertionError:
        service.print_logs()
        raise


@contextmanager
def quick_retrying(
    tmp_path: Path, postgres_url: str, sink: SmtpSink, readers: int
) -> Iterator[Deployment]:
    """A deployment of ``readers`` readers on a fresh database and its own Redis, mailing
    through ``sink`` (served for the block) with retries a few seconds apart."""
    with (
        redis_server() as broker,
        smtp_server(sink),
        deployment(
            tmp_path, fresh_database(postgres_url), broker, sink, readers, smtp_extra=QUICK_RETRIES
        ) as service,
    ):
        yield service


def _deliver_through(service: Deployment, sink: SmtpSink, timeout: float = 180) -> None:
    wait_for(service.settled, f"every delivery of {len(service.readers)} settled", timeout)


def test_a_worker_process_killed_mid_delivery_of_5000_loses_no_reader(
    tmp_path: Path, postgres_url: str
) -> None:
    """SIGKILL a pool process of a worker while it delivers a batch: with acks_late and
    reject_on_worker_lost the batch goes back to the queue at once and is delivered again; the
    copies the server took before the kill, not yet on the ledger, go twice, same Message-ID."""
    readers = 5000
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, readers) as service,
    ):
        try:
            with service.worker("worker-a") as worker_a, service.worker("worker-b"), service.beat():
                wait_for(lambda: service.sent() >= 1000, "a fifth of the deliveries")
                victims = children(worker_a.pid)
                assert victims, "worker-a has no pool process"
                for victim in victims:  # both pool processes: each holds a batch
                    os.kill(victim, signal.SIGKILL)
                # In flight at the kill: also a copy that was on a killed process's wire.
                wait_for(lambda: ended(victims), "the killed pool processes to end", 30)
                time.sleep(WIRE_SETTLE_SECONDS)
                in_flight = in_flight_now(sink, service)
                _deliver_through(service, sink)
        except AssertionError:
            service.print_logs()
            raise
        result = tally(sink, service)
    result.show("worker process killed")
    print(f"in flight at the kill: {len(in_flight)}")
    assert result.lost == 0
    check_repeats(result, in_flight)
    # What each killed process had sent since it last recorded, and what was on its wire.
    assert result.duplicates <= len(victims) * (UNRECORDED_AT_MOST + 2)


# A short hold on a taken task, so that a whole worker's batches go again within the test.
SHORT_HOLD = """[worker]
batch_size = 100
batch_time_limit_seconds = 10
visibility_timeout_seconds = 20
"""


def test_a_whole_worker_killed_outright_mid_delivery_loses_no_reader(
    tmp_path: Path, postgres_url: str
) -> None:
    """SIGKILL a worker's main process and its pool at once, as when its machine is lost:
    nothing is left to put its batches back, so Redis hands them to the other worker once
    worker.visibility_timeout_seconds has passed, and every reader gets the edition."""
    readers = 3000
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(
            tmp_path, fresh_database(postgres_url), broker, sink, readers, extra=SHORT_HOLD
        ) as service,
    ):
        try:
            with service.worker("worker-a") as worker_a, service.worker("worker-b"), service.beat():
                wait_for(lambda: service.sent() >= 600, "a fifth of the deliveries")
                victims = [worker_a.pid, *children(worker_a.pid)]
                os.killpg(worker_a.pid, signal.SIGKILL)
                wait_for(lambda: ended(victims), "the killed worker's processes to end", 30)
                time.sleep(WIRE_SETTLE_SECONDS)
                in_flight = in_flight_now(sink, service)
                # Well within the default hold (900 s): only the configured one brings the
                # killed worker's batches back this soon.
                _deliver_through(service, sink, timeout=150)
        except AssertionError:
            service.print_logs()
            raise
        result = tally(sink, service)
    result.show("whole worker killed")
    print(f"in flight at the kill: {len(in_flight)}")
    assert result.lost == 0
    check_repeats(result, in_flight)
    pool = len(victims) - 1
    assert result.duplicates <= pool * (UNRECORDED_AT_MOST + 2)


def test_redis_restarted_mid_delivery_loses_no_reader(tmp_path: Path, postgres_url: str) -> None:
    """redis-server restarts empty (the queue and the leases gone) during a delivery: the
    workers and beat reconnect, the next tick hands the pending rows out again from the ledger."""
    readers = 1500
    with (
        redis_cluster() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker.url, sink, readers) as service,
    ):
        with two_workers_and_beat(service):
            wait_for(lambda: service.sent() >= 200, "the delivery under way")
            broker.restart()
            in_flight = in_flight_now(sink, service)
            _deliver_through(service, sink)
        result = tally(sink, service)
    result.show("redis restarted")
    print(f"in flight at the restart: {len(in_flight)}")
    assert result.lost == 0
    check_repeats(result, in_flight)


# Longer than a batch of the deployment's takes to send on this machine, so that one ends while
# Redis is full.
FULL_FOR_SECONDS = 6


def test_redis_full_mid_delivery_stops_no_worker_and_loses_no_reader(
    tmp_path: Path, postgres_url: str
) -> None:
    """redis-server at its memory limit (noeviction) for a few seconds during a delivery: a
    worker's acknowledgement of a batch is refused ("OOM command not allowed"), which kombu
    lets out as "Unrecoverable error" and the worker ended, leaving the rest of the delivery to
    a worker no one started. It now goes on once Redis has room, as after a lost connection."""
    readers = 1500
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, readers) as service,
    ):
        try:
            with (
                service.worker("worker") as worker,
                service.beat(),
                redis.Redis.from_url(broker) as client,
            ):
                wait_for(lambda: service.sent() >= 200, "the delivery under way")
                client.config_set("maxmemory", 1)  # full: every write is refused
                time.sleep(FULL_FOR_SECONDS)  # batches end, and their acknowledgements fail
                client.config_set("maxmemory", 0)
                _deliver_through(service, sink)
                assert worker.poll() is None, "the worker ended"
        except AssertionError:
            service.print_logs()
            raise
        result = tally(sink, service)
    result.show("redis full")
    assert result.lost == 0
    logged = (tmp_path / "worker.log").read_text(errors="replace")
    assert "Unrecoverable error" not in logged, logged[-3000:]


def test_postgresql_restarted_mid_delivery_loses_no_reader(tmp_path: Path) -> None:
    """PostgreSQL stops (as a crash: connections cut) and comes back during a delivery."""
    readers = 1500
    with (
        postgres_cluster() as database,
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(database.url), broker, sink, readers) as service,
    ):
        with two_workers_and_beat(service):
            wait_for(lambda: service.sent() >= 200, "the delivery under way")
            database.restart()
            in_flight = in_flight_now(sink, service)
            _deliver_through(service, sink)
        result = tally(sink, service)
    result.show("postgresql restarted")
    print(f"in flight at the restart: {len(in_flight)}")
    assert result.lost == 0
    check_repeats(result, in_flight)
    # The copies the server took while the database was away are recorded once it is back.
    assert result.duplicates == 0


def test_a_server_answering_4xx_to_a_fifth_of_transactions(
    tmp_path: Path, postgres_url: str
) -> None:
    """Temporary refusals are retried after a backoff until each reader has their copy; the
    server took none of the refused ones, so none goes twice."""
    readers = 600
    sink = on_free_port(FlakySink, share=0.2)
    with quick_retrying(tmp_path, postgres_url, sink, readers) as service:
        with two_workers_and_beat(service):
            _deliver_through(service, sink)
        result = tally(sink, service)
    result.show("4xx to a fifth")
    print(f"refusals: {sink.refusals}")
    assert sink.refusals > readers // 10
    assert result.lost == 0
    check_repeats(result, set())


def test_a_server_dropping_the_connection_every_500_messages(
    tmp_path: Path, postgres_url: str
) -> None:
    """The server takes a message and drops the connection before its reply: that delivery's
    fate is unknown, so it goes again after a backoff (the same Message-ID); the messages
    after it go on a new connection."""
    readers = 1500
    sink = on_free_port(DroppingSink, every=500)
    with quick_retrying(tmp_path, postgres_url, sink, readers) as service:
        with two_workers_and_beat(service):
            _deliver_through(service, sink)
        result = tally(sink, service)
    result.show("connection dropped every 500")
    print(f"dropped: {len(sink.dropped)}")
    assert len(sink.dropped) >= 3
    assert result.lost == 0
    check_repeats(result, set(sink.dropped))


def test_a_server_refusing_some_recipients_for_good(tmp_path: Path, postgres_url: str) -> None:
    """A 5xx to a recipient fails that delivery on the ledger with the server's reply, and it
    is never tried again; everyone else gets their copy."""
    readers = 450
    refused = frozenset(reader(n) for n in range(3, readers, 61))
    sink = on_free_port(RefusingSink, refused=refused)
    with quick_retrying(tmp_path, postgres_url, sink, readers) as service:
        with two_workers_and_beat(service):
            _deliver_through(service, sink)
            seen = service.ticks()  # ticks pass: a failed row is not handed out again
            wait_for(lambda: service.ticks() >= seen + 3, "three more ticks")
        result = tally(sink, service, refused=refused)
        rows = service.rows()
    result.show("5xx to some recipients")
    assert result.lost == 0 and result.duplicates == 0
    assert result.sent == readers - len(refused)
    assert sink.asked == dict.fromkeys(refused, 1)  # asked once each: not retried
    for address in refused:
        status, attempts, error = rows[address]
        assert (status, attempts) == ("failed", 1)
        assert error is not None and "550 5.1.1" in error and "User unknown" in error


def test_two_beats_at_once_build_one_edition_per_slot(tmp_path: Path, postgres_url: str) -> None:
    """Two beats tick at once (a mistake an operator can make) while the list's schedule moves
    through three slots (config edits, applied at the next tick): one edition per slot, one
    copy of each to each reader."""
    readers = 30
    schedules = ["0 0 1 1 *", "0 0 1 2 *", "0 0 1 3 *"]
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(
            tmp_path,
            fresh_database(postgres_url),
            broker,
            sink,
            readers,
            schedule=schedules[0],
            list_extra="send_when_empty = true",
        ) as service,
    ):

        def editions() -> list[tuple[str, str]]:
            with service.engine.connect() as connection:
                query = select(EditionRow.slot, EditionRow.status).order_by(EditionRow.slot)
                return [(str(slot), status) for slot, status in connection.execute(query)]

        try:
            with (
                service.worker("worker-a"),
                service.worker("worker-b"),
                service.beat("beat-a"),
                service.beat("beat-b"),
            ):
                for number, schedule in enumerate(schedules, start=1):
                    if number > 1:
                        text = service.config.read_text()
                        service.config.write_text(text.replace(schedules[number - 2], schedule))
                    wait_for(
                        lambda n=number: (
                            len(editions()) >= n  # type: ignore[misc]
                            and service.settled()
                        ),
                        f"edition {number} delivered",
                    )
                seen = service.ticks()
                wait_for(lambda: service.ticks() >= seen + 4, "more ticks")
        except AssertionError:
            service.print_logs()
            raise
        built = editions()
        with service.engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(DeliveryRow)).scalar_one()
    copies: dict[str, list[str]] = {}
    for mail in sink.received:
        for recipient in mail.rcpt_tos:
            copies.setdefault(recipient, []).append(mail.message_id)
    sent = sum(len(ids) for ids in copies.values())
    duplicates = sum(len(ids) - len(set(ids)) for ids in copies.values())
    lost = sum(len(set(copies.get(address, []))) < 3 for address in service.readers)
    print(f"two beats: editions {len(built)}, sent {sent}, duplicates {duplicates}, lost {lost}")
    assert len(built) == 3 and {status for _, status in built} == {"sent"}
    assert rows == 3 * readers
    assert lost == 0 and duplicates == 0 and sent == 3 * readers


# What breaks the config: a text of it replaced with another, and the key the error must name.
BROKEN_CONFIGS = {
    "a key of the wrong type": ("port = ", 'port = "not a port"  # ', "smtp.port"),
    "a DKIM key that is no key": (
        "[ingest]",
        '[dkim]\nselector = "news"\nkey_file = "dkim.pem"\n\n[ingest]',
        "dkim.key_file",
    ),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_CONFIGS))
def test_a_worker_with_a_broken_config_exits_and_consumes_nothing(
    tmp_path: Path, postgres_url: str, broken: str
) -> None:
    """A worker whose config cannot work says so (file, key, reason) and exits non-zero before
    it takes a task: the work queued stays queued for the workers that can do it."""
    before, after, key = BROKEN_CONFIGS[broken]
    (tmp_path / "dkim.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n")
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, 10) as service,
    ):
        sender = Celery("test", broker=broker)
        for _ in range(3):
            sender.send_task("digest.tick", queue="digest")
        queue = redis.Redis.from_url(broker)
        queued = queue.llen("digest")
        assert queued == 3
        text = service.config.read_text()
        service.config.write_text(text.replace(before, after, 1))
        worker = service.start("worker", new_session=True)
        try:
            _, stderr = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the worker ran on with a broken config") from None
        finally:
            with suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        left = queue.llen("digest")
        sender.close()
    print(f"{broken}: exit {worker.returncode}, queued {queued}, left {left}")
    print(stderr)
    assert worker.returncode != 0
    assert str(service.config) in stderr or "dkim.pem" in stderr
    assert key in stderr and "Traceback" not in stderr
    assert left == queued
