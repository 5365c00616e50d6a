"""The tick's door to the queue: tasks sent by name, never waited for.

Each is sent with ``ignore_result``: nobody reads a fanned-out task's result (``send --wait``
and ``status`` read the ledger), and with the broker as the result backend each would be a key
kept in Redis for a day. The same tasks run by ``digest run`` (its dispatcher reads each
result) keep theirs.
"""

from __future__ import annotations

from datetime import datetime

from worker.app import app


class CeleryFanout:
    """Sends the tasks of the distributed mode; never waits for one."""

    def poll(self, feed_id: int) -> None:
        app.send_task("digest.poll_feed", (feed_id,), ignore_result=True)

    def publish(self, list_slug: str, slot: datetime) -> None:
        app.send_task("digest.publish_edition", (list_slug, slot.isoformat()), ignore_result=True)

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None:
        app.send_task("digest.deliver_batch", (edition_id, delivery_ids), ignore_result=True)

    def import_members(self, list_slug: str) -> None:
        app.send_task("digest.import_members", (list_slug,), ignore_result=True)
