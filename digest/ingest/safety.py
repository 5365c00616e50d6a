"""Guards on a feed's bytes before the XML parser sees them.

feedparser 6.0.x has holes a hostile feed can reach, so the bytes are made safe first:

- **Entity declarations** are removed. expat refuses an amplifying entity, but feedparser then
  hands the document to its loose parser, which expands the declared entities anyway (a 9 KB feed
  becomes a 6 MB description even before expat objects). Without an ``<!ENTITY`` no parser can
  expand or fetch anything; references to the removed entities stay literal text.
- **Author fields** (``author``, ``dc:creator``, ``webMaster``...) that are over-long, or hold a run
  of address characters longer than any real address part, are emptied: feedparser's e-mail regex
  backtracks quadratically on them.
- **Characters XML forbids** (NUL and the other C0 controls but tab and line breaks, and character
  references to them, to surrogates or past U+10FFFF) are removed or made U+FFFD. Stray control
  characters pasted from word processors are common in real feeds; each makes expat refuse the
  whole document, and a reference to a surrogate then crashes feedparser's fallback parser too,
  losing every entry.
- **HTML entities** that XML does not define (``&nbsp;``, ``&rsquo;``, ``&eacute;``...) are written
  as the numeric references of their characters: feeds use them all the time, and each made expat
  refuse the whole document, leaving it to the loose parser (slower, and a warning on the feed).
- **Base addresses** (``xml:base``) that urllib cannot read are removed: feedparser resolves
  every later link against the base in force, and each of those failed and came out empty,
  losing the entry and every one after it.
- **Encodings** (digest.ingest.encodings): the guards must see the characters the parser will
  see, so the document is first decoded the way feedparser decodes it (its own
  ``convert_to_utf8``: HTTP charset, XML declaration, byte order mark, then guesses) and handed
  on as UTF-8. UTF-16, UTF-7 or EBCDIC cannot hide an ``<!ENTITY`` from the guards.

What was removed is reported, so it can be kept on the feed as a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from html.entities import html5
from urllib.parse import urljoin, urlsplit

from digest.ingest.encodings import read_as_utf8

AUTHOR_FIELD_LIMIT = 512  # bytes; a real byline is far shorter
ADDRESS_RUN_LIMIT = 64  # characters; RFC 5321 caps an address's local part at 64

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
# The rest of a markup declaration up to its closing ">", quoted strings skipped. Each alternative
# starts with a different character, so the match never backtracks more than linearly.
_DECLARATION_REST = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")
_AUTHOR_FIELD = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?"
    rb"(?:author|creator|webmaster|managingeditor|publisher|contributor|owner|name|email)"
    rb"(?:\s[^<>]*)?>",
    re.IGNORECASE,
)
_ADDRESS_RUN = re.compile(rb"[A-Za-z0-9_.+-]{%d}" % (ADDRESS_RUN_LIMIT + 1))
# In UTF-8 each of these is one byte that is never part of another character.
_FORBIDDEN_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# The character references that may name a forbidden code point: hex 0-1F, D800-DFFF, FFFE, FFFF
# and anything of five digits or more; decimal 0-31 and anything of five digits or more. The
# common ones ("&#8217;", "&#x2019;") do not match, so checking the rest costs next to nothing.
# Leading zeros are skipped possessively, so no run of digits makes the pattern backtrack.
_SUSPECT_REFERENCE = re.compile(
    rb"&#(?:[xX](?=[0-9a-fA-F])0*+"
    rb"([0-9a-fA-F]?|1[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF]|[0-9a-fA-F]{5,}+)"
    rb"|(?=[0-9])0*+([12]?[0-9]|3[01]|[0-9]{5,}+|));"
)
_REPLACEMENT_REFERENCE = b"&#xFFFD;"
# An xml:base attribute (feedparser also takes a plain "base") and its quoted value; a value
# stops at "<", which XML does not allow in one, so a quote never closed costs a short scan.
_BASE_ATTRIBUTE = re.compile(rb"""(?<=\s)(?:xml:)?base\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""", re.I)
_SOME_BASE = "http://feed.example/a/"
# A named reference other than the five XML defines; the look-ahead keeps "&amp;" and the like,
# frequent in escaped HTML, from costing a call each.
_HTML_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")


@dataclass(frozen=True, slots=True)
class GuardedDocument:
    """A feed document made safe to parse, and what was taken out of it."""

    content: bytes  # UTF-8, with an XML declaration that says so
    encoding: str | None  # what the document was decoded from; None if nothing decoded it
    encoding_problem: str | None = None  # a wrong or missing declaration, as feedparser saw it
    entities_removed: int = 0
    author_fields_emptied: int = 0
    forbidden_characters: int = 0
    bases_removed: int = 0

    @property
    def warnings(self) -> list[str]:
        notes = []
        if self.forbidden_characters:
            notes.append(
                f"{self.forbidden_characters} character(s) that XML forbids (control characters, "
                "or references to them or to surrogates) were removed"
            )
        if self.entities_removed:
            notes.append(
                f"{self.entities_removed} entity declaration(s) in the DOCTYPE were removed "
                "unexpanded (entity expansion is refused: it is how entity-bomb and "
                "external-entity attacks work)"
            )
        if self.author_fields_emptied:
            notes.append(
                f"{self.author_fields_emptied} over-long author field(s) were emptied "
                f"(longer than {AUTHOR_FIELD_LIMIT} bytes, or an unbroken run of more than "
                f"{ADDRESS_RUN_LIMIT} address characters)"
            )
        if self.bases_removed:
            notes.append(
                f"{self.bases_removed} xml:base address(es) that cannot be read were removed "
                "(the links in their scope were read against the entry or the feed instead)"
            )
        return notes


def guard_document(content: bytes, content_type: str | None) -> GuardedDocument:
    """``content`` decoded to UTF-8, entity declarations removed, author fields bounded."""
    utf8, encoding, problem = read_as_utf8(content, content_type)
    utf8, forbidden = remove_forbidden_characters(utf8)
    utf8, entities = remove_entity_declarations(utf8)
    utf8 = html_entities_as_numbers(utf8)
    utf8, authors = bound_author_fields(utf8)
    utf8, bases = remove_unreadable_bases(utf8)
    return GuardedDocument(
        content=utf8,
        encoding=encoding,
        encoding_problem=problem,
        entities_removed=entities,
        author_fields_emptied=authors,
        forbidden_characters=forbidden,
        bases_removed=bases,
    )


def remove_unreadable_bases(content: bytes) -> tuple[bytes, int]:
    """UTF-8 ``content`` without the ``xml:base`` attributes whose address urllib cannot read
    (brackets that hold no IPv6 address: "http://[x/"), and how many there were.

    feedparser keeps such a base and resolves every later link against it, so each of them
    failed and came out empty: the entry that carried it and every entry after it were lost.
    """
    if b"base" not in content:
        return content, 0
    removed = 0

    def remove(attribute: re.Match[bytes]) -> bytes:
        nonlocal removed
        value = unescape(
            (attribute.group(1) or attribute.group(2) or b"").decode("utf-8", "replace")
        )
        try:
            urljoin(_SOME_BASE, value)
            urlsplit(value).port  # noqa: B018 -- raises ValueError for a port that is no number
        except ValueError:
            removed += 1
            return b" "
        return attribute.group(0)

    return _BASE_ATTRIBUTE.sub(remove, content), removed


def remove_forbidden_characters(content: bytes) -> tuple[bytes, int]:
    """UTF-8 ``content`` without the control characters XML forbids, its character references
    to forbidden code points replaced by one to U+FFFD, and how many of both there were."""
    allowed = content.translate(None, _FORBIDDEN_CONTROLS)
    removed = len(content) - len(allowed)
    if b"&#" not in allowed:
        return allowed, removed
    replaced = 0

    def replace(reference: re.Match[bytes]) -> bytes:
        nonlocal replaced
        hexadecimal = reference.group(1)
        digits = reference.group(2) if hexadecimal is None else hexadecimal
        base = 10 if hexadecimal is None else 16
        if len(digits) <= 7 and _xml_allows(int(digits or "0", base)):
            return reference.group(0)
        replaced += 1
        return _REPLACEMENT_REFERENCE

    allowed = _SUSPECT_REFERENCE.sub(replace, allowed)
    return allowed, removed + replaced


def html_entities_as_numbers(content: bytes) -> bytes:
    """UTF-8 ``content`` with each HTML named reference XML does not define ("&nbsp;") written as
    the numeric references of its characters ("&#160;"); unknown names are left as they are.

    Run after ``remove_entity_declarations``: a name the document declared itself is then no
    longer declared, and reads as the HTML character it names, if any.
    """
    if b"&" not in content:
        return content

    def numeric(reference: re.Match[bytes]) -> bytes:
        characters = html5.get(reference.group(1).decode("ascii") + ";")
        if characters is None:
            return reference.group(0)
        return b"".join(b"&#%d;" % ord(character) for character in characters)

    return _HTML_ENTITY.sub(numeric, content)


def _xml_allows(code_point: int) -> bool:
    """Whether XML 1.0 allows the character (its production ``Char``)."""
    return (
        code_point in (0x9, 0xA, 0xD)
        or 0x20 <= code_point <= 0xD7FF
        or 0xE000 <= code_point <= 0xFFFD
        or 0x10000 <= code_point <= 0x10FFFF
    )


def remove_entity_declarations(content: bytes) -> tuple[bytes, int]:
    """``content`` with every ``<!ENTITY ...>`` declaration cut out, and how many there were.

    Each is replaced by a space, so cutting one can never splice a new ``<!ENTITY`` together from
    the text around it. An unterminated declaration runs to the end of the document.
    """
    if _ENTITY_DECLARATION.search(content) is None:  # the common case: one fast scan
        return content, 0
    parts: list[bytes] = []
    position = removed = 0
    while (found := _ENTITY_DECLARATION.search(content, position)) is not None:
        parts.append(content[position : found.start()])
        parts.append(b" ")
        rest = _DECLARATION_REST.match(content, found.end())
        position = rest.end() if rest is not None else len(content)
        removed += 1
    parts.append(content[position:])
    return b"".join(parts), removed


def _next_comment(content: bytes, start: int) -> tuple[int, int] | None:
    """Where the next comment from ``start`` begins and ends (an unclosed one runs to the end)."""
    begin = content.find(b"<!--", start)
    if begin == -1:
        return None
    end = content.find(b"-->", begin + 4)
    return begin, len(content) if end == -1 else end + 3


def _field_text(content: bytes) -> tuple[bytes, bytes]:
    """A field's content split into its text and the markup after it: all of it is text when it
    holds no markup or is one CDATA section; else the text is what comes before the first tag.

    Markup inside a field is a child element (whose own fields are bounded on their own) or a
    comment; emptying it too would cut the document's structure and lose the whole feed to a
    parse error.
    """
    first_tag = content.find(b"<")
    if first_tag == -1:
        return content, b""
    inner = content.strip()
    if inner.startswith(b"<![CDATA[") and inner.find(b"]]>") == len(inner) - 3:
        return content, b""
    return content[:first_tag], content[first_tag:]


def bound_author_fields(content: bytes) -> tuple[bytes, int]:
    """``content`` with over-long author fields emptied, and how many were (module docstring).

    A field's text is what follows its start tag up to the next end tag (see ``_field_text``);
    each byte is looked at a bounded number of times, so this stays linear whatever the document
    holds.
    """
    parts: list[bytes] = []
    position = emptied = 0
    comment = _next_comment(content, 0)
    while (tag := _AUTHOR_FIELD.search(content, position)) is not None:
        while comment is not None and comment[1] <= tag.start():
            comment = _next_comment(content, comment[1])
        if comment is not None and comment[0] < tag.start():
            # A word in a comment ("<!-- fill <name> in -->") is no field: emptying up to the
            # next end tag would cut the comment's end and lose the feed to a parse error.
            parts.append(content[position : comment[1]])
            position = comment[1]
            continue
        end = content.find(b"</", tag.end())
        if end == -1:
            end = len(content)
        text, markup = _field_text(content[tag.end() : end])
        parts.append(content[position : tag.end()])
        if len(text) > AUTHOR_FIELD_LIMIT or _ADDRESS_RUN.search(text) is not None:
            emptied += 1
        else:
            parts.append(text)
        parts.append(markup)
        position = end
    if not emptied:
        return content, 0
    parts.append(content[position:])
    return b"".join(parts), emptied
