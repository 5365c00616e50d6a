"""Thin tasks: decode the arguments, call one library function, count its outcome
(digest.metrics), return it JSON-ready."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from digest import metrics, pipeline, retention, signup, ticking
from worker import runtime
from worker.app import app
from worker.fanout import CeleryFanout

_log = logging.getLogger(__name__)


@contextmanager
def _timed(task: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        metrics.observe_task_seconds(task, time.monotonic() - started)


@app.task(name="digest.poll_feed", soft_time_limit=120, time_limit=150)
def poll_feed(feed_id: int) -> dict[str, Any]:
    with _timed("poll_feed"):
        outcome = ticking.poll_alone(runtime.for_task(), runtime.leases(), feed_id)
    metrics.observe_poll(outcome)
    return pipeline.outcome_to_dict(outcome)


@app.task(name="digest.build_edition", soft_time_limit=300, time_limit=360)
def build_edition(list_slug: str, slot: str, by_hand: bool = False) -> dict[str, Any]:
    with _timed("build_edition"):
        outcome = pipeline.build_edition(
            runtime.for_task(), list_slug, datetime.fromisoformat(slot), by_hand=by_hand
        )
    metrics.observe_build(outcome)
    return pipeline.outcome_to_dict(outcome)


@app.task(name="digest.deliver_batch", soft_time_limit=600, time_limit=660)
def deliver_batch(edition_id: int, delivery_ids: list[int]) -> dict[str, Any]:
    with _timed("deliver_batch"):
        outcome = ticking.deliver(runtime.for_task(), runtime.leases(), edition_id, delivery_ids)
    metrics.observe_delivery(outcome)
    return pipeline.outcome_to_dict(outcome)


@app.task(name="digest.tick", soft_time_limit=50, time_limit=55, ignore_result=True)
def tick() -> None:
    """Beat's one task: the config read afresh, the due work handed out as tasks."""
    services = runtime.refresh()
    with _timed("tick"):
        outcome = ticking.tick(services, CeleryFanout(), runtime.leases())
    _log.info(
        "tick: %d polls, %d editions, %d delivery batches handed out",
        outcome.polls,
        len(outcome.publishes),
        outcome.batches,
    )


@app.task(name="digest.import_members", soft_time_limit=600, time_limit=660, ignore_result=True)
def import_members(list_slug: str) -> None:
    """A list's file too large to import within a tick, imported; the tick builds the list's
    editions once it is done (digest.ticking.hand_out_imports)."""
    with _timed("import_members"):
        ticking.import_members(runtime.for_task(), runtime.leases(), list_slug)


@app.task(name="digest.publish_edition", soft_time_limit=300, time_limit=360, ignore_result=True)
def publish_edition(list_slug: str, slot: str) -> None:
    """Build (list, slot) and send its delivery batches as tasks, waiting for none."""
    services = runtime.refresh()
    with _timed("publish_edition"):
        outcome = ticking.publish(
            services, CeleryFanout(), runtime.leases(), list_slug, datetime.fromisoformat(slot)
        )
    metrics.observe_build(outcome)


@app.task(name="digest.sign_up", soft_time_limit=60, time_limit=75, ignore_result=True)
def sign_up(list_slug: str, email: str, name: str | None) -> None:
    """A reader's sign-up from `digest serve`'s form: recorded, the confirmation mail sent."""
    services = runtime.for_task()
    with _timed("sign_up"):
        signup.handle_sign_up(
            services, services.transport, signup.SignUpRequest(list_slug, email, name)
        )


@app.task(name="digest.prune", soft_time_limit=300, time_limit=360, ignore_result=True)
def prune() -> None:
    """What is past the windows of [retention] deleted, a bounded number of batches; beat
    sends it every PRUNE_SECONDS (worker.app.beat_schedule)."""
    services = runtime.for_task()
    with _timed("prune"):
        retention.prune_cycle(services.store, services.settings, services.clock.now())
