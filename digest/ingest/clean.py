"""Clean one feedparser entry into an ``Entry``: sanitized HTML, plain text, canonical URLs.

Nothing a feed sends reaches a reader unescaped (invariant 6): summary HTML goes through an nh3
allowlist, titles and authors become plain text, and every URL kept is an absolute http(s) URL.
What particular platforms add to their entries (FeedBurner, Google News, Reddit, WordPress footers)
is undone with the rules in ``quirks``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import datetime
from html import escape, unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

import nh3

from digest.bylines import written_author
from digest.ingest import pictures, quirks, summaries
from digest.ingest.dates import entry_date
from digest.ingest.nesting import bound_nesting
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
ICON_WIDTH = 100  # pixels; a picture declared narrower is an icon or a thumbnail crop

ALLOWED_TAGS = frozenset(
    {"p", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote", "br", "code"}
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements dropped with everything inside them; other disallowed tags lose the tag, keep the text.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
        "form", "textarea", "select", "button", "head", "title", "frameset", "frame",
    }
)  # fmt: skip

# Query parameters that only tell the publisher where a click came from: the one list of them,
# kept up to date with what major publishers add (tests/test_clean.py holds an example of each).
# Compared case-insensitively ("CMP", "WT.mc_id").
TRACKING_PARAMETERS = frozenset(
    {
        # click ids of ad and social platforms
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "ttclid", "li_fat_id", "epik", "sccid", "irclickid",
        # mail platforms (Mailchimp, HubSpot, Marketo, Vero, Klaviyo)
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "vero_conv", "_kx",
        # publishers' campaign codes
        "ref", "ref_src", "ref_url", "cmpid", "cmp", "intcmp", "icid", "ocid", "ncid", "s_cid",
        "s_kwcid", "soc_src", "soc_trk", "smid", "smtyp", "xtor", "ito", "ftag", "emc",
        "__twitter_impression", "oly_anon_id", "oly_enc_id", "traffic_source", "rss",
        "_ga", "_gl", "guccounter", "guce_referrer", "guce_referrer_sig", "sr_share",
        "taid", "dicbo", "mbid", "int_source", "int_medium", "int_campaign", "cid_source",
    }
)  # fmt: skip
# Families: utm_* (Google), ns_* (BBC's comScore), at_* (AT Internet: BBC, Le Monde),
# pk_* and mtm_* (Matomo), hsa_* (HubSpot ads), wt.* and wt_* (Webtrends), oly_* (Olytics).
TRACKING_PREFIXES = ("utm_", "ns_", "at_", "pk_", "mtm_", "hsa_", "wt.", "wt_", "oly_")
# Parameters that track only when they say the click came from a feed ("?mod=rss_Top_Stories",
# "?partner=rss", "?source=feed"): elsewhere a site may use them for its own pages
# ("?mod=viewthread" on a forum, "?src=" of a viewer).
FEED_MARKER_PARAMETERS = frozenset(
    {"mod", "partner", "src", "source", "from", "feed", "f", "via", "r", "s"}
)
_FEED_MARKER_VALUE = re.compile(
    r"(?:rss|atom|feeds?|feedburner|rssfeeds?)(?:[-_.:].*)?|.*[-_](?:rss|feed)", re.IGNORECASE
)

# Characters left as they are when re-quoting a URL's path and query (existing %XX escapes too).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_WHITESPACE_RUN = re.compile(r"[ \t]{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
# An anchor the sanitizer emptied (it held an image, a feedflare button, a thumbnail).
_EMPTY_ANCHOR = re.compile(r'<a(?: [a-z]+="[^"]*")*>\s*</a>')
# Block elements the allowlist strips would otherwise glue their text to the next block's.
_STRIPPED_BLOCK_END = re.compile(
    r"(</(?:h[1-6]|div|section|article|header|footer|figure|figcaption|table|tr|td|th|dd|dt|pre)\s*>)",
    re.IGNORECASE,
)
# A start or end tag of ALLOWED_TAGS as the sanitizer writes it: lowercase, attributes in double
# quotes with "<" escaped, no "/>". Each holds exactly one "<".
_TAG_NAMES = "|".join(sorted(ALLOWED_TAGS))
_SANITIZED_TAG = re.compile(rf'<(?:({_TAG_NAMES})(?: [a-z]+="[^"<]*")*|/({_TAG_NAMES}))>')
_IMG_TAG = re.compile(r"<img", re.IGNORECASE)
# A start tag whose attributes are all name="value" (no "<", ">" or quote inside), separated by
# the spaces that end a tag name for html.parser, or an end tag; each holds exactly one "<".
_PLAIN_TAG = re.compile(
    r'<(?:([a-zA-Z][a-zA-Z0-9]*)((?:[\t\n\r\f ]+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"<>]*")?)*)'
    r"[\t\n\r\f ]*/?|/[a-zA-Z][a-zA-Z0-9]*)>"
)
_PLAIN_ATTRIBUTE = re.compile(r'([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"<>]*)")?')
# Elements whose content some version of html.parser reads as text rather than as tags.
_RAW_TEXT = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
     "plaintext"}
)  # fmt: skip
_EMAIL_THEN_NAME = re.compile(r"^[^\s@()<>]+@[^\s@()<>]+\s*\((?P<name>[^()]+)\)$")  # a@b.c (Name)
_NAME_THEN_EMAIL = re.compile(r"^(?P<name>[^<>@]+?)\s*<[^\s@<>]+@[^\s@<>]+>$")  # Name <a@b.c>
# An entity reference escaped once too often ("Israel&amp;#8217;s" in a CDATA title or summary):
# the publisher meant the character. Only references that name a character are undone.
_ENTITY_NAMES = (
    r"#[0-9]{2,7}|#[xX][0-9a-fA-F]{2,6}|amp|quot|apos|lt|gt|nbsp|hellip|[lr][sd]quo|[mn]dash"
)
_ESCAPED_TWICE_IN_TEXT = re.compile(rf"&(?:{_ENTITY_NAMES});")
_ESCAPED_TWICE_IN_HTML = re.compile(rf"&amp;({_ENTITY_NAMES});")
_NOT_IMAGE_SUFFIXES = (
    ".mp3", ".m4a", ".ogg", ".oga", ".mp4", ".m4v", ".webm", ".mov", ".m3u8", ".pdf",
)  # fmt: skip

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
        "tr", "td", "th", "table", "section", "article", "header", "footer", "pre", "hr",
        "figure", "figcaption", "dd", "dt", "dl",
    }
)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# HTML


def sanitize_html(html: str, *, base_url: str | None) -> str:
    """Feed HTML cut down to a small allowlist: links absolute http(s)/mailto, no images."""
    token = _LINK_BASE.set(base_url)
    try:
        cleaned = _SANITIZER.clean(_STRIPPED_BLOCK_END.sub(r"\1 ", bound_nesting(html)))
    finally:
        _LINK_BASE.reset(token)
    # Dropping images leaves the links and then the paragraphs that held them empty.
    if "</a>" in cleaned:
        cleaned = _EMPTY_ANCHOR.sub("", cleaned)
    return _WHITESPACE_RUN.sub(" ", _EMPTY_PARAGRAPH.sub("", cleaned)).strip()


# The addresses urllib could not read while a document's entries were cleaned (``collecting_
# unreadable``); each was left out. None when no one is collecting.
_UNREADABLE: ContextVar[list[str] | None] = ContextVar("unreadable", default=None)


@contextmanager
def collecting_unreadable() -> Iterator[list[str]]:
    """Collect, into the list yielded, the addresses left out because urllib cannot read them
    ("http://[oops]/"), so that the feed's warning can say so; within another collection, into
    that one's list."""
    if (outer := _UNREADABLE.get()) is not None:
        yield outer
        return
    found: list[str] = []
    token = _UNREADABLE.set(found)
    try:
        yield found
    finally:
        _UNREADABLE.reset(token)


