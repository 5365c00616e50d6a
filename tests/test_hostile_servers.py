"""The fetcher against broken and hostile HTTP servers on loopback.

Each case checks what the fetch returns, or the FetchError it raises (naming the feed, saying in
plain words what went wrong), and, where a connection could be left in a bad state, that the next
fetch on the same client still works: one client serves every feed, so a single broken answer
must not spoil the connection pool for the others.
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpcore
import httpx
import pytest

from digest import polling
from digest.clock import FixedClock
from digest.config import IngestSettings
from digest.errors import FetchError
from digest.ingest import build_client, fetch_feed, network
from digest.records import FetchResult
from tests.conftest import NOW
from tests.feedserver import FeedServer, Route, answer, feed_server, hang_on, raw, redirect, send
from tests.test_fetch import FEED, settings
from tests.test_poll_behaviour import poll_one

pytestmark = pytest.mark.integration

RSS = {"Content-Type": "application/rss+xml"}
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


def framed(body: bytes) -> bytes:
    """A whole 200 answer with ``body``, as raw bytes."""
    return OK + b"Content-Length: %d\r\n\r\n" % len(body) + body


@dataclass
class Session:
    """One client fetching from one server, as the poller does for every feed."""

    server: FeedServer
    routes: dict[str, Route]  # the server's own: a route added while it serves is served
    client: httpx.Client
    config: IngestSettings

    def fetch(self, path: str, *, etag: str | None = None) -> FetchResult:
        return fetch_feed(
            self.client, self.server.url(path), etag=etag, last_modified=None, settings=self.config
        )

    def error(self, path: str) -> FetchError:
        with pytest.raises(FetchError) as raised:
            self.fetch(path)
        assert raised.value.url == self.server.url(path)
        assert str(raised.value).startswith(self.server.url(path))  # the operator sees the feed
        return raised.value

    def assert_still_works(self) -> None:
        """Another feed on the same client, on the same host (the pool's key), is fetched."""
        assert self.fetch("/ok").content == FEED


def numeric_only(host: str, port: int) -> list[str]:
    """A resolver that reads numeric forms ("127.1", "2130706433") as the system does, and
    refuses every name: whatever a hostile answer points at, no test asks a DNS server."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except OSError as error:
        raise httpcore.ConnectError(f"the tests resolve no name ({host})") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@contextmanager
def session(routes: Mapping[str, Route], **overrides: object) -> Iterator[Session]:
    config = settings(**overrides)
    served = {**routes, "/ok": answer(200, FEED, RSS)}
    with feed_server(served) as server, build_client(config, resolver=numeric_only) as client:
        yield Session(server, served, client, config)


# ----------------------------------------------------------------------------------------------
# Broken status lines and headers


@pytest.mark.parametrize(
    ("answer_bytes", "expected"),
    [
        (OK + b"X-Bad: a\x00b\r\nContent-Length: 0\r\n\r\n", "illegal header line"),
        (OK + b"NoColonHere\r\nContent-Length: 0\r\n\r\n", "illegal header line"),
        (b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n", "illegal status line"),
        (b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n", "illegal status line"),
        (OK + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "Content-Length"),
        (OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n", "Transfer-Encoding"),
        (FEED, "it closed the connection without answering"),  # HTTP/0.9: a bare body
        (b"", "it closed the connection without answering"),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00",
            "HTTP 101 Switching Protocols, an upgrade we never asked for",
        ),
    ],
    ids=[
        "nul-in-header",
        "header-without-colon",
        "status-not-a-number",
        "not-http",
        "conflicting-lengths",
        "transfer-encoding-gzip",
        "http-0.9",
        "closed-before-any-byte",
        "unasked-upgrade",
    ],
)
def test_a_broken_head_is_a_protocol_error_that_spoils_no_later_fetch(
    answer_bytes: bytes, expected: str
) -> None:
    with session({"/feed": raw(answer_bytes)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "the server broke the HTTP protocol" in error.reason
    assert expected in error.reason
    assert error.status is None


def test_a_header_section_of_hundreds_of_kilobytes_is_refused_in_plain_words() -> None:
    headers = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"y" * 1000) for n in range(400))
    with session({"/feed": raw(OK + headers + b"Content-Length: 0\r\n\r\n")}) as hostile:
        started = time.monotonic()
        error = hostile.error("/feed")
        elapsed = time.monotonic() - started
        hostile.assert_still_works()
    assert "more than 100 KB of headers" in error.reason
    assert "Receive buffer" not in error.reason  # h11's words, which tell an operator nothing
    assert elapsed < 4  # refused on reading, long before the 5 s deadline


def test_a_single_header_line_of_hundreds_of_kilobytes_does_not_flood_the_error() -> None:
    with session({"/feed": raw(OK + b"X-" + b"\x01" * 300_000 + b"\r\n\r\n")}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert len(str(error)) < 500


def test_header_values_with_odd_bytes_are_read_as_they_come() -> None:
    odd = OK + b"X-Name: caf\xe9\r\nX-Ctrl: a\x01b\r\nContent-Type: text/xml; charset=\xff\r\n"
    with session({"/feed": raw(odd + b"Content-Length: %d\r\n\r\n" % len(FEED) + FEED)}) as s:
        result = s.fetch("/feed")
        s.assert_still_works()
    assert result.content == FEED


# ----------------------------------------------------------------------------------------------
# Bodies that do not match their framing


def test_http_1_0_without_content_length_is_read_to_the_close() -> None:
    answer_bytes = b"HTTP/1.0 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n" + FEED
    with session({"/feed": raw(answer_bytes)}) as s:
        result = s.fetch("/feed")
        s.assert_still_works()
    assert result.content == FEED


def test_a_body_shorter_than_its_content_length_then_a_hang_up_is_an_error() -> None:
    answer_bytes = OK + b"Content-Length: 100000\r\n\r\n" + FEED
    with session({"/feed": raw(answer_bytes)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert error.reason == (
        "the server broke the HTTP protocol while sending the feed: it closed the connection "
        f"before the end of the feed (received {len(FEED)} bytes, expected 100000)"
    )


@pytest.mark.parametrize(
    ("answer_bytes", "expected"),
    [
        (
            b"HTTP/1.1 500 " + b"Oops" * 20_000 + b"\r\nContent-Length: 0\r\n\r\n",
            "server error (HTTP 500 OopsOops",
        ),
        (
            b"HTTP/1.1 399 " + b"Odd" * 20_000 + b"\r\nContent-Length: 0\r\n\r\n",
            "unexpected answer HTTP 399 OddOdd",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; x=" + b"y" * 80_000
            + b"\r\nContent-Length: 13\r\n\r\n<html></html>",
            "not an RSS, Atom or JSON feed (served as text/html; x=yyy",
        ),
    ],
    ids=["reason-phrase", "odd-status-reason", "content-type"],
)  # fmt: skip
def test_a_servers_endless_header_words_are_cut_in_the_feeds_error(
    tmp_path: Path, clock: FixedClock, answer_bytes: bytes, expected: str
) -> None:
    # The error is stored, printed by `digest poll` and shown in the `digest feeds` table: a
    # reason phrase or a Content-Type of 80 KB (the headers may take 100) is no message.
    with feed_server({"/feed": raw(answer_bytes)}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        feed = next(polls)
        polls.close()
    assert feed.status == "error" and feed.last_error is not None
    assert expected in feed.last_error
    assert len(feed.last_error) < 1_000


def endless_interim_answers(handler: BaseHTTPRequestHandler) -> None:
    """'100 Continue' every 5 ms for 10 s, never the answer itself."""
    with suppress(BrokenPipeError, ConnectionResetError):
        for _ in range(2000):
            handler.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            handler.wfile.flush()
            time.sleep(0.005)
    handler.close_connection = True


@pytest.mark.parametrize(
    "route",
    [
        # The server keeps the connection open for 5 s, as if the rest were coming.
        raw(OK + b"Content-Length: 100000\r\n\r\n" + FEED, hold=5),
        raw(b"", hold=5),
        endless_interim_answers,
    ],
    ids=["body-shorter-than-its-length", "never-answers", "endless-interim-answers"],
)
def test_a_server_that_stalls_is_cut_off_by_the_deadline(route: Route) -> None:
    with session({"/feed": route}, timeout_seconds=1.0) as hostile:
        started = time.monotonic()
        error = hostile.error("/feed")
        elapsed = time.monotonic() - started
        hostile.assert_still_works()
    assert "gave up after 1 seconds" in error.reason
    assert elapsed < 4  # the 1 s deadline, not the server's 5-10 s, ended it


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"Content-Length": str(len(FEED) + 100)},
            f"{len(FEED):,} of the {len(FEED) + 100:,} bytes the server announced "
            "(Content-Length) had arrived",
        ),
        ({"Transfer-Encoding": "chunked"}, f"{len(FEED):,} bytes of the feed had arrived"),
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_that_stops_short_and_stalls_says_how_much_arrived(
    headers: dict[str, str], expected: str
) -> None:
    # The whole feed but its last bytes, then silence on a connection kept open: "it took too
    # long" alone sends the operator to raise ingest.timeout_seconds, which would not help.
    def stops_short(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        for name, value in {**RSS, **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        chunked = "Transfer-Encoding" in headers
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(FEED), FEED) if chunked else FEED)
        handler.wfile.flush()
        with suppress(OSError):
            hang_on(handler.connection, 5)
        handler.close_connection = True

    with session({"/feed": stops_short}, timeout_seconds=1.0) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "gave up after 1 seconds" in error.reason
    assert expected in error.reason


def test_a_body_longer_than_its_content_length_is_cut_and_the_rest_spoils_no_later_fetch() -> None:
    # A classic server bug: the length counted in characters, the body sent in UTF-8. The fetch
    # cannot tell (the parser gets the document cut short); the bytes past the announced length
    # stay on the connection, kept for reuse, and the next answer on it arrives behind them,
    # garbled: that request is sent again on a new connection.
    text = FEED.decode().replace("</channel>", "<!-- café, naïve, über --></channel>")
    body = text.encode()

    def miscounted(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(OK + b"Content-Length: %d\r\n\r\n" % len(text) + body)
        handler.wfile.flush()  # and the connection stays open for the next request

    with session({"/feed": miscounted}) as s:
        result = s.fetch("/feed")
        started = time.monotonic()
        s.assert_still_works()
        elapsed = time.monotonic() - started
    assert len(body) > len(text)
    assert result.content == body[: len(text)]
    assert s.server.paths() == ["/feed", "/ok", "/ok"]
    assert elapsed < 4  # asked again at once, not after the 5 s deadline


def test_a_connection_closed_mid_body_is_an_error() -> None:
    answer_bytes = OK + b"Content-Length: 5000\r\n\r\n" + FEED[:100]
    with session({"/feed": raw(answer_bytes)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "closed the connection before the end of the feed" in error.reason
    assert "(received 100 bytes, expected 5000)" in error.reason


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", "illegal chunk header"),
        (b"100\r\nabc", "closed the connection before the end of the feed"),
        (b"3\r\nabcdef\r\n0\r\n\r\n", "the server broke the HTTP protocol"),
        (b"3;" + b"x" * 200_000 + b"\r\nabc\r\n0\r\n\r\n", "the server broke the HTTP protocol"),
    ],
    ids=["bad-size", "cut-short", "chunk-longer-than-its-size", "huge-chunk-extension"],
)
def test_a_broken_chunked_body_is_a_protocol_error(chunks: bytes, expected: str) -> None:
    answer_bytes = OK + b"Transfer-Encoding: chunked\r\n\r\n" + chunks
    with session({"/feed": raw(answer_bytes)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    # Not "the connection failed": the server sent what it meant to, and it was wrong.
    assert "the server broke the HTTP protocol while sending the feed" in error.reason
    assert expected in error.reason
    assert len(error.reason) < 400


# ----------------------------------------------------------------------------------------------
# Interim (1xx) answers


def test_interim_answers_before_the_real_one_are_skipped() -> None:
    interim = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 102 Processing\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    )
    with session({"/feed": raw(interim + framed(FEED))}) as s:
        result = s.fetch("/feed")
        s.assert_still_works()
    assert (result.status, result.content) == (200, FEED)


# ----------------------------------------------------------------------------------------------
# Content-Encoding that lies, and odd 2xx and 304 answers


def test_a_plain_body_said_to_be_gzip_is_corrupt() -> None:
    with session({"/feed": answer(200, FEED, {"Content-Encoding": "gzip"})}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "the gzip body is corrupt" in error.reason


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize(
    "body", [FEED, b"\xef\xbb\xbf\r\n  " + FEED, b'{"version": "https://jsonfeed.org/version/1.1"}']
)
def test_a_plain_body_said_to_be_compressed_is_said_to_be_plain(coding: str, body: bytes) -> None:
    # "Error -3 while decompressing data: incorrect header check" alone does not tell the
    # operator (or the publisher they write to) that the server compressed nothing at all.
    with session({"/feed": answer(200, body, {"Content-Encoding": coding})}) as hostile:
        error = hostile.error("/feed")
    assert f"the {coding} body is corrupt" in error.reason
    assert (
        f"it is plain text: the server compressed nothing, though it says it did "
        f"(Content-Encoding: {coding})"
    ) in error.reason


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br"])
def test_an_encoding_we_never_ask_for_is_named(coding: str) -> None:
    body = gzip.compress(FEED)
    with session({"/feed": answer(200, body, {"Content-Encoding": coding})}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    unknown = coding.split(", ")[-1]
    assert f"compressed the feed with {unknown!r} (Content-Encoding: {coding})" in error.reason
    assert "we accept gzip and deflate" in error.reason


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(FEED))),
        ("deflate, gzip", gzip.compress(zlib.compress(FEED))),
        ("identity, gzip", gzip.compress(FEED)),
        ("GZIP", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
    ],
)
def test_stacked_and_odd_spellings_of_gzip_are_undone(coding: str, body: bytes) -> None:
    # A server compressing twice (an application and its proxy each) is a real mistake.
    with session({"/feed": answer(200, body, {"Content-Encoding": coding})}) as s:
        result = s.fetch("/feed")
    assert result.content == FEED


def in_one_byte_chunks(body: bytes, content_encoding: str) -> Route:
    """A chunked answer of one byte per chunk: the body reaches the client in small pieces."""
    chunks = b"".join(b"1\r\n" + bytes([byte]) + b"\r\n" for byte in body) + b"0\r\n\r\n"
    head = f"Content-Encoding: {content_encoding}\r\nTransfer-Encoding: chunked\r\n\r\n"
    return raw(OK + head.encode() + chunks)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_a_deflate_body_in_one_byte_pieces_is_inflated(wbits: int) -> None:
    # Whether a deflate body has its zlib header shows in its first two bytes; a first piece of
    # one byte was taken for a header's start, and raw deflate was then "corrupt".
    compressor = zlib.compressobj(wbits=wbits)
    body = compressor.compress(FEED) + compressor.flush()
    with session({"/feed": in_one_byte_chunks(body, "deflate")}) as s:
        result = s.fetch("/feed")
        s.assert_still_works()
    assert result.content == FEED


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, gzip.compress(FEED)),
        ({"Content-Type": "application/x-gzip"}, gzip.compress(FEED)),
        ({"Content-Encoding": "gzip"}, gzip.compress(gzip.compress(FEED))),
        ({"Content-Encoding": "deflate"}, zlib.compress(gzip.compress(FEED))),
    ],
    ids=["not-announced", "a-gz-file", "twice-announced-once", "gzip-inside-deflate"],
)
def test_gzip_the_server_does_not_announce_is_undone(headers: dict[str, str], body: bytes) -> None:
    # A feed kept as a .gz file and served as it is, a Content-Encoding a proxy dropped, or an
    # application and its proxy each compressing: read as gzip ("\x1f\x8b" starts no feed), the
    # parser said the feed was no feed and to check that the URL is not a web page's.
    with session({"/feed": answer(200, body, headers)}) as s:
        result = s.fetch("/feed")
        s.assert_still_works()
    assert result.content == FEED


@pytest.mark.parametrize("coding", [None, "gzip"])
def test_a_bomb_in_gzip_the_server_does_not_announce_is_cut_off(coding: str | None) -> None:
    inner = gzip.compress(b"\0" * 20_000_000, compresslevel=9)  # about 20 KB
    bomb = gzip.compress(inner) if coding else inner
    headers = {"Content-Encoding": coding} if coding else {}
    with session({"/feed": answer(200, bomb, headers)}, max_body_bytes=50_000) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert len(bomb) < 50_000
    assert "more than 50000 bytes once decompressed" in error.reason


def test_three_layers_of_gzip_are_refused() -> None:
    body = gzip.compress(gzip.compress(gzip.compress(FEED)))
    with session({"/feed": answer(200, body, {"Content-Encoding": "gzip, gzip, gzip"})}) as s:
        error = s.error("/feed")
    assert "compressed the feed 3 times over" in error.reason


def test_a_compression_bomb_in_two_layers_is_cut_off_at_the_inner_layer() -> None:
    inner = gzip.compress(b"\0" * 20_000_000, compresslevel=1)
    bomb = gzip.compress(inner)
    assert len(inner) > 20_000 and len(bomb) < 10_000
    headers = {"Content-Encoding": "gzip, gzip"}
    with session({"/feed": answer(200, bomb, headers)}, max_body_bytes=20_000) as hostile:
        started = time.monotonic()
        error = hostile.error("/feed")
        elapsed = time.monotonic() - started
    assert "more than 20000 bytes once decompressed" in error.reason
    assert elapsed < 4  # no hang; well within the 5 s deadline


def test_a_truncated_gzip_body_is_an_error_not_a_short_feed() -> None:
    body = gzip.compress(FEED)[:-30]
    with session({"/feed": answer(200, body, {"Content-Encoding": "gzip"})}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "the gzip body is cut short" in error.reason


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_a_truncated_deflate_body_is_an_error(wbits: int) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    body = (compressor.compress(FEED) + compressor.flush())[:-20]
    with session({"/feed": answer(200, body, {"Content-Encoding": "deflate"})}) as hostile:
        error = hostile.error("/feed")
    assert "the deflate body is cut short" in error.reason


def test_a_gzip_body_of_several_members_is_read_whole() -> None:
    # Valid gzip (RFC 1952 2.2); what concatenating compressed files or pigz --independent gives.
    body = gzip.compress(FEED[:500]) + gzip.compress(FEED[500:1000]) + gzip.compress(FEED[1000:])
    with session({"/feed": answer(200, body, {"Content-Encoding": "gzip"})}) as s:
        result = s.fetch("/feed")
    assert result.content == FEED


def test_bytes_after_the_end_of_a_gzip_body_are_ignored() -> None:
    body = gzip.compress(FEED) + b"\0" * 512
    with session({"/feed": answer(200, body, {"Content-Encoding": "gzip"})}) as s:
        result = s.fetch("/feed")
    assert result.content == FEED


@pytest.mark.parametrize("headers", [{}, {"Content-Encoding": "gzip"}], ids=["plain", "gzip"])
def test_a_200_with_an_empty_body_gives_empty_content(headers: dict[str, str]) -> None:
    # The parser says "an empty document instead of a feed"; the fetch itself went well.
    with session({"/feed": answer(200, b"", headers)}) as s:
        result = s.fetch("/feed")
        s.assert_still_works()
    assert (result.status, result.content) == (200, b"")


def test_204_is_an_error_saying_there_is_no_feed() -> None:
    with session({"/feed": answer(204)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert error.status == 204
    assert "HTTP 204 No Content" in error.reason
    assert "no feed" in error.reason


def test_206_with_part_of_the_feed_is_an_error() -> None:
    headers = {"Content-Range": f"bytes 0-99/{len(FEED)}"}
    with session({"/feed": answer(206, FEED[:100], headers)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert error.status == 206
    assert (
        f"only part of the feed (HTTP 206 Partial Content, Content-Range: bytes 0-99/{len(FEED)})"
        in error.reason
    )


def test_206_with_the_whole_feed_is_taken() -> None:
    headers = {"Content-Range": f"bytes 0-{len(FEED) - 1}/{len(FEED)}"}
    with session({"/feed": answer(206, FEED, headers)}) as s:
        result = s.fetch("/feed")
    assert (result.status, result.content) == (206, FEED)


def test_a_304_to_an_unconditional_request_is_an_error() -> None:
    with session({"/feed": answer(304)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
        conditional = hostile.fetch("/feed", etag='"v1"')
    assert error.status == 304
    assert "not conditional" in error.reason
    assert conditional.not_modified  # with a validator sent, the same 304 is an answer


def test_a_304_to_an_unconditional_request_leaves_the_feed_failing_not_healthy(
    tmp_path: Path, clock: FixedClock
) -> None:
    with feed_server({"/feed": answer(304)}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        feed = next(polls)
        polls.close()
    assert (feed.status, feed.last_status, feed.consecutive_errors) == ("error", 304, 1)
    assert feed.last_error is not None and "not conditional" in feed.last_error


# ----------------------------------------------------------------------------------------------
# Redirects with odd Location headers


@pytest.mark.parametrize(
    ("location", "lands_on"),
    [
        ("../../ok", "/ok"),
        ("../../../../../ok", "/ok"),  # above the root stays at the root
        ("./../b/../../ok", "/ok"),
        ("/o k", "/o%20k"),
        ("  /ok  ", "/ok"),
        ("/ok#section", "/ok"),
        ("/%0D%0AX-Injected:%201", "/%0D%0AX-Injected:%201"),
    ],
)
def test_a_relative_or_odd_location_is_resolved_and_encoded(location: str, lands_on: str) -> None:
    routes = {"/a/b/feed": redirect(302, location), lands_on: answer(200, FEED, RSS)}
    with session(routes) as s:
        result = s.fetch("/a/b/feed")
    assert result.content == FEED
    assert s.server.paths() == ["/a/b/feed", lands_on]
    assert "X-Injected" not in s.server.requests[1].headers


def test_a_non_ascii_location_is_sent_percent_encoded() -> None:
    answer_bytes = "HTTP/1.1 301 Moved\r\nLocation: /café/ü\r\nContent-Length: 0\r\n\r\n".encode()
    routes = {"/feed": raw(answer_bytes), "/caf%C3%A9/%C3%BC": answer(200, FEED, RSS)}
    with session(routes) as s:
        result = s.fetch("/feed")
    assert result.content == FEED
    assert s.server.paths()[-1] == "/caf%C3%A9/%C3%BC"


def test_a_protocol_relative_location_keeps_the_scheme() -> None:
    with session({}) as s:
        s.routes["/feed"] = redirect(301, "//" + s.server.base_url.removeprefix("http://") + "/ok")
        result = s.fetch("/feed")
    assert result.content == FEED
    assert result.permanent_redirect == s.server.url("/ok")


def test_a_location_folded_over_two_lines_injects_no_header() -> None:
    # An obsolete line fold joins the lines: the rest becomes part of the address, not a header.
    answer_bytes = (
        b"HTTP/1.1 302 Found\r\nLocation: /ok\r\n X-Injected: 1\r\nContent-Length: 0\r\n\r\n"
    )
    routes = {"/feed": raw(answer_bytes), "/ok%20X-Injected:%201": answer(200, FEED, RSS)}
    with session(routes) as s:
        result = s.fetch("/feed")
    assert result.content == FEED
    assert all("X-Injected" not in request.headers for request in s.server.requests)


def test_a_bare_carriage_return_in_location_is_a_protocol_error() -> None:
    answer_bytes = (
        b"HTTP/1.1 302 Found\r\nLocation: /ok\rX-Injected: 1\r\nContent-Length: 0\r\n\r\n"
    )
    with session({"/feed": raw(answer_bytes)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "the server broke the HTTP protocol" in error.reason
    assert all("X-Injected" not in request.headers for request in hostile.server.requests)


def test_a_repeated_location_header_is_followed_once() -> None:
    answer_bytes = (
        b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n"
    )
    with session({"/feed": raw(answer_bytes)}) as s:
        result = s.fetch("/feed")
    assert result.content == FEED  # not "/ok, /ok", a 404
    assert result.url == s.server.url("/ok")


@pytest.mark.parametrize(
    "location",
    [
        "http://[::1/feed",
        "http://0177.0.0.1/feed",
        "/a\x01b",
    ],
)
def test_a_location_that_is_no_address_is_an_error(location: str) -> None:
    answer_bytes = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    with session({"/feed": raw(answer_bytes.encode())}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "its redirect points to an invalid address" in error.reason


@pytest.mark.parametrize("port", [65536, 99999, 34463 + 65536 * 3])
def test_a_port_past_65535_is_an_invalid_url_not_another_port(port: int) -> None:
    # The system would take the number modulo 65536 and connect to some other port.
    with session({}) as hostile:
        hostile.routes["/feed"] = redirect(302, f"http://127.0.0.1:{port}/ok")
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert "invalid URL (redirected to" in error.reason
    assert "Port out of range" in error.reason


PADDING = "x" * 30_000  # a Location of 30 KB: within the 100 KB the headers may take


def endless_hops(handler: BaseHTTPRequestHandler) -> None:
    """A redirect to the next hop, each with an address of 30 KB, for ever."""
    hop = int(handler.path.split("n=", 1)[1].split("&", 1)[0]) if "n=" in handler.path else 0
    send(handler, 301, headers={"Location": f"/hop?n={hop + 1}&pad={PADDING}"})


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ({"/feed": endless_hops, "/hop": endless_hops}, "more than 5 redirects"),
        (
            {"/feed": redirect(301, f"/back?pad={PADDING}"), "/back": redirect(301, "/feed")},
            "redirect loop",
        ),
        ({"/feed": redirect(302, f"/missing?pad={PADDING}")}, "not found (HTTP 404"),
        (
            {
                "/feed": redirect(302, f"/busy?pad={PADDING}"),
                "/busy": answer(429, headers={"Retry-After": "120"}),
            },
            "retry after 120 seconds",
        ),
    ],
    ids=["thirty-hops", "loop", "404-after-redirect", "429-after-redirect"],
)
def test_a_redirects_huge_addresses_are_shortened_in_the_error(
    routes: dict[str, Route], expected: str
) -> None:
    # The feed's error is stored, printed by `digest poll` and shown in the `digest feeds`
    # table: the addresses a server makes up are cut there, however long it made them.
    with session(routes) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert expected in error.reason
    assert len(str(error)) < 3_000
    assert hostile.server.url("/") in error.reason  # the addresses are still named


# ----------------------------------------------------------------------------------------------
# Redirects to loopback written in odd forms, with private addresses refused

PUBLIC_STAND_IN = "127.0.0.2"  # a loopback address the tests below pretend is public


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A client that refuses private addresses, fetching from a server on PUBLIC_STAND_IN known
    as feeds.example; every other name but localhost. is refused, so nothing leaves the machine.
    """
    is_public = network.is_public_address
    monkeypatch.setattr(
        network,
        "is_public_address",
        lambda address: address == PUBLIC_STAND_IN or is_public(address),
    )

    def resolver(host: str, port: int) -> list[str]:
        names = {"feeds.example": [PUBLIC_STAND_IN], "localhost.": ["127.0.0.1", "::1"]}
        return names[host] if host in names else numeric_only(host, port)

    config = settings(allow_private_addresses=False)
    routes: dict[str, Route] = {"/ok": answer(200, FEED, RSS)}
    with feed_server(routes, host=PUBLIC_STAND_IN) as server:
        port = server.base_url.rsplit(":", 1)[1]
        server.base_url = f"http://feeds.example:{port}"
        with build_client(config, resolver=resolver) as client:
            yield Session(server, routes, client, config)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/ok",
        "http://2130706433:{port}/ok",
        "http://127.1:{port}/ok",
        "http://0x7f000001:{port}/ok",
        "http://0x7f.1:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://[::ffff:7f00:1]:{port}/ok",
        "http://[::1]:{port}/ok",
        "http://localhost.:{port}/ok",
        "http://0:{port}/ok",
        "http://[::]:{port}/ok",
        "//127.0.0.1:{port}/ok",
        "http://feeds.example:{port}@127.0.0.1:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1:{port}/ok",
    ],
)
def test_a_redirect_to_loopback_in_an_odd_form_is_refused(guarded: Session, target: str) -> None:
    port = guarded.server.base_url.rsplit(":", 1)[1]
    guarded.routes["/feed"] = redirect(302, target.format(port=port))
    error = guarded.error("/feed")
    assert "refused to connect (redirected to" in error.reason
    assert "a private, loopback or link-local address" in error.reason
    assert guarded.server.paths() == ["/feed"]  # the first hop was allowed
    guarded.assert_still_works()


