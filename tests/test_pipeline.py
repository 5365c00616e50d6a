"""The pipeline on a fixed clock: windows across editions, rebuilds, crash resume, unsubscribes."""

from __future__ import annotations

import asyncio
import email
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from aiosmtpd.smtp import Envelope
from sqlalchemy import select

from digest import pipeline
from digest.clock import FixedClock
from digest.config import Settings, SmtpSettings, settings_from_mapping
from digest.mail.transport import MemoryTransport, OutboxTransport
from digest.records import OutgoingMessage
from digest.sample_server import serve_folder
from digest.services import Services, build_services
from digest.store.schema import DeliveryRow, SubscriberRow
from tests.configs import service_table
from tests.members import numbered_readers
from tests.servers import SmtpSink, free_port, smtp_server

DAY1 = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)  # 07:30 in Dubai, just after the 07:00 slot
SLOT1 = datetime(2026, 11, 24, 3, tzinfo=UTC)  # 07:00 in Dubai


def write_feed(folder: Path, stories: list[tuple[int, str, datetime]]) -> None:
    items = "".join(
        f"""<item><title>{escape(title)}</title>
        <link>https://wire.example.org/story/{number}</link>
        <guid>urn:wire:{number}</guid><author>desk@wire.example.org (Desk {number % 3})</author>
        <description>{escape(title)}. More on this story as it develops.</description>
        <pubDate>{format_datetime(published)}</pubDate></item>"""
        for number, title, published in stories
    )
    (folder / "wire.xml").write_text(
        f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
        <title>Wire</title><link>https://wire.example.org/</link>{items}</channel></rss>""",
        encoding="utf-8",
    )


@pytest.fixture
def feeds(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [])
    with serve_folder(folder) as base_url:
        yield folder, base_url


def sending_to(sink: SmtpSink, settings: Settings, **smtp: Any) -> Settings:
    """``settings`` mailing to ``sink`` on loopback without TLS, with the ``smtp`` settings
    given (connections among them)."""
    return settings.model_copy(
        update={"smtp": SmtpSettings(host=sink.host, port=sink.port, tls="none", **smtp)}
    )


def build_without_sending(services: Services, slug: str) -> pipeline.BuildOutcome:
    """The feed polled and the list's edition of SLOT1 built, its copies left pending."""
    [feed] = services.store.sync_feeds(services.settings.feeds, services.clock.now())
    pipeline.poll_feed(services, feed.id)
    return pipeline.build_edition(services, slug, SLOT1)


def make_settings(tmp_path: Path, base_url: str, **list_options: object) -> Settings:
    (tmp_path / "members.csv").write_text(
        "email,name\nsam@example.org,Sam\nrana@example.org,Rana\nli@example.org,\n"
    )
    raw = {
        "service": service_table(tmp_path),
        "ingest": {"allow_private_addresses": True},
        "feeds": [{"name": "Wire", "url": f"{base_url}/wire.xml"}],
        "topics": [
            {"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Gulf"]}},
            {
                "slug": "iran",
                "name": "Iran",
                "parent": "middle-east",
                "rules": {"include": ["Iran"]},
            },
        ],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily Brief",
                "topics": ["middle-east", "iran"],
                "schedule": "0 7 * * *",
                "timezone": "Asia/Dubai",
                "subscribers": "members.csv",
                **list_options,
            }
        ],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


class CrashingTransport(MemoryTransport):
    """Takes ``accept`` messages, then hands over one more and 'crashes' before it is recorded."""

    def __init__(self, accept: int) -> None:
        super().__init__()
        self.accept = accept

    def send(self, message: OutgoingMessage) -> None:
        super().send(message)
        if len(self.sent) > self.accept:
            raise SystemExit("worker killed")


def services_for(
    settings: Settings, clock: FixedClock, transport: MemoryTransport | None = None
) -> Services:
    return build_services(settings, clock=clock, transport=transport or MemoryTransport())


