"""A pipeline Dispatcher that runs the stages as Celery tasks (in-process when the app is eager)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from celery import Celery
from celery.result import AsyncResult

from digest.pipeline import BuildOutcome, DeliveryOutcome, PollOutcome, connections, poll_feeds
from digest.sending import deliver_in_processes, start_sending_processes
from digest.store import FeedState
from worker import runtime, tasks


class CeleryDispatcher:
    def __init__(self, app: Celery) -> None:
        # In-process, feeds are polled on a pool of threads. Celery binds a task lazily, on its
        # first use, and registers it before binding it: a second thread arriving meanwhile got
        # the task half bound and failed ("'NoneType' object has no attribute 'push'"). The
        # app's tasks are all bound here, in this one thread, before any pool starts.
        app.finalize(auto=True)
        self.app = app

    def _run(self, calls: Sequence[tuple[Any, tuple[Any, ...]]]) -> Iterator[dict[str, Any]]:
        if self.app.conf.task_always_eager:
            # Eager tasks run as they are sent: send them one by one so progress shows as it goes.
            for task, args in calls:
                yield task.delay(*args).get()
            return
        results: list[AsyncResult[Any]] = [task.delay(*args) for task, args in calls]
        for result in results:
            yield result.get()

    def poll_feeds(self, feeds: Sequence[FeedState]) -> Iterator[PollOutcome]:
        if self.app.conf.task_always_eager:
            # In-process, the tasks run on the same bounded pool as the inline dispatcher.
            def poll(feed_id: int) -> PollOutcome:
                return PollOutcome(**tasks.poll_feed.apply((feed_id,)).get())

            yield from poll_feeds(runtime.services(), feeds, poll)
            return
        for outcome in self._run([(tasks.poll_feed, (feed.id,)) for feed in feeds]):
            yield PollOutcome(**outcome)

    def build_edition(
        self, list_slug: str, slot: datetime, *, by_hand: bool = False
    ) -> BuildOutcome:
        (outcome,) = self._run([(tasks.build_edition, (list_slug, slot.isoformat(), by_hand))])
        return BuildOutcome(**outcome)

    def prepare_delivery(self) -> None:
        if self.app.conf.task_always_eager:  # in-process: the sending processes start now
            services = runtime.services()
            start_sending_processes(services, connections(services))

    def deliver(self, edition_id: int, batches: Iterable[list[int]]) -> Iterator[DeliveryOutcome]:
        if self.app.conf.task_always_eager:
            # In-process, batches go on smtp.connections worker processes, one connection
            # each, as with the inline dispatcher; a lone batch runs here, as the task.
            def here(batch: list[int]) -> DeliveryOutcome:
                return DeliveryOutcome(**tasks.deliver_batch.apply((edition_id, batch)).get())

            services = runtime.services()
            yield from deliver_in_processes(
                services, edition_id, batches, connections(services), here
            )
            return
        calls = [(tasks.deliver_batch, (edition_id, batch)) for batch in batches]
        for outcome in self._run(calls):
            yield DeliveryOutcome(**outcome)
