"""Mail transports: the outbox folder, the in-memory fake, and SMTP against a loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, AnyStr

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from digest.config import SmtpSettings
from digest.errors import (
    ConfigError,
    DeliveryPermanentError,
    DeliveryTemporaryError,
    DeliveryUnknownError,
    OutboxUnavailableError,
)
from digest.mail.smtp import SILENT_IN_A_ROW, SmtpTransport
from digest.mail.transport import MemoryTransport, OutboxTransport, outbox_file_name
from digest.records import OutgoingMessage
from tests.certificates import key_pem, pem, self_signed
from tests.servers import free_port
from tests.smtp_faults import TRICKLED_STEPS, TricklingSink, on_free_port, trickling_server


def message(
    edition_id: int = 12,
    subscriber_id: int = 345,
    recipient: str = "sam@example.org",
    body: str = "Hello Sam,",
    *,
    ready: bool = False,
) -> OutgoingMessage:
    """A small message. ``ready``: already SMTP-ready, as personal copies are (no line starts
    with a dot), so the transport sends it as it is; otherwise smtplib dot-stuffs it."""
    message_id = f"<{edition_id}.{subscriber_id}.1a2b3c4d5e6f@example.org>"
    dot = "=2E" if ready else "."
    data = (
        "From: The Middle East Desk <briefing@example.org>\r\n"
        f"To: {recipient}\r\n"
        "Subject: The Middle East in your inbox\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "\r\n"
        f"{body}\r\n"
        f"{dot}A line that starts with a dot must survive SMTP transparency.\r\n"
        f"{dot}\r\n"
        "The end.\r\n"
    ).encode("ascii")
    return OutgoingMessage(
        sender="briefing@example.org",
        recipient=recipient,
        message_id=message_id,
        data=data,
        smtp_ready=ready,
    )


# ---------------------------------------------------------------------------------------------
# Outbox


def test_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "outbox"
    messages = [message(12, 345), message(12, 7, "rana@example.org"), message(9, 1000)]
    with OutboxTransport(folder) as outbox:
        for outgoing in messages:
            outbox.send(outgoing)
    files = sorted(folder.iterdir())
    assert [path.name for path in files] == [
        "000000000009.000000001000.1a2b3c4d5e6f@example.org.eml",
        "000000000012.000000000007.1a2b3c4d5e6f@example.org.eml",
        "000000000012.000000000345.1a2b3c4d5e6f@example.org.eml",
    ], "named by message id, sorted by edition then subscriber, no temporary files left"
    assert files[0].read_bytes() == messages[2].data
    assert files[1].read_bytes() == messages[1].data
    assert files[2].read_bytes() == messages[0].data


def test_outbox_resend_overwrites_rather_than_duplicates(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path, fsync=False)
    outbox.send(message(body="first attempt"))
    again = message(body="second attempt")
    outbox.send(again)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].read_bytes() == again.data
    assert outbox.path_for(again) == files[0]


def test_an_outbox_folder_taken_away_is_made_again_for_the_next_message(tmp_path: Path) -> None:
    # A reader of the outbox that takes the messages by renaming the whole folder: the
    # transport of a `digest run` lives from cycle to cycle, and made the folder at its first
    # message only, so every later copy failed with "No such file or directory".
    folder = tmp_path / "var" / "outbox"
    taken = tmp_path / "var" / "taken"
    with OutboxTransport(folder, fsync=False) as outbox:
        first, second = message(1, 1), message(2, 1)
        outbox.send(first)
        folder.rename(taken)
        outbox.send(second)
    assert [path.name for path in taken.iterdir()] == [outbox.path_for(first).name]
    assert [path.read_bytes() for path in folder.iterdir()] == [second.data]


@pytest.mark.parametrize("where", ["outbox", "outbox/inner"])
def test_a_file_in_the_outboxs_place_is_named_as_such(tmp_path: Path, where: str) -> None:
    (tmp_path / "outbox").write_text("a file where the folder should be", encoding="utf-8")
    folder = tmp_path / where
    with pytest.raises(OutboxUnavailableError) as caught:
        OutboxTransport(folder).send(message())
    assert str(caught.value).startswith(f"service.outbox: cannot write to {folder}: it is not a")
    assert "the deliveries stay pending" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.EROFS, "Read-only file system"),
        (errno.ENOSPC, "No space left on device"),
        (errno.EDQUOT, "Disk quota exceeded"),
        (errno.EACCES, "Permission denied"),
    ],
)
def test_an_outbox_that_can_take_no_message_stops_the_batch_not_one_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str
) -> None:
    # Each copy failed on its own, as if the reader's: every delivery counted an attempt, and
    # after smtp.max_retries of them was failed, while the folder was the whole of the fault.
    folder = tmp_path / "outbox"

    def refused(descriptor: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("digest.mail.transport.os.fsync", refused)
    outbox = OutboxTransport(folder)
    sent = outbox.send_many([message(1, 1), message(2, 1)])
    with pytest.raises(OutboxUnavailableError) as caught:
        next(sent)
    assert str(caught.value) == (
        f"service.outbox: cannot write to {folder}: {said}; the deliveries stay pending and go "
        "once it can be written (make it writable, free room on its disk, or point "
        "service.outbox or DIGEST_OUTBOX elsewhere)"
    )
    assert list(folder.iterdir()) == []  # no half message, no temporary file left


def test_an_outbox_error_of_one_file_is_that_copys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(descriptor: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr("digest.mail.transport.os.fsync", refused)
    with pytest.raises(DeliveryTemporaryError, match=r"service\.outbox") as caught:
        OutboxTransport(tmp_path / "outbox").send(message())
    assert caught.value.recipient == "sam@example.org"


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        ("<1.2.ab@example.org>", "000000000001.000000000002.ab@example.org.eml"),
        ("<../../etc/passwd@x>", "_.._.._etc_passwd@x.eml"),
        ("<.hidden@x>", "_.hidden@x.eml"),
        ('<a b\\c:d*e?f"g|h@x>', "a_b_c_d_e_f_g_h@x.eml"),
        ("<>", "_.eml"),
    ],
)
def test_outbox_file_names_are_safe(message_id: str, expected: str) -> None:
    assert outbox_file_name(message_id) == expected


def test_outbox_file_name_of_a_very_long_id_is_bounded_and_distinct() -> None:
    first = outbox_file_name("<" + "a" * 400 + "1@example.org>")
    second = outbox_file_name("<" + "a" * 400 + "2@example.org>")
    assert len(first) <= 255 and len(second) <= 255
    assert first != second


# ---------------------------------------------------------------------------------------------
# Memory


def test_memory_transport_keeps_messages_and_raises_configured_failures() -> None:
    refused = DeliveryPermanentError("gone@example.org", "550 no such user")
    with MemoryTransport() as memory:
        memory.failures["gone@example.org"] = refused
        memory.send(message())
        with pytest.raises(DeliveryPermanentError) as caught:
            memory.send(message(subscriber_id=2, recipient="gone@example.org"))
        assert caught.value is refused
        assert not memory.closed
    assert memory.closed
    assert [sent.recipient for sent in memory.sent] == ["sam@example.org"]


# ---------------------------------------------------------------------------------------------
# SMTP against aiosmtpd on loopback


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Records what the server accepted; replies can be scripted per command."""

    received: list[Received] = field(default_factory=list)
    mail_replies: list[str] = field(default_factory=list)  # consumed one per MAIL command
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_reply: str | None = None
    pipelining: bool = False  # aiosmtpd reads commands in order; this only advertises it
    mail_replies_at: dict[int, str] = field(default_factory=dict)  # MAIL number (1-) -> reply
    data_replies: dict[str, str] = field(default_factory=dict)  # address -> reply to its end
    mail_count: int = 0
    # For each message taken: had the client's next command arrived before our reply to it?
    next_command_waiting: list[bool] = field(default_factory=list)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_count += 1
        if self.mail_replies or self.mail_count in self.mail_replies_at:
            reply = self.mail_replies_at.get(self.mail_count) or self.mail_replies.pop(0)
            if reply.startswith("421"):
                # Like a server shutting down: say 421, then hang up.
                assert server.transport is not None
                asyncio.get_running_loop().call_soon(server.transport.close)
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        if envelope.rcpt_tos[0] in self.data_replies:
            return self.data_replies[envelope.rcpt_tos[0]]
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        reader = getattr(server, "_reader", None)  # aiosmtpd's input stream, read line by line
        self.next_command_waiting.append(bool(reader is not None and reader._buffer))
        assert session.peer is not None
        self.received.append(
            Received(
                peer=tuple(session.peer),  # type: ignore[arg-type]
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
            )
        )
        return "250 2.0.0 Message accepted"


