"""Mail transports: where personal copies go — an outbox folder, an SMTP server, or memory.

Every transport raises only DeliveryTemporaryError (try again later: the ledger row stays pending)
or DeliveryPermanentError (the server refused this recipient for good). A transport is used by one
worker at a time; open one per process or thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from digest.config import SmtpSettings
from digest.errors import (
    ConfigError,
    DeliveryError,
    DeliveryPermanentError,
    DeliveryTemporaryError,
)
from digest.records import OutgoingMessage


class MailTransport(Protocol):
    """Hands messages to the world. Use it as a context manager so the connection is closed."""

    def send(self, message: OutgoingMessage) -> None:
        """Deliver one message; raises DeliveryTemporaryError or DeliveryPermanentError."""
        ...

    def close(self) -> None:
        """Release the connection or files held; the transport may be used again afterwards."""
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Outbox folder

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
_NUMBERED = re.compile(r"^(\d{1,12})\.(\d{1,12})\.(.+)$")
_MAX_NAME = 200  # well under the 255 bytes most filesystems allow


def outbox_file_name(message_id: str) -> str:
    """The outbox file name of a message: stable, filesystem-safe, sorted by edition, subscriber.

    ``<12.345.1a2b3c4d5e6f@example.org>`` becomes
    ``000000000012.000000000345.1a2b3c4d5e6f@example.org.eml``: the angle brackets go, any
    character other than letters, digits and ``@._+-`` becomes ``_``, and the edition and
    subscriber numbers that start the ids made by ``personalize`` are padded with zeros so that
    a listing sorts by edition, then subscriber. Other ids keep their (made safe) text.
    """
    name = _UNSAFE.sub("_", message_id.strip().removeprefix("<").removesuffix(">"))
    numbered = _NUMBERED.match(name)
    if numbered:
        edition, subscriber, rest = numbered.groups()
        name = f"{int(edition):012d}.{int(subscriber):012d}.{rest}"
    if not name or name.startswith("."):
        name = "_" + name  # no hidden files; the temporary files are the hidden ones
    if len(name) > _MAX_NAME:
        name = name[: _MAX_NAME - 17] + "-" + sha256(name.encode()).hexdigest()[:16]
    return name + ".eml"


class OutboxTransport(MailTransport):
    """Writes each message to ``folder`` as an .eml file named by ``outbox_file_name``.

    A file is written under a temporary name in the same folder and then renamed into place, so a
    reader never sees half a message, and sending the same message again after a crash replaces
    the file rather than adding a second one. Files are readable by their owner only: they hold
    subscribers' addresses and personal unsubscribe links.
    """

    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self._fsync = fsync  # off only where losing the last messages to a power cut is fine
        self._ready = False

    def path_for(self, message: OutgoingMessage) -> Path:
        return self.folder / outbox_file_name(message.message_id)

    def send(self, message: OutgoingMessage) -> None:
        path = self.path_for(message)
        temporary: str | None = None
        try:
            if not self._ready:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._ready = True
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            with os.fdopen(descriptor, "wb") as file:
                file.write(message.data)
                if self._fsync:
                    file.flush()
                    os.fsync(file.fileno())
            Path(temporary).replace(path)
            temporary = None
        except OSError as error:
            raise DeliveryTemporaryError(
                message.recipient,
                f"cannot write {path}: {error.strerror}; check that the outbox folder "
                "(service.outbox) is writable and the disk has room",
            ) from error
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    Path(temporary).unlink()

    def close(self) -> None:
        """Nothing is held open between messages."""


# ---------------------------------------------------------------------------------------------
# Memory


class MemoryTransport(MailTransport):
    """Keeps sent messages in ``sent``; for tests and previews.

    Put an error in ``failures`` under a recipient's address to have sending to them raise it.
    """

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failures: dict[str, DeliveryError] = {}
        self.closed = False

    def send(self, message: OutgoingMessage) -> None:
        failure = self.failures.get(message.recipient)
        if failure is not None:
            raise failure
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True


# ---------------------------------------------------------------------------------------------
# SMTP


CLOSING = 421  # "service not available, closing transmission channel" (RFC 5321)


class _ConnectionProblem(Exception):
    """The server could not be reached or would not let us in; the reason says which."""


class _Dropped(Exception):
    """The server closed the connection in the middle of a message."""


class SmtpTransport(MailTransport):
    """Sends through an SMTP server, on one connection opened at the first message and reused.

    ``settings.tls`` picks implicit TLS ("ssl", usually port 465), STARTTLS ("starttls", port 587)
    or a plain connection ("none", for a relay on the same host). If the server has dropped the
    connection since the last message (idle timeout, restart, a 421 reply), the transport
    reconnects and tries once more; only a message in flight at that moment may arrive twice,
    with the same Message-ID.

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
    ) -> None:
        if settings.user and not password:
            why = (
                f"smtp.user is {settings.user!r} but no password is set: "
                "set the DIGEST_SMTP_PASSWORD environment variable"
            )
            raise ConfigError("DIGEST_SMTP_PASSWORD", [("", why)])
        self._settings = settings
        self._password = password
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @property
    def _where(self) -> str:
        return f"the mail server {self._settings.host}:{self._settings.port}"

    def send(self, message: OutgoingMessage) -> None:
        for attempt in (1, 2):
            try:
                self._send_once(message)
                return
            except _Dropped as dropped:
                self._discard()
                if attempt == 2:
                    raise DeliveryTemporaryError(
                        message.recipient, f"{self._where} closed the connection again: {dropped}"
                    ) from dropped.__cause__
                # The server dropped the connection we kept (idle timeout, restart, or a 421
                # reply): open a new one and try once more.

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
            if message.smtp_ready:
                _send_ready(smtp, message)
            else:
                smtp.sendmail(message.sender, [recipient], message.data)
        except smtplib.SMTPServerDisconnected as error:
            raise _Dropped(str(error)) from error
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients.get(recipient, (-1, b"refused"))
            if code == CLOSING:
                raise _Dropped(f"{code} {_text(reply)}") from error
            raise _refusal(
                recipient, f"{self._where} refused the recipient", code, reply
            ) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == CLOSING:
                raise _Dropped(f"{error.smtp_code} {_text(error.smtp_error)}") from error
            if isinstance(error, smtplib.SMTPSenderRefused):
                raise DeliveryTemporaryError(
                    recipient,
                    f"{self._where} refused the sender {error.sender!r} "
                    f"({error.smtp_code} {_text(error.smtp_error)}): check service.sender_address "
                    "and that the server relays mail for it",
                ) from error
            raise _refusal(
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
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    timeout=settings.timeout_seconds,
                    context=self._context(),
                )
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        except (smtplib.SMTPException, OSError) as error:
            raise _ConnectionProblem(f"cannot connect to {self._where}: {error}") from error
        try:
            smtp.ehlo()
            if settings.tls == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, self._password or "")
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise _ConnectionProblem(
                f"{self._where} refused the login of {settings.user!r} "
                f"({error.smtp_code} {_text(error.smtp_error)}): "
                "check smtp.user and DIGEST_SMTP_PASSWORD"
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            smtp.close()
            wanted = "STARTTLS" if settings.tls == "starttls" else "AUTH"
            raise _ConnectionProblem(
                f"{self._where} does not offer {wanted} ({error}): check smtp.tls and smtp.port"
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            smtp.close()
            raise _ConnectionProblem(
                f"cannot open a session with {self._where}: {error}"
            ) from error
        return smtp

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context


def _send_ready(smtp: smtplib.SMTP, message: OutgoingMessage) -> None:
    """An SMTP-ready message (``digest.mail.message`` makes every personal copy so) sent as it
    is, its commands pipelined when the server allows (RFC 2920). smtplib's sendmail would
    rewrite line ends and double dots with two regular expression passes over every message.

    Raises the exceptions ``smtplib.SMTP.sendmail`` raises, so errors are read the same way.
    """
    sender, recipient = message.sender, message.recipient
    if smtp.does_esmtp and smtp.has_extn("pipelining"):
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
        mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
    else:
        mail = smtp.docmd("MAIL", f"FROM:<{sender}>")
        rcpt = smtp.docmd("RCPT", f"TO:<{recipient}>") if mail[0] == 250 else (503, b"")
        data = smtp.docmd("DATA") if rcpt[0] in (250, 251) else (503, b"")
    if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        smtp.send(b".\r\n")  # a server that said go ahead anyway gets an empty message
        smtp.getreply()
    if mail[0] != 250:
        _reset(smtp, mail[0])
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    if rcpt[0] not in (250, 251):
        _reset(smtp, rcpt[0])
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if data[0] != 354:
        _reset(smtp, data[0])
        raise smtplib.SMTPDataError(data[0], data[1])
    smtp.send(message.data + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    # As sendmail does: a refusal leaves the session usable for the next message, unless the
    # server is closing it (421), which the caller handles by reconnecting.
    if code != CLOSING:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()


def _refusal(recipient: str, what: str, code: int, reply: bytes | str) -> DeliveryError:
    reason = f"{what}: {code} {_text(reply)}"
    if 500 <= code <= 599:
        return DeliveryPermanentError(recipient, reason)
    return DeliveryTemporaryError(recipient, reason)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
