"""The pictures of an edition, fetched once and kept, and the addresses the mail shows them at.

    Edition ─► each picture it shows, by role (the lead's, the thumbnails)
            ─► kept already (or failed lately)? ─► used as it is: no fetch
            ─► otherwise fetched through the feeds' guarded client (digest.ingest.fetch:
               no private address unless allowed, one deadline, a size bound), a few at
               once, each host its share, none started past start_window (left for
               the next build)
               ─► checked and converted (digest.images.checking) ─► kept, or its failure kept
            ─► { (role, address): ServedPicture(base_url/images/ID.jpg, width, height) }

A picture missing from the answer is dropped from the edition: the item shows without it. The
id is an HMAC of the role and the address under the service's secret, so the mail never holds
the publisher's address and nobody can guess the id of a picture from its address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from digest.config import Settings
from digest.errors import FetchError
from digest.images.checking import PictureRefused, prepare_picture
from digest.images.records import Role, ServedPicture
from digest.ingest.fetch import build_client, fetch_feed
from digest.ingest.pictures import picture_url, story_pictures
from digest.ingest.urls import link_host
from digest.records import Edition
from digest.store import Store, StoredPicture

_log = logging.getLogger(__name__)

# A picture refused by the check is tried again after a day (the publisher may replace it); one
# that could not be fetched (a server down, a timeout) after an hour, for the next edition.
FAILURE_RETRY = timedelta(days=1)
FETCH_RETRY = timedelta(hours=1)
NOT_FETCHED = "not fetched: "
# A failure no edition asked for again in this long is forgotten (the table does not grow with
# every broken address ever seen).
FAILURES_KEPT = timedelta(days=30)
ROLES: tuple[Role, ...] = ("lead", "thumb")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
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
ID_CHARS = 32  # 128 bits of the HMAC: unguessable, and short in the mail


def picture_id(secret: str, role: Role, url: str) -> str:
    """The unguessable id of the ``role`` copy of the picture at ``url``."""
    mac = hmac.new(secret.encode("utf-8"), f"picture\n{role}\n{url}".encode(), hashlib.sha256)
    return mac.hexdigest()[:ID_CHARS]


def served_url(base_url: str, picture: str, content_type: str) -> str:
    return f"{base_url.rstrip('/')}/images/{picture}.{EXTENSIONS.get(content_type, 'jpg')}"


def shown_pictures(edition: Edition) -> Iterator[tuple[Role, str]]:
    """Each (role, address) the edition may show, once: the lead's picture, the thumbnails."""
    seen: set[tuple[Role, str]] = set()
    for item in edition.items():
        role: Role = "lead" if item is edition.lead else "thumb"
        # Each report of the story that may picture it (a known pixel is never fetched): the
        # renderer shows the first the check keeps (digest.ingest.pictures.story_picture).
        for pictured in story_pictures(item):
            url = picture_url(pictured.image_url)
            key = (role, url) if url is not None else None
            if key is not None and key not in seen:
                seen.add(key)
                yield key


def build_picture_client(settings: Settings) -> httpx.Client:
    """The client pictures are fetched with: the feeds' guards, but its own word on private
    addresses (``web.images_allow_private_addresses``), so that letting the feeds reach a
    loopback server does not let any feed's picture address reach the local network."""
    private = settings.web.images_allow_private_addresses
    return build_client(settings.ingest.model_copy(update={"allow_private_addresses": private}))


def gather_pictures(
    edition: Edition,
    *,
    settings: Settings,
    store: Store,
    client: httpx.Client,
    secret: str,
    now: datetime,
) -> dict[tuple[Role, str], ServedPicture]:
    """The service's copy of each picture ``edition`` shows, fetching those not kept yet."""
    return keep_pictures(
        shown_pictures(edition),
        settings=settings,
        store=store,
        client=client,
        secret=secret,
        now=now,
    )


