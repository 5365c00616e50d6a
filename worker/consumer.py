"""The worker's consumer: Celery's, but a task message of another shape is dropped, not fatal,
and every message dropped unread is counted (``digest_task_messages_dropped_total``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.exceptions import InvalidTaskError, WorkerShutdown
from celery.worker.consumer import Consumer

from worker.dropped import count_dropped

_log = logging.getLogger(__name__)


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

    # Redis's ACL refusing the URL's user a command the consumer runs (BRPOP, PUBLISH) is a
    # channel error, retried as one since a full Redis must not end the worker: the consumer
    # started again five times a second for ever, saying "Connection to broker lost" and never
    # what to allow. No wait mends it: it is said in one line and the worker stops (exit 1;
    # a service manager starts it again, which works once the user is allowed the command).

    def on_connection_error_before_connected(self, exc: Exception) -> None:
        self._stop_if_forbidden(exc)
        super().on_connection_error_before_connected(exc)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        self._stop_if_forbidden(exc)
        super().on_connection_error_after_connected(exc)

    def _stop_if_forbidden(self, exc: Exception) -> None:
        from worker.inspect import forbidden  # it imports the app, which names this module

        problem = forbidden(self.app.conf.broker_url, exc)
        if problem is not None:
            _log.critical("%s; the worker stops", problem)
            raise WorkerShutdown(1) from exc

    # Each message dropped unread, counted: said in the log (worker.app) and nowhere else, a
    # stream of them after an upgrade went unseen.

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        count_dropped(self.app.conf.broker_url, "unknown_task")
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        count_dropped(self.app.conf.broker_url, "unreadable")
        super().on_invalid_task(body, message, exc)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        count_dropped(self.app.conf.broker_url, "unreadable")
        super().on_unknown_message(body, message)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        """A body that is not JSON (another serializer, bytes cut short): said in one line
        naming the task and its id, not Celery's traceback and dump of the body, which may
        hold a reader's address; counted, and dropped as Celery does."""
        count_dropped(self.app.conf.broker_url, "undecodable")
        headers = message.headers if isinstance(message.headers, dict) else {}
        _log.error(
            "a task message this worker cannot decode was dropped (task %s, id %s, content "
            "type %s: %s): a process running other code, or another program writing to the "
            "broker's Redis database; give every machine the same release and the digest a "
            "database of its own",
            headers.get("task"),
            headers.get("id"),
            message.content_type,
            type(exc).__name__,
        )
        message.ack()
