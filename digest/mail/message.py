"""A message encoded once per edition, with holes that each subscriber's values fill as bytes.

    MessageTemplate(static headers, text, html)   once per edition:
        the text and HTML parts are split at the markers of ``digest.placeholders`` and every
        static piece is quoted-printable encoded once, each ending on a soft line break, so that
        every marker starts a line of the encoded body
    template.fill(headers, values)                 once per subscriber:
        personal headers + static pieces joined with the subscriber's values, each encoded alone

Why quoted-printable, with the holes at line starts, rather than 8bit: the message stays 7-bit
ASCII with lines under 76 characters, so no relay between us and the mailbox has to re-encode it
for a server without 8BITMIME, and a re-encoding in transit is what breaks DKIM body hashes.
Base64 would hide the HTML from filters that read it and cannot be spliced at arbitrary points.
A soft line break before and after each value keeps a value from ever being split across the
static lines around it, so a value of any length is encoded on its own, in microseconds.

The bytes are ready for SMTP as they are: CRLF line ends, and no line starts with a dot (a dot
that would start a line is encoded as ``=2E``), so a transport needs no dot-stuffing pass. Nor
does any start with "From " (its F is ``=46``), which an mbox file would store as ">From ".
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping

from digest import placeholders

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
MAX_LINE = 76  # RFC 2045: encoded lines are at most 76 characters


def qp_encode(text: str) -> bytes:
    """``text`` quoted-printable encoded: CRLF line ends, lines of at most 76 characters, none
    starting with a dot or "From ". Line breaks in ``text`` stay hard line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # binascii's encoder is in C; it breaks long lines with soft breaks at 76 characters and
    # encodes "=", control characters, non-ASCII bytes and whitespace at the end of a line.
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    if _needs_second_pass(encoded):
        encoded = _encode_unsafe_starts(encoded)
    return encoded.replace(b"\n", CRLF)


# What must not start a line of the message: a dot (SMTP would take a lone one for the end of the
# data, and strip one) and "From " (an mbox file starts each message at such a line, so mail
# stored in one has every such line of the body written ">From "; RFC 2049 says to encode it).
_UNSAFE_STARTS = (b".", b"From ")
# binascii writes the space or tab that ends a line as "=20" or "=09" after it has measured the
# line, so a line of 74 or 75 characters ending in one comes out 77 or 78 long.
_ENCODED_END_BLANKS = (b"=20", b"=09")


def _needs_second_pass(encoded: bytes) -> bool:
    """Whether a line of ``encoded`` may start unsafely or run past 76 characters."""
    return (
        encoded.startswith(_UNSAFE_STARTS)
        or b"\n." in encoded
        or b"\nFrom " in encoded
        or encoded.endswith(_ENCODED_END_BLANKS)
        or b"=20\n" in encoded
        or b"=09\n" in encoded
    )


def _safe_start(line: bytes) -> bytes:
    """``line`` with the dot or the F of "From " that starts it encoded; else as it is."""
    if line.startswith(b"."):
        return b"=2E" + line[1:]
    if line.startswith(b"From "):
        return b"=46" + line[1:]
    return line


def _encode_unsafe_starts(encoded: bytes) -> bytes:
    """Each line's unsafe start encoded, and each line over 76 characters split with soft
    breaks (the piece after a split may start unsafely in turn)."""
    lines: list[bytes] = []
    for line in encoded.split(b"\n"):
        line = _safe_start(line)
        while len(line) > MAX_LINE:
            cut = _cut(line)
            lines.append(line[:cut] + b"=")
            line = _safe_start(line[cut:])
        lines.append(line)
    return b"\n".join(lines)


def _cut(line: bytes) -> int:
    """Where to break an encoded line so the first piece and its "=" fit, never inside "=XX"."""
    cut = MAX_LINE - 1
    if line[cut - 1 : cut] == b"=":
        return cut - 1
    if line[cut - 2 : cut - 1] == b"=":
        return cut - 2
    return cut


def end_line(encoded: bytes) -> bytes:
    """Encoded text that ends on a line break, adding a soft one if it does not, so that what
    follows it starts a line. The last line is split first if the "=" would make it too long."""
    if not encoded or encoded.endswith(CRLF):
        return encoded
    start = encoded.rfind(CRLF) + 2 if CRLF in encoded else 0
    last = encoded[start:]
    if len(last) >= MAX_LINE:
        cut = _cut(last)
        rest = _encode_unsafe_starts(last[cut:])
        encoded = encoded[:start] + last[:cut] + SOFT_BREAK + rest.replace(b"\n", CRLF)
    return encoded + SOFT_BREAK


def encode_value(value: str) -> bytes:
    """A subscriber's value for a hole: encoded on lines of its own, ending on a line break."""
    return end_line(qp_encode(value))


# A part is its static pieces, encoded, and between each two of them the marker of a hole.
_Part = tuple[tuple[bytes, ...], tuple[str, ...]]


def _split(body: str) -> _Part:
    statics: list[bytes] = []
    holes: list[str] = []
    position = 0
    for match in placeholders.ANY.finditer(body):
        statics.append(end_line(qp_encode(body[position : match.start()])))
        holes.append(match.group())
        position = match.end()
    statics.append(qp_encode(body[position:]))
    return tuple(statics), tuple(holes)


class MessageTemplate:
    """The bytes of a multipart/alternative message (text, then HTML; UTF-8, quoted-printable)
    with the per-subscriber holes left open.

    ``static_headers`` are the headers every copy shares, folded, each line ending in CRLF, and
    must include MIME-Version and a Content-Type naming ``boundary``. The boundary must not occur
    in quoted-printable text: one starting "=_" never does, since there "=" is always followed by
    two hex digits or a line end (RFC 2045, section 6.7).
    """

    def __init__(self, *, static_headers: bytes, text: str, html: str, boundary: str) -> None:
        if not boundary.startswith("=_"):
            raise ValueError("the boundary must start with '=_' to be safe in quoted-printable")
        self.static_headers = static_headers
        self._text = _split(text)
        self._html = _split(html)
        self.holes = frozenset(self._text[1]) | frozenset(self._html[1])
        delimiter = b"--" + boundary.encode("ascii")
        self._text_head = CRLF + delimiter + CRLF + _part_headers("plain")
        self._html_head = CRLF + delimiter + CRLF + _part_headers("html")
        self._end = CRLF + delimiter + b"--" + CRLF

    def time_holes(self) -> frozenset[str]:
        """The time markers in the message, to be written in each subscriber's timezone."""
        return frozenset(hole for hole in self.holes if placeholders.time_of(hole) is not None)

    def fill(
        self,
        headers: bytes,
        text_values: Mapping[str, bytes],
        html_values: Mapping[str, bytes],
    ) -> bytes:
        """The whole message: static headers, then ``headers`` (this copy's own, folded, CRLF
        ended), then both parts with every hole filled from the values (``encode_value``)."""
        pieces = [self.static_headers, headers, self._text_head]
        _fill_part(pieces, self._text, text_values.__getitem__)
        pieces.append(self._html_head)
        _fill_part(pieces, self._html, html_values.__getitem__)
        pieces.append(self._end)
        return b"".join(pieces)


def _part_headers(subtype: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")


def _fill_part(pieces: list[bytes], part: _Part, value: Callable[[str], bytes]) -> None:
    statics, holes = part
    pieces.append(statics[0])
    for hole, static in zip(holes, statics[1:], strict=True):
        pieces.append(value(hole))
        pieces.append(static)