def keep_pictures(
    shown: Iterable[tuple[Role, str]],
    *,
    settings: Settings,
    store: Store,
    client: httpx.Client,
    secret: str,
    now: datetime,
) -> dict[tuple[Role, str], ServedPicture]:
    """The service's copy of each (role, address) in ``shown``, fetching those not kept yet.

    An address is fetched once for both roles, so a picture that was a thumbnail yesterday and
    leads today is not fetched again."""
    wanted = {key: picture_id(secret, *key) for key in shown}
    # Shown now, before the fetches: another list's build evicting meanwhile (past
    # web.images_max_mb) takes the least recently shown pictures, which these no longer are.
    store.mark_pictures_used(wanted.values(), now)
    stored = store.stored_pictures(wanted.values())
    stale = {url for (_, url), picture in wanted.items() if not _fresh(stored.get(picture), now)}
    late: list[str] = []
    # The edition's order (the lead's picture first), each address once.
    order = [url for url in dict.fromkeys(url for _, url in wanted) if url in stale]
    # The copies of both roles already kept: the bytes under an id never change (mail already
    # sent shows them, and they are served as immutable for a year), so a fetch made for the
    # other role, which may fail or bring another picture, keeps only what is missing.
    copies = {
        picture
        for picture, kept in store.stored_pictures(
            picture_id(secret, role, url) for url in order for role in ROLES
        ).items()
        if kept.failure is None
    }
    for url, body in _fetched(client, order, settings):
        if body is None:
            late.append(url)
            continue
        for role in ROLES:
            picture = picture_id(secret, role, url)
            if picture not in copies:
                _keep(store, picture, role, url, body, now)
    if late:
        _log.info(
            "%d picture(s) not asked for within %g seconds (web.image_timeout_seconds is %g) "
            "left out of the edition, to be fetched at the next build; the first: %s",
            len(late),
            start_window(settings.web.image_timeout_seconds),
            settings.web.image_timeout_seconds,
            late[0],
        )
    if stale:
        stored = store.stored_pictures(wanted.values())  # fetched now, or evicted meanwhile
    store.evict_pictures(
        settings.web.images_max_mb * 1_000_000,
        keep=set(wanted.values()),
        failures_unused_since=now - FAILURES_KEPT,
    )
    served: dict[tuple[Role, str], ServedPicture] = {}
    base_url = settings.service.base_url
    for key, picture in wanted.items():
        kept = stored.get(picture)
        if kept is None or kept.failure is not None or kept.content_type is None:
            continue
        served[key] = ServedPicture(
            served_url(base_url, picture, kept.content_type), kept.width or 0, kept.height or 0
        )
    return served


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


def _fetched(
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
    """``_fetched``, none started past ``last_start`` (time.monotonic())."""
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


def refused_pictures(urls: Iterable[str], *, store: Store, secret: str, now: datetime) -> set[str]:
    """The addresses among ``urls`` whose picture failed lately (refused by the check, or not
    fetched) and is not to be tried again yet: an article showing one would show no picture,
    and composing should know it. Once the retry is due, the article has its picture again and
    the build tries it afresh."""
    ids = {url: picture_id(secret, "lead", url) for url in urls}
    stored = store.stored_pictures(ids.values())
    return {
        url
        for url, picture in ids.items()
        if (kept := stored.get(picture)) is not None
        and kept.failure is not None
        and _fresh(kept, now)
    }


def _fresh(kept: StoredPicture | None, now: datetime) -> bool:
    """Whether a kept picture, or a failure kept, stands: a failure is tried again later."""
    if kept is None or kept.failure is None:
        return kept is not None
    retry = FETCH_RETRY if kept.failure.startswith(NOT_FETCHED) else FAILURE_RETRY
    return now - kept.fetched_at < retry


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
# polled; what could not be fetched is tried again after FETCH_RETRY.
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


def _keep(
    store: Store, picture: str, role: Role, url: str, body: bytes | FetchError, now: datetime
) -> None:
    """Check and convert the fetched bytes, and keep the copy or the reason it failed."""
    if isinstance(body, FetchError):
        failure = NOT_FETCHED + in_picture_words(body.reason)
    else:
        try:
            prepared = prepare_picture(body, role)
        except PictureRefused as refused:
            failure = refused.reason
        else:
            store.save_picture(
                picture_id=picture,
                source_url=url,
                role=role,
                content_type=prepared.content_type,
                data=prepared.data,
                width=prepared.width,
                height=prepared.height,
                failure=None,
                now=now,
            )
            return
    _log.info("picture %s dropped from the edition: %s", url, failure)
    store.save_picture(
        picture_id=picture,
        source_url=url,
        role=role,
        content_type=None,
        data=None,
        width=None,
        height=None,
        failure=failure[:1000],
        now=now,
    )
