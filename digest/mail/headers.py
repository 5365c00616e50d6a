"""Header text from feeds, subscribers and config made safe, and a message's headers checked.

    header_text(text, limit)       any text ─► one line a header can carry: RFC 2047 encoded
                                   words decoded (until stable, a few rounds at most), every
                                   control character and line or paragraph separator a space,
                                   each "=?" broken up so that nothing reads the value as encoded
                                   words again, cut at a word to ``limit`` characters
    block_problem(head, names)     the bytes of a header block ─► what is wrong with it, or None:
                                   CRLF line ends only, continuation lines start with a space or
                                   tab, no line over 998 octets, ASCII, exactly ``names`` in order
    decoded_problem(head)          a header block read as a reader's mail program reads it, every
                                   value decoded ─► the first value holding a line break, or None

Why decode at all, when the value is encoded again on the way out: Python's email package (and
every mail program) decodes encoded words in the text it is handed, also in the middle of a word
or inside quotes, and the email package then writes the decoded CR LF as a real line break. A
feed title holding ``=?utf-8?b?DQpSZXBseS1UbzogeA==?=`` became a Reply-To header that way. So the
text is decoded here and checked as text; no "=?" is left in it, so nothing decodes it again.

``header_text`` is cheap for the common value (printable, no "=?", short): one scan and a join.
``block_problem`` is one match of a compiled pattern, so it checks every copy; ``decoded_problem``
parses, so it checks what is built once per edition.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import unicodedata
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from digest.directions import closed_directions

# RFC 5322, section 2.1.1: a line is at most 998 characters, not counting its CRLF.
MAX_LINE_OCTETS = 998
# How many times encoded words are decoded in turn (a word may hold another): real text holds
# none, and after the last round "=?" is broken up anyway.
DECODE_ROUNDS = 4
# Characters that end a line in some mail program, parser or terminal: control characters
# (CR, LF, NEL, VT, FF, the file/group/record separators), the line and paragraph separators.
LINE_BREAKING = frozenset(("Cc", "Zl", "Zp"))
# An RFC 2047 encoded word: =?charset[*language]?B|Q?encoded-text?=. No "?" or white space
# inside a part, so a scan never goes past the next "?" (linear at any length).
_ENCODED_WORD = re.compile(r"=\?([^?\s*]*)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"\s*")
_ELLIPSIS = "…"


def header_text(text: str | None, limit: int) -> str:
    """``text`` as a header value: one line, no encoded word, at most ``limit`` characters, no
    direction control left open.

    Encoded words are decoded first, so a reader sees the text they stood for, and the line
    breaks they hid become spaces like any other. "=?" left in the result becomes "= ?": no
    mail program can then read encoded words (and their line breaks) into the value. Empty when
    nothing printable is left.
    """
    if not text:
        return ""
    if text.isprintable() and "=?" not in text and len(text) <= limit:
        return " ".join(text.split())  # the common case: only runs of space to squeeze
    # Decoding never makes text longer, so a bound on the input bounds the work. This one is
    # room for ``limit`` characters of any script in encoded words (Q: 12 per character).
    text = text[: max(limit * 24, 2_000)]
    for _ in range(DECODE_ROUNDS):
        if "=?" not in text:
            break
        decoded = decode_words(text)
        if decoded == text:
            break
        text = decoded
    text = "".join(_safe_char(char) for char in text) if not text.isprintable() else text
    text = " ".join(text.split()).replace("=?", "= ?")
    # After the cut, which may take a closer and leave its opener: a direction control left
    # open turns around what a mail program shows after the value (the address after a From
    # name, the rest of a subject).
    return closed_directions(cut(text, limit))


def _safe_char(char: str) -> str:
    kind = unicodedata.category(char)
    if kind in LINE_BREAKING:
        return " "
    if kind == "Cs":  # a lone surrogate cannot be encoded in any header
        return "\ufffd"
    return char


def cut(text: str, limit: int) -> str:
    """One-line ``text`` cut to at most ``limit`` characters at a word boundary, the cut marked."""
    if len(text) <= limit:
        return text
    kept = text[: limit - len(_ELLIPSIS) + 1]
    space = kept.rfind(" ")
    # A single very long word is cut where it is rather than dropped whole.
    kept = kept[:space] if space > limit // 2 else kept[: limit - len(_ELLIPSIS)]
    return kept.rstrip() + _ELLIPSIS


def decode_words(text: str) -> str:
    """``text`` with its RFC 2047 encoded words decoded, one round.

    As RFC 2047 says, white space between two adjacent encoded words is dropped, and adjacent
    words of one charset are decoded together (a character may be split between them). A word
    that does not decode (unknown charset, bad base64) is left as it is.
    """
    pieces: list[str] = []
    position = 0
    run: list[tuple[str, bytes]] = []  # (charset, bytes) of adjacent encoded words
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        raw = _word_bytes(match.group(2), match.group(3))
        if raw is not None and run and _BETWEEN_WORDS.fullmatch(between):
            run.append((match.group(1).lower(), raw))  # the space between them is dropped
        else:
            if run:
                pieces.append(_decode_run(run))
                run = []
            pieces.append(between)
            if raw is None:
                pieces.append(match.group())
            else:
                run.append((match.group(1).lower(), raw))
        position = match.end()
    if run:
        pieces.append(_decode_run(run))
    pieces.append(text[position:])
    return "".join(pieces)


def _word_bytes(encoding: str, encoded: str) -> bytes | None:
    data = encoded.encode("utf-8", "surrogatepass")
    if encoding in ("q", "Q"):
        return binascii.a2b_qp(data, header=True)  # "_" is a space in the Q encoding
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _decode_run(run: list[tuple[str, bytes]]) -> str:
    pieces: list[str] = []
    index = 0
    while index < len(run):
        charset, data = run[index]
        index += 1
        while index < len(run) and run[index][0] == charset:
            data += run[index][1]
            index += 1
        pieces.append(_decode_bytes(data, charset))
    return "".join(pieces)


def _decode_bytes(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset or "ascii", "replace")
    except (LookupError, ValueError, TypeError):
        # An unknown charset (or one that is no text encoding): what ASCII there is, shown.
        return data.decode("ascii", "replace")


def block_problem(head: bytes, names: Sequence[str]) -> str | None:
    """What is wrong with ``head``, a header block (each line ending CRLF, no blank line), when
    it should hold exactly the fields ``names`` in that order; None when nothing is."""
    # One match of a compiled pattern decides the common case (about a microsecond a copy);
    # the walk below runs only for a block that fails, to say why.
    if (
        head.isascii()
        and _block_pattern(tuple(names)).fullmatch(head)
        # A block this short has no line too long; a longer one is split to see.
        and (
            len(head) <= MAX_LINE_OCTETS + 2
            or max(map(len, head.split(b"\r\n"))) <= MAX_LINE_OCTETS
        )
    ):
        return None
    return _explain(head, names)


@functools.lru_cache(maxsize=16)
def _block_pattern(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """A header block of exactly ``names`` in order, each line CRLF-ended, continuation lines
    starting with a space or tab, no bare CR or LF anywhere (line lengths are checked apart)."""
    fields = (
        re.escape(name.encode("ascii")) + rb":[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*" for name in names
    )
    return re.compile(b"".join(fields), re.IGNORECASE)


def _explain(head: bytes, names: Sequence[str]) -> str:
    """What ``block_problem`` found wrong with ``head``, in words."""
    if not head.endswith(b"\r\n"):
        return "the header block does not end with CRLF"
    if not head.isascii():
        return "a header holds a byte that is not ASCII"
    found: list[str] = []
    for number, line in enumerate(head[:-2].split(b"\r\n"), start=1):
        if b"\r" in line or b"\n" in line:
            return f"header line {number} holds a bare CR or LF"
        if len(line) > MAX_LINE_OCTETS:
            return f"header line {number} is {len(line)} octets long, over {MAX_LINE_OCTETS}"
        if line[:1] in (b" ", b"\t"):
            if not found:
                return "the header block starts with a continuation line"
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not name or not _is_field_name(name):
            return f"header line {number} is neither a field nor a continuation: {line[:60]!r}"
        found.append(name.decode("ascii"))
    return _names_problem(found, names)


def _is_field_name(name: bytes) -> bool:
    # RFC 5322: printable ASCII but the colon; no space anywhere in it.
    return all(33 <= byte <= 126 for byte in name)


def _names_problem(found: Sequence[str], names: Sequence[str]) -> str:
    expected = {name.lower() for name in names}
    extra = [name for name in found if name.lower() not in expected]
    if extra:
        return f"a header the mailer does not write: {', '.join(extra)}"
    present = [name.lower() for name in found]
    missing = [name for name in names if name.lower() not in present]
    if missing:
        return f"a header is missing: {', '.join(missing)}"
    twice = sorted({name for name in found if present.count(name.lower()) > 1})
    if twice:
        return f"a header appears twice: {', '.join(twice)}"
    if [name.lower() for name in found] != [name.lower() for name in names]:
        return f"the headers are out of order: {', '.join(found)}"
    return "the header block is not as the mailer wrote it"


def decoded_problem(head: bytes) -> str | None:
    """The first header of ``head`` whose value, decoded as mail programs decode it, holds a
    line break or another control character but a tab; None when none does."""
    message = BytesHeaderParser(policy=default_policy).parsebytes(head + b"\r\n")
    for name, value in message.items():
        text = str(value)
        if any(line_breaking(char) for char in text):
            return f"the {name} header holds a line break once decoded: {text[:80]!r}"
    for defect in message.defects:
        return f"the header block does not parse cleanly: {defect}"
    return None


def line_breaking(char: str) -> bool:
    """Whether ``char``, found in a header's value, may end a line in some mail program or
    parser: a control character (a tab is white space a header may hold) or a line or
    paragraph separator."""
    return char != "\t" and unicodedata.category(char) in LINE_BREAKING
