"""SMTP servers that misbehave on purpose, each an aiosmtpd handler recording what it took
(serve one with ``tests.servers.smtp_server(sink)``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
    """Refuses the ``refused`` recipients for good (550), counting each time one is asked for;
    takes the others."""

    refused: frozenset[str] = frozenset()
    asked: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            self.asked[address] = self.asked.get(address, 0) + 1
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def on_free_port(kind: type[S], **options: Any) -> S:
    """A ``kind`` of sink on a free loopback port."""
    return kind("127.0.0.1", free_port(), **options)
