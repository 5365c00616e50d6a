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
import errno
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from digest.errors import DeliveryError, DeliveryTemporaryError, OutboxUnavailableError
from digest.records import OutgoingMessage

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
# What stops every copy, not one: the folder read-only, not permitted, or its disk full.
_FOLDER_WIDE = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR}
)


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
    the file rather than adding a second one. A folder that can take no message (read-only, not
    permitted, its disk full, a file in its place) raises OutboxUnavailableError, not a
    delivery's failure: the batch stops, and its deliveries stay pending as they were. Files
    are readable by their owner only: they hold subscribers' addresses and personal
    unsubscribe links.
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
            raise OutboxUnavailableError(
                str(self.folder),
                f"it is not a folder ({error.strerror}); move the file in its place away",
            ) from error
        except OSError as error:
            if error.errno in _FOLDER_WIDE:
                # Every copy would meet it: none is tried, and no reader's delivery counts an
                # attempt that was the folder's doing.
                raise OutboxUnavailableError(str(self.folder), str(error.strerror)) from error
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
