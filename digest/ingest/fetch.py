"""Fetch a feed over HTTP: conditional GET, redirects we follow ourselves, and hard limits.

    fetch_feed(url)
      └─ for each hop (at most MAX_REDIRECTS redirects):
           http(s) only ─► GET with If-None-Match / If-Modified-Since
             ├─ 301/308 ─► remember the new address (while the chain stays permanent), next hop
             ├─ 302/303/307 ─► next hop
             ├─ 304 ─► FetchResult(status=304, content=None)
             ├─ 4xx/5xx ─► FetchError (status, reason for the operator)
             └─ 2xx ─► read the body, inflating gzip/deflate ourselves, up to max_body_bytes

Every limit is enforced below httpx, in the network backend of the client ``build_client`` makes:
each connection resolves the host itself, checks the addresses (no private, loopback or link-local
address unless the settings allow it) and connects to the very address it checked, so a DNS answer
cannot change between the check and the connection; and the lookup and every socket read and write
are bounded by one deadline for the whole fetch, so a server that drips a byte at a time is cut off
on time. A client built otherwise (another transport) gets the HTTP logic but not these guards.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

import httpcore
import httpx

import digest
from digest.concurrency import cpu_turn
from digest.config import IngestSettings
from digest.errors import FetchError
from digest.records import URL_LIMIT, FetchResult

USER_AGENT_TEMPLATE = "digest/{version} (+{contact_url})"
MAX_REDIRECTS = 5
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate"  # the encodings _Inflater can bound; never br or zstd
CHUNK_BYTES = 64 * 1024
# The longest redirect body read to keep its connection for the next request (see _drain).
DRAIN_BYTES = 16 * 1024
# The longest validators kept for the next conditional GET (an HTTP date is 29 characters; an
# ETag is a quoted token, rarely over a hundred).
ETAG_LIMIT = 500
LAST_MODIFIED_LIMIT = 100
# Two layers of compression ("gzip, gzip") is a misconfigured server compressing twice; more is
# no real server's, and each layer costs a pass over up to max_body_bytes.
MAX_CONTENT_CODINGS = 2
# The most of a library's error text put into a feed's error: some quote the whole offending line.
DETAIL_CHARS = 200
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})

# host, port -> the IP addresses to try, in order
Resolver = Callable[[str, int], list[str]]

# Host name lookups run here so that a slow DNS server cannot hold a fetch past its deadline.
_lookups = ThreadPoolExecutor(max_workers=32, thread_name_prefix="digest-dns")

# When the fetch running in this context must be over (time.monotonic()); read by every socket call.
_deadline: ContextVar[float | None] = ContextVar("digest_fetch_deadline", default=None)


def user_agent(settings: IngestSettings) -> str:
    if settings.contact_url is None:
        return f"digest/{digest.__version__}"
    return USER_AGENT_TEMPLATE.format(version=digest.__version__, contact_url=settings.contact_url)


def build_client(
    settings: IngestSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> httpx.Client:
    """The HTTP client every feed fetch goes through; close it when done.

    ``transport`` replaces the guarded network stack (address checks and deadline) with another,
    e.g. ``httpx.MockTransport`` in unit tests; ``resolver`` replaces DNS resolution.
    """
    if transport is None:
        transport = GuardedTransport(
            allow_private_addresses=settings.allow_private_addresses,
            resolver=resolver or resolve_host,
        )
    return httpx.Client(
        transport=transport,
        headers={
            "User-Agent": user_agent(settings),
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        timeout=httpx.Timeout(settings.timeout_seconds),
        follow_redirects=False,
        # Proxies from the environment would bypass the address checks of GuardedTransport.
        trust_env=False,
        cookies=_NoCookies(),
    )


class _NoCookies(CookieJar):
    """A cookie jar that keeps nothing. One client serves every feed: with httpx's own jar, the
    cookies a server sets would ride along on every later request to its domain, from any feed,
    and a server sending thousands would grow the jar (and those requests) without bound."""

    def extract_cookies(self, response: HTTPResponse, request: Request) -> None:
        pass

    def set_cookie(self, cookie: Cookie) -> None:
        pass


def fetch_feed(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    settings: IngestSettings,
) -> FetchResult:
    """GET a feed, conditionally on the validators of the last fetch. Raises FetchError."""
    deadline = time.monotonic() + settings.timeout_seconds
    token = _deadline.set(deadline)
    try:
        return _fetch(client, url, etag, last_modified, settings, deadline)
    finally:
        _deadline.reset(token)


def _fetch(
    client: httpx.Client,
    url: str,
    etag: str | None,
    last_modified: str | None,
    settings: IngestSettings,
    deadline: float,
) -> FetchResult:
    headers = {}
    etag = _validator(etag, ETAG_LIMIT)
    last_modified = _validator(last_modified, LAST_MODIFIED_LIMIT)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    current = url
    visited = [url]
    permanent_redirect: str | None = None
    chain_is_permanent = True  # a temporary hop means the first address is still the one to keep
    for _hop in range(MAX_REDIRECTS + 1):
        with _request(client, url, current, headers, settings, deadline) as response:
            status = response.status_code
            if status in REDIRECTS:
                target = _redirect_target(url, current, response)
                # A new address too long to store is followed, but not remembered.
                remembered = len(target) <= URL_LIMIT
                if status in PERMANENT_REDIRECTS and chain_is_permanent and remembered:
                    permanent_redirect = target
                else:
                    chain_is_permanent = False
                if target in visited:
                    chain = " -> ".join([*visited, target])
                    raise FetchError(url, f"redirect loop: {chain}", status=status)
                visited.append(target)
                current = target
                _drain(response)
                continue
            if status == 304:
                _drain(response)
                if not headers:
                    # Taken as "unchanged", it would leave a feed never fetched looking healthy
                    # and empty for good.
                    raise FetchError(
                        url,
                        f"the server answered HTTP 304 Not Modified{_at(url, current)} to a "
                        "request that was not conditional (we sent no ETag or Last-Modified to "
                        "compare with): it never sends the feed itself",
                        status=status,
                    )
                return FetchResult(
                    requested_url=url,
                    url=current,
                    status=304,
                    content=None,
                    etag=_response_validator(response, "etag") or etag,
                    last_modified=_response_validator(response, "last-modified") or last_modified,
                    content_type=response.headers.get("content-type"),
                    permanent_redirect=permanent_redirect,
                )
            if status >= 400:
                raise _status_error(url, current, response)
            if not 200 <= status < 300:
                raise FetchError(
                    url, f"unexpected answer HTTP {status} {response.reason_phrase}", status=status
                )
            if status == 204:
                raise FetchError(
                    url,
                    f"the server answered HTTP 204 No Content{_at(url, current)}: "
                    "it has no feed to send at this address",
                    status=status,
                )
            if status == 206 and not _whole_range(response.headers.get("content-range")):
                # We never ask for a range; a part of a feed would be parsed as a short feed.
                content_range = _brief(response.headers.get("content-range") or "none")
                raise FetchError(
                    url,
                    f"the server sent only part of the feed (HTTP 206 Partial Content, "
                    f"Content-Range: {content_range}){_at(url, current)}, though we asked for "
                    "all of it",
                    status=status,
                )
            content = _read_body(url, response, settings, deadline)
            return FetchResult(
                requested_url=url,
                url=current,
                status=status,
                content=content,
                etag=_response_validator(response, "etag"),
                last_modified=_response_validator(response, "last-modified"),
                content_type=response.headers.get("content-type"),
                permanent_redirect=permanent_redirect,
            )
    raise FetchError(
        url, f"more than {MAX_REDIRECTS} redirects: {' -> '.join(visited)}", status=None
    )


def _at(url: str, current: str) -> str:
    return "" if current == url else f" at {current}"


def _whole_range(content_range: str | None) -> bool:
    """Whether a Content-Range ("bytes 0-2041/2042") covers the whole representation."""
    found = re.fullmatch(r"\s*bytes\s+0-([0-9]{1,15})/([0-9]{1,15})\s*", content_range or "")
    return found is not None and int(found[1]) + 1 == int(found[2])


def _whole_number(text: str) -> int | None:
    """``text`` as a number of ASCII digits, else None (str.isdigit also takes "²", which int
    refuses)."""
    return int(text) if text.isascii() and text.isdigit() else None


def _brief(text: str) -> str:
    """``text`` on one line, and short enough for a feed's error and the log."""
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _response_validator(response: httpx.Response, name: str) -> str | None:
    limit = ETAG_LIMIT if name == "etag" else LAST_MODIFIED_LIMIT
    return _validator(response.headers.get(name), limit)


