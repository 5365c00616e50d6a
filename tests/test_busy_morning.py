"""The embedded default under load from both sides at once: `digest run --once --list` sends an
edition through a real SMTP server while `digest serve` takes one-click unsubscribes, sign-ups
and their confirmations, and `digest poll` runs beside them, three processes on one SQLite file.
(bench/busy_morning.py does the same with 20,000 readers, and on PostgreSQL.)"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import Envelope
from sqlalchemy import text

from digest.clock import SystemClock
from digest.config import load_settings
from digest.imports import import_list_files
from digest.sample_server import serve_folder
from digest.services import build_services
from digest.store.db import create_database_engine
from tests.servers import SmtpSink, free_port, smtp_server
from tests.test_end_to_end import DIGEST, SECRET, parse
from tests.webtools import write_feed

pytestmark = pytest.mark.integration

READERS = 1_500
BATCH = 50  # many batches, so that the unsubscribes fall between the reading of two
# A batch is read just before its first copy goes: a copy whose batch began to go later than
# this after its reader's unsubscribe was answered came from a batch read after the answer.
SLACK = 1.0
FORM_TOKEN = re.compile(r'name="form_token"\s+value="([^"]+)"')
CONFIRM_LINK = re.compile(r"/confirm/([A-Za-z0-9_.\-]+)")

CONFIG = """
[service]
database_url = "sqlite:///{folder}/digest.db"
data_dir = "{folder}/var"
base_url = "http://127.0.0.1:{web}"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
connections = 1

[worker]
batch_size = {batch}

[web]
signup_rate_per_client = "100000/hour"

[ingest]
allow_private_addresses = true

[[feeds]]
name = "Wire"
url = "{feed_url}"

[[topics]]
slug = "gulf"
name = "The Gulf"
[topics.rules]
include = ["Gulf"]

[[lists]]
slug = "daily"
name = "Daily Brief"
description = "The Gulf each morning."
topics = ["gulf"]
schedule = "0 7 * * *"
timezone = "Asia/Dubai"
subscribers = "members.csv"
"""


@dataclass
class TimedSink(SmtpSink):
    """The recording sink, with when each message came."""

    times: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        # A few milliseconds a message, as a mail server takes: the send lasts long enough
        # for the readers' requests to fall between its batches.
        await asyncio.sleep(0.004)
        self.times.append(time.time())
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Load:
    """Readers' requests on the pages, each answer noted with when it came."""

    base: str
    # (reader, unsubscribe token), each used once, from the last: the readers of the last
    # batches, whose copies go last
    tokens: list[tuple[int, str]]
    unsubscribed: list[tuple[int, float]] = field(default_factory=list)  # answered 200
    signed_up: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _addresses: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def one_click(self, client: httpx.Client) -> None:
        with self.lock:
            reader, token = self.tokens.pop() if self.tokens else (0, "")
        if not token:
            time.sleep(0.05)  # every reader of the load has left
            return
        answer = client.post(
            f"/unsubscribe/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        with self.lock:
            if answer.status_code == 200:
                self.unsubscribed.append((reader, time.time()))
            else:
                self.failures.append(f"one-click: {answer.status_code}")

    def sign_up(self, client: httpx.Client) -> None:
        email = f"new{next(self._addresses)}@example.net"
        answer = self.post_form(client, "/subscribe/daily", {"email": email, "name": "New"})
        if answer is not None:
            with self.lock:
                self.signed_up.append(email)

    def confirm(self, client: httpx.Client, token: str, email: str) -> None:
        if self.post_form(client, f"/confirm/{token}", {}) is not None:
            with self.lock:
                self.confirmed.append(email)

    def post_form(
        self, client: httpx.Client, path: str, fields: dict[str, str]
    ) -> httpx.Response | None:
        """The form's page, then the form posted with its token; None (the failure noted)
        unless both answered 200."""
        page = client.get(path)
        found = FORM_TOKEN.search(page.text)
        answer = client.post(path, data={**fields, "form_token": found.group(1)}) if found else page
        if answer.status_code == 200:
            return answer
        with self.lock:
            self.failures.append(f"{path}: {answer.status_code}")
        return None


def put_load(
    load: Load, threads: int, queued: Callable[[], bool], done: Callable[[], bool]
) -> None:
    """``threads`` threads of sign-ups until ``queued()``, then of one-clicks and sign-ups
    (seven to one), until ``done()``."""

    def work(number: int) -> None:
        with httpx.Client(base_url=load.base, timeout=60) as client:
            turn = number
            while not done():
                turn += 1
                if queued():
                    (load.sign_up if turn % 8 == 0 else load.one_click)(client)
                else:
                    load.sign_up(client)
                    time.sleep(0.1)

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work, number) for number in range(threads)]:
            future.result()


