"""A host's request to wait (a 429 or 503 with a Retry-After): every feed it serves held back.

    pause_host(host, until)      the feeds of the host put off to the end of the pause
    host_paused(feed, url, now)  whether a poll about to ask the host must not
    HostPauses                   the cycle's hosts that asked, as the store cannot show them

A host that answers one feed so pauses every feed it serves: their next polls are put off to
the end of the pause, and a poll of one of them that was already handed out (the cycle's next
ones, a worker's queued task) is dropped before its request.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from digest import polling
from digest.services import Services
from digest.shown import without_password
from digest.store import FeedState, Store

_log = logging.getLogger(__name__)


def host_paused(
    services: Services, feed: FeedState, url: str, now: datetime, pauses: HostPauses | None
) -> bool:
    """Whether the host of ``url`` (``feed``'s address, or where a redirect sends it) asked to
    wait until after ``now``: as the cycle's ``pauses`` say (read from the store at its start,
    and kept up to date during it), else as the store says now (a worker's poll task). A feed
    held back is put off to the end of the pause, so that it is not handed out again before: a
    poll of the host under way when it answered may have recorded an earlier next poll."""
    host = polling.host_of(url)
    if pauses is not None:
        until = pauses.until(host, now)
    else:
        until = polling.pause_end(host, services.store.waiting_on_servers(now), now)
    if until is None:
        return False
    if feed.next_poll_at is None or feed.next_poll_at < until:
        services.store.put_off_polls([feed.id], until)
    _log.info(
        "%s: not polled, its host asked to wait until %s",
        without_password(feed.url),
        until.isoformat(timespec="seconds"),
    )
    return True


def pause_host(services: Services, host: str, until: datetime, pauses: HostPauses | None) -> None:
    """Put off the polls of the feeds of ``host`` to ``until``: its server asked to be left
    alone, and a newsroom often follows several sections of one publisher."""
    if pauses is not None:
        pauses.pause(host, until)
    put_off_host(services, host, until)


def put_off_host(services: Services, host: str, until: datetime) -> None:
    """Put off the next poll of every feed of ``host`` to ``until`` at the earliest."""
    feeds = services.store.feed_states().values()
    services.store.put_off_polls(
        [feed.id for feed in feeds if feed.pollable and polling.host_of(feed.fetch_url) == host],
        until,
    )


class HostPauses:
    """The hosts that asked to wait, each until when, for one poll cycle: the cycle's feeds
    were read at its start, so the store's put-off polls do not show in their state."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def pause(self, host: str, until: datetime) -> None:
        with self._lock:
            self._until[host] = max(until, self._until.get(host, until))

    def hosts(self) -> list[tuple[str, datetime]]:
        with self._lock:
            return list(self._until.items())

    def until(self, host: str, now: datetime) -> datetime | None:
        """The end of ``host``'s pause, when it is after ``now``."""
        with self._lock:
            until = self._until.get(host)
        return until if until is not None and now < until else None

    @classmethod
    def from_store(cls, store: Store, now: datetime) -> HostPauses:
        """The hosts still waiting from before the cycle, each until its waiting feed's next
        poll: the cycle's feeds were read as due, perhaps by a poll that raced the pause."""
        pauses = cls()
        for feed in store.waiting_on_servers(now):
            if feed.wait_asked_by is not None and polling.waits_on(feed, feed.wait_asked_by, now):
                assert feed.wait_asked_until is not None  # waits_on says so
                pauses.pause(feed.wait_asked_by, feed.wait_asked_until)
        return pauses
