"""A feed document's encoding: read as feedparser reads it, so that the guards on its bytes
(digest.ingest.safety) see the characters the parser will see, and handed on as UTF-8."""

from __future__ import annotations

import codecs
import re

from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import NonXMLContentType

PROBLEM_LIMIT = 300  # characters of the decoder's message on a declared encoding kept
_XML_DECLARATION = re.compile(r"<\?xml[^>]*>")
_UTF8_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"
# The encoding an ASCII-readable XML declaration names, and a Content-Type's charset parameter.
_DECLARED_ENCODING = re.compile(
    rb"""<\?xml\s[^>]{0,200}?encoding\s*=\s*["']([A-Za-z][\w.:-]{0,40})["']"""
)
_CHARSET_PARAMETER = re.compile(r"""charset\s*=\s*("[^"]*"|'[^']*'|[^;\s]*)""", re.IGNORECASE)
# Charsets servers stamp on whatever they serve (codec names, as codecs.lookup gives them).
_SERVER_DEFAULT_CHARSETS = frozenset({"iso8859-1", "ascii"})
_WIDE_ENCODINGS = ("utf-16", "utf-32")


def read_as_utf8(content: bytes, content_type: str | None) -> tuple[bytes, str | None, str | None]:
    """``content`` decoded as feedparser decodes it and written as UTF-8 with an XML declaration
    that says so; the encoding it was read from (None if nothing decoded it); and what was wrong
    with its declared encoding, as feedparser saw it, if anything."""
    if content_type:
        content_type = declared_over_default_charset(content, content_type)
    headers = {"content-type": content_type} if content_type else {}
    found: dict[str, object] = {}
    problem: object
    try:
        utf8 = convert_to_utf8(headers, without_leading_blanks(content), found)
    except ValueError:
        # The server's charset or the XML declaration names an encoding no codec can be looked
        # up by ("UTF-8\0" raises ValueError, not LookupError, which feedparser expects).
        utf8, read_as = read_undeclared(without_leading_blanks(content))
        problem = (
            "the document's declared encoding (its XML declaration or the server's charset) "
            f"names no encoding; it was read as {read_as}"
        )
        found = {"encoding": read_as}
    else:
        problem = found.get("bozo_exception")
    if isinstance(problem, NonXMLContentType):
        # Served as text/html, text/plain or octet-stream: a common mislabelling, and harmless;
        # a document that is no feed is refused by the parse, with the type it was served as.
        problem = None
    encoding = str(found.get("encoding") or "") or None
    return utf8, encoding, _bounded(str(problem)) if problem else None


def declared_over_default_charset(content: bytes, content_type: str) -> str:
    """``content_type`` with its charset replaced by the one the document's XML declaration
    names, when the server's is a default no publisher chose and the declaration reads the bytes.

    The charset of an XML type wins over the declaration (RFC 7303), but many servers stamp
    ISO-8859-1 or US-ASCII on everything they serve (Apache's old ``AddDefaultCharset``): an
    Arabic feed that declares windows-1256, or a Hebrew one that declares ISO-8859-8, then came
    out as Latin letters ("ãÍÇÏËÇÊ") with no warning at all. A UTF-16 or UTF-32 charset cannot
    be right either for a document whose declaration reads as ASCII: the whole feed was refused
    as no feed. A charset the publisher chose (ISO-8859-8 on a document declared UTF-8) still
    wins, and so does any charset when the declared encoding does not read the bytes.
    """
    media_type, separator, parameters = content_type.partition(";")
    served = _CHARSET_PARAMETER.search(parameters)
    if served is None:
        return content_type
    declared = _DECLARED_ENCODING.match(without_leading_blanks(content))
    if declared is None:
        return content_type
    try:
        served_codec = codecs.lookup(served.group(1).strip("\"'")).name
        declared_name = declared.group(1).decode("ascii")
        declared_codec = codecs.lookup(declared_name).name
    except (LookupError, ValueError):
        return content_type
    if served_codec == declared_codec or declared_codec.startswith(_WIDE_ENCODINGS):
        return content_type
    if served_codec not in _SERVER_DEFAULT_CHARSETS and not served_codec.startswith(
        _WIDE_ENCODINGS
    ):
        return content_type
    try:
        content.decode(declared_codec)
    except (UnicodeDecodeError, LookupError):
        return content_type
    replaced = parameters[: served.start(1)] + declared_name + parameters[served.end(1) :]
    return media_type + separator + replaced


def _bounded(text: str) -> str:
    """A message from the decoder, which quotes the declared encoding, cut to a readable size."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= PROBLEM_LIMIT else text[: PROBLEM_LIMIT - 1] + "…"


def read_undeclared(content: bytes) -> tuple[bytes, str]:
    """``content`` as UTF-8 with an XML declaration that says so, whatever it declared, and the
    encoding it was read as: UTF-16 or UTF-32 by their byte order mark, else UTF-8, else
    Windows-1252 (what feedparser tries when a declaration does not decode a document)."""
    encoding = "utf-8"
    if content.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        encoding = "windows-1252"
        text = content.decode(encoding, "replace")  # five bytes of it are not characters
    text = text.removeprefix("\ufeff")
    if (declaration := _XML_DECLARATION.match(text)) is not None:
        text = text[declaration.end() :]
    return _UTF8_DECLARATION + text.encode("utf-8", "replace"), encoding


def without_leading_blanks(content: bytes) -> bytes:
    """``content`` without the blank lines (and a byte order mark among them) that scripts often
    print before the XML declaration. Left there, they hide the declaration: its encoding is
    guessed instead of read, and expat refuses the document, leaving it to the loose parser.
    Only an ASCII-compatible document is touched: one that then starts with "<"."""
    stripped = content.lstrip(b" \t\r\n")
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].lstrip(b" \t\r\n")
    return stripped if stripped.startswith(b"<") else content
