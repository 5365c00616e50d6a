"""The inbound receiver over SMTP and LMTP: bounces, complaints and mailto unsubscribes sent with
smtplib to a real aiosmtpd server, and the next edition skipping those readers."""

from __future__ import annotations

import logging
import smtplib
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import pipeline
from digest.clock import FixedClock
from digest.errors import ListenError
from digest.inbound.events import InboundEvent, event_id
from digest.inbound.server import InboundServer
from digest.inbound.take import take_events
from digest.mail.tokens import TokenSigner
from digest.mail.transport import MemoryTransport
from digest.privacy import export_person, forget
from digest.services import Services, build_services
from digest.shown import database_shown
from tests import inbound_mail
from tests.servers import free_port, postgres_cluster
from tests.test_lists import a_list, raw_config, settings_of
from tests.test_pipeline import DAY1, write_feed

pytestmark = pytest.mark.integration

DAILY = (
    "email,name\nsam@example.org,Sam\nrana@example.org,Rana\nli@example.org,Li\n"
    "omar@example.org,Omar\n"
)
WEEKLY = "email,name\nsam@example.org,Sam\nnoor@example.org,Noor\n"


def suppression_reason(services: Services, email: str) -> str | None:
    """Why ``email`` is suppressed for every list, in the database; None when it is not."""
    found = services.store.suppression(services.address_key(email))
    return found.reason if found is not None else None


def left(services: Services, email: str) -> set[str]:
    """The lists ``email`` is unsubscribed from."""
    return {
        membership.list_slug
        for membership in services.store.memberships()
        if membership.email == email and membership.status == "unsubscribed"
    }


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    from digest.sample_server import serve_folder

    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    with serve_folder(folder) as base_url:
        yield folder, base_url


def config(tmp_path: Path, base_url: str, **inbound: Any) -> dict[str, Any]:
    (tmp_path / "members.csv").write_text(DAILY)
    (tmp_path / "weekly.csv").write_text(WEEKLY)
    raw = raw_config(
        tmp_path, base_url, a_list("daily", "members.csv"), a_list("weekly", "weekly.csv")
    )
    raw["bounces"] = {"enabled": True, "soft_limit": 2}
    raw["inbound"] = {"port": free_port(), **inbound}
    return raw


@contextmanager
def built(
    tmp_path: Path,
    base_url: str,
    *,
    first_editions: bool = False,
    database_url: str | None = None,
    **inbound: Any,
) -> Iterator[tuple[Services, MemoryTransport]]:
    """The services of :func:`config` on the first day (on ``database_url``, else SQLite), mail
    kept in memory, closed after the block; with ``first_editions``, the first cycle run (the
    editions sent, VERP on)."""
    raw = config(tmp_path, base_url, **inbound)
    if database_url is not None:
        raw["service"]["database_url"] = database_url
    settings = settings_of(tmp_path, raw)
    transport = MemoryTransport()
    services = build_services(settings, clock=FixedClock(DAY1), transport=transport)
    try:
        if first_editions:
            pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        yield services, transport
    finally:
        services.close()


@contextmanager
def listening(server: InboundServer) -> Iterator[InboundServer]:
    """``server`` started for the block, and stopped after it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def until_let_in(attempt: Callable[[], None]) -> None:
    """``attempt`` again until the receiver lets it in: a client that left frees its place only
    once the server has seen the close."""
    deadline = time.monotonic() + 10
    while True:
        try:
            attempt()
            return
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected):
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.fixture
def sent(
    tmp_path: Path, feed: tuple[Path, str]
) -> Iterator[tuple[Services, MemoryTransport, InboundServer]]:
    """The first editions sent (VERP on), and the receiver listening."""
    with (
        built(tmp_path, feed[1], first_editions=True) as (services, transport),
        listening(InboundServer.from_settings(services)) as server,
    ):
        yield services, transport, server


def return_path(transport: MemoryTransport, email: str, list_name: str = "Daily") -> str:
    for message in transport.sent:
        if message.recipient == email and f"The {list_name} Brief".encode() in message.data:
            return message.sender
    raise AssertionError(f"nothing was sent to {email}")


@contextmanager
def null_sender_session(server: InboundServer) -> Iterator[smtplib.SMTP]:
    """An SMTP session with the receiver, greeted and from the null sender, as a bounce
    comes; the recipients are the block's to name."""
    with smtplib.SMTP(server.host, server.port, timeout=30) as client:
        client.ehlo()
        client.mail("")
        yield client