def _validator(value: str | None, limit: int) -> str | None:
    """An ETag or Last-Modified value worth sending back, else None.

    A value that is not printable ASCII could not be sent back as it came (httpx refuses to
    encode it, h11 to send control characters), and one longer than ``limit`` is no real
    server's: kept, either would fail every later fetch of the feed, or its storing. Without
    it the next fetch is unconditional, and the document's hash still spares its parse.
    """
    if not value:
        return None
    value = value.strip()
    if not value or len(value) > limit or not (value.isascii() and value.isprintable()):
        return None
    return value


@contextmanager
def _request(
    client: httpx.Client,
    url: str,
    current: str,
    headers: dict[str, str],
    settings: IngestSettings,
    deadline: float,
) -> Iterator[httpx.Response]:
    """One GET, streamed; every failure below HTTP becomes a FetchError about ``url``."""
    where = "" if current == url else f" (redirected to {current})"
    parts = urlsplit(current)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"a {scheme}: URL" if scheme else "a URL without a scheme"
        raise FetchError(url, f"only http and https feeds can be fetched, not {what}{where}")
    try:
        # httpx takes any port number, and the system would wrap one past 65535 to another port.
        _ = parts.port
    except ValueError as error:
        raise FetchError(url, f"invalid URL{where}: {error}") from None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        _deadline_passed(url, settings, where)
    try:
        with ExitStack() as stack:
            yield _send(client, stack, current, headers, settings, deadline)
    except AddressRefusedError as refused:
        if refused.host == refused.address:
            what = f"{refused.address} is"
        else:
            what = f"{refused.host} resolves to {refused.address},"
        raise FetchError(
            url,
            f"refused to connect{where}: {what} a private, loopback or link-local address; "
            "set ingest.allow_private_addresses = true to fetch feeds from the local network",
        ) from None
    except httpx.TimeoutException as error:
        if time.monotonic() >= deadline:
            _deadline_passed(url, settings, where, error)
        kind = "connecting" if isinstance(error, httpx.ConnectTimeout) else "waiting for the server"
        raise FetchError(url, f"timed out {kind}{where}") from error
    except httpx.ConnectError as error:
        host = urlsplit(current).hostname
        raise FetchError(url, f"cannot connect to {host}{where}: {error}") from error
    except httpx.RemoteProtocolError as error:
        problem = _protocol_problem(error)
        raise FetchError(url, f"the server broke the HTTP protocol{where}: {problem}") from error
    except httpx.HTTPError as error:
        raise FetchError(url, f"network error{where}: {_brief(str(error))}") from error
    except httpx.InvalidURL as error:
        raise FetchError(url, f"invalid URL{where}: {_brief(str(error))}") from error