@dataclass
class Server:
    handler: RecordingHandler
    port: int

    def settings(self, **changes: Any) -> SmtpSettings:
        return SmtpSettings(
            host="127.0.0.1", port=self.port, tls="none", timeout_seconds=5, **changes
        )


MODES = ("sendmail", "ready", "pipelined")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """How a message goes: through smtplib's sendmail, or as it is (SMTP-ready), one command
    at a time or pipelined (RFC 2920)."""
    return str(request.param)


def start_server(mode: str = "sendmail", **smtp_options: Any) -> tuple[Server, Controller]:
    handler = RecordingHandler(pipelining=mode == "pipelined")
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_options)
    controller.start()
    return Server(handler, controller.port), controller


@pytest.fixture
def server(mode: str) -> Iterator[Server]:
    running, controller = start_server(mode)
    yield running
    controller.stop()


@pytest.mark.integration
def test_smtp_delivers_exact_bytes_on_one_reused_connection(server: Server, mode: str) -> None:
    first, second = (
        message(12, 1, ready=mode != "sendmail"),
        message(12, 2, "rana@example.org", "Hello Rana,", ready=mode != "sendmail"),
    )
    with SmtpTransport(server.settings(), None) as smtp:
        smtp.send(first)
        smtp.send(second)
    received = server.handler.received
    assert [(r.mail_from, r.rcpt_tos) for r in received] == [
        ("briefing@example.org", ["sam@example.org"]),
        ("briefing@example.org", ["rana@example.org"]),
    ]
    assert received[0].content == first.data
    assert received[1].content == second.data
    assert received[0].peer == received[1].peer, "one connection for both messages"


