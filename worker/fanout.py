"""The tick's door to the queue: tasks sent by name, never waited for."""

from __future__ import annotations

from datetime import datetime

from worker.app import app


class CeleryFanout:
    """Sends the tasks of the distributed mode; never waits for one."""

    def poll(self, feed_id: int) -> None:
        app.send_task("digest.poll_feed", (feed_id,))

    def publish(self, list_slug: str, slot: datetime) -> None:
        app.send_task("digest.publish_edition", (list_slug, slot.isoformat()))

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None:
        app.send_task("digest.deliver_batch", (edition_id, delivery_ids))
