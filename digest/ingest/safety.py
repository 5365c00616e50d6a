"""Guards on a feed's bytes before the XML parser sees them.

feedparser 6.0.x has holes a hostile feed can reach, so the bytes are made safe first:

- **Entity declarations** are removed. expat refuses an amplifying entity, but feedparser then
  hands the document to its loose parser, which expands the declared entities anyway (a 9 KB feed
  becomes a 6 MB description even before expat objects). Without an ``<!ENTITY`` no parser can
  expand or fetch anything; references to the removed entities stay literal text.
- **Author fields** (``author``, ``dc:creator``, ``webMaster``...) that are over-long, or hold a run
  of address characters longer than any real address part, are emptied: feedparser's e-mail regex
  backtracks quadratically on them.
- **Encodings**: the guards must see the characters the parser will see, so the document is first
  decoded the way feedparser decodes it (its own ``convert_to_utf8``: HTTP charset, XML declaration,
  byte order mark, then guesses) and handed on as UTF-8. UTF-16, UTF-7 or EBCDIC cannot hide an
  ``<!ENTITY`` from the guards.

What was removed is reported, so it can be kept on the feed as a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedparser.encodings import convert_to_utf8

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


@dataclass(frozen=True, slots=True)
class GuardedDocument:
    """A feed document made safe to parse, and what was taken out of it."""

    content: bytes  # UTF-8, with an XML declaration that says so
    encoding: str | None  # what the document was decoded from; None if nothing decoded it
    encoding_problem: str | None = None  # a wrong or missing declaration, as feedparser saw it
    entities_removed: int = 0
    author_fields_emptied: int = 0

    @property
    def warnings(self) -> list[str]:
        notes = []
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
        return notes


def guard_document(content: bytes, content_type: str | None) -> GuardedDocument:
    """``content`` decoded to UTF-8, entity declarations removed, author fields bounded."""
    headers = {"content-type": content_type} if content_type else {}
    found: dict[str, object] = {}
    utf8 = convert_to_utf8(headers, content, found)
    problem = found.get("bozo_exception")
    encoding = str(found.get("encoding") or "") or None
    utf8, entities = remove_entity_declarations(utf8)
    utf8, authors = bound_author_fields(utf8)
    return GuardedDocument(
        content=utf8,
        encoding=encoding,
        encoding_problem=str(problem) if problem else None,
        entities_removed=entities,
        author_fields_emptied=authors,
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


def bound_author_fields(content: bytes) -> tuple[bytes, int]:
    """``content`` with over-long author fields emptied, and how many were (module docstring).

    A field's text is what follows its start tag up to the next end tag; each byte is looked at
    a bounded number of times, so this stays linear whatever the document holds.
    """
    parts: list[bytes] = []
    position = emptied = 0
    while (tag := _AUTHOR_FIELD.search(content, position)) is not None:
        end = content.find(b"</", tag.end())
        if end == -1:
            end = len(content)
        text = content[tag.end() : end]
        parts.append(content[position : tag.end()])
        if len(text) > AUTHOR_FIELD_LIMIT or _ADDRESS_RUN.search(text) is not None:
            emptied += 1
        else:
            parts.append(text)
        position = end
    if not emptied:
        return content, 0
    parts.append(content[position:])
    return b"".join(parts), emptied