@pytest.mark.integration
def test_smtp_recipient_refused_5xx_is_permanent(server: Server, mode: str) -> None:
    server.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 No such user here"
    with SmtpTransport(server.settings(), None) as smtp:
        with pytest.raises(DeliveryPermanentError, match=r"550 5\.1\.1 No such user") as caught:
            smtp.send(message(recipient="gone@example.org", ready=mode != "sendmail"))
        assert caught.value.recipient == "gone@example.org"
        smtp.send(
            message(subscriber_id=2, ready=mode != "sendmail")
        )  # the session is still good for the next one
    assert [r.rcpt_tos for r in server.handler.received] == [["sam@example.org"]]


@pytest.mark.integration
def test_smtp_recipient_refused_4xx_is_temporary(server: Server, mode: str) -> None:
    server.handler.rcpt_replies["busy@example.org"] = "450 4.2.1 Mailbox busy, try later"
    with (
        SmtpTransport(server.settings(), None) as smtp,
        pytest.raises(DeliveryTemporaryError, match=r"450 4\.2\.1"),
    ):
        smtp.send(message(recipient="busy@example.org", ready=mode != "sendmail"))
    assert server.handler.received == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("554 5.6.0 Message content rejected", DeliveryPermanentError),
        ("451 4.3.0 Local error in processing", DeliveryTemporaryError),
    ],
)
def test_smtp_message_refused_after_data(
    server: Server, mode: str, reply: str, error: type[Exception]
) -> None:
    server.handler.data_reply = reply
    with (
        SmtpTransport(server.settings(), None) as smtp,
        pytest.raises(error, match=re.escape(reply)),
    ):
        smtp.send(message(ready=mode != "sendmail"))


@pytest.mark.integration
@pytest.mark.parametrize(
    "reply",
    ["250 " + "x" * 9000, "XYZ not a reply code"],
    ids=["line-too-long", "no-code"],
)
def test_an_unreadable_reply_to_the_end_is_no_reply_not_a_refusal(
    server: Server, mode: str, reply: str
) -> None:
    # smtplib gives these as replies of code 500 or -1: the first read as the server refusing
    # the message for good (counted against the reader), though it may have taken it; the
    # second left the next replies out of step with the commands.
    server.handler.data_replies["reader2@example.org"] = reply
    messages = stream(mode, 3)
    with SmtpTransport(server.settings(), None) as smtp:
        outcomes = list(smtp.send_many(iter(messages)))
        smtp.send(message(subscriber_id=9, recipient="solo@example.org", ready=mode != "sendmail"))
    assert [sent for sent, _ in outcomes] == messages
    [(_, first), (_, second), (_, third)] = outcomes
    assert first is None and third is None
    assert isinstance(second, DeliveryUnknownError), second
    assert "the server may have taken it" in str(second)
    assert [r.rcpt_tos for r in server.handler.received] == [
        ["reader1@example.org"],
        ["reader3@example.org"],
        ["solo@example.org"],
    ]


