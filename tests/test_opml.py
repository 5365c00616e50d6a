"""OPML import and export: reading outlines, planning [[feeds]] blocks, writing OPML 2.0."""

from __future__ import annotations

import time
import tomllib
from datetime import UTC, datetime

import pytest

from digest.config import FeedSettings
from digest.config.editorial import FEED_NAME_LIMIT
from digest.errors import ConfigError
from digest.opml import OpmlFeed, plan_import, read_opml, toml_blocks, write_opml

SUBSCRIPTIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Middle East" title="Middle East">
      <outline type="rss" text="Gulf Wire" xmlUrl="https://gulfwire.example/rss"
               htmlUrl="https://gulfwire.example/"/>
      <outline text="Levant">
        <outline type="rss" text="Levant &amp; Co" xmlurl="https://levant.example/atom"/>
      </outline>
    </outline>
    <outline type="rss" title="Plain feed" text="" xmlUrl="http://plain.example/f"/>
    <outline type="rss" xmlUrl="https://nameless.example/feed.xml"/>
    <outline text="A link, not a feed" type="link" url="https://example.org/"/>
  </body>
</opml>"""


def test_outlines_with_an_xml_url_are_feeds_at_any_depth() -> None:
    feeds = read_opml(SUBSCRIPTIONS, "my.opml")
    assert feeds == [
        OpmlFeed(
            "https://gulfwire.example/rss", "Gulf Wire", "https://gulfwire.example/", "Middle East"
        ),
        OpmlFeed("https://levant.example/atom", "Levant & Co", None, "Middle East / Levant"),
        OpmlFeed("http://plain.example/f", "Plain feed", None, None),
        OpmlFeed("https://nameless.example/feed.xml", None, None, None),
    ]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"", "not well-formed XML"),
        (b"<opml><body><outline", "not well-formed XML"),
        (b"<rss version='2.0'><channel/></rss>", "the root element is <rss>, not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "it has no <body>"),
        (b"<opml version='2.0'><body><outline text='x'/></body></opml>", "lists no feed"),
    ],
)
def test_malformed_opml_is_refused_with_file_and_reason(document: bytes, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        read_opml(document, "feeds/broken.opml")
    assert str(raised.value).startswith("feeds/broken.opml: ")
    assert reason in str(raised.value)


def test_outlines_nested_without_end_are_refused_not_a_crash() -> None:
    depth = 50_000
    document = (
        b"<opml version='2.0'><body>"
        + b"<outline text='f'>" * depth
        + b"<outline text='a' xmlUrl='https://a.example/rss'/>"
        + b"</outline>" * depth
        + b"</body></opml>"
    )
    with pytest.raises(ConfigError) as raised:
        read_opml(document, "deep.opml")
    assert raised.value.problems == [
        ("", "outlines nested more than 100 deep: no subscription list is")
    ]


def test_folders_nested_a_hundred_deep_are_read() -> None:
    document = (
        b"<opml version='2.0'><body>"
        + b"<outline text='f'>" * 99
        + b"<outline text='a' xmlUrl='https://a.example/rss'/>"
        + b"</outline>" * 99
        + b"</body></opml>"
    )
    [feed] = read_opml(document, "deep.opml")
    assert feed.url == "https://a.example/rss" and feed.category == " / ".join(["f"] * 99)


def test_an_entity_bomb_is_refused_before_it_expands() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<opml version="2.0"><body><outline text="&d;&d;&d;" xmlUrl="https://a.example/rss"/></body></opml>"""
    with pytest.raises(ConfigError) as raised:
        read_opml(bomb, "bomb.opml")
    assert "declares a DTD or entities" in str(raised.value)


def test_external_entities_are_refused_too() -> None:
    document = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://a.example/rss"/></body></opml>"""
    with pytest.raises(ConfigError):
        read_opml(document, "xxe.opml")


