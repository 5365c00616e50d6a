"""Inbound mail as one function of a message's bytes, and what must hold whatever they are.

    input ─► (envelope recipient, message bytes)
          ─► digest.inbound.read.read_inbound, as ``digest inbound`` calls it for each message
             (bounded MIME parse ─► ARF complaint, DSN, mailto unsubscribe, plain bounce)

An input is a message as a client would send it after DATA, optionally preceded by one line
``Rcpt: ADDRESS`` (the envelope's recipient; the bounce address when absent); ``split_input``
reads it. Anyone on the internet can send such a message: every byte is the sender's.

What must hold for any input (``InboundFailure`` when it does not):

- ``read_inbound`` returns a ``Reading``: it raises nothing, and logs no error (its last guard
  logs a bug of the readers under it with a traceback, and the message is lost);
- every event is of a known kind from source ``smtp`` and names its reader by a subscriber id
  only, one a token signed with our key named (``SIGNED``): no message can name a reader on its
  own word; an unsubscribe names the list its token signed;
- every event id fits the store's column (``EVENT_ID_CHARS``), holds no NUL (PostgreSQL's text
  holds none); its detail is one line of at most ``DETAIL_CHARS``; an ignored reason is one line
  of at most ``REASON_CHARS`` (it goes to the log);
- reading takes at most ``READ_SECONDS`` + ``READ_SECONDS_PER_BYTE`` per byte of CPU time.
"""

from __future__ import annotations

import base64
import functools
import logging
import time
from collections.abc import Iterator

from digest.inbound.events import DETAIL_CHARS, EVENT_ID_CHARS, Reading
from digest.inbound.mailboxes import Mailboxes
from digest.inbound.read import read_inbound
from digest.mail.tokens import TokenSigner

SIGNER = TokenSigner("fuzz-inbound-mail")
MAILBOXES = Mailboxes("bounces", "example.org", "unsubscribe@example.org")
BOUNCE = MAILBOXES.bounce_address
UNSUBSCRIBE = MAILBOXES.unsubscribe_address
# The (edition, subscriber) and (subscriber, list) the seeds' tokens sign: the only readers and
# lists an event may name.
DELIVERY = (12, 345)
MEMBERSHIP = (345, "daily")
SIGNED_READERS = frozenset({DELIVERY[1], MEMBERSHIP[0]})
SIGNED_LISTS = frozenset({MEMBERSHIP[1]})
VERP = f"bounces+{SIGNER.delivery_token(*DELIVERY)}@example.org"
TOKEN = SIGNER.unsubscribe_token(*MEMBERSHIP)

RCPT_PREFIX = b"Rcpt:"
KINDS = frozenset({"hard-bounce", "soft-bounce", "complaint", "unsubscribe"})
REASON_CHARS = 1_000
READ_SECONDS = 1.0
# 15 times the worst measured: 2 MB of headers (max_message_bytes) in 0.65 s.
READ_SECONDS_PER_BYTE = 5e-6


class InboundFailure(AssertionError):
    """An input broke one of the module docstring's invariants."""


class _Errors(logging.Handler):
    """The error lines the readers log: each one a bug the last guard caught."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@functools.cache
def errors() -> _Errors:
    """The handler that collects the inbound readers' error lines, installed on first use."""
    handler = _Errors()
    logging.getLogger("digest.inbound").addHandler(handler)
    return handler


def split_input(data: bytes) -> tuple[str, bytes]:
    """An input's envelope recipient (the bounce address when it has no such first line) and
    message."""
    if not data.startswith(RCPT_PREFIX):
        return BOUNCE, data
    line, _, message = data.partition(b"\n")
    return line[len(RCPT_PREFIX) :].decode("latin-1").strip(), message


