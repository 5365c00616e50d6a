"""The archive: a list's editions newest first a page at a time, each as mailed minus what was
personal, its Atom feed, and 404 pages for what is not there."""

from __future__ import annotations

import os
import random
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import httpx
import pytest
from lxml import etree
from starlette.testclient import TestClient

from digest import pipeline
from digest.mail.transport import MemoryTransport
from digest.records import Edition
from digest.render import edition_url
from digest.services import Services, build_services
from digest.web import archive, cache, create_app
from digest.web.server import serving
from tests.webtools import FIRST_SLOT, Newsroom, build_editions, newsroom


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Newsroom]:
    with newsroom(tmp_path, editions=3) as built:
        yield built


@pytest.fixture
def client(room: Newsroom) -> TestClient:
    return TestClient(create_app(room.services))


def slot_path(list_slug: str, slot: datetime) -> str:
    return f"/editions/{list_slug}/{slot:%Y-%m-%d-%H%M}"


def test_the_archive_lists_sent_editions_newest_first_with_links_that_open_them(
    room: Newsroom, client: TestClient
) -> None:
    page = client.get("/editions/daily")
    assert page.status_code == 200
    links = re.findall(r'<a href="(/editions/daily/[0-9-]+)">', page.text)
    assert links == [slot_path("daily", slot) for slot in reversed(room.slots)]
    assert "Thursday 26 November 2026" in page.text  # the slot's day in Dubai
    assert "The Gulf each morning &lt;in brief&gt; &amp; more." in page.text
    assert page.headers["cache-control"].startswith("public")
    for link in links:
        assert client.get(link).status_code == 200


def test_an_empty_edition_is_not_in_the_archive(room: Newsroom, client: TestClient) -> None:
    empty_slot = FIRST_SLOT + timedelta(days=10)
    room.clock.set(empty_slot + timedelta(minutes=1))
    built = pipeline.build_edition(room.services, "daily", empty_slot)  # no new story: empty
    assert built.pending_deliveries == 0
    assert slot_path("daily", empty_slot) not in client.get("/editions/daily").text
    assert client.get(slot_path("daily", empty_slot)).status_code == 404


def test_an_edition_mailed_with_no_stories_is_not_in_the_archive(
    room: Newsroom, client: TestClient
) -> None:
    services = room.services
    slot = FIRST_SLOT + timedelta(days=20)
    nothing_new = Edition(
        list_slug="daily", slot=slot, window_start=None, window_end=slot, lead=None
    )
    rendered = services.renderer.render(nothing_new, services.settings.list("daily"))
    state, _ = services.store.save_edition(nothing_new, rendered, slot)
    assert state.status == "ready" and rendered.article_count == 0  # as send_when_empty mails it
    room.clock.set(slot + timedelta(hours=1))  # past the archive cache
    assert slot_path("daily", slot) not in client.get("/editions/daily").text
    assert client.get(slot_path("daily", slot)).status_code == 404
    assert (
        edition_url(services.settings.service.base_url, "daily", slot)
        not in client.get("/editions/daily/feed.atom").text
    )


def test_the_archive_is_paginated_and_its_pages_are_bounded(
    room: Newsroom, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "PAGE_SIZE", 2)
    first, second = client.get("/editions/daily"), client.get("/editions/daily?page=2")
    assert "Page 1 of 2" in first.text and 'href="/editions/daily?page=2"' in first.text
    assert "Page 2 of 2" in second.text and 'href="/editions/daily"' in second.text
    shown = re.findall(r'<a href="(/editions/daily/[0-9-]+)">', first.text + second.text)
    assert shown == [slot_path("daily", slot) for slot in reversed(room.slots)]
    for bad in ("3", "0", "-1", "x", "1.5", "9" * 40, "", "١"):
        answer = client.get(f"/editions/daily?page={bad}")
        assert answer.status_code == 404 and "No such page" in answer.text, bad


def test_an_edition_is_shown_as_mailed_with_nothing_personal(
    room: Newsroom, client: TestClient
) -> None:
    page = client.get(slot_path("daily", room.slots[-1]))
    assert page.status_code == 200
    assert "Gulf story 3" in page.text and 'style="' in page.text
    assert "%%DIGEST" not in page.text
    for member in room.services.store.active_subscribers("daily"):
        assert member.email not in page.text
        assert room.services.signer.unsubscribe_token(member.id, "daily") not in page.text
    assert "Hello" not in page.text and "/unsubscribe/" not in page.text
    assert "each subscriber" in page.text
    # Inline styles are allowed for this page alone; scripts nowhere.
    policy = page.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert client.get("/editions/daily").headers["content-security-policy"].count("unsafe") == 0


