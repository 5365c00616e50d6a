"""The tick's door to the queue and to Redis: tasks sent by name, leases as expiring Redis keys."""

from __future__ import annotations

from datetime import datetime

import redis

from worker.app import app

_PREFIX = "digest:lease:"


class CeleryFanout:
    """Sends the tasks of the distributed mode; never waits for one."""

    def poll(self, feed_id: int) -> None:
        app.send_task("digest.poll_feed", (feed_id,))

    def publish(self, list_slug: str, slot: datetime) -> None:
        app.send_task("digest.publish_edition", (list_slug, slot.isoformat()))

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None:
        app.send_task("digest.deliver_batch", (edition_id, delivery_ids))


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