# What h11 and httpcore say about a broken answer, in the words an operator needs; other messages
# are passed on as they are.
_PROTOCOL_PROBLEMS = {
    "Receive buffer too long": "it sent more than 100 KB of headers, more than any real server",
    "Server disconnected without sending a response.": "it closed the connection without answering",
    "Received server _SWITCH_UPGRADE event without a pending proposal": (
        "it answered HTTP 101 Switching Protocols, an upgrade we never asked for"
    ),
    "Invalid URL in location header": "its redirect points to an invalid address",
    "peer closed connection without sending complete message body": (
        "it closed the connection before the end of the feed"
    ),
}


def _protocol_problem(error: Exception) -> str:
    text = str(error)
    for said, meant in _PROTOCOL_PROBLEMS.items():
        text = text.replace(said, meant)
    return _brief(text)


def _send(
    client: httpx.Client,
    stack: ExitStack,
    url: str,
    headers: dict[str, str],
    settings: IngestSettings,
    deadline: float,
) -> httpx.Response:
    """GET ``url``, streamed, the response closed with ``stack``.

    Sent once more if the answer is garbled before its body: on a kept-alive connection that is
    most often bytes the server sent past the end of its previous answer (a 304 "with a body"),
    read as the start of this one. The pool has closed that connection; the second try opens a
    new one. A server that garbles every answer still fails, on the second.
    """

    def attempt() -> httpx.Response:
        timeout = min(settings.timeout_seconds, max(deadline - time.monotonic(), 0.001))
        return stack.enter_context(client.stream("GET", url, headers=headers, timeout=timeout))

    try:
        return attempt()
    except httpx.RemoteProtocolError:
        return attempt()


def _deadline_passed(
    url: str, settings: IngestSettings, where: str, cause: BaseException | None = None
) -> NoReturn:
    raise FetchError(
        url,
        f"gave up after {settings.timeout_seconds:g} seconds{where}: fetching the feed took too "
        "long (the limit is ingest.timeout_seconds)",
    ) from cause