@contextmanager
def process(config: Path, *args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``digest --config CONFIG ARGS`` running on the config's database, its output in
    ``log``; stopped at the end."""
    with log.open("wb") as output:
        started = subprocess.Popen(
            [DIGEST, "--config", str(config), *args],
            env={**_environment(), "DIGEST_SECRET_KEY": SECRET},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield started
        finally:
            if started.poll() is None:
                started.terminate()
            started.wait(timeout=60)


def _environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("DIGEST_CONFIG", "DIGEST_BROKER_URL", "DIGEST_DATABASE_URL")
    }


def ledger_filled(database_url: str) -> Callable[[], bool]:
    """Whether the edition's deliveries are queued, asked of the database at most every 50 ms
    until they are."""
    engine = create_database_engine(database_url)
    lock = threading.Lock()
    asked = [0.0]
    filled = threading.Event()

    def ask() -> bool:
        with lock:
            if not filled.is_set() and time.monotonic() - asked[0] > 0.05:
                with engine.connect() as connection:
                    rows = connection.execute(text("SELECT count(*) FROM deliveries")).scalar()
                asked[0] = time.monotonic()
                if rows:
                    filled.set()
                    engine.dispose()
        return filled.is_set()

    return ask


def wait_for_pages(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def confirm_token(data: bytes) -> str:
    """The token of the link of a confirmation mail."""
    body = parse(data).get_body(("plain",))
    assert body is not None
    found = CONFIRM_LINK.search(body.get_content())
    assert found is not None
    return found.group(1)


def seed(config: Path) -> list[tuple[int, str]]:
    """The list's file imported, as `digest run` would; each reader's unsubscribe token."""
    settings = load_settings(config, {"DIGEST_SECRET_KEY": SECRET})
    services = build_services(settings, clock=SystemClock())
    try:
        import_list_files(settings, services.store, services.address_key, SystemClock().now())
        return [
            (member.id, services.signer.unsubscribe_token(member.id, "daily"))
            for member in services.store.active_subscribers("daily")
        ]
    finally:
        services.close()


def test_an_edition_goes_out_while_the_pages_take_unsubscribes_and_sign_ups(
    tmp_path: Path,
) -> None:
    """Every answer 2xx, no process says the database was locked; every unsubscribe answered
    200 holds, and no copy went to its reader from a batch read after the answer; every copy
    went once, to every reader still a member; every confirmation answered 200 holds."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    now = datetime.now(UTC)
    write_feed(feeds, [(n, f"Gulf story {n}", now - timedelta(hours=n)) for n in range(1, 6)])
    (tmp_path / "members.csv").write_text(
        "email,name\n" + "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(READERS))
    )
    database_url = f"sqlite:///{tmp_path / 'digest.db'}"
    web = free_port()
    base = f"http://127.0.0.1:{web}"
    sink = TimedSink("127.0.0.1", free_port())
    with serve_folder(feeds) as feed_base, smtp_server(sink):
        config = tmp_path / "digest.toml"
        config.write_text(
            CONFIG.format(
                folder=tmp_path,
                web=web,
                smtp=sink.port,
                batch=BATCH,
                feed_url=f"{feed_base}/wire.xml",
            )
        )
        tokens = seed(config)
        load = Load(base, tokens[-READERS // 3 :])
        logs = {name: tmp_path / f"{name}.log" for name in ("serve", "run", "poll")}
        with process(config, "serve", "--port", str(web), log=logs["serve"]) as server:
            wait_for_pages(base, server, logs["serve"])
            with (
                process(config, "run", "--once", "--list", "daily", log=logs["run"]) as run,
                process(config, "poll", log=logs["poll"]) as poll,
            ):
                put_load(load, 8, ledger_filled(database_url), lambda: run.poll() is not None)
                assert run.wait(timeout=120) == 0, logs["run"].read_text()
                assert poll.wait(timeout=120) == 0, logs["poll"].read_text()
            # Each sign-up's mail goes out within a few seconds of its answer.
            confirming: dict[str, str] = {}
            deadline = time.monotonic() + 30
            while len(confirming) < len(load.signed_up) and time.monotonic() < deadline:
                time.sleep(0.2)
                for mail in list(sink.received):
                    if mail.rcpt_tos[0] in load.signed_up and mail.rcpt_tos[0] not in confirming:
                        confirming[mail.rcpt_tos[0]] = confirm_token(mail.data)
            with httpx.Client(base_url=base, timeout=60) as client:
                for email, token in confirming.items():
                    load.confirm(client, token, email)

    outputs = {name: log.read_text() for name, log in logs.items()}
    for name, output in outputs.items():
        assert "Traceback" not in output, f"digest {name}:\n{output}"
        assert "locked" not in output, f"digest {name}:\n{output}"
    assert load.failures == []
    assert len(load.unsubscribed) > 50 and len(load.signed_up) > 20  # the load met the send
    assert sorted(confirming) == sorted(load.signed_up)
    assert sorted(load.confirmed) == sorted(load.signed_up)

    engine = create_database_engine(database_url)
    with engine.connect() as connection:
        status: dict[str, str] = dict(
            connection.execute(
                text(
                    "SELECT lower(s.email), m.status FROM subscriptions m "
                    "JOIN subscribers s ON s.id = m.subscriber_id WHERE m.list_slug = 'daily'"
                )
            ).all()
        )
        email_of: dict[int, str] = dict(
            connection.execute(text("SELECT id, lower(email) FROM subscribers")).all()
        )
        ledger = connection.execute(
            text("SELECT subscriber_id, status FROM deliveries ORDER BY id")
        ).all()
    engine.dispose()

    copies: dict[str, list[float]] = {}
    for mail, came in zip(sink.received, sink.times, strict=True):
        if mail.rcpt_tos[0] not in confirming:  # a copy of the edition
            copies.setdefault(mail.rcpt_tos[0].lower(), []).append(came)
    assert all(status[email_of[reader]] == "unsubscribed" for reader, _ in load.unsubscribed)
    assert all(status[email] == "confirmed" for email in load.confirmed)
    assert [email for email, times in copies.items() if len(times) > 1] == []
    queued = [email_of[reader] for reader, _ in ledger]
    still_members = [email for email in queued if status[email] == "confirmed"]
    assert [email for email in still_members if email not in copies] == []
    # The batch of each reader: the first copy of a batch went just after it was read.
    batch_of = {email: n // BATCH for n, email in enumerate(queued)}
    first_copy: dict[int, float] = {}
    for email, times in copies.items():
        if email in batch_of:
            batch = batch_of[email]
            first_copy[batch] = min([first_copy.get(batch, times[0]), *times])
    late = [
        (email_of[reader], round(first_copy[batch_of[email_of[reader]]] - answered, 2))
        for reader, answered in load.unsubscribed
        if email_of[reader] in copies and first_copy[batch_of[email_of[reader]]] - answered > SLACK
    ]
    assert late == []
    assert {row_status for _, row_status in ledger} == {"sent", "skipped"}  # some left meanwhile
