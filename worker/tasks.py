"""Thin tasks: decode the arguments, call one library function, return a JSON-ready outcome."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from digest import pipeline, ticking
from worker import runtime
from worker.app import app

_log = logging.getLogger(__name__)


@app.task(name="digest.poll_feed", soft_time_limit=120, time_limit=150)
def poll_feed(feed_id: int) -> dict[str, Any]:
    return pipeline.outcome_to_dict(pipeline.poll_feed(runtime.services(), feed_id))


@app.task(name="digest.build_edition", soft_time_limit=300, time_limit=360)
def build_edition(list_slug: str, slot: str) -> dict[str, Any]:
    outcome = pipeline.build_edition(runtime.services(), list_slug, datetime.fromisoformat(slot))
    return pipeline.outcome_to_dict(outcome)


@app.task(name="digest.deliver_batch", soft_time_limit=600, time_limit=660)
def deliver_batch(edition_id: int, delivery_ids: list[int]) -> dict[str, Any]:
    outcome = ticking.deliver(runtime.services(), runtime.leases(), edition_id, delivery_ids)
    return pipeline.outcome_to_dict(outcome)


@app.task(name="digest.tick", soft_time_limit=50, time_limit=55, ignore_result=True)
def tick() -> None:
    """Beat's one task: the config read afresh, the due work handed out as tasks."""
    services = runtime.refresh()
    outcome = ticking.tick(services, runtime.fanout(), runtime.leases())
    _log.info(
        "tick: %d polls, %d editions, %d delivery batches handed out",
        outcome.polls,
        len(outcome.publishes),
        outcome.batches,
    )


@app.task(name="digest.publish_edition", soft_time_limit=300, time_limit=360, ignore_result=True)
def publish_edition(list_slug: str, slot: str) -> None:
    """Build (list, slot) and send its delivery batches as tasks, waiting for none."""
    services = runtime.refresh()
    ticking.publish(
        services, runtime.fanout(), runtime.leases(), list_slug, datetime.fromisoformat(slot)
    )
