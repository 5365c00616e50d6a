"""Tests for digest.ingest.fetch against real HTTP servers on loopback."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

import digest
from digest.config import IngestSettings
from digest.errors import FetchError
from digest.ingest import build_client, fetch_feed
from digest.ingest.fetch import _with_credentials, user_agent
from digest.ingest.network import is_public_address
from digest.records import FetchResult
from digest.sample_server import serve_folder
from tests.feedserver import Route, answer, drip, feed_server, redirect, send, unsized
from tests.servers import free_port

FEEDS = Path(__file__).parent / "data" / "feeds"
FEED = (FEEDS / "rss20.xml").read_bytes()
CONTACT = "https://briefing.example.org/about"


def settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        "timeout_seconds": 5.0,
        "max_body_bytes": 100_000,
        "contact_url": CONTACT,
        "allow_private_addresses": True,  # the test servers live on loopback
    }
    values.update(overrides)
    return IngestSettings.model_validate(values)


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    config: IngestSettings | None = None,
) -> FetchResult:
    config = config or settings()
    with build_client(config) as client:
        return fetch_feed(client, url, etag=etag, last_modified=last_modified, settings=config)


def fetch_error(url: str, config: IngestSettings | None = None) -> FetchError:
    with pytest.raises(FetchError) as raised:
        fetch(url, config=config)
    return raised.value


@pytest.fixture
def sample_feeds() -> Iterator[str]:
    with serve_folder(FEEDS) as base_url:
        yield base_url


# ----------------------------------------------------------------------------------------------
# The client


def test_user_agent_names_the_service_and_its_contact() -> None:
    assert user_agent(settings()) == f"digest/{digest.__version__} (+{CONTACT})"
    assert user_agent(settings(contact_url=None)) == f"digest/{digest.__version__}"


def test_requests_carry_the_user_agent_and_accept_compression() -> None:
    with feed_server({"/feed": answer(200, FEED)}) as server:
        fetch(server.url("/feed"))
    headers = server.requests[0].headers
    assert headers["User-Agent"] == f"digest/{digest.__version__} (+{CONTACT})"
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert "application/rss+xml" in headers["Accept"]


def test_client_does_not_follow_redirects_by_itself() -> None:
    with build_client(settings()) as client:
        assert client.follow_redirects is False
        assert client.timeout.read == 5.0
        assert client.timeout.connect == 5.0


# ----------------------------------------------------------------------------------------------
# Conditional GET, against the sample server


def test_fetch_returns_the_body_and_validators(sample_feeds: str) -> None:
    result = fetch(f"{sample_feeds}/rss20.xml")
    assert result.status == 200
    assert result.content == FEED
    assert result.requested_url == result.url == f"{sample_feeds}/rss20.xml"
    assert result.etag and result.etag.startswith('"')
    assert result.last_modified and result.last_modified.endswith("GMT")
    assert result.content_type == "application/rss+xml"
    assert result.permanent_redirect is None
    assert not result.not_modified


def test_a_matching_etag_gets_304_without_a_body(sample_feeds: str) -> None:
    first = fetch(f"{sample_feeds}/rss20.xml")
    second = fetch(f"{sample_feeds}/rss20.xml", etag=first.etag)
    assert second.status == 304
    assert second.not_modified
    assert second.content is None
    assert second.etag == first.etag


def test_an_unchanged_last_modified_gets_304(sample_feeds: str) -> None:
    first = fetch(f"{sample_feeds}/atom.xml")
    second = fetch(f"{sample_feeds}/atom.xml", last_modified=first.last_modified)
    assert second.status == 304
    assert second.last_modified == first.last_modified


def test_a_stale_etag_gets_the_feed_again(sample_feeds: str) -> None:
    result = fetch(f"{sample_feeds}/rss20.xml", etag='"not-the-current-one"')
    assert result.status == 200
    assert result.content == FEED


def test_conditional_headers_are_sent() -> None:
    with feed_server({"/feed": answer(304)}) as server:
        result = fetch(
            server.url("/feed"), etag='"v1"', last_modified="Tue, 10 Jun 2025 08:00:00 GMT"
        )
    assert result.status == 304
    assert result.etag == '"v1"'  # the server sent none back: the one we hold stays valid
    headers = server.requests[0].headers
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Tue, 10 Jun 2025 08:00:00 GMT"


# ----------------------------------------------------------------------------------------------
# Redirects


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_is_recorded(status: int) -> None:
    with feed_server({"/old": redirect(status, "/new"), "/new": answer(200, FEED)}) as server:
        result = fetch(server.url("/old"))
    assert result.content == FEED
    assert result.requested_url == server.url("/old")
    assert result.url == server.url("/new")
    assert result.permanent_redirect == server.url("/new")


@pytest.mark.parametrize("status", [302, 303, 307])
def test_a_temporary_redirect_is_followed_but_not_recorded(status: int) -> None:
    with feed_server({"/old": redirect(status, "/new"), "/new": answer(200, FEED)}) as server:
        result = fetch(server.url("/old"))
    assert result.content == FEED
    assert result.url == server.url("/new")
    assert result.permanent_redirect is None


@pytest.mark.parametrize(
    ("first", "second", "recorded"),
    [(301, 302, "/moved"), (302, 301, None)],
    ids=["permanent-then-temporary-records-the-first-target", "temporary-first-records-nothing"],
)
def test_a_chain_of_two_redirects_records_the_first_target_only_when_it_is_permanent(
    first: int, second: int, recorded: str | None
) -> None:
    routes = {
        "/old": redirect(first, "/moved"),
        "/moved": redirect(second, "/final"),
        "/final": answer(200, FEED),
    }
    with feed_server(routes) as server:
        result = fetch(server.url("/old"))
    assert result.url == server.url("/final")
    assert result.permanent_redirect == (server.url(recorded) if recorded else None)


def test_304s_and_redirects_leave_their_connection_for_the_next_request() -> None:
    # Re-polling a host's feeds (nearly all 304s) and following a redirect on the same host
    # reuse one connection rather than opening one per request.
    routes = {"/feed": answer(304), "/old": redirect(301, "/new"), "/new": answer(200, FEED)}
    config = settings()
    with feed_server(routes) as server, build_client(config) as client:
        for _ in range(3):
            result = fetch_feed(
                client, server.url("/feed"), etag='"v1"', last_modified=None, settings=config
            )
            assert result.not_modified
        moved = fetch_feed(
            client, server.url("/old"), etag=None, last_modified=None, settings=config
        )
    assert moved.content == FEED
    assert server.paths() == ["/feed", "/feed", "/feed", "/old", "/new"]
    assert len({request.client_port for request in server.requests}) == 1


def test_a_304_with_a_stray_body_spoils_no_later_fetch() -> None:
    # A 304 has no body; bytes a server sends after one anyway must not be read as the next
    # answer on the connection kept for reuse (the pool sees them and opens a new connection).
    def stray_body(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello")
        handler.wfile.flush()

    config = settings()
    routes = {"/feed": stray_body, "/other": answer(200, FEED)}
    with feed_server(routes) as server, build_client(config) as client:
        first = fetch_feed(
            client, server.url("/feed"), etag='"v1"', last_modified=None, settings=config
        )
        time.sleep(0.1)  # the stray bytes have arrived by the next request
        second = fetch_feed(
            client, server.url("/other"), etag=None, last_modified=None, settings=config
        )
    assert first.not_modified
    assert second.content == FEED


def test_a_server_that_garbles_every_answer_fails_after_one_more_try() -> None:
    def garbled(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
        handler.close_connection = True

    with feed_server({"/feed": garbled}) as server:
        error = fetch_error(server.url("/feed"))
    assert "broke the HTTP protocol" in str(error)
    assert server.paths() == ["/feed", "/feed"]


def test_a_long_redirect_body_is_not_read() -> None:
    # Reading it would cost more than a new connection does; a hostile one could be endless.
    def long_redirect(handler: BaseHTTPRequestHandler) -> None:
        body = b"<p>moved</p>" * 10_000
        headers = {"Location": "/new", "Content-Length": str(len(body))}
        send(handler, 302, body, headers)

    config = settings()
    routes = {"/old": long_redirect, "/new": answer(200, FEED)}
    with feed_server(routes) as server, build_client(config) as client:
        result = fetch_feed(
            client, server.url("/old"), etag=None, last_modified=None, settings=config
        )
    assert result.content == FEED
    assert len({request.client_port for request in server.requests}) == 2


def test_a_redirect_to_a_304_keeps_the_bookkeeping() -> None:
    with feed_server({"/old": redirect(301, "/new"), "/new": answer(304)}) as server:
        result = fetch(server.url("/old"), etag='"v1"')
    assert result.not_modified
    assert result.permanent_redirect == server.url("/new")


def test_five_redirects_are_followed() -> None:
    routes = {f"/r{n}": redirect(302, f"/r{n + 1}") for n in range(5)}
    routes["/r5"] = answer(200, FEED)
    with feed_server(routes) as server:
        result = fetch(server.url("/r0"))
    assert result.url == server.url("/r5")


def test_a_sixth_redirect_is_refused() -> None:
    routes = {f"/r{n}": redirect(302, f"/r{n + 1}") for n in range(6)}
    routes["/r6"] = answer(200, FEED)
    with feed_server(routes) as server:
        error = fetch_error(server.url("/r0"))
    assert "more than 5 redirects" in error.reason
    assert "/r6" not in server.paths()


def test_a_redirect_loop_is_an_error() -> None:
    with feed_server({"/a": redirect(301, "/b"), "/b": redirect(302, "/a")}) as server:
        error = fetch_error(server.url("/a"))
    assert "redirect loop" in error.reason
    assert server.paths() == ["/a", "/b"]


def test_a_redirect_to_another_scheme_is_refused() -> None:
    with feed_server({"/feed": redirect(301, "ftp://files.example/feed.xml")}) as server:
        error = fetch_error(server.url("/feed"))
    assert "only http and https" in error.reason
    assert "ftp" in error.reason


def test_a_redirect_without_location_is_an_error() -> None:
    with feed_server({"/feed": answer(302)}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.status == 302
    assert "Location" in error.reason


def test_a_host_name_that_is_no_valid_idna_is_a_fetch_error() -> None:
    # httpx fails on such a name with idna's own error, no httpx one: it went up as an
    # unexpected error, with a traceback, in place of the reason.
    error = fetch_error("http://xn--zz.example/feed.xml")
    assert "'xn--zz.example' is no valid international domain name" in error.reason
    with feed_server({"/feed": redirect(301, "https://xn--zz.example/feed.xml")}) as server:
        error = fetch_error(server.url("/feed"))
    assert "redirects to an address whose host name is no valid international" in error.reason
    assert server.paths() == ["/feed"]


# ----------------------------------------------------------------------------------------------
# HTTP errors


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("https://feeds.example/new", "https://desk:pw@feeds.example/new"),  # http to https
        ("http://feeds.example:80/new", "http://desk:pw@feeds.example:80/new"),
        ("http://FEEDS.example/new", "http://desk:pw@FEEDS.example/new"),
        ("http://cdn.example/new", None),  # another host
        ("http://feeds.example:8080/new", None),  # another server on the host
        ("https://feeds.example:8443/new", None),
        ("http://other:secret@feeds.example/new", None),  # its own credentials
        ("http://feeds.example:99999/new", None),  # refused later, for its port
    ],
)
def test_a_redirect_keeps_the_feeds_credentials_on_the_same_server_only(
    target: str, kept: str | None
) -> None:
    assert _with_credentials("http://desk:pw@feeds.example/feed", target) == (kept or target)


def test_410_says_the_feed_is_gone() -> None:
    with feed_server({"/feed": answer(410, b"gone")}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.status == 410
    assert "gone" in error.reason
    assert error.url == server.url("/feed")


def test_404_says_to_check_the_url() -> None:
    with feed_server({}) as server:
        error = fetch_error(server.url("/missing"))
    assert error.status == 404
    assert "check the feed URL" in error.reason


def test_429_reports_retry_after() -> None:
    with feed_server({"/feed": answer(429, headers={"Retry-After": "120"})}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.status == 429
    assert "rate limited" in error.reason
    assert "120 seconds" in error.reason


def test_503_reports_a_retry_after_date() -> None:
    when = "Wed, 11 Jun 2025 07:00:00 GMT"
    with feed_server({"/feed": answer(503, headers={"Retry-After": when})}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.status == 503
    assert when in error.reason


def test_429_and_503_carry_retry_after_in_seconds() -> None:
    routes = {
        "/limited": answer(429, headers={"Retry-After": "120"}),
        "/down": answer(503, headers={"Retry-After": "Wed, 11 Jun 2025 07:00:00 GMT"}),
        "/no-header": answer(503),
        "/not-found": answer(404, headers={"Retry-After": "120"}),
    }
    with feed_server(routes) as server:
        limited = fetch_error(server.url("/limited"))
        down = fetch_error(server.url("/down"))
        bare = fetch_error(server.url("/no-header"))
        not_found = fetch_error(server.url("/not-found"))
    assert limited.retry_after == 120.0
    assert down.retry_after == 0.0  # a date already past by the server's own clock
    assert bare.retry_after is None
    assert not_found.retry_after is None  # only 429 and 503 ask us to wait


def test_500_is_a_fetch_error() -> None:
    with feed_server({"/feed": answer(500, b"oops")}) as server:
        error = fetch_error(server.url("/feed"))
    assert error.status == 500
    assert "server error" in error.reason


def test_an_error_after_a_redirect_names_both_addresses() -> None:
    with feed_server({"/old": redirect(301, "/new"), "/new": answer(410)}) as server:
        error = fetch_error(server.url("/old"))
    assert error.url == server.url("/old")
    assert server.url("/new") in error.reason


def test_a_refused_connection_is_a_fetch_error() -> None:
    error = fetch_error(f"http://127.0.0.1:{free_port()}/feed")
    assert "cannot connect" in error.reason
    assert error.status is None


@pytest.mark.parametrize("url", ["ftp://files.example/feed.xml", "file:///etc/passwd", "feed.xml"])
def test_only_http_urls_are_fetched(url: str) -> None:
    error = fetch_error(url)
    assert "only http and https" in error.reason


# ----------------------------------------------------------------------------------------------
# Compression and size


def test_a_gzip_body_is_inflated() -> None:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
    with feed_server({"/feed": answer(200, gzip.compress(FEED), headers)}) as server:
        result = fetch(server.url("/feed"))
    assert result.content == FEED


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_a_deflate_body_is_inflated(wbits: int) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    body = compressor.compress(FEED) + compressor.flush()
    with feed_server({"/feed": answer(200, body, {"Content-Encoding": "deflate"})}) as server:
        result = fetch(server.url("/feed"))
    assert result.content == FEED


def test_a_corrupt_gzip_body_is_an_error() -> None:
    headers = {"Content-Encoding": "gzip"}
    with feed_server({"/feed": answer(200, b"not gzip at all", headers)}) as server:
        error = fetch_error(server.url("/feed"))
    assert "corrupt" in error.reason


def test_an_announced_oversized_body_is_refused_unread() -> None:
    with feed_server({"/feed": answer(200, b"x" * 200_000)}) as server:
        error = fetch_error(server.url("/feed"))
    assert "max_body_bytes" in error.reason
    assert "announces 200000 bytes" in error.reason


def test_an_oversized_body_without_length_is_cut_off() -> None:
    with feed_server({"/feed": unsized(b"<rss>" + b"x" * 2_000_000)}) as server:
        error = fetch_error(server.url("/feed"))
    assert "max_body_bytes = 100000" in error.reason


def test_a_compression_bomb_is_cut_off_once_inflated() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    assert len(bomb) < 100_000
    with feed_server({"/feed": answer(200, bomb, {"Content-Encoding": "gzip"})}) as server:
        error = fetch_error(server.url("/feed"))
    assert "once decompressed" in error.reason


# ----------------------------------------------------------------------------------------------
# Time


def test_a_slow_drip_body_is_cut_off_by_the_deadline() -> None:
    # Each byte arrives well within any read timeout; only the total deadline stops it.
    with feed_server({"/feed": drip(b"x", every=0.05, count=400)}) as server:
        started = time.monotonic()
        error = fetch_error(server.url("/feed"), settings(timeout_seconds=0.5))
        elapsed = time.monotonic() - started
    assert "gave up after 0.5 seconds" in error.reason
    assert elapsed < 1.5


def test_slow_drip_headers_are_cut_off_by_the_deadline() -> None:
    with feed_server({"/feed": drip(b"x", every=0.05, count=10, headers_too=True)}) as server:
        started = time.monotonic()
        error = fetch_error(server.url("/feed"), settings(timeout_seconds=0.5))
        elapsed = time.monotonic() - started
    assert "gave up after 0.5 seconds" in error.reason
    assert elapsed < 1.5


def test_the_deadline_spans_redirects() -> None:
    def slow_redirect(target: str) -> Route:
        def route(handler: BaseHTTPRequestHandler) -> None:
            time.sleep(0.3)
            redirect(302, target)(handler)

        return route

    routes = {"/start": slow_redirect("/next"), "/next": slow_redirect("/start")}
    with feed_server(routes) as server:
        error = fetch_error(server.url("/start"), settings(timeout_seconds=0.5))
    assert "gave up after 0.5 seconds" in error.reason


# ----------------------------------------------------------------------------------------------
# Private addresses


def test_loopback_is_refused_unless_allowed() -> None:
    with feed_server({"/feed": answer(200, FEED)}) as server:
        error = fetch_error(server.url("/feed"), settings(allow_private_addresses=False))
        assert server.requests == []
    assert "127.0.0.1" in error.reason
    assert "allow_private_addresses" in error.reason


def test_localhost_is_refused_after_resolution() -> None:
    with feed_server({"/feed": answer(200, FEED)}) as server:
        url = server.url("/feed").replace("127.0.0.1", "localhost")
        error = fetch_error(url, settings(allow_private_addresses=False))
        assert server.requests == []
    assert "localhost resolves to" in error.reason


@pytest.mark.parametrize(
    "addresses",
    [["10.1.2.3"], ["93.184.216.34", "192.168.1.20"], ["169.254.169.254"], ["fd00::1"]],
)
def test_a_host_resolving_to_a_private_address_is_refused(addresses: list[str]) -> None:
    config = settings(allow_private_addresses=False)
    client = build_client(config, resolver=lambda host, port: addresses)
    with client, pytest.raises(FetchError) as raised:
        fetch_feed(
            client,
            "https://feeds.example/x.xml",
            etag=None,
            last_modified=None,
            settings=config,
        )
    assert "feeds.example resolves to" in raised.value.reason
    assert "private, loopback or link-local" in raised.value.reason


def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pretend loopback is public, so the checked connection can reach the test server.
    monkeypatch.setattr("digest.ingest.network.is_public_address", lambda address: True)
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    config = settings(allow_private_addresses=False)
    with feed_server({"/feed": answer(200, FEED)}) as server:
        port = server.base_url.rsplit(":", 1)[1]
        url = f"http://feeds.example:{port}/feed"
        with build_client(config, resolver=resolver) as client:
            result = fetch_feed(client, url, etag=None, last_modified=None, settings=config)
    assert result.content == FEED
    assert resolved == ["feeds.example"]
    assert server.requests[0].headers["Host"] == f"feeds.example:{port}"


def test_a_slow_host_lookup_is_cut_off_by_the_deadline() -> None:
    def slow_resolver(host: str, port: int) -> list[str]:
        time.sleep(1.0)
        return ["127.0.0.1"]

    config = settings(timeout_seconds=0.3)
    started = time.monotonic()
    client = build_client(config, resolver=slow_resolver)
    with client, pytest.raises(FetchError) as raised:
        fetch_feed(
            client, "http://feeds.example/x.xml", etag=None, last_modified=None, settings=config
        )
    assert "gave up after 0.3 seconds" in raised.value.reason
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("fec0::1", False),  # site-local: deprecated, and still routed inside some sites
        ("feff:ffff::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        # NAT64's well-known prefix: what an IPv6-only host with DNS64 is given for every
        # IPv4-only server, and a way to the IPv4 address it embeds, private ones included.
        ("64:ff9b::5db8:d822", True),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("not an address", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_a_mock_transport_can_stand_in_for_the_network() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=FEED, headers={"ETag": '"m1"'})

    config = settings()
    with build_client(config, transport=httpx.MockTransport(handler)) as client:
        result = fetch_feed(
            client, "https://feeds.example/x.xml", etag=None, last_modified=None, settings=config
        )
    assert result.content == FEED
    assert result.etag == '"m1"'
