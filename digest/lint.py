"""Checks a rendered edition must pass before any of its messages goes out.

    RenderedEdition + one personalized sample message ─► lint_edition ─► findings
    blocking findings ─► EditionLintError: the edition is not stored, nothing is queued or sent,
                         and the next tick builds it again (no article is lost) once fixed

Pure: it reads the two records it is given and touches nothing. The sample is a real personal
copy (``digest.mail.personalize``), so headers and filled-in links are checked as subscribers get
them. ``digest preview`` prints the same findings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser
from urllib.parse import urlsplit

from digest import placeholders
from digest.config import is_loopback_host
from digest.errors import EditionLintError
from digest.mail.headers import MAX_LINE_OCTETS, line_breaking
from digest.mail.personalize import COPY_HEADERS, SHARED_HEADERS
from digest.records import OutgoingMessage, RenderedEdition

# Gmail shows "[Message clipped]" and hides the rest (the unsubscribe link and the postal address
# with it) once a message's HTML passes about 102 KB; the limit is kept a little under that.
HTML_SIZE_LIMIT = 102_000
# Gmail drops a <style> block over 16 KB whole, and with it the phone and dark-mode rules.
STYLE_SIZE_LIMIT = 16_000
ONE_CLICK = "List-Unsubscribe=One-Click"
# Every header a copy may carry: what personalize writes, a DKIM signature, and the transfer
# encoding a single-part message has. Anything else was forged by the text of a header.
_KNOWN_HEADERS = frozenset(
    name.lower()
    for name in (*SHARED_HEADERS, *COPY_HEADERS, "DKIM-Signature", "Content-Transfer-Encoding")
)
_MARKER = re.compile(r"%%DIGEST-[A-Z-]+%%")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with an edition: which check, what to fix; blocking ones stop the edition."""

    check: str
    message: str
    blocking: bool = True

    def __str__(self) -> str:
        return f"{self.check}: {self.message}" + ("" if self.blocking else " (warning)")