def run(services: Services) -> pipeline.CycleSummary:
    return pipeline.run_cycle(services, pipeline.InlineDispatcher(services))


def titles(message: OutgoingMessage) -> set[str]:
    parsed = email.message_from_bytes(message.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return {title for title in ALL_TITLES if title in text}


ALL_TITLES = [f"Iran story {n}" for n in range(1, 6)]


def test_each_edition_starts_where_the_last_ended(tmp_path: Path, feeds: tuple[Path, str]) -> None:
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    services = services_for(make_settings(tmp_path, base_url), clock, transport)
    write_feed(folder, [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2, 3)])

    first = run(services)
    assert (first.new_articles, first.editions_built, first.messages_delivered) == (3, 1, 3)
    day1_edition = services.store.latest_edition("daily")
    assert day1_edition is not None and day1_edition.window_start is None

    # Two more stories arrive during the day; one old one is updated in place.
    clock.advance(timedelta(hours=6))
    write_feed(
        folder,
        [(1, "Iran story 1", DAY1 - timedelta(hours=1))]
        + [(n, f"Iran story {n}", clock.now() - timedelta(hours=1)) for n in (4, 5)],
    )
    assert run(services).editions_built == 0  # not due until tomorrow's slot
    clock.set(DAY1 + timedelta(days=1))
    second = run(services)
    assert (second.editions_built, second.messages_delivered) == (1, 3)
    day2_edition = services.store.latest_edition("daily")
    assert day2_edition is not None and day2_edition.window_start == day1_edition.window_end

    day1 = {a.id for a in services.store.edition_articles(day1_edition.id)}
    day2 = {a.id for a in services.store.edition_articles(day2_edition.id)}
    assert len(day1) == 3 and len(day2) == 2 and not day1 & day2
    assert day1 | day2 == set(services.store.all_article_ids())  # none missed
    services.close()