def _redirect_target(url: str, current: str, response: httpx.Response) -> str:
    # Some proxies repeat the header; joined, the copies would make one address of two.
    locations = response.headers.get_list("location")
    location = locations[0].strip() if locations else ""
    if not location:
        raise FetchError(
            url,
            f"HTTP {response.status_code} redirect without a Location header from {current}",
            status=response.status_code,
        )
    try:
        return str(urljoin(current, location))
    except ValueError as error:  # urlsplit's "Invalid IPv6 URL"
        raise FetchError(
            url,
            f"HTTP {response.status_code} redirect from {current} to an invalid address "
            f"({_brief(location)}): {error}",
            status=response.status_code,
        ) from None


def _status_error(url: str, current: str, response: httpx.Response) -> FetchError:
    status = response.status_code
    label = f"HTTP {status} {response.reason_phrase}".rstrip()
    retry_after = _retry_after(response.headers.get("retry-after"))
    wait = None
    if status in (429, 503):
        headers = response.headers
        wait = retry_after_seconds(headers.get("retry-after"), headers.get("date"))
    where = "" if current == url else f" at {current}"
    if status == 410:
        reason = (
            f"the feed is gone ({label}){where}: the publisher removed it for good; "
            "remove it from the config or replace its URL"
        )
    elif status == 404:
        reason = f"not found ({label}){where}: check the feed URL"
    elif status in (401, 403):
        reason = f"access denied ({label}){where}: the server will not serve this feed to us"
    elif status == 429:
        reason = f"rate limited ({label}){where}{retry_after}"
    elif status == 503:
        reason = f"the server is unavailable ({label}){where}{retry_after}"
    elif status >= 500:
        reason = f"server error ({label}){where}; it may recover by the next poll"
    else:
        reason = f"the server refused the request ({label}){where}"
    return FetchError(url, reason, status=status, retry_after=wait)


