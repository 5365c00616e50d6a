"""The sign-up form's rate limits: per client address and per email address, moving windows.

    a sign-up ─► SignUpLimits.client(address)        web.signup_rate_per_client
               ─► SignUpLimits.address(email's key)   web.signup_rate_per_address, and
                                                      web.signup_rate_per_address_daily
               over any ─► the seconds until the window lets one more in (a 429 page)

The address's second, longer window bounds the confirmation mails a stranger's form can make
one mailbox receive in a day: 3 an hour alone would let 72 through.

Counted in the broker's Redis in the distributed mode, so every `digest serve` process shares
the counts, and in the process's memory otherwise (`limits`, as digest.send_rate). An email
address is counted under its key (an HMAC, digest.addresses), never as itself: Redis holds no
reader's address.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from digest.errors import DigestError
from digest.send_rate import parse_rate, shared_window_storage

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.storage import Storage

    from digest.config import Settings

_log = logging.getLogger(__name__)
NAMESPACE = "digest-sign-up"


class LimitsUnavailable(DigestError):
    """The rate limits' storage (the broker's Redis) did not answer: a 503, nothing done."""


class SignUpLimits:
    """Moving windows in ``storage``: one per client address, one or two per email address
    (``per_address``, and ``per_address_daily`` when given)."""

    def __init__(
        self,
        per_client: str,
        per_address: str,
        storage: Storage,
        *,
        per_address_daily: str | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        from limits.strategies import MovingWindowRateLimiter

        self._per_client: RateLimitItem = parse_rate(per_client)
        self._per_address: tuple[RateLimitItem, ...] = tuple(
            parse_rate(rate) for rate in (per_address, per_address_daily) if rate is not None
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._now = now

    def client(self, address: str) -> int | None:
        """Count one sign-up from ``address``: None when it may go on, else the seconds to
        wait (at least 1)."""
        return self._hit(self._per_client, "client", address)

    def address(self, key: str) -> int | None:
        """Count one sign-up for the email address whose key is ``key``; as ``client``, the
        longest wait of its windows."""
        waits = [self._hit(item, "address", key) for item in self._per_address]
        return max((wait for wait in waits if wait is not None), default=None)

    def _hit(self, item: RateLimitItem, kind: str, who: str) -> int | None:
        try:
            if self._limiter.hit(item, NAMESPACE, kind, who):
                return None
            reset_at = self._limiter.get_window_stats(item, NAMESPACE, kind, who).reset_time
        except Exception as error:  # whatever the storage's client raises
            # Redis is the broker too: without it no confirmation could be queued either.
            _log.error("the sign-up rate limits cannot be counted: %s", error)
            raise LimitsUnavailable(f"the rate limits' storage failed: {error}") from error
        return max(1, math.ceil(reset_at - self._now()))


def sign_up_limits(settings: Settings) -> SignUpLimits:
    """The limits of ``[web]``, in the broker's Redis when there is one, else in memory."""
    from limits.storage import MemoryStorage

    web, broker = settings.web, settings.service.broker_url
    if broker is not None and broker.startswith(("redis://", "rediss://")):
        # Bounded in time: a Redis that stopped answering (its machine paused) held each
        # sign-up's request, and the thread it was counted on, with no end. Dated by Redis's
        # clock, as every `digest serve` machine counts in the same windows.
        storage, server_time = shared_window_storage(broker)
        return SignUpLimits(
            web.signup_rate_per_client,
            web.signup_rate_per_address,
            storage,
            per_address_daily=web.signup_rate_per_address_daily,
            now=server_time,
        )
    return SignUpLimits(
        web.signup_rate_per_client,
        web.signup_rate_per_address,
        MemoryStorage(),
        per_address_daily=web.signup_rate_per_address_daily,
    )
