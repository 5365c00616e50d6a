"""The distributed mode with real processes: redis-server, PostgreSQL, an SMTP server, the feed
server, ``digest worker`` and ``digest beat``. Each reader gets exactly one copy of the edition.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import redis
from celery import Celery
from kombu import Connection, Producer
from sqlalchemy import select

from digest.delivering import DELIVERY_BATCH_SIZE
from digest.store.schema import EditionRow
from tests.feedserver import answer, feed_server
from tests.servers import free_port, redis_server, smtp_server
from tests.service_cluster import (
    DIGEST,
    config_text,
    deployment,
    fresh_database,
    process,
    reader,
    rss,
    tally,
    wait_for,
    write_members,
)
from tests.smtp_faults import RefusingSink, on_free_port
from tests.test_metrics import scrape

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
        worker_log = tmp_path / "worker.log"
        with _worker_and_beat(tmp_path, config, broker, worker_log):
            wait_for(
                lambda: _succeeded("digest.poll_feed", worker_log), "a poll's result in the log"
            )
    logged = worker_log.read_text(errors="replace")
    assert FEED_PASSWORD not in logged
    assert "desk:***@127.0.0.1" in logged


FEED_PASSWORD = "feed-pass-7d1c"


def test_a_workers_log_names_no_reader_of_a_delivery_batch(tmp_path: Path) -> None:
    """Celery logs each task's result at INFO: a delivery batch's result named every reader
    whose copy failed (a refusal's text, twice: the address, then the server's words quoting
    it), so a server refusing a list wrote the list into every worker's log. The result tells
    of each by its delivery and subscriber ids; the ledger row keeps the rest."""
    routes = {
        "/wire.xml": answer(200, rss(datetime.now(UTC)), {"Content-Type": "application/rss+xml"})
    }
    refused = reader(1)
    sink = on_free_port(RefusingSink, refused=frozenset({refused}))
    with redis_server() as broker, smtp_server(sink), feed_server(routes) as feeds:
        config = tmp_path / "digest.toml"
        config.write_text(config_text(tmp_path, sink.port, feeds.url("/wire.xml")))
        readers = write_members(tmp_path, 3)
        worker_log = tmp_path / "worker.log"
        with _worker_and_beat(tmp_path, config, broker, worker_log):
            wait_for(lambda: _succeeded("digest.deliver_batch", worker_log), "a batch's result")
    logged = worker_log.read_text(errors="replace")
    [result] = [
        line
        for line in logged.splitlines()
        if "digest.deliver_batch[" in line and " succeeded " in line
    ]
    assert [address for address in readers if address in logged] == []
    assert "'sent': 2" in result and "'failed': 1" in result
    assert re.search(r"delivery \d+ to subscriber (\d+): .* 550 5\.1\.1 <subscriber \1>", result)


def _succeeded(task: str, log: Path) -> bool:
    """The worker's ``log`` has the line of a ``task`` that succeeded (with its result)."""
    lines = log.read_text(errors="replace").splitlines()
    return any(f"{task}[" in line and " succeeded " in line for line in lines)


@contextmanager
def _worker_and_beat(folder: Path, config: Path, broker: str, worker_log: Path) -> Iterator[None]:
    """A ``digest worker`` (its output in ``worker_log``) and a ``digest beat`` ticking every
    second, on ``broker`` and an SQLite database in ``folder`` migrated first."""
    digest, env = _service_command(folder, config, broker)
    with (
        process([*digest, "worker", "-c", "1"], env, worker_log),
        process([*digest, "beat", "--interval", "1"], env, folder / "beat.log"),
    ):
        yield


def _service_command(folder: Path, config: Path, broker: str) -> tuple[list[str], dict[str, str]]:
    """The ``digest`` command on ``config`` and the environment of a service process on
    ``broker`` and an SQLite database in ``folder``, migrated first."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env["DIGEST_DATABASE_URL"] = f"sqlite:///{folder / 'digest.db'}"
    digest = [str(DIGEST), "--config", str(config)]
    subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
    env["DIGEST_BROKER_URL"] = broker
    return digest, env


@contextmanager
def _a_ready_worker(
    folder: Path, broker: str, *options: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A ``digest worker`` of one process on ``broker`` (with ``options``), of a list of one
    reader whose feed is nowhere, ready to take tasks; and the file of its log."""
    config = folder / "digest.toml"
    config.write_text(config_text(folder, None, "http://127.0.0.1:9/wire.xml"))
    write_members(folder, 1)
    worker_log = folder / "worker.log"
    digest, env = _service_command(folder, config, broker)
    with process([*digest, "worker", "-c", "1", *options], env, worker_log) as worker:
        wait_for(lambda: "ready." in worker_log.read_text(errors="replace"), "the worker")
        yield worker, worker_log


