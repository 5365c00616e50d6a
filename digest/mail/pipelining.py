"""Messages sent on an SMTP connection, their commands pipelined when the server allows it."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator

from digest.errors import DeliveryError, DeliveryTemporaryError
from digest.mail.smtp_replies import CLOSING, command, read_reply, refusal, reply_text, reset
from digest.mail.transport import Sent
from digest.records import OutgoingMessage


class Dropped(Exception):
    """The server closed the connection in the middle of a message.

    ``after_end`` when the message's end (its final dot) had gone out and its reply had not come
    back: the server may have taken it, and sending it again may deliver it twice.
    """

    def __init__(self, reason: str, *, after_end: bool = False) -> None:
        super().__init__(reason)
        self.after_end = after_end


class NoReplyToEnd(smtplib.SMTPServerDisconnected):
    """The connection was lost (or the reply timed out) after a message's end went out."""


def send_ready(smtp: smtplib.SMTP, message: OutgoingMessage) -> None:
    """One message, its commands pipelined when the server allows (RFC 2920). An SMTP-ready
    message (``digest.mail.message`` makes every personal copy so) goes as it is: smtplib's
    sendmail would rewrite line ends and double dots with two regular expression passes over
    every message; another is made ready here, as sendmail would.

    Raises the exceptions ``smtplib.SMTP.sendmail`` raises, so errors are read the same way, and
    ``NoReplyToEnd`` when the connection is lost after the message's end went out: sendmail
    cannot tell that from a loss before, which must be told apart (the server may have it).
    """
    sender, recipient = message.sender, message.recipient
    if smtp.does_esmtp and smtp.has_extn("pipelining"):
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
        mail, rcpt, data = read_reply(smtp), read_reply(smtp), read_reply(smtp)
    else:
        mail = command(smtp, "MAIL", f"FROM:<{sender}>")
        rcpt = command(smtp, "RCPT", f"TO:<{recipient}>") if mail[0] == 250 else (503, b"")
        data = command(smtp, "DATA") if rcpt[0] in (250, 251) else (503, b"")
    if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        smtp.send(b".\r\n")  # a server that said go ahead anyway gets an empty message
        read_reply(smtp)
    if mail[0] != 250:
        reset(smtp, mail[0])
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    if rcpt[0] not in (250, 251):
        reset(smtp, rcpt[0])
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if data[0] != 354:
        reset(smtp, data[0])
        raise smtplib.SMTPDataError(data[0], data[1])
    smtp.send((message.data if message.smtp_ready else _made_ready(message.data)) + b".\r\n")
    try:
        code, reply = read_reply(smtp)
    except smtplib.SMTPServerDisconnected as error:
        raise NoReplyToEnd(str(error)) from error
    if code != 250:
        reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _made_ready(data: bytes) -> bytes:
    """``data`` as smtplib's ``data`` sends it: CRLF line ends, leading dots doubled, ending in
    a line end."""
    ready = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", data))
    return ready if ready.endswith(b"\r\n") else ready + b"\r\n"


