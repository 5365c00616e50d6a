"""The pace of sending: at most ``smtp.send_rate`` messages to one mail server, across workers.

    deliver_batch ─► SendRate.wait() before each copy ─► the transport

A mail server or relay (a provider's API quota, an ISP's limit per sender) counts what it takes
from every worker together, so in the distributed mode the count lives on the broker's Redis and
every worker draws from it (a moving window of the `limits` library). In the embedded mode the
copies go out on ``smtp.connections`` processes with no Redis: each process keeps its own window
for its share of the rate, over a window that many times as long (``50/second`` on 4 processes:
50 per 4 seconds each), so the sum holds to the rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # `limits` is imported when a rate is set: most runs need none of it
    from limits import RateLimitItem
    from limits.storage import Storage

# The longest wait between two looks at the window: a window freed early is noticed soon.
_MAX_NAP_SECONDS = 0.5
# The most messages and the longest window a rate may name. Redis's script for the moving
# window takes its numbers as integers: a rate of 2**62 a second failed each copy's wait, and
# so every batch, in the distributed mode. Far above any mail server's pace or quota.
MOST_MESSAGES = 1_000_000_000
LONGEST_WINDOW_SECONDS = 366 * 24 * 3600
# How long a look at the shared window waits on the broker's Redis to connect, then for each
# reply. A Redis that stopped answering without going away (its machine paused) held the wait
# before a copy, and with it the batch, its rows and its mail server connection, until it woke
# or the batch's time limit stopped it. Past this the wait fails with a RedisError, as with
# Redis down: the batch records the copies sent and leaves the rest pending.
WINDOW_CALL_SECONDS = 5.0


class SendRate(Protocol):
    def wait(self) -> None:
        """Return when one more message may go to the mail server."""
        ...


class Unlimited:
    """No pace: every message goes as soon as the transport takes it."""

    def wait(self) -> None:
        return None


def parse_rate(text: str) -> RateLimitItem:
    """A rate such as ``50/second``, ``3000/minute`` or ``100 per 10 seconds``; ValueError
    saying what is accepted otherwise."""
    from limits import parse_many

    try:
        items = parse_many(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a rate: write a number of messages per unit, such as "
            "'50/second', '3000/minute' or '100 per 10 seconds'"
        ) from None
    if len(items) != 1:
        # limits.parse keeps the first of several and drops the rest: '50/second;1000/hour'
        # paced to 50 a second and never to the hourly quota the relay holds to.
        raise ValueError(
            f"{text!r} holds {len(items)} rates: smtp.send_rate takes one, the mail server's "
            "strictest, such as '1000/hour'"
        )
    [item] = items
    if item.amount < 1:
        raise ValueError(f"{text!r}: the rate must allow at least one message")
    if _names_no_time(text):
        # limits reads a window of 0 units as one unit: '5 per 0 seconds' paced to 5 a second.
        raise ValueError(f"{text!r}: the rate's window must be at least one unit long")
    if item.amount > MOST_MESSAGES or item.get_expiry() > LONGEST_WINDOW_SECONDS:
        raise ValueError(
            f"{text!r} is past what a pace can be: at most {MOST_MESSAGES} messages, over a "
            "year at most; to send with no pace, leave smtp.send_rate out"
        )
    return item


def _names_no_time(text: str) -> bool:
    """True when ``text`` (one rate that limits parsed) names a window of zero units, such as
    '5 per 0 seconds' or '5/00 minutes'."""
    from limits.util import SINGLE_EXPR  # the pattern parse_many reads each rate with

    match = SINGLE_EXPR.match(text)
    multiples = match.group(3) if match is not None else None
    return multiples is not None and int(multiples) == 0


class WindowSendRate:
    """At most ``item`` messages in any moving window, counted in ``storage`` under ``key``."""

    def __init__(
        self,
        item: RateLimitItem,
        storage: Storage,
        key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        from limits.strategies import MovingWindowRateLimiter

        self._item, self._key = item, key
        self._limiter = MovingWindowRateLimiter(storage)
        self._sleep, self._now = sleep, now

    def wait(self) -> None:
        while not self._limiter.hit(self._item, "send", self._key):
            reset_at = self._limiter.get_window_stats(self._item, "send", self._key).reset_time
            self._sleep(min(max(reset_at - self._now(), 0.001), _MAX_NAP_SECONDS))


def send_rate_for(
    rate: str | None, server: str, broker_url: str | None, processes: int
) -> SendRate:
    """The pace for copies to ``server`` (host:port): shared through the broker's Redis in the
    distributed mode, a share of it per sending process in the embedded mode."""
    if rate is None:
        return Unlimited()
    from limits.storage import MemoryStorage

    item = parse_rate(rate)
    if broker_url is not None and broker_url.startswith(("redis://", "rediss://")):
        storage, server_time = shared_window_storage(broker_url)
        return WindowSendRate(item, storage, server, now=server_time)
    share = type(item)(item.amount, item.multiples * max(processes, 1), item.namespace)
    return WindowSendRate(share, MemoryStorage(), server)


def shared_window_storage(broker_url: str) -> tuple[Storage, Callable[[], float]]:
    """Moving windows on the broker's Redis, shared by every process of every machine (the
    send rate, the sign-up limits of every `digest serve`), each entry dated by the Redis
    server's clock, each call bounded by WINDOW_CALL_SECONDS; and that clock, for the wait
    until a window frees a place."""
    from limits.storage import RedisStorage

    class RedisDatedStorage(RedisStorage):
        """limits' Redis storage of a moving window, its entries dated by the clock of the
        Redis server every worker shares, not by the clock of the worker that sends. Dated by
        each worker's own, the copies of a machine whose clock was behind looked old to the
        others, which sent theirs on top: with clocks minutes apart, the mail server took the
        rate once per machine. One TIME call more per copy; the scripts are limits' own."""

        def server_time(self) -> float:
            connection: Any = self.get_connection()  # a redis.Redis; limits types it loosely
            seconds, microseconds = connection.time()
            return float(seconds) + float(microseconds) / 1_000_000

        def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
            dated = self.server_time()
            script = self.lua_acquire_moving_window
            return bool(script([self.prefixed_key(key)], [dated, limit, expiry, amount]))

        def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
            now = self.server_time()
            window = self.lua_moving_window([self.prefixed_key(key)], [now - expiry, limit])
            return (float(window[0]), int(window[1])) if window else (now, 0)

    storage = RedisDatedStorage(
        broker_url, socket_connect_timeout=WINDOW_CALL_SECONDS, socket_timeout=WINDOW_CALL_SECONDS
    )
    return storage, storage.server_time
