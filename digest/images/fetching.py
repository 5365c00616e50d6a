"""The fetches of an edition's pictures: a few at once through the feeds' guarded client, each
host its share, none started past the build's window."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from digest.config import Settings
from digest.errors import FetchError
from digest.ingest.fetch import build_client, fetch_feed
from digest.ingest.urls import link_host

_log = logging.getLogger(__name__)

FETCHES_AT_ONCE = 8
# An edition's fetches start within this many web.image_timeout_seconds of the first, so its
# pictures take at most one more to gather: an outlet whose every picture is on one host that
# drips (or is down) costs the build a few timeouts, not one for every two of its pictures.
# A picture not asked for by then is no failure: the item shows without it, the next build
# asks for it. Servers that answer fetch hundreds in that time.
FETCH_ROUNDS = 3
# The build task has 300 seconds (worker/tasks.py). However long web.image_timeout_seconds is,
# fetches start no later than this many seconds minus one timeout after the first, so the
# pictures are gathered within it; a timeout of more than half of it still gets one round.
PICTURES_SECONDS = 180


def build_picture_client(settings: Settings) -> httpx.Client:
    """The client pictures are fetched with: the feeds' guards, but its own word on private
    addresses (``web.images_allow_private_addresses``), so that letting the feeds reach a
    loopback server does not let any feed's picture address reach the local network."""
    private = settings.web.images_allow_private_addresses
    return build_client(settings.ingest.model_copy(update={"allow_private_addresses": private}))


@dataclass
class _Window:
    # Seconds of fetching the build has left: time.monotonic() spent in its gatherings counts
    # against it, the time it spends composing and rendering between them does not. None
    # until the first gathering that fetches.
    left: float | None = None


# The window shared by the gatherings of one build (one_window), None outside of one.
_build_window: ContextVar[_Window | None] = ContextVar("digest_pictures_window", default=None)


@contextmanager
def one_window() -> Iterator[None]:
    """Every gathering meanwhile, in this context, starts its fetches within one window of
    ``start_window`` seconds of fetching for them all, not a window each: a build gathers once
    for each of its drafts (a lead left out, composed again: digest.screening) and of its
    variants (readers' topics and timezones), and each asks again for the pictures the one
    before had no time for. A window each, a host that drips every picture held the build for
    one window per draft, past its time limit. The time between gatherings is not counted:
    a variant composed late still fetches its own new pictures, while the window lasts.
    Within a window already open, it is that one."""
    if _build_window.get() is not None:
        yield
        return
    token = _build_window.set(_Window())
    try:
        yield
    finally:
        _build_window.reset(token)


def start_window(timeout: float) -> float:
    """How long after the first fetch of an edition's pictures the last may start: FETCH_ROUNDS
    timeouts, cut so that the last one started ends within PICTURES_SECONDS, but never less than
    one timeout (the first round always goes)."""
    return max(timeout, min(FETCH_ROUNDS * timeout, PICTURES_SECONDS - timeout))


def fetched_pictures(
    client: httpx.Client, urls: list[str], settings: Settings
) -> Iterator[tuple[str, bytes | FetchError | None]]:
    """Each of ``urls`` fetched, as the fetches end; None for one not started in time.

    A few at once (FETCHES_AT_ONCE): each may take up to web.image_timeout_seconds, and an
    edition of forty new pictures on slow servers must still be built well within the build's
    time limit. One host gets no more at once than a feed's (ingest.per_host_concurrency), and
    the next fetch goes to the host that has had the fewest, in ``urls``' order among equals:
    hosts that drip (or are down) hold their share of the fetches, not all of them, while the
    other hosts' pictures go on. None starts past ``start_window`` after the first, or past
    what is left of the build's window (``one_window``)."""
    if not urls:
        return  # nothing to fetch spends none of the window
    window = _build_window.get()
    allowance = (
        start_window(settings.web.image_timeout_seconds)
        if window is None or window.left is None
        else window.left
    )
    begun = time.monotonic()
    try:
        yield from _fetched_within(client, urls, settings, begun + allowance)
    finally:
        if window is not None:
            window.left = max(0.0, allowance - (time.monotonic() - begun))


