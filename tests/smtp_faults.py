"""SMTP servers that misbehave on purpose, each an aiosmtpd handler recording what it took
(serve one with ``tests.servers.smtp_server(sink)``)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, AnyStr, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import SmtpSink, free_port

S = TypeVar("S", bound=SmtpSink)


@dataclass
class FlakySink(SmtpSink):
    """Answers 4xx to ``share`` of the transactions at random, at the recipient or at the end
    of the message (the message is then not taken); takes the others."""

    share: float = 0.2
    seed: int = 10
    refusals: int = 0
    _draws: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._draws.seed(self.seed)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._draws.random() < self.share / 2:
            self.refusals += 1
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # About share/2 of all transactions here, the other share/2 at RCPT.
        if self._draws.random() < (self.share / 2) / (1 - self.share / 2):
            self.refusals += 1
            return "452 4.3.1 Insufficient system storage, try again later"
        return await super().handle_DATA(server, session, envelope)


@dataclass
class DroppingSink(SmtpSink):
    """Takes every message, but every ``every``-th one it takes, it drops the connection
    instead of answering: the sender cannot know the message arrived."""

    every: int = 500
    dropped: list[str] = field(default_factory=list)  # the Message-IDs taken with no reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        status = await super().handle_DATA(server, session, envelope)
        if len(self.received) % self.every == 0:
            self.dropped.append(self.received[-1].message_id)
            assert server.transport is not None
            server.transport.abort()
        return status


@dataclass
class RefusingSink(SmtpSink):
    """Refuses the ``refused`` recipients for good with ``reply`` (550 5.1.1 unless told),
    counting each time one is asked for; takes the others."""

    refused: frozenset[str] = frozenset()
    asked: dict[str, int] = field(default_factory=dict)
    reply: str = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            self.asked[address] = self.asked.get(address, 0) + 1
            return self.reply.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"


# The step of the dialogue whose reply a TricklingSink trickles, told by the reply's text.
TRICKLED_STEPS = ("greeting", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "end")


@dataclass
class TricklingSink(SmtpSink):
    """Answers the ``step`` of the dialogue (one of TRICKLED_STEPS; "DATA" is its 354, "end"
    the reply to the message's end) one byte every ``pause`` seconds, each byte well within a
    client's socket timeout, the whole reply not; answers the rest at once, and takes every
    message. Serve it with ``trickling_server``."""

    step: str = "end"
    pause: float = 0.2
    trickled: int = 0  # replies trickled so far
    times: int | None = None  # replies to trickle at most; None: every one of its step

    def trickles(self, reply: bytes) -> bool:
        if self.times is not None and self.trickled >= self.times:
            return False
        step = {
            b"220 Ready to start TLS": "STARTTLS",
            b"220 ": "greeting",
            b"250-": "EHLO",
            b"235 ": "AUTH",
            b"250 2.1.0": "MAIL",
            b"250 2.1.5": "RCPT",
            b"354 ": "DATA",
            b"250 2.0.0": "end",
        }
        return next((name for start, name in step.items() if reply.startswith(start)), "") == (
            self.step
        )

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> list[str]:
        session.host_name = hostname
        return list(responses)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.mail_from = address
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await super().handle_DATA(server, session, envelope)
        return "250 2.0.0 Message accepted"


class _Trickling(SMTP):
    """aiosmtpd's server, its replies written through the TricklingSink's ``trickles``."""

    async def push(self, status: AnyStr) -> None:
        sink = self.event_handler
        reply = status.encode() if isinstance(status, str) else bytes(status)
        if not (isinstance(sink, TricklingSink) and sink.trickles(reply)):
            await super().push(status)
            return
        sink.trickled += 1
        for byte in reply + b"\r\n":
            self._writer.write(bytes([byte]))
            await self._writer.drain()
            await asyncio.sleep(sink.pause)


class _TricklingController(Controller):
    def factory(self) -> SMTP:
        return _Trickling(self.handler, **self.SMTP_kwargs)


@contextmanager
def trickling_server(sink: TricklingSink, **smtp_options: Any) -> Iterator[TricklingSink]:
    """``sink`` served on loopback by a server that trickles its ``step``'s reply;
    ``smtp_options`` go to aiosmtpd's SMTP (``tls_context``, ``authenticator``...)."""
    controller = _TricklingController(sink, hostname=sink.host, port=sink.port, **smtp_options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def on_free_port(kind: type[S], **options: Any) -> S:
    """A ``kind`` of sink on a free loopback port."""
    return kind("127.0.0.1", free_port(), **options)
