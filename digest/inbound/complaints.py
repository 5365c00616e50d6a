"""Complaints: abuse feedback reports (ARF, RFC 5965) from mailbox providers' feedback loops.

    message/feedback-report part ─► Feedback-Type abuse, else ignored
    the returned message (message/rfc822 or text/rfc822-headers) ─► the reader, by a token of ours
        Return-Path (VERP) or the report's Original-Mail-From ─► (edition, subscriber)
        List-Unsubscribe (https or mailto) ─► (subscriber, list)
    no token that verifies ─► ignored: a report names nobody on its own word

Providers redact the recipient's address in many reports, which is why the reader is found by
our own signed tokens and never by an address in the report.
"""

from __future__ import annotations

import hashlib
import re
from email.message import Message

from digest.inbound import mime
from digest.inbound.events import COMPLAINT, InboundEvent, Reading, event_id, ignored, short
from digest.inbound.mailboxes import Mailboxes
from digest.mail.tokens import InvalidToken, TokenSigner

_UNSUBSCRIBE_TOKENS = (
    re.compile(r"/unsubscribe/([A-Za-z0-9_.-]{8,400})"),
    re.compile(r"subject=unsubscribe-([A-Za-z0-9_.-]{8,400})"),
)


def read_complaint(
    message: Message, report: Message, mailboxes: Mailboxes, signer: TokenSigner, data: bytes
) -> Reading:
    """An ARF report whose message/feedback-report part is ``report``."""
    fields = mime.field_blocks(report)
    feedback_type = mime.header(fields[0], "Feedback-Type").lower() if fields else ""
    if feedback_type != "abuse":
        return ignored(f"a feedback report of type {feedback_type or 'none'!r}, not abuse")
    returned = _returned_headers(message)
    delivery = None
    candidates = [mime.header(returned, "Return-Path")] if returned is not None else []
    candidates.append(mime.header(fields[0], "Original-Mail-From"))
    for candidate in candidates:
        delivery = mailboxes.delivery_in(candidate, signer) if candidate else None
        if delivery is not None:
            break
    member = _unsubscribe_token_in(returned, signer) if returned is not None else None
    message_id = mime.header(returned, "Message-ID") if returned is not None else ""
    detail = short(f"feedback type abuse; {mime.header(fields[0], 'User-Agent')}".strip("; "))
    if delivery is not None:
        edition_id, subscriber_id = delivery
        complaint_id = event_id(COMPLAINT, f"delivery {edition_id}.{subscriber_id}")
    elif member is not None:
        subscriber_id = member[0]
        about = message_id or "sha256 " + hashlib.sha256(data).hexdigest()
        complaint_id = event_id(COMPLAINT, about, subscriber_id)
    else:
        return ignored("a complaint naming no reader of ours (no valid return path or token)")
    event = InboundEvent(
        kind=COMPLAINT,
        event_id=complaint_id,
        source="smtp",
        subscriber_id=subscriber_id,
        detail=detail,
    )
    return Reading((event,))


def _returned_headers(message: Message) -> Message | None:
    for part, _ in mime.walk(message):
        if mime.content_type(part) in ("message/rfc822", "text/rfc822-headers"):
            return mime.headers_of(part)
    return None


def _unsubscribe_token_in(returned: Message, signer: TokenSigner) -> tuple[int, str] | None:
    """The (subscriber, list) of the first unsubscribe token in List-Unsubscribe that verifies."""
    value = mime.header(returned, "List-Unsubscribe")
    for pattern in _UNSUBSCRIBE_TOKENS:
        for match in pattern.finditer(value):
            try:
                return signer.read_unsubscribe_token(match[1])
            except InvalidToken:
                continue
    return None
