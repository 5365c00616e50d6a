"""Fetch a feed over HTTP: conditional GET, redirects we follow ourselves, and hard limits.

    fetch_feed(url)
      └─ for each hop (at most MAX_REDIRECTS redirects):
           http(s) only ─► GET with If-None-Match / If-Modified-Since
             ├─ 301/308 ─► remember the new address (while the chain stays permanent), next hop
             ├─ 302/303/307 ─► next hop
             ├─ 304 ─► FetchResult(status=304, content=None)
             ├─ 4xx/5xx ─► FetchError (status, reason for the operator)
             └─ 2xx ─► read the body, inflating gzip/deflate ourselves, up to max_body_bytes

The address checks and the deadline are enforced below httpx, in the network stack of the client
``build_client`` makes (``digest.ingest.network``); the body's compression is undone by
``digest.ingest.content_coding``, within the size limit. A client built otherwise (another
transport) gets the HTTP logic but not the network guards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from typing import NoReturn
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

import httpx

import digest
from digest.config import IngestSettings
from digest.errors import FetchError, brief, shown_address
from digest.ingest import network
from digest.ingest.content_coding import Inflater
from digest.ingest.network import AddressRefusedError, GuardedTransport, Resolver, resolve_host
from digest.records import URL_LIMIT, FetchResult

USER_AGENT_TEMPLATE = "digest/{version} (+{contact_url})"
MAX_REDIRECTS = 5
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate"  # the encodings Inflater can bound; never br or zstd
CHUNK_BYTES = 64 * 1024
# The longest redirect body read to keep its connection for the next request (see drain).
DRAIN_BYTES = 16 * 1024
# The longest validators kept for the next conditional GET (an HTTP date is 29 characters; an
# ETag is a quoted token, rarely over a hundred).
ETAG_LIMIT = 500
LAST_MODIFIED_LIMIT = 100
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
    before_redirect: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """GET a feed, conditionally on the validators of the last fetch. Raises FetchError.

    ``before_redirect`` is called with each redirect's target before it is asked; whatever it
    raises ends the fetch there (a host that asked to wait gets no request). ``now`` is when the
    poll began by its clock: a Retry-After date from a server that sends no Date is counted
    from it."""
    deadline = time.monotonic() + settings.timeout_seconds
    with network.deadline(deadline):
        return _fetch(client, url, etag, last_modified, settings, deadline, before_redirect, now)


def _fetch(
    client: httpx.Client,
    url: str,
    etag: str | None,
    last_modified: str | None,
    settings: IngestSettings,
    deadline: float,
    before_redirect: Callable[[str], None] | None = None,
    now: datetime | None = None,
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
                    chain = " -> ".join(shown_address(address) for address in [*visited, target])
                    raise FetchError(url, f"redirect loop: {chain}", status=status)
                visited.append(target)
                current = target
                drain(response)
                if before_redirect is not None:
                    before_redirect(target)
                continue
            if status == 304:
                drain(response)
                if not headers:
                    # Taken as "unchanged", it would leave a feed never fetched looking healthy
                    # and empty for good.
                    raise FetchError(
                        url,
                        f"the server answered HTTP 304 Not Modified{at_url(url, current)} to a "
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
                raise status_error(url, current, response, now)
            if not 200 <= status < 300:
                raise FetchError(url, f"unexpected answer {status_label(response)}", status=status)
            if status == 204:
                raise FetchError(
                    url,
                    f"the server answered HTTP 204 No Content{at_url(url, current)}: "
                    "it has no feed to send at this address",
                    status=status,
                )
            if status == 206 and not _whole_range(response.headers.get("content-range")):
                # We never ask for a range; a part of a feed would be parsed as a short feed.
                content_range = brief(response.headers.get("content-range") or "none")
                raise FetchError(
                    url,
                    f"the server sent only part of the feed (HTTP 206 Partial Content, "
                    f"Content-Range: {content_range}){at_url(url, current)}, though we asked for "
                    "all of it",
                    status=status,
                )
            content = read_body(url, response, settings, deadline)
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
        url,
        f"more than {MAX_REDIRECTS} redirects: {' -> '.join(map(shown_address, visited))}",
        status=None,
    )


def at_url(url: str, current: str) -> str:
    """Where an answer came from, when a redirect took the fetch elsewhere: " at URL"."""
    return "" if current == url else f" at {shown_address(current)}"


def _whole_range(content_range: str | None) -> bool:
    """Whether a Content-Range ("bytes 0-2041/2042") covers the whole representation."""
    found = re.fullmatch(r"\s*bytes\s+0-([0-9]{1,15})/([0-9]{1,15})\s*", content_range or "")
    return found is not None and int(found[1]) + 1 == int(found[2])


def whole_number(text: str, digits: int = 18) -> int | None:
    """``text`` as a number of ASCII digits (str.isdigit also takes "²", which int refuses), of
    its first ``digits`` only: more is noise past any byte count or wait, and int() refuses a
    number of more than 4,300 digits, which a header can hold."""
    return int(text[:digits]) if text.isascii() and text.isdigit() else None


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
    where = "" if current == url else f" (redirected to {shown_address(current)})"
    parts = urlsplit(current)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"a {scheme}: URL" if scheme else "a URL without a scheme"
        raise FetchError(url, f"only http and https feeds can be fetched, not {what}{where}")
    try:
        # httpx takes any port number, and the system would wrap one past 65535 to another port.
        _ = parts.port
        # httpx decodes an international host name ("xn--...") for the Host header, and fails on
        # one that is no valid IDNA with a UnicodeError of its own, no httpx error: a feed's or a
        # picture's address (or a redirect) naming one is a failure of that fetch, no crash.
        _ = httpx.URL(current).host
    except UnicodeError as error:
        host = shown_address(parts.hostname or "")
        raise FetchError(
            url,
            f"invalid URL{where}: its host name {host!r} is no valid international domain name "
            f"({error})",
        ) from None
    except ValueError as error:
        raise FetchError(url, f"invalid URL{where}: {error}") from None
    except httpx.InvalidURL:
        pass  # said where the request is sent, below
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        deadline_passed(url, settings, where)
    try:
        with ExitStack() as stack:
            try:
                response = _send(client, stack, current, headers, settings, deadline)
            except UnicodeError as error:
                # The address asked for was checked above: this is the Location of a redirect,
                # which httpx reads (to offer it as the next request) though it follows none.
                raise FetchError(
                    url,
                    f"the server{where} redirects to an address whose host name is no valid "
                    f"international domain name ({error})",
                ) from None
            yield response
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
            deadline_passed(url, settings, where, error)
        kind = "connecting" if isinstance(error, httpx.ConnectTimeout) else "waiting for the server"
        raise FetchError(url, f"timed out {kind}{where}") from error
    except httpx.ConnectError as error:
        host = shown_address(urlsplit(current).hostname or "")
        raise FetchError(url, f"cannot connect to {host}{where}: {brief(str(error))}") from error
    except httpx.RemoteProtocolError as error:
        problem = protocol_problem(error)
        raise FetchError(url, f"the server broke the HTTP protocol{where}: {problem}") from error
    except httpx.HTTPError as error:
        raise FetchError(url, f"network error{where}: {brief(str(error))}") from error
    except httpx.InvalidURL as error:
        raise FetchError(url, f"invalid URL{where}: {brief(str(error))}") from error


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


def protocol_problem(error: Exception) -> str:
    text = str(error)
    for said, meant in _PROTOCOL_PROBLEMS.items():
        text = text.replace(said, meant)
    return brief(text)


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


def deadline_passed(
    url: str,
    settings: IngestSettings,
    where: str,
    cause: BaseException | None = None,
    *,
    progress: str = "",
) -> NoReturn:
    """``progress``: how much of the body had arrived, when the deadline passed while reading it."""
    raise FetchError(
        url,
        f"gave up after {settings.timeout_seconds:g} seconds{where}: fetching the feed took too "
        f"long (the limit is ingest.timeout_seconds){progress and '; '}{progress}",
    ) from cause


def _redirect_target(url: str, current: str, response: httpx.Response) -> str:
    # Some proxies repeat the header; joined, the copies would make one address of two.
    locations = response.headers.get_list("location")
    location = locations[0].strip() if locations else ""
    if not location:
        raise FetchError(
            url,
            f"HTTP {response.status_code} redirect without a Location header from "
            f"{shown_address(current)}",
            status=response.status_code,
        )
    try:
        return _with_credentials(current, str(urljoin(current, location)))
    except ValueError as error:  # urlsplit's "Invalid IPv6 URL"
        raise FetchError(
            url,
            f"HTTP {response.status_code} redirect from {shown_address(current)} to an invalid "
            f"address ({brief(location)}): {error}",
            status=response.status_code,
        ) from None


def _with_credentials(current: str, target: str) -> str:
    """``target`` with the user and password of ``current`` when it names none and is on the same
    server (http to https on the default ports included), as httpx keeps Authorization there.

    A feed behind basic auth carries them in its address; a server that redirects with an
    absolute Location (most do, http to https first of all) would otherwise be asked without
    them, and answer 401 at every poll. Another host never gets them.
    """
    here, there = urlsplit(current), urlsplit(target)
    if not here.username or there.username or there.password:
        return target
    try:
        origins = [
            (parts.scheme, parts.port or _DEFAULT_PORTS.get(parts.scheme))
            for parts in (here, there)
        ]
    except ValueError:  # a port past 65535: the fetch refuses the address, with its reason
        return target
    same_server = origins[0] == origins[1] or origins == [("http", 80), ("https", 443)]
    if here.hostname != there.hostname or not same_server:
        return target
    user_info = here.netloc.rpartition("@")[0]
    return there._replace(netloc=f"{user_info}@{there.netloc}").geturl()


def status_error(
    url: str, current: str, response: httpx.Response, now: datetime | None
) -> FetchError:
    status = response.status_code
    label = status_label(response)
    asked = _first_value(response.headers, "retry-after")
    wait = None
    if status in (429, 503):
        wait = retry_after_seconds(asked, _first_value(response.headers, "date"), now)
    # Only a wait still ahead is the server's wish (``retry_after``); the poll holds back the
    # other feeds of the server that said it (``answered_at``), whatever the words here.
    retry_after = _retry_after(asked) if wait else _no_wait(asked)
    where = at_url(url, current)
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
    return FetchError(url, reason, status=status, retry_after=wait, answered_at=current)


def status_label(response: httpx.Response) -> str:
    """The status and the server's reason phrase ("HTTP 503 Service Unavailable"), which a
    server may make as long as its headers (100 KB), cut as any detail of an error is."""
    return f"HTTP {response.status_code} {brief(response.reason_phrase)}".rstrip()


def _first_value(headers: httpx.Headers, name: str) -> str | None:
    """The first of a header's values. A proxy or CDN may repeat a header its origin sent;
    httpx joins the copies ("7200, 7200"), which no longer reads as a number or a date."""
    values = headers.get_list(name)
    return values[0] if values else None


def retry_after_seconds(
    value: str | None, date: str | None = None, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds, or an HTTP date.

    A date is measured against the response's own Date header when there is one, so a server whose
    clock is off still gets the wait it meant; without one, against ``now``, the caller's clock
    (the poll's, so the wait is the same whichever clock the poll runs on), or this machine's
    when none is given. A value that cannot be read gives None.
    """
    text = (value or "").strip()
    if not text:
        return None
    seconds = whole_number(text, digits=12)  # twelve digits are 30,000 years
    if seconds is not None:
        return float(seconds)
    when = _http_date(text)
    if when is None:
        return None
    sent = _http_date(date) if date else None
    reference = (sent or now or datetime.now(UTC)).timestamp()
    return max(0.0, when.timestamp() - reference)


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _no_wait(value: str | None) -> str:
    """A Retry-After that gives no wait (unreadable, or a time already past), said as such."""
    if not value:
        return ""
    text = " ".join(value.split())[:64]
    return f"; its Retry-After gives no wait ahead ({text}): the feed backs off as after any error"


