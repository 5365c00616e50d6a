"""Clean one feedparser entry into an ``Entry``: sanitized HTML, plain text, canonical URLs.

Nothing a feed sends reaches a reader unescaped (invariant 6): summary HTML goes through the
allowlist of ``markup``, titles and authors become plain text, and every URL kept is an absolute
http(s) URL in the one spelling ``urls`` gives it.
What particular platforms add to their entries (FeedBurner, Google News, Reddit, WordPress footers)
is undone with the rules in ``quirks``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from html import escape, unescape
from html.entities import html5
from typing import Any

from digest.bylines import written_author
from digest.ingest import captions, quirks, summaries
from digest.ingest.dates import entry_date
from digest.ingest.lead_image import html_with_bases, lead_image_url, resolved_picture
from digest.ingest.markup import (
    collapse_whitespace,
    holds_markup,
    html_to_text,
    sanitize_html,
    says_anything,
    truncate_text,
    without_controls,
)
from digest.ingest.urls import absolute_http_url, canonical_link, is_http_url
from digest.records import URL_LIMIT, Entry

SUMMARY_LIMIT = 600  # characters of summary_text, ellipsis included
TITLE_LIMIT = 300
AUTHOR_LIMIT = 200
CATEGORY_LIMIT = 100  # characters of one category's name
CATEGORIES_LIMIT = 50  # categories kept per entry, the first ones
LANGUAGE_LIMIT = 35  # characters; BCP 47 tags in use are far shorter
# A guid longer than this (in UTF-8 bytes) is stored as its SHA-256: it still identifies the entry,
# and a database index can hold it (PostgreSQL's refuses keys over about 2,700 bytes).
GUID_LIMIT = URL_LIMIT
# a@b.c (Name), also <a@b.c> (Name): html_to_text would take "<a@b.c>" for a tag and drop it
_EMAIL_THEN_NAME = re.compile(r"^<?[^\s@()<>]+@[^\s@()<>]+>?\s*\((?P<name>[^()]+)\)$")
_NAME_THEN_EMAIL = re.compile(r"^(?P<name>[^<>@]+?)\s*<[^\s@<>]+@[^\s@<>]+>$")  # Name <a@b.c>
# An entity reference escaped once too often ("Israel&amp;#8217;s", "Caf&amp;eacute;" in a CDATA
# title, summary or author): the publisher meant the character. Only references that name a
# character (a number, or one of HTML's names, see _names_a_character) are undone: "AT&T;" stays.
_ENTITY_NAMES = r"#[0-9]{2,7}|#[xX][0-9a-fA-F]{2,6}|[A-Za-z][A-Za-z0-9]{1,31}"
_ESCAPED_TWICE_IN_TEXT = re.compile(rf"&({_ENTITY_NAMES});")
_ESCAPED_TWICE_IN_HTML = re.compile(rf"&amp;({_ENTITY_NAMES});")
# A CDATA section written inside another, or escaped inside the element ("<title>&lt;![CDATA[Truce
# holds]]&gt;</title>"), as some publishing systems wrap text that was wrapped already: its
# markers reach the text, where HTML reads "<![CDATA[Truce holds]]>" as a comment and drops it.
# A line break escaped once or twice in HTML: "&lt;br&gt;", "&lt;br /&gt;", "&amp;lt;br&amp;gt;".
_ESCAPED_BREAK = re.compile(r"&(?:amp;)?lt;br\s*/?\s*&(?:amp;)?gt;", re.IGNORECASE)
# A break between two lines of a title's HTML ("Exclusive<br>Iran closes strait", two <p>s)
# after a line that ends without punctuation: html_to_text reads it as a space, and the lines ran
# together as one headline ("Iran closes strait Oil jumps"). A dash parts them instead.
_LINE_BREAK_IN_TEXT = re.compile(
    r"(?<=[^\s<>.!?:;,—–-])\s*(?:<br\s*/?>|</p>\s*<p(?:\s[^<>]*)?>)\s*(?=[^\s<])",
    re.IGNORECASE,
)
_CDATA_OPENING = "<![CDATA["
_CDATA_MARKERS = re.compile(r"<!\[CDATA\[|\]\]>")


# One of feedparser's entry dicts (or a JSON Feed item in the same shape). clean_entry reads a
# plain copy of its top level: feedparser's dict answers every lookup in Python, with aliases and
# fallbacks clean neither needs nor wants ("updated" answered with "published"), and copying
# the top level once costs less than the few dozen lookups a clean makes.
RawEntry = Mapping[str, Any]


def clean_entry(
    raw: RawEntry,
    *,
    feed_url: str,
    feed_link: str | None,
    feed_language: str | None,
    now: datetime,
) -> Entry | None:
    """An ``Entry`` from one feedparser entry, or None when it has no usable link.

    Relative entry links are resolved against the feed's site (``feed_link``) when it has one, since
    feeds are often served from another host than the site they describe; relative URLs in the
    entry's HTML are resolved against the entry's own link, the page that HTML was written for.
    """
    raw = dict(raw)  # see RawEntry
    site = feed_link if feed_link and is_http_url(feed_link) else feed_url
    page = _entry_link(raw, site)
    if page is None:
        return None
    guid = _guid(raw.get("id")) or page

    source_html, source_base = _summary_source(raw)
    # The HTML's relative URLs are relative to its xml:base, itself relative to the entry's page.
    html_base = absolute_http_url(source_base, page) or page
    # A link post (Reddit) is read for the article it shares, not for its own page.
    link = _usable_link(quirks.shared_link(page, source_html), html_base) or page
    summary_html = quirks.without_boilerplate(sanitize_html(source_html, base_url=html_base))
    if "&amp;" in summary_html:
        summary_html = _ESCAPED_TWICE_IN_HTML.sub(_reference_in_html, summary_html)
    paragraphs = summaries.paragraphs_of(summary_html)
    author = _author(raw)
    # A wire dateline or byline opening a paragraph is no part of the story's summary, nor a
    # first paragraph that only repeats the author field ("Jane Doe | Reuters").
    cleaned = summaries.clean_paragraphs(summaries.without_author_paragraph(paragraphs, author))
    if cleaned != paragraphs:
        paragraphs, summary_html = cleaned, summaries.paragraphs_html(cleaned)
    summary_text = html_to_text(summary_html)

    source = quirks.source_name(raw)
    title = quirks.title_without_source(
        _text_field(raw.get("title_detail"), raw.get("title")), source
    )
    if title and quirks.restates_title(summary_text, title, source):
        summary_html = summary_text = ""
    if len(summary_text) > SUMMARY_LIMIT:
        # The source was a whole article: keep a short, plain summary rather than pages of
        # HTML, in its paragraphs.
        paragraphs = _cut_paragraphs(paragraphs, SUMMARY_LIMIT)
        summary_html = summaries.paragraphs_html(paragraphs)
        summary_text = " ".join(paragraphs)
    if not says_anything(title):  # none, or only invisible characters or punctuation
        title = truncate_text(summary_text, 80) if says_anything(summary_text) else link
    language = _language(raw) or normalize_language(feed_language)
    published = entry_date(raw, "published", now, language)
    updated = entry_date(raw, "updated", now, language)

    image_url = lead_image_url(raw, source_html, page, html_base)
    return Entry(
        guid=guid,
        link=link,
        title=truncate_text(title, TITLE_LIMIT),
        summary_html=summary_html,
        summary_text=summary_text,
        author=author,
        published_at=published or updated,  # an Atom entry often carries only <updated>
        updated_at=updated,
        categories=_categories(raw.get("tags") or ()),
        image_url=image_url,
        image_description=captions.picture_description(
            raw,
            image_url,
            title,
            html_with_bases(raw, source_html, page, html_base),
            resolved_picture,
        ),
        language=language,
        dated_by_update=published is None and updated is not None,
    )


def _cut_paragraphs(paragraphs: list[str], limit: int) -> list[str]:
    """The first paragraphs, the last cut at a word, all together at most ``limit`` characters
    with the spaces between them."""
    kept: list[str] = []
    room = limit
    for paragraph in paragraphs:
        if kept and room < 40:  # too little room for a useful piece of another paragraph
            kept[-1] = truncate_text(kept[-1] + " …", len(kept[-1]) + 1)
            break
        piece = truncate_text(paragraph, room)
        kept.append(piece)
        room -= len(piece) + 1
        if piece != paragraph:
            break
    return kept


def _entry_link(raw: RawEntry, base_url: str) -> str | None:
    for candidate in _link_candidates(raw):
        if (link := _usable_link(candidate, base_url)) is not None:
            return link
    return None


def _usable_link(candidate: str | None, base_url: str) -> str | None:
    """``candidate`` as an entry's link: absolute, canonical, storable; None if it cannot be."""
    url = absolute_http_url(candidate, base_url)
    if url is None:
        return None
    try:
        link = canonical_link(url)
    except ValueError:
        return None
    # Percent-encoding can lengthen a link; a host IDNA refused keeps its non-ASCII.
    if len(link) <= URL_LIMIT and (link.isascii() or len(link.encode()) <= URL_LIMIT):
        return link
    return None


