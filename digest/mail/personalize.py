"""Each subscriber's copy of a rendered edition: the edition's message compiled once, then filled.

This is the per-subscriber step of a send (invariant 4). ``Personalizer`` builds the edition's
``MessageTemplate`` once (headers shared by every copy, both parts encoded); each copy then costs
two signed tokens, a few short values encoded, a join of bytes and, when configured, a DKIM
signature. The edition's HTML is never parsed again here.

    multipart/alternative
    ├── text/plain; charset=utf-8   quoted-printable
    └── text/html; charset=utf-8    quoted-printable

What differs per subscriber: To, Date, Message-ID, List-Unsubscribe (https and mailto, both
holding the subscriber's unsubscribe token), the greeting, the unsubscribe and preferences links,
the address the copy was sent to, and article times written in the subscriber's timezone; with
``[bounces] enabled``, the envelope sender too (VERP: ``bounces+EDITION-SUBSCRIBER-MAC@domain``,
one more HMAC per copy), so that a bounce names the delivery it is about (digest.inbound).

No header carries a line break, however the text was encoded (invariant 6): every value from a
feed, a subscriber or the config goes through ``digest.mail.headers.header_text``, and the bytes
are checked last, before anything is sent: the shared headers once per edition (parsed and
decoded as a reader's mail program would), each copy's own against the four it must hold.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import replace
from datetime import datetime
from email import base64mime, quoprimime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import (
    Address,
    HeaderRegistry,
    UniqueAddressHeader,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime as rfc5322_date
from zoneinfo import ZoneInfo

from digest import placeholders
from digest.config import BouncesSettings, ListSettings, ServiceSettings
from digest.errors import DeliveryPermanentError, HeaderCheckError, RenderError
from digest.mail.dkim import DkimSigner
from digest.mail.headers import block_problem, cut, decoded_problem, header_text
from digest.mail.message import MessageTemplate, encode_value
from digest.mail.reader_addresses import as_written
from digest.mail.tokens import TokenSigner
from digest.records import OutgoingMessage, RenderedEdition, Subscriber
from digest.render.text import one_line
from digest.wording import format_datetime, wording_for, year_of
from digest.zone_names import zone_named


class _VerbatimHeader(UnstructuredHeader):
    """A header written exactly as given, on one line.

    The email package folds a long unstructured header that has no space in it by turning it
    into RFC 2047 encoded-words, which no mail client reads back as a URL. Only used for values
    we build ourselves from ASCII, well under 998 characters.
    """

    name: str  # set by BaseHeader.init, which the registry mixes in

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


class _ListIdHeader(UnstructuredHeader):
    """List-Id (RFC 2919): a phrase, then the list's id in angle brackets.

    The email package encodes only the words of a non-ASCII name that hold non-ASCII letters,
    leaving "(", ")", ",", ";", ":", quotes and "<" bare beside them, where a phrase may not hold
    them: "Le Golfe (édition du matin)" gave ``Le Golfe =?utf-8?q?=28=C3=A9dition?= du matin)``,
    a phrase that ends before the id. Such a name is written as encoded words whole, whose
    Q and B encodings leave no special bare. An ASCII name is one quoted string on its line, as
    in From and To (``_phrase_line``): folded by the email package, a quoted string with a word
    too long for a line became encoded words, its quotes and backslashes encoded with the name,
    and mail programs showed them as part of it.
    """

    name: str  # set by BaseHeader.init, which the registry mixes in

    def fold(self, *, policy: Policy) -> str:
        phrase, _, list_id = str(self).rpartition(" <")
        if phrase.isascii():  # a quoted string (``_phrase``)
            return _phrase_line(self.name, phrase, f"<{list_id}")
        words = Header(phrase, "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {words}{policy.linesep} <{list_id}{policy.linesep}"


class _SenderHeader(UniqueAddressHeader):
    """From, its ASCII display name written as one quoted string (``_named_address``), a
    non-ASCII one as encoded words cut at its spaces (``_encoded_address``)."""

    name: str  # set by BaseHeader.init, which the registry mixes in

    def fold(self, *, policy: Policy) -> str:
        [address] = self.addresses
        return _address_header(self.name, address.display_name, address.addr_spec)


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("from", _SenderHeader)  # type: ignore[arg-type]
_HEADERS.map_to_type("feedback-id", _VerbatimHeader)  # type: ignore[arg-type]
_HEADERS.map_to_type("list-id", _ListIdHeader)  # type: ignore[arg-type]
# SMTP: CRLF line endings, headers folded at 78 characters, non-ASCII header text RFC 2047 encoded.
POLICY = SMTP.clone(header_factory=_HEADERS)

# An address we can put in a header and an SMTP envelope as it is (``normalize_email`` made it).
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]*)")
ADDRESS_CHARS = 254  # RFC 5321's limit on a forward path, address and brackets
SUBJECT_CHARS = 250  # render keeps subjects to 150; this bounds one stored by anything else
NAME_CHARS = 100  # a display name (sender, subscriber) or the phrase of List-Id
GREETING_NAME_CHARS = 500  # the body has no line limit, but a name is not a letter
# The headers every copy shares (Reply-To and Feedback-ID when configured), then each copy's
# own, in the order they are written.
SHARED_HEADERS = (
    "From",
    "Reply-To",
    "Subject",
    "List-Id",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "Auto-Submitted",
    "Precedence",
    "X-Auto-Response-Suppress",
    "MIME-Version",
    "Content-Type",
)
# Out-of-office replies go to the sender, whatever Reply-To says: each of these marks stops the
# responders that read it (sieve vacation and RFC 3834 ones, Gmail's, Exchange's) from answering
# every copy of every edition.
AUTO_RESPONSE_MARKS = (
    ("Auto-Submitted", "auto-generated"),
    ("Precedence", "bulk"),
    ("X-Auto-Response-Suppress", "OOF, AutoReply"),
)
# RFC 2047 allows 75; one on a folded line leaves room for the line's space and a field name.
_ENCODED_WORD_CHARS = 70
COPY_HEADERS = ("To", "Date", "Message-ID", "List-Unsubscribe")
# A display name that needs neither quotes nor encoding: atext words and spaces (RFC 5322).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class Personalizer:
    """Makes every subscriber's copy of one edition of one list."""

    def __init__(
        self,
        rendered: RenderedEdition,
        *,
        edition_id: int,
        service: ServiceSettings,
        digest_list: ListSettings,
        signer: TokenSigner,
        dkim: DkimSigner | None = None,
        bounces: BouncesSettings | None = None,
    ) -> None:
        self.rendered = rendered
        self.edition_id = edition_id
        self._service = service
        self._list = digest_list
        self._signer = signer
        self._dkim = dkim
        self._domain = service.sender_domain
        self._unsubscribe_address = service.unsubscribe_mailbox
        # The return path around each copy's delivery token, or None: the sender's address.
        self._verp: tuple[str, str] | None = None
        if bounces is not None and bounces.enabled:
            self._verp = (f"{bounces.local_part}+", f"@{bounces.domain or self._domain}")
        self._list_zone = ZoneInfo(digest_list.timezone)
        self._wording = wording_for(digest_list.language, digest_list.calendar)
        self._times: dict[str, dict[str, bytes]] = {}  # timezone name -> time hole -> value
        self._last_date: tuple[int, str] = (-1, "")
        key = f"{rendered.list_slug}|{rendered.slot.isoformat()}|{edition_id}"
        boundary = "=_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        self.template = MessageTemplate(
            static_headers=self._static_headers(boundary),
            text=rendered.text,
            html=rendered.html,
            boundary=boundary,
        )
        self._time_holes = self.template.time_holes()

    def message_for(self, subscriber: Subscriber, now: datetime) -> OutgoingMessage:
        """The copy for ``subscriber``, dated ``now``.

        The Message-ID depends only on the edition and the subscriber, so a copy sent again after
        a crash carries the same one (invariant 3) and the recipient's mail client can drop the
        twin. Raises DeliveryPermanentError when the address cannot go in a header.
        """
        if now.tzinfo is None:
            raise ValueError("personalize needs a timezone-aware now")
        address = subscriber.email
        if (
            not _ADDRESS.fullmatch(address)
            or ".." in address
            or address.startswith(".")
            or "=?" in address  # mail programs would read an encoded word into it
            or len(address) > ADDRESS_CHARS
        ):
            raise DeliveryPermanentError(address, "not an address a message can be sent to")
        message_id = self.message_id(subscriber.id)
        list_slug = self._list.slug
        token, preferences_token = self._signer.link_tokens(subscriber.id, list_slug)
        unsubscribe_url = f"{self._service.base_url}/unsubscribe/{token}"
        preferences_url = f"{self._service.base_url}/preferences/{preferences_token}"
        # As feed text is printed (one_line): a direction control the name leaves open would
        # turn what follows it around, the rest of the greeting ("Hello <RLO>Sam,") and the
        # address after it in the To line; fifty accents on a letter would ink the masthead.
        name = one_line(header_text(subscriber.name, GREETING_NAME_CHARS))
        words = self._wording
        greeting = words.greeting_to.format(name=name) if name else words.greeting

        headers = (
            _address_header("To", cut(name, NAME_CHARS), address) + f"Date: {self._date(now)}\r\n"
            f"Message-ID: {message_id}\r\n"
            # RFC 2369 and 8058: the https URL takes the one-click POST; mailto is for clients
            # that only send mail. Folded between the two, each URL stays whole on its line.
            f"List-Unsubscribe: <{unsubscribe_url}>,\r\n"
            f" <mailto:{self._unsubscribe_address}?subject=unsubscribe-{token}>\r\n"
        ).encode("ascii")
        # The last look before sending, a few lines long: these headers are the only ones that
        # differ per copy (the shared ones were checked once, when the template was built).
        problem = block_problem(headers, COPY_HEADERS)
        if problem is not None:
            raise DeliveryPermanentError(
                address, f"this copy's headers failed the last check before sending: {problem}"
            )
        times = self._times_in(subscriber.timezone)
        text_values = {
            placeholders.GREETING: encode_value(greeting),
            placeholders.UNSUBSCRIBE_URL: encode_value(unsubscribe_url),
            placeholders.PREFERENCES_URL: encode_value(preferences_url),
            placeholders.SUBSCRIBER_EMAIL: encode_value(as_written(address)),
            **times,
        }
        html_values = {
            **text_values,
            # URLs and the address hold nothing HTML escapes; the name may hold anything.
            placeholders.GREETING: encode_value(html.escape(greeting)),
        }
        data = self.template.fill(headers, text_values, html_values)
        if self._dkim is not None:
            data = self._dkim.sign(data)
        sender = self._service.sender_address
        if self._verp is not None:
            prefix, suffix = self._verp
            sender = prefix + self._signer.delivery_token(self.edition_id, subscriber.id) + suffix
        return OutgoingMessage(
            sender=sender,
            recipient=address,
            message_id=message_id,
            data=data,
            smtp_ready=True,  # MessageTemplate's guarantee; a DKIM header is folded ASCII too
        )

    def _date(self, now: datetime) -> str:
        # The header has whole seconds: one formatting per second, not per message.
        second = int(now.timestamp())
        if self._last_date[0] != second:
            self._last_date = (second, rfc5322_date(now))
        return self._last_date[1]

    def message_id(self, subscriber_id: int) -> str:
        # The list and slot go into the hash so that ids stay unique should the database (and
        # its edition numbers) ever start afresh.
        rendered, edition_id = self.rendered, self.edition_id
        key = f"{rendered.list_slug}|{rendered.slot.isoformat()}|{edition_id}|{subscriber_id}"
        tag = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        return f"<{edition_id}.{subscriber_id}.{tag}@{self._domain}>"

    def _times_in(self, timezone: str | None) -> dict[str, bytes]:
        """Every time hole's value in ``timezone`` (the list's when unset or unknown); computed
        once per timezone, since subscribers share a handful of them."""
        name = timezone or self._list.timezone
        values = self._times.get(name)
        if values is None:
            # Checked as the database lists it: a stored "Asia" (a folder) made ZoneInfo raise
            # IsADirectoryError, stopping the whole edition's delivery (digest.zone_names).
            zone = zone_named(name) or self._list_zone
            values = {}
            # The edition's year, read there and in the list's calendar.
            this_year = year_of(self.rendered.slot, zone, self._wording)
            for hole in self._time_holes:
                moment = placeholders.time_of(hole)
                assert moment is not None  # time_holes holds only time markers
                shown = format_datetime(moment, zone, self._wording, this_year=this_year)
                values[hole] = encode_value(shown)
            self._times[name] = values
        return values

    def _static_headers(self, boundary: str) -> bytes:
        """The headers every copy shares, checked; raises RenderError rather than let one out
        that a mail program would read as more (or other) headers than these."""
        service, digest_list = self._service, self._list
        subject = header_text(self.rendered.subject, SUBJECT_CHARS) or header_text(
            digest_list.name, SUBJECT_CHARS
        )
        message = EmailMessage(policy=POLICY)
        try:
            message["From"] = Address(
                display_name=header_text(service.sender_name, NAME_CHARS),
                addr_spec=service.sender_address,
            )
            if service.reply_to:
                message["Reply-To"] = Address(addr_spec=service.reply_to)
        except (ValueError, IndexError, HeaderParseError) as error:
            raise RenderError(
                f"service.sender_address or service.reply_to cannot go in a header ({error}): "
                "use a plain address such as news@example.org"
            ) from error
        message["Subject"] = subject
        list_name = header_text(digest_list.name, NAME_CHARS)
        message["List-Id"] = f"{_phrase(list_name)} <{digest_list.slug}.{self._domain}>"
        # RFC 8058 one-click unsubscribe: mailbox providers POST to the https URL.
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if service.feedback_id:
            message["Feedback-ID"] = service.feedback_id.format(
                list=digest_list.slug, edition=self.edition_id, domain=self._domain
            )
        for name, value in AUTO_RESPONSE_MARKS:
            message[name] = value
        message["MIME-Version"] = "1.0"
        message["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
        head = message.as_bytes(policy=POLICY).partition(b"\r\n\r\n")[0] + b"\r\n"
        expected = list(message.keys())  # the names written, in order
        problem = block_problem(head, expected) or decoded_problem(head)
        if problem is not None:
            raise HeaderCheckError(
                f"list {digest_list.slug!r}: the headers of the edition of "
                f"{self.rendered.slot:%Y-%m-%d %H:%M %Z} failed the last check before sending "
                f"({problem}); nothing was sent",
                problem,
            )
        return head


def personalize(
    rendered: RenderedEdition,
    subscriber: Subscriber,
    *,
    edition_id: int,
    service: ServiceSettings,
    digest_list: ListSettings,
    signer: TokenSigner,
    now: datetime,
    dkim: DkimSigner | None = None,
) -> OutgoingMessage:
    """One copy, compiling the edition for it; a send uses one ``Personalizer`` for all."""
    personalizer = Personalizer(
        rendered,
        edition_id=edition_id,
        service=service,
        digest_list=digest_list,
        signer=signer,
        dkim=dkim,
    )
    return personalizer.message_for(subscriber, now)


def _address_header(field: str, name: str | None, address: str) -> str:
    """A header of one address (To, From) and its display name, if any: an ASCII name as
    ``_named_address`` writes it, another as ``_encoded_address`` does."""
    if not name:
        return f"{field}: {address}\r\n"
    if name.isascii():
        return _named_address(field, name, address)
    return _encoded_address(field, name, address)


def _encoded_address(field: str, name: str, address: str) -> str:
    """A header of one address with a non-ASCII display name, the name as RFC 2047 encoded
    words (never quoted), one a line, each ending at a space of the name where one fits.

    The email package cut the words anywhere ("Martínez-Rodrígue" | "z"), and readers built on
    its default policy keep the folding space between two words of a name, against RFC 2047:
    they showed "Rodrígue z". Cut after a space (the space encoded in the word before), they
    show at most a space doubled, and RFC 2047 readers the name as it is."""
    words: list[str] = []
    chunk = ""
    for piece in re.findall(r"\S+\s*", name):  # each word of the name with the space after it
        if chunk and len(_encoded_word(chunk + piece)) > _ENCODED_WORD_CHARS:
            words.append(_encoded_word(chunk))
            chunk = ""
        chunk += piece
        while len(_encoded_word(chunk)) > _ENCODED_WORD_CHARS:  # a word too long for one
            size = len(chunk) - 1
            while len(_encoded_word(chunk[:size])) > _ENCODED_WORD_CHARS:
                size -= 1
            words.append(_encoded_word(chunk[:size]))
            chunk = chunk[size:]
    if chunk:
        words.append(_encoded_word(chunk))
    head = f"{field}: " + "\r\n ".join(words)
    # The address on the last word's line when it fits 78 characters there, else on its own.
    last_line = len(head) - head.rfind("\n") - 1
    fits = last_line + len(address) + 3 <= 78
    return head + (f" <{address}>\r\n" if fits else f"\r\n <{address}>\r\n")


def _encoded_word(text: str) -> str:
    """``text`` as one RFC 2047 encoded word in UTF-8, Q or B, whichever is shorter; the Q
    encoding leaves bare only what a phrase may hold (RFC 2047, section 5)."""
    data = text.encode("utf-8")
    q_word = quoprimime.header_encode(data, "utf-8")
    b_word = base64mime.header_encode(data, "utf-8")
    return q_word if len(q_word) <= len(b_word) else b_word


def _named_address(field: str, name: str, address: str) -> str:
    """A header of one address with an ASCII display name, as it is when it holds only words,
    else as one quoted string: the email package folds one too long for a line into bare words,
    its quotes lost, and a name holding "Bcc: x@evil.example" was then read as more addresses.
    The address goes on a line of its own when both do not fit 78 characters."""
    phrase = name if _PLAIN_NAME.fullmatch(name) else _phrase(name)
    return _phrase_line(field, phrase, f"<{address}>")


def _phrase_line(field: str, phrase: str, bracketed: str) -> str:
    """A header of an ASCII phrase and an address (or list id) in angle brackets, never folded
    inside the phrase; the bracketed part on a line of its own when both do not fit 78."""
    line = f"{field}: {phrase} {bracketed}\r\n"
    return line if len(line) <= 80 else f"{field}: {phrase}\r\n {bracketed}\r\n"


def _phrase(name: str) -> str:
    """A name as the phrase of a header (List-Id, RFC 2919; From and To, ``_named_address``).

    An ASCII name becomes a quoted-string. A non-ASCII one is left bare: ``_ListIdHeader`` writes
    it as RFC 2047 encoded-words, which are not allowed inside quotes.
    """
    if name.isascii():
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def fill_for_preview(
    rendered: RenderedEdition, *, service: ServiceSettings, digest_list: ListSettings
) -> RenderedEdition:
    """``rendered`` with its markers filled for a made-up reader with no name, times in the
    list's timezone: what ``digest preview`` shows in a browser."""
    zone = ZoneInfo(digest_list.timezone)
    wording = wording_for(digest_list.language, digest_list.calendar)
    values = {
        placeholders.GREETING: wording.greeting,
        placeholders.UNSUBSCRIBE_URL: f"{service.base_url}/unsubscribe/preview",
        placeholders.PREFERENCES_URL: f"{service.base_url}/preferences/preview",
        placeholders.SUBSCRIBER_EMAIL: "you@example.org",
    }

    this_year = year_of(rendered.slot, zone, wording)

    def value(match: re.Match[str]) -> str:
        moment = placeholders.time_of(match.group())
        if moment is not None:
            return format_datetime(moment, zone, wording, this_year=this_year)
        return values[match.group()]

    return replace(
        rendered,
        html=placeholders.ANY.sub(value, rendered.html),
        text=placeholders.ANY.sub(value, rendered.text),
    )
