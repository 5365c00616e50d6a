"""A feed's body read within its limits, inflated by us so a compression bomb is bounded too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import NoReturn

import httpx

from digest.config import IngestSettings
from digest.errors import FetchError
from digest.ingest.content_coding import Inflater
from digest.ingest.fetch_errors import deadline_passed, protocol_problem, whole_number
from digest.shown import brief

CHUNK_BYTES = 64 * 1024
# The longest redirect body read to keep its connection for the next request (see drain).
DRAIN_BYTES = 16 * 1024


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
