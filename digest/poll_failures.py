"""A failed poll recorded: when the feed is asked again, whether it is disabled for good, whether
its host asked every feed it serves to wait, and the error as the operator reads it."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from digest import jitter, polling
from digest.errors import FetchError, ParseError
from digest.host_pauses import HostPauses, pause_host
from digest.services import Services
from digest.shown import shown_address, without_password
from digest.store import FeedState

UNAUTHORIZED = 401


def _credentials_advice(feed: FeedState, answered_at: str) -> str:
    """What to do about a 401 from ``answered_at``: the feed's url is the one place the service
    takes a user and password from (basic auth), and a redirect carries them to the same server
    only."""
    if urlsplit(answered_at).username:
        return "the user and password in the feed's url were refused: check them"
    if urlsplit(feed.fetch_url).username:
        return (
            "the feed's url redirects to another server, which is never given the user and "
            "password written in it: write that server's address, with them, as the feed's url"
        )
    return (
        "if it takes a user and password (basic auth), write them in the feed's url: "
        "https://user:password@host/path"
    )


def record_poll_failure(
    services: Services,
    feed: FeedState,
    error: Exception,
    bounds: polling.PollBounds,
    now: datetime,
    pauses: HostPauses | None = None,
    *,
    status: int | None = None,
) -> str:
    """Record ``error`` as the feed's poll, and return what to tell of it; ``status``: the HTTP
    status of an answer that came whole but could not be read (a FetchError carries its own)."""
    if isinstance(error, FetchError):
        status = error.status
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    if isinstance(error, FetchError | ParseError):
        text = str(error)
    else:
        text = (
            f"{without_password(feed.url)}: unexpected error while polling "
            f"({type(error).__name__}: {error}); "
            "the other feeds were polled; the service log has the details"
        )
    answered_at = error.answered_at if isinstance(error, FetchError) else None
    if status == UNAUTHORIZED:
        text = f"{text}; {_credentials_advice(feed, answered_at or feed.fetch_url)}"
    disabled_reason = polling.disabled_reason_for(
        status,
        without_password(feed.url),
        shown_address(answered_at) if answered_at is not None else None,
    )
    next_at = None
    if disabled_reason is None:
        next_at = polling.next_poll_after_failure(
            now,
            feed.consecutive_errors + 1,
            bounds,
            jitter.draw(),
            retry_after=retry_after,
        )
    until = polling.retry_until(now, retry_after) if status in polling.HOST_WAITS else None
    overlong = polling.overlong_wait(retry_after) if until is not None else None
    if overlong is not None:
        text = f"{text}; {overlong}"
    asker = None
    if until is not None and disabled_reason is None:
        # The server that answered asked, which a redirect may have taken to another host.
        asker = polling.host_of(answered_at or feed.fetch_url)
    services.store.record_failure(
        feed.id,
        text,
        now,
        status,
        next_poll_at=next_at,
        disabled_reason=disabled_reason,
        wait_asked_by=asker,
        wait_asked_until=until,
    )
    if until is not None and asker is not None:
        pause_host(services, asker, until, pauses)
    if disabled_reason is not None:
        # It says what the fetch's error says, where, and what to do: printed after that error,
        # the two said "for good" twice, each with its own advice.
        text = f"{without_password(feed.url)}: {disabled_reason}"
    return text