def _fetched_within(
    client: httpx.Client, urls: list[str], settings: Settings, last_start: float
) -> Iterator[tuple[str, bytes | FetchError | None]]:
    """``fetched_pictures``, none started past ``last_start`` (time.monotonic())."""
    per_host = settings.ingest.per_host_concurrency
    waiting: dict[str, deque[str]] = {}
    for url in urls:
        # A host that can't be read is "": the fetch refuses its address and says why.
        waiting.setdefault(link_host(url), deque()).append(url)
    busy: Counter[str] = Counter()
    started: Counter[str] = Counter()
    running: dict[Future[bytes | FetchError], tuple[str, str]] = {}
    with ThreadPoolExecutor(FETCHES_AT_ONCE, thread_name_prefix="digest-pictures") as fetches:
        while waiting or running:
            if time.monotonic() > last_start:
                for url in [url for queue in waiting.values() for url in queue]:
                    yield url, None
                waiting.clear()
            while len(running) < FETCHES_AT_ONCE:
                ready = [host for host in waiting if busy[host] < per_host]
                if not ready:
                    break
                host = min(ready, key=lambda candidate: started[candidate])
                url = waiting[host].popleft()
                if not waiting[host]:
                    del waiting[host]
                busy[host] += 1
                started[host] += 1
                running[fetches.submit(_fetch, client, url, settings)] = (host, url)
            if not running:
                continue  # past the deadline, every waiting one was said late just above
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                host, url = running.pop(future)
                busy[host] -= 1
                yield url, future.result()


# The feeds' fetch speaks of feeds and of the [ingest] settings; a picture's failure names the
# settings it was fetched under (ingest.allow_private_addresses lets no picture through).
_PICTURE_WORDS = {
    "ingest.max_body_bytes": "web.image_max_bytes",
    "ingest.timeout_seconds": "web.image_timeout_seconds",
    "ingest.allow_private_addresses": "web.images_allow_private_addresses",
    "feeds": "pictures",
    "feed": "picture",
}
# "feed" and "feeds" as words of the sentence only: not in an address or a host name the reason
# quotes ("https://example.com/feed/a.jpg", "feeds.example.com"), which must read as fetched.
_FEED_WORDS = re.compile(
    r"\bingest\.(?:max_body_bytes|timeout_seconds|allow_private_addresses)\b"
    r"|(?<![\w./:@=?&%#~+-])feeds?(?![\w/-]|\.[^\s])"
)


# Its advice for a feed, which a picture cannot follow: a picture is in no config and is not
# polled; what could not be fetched is tried again after gathering.FETCH_RETRY.
_PICTURE_ADVICE = {
    "remove it from the config or replace its URL": "the item shows without it (tried again "
    "in an hour)",
    "it may recover by the next poll": "it may recover (tried again in an hour)",
}


def in_picture_words(reason: str) -> str:
    """A fetch failure's reason as it reads for a picture ("the picture is larger than
    web.image_max_bytes"), not a feed."""
    for advice, instead in _PICTURE_ADVICE.items():
        reason = reason.replace(advice, instead)
    return _FEED_WORDS.sub(lambda found: _PICTURE_WORDS[found[0]], reason)


def _fetch(client: httpx.Client, url: str, settings: Settings) -> bytes | FetchError:
    """The bytes at ``url`` through the feeds' guarded client, within the pictures' bounds."""
    bounds = settings.ingest.model_copy(
        update={
            "max_body_bytes": settings.web.image_max_bytes,
            "timeout_seconds": settings.web.image_timeout_seconds,
        }
    )
    try:
        result = fetch_feed(client, url, etag=None, last_modified=None, settings=bounds)
    except FetchError as error:
        return error
    except Exception as error:
        # A publisher's address or server reaching an error the fetch does not expect (as the
        # feeds' polls do, digest.ingesting) costs that picture, never the edition's build.
        _log.exception("unexpected error while fetching the picture %s", url)
        return FetchError(url, f"unexpected error: {error!r}")
    return result.content or b""