def retry_after_seconds(value: str | None, date: str | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds, or an HTTP date.

    A date is measured against the response's own Date header when there is one, so a server whose
    clock is off still gets the wait it meant; a value that cannot be read gives None.
    """
    text = (value or "").strip()
    if not text:
        return None
    if _whole_number(text) is not None:
        return float(int(text[:12]))  # twelve digits are 30,000 years; more is noise
    when = _http_date(text)
    if when is None:
        return None
    sent = _http_date(date) if date else None
    reference = sent.timestamp() if sent is not None else time.time()
    return max(0.0, when.timestamp() - reference)


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _retry_after(value: str | None) -> str:
    if not value:
        return ""
    text = " ".join(value.split())[:64]  # it goes into logs: no line breaks, no essays
    seconds = _whole_number(text)
    if seconds is not None:
        return f"; the server asks to retry after {seconds} seconds (Retry-After: {text})"
    return f"; the server asks to retry after {text} (Retry-After)"


# ----------------------------------------------------------------------------------------------
# The body: bounded in size and time, inflated by us so a compression bomb is bounded too.


def _read_body(
    url: str, response: httpx.Response, settings: IngestSettings, deadline: float
) -> bytes:
    limit = settings.max_body_bytes
    declared = _whole_number(response.headers.get("content-length", ""))
    if declared is not None and declared > limit:
        _too_large(url, settings, f"the server announces {declared} bytes")
    inflater = _Inflater(
        url,
        response.headers.get("content-encoding"),
        lambda: _too_large(url, settings, f"more than {limit} bytes once decompressed"),
    )
    body = bytearray()
    received = 0
    for chunk in _iter_raw(url, response, settings, deadline):
        received += len(chunk)
        if received > limit:
            _too_large(url, settings, f"more than {limit} bytes received")
        # Ask for one byte more than the room left: getting it means the limit is exceeded.
        body += inflater.inflate(chunk, limit - len(body) + 1)
        if len(body) > limit:
            _too_large(url, settings, f"more than {limit} bytes once decompressed")
        if time.monotonic() >= deadline:
            _deadline_passed(url, settings, "")
    body += inflater.finish(limit - len(body) + 1)
    if len(body) > limit:
        _too_large(url, settings, f"more than {limit} bytes once decompressed")
    return bytes(body)


def _iter_raw(
    url: str, response: httpx.Response, settings: IngestSettings, deadline: float
) -> Iterator[bytes]:
    try:
        yield from response.iter_raw(CHUNK_BYTES)
    except httpx.StreamConsumed:
        # A transport that hands back a response already read (httpx.MockTransport given
        # content=...) has no stream left; its content is all there is.
        yield response.content
    except httpx.TimeoutException as error:
        if time.monotonic() >= deadline:
            _deadline_passed(url, settings, "", error)
        raise FetchError(url, "timed out while reading the feed") from error
    except httpx.RemoteProtocolError as error:
        problem = _protocol_problem(error)
        raise FetchError(
            url, f"the server broke the HTTP protocol while sending the feed: {problem}"
        ) from error
    except httpx.HTTPError as error:
        problem = _brief(str(error))
        raise FetchError(url, f"the connection failed while reading the feed: {problem}") from error


def _drain(response: httpx.Response) -> None:
    """Read a response we need nothing more of to its end, when it is short, so that its
    connection goes back to the pool: re-polling a host's feeds, or following a redirect on the
    same host, then costs no new connection. A 304 has no body; a redirect's body is read when
    it announces ``DRAIN_BYTES`` or fewer (servers put a line or two of HTML there), else its
    connection is closed. Failing to read it is no failure of the fetch, whose answer is known.
    """
    declared = _whole_number(response.headers.get("content-length", ""))
    if response.status_code != 304 and not (declared is not None and declared <= DRAIN_BYTES):
        return
    try:
        for _ in response.iter_raw(CHUNK_BYTES):
            pass
    except (httpx.HTTPError, httpx.StreamError):
        return


def _too_large(url: str, settings: IngestSettings, detail: str) -> NoReturn:
    raise FetchError(
        url,
        f"the feed is larger than ingest.max_body_bytes = {settings.max_body_bytes} ({detail}); "
        "raise the limit if the feed is genuine",
    )


class _Inflater:
    """Undo a Content-Encoding of gzip or deflate (one, or two stacked), never producing more than
    asked for at a time; ``too_large`` is called when an inner layer alone outgrows that."""

    def __init__(
        self, url: str, content_encoding: str | None, too_large: Callable[[], NoReturn]
    ) -> None:
        self._too_large = too_large
        header = _brief(content_encoding or "")
        listed = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
        codings = [coding for coding in listed if coding not in ("", "identity")]
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise FetchError(
                    url,
                    f"the server compressed the feed with {_brief(coding)!r} (Content-Encoding: "
                    f"{header}), which we never ask for: we accept gzip and deflate",
                )
        if len(codings) > MAX_CONTENT_CODINGS:
            raise FetchError(
                url,
                f"the server compressed the feed {len(codings)} times over (Content-Encoding: "
                f"{header}); more than {MAX_CONTENT_CODINGS} layers is no real server's",
            )
        # The codings are listed in the order they were applied: the last is undone first.
        self._layers = [_Layer(url, coding) for coding in reversed(codings)]

    def inflate(self, data: bytes, max_length: int) -> bytes:
        for depth, layer in enumerate(self._layers):
            data = layer.inflate(data, max_length)
            if len(data) >= max_length and depth < len(self._layers) - 1:
                self._too_large()
        return data

    def finish(self, max_length: int) -> bytes:
        data = b""
        for depth, layer in enumerate(self._layers):
            data = layer.inflate(data, max_length) + layer.finish()
            if len(data) >= max_length and depth < len(self._layers) - 1:
                self._too_large()
        return data


class _Layer:
    """One layer of gzip or deflate undone. A gzip body may hold several members one after the
    other (it decompresses to all of them, joined); bytes after the end of the compressed data are
    ignored, as browsers do; compressed data that stops short is an error, not a short feed."""

    def __init__(self, url: str, coding: str) -> None:
        self._url = url
        self._coding = coding
        self._gzip = coding != "deflate"
        self._zlib = self._decompressor()
        self._fed = False  # an empty body is empty, whatever its Content-Encoding says
        self._started = False
        self._after_end = b""  # bytes after a gzip member, until there are enough to tell
        self._ignoring = False

    def _decompressor(self, wbits: int = zlib.MAX_WBITS) -> Any:
        return zlib.decompressobj(wbits | 16 if self._gzip else wbits)

    def inflate(self, data: bytes, max_length: int) -> bytes:
        self._fed = self._fed or bool(data)
        output = bytearray()
        while data and not self._ignoring and len(output) < max_length:
            if self._zlib.eof:
                data = self._next_member(data)
                continue
            try:
                # A max_length of 0 would mean no limit: the loop stops before that.
                output += self._zlib.decompress(data, max_length - len(output))
            except zlib.error as error:
                if not self._gzip and not self._started:
                    # Some servers send raw deflate without the zlib header the RFC asks for.
                    self._zlib = self._decompressor(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise FetchError(
                    self._url, f"the {self._coding} body is corrupt: {error}"
                ) from error
            self._started = True
            data = self._zlib.unused_data if self._zlib.eof else b""
        return bytes(output)

    def _next_member(self, data: bytes) -> bytes:
        """What to feed a new gzip member after the end of one (nothing while undecided)."""
        pending = self._after_end + data
        if len(pending) < 2:
            self._after_end = pending
            return b""
        self._after_end = b""
        if self._gzip and pending.startswith(b"\x1f\x8b"):
            self._zlib = self._decompressor()
            return pending
        self._ignoring = True
        return b""

    def finish(self) -> bytes:
        if not self._fed or self._ignoring or self._zlib.eof:
            return b""
        try:
            output: bytes = self._zlib.flush()
        except zlib.error as error:
            raise FetchError(self._url, f"the {self._coding} body is corrupt: {error}") from error
        if not self._zlib.eof:
            raise FetchError(
                self._url,
                f"the {self._coding} body is cut short: the compressed data stops before its end "
                "(the server or a proxy broke off the transfer)",
            )
        return output


# ----------------------------------------------------------------------------------------------
# The guarded network stack: address checks and the deadline, below httpx.


class AddressRefusedError(Exception):
    """A host resolved to an address that feeds may not be fetched from. Internal to this module."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        super().__init__(f"{host} resolves to {address}")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local..."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 reaches the IPv4 host: judge that one.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the order the system prefers them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise httpcore.ConnectError(f"cannot resolve the host name {host!r}: {error}") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left before the current fetch's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the deadline for this fetch has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every call keeps the fetch's deadline, and gives the poll's CPU turn
    up (``digest.concurrency``) while it would wait on the network."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        # TLS may hold a whole record back from a readable socket, or have one buffered on a
        # quiet one: with TLS, every call may wait. A plain socket says whether it would.
        self._socket: socket.socket | None = (
            None
            if inner.get_extra_info("ssl_object") is not None
            else inner.get_extra_info("socket")
        )

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._ready(select.POLLIN):
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        with cpu_turn.waiting():
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._ready(select.POLLOUT):
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
            return
        with cpu_turn.waiting():
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def _ready(self, event: int) -> bool:
        """Whether a plain socket can be read or written without waiting: then the turn is
        kept (on a busy host most reads find their data there, and handing the turn over at
        each would cost more than the read)."""
        if self._socket is None or not cpu_turn.held:
            return False
        poller = select.poll()  # not select.select, which fails past 1,024 open files
        poller.register(self._socket, event)
        return bool(poller.poll(0))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        with cpu_turn.waiting():  # the handshake's round trips
            inner = self._inner.start_tls(
                ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)
            )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, *, allow_private_addresses: bool, resolver: Resolver) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private_addresses = allow_private_addresses
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        with cpu_turn.waiting():  # on DNS, then on the connection
            return self._connect_tcp(host, port, timeout, local_address, socket_options)

    def _connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port, _bounded(timeout, httpcore.ConnectTimeout))
        if not self._allow_private_addresses:
            for address in addresses:
                if not is_public_address(address):
                    raise AddressRefusedError(host, address)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as error:
                failure = error
                continue
            return _DeadlineStream(stream)
        raise failure or httpcore.ConnectError(f"{host} resolves to no address")

    def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The resolver's answer, within ``timeout``: getaddrinfo itself cannot be interrupted."""
        try:
            return [str(ipaddress.ip_address(host))]  # a literal needs no lookup
        except ValueError:
            pass
        if timeout is None:
            return self._resolver(host, port)
        lookup = _lookups.submit(self._resolver, host, port)
        try:
            return lookup.result(timeout=timeout)
        except FutureTimeout:
            # The lookup finishes in its thread on its own; this fetch does not wait for it.
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("feeds are not fetched over unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; one context serves every client.
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a network backend that checks addresses and keeps the deadline."""

    def __init__(self, *, allow_private_addresses: bool, resolver: Resolver = resolve_host) -> None:
        super().__init__(trust_env=False)
        # HTTPTransport offers no way to choose the network backend, so its pool is replaced by one
        # built the same way over ours; test_fetch covers both the checks and the deadline.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            # No limit: the poller's own concurrency bounds the connections in use, and a
            # request waiting for the pool to give it one would hold the CPU turn that the
            # polls using the others need to finish.
            max_connections=None,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(
                allow_private_addresses=allow_private_addresses, resolver=resolver
            ),
        )