def check_inbound_mail(data: bytes) -> None:
    """Read ``data`` as ``digest inbound`` reads a message; check the module docstring."""
    caught = errors()
    caught.records.clear()
    recipient, message = split_input(data)
    started = time.process_time()
    reading = read_inbound(message, recipients=[recipient], mailboxes=MAILBOXES, signer=SIGNER)
    spent = time.process_time() - started
    if caught.records:
        record = caught.records[0]
        raise InboundFailure(f"the reader logged an error: {record.getMessage()}") from (
            record.exc_info[1] if record.exc_info else None
        )
    bound = READ_SECONDS + READ_SECONDS_PER_BYTE * len(message)
    if spent > bound:
        raise InboundFailure(
            f"reading took {spent:.2f} s of CPU time for {len(message)} bytes (bound {bound:.2f} s)"
        )
    check_reading(reading)


def check_reading(reading: Reading) -> None:
    """The invariants of a Reading whatever the message was."""
    if reading.ignored is not None:
        _check_line("the ignored reason", reading.ignored, REASON_CHARS)
    for event in reading.events:
        where = f"event {event.event_id[:80]!r}"
        if event.kind not in KINDS or event.source != "smtp":
            raise InboundFailure(f"{where}: kind {event.kind!r} from {event.source!r}")
        if event.email is not None or event.subscriber_id not in SIGNED_READERS:
            raise InboundFailure(
                f"{where}: names reader {event.subscriber_id!r} / {event.email!r}, "
                "which no token of ours signed"
            )
        if event.kind == "unsubscribe" and event.list_slug not in SIGNED_LISTS:
            raise InboundFailure(f"{where}: unsubscribes from {event.list_slug!r}, never signed")
        if not event.event_id or len(event.event_id) > EVENT_ID_CHARS:
            raise InboundFailure(f"{where}: an id of {len(event.event_id)} characters")
        if "\x00" in event.event_id:
            raise InboundFailure(f"{where}: a NUL in its id")
        _check_line(f"{where}: its detail", event.detail, DETAIL_CHARS)


