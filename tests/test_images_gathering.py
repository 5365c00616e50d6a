"""digest.images.gathering on a loopback server and a real store: each picture fetched once
through the feeds' guarded client, kept or its failure kept, served under an unguessable id."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from digest.config import Settings
from digest.images import fetching
from digest.images.fetching import PICTURES_SECONDS, build_picture_client, start_window
from digest.images.gathering import keep_pictures, picture_id
from digest.images.records import Role, ServedPicture
from digest.ingest.fetch import fetch_feed
from digest.records import FetchResult
from digest.store import Store, open_store
from tests.feedserver import answer, drip, feed_server, redirect, send
from tests.test_images_checking import encoded, photo
from tests.webtools import web_settings

NOW = datetime(2026, 12, 4, 7, tzinfo=UTC)
SECRET = "pictures-test-secret"
JPEG = {"Content-Type": "image/jpeg"}


def image_settings(tmp_path: Path, **web: object) -> Settings:
    """Pictures on: the test servers are on loopback, which pictures may then reach."""
    settings = web_settings(tmp_path, "http://127.0.0.1:9/wire.xml")
    update = {"images": True, "images_allow_private_addresses": True, **web}
    return settings.model_copy(update={"web": settings.web.model_copy(update=update)})


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The store on SQLite and on PostgreSQL (the bytes are a BLOB in one, bytea in the other)."""
    opened = open_store(database_url)
    yield opened
    opened.engine.dispose()


def keep(
    settings: Settings, store: Store, shown: list[tuple[Role, str]], now: datetime = NOW
) -> dict[tuple[Role, str], ServedPicture]:
    with build_picture_client(settings) as client:
        return keep_pictures(
            shown, settings=settings, store=store, client=client, secret=SECRET, now=now
        )


def test_a_picture_is_fetched_once_for_both_roles_and_served_under_an_unguessable_id(
    tmp_path: Path, store: Store
) -> None:
    settings = image_settings(tmp_path)
    with feed_server(
        {"/photo.jpg": answer(200, encoded(photo(2400, 1600), "JPEG"), JPEG)}
    ) as server:
        url = server.url("/photo.jpg")
        first = keep(settings, store, [("lead", url)])
        second = keep(settings, store, [("thumb", url), ("lead", url)])
        assert server.paths() == ["/photo.jpg"]
    lead, thumb = second[("lead", url)], second[("thumb", url)]
    assert first[("lead", url)] == lead
    assert (lead.width, lead.height) == (1056, 704)
    assert (thumb.width, thumb.height) == (192, 192)
    for served in (lead, thumb):
        assert re.fullmatch(r"https://news\.example\.org/images/[0-9a-f]{32}\.jpg", served.url)
        assert "photo" not in served.url and "127.0.0.1" not in served.url
    assert lead.url != thumb.url
    # Another secret, other ids: an id cannot be worked out from the picture's address.
    assert picture_id("another secret", "lead", url) != picture_id(SECRET, "lead", url)


def test_a_refused_picture_is_dropped_and_its_failure_kept_until_the_retry(
    tmp_path: Path, store: Store
) -> None:
    settings = image_settings(tmp_path)
    page = b"<!DOCTYPE html><html><body>Log in to see this picture</body></html>"
    routes = {
        "/story-3.jpg": answer(200, encoded(Image.new("RGB", (1, 1)), "GIF"), JPEG),
        "/story-4.jpg": answer(200, page, JPEG),
        "/story-5.jpg": answer(404, b"gone"),
    }
    with feed_server(routes) as server:
        shown: list[tuple[Role, str]] = [("thumb", server.url(path)) for path in routes]
        assert keep(settings, store, shown) == {}
        assert keep(settings, store, shown, NOW + timedelta(minutes=50)) == {}
        assert sorted(server.paths()) == sorted(routes)  # once each: the failures are kept
        # What could not be fetched (the 404) is tried again after an hour; what was fetched
        # and refused, after a day.
        keep(settings, store, shown, NOW + timedelta(hours=2))
        assert sorted(server.paths()) == sorted([*routes, "/story-5.jpg"])
        keep(settings, store, shown, NOW + timedelta(days=2))
        assert len(server.paths()) == 2 * len(routes) + 1
    kept = store.stored_pictures(picture_id(SECRET, "thumb", url) for _, url in shown)
    reasons = [str(kept[picture_id(SECRET, "thumb", url)].failure) for _, url in shown]
    assert "too small" in reasons[0] and "HTML" in reasons[1] and "404" in reasons[2]