class _Page(HTMLParser):
    """What the checks need from an HTML part: links, images, text, style blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and "href" in attributes:
            self.links.append((attributes["href"] or "").strip())
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        else:
            self.text.append(data)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _absolute_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def message_bodies(data: bytes) -> tuple[str | None, str | None]:
    """The plain-text and HTML parts of a whole message, decoded; None for a part it lacks."""
    return _bodies(_parse(data))


def _parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    text = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    # Parts travel with CRLF line endings; callers read and compare plain newlines.
    return (
        text.get_content().replace("\r\n", "\n") if isinstance(text, EmailMessage) else None,
        rich.get_content().replace("\r\n", "\n") if isinstance(rich, EmailMessage) else None,
    )


def _forged_header_findings(message: EmailMessage, data: bytes) -> Iterable[Finding]:
    """A header no part of the mailer writes, one written twice, a value that holds a line
    break once decoded, or a line too long for a mail server: text that reached a header
    (a feed's title through the subject) forged or broke it."""
    names = [name.lower() for name in message]  # iterating a message gives its field names
    unknown = sorted({name for name in names if name not in _KNOWN_HEADERS})
    twice = sorted({name for name in names if names.count(name) > 1})
    if unknown or twice:
        what = ", ".join([*(f"{name} (not the mailer's)" for name in unknown), *twice])
        yield Finding("headers", f"the personal copies carry forged headers: {what}")
    for name, value in message.items():
        text = str(value)
        if any(line_breaking(char) for char in text):
            yield Finding(
                "headers", f"the {name} header holds a line break once decoded: {text[:80]!r}"
            )
    head = data.partition(b"\r\n\r\n")[0]
    longest = max((len(line) for line in head.split(b"\r\n")), default=0)
    if longest > MAX_LINE_OCTETS:
        yield Finding(
            "headers",
            f"a header line is {longest} octets long; mail servers refuse one over "
            f"{MAX_LINE_OCTETS}",
        )


def one_click_url(message: EmailMessage) -> str | None:
    """The List-Unsubscribe URL that takes the one-click POST: https, or plain http on a
    loopback host (a local trial, whose base_url the settings allow only there)."""
    for url in re.findall(r"<(https?://[^>]+)>", str(message.get("List-Unsubscribe") or "")):
        parts = urlsplit(url)
        if parts.scheme == "https" or is_loopback_host(parts.hostname):
            return str(url)
    return None


def _header_findings(message: EmailMessage) -> Iterable[Finding]:
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id"):
        if not str(message.get(name) or "").strip():
            yield Finding("headers", f"the {name} header is missing from the personal copies")
    sender = getaddresses([str(message.get("From") or "")])
    if sender and sender[0][1] and not sender[0][0]:
        yield Finding("headers", "From has no display name: set service.sender_name in the config")
    if one_click_url(message) is None:
        yield Finding(
            "headers",
            "List-Unsubscribe has no <https://…> link; mailbox providers require one-click "
            "unsubscribe for bulk mail",
        )
    if str(message.get("List-Unsubscribe-Post") or "").strip() != ONE_CLICK:
        yield Finding("headers", f"List-Unsubscribe-Post must be exactly {ONE_CLICK!r} (RFC 8058)")


def _counted(check: str, found: Sequence[str], what: str, fix: str = "") -> Iterable[Finding]:
    """One finding for everything ``found`` (none when it is empty): how many, the first as an
    example, then what to do."""
    if found:
        yield Finding(check, f"{len(found)} {what}, e.g. {found[0][:80]!r}{fix}")


def _link_findings(page: _Page, part: str) -> Iterable[Finding]:
    # mailto: is absolute too, and the one-click alternative some readers use.
    bad_links = [
        url for url in page.links if not (_absolute_http(url) or url.startswith("mailto:"))
    ]
    yield from _counted(
        "links",
        bad_links,
        f"link(s) in the {part} are not absolute http(s) URLs",
        ": fix the template's href",
    )
    # alt="" is a picture a screen reader skips, as it should one its headline already says; no
    # alt at all has it read the address, and alt=" " is read by some as "blank".
    no_alt = [
        image.get("src") or ""
        for image in page.images
        if (alt := image.get("alt")) is None or (alt and not alt.strip())
    ]
    yield from _counted(
        "images",
        no_alt,
        "image(s) have no alt text",
        ': give every <img> an alt attribute in the template (alt="" when it says nothing)',
    )
    sources = [image.get("src") or "" for image in page.images]
    bad_sources = [source for source in sources if not _absolute_http(source)]
    yield from _counted("images", bad_sources, "image(s) do not load from an absolute http(s) URL")
    no_width = [image for image in page.images if not (image.get("width") or "").strip()]
    if no_width:
        yield Finding(
            "images",
            f"{len(no_width)} image(s) have no width attribute; Outlook shows them at full size",
            blocking=False,
        )


def lint_edition(
    rendered: RenderedEdition, sample: OutgoingMessage, *, postal_address: str
) -> tuple[Finding, ...]:
    """Every problem with ``rendered``, as ``sample`` (one personal copy of it) shows them."""
    findings: list[Finding] = []
    message = _parse(sample.data)
    findings.extend(_header_findings(message))
    findings.extend(_forged_header_findings(message, sample.data))
    text, rich = _bodies(message)

    if not (text or "").strip():
        findings.append(
            Finding("text-part", "the message has no plain-text part: restore digest.txt.j2")
        )
    if rich is None or not rich.strip():
        findings.append(Finding("html-part", "the message has no HTML part"))
        rich = ""

    page = _Page()
    page.feed(rich)
    page.close()
    findings.extend(_size_findings(rendered, rich, page))
    findings.extend(_postal_address_findings(postal_address, page, text))
    findings.extend(_unsubscribe_findings(message, page, text))
    findings.extend(_link_findings(page, "HTML part"))
    findings.extend(_placeholder_findings(message, text, rich))
    return tuple(findings)


def _size_findings(rendered: RenderedEdition, rich: str, page: _Page) -> Iterable[Finding]:
    """The HTML over Gmail's clipping limit, or its <style> block over the size Gmail keeps."""
    size = len(rich.encode("utf-8"))
    if size > HTML_SIZE_LIMIT:
        yield Finding(
            "size",
            f"the HTML is {size / 1000:.0f} KB, over Gmail's clipping limit of "
            f"{HTML_SIZE_LIMIT / 1000:.0f} KB (Gmail would hide the rest, unsubscribe link "
            f"included): lower max_articles of list {rendered.list_slug!r} or trim the "
            "template",
        )
    style_size = sum(len(style.encode("utf-8")) for style in page.styles)
    if style_size > STYLE_SIZE_LIMIT:
        yield Finding(
            "style",
            f"the <style> block is {style_size / 1000:.1f} KB; Gmail drops one over "
            f"{STYLE_SIZE_LIMIT / 1000:.0f} KB with its phone and dark-mode rules",
            blocking=False,
        )


def _postal_address_findings(
    postal_address: str, page: _Page, text: str | None
) -> Iterable[Finding]:
    """A part that does not show the sender's postal address."""
    address = _squash(postal_address)
    if address not in _squash(html.unescape("".join(page.text))):
        yield Finding("postal-address", "the HTML part does not show service.postal_address")
    if text is not None and address not in _squash(text):
        yield Finding("postal-address", "the plain-text part does not show service.postal_address")


def _unsubscribe_findings(
    message: EmailMessage, page: _Page, text: str | None
) -> Iterable[Finding]:
    """A part that does not show the one-click unsubscribe URL the headers give."""
    url = one_click_url(message)
    if url is None:
        return
    if url not in page.links:
        yield Finding(
            "unsubscribe",
            "the HTML part has no link to the unsubscribe URL: keep "
            "placeholders.UNSUBSCRIBE_URL as an href in the template",
        )
    if text is not None and url not in text:
        yield Finding(
            "unsubscribe",
            "the plain-text part does not show the unsubscribe URL: keep "
            "placeholders.UNSUBSCRIBE_URL in digest.txt.j2",
        )


def _placeholder_findings(message: EmailMessage, text: str | None, rich: str) -> Iterable[Finding]:
    """A marker of a personal field left in a copy, which the mailer did not fill."""
    left = {
        marker
        for body in (text or "", rich, *(str(value) for value in message.values()))
        for marker in _MARKER.findall(body)
    }
    if left:
        known = ", ".join(sorted(left & set(placeholders.ALL))) or "none"
        yield Finding(
            "placeholders",
            f"personal copies still show {', '.join(sorted(left))} (known markers among "
            f"them: {known}): a template prints a marker the mailer does not fill",
        )


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.blocking]


def reject_if_blocking(
    rendered: RenderedEdition, findings: Sequence[Finding], *, note: str = ""
) -> None:
    """Raise ``EditionLintError`` naming what to fix when any finding blocks the edition."""
    if blocking(findings):
        raise lint_error(rendered, findings, note=note)


def lint_error(
    rendered: RenderedEdition, findings: Sequence[Finding], *, note: str = ""
) -> EditionLintError:
    """The error that stops ``rendered`` for its blocking ``findings``; ``note`` is a last
    line that says more (which article was suspected)."""
    stoppers = blocking(findings)
    slot = f"{rendered.slot:%Y-%m-%d %H:%M %Z}".strip()
    lines = "\n".join(f"  - {finding}" for finding in stoppers)
    return EditionLintError(
        f"list {rendered.list_slug!r}: the edition of {slot} was not sent; fix "
        f"{'this' if len(stoppers) == 1 else 'these'} and it goes out at the next run:\n{lines}"
        + (f"\n  ({note})" if note else ""),
        findings=tuple(stoppers),
    )
