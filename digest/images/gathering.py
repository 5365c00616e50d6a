"""The pictures of an edition, fetched once and kept, and the addresses the mail shows them at.

    Edition ─► each picture it shows, by role (the lead's, the thumbnails)
            ─► kept already (or failed lately)? ─► used as it is: no fetch
            ─► otherwise fetched through the feeds' guarded client (digest.ingest.fetch:
               no private address unless allowed, one deadline, a size bound), a few at
               once, each host its share, none started past start_window (left for
               the next build): digest.images.fetching
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
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

import httpx

from digest.config import Settings
from digest.errors import FetchError
from digest.images.checking import PictureRefused, prepare_picture
from digest.images.fetching import fetched_pictures, in_picture_words, start_window
from digest.images.records import Role, ServedPicture
from digest.ingest.pictures import picture_url, story_pictures
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
    for url, body in fetched_pictures(client, order, settings):
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
