"""The embedded default under load from both sides at once: `digest run --once --list` sends an
edition through a real SMTP server while `digest serve` takes one-click unsubscribes, sign-ups
and their confirmations, and `digest poll` runs beside them, three processes on one SQLite file.
(bench/busy_morning.py does the same with 20,000 readers, and on PostgreSQL.)"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import Envelope
from sqlalchemy import text

from digest.clock import SystemClock
from digest.config import load_settings
from digest.imports import import_list_files
from digest.services import build_services
from digest.store.db import create_database_engine
from tests.morning import copies_after_leaving, read_outcome
from tests.servers import SmtpSink, free_port, smtp_server
from tests.service_cluster import deployment, process, wait_for
from tests.test_end_to_end import parse

pytestmark = pytest.mark.integration

READERS = 1_500
BATCH = 50  # many batches, so that the unsubscribes fall between the reading of two
# A batch is read just before its first copy goes: a copy whose batch began to go later than
# this after its reader's unsubscribe was answered came from a batch read after the answer.
SLACK = 1.0
FORM_TOKEN = re.compile(r'name="form_token"\s+value="([^"]+)"')
CONFIRM_LINK = re.compile(r"/confirm/([A-Za-z0-9_.\-]+)")

# Many batches, so that the unsubscribes fall between the reading of two; no limit on sign-ups
# from one client (the load's).
EXTRA = f"""
[worker]
batch_size = {BATCH}

[web]
signup_rate_per_client = "100000/hour"
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
    # (address, unsubscribe token), each used once, from the last: the readers of the last
    # batches, whose copies go last
    tokens: list[tuple[str, str]]
    unsubscribed: list[tuple[str, float]] = field(default_factory=list)  # answered 200
    signed_up: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _addresses: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def one_click(self, client: httpx.Client) -> None:
        with self.lock:
            reader, token = self.tokens.pop() if self.tokens else ("", "")
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


def pages_answer(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def confirm_token(data: bytes) -> str:
    """The token of the link of a confirmation mail."""
    body = parse(data).get_body(("plain",))
    assert body is not None
    found = CONFIRM_LINK.search(body.get_content())
    assert found is not None
    return found.group(1)


def seed(config: Path, environment: dict[str, str]) -> list[tuple[str, str]]:
    """The list's file imported, as `digest run` would; each reader's unsubscribe token."""
    settings = load_settings(config, environment)
    services = build_services(settings, clock=SystemClock())
    try:
        import_list_files(settings, services.store, services.address_key, SystemClock().now())
        return [
            (member.email.lower(), services.signer.unsubscribe_token(member.id, "daily"))
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
    database_url = f"sqlite:///{tmp_path / 'digest.db'}"
    base = f"http://127.0.0.1:{free_port()}"
    sink = TimedSink("127.0.0.1", free_port())
    with (
        smtp_server(sink),
        deployment(tmp_path, database_url, None, sink, READERS, extra=EXTRA) as (service),
    ):
        tokens = seed(service.config, service.env)
        load = Load(base, tokens[-READERS // 3 :])
        logs = {name: tmp_path / f"{name}.log" for name in ("serve", "run", "poll")}
        port = base.rsplit(":", 1)[1]
        with process([*service.digest, "serve", "--port", port], service.env, logs["serve"]) as (
            server
        ):
            wait_for(lambda: pages_answer(base) or server.poll() is not None, "digest serve")
            with (
                process([*service.digest, "run", "--once", "--list", "daily"], service.env,
                        logs["run"]) as run,
                process([*service.digest, "poll"], service.env, logs["poll"]) as poll,
            ):  # fmt: skip
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

    outcome = read_outcome(database_url, "daily")
    status = outcome.status
    copies: dict[str, list[float]] = {}
    for mail, came in zip(sink.received, sink.times, strict=True):
        if mail.rcpt_tos[0] not in confirming:  # a copy of the edition
            copies.setdefault(mail.rcpt_tos[0].lower(), []).append(came)
    assert all(status[email] == "unsubscribed" for email, _ in load.unsubscribed)
    assert all(status[email] == "confirmed" for email in load.confirmed)
    assert [email for email, times in copies.items() if len(times) > 1] == []
    still_members = [email for email in outcome.queued if status[email] == "confirmed"]
    assert [email for email in still_members if email not in copies] == []
    gaps = copies_after_leaving(load.unsubscribed, outcome.queued, copies, BATCH)
    assert [(email, gap) for email, gap in gaps if gap > SLACK] == []
    assert set(outcome.ledger) == {"sent", "skipped"}  # some left while it went