@pytest.mark.integration
def test_smtp_sender_refused_is_temporary_and_names_the_setting(server: Server, mode: str) -> None:
    server.handler.mail_replies.append("553 5.7.1 Sender address rejected: not owned by user")
    with (
        SmtpTransport(server.settings(), None) as smtp,
        pytest.raises(DeliveryTemporaryError, match=r"service\.sender_address"),
    ):
        smtp.send(message(ready=mode != "sendmail"))


@pytest.mark.integration
def test_smtp_reconnects_once_after_an_idle_server_hung_up(mode: str) -> None:
    # The server closes a connection idle for 0.3 s, as real servers do after a few minutes.
    running, controller = start_server(mode, timeout=0.3)
    try:
        with SmtpTransport(running.settings(), None) as smtp:
            smtp.send(message(12, 1, ready=mode != "sendmail"))
            time.sleep(0.8)
            smtp.send(message(12, 2, ready=mode != "sendmail"))
    finally:
        controller.stop()
    received = running.handler.received
    assert [r.content for r in received] == [
        message(12, 1, ready=mode != "sendmail").data,
        message(12, 2, ready=mode != "sendmail").data,
    ]
    assert received[0].peer != received[1].peer, "the second message went on a new connection"


@pytest.mark.integration
def test_smtp_reconnects_once_after_421(server: Server, mode: str) -> None:
    with SmtpTransport(server.settings(), None) as smtp:
        smtp.send(message(12, 1, ready=mode != "sendmail"))
        server.handler.mail_replies.append("421 4.3.2 Service shutting down")
        smtp.send(message(12, 2, ready=mode != "sendmail"))
    received = server.handler.received
    assert [r.content for r in received] == [
        message(12, 1, ready=mode != "sendmail").data,
        message(12, 2, ready=mode != "sendmail").data,
    ]
    assert received[0].peer != received[1].peer


@pytest.mark.integration
def test_smtp_gives_up_when_the_new_connection_drops_too(server: Server, mode: str) -> None:
    server.handler.mail_replies += ["421 4.3.2 Try later", "421 4.3.2 Try later"]
    with (
        SmtpTransport(server.settings(), None) as smtp,
        pytest.raises(DeliveryTemporaryError, match="closed the connection again"),
    ):
        smtp.send(message(ready=mode != "sendmail"))
    assert server.handler.received == []
    assert server.handler.mail_replies == [], "exactly two attempts"


@pytest.mark.integration
def test_smtp_server_unreachable_is_temporary(mode: str) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), tls="none", timeout_seconds=2)
    with (
        SmtpTransport(settings, None) as smtp,
        pytest.raises(DeliveryTemporaryError, match=re.escape(f"127.0.0.1:{settings.port}")),
    ):
        smtp.send(message(ready=mode != "sendmail"))


def test_send_many_tries_an_unreachable_server_once_and_draws_no_more(mode: str) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), tls="none", timeout_seconds=2)
    drawn: list[OutgoingMessage] = []

    def messages() -> Iterator[OutgoingMessage]:
        for each in stream(mode, 5):
            drawn.append(each)
            yield each

    with SmtpTransport(settings, None) as smtp:
        [(first, error)] = list(smtp.send_many(messages()))
    assert first is drawn[0] and len(drawn) == 1, "each copy would wait for the same connect"
    assert isinstance(error, DeliveryTemporaryError)
    assert f"cannot connect to the mail server 127.0.0.1:{settings.port}" in str(error)


@pytest.mark.integration
def test_smtp_login(mode: str) -> None:
    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        good = isinstance(data, LoginPassword) and data == (b"briefing", b"s3cret")
        return AuthResult(success=good, handled=False)  # False: the server replies 535

    running, controller = start_server(mode, authenticator=authenticator, auth_require_tls=False)
    try:
        with SmtpTransport(running.settings(user="briefing"), "s3cret") as smtp:
            smtp.send(message(ready=mode != "sendmail"))
        with (
            SmtpTransport(running.settings(user="briefing"), "wrong") as smtp,
            pytest.raises(DeliveryTemporaryError, match="DIGEST_SMTP_PASSWORD"),
        ):
            smtp.send(message(subscriber_id=2, ready=mode != "sendmail"))
    finally:
        controller.stop()
    assert [r.content for r in running.handler.received] == [message(ready=mode != "sendmail").data]


class _NoEsmtp(SMTP):
    """An aiosmtpd server that speaks only the HELO of RFC 821, as some old relays do."""

    async def smtp_EHLO(self, arg: str) -> None:
        await self.push("502 5.5.2 Error: command not recognized")


class _NoEsmtpController(Controller):
    def factory(self) -> SMTP:
        return _NoEsmtp(self.handler, **self.SMTP_kwargs)