def _link_candidates(raw: RawEntry) -> Iterator[str | None]:
    # A FeedBurner feed's <link> is a redirect through FeedBurner; the article is its origLink.
    yield raw.get("feedburner_origlink")
    yield raw.get("link")
    for link in raw.get("links") or ():
        if link.get("rel", "alternate") == "alternate":
            yield link.get("href")
    if raw.get("guidislink") or is_http_url(raw.get("id")):
        yield raw.get("id")


def _summary_source(raw: RawEntry) -> tuple[str, str]:
    """The entry's description as HTML, or its content when it has no description, with the
    xml:base its relative URLs are written against ("" when none was declared)."""
    details: list[Mapping[str, Any]] = []
    if raw.get("summary_detail"):
        details.append(raw["summary_detail"])
    details.extend(raw.get("content") or ())
    if not details and raw.get("summary"):
        details.append({"type": "text/html", "value": raw["summary"]})
    if not details and raw.get("media_description"):
        # An entry described only by its media (a YouTube video's <media:group>): that is the
        # story's description, and no picture's (captions.picture_description).
        details.append({"type": "text/plain", "value": raw["media_description"]})
    for detail in details:
        value = _without_cdata_markers(str(detail.get("value") or ""))
        if not value.strip():
            continue
        base = str(detail.get("base") or "")
        if "<" not in value or detail.get("type") == "text/plain":
            # HTML escaped twice ("&lt;p&gt;Talks...&lt;/p&gt;" inside CDATA, or declared as
            # plain text) is HTML: read as written, the reader saw its tags.
            text = unescape(value) if "<" not in value else value
            if holds_markup(text):
                return text, base
        if detail.get("type") == "text/plain":
            paragraphs = summaries.plain_text_paragraphs(value)
            return "".join(f"<p>{escape(part)}</p>" for part in paragraphs), base
        if "<" not in value and "\n" in value:
            # Plain text in an HTML field: its line breaks are all that part its paragraphs,
            # and HTML would read them as spaces ("...despite truce JERUSALEM: ...").
            paragraphs = summaries.plain_text_paragraphs(value)
            return "".join(f"<p>{part}</p>" for part in paragraphs), base
        if "&" in value:
            # A break escaped inside HTML, its other tags not (a CMS that escapes what it adds):
            # read as text, the reader saw "pact.<br>More talks". No story prints "<br>".
            value = _ESCAPED_BREAK.sub("<br>", value)
        return value, base
    return "", ""


