"""Tests for digest.ingest.parse: the feed formats, broken feeds, non-feeds and legacy encodings."""

from __future__ import annotations

import json
import multiprocessing
import re
import time
import xml.sax
import xml.sax.handler
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing import Queue
from pathlib import Path
from typing import Any

import feedparser.api
import pytest

from digest.errors import ParseError
from digest.ingest import expat_driver, isolation, parse_feed
from digest.ingest.isolation import parse_apart
from digest.ingest.parse import OutOfTime
from digest.records import ParsedFeed

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def parse(name: str, content_type: str | None = "application/rss+xml") -> ParsedFeed:
    return parse_feed(
        (FEEDS / name).read_bytes(),
        url=f"https://feeds.example/{name}",
        content_type=content_type,
        now=NOW,
    )


def test_rss_20() -> None:
    feed = parse("rss20.xml")
    assert feed.title == "Gulf Wire & Friends"
    assert feed.link == "https://gulfwire.example/"
    assert feed.language == "en-gb"
    assert feed.warning is None
    # The third item has neither link nor guid and is dropped.
    assert [entry.guid for entry in feed.entries] == [
        "gulfwire-4711",
        "https://gulfwire.example/2025/06/riyadh-energy-summit",
    ]

    pact, summit = feed.entries
    assert pact.title == "Oman & Qatar sign a shipping pact"
    assert pact.link == "https://gulfwire.example/2025/06/oman-qatar-shipping?id=42"
    assert pact.author == "Layla Haddad"
    assert pact.published_at == datetime(2025, 6, 10, 6, 30, tzinfo=UTC)
    assert pact.updated_at is None
    assert pact.categories == ("Gulf", "Shipping")
    assert pact.image_url == "https://cdn.gulfwire.example/img/pact-large.jpg"
    assert pact.summary_html == (
        '<p>Muscat and Doha agreed on <a href="https://gulfwire.example/ports" '
        'rel="noopener noreferrer">new port rules</a>.</p>'
    )
    assert pact.summary_text == "Muscat and Doha agreed on new port rules."
    assert pact.language == "en-gb"

    assert summit.author == "Omar Nasser"
    assert summit.summary_html == "<p>Ministers from across the <b>GCC</b> met in Riyadh.</p>"
    assert summit.image_url == "https://cdn.gulfwire.example/img/summit-enclosure.jpg"
    assert summit.published_at == datetime(2025, 6, 10, 8, 0, tzinfo=UTC)


def test_atom_10() -> None:
    feed = parse("atom.xml", "application/atom+xml")
    assert feed.title == "The Levant Ledger"
    assert feed.link == "https://levantledger.example/"
    assert feed.language == "en"
    beirut, damascus = feed.entries

    assert beirut.guid == "tag:levantledger.example,2025:beirut-port"
    assert beirut.title == "Beirut port reopens"
    # Relative links are resolved through xml:base.
    assert beirut.link == "https://levantledger.example/articles/beirut-port"
    assert 'href="https://levantledger.example/terminals/east"' in beirut.summary_html
    # Only <updated>: it stands in for the publication date, converted to UTC.
    assert beirut.published_at == datetime(2025, 6, 10, 5, 15, tzinfo=UTC)
    assert beirut.author == "Rana Khalil"
    assert beirut.categories == ("Lebanon",)

    assert damascus.link == "https://levantledger.example/articles/damascus-talks"
    assert damascus.published_at == datetime(2025, 6, 9, 18, 0, tzinfo=UTC)
    assert damascus.updated_at == datetime(2025, 6, 10, 7, 0, tzinfo=UTC)
    assert damascus.summary_text == "Delegations met again on Monday & agreed to continue."
    assert (
        damascus.summary_html == "<p>Delegations met again on Monday &amp; agreed to continue.</p>"
    )


def test_rss_10() -> None:
    feed = parse("rss10.rdf", "application/rdf+xml")
    assert feed.title == "Persia Review"
    assert feed.language == "en"
    isfahan, tehran = feed.entries
    assert isfahan.link == "https://persiareview.example/isfahan-water"
    assert isfahan.author == "Sara Tehrani"
    assert isfahan.categories == ("Iran",)
    assert isfahan.published_at == datetime(2025, 6, 10, 2, 30, tzinfo=UTC)
    assert tehran.title == "Tehran markets steady as the rial holds"
    assert tehran.published_at == datetime(2025, 6, 9, 15, 0, tzinfo=UTC)


