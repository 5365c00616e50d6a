"""What comes back from readers' mail servers and providers, as typed records.

a DSN, an ARF report, a mail to the unsubscribe address, a provider's webhook call
    ─► Reading(events, ignored)     events: InboundEvent, each with the id it is
                                    de-duplicated by; ignored: why something was not taken
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

EventKind = Literal["hard-bounce", "soft-bounce", "complaint", "unsubscribe"]
HARD_BOUNCE: Final = "hard-bounce"
SOFT_BOUNCE: Final = "soft-bounce"
COMPLAINT: Final = "complaint"
UNSUBSCRIBE: Final = "unsubscribe"

EVENT_ID_CHARS = 300  # the store's column; longer ids are hashed (see event_id)
DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One thing a reader's server, provider or the reader did, about one reader.

    A reader is named by ``subscriber_id`` (from a signed token of ours) or by ``email`` (from a
    provider whose signature was verified); ``list_slug`` only for an unsubscribe.
    """

    kind: EventKind
    event_id: str  # the same event reported twice has the same id
    source: str  # smtp, ses, mailgun
    subscriber_id: int | None = None
    email: str | None = None
    list_slug: str | None = None
    detail: str = ""  # the status and diagnostic, the feedback type: for the record


@dataclass(frozen=True, slots=True)
class Reading:
    """What one inbound message or webhook call said: its events, and why anything in it was
    left alone (None when everything was taken)."""

    events: tuple[InboundEvent, ...] = ()
    ignored: str | None = None


def ignored(reason: str) -> Reading:
    return Reading((), reason)


def event_id(*parts: object) -> str:
    """An event id from its parts, hashed when it would not fit the store's column."""
    text = storable(":".join(str(part) for part in parts))
    if len(text) <= EVENT_ID_CHARS:
        return text
    return f"{parts[0]}:sha256:{hashlib.sha256(text.encode('utf-8', 'replace')).hexdigest()}"


def short(text: str, limit: int = DETAIL_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters (diagnostics quote whole replies)."""
    one_line = " ".join(storable(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def storable(text: str) -> str:
    """``text`` with each NUL replaced (U+FFFD). A remote server's reply may hold any byte,
    and a DSN quotes it: PostgreSQL's text holds no NUL, so the record of such a bounce failed,
    the receiver answered 451, and the sending server tried again for days."""
    return text.replace("\x00", "\ufffd")
