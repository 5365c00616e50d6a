"""Thin tasks: decode the arguments, call one library function, return a JSON-ready outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest import pipeline
from worker import runtime
from worker.app import app


@app.task(name="digest.poll_feed", soft_time_limit=120, time_limit=150)
def poll_feed(feed_id: int) -> dict[str, Any]:
    return pipeline.outcome_to_dict(pipeline.poll_feed(runtime.services(), feed_id))


@app.task(name="digest.build_edition", soft_time_limit=300, time_limit=360)
def build_edition(list_slug: str, slot: str) -> dict[str, Any]:
    outcome = pipeline.build_edition(runtime.services(), list_slug, datetime.fromisoformat(slot))
    return pipeline.outcome_to_dict(outcome)


@app.task(name="digest.deliver_batch", soft_time_limit=600, time_limit=660)
def deliver_batch(edition_id: int, delivery_ids: list[int]) -> dict[str, Any]:
    outcome = pipeline.deliver_batch(runtime.services(), edition_id, delivery_ids)
    return pipeline.outcome_to_dict(outcome)