def _guid(value: object) -> str:
    guid = collapse_whitespace(str(value or ""))
    if len(guid) <= GUID_LIMIT // 4 or len(guid.encode()) <= GUID_LIMIT:
        return guid
    return "sha256:" + hashlib.sha256(guid.encode()).hexdigest()


def _text_field(detail: Mapping[str, Any] | None, value: object) -> str:
    # Even a title declared as plain text goes through html_to_text: feeds escape markup twice
    # ("AT&amp;amp;T", "&lt;em&gt;") far more often than they mean a literal "<tag>".
    written = _without_cdata_markers(str((detail or {}).get("value") or value or ""))
    if "<" in written:
        written = _LINE_BREAK_IN_TEXT.sub(" — ", written)
    text = html_to_text(written)
    if holds_markup(text):  # markup escaped twice: "&lt;em&gt;holds&lt;/em&gt;"
        text = html_to_text(text)
    return _without_references_escaped_twice(text)


def _without_cdata_markers(text: str) -> str:
    """``text`` without the markers of a CDATA section wrapped twice (see _CDATA_MARKERS)."""
    return _CDATA_MARKERS.sub("", text) if _CDATA_OPENING in text else text


def _without_references_escaped_twice(text: str) -> str:
    """``text`` (plain) with the character references left in it read: "Caf&eacute;" is Café."""
    if "&" not in text:
        return text
    return _ESCAPED_TWICE_IN_TEXT.sub(_reference_in_text, text)


def _names_a_character(reference: str) -> bool:
    """Whether ``reference`` ("#8217", "eacute") is a numeric reference or one of HTML's names."""
    return reference.startswith("#") or f"{reference};" in html5


def _reference_in_text(found: re.Match[str]) -> str:
    return unescape(found[0]) if _names_a_character(found[1]) else found[0]


def _reference_in_html(found: re.Match[str]) -> str:
    # The character itself, escaped again where HTML needs it ("&amp;lt;" is "&lt;").
    if not _names_a_character(found[1]):
        return found[0]
    return escape(unescape(f"&{found[1]};"), quote=False)


