"""The worker's consumer: Celery's, but a task message of another shape is dropped, not fatal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery.exceptions import InvalidTaskError
from celery.worker.consumer import Consumer


class TaskConsumer(Consumer):  # type: ignore[misc]  # celery is untyped
    """Celery's consumer, whose handler of task messages survives one it cannot read.

    A message under a task's name whose body is not shaped as a task's ([args, kwargs, embed]:
    another program writing to the same Redis database, a message made by hand) raised a
    ValueError or TypeError out of the consumer's loop: "Unrecoverable error", the worker
    ended, the message went back to the queue, and the next worker to take it ended too,
    until none was left. It is now handled as Celery handles an invalid task message: logged
    (worker.app says it in one line) and dropped."""

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        handle = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Any) -> Any:
            try:
                return handle(message)
            except (ValueError, TypeError) as error:
                headers = message.headers if isinstance(message.headers, dict) else {}
                said = InvalidTaskError(
                    f"task {headers.get('task')}, id {headers.get('id')}: its body is not a "
                    f"task's ({type(error).__name__})"
                )
                return self.on_invalid_task(None, message, said)

        return on_task_received
