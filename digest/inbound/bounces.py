"""Bounces: delivery status notifications (RFC 3464) and the common ones without a report part.

    the return path it came to (VERP) ─► the delivery, if its token verifies; else ignored
    message/delivery-status part ─► per recipient: Action failed + Status 5.x.x ─► hard
                                                   Action failed + 4.x.x ─► soft
                                                   Action delayed ─► nothing yet
    no report part, but from a mailer daemon ─► the SMTP codes in its text: only 5.x.x ─► hard,
                                                any 4.x.x ─► soft, none ─► ignored;
                                                a delay warning's (no 5.x.x) ─► nothing yet

Conservative on purpose, since a hard bounce stops a reader's mail: a status that says the
address is fine but the message was not (5.2.2 mailbox full, 5.2.3 and 5.3.4 too big, the
other 5.3.x the receiving system's own trouble, 5.4.7 delivery time expired, 5.6.x the message's
content or encoding refused, 5.7.x refused by policy, e.g. our sender's reputation) counts as
soft, and a bounce that names no delivery of ours (no valid VERP token) is ignored whatever it
says. A delay warning ("Action: delayed") is no bounce at all: the reader's server is still
being tried, and most such copies arrive; counted as soft, five delays of a slow (greylisting,
queue-bound) server suppressed a reader who had every copy. If the copy fails in the end, the
final notification says so, and counts. The same holds for the delay warnings older servers
send without a report part (an old Exim's "Warning: message … delayed 24 hours", an old
Sendmail's "THIS IS A WARNING MESSAGE ONLY", Exchange's "Delivery … has been delayed"), whose
quoted 4.x.x reply read as a soft bounce.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.message import Message

from digest.inbound import mime
from digest.inbound.events import (
    HARD_BOUNCE,
    SOFT_BOUNCE,
    EventKind,
    InboundEvent,
    Reading,
    event_id,
    ignored,
    short,
)
from digest.inbound.mailboxes import Mailboxes
from digest.mail.tokens import TokenSigner

# RFC 3463: subjects 0 to 7. Not a run of an IP address's octets: "connect to
# mx.example.net[52.5.1.100]: Connection timed out" read "5.1.100", a hard bounce.
_STATUS = re.compile(r"(?<![\d.])\b([245])\.([0-7])\.(\d{1,3})\b(?!\.\d)")
# A basic reply code only where a bounce quotes a server's reply ("host x said: 550 ..."),
# never a bare number (a street, a price).
_QUOTED_REPLY = re.compile(
    r"(?:said|error|reply|response|failed|smtp)[^\n]{0,80}?(?:\n[ \t]*)?\b([45][0-5][0-9])[ -]",
    re.IGNORECASE,
)
# RFC 3463 statuses that fault the message or the receiving system, not the address: mailbox
# full (which providers also say of abandoned ones, hence counted), message over a mailbox's
# limit (Gmail's "552-5.2.3 Your message exceeded Google's message size limits"), the mail
# system full, not accepting, not capable, message too big, misconfigured, delivery time
# expired. A whole edition's copies must not suppress their readers for its own size.
_NOT_THE_ADDRESS = {
    ("5", "2", "2"),
    ("5", "2", "3"),
    ("5", "3", "1"),
    ("5", "3", "2"),
    ("5", "3", "3"),
    ("5", "3", "4"),
    ("5", "3", "5"),
    ("5", "4", "7"),
    # Microsoft 365's own expiries, each a reader's server unreachable until the queue gave
    # up: "550 5.4.316 Message expired, connection refused", 5.4.317 timed out, 5.4.318
    # dropped, 5.4.312 a DNS query failing, 5.4.300 the plain one.
    ("5", "4", "300"),
    ("5", "4", "312"),
    ("5", "4", "316"),
    ("5", "4", "317"),
    ("5", "4", "318"),
}
# The server's reply in a refusal at the send ("mx:25 refused the address: 552 Too big").
_BASIC_REFUSAL = re.compile(r"(?:^|: )([45]\d\d)(?:[ -]|$)")
# RFC 5321's 552, "exceeded storage allocation": what a server without enhanced codes says of
# a mailbox full and of a message too big alike, neither the address's fault.
_NOT_THE_ADDRESS_REPLIES = {"552"}
# Whole subjects: 6 is the message's content or media (e.g. "554 5.6.0 Message content
# rejected"), 7 security or policy (a blocklist, our sender's reputation).
_NOT_THE_ADDRESS_SUBJECTS = {"6", "7"}
# Where a bounce without MIME parts starts the copy of the returned message (ours) in its own
# text: qmail's and Yahoo's, Exim's (with or without headers, or cut short), old Sendmail's.
_RETURNED_COPY = re.compile(
    r"^[ \t]*-{3,}[ \t]*(?:below this line is a copy of the message"
    r"|this is a copy of the (?:body of the )?message|the body of the message is"
    r"|(?:unsent|original|returned) message follows)",
    re.IGNORECASE | re.MULTILINE,
)
# A delay warning without a report part: by its subject's start (a bounce's subject may end
# with our edition's, whose stories may be "delayed") or by the warning's own words.
_DELAY_SUBJECT = re.compile(
    r"^\s*(?:warning:|delayed\b)|delivery status notification \(delay\)", re.IGNORECASE
)
_DELAY_TEXT = re.compile(
    r"this is a warning message only|you do not need to resend|has not yet been delivered"
    r"|delivery (?:to the following recipients )?(?:has been|is) delayed"
    r"|delivery attempts will continue|will (?:keep|continue) (?:trying|to try|retrying)"
    r"|still being retried|will retry for",
    re.IGNORECASE,
)
DELAY_WARNING = "a delay warning: the reader's server is still being tried; only a failure counts"
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery|mail administrator", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returned to sender|delivery (?:status|failure|failed|has failed)"
    r"|failure notice|mail delivery failed|could not be delivered|delivery notification",
    re.IGNORECASE,
)


def read_dsn(report: Message, delivery: tuple[int, int] | None) -> Reading:
    """A DSN whose message/delivery-status part is ``report``, about ``delivery``."""
    if delivery is None:
        return ignored("a delivery status notification naming no delivery of ours (no valid VERP)")
    worst: EventKind | None = None
    details = []
    delayed = False
    blocks = mime.field_blocks(report)
    for block in blocks[1:] or blocks:  # the first group is about the message, not a recipient
        action = mime.header(block, "Action").lower()
        delayed = delayed or action.startswith("delayed")
        status = mime.header(block, "Status")
        diagnostic = mime.header(block, "Diagnostic-Code")
        kind = _recipient_kind(action, status, diagnostic)
        if kind is None:
            continue
        details.append(short(f"{action} {status} {diagnostic}".strip(), 240))
        if worst != HARD_BOUNCE:
            worst = kind
    if worst is None and delayed:
        return ignored(DELAY_WARNING)
    if worst is None:
        return ignored("a delivery status notification that reports no failure")
    return _bounce(worst, delivery, "; ".join(details))


def read_plain_bounce(message: Message, delivery: tuple[int, int] | None) -> Reading:
    """A bounce without a report part ("Undelivered Mail Returned to Sender"), read from the
    SMTP codes its text quotes."""
    if delivery is None:
        return ignored("mail to the bounce address naming no delivery of ours (no valid VERP)")
    sender = mime.header(message, "From")
    subject = mime.header(message, "Subject")
    # Not the null sender alone: RFC 3834 has out-of-office replies use it too, and their text
    # may hold a date that reads like a status code ("back on 5.1.24").
    from_daemon = _DAEMON.search(sender) is not None
    looks_like_bounce = from_daemon or _BOUNCE_SUBJECT.search(subject)
    if _is_auto_reply(message, from_daemon) or not looks_like_bounce:
        return ignored(
            f"mail to the bounce address that is not a bounce (subject {short(subject, 80)!r})"
        )
    texts = [
        _before_returned_copy(mime.text_of(part))
        for part, _ in _outside_returned_message(message)
        if mime.content_type(part) == "text/plain"
    ]
    classes: set[str] = set()
    quoted: list[str] = []
    for text in texts:
        for match in _STATUS.finditer(text):
            classes.add(_class_of(match.groups()))
            quoted.append(match.group())
        for match in _QUOTED_REPLY.finditer(text):
            classes.add(_reply_class(match[1]))
            quoted.append(match[1])
    delayed = _DELAY_SUBJECT.search(subject) or any(_DELAY_TEXT.search(text) for text in texts)
    if delayed and "hard" not in classes:
        return ignored(DELAY_WARNING)  # as a DSN's "Action: delayed": the copy may yet arrive
    if not classes:
        return ignored("a bounce without a report part or an SMTP code to read")
    kind: EventKind = HARD_BOUNCE if classes == {"hard"} else SOFT_BOUNCE
    return _bounce(kind, delivery, f"no report part; codes {', '.join(dict.fromkeys(quoted))}")


def _before_returned_copy(text: str) -> str:
    """A bounce's text up to the copy of our message that qmail, Yahoo and Exim append to it
    inline: the edition's own words ("Django 4.2.1 is out", "error 503") are not the bounce's."""
    found = _RETURNED_COPY.search(text)
    return text[: found.start()] if found else text


def _is_auto_reply(message: Message, from_daemon: bool) -> bool:
    """An out-of-office or other automatic answer from a person's mailbox. RFC 3834's
    "Auto-Submitted: auto-replied" alone does not tell: Exim and Postfix put it on their
    bounces too ("Mail delivery failed: returning message to sender" from Mailer-Daemon), so
    from a mailer daemon it is a bounce. The older marks, X-Autoreply and "Precedence:
    auto_reply", only auto-responders write."""
    if mime.header(message, "X-Autoreply") or mime.header(message, "X-Autorespond"):
        return True
    if mime.header(message, "Precedence").lower() == "auto_reply":
        return True
    replied = mime.header(message, "Auto-Submitted").lower().startswith("auto-replied")
    return replied and not from_daemon