def test_the_plan_skips_what_is_configured_and_names_what_is_new() -> None:
    configured = [
        FeedSettings(url="https://gulfwire.example/rss", name="Gulf Wire"),
        FeedSettings(url="https://other.example/rss", name="Levant & Co"),
    ]
    feeds = [*read_opml(SUBSCRIPTIONS, "my.opml"), OpmlFeed("ftp://files.example/feed")]
    # Addresses the config refuses (no fetch could request them as written) are left out too.
    feeds += [OpmlFeed("https://a.example:99999/rss"), OpmlFeed("https://a.example/r\tss")]
    feeds.append(OpmlFeed("https://levant.example/atom", "Again"))  # listed twice in the file
    plan = plan_import(feeds, configured)
    assert [(feed.name, feed.url) for feed in plan.new] == [
        ("Levant & Co (2)", "https://levant.example/atom"),  # the name is taken: numbered
        ("Plain feed", "http://plain.example/f"),
        ("nameless.example", "https://nameless.example/feed.xml"),
    ]
    assert plan.left_out == (
        ("https://gulfwire.example/rss", "already in the config as 'Gulf Wire'"),
        ("ftp://files.example/feed", "not an http(s) URL"),
        ("https://a.example:99999/rss", "has a port out of range: ports go from 0 to 65535"),
        (
            "https://a.example/r\tss",
            "has a blank at an end or a control character in it: write the address alone, "
            "between the quotes",
        ),
        ("https://levant.example/atom", "listed twice in the file"),
    )


def test_toml_blocks_read_back_as_the_same_feeds() -> None:
    feeds = [
        FeedSettings(url="https://a.example/rss?x=1&y=2", name='Quotes " and \\ backslash'),
        FeedSettings(url="https://b.example/atom", name="الخليج اليوم — עברית"),
        # The config refuses such a name; the TOML written stays sound should one get here.
        FeedSettings.model_construct(url="https://c.example/feed", name="Tab\tand\x7fdelete"),
    ]
    text = toml_blocks(feeds)
    read = tomllib.loads(text)["feeds"]
    assert [(item["url"], item["name"]) for item in read] == [
        ("https://a.example/rss?x=1&y=2", 'Quotes " and \\ backslash'),
        ("https://b.example/atom", "الخليج اليوم — עברית"),
        ("https://c.example/feed", "Tab and delete"),
    ]


def test_export_is_opml_2_that_imports_back() -> None:
    feeds = [
        FeedSettings(url="https://a.example/rss?x=1&y=2", name="A & B <news>"),
        FeedSettings(url="https://b.example/atom", name="الخليج"),
    ]
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    document = write_opml(
        feeds,
        title="Desk feeds",
        now=now,
        html_urls={"https://b.example/atom": "https://b.example/"},
    )
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<dateCreated>Wed, 25 Nov 2026 09:30:00 GMT</dateCreated>" in document
    assert "<docs>http://opml.org/spec2.opml</docs>" in document
    back = read_opml(document.encode(), "export.opml")
    assert [(feed.url, feed.title, feed.html_url) for feed in back] == [
        ("https://a.example/rss?x=1&y=2", "A & B <news>", None),
        ("https://b.example/atom", "الخليج", "https://b.example/"),
    ]


def test_a_feed_configured_under_other_letters_is_not_added_again() -> None:
    # The config check takes these for one feed: an import adding it made the config invalid.
    configured = [FeedSettings(url="https://gulfwire.example/rss", name="Gulf Wire")]
    feeds = [
        OpmlFeed("HTTPS://GulfWire.Example:443/rss", "Shouted"),
        OpmlFeed("https://levant.example/atom", "Levant"),
        OpmlFeed("https://LEVANT.example/atom", "Levant again"),
    ]
    plan = plan_import(feeds, configured)
    assert [feed.url for feed in plan.new] == ["https://levant.example/atom"]
    assert plan.left_out == (
        ("HTTPS://GulfWire.Example:443/rss", "already in the config as 'Gulf Wire'"),
        ("https://LEVANT.example/atom", "listed twice in the file"),
    )


def test_a_title_longer_than_a_feeds_name_is_cut_to_one_not_a_crash() -> None:
    # An outline's title is anyone's text: one of 400 characters stopped `digest feeds import`
    # with a validation traceback, and not one feed of the file was proposed.
    long_title = "Gulf " + "w" * 395
    feeds = [
        OpmlFeed("https://a.example/rss", long_title),
        OpmlFeed("https://b.example/rss", long_title),
        OpmlFeed("https://c.example/rss", "Short"),
    ]
    plan = plan_import(feeds, [])
    assert [feed.url for feed in plan.new] == [feed.url for feed in feeds]
    first, second, short = (feed.name for feed in plan.new)
    assert first == long_title[:FEED_NAME_LIMIT]
    assert len(second) <= FEED_NAME_LIMIT
    assert second.endswith(" (2)")
    assert second.startswith("Gulf www")
    assert short == "Short"
    assert plan.left_out == ()


