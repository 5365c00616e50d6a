"""Mail transports: where personal copies go — an outbox folder, an SMTP server, or memory.

Every transport raises only DeliveryTemporaryError (try again later: the ledger row stays pending),
its DeliveryUnknownError (the whole message went out but no reply came: the server may have taken
it, so a retry may deliver a second copy) or DeliveryPermanentError (the server refused this
recipient for good). A transport is used by one worker at a time; open one per process or thread.

``send_many`` takes a stream of messages and says what became of each, in order, once it is
known; the SMTP transport keeps two messages in flight on its connection (RFC 2920 pipelining),
the others take them one at a time.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from digest.config import SmtpSettings
from digest.errors import (
    ConfigError,
    DeliveryError,
    DeliveryPermanentError,
    DeliveryTemporaryError,
    DeliveryUnknownError,
)
from digest.records import OutgoingMessage

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Sent = tuple[OutgoingMessage, DeliveryError | None]  # a message, and what stopped it if anything


class MailTransport(Protocol):
    """Hands messages to the world. Use it as a context manager so the connection is closed."""

    def send(self, message: OutgoingMessage) -> None:
        """Deliver one message; raises DeliveryTemporaryError or DeliveryPermanentError."""
        ...

    def send_many(self, messages: Iterable[OutgoingMessage]) -> Iterator[Sent]:
        """Deliver ``messages`` in order, yielding each with None once the server took it, or
        with the DeliveryTemporaryError or DeliveryPermanentError that stopped it.

        Messages are drawn from ``messages`` only as they can go, so a generator that makes
        them one by one holds one or two at a time. A transport may stop drawing after a
        failure that every later message would meet too (the server unreachable): the
        messages it did not draw were not tried, and are the caller's to account for.
        """
        for message in messages:
            try:
                self.send(message)
            except DeliveryError as error:
                yield message, error
            else:
                yield message, None

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

    def path_for(self, message: OutgoingMessage) -> Path:
        return self.folder / outbox_file_name(message.message_id)

    def send(self, message: OutgoingMessage) -> None:
        path = self.path_for(message)
        temporary: str | None = None
        try:
            descriptor, temporary = self._temporary_file()
            with os.fdopen(descriptor, "wb") as file:
                file.write(message.data)
                if self._fsync:
                    file.flush()
                    os.fsync(file.fileno())
            Path(temporary).replace(path)
            temporary = None
        except (FileExistsError, NotADirectoryError) as error:
            # mkdir's "File exists" would read as a clash of message files: say what is in the way.
            raise DeliveryTemporaryError(
                message.recipient,
                f"cannot write {path}: the outbox {self.folder} is not a folder "
                f"({error.strerror}); move the file in its place away or point service.outbox "
                "elsewhere",
            ) from error
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

    def _temporary_file(self) -> tuple[int, str]:
        """A new hidden file in the folder, the folder made first when it is missing: at the
        first message, and whenever it has gone since. A reader of the outbox may take the
        messages by renaming the whole folder away, and `digest run` keeps its transport from
        cycle to cycle: made at the first message only, the folder was never made again, and
        every later copy failed until the run was restarted."""
        try:
            return tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        except FileNotFoundError:
            self.folder.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")

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
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context


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


def _prepend(first: OutgoingMessage, rest: Iterator[OutgoingMessage]) -> Iterator[OutgoingMessage]:
    yield first
    yield from rest


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