@pytest.mark.integration
def test_smtp_falls_back_to_helo_when_the_server_refuses_ehlo(mode: str) -> None:
    # Without HELO the server refused every MAIL ("503 send HELO first"), reported as the
    # sender address being refused, and no copy ever went.
    handler = RecordingHandler(pipelining=mode == "pipelined")
    controller = _NoEsmtpController(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    running = Server(handler, controller.port)
    messages = stream(mode, 3)
    try:
        with SmtpTransport(running.settings(), None) as smtp:
            outcomes = list(smtp.send_many(iter(messages)))
            smtp.send(
                message(subscriber_id=9, recipient="solo@example.org", ready=mode != "sendmail")
            )
    finally:
        controller.stop()
    assert outcomes == [(sent, None) for sent in messages]
    assert [r.rcpt_tos for r in handler.received] == [
        ["reader1@example.org"],
        ["reader2@example.org"],
        ["reader3@example.org"],
        ["solo@example.org"],
    ]


class _RefusingGreeting(SMTP):
    """An aiosmtpd server that refuses every client at its greeting, as one that does not
    relay for this host, or one that is overloaded, does."""

    greeting = "554 5.3.2 No service for 127.0.0.1"

    async def push(self, status: AnyStr) -> None:
        text = status.decode() if isinstance(status, bytes) else status
        await super().push(self.greeting if text.startswith("220 ") else text)


class _RefusingGreetingController(Controller):
    def factory(self) -> SMTP:
        return _RefusingGreeting(self.handler, **self.SMTP_kwargs)


@pytest.mark.integration
def test_a_greeting_that_refuses_says_so_in_the_servers_words() -> None:
    # The reason read "cannot connect to the mail server ...: (554, b'5.3.2 No service ...')",
    # smtplib's tuple and bytes as Python prints them.
    controller = _RefusingGreetingController(
        RecordingHandler(), hostname="127.0.0.1", port=free_port()
    )
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=controller.port, tls="none")
        with SmtpTransport(settings, None) as smtp, pytest.raises(DeliveryTemporaryError) as caught:
            smtp.send(message(ready=True))
    finally:
        controller.stop()
    assert str(caught.value).endswith(
        f"the mail server 127.0.0.1:{controller.port} refused the connection: "
        "554 5.3.2 No service for 127.0.0.1"
    )


class _RefusingStarttls(_RefusingGreeting):
    """Offers STARTTLS, then refuses it for the time being."""

    async def push(self, status: AnyStr) -> None:
        text = status.decode() if isinstance(status, bytes) else status
        refused = "454 4.7.0 TLS not available due to temporary reason"
        await SMTP.push(self, refused if text.startswith("220 Ready to start TLS") else text)


class _RefusingStarttlsController(Controller):
    def factory(self) -> SMTP:
        return _RefusingStarttls(self.handler, **self.SMTP_kwargs)


@pytest.mark.integration
def test_a_refused_starttls_says_so_in_the_servers_words(tmp_path: Path) -> None:
    server_tls, client_tls = _tls_contexts(tmp_path)
    controller = _RefusingStarttlsController(
        RecordingHandler(), hostname="127.0.0.1", port=free_port(), tls_context=server_tls
    )
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=controller.port, tls="starttls")
        with (
            SmtpTransport(settings, None, ssl_context=client_tls) as smtp,
            pytest.raises(DeliveryTemporaryError) as caught,
        ):
            smtp.send(message(ready=True))
    finally:
        controller.stop()
    assert str(caught.value).endswith(
        f"cannot open a session with the mail server 127.0.0.1:{controller.port}: "
        "454 4.7.0 TLS not available due to temporary reason"
    )


@pytest.mark.integration
def test_a_server_offering_no_starttls_gets_no_message_and_no_password() -> None:
    # smtp.tls = 'starttls' is a requirement: a server (or a man in the middle) that leaves
    # STARTTLS out of its EHLO reply is refused before the login and the message.
    logins: list[str] = []

    def authenticator(*arguments: Any) -> AuthResult:
        logins.append("login")
        return AuthResult(success=True)

    running, controller = start_server(authenticator=authenticator, auth_require_tls=False)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=running.port, user="briefing")
        with (
            SmtpTransport(settings, "s3cret") as smtp,
            pytest.raises(DeliveryTemporaryError) as caught,
        ):
            smtp.send(message(ready=True))
    finally:
        controller.stop()
    assert "does not offer STARTTLS" in str(caught.value)
    assert (running.handler.received, logins) == ([], [])


