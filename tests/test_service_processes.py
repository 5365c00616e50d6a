"""The distributed mode with real processes: redis-server, PostgreSQL, an SMTP server, the feed
server, ``digest worker`` and ``digest beat``. Each reader gets exactly one copy of the edition.

Waits are on conditions (the ledger, the worker's log), with generous bounds that only stop a
hung run; processes are killed by process group in ``finally``.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from digest.store.schema import DeliveryRow, EditionRow
from tests.feedserver import answer, feed_server
from tests.servers import redis_server, smtp_server

DIGEST = Path(sys.executable).parent / "digest"
READERS = 450  # three delivery batches
_databases = itertools.count()


def fresh_database(server_url: str) -> str:
    name = f"service_{os.getpid()}_{next(_databases)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def rss(now: datetime) -> bytes:
    items = "".join(
        f"<item><title>Iran story {n}</title><link>https://wire.example.org/story/{n}</link>"
        f"<guid>urn:wire:{n}</guid><description>Iran story {n}, as it develops.</description>"
        f"<pubDate>{format_datetime(now - timedelta(hours=n))}</pubDate></item>"
        for n in (1, 2, 3)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example.org/</link>{items}</channel></rss>"
    ).encode()


CONFIG = """
[service]
data_dir = "{folder}/var"
base_url = "https://news.example.org"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
connections = 1

[ingest]
allow_private_addresses = true

[[feeds]]
name = "Wire"
url = "{feed_url}"

[[topics]]
slug = "iran"
name = "Iran"
rules = {{ include = ["Iran"] }}

[[lists]]
slug = "daily"
name = "Daily Brief"
topics = ["iran"]
schedule = "0 0 1 1 *"  # its latest slot is always past: due at the first tick, once
timezone = "UTC"
subscribers = "members.csv"
"""


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``digest`` process in its own process group, stopped by SIGTERM (then SIGKILL)."""
    with log.open("wb") as output:
        started = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield started
        finally:
            if started.poll() is None:
                os.killpg(started.pid, signal.SIGTERM)
                with suppress(subprocess.TimeoutExpired):
                    started.wait(timeout=60)
            with suppress(ProcessLookupError):  # children a warm shutdown left behind
                os.killpg(started.pid, signal.SIGKILL)
            started.wait()


def test_beat_and_workers_deliver_one_copy_to_every_reader(
    tmp_path: Path, postgres_url: str
) -> None:
    database_url = fresh_database(postgres_url)
    (tmp_path / "members.csv").write_text(
        "email,name\n" + "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(READERS))
    )
    body = rss(datetime.now(UTC))
    routes = {"/wire.xml": answer(200, body, {"Content-Type": "application/rss+xml"})}
    with redis_server() as broker, smtp_server() as sink, feed_server(routes) as feeds:
        config = tmp_path / "digest.toml"
        config.write_text(
            CONFIG.format(folder=tmp_path, smtp_port=sink.port, feed_url=feeds.url("/wire.xml"))
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
        env["DIGEST_DATABASE_URL"] = database_url
        digest = [str(DIGEST), "--config", str(config)]
        subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
        # The articles are in before beat starts: a build that ran before a poll of the same
        # tick would be empty (and its articles in the next edition), which this test is not about.
        subprocess.run([*digest, "poll"], env=env, check=True, capture_output=True)
        env["DIGEST_BROKER_URL"] = broker

        engine = create_engine(database_url)

        def delivered() -> int:
            with engine.connect() as connection:
                query = select(func.count()).where(DeliveryRow.status == "sent")
                return int(connection.execute(query).scalar_one())

        worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"

        def ticks() -> int:
            return worker_log.read_text(errors="replace").count("delivery batches handed out")

        try:
            with (
                process([*digest, "worker", "--concurrency", "2"], env, worker_log),
                process([*digest, "beat", "--interval", "1"], env, beat_log),
            ):
                wait_for(
                    lambda: delivered() == READERS and len(sink.received) >= READERS,
                    f"{READERS} deliveries",
                )
                # More ticks pass: none of them may send a copy again.
                seen = ticks()
                wait_for(lambda: ticks() >= seen + 3, "three more ticks")
        except AssertionError:
            print(worker_log.read_text(errors="replace")[-4000:])
            print(beat_log.read_text(errors="replace")[-2000:])
            raise
        with engine.connect() as connection:
            editions = connection.execute(select(EditionRow.article_count)).scalars().all()
        engine.dispose()

    copies = Counter(recipient for mail in sink.received for recipient in mail.rcpt_tos)
    print(f"sent {sum(copies.values())}, readers {len(copies)}, editions {len(editions)}")
    assert editions == [3]
    assert len(copies) == READERS and set(copies.values()) == {1}
