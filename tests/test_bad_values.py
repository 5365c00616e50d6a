"""One entry's bad value costs that entry only, or just the bad field (invariant 6).

Each case puts one hostile value in one field of one entry, beside a good entry, in RSS, Atom or
JSON Feed, and checks that the document still parses, that the good entry is read, and (where the
bad value is not the entry's only link) that the entry holding it is read without that field.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import escape, unescape
from typing import Any
from urllib.parse import urlsplit

import pytest

from digest.ingest import parse_feed
from digest.ingest.parse import _clean_entries
from digest.records import ParsedFeed

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example/feed"
GOOD_LINK = "https://news.example/good"

# Addresses urllib.parse, the IDNA codec or int() refuse, or that look like an address and are not.
BAD_URLS = [
    "http://[oops]/x",
    "http://[x/a.jpg",
    "http://x]/a.jpg",
    "http://[::1/a.jpg",
    "http://[v1.x]/a.jpg",
    "http://[::1]:8x/a.jpg",
    "http://news.example:99999999/a.jpg",
    "http://news.example:-1/a.jpg",
    "http://news.example:port/a.jpg",
    "http://" + "a" * 70 + ".example/a.jpg",  # an IDNA label over 63 characters
    "http://\u00e9" + "e" * 70 + ".example/a.jpg",
    "http://xn--/a.jpg",
    "http://a..b/a.jpg",
    "http:///a.jpg",
    "http://\u2100.example/a.jpg",  # a character IDNA maps to "a/c": a new path
    "//[x/a.jpg",
    "[x/a.jpg",
]


def _rss(item: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f"{declaration}\n"
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom">'
        "<channel><title>Wire</title><link>https://news.example/</link>"
        f"{item}"
        f"<item><title>Good</title><link>{GOOD_LINK}</link><guid>good-1</guid>"
        "<pubDate>Tue, 10 Jun 2025 08:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    ).encode()


def _atom(entry: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>'
        '<link href="https://news.example/"/><id>urn:wire</id>'
        f"{entry}"
        f'<entry><title>Good</title><link href="{GOOD_LINK}"/><id>good-1</id>'
        "<updated>2025-06-10T08:00:00Z</updated></entry></feed>"
    ).encode()


def _json(item: dict[str, Any], **feed: Any) -> bytes:
    good = {"id": "good-1", "url": GOOD_LINK, "title": "Good"}
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Wire",
        "items": [item, good],
        **feed,
    }
    return json.dumps(document).encode()


def _parse(content: bytes, content_type: str | None = None) -> ParsedFeed:
    return parse_feed(content, url=FEED_URL, content_type=content_type, now=NOW)


def _links(feed: ParsedFeed) -> list[str]:
    return [entry.link for entry in feed.entries]


def _readable(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) address that urllib reads whole."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != -1


def _x(value: str) -> str:
    return escape(value, quote=True)


# The bad value is the entry's only link: the entry is skipped, the good one read.
@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    "item",
    [
        "<item><title>Bad</title><link>{url}</link></item>",
        '<item><title>Bad</title><guid isPermaLink="true">{url}</guid></item>',
        "<item><title>Bad</title><feedburner:origLink>{url}</feedburner:origLink></item>",
        '<item><title>Bad</title><atom:link rel="alternate" href="{url}"/></item>',
    ],
    ids=["link", "guid", "origlink", "atom-link"],
)
def test_a_bad_entry_link_costs_that_entry_only(item: str, url: str) -> None:
    feed = _parse(_rss(item.format(url=_x(url))))
    assert GOOD_LINK in _links(feed)


# The bad value is one field of an entry that has a good link: the entry is read without it.
@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    "field",
    [
        "<description>{html}</description>",
        "<content:encoded>{html}</content:encoded>",
        '<media:content url="{url}" medium="image"/>',
        '<media:content url="{url}"/>',
        '<media:thumbnail url="{url}" width="40"/>',
        '<media:thumbnail url="{url}"/>',
        '<enclosure url="{url}" type="image/jpeg" length="1"/>',
        "<comments>{url}</comments>",
        '<source url="{url}">Elsewhere</source>',
        '<category domain="{url}">Gulf</category>',
    ],
    ids=[
        "img-in-description",
        "img-in-content",
        "media-content",
        "media-content-undeclared",
        "thumbnail-icon",
        "thumbnail",
        "enclosure",
        "comments",
        "source",
        "category-domain",
    ],
)
def test_a_bad_address_in_a_field_costs_that_field_only(field: str, url: str) -> None:
    html = _x(f'<p>Text <a href="{url}">here</a> and <a href="rel">there</a>.</p><img src="{url}">')
    item = f"<item><title>Bad</title><link>https://news.example/bad</link>{field}</item>"
    feed = _parse(_rss(item.format(url=_x(url), html=html)))
    assert _links(feed) == ["https://news.example/bad", GOOD_LINK]
    bad = feed.entries[0]
    assert bad.image_url is None or _readable(bad.image_url)
    if "{html}" in field:
        # The text stays, and so does the link beside the bad one; any link kept can be read.
        assert "https://news.example/rel" in bad.summary_html
        for href in re.findall(r'href="([^"]*)"', bad.summary_html):
            urlsplit(unescape(href))


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_xml_base_costs_its_entry_its_relative_links_only(url: str) -> None:
    item = (
        f'<item xml:base="{_x(url)}"><title>Bad</title><link>https://news.example/bad</link>'
        f"<description>{_x('<a href=x>x</a> <img src=a.jpg>')}</description></item>"
    )
    feed = _parse(_rss(item))
    assert _links(feed) == ["https://news.example/bad", GOOD_LINK]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_channel_link_costs_the_feed_its_site_only(url: str) -> None:
    content = _rss("").replace(
        b"<link>https://news.example/</link>", f"<link>{_x(url)}</link>".encode()
    )
    feed = _parse(content)
    assert feed.link is None or _readable(feed.link)
    assert _links(feed) == [GOOD_LINK]
    if feed.link is None and "[" in url:
        assert feed.warning is not None and "cannot be read were left out" in feed.warning


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_atom_address_costs_that_entry_or_field_only(url: str) -> None:
    entry = (
        f'<entry xml:base="{_x(url)}"><title>Bad</title><link href="{_x(url)}"/>'
        f'<link rel="enclosure" type="image/png" href="{_x(url)}"/><id>{_x(url)}</id>'
        f'<content type="html" xml:base="{_x(url)}">{_x("<a href=x>x</a>")}</content>'
        f"<author><name>A</name><uri>{_x(url)}</uri></author></entry>"
    )
    feed = _parse(_atom(entry))
    assert GOOD_LINK in _links(feed)


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_json_feed_address_costs_that_entry_or_field_only(url: str) -> None:
    item = {
        "id": url,
        "url": "https://news.example/bad",
        "external_url": url,
        "image": url,
        "banner_image": url,
        "content_html": f'<a href="{url}">x</a><img src="{url}">',
        "attachments": [{"url": url, "mime_type": "image/png"}],
    }
    feed = _parse(_json(item, home_page_url=url))
    assert _links(feed) == ["https://news.example/bad", GOOD_LINK]
    only_link = _parse(_json({"id": "bad", "url": url}))
    assert GOOD_LINK in _links(only_link)


@pytest.mark.parametrize(
    "field",
    [
        "<pubDate>Tue, 10 Jun 99999 08:00:00 GMT</pubDate>",
        "<pubDate>Tue, 10 Jun 2025 08:00:00 GMT+99:99</pubDate>",
        "<pubDate>Tue, 10 Jun 2025 99:99:99 +9999</pubDate>",
        "<pubDate>Mon, 01 Jan 0001 00:00:00 +2359</pubDate>",
        "<pubDate>Fri, 31 Dec 9999 23:59:59 -2359</pubDate>",
        "<pubDate>" + "9" * 5000 + "</pubDate>",
        "<dc:date>0001-01-01T00:00:00+23:59</dc:date>",
        "<dc:date>9999-12-31T23:59:59-23:59</dc:date>",
        "<dc:date>" + "1" * 5000 + "-01-01</dc:date>",
        "<dc:language>" + "x" * 5000 + "</dc:language>",
        "<category>" + "c" * 5000 + "</category>",
        "<author>" + "a@b" * 100 + "</author>",
        "<dc:creator>" + "&lt;b&gt;" * 3000 + "</dc:creator>",
        '<media:content url="https://news.example/a.jpg" width="' + "9" * 5000 + '"/>',
        '<media:thumbnail url="https://news.example/a.jpg" width="-1e999"/>',
        '<enclosure url="https://news.example/a.jpg" type="image/jpeg" length="x"/>',
        "<guid>" + "g" * 100_000 + "</guid>",
    ],
)
def test_a_bad_value_in_another_field_costs_that_field_only(field: str) -> None:
    item = f"<item><title>Bad</title><link>https://news.example/bad</link>{field}</item>"
    feed = _parse(_rss(item))
    assert _links(feed) == ["https://news.example/bad", GOOD_LINK]


@pytest.mark.parametrize(
    "item",
    [
        {"date_published": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"date_modified": "9999-12-31T23:59:59-01:00"},  # after year 9999 in UTC
        {"date_published": 12},
        {"tags": [1, None, {"x": 1}, "ok"]},
        {"authors": [1, None, {"name": 3}, {"name": "A"}]},
        {"author": "A"},
        {"language": "x" * 5000},
        {"attachments": [1, {"url": 2}]},
        {"content_html": 1, "summary": ["x"]},
        {"id": 10**300},
        {"id": True},
    ],
)
def test_a_bad_json_feed_value_costs_that_field_only(item: dict[str, Any]) -> None:
    feed = _parse(_json({"url": "https://news.example/bad", **item}))
    assert _links(feed) == ["https://news.example/bad", GOOD_LINK]


@pytest.mark.parametrize(
    "declaration",
    [
        '<?xml version="1.0" encoding="UTF-8\0"?>',
        '<?xml version="1.0" encoding="\0"?>',
        '<?xml version="1.0" encoding="utf-8\0utf-16"?>',
    ],
)
def test_a_declared_encoding_no_codec_reads_costs_nothing_but_a_warning(declaration: str) -> None:
    feed = _parse(_rss("", declaration=declaration))
    assert _links(feed) == [GOOD_LINK]
    assert feed.warning is not None and "encoding" in feed.warning


@pytest.mark.parametrize(
    "content_type",
    [
        "application/rss+xml; charset=utf-8\0",
        "text/xml; charset=\0",
        "application/xml; charset=\0x",
    ],
)
def test_a_served_charset_no_codec_reads_costs_nothing_but_a_warning(content_type: str) -> None:
    feed = _parse(_rss(""), content_type)
    assert _links(feed) == [GOOD_LINK]
    assert feed.warning is not None and "encoding" in feed.warning


def test_the_warning_says_which_address_could_not_be_read() -> None:
    feed = _parse(_rss("<item><title>Bad</title><link>http://[oops]/x</link></item>"))
    assert _links(feed) == [GOOD_LINK]
    assert feed.warning is not None
    assert "1 address(es) that cannot be read were left out" in feed.warning
    assert "'http://[oops]/x'" in feed.warning


def test_the_warning_says_which_xml_base_was_removed() -> None:
    item = (
        '<item xml:base="http://[x/"><title>Bad</title><link>https://news.example/bad</link></item>'
    )
    feed = _parse(_rss(item))
    assert feed.warning is not None and "1 xml:base address(es)" in feed.warning


def test_an_entry_that_fails_to_clean_is_skipped_with_a_warning() -> None:
    # Shapes no parser of ours yields today: should one appear, it costs its own entry only.
    raw_entries = [
        {"link": "https://news.example/bad", "tags": [None]},
        {"link": "https://news.example/bad2", "media_content": [7]},
        {"link": GOOD_LINK, "title": "Good"},
    ]
    entries, dropped, problems = _clean_entries(
        raw_entries, url=FEED_URL, link=None, language=None, now=NOW
    )
    assert [entry.link for entry in entries] == [GOOD_LINK]
    assert dropped == 0
    assert problems == [
        "2 entries could not be read and were skipped "
        "(the first: AttributeError: 'NoneType' object has no attribute 'get')"
    ]


_GEO = 'xmlns:georss="http://www.georss.org/georss" xmlns:gml="http://www.opengis.net/gml"'


@pytest.mark.parametrize(
    "field",
    [
        # feedparser raised TypeError on this one, and lost the whole document.
        f"<georss:where {_GEO}><gml:Polygon><gml:exterior><gml:LinearRing>"
        "<gml:posList>a b</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
        "</georss:where>",
        f"<georss:where {_GEO}><gml:Polygon><gml:exterior><gml:LinearRing>"
        "<gml:posList>1 2 3</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
        "</georss:where>",
        f'<georss:where {_GEO}><gml:Point srsDimension="0"><gml:pos>1 2</gml:pos></gml:Point>'
        "</georss:where>",
        f"<georss:point {_GEO}>x y</georss:point>",
        f"<georss:box {_GEO}>1 2</georss:box>",
        '<media:content url="https://news.example/a.jpg" duration="x" fileSize="y"/>',
        '<psc:chapters xmlns:psc="http://podlove.org/simple-chapters">'
        '<psc:chapter start="99:99:99:99.9999" title="t"/></psc:chapters>',
        '<dcterms:valid xmlns:dcterms="http://purl.org/dc/terms/">start=x;end=99999-99-99'
        "</dcterms:valid>",
        "<pubDate>0000-00-00T00:00:00Z</pubDate>",
        "<pubDate>9999-12-31T23:59:60-23:59</pubDate>",
    ],
)
def test_a_value_the_xml_parser_cannot_read_costs_that_value_only(field: str) -> None:
    item = f"<item><title>Bad</title><link>https://news.example/bad</link>{field}</item>"
    feed = _parse(_rss(item))
    assert _links(feed) == ["https://news.example/bad", GOOD_LINK]


def test_a_long_declared_encoding_is_quoted_short_in_the_warning() -> None:
    declaration = f'<?xml version="1.0" encoding="{"x" * 100_000}"?>'
    feed = _parse(_rss("", declaration=declaration))
    assert _links(feed) == [GOOD_LINK]
    assert feed.warning is not None and len(feed.warning) < 1_000