def send(server: InboundServer, to: str, data: bytes, mail_from: str = "") -> None:
    with smtplib.SMTP(server.host, server.port, timeout=30) as client:
        client.sendmail(mail_from, [to], data)


def next_day(services: Services, transport: MemoryTransport, folder: Path) -> list[str]:
    transport.sent.clear()
    assert isinstance(services.clock, FixedClock)
    services.clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(2, "Iran story 2", services.clock.now() - timedelta(minutes=5))])
    pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
    return sorted(message.recipient for message in transport.sent)


def test_a_bounce_a_complaint_and_a_mailto_stop_the_next_editions(
    sent: tuple[Services, MemoryTransport, InboundServer], feed: tuple[Path, str]
) -> None:
    services, transport, server = sent
    verp = {
        email: return_path(transport, email) for email in ("sam@example.org", "rana@example.org")
    }
    assert all(address.startswith("bounces+") for address in verp.values())
    li = next(s for s in services.store.active_subscribers("daily") if s.email == "li@example.org")
    token = services.signer.unsubscribe_token(li.id, "daily")

    # Rana's server bounces her copy, twice (a retried notification): taken once.
    bounce = inbound_mail.dsn(to=verp["rana@example.org"])
    send(server, verp["rana@example.org"], bounce)
    send(server, verp["rana@example.org"], bounce)
    # Sam complains to his provider, whose feedback loop sends the report to the bounce address.
    original = inbound_mail.returned_headers(return_path=verp["sam@example.org"])
    send(
        server, "bounces@example.org", inbound_mail.arf(to="bounces@example.org", original=original)
    )
    # Li's mail program sends the mailto unsubscribe.
    unsubscribe = inbound_mail.mailto(to="unsubscribe@example.org", subject=f"unsubscribe-{token}")
    send(server, "unsubscribe@example.org", unsubscribe, mail_from="li@example.org")
    # A forged bounce for Omar: a well-formed token, not signed with our secret.
    edition_id, _ = services.signer.read_delivery_token(verp["rana@example.org"][8:].split("@")[0])
    omar = next(s for s in services.store.active_subscribers("daily") if s.name == "Omar")
    token_of_another = TokenSigner("not-our-secret-0123").delivery_token(edition_id, omar.id)
    forged = f"bounces+{token_of_another}@example.org"
    send(server, forged, inbound_mail.dsn(to=forged))

    kinds = sorted((kind, email) for _, kind, email, _ in services.store.inbound_events())
    assert kinds == [
        ("complaint", "sam@example.org"),
        ("hard-bounce", "rana@example.org"),
        ("unsubscribe", "li@example.org"),
    ]
    # In the database, which holds the readers; the suppression file gets them at the next cycle.
    assert suppression_reason(services, "rana@example.org") == "hard-bounce"  # once, as a key
    assert suppression_reason(services, "sam@example.org") == "complaint"
    assert left(services, "sam@example.org") == {"daily", "weekly"}  # a complaint: every list
    assert suppression_reason(services, "li@example.org") is None
    assert left(services, "li@example.org") == {"daily"}  # the list its mailto token names
    assert suppression_reason(services, "omar@example.org") is None  # the forged bounce

    folder, _ = feed
    assert next_day(services, transport, folder) == ["noor@example.org", "omar@example.org"]