def test_a_broken_feed_still_yields_its_entries_with_a_warning() -> None:
    feed = parse("bozo.xml")
    assert [entry.link for entry in feed.entries] == [
        "https://diplomaticnotes.example/envoys-doha-cairo",
        "https://diplomaticnotes.example/ceasefire-talks",
    ]
    assert feed.entries[0].title == "Envoys meet in Doha & Cairo"
    assert feed.warning is not None
    assert "not well-formed" in feed.warning
    assert "2 entries" in feed.warning


def test_a_web_page_that_names_its_feeds_says_which_to_configure() -> None:
    page = b"""<!DOCTYPE html><html><head><title>The Desk</title>
      <link rel="stylesheet" href="/site.css">
      <link rel="alternate" type="application/rss+xml" title="All news" href="/feed/">
      <link rel="Alternate" type="application/atom+xml; charset=utf-8"
            href="https://cdn.example/atom.xml"/>
      <link rel="alternate" hreflang="ar" href="/ar/">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    </head><body><p>News.</p></body></html>"""
    with pytest.raises(ParseError) as raised:
        parse_feed(page, url="https://desk.example/", content_type="text/html", now=NOW)
    assert raised.value.reason.endswith(
        "it is a web page that names 2 feeds, https://desk.example/feed/, "
        "https://cdn.example/atom.xml: set the feed's url to one of them"
    )
    one = page.replace(b"https://cdn.example/atom.xml", b"/feed/")
    with pytest.raises(ParseError) as raised:
        parse_feed(one, url="https://desk.example/", content_type="text/html", now=NOW)
    assert raised.value.reason.endswith(
        "it is a web page that names its feed, https://desk.example/feed/: set the feed's url to it"
    )


def test_a_wordpress_pages_rest_api_links_are_not_offered_as_feeds() -> None:
    # Every WordPress page names its REST API record as an "alternate" application/json, the
    # type JSON Feed 1.0 used: offered as a feed, it is no feed either, and the next poll said so.
    page = b"""<html><head>
      <link rel="alternate" type="application/rss+xml" title="Desk &raquo; Feed"
            href="https://desk.example/feed/" />
      <link rel="https://api.w.org/" href="https://desk.example/wp-json/" />
      <link rel="alternate" title="JSON" type="application/json"
            href="https://desk.example/wp-json/wp/v2/pages/42" />
      <link rel="alternate" title="JSON" type="application/json"
            href="https://desk.example/?rest_route=/wp/v2/categories/5" />
      <link rel="alternate" type="application/json" title="Desk (JSON Feed)"
            href="https://desk.example/feed.json" />
    </head><body></body></html>"""
    with pytest.raises(ParseError) as raised:
        parse_feed(page, url="https://desk.example/", content_type="text/html", now=NOW)
    assert raised.value.reason.endswith(
        "it is a web page that names 2 feeds, https://desk.example/feed/, "
        "https://desk.example/feed.json: set the feed's url to one of them"
    )


def test_a_pages_feed_links_are_resolved_against_its_base() -> None:
    # A browser, and a feed reader's discovery, resolve a relative href against <base href>:
    # against the page's own address, the error sent the operator to an address with no feed.
    page = b"""<html><head><base href="https://desk.example/news/">
      <link rel="alternate" type="application/rss+xml" href="world.xml">
      <base href="https://elsewhere.example/">
    </head><body></body></html>"""
    with pytest.raises(ParseError) as raised:
        parse_feed(page, url="https://desk.example/", content_type="text/html", now=NOW)
    assert raised.value.reason.endswith(
        "it is a web page that names its feed, https://desk.example/news/world.xml: "
        "set the feed's url to it"
    )


def test_a_pages_long_feed_links_are_cut_in_the_error() -> None:
    # Five links of 2,000 characters each (the longest address kept) made an error of 10 KB,
    # stored, printed by `digest poll` and shown in the `digest feeds` table.
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="/feed{n}?{"q" * 2000}">'
        for n in range(5)
    )
    page = f"<html><head>{links}</head><body></body></html>".encode()
    with pytest.raises(ParseError) as raised:
        parse_feed(page, url="https://desk.example/", content_type="text/html", now=NOW)
    assert "it is a web page that names 5 feeds, https://desk.example/feed0?qqq" in str(
        raised.value
    )
    assert "https://desk.example/feed4?qqq" in str(raised.value)
    assert len(str(raised.value)) < 2_500


