"""The SMTP transport: one connection, reused, opened again once when the server drops it."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

from digest.config import SmtpSettings
from digest.errors import ConfigError, DeliveryError, DeliveryTemporaryError, DeliveryUnknownError
from digest.mail.pipelining import Dropped, NoReplyToEnd, Pipeline, send_ready
from digest.mail.smtp_replies import CLOSING, BoundedSmtp, BoundedSmtpSsl, refusal, reply_text
from digest.mail.transport import MailTransport, Sent
from digest.records import OutgoingMessage


class _ConnectionProblem(Exception):
    """The server could not be reached or would not let us in; the reason says which."""


# Messages in a row whose reply did not come in time, after which a batch sends no more: one
# is a server's hiccup, two in a row (each on its own connection) a server that stopped answering.
SILENT_IN_A_ROW = 2


def _timed_out(error: BaseException) -> bool:
    """Whether ``error`` came of a reply (or a connection) that did not come in time."""
    seen: BaseException | None = error
    for _ in range(8):  # the chain is short; a cycle in it must not hold the batch
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class SmtpTransport(MailTransport):
    """Sends through an SMTP server, on one connection opened at the first message and reused.

    ``settings.tls`` picks implicit TLS ("ssl", usually port 465), STARTTLS ("starttls", port 587)
    or a plain connection ("none", for a relay on the same host). If the server has dropped the
    connection since the last message (idle timeout, restart, a 421 reply), the transport
    reconnects and tries once more. A message whose end went out but whose reply never came
    (the connection lost, or no reply within ``timeout_seconds``) is never sent again here: it is
    a DeliveryUnknownError, and the ledger decides whether it may go again (a bounded number of
    times, ``smtp.max_attempts``), since the server may have taken it.

    A reply in the 5xx range to the recipient or the message is a DeliveryPermanentError. Anything
    that is not about this recipient — the server unreachable, the login refused, the sender
    address refused — is a DeliveryTemporaryError, so that a configuration mistake leaves every
    delivery pending until it is fixed rather than failing the whole list for good.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        password: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        password_from: str = "DIGEST_SMTP_PASSWORD",  # noqa: S107 - a variable's name
    ) -> None:
        if settings.user and not password:
            why = (
                f"smtp.user is {settings.user!r} but no password is set: "
                "set the DIGEST_SMTP_PASSWORD environment variable"
            )
            raise ConfigError("DIGEST_SMTP_PASSWORD", [("", why)])
        self._settings = settings
        self._password = password
        self._password_from = password_from  # the variable, its file or credential
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @property
    def ca_file(self) -> Path | None:
        """The authorities trusted for the server's certificate instead of the system's."""
        return self._settings.ca_file

    @property
    def _where(self) -> str:
        return f"the mail server {self._settings.host}:{self._settings.port}"

    def send(self, message: OutgoingMessage) -> None:
        try:
            self._send_once(message)
        except Dropped as dropped:
            self._discard()
            if dropped.after_end:  # it may have arrived: never sent again here
                raise self._unknown(message, dropped) from dropped.__cause__
            # The server dropped the connection we kept (idle timeout, restart, or a 421
            # reply) before the message's end went: open a new one and try once more.
            error = self._send_again(message)
            if error is not None:
                raise error from error.__cause__

    def send_many(self, messages: Iterable[OutgoingMessage]) -> Iterator[Sent]:
        """As ``MailTransport.send_many``; pipelined when the server offers PIPELINING.

        Each message's MAIL, RCPT and DATA go in one write with the end of the message before
        it, so a copy costs one round trip, and the next copy is made while the server reads
        this one. A message is yielded as sent only once the server said 250 to its end. If the
        connection drops, a message whose end had not gone out yet is tried once more on a new
        one, as ``send`` does; the one whose end went out and whose reply never came is yielded
        with a DeliveryUnknownError and not sent again: the server may have taken it.

        When no connection can be opened (the server unreachable, the login or the greeting
        refused), the message is yielded with that DeliveryTemporaryError and no more are
        drawn: each would wait for the same connect timeout or try the same refused login
        again, hundreds of times a batch (which gets an account locked), for the same answer.
        Likewise once SILENT_IN_A_ROW messages in a row failed for a reply that never came in
        time: a server that stopped answering would cost every message of the batch its
        ``timeout_seconds``, hours for a batch of 500.
        """
        silent = 0
        with contextlib.closing(self._send_many(messages)) as sent:
            for message, error in sent:
                yield message, error
                if error is None:
                    silent = 0
                elif _timed_out(error):
                    silent += 1
                    if silent >= SILENT_IN_A_ROW:
                        self._discard()  # replies may still be due on it
                        return

    def _send_many(self, messages: Iterable[OutgoingMessage]) -> Generator[Sent]:
        source = iter(messages)
        while (message := next(source, None)) is not None:
            try:
                smtp = self._connection()
            except _ConnectionProblem as problem:
                error = DeliveryTemporaryError(message.recipient, str(problem))
                error.__cause__ = problem.__cause__
                yield message, error
                return
            if not (message.smtp_ready and smtp.does_esmtp and smtp.has_extn("pipelining")):
                yield from super().send_many((message,))  # one at a time
                continue
            pipeline = Pipeline(smtp, self._where)
            try:
                yield from pipeline.run(message, source)
            except Dropped as dropped:
                self._discard()
                for unconfirmed in pipeline.in_flight:
                    if unconfirmed is pipeline.ended:
                        yield unconfirmed, self._unknown(unconfirmed, dropped)
                    else:
                        yield unconfirmed, self._send_again(unconfirmed)
            except BaseException:
                # Replies are still due on this connection (the caller stopped reading, or
                # the connection failed): it cannot carry another message.
                self._discard()
                raise
            if pipeline.drawn is not None:  # made but not sent (a drop, or not SMTP-ready)
                source = _prepend(pipeline.drawn, source)

    def _unknown(self, message: OutgoingMessage, dropped: Dropped) -> DeliveryUnknownError:
        error = DeliveryUnknownError(
            message.recipient,
            f"the whole message went to {self._where} but its reply never came ({dropped}); "
            "the server may have taken it",
        )
        error.__cause__ = dropped.__cause__
        return error

    def _send_again(self, message: OutgoingMessage) -> DeliveryError | None:
        """One more try, on a new connection, for a message the old one dropped before its
        end went out."""
        try:
            self._send_once(message)
        except Dropped as dropped:
            self._discard()
            if dropped.after_end:
                return self._unknown(message, dropped)
            error = DeliveryTemporaryError(
                message.recipient, f"{self._where} closed the connection again: {dropped}"
            )
            error.__cause__ = dropped.__cause__
            return error
        except DeliveryError as error:
            return error
        return None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _send_once(self, message: OutgoingMessage) -> None:
        recipient = message.recipient
        try:
            smtp = self._connection()
        except _ConnectionProblem as problem:
            raise DeliveryTemporaryError(recipient, str(problem)) from problem.__cause__
        try:
            send_ready(smtp, message)
        except smtplib.SMTPServerDisconnected as error:
            raise Dropped(str(error), after_end=isinstance(error, NoReplyToEnd)) from error
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients.get(recipient, (-1, b"refused"))
            if code == CLOSING:
                raise Dropped(f"{code} {reply_text(reply)}") from error
            raise refusal(recipient, f"{self._where} refused the recipient", code, reply) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == CLOSING:
                raise Dropped(f"{error.smtp_code} {reply_text(error.smtp_error)}") from error
            if isinstance(error, smtplib.SMTPSenderRefused):
                raise DeliveryTemporaryError(
                    recipient,
                    f"{self._where} refused the sender {error.sender!r} "
                    f"({error.smtp_code} {reply_text(error.smtp_error)}): check "
                    "service.sender_address (or [bounces], when it is a return path) and that "
                    "the server relays mail for it",
                ) from error
            raise refusal(
                recipient, f"{self._where} refused the message", error.smtp_code, error.smtp_error
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            self._discard()
            raise DeliveryTemporaryError(
                recipient, f"sending through {self._where} failed: {error}"
            ) from error

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        try:
            if settings.tls == "ssl":
                smtp: smtplib.SMTP = BoundedSmtpSsl(
                    settings.host,
                    settings.port,
                    timeout=settings.timeout_seconds,
                    context=self._context(),
                )
            else:
                smtp = BoundedSmtp(settings.host, settings.port, timeout=settings.timeout_seconds)
        except ssl.SSLCertVerificationError as error:
            raise _ConnectionProblem(self._unverified(error)) from error
        except smtplib.SMTPConnectError as error:  # a greeting other than 220
            raise _ConnectionProblem(
                f"{self._where} refused the connection: "
                f"{error.smtp_code} {reply_text(error.smtp_error)}"
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise _ConnectionProblem(f"cannot connect to {self._where}: {error}") from error
        if smtp.sock is not None:
            # Every write is a whole command group or message; none should wait for an ACK.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._greet(smtp)
            if settings.tls == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, self._password or "")
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise _ConnectionProblem(
                f"{self._where} refused the login of {settings.user!r} "
                f"({error.smtp_code} {reply_text(error.smtp_error)}): "
                f"check smtp.user and {self._password_from}"
            ) from error
        except ssl.SSLCertVerificationError as error:
            smtp.close()
            raise _ConnectionProblem(self._unverified(error)) from error
        except smtplib.SMTPNotSupportedError as error:
            smtp.close()
            wanted = "STARTTLS" if settings.tls == "starttls" else "AUTH"
            raise _ConnectionProblem(
                f"{self._where} does not offer {wanted} ({error}): check smtp.tls and smtp.port"
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            smtp.close()
            # A refusal (STARTTLS answered 454...) in the server's words, not smtplib's tuple.
            reason = (
                f"{error.smtp_code} {reply_text(error.smtp_error)}"
                if isinstance(error, smtplib.SMTPResponseException)
                else str(error)
            )
            raise _ConnectionProblem(
                f"cannot open a session with {self._where}: {reason}"
            ) from error
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        """EHLO, or HELO from a server that refuses EHLO (RFC 5321 4.1.4): without either,
        the server refuses every MAIL, which would read as the sender being refused."""
        code, _ = smtp.ehlo()
        if 200 <= code <= 299:
            return
        code, reply = smtp.helo()
        if not 200 <= code <= 299:
            smtp.close()
            raise _ConnectionProblem(
                f"{self._where} refused both EHLO and HELO ({code} {reply_text(reply)})"
            )

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            ca_file = self._settings.ca_file
            self._ssl_context = ssl.create_default_context(
                cafile=str(ca_file) if ca_file is not None else None
            )
        return self._ssl_context

    def _unverified(self, error: ssl.SSLCertVerificationError) -> str:
        return (
            f"the certificate of {self._where} does not verify ({error.verify_message}): "
            "give the authority that signed it in smtp.ca_file (a PEM file), or set smtp.host "
            "to a name the certificate holds"
        )


def _prepend(first: OutgoingMessage, rest: Iterator[OutgoingMessage]) -> Iterator[OutgoingMessage]:
    yield first
    yield from rest