def test_other_recipients_are_refused_and_oversized_mail_too(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    services, _, server = sent
    with null_sender_session(server) as client:
        code, _ = client.rcpt("desk@example.org")
        assert code == 550
        code, _ = client.rcpt("bounces@elsewhere.example")
        assert code == 550
        client.rset()
        big = b"Subject: x\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2100  # over 2,000,000 bytes
        # Declared (SIZE), it is refused before it is sent; undeclared, once it passes the bound.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("", ["unsubscribe@example.org"], big)
        assert refused.value.smtp_code == 552
        client.mail("")
        client.rcpt("unsubscribe@example.org")
        code, _ = client.data(big)
        assert code == 552
    assert services.store.inbound_events() == []


def test_soft_bounces_suppress_after_the_limit_within_the_window(
    sent: tuple[Services, MemoryTransport, InboundServer], feed: tuple[Path, str]
) -> None:
    services, transport, server = sent
    daily = return_path(transport, "omar@example.org")
    expired = inbound_mail.dsn(to=daily, status="4.4.7", diagnostic="delivery time expired")
    send(server, daily, expired)
    send(server, daily, expired)  # the same copy reported again: still one
    assert suppression_reason(services, "omar@example.org") is None
    folder, _ = feed
    assert "omar@example.org" in next_day(services, transport, folder)
    # The next day's copy soft-bounces too: two copies, soft_limit 2.
    again = return_path(transport, "omar@example.org")
    assert again != daily
    send(server, again, inbound_mail.dsn(to=again, status="4.2.2", diagnostic="mailbox full"))
    assert suppression_reason(services, "omar@example.org") == "hard-bounce"
    outcomes = [outcome for _, _, email, outcome in services.store.inbound_events()]
    assert outcomes[-1].startswith("suppressed after 2 soft bounces in 30 days")


def test_lmtp_answers_once_per_recipient(tmp_path: Path, feed: tuple[Path, str]) -> None:
    with (
        built(tmp_path, feed[1], first_editions=True, lmtp=True) as (services, transport),
        listening(InboundServer.from_settings(services)) as server,
    ):
        rana, sam = (return_path(transport, e) for e in ("rana@example.org", "sam@example.org"))
        with smtplib.LMTP(server.host, server.port, timeout=30) as client:
            client.ehlo()  # LHLO, in smtplib's LMTP
            client.mail("")
            assert client.rcpt(rana)[0] == 250 and client.rcpt(sam)[0] == 250
            assert client.rcpt("desk@example.org")[0] == 550
            # smtplib reads one reply after DATA; LMTP gives one per accepted recipient.
            assert client.data(inbound_mail.dsn(to=rana))[0] == 250
            assert client.getreply()[0] == 250
        assert [kind for _, kind, _, _ in services.store.inbound_events()] == ["hard-bounce"]


def test_a_store_that_fails_asks_the_sending_server_to_try_again(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    services, transport, server = sent
    verp = return_path(transport, "rana@example.org")
    with services.store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE inbound_events RENAME TO gone")
    with pytest.raises(smtplib.SMTPDataError) as later:
        send(server, verp, inbound_mail.dsn(to=verp))
    assert later.value.smtp_code == 451
    with services.store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE gone RENAME TO inbound_events")
    send(server, verp, inbound_mail.dsn(to=verp))  # the server's retry is taken
    assert [kind for _, kind, _, _ in services.store.inbound_events()] == ["hard-bounce"]


def test_the_database_down_is_said_in_one_line_and_the_senders_retry_is_taken(
    tmp_path: Path, feed: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL stopped: the receiver rightly answered 451, and logged psycopg's and
    # SQLAlchemy's whole traceback, as for a bug, for every message the sending servers tried.
    with (
        postgres_cluster() as database,
        built(tmp_path, feed[1], first_editions=True, database_url=database.url) as (
            services,
            transport,
        ),
        listening(InboundServer.from_settings(services)) as server,
    ):
        verp = return_path(transport, "rana@example.org")
        database.stop()
        caplog.clear()
        with (
            caplog.at_level(logging.INFO, logger="digest.inbound"),
            pytest.raises(smtplib.SMTPDataError) as later,
        ):
            send(server, verp, inbound_mail.dsn(to=verp))
        database.start()
        send(server, verp, inbound_mail.dsn(to=verp))  # the sending server's retry
        reason = suppression_reason(services, "rana@example.org")
    assert later.value.smtp_code == 451
    [record] = [r for r in caplog.records if r.name.startswith("digest.inbound")]
    said = record.getMessage()
    assert record.levelno == logging.WARNING and record.exc_info is None, said
    assert "\n" not in said and "Traceback" not in said, said
    assert said.startswith("inbound: a message from <> could not be recorded: "), said
    assert f"cannot open the database {database_shown(database.url)}: " in said, said
    assert said.endswith("; answered 451: the sending server tries again later"), said
    assert reason == "hard-bounce"


def test_a_hundred_recipients_at_most(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    _, _, server = sent
    with null_sender_session(server) as client:
        codes = [client.rcpt(f"bounces+{n}@example.org")[0] for n in range(101)]
    assert codes == [250] * 100 + [452]


def test_a_bounce_during_a_send_skips_the_copies_still_pending(
    sent: tuple[Services, MemoryTransport, InboundServer], feed: tuple[Path, str]
) -> None:
    services, transport, server = sent
    verp = return_path(transport, "rana@example.org")  # yesterday's copy
    transport.sent.clear()
    assert isinstance(services.clock, FixedClock)
    services.clock.set(DAY1 + timedelta(days=1))
    folder, _ = feed
    write_feed(folder, [(2, "Iran story 2", services.clock.now() - timedelta(minutes=5))])
    for state in services.store.sync_feeds(services.settings.feeds, services.clock.now()):
        pipeline.poll_feed(services, state.id)
    built = pipeline.build_edition(
        services, "daily", DAY1.replace(hour=3, minute=0) + timedelta(days=1)
    )
    assert built.pending_deliveries == 4  # queued, Rana's among them
    send(server, verp, inbound_mail.dsn(to=verp))
    pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
    daily = [m.recipient for m in transport.sent if b"The Daily Brief" in m.data]
    assert sorted(daily) == ["li@example.org", "omar@example.org", "sam@example.org"]
    assert services.store.delivery_counts(built.edition_id).skipped == 1


@pytest.mark.parametrize(("host", "why"), [("127.0.0.1", "in use"), ("192.0.2.1", "assign")])
def test_an_address_it_cannot_listen_on_is_said_at_once(
    tmp_path: Path, feed: tuple[Path, str], host: str, why: str
) -> None:
    # aiosmtpd bound in its thread and kept the failure until its 30 s ready_timeout was over:
    # `digest inbound` on a taken port (or a host not ours) sat silent that long.
    with built(tmp_path, feed[1]) as (services, _):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = InboundServer.from_settings(services, host=host, port=port)
            started = time.monotonic()
            with pytest.raises(ListenError) as refused:
                server.start()
            assert time.monotonic() - started < 5
        assert f"the inbound receiver on {host}:{port} (--port = {port})" in str(refused.value)
        assert why in refused.value.reason.lower()


def test_a_host_naming_several_addresses_is_listened_on_at_each(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    # As asyncio binds for aiosmtpd: "" is every IPv4 and every IPv6 address.
    port = free_port()
    with (
        built(tmp_path, feed[1]) as (services, _),
        listening(
            InboundServer(services, host="", port=port, lmtp=False, max_message_bytes=10_000)
        ),
    ):
        for address in ("127.0.0.1", "::1"):
            with smtplib.SMTP(address, port, timeout=30) as client:
                assert client.noop()[0] == 250


def test_forgetting_a_reader_erases_their_address_from_the_bounces_taken_in(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    services, transport, server = sent
    verp = return_path(transport, "rana@example.org")
    diagnostic = "smtp; 550 5.1.1 <rana@example.org>: Recipient address rejected"
    send(server, verp, inbound_mail.dsn(to=verp, diagnostic=diagnostic))
    assert suppression_reason(services, "rana@example.org") == "hard-bounce"
    # A provider names its events by their recipient.
    webhook = InboundEvent(
        kind="complaint",
        event_id=event_id("mailgun", "ev-1", "rana@example.org"),
        source="mailgun",
        email="rana@example.org",
        detail="Mailgun complained",
    )
    take_events(services, [webhook])

    forget(services.settings, services.store, services.address_key, "rana@example.org", DAY1)
    with services.store.engine.begin() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM inbound_events").all()
    assert len(rows) == 2  # still counted, about nobody
    assert not any("rana" in str(value).lower() for row in rows for value in row)


def test_a_bounce_or_complaint_about_a_forgotten_reader_records_nothing_about_them(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    services, transport, server = sent
    verp = return_path(transport, "rana@example.org")
    forget(services.settings, services.store, services.address_key, "rana@example.org", DAY1)
    # Her server bounces the copy sent before; her provider reports a complaint.
    send(server, verp, inbound_mail.dsn(to=verp))
    webhook = InboundEvent(
        kind="complaint",
        event_id=event_id("mailgun", "ev-2", "rana@example.org"),
        source="mailgun",
        email="rana@example.org",
    )
    [taken] = take_events(services, [webhook])
    assert not taken.applied
    assert services.store.inbound_events() == []
    assert suppression_reason(services, "rana@example.org") == "forgotten"
    assert [s.reason for s in services.store.suppressions()] == ["forgotten"]


def test_the_record_of_a_bounce_and_a_complaint_says_what_was_done(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    # A hard bounce suppresses the address and leaves its memberships as they are (lifting the
    # suppression gives the reader back their lists): "0 memberships ended" said nothing was.
    services, transport, server = sent
    rana, sam = (return_path(transport, e) for e in ("rana@example.org", "sam@example.org"))
    send(server, rana, inbound_mail.dsn(to=rana))
    original = inbound_mail.returned_headers(return_path=sam)
    send(
        server, "bounces@example.org", inbound_mail.arf(to="bounces@example.org", original=original)
    )
    outcomes = {email: outcome for _, _, email, outcome in services.store.inbound_events()}
    assert outcomes == {
        "rana@example.org": "suppressed for every list",
        "sam@example.org": "suppressed (2 memberships ended)",
    }


def test_a_soft_bounce_that_reaches_the_limit_suppresses_when_retried_after_a_failure(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    # The soft bounce is recorded (that is what counts it) before the suppression it brings:
    # when the store failed in between, the sending server's retry was dropped as a duplicate,
    # and the address went on being mailed past soft_limit.
    services, transport, server = sent
    daily, weekly = (
        return_path(transport, "sam@example.org", name) for name in ("Daily", "Weekly")
    )
    send(server, daily, inbound_mail.dsn(to=daily, status="4.2.2", diagnostic="mailbox full"))
    full = inbound_mail.dsn(to=weekly, status="4.2.2", diagnostic="mailbox full")
    with services.store.engine.begin() as connection:  # the store fails at the suppression
        connection.exec_driver_sql(
            "CREATE TRIGGER failing BEFORE INSERT ON suppressions "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    with pytest.raises(smtplib.SMTPDataError) as later:
        send(server, weekly, full)
    assert later.value.smtp_code == 451
    with services.store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER failing")
    send(server, weekly, full)  # the server's retry
    assert suppression_reason(services, "sam@example.org") == "hard-bounce"
    events = services.store.inbound_events()
    assert [kind for _, kind, email, _ in events if email == "sam@example.org"] == [
        "soft-bounce",
        "soft-bounce",
    ]  # still two copies, each counted once


def test_a_persons_export_holds_the_bounces_and_complaints_taken_in_about_them(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    # A subject access request answers with everything held on the person: a bounce's record
    # holds their address and the text of their server's refusal.
    services, transport, server = sent
    verp = return_path(transport, "rana@example.org")
    diagnostic = "smtp; 550 5.1.1 <rana@example.org>: Recipient address rejected"
    send(server, verp, inbound_mail.dsn(to=verp, diagnostic=diagnostic))
    held = export_person(services.store, services.address_key, "Rana@example.org")
    [bounce] = held["bounces_and_complaints"]
    assert (bounce["kind"], bounce["source"], bounce["outcome"]) == (
        "hard-bounce",
        "smtp",
        "suppressed for every list",
    )
    assert "Recipient address rejected" in bounce["detail"] and bounce["at"]
    assert (
        export_person(services.store, services.address_key, "li@example.org")[
            "bounces_and_complaints"
        ]
        == []
    )


def greeting(server: InboundServer) -> tuple[socket.socket, bytes]:
    """A raw connection to the receiver, and the first line it answered."""
    connection = socket.create_connection((server.host, server.port), timeout=30)
    return connection, connection.makefile("rb").readline()


def test_connections_over_the_limit_are_told_to_try_later_and_the_held_ones_still_serve(
    tmp_path: Path, feed: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        built(tmp_path, feed[1], first_editions=True, max_connections=3) as (services, transport),
        listening(InboundServer.from_settings(services)) as server,
    ):
        # Clients that connect and never speak: each held until the idle timeout.
        held = [greeting(server) for _ in range(3)]
        assert all(line.startswith(b"220 ") for _, line in held)
        for _ in range(5):
            refused, line = greeting(server)
            assert line.startswith(b"421 4.7.0 ")
            assert refused.recv(100) == b""  # and closed
            refused.close()
        # Said once while full, not once per refused client (a flood of them, of the log).
        said = [r.getMessage() for r in caplog.records if r.name == "digest.inbound.server"]
        assert said == ["inbound: 3 connections open: more are told to try later"]
        held.pop()[0].close()  # one leaves: its place is free again
        verp = return_path(transport, "rana@example.org")
        until_let_in(lambda: send(server, verp, inbound_mail.dsn(to=verp)))
        assert suppression_reason(services, "rana@example.org") == "hard-bounce"
        for connection, _ in held:
            connection.close()


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (b"Subject: x\r\n\r\n" + (b"x" * 998 + b"\r\n") * 12, 552),  # over 10,000 bytes
        (b"Subject: x\r\n\r\n" + b"x" * 2000 + b"\r\n", 500),  # a line over RFC 5321's 1000
    ],
)
def test_lmtp_refuses_mail_it_will_not_read_once_per_recipient(
    tmp_path: Path, feed: tuple[Path, str], data: bytes, refusal: int
) -> None:
    # RFC 2033: one reply per accepted recipient after DATA, refusals too. One reply for two
    # recipients left Postfix's LMTP client waiting for the second until its timeout, then
    # deferring the message to try it again, the same way, for days.
    with (
        built(tmp_path, feed[1]) as (services, _),
        listening(
            InboundServer(
                services, host="127.0.0.1", port=free_port(), lmtp=True, max_message_bytes=10_000
            )
        ) as server,
        smtplib.LMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo()
        client.mail("")
        assert client.rcpt("bounces@example.org")[0] == 250
        assert client.rcpt("unsubscribe@example.org")[0] == 250
        assert client.data(data)[0] == refusal
        assert client.getreply()[0] == refusal
        # And the session goes on, in step: the next command's reply is its own.
        assert client.noop()[0] == 250


def test_a_client_that_keeps_its_session_alive_is_closed_when_its_time_is_over(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    # The idle timeout restarts at each command: a NOOP every few minutes held a connection
    # (and with max_connections of them, the receiver) for ever.
    with (
        built(tmp_path, feed[1]) as (services, _),
        listening(
            InboundServer(
                services,
                host="127.0.0.1",
                port=free_port(),
                lmtp=False,
                max_message_bytes=10_000,
                max_connections=1,
                session_seconds=1.5,
            )
        ) as server,
    ):
        client = smtplib.SMTP(server.host, server.port, timeout=30)
        started = time.monotonic()
        ended: int | str = "never"
        while time.monotonic() - started < 20:
            try:
                code = client.noop()[0]
            except smtplib.SMTPServerDisconnected:  # the 421 lost to the close: still ended
                ended = "closed"
                break
            if code != 250:
                ended = code
                break
            time.sleep(0.2)
        assert ended in (421, "closed")
        assert 1.4 < time.monotonic() - started < 10
        client.close()

        # Its place is free for the next client.
        def next_client_served() -> None:
            with smtplib.SMTP(server.host, server.port, timeout=30) as next_client:
                assert next_client.noop()[0] == 250

        until_let_in(next_client_served)


def test_a_client_naming_address_after_address_is_closed_after_twenty_refusals(
    sent: tuple[Services, MemoryTransport, InboundServer],
) -> None:
    # Each refusal is a line of the log: thousands of them in one session made a flood of it.
    _, _, server = sent
    with null_sender_session(server) as client:
        codes = [client.rcpt(f"reader{n}@example.org")[0] for n in range(21)]
        assert codes == [550] * 20 + [421]
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    # A sending server, naming the one address it bounces to, is served as before.
    with null_sender_session(server) as client:
        assert client.rcpt("desk@example.org")[0] == 550
        assert client.rcpt("unsubscribe@example.org")[0] == 250


def test_a_bounce_quoting_a_nul_is_taken_in_postgresql_too(
    tmp_path: Path, feed: tuple[Path, str], database_url: str
) -> None:
    # A remote server's reply may hold any byte, a NUL among them, and a DSN quotes it in its
    # Diagnostic-Code. PostgreSQL's text holds no NUL: the record failed, the receiver answered
    # 451, and the sending server tried again, for days, the reader never suppressed.
    with (
        built(tmp_path, feed[1], first_editions=True, database_url=database_url) as (
            services,
            transport,
        ),
        listening(InboundServer.from_settings(services)) as server,
    ):
        verp = return_path(transport, "rana@example.org")
        diagnostic = "smtp; 550 5.1.1 <rana@example.org>: no such user\x00here"
        send(server, verp, inbound_mail.dsn(to=verp, diagnostic=diagnostic))
        li = next(s for s in services.store.active_subscribers("daily") if s.name == "Li")
        token = services.signer.unsubscribe_token(li.id, "daily")
        # A mail program's Message-ID, an encoded word in it decoding to a NUL.
        mailto = inbound_mail.mailto(
            to="unsubscribe@example.org",
            subject=f"unsubscribe-{token}",
            message_id="<=?utf-8?q?a=00b?=@mail.example.net>",
        )
        send(server, "unsubscribe@example.org", mailto, mail_from="li@example.org")
        assert suppression_reason(services, "rana@example.org") == "hard-bounce"
        assert left(services, "li@example.org") == {"daily"}
        events = services.store.inbound_events()
        assert sorted(kind for _, kind, _, _ in events) == ["hard-bounce", "unsubscribe"]


def test_a_readers_mail_ignored_is_logged_by_its_senders_domain_not_address(
    sent: tuple[Services, MemoryTransport, InboundServer], caplog: pytest.LogCaptureFixture
) -> None:
    # A reader who writes to the unsubscribe address (a reply, a token a mail program cut)
    # sends from their own address: the line of each such message ignored named it whole.
    caplog.set_level(logging.INFO, logger="digest.inbound.server")
    _services, _transport, server = sent
    unsubscribe = inbound_mail.mailto(to="unsubscribe@example.org", subject="unsubscribe-forged")
    send(server, "unsubscribe@example.org", unsubscribe, mail_from="li@example.org")
    said = [r.getMessage() for r in caplog.records if r.name == "digest.inbound.server"]
    [ignored] = [line for line in said if " ignored: " in line]
    assert ignored.startswith("inbound: a message from …@example.org ignored: "), ignored
    assert [line for line in said if "li@example.org" in line] == []
