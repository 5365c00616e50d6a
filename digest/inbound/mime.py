"""Reading hostile mail safely: bounded parsing, a bounded walk of the parts, forgiving decoding.

Anyone can send mail to the bounce and unsubscribe addresses. Every reader here gives up with
``Unreadable`` (a reason for the log) rather than raise anything else or spend unbounded time:
too many parts or too deep a nesting is refused before the email package is asked to parse
(its parser recurses once per level), and a header or body in a charset nobody knows is read
with replacement characters.
"""

from __future__ import annotations

import email
import email.parser
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

MAX_PARTS = 64  # a DSN or ARF report has three or four; an unsubscribe mail a few
MAX_DEPTH = 6
MAX_DELIMITER_LINES = 512  # lines starting with "--" before anything is parsed
MAX_TEXT_CHARS = 200_000  # of one text part: diagnostics are at the top
# Of one header's value, before its encoded words are decoded, which the email package does
# in quadratic time (150,000 words in 1.5 MB took a minute). An address, a subject with its
# token, a List-Unsubscribe with two links take a few hundred.
MAX_HEADER_CHARS = 10_000
_CONTAINERS = re.compile(rb"boundary\s*=|content-type\s*:\s*message/", re.IGNORECASE)


class _Bounded(Message):
    """A message or part whose headers are read at most MAX_HEADER_CHARS long. The email
    package splits a header's parameters in quadratic time (a Content-Type of 300,000, 1.5 MB,
    took 13 s) whenever it asks for one: the boundary of every multipart part, a text part's
    charset. Every header value it reads goes through ``get``, a Header object (a value with
    8-bit bytes) as the text it splits."""

    def get(self, name: str, failobj: Any = None) -> Any:
        value = super().get(name, failobj)
        if value is failobj or value is None:
            return value
        text = value if isinstance(value, str) else str(value)
        return value if len(text) <= MAX_HEADER_CHARS else text[:MAX_HEADER_CHARS]


class Unreadable(Exception):  # a reason for the log; never leaves digest.inbound
    """The message cannot be read within the bounds; the text says why, for the log."""


def parse(data: bytes) -> Message:
    """``data`` as a message (compat32: headers stay raw strings until decoded here)."""
    containers = len(_CONTAINERS.findall(data))
    if containers > MAX_PARTS:
        raise Unreadable(f"{containers} nested parts or more (at most {MAX_PARTS} are read)")
    # Parts are cut at lines starting with "--": the parser would make an object of each. It
    # ends a line at a CR alone as at a CRLF or a LF, so "--" after a bare CR starts one too.
    delimiters = data.count(b"\n--") + data.count(b"\r--")
    if delimiters > MAX_DELIMITER_LINES:
        raise Unreadable(f"{delimiters} lines that may start parts (at most {MAX_DELIMITER_LINES})")
    try:
        return email.message_from_bytes(data, _class=_Bounded)
    except RecursionError:
        raise Unreadable("nested too deeply to parse") from None
    except Exception as error:  # the email package is meant not to raise; be sure
        raise Unreadable(f"cannot be parsed ({type(error).__name__})") from None


def walk(message: Message) -> Iterator[tuple[Message, int]]:
    """Every part with its depth, depth first, at most MAX_PARTS and MAX_DEPTH deep; the parts
    of a returned message (message/rfc822) are walked too."""
    stack = [(message, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            raise Unreadable(f"more than {MAX_PARTS} parts")
        yield part, depth
        children = payload(part)
        if isinstance(children, list) and depth < MAX_DEPTH:
            stack.extend(
                (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
            )


def payload(part: Message) -> list[Message] | str:
    """A part's payload: its parts, or its text as it came; '' when the email package cannot
    give it (a charset parameter with a NUL in it raises ValueError on 8-bit text)."""
    try:
        found = part.get_payload()
    except Exception:  # ValueError, or what else a hostile part reaches: no payload to read
        return ""
    if isinstance(found, list):
        return [child for child in found if isinstance(child, Message)]
    return found if isinstance(found, str) else ""


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a parameter in a broken encoding
        return "application/octet-stream"


def header(part: Message, name: str) -> str:
    """A header's value decoded (RFC 2047) to text on one line; '' when absent or unreadable."""
    raw = part.get(name)
    if raw is None:
        return ""
    value = str(raw)[:MAX_HEADER_CHARS]
    try:
        text = str(make_header(decode_header(value)))
    except Exception:  # unknown charset, broken encoded word
        text = value
    return " ".join(text.split())


def headers_of(part: Message) -> Message | None:
    """The headers a message/rfc822 or text/rfc822-headers part holds, as a message."""
    held = payload(part)
    if isinstance(held, list):
        first = held[0] if held else None
        return first if isinstance(first, Message) else None
    # A text part, which may come in base64 or quoted-printable like any other (a report
    # written with a MIME library's text part does): read raw, its headers were noise.
    text = text_of(part) if held else ""
    return email.parser.HeaderParser(_class=_Bounded).parsestr(text) if text else None


def text_of(part: Message) -> str:
    """A text part's body decoded (transfer encoding, then charset, with replacements)."""
    try:
        body = part.get_payload(decode=True)
    except Exception:  # a hostile part's transfer encoding: no body to read, as for no part
        return ""
    if not isinstance(body, bytes):
        return ""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        return body[: MAX_TEXT_CHARS * 4].decode(charset, "replace")[:MAX_TEXT_CHARS]
    except (LookupError, ValueError):
        return body[: MAX_TEXT_CHARS * 4].decode("latin-1")[:MAX_TEXT_CHARS]


def field_blocks(part: Message) -> list[Message]:
    """The field groups of a message/delivery-status or message/feedback-report part: the email
    package gives a list of header blocks, or a string when it could not tell."""
    held = payload(part)
    if isinstance(held, list):
        return [block for block in held if isinstance(block, Message)]
    parser = email.parser.HeaderParser(_class=_Bounded)
    text = held[:MAX_TEXT_CHARS].replace("\r\n", "\n")
    return [parser.parsestr(block) for block in text.split("\n\n") if block.strip()]
