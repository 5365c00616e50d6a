"""Read a feed document's bytes (RSS 0.9x/1.0/2.0, Atom) into a ``ParsedFeed`` of clean entries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import feedparser

from digest.errors import ParseError
from digest.ingest.clean import (
    absolute_http_url,
    clean_entry,
    collapse_whitespace,
    html_to_text,
    normalize_language,
)
from digest.records import Entry, ParsedFeed

_TEXT_XML_TYPES = frozenset({"text/xml", "text/rss+xml", "text/atom+xml", "text/rdf+xml"})


def parse_feed(content: bytes, *, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    """Parse a fetched feed document.

    feedparser is handed the bytes, never a URL, so it cannot fetch anything; the HTTP Content-Type
    goes along so it can find the character encoding the way RFC 3023 says. A document with
    recoverable errors yields the entries recovered and a ``warning``; a document that is no feed at
    all raises ParseError.
    """
    if not content.strip():
        raise ParseError(url, "the server sent an empty document instead of a feed")
    headers = {"content-type": _modern_content_type(content_type)} if content_type else {}
    try:
        # sanitize_html is off because clean.sanitize_html applies our own, stricter allowlist.
        # No content-location is given: clean resolves relative links against the feed's site.
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    except Exception as error:  # feedparser is lenient, but a parser bug must not stop the poll
        raise ParseError(url, f"the feed parser failed: {error}") from error

    if not parsed.get("version") and not parsed.entries:
        raise ParseError(url, _not_a_feed_reason(parsed, content_type))

    feed = parsed.feed
    title = _feed_title(feed)
    link = absolute_http_url(feed.get("link"), url)
    language = normalize_language(feed.get("language"))
    entries: list[Entry] = []
    seen: set[str] = set()
    for raw in parsed.entries:
        entry = clean_entry(raw, feed_url=url, feed_link=link, feed_language=language, now=now)
        # Some feeds repeat an item; it is still one article.
        if entry is not None and entry.guid not in seen:
            seen.add(entry.guid)
            entries.append(entry)

    warning = None
    if parsed.get("bozo"):
        warning = _describe_problem(parsed.get("bozo_exception"), len(entries))
    return ParsedFeed(
        title=title, link=link, language=language, entries=tuple(entries), warning=warning
    )


def _modern_content_type(content_type: str) -> str:
    """``text/xml`` without a charset read as RFC 7303 says: the XML declaration decides.

    feedparser follows the older RFC 3023, under which such a feed is US-ASCII; every feed served
    that way (a great many) would then carry a needless encoding warning.
    """
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() in _TEXT_XML_TYPES and "charset" not in parameters.lower():
        return "application/xml"
    return content_type


def _feed_title(feed: Mapping[str, Any]) -> str | None:
    detail = feed.get("title_detail") or {}
    return html_to_text(str(detail.get("value") or feed.get("title") or "")) or None


def _not_a_feed_reason(parsed: Mapping[str, Any], content_type: str | None) -> str:
    served_as = f" (served as {content_type})" if content_type else ""
    problem = parsed.get("bozo_exception")
    detail = f"; the parser said: {_exception_text(problem)}" if problem else ""
    return (
        f"the document is not an RSS or Atom feed{served_as}{detail}; "
        "check that the URL points at the feed itself and not at a web page"
    )


def _describe_problem(problem: object, entry_count: int) -> str:
    text = _exception_text(problem) if problem else "unknown problem"
    return f"the feed has errors the parser worked around ({text}); {entry_count} entries were read"


def _exception_text(problem: object) -> str:
    if isinstance(problem, BaseException):
        message = collapse_whitespace(str(problem))
        name = type(problem).__name__
        return f"{name}: {message}" if message else name
    return collapse_whitespace(str(problem))