class Pipeline:
    """Messages sent on one connection with their commands pipelined (RFC 2920).

    Each write is the content of the message whose DATA the server accepted, its end-of-data
    line, and the MAIL, RCPT and DATA of the next message (DATA ends a command group, as the
    RFC asks). Replies come back in the order the commands went.
    """

    def __init__(self, smtp: smtplib.SMTP, where: str) -> None:
        self._smtp = smtp
        self._where = where
        self.in_flight: list[OutgoingMessage] = []  # sent, their fate not known yet
        self.drawn: OutgoingMessage | None = None  # taken from the source, not sent yet
        # The one message whose end went out and whose reply has not come back: should the
        # connection drop now, the server may have taken it (at most one: replies come in order).
        self.ended: OutgoingMessage | None = None

    def run(self, first: OutgoingMessage, source: Iterator[OutgoingMessage]) -> Iterator[Sent]:
        """Send ``first`` and what follows it in ``source``; raises Dropped when the
        connection is lost, with the messages it leaves unconfirmed in ``in_flight``."""
        smtp, in_flight = self._smtp, self.in_flight
        try:
            in_flight.append(first)
            smtp.send(_envelope(first))
            while in_flight:
                # Made while the server reads what went last.
                following = self.drawn = next(source, None)
                if following is not None and not following.smtp_ready:
                    following = None  # ends this pipeline; send_many takes it on its own
                if len(in_flight) == 2:  # the first one's content went: its reply is due
                    outcome = self._data_outcome(in_flight[0], self._reply_to_end())
                    yield in_flight.pop(0), outcome
                message = in_flight[0]
                payload, error = self._envelope_outcome(
                    message, read_reply(smtp), read_reply(smtp), read_reply(smtp)
                )
                if error is not None:
                    in_flight.pop(0)
                    yield message, error
                if following is not None:
                    payload += _envelope(following)
                    in_flight.append(following)
                    self.drawn = None
                if error is None:
                    # Before the write: should it fail half way, the end may have gone.
                    self.ended = message
                if payload:
                    smtp.send(payload)
                if error is None and following is None:  # the last: wait for its reply
                    outcome = self._data_outcome(message, self._reply_to_end())
                    yield in_flight.pop(0), outcome
        except (smtplib.SMTPException, OSError) as error:
            # Lost, or out of step with the server: either way the connection is done for.
            raise Dropped(f"sending through {self._where} failed: {error}") from error

    def _reply_to_end(self) -> tuple[int, bytes]:
        """The reply to the end of the message sent last; once it came, the fate of that
        message is known (a 421 included: the server says it did not take it)."""
        reply = read_reply(self._smtp)
        self.ended = None
        return reply

    def _envelope_outcome(
        self,
        message: OutgoingMessage,
        mail: tuple[int, bytes],
        rcpt: tuple[int, bytes],
        data: tuple[int, bytes],
    ) -> tuple[bytes, DeliveryError | None]:
        """What goes next for ``message`` (its content, or nothing), and why it cannot go."""
        if mail[0] == 250 and rcpt[0] in (250, 251) and data[0] == 354:
            return message.data + b".\r\n", None
        smtp = self._smtp
        for code, reply in (mail, rcpt, data):
            if code == CLOSING:
                raise Dropped(f"{code} {reply_text(reply)}")
        if data[0] == 354:
            smtp.send(b".\r\n")  # a server that said go ahead anyway gets an empty message
            read_reply(smtp)
        recipient = message.recipient
        if mail[0] != 250:
            reset(smtp, mail[0])
            return b"", DeliveryTemporaryError(
                recipient,
                f"{self._where} refused the sender {message.sender!r} "
                f"({mail[0]} {reply_text(mail[1])}): check service.sender_address "
                "(or [bounces], when it is a return path) and that the server relays mail for it",
            )
        if rcpt[0] not in (250, 251):
            reset(smtp, rcpt[0])
            return b"", refusal(recipient, f"{self._where} refused the recipient", rcpt[0], rcpt[1])
        reset(smtp, data[0])
        return b"", refusal(recipient, f"{self._where} refused the message", data[0], data[1])

    def _data_outcome(
        self, message: OutgoingMessage, reply: tuple[int, bytes]
    ) -> DeliveryError | None:
        code, text = reply
        if code == 250:
            return None
        if code == CLOSING:
            raise Dropped(f"{code} {reply_text(text)}")
        # The transaction is over whatever the reply: no RSET, which would reset the next one.
        return refusal(message.recipient, f"{self._where} refused the message", code, text)


def _envelope(message: OutgoingMessage) -> bytes:
    return f"MAIL FROM:<{message.sender}>\r\nRCPT TO:<{message.recipient}>\r\nDATA\r\n".encode()
