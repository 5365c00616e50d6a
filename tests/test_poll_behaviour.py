"""Polling against a loopback server: what the store and the feed's status hold after each case.

Every test goes through ``pipeline.poll_feed`` (or a whole poll cycle): the real HTTP client, the
real parser and a real database, on a fixed clock.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from rich.console import Console
from sqlalchemy import event
from sqlalchemy.exc import DataError

from digest import ingesting, pipeline, polling
from digest.cli import feeds as feeds_cli
from digest.clock import FixedClock
from digest.config import Settings, settings_from_mapping
from digest.mail.transport import MemoryTransport
from digest.records import Article, Entry, TopicMatch
from digest.services import Services, build_services
from digest.store import FeedState
from tests.configs import service_table
from tests.conftest import NOW
from tests.feedserver import (
    FeedServer,
    Route,
    answer,
    drip,
    feed_server,
    redirect,
    send,
    unsized,
)

MINUTE = timedelta(minutes=1)
pytestmark = pytest.mark.integration


def rss(prefix: str, count: int = 3, *, hours_apart: int = 2) -> bytes:
    items = "".join(
        f"<item><title>{escape(prefix)} story {n}</title>"
        f"<link>https://{prefix}.example.org/story/{n}</link><guid>urn:{prefix}:{n}</guid>"
        f"<description>Story {n} from {escape(prefix)}.</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=hours_apart * n + 1))}</pubDate></item>"
        for n in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{prefix}</title><link>https://{prefix}.example.org/</link>{items}"
        "</channel></rss>"
    ).encode()


FEED = rss("wire")
RSS = {"Content-Type": "application/rss+xml"}


def conditional(body: bytes, etag: str = '"v1"') -> Route:
    """200 with an ETag, or 304 when the request carries it."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-None-Match") == etag:
            send(handler, 304, headers={"ETag": etag})
        else:
            send(handler, 200, body, {**RSS, "ETag": etag})

    return route