@pytest.mark.integration
@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_a_certificate_that_does_not_verify_is_refused_and_a_ca_file_trusts_it(
    tmp_path: Path, tls: str
) -> None:
    # The certificate is checked against the system's authorities by default; a relay with a
    # certificate of its own CA was refused with ssl's words alone, and nothing but
    # SSL_CERT_FILE could make it trusted. smtp.ca_file names the CA to trust.
    server_tls, _ = _tls_contexts(tmp_path)
    options = {"tls_context": server_tls} if tls == "starttls" else {"ssl_context": server_tls}
    running, controller = start_server(**options)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=running.port, tls=tls)
        with (
            SmtpTransport(settings, None) as smtp,
            pytest.raises(DeliveryTemporaryError) as caught,
        ):
            smtp.send(message(ready=True))
        trusting = settings.model_copy(update={"ca_file": tmp_path / "cert.pem"})
        with SmtpTransport(trusting, None) as smtp:
            smtp.send(message(ready=True))
    finally:
        controller.stop()
    assert str(caught.value).endswith(
        f"the certificate of the mail server 127.0.0.1:{running.port} does not verify "
        "(self-signed certificate): give the authority that signed it in smtp.ca_file (a PEM "
        "file), or set smtp.host to a name the certificate holds"
    )
    assert len(running.handler.received) == 1


def test_smtp_user_without_password_is_a_config_error() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=25, tls="none", user="briefing")
    with pytest.raises(ConfigError, match="DIGEST_SMTP_PASSWORD"):
        SmtpTransport(settings, None)


# ---------------------------------------------------------------------------------------------
# SMTP, a stream of messages (send_many)


def stream(mode: str, count: int, *, start: int = 1) -> list[OutgoingMessage]:
    return [
        message(12, n, f"reader{n}@example.org", f"Hello {n},", ready=mode != "sendmail")
        for n in range(start, start + count)
    ]


@pytest.mark.integration
def test_send_many_delivers_each_message_once_on_one_connection(server: Server, mode: str) -> None:
    messages = stream(mode, 6)
    with SmtpTransport(server.settings(), None) as smtp:
        outcomes = list(smtp.send_many(iter(messages)))
    assert outcomes == [(sent, None) for sent in messages]
    received = server.handler.received
    assert [r.content for r in received] == [sent.data for sent in messages]
    assert [r.rcpt_tos for r in received] == [[sent.recipient] for sent in messages]
    assert len({r.peer for r in received}) == 1


@pytest.mark.integration
def test_send_many_pipelines_the_next_message_behind_the_end_of_the_last() -> None:
    running, controller = start_server("pipelined")
    try:
        with SmtpTransport(running.settings(), None) as smtp:
            assert all(error is None for _, error in smtp.send_many(stream("pipelined", 5)))
    finally:
        controller.stop()
    # The next MAIL, RCPT and DATA came in the same write as the end of each message but the
    # last: one round trip per message.
    assert running.handler.next_command_waiting == [True, True, True, True, False]


@pytest.mark.integration
def test_send_many_says_sent_only_after_the_server_took_the_message(
    server: Server, mode: str
) -> None:
    with SmtpTransport(server.settings(), None) as smtp:
        for sent, error in smtp.send_many(stream(mode, 4)):
            assert error is None
            assert sent.data in [r.content for r in server.handler.received]


@pytest.mark.integration
def test_send_many_refusals_stop_only_their_message(server: Server, mode: str) -> None:
    server.handler.rcpt_replies["reader2@example.org"] = "550 5.1.1 No such user here"
    server.handler.rcpt_replies["reader3@example.org"] = "450 4.2.1 Mailbox busy"
    server.handler.data_replies["reader5@example.org"] = "554 5.6.0 Message content rejected"
    messages = stream(mode, 6)
    with SmtpTransport(server.settings(), None) as smtp:
        outcomes = list(smtp.send_many(messages))
    assert [sent for sent, _ in outcomes] == messages
    errors = {sent.recipient: error for sent, error in outcomes if error is not None}
    assert isinstance(errors.pop("reader2@example.org"), DeliveryPermanentError)
    assert isinstance(errors.pop("reader3@example.org"), DeliveryTemporaryError)
    assert "554 5.6.0" in str(errors.pop("reader5@example.org"))
    assert errors == {}
    received = server.handler.received
    assert [r.rcpt_tos for r in received] == [[f"reader{n}@example.org"] for n in (1, 4, 6)]
    assert len({r.peer for r in received}) == 1, "the session survives each refusal"