# ----------------------------------------------------------------------------------------------
# Retry-After values no server means


ABSURD_RETRY_AFTER = [
    b"-1",
    b"1e9",
    b"3.5",
    b"99999999999999999999",
    b"9" * 5000,  # more digits than int() reads from a string
    b"Mon, 01 Jan 1900 00:00:00 GMT",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"Fri, 31 Dec 9999 23:59:59 -2359",
    b"Sat, 01 Jan 10000 00:00:00 GMT",
    b"tomorrow",
    b"\xb2",  # "²" in Latin-1: a digit to str.isdigit, none to int()
    "\u0663\u0660".encode(),  # Arabic-Indic "30"
]


@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER, ids=repr)
def test_an_absurd_retry_after_is_no_crash(value: bytes) -> None:
    answer_bytes = b"HTTP/1.1 503 Busy\r\nRetry-After: " + value + b"\r\nContent-Length: 0\r\n\r\n"
    with session({"/feed": raw(answer_bytes)}) as hostile:
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert error.status == 503
    assert "the server is unavailable" in error.reason
    assert error.retry_after is None or error.retry_after >= 0


@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER, ids=repr)
def test_an_absurd_retry_after_schedules_the_next_poll_within_a_week(
    tmp_path: Path, clock: FixedClock, value: bytes
) -> None:
    answer_bytes = b"HTTP/1.1 429 Slow\r\nRetry-After: " + value + b"\r\nContent-Length: 0\r\n\r\n"
    with feed_server({"/feed": raw(answer_bytes)}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        feed = next(polls)
        polls.close()
    assert (feed.status, feed.last_status) == ("error", 429)
    assert feed.last_error is not None and "rate limited" in feed.last_error
    assert feed.next_poll_at is not None
    assert NOW + timedelta(minutes=10) <= feed.next_poll_at <= NOW + polling.RETRY_AFTER_LIMIT


def test_a_retry_after_far_in_the_future_waits_a_week_at_most(
    tmp_path: Path, clock: FixedClock
) -> None:
    route = answer(503, headers={"Retry-After": "99999999999999999999"})
    with feed_server({"/feed": route}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        feed = next(polls)
        polls.close()
    assert feed.next_poll_at == NOW + polling.RETRY_AFTER_LIMIT


@pytest.mark.parametrize(
    "value",
    ["31536000", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"],
    ids=["a-year", "twenty-digits", "year-9999"],
)
def test_a_retry_after_past_a_week_is_said_to_be_cut_to_a_week(
    tmp_path: Path, clock: FixedClock, value: str
) -> None:
    # Told only "the server asks to retry after a year", the operator could not know that the
    # feed and its host are asked again in a week, nor see the number the server sent.
    with feed_server({"/feed": answer(429, headers={"Retry-After": value})}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        feed = next(polls)
        polls.close()
    assert feed.next_poll_at == NOW + polling.RETRY_AFTER_LIMIT
    assert feed.last_error is not None
    assert f"retry after {value}" in feed.last_error
    assert "more than 7 days" in feed.last_error
    assert "asked again in 7 days" in feed.last_error


@pytest.mark.parametrize(
    "value",
    [b"7200", b"Wed, 25 Nov 2026 11:00:00 GMT"],  # two hours after the answer's Date
    ids=["seconds", "date"],
)
def test_a_retry_after_repeated_by_a_proxy_is_still_honoured(
    tmp_path: Path, clock: FixedClock, value: bytes
) -> None:
    # A CDN or proxy may repeat the header its origin sent. httpx joins the copies
    # ("7200, 7200"), which read as neither seconds nor a date: the wait was dropped and the
    # feed asked again at the next backoff, long before the server said to.
    answer_bytes = (
        b"HTTP/1.1 429 Slow\r\nDate: Wed, 25 Nov 2026 09:00:00 GMT\r\n"
        + b"Retry-After: " + value + b"\r\nRetry-After: " + value + b"\r\n"
        + b"Content-Length: 0\r\n\r\n"
    )  # fmt: skip
    with feed_server({"/feed": raw(answer_bytes)}) as server:
        polls = poll_one(tmp_path, clock, server.url("/feed"))
        feed = next(polls)
        polls.close()
    assert feed.last_error is not None
    assert f"(Retry-After: {value.decode()})" in feed.last_error or (
        f"after {value.decode()} (Retry-After)" in feed.last_error
    )
    assert feed.next_poll_at == NOW + timedelta(hours=2)


# ----------------------------------------------------------------------------------------------
# Cookies


def test_a_flood_of_cookies_is_neither_kept_nor_sent_back() -> None:
    def flood(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        for n in range(1500):  # about 75 KB: within the 100 KB the headers may take
            handler.send_header("Set-Cookie", f"c{n}=v{n}; Path=/; Max-Age=99999999")
        handler.send_header("Set-Cookie", "=; ;;; Expires=garbage; Domain=..")
        handler.send_header("Set-Cookie", "\x7f\x01=\x02")
        handler.send_header("Content-Length", str(len(FEED)))
        handler.end_headers()
        handler.wfile.write(FEED)

    with session({"/feed": flood}) as s:
        started = time.monotonic()
        result = s.fetch("/feed")
        elapsed = time.monotonic() - started
        s.assert_still_works()
        assert len(s.client.cookies.jar) == 0
    assert result.content == FEED
    assert "Cookie" not in s.server.requests[-1].headers  # one feed's cookies reach no other
    assert elapsed < 4  # no hang; well within the 5 s deadline


def test_a_cookie_is_not_sent_to_the_next_hop_of_a_redirect() -> None:
    def set_and_redirect(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 302, headers={"Location": "/ok", "Set-Cookie": "session=abc; Path=/"})

    with session({"/feed": set_and_redirect}) as s:
        result = s.fetch("/feed")
    assert result.content == FEED
    assert "Cookie" not in s.server.requests[-1].headers


# ----------------------------------------------------------------------------------------------
# Odd status codes, and TLS where there is none


def test_a_status_code_out_of_any_range_is_an_error_that_names_it() -> None:
    routes = {
        "/999": raw(b"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n"),
        "/099": raw(b"HTTP/1.1 099 Early\r\nContent-Length: 0\r\n\r\n"),
    }
    with session(routes) as hostile:
        high = hostile.error("/999")
        low = hostile.error("/099")
        hostile.assert_still_works()
    assert high.status == 999 and "HTTP 999 Whatever" in high.reason
    assert "the server broke the HTTP protocol" in low.reason


def test_https_to_a_plain_http_server_is_a_connection_error() -> None:
    with session({}) as hostile:
        target = hostile.server.base_url.replace("http://", "https://") + "/ok"
        hostile.routes["/feed"] = redirect(301, target)
        error = hostile.error("/feed")
        hostile.assert_still_works()
    assert f"cannot connect to 127.0.0.1 (redirected to {target})" in error.reason