def _retry_after(value: str | None) -> str:
    if not value:
        return ""
    text = " ".join(value.split())[:64]  # it goes into logs: no line breaks, no essays
    if whole_number(text) is not None:
        # Its digits as sent (up to 64): a number read from its first few would be another.
        return f"; the server asks to retry after {text} seconds (Retry-After: {text})"
    return f"; the server asks to retry after {text} (Retry-After)"


# ----------------------------------------------------------------------------------------------
# The body: bounded in size and time, inflated by us so a compression bomb is bounded too.


def read_body(
    url: str, response: httpx.Response, settings: IngestSettings, deadline: float
) -> bytes:
    limit = settings.max_body_bytes
    declared = whole_number(response.headers.get("content-length", ""))
    if declared is not None and declared > limit:
        _too_large(url, settings, f"the server announces {declared} bytes")
    inflater = Inflater(
        url,
        response.headers.get("content-encoding"),
        lambda: _too_large(url, settings, f"more than {limit} bytes once decompressed"),
    )
    body = bytearray()
    received = 0

    def progress() -> str:
        # A server that sends all but the end of what it announced, then keeps the connection
        # open, looks slow; said so, its lie shows (a longer limit would not help).
        if declared is not None:
            return (
                f"{received:,} of the {declared:,} bytes the server announced (Content-Length) "
                "had arrived"
            )
        return f"{received:,} bytes of the feed had arrived"

    for chunk in _iter_raw(url, response, settings, deadline, progress):
        received += len(chunk)
        if received > limit:
            _too_large(url, settings, f"more than {limit} bytes received")
        # Ask for one byte more than the room left: getting it means the limit is exceeded.
        body += inflater.inflate(chunk, limit - len(body) + 1)
        if len(body) > limit:
            _too_large(url, settings, f"more than {limit} bytes once decompressed")
        if time.monotonic() >= deadline:
            deadline_passed(url, settings, "", progress=progress())
    body += inflater.finish(limit - len(body) + 1)
    if len(body) > limit:
        _too_large(url, settings, f"more than {limit} bytes once decompressed")
    return bytes(body)