@pytest.mark.integration
def test_send_many_after_421_sends_the_unconfirmed_again_on_a_new_connection(
    server: Server, mode: str
) -> None:
    server.handler.mail_replies_at[3] = "421 4.3.2 Service shutting down"
    messages = stream(mode, 5)
    with SmtpTransport(server.settings(), None) as smtp:
        outcomes = list(smtp.send_many(messages))
    assert outcomes == [(sent, None) for sent in messages]
    received = server.handler.received
    assert [r.content for r in received] == [sent.data for sent in messages], "each once"
    assert received[1].peer != received[2].peer


@pytest.mark.integration
def test_send_many_gives_up_on_a_message_the_new_connection_drops_too(
    server: Server, mode: str
) -> None:
    server.handler.mail_replies_at.update({2: "421 4.3.2 Try later", 3: "421 4.3.2 Try later"})
    messages = stream(mode, 3)
    with SmtpTransport(server.settings(), None) as smtp:
        outcomes = list(smtp.send_many(messages))
    assert [sent for sent, _ in outcomes] == messages
    assert outcomes[0][1] is None and outcomes[2][1] is None
    assert isinstance(outcomes[1][1], DeliveryTemporaryError)
    assert "closed the connection again" in str(outcomes[1][1])
    assert [r.rcpt_tos for r in server.handler.received] == [
        ["reader1@example.org"],
        ["reader3@example.org"],
    ]


@pytest.mark.integration
def test_send_many_left_early_leaves_the_transport_usable(server: Server, mode: str) -> None:
    with SmtpTransport(server.settings(), None) as smtp:
        for _ in smtp.send_many(stream(mode, 4)):
            break  # replies are still due on that connection: it must not be reused
        smtp.send(message(12, 9, ready=mode != "sendmail"))
    assert server.handler.received[-1].content == message(12, 9, ready=mode != "sendmail").data


@pytest.mark.integration
def test_send_many_mixes_ready_and_other_messages(mode: str) -> None:
    running, controller = start_server(mode)
    plain = message(12, 7, "plain@example.org", "Hello,", ready=False)
    messages = [*stream("ready", 2), plain, *stream("ready", 2, start=3)]
    try:
        with SmtpTransport(running.settings(), None) as smtp:
            outcomes = list(smtp.send_many(messages))
    finally:
        controller.stop()
    assert outcomes == [(sent, None) for sent in messages]
    assert [r.content for r in running.handler.received] == [sent.data for sent in messages]


def test_send_many_of_the_other_transports_reports_each_failure() -> None:
    refused = DeliveryPermanentError("gone@example.org", "550 no such user")
    with MemoryTransport() as memory:
        memory.failures["gone@example.org"] = refused
        messages = [message(), message(subscriber_id=2, recipient="gone@example.org")]
        assert list(memory.send_many(messages)) == [(messages[0], None), (messages[1], refused)]
    assert memory.sent == [messages[0]]


# A server that trickles a reply ------------------------------------------------------------


