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

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

import httpx

import digest
from digest.config import IngestSettings
from digest.errors import FetchError
from digest.ingest import network
from digest.ingest.feed_body import drain, read_body
from digest.ingest.fetch_errors import (
    at_url,
    deadline_passed,
    protocol_problem,
    refuse_unusable,
)
from digest.ingest.network import AddressRefusedError, GuardedTransport, Resolver, resolve_host
from digest.records import URL_LIMIT, FetchResult
from digest.shown import brief, shown_address

USER_AGENT_TEMPLATE = "digest/{version} (+{contact_url})"
MAX_REDIRECTS = 5
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate"  # the encodings Inflater can bound; never br or zstd
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
                return _not_modified(url, current, response, headers, permanent_redirect)
            refuse_unusable(url, current, response, now)
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


def _not_modified(
    url: str,
    current: str,
    response: httpx.Response,
    headers: dict[str, str],
    permanent_redirect: str | None,
) -> FetchResult:
    """The result of a 304 answer to the conditional request of ``headers``, keeping the
    validators sent where the server sends none again."""
    if not headers:
        # Taken as "unchanged", it would leave a feed never fetched looking healthy and empty
        # for good.
        raise FetchError(
            url,
            f"the server answered HTTP 304 Not Modified{at_url(url, current)} to a request "
            "that was not conditional (we sent no ETag or Last-Modified to compare with): it "
            "never sends the feed itself",
            status=304,
        )
    return FetchResult(
        requested_url=url,
        url=current,
        status=304,
        content=None,
        etag=_response_validator(response, "etag") or headers.get("If-None-Match"),
        last_modified=(
            _response_validator(response, "last-modified") or headers.get("If-Modified-Since")
        ),
        content_type=response.headers.get("content-type"),
        permanent_redirect=permanent_redirect,
    )


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