def test_a_page_html_parser_refuses_is_still_no_feed() -> None:
    # "<![" opens a marked section; html.parser raised AssertionError on a keyword it does not
    # know, out of the parse and past the feed's error (fuzz/crashes/).
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed/"><![CDATX[x'
    with pytest.raises(ParseError) as raised:
        parse_feed(page, url="https://desk.example/", content_type="text/html", now=NOW)
    assert "names its feed, https://desk.example/feed/" in raised.value.reason


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "text/plain", "application/octet-stream"]
)
def test_a_feed_served_under_another_type_is_read_without_a_warning(content_type: str) -> None:
    feed = parse("rss20.xml", content_type)
    assert feed.warning is None
    assert feed.entries == parse("rss20.xml").entries


def test_an_html_page_is_not_a_feed() -> None:
    with pytest.raises(ParseError) as raised:
        parse("not-a-feed.html", "text/html; charset=utf-8")
    assert raised.value.url == "https://feeds.example/not-a-feed.html"
    assert "not an RSS, Atom or JSON feed" in raised.value.reason
    assert "text/html" in raised.value.reason


@pytest.mark.parametrize(
    "content",
    [b"", b"   \n", b"\x00\x01\x02garbage\xff\xfe", b"just some words", b'{"version": "json"}'],
)
def test_garbage_is_not_a_feed(content: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(content, url="https://feeds.example/x", content_type=None, now=NOW)


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", None])
def test_arabic_windows_1256_feed(content_type: str | None) -> None:
    feed = parse("arabic-windows-1256.xml", content_type)
    assert feed.warning is None
    assert feed.title == "المنارة"
    assert feed.language == "ar"
    (entry,) = feed.entries
    assert entry.title == "قمة الرياض تبحث أمن الخليج"
    assert entry.summary_text == "اجتمع وزراء الخارجية في الرياض لبحث أمن الشرق الأوسط."
    assert entry.categories == ("الشرق الأوسط",)
    assert entry.published_at == datetime(2025, 6, 10, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", None])
def test_hebrew_iso_8859_8_feed(content_type: str | None) -> None:
    feed = parse("hebrew-iso-8859-8.xml", content_type)
    assert feed.warning is None
    assert feed.title == "חדשות המזרח התיכון"
    (entry,) = feed.entries
    assert entry.title == "הכנסת מתכנסת בירושלים"
    assert entry.summary_text == "חברי הכנסת דנו במצב בעזה."
    assert entry.language == "he"


def test_the_http_charset_wins_over_a_wrong_declaration() -> None:
    document = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>שלום</title><link>https://x.example/a</link></item></channel></rss>"
    ).encode("iso-8859-8")
    feed = parse_feed(
        document,
        url="https://feeds.example/x",
        content_type="application/rss+xml; charset=iso-8859-8",
        now=NOW,
    )
    assert feed.entries[0].title == "שלום"


def test_repeated_items_are_one_entry() -> None:
    item = "<item><title>Same</title><link>https://x.example/a</link><guid>g1</guid></item>"
    document = f'<rss version="2.0"><channel><title>t</title>{item}{item}</channel></rss>'
    feed = parse_feed(document.encode(), url="https://feeds.example/x", content_type=None, now=NOW)
    assert [entry.guid for entry in feed.entries] == ["g1"]


def test_an_empty_feed_is_a_feed() -> None:
    document = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parse_feed(document, url="https://feeds.example/x", content_type=None, now=NOW)
    assert feed.title == "Quiet"
    assert feed.entries == ()
    assert feed.warning is None


def test_feed_markup_never_reaches_the_entry() -> None:
    document = b"""<rss version="2.0"><channel><title>t</title><item>
      <title>&lt;script&gt;alert(1)&lt;/script&gt;Headline</title>
      <link>https://x.example/a</link>
      <description>&lt;img src=x onerror=alert(1)&gt;
        &lt;a href="javascript:alert(2)"&gt;x&lt;/a&gt;</description>
    </item></channel></rss>"""
    (entry,) = parse_feed(
        document, url="https://feeds.example/x", content_type=None, now=NOW
    ).entries
    assert entry.title == "Headline"
    assert "onerror" not in entry.summary_html
    assert "javascript" not in entry.summary_html


# ----------------------------------------------------------------------------------------------
# More formats: Atom 0.3, RSS 0.91, JSON Feed


def test_atom_03() -> None:
    document = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:base="https://old.example/">
      <title>Old Atom</title><link rel="alternate" type="text/html" href="https://old.example/"/>
      <entry><title>First</title><link rel="alternate" type="text/html" href="/posts/1"/>
        <id>tag:old.example,2004:1</id><issued>2004-05-01T10:00:00+02:00</issued>
        <summary type="text/html" mode="escaped"
          >&lt;p&gt;Hello &lt;a href="/x"&gt;x&lt;/a&gt;&lt;/p&gt;</summary>
      </entry></feed>"""
    feed = parse_feed(document, url="https://feeds.example/a", content_type=None, now=NOW)
    (entry,) = feed.entries
    assert feed.title == "Old Atom"
    assert entry.link == "https://old.example/posts/1"
    assert entry.published_at == datetime(2004, 5, 1, 8, 0, tzinfo=UTC)
    assert 'href="https://old.example/x"' in entry.summary_html


def test_xml_base_on_the_content_itself_places_its_links_and_images() -> None:
    # The content's own xml:base (absolute or relative) wins over the feed's and the entry's page.
    document = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://site.example/">
      <title>Bases</title><id>tag:site.example,2026:feed</id><updated>2026-01-01T00:00:00Z</updated>
      <entry><title>Absolute</title><link href="/news/1"/><id>tag:site.example,2026:1</id>
        <updated>2026-01-01T00:00:00Z</updated>
        <content type="html" xml:base="https://cdn.example/2026/"
          >&lt;p&gt;&lt;img src="pics/a.jpg" alt=""&gt;
          &lt;a href="more.html"&gt;more&lt;/a&gt;&lt;/p&gt;</content>
      </entry>
      <entry><title>Relative</title><link href="/news/2"/><id>tag:site.example,2026:2</id>
        <updated>2026-01-01T00:00:00Z</updated>
        <content type="html" xml:base="/archive/"
          >&lt;p&gt;&lt;img src="b.jpg" alt=""&gt;
          &lt;a href="c.html"&gt;c&lt;/a&gt;&lt;/p&gt;</content>
      </entry></feed>"""
    feed = parse_feed(document, url="https://feeds.example/a", content_type=None, now=NOW)
    absolute, relative = feed.entries
    assert absolute.link == "https://site.example/news/1"
    assert absolute.image_url == "https://cdn.example/2026/pics/a.jpg"
    assert 'href="https://cdn.example/2026/more.html"' in absolute.summary_html
    assert relative.image_url == "https://site.example/archive/b.jpg"
    assert 'href="https://site.example/archive/c.html"' in relative.summary_html


@pytest.mark.parametrize("name", ["rss20.xml", "atom.xml"])
def test_a_document_parsed_apart_reads_as_one_parsed_here(name: str) -> None:
    content, url = (FEEDS / name).read_bytes(), f"https://feeds.example/{name}"
    apart = parse_apart(
        content, url=url, content_type=None, now=NOW, timeout=60, memory_bytes=256 << 20
    )
    assert apart == parse_feed(content, url=url, content_type=None, now=NOW)


def test_parser_processes_are_kept_for_the_next_document_and_replaced_when_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[object] = []
    popen = isolation.subprocess.Popen

    def counted(*arguments: Any, **keywords: Any) -> Any:
        started.append(arguments)
        return popen(*arguments, **keywords)

    monkeypatch.setattr(isolation.subprocess, "Popen", counted)
    monkeypatch.setattr(isolation, "_parsers", isolation._Parsers())
    content, url = (FEEDS / "atom.xml").read_bytes(), "https://feeds.example/a"
    limits = {"timeout": 60.0, "memory_bytes": 256 << 20}

    def parsed(document: bytes = content, **bounds: Any) -> int:
        answer = parse_apart(document, url=url, content_type=None, now=NOW, **limits | bounds)
        return len(answer.entries)

    assert [parsed(), parsed(), parsed()] == [2, 2, 2]
    assert len(started) == 1  # one process, kept between documents

    slow = b'<?xml version="1.0"?><rss version="2.0"><channel><item><description>'
    with pytest.raises(ParseError, match=r"parsing took longer than 0\.5 s"):
        parsed(slow + b"<b>" * 2_000_000, timeout=0.5)
    assert parsed() == 2  # a new process took over from the one stopped
    assert len(started) == 2
    with pytest.raises(ParseError, match="not an RSS, Atom or JSON feed"):
        parsed(b"<html><body>A page</body></html>")
    assert parsed() == 2 and len(started) == 3  # nor is one kept after a failed document
    monkeypatch.setattr(isolation, "DOCUMENTS_PER_PROCESS", 2)
    assert [parsed(), parsed(), parsed()] == [2, 2, 2]
    assert len(started) == 4  # the third document's process read two: the next is new
    isolation._parsers.close()


def test_a_parser_process_imports_this_digest_not_a_digest_folder_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An operator's folder may hold a `digest/` of its own (a checkout of another release).
    for name in ("digest/__init__.py", "digest/ingest/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text('raise SystemExit("the working directory\'s digest")\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(isolation, "_parsers", isolation._Parsers())
    content = (FEEDS / "atom.xml").read_bytes()
    try:
        parsed = parse_apart(
            content, url="https://feeds.example/a", content_type=None, now=NOW, timeout=60,
            memory_bytes=256 << 20,
        )  # fmt: skip
    finally:
        isolation._parsers.close()
    assert len(parsed.entries) == 2


def _entries_parsed_apart(answers: Queue[int]) -> None:
    content = (FEEDS / "atom.xml").read_bytes()
    parsed = parse_apart(
        content, url="https://feeds.example/a", content_type=None, now=NOW, timeout=60,
        memory_bytes=256 << 20,
    )  # fmt: skip
    answers.put(len(parsed.entries))


def test_a_document_is_parsed_apart_from_a_daemonic_process_too() -> None:
    # A Celery worker's pool processes are daemonic, and multiprocessing refuses them children;
    # parse_apart starts a plain subprocess instead.
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    worker = context.Process(target=_entries_parsed_apart, args=(answers,), daemon=True)
    worker.start()
    try:
        assert answers.get(timeout=60) == 2
    finally:
        worker.join(10)
    assert worker.exitcode == 0


def test_rss_091_with_its_netscape_doctype() -> None:
    document = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
    <!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
      "http://my.netscape.com/publish/formats/rss-0.91.dtd">
    <rss version="0.91"><channel><title>Caf\xe9 News</title><link>https://cafe.example/</link>
    <item><title>Menu</title><link>https://cafe.example/menu</link>
    <description>Caf\xe9 au lait</description></item></channel></rss>"""
    feed = parse_feed(document, url="https://feeds.example/a", content_type=None, now=NOW)
    assert feed.title == "Café News"
    assert feed.warning is None
    assert [entry.summary_text for entry in feed.entries] == ["Café au lait"]


def test_json_feed_11() -> None:
    feed = parse("jsonfeed-1.1.json", "application/feed+json")
    assert (feed.title, feed.link, feed.language) == (
        "JSON Wire",
        "https://jsonwire.example/",
        "en",
    )
    first, second, third = feed.entries
    assert first.guid == "https://jsonwire.example/1"
    assert first.link == "https://jsonwire.example/news/1"
    assert first.title == "Doha talks & resume"  # whitespace and entities normalized
    assert first.summary_text == "Negotiators met again in Doha."
    assert first.summary_html == "<p>Negotiators met again in Doha.</p>"
    assert first.published_at == datetime(2025, 6, 10, 6, 0, tzinfo=UTC)
    assert first.updated_at == datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
    assert first.author == "Layla Haddad"
    assert first.categories == ("Gulf", "Qatar")
    assert first.image_url == "https://cdn.jsonwire.example/1.jpg"
    # content_html only: sanitized, relative links resolved against the item's page.
    assert second.summary_html == (
        '<p>See <a href="https://jsonwire.example/news/more" rel="noopener noreferrer">more</a></p>'
    )
    assert second.author == "Desk"  # the feed's authors stand in for the item's
    assert second.image_url == "https://cdn.jsonwire.example/2.png"  # from an attachment
    # JSON Feed 1.0: "author", a numeric id, content_text, an external_url only.
    assert (third.guid, third.link) == ("3", "https://elsewhere.example/story")
    assert third.summary_text == "Plain text body."
    assert third.published_at is None


def test_json_feed_is_sniffed_without_a_content_type() -> None:
    content = (FEEDS / "jsonfeed-1.1.json").read_bytes()
    feed = parse_feed(content, url="https://feeds.example/j", content_type=None, now=NOW)
    assert len(feed.entries) == 3


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 5}', '"items" list'),
        (b'{"title": "x", "items": []}', "no JSON Feed version"),
        (b"[1, 2]", "not an object"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON"),
    ],
)
def test_broken_json_feeds_say_why(content: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_feed(content, url="https://feeds.example/j", content_type="application/json", now=NOW)
    assert reason in raised.value.reason


def test_a_feed_with_too_many_entries_keeps_the_first_ones() -> None:
    from digest.ingest.parse import MAX_ENTRIES

    items = "".join(
        f"<item><link>https://x.example/{n}</link></item>" for n in range(MAX_ENTRIES + 5)
    )
    document = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    feed = parse_feed(document, url="https://feeds.example/x", content_type=None, now=NOW)
    assert len(feed.entries) == MAX_ENTRIES
    assert feed.entries[0].link == "https://x.example/0"
    assert feed.warning is not None and f"only the first {MAX_ENTRIES}" in feed.warning


@pytest.mark.parametrize("json_feed", [False, True])
def test_a_document_too_long_that_lists_its_oldest_first_keeps_its_newest(
    json_feed: bool,
) -> None:
    # An archive in the order it was written: its first thousand entries were its oldest, and
    # whatever it published once past the cap was never read, poll after poll.
    from digest.ingest.parse import MAX_ENTRIES

    start = datetime(2024, 1, 1, tzinfo=UTC)
    count = MAX_ENTRIES + 5
    when = [start + timedelta(hours=n) for n in range(count)]
    if json_feed:
        items = [
            {"id": str(n), "url": f"https://x.example/{n}", "date_published": when[n].isoformat()}
            for n in range(count)
        ]
        document = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t",
                               "items": items}).encode()  # fmt: skip
    else:
        rows = "".join(
            f"<item><link>https://x.example/{n}</link><pubDate>{format_datetime(when[n])}"
            "</pubDate></item>"
            for n in range(count)
        )
        document = f'<rss version="2.0"><channel><title>t</title>{rows}</channel></rss>'.encode()
    feed = parse_feed(document, url="https://feeds.example/x", content_type=None, now=NOW)
    assert len(feed.entries) == MAX_ENTRIES
    assert feed.entries[0].link == "https://x.example/5"
    assert feed.entries[-1].link == f"https://x.example/{count - 1}"
    assert feed.warning is not None
    assert f"only the last {MAX_ENTRIES} of {count} entries were read (the newest" in feed.warning


@pytest.mark.parametrize("first_item", ["pinned", "undated"])
def test_a_document_too_long_keeps_its_newest_entries_by_date_whatever_its_first_item(
    first_item: str,
) -> None:
    # A publisher that appends its new items at the end, under a pinned item dated after all
    # the others, or one with no date: told apart by its first and last items only, the
    # document kept its first thousand entries, its oldest, and every new article was lost.
    from digest.ingest.parse import MAX_ENTRIES

    start = datetime(2024, 1, 1, tzinfo=UTC)
    count = MAX_ENTRIES + 5
    pinned_date = f"<pubDate>{format_datetime(NOW - timedelta(hours=1))}</pubDate>"
    rows = [
        f"<item><link>https://x.example/pinned</link>"
        f"{pinned_date if first_item == 'pinned' else ''}</item>"
    ]
    rows += [
        f"<item><link>https://x.example/{n}</link>"
        f"<pubDate>{format_datetime(start + timedelta(hours=n))}</pubDate></item>"
        for n in range(count - 1)
    ]
    document = (
        f'<rss version="2.0"><channel><title>t</title>{"".join(rows)}</channel></rss>'
    ).encode()
    feed = parse_feed(document, url="https://feeds.example/x", content_type=None, now=NOW)
    links = [entry.link for entry in feed.entries]
    assert len(links) == MAX_ENTRIES
    newest = [f"https://x.example/{n}" for n in range(count - MAX_ENTRIES, count - 1)]
    assert feed.warning is not None
    if first_item == "pinned":
        assert links == ["https://x.example/pinned", *newest]
        assert f"only the newest {MAX_ENTRIES} of {count} entries were read" in feed.warning
    else:  # an undated entry counts as older than any dated one
        assert links == [f"https://x.example/{count - MAX_ENTRIES - 1}", *newest]
        assert f"only the last {MAX_ENTRIES} of {count} entries were read" in feed.warning


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("Tue, 10 Jun 2025 09:15:00 +0300", datetime(2025, 6, 10, 6, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 09:15:00 GMT", datetime(2025, 6, 10, 9, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 09:15:00 GMT+3", datetime(2025, 6, 10, 6, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 09:15:00 EDT", datetime(2025, 6, 10, 13, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 25 09:15:00 GMT", datetime(2025, 6, 10, 9, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 09:15:00 +03:00", datetime(2025, 6, 10, 6, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 09:15 +0300", datetime(2025, 6, 10, 6, 15, tzinfo=UTC)),
        ("10 Jun 2025", datetime(2025, 6, 10, tzinfo=UTC)),
        ("2025-06-10T09:15:00+03:00", datetime(2025, 6, 10, 6, 15, tzinfo=UTC)),
        ("Thu, 01 Jan 0026 00:00:00 GMT", None),  # year 26: no date
        ("Sat, 01 Jan 2099 00:00:00 GMT", None),  # far ahead: no date, as in RSS
        ("yesterday evening", None),
    ],
)
def test_a_json_feed_date_is_read_in_rfc_822_form_too(written: str, utc: datetime | None) -> None:
    # Many JSON feeds are RSS feeds converted field by field, their dates written as RSS writes
    # them; read as RFC 3339 only, every item of such a feed was undated.
    items = [
        {"id": "a", "url": "https://x.example/a", "date_published": written},
        {"id": "b", "url": "https://x.example/b", "date_modified": written},
    ]
    document = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}
    ).encode()
    feed = parse_feed(document, url="https://feeds.example/j", content_type=None, now=NOW)
    published, modified = feed.entries
    assert published.published_at == utc
    assert (modified.published_at, modified.updated_at) == (utc, utc)


def test_items_without_guids_that_all_link_to_one_address_say_the_others_were_left_out() -> None:
    # Without a guid an item is known by its link: items that all link to the site's home page
    # were taken for one item repeated, and all but the first lost without a word.
    items = "".join(
        f"<item><title>Notice {n}</title><link>https://x.example/</link>"
        f"<description>Notice number {n}.</description></item>"
        for n in range(3)
    )
    repeated = "<item><title>Notice 0</title><link>https://x.example/</link></item>"
    document = f'<rss version="2.0"><channel><title>t</title>{items}{repeated}</channel></rss>'
    feed = parse_feed(document.encode(), url="https://feeds.example/x", content_type=None, now=NOW)
    assert [entry.title for entry in feed.entries] == ["Notice 0"]
    assert feed.warning is not None
    assert "2 entries were left out for linking to the address of an earlier entry" in feed.warning


def test_a_guid_given_to_several_links_gives_way_to_the_links() -> None:
    items = "".join(
        f"<item><guid>same</guid><link>https://x.example/{n}</link></item>" for n in range(3)
    )
    document = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    feed = parse_feed(document, url="https://feeds.example/x", content_type=None, now=NOW)
    assert [entry.guid for entry in feed.entries] == [f"https://x.example/{n}" for n in range(3)]


SAMPLES = Path(__file__).parents[1] / "config" / "samples"


def _feedparser_with(readers: list[str], content: bytes) -> dict[str, object]:
    preferred = feedparser.api.PREFERRED_XML_PARSERS
    kept = preferred[:]
    preferred[:] = readers
    try:
        result = dict(feedparser.parse(content, sanitize_html=False, resolve_relative_uris=False))
    finally:
        preferred[:] = kept
    if "bozo_exception" in result:  # exceptions compare by identity: compare what they say
        problem = result["bozo_exception"]
        result["bozo_exception"] = (type(problem), str(problem))
    return result


@pytest.mark.parametrize(
    "path",
    [*sorted(FEEDS.glob("*.xml")), FEEDS / "rss10.rdf", *sorted(SAMPLES.glob("*.[xar]*"))],
    ids=lambda path: path.name,
)
def test_feedparser_reads_with_the_buffered_reader_what_it_reads_without(path: Path) -> None:
    content = path.read_bytes()
    assert feedparser.api.PREFERRED_XML_PARSERS[0] == expat_driver.__name__  # installed
    buffered = _feedparser_with([expat_driver.__name__], content)
    assert buffered == _feedparser_with([], content)  # xml.sax's own expat reader


def test_the_buffered_reader_hands_over_escaped_html_in_one_piece() -> None:
    pieces: list[str] = []

    class Text(xml.sax.handler.ContentHandler):
        def characters(self, content: str) -> None:
            pieces.append(content)

    reader = xml.sax.make_parser([expat_driver.__name__])
    reader.setContentHandler(Text())
    reader.feed(b"<d>&lt;p&gt;The &lt;b&gt;talks&lt;/b&gt;\nresume.&lt;/p&gt;</d>")
    reader.close()
    assert pieces == ["<p>The <b>talks</b>\nresume.</p>"]


def test_a_document_not_read_by_its_deadline_raises_out_of_time() -> None:
    content = (FEEDS / "rss20.xml").read_bytes()
    with pytest.raises(OutOfTime, match="was not read in the time allowed"):
        parse_feed(content, url="https://feeds.example/f", content_type=None, now=NOW, deadline=0.0)
    ahead = time.monotonic() + 60
    feed = parse_feed(
        content, url="https://feeds.example/f", content_type=None, now=NOW, deadline=ahead
    )
    assert len(feed.entries) == 2


# Controls a terminal obeys, as a hostile feed writes them: C1 ones (U+009B is CSI, U+009D an
# OSC, a hidden link or a window title), DEL, and C0 ones a JSON string may escape.
CONTROLS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def _stored_text(feed: ParsedFeed) -> list[str]:
    entry = feed.entries[0]
    return [
        feed.title or "",
        entry.title,
        entry.summary_html,
        entry.summary_text,
        entry.author or "",
        *entry.categories,
    ]


def test_no_format_stores_control_characters() -> None:
    hostile = "Talks \u009b2J\u009d8;;https://evil.example/\u009cmore\u009d8;;\u009c \x7fend\u0081"
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"Wire {hostile}\u001b[2J",
            "items": [
                {
                    "id": "1",
                    "url": "https://news.example.org/a",
                    "title": hostile + "\u001b]52;c;aGk=\u0007",
                    "summary": hostile,
                    "content_html": f"<p>{hostile}</p>",
                    "authors": [{"name": f"Jane {hostile}"}],
                    "tags": [f"Politics{hostile}"],
                }
            ],
        }
    ).encode()
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Wire {hostile}&#x9d;</title><link>https://news.example.org/</link><item>"
        f"<title>{hostile}&#x9d;&#127;</title><link>https://news.example.org/a</link>"
        f"<description>&lt;p&gt;{hostile}&amp;#x9d;&lt;/p&gt;</description>"
        f"<author>Jane {hostile}</author><category>Politics{hostile}</category>"
        "</item></channel></rss>"
    ).encode()
    for content in (json_feed, rss):
        feed = parse_feed(content, url="https://news.example.org/feed", content_type=None, now=NOW)
        stored = _stored_text(feed)
        assert all(re.search(CONTROLS, text) is None for text in stored), stored
        # What the controls' bytes stand for in Windows-1252 (feedparser reads RSS so): text.
        assert feed.entries[0].title.startswith("Talks ›2J8;;https://evil.example/œmore8;;œ end")


def test_memory_running_out_while_dating_entries_stops_the_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In a parser process (digest.ingest.isolation) MemoryError is the memory bound reached:
    # the process reports it as ingest.parse_memory_mb. Taken for "no date" while choosing the
    # newest entries of a long document, it was lost, and the parse went on with entries
    # chosen as if undated.
    from digest.ingest import parse as parse_module
    from digest.ingest.parse import MAX_ENTRIES

    def out_of_memory(*args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(parse_module, "entry_date", out_of_memory)
    rows = "".join(
        f"<item><link>https://x.example/{n}</link></item>" for n in range(MAX_ENTRIES + 5)
    )
    document = f'<rss version="2.0"><channel><title>t</title>{rows}</channel></rss>'.encode()
    with pytest.raises(MemoryError):
        parse_feed(document, url="https://feeds.example/x", content_type=None, now=NOW)
