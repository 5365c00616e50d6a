"""When to poll a feed again: pure decisions on the outcome of the last poll.

    success ─► entries_per_day (from the entries' dates, else new entries over time)
            ─► interval = a day / entries_per_day, within the feed's [min, max], ± jitter
    failure ─► backoff = min_interval × 2^(consecutive errors − 1), capped, + jitter
            ─► never before the server's Retry-After (429, 503)
            ─► nor any other feed of the same host (scheme, host and port): the publisher's
               server asked, not the feed
    410 Gone ─► no next poll: the feed is disabled until an operator re-enables it

Nothing here reads a clock, a database or the network: callers pass ``now``, the bounds from the
config, what the feed held and a ``jitter`` drawn uniformly from [0, 1). Jitter spreads feeds that
were added together over time, so a large install never polls them all in the same second.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from digest.config import FeedSettings, IngestSettings

if TYPE_CHECKING:
    from digest.store import FeedState

DAY = timedelta(days=1)
# Entries older than this say nothing about how often the feed publishes now.
RATE_WINDOW = timedelta(days=30)
# Entries packed in less than this still count as spread over it: a feed that stamps every item
# with the same time must not look like it publishes thousands a day.
MIN_RATE_SPAN = timedelta(hours=1)
# How fast the estimate from new entries follows a change: after a day, the old one weighs 1/e.
SMOOTHING = DAY
INTERVAL_JITTER = 0.1  # a healthy feed's interval varies by ±10%
BACKOFF_JITTER = 0.25  # a failing feed's delay grows by up to 25%
# A Retry-After is honoured up to this; beyond it, the value is more likely a mistake than a wish.
RETRY_AFTER_LIMIT = timedelta(days=7)
GONE = 410
# The answers whose Retry-After speaks for the whole server, not the one feed that got it.
HOST_WAITS = frozenset({429, 503})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class PollBounds:
    """How soon and how late a feed may be polled again."""

    min_interval: timedelta
    max_interval: timedelta
    max_backoff: timedelta


def bounds_for(ingest: IngestSettings, feed: FeedSettings | None = None) -> PollBounds:
    """The [ingest] bounds, with the feed's own min/max where its [[feeds]] entry sets them."""
    low = ingest.min_interval_minutes
    high = ingest.max_interval_minutes
    if feed is not None:
        low = feed.min_interval_minutes or low
        high = feed.max_interval_minutes or high
    return PollBounds(
        min_interval=timedelta(minutes=low),
        max_interval=timedelta(minutes=max(low, high)),
        max_backoff=timedelta(minutes=ingest.max_backoff_minutes),
    )


def estimate_entries_per_day(
    entry_dates: Iterable[datetime | None],
    now: datetime,
    *,
    previous: float | None = None,
    new_entries: int = 0,
    elapsed: timedelta | None = None,
) -> float | None:
    """How many entries a day the feed publishes, or None when nothing tells yet.

    The dates of the entries in the document are the best evidence: n entries over the time from
    the oldest (within RATE_WINDOW) to now. A feed whose entries carry no date is judged by the new
    entries it brought since the last poll (``elapsed`` ago), smoothed with ``previous``.
    """
    dates = [when for when in entry_dates if when is not None and when <= now]
    if dates:
        recent = [when for when in dates if when >= now - RATE_WINDOW]
        if not recent:
            return 0.0  # everything it holds is old: a feed that has gone quiet
        span = max(now - min(recent), MIN_RATE_SPAN)
        return len(recent) / (span / DAY)
    if elapsed is None or elapsed <= timedelta(0):
        return previous
    observed = new_entries / (elapsed / DAY)
    if previous is None:
        return observed
    weight = 1 - math.exp(-(elapsed / SMOOTHING))
    return previous + weight * (observed - previous)