def _recipient_kind(action: str, status: str, diagnostic: str) -> EventKind | None:
    if not action.startswith("failed"):
        return None  # delivered, relayed, expanded, or delayed: nothing has failed yet
    found = _STATUS.search(status) or _STATUS.search(diagnostic)
    if found is None:
        return SOFT_BOUNCE  # failed, but not said how: not enough to stop a reader's mail
    code = found.groups()
    if code == ("5", "0", "0"):
        # "5.0.0" says no more than "failed": Postfix writes it for a server's reply that had
        # no enhanced code of its own. The reply itself may say more ("552 Message size
        # exceeds fixed limit"), and only to make the bounce soft.
        said = _STATUS.search(diagnostic) or _QUOTED_REPLY.search(diagnostic)
        if said is not None:
            quoted = _class_of(said.groups()) if said.re is _STATUS else _reply_class(said[1])
            if quoted == "soft":
                return SOFT_BOUNCE
    return HARD_BOUNCE if _class_of(code) == "hard" else SOFT_BOUNCE


def refusal_faults_the_address(reply: str) -> bool:
    """Whether a server's refusal of a copy at the send (its reply, as text) says the address
    is gone, by the rules a bounce is read by: not when it faults the message or the sender
    (5.7.x a blocklist or our reputation, 5.2.2, 5.3.4, 5.6.x, a bare 552), which would refuse
    every reader at that server alike."""
    found = _STATUS.search(reply)
    if found is not None:
        return _class_of(found.groups()) == "hard"
    basic = _BASIC_REFUSAL.search(reply)
    return basic is None or _reply_class(basic[1]) == "hard"