def test_a_task_the_worker_does_not_know_is_one_line_naming_no_reader(tmp_path: Path) -> None:
    # A task sent by a machine on newer code (a task this worker's release does not have) was
    # logged as some 25 lines of Celery's advice to developers, with the message's whole body:
    # a sign-up's body holds the reader's address, which the workers' logs never name.
    with redis_server() as broker, _a_ready_worker(tmp_path, broker) as (_, worker_log):
        sender = Celery("newer", broker=broker)
        sender.send_task(
            "digest.sign_up_by_invitation",
            ("daily", "new.reader@example.org", "New Reader", "INVITE-CODE"),
            queue="digest",
        )
        wait_for(
            lambda: "digest.sign_up_by_invitation" in worker_log.read_text(errors="replace"),
            "the worker's word on the task",
        )
        with redis.Redis.from_url(broker) as client:
            left = client.llen("digest")
    logged = worker_log.read_text(errors="replace")
    assert "new.reader@example.org" not in logged and "INVITE-CODE" not in logged
    assert "Traceback" not in logged
    [line] = [line for line in logged.splitlines() if "digest.sign_up_by_invitation" in line]
    assert (
        "task digest.sign_up_by_invitation is not one this worker knows: it was sent by a "
        "process running other code (a newer release?); give every machine the same release"
    ) in line
    assert left == 0  # dropped, as Celery does: requeued, it would come back to this worker


def test_a_task_message_of_another_shape_is_dropped_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    # A message under a task's name whose body is not a task's (another program on the same
    # Redis database, a hand-made test message) ended the worker: "Unrecoverable error:
    # ValueError", the message put back, and the next worker to take it ended the same way.
    with redis_server() as broker, _a_ready_worker(tmp_path, broker) as (worker, worker_log):
        with Connection(broker) as connection:
            Producer(connection).publish(
                {"email": "odd.reader@example.org"},
                routing_key="digest",
                headers={"task": "digest.sign_up", "id": "hand-made-1", "lang": "py"},
                serializer="json",
            )
        wait_for(
            lambda: (
                "hand-made-1" in worker_log.read_text(errors="replace") or worker.poll() is not None
            ),
            "the worker's word on the message",
        )
        time.sleep(1)  # a worker about to end has ended
        alive = worker.poll() is None
        with redis.Redis.from_url(broker) as client:
            left = client.llen("digest")
    logged = worker_log.read_text(errors="replace")
    assert alive, logged[-3000:]
    assert "odd.reader@example.org" not in logged and "Traceback" not in logged
    [line] = [line for line in logged.splitlines() if "hand-made-1" in line]
    assert (
        "a task message this worker cannot read was dropped (task digest.sign_up, id "
        "hand-made-1: its body is not a task's (ValueError))"
    ) in line
    assert left == 0


def test_task_messages_of_another_release_are_one_line_each_and_counted(tmp_path: Path) -> None:
    # After an upgrade, messages left in Redis by the old release: one whose arguments no
    # longer fit its task ended in Celery's TypeError traceback, one whose body was not JSON in
    # a traceback and a dump of the body (a sign-up's holds a reader's address), and neither
    # was counted anywhere an operator looks.
    port = free_port()
    with (
        redis_server() as broker,
        _a_ready_worker(tmp_path, broker, "--metrics-port", str(port)) as (worker, worker_log),
    ):
        Celery("older", broker=broker).send_task(
            "digest.deliver_batch", (7,), queue="digest", task_id="old-args-1"
        )
        with Connection(broker) as connection:
            Producer(connection).publish(
                b'{"email": "odd.reader@example.org", cut short',
                routing_key="digest",
                headers={"task": "digest.sign_up", "id": "cut-1", "lang": "py"},
                content_type="application/json",
                content_encoding="utf-8",
            )
        wait_for(
            lambda: all(
                word in worker_log.read_text(errors="replace") for word in ("old-args-1", "cut-1")
            ),
            "the worker's word on both messages",
        )
        counted = scrape(port)
        digest, env = _service_command(tmp_path, tmp_path / "digest.toml", broker)
        status = subprocess.run(
            [*digest, "status", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        alive = worker.poll() is None
        with redis.Redis.from_url(broker) as client:
            left = client.llen("digest")
    logged = worker_log.read_text(errors="replace")
    assert alive and left == 0, logged[-3000:]
    assert "odd.reader@example.org" not in logged and "Traceback" not in logged
    [line] = [line for line in logged.splitlines() if "old-args-1: its" in line]
    assert (
        "task digest.deliver_batch, id old-args-1: its arguments do not fit this release's task "
        "(missing a required argument: 'delivery_ids'): it was sent by a process running other "
        "code; give every machine the same release"
    ) in line
    [line] = [line for line in logged.splitlines() if "cut-1" in line]
    assert (
        "a task message this worker cannot decode was dropped (task digest.sign_up, id cut-1, "
        "content type application/json: "
    ) in line
    dropped = "digest_task_messages_dropped_total"
    assert counted[(dropped, (("reason", "arguments"),))] == 1
    assert counted[(dropped, (("reason", "undecodable"),))] == 1
    # And in the broker, for `digest status`, whichever worker dropped them.
    service = json.loads(status.stdout)["service"]
    assert service["dropped_messages"] == {"arguments": 1, "undecodable": 1}, status.stderr