def interval_for(entries_per_day: float | None, bounds: PollBounds) -> timedelta:
    """The time between polls for a feed publishing ``entries_per_day``, within the bounds.

    Polling once per expected entry keeps the delay to about half an entry's interval on average.
    A feed not yet estimated is polled at the shortest interval until it is.
    """
    if entries_per_day is None:
        return bounds.min_interval
    if entries_per_day <= 0:
        return bounds.max_interval
    return _clamp(DAY / entries_per_day, bounds.min_interval, bounds.max_interval)


def next_poll_after_success(
    now: datetime, entries_per_day: float | None, bounds: PollBounds, jitter: float
) -> datetime:
    """When to poll a feed that answered (200 or 304)."""
    interval = interval_for(entries_per_day, bounds)
    spread = interval * (1 + INTERVAL_JITTER * (2 * _unit(jitter) - 1))
    return now + _clamp(spread, bounds.min_interval, bounds.max_interval)


def backoff_delay(consecutive_errors: int, bounds: PollBounds, jitter: float) -> timedelta:
    """The wait after the ``consecutive_errors``-th failure in a row (counting this one)."""
    exponent = min(max(consecutive_errors, 1) - 1, 32)  # 2^32 × a minute outgrows any cap
    base = bounds.min_interval * (2**exponent)
    delay: timedelta = min(base * (1 + BACKOFF_JITTER * _unit(jitter)), bounds.max_backoff)
    return max(delay, bounds.min_interval)  # the politeness floor holds for failing feeds too


def next_poll_after_failure(
    now: datetime,
    consecutive_errors: int,
    bounds: PollBounds,
    jitter: float,
    *,
    retry_after: float | None = None,
) -> datetime:
    """When to poll a feed whose fetch or parse failed; never before the server's Retry-After."""
    delay = backoff_delay(consecutive_errors, bounds, jitter)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(timedelta(seconds=retry_after), RETRY_AFTER_LIMIT))
    return now + delay


def retry_until(now: datetime, retry_after: float | None) -> datetime | None:
    """Until when the server asked to be left alone (its Retry-After, up to RETRY_AFTER_LIMIT);
    None when it did not ask."""
    if retry_after is None or retry_after <= 0:
        return None
    return now + min(timedelta(seconds=retry_after), RETRY_AFTER_LIMIT)


def overlong_wait(retry_after: float | None) -> str | None:
    """What a poll says of a Retry-After past RETRY_AFTER_LIMIT, which it keeps to that; None
    for a shorter one (or none)."""
    if retry_after is None or timedelta(seconds=retry_after) <= RETRY_AFTER_LIMIT:
        return None
    days = RETRY_AFTER_LIMIT.days
    return (
        f"a wait of more than {days} days is more likely a mistake than a wish: the feed, and "
        f"the other feeds of its host, are asked again in {days} days"
    )


def host_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-cased and with the default port spelt out: the
    feeds one publisher's server answers for share it, however their addresses are written. A
    host is one host with a trailing dot ("news.example.org.") and in Unicode or in its ASCII
    form ("bücher.example" and "xn--bcher-kva.example"), as DNS and the fetch take them."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port out of range: such an address is never fetched anyway
        port = None
    host = (parts.hostname or "").rstrip(".").lower()
    with contextlib.suppress(UnicodeError):  # a label too long or empty: kept as written
        host = host.encode("idna").decode("ascii")
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS.get(scheme, '')}"


def asked_to_wait(feed: FeedState) -> bool:
    """Whether the feed's last poll was a 429 or 503 with a Retry-After: the store keeps the
    origin whose server said it (``wait_asked_by``), not a reading of the error's words."""
    return (
        feed.consecutive_errors > 0
        and feed.last_status in HOST_WAITS
        and feed.wait_asked_by is not None
    )