def _reply_class(reply: str) -> str:
    """A basic reply code's class, for a server that gives no enhanced one."""
    if reply.startswith("4") or reply in _NOT_THE_ADDRESS_REPLIES:
        return "soft"
    return "hard"


def _class_of(code: tuple[str, ...]) -> str:
    klass, subject, _ = code
    if klass != "5" or subject in _NOT_THE_ADDRESS_SUBJECTS or code in _NOT_THE_ADDRESS:
        return "soft"
    return "hard"


def _outside_returned_message(message: Message) -> Iterable[tuple[Message, int]]:
    """The parts of a bounce, but those of the message it returns (ours, whose text is not the
    bounce's)."""
    inside: list[Message] = []
    for part, depth in mime.walk(message):
        if any(part is seen for seen in inside):
            continue
        if mime.content_type(part) == "message/rfc822":
            payload = mime.payload(part)
            if isinstance(payload, list):
                inside.extend(_descendants([p for p in payload if isinstance(p, Message)]))
            continue
        yield part, depth


def _descendants(parts: list[Message]) -> list[Message]:
    found: list[Message] = []
    stack = list(parts)
    while stack and len(found) < mime.MAX_PARTS:
        part = stack.pop()
        found.append(part)
        payload = mime.payload(part)
        if isinstance(payload, list):
            stack.extend(child for child in payload if isinstance(child, Message))
    return found


def _bounce(kind: EventKind, delivery: tuple[int, int], detail: str) -> Reading:
    edition_id, subscriber_id = delivery
    return Reading(
        (
            InboundEvent(
                kind=kind,
                # The delivery stands for the original Message-ID and recipient (ours is made
                # from the two): a second DSN about the same copy and kind is the same event.
                event_id=event_id(kind, f"delivery {edition_id}.{subscriber_id}"),
                source="smtp",
                subscriber_id=subscriber_id,
                detail=short(detail),
            ),
        )
    )


def delivery_named(
    recipients: Sequence[str], message: Message, mailboxes: Mailboxes, signer: TokenSigner
) -> tuple[int, int] | None:
    """The delivery the bounce is about: from the return path it was sent to, else from the
    headers that carry it (Delivered-To, X-Original-To, the returned message's Return-Path).
    Whatever the place, only a token that verifies counts."""
    candidates = list(recipients)
    candidates += [mime.header(message, name) for name in ("Delivered-To", "X-Original-To", "To")]
    for part, _ in mime.walk(message):
        if mime.content_type(part) in ("message/rfc822", "text/rfc822-headers"):
            returned = mime.headers_of(part)
            if returned is not None:
                candidates.append(mime.header(returned, "Return-Path"))
    for candidate in candidates:
        delivery = mailboxes.delivery_in(candidate, signer) if candidate else None
        if delivery is not None:
            return delivery
    return None
