"""One subscriber's copy of a rendered edition: placeholders filled, a MIME message in bytes.

This is the per-subscriber step of a send (invariant 4): string substitution of the markers in
``digest.placeholders`` and a few headers. The edition's HTML is never parsed again here.

    multipart/alternative
    ├── text/plain; charset=utf-8   quoted-printable
    └── text/html; charset=utf-8    quoted-printable

Quoted-printable keeps every line under 78 characters whatever the template or feed produced, and
leaves the ASCII of the HTML readable in the raw message.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, Policy

from digest import placeholders
from digest.config import ListSettings, ServiceSettings
from digest.errors import DeliveryPermanentError
from digest.mail.subscribers import clean_name
from digest.mail.tokens import TokenSigner
from digest.records import OutgoingMessage, RenderedEdition, Subscriber

_MARKERS = re.compile("|".join(re.escape(marker) for marker in placeholders.ALL))


class _VerbatimHeader(UnstructuredHeader):
    """A header written exactly as given, on one line.

    The email package folds a long unstructured header that has no space in it by turning it
    into RFC 2047 encoded-words, which no mail client reads back as a URL (RFC 2369 headers hold
    ``<URL>``). Only used for values we build ourselves from ASCII, well under 998 characters.
    """

    name: str  # set by BaseHeader.init, which the registry mixes in

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _VerbatimHeader)  # type: ignore[arg-type]
# SMTP: CRLF line endings, headers folded at 78 characters, non-ASCII header text RFC 2047 encoded.
POLICY = SMTP.clone(header_factory=_HEADERS)


def personalize(
    rendered: RenderedEdition,
    subscriber: Subscriber,
    *,
    edition_id: int,
    service: ServiceSettings,
    digest_list: ListSettings,
    signer: TokenSigner,
    now: datetime,
) -> OutgoingMessage:
    """The message that carries ``rendered`` to ``subscriber``, dated ``now``.

    The Message-ID depends only on the edition and the subscriber, so a copy sent again after a
    crash carries the same one (invariant 3) and the recipient's mail client can drop the twin.
    Raises DeliveryPermanentError when the subscriber's address cannot go in a header.
    """
    if now.tzinfo is None:
        raise ValueError("personalize needs a timezone-aware now")
    domain = service.sender_address.rpartition("@")[2].lower()
    message_id = _message_id(rendered, edition_id, subscriber.id, domain)
    token = signer.unsubscribe_token(subscriber.id, digest_list.slug)
    unsubscribe_url = f"{service.base_url}/unsubscribe/{token}"
    name = clean_name(subscriber.name)
    greeting = f"Hello {name}," if name else "Hello,"

    text_values = {
        placeholders.GREETING: greeting,
        placeholders.UNSUBSCRIBE_URL: unsubscribe_url,
        placeholders.SUBSCRIBER_EMAIL: subscriber.email,
    }
    html_values = {marker: html.escape(value) for marker, value in text_values.items()}
    text = _MARKERS.sub(lambda match: text_values[match.group()], rendered.text)
    html_body = _MARKERS.sub(lambda match: html_values[match.group()], rendered.html)

    message = EmailMessage(policy=POLICY)
    try:
        message["From"] = Address(
            display_name=_one_line(service.sender_name), addr_spec=service.sender_address
        )
        message["To"] = Address(display_name=name or "", addr_spec=subscriber.email)
        if service.reply_to:
            message["Reply-To"] = Address(addr_spec=service.reply_to)
    except (ValueError, IndexError, HeaderParseError) as error:
        # The email package raises these for an address it cannot parse.
        raise DeliveryPermanentError(
            subscriber.email, f"not an address a message can be sent to ({error})"
        ) from error
    message["Subject"] = _one_line(rendered.subject)
    message["Date"] = now
    message["Message-ID"] = message_id
    message["List-Id"] = f"{_phrase(_one_line(digest_list.name))} <{digest_list.slug}.{domain}>"
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    # RFC 8058 one-click unsubscribe: mailbox providers POST to the URL above.
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["MIME-Version"] = "1.0"
    # A boundary starting "=_" can never occur in quoted-printable text, where "=" is always
    # followed by two hex digits or a line end (RFC 2045 section 6.7).
    message["Content-Type"] = (
        f'multipart/alternative; boundary="=_{message_id[1:].partition("@")[0]}"'
    )
    message.set_payload([_text_part("plain", text), _text_part("html", html_body)])

    return OutgoingMessage(
        sender=service.sender_address,
        recipient=subscriber.email,
        message_id=message_id,
        data=message.as_bytes(policy=POLICY),
    )


def _message_id(rendered: RenderedEdition, edition_id: int, subscriber_id: int, domain: str) -> str:
    # The list and slot go into the hash so that ids stay unique should the database (and its
    # edition numbers) ever start afresh.
    key = f"{rendered.list_slug}|{rendered.slot.isoformat()}|{edition_id}|{subscriber_id}"
    tag = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"<{edition_id}.{subscriber_id}.{tag}@{domain}>"


def _text_part(subtype: str, body: str) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    # binascii's encoder (in C) rather than email's: this runs for every subscriber. It breaks
    # lines at 76 characters and encodes trailing spaces, control characters and "=".
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def _one_line(text: str) -> str:
    """Header text with any line break or other control character turned into a space."""
    return clean_name(text) or ""


def _phrase(name: str) -> str:
    """A list name as the phrase of a List-Id header (RFC 2919).

    An ASCII name becomes a quoted-string. A non-ASCII one is left bare: folding the header turns
    its words into RFC 2047 encoded-words, and encoded-words are not allowed inside quotes.
    """
    if name.isascii():
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name
