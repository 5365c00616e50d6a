"""What one inbound message is: a complaint, a bounce, an unsubscribe, or nothing to act on.

    bytes ─► mime.parse (bounded) ─► a message/feedback-report part ─► complaints.read_complaint
                                   ─► a message/delivery-status part ─► bounces.read_dsn
                                   ─► sent to the unsubscribe address ─► mailto.read_mailto
                                   ─► sent to the bounce address ─► bounces.read_plain_bounce
                                   ─► else ignored, with the reason

Pure: no store, no clock. Whatever the bytes, a ``Reading`` comes back; nothing is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from digest.inbound import mime
from digest.inbound.bounces import delivery_named, read_dsn, read_plain_bounce
from digest.inbound.complaints import read_complaint
from digest.inbound.events import Reading, ignored
from digest.inbound.mailboxes import Mailboxes
from digest.inbound.mailto import read_mailto
from digest.mail.tokens import TokenSigner

_log = logging.getLogger(__name__)


def read_inbound(
    data: bytes,
    *,
    recipients: Sequence[str],
    mailboxes: Mailboxes,
    signer: TokenSigner,
) -> Reading:
    """Read one message received for ``recipients`` (the envelope's)."""
    try:
        return _read(data, recipients, mailboxes, signer)
    except mime.Unreadable as why:
        return ignored(f"unreadable message: {why}")
    except RecursionError:
        return ignored("unreadable message: nested too deeply")
    except Exception as error:  # a bug here must cost this message, never the receiver
        _log.exception("inbound message could not be read")
        return ignored(f"unreadable message ({type(error).__name__})")


def _read(
    data: bytes, recipients: Sequence[str], mailboxes: Mailboxes, signer: TokenSigner
) -> Reading:
    message = mime.parse(data)
    feedback = delivery_status = None
    for part, _ in mime.walk(message):
        kind = mime.content_type(part)
        if kind == "message/feedback-report" and feedback is None:
            feedback = part
        elif kind == "message/delivery-status" and delivery_status is None:
            delivery_status = part
    if feedback is not None:
        return read_complaint(message, feedback, mailboxes, signer, data)
    if delivery_status is not None:
        delivery = delivery_named(recipients, message, mailboxes, signer)
        return read_dsn(delivery_status, delivery)
    if any(mailboxes.is_unsubscribe(address) for address in recipients):
        return read_mailto(message, signer, data)
    if any(mailboxes.is_bounce(address) for address in recipients):
        delivery = delivery_named(recipients, message, mailboxes, signer)
        return read_plain_bounce(message, delivery)
    return ignored("not sent to the bounce or the unsubscribe address")
