"""Read a JSON Feed (1.0 and 1.1, https://jsonfeed.org/version/1.1) into feedparser-shaped dicts.

Each item becomes the same kind of mapping feedparser yields for an RSS or Atom entry, so one
``clean.clean_entry`` cleans entries of every format alike. Fields of the wrong type are ignored
rather than trusted: a feed is input from a stranger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from time import struct_time
from typing import Any

from feedparser.datetimes import _parse_date as feedparser_date

JSON_FEED_TYPES = frozenset({"application/feed+json", "application/json"})
VERSION_PREFIX = "https://jsonfeed.org/version/"
MAX_DEPTH_ERROR = "the JSON is nested too deeply to be a feed"
# What a JSON string can carry (as "\u0000" or "\ud800" escapes) that no text may: control
# characters but tab and line breaks, which XML forbids and PostgreSQL refuses (NUL), and lone
# surrogates, which cannot be encoded to store or mail them.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class NotAJsonFeed(ValueError):
    """The document is JSON (or claims to be) but not a JSON Feed."""


@dataclass(frozen=True, slots=True)
class JsonFeed:
    version: str
    title: str | None
    link: str | None
    language: str | None
    entries: list[dict[str, Any]]


def looks_like_json(content: bytes, content_type: str | None) -> bool:
    """Whether to read the document as JSON: served as JSON, or an object where XML would be."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type in JSON_FEED_TYPES:
        return True
    return content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def read_json_feed(content: bytes) -> JsonFeed:
    """Parse a JSON Feed document. Raises NotAJsonFeed with a reason an operator can act on."""
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise NotAJsonFeed(f"a JSON feed must be UTF-8: {error}") from error
    except RecursionError as error:
        raise NotAJsonFeed(MAX_DEPTH_ERROR) from error
    except ValueError as error:
        raise NotAJsonFeed(f"the document is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise NotAJsonFeed("the JSON document is not an object")
    version = _text(document.get("version"))
    if not version or not version.startswith(VERSION_PREFIX):
        raise NotAJsonFeed(f"the JSON has no JSON Feed version (expected {VERSION_PREFIX}1.1)")
    items = document.get("items")
    if not isinstance(items, list):
        raise NotAJsonFeed('a JSON Feed needs an "items" list')
    language = _text(document.get("language"))
    feed_authors = _authors(document)
    entries = [_entry(item, feed_authors, language) for item in items if isinstance(item, Mapping)]
    return JsonFeed(
        version=version,
        title=_text(document.get("title")),
        link=_text(document.get("home_page_url")),
        language=language,
        entries=entries,
    )


def _entry(
    item: Mapping[str, Any], feed_authors: list[dict[str, str]], language: str | None
) -> dict[str, Any]:
    """One item as a feedparser-shaped entry dict."""
    entry: dict[str, Any] = {}
    item_id = item.get("id")
    if isinstance(item_id, str | int) and not isinstance(item_id, bool):
        entry["id"] = _text(str(item_id))  # 1.1 says a string; 1.0 feeds often sent numbers
    link = _text(item.get("url")) or _text(item.get("external_url"))
    if link:
        entry["link"] = link
    if title := _text(item.get("title")):
        entry["title"] = title
        entry["title_detail"] = {"type": "text/plain", "value": title}
    if summary := _text(item.get("summary")):
        entry["summary"] = summary
        entry["summary_detail"] = {"type": "text/plain", "value": summary}
    content = []
    if html := _text(item.get("content_html")):
        content.append({"type": "text/html", "value": html})
    if text := _text(item.get("content_text")):
        content.append({"type": "text/plain", "value": text})
    if content:
        entry["content"] = content
    for key, field in (("published", "date_published"), ("updated", "date_modified")):
        if (written := _text(item.get(field))) is not None:
            # As feedparser gives a date: as written, and as read. RFC 3339 is what the format
            # says; a date in another form (RFC 822, as a feed converted from RSS field by field
            # writes it) is read by feedparser's reader of an RSS or Atom date, and then by
            # dates.entry_date with the rules of one.
            entry[key] = written
            if (moment := _rfc3339(written) or feedparser_date(written)) is not None:
                entry[f"{key}_parsed"] = moment
    authors = _authors(item) or feed_authors
    if authors and authors[0].get("name"):
        entry["author"] = authors[0]["name"]
        entry["author_detail"] = authors[0]
        entry["authors"] = authors  # as feedparser gives them: every writer is read (clean)
    tags = item.get("tags")
    if isinstance(tags, list):
        entry["tags"] = [{"term": term} for tag in tags if (term := _text(tag))]
    images = [
        {"url": url, "medium": "image"}
        for url in (_text(item.get("image")), _text(item.get("banner_image")))
        if url
    ]
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        entry["links"] = [
            {"rel": "enclosure", "href": url, "type": _text(attachment.get("mime_type")) or ""}
            for attachment in attachments
            if isinstance(attachment, Mapping) and (url := _text(attachment.get("url")))
        ]
    if images:
        entry["media_content"] = images
    if item_language := _text(item.get("language")) or language:
        entry["language"] = item_language
    return entry


def _authors(holder: Mapping[str, Any]) -> list[dict[str, str]]:
    """``authors`` (1.1), or the single ``author`` of 1.0."""
    raw = holder.get("authors")
    if not isinstance(raw, list):
        raw = [holder.get("author")]
    authors = []
    for author in raw:
        if isinstance(author, Mapping) and (name := _text(author.get("name"))):
            authors.append({"name": name})
    return authors


def _text(value: object) -> str | None:
    """A string field's value, without characters no text may hold; None if it is no string or
    nothing but blanks."""
    if not isinstance(value, str):
        return None
    value = _UNSAFE_CHARACTERS.sub("", value)
    return value if value.strip() else None


def _rfc3339(value: object) -> struct_time | None:
    """An RFC 3339 date as a UTC struct_time (feedparser's form); a date without zone is UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC).timetuple()
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        return None
