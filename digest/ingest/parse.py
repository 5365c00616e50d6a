"""Read a feed document's bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) into clean entries.

bytes ─► JSON Feed? ─► jsonfeed.read_json_feed ─┐
      └► safety.guard_document ─► feedparser ───┴► clean.clean_entry each ─► ParsedFeed
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import feedparser

from digest.errors import ParseError
from digest.ingest import expat_driver, georss_guard, media_guard
from digest.ingest.clean import TITLE_LIMIT, RawEntry, clean_entry, normalize_language
from digest.ingest.dates import entry_date
from digest.ingest.discovery import feeds_named_by_page
from digest.ingest.jsonfeed import NotAJsonFeed, looks_like_json, read_json_feed
from digest.ingest.markup import collapse_whitespace, html_to_text, truncate_text
from digest.ingest.safety import guard_document
from digest.ingest.urls import absolute_http_url, collecting_unreadable
from digest.plurals import english_count
from digest.records import URL_LIMIT, Entry, ParsedFeed
from digest.shown import brief, shown_address, without_password

# The entries read from one document; real feeds carry tens, archives a few hundred. The newest
# by date are kept (see _entries_to_read).
MAX_ENTRIES = 1000
# What feedparser is told about the bytes guard_document hands it: UTF-8, whatever came in.
_UTF8_XML = {"content-type": "application/xml; charset=utf-8"}
_TEXT_XML_TYPES = frozenset({"text/xml", "text/rss+xml", "text/atom+xml", "text/rdf+xml"})

expat_driver.install()
georss_guard.install()
media_guard.install()
_log = logging.getLogger(__name__)


class OutOfTime(ParseError):
    """The document was not read by the deadline ``parse_feed`` was given. The poller hands such
    a document to a parser process (``isolation.parse_apart``), which can be stopped at any time."""


def parse_feed(
    content: bytes,
    *,
    url: str,
    content_type: str | None,
    now: datetime,
    deadline: float | None = None,
) -> ParsedFeed:
    """Parse a fetched feed document.

    feedparser is handed bytes, never a URL, so it cannot fetch anything, and only bytes that
    ``safety.guard_document`` made safe: decoded the way feedparser would (the HTTP Content-Type
    goes along for RFC 3023's rules), without entity declarations, with bounded author fields.
    A document with recoverable errors yields the entries recovered and a ``warning``; a document
    that is no feed at all raises ParseError.

    ``deadline`` (a ``time.monotonic()`` value) is checked after the XML parse and between
    entries: past it, OutOfTime is raised. No single step runs long past it: each is linear in
    the size of what it reads (``nesting`` bounds what html5ever is handed).
    """
    if not content.strip():
        raise ParseError(url, "the server sent an empty document instead of a feed")
    if looks_like_json(content, content_type):
        return _parse_json_feed(content, url=url, now=now, deadline=deadline)

    guarded = guard_document(content, _modern_content_type(content_type) if content_type else None)
    try:
        # Both of feedparser's passes over entry HTML are off: clean.sanitize_html applies our
        # own, stricter allowlist, and resolves relative links against the entry's xml:base
        # (which feedparser still records) or its link. Each pass re-parses every description
        # in pure Python; together they cost about a third of the parse.
        parsed = feedparser.parse(
            guarded.content,
            response_headers=_UTF8_XML,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except MemoryError:
        raise  # no fault of the parser's: whoever bounded the memory says what happened
    except Exception as error:  # feedparser is lenient, but a parser bug must not stop the poll
        raise ParseError(url, f"the feed parser failed: {error}") from error

    if not parsed.get("version") and not parsed.entries:
        raise ParseError(url, _not_a_feed_reason(parsed, content_type, guarded.content, url))

    _check_deadline(deadline, url, "the entries, after the XML")
    feed = parsed.feed
    with collecting_unreadable():  # the feed's own link among the addresses left out
        link = absolute_http_url(feed.get("link"), url)
        language = normalize_language(feed.get("language"))
        entries, _dropped, cleaning_problems = _clean_entries(
            parsed.entries, url=url, link=link, language=language, now=now, deadline=deadline
        )

    problems = []
    if guarded.encoding_problem:
        problems.append(guarded.encoding_problem)
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        problems.append(_exception_text(problem) if problem else "unknown problem")
    problems += guarded.warnings
    problems += cleaning_problems
    return ParsedFeed(
        title=_feed_title(feed),
        link=link,
        language=language,
        entries=entries,
        warning=_describe_problems(problems, len(entries)),
    )


def _parse_json_feed(
    content: bytes, *, url: str, now: datetime, deadline: float | None
) -> ParsedFeed:
    try:
        document = read_json_feed(content)
    except NotAJsonFeed as error:
        raise ParseError(url, f"{error}; check that the URL points at the feed itself") from error
    _check_deadline(deadline, url, "the entries, after the JSON")
    with collecting_unreadable():  # the feed's own link among the addresses left out
        link = absolute_http_url(document.link, url)
        language = normalize_language(document.language)
        entries, _dropped, problems = _clean_entries(
            document.entries, url=url, link=link, language=language, now=now, deadline=deadline
        )
    title = truncate_text(html_to_text(document.title or ""), TITLE_LIMIT) or None
    return ParsedFeed(
        title=title,
        link=link,
        language=language,
        entries=entries,
        warning=_describe_problems(problems, len(entries)),
    )


def _clean_entries(
    raw_entries: Sequence[RawEntry],
    *,
    url: str,
    link: str | None,
    language: str | None,
    now: datetime,
    deadline: float | None = None,
) -> tuple[tuple[Entry, ...], int, list[str]]:
    """The document's entries cleaned, one per guid, how many were left out over the cap, and
    what could not be read in them (each such entry or value was left out, the rest kept)."""
    dropped = max(0, len(raw_entries) - MAX_ENTRIES)
    read, left_out = _entries_to_read(raw_entries, now)
    problems = [left_out] if left_out else []
    cleaned = _read_entries(
        raw_entries,
        read,
        problems,
        url=url,
        link=link,
        language=language,
        now=now,
        deadline=deadline,
    )
    problems.extend(_sharing_a_link(cleaned))
    return _one_per_guid(cleaned), dropped, problems


def _read_entries(
    raw_entries: Sequence[RawEntry],
    read: Sequence[int],
    problems: list[str],
    *,
    url: str,
    link: str | None,
    language: str | None,
    now: datetime,
    deadline: float | None,
) -> list[Entry]:
    """The entries at the indexes ``read`` cleaned, in order; what could not be read in them is
    added to ``problems``, and those entries or values left out."""
    cleaned: list[Entry] = []
    failures: list[str] = []
    linkless = 0
    with collecting_unreadable() as unreadable:
        for index in read:
            raw = raw_entries[index]
            if deadline is not None and time.monotonic() > deadline:
                _check_deadline(deadline, url, f"entry {index + 1} of {len(raw_entries)}")
            unreadable_before = len(unreadable)
            try:
                entry = clean_entry(
                    raw, feed_url=url, feed_link=link, feed_language=language, now=now
                )
            except MemoryError:
                raise  # whoever bounded the memory says what happened
            except Exception as error:  # one entry's bad value must cost that entry only
                _log.warning(
                    "an entry of %s could not be read", without_password(url), exc_info=True
                )
                failures.append(_exception_text(error))
                continue
            if entry is not None:
                cleaned.append(entry)
            elif len(unreadable) == unreadable_before:  # else told with the addresses
                linkless += 1
    if unreadable:
        # One address may be met twice (an entry's <link> is also among its links).
        problems.append(
            f"{len(set(unreadable))} address(es) that cannot be read were left out "
            f"(the first: {_quoted(unreadable[0])})"
        )
    if linkless and not cleaned:
        # An article is known and shown by its address, so an entry without one is left out
        # (RSS allows such items; a few among the others are no news). When they are all the
        # document holds, it is said: silently, such a feed looked healthy and empty for good.
        problems.append(
            f"{english_count(linkless, 'entry was', 'entries were')} left out for want of a "
            f"link to the article (an http or https address of at most {URL_LIMIT:,} characters)"
        )
    if failures:
        could_not = english_count(
            len(failures), "entry could not be read and was", "entries could not be read and were"
        )
        problems.append(f"{could_not} skipped (the first: {failures[0][:200]})")
    return cleaned


def _sharing_a_link(cleaned: Sequence[Entry]) -> list[str]:
    """What is said of entries under the address of an earlier one with another title: an
    article is known by its link, so of items under one address (a feed that links each one to
    its home page) only the first is stored, and the others are lost. Counted before the
    repeats go: an item without a guid is known by its link, and such items all looked like one
    item repeated."""
    titles_by_link: dict[str, str] = {}
    sharing = sum(
        titles_by_link.setdefault(entry.link, entry.title) != entry.title for entry in cleaned
    )
    if not sharing:
        return []
    one = sharing == 1
    return [
        f"{sharing} {'entry was' if one else 'entries were'} left out for linking to the "
        "address of an earlier entry with another title (an article is known by its link: "
        "the feed gives its items no address of their own)"
    ]


def _one_per_guid(cleaned: Sequence[Entry]) -> tuple[Entry, ...]:
    """``cleaned`` with each article once: a repeated item once, and the entries of a guid the
    document gives to several different links known by their link instead (some systems stamp
    every item with the same guid: it is no identifier)."""
    links_by_guid: defaultdict[str, set[str]] = defaultdict(set)
    for entry in cleaned:
        links_by_guid[entry.guid].add(entry.link)
    entries: list[Entry] = []
    seen: set[str] = set()
    for entry in cleaned:
        if len(links_by_guid[entry.guid]) > 1:
            entry = replace(entry, guid=entry.link)
        if entry.guid not in seen:
            seen.add(entry.guid)
            entries.append(entry)
    return tuple(entries)


def _entries_to_read(
    raw_entries: Sequence[RawEntry], now: datetime
) -> tuple[Sequence[int], str | None]:
    """The indexes of the entries to read, in document order, and what the warning says of the
    others (None when none is left out): all of them up to MAX_ENTRIES, else the newest
    MAX_ENTRIES by date.

    Past the cap, document order says nothing of which entries are new: an archive lists its
    oldest first, a publisher appends at the end under a pinned item. Kept by position, the
    new entries of such a document were never read, poll after poll. An undated entry counts
    as older than any dated one; a document with no date at all keeps its first entries, as
    most feeds list the newest first.
    """
    if len(raw_entries) <= MAX_ENTRIES:
        return range(len(raw_entries)), None
    count = len(raw_entries)
    dates = [_entry_time(raw, now) for raw in raw_entries]
    if all(date is None for date in dates):
        return range(MAX_ENTRIES), (
            f"only the first {MAX_ENTRIES} of {count} entries were read (they carry no dates)"
        )
    # A stable sort: of entries with the same date (or none), the earlier in the document first.
    newest_first = sorted(
        range(count),
        key=lambda index: (dates[index] is not None, dates[index] or _NO_DATE),
        reverse=True,
    )
    kept = sorted(newest_first[:MAX_ENTRIES])
    if kept == list(range(MAX_ENTRIES)):
        return kept, f"only the first {MAX_ENTRIES} of {count} entries were read (the newest)"
    if kept == list(range(count - MAX_ENTRIES, count)):
        return kept, (
            f"only the last {MAX_ENTRIES} of {count} entries were read "
            "(the newest: the document lists its oldest first)"
        )
    return kept, (
        f"only the newest {MAX_ENTRIES} of {count} entries were read "
        "(by their dates: the document lists its entries out of order)"
    )


_NO_DATE = datetime.min.replace(tzinfo=UTC)  # how an undated entry compares in _entries_to_read


def _entry_time(raw: RawEntry, now: datetime) -> datetime | None:
    """When the entry was published, else updated, as clean_entry reads it; None when unread."""
    try:
        return entry_date(raw, "published", now) or entry_date(raw, "updated", now)
    except MemoryError:
        raise  # whoever bounded the memory says what happened
    except Exception:  # clean_entry says what is wrong with the entry; here it only has no date
        return None


def _check_deadline(deadline: float | None, url: str, reached: str) -> None:
    """OutOfTime if ``deadline`` has passed; ``reached`` says where the reading was."""
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime(url, f"the document was not read in the time allowed (reached {reached})")


def _quoted(address: str) -> str:
    """An address from the feed as the warning quotes it: printable ASCII, cut short."""
    text = address.encode("ascii", "backslashreplace").decode("ascii")
    return repr(text if len(text) <= 100 else text[:99] + "…")


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
    title = html_to_text(str(detail.get("value") or feed.get("title") or ""))
    return truncate_text(title, TITLE_LIMIT) or None


def _not_a_feed_reason(
    parsed: Mapping[str, Any], content_type: str | None, content: bytes, url: str
) -> str:
    # As the server wrote it, cut: a Content-Type may be as long as the headers (100 KB).
    served_as = f" (served as {brief(content_type)})" if content_type else ""
    problem = parsed.get("bozo_exception")
    detail = f"; the parser said: {_exception_text(problem)}" if problem else ""
    # Each cut to a readable length: a page may name five of 2,000 characters each.
    named = [shown_address(link) for link in feeds_named_by_page(content, url)]
    if len(named) == 1:
        advice = f"it is a web page that names its feed, {named[0]}: set the feed's url to it"
    elif named:
        advice = (
            f"it is a web page that names {len(named)} feeds, {', '.join(named)}: "
            "set the feed's url to one of them"
        )
    else:
        advice = "check that the URL points at the feed itself and not at a web page"
    return f"the document is not an RSS, Atom or JSON feed{served_as}{detail}; {advice}"


def _describe_problems(problems: list[str], entry_count: int) -> str | None:
    if not problems:
        return None
    text = "; ".join(problems)
    return f"the feed has errors the parser worked around ({text}); {entry_count} entries were read"


def _exception_text(problem: object) -> str:
    if isinstance(problem, BaseException):
        message = collapse_whitespace(str(problem))
        name = type(problem).__name__
        return f"{name}: {message}" if message else name
    return collapse_whitespace(str(problem))