def test_a_picture_that_is_gone_or_failing_gets_no_advice_meant_for_a_feed(
    tmp_path: Path, store: Store
) -> None:
    # The feeds' fetch advises removing a gone feed from the config and waiting for the next
    # poll: a picture is in no config and is not polled, it is tried again an hour on.
    settings = image_settings(tmp_path)
    routes = {"/gone.jpg": answer(410, b"gone"), "/broken.jpg": answer(500, b"oops")}
    with feed_server(routes) as server:
        shown: list[tuple[Role, str]] = [("thumb", server.url(path)) for path in routes]
        assert keep(settings, store, shown) == {}
    kept = store.stored_pictures(picture_id(SECRET, "thumb", url) for _, url in shown)
    gone, broken = (str(kept[picture_id(SECRET, "thumb", url)].failure) for _, url in shown)
    assert "410" in gone and "the picture is gone" in gone and "500" in broken
    for reason in (gone, broken):
        assert "config" not in reason and "poll" not in reason, reason
        assert "tried again in an hour" in reason, reason


def test_a_picture_failure_names_the_addresses_it_was_fetched_at_as_they_are(
    tmp_path: Path, store: Store
) -> None:
    # A failure's reason is the feeds' fetch's, with its words for a feed made a picture's:
    # the addresses and host names in it ("/feed/", "feeds.example.com") are left as they are.
    settings = image_settings(tmp_path)
    routes = {
        "/feeds/photo.jpg": redirect(302, "/feed/2024/feeds-photo.jpg"),
        "/feed/2024/feeds-photo.jpg": answer(404, b"gone"),
    }
    with feed_server(routes) as server:
        url = server.url("/feeds/photo.jpg")
        assert keep(settings, store, [("thumb", url)]) == {}
    failure = str(store.stored_pictures([picture_id(SECRET, "thumb", url)]).popitem()[1].failure)
    assert server.url("/feed/2024/feeds-photo.jpg") in failure, failure
    assert "check the picture URL" in failure, failure
    reason = "cannot connect to feeds.example.com (redirected to https://feed.example/feed)"
    assert fetching.in_picture_words(reason) == reason
    assert fetching.in_picture_words("the feed is larger than ingest.max_body_bytes = 5") == (
        "the picture is larger than web.image_max_bytes = 5"
    )