def waits_on(feed: FeedState, host: str, now: datetime) -> bool:
    """Whether ``host``'s server answered ``feed``'s last poll with a wait that is not over at
    ``now``. The wait ends when the server said (``wait_asked_until``), not at the feed's own
    next poll, which its backoff after earlier errors may put much later. A feed taken out of
    the config since still holds its server to the wait: the server asked, not the feed. A wait
    asked at a poll dated after ``now`` is over: the clock stepped back past it (``is_due``), the
    wait's end was counted on a clock that ran ahead, and the server says again if it still
    wants one."""
    return (
        asked_to_wait(feed)
        and feed.wait_asked_by == host
        and feed.wait_asked_until is not None
        and feed.wait_asked_until > now
        and not (feed.last_fetched_at is not None and feed.last_fetched_at > now)
    )


def pauses_asked_ahead(feeds: Iterable[FeedState], now: datetime) -> dict[str, datetime]:
    """The end of each host's wait asked at a poll dated after ``now``, by host: the clock
    stepped back past that poll, so the wait is over (``waits_on``), but the host's other feeds
    were put off to its end, counted on the clock that ran ahead (``put_off_by_a_clock_ahead``)."""
    ends: dict[str, datetime] = {}
    for feed in feeds:
        asked_by, until = feed.wait_asked_by, feed.wait_asked_until
        stepped_back = feed.last_fetched_at is not None and feed.last_fetched_at > now
        if asked_to_wait(feed) and stepped_back and asked_by is not None and until is not None:
            ends[asked_by] = max(until, ends.get(asked_by, until))
    return ends


def put_off_by_a_clock_ahead(feed: FeedState, asked_ahead: dict[str, datetime]) -> bool:
    """Whether ``feed``'s next poll is the end of a wait its host asked on a clock that ran
    ahead (``pauses_asked_ahead``): the feed was put off to it, never polled since, and its own
    last poll, dated before the clock stepped back, does not tell ``is_due`` so."""
    end = asked_ahead.get(host_of(feed.fetch_url))
    return end is not None and feed.next_poll_at == end


def pause_end(host: str, feeds: Iterable[FeedState], now: datetime) -> datetime | None:
    """Until when ``host`` (``host_of``) asked to wait, by the latest of ``feeds`` it answered
    with a wait still ahead of ``now``; None when it did not ask."""
    ends = [feed.wait_asked_until for feed in feeds if waits_on(feed, host, now)]
    return max((end for end in ends if end is not None), default=None)


def paused_by(feed: FeedState, feeds: Iterable[FeedState], now: datetime) -> FeedState | None:
    """The feed whose poll ``feed``'s host answered with a wait (``asked_to_wait``) not over
    yet: the host's pause holds ``feed`` too, until that wait ends. The host is the one that
    answered, a redirect's target included, not the waiting feed's own address. ``feed`` due
    or not: a poll of the host under way when it answered records its own next poll
    afterwards. None when nothing holds it back."""
    if not feed.pollable:
        return None
    host = host_of(feed.fetch_url)
    return next((other for other in feeds if waits_on(other, host, now)), None)


def disabled_reason_for(status: int | None, url: str, answered_at: str | None = None) -> str | None:
    """Why a failure ends the feed's polling for good (410 Gone), or None when it does not.
    ``url`` is the feed's address in the config, which `digest feeds enable` takes;
    ``answered_at``, the address that answered 410 when it is another (the feed's new address
    after a 301, or where a redirect led)."""
    if status != GONE:
        return None
    return (
        f"the publisher removed the feed for good (HTTP 410 Gone at {answered_at or url}); it is "
        "no longer polled. Replace its URL in the config, or if it is back, run "
        f"`digest feeds enable {url}`"
    )


def is_due(
    next_poll_at: datetime | None, now: datetime, last_polled_at: datetime | None = None
) -> bool:
    """A feed never polled is due; otherwise it is due once its next poll time has come, or
    when its last poll is dated after ``now``: the clock stepped back past it, by how much is
    not known, and a next poll time counted on a clock that ran a day fast was a day away."""
    if next_poll_at is None or next_poll_at <= now:
        return True
    return last_polled_at is not None and last_polled_at > now


def _unit(jitter: float) -> float:
    return min(max(jitter, 0.0), 1.0)


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(value, high))