def _author(raw: RawEntry) -> str | None:
    details = [detail for detail in raw.get("authors") or () if isinstance(detail, Mapping)]
    if len(details) > 1:
        # Several <author> or <dc:creator> elements: feedparser's "author" is the last one
        # alone, and a byline lost its first writer.
        fields = [str(detail.get("name") or detail.get("email") or "") for detail in details]
    else:
        fields = [str(raw.get("author") or "")]
    # Bounded: more than this is no byline, and the store keeps AUTHOR_LIMIT characters.
    lines = [
        line
        for field in fields[:20]
        for line in _author_lines(_without_cdata_markers(field[: 4 * AUTHOR_LIMIT]))
    ]
    whole = raw if len(lines) == 1 == len(fields) else None
    names = [name for line in lines if (name := _one_author(line, whole))]
    text = ", ".join(dict.fromkeys(names))
    return truncate_text(text, AUTHOR_LIMIT) if says_anything(text) else None


def _one_author(written: str, whole: RawEntry | None) -> str | None:
    """One author's name as written in a line of an author field (see ``_author``); ``whole``:
    the entry when the line is its whole author field, whose ``author_detail`` reads it too."""
    written = collapse_whitespace(written)
    # The name feedparser splits out of "email (Name)" is unreliable, so the raw form is read first.
    match = _EMAIL_THEN_NAME.match(written) or _NAME_THEN_EMAIL.match(written)
    if match:
        name = match.group("name")
    elif "@" in written:
        # feedparser's address pattern stops a domain's last label at four letters and gives the
        # rest as the name: "desk@gulfwire.online" was a byline of "ne". written_author below
        # drops the address from the field as written.
        name = written
    else:
        name = str(((whole or {}).get("author_detail") or {}).get("name") or written)
    # An address is no name, and a reader's mail is no place to publish one. A name escaped
    # twice, as titles are, read "Liam O&#039;Neil" in the byline.
    text = html_to_text(_without_cdata_markers(name))
    return written_author(_without_references_escaped_twice(text))


# A line break in an author field, written or as markup: "Jane Doe<br>John Roe".
_AUTHOR_LINE_BREAK = re.compile(r"\r\n?|\n|<br\s*/?>|</(?:p|div|li)\s*>", re.IGNORECASE)
# Where a line of an author field goes on with the next one rather than ends a name: after a
# separator or a "By", or before one ("Jane Doe,\nJohn Roe", "By\nJane Doe", "Jane Doe\nand
# John Roe").
_AUTHOR_LINE_GOES_ON = re.compile(r"(?:[,،;|/&·•+:–—-]|\b(?:by|and|with)|بقلم|كتب|מאת)$", re.I)
_AUTHOR_LINE_CONTINUES = re.compile(r"^(?:[,،;|/&·•+–—-]|(?:and|with|for|in)\b)", re.I)


def _author_lines(field: str) -> list[str]:
    """The names an author field gives on lines of their own, each line's text; lines that go
    on with the next (see _AUTHOR_LINE_GOES_ON) joined to it. Joined with a space instead,
    "Jane Doe\nJohn Roe" read as one person, "Jane Doe John Roe"."""
    lines: list[str] = []
    for line in _AUTHOR_LINE_BREAK.split(field):
        line = line.strip()
        if not line:
            continue
        if lines and (_AUTHOR_LINE_GOES_ON.search(lines[-1]) or _AUTHOR_LINE_CONTINUES.match(line)):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return lines


def _categories(tags: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    seen: set[str] = set()
    categories: list[str] = []
    for tag in tags:
        # An Atom category's label is its name for people; its term may be a machine's.
        term = collapse_whitespace(without_controls(str(tag.get("label") or tag.get("term") or "")))
        term = truncate_text(term, CATEGORY_LIMIT)
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            categories.append(term)
            if len(categories) == CATEGORIES_LIMIT:
                break
    return tuple(categories)


def _language(raw: RawEntry) -> str | None:
    for key in ("title_detail", "summary_detail"):
        language = (raw.get(key) or {}).get("language")
        if language:
            return normalize_language(language)
    return normalize_language(raw.get("language"))


def normalize_language(value: object) -> str | None:
    """A language tag as ``en-us``: lowercased, hyphenated; None when empty or too long for one."""
    text = collapse_whitespace(str(value or "")).replace("_", "-").lower()
    return text if text and len(text) <= LANGUAGE_LIMIT else None
