"""Leases on the broker's Redis, shared by every worker and beat: one expiring key each."""

from __future__ import annotations

import redis

_PREFIX = "digest:lease:"


class RedisLeases:
    """Leases shared by every worker and beat: one key each, gone when its time is up."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url)

    def claim(self, key: str, seconds: int) -> bool:
        return bool(self._redis.set(_PREFIX + key, 1, nx=True, ex=seconds))

    def renew(self, key: str, seconds: int) -> None:
        self._redis.set(_PREFIX + key, 1, ex=seconds)

    def release(self, key: str) -> None:
        self._redis.delete(_PREFIX + key)