def _check_line(what: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise InboundFailure(f"{what} is {len(text)} characters long: {text[:120]!r}")
    if any(char in text for char in "\r\n\x00"):
        raise InboundFailure(f"{what} is not one line: {text[:200]!r}")


def _message(headers: list[str], body: str) -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")


def _returned(return_path: str = VERP, unsubscribe: str = "") -> str:
    lines = [
        f"Return-Path: <{return_path}>",
        "From: The Desk <desk@example.org>",
        "To: sam@example.net",
        "Subject: The Daily Brief",
        "Message-ID: <12.345.abcdef@example.org>",
    ]
    if unsubscribe:
        lines.append(f"List-Unsubscribe: {unsubscribe}")
    return "\r\n".join(lines) + "\r\n"


def _report(kind: str, fields: str, returned: str, returned_type: str = "message/rfc822") -> str:
    return (
        "--R\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nA report.\r\n"
        f"--R\r\nContent-Type: message/{kind}\r\n\r\n{fields}\r\n"
        f"--R\r\nContent-Type: {returned_type}\r\n\r\n{returned}\r\n--R--\r\n"
    )


def _dsn(action: str, status: str, diagnostic: str, recipients: int = 1) -> bytes:
    blocks = "".join(
        f"Final-Recipient: rfc822; reader{n}@example.net\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: {diagnostic}\r\n\r\n"
        for n in range(recipients)
    )
    fields = f"Reporting-MTA: dns; mx.example.org\r\n\r\n{blocks}"
    return _message(
        [
            "From: MAILER-DAEMON@mx.example.org",
            f"To: {VERP}",
            "Subject: Undelivered Mail Returned to Sender",
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type=delivery-status; boundary="R"',
        ],
        _report("delivery-status", fields, _returned(), "text/rfc822-headers"),
    )


def _arf(feedback_type: str, returned: str, returned_type: str = "message/rfc822") -> bytes:
    fields = (
        f"Feedback-Type: {feedback_type}\r\nUser-Agent: SomeISP-FBL/1.0\r\nVersion: 1\r\n"
        f"Original-Mail-From: <{VERP}>\r\n"
    )
    return _message(
        [
            "From: fbl@isp.example.net",
            f"To: {BOUNCE}",
            "Subject: Abuse report",
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type=feedback-report; boundary="R"',
        ],
        _report("feedback-report", fields, returned, returned_type),
    )


def _mailto(subject: str, *more: str) -> bytes:
    headers = ["From: sam@example.net", f"To: {UNSUBSCRIBE}", f"Subject: {subject}", *more]
    return RCPT_PREFIX + f" {UNSUBSCRIBE}\n".encode() + _message(headers, "unsubscribe\r\n")


def seeds() -> Iterator[tuple[str, bytes]]:
    """(name, input) of the seed corpus: each kind of message the receiver reads, written here,
    with the hostile bits such mail is known to carry."""
    yield "dsn-hard.eml", _dsn("failed", "5.1.1", "smtp; 550 5.1.1 user unknown")
    yield "dsn-soft-three.eml", _dsn("failed", "4.4.7", "delivery time expired", recipients=3)
    yield "dsn-delayed.eml", _dsn("delayed", "4.4.1", "connect to mx.example.net: timed out")
    yield "dsn-status-in-diagnostic.eml", _dsn("failed", "", "smtp; 552-5.2.2 mailbox full\t")
    yield "dsn-nul-diagnostic.eml", _dsn("failed", "5.0.0", "smtp; 550 \x00bad\x00 " + "x" * 900)
    yield (
        "plain-bounce-qmail.eml",
        _message(
            ["From: MAILER-DAEMON@mx.example.net", f"To: {VERP}", "Subject: failure notice"],
            "Hi. This is the qmail-send program at mx.example.net.\r\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
            "<sam@example.net>:\r\n550 5.1.1 No such user\r\n",
        ),
    )
    yield (
        "out-of-office.eml",
        _message(
            [
                "From: Sam <sam@example.net>",
                f"To: {VERP}",
                "Subject: Out of office: The Daily Brief",
                "Auto-Submitted: auto-replied",
                "X-Autoreply: yes",
                "Content-Type: text/plain; charset=windows-1256",
            ],
            "I am away until Monday.\r\n",
        ),
    )
    unsubscribe = (
        f"<https://news.example.org/unsubscribe/{TOKEN}>, "
        f"<mailto:{UNSUBSCRIBE}?subject=unsubscribe-{TOKEN}>"
    )
    yield "arf-abuse.eml", _arf("abuse", _returned(unsubscribe=unsubscribe))
    yield (
        "arf-abuse-token-only.eml",
        _arf("abuse", _returned(return_path="x@example.net", unsubscribe=unsubscribe)),
    )
    yield (
        "arf-abuse-base64-headers.eml",
        _arf(
            "abuse",
            "Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(_returned().encode()).decode().replace("\n", "\r\n"),
            "text/rfc822-headers",
        ),
    )
    yield "arf-not-abuse.eml", _arf("opt-out", _returned())
    yield "mailto.eml", _mailto(f"unsubscribe-{TOKEN}")
    yield "mailto-reply-encoded.eml", _mailto("Re: " + encoded_subject(f"unsubscribe-{TOKEN}"))
    yield "mailto-forged-token.eml", _mailto("unsubscribe-" + TOKEN[:-4] + "AAAA")
    yield (
        "mailto-odd-headers.eml",
        _mailto(
            "=?bogus?q?x?= =?utf-8?b?broken?= unsubscribe-" + TOKEN,
            "Message-ID: <\udcff\udcfe@example.net>",
            'Content-Type: text/plain; charset="utf\x00-8"',
        ),
    )
    yield (
        "other-recipient.eml",
        RCPT_PREFIX + b" <desk@example.org>\n" + _message(["Subject: hello"], "text\r\n"),
    )
    nested = "".join(
        f"Content-Type: multipart/mixed; boundary=B{n}\r\n\r\n--B{n}\r\n" for n in range(10)
    )
    yield "nested-parts.eml", _message(["From: x@example.net", f"To: {VERP}"], nested)
    yield "bare-cr-and-8bit.eml", b"From: \xff\xfe\r\nSubject: a\rb\n\n--\r--x\x00\r\n"
    yield "empty.eml", b""


def encoded_subject(text: str) -> str:
    """``text`` as one RFC 2047 encoded word (base64)."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="