def _iter_raw(
    url: str,
    response: httpx.Response,
    settings: IngestSettings,
    deadline: float,
    progress: Callable[[], str],
) -> Iterator[bytes]:
    try:
        # Each piece as the network hands it over (at most 64 KB), not gathered into chunks of
        # a fixed size: what has arrived counts at once, for the limits and for the error.
        yield from response.iter_raw()
    except httpx.StreamConsumed:
        # A transport that hands back a response already read (httpx.MockTransport given
        # content=...) has no stream left; its content is all there is.
        yield response.content
    except httpx.TimeoutException as error:
        if time.monotonic() >= deadline:
            deadline_passed(url, settings, "", error, progress=progress())
        raise FetchError(url, f"timed out while reading the feed ({progress()})") from error
    except httpx.RemoteProtocolError as error:
        problem = protocol_problem(error)
        raise FetchError(
            url, f"the server broke the HTTP protocol while sending the feed: {problem}"
        ) from error
    except httpx.HTTPError as error:
        problem = brief(str(error))
        raise FetchError(url, f"the connection failed while reading the feed: {problem}") from error


def drain(response: httpx.Response) -> None:
    """Read a response we need nothing more of to its end, when it is short, so that its
    connection goes back to the pool: re-polling a host's feeds, or following a redirect on the
    same host, then costs no new connection. A 304 has no body; a redirect's body is read when
    it announces ``DRAIN_BYTES`` or fewer (servers put a line or two of HTML there), else its
    connection is closed. Failing to read it is no failure of the fetch, whose answer is known.
    """
    declared = whole_number(response.headers.get("content-length", ""))
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
