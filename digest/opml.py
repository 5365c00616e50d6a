"""OPML in and out: read a subscription list into [[feeds]] blocks, write the configured feeds.

The config file stays the one source of truth for feeds: an import proposes TOML to add to it
(``digest feeds import``), and an export writes OPML 2.0 from it (``digest feeds export``).
"""

from __future__ import annotations

import json
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError, ParserCreate

from digest.config import FeedSettings, feed_url_key, http_url_problem
from digest.config.editorial import FEED_NAME_LIMIT
from digest.config.values import unreadable_url_problem
from digest.errors import ConfigError
from digest.terminal_escapes import escape_obeyed

OPML_DOCS = "http://opml.org/spec2.opml"
MAX_DEPTH = 100  # outlines within outlines: folders of folders
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# C1 controls, which XML allows: in a title they are what a terminal obeys (U+009B opens a
# control sequence, U+009D an OSC), never text. Dropped, as feeds' titles drop them.
_C1_CONTROL = re.compile(r"[\x80-\x9f]+")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One outline with an ``xmlUrl``: a feed in someone else's subscription list."""

    url: str
    title: str | None = None
    html_url: str | None = None
    category: str | None = None  # the titles of the enclosing outlines, joined with " / "


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What importing an OPML file would add to the config, and what it leaves out and why."""

    new: tuple[FeedSettings, ...]
    left_out: tuple[tuple[str, str], ...] = field(default=())  # (url, why)


def read_opml(data: bytes, source: str) -> list[OpmlFeed]:
    """The feeds an OPML document lists, in document order. Raises ConfigError naming ``source``."""
    try:
        _refuse_dtd(data)
        # Safe once _refuse_dtd passed: with no DTD, no entity can be declared, let alone expand.
        root = ElementTree.fromstring(data)  # noqa: S314
    except (ElementTree.ParseError, ExpatError) as error:
        raise ConfigError(source, [("", f"not well-formed XML: {error}")]) from None
    except _DoctypeError:
        raise ConfigError(
            source, [("", "refused: it declares a DTD or entities, which OPML never needs")]
        ) from None
    if _local(root.tag) != "opml":
        raise ConfigError(
            source,
            [("", f"not an OPML file: the root element is <{_local(root.tag)}>, not <opml>")],
        )
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise ConfigError(source, [("", "not an OPML file: it has no <body>")])
    try:
        feeds = list(_outlines(body, ()))
    except _TooDeepError:
        raise ConfigError(
            source,
            [("", f"outlines nested more than {MAX_DEPTH} deep: no subscription list is")],
        ) from None
    if not feeds:
        raise ConfigError(source, [("", "the OPML file lists no feed (no outline has an xmlUrl)")])
    return feeds


class _DoctypeError(Exception):
    pass


class _TooDeepError(Exception):
    pass


def _refuse_dtd(data: bytes) -> None:
    """Read ``data`` with expat once, stopping at a DOCTYPE, before anything can expand."""

    def refuse(*_: object) -> None:
        raise _DoctypeError

    parser = ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.Parse(data, True)


def _outlines(
    parent: ElementTree.Element, path: tuple[str, ...], depth: int = 1
) -> Iterable[OpmlFeed]:
    # Folders nest a few levels; a file nesting thousands (which expat reads happily) would
    # exhaust the stack here, and its categories cost the square of the depth.
    for outline in parent:
        if _local(outline.tag) != "outline":
            continue
        if depth > MAX_DEPTH:
            raise _TooDeepError
        attributes = {name.lower(): value for name, value in outline.attrib.items()}
        title = _text(attributes.get("title")) or _text(attributes.get("text"))
        url = (attributes.get("xmlurl") or "").strip()
        if url:
            yield OpmlFeed(
                url=url,
                title=title,
                html_url=(attributes.get("htmlurl") or "").strip() or None,
                category=" / ".join(path) or None,
            )
        yield from _outlines(outline, (*path, title) if title and not url else path, depth + 1)


def plan_import(feeds: Sequence[OpmlFeed], configured: Sequence[FeedSettings]) -> ImportPlan:
    """The [[feeds]] to add for ``feeds``: new http(s) URLs only, each with a name no other feed
    has (the outline's title, else the site's host, numbered when taken)."""
    # Compared as one feed's URLs may differ (the host's case, a default port written out).
    urls = {feed_url_key(feed.url): feed.name for feed in configured}
    names = {feed.name for feed in configured}
    planned: set[str] = set()
    numbered: dict[str, int] = {}  # a name taken -> the number its next copy tries first
    new: list[FeedSettings] = []
    left_out: list[tuple[str, str]] = []
    for feed in feeds:
        url = _web_address(feed.url)
        if (problem := unreadable_url_problem(url)) is not None:
            left_out.append((feed.url, problem))
            continue
        parts = urlsplit(url)
        if not parts.scheme:
            left_out.append((feed.url, _RELATIVE))
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname:
            left_out.append((feed.url, "not an http(s) URL"))
            continue
        if (problem := http_url_problem(url)) is not None:
            left_out.append((feed.url, problem))  # the config would refuse it
            continue
        key = feed_url_key(url)
        if key in urls:
            left_out.append((feed.url, f"already in the config as {urls[key]!r}"))
            continue
        if key in planned:
            left_out.append((feed.url, "listed twice in the file"))
            continue
        name = _unique(feed.title or parts.hostname, names, numbered)
        names.add(name)
        planned.add(key)
        new.append(FeedSettings(url=url, name=name))
    return ImportPlan(new=tuple(new), left_out=tuple(left_out))


_RELATIVE = (
    "a relative address: the file gives no site to read it against; write the feed's whole address"
)
# "feed://host/rss" and "feed:https://host/rss": how readers of the Safari years wrote a feed's
# address, to hand it to a feed reader. The web address is the one inside.
_FEED_SCHEME = re.compile(r"feed:(?://|(?=https?://))", re.IGNORECASE)


def _web_address(url: str) -> str:
    """``url``, or the http(s) address a "feed:" URL wraps ("feed://host/rss" is
    "http://host/rss"; "feed:https://host/rss" is "https://host/rss")."""
    wrapped = _FEED_SCHEME.match(url)
    if wrapped is None:
        return url
    inner = url[wrapped.end() :]
    return inner if wrapped.group().endswith(":") else f"http://{inner}"


def toml_blocks(feeds: Iterable[FeedSettings]) -> str:
    """[[feeds]] tables for the config file, one per feed."""
    blocks = [
        f"[[feeds]]\nname = {_toml_string(feed.name)}\nurl = {_toml_string(feed.url)}\n"
        for feed in feeds
    ]
    return "\n".join(blocks)


def write_opml(
    feeds: Iterable[FeedSettings],
    *,
    title: str,
    now: datetime,
    html_urls: Mapping[str, str] | None = None,
) -> str:
    """An OPML 2.0 document of ``feeds``; ``html_urls`` maps a feed URL to its site, when known."""
    html_urls = html_urls or {}
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    ElementTree.SubElement(head, "docs").text = OPML_DOCS
    body = ElementTree.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.url in html_urls:
            attributes["htmlUrl"] = html_urls[feed.url]
        ElementTree.SubElement(body, "outline", attributes)
    ElementTree.indent(root)
    document: str = ElementTree.tostring(root, encoding="unicode", xml_declaration=False)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + document + "\n"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _text(value: str | None) -> str | None:
    """A title on one line, its accents composed (NFC), as the config reads a feed's name: one
    written as "e" and a combining accent was another name than a configured "é"."""
    if not value:
        return None
    text = " ".join(_C1_CONTROL.sub("", _CONTROL.sub(" ", value)).split())
    return unicodedata.normalize("NFC", text) or None


def _unique(name: str, taken: set[str], numbered: dict[str, int]) -> str:
    """``name``, numbered when taken, and within the length the config allows a feed's name: an
    outline's title is anyone's text, and one too long was refused by FeedSettings here.
    ``numbered`` keeps where each name's numbers are at, so that the thousandth feed of one
    title does not try the 999 numbers before its own."""
    name = name[:FEED_NAME_LIMIT].rstrip()
    if name not in taken:
        return name
    number = numbered.get(name, 2)
    while _numbered(name, number) in taken:
        number += 1
    numbered[name] = number + 1
    return _numbered(name, number)


def _numbered(name: str, number: int) -> str:
    suffix = f" ({number})"
    return name[: FEED_NAME_LIMIT - len(suffix)].rstrip() + suffix


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string once control characters are gone (TOML forbids DEL
    # unescaped, which JSON leaves as is); its \u escapes are TOML's too.
    # What a terminal would obey in a printed TOML string (C1 and direction controls) is written
    # as \u escapes: the same string to TOML.
    return escape_obeyed(json.dumps(_CONTROL.sub(" ", value), ensure_ascii=False))
