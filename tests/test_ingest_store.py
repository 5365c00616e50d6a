"""Hostile and broken feeds polled the real way (loopback server, pipeline.poll_feed): what the
store and the feed's status hold afterwards."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import pipeline
from digest.clock import FixedClock
from digest.config import settings_from_mapping
from digest.ingest.clean import SUMMARY_LIMIT
from digest.mail.transport import MemoryTransport
from digest.records import Article
from digest.sample_server import serve_folder
from digest.services import Services, build_services
from digest.store import FeedState
from digest.store.entry_matching import _BY_TITLE

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FEEDS = ("wire", "gazette", "courier", "broken")


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f'{declaration}<rss version="2.0"><channel><title>Feed</title>'
        f"<link>https://site.example/</link>{items}</channel></rss>"
    )


def item(guid: str, link: str, title: str, summary: str = "A short summary.") -> str:
    return (
        f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>"
        f"<description>{summary}</description>"
        "<pubDate>Wed, 25 Nov 2026 06:00:00 +0000</pubDate></item>"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for name in FEEDS:
        (feeds / f"{name}.xml").write_text(rss(""), encoding="utf-8")
    return feeds


@pytest.fixture
def services(tmp_path: Path, folder: Path, database_url: str) -> Iterator[Services]:
    """Services on SQLite and on PostgreSQL, polling feeds from ``folder`` on loopback."""
    (tmp_path / "members.csv").write_text("email\nsam@example.org\n")
    with serve_folder(folder) as base_url:
        raw = {
            "service": {
                "database_url": database_url,
                "data_dir": str(tmp_path / "var"),
                "base_url": "https://news.example.org",
                "sender_name": "Desk",
                "sender_address": "desk@example.org",
                "postal_address": "1 Example Street",
            },
            "ingest": {"allow_private_addresses": True},
            "feeds": [{"name": name.title(), "url": f"{base_url}/{name}.xml"} for name in FEEDS],
            "topics": [{"slug": "syria", "name": "Syria", "rules": {"include": ["Syria"]}}],
            "lists": [
                {
                    "slug": "daily",
                    "name": "Daily",
                    "topics": ["syria"],
                    "schedule": "0 7 * * *",
                    "subscribers": "members.csv",
                }
            ],
        }
        settings = settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})
        built = build_services(settings, clock=FixedClock(NOW), transport=MemoryTransport())
        built.store.sync_feeds(settings.feeds, NOW)
        try:
            yield built
        finally:
            built.close()


def write(folder: Path, name: str, data: bytes) -> None:
    path = folder / f"{name}.xml"
    path.write_bytes(data)
    # A new modification time and size: the server's validators change, so the next poll is a 200.
    stamp = path.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


def poll(services: Services, name: str) -> tuple[pipeline.PollOutcome, FeedState]:
    feed = next(feed for feed in services.store.feeds() if feed.name == name.title())
    outcome = pipeline.poll_feed(services, feed.id)
    (after,) = [state for state in services.store.feeds() if state.id == feed.id]
    return outcome, after


def stored(services: Services) -> list[Article]:
    return services.store.articles(services.store.all_article_ids())


# ----------------------------------------------------------------------------------------------
# Broken and hostile documents


def test_malformed_xml_keeps_the_entries_recovered_and_records_the_error(
    services: Services, folder: Path
) -> None:
    document = rss(
        item("g1", "https://site.example/a", "Aleppo & Homs reopen")  # a bare "&": not XML
        + "<item><title>Unclosed <b>bold</title><link>https://site.example/b</link></item>"
    )
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.error is None and outcome.new_articles == 2
    assert feed.last_error is None and feed.consecutive_errors == 0
    assert feed.parse_warning is not None and "2 entries were read" in feed.parse_warning
    titles = sorted(article.title for article in stored(services))
    assert titles == ["Aleppo & Homs reopen", "Unclosed bold"]


def test_a_page_that_is_no_feed_is_an_error_on_the_feed(services: Services, folder: Path) -> None:
    write(folder, "broken", b"<html><body><p>Moved. <a href='/new'>here</a></body></html>")
    outcome, feed = poll(services, "broken")
    assert outcome.error is not None
    assert feed.last_error is not None and "not an RSS, Atom or JSON feed" in feed.last_error
    assert feed.consecutive_errors == 1
    assert stored(services) == []


def test_an_entity_bomb_is_never_expanded(services: Services, folder: Path) -> None:
    # Exponential ("billion laughs") and linear amplification, and an external entity.
    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    big = "A" * 30_000
    document = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        f'{laughs}\n<!ENTITY big "{big}">\n<!ENTITY secret SYSTEM "file:///etc/passwd">\n]>\n'
        + rss(
            item("g1", "https://site.example/a", "Laughs &lol9;", "&lol9;")
            + item("g2", "https://site.example/b", "Big", "&big;" * 4000)
            + item("g3", "https://site.example/c", "Secret", "&secret;"),
            declaration="",
        )
    )
    assert len(document) < 200_000  # would expand to a billion and to 120 million characters
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.error is None and outcome.new_articles == 3
    assert feed.parse_warning is not None and "12 entity declaration(s)" in feed.parse_warning
    for article in stored(services):
        assert len(article.title) < 300 and len(article.summary_text) <= SUMMARY_LIMIT
        assert "lollol" not in article.summary_text and "AAAA" not in article.summary_text
        assert "root:" not in article.summary_text


def test_a_long_author_is_emptied_before_the_parser_sees_it(
    services: Services, folder: Path
) -> None:
    author = "a" * 50_000  # feedparser's e-mail regex takes minutes on this
    document = rss(
        "<item><link>https://site.example/a</link><title>Byline</title>"
        f"<author>{author}</author></item>"
    )
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.new_articles == 1
    (article,) = stored(services)
    assert article.author is None
    assert feed.parse_warning is not None and "author field" in feed.parse_warning


def test_entity_obfuscated_script_links_never_reach_the_store(
    services: Services, folder: Path
) -> None:
    summary = (
        '&lt;a href="jav&amp;#x09;ascript:alert(1)"&gt;a&lt;/a&gt;'
        '&lt;a href="&amp;#106;avascript:alert(2)"&gt;b&lt;/a&gt;'
        '&lt;svg&gt;&lt;a xlink:href="javascript:alert(3)"&gt;&lt;animate attributeName="href" '
        'to="javascript:alert(4)"/&gt;c&lt;/a&gt;&lt;/svg&gt;'
        '&lt;form action="javascript:alert(5)"&gt;&lt;button&gt;d&lt;/button&gt;&lt;/form&gt;'
        '&lt;a href="https://site.example/ok"&gt;ok&lt;/a&gt;'
    )
    document = rss(
        "<item><link>java&#x09;script:alert(6)</link><title>x</title></item>"
        + item("g1", "https://site.example/a", "Links", summary)
        + "<item><link>https://site.example/b</link><title>Media</title>"
        '<enclosure url="&#106;avascript:alert(7)" type="image/png"/></item>'
    )
    write(folder, "broken", document.encode())
    outcome, _ = poll(services, "broken")
    assert outcome.new_articles == 2  # the entry whose only link is a script is dropped
    links, media = sorted(stored(services), key=lambda article: article.title)
    assert "javascript" not in links.summary_html.lower()
    assert "svg" not in links.summary_html and "form" not in links.summary_html
    assert 'href="https://site.example/ok"' in links.summary_html
    assert media.image_url is None


# ----------------------------------------------------------------------------------------------
# Encodings

ARABIC_TITLE = "قمة الرياض تبحث أمن الخليج"
HEBREW_TITLE = "הכנסת מתכנסת בירושלים"


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("windows-1256", ARABIC_TITLE), ("iso-8859-8", HEBREW_TITLE), ("utf-16", ARABIC_TITLE)],
)
def test_non_utf8_feeds_come_out_as_unicode(
    services: Services, folder: Path, encoding: str, title: str
) -> None:
    document = rss(
        item("g1", "https://site.example/a", title),
        declaration=f'<?xml version="1.0" encoding="{encoding}"?>',
    )
    write(folder, "broken", document.encode(encoding))
    outcome, feed = poll(services, "broken")
    assert outcome.new_articles == 1
    assert feed.parse_warning is None
    assert [article.title for article in stored(services)] == [title]


def test_a_wrong_charset_declaration_is_overridden_and_noted(
    services: Services, folder: Path
) -> None:
    document = rss(
        item("g1", "https://site.example/a", ARABIC_TITLE, "اجتمع وزراء الخارجية في الرياض."),
        declaration='<?xml version="1.0" encoding="utf-8"?>',
    )
    write(folder, "broken", document.encode("windows-1256"))  # says UTF-8, is windows-1256
    outcome, feed = poll(services, "broken")
    assert outcome.new_articles == 1
    (article,) = stored(services)
    assert article.title == ARABIC_TITLE
    assert article.summary_text == "اجتمع وزراء الخارجية في الرياض."
    assert feed.parse_warning is not None and "declared as utf-8" in feed.parse_warning


# ----------------------------------------------------------------------------------------------
# Once per story


def test_a_feed_that_moves_its_guids_makes_no_duplicates(services: Services, folder: Path) -> None:
    links = [f"https://site.example/story/{n}" for n in range(3)]
    write(folder, "wire", rss("".join(item(f"old-{n}", link, f"Story {n}") for n, link in
                                      enumerate(links))).encode())  # fmt: skip
    first, _ = poll(services, "wire")
    assert first.new_articles == 3
    before = {article.link: article for article in stored(services)}

    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    # The same stories under new guids; one was also edited.
    moved = [item(f"new-{n}", link, f"Story {n}") for n, link in enumerate(links)]
    moved[2] = item("new-2", links[2], "Story 2, updated")
    write(folder, "wire", rss("".join(moved)).encode())
    second, feed = poll(services, "wire")
    assert (second.new_articles, second.updated_articles) == (0, 1)
    after = {article.link: article for article in stored(services)}
    assert after.keys() == before.keys()
    assert sorted(article.guid for article in after.values()) == ["new-0", "new-1", "new-2"]
    assert after[links[2]].title == "Story 2, updated"
    # Updated in place: still first seen at the first poll, so no later edition shows it again.
    assert after[links[2]].first_seen_at == before[links[2]].first_seen_at == NOW
    assert feed.articles == 3

    # And the next poll, with the new guids, is quiet.
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    write(folder, "wire", rss("".join(moved)).encode())
    third, _ = poll(services, "wire")
    assert (third.new_articles, third.updated_articles) == (0, 0)


def test_a_feed_that_moves_its_guids_and_links_at_every_poll_makes_no_duplicates(
    services: Services, folder: Path
) -> None:
    # Each poll, new guids and a cache-busting query on every link: stored again, each story
    # went out in every edition for as long as the feed carried it.
    def document(poll_number: int) -> bytes:
        return rss(
            "".join(
                item(f"urn:{poll_number}:{n}", f"https://site.example/{n}?v={poll_number}",
                     f"Story {n}", f"What happened in story {n}.")
                for n in range(3)
            )
        ).encode()  # fmt: skip

    write(folder, "wire", document(1))
    first, _ = poll(services, "wire")
    assert first.new_articles == 3
    for poll_number in (2, 3):
        services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        write(folder, "wire", document(poll_number))
        again, feed = poll(services, "wire")
        assert (again.new_articles, again.updated_articles) == (0, 0)
        assert feed.articles == 3
    after = stored(services)
    assert sorted(article.guid for article in after) == ["urn:3:0", "urn:3:1", "urn:3:2"]
    assert {article.first_seen_at for article in after} == {NOW}

    # Under a new guid and link, another summary (or date) is another item.
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    other = item("urn:4:0", "https://site.example/0?v=4", "Story 0", "A new development.")
    write(folder, "wire", rss(other).encode())
    fourth, _ = poll(services, "wire")
    assert fourth.new_articles == 1


def test_the_lookup_by_title_reads_an_index_not_the_feeds_every_article(
    services: Services,
) -> None:
    # Run at every poll that brings a new entry: without an index on (feed, title) it walked
    # every article the feed had ever stored.
    engine = services.store.engine
    lookup = _BY_TITLE.params(feed_id=1, titles=["Story 0", "Story 1"])
    query = lookup.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")  # few rows: it would scan
            plan = connection.exec_driver_sql(f"EXPLAIN {query}").scalars().all()
        else:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}")]
    assert any("ix_articles_feed_title" in line for line in plan), plan


def test_a_guid_shared_by_several_links_is_not_an_identifier(
    services: Services, folder: Path
) -> None:
    document = rss("".join(item("same", f"https://site.example/{n}", f"S{n}") for n in range(3)))
    write(folder, "wire", document.encode())
    outcome, _ = poll(services, "wire")
    assert outcome.new_articles == 3


def test_entries_without_a_link_are_left_out_and_said_to_be(
    services: Services, folder: Path
) -> None:
    # Status updates with an id but no address: each is left out (an article is known and
    # shown by its link). Said nowhere, a feed of nothing else looked healthy and empty.
    items = [{"id": str(n), "content_text": f"Update {n}"} for n in range(3)]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "Updates", "items": items}
    write(folder, "wire", json.dumps(document).encode())
    outcome, feed = poll(services, "wire")
    assert (outcome.error, outcome.new_articles) == (None, 0)
    assert feed.parse_warning is not None
    assert "3 entries were left out for want of a link to the article" in feed.parse_warning

    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    linkless = '<item><guid isPermaLink="false">a1</guid><title>No address</title></item>'
    write(folder, "wire", rss(linkless).encode())
    outcome, feed = poll(services, "wire")
    assert feed.parse_warning is not None
    assert "1 entry was left out for want of a link to the article" in feed.parse_warning

    # A few such items among articles are no news (RSS allows them): no warning then.
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    write(folder, "wire", rss(linkless + item("b2", "https://site.example/b2", "Story")).encode())
    outcome, feed = poll(services, "wire")
    assert (outcome.new_articles, feed.parse_warning) == (1, None)


def test_items_that_all_link_to_one_address_say_the_others_were_left_out(
    services: Services, folder: Path
) -> None:
    # Notices each under its own guid, all linking to the site's home page: an article is known
    # by its link, so the first is stored and the others were lost without a word.
    items = "".join(item(f"notice-{n}", "https://site.example/", f"Notice {n}") for n in range(3))
    write(folder, "wire", rss(items).encode())
    outcome, feed = poll(services, "wire")
    assert outcome.new_articles == 1
    assert feed.parse_warning is not None
    assert "2 entries were left out for linking to the address of an earlier entry" in (
        feed.parse_warning
    )

    # The same item twice under two guids is one article, and no news.
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    twice = item("a", "https://site.example/a", "Story A") + item(
        "b", "https://site.example/a", "Story A"
    )
    write(folder, "wire", rss(twice).encode())
    outcome, feed = poll(services, "wire")
    assert (outcome.new_articles, feed.parse_warning) == (1, None)


def dated_item(guid: str, link: str, title: str, date: str) -> str:
    return (
        f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>"
        f"<description>What happened in {title}.</description><pubDate>{date}</pubDate></item>"
    )


def test_a_guid_reused_at_a_later_poll_for_another_story_stores_that_story(
    services: Services, folder: Path
) -> None:
    # A CMS that hands its ids out again (or stamps every item with one): the same guid, later,
    # on a story with its own link, title and date. Taken as an edit of the first story, it
    # was never stored, and the first story's title became the new one under the old link.
    first = dated_item("post", "https://site.example/a", "Story A", "Wed, 25 Nov 2026 06:00:00 GMT")
    write(folder, "wire", rss(first).encode())
    assert poll(services, "wire")[0].new_articles == 1

    services.clock.advance(timedelta(hours=3))  # type: ignore[attr-defined]
    second = dated_item(
        "post", "https://site.example/b", "Story B", "Wed, 25 Nov 2026 10:00:00 GMT"
    )
    write(folder, "wire", rss(second).encode())
    outcome, _ = poll(services, "wire")
    assert (outcome.new_articles, outcome.updated_articles) == (1, 0)
    titles = {article.link: article.title for article in stored(services)}
    assert titles == {"https://site.example/a": "Story A", "https://site.example/b": "Story B"}

    # Seen again, the second story is the one stored: nothing new, nothing changed.
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    write(folder, "wire", rss(second + first.replace("post", "post-a")).encode())
    again, feed = poll(services, "wire")
    assert (again.new_articles, again.updated_articles) == (0, 0)
    assert feed.articles == 2


def test_a_guid_reused_for_a_story_under_the_same_title_with_a_new_link_and_date_stores_it(
    services: Services, folder: Path
) -> None:
    # A live page or a daily column: the same headline every day, the CMS's id handed out again,
    # a new address and a new date. Taken as an edit of yesterday's story (the title matched),
    # today's was never stored, and yesterday's article took today's link.
    title = "Live: the day in the Gulf"
    first = dated_item(
        "live", "https://site.example/live-24", title, "Tue, 24 Nov 2026 06:00:00 GMT"
    )
    write(folder, "wire", rss(first).encode())
    assert poll(services, "wire")[0].new_articles == 1

    services.clock.advance(timedelta(hours=3))  # type: ignore[attr-defined]
    second = dated_item(
        "live", "https://site.example/live-25", title, "Wed, 25 Nov 2026 06:00:00 GMT"
    )
    write(folder, "wire", rss(second).encode())
    outcome, feed = poll(services, "wire")
    assert (outcome.new_articles, outcome.updated_articles) == (1, 0)
    assert sorted(article.link for article in stored(services)) == [
        "https://site.example/live-24",
        "https://site.example/live-25",
    ]

    # Its link corrected the next hour under the same date: the same story, updated in place.
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    corrected = second.replace("live-25", "live-25-corrected")
    write(folder, "wire", rss(corrected).encode())
    again, feed = poll(services, "wire")
    assert (again.new_articles, feed.articles) == (0, 2)


def test_a_story_dated_far_ahead_stays_one_article_when_its_link_is_corrected(
    services: Services, folder: Path
) -> None:
    # A date in 2099 (a year typed wrong) is the feed's error. Taken as the time of each poll,
    # the story's date changed at every poll: its link corrected under its guid, it looked like
    # another story given the same guid, and went out twice.
    date = "Thu, 25 Nov 2099 06:00:00 GMT"
    write(
        folder, "wire", rss(dated_item("p1", "http://site.example/draft", "Truce", date)).encode()
    )
    outcome, _ = poll(services, "wire")
    assert outcome.new_articles == 1
    (article,) = stored(services)
    assert article.sort_time == NOW  # placed when it was first seen

    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    corrected = dated_item("p1", "https://site.example/truce", "Truce", date)
    write(folder, "wire", rss(corrected).encode())
    again, feed = poll(services, "wire")
    assert (again.new_articles, feed.articles) == (0, 1)


def atom_entry(link: str, title: str, updated: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>Feed</title><link href="https://site.example/"/><entry><id>tag:site,2026:1</id>'
        f'<link href="{link}"/><title>{title}</title><summary>What happened.</summary>'
        f"<updated>{updated}</updated></entry></feed>"
    ).encode()


def test_an_atom_entry_dated_only_by_its_updates_stays_one_article_when_its_link_changes(
    services: Services, folder: Path
) -> None:
    # Many Atom feeds give an entry no <published>, only <updated>, which every edit moves on.
    # An edit that renames the slug then changed the link and the only date the entry has:
    # that is no story given the same id, and stored again it went out twice.
    write(folder, "wire", atom_entry("https://site.example/draft", "Truce", "2026-11-25T06:00:00Z"))
    assert poll(services, "wire")[0].new_articles == 1
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    write(folder, "wire", atom_entry("https://site.example/truce", "Truce", "2026-11-25T09:30:00Z"))
    outcome, feed = poll(services, "wire")
    assert (outcome.new_articles, feed.articles) == (0, 1)


def test_a_story_edited_under_its_guid_is_updated_not_stored_again(
    services: Services, folder: Path
) -> None:
    # Its title and its address both rewritten after publication: the date tells it is the one.
    date = "Wed, 25 Nov 2026 06:00:00 GMT"
    write(
        folder, "wire", rss(dated_item("p1", "http://site.example/draft", "Draft", date)).encode()
    )
    assert poll(services, "wire")[0].new_articles == 1
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    edited = dated_item("p1", "https://site.example/final", "Final headline", date)
    write(folder, "wire", rss(edited).encode())
    outcome, _ = poll(services, "wire")
    assert (outcome.new_articles, outcome.updated_articles) == (0, 1)
    assert [article.title for article in stored(services)] == ["Final headline"]


SYRIA = [
    (
        "Syria signs deal with Turkish and Qatari firms to build power plants",
        "Syria's electricity ministry signed a $7 billion agreement with a consortium of Turkish "
        "and Qatari companies to build four gas-fired power plants and a solar park, officials "
        "said in Damascus. The plants would add 5,000 megawatts.",
    ),
    (
        "Qatari-Turkish consortium wins $7bn Syrian power contract",
        "A group led by Qatari and Turkish firms will build 5,000 MW of generating capacity in "
        "Syria, including four gas-fired plants and a solar park, under a $7 billion contract "
        "signed in Damascus on Thursday.",
    ),
    (
        "Nationwide blackout hits Syria after grid failure",
        "A fault on a main transmission line caused a nationwide blackout in Syria on Wednesday, "
        "the electricity ministry said. Power was restored to most of Damascus within six hours.",
    ),
]


def test_duplicate_stories_across_feeds(services: Services, folder: Path) -> None:
    (deal_title, deal), (wins_title, wins), (blackout_title, blackout) = SYRIA
    write(folder, "wire", rss(
        item("w1", "https://wire.example/syria-power-deal", deal_title, deal)
        + item("w2", "https://wire.example/syria-blackout", blackout_title, blackout)
    ).encode())  # fmt: skip
    # The same article (its link with tracking parameters), and another outlet's report.
    write(folder, "gazette", rss(
        item("g1", "https://wire.example/syria-power-deal?utm_source=gazette#top", deal_title, deal)
    ).encode())  # fmt: skip
    write(folder, "courier", rss(
        item("c1", "https://courier.example/qatari-turkish-consortium", wins_title, wins)
    ).encode())  # fmt: skip
    assert poll(services, "wire")[0].new_articles == 2
    gazette, gazette_feed = poll(services, "gazette")
    assert gazette.new_articles == 0 and gazette_feed.articles == 0
    assert poll(services, "courier")[0].new_articles == 1

    articles = {article.title: article for article in stored(services)}
    assert len(articles) == 3
    assert articles[deal_title].cluster_id == articles[deal_title].id
    assert articles[wins_title].cluster_id == articles[deal_title].id  # one story, two outlets
    assert articles[blackout_title].cluster_id == articles[blackout_title].id

    # The edition shows the story once, with the other outlet under it.
    outcome = pipeline.build_edition(services, "daily", NOW)
    edition = services.store.load_edition(outcome.edition_id)
    shown = [item.article.title for item in edition.items()]
    assert sorted(shown) == sorted([deal_title, blackout_title]) or sorted(shown) == sorted(
        [wins_title, blackout_title]
    )
    (story,) = [item for item in edition.items() if item.also_covered_by]
    assert {story.article.feed_name, *(a.feed_name for a in story.also_covered_by)} == {
        "Wire",
        "Courier",
    }
    text = services.store.rendered_edition(outcome.edition_id).text
    assert "Also covered by: " in text
    assert outcome.article_count == 2


def test_a_json_feed_is_stored_like_any_other(services: Services, folder: Path) -> None:
    document = """{"version": "https://jsonfeed.org/version/1.1", "title": "JSON Wire",
      "home_page_url": "https://json.example/", "language": "en",
      "items": [{"id": "1", "url": "/syria/1", "title": "Syria &amp; Jordan talk",
                 "content_html": "<p>Talks <script>x()</script>in Amman.</p>",
                 "date_published": "2026-11-25T08:00:00+04:00",
                 "authors": [{"name": "Rana"}], "tags": ["Syria"],
                 "image": "https://json.example/i.jpg"},
                {"title": "no id, no url"}]}"""
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.new_articles == 1 and feed.last_error is None
    (article,) = stored(services)
    assert article.link == "https://json.example/syria/1"
    assert article.title == "Syria & Jordan talk"
    assert article.summary_html == "<p>Talks in Amman.</p>"
    assert article.published_at == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert (article.author, article.categories) == ("Rana", ("Syria",))
    assert article.image_url == "https://json.example/i.jpg"


def test_every_author_of_a_json_feed_item_is_stored(services: Services, folder: Path) -> None:
    # Only the first of an item's authors was kept: "Rana Khalil" alone on a piece by two.
    document = """{"version": "https://jsonfeed.org/version/1.1", "title": "JSON Wire",
      "home_page_url": "https://json.example/",
      "items": [{"id": "1", "url": "/syria/1", "title": "Syria and Jordan talk",
                 "content_text": "Talks in Amman.",
                 "authors": [{"name": "Rana Khalil"}, {"name": "Omar Nasser"}]}]}"""
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.new_articles == 1 and feed.last_error is None
    (article,) = stored(services)
    assert article.author == "Rana Khalil, Omar Nasser"


# ----------------------------------------------------------------------------------------------
# Values a database would refuse: bounded before the store sees them (PostgreSQL refuses strings
# longer than their column, index keys over about 2,700 bytes, and NUL characters)


def test_values_too_long_for_the_store_are_bounded_before_it(
    services: Services, folder: Path
) -> None:
    far = "https://site.example/" + "x" * 3000
    document = rss(
        item("ج" * 3000, "https://site.example/a", "A guid of 6,000 bytes")
        + item(far, far, "A link of 3,000 characters, and no other")
        + '<item xmlns:media="http://search.yahoo.com/mrss/"><guid>c</guid>'
        "<link>https://site.example/c</link><title>Long image, many categories</title>"
        f'<media:content url="{far}.jpg" medium="image"/>'
        + "".join(f"<category>{n} {'topic ' * 50}</category>" for n in range(200))
        + "</item>"
    ).replace(
        "<link>https://site.example/</link>", f"<link>{far}</link><language>{'x' * 99}</language>"
    )
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.error is None and outcome.new_articles == 2
    assert feed.last_error is None
    by_link = {article.link: article for article in stored(services)}
    assert set(by_link) == {"https://site.example/a", "https://site.example/c"}
    long_guid = by_link["https://site.example/a"]
    assert long_guid.guid.startswith("sha256:") and long_guid.language is None
    many = by_link["https://site.example/c"]
    assert many.image_url is None
    assert len(many.categories) == 50 and all(len(name) <= 100 for name in many.categories)
    # The same document again stores nothing twice: the long guid is known by its hash.
    write(folder, "broken", document.encode() + b"\n")
    outcome, _ = poll(services, "broken")
    assert outcome.error is None and outcome.new_articles == 0


def test_characters_xml_forbids_are_removed_and_every_entry_read(
    services: Services, folder: Path
) -> None:
    # A control character pasted from a word processor, and references to NUL and to a
    # surrogate: expat refuses each, and the surrogate crashed feedparser's fallback parser.
    document = rss(
        item("g1", "https://site.example/a", "Aleppo\x0b reopens&#0;", "Shops \x01open.")
        + item("g2", "https://site.example/b", "Homs &#xD800;market", "Trade &#55296;resumes.")
    )
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.error is None and outcome.new_articles == 2
    assert (
        feed.parse_warning is not None and "5 character(s) that XML forbids" in feed.parse_warning
    )
    by_guid = {article.guid: article for article in stored(services)}
    assert by_guid["g1"].title == "Aleppo reopens\ufffd"
    assert by_guid["g1"].summary_text == "Shops open."
    assert by_guid["g2"].title == "Homs \ufffdmarket"


def test_a_json_feed_with_nul_and_lone_surrogates_is_stored(
    services: Services, folder: Path
) -> None:
    document = """{"version": "https://jsonfeed.org/version/1.1", "title": "Wire\\u0000",
      "items": [{"id": "1\\u0000", "url": "https://json.example/a",
                 "title": "Gaza\\u0000 talks\\ud800",
                 "content_html": "<p>Envoys\\u0000 meet\\udfff.</p>",
                 "authors": [{"name": "Rana\\u0000"}], "tags": ["Gaza\\u0001"]}]}"""
    write(folder, "broken", document.encode())
    outcome, feed = poll(services, "broken")
    assert outcome.error is None and outcome.new_articles == 1 and feed.last_error is None
    (article,) = stored(services)
    assert (article.guid, article.title, article.summary_text) == (
        "1",
        "Gaza talks",
        "Envoys meet.",
    )
    assert (article.author, article.categories) == ("Rana", ("Gaza",))
