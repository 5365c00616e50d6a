"""Unsubscribes by mail: the mailto half of List-Unsubscribe (``subject=unsubscribe-TOKEN``)."""

from __future__ import annotations

import hashlib
import re
from email.message import Message

from digest.inbound import mime
from digest.inbound.events import UNSUBSCRIBE, InboundEvent, Reading, event_id, ignored, short
from digest.mail.tokens import InvalidToken, TokenSigner

# A reply keeps the subject behind "Re:", and some clients add words; the token is whole.
_SUBJECT_TOKEN = re.compile(r"unsubscribe-([A-Za-z0-9_.-]{8,400})", re.IGNORECASE)


def read_mailto(message: Message, signer: TokenSigner, data: bytes) -> Reading:
    """A mail to the unsubscribe address: the list and reader its subject's token names."""
    subject = mime.header(message, "Subject")
    match = _SUBJECT_TOKEN.search(subject)
    if match is None:
        return ignored(
            f"mail to the unsubscribe address without a token (subject {short(subject, 80)!r})"
        )
    try:
        subscriber_id, list_slug = signer.read_unsubscribe_token(match[1])
    except InvalidToken as error:
        return ignored(f"mail to the unsubscribe address: {error}")
    # The same mail delivered twice (a server retrying after a lost reply) has one Message-ID.
    about = mime.header(message, "Message-ID") or "sha256 " + hashlib.sha256(data).hexdigest()
    event = InboundEvent(
        kind=UNSUBSCRIBE,
        event_id=event_id("mailto", about, subscriber_id, list_slug),
        source="smtp",
        subscriber_id=subscriber_id,
        list_slug=list_slug,
        detail="mailto",
    )
    return Reading((event,))