def test_a_redirect_to_a_private_address_is_refused(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server is on loopback: let that one address count as public, and nothing else.
    monkeypatch.setattr(
        "digest.ingest.network.is_public_address", lambda address: address == "127.0.0.1"
    )
    settings = image_settings(tmp_path, images_allow_private_addresses=False)
    routes = {"/photo.jpg": redirect(302, "http://10.1.2.3/photo.jpg")}
    with feed_server(routes) as server:
        url = server.url("/photo.jpg")
        assert keep(settings, store, [("lead", url)]) == {}
        assert server.paths() == ["/photo.jpg"]
    failure = store.stored_pictures([picture_id(SECRET, "lead", url)])
    assert "private, loopback or link-local" in str(
        failure[picture_id(SECRET, "lead", url)].failure
    )
    # The key that lets pictures reach the local network, not the feeds' one, which does not.
    reason = str(failure[picture_id(SECRET, "lead", url)].failure)
    assert "set web.images_allow_private_addresses = true" in reason
    assert "ingest." not in reason


def test_a_picture_address_whose_host_is_no_valid_idna_is_one_failure_not_a_failed_build(
    tmp_path: Path, store: Store
) -> None:
    # "xn--zz" decodes to no name: httpx raised idna's own error building the request, which
    # went up through the build, and no edition showing such a picture could be built.
    settings = image_settings(tmp_path)
    routes = {
        "/photo.jpg": answer(200, encoded(photo(900, 600), "JPEG"), JPEG),
        "/moved.jpg": redirect(302, "http://xn--zz.example.org/photo.jpg"),
    }
    with feed_server(routes) as server:
        good, moved = server.url("/photo.jpg"), server.url("/moved.jpg")
        hostile = "http://xn--zz.example.org/story.jpg"
        shown: list[tuple[Role, str]] = [("lead", hostile), ("thumb", moved), ("thumb", good)]
        served = keep(settings, store, shown)
    assert list(served) == [("thumb", good)]
    kept = store.stored_pictures(picture_id(SECRET, "thumb", url) for url in (hostile, moved))
    reason = str(kept[picture_id(SECRET, "thumb", hostile)].failure)
    assert "'xn--zz.example.org' is no valid international domain name" in reason, reason
    reason = str(kept[picture_id(SECRET, "thumb", moved)].failure)
    assert "redirects to an address whose host name is no valid international" in reason, reason


def test_an_error_the_fetch_does_not_expect_costs_that_picture_not_the_build(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host name above was one such error; whatever the next one is, it must go the same way.
    settings = image_settings(tmp_path)

    def fetch_failing_on_one(client: httpx.Client, url: str, **options: Any) -> FetchResult:
        if url.endswith("/strange.jpg"):
            raise IndexError("tuple index out of range")
        return fetch_feed(client, url, **options)

    monkeypatch.setattr(fetching, "fetch_feed", fetch_failing_on_one)
    routes = {"/photo.jpg": answer(200, encoded(photo(900, 600), "JPEG"), JPEG)}
    with feed_server(routes) as server:
        good, strange = server.url("/photo.jpg"), server.url("/strange.jpg")
        served = keep(settings, store, [("lead", strange), ("thumb", good)])
    assert list(served) == [("thumb", good)]
    failure = store.stored_pictures([picture_id(SECRET, "lead", strange)])
    reason = str(failure[picture_id(SECRET, "lead", strange)].failure)
    assert reason.startswith("not fetched: unexpected error: IndexError"), reason


def test_a_slow_drip_and_an_oversized_picture_are_cut_off(tmp_path: Path, store: Store) -> None:
    settings = image_settings(tmp_path, image_timeout_seconds=0.5, image_max_bytes=20_000)
    big = encoded(Image.effect_noise((400, 400), 100).convert("RGB"), "PNG")  # no compression
    assert len(big) > 20_000
    routes = {
        "/slow.jpg": drip(b"x", every=0.05, count=400),
        "/big.png": answer(200, big, {"Content-Type": "image/png"}),
    }
    with feed_server(routes) as server:
        shown: list[tuple[Role, str]] = [("lead", server.url(path)) for path in routes]
        assert keep(settings, store, shown) == {}
    ids = {path: picture_id(SECRET, "lead", server.url(path)) for path in routes}
    kept = store.stored_pictures(ids.values())
    slow, large = str(kept[ids["/slow.jpg"]].failure), str(kept[ids["/big.png"]].failure)
    # Each names the limit it met, in the picture's words: not the feeds' [ingest] keys.
    assert "gave up after 0.5 seconds" in slow and "web.image_timeout_seconds" in slow
    assert "larger than web.image_max_bytes = 20000" in large
    assert "feed" not in slow + large and "ingest." not in slow + large


def test_a_host_that_drips_every_picture_holds_the_build_up_for_a_bounded_time(
    tmp_path: Path, store: Store
) -> None:
    # Every picture of one outlet on one dripping (or unreachable) host: at two fetches at once
    # on a host, one timeout each, the 36 took 9 s here, and 25 articles with a few pictures
    # each at the default 10 s outlast a build's time limit. The edition's fetches start within
    # a few timeouts, the rest wait for the next build; another host's pictures, listed after
    # them, are not held up behind them.
    settings = image_settings(tmp_path, image_timeout_seconds=0.5)
    slow = {f"/{number}.jpg": drip(b"x", every=0.05, count=40) for number in range(36)}
    fine = {
        f"/fine-{number}.jpg": answer(200, encoded(photo(), "JPEG"), JPEG) for number in range(6)
    }
    with feed_server(slow) as dripping, feed_server(fine, host="127.0.0.2") as answering:
        # The lead's picture first, as the edition shows them: fetched first.
        shown: list[tuple[Role, str]] = [("lead", dripping.url("/35.jpg"))]
        shown += [("thumb", dripping.url(path)) for path in slow if path != "/35.jpg"]
        shown += [("thumb", answering.url(path)) for path in fine]
        started = time.monotonic()
        served = keep(settings, store, shown)
        elapsed = time.monotonic() - started
        asked = set(dripping.paths())
    assert elapsed < 4, elapsed
    assert "/35.jpg" in asked
    assert sorted(url for _, url in served) == sorted(answering.url(path) for path in fine)
    # Those never asked for are no failure: they are not held back for an hour, the next
    # build asks for them.
    ids = {picture_id(SECRET, "thumb", dripping.url(path)): path for path in slow}
    failed = {ids[picture] for picture in store.stored_pictures(ids)}
    assert failed == asked and len(asked) < len(slow)


def test_hosts_that_drip_hold_no_more_than_their_share_of_the_fetches(
    tmp_path: Path, store: Store
) -> None:
    # A CDN outage takes several outlets' pictures down at once: four hosts that drip, listed
    # first, two fetches each, would hold all eight until the edition's time for pictures is
    # over, and the outlet whose server answers would lose every picture it has.
    settings = image_settings(tmp_path, image_timeout_seconds=0.5)
    slow = {f"/{number}.jpg": drip(b"x", every=0.05, count=40) for number in range(6)}
    fine = {
        f"/fine-{number}.jpg": answer(200, encoded(photo(), "JPEG"), JPEG) for number in range(4)
    }
    with ExitStack() as servers:
        dripping = [
            servers.enter_context(feed_server(slow, host=f"127.0.0.{number}"))
            for number in range(1, 5)
        ]
        answering = servers.enter_context(feed_server(fine, host="127.0.0.5"))
        shown: list[tuple[Role, str]] = [
            ("thumb", server.url(path)) for server in dripping for path in slow
        ]
        shown += [("thumb", answering.url(path)) for path in fine]
        served = keep(settings, store, shown)
    assert sorted(url for _, url in served) == sorted(answering.url(path) for path in fine)


def test_past_the_bound_the_least_recently_shown_pictures_go_first(store: Store) -> None:
    for day, name in enumerate(["old", "middle", "new"]):
        store.save_picture(
            picture_id=name,
            source_url=f"https://pictures.example/{name}.jpg",
            role="lead",
            content_type="image/jpeg",
            data=b"x" * 1000,
            width=100,
            height=100,
            failure=None,
            now=NOW + timedelta(days=day),
        )
    store.mark_pictures_used(["old"], NOW + timedelta(days=5))  # shown again: spared
    assert store.evict_pictures(2000, keep={"middle"}) == 1
    assert set(store.stored_pictures(["old", "middle", "new"])) == {"old", "middle"}
    assert store.evict_pictures(5000) == 0
    store.save_picture(
        picture_id="failed",
        source_url="https://pictures.example/failed.jpg",
        role="lead",
        content_type=None,
        data=None,
        width=None,
        height=None,
        failure="a single colour",
        now=NOW,
    )
    store.evict_pictures(5000, failures_unused_since=NOW)  # asked for at NOW: kept
    assert "failed" in store.stored_pictures(["failed"])
    store.evict_pictures(5000, failures_unused_since=NOW + timedelta(days=1))
    assert store.stored_pictures(["failed", "old"]).keys() == {"old"}
    assert store.picture_bytes("new") is None and store.picture_bytes("old") is not None


def test_two_builds_keeping_one_picture_at_once_both_succeed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def save(data: bytes) -> None:
        store.save_picture(
            picture_id="same",
            source_url="https://pictures.example/same.jpg",
            role="lead",
            content_type="image/jpeg",
            data=data,
            width=100,
            height=100,
            failure=None,
            now=NOW,
        )

    save(b"first")
    # The other build looked before this one inserted: its merge is an INSERT of the same id.
    monkeypatch.setattr("sqlalchemy.orm.Session.merge", lambda session, row: session.add(row))
    save(b"second")
    kept = store.picture_bytes("same")
    assert kept is not None and kept.data == b"first"


def test_the_pictures_of_an_edition_are_fetched_several_at_once(
    tmp_path: Path, store: Store
) -> None:
    # Each answer waits until three requests are in: fetched one after another, the first
    # would wait in vain and its picture be dropped.
    together = threading.Barrier(3)
    body = encoded(photo(), "JPEG")

    def when_all_are_in(handler: BaseHTTPRequestHandler) -> None:
        together.wait(timeout=30)
        send(handler, 200, body, JPEG)

    routes = {f"/{name}.jpg": when_all_are_in for name in ("one", "two", "three")}
    settings = image_settings(tmp_path, image_timeout_seconds=60)
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"per_host_concurrency": 3})}
    )
    with feed_server(routes) as server:
        served = keep(settings, store, [("thumb", server.url(path)) for path in routes])
    assert len(served) == 3


