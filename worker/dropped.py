"""Task messages a worker dropped without running them, counted where an operator looks: the
worker's metrics (``digest_task_messages_dropped_total``) and, in the broker, ``digest status``.
"""

from __future__ import annotations

import redis
from redis.exceptions import RedisError

from digest import metrics

# A hash of the broker: reason -> messages dropped for it, by every worker.
DROPPED_KEY = "digest:dropped-task-messages"
_SECONDS = 1.0  # a broker that does not answer costs the worker no more than this a message


def count_dropped(broker_url: str | None, reason: str) -> None:
    """One message dropped for ``reason`` (``metrics.DROPPED``'s reasons), counted in the
    worker's metrics and in the broker; a broker that does not answer loses that count only."""
    metrics.observe_dropped(reason)
    if not broker_url or not broker_url.startswith(("redis://", "rediss://")):
        return
    try:
        client = redis.Redis.from_url(
            broker_url, socket_connect_timeout=_SECONDS, socket_timeout=_SECONDS
        )
        try:
            client.hincrby(DROPPED_KEY, reason, 1)
        finally:
            client.close()
    except RedisError:
        pass


def dropped_counts(client: redis.Redis) -> dict[str, int]:
    """The messages every worker dropped unread, by reason, as the broker counted them."""
    counted: dict[bytes, bytes] = client.hgetall(DROPPED_KEY)  # type: ignore[assignment]
    return {reason.decode(): int(count) for reason, count in sorted(counted.items())}
