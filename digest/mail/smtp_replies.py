"""SMTP replies read within a time and a size, and what a refusal means for the message."""

from __future__ import annotations

import contextlib
import io
import smtplib
import time
from typing import TYPE_CHECKING

from digest.errors import DeliveryError, DeliveryPermanentError, DeliveryTemporaryError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CLOSING = 421  # "service not available, closing transmission channel" (RFC 5321)


# The most one reply may take: an EHLO reply, the longest, is a few hundred bytes.
MAX_REPLY_BYTES = 2**20


class _ReplyDeadline(smtplib.SMTP):
    """smtplib's client, with each reply given ``timeout`` seconds in all.

    A socket timeout bounds one read: a server that sends one byte a little faster than that
    would hold the client for as long as it liked. Here every read of a reply gets only what is
    left of the reply's time, so a reply that takes longer, however it trickles in, is a lost
    connection (``SMTPServerDisconnected``), as a silent server is. Sends need no such help:
    ``sendall`` counts its timeout over the whole call.

    A reply is bounded in size too, at MAX_REPLY_BYTES: smtplib keeps every line of a
    multi-line reply, so one that never ends would fill the memory within its time.
    """

    _reply_deadline = 0.0
    _reply_bytes = 0  # read from the socket since the reply began

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:  # a new connection, or after STARTTLS
            self.file = io.BufferedReader(_DeadlineReads(self))
        self._reply_deadline = time.monotonic() + self._reply_seconds()
        self._reply_bytes = 0
        try:
            return super().getreply()
        finally:
            if self.sock is not None:  # what is left of this reply's time is not the next send's
                self.sock.settimeout(self._reply_seconds())

    def _reply_seconds(self) -> float:
        return float(self.timeout)  # always given by SmtpTransport

    def read_into(self, buffer: memoryview) -> int:
        """One read of the reply, given what is left of its time."""
        if self.sock is None:
            raise OSError("the connection is closed")
        left = self._reply_deadline - time.monotonic()
        if left <= 0:
            raise self._too_slow()
        if self._reply_bytes > MAX_REPLY_BYTES:
            raise OSError(f"a reply of more than {MAX_REPLY_BYTES // 2**20} MB")
        self.sock.settimeout(left)
        try:
            received = self.sock.recv_into(buffer)
        except TimeoutError as error:
            raise self._too_slow() from error
        self._reply_bytes += received
        return received

    def _too_slow(self) -> TimeoutError:
        seconds = self._reply_seconds()
        return TimeoutError(
            f"no whole reply within {seconds:g} second{'' if seconds == 1 else 's'} "
            "(smtp.timeout_seconds)"
        )


class _DeadlineReads(io.RawIOBase):
    """The connection's socket as smtplib reads replies from it (see ``_ReplyDeadline``)."""

    def __init__(self, smtp: _ReplyDeadline) -> None:
        self._smtp = smtp

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._smtp.read_into(memoryview(buffer).cast("B"))


class BoundedSmtp(_ReplyDeadline):
    """A plain or STARTTLS connection, each reply bounded in time."""


class BoundedSmtpSsl(_ReplyDeadline, smtplib.SMTP_SSL):
    """An implicit TLS connection, each reply bounded in time."""


def read_reply(smtp: smtplib.SMTP) -> tuple[int, bytes]:
    """The server's next reply. One smtplib cannot read (a line over its 8 KB limit, or one
    that does not start with a code) raises SMTPServerDisconnected with the connection
    closed: smtplib would give them as a reply of code 500 or -1, which would read as the
    server refusing the message, and, for -1, leave the rest of the replies out of step with
    the commands.
    """
    try:
        code, text = smtp.getreply()
    except smtplib.SMTPServerDisconnected:
        raise
    except smtplib.SMTPResponseException as error:  # "Line too long": smtplib closed it
        smtp.close()
        raise smtplib.SMTPServerDisconnected(
            f"a reply line too long to be SMTP ({error.smtp_code} {reply_text(error.smtp_error)})"
        ) from error
    if code == -1:
        smtp.close()
        raise smtplib.SMTPServerDisconnected(
            f"a reply that is not SMTP: {reply_text(text)[:200]!r}"
        )
    return code, text


def command(smtp: smtplib.SMTP, name: str, argument: str = "") -> tuple[int, bytes]:
    """``smtp.docmd``, its reply read by ``read_reply``."""
    smtp.putcmd(name, argument)
    return read_reply(smtp)


def reset(smtp: smtplib.SMTP, code: int) -> None:
    # As sendmail does: a refusal leaves the session usable for the next message, unless the
    # server is closing it (421), which the caller handles by reconnecting.
    if code != CLOSING:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()


def refusal(recipient: str, what: str, code: int, reply: bytes | str) -> DeliveryError:
    reason = f"{what}: {code} {reply_text(reply)}"
    if 500 <= code <= 599:
        return DeliveryPermanentError(recipient, reason)
    return DeliveryTemporaryError(recipient, reason)


def reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