def test_one_host_gets_no_more_requests_at_once_than_a_feeds_host(
    tmp_path: Path, store: Store
) -> None:
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most

    def counted(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        time.sleep(0.2)  # long enough for a third request to come in if it were sent
        with lock:
            in_flight[0] -= 1
        send(handler, 200, b"<!doctype html>", JPEG)

    routes = {f"/{number}.jpg": counted for number in range(6)}
    settings = image_settings(tmp_path)  # ingest.per_host_concurrency = 2, the default
    with feed_server(routes) as server:
        keep(settings, store, [("thumb", server.url(path)) for path in routes])
        assert len(server.paths()) == 6
    assert in_flight[1] <= 2


def test_a_picture_on_the_local_network_is_refused_though_the_feeds_may_reach_it(
    tmp_path: Path, store: Store
) -> None:
    """The example lets its feeds reach a loopback server (ingest.allow_private_addresses); a
    feed's picture address naming 127.0.0.1 or 169.254.169.254 must not be fetched for it."""
    settings = image_settings(tmp_path, images_allow_private_addresses=False)
    assert settings.ingest.allow_private_addresses
    with feed_server(
        {"/photo.jpg": answer(200, encoded(photo(2400, 1600), "JPEG"), JPEG)}
    ) as server:
        url = server.url("/photo.jpg")
        assert keep(settings, store, [("lead", url)]) == {}
        assert server.paths() == []  # not even asked
    failure = store.stored_pictures([picture_id(SECRET, "lead", url)])
    assert "private, loopback or link-local" in str(
        failure[picture_id(SECRET, "lead", url)].failure
    )


@pytest.mark.parametrize("timeout", [0.5, 10, 30, 59, 60, 61, 90, 120])
def test_the_pictures_end_within_the_build_task_whatever_the_timeout(timeout: float) -> None:
    # Three timeouts of start window, plus the last fetch's own timeout, was 480 s at the
    # largest web.image_timeout_seconds (120), past the build task's 300 s time limit.
    window = start_window(timeout)
    assert window >= timeout  # the first round of fetches always goes
    assert window <= 3 * timeout  # never longer than the three rounds a short timeout gets
    assert window + timeout <= max(PICTURES_SECONDS, 2 * timeout) <= 240
    if timeout <= 45:
        assert window == 3 * timeout  # a usual timeout keeps its three rounds


def test_a_kept_picture_is_never_replaced_by_a_later_fetch_of_its_address(
    tmp_path: Path, store: Store
) -> None:
    """Mail already sent shows the lead's copy, served as immutable for a year: when its
    thumbnail, evicted meanwhile, is fetched again and the publisher now fails (or serves
    another picture), the lead's copy stays as it was."""
    settings = image_settings(tmp_path)
    answers = [answer(200, encoded(photo(2400, 1600), "JPEG"), JPEG)]

    def current(handler: BaseHTTPRequestHandler) -> None:
        answers[-1](handler)

    with feed_server({"/photo.jpg": current}) as server:
        url = server.url("/photo.jpg")
        lead_id, thumb_id = (picture_id(SECRET, role, url) for role in ("lead", "thumb"))
        assert ("lead", url) in keep(settings, store, [("lead", url)])
        sent = store.picture_bytes(lead_id)
        assert sent is not None
        # Only the lead is shown, so only it is marked used: the thumbnail goes first.
        assert store.evict_pictures(len(sent.data), keep={lead_id}) == 1
        later = [answer(500, b"oops"), answer(200, encoded(photo(900, 700), "PNG"), JPEG)]
        for days, answered in enumerate(later, start=2):  # the failure's retry is due by then
            answers.append(answered)
            keep(settings, store, [("thumb", url)], NOW + timedelta(days=days))
            assert store.picture_bytes(lead_id) == sent
        assert len(server.paths()) == 3
    assert store.picture_bytes(thumb_id) is not None  # the second fetch kept the thumbnail


def test_a_builds_window_counts_the_time_spent_fetching_not_composing(
    tmp_path: Path, store: Store
) -> None:
    """The drafts and variants of one build share one window of fetches (one_window); the
    time between them, spent composing and rendering, is no fetch's: a variant composed after
    the first ones took their time still fetches its own new picture, on a server that answers."""
    settings = image_settings(tmp_path, image_timeout_seconds=0.5)
    routes = {
        f"/{name}.jpg": answer(200, encoded(photo(900, 600), "JPEG"), JPEG)
        for name in ("first", "later")
    }
    with feed_server(routes) as server, fetching.one_window():
        assert ("thumb", server.url("/first.jpg")) in keep(
            settings, store, [("thumb", server.url("/first.jpg"))]
        )
        time.sleep(start_window(0.5) + 0.5)  # the next variant composed
        assert ("thumb", server.url("/later.jpg")) in keep(
            settings, store, [("thumb", server.url("/later.jpg"))]
        )


def test_a_kept_picture_is_not_evicted_by_another_build_while_this_one_fetches(
    tmp_path: Path, store: Store
) -> None:
    """Another list's build, past the bound, evicts the least recently shown pictures while
    this build fetches its new one: the pictures this build shows and found kept are shown
    now, not the least recently shown, and its edition keeps them."""
    settings = image_settings(tmp_path)
    photograph = encoded(photo(1200, 800), "JPEG")
    old, new = "/old.jpg", "/new.jpg"

    def fetched_while_another_build_evicts(handler: BaseHTTPRequestHandler) -> None:
        kept = store.stored_pictures(
            [*(picture_id(SECRET, role, server.url(old)) for role in ("lead", "thumb")), "other"]
        )
        assert len(kept) == 3
        sizes = sum(
            len(copy.data) for picture in kept if (copy := store.picture_bytes(picture)) is not None
        )
        store.evict_pictures(sizes - 1)  # one picture goes, the least recently shown
        send(handler, 200, photograph, JPEG)

    with feed_server(
        {old: answer(200, photograph, JPEG), new: fetched_while_another_build_evicts}
    ) as server:
        keep(settings, store, [("lead", server.url(old))])
        # Another list's picture, shown a day later.
        store.save_picture(
            picture_id="other",
            source_url="https://pictures.example/other.jpg",
            role="thumb",
            content_type="image/jpeg",
            data=photograph,
            width=1200,
            height=800,
            failure=None,
            now=NOW + timedelta(days=1),
        )
        shown: list[tuple[Role, str]] = [
            ("lead", server.url(old)),
            ("thumb", server.url(old)),
            ("thumb", server.url(new)),
        ]
        served = keep(settings, store, shown, NOW + timedelta(days=2))
    assert set(served) == set(shown)
    assert store.stored_pictures(["other"]) == {}  # the least recently shown went