def test_a_title_that_looks_like_a_configured_name_is_numbered() -> None:
    # An OPML file from a Mac writes "é" as "e" and a combining accent: the title was taken for
    # a name no feed had, the config read it as the configured one, and --write was refused
    # ("duplicate name").
    configured = [FeedSettings(url="https://a.example/rss", name="Caf\u00e9 Levant")]
    document = (
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="Cafe\u0301 Levant" xmlUrl="https://b.example/rss"/>'
        "</body></opml>"
    ).encode()
    plan = plan_import(read_opml(document, "mac.opml"), configured)
    assert [feed.name for feed in plan.new] == ["Caf\u00e9 Levant (2)"]


def test_a_feed_url_in_the_feed_scheme_is_read_as_the_web_address_it_wraps() -> None:
    # Readers of the Safari years export "feed://host/rss" (and "feed:https://…") for an
    # http(s) feed: such feeds were left out as "not an http(s) URL", with no word of what to
    # write instead. A relative address is left out saying what it lacks.
    feeds = [
        OpmlFeed("feed://a.example/rss", "A"),
        OpmlFeed("feed:https://b.example/atom", "B"),
        OpmlFeed("FEED:http://c.example/rss", "C"),
        OpmlFeed("/rss.xml", "Relative"),
        OpmlFeed("feed:/rss.xml", "Nothing wrapped"),
    ]
    plan = plan_import(feeds, [])
    assert [(feed.name, feed.url) for feed in plan.new] == [
        ("A", "http://a.example/rss"),
        ("B", "https://b.example/atom"),
        ("C", "http://c.example/rss"),
    ]
    assert plan.left_out == (
        (
            "/rss.xml",
            "a relative address: the file gives no site to read it against; "
            "write the feed's whole address",
        ),
        ("feed:/rss.xml", "not an http(s) URL"),
    )


@pytest.mark.parametrize("url", ["https://[oops::1]/feed", "https://[::1/feed", "http://[x]:80/"])
def test_an_address_with_a_broken_bracketed_host_is_left_out_not_a_crash(url: str) -> None:
    # urlsplit raises on a host in brackets that is no IP address: `feeds import` ended in a
    # ValueError traceback, and the config named the key with Python's words alone.
    document = (
        f'<opml version="2.0"><body><outline text="Odd" xmlUrl="{url}"/>'
        '<outline text="Fine" xmlUrl="https://fine.example.org/feed"/></body></opml>'
    ).encode()
    plan = plan_import(read_opml(document, "mine.opml"), ())
    assert [feed.url for feed in plan.new] == ["https://fine.example.org/feed"]
    [(left_out, why)] = plan.left_out
    assert left_out == url
    assert why.startswith("is not a URL that can be read: ")
    assert "[ ]" in why
    with pytest.raises(ValueError, match="is not a URL that can be read"):
        FeedSettings(url=url, name="Odd")


def test_feeds_of_one_title_are_numbered_in_linear_time() -> None:
    # Each name was numbered by trying "Title (2)", "Title (3)"... from 2 again: an export whose
    # outlines all say "RSS" took 12 s to plan at 8,000 feeds, and four times that at twice as many.
    def seconds(count: int) -> float:
        feeds = [OpmlFeed(f"https://h{n}.example.org/feed", "RSS") for n in range(count)]
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            plan = plan_import(feeds, [FeedSettings(url="https://x.example/rss", name="RSS (3)")])
            best = min(best, time.process_time() - start)
        names = [feed.name for feed in plan.new]
        assert names[:4] == ["RSS", "RSS (2)", "RSS (4)", "RSS (5)"]
        assert len(set(names)) == count
        return best

    small, large = seconds(500), seconds(5_000)
    assert large < 30 * small + 0.05, (small, large)