def make_settings(
    tmp_path: Path,
    feeds: Mapping[str, str],
    *,
    database_url: str | None = None,
    **ingest: object,
) -> Settings:
    raw = {
        "service": service_table(
            tmp_path, **({"database_url": database_url} if database_url else {})
        ),
        "ingest": {"allow_private_addresses": True, "timeout_seconds": 5, **ingest},
        "feeds": [{"name": name, "url": url} for name, url in feeds.items()],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


def services_for(settings: Settings, clock: FixedClock) -> Services:
    return build_services(settings, clock=clock, transport=MemoryTransport())


def poll_one(
    tmp_path: Path,
    clock: FixedClock,
    url: str,
    *,
    database_url: str | None = None,
    **ingest: object,
) -> Iterator[FeedState]:
    """Poll the feed at ``url`` each time the iterator is advanced; yields its state after."""
    settings = make_settings(tmp_path, {"Feed": url}, database_url=database_url, **ingest)
    services = services_for(settings, clock)
    try:
        [feed] = services.store.sync_feeds(services.settings.feeds, clock.now())
        while True:
            pipeline.poll_feed(services, feed.id)
            yield state(services, feed.id)
    finally:
        services.close()


def poll_once(tmp_path: Path, clock: FixedClock, url: str, **options: Any) -> FeedState:
    """The state of the feed at ``url`` after one poll (``options`` as for :func:`poll_one`)."""
    polls = poll_one(tmp_path, clock, url, **options)
    try:
        return next(polls)
    finally:
        polls.close()


def poll_twice(
    tmp_path: Path, clock: FixedClock, url: str, apart: timedelta, **options: Any
) -> tuple[FeedState, FeedState]:
    """The states of the feed at ``url`` after a poll, and after another ``apart`` later."""
    polls = poll_one(tmp_path, clock, url, **options)
    try:
        first = next(polls)
        clock.advance(apart)
        return first, next(polls)
    finally:
        polls.close()


def stored_after_a_poll(
    tmp_path: Path, clock: FixedClock, name: str, url: str
) -> tuple[list[Article], FeedState]:
    """The articles stored, and the feed's state, after one poll of the feed ``name`` at
    ``url``."""
    services = services_for(make_settings(tmp_path, {name: url}), clock)
    try:
        [feed] = services.store.sync_feeds(services.settings.feeds, clock.now())
        pipeline.poll_feed(services, feed.id)
        return services.store.articles(services.store.all_article_ids()), state(services, feed.id)
    finally:
        services.close()


def synced(services: Services, name: str) -> FeedState:
    """The feed called ``name`` in the config, stored as a poll's tick stores it first."""
    feeds = services.store.sync_feeds(services.settings.feeds, services.clock.now())
    return next(feed for feed in feeds if feed.name == name)


def state(services: Services, feed_id: int) -> FeedState:
    return next(feed for feed in services.store.feeds() if feed.id == feed_id)


# ----------------------------------------------------------------------------------------------
# Success, 304, compression


def test_a_first_poll_stores_the_entries_and_schedules_the_next(
    tmp_path: Path, clock: FixedClock
) -> None:
    with feed_server({"/feed": conditional(FEED)}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"))
    assert (feed.status, feed.last_status, feed.articles) == ("ok", 200, 3)
    assert feed.etag == '"v1"' and feed.consecutive_errors == 0 and feed.last_error is None
    assert feed.last_fetched_at == NOW and feed.last_new_entry_at == NOW
    # Three entries over about five hours: spread over at least the hour, one every ~two hours.
    assert feed.entries_per_day == pytest.approx(3 / (5 / 24))
    assert feed.next_poll_at is not None
    assert NOW + 90 * MINUTE <= feed.next_poll_at <= NOW + 110 * MINUTE


def test_a_304_costs_no_parse_and_keeps_everything(tmp_path: Path, clock: FixedClock) -> None:
    with feed_server({"/feed": conditional(FEED)}) as server:
        first, second = poll_twice(tmp_path, clock, server.url("/feed"), timedelta(hours=2))
    assert server.requests[1].headers["If-None-Match"] == '"v1"'
    assert (second.status, second.last_status, second.articles) == ("ok", 304, 3)
    assert second.etag == first.etag and second.title == "wire"
    assert second.entries_per_day == first.entries_per_day
    assert second.last_fetched_at == NOW + timedelta(hours=2)
    assert second.last_new_entry_at == NOW  # nothing new came with the 304
    assert second.next_poll_at is not None and second.next_poll_at > clock.now() + 80 * MINUTE


def test_the_same_document_again_costs_no_parse(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that sends no validators answers every poll in full; the bytes say it is the
    # same feed as last time.
    parsed: list[str] = []
    parse = ingesting.parse_feed

    def counted(content: bytes, **arguments: object) -> object:
        parsed.append(content.decode())
        return parse(content, **arguments)  # type: ignore[arg-type]

    monkeypatch.setattr(ingesting, "parse_feed", counted)
    served = {"body": FEED}
    route: Route = lambda handler: send(handler, 200, served["body"], RSS)  # noqa: E731
    with feed_server({"/feed": route}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        first = next(polls)
        clock.advance(timedelta(hours=2))
        second = next(polls)
        served["body"] = rss("wire", 4)  # one story more
        clock.advance(timedelta(hours=2))
        third = next(polls)
        polls.close()
    assert len(parsed) == 2  # the first and third polls
    assert "If-None-Match" not in server.requests[1].headers  # nothing to be conditional on
    assert (second.status, second.last_status, second.articles) == ("ok", 200, 3)
    assert second.last_fetched_at == NOW + timedelta(hours=2)
    assert second.last_new_entry_at == NOW and second.entries_per_day == first.entries_per_day
    assert second.next_poll_at is not None and second.next_poll_at > second.last_fetched_at
    assert (third.last_status, third.articles) == (200, 4)
    assert third.last_new_entry_at == NOW + timedelta(hours=4)
    assert third.content_hash is not None and third.content_hash != first.content_hash


def test_a_gzip_feed_is_stored(tmp_path: Path, clock: FixedClock) -> None:
    body = gzip.compress(FEED)
    route = answer(200, body, {**RSS, "Content-Encoding": "gzip"})
    with feed_server({"/feed": route}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"))
    assert server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"
    assert (feed.status, feed.last_status, feed.articles) == ("ok", 200, 3)


def encoded_feed(title: str, declared: str, written: str) -> bytes:
    body = (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><link>https://site.example/a</link></item></channel></rss>"
    ).encode(written)
    # Of an even length, ASCII reads as UTF-16 without an error (as CJK characters).
    return body if len(body) % 2 == 0 else body + b"\n"


@pytest.mark.parametrize(
    ("title", "declared", "written", "content_type"),
    [
        # A server's default charset over a document that declares its own: the declaration.
        ("محادثات مسقط", "windows-1256", "windows-1256", "application/rss+xml; charset=ISO-8859-1"),
        ("שיחות בירושלים", "iso-8859-8", "iso-8859-8", "text/xml; charset=us-ascii"),
        ("محادثات مسقط", "windows-1256", "windows-1256", "text/html; charset=iso-8859-1"),
        # No document whose declaration reads as ASCII is UTF-16: it was refused as no feed.
        ("Talks in Muscat", "utf-8", "utf-8", "application/xml; charset=UTF-16"),
        # The declaration does not read the bytes: the server's charset stays.
        ("Café à Beyrouth", "utf-8", "iso-8859-1", "application/rss+xml; charset=iso-8859-1"),
    ],
)
def test_a_servers_default_charset_gives_way_to_the_documents_declaration(
    tmp_path: Path, clock: FixedClock, title: str, declared: str, written: str, content_type: str
) -> None:
    body = encoded_feed(title, declared, written)
    with feed_server({"/feed": answer(200, body, {"Content-Type": content_type})}) as server:
        articles, after = stored_after_a_poll(tmp_path, clock, "Feed", server.url("/feed"))
    assert after.status == "ok", after.last_error
    assert [article.title for article in articles] == [title]


def test_a_headline_loses_the_outlets_name_its_system_appends(
    tmp_path: Path, clock: FixedClock
) -> None:
    # Printed, "Truce holds - Gulf Wire" had the byline "Jane Doe · Gulf Wire" right under it.
    titles = {
        "Truce holds - Gulf Wire": "Truce holds",
        "Port reopens in Salalah | GW Online": "Port reopens in Salalah",  # the feed's own title
        "Talks resume — gulf  wire": "Talks resume",
        "الهدنة صامدة - Gulf Wire": "الهدنة صامدة",
        "Rates rise | Reuters": "Rates rise | Reuters",  # an agency's name is no outlet's
        "Gulf Wire": "Gulf Wire",  # the name alone stays
        "Why Gulf Wire-readers left": "Why Gulf Wire-readers left",
    }
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://gw.example.org/{n}</link>"
        f"<guid>urn:gw:{n}</guid><pubDate>{format_datetime(NOW - timedelta(hours=n + 1))}</pubDate>"
        "</item>"
        for n, title in enumerate(titles)
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>GW Online'
        f"</title><link>https://gw.example.org/</link>{items}</channel></rss>"
    ).encode()
    with feed_server({"/feed": answer(200, body, RSS)}) as server:
        articles, _ = stored_after_a_poll(tmp_path, clock, "Gulf Wire", server.url("/feed"))
    shown = {article.link.rsplit("/", 1)[1]: article.title for article in articles}
    assert [shown[str(n)] for n in range(len(titles))] == list(titles.values())


# ----------------------------------------------------------------------------------------------
# Redirects


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_moves_the_feed(
    tmp_path: Path, clock: FixedClock, status: int
) -> None:
    routes = {"/old": redirect(status, "/new"), "/new": conditional(FEED)}
    with feed_server(routes) as server:
        first, second = poll_twice(tmp_path, clock, server.url("/old"), timedelta(hours=3))
    assert first.url == server.url("/old")  # the config's address stays the feed's identity
    assert first.current_url == server.url("/new")
    assert first.fetch_url == server.url("/new")
    assert (first.status, first.articles) == ("ok", 3)
    # The next poll goes straight to the new address, conditionally.
    assert server.paths() == ["/old", "/new", "/new"]
    assert server.requests[2].headers["If-None-Match"] == '"v1"'
    assert second.last_status == 304 and second.current_url == server.url("/new")


def test_a_permanent_redirect_too_long_to_store_is_followed_not_remembered(
    tmp_path: Path, clock: FixedClock, database_url: str
) -> None:
    target = "/new?session=" + "q" * 3000  # longer than any stored URL may be (URL_LIMIT)
    routes = {"/old": redirect(301, target), "/new": conditional(FEED)}
    with feed_server(routes) as server:
        first = poll_once(tmp_path, clock, server.url("/old"), database_url=database_url)
    assert server.paths() == ["/old", "/new"]
    assert (first.status, first.articles) == ("ok", 3)
    assert first.current_url is None and first.fetch_url == server.url("/old")


@pytest.mark.parametrize(
    ("etag", "last_modified"),
    [
        ('W/"caf\u00e9"', None),  # not ASCII: httpx cannot send it back
        ('"' + "v" * 600 + '"', "Wed, 25 Nov 2026 06:00:00 GMT" + " " * 10 + "x" * 100),
    ],
    ids=["not-ascii", "too-long"],
)
def test_validators_that_cannot_be_sent_back_are_not_kept(
    tmp_path: Path, clock: FixedClock, database_url: str, etag: str, last_modified: str | None
) -> None:
    # Kept, such a value failed every later fetch of the feed (or, too long, its storing on
    # PostgreSQL): the feed was stuck for good. Without it, the document's hash spares the parse.
    headers = {**RSS, "ETag": etag, **({"Last-Modified": last_modified} if last_modified else {})}
    with feed_server({"/feed": answer(200, FEED, headers)}) as server:
        first, second = poll_twice(
            tmp_path, clock, server.url("/feed"), timedelta(hours=3), database_url=database_url
        )
    assert (first.status, first.articles, first.etag, first.last_modified) == ("ok", 3, None, None)
    assert (second.status, second.last_status, second.consecutive_errors) == ("ok", 200, 0)
    assert "If-None-Match" not in server.requests[1].headers
    assert "If-Modified-Since" not in server.requests[1].headers


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_leaves_the_address_alone(
    tmp_path: Path, clock: FixedClock, status: int
) -> None:
    routes = {"/old": redirect(status, "/today"), "/today": conditional(FEED)}
    with feed_server(routes) as server:
        first, second = poll_twice(tmp_path, clock, server.url("/old"), timedelta(hours=3))
    assert first.current_url is None and first.fetch_url == server.url("/old")
    assert (first.status, first.articles) == ("ok", 3)
    assert server.paths() == ["/old", "/today", "/old", "/today"]
    assert second.last_status == 304 and second.current_url is None


def test_a_document_that_is_no_feed_behind_a_redirect_is_named_by_the_feeds_address(
    tmp_path: Path, clock: FixedClock
) -> None:
    # `digest poll` prints the errors alone: each must begin with the address the operator
    # configured, as a fetch's does, and say where the redirect led, cut to a readable length.
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/real.xml">'
        b"</head><body>Welcome</body></html>"
    )
    target = "/site/?session=" + "s" * 30_000
    routes = {
        "/feed": redirect(302, target),
        "/site/": answer(200, page, {"Content-Type": "text/html"}),
    }
    with feed_server(routes) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"))
    assert feed.status == "error" and feed.last_error is not None
    assert feed.last_error.startswith(server.url("/feed") + ": ")
    assert f"redirected to {server.url('/site/?session=sss')}" in feed.last_error
    assert "not an RSS, Atom or JSON feed" in feed.last_error
    assert server.url("/real.xml") in feed.last_error  # the feed the page names
    assert len(feed.last_error) < 3_000


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", "application/rss+xml", "an empty document instead of a feed"),
        (b"<html><body>Maintenance</body></html>", "text/html", "not an RSS, Atom or JSON feed"),
    ],
    ids=["empty", "web-page"],
)
def test_a_document_that_is_no_feed_keeps_the_http_status_it_came_with(
    tmp_path: Path, clock: FixedClock, body: bytes, content_type: str, expected: str
) -> None:
    # `digest feeds` shows the HTTP status of the last answer: "—" said the server gave none,
    # when it answered 200 with something that is no feed.
    with feed_server({"/feed": answer(200, body, {"Content-Type": content_type})}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"))
    assert (feed.status, feed.last_status, feed.consecutive_errors) == ("error", 200, 1)
    assert feed.last_error is not None and expected in feed.last_error


def test_a_redirect_loop_is_an_error_with_backoff(tmp_path: Path, clock: FixedClock) -> None:
    routes = {"/a": redirect(301, "/b"), "/b": redirect(302, "/a")}
    with feed_server(routes) as server:
        feed = poll_once(tmp_path, clock, server.url("/a"))
    assert (feed.status, feed.articles, feed.consecutive_errors) == ("error", 0, 1)
    assert feed.last_error is not None and "redirect loop" in feed.last_error
    assert feed.last_error_at == NOW and feed.current_url is None
    assert feed.next_poll_at is not None
    assert NOW + 15 * MINUTE <= feed.next_poll_at <= NOW + 19 * MINUTE


# ----------------------------------------------------------------------------------------------
# Errors the server means: 410, 429, 503, 5xx


def test_410_disables_the_feed_until_an_operator_enables_it(
    tmp_path: Path, clock: FixedClock
) -> None:
    gone = {"on": True}

    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 410, b"gone") if gone["on"] else conditional(FEED)(handler)

    with feed_server({"/feed": route}) as server:
        settings = make_settings(tmp_path, {"Feed": server.url("/feed")})
        services = services_for(settings, clock)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        [feed] = services.store.feeds()
        assert summary.feeds_failed == 1
        assert f"digest feeds enable {server.url('/feed')}" in summary.problems[0]
        assert (feed.status, feed.last_status, feed.articles) == ("disabled", 410, 0)
        assert feed.disabled_reason is not None and "410 Gone" in feed.disabled_reason
        assert feed.next_poll_at is None and feed.enabled  # the config's switch is untouched

        # Skipped from now on, even when forced and long after.
        clock.advance(timedelta(days=30))
        assert pipeline.due_feeds(services, clock.now(), force=True) == []
        assert pipeline.poll_cycle(services, pipeline.InlineDispatcher(services)).feeds_polled == 0
        assert len(server.requests) == 1

        # The publisher brings it back; the operator re-enables it.
        gone["on"] = False
        assert services.store.enable_feed(server.url("/feed")) is not None
        again = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        [feed] = services.store.feeds()
        services.close()
    assert (again.feeds_polled, again.new_articles) == (1, 3)
    assert (feed.status, feed.disabled_reason, feed.consecutive_errors) == ("ok", None, 0)


def test_a_410_is_reported_once_with_one_thing_to_do(tmp_path: Path, clock: FixedClock) -> None:
    # `digest poll` printed the fetch's error and the reason for disabling the feed one after
    # the other: "removed it for good" twice, with two different things to do.
    with feed_server({"/feed": answer(410, b"gone")}) as server:
        settings = make_settings(tmp_path, {"Feed": server.url("/feed")})
        services = services_for(settings, clock)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        services.close()
    [problem] = summary.problems
    assert problem.startswith(f"{server.url('/feed')}: ")
    assert problem.count("for good") == 1
    assert "remove it from the config" not in problem
    assert f"`digest feeds enable {server.url('/feed')}`" in problem


def test_a_410_at_the_address_a_feed_moved_to_is_said_to_come_from_there(
    tmp_path: Path, clock: FixedClock
) -> None:
    # The feed's own address still answers 301: told the 410 came from it, an operator who
    # checks it finds no 410, and does not learn which address is gone.
    gone = {"on": False}

    def new(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 410, b"gone") if gone["on"] else conditional(FEED)(handler)

    with feed_server({"/old": redirect(301, "/new"), "/new": new}) as server:
        polls = poll_one(tmp_path, clock, server.url("/old"))
        moved = next(polls)
        gone["on"] = True
        clock.advance(timedelta(hours=3))
        feed = next(polls)
        polls.close()
    assert moved.current_url == server.url("/new")
    assert feed.status == "disabled" and feed.disabled_reason is not None
    assert f"HTTP 410 Gone at {server.url('/new')}" in feed.disabled_reason
    assert f"digest feeds enable {server.url('/old')}`" in feed.disabled_reason


def test_429_waits_as_long_as_retry_after_says(tmp_path: Path, clock: FixedClock) -> None:
    route = answer(429, b"slow down", {"Retry-After": "7200"})
    with feed_server({"/feed": route}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"))
    assert (feed.status, feed.last_status, feed.consecutive_errors) == ("error", 429, 1)
    assert feed.last_error is not None and "rate limited" in feed.last_error
    assert feed.next_poll_at == NOW + timedelta(hours=2)
    assert feed.articles == 0


def test_503_with_retry_after_date_and_repeated_errors_back_off(
    tmp_path: Path, clock: FixedClock
) -> None:
    # Retry-After as a date 45 minutes after the server's own Date header.
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response_only(503)
        handler.send_header("Date", "Wed, 25 Nov 2026 09:30:00 GMT")
        handler.send_header("Retry-After", "Wed, 25 Nov 2026 10:15:00 GMT")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with feed_server({"/feed": route}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        first = next(polls)
        assert first.next_poll_at == NOW + timedelta(minutes=45)
        delays = []
        for _ in range(5):
            clock.advance(timedelta(days=1))
            feed = next(polls)
            assert feed.next_poll_at is not None
            delays.append(feed.next_poll_at - clock.now())
        polls.close()
    assert feed.consecutive_errors == 6 and feed.status == "error" and feed.last_status == 503
    # 2^(n-1) × 15 minutes with up to 25% jitter, capped at max_backoff (a day): it grows.
    # Second error: the 30-37.5 min backoff is shorter than the server's 45 min, which wins.
    assert delays[0] == timedelta(minutes=45)
    assert delays[0] < delays[1] < delays[2] < delays[3] < delays[4]
    assert timedelta(hours=8) <= delays[4] <= timedelta(hours=10)
    assert all(delay <= timedelta(days=1) for delay in delays)


def test_a_retry_after_date_from_a_server_without_a_clock_is_read_by_the_polls_clock(
    tmp_path: Path, clock: FixedClock
) -> None:
    # A server with no clock sends no Date header (RFC 9110 allows it): the wait its date asks
    # for is counted from the poll's own now, not from whatever this machine's clock says.
    asked_until = format_datetime(NOW + timedelta(minutes=40), usegmt=True)

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response_only(503)
        handler.send_header("Retry-After", asked_until)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with feed_server({"/feed": route}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"))
    assert (feed.status, feed.last_status) == ("error", 503)
    assert feed.next_poll_at == NOW + timedelta(minutes=40)


class Publisher:
    """Several sections of one publisher on one host; ``limited`` answers 429 with Retry-After
    while ``limiting`` is on, the others their feed."""

    def __init__(self, limited: str, sections: Sequence[str], status: int = 429) -> None:
        self.limiting = True
        self.routes: dict[str, Route] = {f"/{name}": conditional(rss(name)) for name in sections}
        slow_down = answer(status, b"slow down", {"Retry-After": "3600"})
        open_route = conditional(rss(limited))

        def route(handler: BaseHTTPRequestHandler) -> None:
            (slow_down if self.limiting else open_route)(handler)

        self.routes = {f"/{limited}": route, **self.routes}


@contextmanager
def world_and_business(
    tmp_path: Path, clock: FixedClock
) -> Iterator[tuple[Publisher, FeedServer, Services]]:
    """A publisher whose "world" section answers 429 (Retry-After: 3600) and whose "business"
    section its feed, and the services that poll the two."""
    publisher = Publisher("world", ["business"])
    with feed_server(publisher.routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in publisher.routes}
        services = services_for(make_settings(tmp_path, feeds), clock)
        try:
            yield publisher, server, services
        finally:
            services.close()


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_pauses_every_feed_of_the_host(
    tmp_path: Path, clock: FixedClock, status: int
) -> None:
    publisher = Publisher("world", ["middle-east", "business"], status)
    with (
        feed_server(publisher.routes) as server,
        feed_server({"/other": conditional(FEED)}) as (elsewhere),
    ):
        feeds = {path.strip("/"): server.url(path) for path in publisher.routes}
        settings = make_settings(
            tmp_path, {**feeds, "other": elsewhere.url("/other")}, per_host_concurrency=1
        )
        services = services_for(settings, clock)
        dispatcher = pipeline.InlineDispatcher(services)
        first = pipeline.poll_cycle(services, dispatcher)
        by_name = {feed.name: feed for feed in services.store.feeds()}
        # The host asked to wait on its first feed: its other feeds got no request.
        assert server.paths() == ["/world"]
        assert elsewhere.paths() == ["/other"]  # another host is not held back
        assert (first.feeds_polled, first.feeds_failed, first.feeds_paused) == (2, 1, 2)
        for name in ("world", "middle-east", "business"):
            assert by_name[name].next_poll_at == NOW + timedelta(hours=1), name
        assert by_name["middle-east"].last_fetched_at is None
        assert by_name["middle-east"].consecutive_errors == 0

        # Within the pause, neither a cycle nor a forced one sends the host a request.
        clock.advance(30 * MINUTE)
        assert [feed.name for feed in pipeline.due_feeds(services, clock.now())] == []
        pipeline.poll_cycle(services, dispatcher, force=True)
        assert server.paths() == ["/world"]
        assert elsewhere.paths() == ["/other", "/other"]

        # After it, every feed of the host is polled again.
        publisher.limiting = False
        clock.advance(31 * MINUTE)
        after = pipeline.poll_cycle(services, dispatcher)
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert sorted(server.paths()) == ["/business", "/middle-east", "/world", "/world"]
    assert (after.feeds_polled, after.feeds_failed) == (3, 0)
    assert all(by_name[name].status == "ok" for name in ("world", "middle-east", "business"))


def test_a_retry_after_behind_a_redirect_pauses_the_host_that_asked(
    tmp_path: Path, clock: FixedClock
) -> None:
    # The feed's own server sends it on (302) to a CDN on another port, and the CDN asks to
    # wait: the CDN's feeds wait, the feed's own server did not ask and its feeds are polled.
    cdn_routes: dict[str, Route] = {
        "/world": answer(429, b"slow down", {"Retry-After": "3600"}),
        "/business": conditional(rss("business")),
    }
    with feed_server(cdn_routes) as cdn:
        own_routes = {
            "/world": redirect(302, cdn.url("/world")),
            "/sport": conditional(rss("sport")),
        }
        with feed_server(own_routes) as own:
            feeds = {
                "world": own.url("/world"),
                "sport": own.url("/sport"),
                "cdn-business": cdn.url("/business"),
            }
            settings = make_settings(tmp_path, feeds, per_host_concurrency=1)
            services = services_for(settings, clock)
            cycle = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
            # A worker's poll task of the CDN's other feed, run later within the pause.
            clock.advance(MINUTE)
            [business_id] = [f.id for f in services.store.feeds() if f.name == "cdn-business"]
            later = pipeline.poll_feed(services, business_id)
            by_name = {feed.name: feed for feed in services.store.feeds()}
            services.close()
    assert own.paths() == ["/world", "/sport"]
    assert cdn.paths() == ["/world"]
    assert (cycle.feeds_polled, cycle.feeds_failed, cycle.feeds_paused) == (2, 1, 1)
    assert later.paused
    world, sport, business = by_name["world"], by_name["sport"], by_name["cdn-business"]
    assert world.wait_asked_by == polling.host_of(cdn.base_url)
    assert sport.status == "ok" and sport.articles == 3
    assert business.last_fetched_at is None
    assert business.next_poll_at == NOW + timedelta(hours=1)
    assert polling.paused_by(business, by_name.values(), NOW + MINUTE) == world
    assert polling.paused_by(sport, by_name.values(), NOW + MINUTE) is None


def test_a_redirect_to_a_host_that_asked_to_wait_is_not_followed(
    tmp_path: Path, clock: FixedClock
) -> None:
    # Both feeds' addresses send them on (302) to another server, as an http address to its
    # https one, and that server asks to wait on the first: the second feed's poll asks the
    # server at its own address, which did not ask, but not the one that did.
    target_routes: dict[str, Route] = {
        "/world": answer(429, b"slow down", {"Retry-After": "3600"}),
        "/business": conditional(rss("business")),
    }
    with feed_server(target_routes) as target:
        own_routes = {path: redirect(302, target.url(path)) for path in target_routes}
        with feed_server(own_routes) as own:
            feeds = {path.strip("/"): own.url(path) for path in own_routes}
            settings = make_settings(tmp_path, feeds, per_host_concurrency=1)
            services = services_for(settings, clock)
            cycle = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
            # A worker's poll task of the second feed, run later within the pause.
            clock.advance(MINUTE)
            [_, business] = services.store.feeds()
            later = pipeline.poll_feed(services, business.id)
            [_, business] = services.store.feeds()
            services.close()
    assert target.paths() == ["/world"]
    assert own.paths() == ["/world", "/business", "/business"]
    assert (cycle.feeds_polled, cycle.feeds_failed, cycle.feeds_paused) == (1, 1, 1)
    assert later.paused and later.error is None
    assert business.last_fetched_at is None and business.consecutive_errors == 0
    assert business.next_poll_at == NOW + timedelta(hours=1)


def test_a_hosts_pause_ends_when_it_said_not_with_the_feeds_own_backoff(
    tmp_path: Path, clock: FixedClock
) -> None:
    # A struggling server answers 500 five times, then 503 with a two-minute Retry-After: the
    # feed itself backs off for hours, its host's other feeds wait the two minutes.
    answers = iter([*[answer(500, b"oops")] * 5, answer(503, b"busy", {"Retry-After": "120"})])
    routes: dict[str, Route] = {
        "/world": lambda handler: next(answers)(handler),
        "/business": conditional(rss("business")),
    }
    with feed_server(routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in routes}
        services = services_for(make_settings(tmp_path, feeds, per_host_concurrency=1), clock)
        [world, _] = services.store.sync_feeds(services.settings.feeds, clock.now())
        for _attempt in range(6):
            pipeline.poll_feed(services, world.id)
        clock.advance(3 * MINUTE)
        cycle = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        [world, business] = services.store.feeds()
        services.close()
    assert world.consecutive_errors == 6 and world.last_status == 503
    assert world.next_poll_at is not None and world.next_poll_at > NOW + timedelta(hours=4)
    assert server.paths() == ["/world"] * 6 + ["/business"]
    assert (cycle.feeds_polled, cycle.feeds_paused) == (1, 0)
    assert business.status == "ok"


def test_taking_the_feed_that_got_the_retry_after_out_of_the_config_keeps_the_pause(
    tmp_path: Path, clock: FixedClock
) -> None:
    publisher = Publisher("world", ["business"])
    with feed_server(publisher.routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in publisher.routes}
        services = services_for(make_settings(tmp_path, feeds, per_host_concurrency=1), clock)
        pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        services.close()
        # The operator drops the section that got the 429; the host's wait still holds.
        clock.advance(MINUTE)
        rest = make_settings(tmp_path, {"business": feeds["business"]}, per_host_concurrency=1)
        services = services_for(rest, clock)
        forced = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services), force=True)
        services.close()
    assert server.paths() == ["/world"]
    assert (forced.feeds_polled, forced.feeds_paused) == (0, 1)


@pytest.mark.parametrize("retry_after", ["tomorrow", "0", "Wed, 25 Nov 2026 09:00:00 GMT"])
def test_a_retry_after_with_no_wait_ahead_pauses_no_other_feed(
    tmp_path: Path, clock: FixedClock, retry_after: str
) -> None:
    routes = {
        "/world": answer(429, b"slow down", {"Retry-After": retry_after}),
        "/business": conditional(rss("business")),
    }
    with feed_server(routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in routes}
        services = services_for(make_settings(tmp_path, feeds, per_host_concurrency=1), clock)
        dispatcher = pipeline.InlineDispatcher(services)
        pipeline.poll_cycle(services, dispatcher)
        clock.advance(MINUTE)
        forced = pipeline.poll_cycle(services, dispatcher, force=True)
        [world, _] = services.store.feeds()
        services.close()
    # The host gave no time to wait for: the feed that got the 429 backs off on its own, and
    # an operator's forced poll reaches the host's other feeds.
    assert server.paths() == ["/world", "/business", "/world", "/business"]
    assert forced.feeds_polled == 2
    assert world.last_error is not None and "gives no wait ahead" in world.last_error


def _a_429_while_another_poll_is_under_way() -> dict[str, Route]:
    """One host's two feeds: /world answers 429 (Retry-After: 3600) once /business has been
    asked, and /business answers after it, with a short interval of its own."""
    business_asked = threading.Event()
    busy = conditional(rss("business", 10, hours_apart=0))  # its own interval is short
    slow_down = answer(429, b"slow down", {"Retry-After": "3600"})

    def world(handler: BaseHTTPRequestHandler) -> None:
        business_asked.wait(5)  # the other poll of the host is under way
        slow_down(handler)

    def business(handler: BaseHTTPRequestHandler) -> None:
        business_asked.set()
        time.sleep(0.3)  # answered after the 429
        busy(handler)

    return {"/world": world, "/business": business}


def test_a_poll_under_way_when_its_host_paused_keeps_to_the_pause(
    tmp_path: Path, clock: FixedClock
) -> None:
    with feed_server(_a_429_while_another_poll_is_under_way()) as server:
        feeds = {"world": server.url("/world"), "business": server.url("/business")}
        services = services_for(make_settings(tmp_path, feeds), clock)
        pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert sorted(server.paths()) == ["/business", "/world"]
    assert by_name["business"].status == "ok" and by_name["business"].articles == 10
    assert by_name["business"].next_poll_at == NOW + timedelta(hours=1)


def test_workers_polling_side_by_side_keep_to_the_hosts_pause(
    tmp_path: Path, clock: FixedClock
) -> None:
    # Two workers' poll tasks, each reading its feed when it runs: the host answers one 429
    # while the other's request is under way, which then records its own (earlier) next poll.
    with feed_server(_a_429_while_another_poll_is_under_way()) as server:
        feeds = {"world": server.url("/world"), "business": server.url("/business")}
        services = services_for(make_settings(tmp_path, feeds), clock)
        handed_out = pipeline.due_feeds(services, clock.now())
        workers = [
            threading.Thread(target=pipeline.poll_feed, args=(services, feed.id))
            for feed in handed_out
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        clock.advance(20 * MINUTE)  # past the business feed's own next poll, within the pause
        again = [pipeline.poll_feed(services, feed.id) for feed in services.store.feeds()]
        [_, held] = services.store.feeds()
        services.close()
    assert sorted(server.paths()) == ["/business", "/world"]
    assert [outcome.paused for outcome in again] == [True, True]
    assert held.next_poll_at == NOW + timedelta(hours=1)


def test_a_poll_handed_out_before_its_host_paused_is_dropped(
    tmp_path: Path, clock: FixedClock
) -> None:
    # As a worker's queued poll tasks: each reads its feed when it runs, after the tick.
    with world_and_business(tmp_path, clock) as (_, server, services):
        handed_out = pipeline.due_feeds(services, clock.now())
        outcomes = [pipeline.poll_feed(services, feed.id) for feed in handed_out]
        services.store.put_off_polls([handed_out[1].id], NOW + MINUTE)  # never brought forward
        [business] = [feed for feed in services.store.feeds() if feed.name == "business"]
    assert server.paths() == ["/world"]
    assert [(outcome.url, outcome.paused) for outcome in outcomes] == [
        (server.url("/world"), False),
        (server.url("/business"), True),
    ]
    assert outcomes[0].error is not None and "rate limited" in outcomes[0].error
    assert business.last_fetched_at is None
    assert business.next_poll_at == NOW + timedelta(hours=1)


def test_a_workers_poll_answered_with_a_retry_after_puts_off_only_its_hosts_feeds(
    tmp_path: Path, clock: FixedClock
) -> None:
    # A worker's poll task has no cycle around it to hold the host's other feeds back: the
    # store must, or each tick hands them out again. A feed of another host keeps its time.
    publisher = Publisher("world", ["business"])
    with (
        feed_server(publisher.routes) as server,
        feed_server({"/other": conditional(FEED)}) as (elsewhere),
    ):
        feeds = {path.strip("/"): server.url(path) for path in publisher.routes}
        settings = make_settings(tmp_path, {**feeds, "other": elsewhere.url("/other")})
        services = services_for(settings, clock)
        world = synced(services, "world")
        pipeline.poll_feed(services, world.id)
        clock.advance(MINUTE)
        due = [feed.name for feed in pipeline.due_feeds(services, clock.now())]
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert server.paths() == ["/world"]
    assert elsewhere.paths() == []
    assert due == ["other"]
    assert by_name["business"].next_poll_at == NOW + timedelta(hours=1)
    assert by_name["other"].next_poll_at is None


def test_a_wait_asked_on_a_clock_a_day_fast_holds_no_feed_once_it_is_set_right(
    tmp_path: Path, clock: FixedClock
) -> None:
    # The host answered 429 (an hour) to a poll dated a day ahead; the clock is then set right.
    # The wait's end was counted on the fast clock: the next cycle polls the host's feeds, as
    # `digest feeds` already shows them (``polling.waits_on``), rather than a day and an hour on.
    with world_and_business(tmp_path, clock) as (publisher, server, services):
        world = synced(services, "world")
        clock.set(NOW + timedelta(days=1))
        pipeline.poll_feed(services, world.id)
        clock.set(NOW + MINUTE)
        console = Console(record=True, width=250)
        console.print(feeds_cli._feeds_table(services.store.feeds(), clock.now()))
        publisher.limiting = False
        cycle = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
    table = console.export_text()
    business_row = next(line for line in table.splitlines() if "business" in line)
    assert "now: this clock is behind its host's wait" in business_row, table
    assert sorted(server.paths()) == ["/business", "/world", "/world"]
    assert (cycle.feeds_polled, cycle.feeds_failed, cycle.feeds_paused) == (2, 0, 0)


def test_a_success_after_errors_resets_the_count(tmp_path: Path, clock: FixedClock) -> None:
    failing = {"on": True}

    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 500, b"oops") if failing["on"] else conditional(FEED)(handler)

    with feed_server({"/feed": route}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        for _ in range(3):
            feed = next(polls)
        assert feed.consecutive_errors == 3 and feed.last_status == 500
        failing["on"] = False
        clock.advance(timedelta(hours=1))
        feed = next(polls)
        polls.close()
    assert (feed.status, feed.consecutive_errors, feed.last_error, feed.articles) == (
        "ok",
        0,
        None,
        3,
    )
    assert feed.last_error_at == NOW  # when it last failed stays on record


# ----------------------------------------------------------------------------------------------
# Limits: slow drip, oversized body, private addresses


def test_a_slow_drip_is_cut_off_and_recorded(tmp_path: Path, clock: FixedClock) -> None:
    with feed_server({"/feed": drip(b" ", every=0.05, count=200)}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"), timeout_seconds=0.5)
    assert (feed.status, feed.articles, feed.consecutive_errors) == ("error", 0, 1)
    assert feed.last_error is not None and "gave up after 0.5 seconds" in feed.last_error
    assert feed.last_status is None


def test_an_oversized_body_is_refused_and_recorded(tmp_path: Path, clock: FixedClock) -> None:
    huge = FEED.replace(b"</channel>", b"<!--" + b"x" * 50_000 + b"--></channel>")
    with feed_server({"/feed": unsized(huge)}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"), max_body_bytes=20_000)
    assert (feed.status, feed.articles) == ("error", 0)
    assert feed.last_error is not None and "max_body_bytes = 20000" in feed.last_error


def test_a_private_address_is_refused_unless_allowed(tmp_path: Path, clock: FixedClock) -> None:
    with feed_server({"/feed": conditional(FEED)}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"), allow_private_addresses=False)
        assert server.requests == []
    assert feed.status == "error" and feed.articles == 0
    assert feed.last_error is not None and "allow_private_addresses" in feed.last_error


# ----------------------------------------------------------------------------------------------
# Many feeds: one failure never stops the others; due feeds; concurrency


def test_one_feeds_failure_never_stops_the_others(tmp_path: Path, clock: FixedClock) -> None:
    routes = {
        "/good": conditional(FEED),
        "/drip": drip(b" ", every=0.05, count=200),
        "/gone": answer(410),
        "/broken": answer(500),
        "/not-xml": answer(200, b"\x00\xff" * 100, RSS),
        "/other": conditional(rss("post")),
    }
    with feed_server(routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in routes}
        settings = make_settings(tmp_path, feeds, timeout_seconds=0.5)
        services = services_for(settings, clock)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert (summary.feeds_polled, summary.feeds_failed, summary.new_articles) == (6, 4, 6)
    assert by_name["good"].articles == by_name["other"].articles == 3
    statuses = {name: feed.status for name, feed in by_name.items()}
    assert statuses == {
        "good": "ok",
        "other": "ok",
        "drip": "error",
        "gone": "disabled",
        "broken": "error",
        "not-xml": "error",
    }


# Unclosed tags, about 6 MB: feedparser's lenient parser takes many seconds over them.
SLOW_TO_PARSE = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><description>'
    + b"<b>" * 2_000_000
)


def test_a_document_too_slow_to_parse_is_stopped_and_the_others_go_on(
    tmp_path: Path, clock: FixedClock
) -> None:
    routes = {"/slow": answer(200, SLOW_TO_PARSE, RSS), "/good": conditional(FEED)}
    with feed_server(routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in routes}
        settings = make_settings(
            tmp_path, feeds, max_body_bytes=8_000_000, parse_timeout_seconds=1.5
        )
        services = services_for(settings, clock)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert (summary.feeds_polled, summary.feeds_failed, summary.new_articles) == (2, 1, 3)
    assert by_name["good"].status == "ok" and by_name["good"].articles == 3
    slow = by_name["slow"]
    assert (slow.status, slow.articles, slow.consecutive_errors) == ("error", 0, 1)
    assert "parsing took longer than 1.5 s and was stopped" in (slow.last_error or "")
    assert "ingest.parse_timeout_seconds" in (slow.last_error or "")


def _heavy(entries: int) -> bytes:
    """A document under the parse-apart size that takes the poller a while: many entries, each
    with a nested description."""
    description = escape("<div><ul><li><b>x</b> " * 40 + "</li></ul></div>" * 40)
    items = "".join(
        f"<item><title>Story {n}</title><link>https://wire.example.org/{n}</link>"
        f"<description>{description}</description></item>"
        for n in range(entries)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}'
        "</channel></rss>"
    ).encode()


def test_a_document_not_read_in_time_in_the_poller_is_handed_to_a_parser_process(
    tmp_path: Path, clock: FixedClock
) -> None:
    body = _heavy(60)
    assert len(body) < 262_144  # parsed in the poller by size
    with feed_server({"/feed": conditional(body)}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"), parse_in_poller_seconds=0.001)
    # The parser process read it all: nothing is lost to the poller's deadline.
    assert (feed.status, feed.articles, feed.last_error) == ("ok", 60, None)


def test_a_document_not_read_in_time_anywhere_ends_with_the_feeds_error(
    tmp_path: Path, clock: FixedClock
) -> None:
    with feed_server({"/feed": conditional(_heavy(60))}) as server:
        polls = poll_one(
            tmp_path,
            clock,
            server.url("/feed"),
            parse_in_poller_seconds=0.001,
            parse_timeout_seconds=0.001,
        )
        feed = next(polls)
        polls.close()
    assert (feed.status, feed.articles) == ("error", 0)
    assert "parsing took longer than 0.001 s and was stopped" in (feed.last_error or "")
    assert "ingest.parse_timeout_seconds" in (feed.last_error or "")


def test_a_large_document_is_parsed_apart_and_stored_as_usual(
    tmp_path: Path, clock: FixedClock
) -> None:
    body = rss("wire", count=30)
    assert len(body) > 1024
    with feed_server({"/feed": conditional(body)}) as server:
        feed = poll_once(tmp_path, clock, server.url("/feed"), parse_apart_above_bytes=1024)
    assert (feed.status, feed.articles, feed.last_error) == ("ok", 30, None)


def test_a_document_that_needs_too_much_memory_to_parse_is_stopped(
    tmp_path: Path, clock: FixedClock
) -> None:
    # 150,000 items: feedparser builds a dictionary for each before anything is cut.
    items = b"<item><link>https://wire.example.org/story</link></item>" * 150_000
    document = b'<?xml version="1.0"?><rss version="2.0"><channel>' + items + b"</channel></rss>"
    with feed_server({"/huge": answer(200, document, RSS)}) as server:
        polls = poll_one(
            tmp_path,
            clock,
            server.url("/huge"),
            max_body_bytes=16_000_000,
            parse_memory_mb=64,
            parse_timeout_seconds=120,
        )
        feed = next(polls)
        polls.close()
    assert (feed.status, feed.articles) == ("error", 0)
    assert "parsing needed more than 64 MB of memory and was stopped" in (feed.last_error or "")


class Exploding:
    """A classifier that fails on one feed's articles, as a bug met on odd content would."""

    def classify(self, article: Article) -> tuple[TopicMatch, ...]:
        if article.feed_name == "bad":
            raise ValueError("cannot classify this")
        return ()


def test_an_unexpected_error_is_recorded_on_its_feed_only(
    tmp_path: Path, clock: FixedClock
) -> None:
    routes = {"/bad": conditional(rss("bad")), "/good": conditional(FEED)}
    with feed_server(routes) as server:
        settings = make_settings(tmp_path, {"bad": server.url("/bad"), "good": server.url("/good")})
        services = services_for(settings, clock)
        services.classifier = Exploding()  # type: ignore[assignment]
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert (summary.feeds_polled, summary.feeds_failed) == (2, 1)
    bad = by_name["bad"]
    assert bad.status == "error" and bad.last_error is not None
    assert "unexpected error while polling (ValueError: cannot classify this)" in bad.last_error
    assert by_name["good"].status == "ok" and by_name["good"].articles == 3


def test_only_due_feeds_are_polled_unless_forced(tmp_path: Path, clock: FixedClock) -> None:
    routes = {"/a": conditional(FEED), "/b": conditional(rss("post"))}
    with feed_server(routes) as server:
        settings = make_settings(tmp_path, {"a": server.url("/a"), "b": server.url("/b")})
        settings = settings.model_copy(
            update={
                "feeds": (
                    *settings.feeds,
                    settings.feeds[0].model_copy(
                        update={"url": server.url("/c"), "name": "c", "enabled": False}
                    ),
                )
            }
        )
        services = services_for(settings, clock)
        dispatcher = pipeline.InlineDispatcher(services)
        # A fresh install: everything enabled is due (never polled).
        assert [feed.name for feed in pipeline.due_feeds(services, clock.now())] == ["a", "b"]
        assert pipeline.poll_cycle(services, dispatcher).feeds_polled == 2
        clock.advance(10 * MINUTE)
        assert pipeline.due_feeds(services, clock.now()) == []
        assert pipeline.poll_cycle(services, dispatcher).feeds_polled == 0
        forced = pipeline.poll_cycle(services, dispatcher, force=True)
        assert forced.feeds_polled == 2  # every enabled feed, never the disabled one
        assert [feed.last_status for feed in services.store.feeds()] == [304, 304, None]
        clock.advance(timedelta(days=1, hours=3))
        assert len(pipeline.due_feeds(services, clock.now())) == 2
        services.close()
    assert "/c" not in server.paths()


def test_polls_run_concurrently_but_at_most_two_at_once_per_host(
    tmp_path: Path, clock: FixedClock
) -> None:
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()
    lock = threading.Lock()
    # The first two requests to each host wait for each other: a sequential poller would fail.
    barriers = {
        "127.0.0.1": threading.Barrier(2, timeout=10),
        "localhost": threading.Barrier(2, timeout=10),
    }
    arrived: Counter[str] = Counter()

    def route(handler: BaseHTTPRequestHandler) -> None:
        host = handler.headers["Host"].rsplit(":", 1)[0]
        with lock:
            in_flight[host] += 1
            most[host] = max(most[host], in_flight[host])
            arrived[host] += 1
            first_two = arrived[host] <= 2
        if first_two:
            barriers[host].wait()
        body = rss(handler.path.strip("/").replace("/", "-"))
        with lock:
            in_flight[host] -= 1
        send(handler, 200, body, RSS)

    paths = [f"/f{n}" for n in range(12)]
    with feed_server(dict.fromkeys(paths, route)) as server:
        feeds = {}
        for n, path in enumerate(paths):
            url = server.url(path)
            feeds[f"feed {n}"] = url if n % 2 else url.replace("127.0.0.1", "localhost")
        settings = make_settings(tmp_path, feeds, max_concurrency=8, per_host_concurrency=2)
        services = services_for(settings, clock)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        articles = sum(feed.articles for feed in services.store.feeds())
        services.close()
    assert (summary.feeds_polled, summary.feeds_failed, summary.new_articles) == (12, 0, 36)
    assert articles == 36
    assert most == {"127.0.0.1": 2, "localhost": 2}


def test_concurrent_polls_store_a_shared_story_once(
    tmp_path: Path, clock: FixedClock, database_url: str
) -> None:
    # Twenty feeds carry the same three stories under their own guids, polled sixteen at a time.
    shared = rss("shared")

    def route(handler: BaseHTTPRequestHandler) -> None:
        own = handler.path.strip("/").encode()
        send(handler, 200, shared.replace(b"urn:shared:", b"urn:" + own + b":"), RSS)

    paths = [f"/f{n}" for n in range(20)]
    with feed_server(dict.fromkeys(paths, route)) as server:
        feeds = {f"feed {n}": server.url(path) for n, path in enumerate(paths)}
        settings = make_settings(
            tmp_path, feeds, database_url=database_url, per_host_concurrency=16
        )
        services = services_for(settings, clock)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        stored = services.store.all_article_ids()
        feeds_state = services.store.feeds()
        services.close()
    assert summary.feeds_failed == 0, summary.problems
    assert summary.new_articles == 3 and len(stored) == 3
    assert all(feed.status == "ok" and feed.last_status == 200 for feed in feeds_state)


def test_a_value_the_database_refuses_fails_that_feed_only(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cleaning bounds every value the store's columns limit (test_ingest_store); should one
    # still slip through, the database's refusal is that feed's failure, not the cycle's end.
    routes = {"/bad": conditional(rss("bad")), "/good": conditional(FEED)}
    with feed_server(routes) as server:
        settings = make_settings(tmp_path, {"bad": server.url("/bad"), "good": server.url("/good")})
        services = services_for(settings, clock)
        store_entries = services.store.store_entries

        def refuse_bad(feed_id: int, entries: Sequence[Entry], *args: Any, **kw: Any) -> Any:
            if any("bad.example.org" in entry.link for entry in entries):
                refusal = ValueError("value too long for type character varying(35)")
                raise DataError("INSERT INTO articles ...", {}, refusal)
            return store_entries(feed_id, entries, *args, **kw)

        monkeypatch.setattr(services.store, "store_entries", refuse_bad)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        by_name = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert (summary.feeds_polled, summary.feeds_failed) == (2, 1)
    bad = by_name["bad"]
    assert bad.status == "error" and bad.articles == 0 and bad.last_error is not None
    assert "the database refused a value from the feed (value too long" in bad.last_error
    assert "INSERT" not in bad.last_error
    assert by_name["good"].status == "ok" and by_name["good"].articles == 3


def test_unchanged_feeds_are_recorded_together_and_each_as_its_own(
    tmp_path: Path, clock: FixedClock, database_url: str
) -> None:
    # Two answer 304, one sends the very document stored last time (it sends no validators).
    routes = {
        "/a": conditional(rss("a")),
        "/b": conditional(rss("b")),
        "/same": answer(200, rss("same"), RSS),
    }
    with feed_server(routes) as server:
        feeds = {path.strip("/"): server.url(path) for path in routes}
        services = services_for(make_settings(tmp_path, feeds, database_url=database_url), clock)
        pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        before = {feed.name: feed for feed in services.store.feeds()}
        clock.advance(timedelta(hours=5))
        updates: list[tuple[str, bool]] = []

        def seen(
            _c: object, _k: object, statement: str, _p: object, _x: object, many: bool
        ) -> None:
            if statement.lstrip().upper().startswith("UPDATE FEEDS"):
                updates.append((statement, many))

        event.listen(services.store.engine, "before_cursor_execute", seen)
        summary = pipeline.poll_cycle(services, pipeline.InlineDispatcher(services))
        event.remove(services.store.engine, "before_cursor_execute", seen)
        after = {feed.name: feed for feed in services.store.feeds()}
        services.close()
    assert (summary.feeds_polled, summary.feeds_failed, summary.new_articles) == (3, 0, 0)
    # One statement for both 304s (they set the same columns), one for the same document.
    assert len(updates) == 2 and any(many for _, many in updates)
    for name, feed in after.items():
        assert feed.last_fetched_at == NOW + timedelta(hours=5), name
        assert feed.next_poll_at is not None and feed.next_poll_at > clock.now(), name
        assert (feed.status, feed.articles) == ("ok", 3), name
        assert feed.entries_per_day == before[name].entries_per_day
    statuses = [after[name].last_status for name in ("a", "b", "same")]
    assert statuses == [304, 304, 200]


def test_a_password_in_a_feeds_address_is_sent_but_never_shown(
    tmp_path: Path, clock: FixedClock
) -> None:
    with feed_server({"/private": answer(404, b"gone")}) as server:
        url = server.url("/private").replace("http://", "http://desk:s3cret@")
        feed = poll_once(tmp_path, clock, url)
    assert server.requests[0].headers["Authorization"] == "Basic ZGVzazpzM2NyZXQ="  # desk:s3cret
    assert feed.status == "error" and feed.last_error is not None
    assert "s3cret" not in feed.last_error
    assert "http://desk:***@127.0.0.1" in feed.last_error


def test_a_password_is_not_shown_in_the_address_a_redirect_led_to(
    tmp_path: Path, clock: FixedClock
) -> None:
    # A redirect on the same server keeps the feed's user and password in the address it
    # leads to; the error named that address, password and all.
    with feed_server({"/private": redirect(301, "/moved")}) as server:
        url = server.url("/private").replace("http://", "http://desk:s3cret@")
        feed = poll_once(tmp_path, clock, url)
    assert server.paths() == ["/private", "/moved"]
    assert feed.status == "error" and feed.last_error is not None
    assert "not found" in feed.last_error
    assert "s3cret" not in feed.last_error
    assert f"at http://desk:***@127.0.0.1:{server.base_url.rsplit(':', 1)[1]}/moved" in (
        feed.last_error
    )


def behind_basic_auth(body: bytes) -> Route:
    """The feed to a request with credentials, else 401."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Authorization"):
            send(handler, 200, body, RSS)
        else:
            send(handler, 401, b"who are you", {"WWW-Authenticate": 'Basic realm="feeds"'})

    return route


@pytest.mark.parametrize(
    ("user_info", "expected"),
    [
        (
            "",
            "if it takes a user and password (basic auth), write them in the feed's url: "
            "https://user:password@host/path",
        ),
        ("desk:wrong@", "the user and password in the feed's url were refused: check them"),
    ],
    ids=["none-given", "refused"],
)
def test_a_401_says_how_to_give_the_feed_a_user_and_password(
    tmp_path: Path, clock: FixedClock, user_info: str, expected: str
) -> None:
    # "access denied" alone left a newcomer without the one way the service takes them.
    def refuse(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 401, b"who are you", {"WWW-Authenticate": 'Basic realm="feeds"'})

    with feed_server({"/feed": refuse}) as server:
        url = server.url("/feed").replace("://", f"://{user_info}")
        feed = poll_once(tmp_path, clock, url)
    assert (feed.status, feed.last_status) == ("error", 401)
    assert feed.last_error is not None and "access denied (HTTP 401" in feed.last_error
    assert feed.last_error.endswith(f"; {expected}")  # the one thing to do, said last
    assert "wrong" not in feed.last_error


def test_a_redirect_on_the_same_server_keeps_the_feeds_password(
    tmp_path: Path, clock: FixedClock
) -> None:
    # Most servers write an absolute Location. Without the user and password of the feed's
    # address, the new one was asked without them: 401 at every poll.
    routes: dict[str, Route] = {"/feed": behind_basic_auth(FEED)}
    with feed_server(routes) as server, feed_server(routes, host="127.0.0.2") as elsewhere:
        routes["/old"] = redirect(301, server.url("/feed"))
        routes["/away"] = redirect(302, elsewhere.url("/feed"))
        moved = poll_once(tmp_path, clock, server.url("/old").replace("://", "://desk:s3cret@"))
        other = poll_one(
            tmp_path / "other", clock, server.url("/away").replace("://", "://desk:s3cret@")
        )
        away = next(other)
        other.close()
    credentials = "Basic ZGVzazpzM2NyZXQ="  # desk:s3cret
    assert [
        (request.path, request.headers.get("Authorization")) for request in server.requests
    ] == [
        ("/old", credentials),
        ("/feed", credentials),
        ("/away", credentials),
    ]
    assert (moved.status, moved.articles) == ("ok", 3)
    assert moved.current_url == server.url("/feed").replace("://", "://desk:s3cret@")
    # Another host is never given them.
    assert [request.headers.get("Authorization") for request in elsewhere.requests] == [None]
    assert away.last_status == 401
    # Told to check a user and password that were never sent, the operator would look for a
    # typo in them; the advice says where they go.
    assert away.last_error is not None and away.last_error.endswith(
        "; the feed's url redirects to another server, which is never given the user and "
        "password written in it: write that server's address, with them, as the feed's url"
    )