def test_the_mails_view_in_your_browser_link_opens_the_edition(
    room: Newsroom, client: TestClient
) -> None:
    base_url = room.services.settings.service.base_url
    url = edition_url(base_url, "daily", room.slots[0])
    assert client.get(url.removeprefix(base_url)).status_code == 200
    sent = room.services.store.rendered_edition(1).html
    assert url in sent  # the stored mail links to exactly this address


def test_the_arabic_lists_archive_is_arabic_and_right_to_left(
    room: Newsroom, client: TestClient
) -> None:
    page = client.get("/editions/arabic")
    assert '<html lang="ar" dir="rtl">' in page.text and "الأعداد السابقة" in page.text
    edition = client.get(slot_path("arabic", room.slots[0]))
    assert 'dir="rtl"' in edition.text and "كل مشترك" in edition.text


@pytest.mark.parametrize(
    "path",
    [
        "/editions/weekly",
        "/editions/daily/2026-11-23-0300",  # before the first edition
        "/editions/daily/2026-13-01-0300",
        "/editions/daily/2026-11-24-0300x",
        "/editions/daily/2026-11-24",
        "/editions/daily/..%2f..%2fetc",
        "/editions/Daily/2026-11-24-0300",
        "/editions/weekly/feed.atom",
    ],
)
def test_what_is_not_there_is_a_404_page_in_the_sites_look(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "No such page" in answer.text and '<main id="content"' in answer.text


def test_a_former_slug_redirects_to_the_lists_slug_now(room: Newsroom, client: TestClient) -> None:
    path = slot_path("morning", room.slots[0])
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 301
    assert answer.headers["location"] == slot_path("daily", room.slots[0])
    old_page = client.get("/editions/morning?page=1", follow_redirects=False)
    assert old_page.headers["location"] == "/editions/daily?page=1"


@contextmanager
def daily_edited_services(room: Newsroom, **changes: object) -> Iterator[Services]:
    """Services on the room's config with the "daily" list changed, as digest serve takes an
    edit of the file, on the same database."""
    services = room.services
    lists = tuple(
        digest_list.model_copy(update=changes) if digest_list.slug == "daily" else digest_list
        for digest_list in services.settings.lists
    )
    edited = build_services(
        services.settings.model_copy(update={"lists": lists}),
        clock=room.clock,
        transport=MemoryTransport(),
    )
    try:
        yield edited
    finally:
        edited.close()


@contextmanager
def daily_edited(room: Newsroom, **changes: object) -> Iterator[TestClient]:
    """The app on the room's config with the "daily" list changed (``daily_edited_services``)."""
    with daily_edited_services(room, **changes) as edited:
        yield TestClient(create_app(edited))


@contextmanager
def served(services: Services) -> Iterator[httpx.Client]:
    """The app of ``services`` served over loopback, as digest serve serves it, and a client."""
    with (
        serving(create_app(services), "127.0.0.1", 0) as address,
        httpx.Client(base_url=address, follow_redirects=False, timeout=30) as http,
    ):
        yield http


ATOM = "{http://www.w3.org/2005/Atom}"


def strict_atom(answer: httpx.Response) -> etree._Element:
    """The feed of ``answer``, read by a strict XML parser (one that recovers from nothing),
    after checking what RFC 4287 asks of it: an id, a title and an updated date on the feed and
    on each entry, and one self link."""
    assert answer.status_code == 200, answer.status_code
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = etree.fromstring(answer.content, etree.XMLParser(recover=False, resolve_entities=False))
    assert feed.tag == f"{ATOM}feed"
    for element in (feed, *feed.iterfind(f"{ATOM}entry")):
        for child in ("id", "title", "updated"):
            assert len(element.findall(f"{ATOM}{child}")) == 1, (element.tag, child)
        assert element.findtext(f"{ATOM}id", "").strip(), element.tag
        updated = element.findtext(f"{ATOM}updated", "")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", updated), updated
    assert len(feed.findall(f"{ATOM}link[@rel='self']")) == 1
    return feed


def entry_ids(feed: etree._Element) -> list[str]:
    return [entry.findtext(f"{ATOM}id", "") for entry in feed.iterfind(f"{ATOM}entry")]


def test_a_renamed_lists_editions_open_before_the_next_cycle_carries_them_over(
    room: Newsroom,
) -> None:
    # The operator renames "daily" to "news" in the config; digest serve takes the edit within
    # a second or two, but the editions stay stored under "daily" until the next cycle of
    # digest run moves them. Meanwhile the mail's "View in your browser" links (which name
    # "daily") must still open, and the archive and its feed must still list the editions.
    base_url = room.services.settings.service.base_url
    with daily_edited(room, slug="news", previous_slugs=("daily", "morning")) as client:
        mailed = edition_url(base_url, "daily", room.slots[0])
        answer = client.get(mailed.removeprefix(base_url))
        assert answer.status_code == 200, answer.url
        assert str(answer.url).endswith(slot_path("news", room.slots[0]))
        page = client.get("/editions/news").text
        links = re.findall(r'<a href="(/editions/news/[0-9-]+)">', page)
        assert links == [slot_path("news", slot) for slot in reversed(room.slots)]
        feed = feedparser.parse(client.get("/editions/news/feed.atom").content)
        assert [entry.link for entry in feed.entries] == [
            edition_url(base_url, "news", slot) for slot in reversed(room.slots)
        ]


def test_the_feeds_entry_ids_stay_the_same_when_the_list_is_renamed(room: Newsroom) -> None:
    # RFC 4287 4.2.6: an entry's id never changes, even when it is relocated or migrated. A feed
    # reader takes an entry of a new id for a new entry: with ids that named the list's slug, a
    # rename showed every reader the last 30 editions again as news.
    with served(room.services) as http:
        before = entry_ids(strict_atom(http.get("/editions/daily/feed.atom")))
    assert len(before) == len(room.slots)
    renamed_list = {"slug": "news", "previous_slugs": ("daily", "morning")}
    with daily_edited_services(room, **renamed_list) as edited, served(edited) as http:
        renamed = strict_atom(http.get("/editions/news/feed.atom"))
        assert entry_ids(renamed) == before
        # The next cycle carries the editions over to the new slug: the ids stay.
        edited.store.rename_list("daily", "news", room.clock.now())
        room.clock.set(room.clock.now() + cache.TTL)
        carried = strict_atom(http.get("/editions/news/feed.atom"))
        assert entry_ids(carried) == before
        links = [
            entry.find(f"{ATOM}link[@rel='alternate']").get("href")  # type: ignore[union-attr]
            for entry in carried.iterfind(f"{ATOM}entry")
        ]
        base_url = room.services.settings.service.base_url
        assert links == [edition_url(base_url, "news", slot) for slot in reversed(room.slots)]
    assert len(set(before)) == len(before)  # and each edition has its own


def test_the_feeds_own_id_stays_the_same_when_the_list_is_renamed(tmp_path: Path) -> None:
    # RFC 4287 4.2.6 asks the same of the feed's id as of its entries': with an id that was
    # the archive's address, a rename made the list's feed a new feed to a reader that keys
    # its feeds by id. A list whose first edition had nothing in it has its id from it on.
    with newsroom(tmp_path, editions=0) as room:
        services = room.services
        room.clock.set(FIRST_SLOT + timedelta(minutes=5))
        pipeline.build_edition(services, "daily", FIRST_SLOT)  # no story yet: an empty one
        room.slots.append(FIRST_SLOT)
        with served(services) as http:
            empty = strict_atom(http.get("/editions/daily/feed.atom"))
            feed_id = empty.findtext(f"{ATOM}id")
            assert feed_id and not entry_ids(empty)
            build_editions(room, 2)
            room.clock.set(room.clock.now() + cache.TTL)
            assert strict_atom(http.get("/editions/daily/feed.atom")).findtext(f"{ATOM}id") == (
                feed_id
            )
        renamed_list = {"slug": "news", "previous_slugs": ("daily", "morning")}
        with daily_edited_services(room, **renamed_list) as edited, served(edited) as http:
            assert strict_atom(http.get("/editions/news/feed.atom")).findtext(f"{ATOM}id") == (
                feed_id
            )
            edited.store.rename_list("daily", "news", room.clock.now())
            room.clock.set(room.clock.now() + cache.TTL)
            carried = strict_atom(http.get("/editions/news/feed.atom"))
            assert carried.findtext(f"{ATOM}id") == feed_id
            assert len(entry_ids(carried)) == 2
        # Each list has a feed of its own.
        with served(services) as http:
            arabic = strict_atom(http.get("/editions/arabic/feed.atom"))
            assert arabic.findtext(f"{ATOM}id") != feed_id


def test_the_feed_of_a_list_with_no_edition_yet_is_the_same_feed_at_each_poll(
    tmp_path: Path,
) -> None:
    # Its <updated> was the clock's time at each render: its ETag changed with it, and a feed
    # reader's conditional GET never matched, fetching the whole feed at every poll.
    with newsroom(tmp_path, editions=0) as room:
        pipeline.members_in_step(room.services, room.clock.now())  # the list starts running
        started = room.clock.now()
        with served(room.services) as http:
            first = http.get("/editions/daily/feed.atom")
            [updated] = strict_atom(first).findall("{http://www.w3.org/2005/Atom}updated")
            assert updated.text == started.strftime("%Y-%m-%dT%H:%M:%SZ")
            for step in range(1, 3):
                room.clock.set(started + step * (cache.TTL + timedelta(minutes=1)))
                again = http.get("/editions/daily/feed.atom")
                assert again.content == first.content
                asked = {"if-none-match": first.headers["etag"]}
                assert http.get("/editions/daily/feed.atom", headers=asked).status_code == 304


def test_a_feed_reader_polling_with_a_conditional_get_is_answered_304_until_an_edition_comes(
    room: Newsroom,
) -> None:
    # Feed readers poll every few minutes with the ETag and Last-Modified of their last copy;
    # without them each poll took the whole feed again.
    feed_path = "/editions/daily/feed.atom"
    with served(room.services) as http:
        first = http.get(feed_path)
        strict_atom(first)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        newest_built = room.slots[-1] + timedelta(minutes=5)  # build_editions's clock
        assert modified == format_datetime(newest_built, usegmt=True)
        for method in ("GET", "HEAD"):
            for asked in (
                {"if-none-match": etag},
                {"if-none-match": f"W/{etag}"},  # as a proxy that compressed it passes it on
                {"if-none-match": f'"other", {etag}'},
                {"if-modified-since": modified},
                {"if-modified-since": format_datetime(newest_built + timedelta(days=1), True)},
            ):
                again = http.request(method, feed_path, headers=asked)
                assert again.status_code == 304, (method, asked)
                assert again.content == b"" and again.headers["etag"] == etag
                assert again.headers["cache-control"] == first.headers["cache-control"]
        # What does not match gets the feed: If-None-Match decides when both are sent.
        for asked in (
            {"if-none-match": '"other"'},
            {"if-none-match": '"other"', "if-modified-since": modified},
            {"if-modified-since": format_datetime(newest_built - timedelta(seconds=1), True)},
            {"if-modified-since": "yesterday, at noon"},
            {"if-modified-since": "Sun, 06 Nov 1994 08:49:37 GMT" + "0" * 200},
            {"if-modified-since": "Sun, 06 Nov 1994 08:49:37 +" + "9" * 30},
            {"if-modified-since": "Sun, 06 Nov 99999 08:49:37 GMT"},
        ):
            answer = http.get(feed_path, headers=asked)
            assert answer.status_code == 200, asked
            assert answer.content == first.content
        # A new edition, once the pages' cache has let go of the feed, is a new feed.
        build_editions(room, 1)
        room.clock.set(room.clock.now() + cache.TTL)
        newer = http.get(feed_path, headers={"if-none-match": etag, "if-modified-since": modified})
        assert newer.status_code == 200 and newer.headers["etag"] != etag
        assert len(entry_ids(strict_atom(newer))) == len(room.slots)
        # The list of editions and an edition answer a conditional GET too.
        for path in ("/editions/daily", slot_path("daily", room.slots[0])):
            page = http.get(path)
            assert page.status_code == 200
            unchanged = http.get(path, headers={"if-none-match": page.headers["etag"]})
            assert unchanged.status_code == 304, path


def test_a_config_edit_is_a_change_of_the_pages_for_a_client_asking_by_date(
    room: Newsroom,
) -> None:
    # Last-Modified was the edition's build time alone: a client asking with If-Modified-Since
    # and no ETag was answered 304 after the list was renamed, and kept showing the old name
    # until the next edition.
    paths = ("/editions/daily/feed.atom", slot_path("daily", room.slots[-1]))
    with served(room.services) as http:
        before = {path: http.get(path).headers["last-modified"] for path in paths}
        assert "The Gulf Morning" not in http.get(paths[0]).text
    edited_at = room.clock.now() + timedelta(minutes=30)
    room.clock.set(edited_at + timedelta(minutes=30))
    source = room.services.settings.source
    source.write_text("# the operator's edit\n")
    os.utime(source, (edited_at.timestamp(), edited_at.timestamp()))
    with daily_edited_services(room, name="The Gulf Morning") as edited, served(edited) as http:
        for path, modified in before.items():
            answer = http.get(path, headers={"if-modified-since": modified})
            assert answer.status_code == 200, path
            assert answer.headers["last-modified"] == format_datetime(edited_at, usegmt=True)
            asked = {"if-modified-since": answer.headers["last-modified"]}
            assert http.get(path, headers=asked).status_code == 304, path
        assert "The Gulf Morning" in http.get(paths[0]).text  # the feed's title
    # A file dated ahead of the clock (copied from a machine whose clock is ahead) dates no
    # page in the future.
    os.utime(source, (edited_at.timestamp() + 86400, edited_at.timestamp() + 86400))
    with daily_edited_services(room, name="The Gulf Morning") as edited, served(edited) as http:
        answer = http.get(paths[0])
        assert answer.headers["last-modified"] == format_datetime(room.clock.now(), usegmt=True)


def test_a_variant_no_edition_can_have_is_redirected_to_the_slots_edition_on_any_database(
    tmp_path: Path, database_url: str
) -> None:
    # PostgreSQL text holds no NUL and the column no more than 64 characters: a made-up
    # ?variant= with a NUL was a 500 there, where SQLite answered the redirect of any variant
    # not stored.
    with (
        newsroom(tmp_path, editions=1, database_url=database_url) as room,
        served(room.services) as http,
    ):
        edition = slot_path("daily", room.slots[0])
        for variant in ("%00", "a%00b", "x" * 5000, "%ED%A0%80", "%FF", "topics%7Cnope"):
            answer = http.get(f"{edition}?variant={variant}")
            assert answer.status_code == 302, variant[:10]
            assert answer.headers["location"] == edition
        assert http.get(edition).status_code == 200


def test_a_list_in_a_language_without_page_words_has_its_own_text_marked(
    room: Newsroom,
) -> None:
    # The service has no page words in Urdu: the archive's page is in English, but the list's
    # name and description are Urdu, to be read in Urdu and laid out right to left.
    name, description = "روزانہ خبریں", "خلیج کی خبریں ہر صبح"
    with daily_edited(room, language="ur", name=name, description=description) as client:
        page = client.get("/editions/daily").text
        assert '<html lang="en" dir="ltr">' in page
        assert f'<h1 lang="ur" dir="rtl">{name}</h1>' in page
        assert f'<p class="lede" lang="ur" dir="rtl">{description}</p>' in page


def test_a_persian_lists_archive_is_dated_in_its_calendar_and_digits(room: Newsroom) -> None:
    # The editions of 24 to 26 November 2026, 07:00 in Dubai: 3 to 5 Azar 1405.
    with daily_edited(room, language="fa") as client:
        page = client.get("/editions/daily").text
        assert '<html lang="fa" dir="rtl">' in page
        assert ">پنجشنبه ۵ آذر ۱۴۰۵</time>" in page and ">سه‌شنبه ۳ آذر ۱۴۰۵</time>" in page
        assert "صفحه ۱ از ۱" in page
        counts = re.findall('<p class="meta">([^<]+) خبر</p>', page)
        assert len(counts) == 3 and all(re.fullmatch("[۱-۹][۰-۹]*", count) for count in counts)
        # The archived copy's times are filled in the list's calendar (its masthead was
        # written when it was built, in the language the list had then).
        edition = client.get(slot_path("daily", room.slots[0])).text
        assert "%%DIGEST" not in edition and re.search("[۰-۹]{2}:[۰-۹]{2} گرینویچ\\+۴", edition)
    for dari in ("fa-AF", "prs"):  # Afghanistan's month names, on a page in Persian words
        with daily_edited(room, language=dari) as client:
            page = client.get("/editions/daily").text
            assert ">پنجشنبه ۵ قوس ۱۴۰۵</time>" in page and "شماره‌های پیشین" in page
            assert 'dir="rtl"' in page
    with daily_edited(room, language="fa", calendar="gregorian") as client:
        page = client.get("/editions/daily").text
        assert ">پنجشنبه 26 نوامبر 2026</time>" in page and "صفحه 1 از 1" in page


def test_the_atom_feed_parses_and_lists_the_editions_newest_first(
    room: Newsroom, client: TestClient
) -> None:
    build_editions(room, 1)  # a story whose title holds markup and an ampersand
    answer = client.get("/editions/daily/feed.atom")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Daily Brief"
    base_url = room.services.settings.service.base_url
    assert [entry.link for entry in feed.entries] == [
        edition_url(base_url, "daily", slot) for slot in reversed(room.slots)
    ]
    assert feed.entries[0].summary == "Gulf story 4 &"
    assert feed.entries[0].published_parsed[:5] == room.slots[-1].astimezone(UTC).timetuple()[:5]


def test_archive_pages_are_cached_for_at_most_the_ttl(room: Newsroom, client: TestClient) -> None:
    start = room.clock.now()
    assert client.get("/editions/daily").status_code == 200
    build_editions(room, 1)
    newest = slot_path("daily", room.slots[-1])
    room.clock.set(start + cache.TTL - timedelta(seconds=1))
    assert newest not in client.get("/editions/daily").text  # the page rendered at start
    room.clock.set(start + cache.TTL)
    assert newest in client.get("/editions/daily").text
    assert client.get(newest).status_code == 200  # a page never cached is read at once


def test_made_up_query_strings_share_the_pages_cache_entry(
    room: Newsroom, client: TestClient
) -> None:
    web = client.app.state.web  # type: ignore[attr-defined]
    for n in range(cache.SIZE + 10):
        assert client.get(f"/editions/daily?utm_source={n}").status_code == 200
    assert len(web.archive_cache) == 1
    client.get("/editions/daily?page=1&x=1")
    assert len(web.archive_cache) == 2
    # One page number written with leading zeros is still one entry.
    for spelling in ("01", "001", "0001", "00001", "000001"):
        assert client.get(f"/editions/daily?page={spelling}").status_code == 200
    assert len(web.archive_cache) == 2


def test_a_made_up_page_number_on_an_edition_or_the_feed_shares_its_cache_entry(
    room: Newsroom, client: TestClient
) -> None:
    # An edition and the feed have no pages: whatever ?page= a client makes up, they are one
    # page each, and cannot push the real pages out of the cache.
    web = client.app.state.web  # type: ignore[attr-defined]
    edition = slot_path("daily", room.slots[0])
    for n in range(cache.SIZE + 10):
        assert client.get(f"{edition}?page=x{n}").status_code == 200
        assert client.get(f"/editions/daily/feed.atom?page={n + 1}").status_code == 200
    assert len(web.archive_cache) == 2


def test_a_title_ending_cdata_or_holding_control_characters_keeps_every_page_well_formed(
    tmp_path: Path,
) -> None:
    # What a hostile or broken feed may put in a title: the end of a CDATA section, control
    # characters XML 1.0 forbids (as character references), a non-character, a lone surrogate
    # and markup. The feed must still parse as XML, and no page may carry them raw.
    title = (
        "Gulf ]]> &#x0b; &#x1b; &#xfffe; &#xD800; "
        "&lt;/summary&gt;&lt;script&gt;alert(1)&lt;/script&gt; end"
    )
    with newsroom(tmp_path, editions=0) as room:
        (room.feed_folder / "wire.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire'
            "</title><link>https://wire.example.org/</link><item>"
            f"<title>{title}</title><link>https://wire.example.org/story/1</link>"
            "<guid>urn:1</guid><description>Gulf ]]&gt; &#x0c; told</description>"
            "<pubDate>Mon, 23 Nov 2026 02:00:00 +0000</pubDate></item></channel></rss>",
            encoding="utf-8",
        )
        services = room.services
        room.clock.set(FIRST_SLOT + timedelta(minutes=5))
        for feed in services.store.sync_feeds(services.settings.feeds, room.clock.now()):
            pipeline.poll_feed(services, feed.id)
        pipeline.build_edition(services, "daily", FIRST_SLOT)
        client = TestClient(create_app(services))
        atom = client.get("/editions/daily/feed.atom")
        assert atom.status_code == 200
        ElementTree.fromstring(atom.content)  # well-formed XML 1.0, or this raises
        parsed = feedparser.parse(atom.content)
        assert not parsed.bozo and "]]>" in parsed.entries[0].summary
        for path in ("/editions/daily", slot_path("daily", FIRST_SLOT)):
            page = client.get(path)
            assert page.status_code == 200, path
            assert "]]&gt;" in page.text, path
            assert "<script" not in page.text and not re.search(
                "[\x00-\x08\x0b\x0c\x0e-\x1f]", page.text
            )
        assert "<script" not in atom.text and "]]>" not in atom.text


def _headline(number: int) -> str:
    """A headline that shares no word but "Gulf" with another: a story of its own each."""
    letters = random.Random(number)
    return "Gulf " + " ".join(
        "".join(letters.choice(string.ascii_lowercase) for _ in range(8)) for _ in range(6)
    )


def test_stories_left_out_of_a_mail_too_large_for_gmail_are_in_its_web_copy(
    tmp_path: Path,
) -> None:
    """150 stories: over Gmail's clip even as bare headlines, so the mail leaves its last ones
    out. They were in the plain-text part alone; the web copy the mail links to shows them all,
    and the mail says so under its last story."""
    with newsroom(tmp_path, editions=0, max_articles=200) as room:
        slot = FIRST_SLOT
        published = format_datetime(slot - timedelta(hours=1))
        items = "".join(
            f"<item><title>{_headline(number)}</title>"
            f"<link>https://wire.example.org/{'p' * 200}/{number}</link>"
            f"<guid>urn:wire:{number}</guid><description>{_headline(number)} told.</description>"
            f"<pubDate>{published}</pubDate></item>"
            for number in range(150)
        )
        (room.feed_folder / "wire.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire'
            f"</title><link>https://wire.example.org/</link>{items}</channel></rss>",
            encoding="utf-8",
        )
        room.clock.set(slot + timedelta(minutes=5))
        services = room.services
        for feed in services.store.sync_feeds(services.settings.feeds, room.clock.now()):
            pipeline.poll_feed(services, feed.id)
        pipeline.build_edition(services, "daily", slot)
        edition = services.store.edition_for_slot("daily", slot, "")
        assert edition is not None
        mail = services.store.rendered_edition(edition.id)
        in_mail = {_headline(number) for number in range(150) if _headline(number) in mail.html}
        assert 0 < len(in_mail) < 150
        base_url = services.settings.service.base_url
        url = edition_url(base_url, "daily", slot)
        assert f'<a class="more-online-link" href="{url}"' in mail.html
        assert "This edition has more stories: read them all in your browser" in mail.html

        page = TestClient(create_app(services)).get(url.removeprefix(base_url))
        assert page.status_code == 200
        assert all(_headline(number) in page.text for number in range(150))
        assert "more-online-link" not in page.text  # it is the whole edition
        assert "%%DIGEST" not in page.text


def test_an_edition_that_fits_the_mail_says_nothing_of_more_stories(
    room: Newsroom, client: TestClient
) -> None:
    edition = room.services.store.edition_for_slot("daily", room.slots[-1], "")
    assert edition is not None
    assert "more-online" not in room.services.store.rendered_edition(edition.id).html
    assert "more-online" not in client.get(slot_path("daily", room.slots[-1])).text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["11 stories", "2 stories", "1 story"]),
        ("ar", ["11 خبرًا", "خبران", "خبر واحد"]),
        ("he", ["11 כתבות", "שתי כתבות", "כתבה אחת"]),
        ("fa", ["۱۱ خبر", "۲ خبر", "۱ خبر"]),  # a singular noun after any number
    ],
)
def test_the_archive_counts_each_editions_stories_in_the_lists_plural_forms(
    room: Newsroom, language: str, expected: list[str]
) -> None:
    # Not "1 stories", nor Arabic's "عدد الأخبار: 2": each edition's count in the form its
    # language gives it (digest.plurals). The three editions, oldest first, held 1, 2 and 11.
    from sqlalchemy import update

    from digest.store.schema import EditionRow

    editions, _ = room.services.store.archived_editions(("daily",), offset=0, limit=10)
    with room.services.store.engine.begin() as connection:
        for edition, count in zip(editions, (11, 2, 1), strict=True):  # newest first
            connection.execute(
                update(EditionRow)
                .where(EditionRow.id == edition.edition_id)
                .values(article_count=count)
            )
    with daily_edited(room, language=language) as client:
        page = client.get("/editions/daily").text
    assert re.findall('<p class="meta">([^<]+)</p>', page) == expected
