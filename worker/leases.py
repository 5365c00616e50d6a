"""Leases on the broker's Redis, shared by every worker and beat: one expiring key each, and a
count of the pieces of work held under it beside it."""

from __future__ import annotations

from typing import cast

import redis

_PREFIX = "digest:lease:"
# How long a lease call waits on Redis to connect, and then for each reply. A Redis that stops
# answering without going away (its machine paused, a network dropping packets) held every
# call, and so the tick or the batch making it, until it woke or the task's hard time limit
# killed the task (eleven minutes for a batch). Past this, the call fails with a RedisError, as
# when Redis is down: the task fails and the ledger keeps its rows pending for a later hand-out.
# Well above a reply's few milliseconds, even from a Redis busy saving or across a network.
LEASE_CALL_SECONDS = 5.0

# One piece of work under a lease is done: count it off, and free the lease when none is left.
# A script, so that no hold can come between the count and the delete.
_RELEASE = """
local left = redis.call('DECR', KEYS[2])
if left <= 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return left
"""


class RedisLeases:
    """Leases shared by every worker and beat: one key each, gone when its time is up or when
    the last piece of work held under it is released (a count kept beside it)."""

    def __init__(self, url: str, timeout: float = LEASE_CALL_SECONDS) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._release = self._redis.register_script(_RELEASE)

    def claim(self, key: str, seconds: int) -> bool:
        return bool(self._redis.set(_PREFIX + key, 1, nx=True, ex=seconds))

    def renew(self, key: str, seconds: int) -> None:
        with self._redis.pipeline() as pipe:
            pipe.set(_PREFIX + key, 1, ex=seconds)
            pipe.expire(_PREFIX + key + ":held", seconds)
            pipe.execute()

    def hold(self, key: str, seconds: int) -> None:
        with self._redis.pipeline() as pipe:
            pipe.incr(_PREFIX + key + ":held")
            pipe.expire(_PREFIX + key + ":held", seconds)
            pipe.set(_PREFIX + key, 1, ex=seconds)
            pipe.execute()

    def release(self, key: str) -> None:
        self._release(keys=[_PREFIX + key, _PREFIX + key + ":held"])

    def held(self) -> list[tuple[str, int]]:
        """Every lease held now, as (key, seconds left), without the counts beside them."""
        found = []
        for name in self._redis.scan_iter(match=_PREFIX + "*", count=1000):
            key = name.decode() if isinstance(name, bytes) else str(name)
            if key.endswith(":held"):
                continue
            seconds = int(cast(int, self._redis.ttl(key)))  # -1: no time limit
            if seconds != -2:  # -2: lapsed since the scan
                found.append((key.removeprefix(_PREFIX), seconds))
        return found