def _tls_contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1, and a client context
    that trusts it."""
    key, certificate = self_signed("127.0.0.1", datetime.now(UTC), ip_address="127.0.0.1")
    (folder / "cert.pem").write_bytes(pem(certificate))
    (folder / "key.pem").write_bytes(key_pem(key))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return server, client


def _accept_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    return AuthResult(success=True)


@pytest.mark.integration
@pytest.mark.parametrize("step", TRICKLED_STEPS)
def test_a_server_trickling_a_reply_loses_the_connection_after_timeout_seconds(
    tmp_path: Path, step: str
) -> None:
    # Each byte came within the socket's timeout, so a server trickling one byte every 29
    # seconds held a run for as long as it liked: timeout_seconds now bounds each reply.
    server_tls, client_tls = _tls_contexts(tmp_path)
    options: dict[str, Any] = {
        "STARTTLS": {"tls_context": server_tls},
        "AUTH": {"authenticator": _accept_login, "auth_require_tls": False},
    }.get(step, {})
    sink = on_free_port(TricklingSink, step=step, pause=0.2)
    settings = SmtpSettings(
        host="127.0.0.1",
        port=sink.port,
        tls="starttls" if step == "STARTTLS" else "none",
        user="briefing" if step == "AUTH" else None,
        timeout_seconds=1,
    )
    with (
        trickling_server(sink, **options),
        SmtpTransport(settings, "s3cret", ssl_context=client_tls) as smtp,
    ):
        started = time.monotonic()
        with pytest.raises(DeliveryTemporaryError) as caught:
            smtp.send(message(ready=True))
        took = time.monotonic() - started
    if step == "end":  # the whole message went: the server may have it
        assert isinstance(caught.value, DeliveryUnknownError)
        assert "reply never came" in str(caught.value)
    else:
        assert not isinstance(caught.value, DeliveryUnknownError)
    assert "no whole reply within 1 second (smtp.timeout_seconds)" in str(caught.value)
    assert sink.trickled >= 1
    # One reply's worth, twice when the message is tried again on a new connection.
    assert took < 2 * 1 + 2


@pytest.mark.integration
@pytest.mark.parametrize("step", ["end", "MAIL", "greeting"])
def test_a_server_that_stopped_answering_costs_a_batch_two_timeouts_not_one_per_copy(
    step: str,
) -> None:
    # Each copy waited its timeout_seconds for a reply that never came: 500 copies at 30 s, four
    # hours of a batch, against a server that hangs after taking the connection.
    sink = on_free_port(TricklingSink, step=step, pause=0.3)
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, tls="none", timeout_seconds=1)
    copies = [
        message(subscriber_id=n, recipient=f"reader{n}@example.org", ready=True) for n in range(40)
    ]
    drawn: list[OutgoingMessage] = []

    def source() -> Iterator[OutgoingMessage]:
        for copy in copies:
            drawn.append(copy)
            yield copy

    with trickling_server(sink), SmtpTransport(settings, None) as smtp:
        started = time.monotonic()
        results = list(smtp.send_many(source()))
        took = time.monotonic() - started
    # A greeting that never comes is a connection that cannot be opened: that stops at once.
    assert len(results) == (1 if step == "greeting" else SILENT_IN_A_ROW)
    assert all(
        error is not None and "no whole reply within 1 second" in str(error) for _, error in results
    )
    assert len(drawn) < len(copies)  # the rest stay the caller's, untried
    assert took < 3 * SILENT_IN_A_ROW + 2


@pytest.mark.integration
def test_one_reply_late_costs_that_copy_only_and_the_batch_goes_on() -> None:
    # Only replies in a row stop a batch: a server that answers late once goes on taking copies.
    sink = on_free_port(TricklingSink, step="end", pause=0.3, times=1)
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, tls="none", timeout_seconds=1)
    copies = [
        message(subscriber_id=n, recipient=f"reader{n}@example.org", ready=True) for n in range(6)
    ]
    with trickling_server(sink), SmtpTransport(settings, None) as smtp:
        results = list(smtp.send_many(copies))
    assert [copy.recipient for copy, _ in results] == [copy.recipient for copy in copies]
    assert [error is None for _, error in results].count(False) == 1


@pytest.mark.integration
def test_a_reply_that_never_ends_is_a_lost_connection_before_it_fills_the_memory() -> None:
    # smtplib keeps every line of a multi-line reply: a server answering EHLO with "250-"
    # lines without end filled the sending process's memory for as long as the reply's time
    # (up to ten minutes) allowed.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def flood() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"220 127.0.0.1 ESMTP\r\n")
            connection.recv(1024)  # EHLO
            lines = b"250-" + b"X" * 200 + b"\r\n"
            with contextlib.suppress(OSError):
                while not stop.is_set():
                    connection.sendall(lines * 100)

    server = threading.Thread(target=flood, daemon=True)
    server.start()
    settings = SmtpSettings(host="127.0.0.1", port=port, tls="none", timeout_seconds=20)
    try:
        with SmtpTransport(settings, None) as smtp, pytest.raises(DeliveryTemporaryError) as caught:
            smtp.send(message(ready=True))
    finally:
        stop.set()
        server.join(timeout=10)
        listener.close()
    assert "a reply of more than 1 MB" in str(caught.value)


@pytest.mark.integration
def test_over_implicit_tls_a_reply_is_bounded_as_well(tmp_path: Path) -> None:
    # The replies of an SMTP_SSL connection are read through the same deadline: the copies go,
    # and a reply to their end trickled over TLS is a lost connection like any other.
    server_tls, client_tls = _tls_contexts(tmp_path)
    sink = on_free_port(TricklingSink, step="end", pause=0.2)
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, tls="ssl", timeout_seconds=1)
    with (
        trickling_server(sink, ssl_context=server_tls),
        SmtpTransport(settings, None, ssl_context=client_tls) as smtp,
        pytest.raises(DeliveryUnknownError, match=r"smtp\.timeout_seconds"),
    ):
        smtp.send(message(ready=True))
    assert len(sink.received) == 1