def _unreadable(address: str) -> None:
    if (found := _UNREADABLE.get()) is not None:
        found.append(address)


# What relative links in the HTML being sanitized are relative to: one sanitizer serves every
# entry (building one per call costs more than the cleaning), so the base goes beside it.
_LINK_BASE: ContextVar[str | None] = ContextVar("link_base", default=None)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return _safe_link(value, _LINK_BASE.get())
    return value


_SANITIZER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_keep_attribute,
    url_schemes=set(LINK_SCHEMES),
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def _safe_link(value: str, base_url: str | None) -> str | None:
    # Browsers ignore control characters and surrounding spaces in URLs ("java\tscript:"), so we
    # drop them too before deciding what the scheme is.
    href = _CONTROL.sub("", value).strip()
    if not href:
        return None
    try:
        scheme = urlsplit(href).scheme.lower()
        if not scheme:
            if base_url is None:
                return None  # a relative link is useless in a mail
            href = resolve_url(base_url, href)
            scheme = urlsplit(href).scheme.lower()
    except ValueError:  # "http://[oops]/": brackets that hold no IPv6 address
        _unreadable(href)
        return None
    return href if scheme in LINK_SCHEMES else None


# Elements whose text is not part of the text; void elements (embed, frame) have none to skip.
_TEXT_SKIPPED = DROPPED_WITH_CONTENT - {"embed", "frame"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _TEXT_SKIPPED:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _TEXT_SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace collapsed."""
    if "<" not in html:
        # No tag (most titles and bylines): all the parser would do is decode the entities.
        return collapse_whitespace(unescape(html))
    text = _plain_markup_text(html)
    if text is None:
        extractor = _TextExtractor()
        extractor.feed(_TEXT_MARKUP.clean(bound_nesting(html)))  # see _TEXT_MARKUP
        extractor.close()
        text = "".join(extractor.parts)
    return collapse_whitespace(text)


# What html.parser is handed when the plain-markup readers cannot take a fragment: the fragment as
# html5ever reads it (in linear time), with nothing but the tags that matter left, all closed
# and quoted. Given a malformed fragment itself, html.parser takes a time quadratic in the length
# of a run of unclosed tags ("<img src=x <img src=x ...", "<!--<!--..."): 100 KB of them in a
# title or description held the poller for twenty seconds.
_TEXT_MARKUP = nh3.Cleaner(
    tags=set(_BLOCK_TAGS),
    clean_content_tags=set(_TEXT_SKIPPED),
    attributes={},
    strip_comments=True,
    link_rel=None,
)


def _plain_markup_text(html: str) -> str | None:
    """The text ``_TextExtractor`` would find in ``html``, read with one regular expression when
    every tag is an allowlisted one written as the sanitizer writes it (so every summary); None
    for anything else, which the parser reads.

    Between such tags there is nothing but text, so the parser's events are exactly: each tag
    (a space for a block element) and each run of text with its entities decoded.
    """
    parts: list[str] = []
    position = tags = 0
    for tag in _SANITIZED_TAG.finditer(html):
        parts.append(_decoded(html[position : tag.start()]))
        if (tag.group(1) or tag.group(2)) in _BLOCK_TAGS:
            parts.append(" ")
        position = tag.end()
        tags += 1
    if html.count("<") != tags:  # a "<" that starts no such tag: not plain markup
        return None
    parts.append(_decoded(html[position:]))
    return "".join(parts)


def _decoded(text: str) -> str:
    return unescape(text) if "&" in text else text


def collapse_whitespace(text: str) -> str:
    # The same as re.sub(r"\s+", " ", text).strip(), a few times faster: str.split and the
    # pattern's \s agree on what whitespace is, for every character (the tests check).
    return " ".join(text.split())


def truncate_text(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = cut.rfind(" ")
    # A text with no space in reach (one enormous word, or a script without spaces) is cut hard.
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,;:.-–—") + "…"


# Where lazy-loading scripts (WordPress plugins, jQuery lazyload, lazysizes) keep the picture.
_LAZY_SOURCES = ("data-lazy-src", "data-src", "data-original", "data-lazy")


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            _add_image(self.sources, dict(attrs))

    handle_startendtag = handle_starttag


def _add_image(sources: list[str], values: dict[str, str | None]) -> None:
    # Tracking pixels are declared 1x1 (or 0x0); they are not a picture of the story.
    if values.get("width") in ("0", "1") or values.get("height") in ("0", "1"):
        return
    # WordPress writes each emoji as an <img class="emoji"> (or "wp-smiley"): an icon, not a photo.
    if "emoji" in (kind := values.get("class") or "") or "smiley" in kind:
        return
    # Lazy-loading plugins put the picture in a data attribute and a placeholder in src.
    for name in _LAZY_SOURCES:
        if source := values.get(name):
            sources.append(source)
            return
    if source := values.get("src"):
        sources.append(source)
    elif srcset := values.get("srcset"):
        sources.append((srcset.split() or [""])[0].rstrip(","))  # its first candidate


# Every attribute _add_image reads; <noscript> is kept, where lazy-loading plugins put the real
# <img> for readers without scripts.
_IMAGE_MARKUP = nh3.Cleaner(
    tags={"img"},
    clean_content_tags={"script", "style", "template", "textarea"},
    attributes={"img": {"src", "srcset", "width", "height", "class", *_LAZY_SOURCES}},
    strip_comments=True,
    link_rel=None,
)


def image_sources(html: str) -> list[str]:
    """The picture of each ``<img>`` in ``html`` (its lazy-loaded source over ``src``, else its
    ``srcset``), in order, tracking pixels and emoji left out."""
    if _IMG_TAG.search(html) is None:  # the parser sees a tag only where "<img" is written
        return []
    sources = _plain_markup_images(html)
    if sources is None:
        canonical = _IMAGE_MARKUP.clean(bound_nesting(html))  # see _TEXT_MARKUP
        sources = _plain_markup_images(canonical)
        if sources is None:  # an attribute value with "<" or ">" in it
            finder = _ImageSources()
            finder.feed(canonical)
            finder.close()
            sources = finder.sources
    return sources


def _plain_markup_images(html: str) -> list[str] | None:
    """What ``_ImageSources`` would find in ``html``, read with regular expressions when every
    tag in it is plainly written (as feedparser writes the HTML it hands on); None for anything
    else (comments, declarations, raw-text elements such as ``<script>``, unquoted or oddly
    spaced attributes), which the parser reads.

    Between such tags there is only text, so the parser's start tags are exactly these, with
    the same names and attributes (lowercased names, entities in values decoded).
    """
    sources: list[str] = []
    tags = 0
    for tag in _PLAIN_TAG.finditer(html):
        tags += 1
        name = (tag.group(1) or "").lower()  # "" for an end tag
        if name in _RAW_TEXT:
            return None
        if name == "img":
            values: dict[str, str | None] = {
                attribute.group(1).lower(): (
                    unescape(attribute.group(2)) if attribute.group(2) else attribute.group(2)
                )
                for attribute in _PLAIN_ATTRIBUTE.finditer(tag.group(2))
            }
            _add_image(sources, values)
    if html.count("<") != tags:  # a "<" that starts no plain tag
        return None
    return sources


# ----------------------------------------------------------------------------------------------
# URLs


def canonical_link(url: str) -> str:
    """The one spelling of an article's address used to recognise it across feeds.

    Absolute http(s), lowercased scheme and host, default port, credentials and fragment removed,
    tracking parameters (``utm_*``, ``fbclid``, ...) removed, unsafe characters percent-encoded.
    Raises ValueError for anything that is not an absolute http(s) URL.
    """
    parts = urlsplit(_CONTROL.sub("", url).strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    with suppress(UnicodeError):  # else keep the host as written; it is lowercased already
        host = host.encode("idna").decode("ascii")
    if parts.netloc.rpartition("@")[2].startswith("["):
        host = f"[{host}]"  # an IPv6 (or future) literal, as it was written
    port = parts.port  # raises ValueError for a port that is not a number
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if port is None or port == default_port else f"{host}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    kept = [pair for pair in parts.query.split("&") if pair and not _is_tracking(pair)]
    query = quote("&".join(kept), safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def _is_tracking(pair: str) -> bool:
    written_name, _, written_value = pair.partition("=")
    name = unquote_plus(written_name).lower()
    if name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES):
        return True
    return name in FEED_MARKER_PARAMETERS and bool(
        _FEED_MARKER_VALUE.fullmatch(unquote_plus(written_value))
    )


def resolve_url(base_url: str, reference: str) -> str:
    """``urljoin(base_url, reference)``, at a fraction of its cost for the common case: a path
    from the site's root ("/2026/story.html") on an http(s) base, which needs no resolving of
    "." or ".." segments and keeps everything else as written."""
    if (
        reference[:1] == "/"
        and reference[1:2] != "/"  # "//host/path" names another host
        and "/." not in reference
        and reference.isprintable()  # urljoin drops tabs and line breaks
        and " " not in reference
    ):
        base = urlsplit(base_url)
        if base.scheme in ("http", "https") and base.netloc:
            return f"{base.scheme}://{base.netloc}{reference}"
    return urljoin(base_url, reference)


def absolute_http_url(url: str | None, base_url: str | None) -> str | None:
    """``url`` made absolute against ``base_url``, if the result is an http(s) URL no longer than
    ``URL_LIMIT``; else None."""
    if not url:
        return None
    candidate = _CONTROL.sub("", url).strip()
    try:
        parts = urlsplit(candidate)
        if base_url and not (parts.scheme and parts.netloc):  # relative: resolve it
            candidate = resolve_url(base_url, candidate)
            parts = urlsplit(candidate)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:  # "http://[oops]/" (no IPv6 address in brackets), "http://host:x/"
        _unreadable(candidate)
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return candidate if len(candidate) <= URL_LIMIT else None


def _is_http_url(url: str | None) -> bool:
    return absolute_http_url(url, None) is not None


# ----------------------------------------------------------------------------------------------
# Entries

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
    site = feed_link if feed_link and _is_http_url(feed_link) else feed_url
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
        summary_html = _ESCAPED_TWICE_IN_HTML.sub(r"&\1;", summary_html)
    paragraphs = summaries.paragraphs_of(summary_html)
    # A wire dateline or byline opening a paragraph is no part of the story's summary.
    if (cleaned := summaries.clean_paragraphs(paragraphs)) != paragraphs:
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
    if not title:
        title = truncate_text(summary_text, 80) if summary_text else link
    published = entry_date(raw, "published", now)
    updated = entry_date(raw, "updated", now)

    return Entry(
        guid=guid,
        link=link,
        title=truncate_text(title, TITLE_LIMIT),
        summary_html=summary_html,
        summary_text=summary_text,
        author=_author(raw),
        published_at=published or updated,  # an Atom entry often carries only <updated>
        updated_at=updated,
        categories=_categories(raw.get("tags") or ()),
        image_url=_image_url(raw, source_html, page, html_base),
        language=_language(raw) or normalize_language(feed_language),
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
    if raw.get("guidislink") or _is_http_url(raw.get("id")):
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
    for detail in details:
        value = str(detail.get("value") or "")
        if not value.strip():
            continue
        base = str(detail.get("base") or "")
        if detail.get("type") == "text/plain":
            paragraphs = summaries.plain_text_paragraphs(value)
            return "".join(f"<p>{escape(part)}</p>" for part in paragraphs), base
        if "<" not in value and "\n" in value:
            # Plain text in an HTML field: its line breaks are all that part its paragraphs,
            # and HTML would read them as spaces ("...despite truce JERUSALEM: ...").
            paragraphs = summaries.plain_text_paragraphs(value)
            return "".join(f"<p>{part}</p>" for part in paragraphs), base
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
    text = html_to_text(str((detail or {}).get("value") or value or ""))
    if "&" in text:
        text = _ESCAPED_TWICE_IN_TEXT.sub(lambda reference: unescape(reference.group()), text)
    return text


def _author(raw: RawEntry) -> str | None:
    # The name feedparser splits out of "email (Name)" is unreliable, so the raw form is read first.
    written = collapse_whitespace(str(raw.get("author") or ""))
    match = _EMAIL_THEN_NAME.match(written) or _NAME_THEN_EMAIL.match(written)
    if match:
        name = match.group("name")
    else:
        name = str((raw.get("author_detail") or {}).get("name") or written)
    # An address is no name, and a reader's mail is no place to publish one.
    text = written_author(html_to_text(name)) or ""
    return truncate_text(text, AUTHOR_LIMIT) or None


def _categories(tags: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    seen: set[str] = set()
    categories: list[str] = []
    for tag in tags:
        # An Atom category's label is its name for people; its term may be a machine's.
        term = collapse_whitespace(str(tag.get("label") or tag.get("term") or ""))
        term = truncate_text(term, CATEGORY_LIMIT)
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            categories.append(term)
            if len(categories) == CATEGORIES_LIMIT:
                break
    return tuple(categories)


def _image_url(raw: RawEntry, source_html: str, link: str, html_base: str) -> str | None:
    for candidate, base in _image_candidates(raw, source_html, link, html_base):
        url = absolute_http_url(candidate, base)
        if url is not None and pictures.picture_url(url) is not None:
            return url
    return None


def _image_candidates(
    raw: RawEntry, source_html: str, link: str, html_base: str
) -> Iterable[tuple[str | None, str]]:
    """Lead image candidates, best first, each with the URL it is relative to."""
    media = [item for item in raw.get("media_content") or () if _looks_like_image(item)]
    # Publishers list several renditions; the widest makes the best lead picture.
    media.sort(key=lambda item: _as_int(item.get("width")), reverse=True)
    yield from ((item.get("url"), link) for item in media)
    thumbnails = raw.get("media_thumbnail") or ()
    # An icon-sized thumbnail (Blogger's 72px crops) is the last resort, after the HTML's images.
    yield from ((item.get("url"), link) for item in thumbnails if not _is_icon_sized(item))
    for enclosure in raw.get("links") or ():
        if enclosure.get("rel") == "enclosure" and str(enclosure.get("type", "")).startswith(
            "image/"
        ):
            yield enclosure.get("href"), link
    yield (raw.get("image") or {}).get("href"), link
    yield from ((source, html_base) for source in image_sources(source_html))
    for content in raw.get("content") or ():
        base = absolute_http_url(str(content.get("base") or ""), link) or link
        yield from ((source, base) for source in image_sources(str(content.get("value") or "")))
    yield from ((item.get("url"), link) for item in thumbnails if _is_icon_sized(item))


def _is_icon_sized(item: Mapping[str, Any]) -> bool:
    return 0 < _as_int(item.get("width")) < ICON_WIDTH


def _looks_like_image(item: Mapping[str, Any]) -> bool:
    medium = str(item.get("medium") or "")
    kind = str(item.get("type") or "")
    if medium or kind:
        return medium == "image" or kind.startswith("image/")
    # Undeclared media is usually a picture; a sound or video file says so by its name.
    try:
        path = urlsplit(str(item.get("url") or "")).path
    except ValueError:  # no address at all; absolute_http_url refuses it too
        return False
    return not path.lower().endswith(_NOT_IMAGE_SUFFIXES)


def _as_int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


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