def test_building_a_slot_again_yields_the_same_edition(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    services = services_for(make_settings(tmp_path, base_url), clock)
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    run(services)
    state = services.store.latest_edition("daily")
    assert state is not None
    edition = services.store.load_edition(state.id)
    clock.advance(timedelta(minutes=20))
    again = pipeline.build_edition(services, "daily", state.slot)
    assert again.edition_id == state.id and not again.built
    assert services.store.load_edition(state.id) == edition
    services.close()


def test_a_schedule_moved_earlier_does_not_send_the_last_editions_news_again(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    # The list moves from Dubai to New York: at 05:30 UTC its latest slot is yesterday's 07:00
    # in New York, older than the edition sent two hours before. Built, that slot's window
    # started before it, and the readers got that morning's stories a second time.
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    services = services_for(make_settings(tmp_path, base_url), clock, transport)
    write_feed(folder, [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2, 3)])
    assert run(services).messages_delivered == 3
    services.close()

    moved = make_settings(tmp_path, base_url, timezone="America/New_York")
    services = services_for(moved, clock, transport)
    clock.advance(timedelta(hours=2))
    assert pipeline.due_editions(services, clock.now()) == []
    # Asked for by hand, it is an extra edition of this minute, after the last one.
    assert pipeline.forced_slot(services, "daily", clock.now()) == clock.now().replace(second=0)
    assert run(services).editions_built == 0
    assert len(transport.sent) == 3

    # At 07:00 in New York, the next edition holds only what came in since.
    write_feed(
        folder,
        [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2, 3)]
        + [(4, "Iran story 4", DAY1 + timedelta(hours=3))],
    )
    clock.set(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    assert run(services).messages_delivered == 3
    assert {title for message in transport.sent[3:] for title in titles(message)} == {
        "Iran story 4"
    }
    services.close()


def test_a_crash_mid_send_resumes_and_only_the_message_in_flight_goes_twice(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    settings = make_settings(tmp_path, base_url)
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    crashing = CrashingTransport(accept=1)
    services = services_for(settings, clock, crashing)
    with pytest.raises(SystemExit):
        run(services)
    services.close()
    # The first message was recorded as sent; the second reached the server but not the ledger.
    assert len(crashing.sent) == 2

    resumed = MemoryTransport()
    services = services_for(settings, clock, resumed)
    summary = run(services)
    assert summary.editions_built == 0 and summary.messages_delivered == 2
    first_ids = [m.message_id for m in crashing.sent]
    resumed_ids = [m.message_id for m in resumed.sent]
    assert first_ids[1] in resumed_ids  # the in-flight message goes again, with the same id
    assert first_ids[0] not in resumed_ids
    recipients = [m.recipient for m in crashing.sent[:1] + resumed.sent]
    assert sorted(recipients) == ["li@example.org", "rana@example.org", "sam@example.org"]
    services.close()


def test_who_unsubscribed_before_the_send_gets_nothing(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    services = services_for(make_settings(tmp_path, base_url), clock, transport)
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    # Poll and build, but stop before delivering: a batch still queued when the reader opts out.
    built = build_without_sending(services, "daily")
    assert built.pending_deliveries == 3
    rana = next(s for s in services.store.active_subscribers("daily") if s.name == "Rana")
    token = services.signer.unsubscribe_token(rana.id, "daily")
    subscriber_id, list_slug = services.signer.read_unsubscribe_token(token)
    assert services.store.unsubscribe(subscriber_id, list_slug, clock.now())

    pending = services.store.pending_deliveries(built.edition_id)
    outcome = pipeline.deliver_batch(services, built.edition_id, pending)
    assert (outcome.sent, outcome.skipped) == (2, 1)
    assert "rana@example.org" not in {m.recipient for m in transport.sent}
    services.close()


@pytest.mark.parametrize("send_when_empty", [False, True])
def test_an_empty_edition_is_sent_only_when_the_list_says_so(
    tmp_path: Path, feeds: tuple[Path, str], send_when_empty: bool
) -> None:
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    settings = make_settings(tmp_path, base_url, send_when_empty=send_when_empty)
    services = services_for(settings, clock, transport)
    write_feed(folder, [(1, "Cricket final goes to a super over", DAY1 - timedelta(hours=1))])
    summary = run(services)
    assert summary.new_articles == 1
    assert len(transport.sent) == (3 if send_when_empty else 0)
    assert summary.editions_skipped == (0 if send_when_empty else 1)
    assert run(services).messages_delivered == 0  # the slot is done either way
    services.close()


def test_the_celery_tasks_run_in_process_in_the_embedded_mode(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    from worker import runtime
    from worker.app import app
    from worker.dispatch import CeleryDispatcher

    folder, base_url = feeds
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    settings = make_settings(tmp_path, base_url)
    services = services_for(settings, clock, transport)
    runtime.configure(settings, services)
    write_feed(folder, [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2)])
    try:
        summary = pipeline.run_cycle(services, CeleryDispatcher(app))
    finally:
        runtime.configure(settings, None)
    assert app.conf.task_always_eager
    assert {"digest.poll_feed", "digest.build_edition", "digest.deliver_batch"} <= set(app.tasks)
    assert (summary.new_articles, summary.messages_delivered) == (2, 3)
    assert all(titles(message) == {"Iran story 1", "Iran story 2"} for message in transport.sent)
    services.close()


def test_the_dispatcher_binds_every_task_before_threads_use_them() -> None:
    # A fresh interpreter: in this one, earlier tests have bound the tasks already. Threads
    # released at once, as the in-process poll's pool does, each look at the task's request
    # stack: a half-bound task has none, and its eager run fails.
    script = """
import threading
from worker.app import app
from worker.dispatch import CeleryDispatcher
from worker import tasks
CeleryDispatcher(app)
start = threading.Barrier(8)
stacks = []
def look():
    start.wait()
    stacks.append(tasks.poll_feed.request_stack)
threads = [threading.Thread(target=look) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sum(stack is None for stack in stacks))
"""
    looked = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert looked.stdout.strip() == "0", looked.stdout + looked.stderr


def test_each_services_sends_its_own_edition_though_edition_ids_repeat(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    # Edition ids are unique within one database only. Each round here starts on an empty
    # database (as after an operator resets it) with the same settings, so every round has an
    # edition 1: what one round compiled must never reach the next round's readers.
    folder, base_url = feeds
    settings = make_settings(tmp_path, base_url)
    database = tmp_path / "digest.db"
    for number in (1, 2, 3):
        database.unlink(missing_ok=True)
        transport = MemoryTransport()
        services = services_for(settings, FixedClock(DAY1), transport)
        write_feed(folder, [(number, f"Iran story {number}", DAY1 - timedelta(hours=1))])
        assert run(services).messages_delivered == 3
        assert all(titles(message) == {f"Iran story {number}"} for message in transport.sent)
        services.close()


class KilledAfter(OutboxTransport):
    """Writes messages to a folder (the server took them), then kills its process outright
    after ``accept`` messages: no exception unwinds, no ``finally`` runs."""

    def __init__(self, folder: Path, accept: int) -> None:
        super().__init__(folder, fsync=False)
        self.accept = accept
        self.count = 0

    def send(self, message: OutgoingMessage) -> None:
        super().send(message)
        self.count += 1
        if self.count == self.accept:
            os._exit(1)


def _deliver_until_killed(settings: Settings, folder: Path) -> None:
    services = services_for(settings, FixedClock(DAY1), KilledAfter(folder, accept=2))
    run(services)


def test_a_process_killed_mid_batch_resends_only_that_batchs_messages_with_the_same_ids(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    # Marking is one UPDATE per batch: a process killed outright loses the marks of the batch
    # in flight, so the messages of that batch the server took go again, with the same ids.
    folder, base_url = feeds
    settings = make_settings(tmp_path, base_url)
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    child = multiprocessing.get_context("fork").Process(
        target=_deliver_until_killed, args=(settings, tmp_path / "killed")
    )
    child.start()
    child.join(60)
    assert child.exitcode == 1
    taken = {
        parse_message(path.read_bytes())["Message-ID"]: path
        for path in (tmp_path / "killed").glob("*.eml")
    }
    assert len(taken) == 2

    resumed = MemoryTransport()
    services = services_for(settings, FixedClock(DAY1), resumed)
    summary = run(services)
    assert summary.editions_built == 0 and summary.messages_delivered == 3
    resent = {message.message_id for message in resumed.sent}
    assert set(taken) <= resent, "what the server took but the ledger missed goes again, same id"
    assert len(resent) == 3
    counts = services.store.delivery_counts(services.store.editions_with_pending_deliveries() or 1)
    assert counts.pending == 0 and counts.sent == 3
    services.close()


class PeerSink(SmtpSink):
    """Notes which connection (client port) brought each message, and holds the first messages
    until a second connection shows up (10 s at most): one sender alone would fail the test."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.peers: list[object] = []

    async def handle_DATA(self, server: object, session: Any, envelope: Envelope) -> str:
        self.peers.append(session.peer)
        for _ in range(1000):
            if len(set(self.peers)) >= 2:
                break
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_an_edition_goes_out_over_several_smtp_connections(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    with smtp_server(PeerSink("127.0.0.1", free_port())) as sink:
        settings = sending_to(sink, make_settings(tmp_path, base_url), connections=2)
        (tmp_path / "members.csv").write_text(numbered_readers(23))
        clock = FixedClock(DAY1)
        services = build_services(settings, clock=clock)
        try:
            write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
            built = build_without_sending(services, "daily")
            ledger = services.store.pending_delivery_batches(built.edition_id, 5)
            outcomes = list(pipeline.InlineDispatcher(services).deliver(built.edition_id, ledger))
        finally:
            services.close()
    assert [outcome.sent for outcome in outcomes] == [5, 5, 5, 5, 3]
    recipients = sorted(r for mail in sink.received for r in mail.rcpt_tos)
    assert recipients == sorted(f"reader{n}@example.org" for n in range(23))
    assert len(set(sink.peers)) == 2, "two processes, one connection each"
    ids = {parse_message(mail.data)["Message-ID"] for mail in sink.received}
    assert len(ids) == 23
    counts = build_services(settings, clock=clock).store.delivery_counts(built.edition_id)
    assert (counts.pending, counts.sent) == (0, 23)


class PipeliningSink(SmtpSink):
    """Offers PIPELINING (aiosmtpd reads pipelined commands in order) and refuses one address."""

    def __init__(self, host: str, port: int, refused: str) -> None:
        super().__init__(host, port)
        self.refused = refused

    async def handle_EHLO(
        self, server: object, session: Any, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: object, session: object, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_pipelined_batch_marks_what_the_server_took_with_its_message_ids(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    sink = PipeliningSink("127.0.0.1", free_port(), refused="reader3@example.org")
    with smtp_server(sink):
        settings = sending_to(sink, make_settings(tmp_path, base_url), connections=1)
        (tmp_path / "members.csv").write_text(numbered_readers(8))
        services = build_services(settings, clock=FixedClock(DAY1))
        try:
            write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
            built = build_without_sending(services, "daily")
            pending = services.store.pending_deliveries(built.edition_id)
            outcome = pipeline.deliver_batch(services, built.edition_id, pending)
            with services.store.transaction() as session:
                ledger = {
                    email: (status, message_id)
                    for email, status, message_id in session.execute(
                        select(
                            SubscriberRow.email, DeliveryRow.status, DeliveryRow.message_id
                        ).join(DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id)
                    )
                }
        finally:
            services.close()
    assert (outcome.sent, outcome.failed) == (7, 1)
    assert "550 5.1.1" in outcome.errors[0]
    taken = {mail.rcpt_tos[0]: parse_message(mail.data)["Message-ID"] for mail in sink.received}
    assert len(taken) == 7 and "reader3@example.org" not in taken
    assert ledger.pop("reader3@example.org") == ("failed", None)
    assert ledger == {address: ("sent", message_id) for address, message_id in taken.items()}


def parse_message(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_an_outbox_that_takes_no_message_is_said_once_and_leaves_every_copy_pending(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    # Each copy failed on its own: one problem a reader, an attempt counted on every delivery
    # (failed for good after smtp.max_retries cycles), for a folder that could take nothing.
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    (tmp_path / "blocked").write_text("a file where the outbox's folder goes", encoding="utf-8")
    outbox = tmp_path / "blocked/outbox"
    settings = make_settings(tmp_path, base_url)
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    services = build_services(settings, clock=clock, transport=OutboxTransport(outbox))
    summary = run(services)
    # The rest of the cycle went on: the feed polled, the edition built.
    assert (summary.feeds_polled, summary.new_articles, summary.editions_built) == (1, 1, 1)
    assert (summary.messages_delivered, summary.messages_failed) == (0, 0)
    assert summary.messages_retrying == 0
    assert summary.problems == (
        f"service.outbox: cannot write to {outbox}: it is not a folder (Not a directory); move "
        "the file in its place away; the deliveries stay pending and go once it can be written "
        "(make it writable, free room on its disk, or point service.outbox or DIGEST_OUTBOX "
        "elsewhere)",
    )
    with services.store.engine.connect() as connection:
        rows = connection.execute(select(DeliveryRow.status, DeliveryRow.attempts)).all()
    assert sorted(tuple(row) for row in rows) == [("pending", 0)] * 3
    # The folder mended, the next cycle sends every copy.
    (tmp_path / "blocked").unlink()
    assert run(services).messages_delivered == 3
    assert len(list(outbox.glob("*.eml"))) == 3
    services.close()
