"""The Celery app, configured from the digest settings.

Embedded mode (no ``service.broker_url``): tasks run in the calling process (``task_always_eager``),
with no broker and no Redis server. Distributed mode (``DIGEST_BROKER_URL=redis://…``): tasks go
through the broker to any number of ``celery -A worker.app worker`` processes.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from celery import Celery, Task
from celery.beat import Scheduler, SchedulingError
from celery.schedules import schedstate, schedule
from celery.signals import before_task_publish, task_prerun, worker_init, worker_process_init

from digest.config import Settings
from digest.gc_tuning import tune_garbage_collection
from digest.shown import brief, without_password
from worker import runtime

_log = logging.getLogger(__name__)


class TaskOfThisRelease(Task):  # type: ignore[misc]  # celery is untyped
    """A task whose message's arguments are checked against this release's before it runs.

    A message left in Redis by another release (a task that took another argument since) ran
    into a TypeError: Celery's traceback for each one, and nothing counted it. It is now one
    line naming the task and how its arguments differ (never their values: a sign-up's hold a
    reader's address), counted, and dropped."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            inspect.signature(self.run).bind(*args, **kwargs)
        except TypeError as error:
            from worker.dropped import count_dropped  # not at import: it reads the broker

            count_dropped(self.app.conf.broker_url, "arguments")
            _log.error(
                "task %s, id %s: its arguments do not fit this release's task (%s): it was sent "
                "by a process running other code; give every machine the same release. The "
                "message is dropped: a poll, build or delivery is handed out again once its "
                "lease lapses",
                self.name,
                self.request.id,
                error,
            )
            return None
        return super().__call__(*args, **kwargs)


app = Celery("digest", include=["worker.tasks"], task_cls=TaskOfThisRelease)

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)


class _PasswordsMasked(logging.Filter):
    """Masks the password of every address in a record ("user:***@host"). The worker logs at
    INFO, where httpx writes one line per request with its whole URL: a feed behind basic auth
    carries its password in its address, which was written into the log at every poll."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _URL.sub(lambda found: without_password(found.group(0)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


logging.getLogger("httpx").addFilter(_PasswordsMasked())


class _ForeignTasksSaidPlainly(logging.Filter):
    """Celery's report of a task message the worker drops, unregistered or unreadable, as one
    line for the operator. Celery wrote some 25 lines of advice to the task's developer, with
    its traceback and the message's whole body: a sign-up's body holds the reader's address,
    which the workers' logs never name. A task unknown here comes from a process on other
    code, a machine upgraded before this one (or not yet)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.args, tuple) or not isinstance(record.msg, str):
            return True
        if record.msg.startswith("Received unregistered task of type"):
            headers = record.args[2] if len(record.args) > 2 else None
            name = headers.get("task") if isinstance(headers, dict) else None
            record.msg, record.args = _FOREIGN_TASK, (name or "of another release",)
        elif record.msg.startswith("Received invalid task message"):
            record.msg, record.args = _UNREADABLE_TASK, (record.args[0],)
        else:
            return True
        record.exc_info = record.exc_text = None
        return True


_FOREIGN_TASK = (
    "task %s is not one this worker knows: it was sent by a process running other code (a "
    "newer release?); give every machine the same release. The message is dropped: a poll, "
    "build or delivery is handed out again once its lease lapses, a sign-up is lost"
)
_UNREADABLE_TASK = (
    "a task message this worker cannot read was dropped (%s): another program writes to the "
    "broker's Redis database, or a process running other code; give the digest a database "
    "of its own (redis://host:6379/N) and every machine the same release"
)
logging.getLogger("celery.worker.consumer.consumer").addFilter(_ForeignTasksSaidPlainly())

# The broker keeps a task a worker took but has not acknowledged (acks_late: until it ends) for
# ``worker.visibility_timeout_seconds`` before it hands it to another worker: above the hard time
# limit of a delivery batch (``worker.batch_time_limit_seconds``), so that a batch still running
# is never handed out twice; not much longer, since a worker killed outright (its machine lost)
# leaves its batches unacknowledged until then. The other tasks' limits are far below it.
# Redis's sweep for such tasks runs every tenth of it (at most a minute): without that, kombu's
# default sweep (every 100 s) would add more than a short timeout's own length.


def celery_settings(settings: Settings) -> dict[str, Any]:
    common: dict[str, Any] = {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_default_queue": "digest",
    }
    broker = settings.service.broker_url
    if broker is None:
        return common | {
            "broker_url": "memory://",
            "result_backend": "cache+memory://",
            "task_always_eager": True,
            "task_eager_propagates": True,
        }
    worker = settings.worker
    transport_options = {
        "visibility_timeout": worker.visibility_timeout,
        "unacked_restore_interval": min(60, max(1, worker.visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
    }
    return common | {
        "broker_url": broker,
        "result_backend": broker,
        "task_always_eager": False,
        # A task is acknowledged after it ran, so a worker that dies mid-task leaves it queued;
        # the tasks are idempotent (ledger rows, (list, slot) keys), so running twice is safe.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        # Redis refusing a command (at its memory limit: "OOM command not allowed", refused to
        # a task's acknowledgement) is a channel error, which ended the worker ("Unrecoverable
        # error") with the rest of the delivery left to none; retried like a lost connection,
        # the consumer starts again, the unacknowledged batch comes back, and the ledger keeps
        # every copy it sent from going twice.
        "broker_channel_error_retry": True,
        "broker_transport_options": transport_options,
        # Celery's consumer ended the worker on a task message it could not read.
        "worker_consumer": "worker.consumer:TaskConsumer",
        "result_backend_transport_options": {"visibility_timeout": worker.visibility_timeout},
        # The longest tasks get the batch's limits, which the visibility timeout is set above:
        # one still running is never handed to a second worker.
        "task_annotations": {
            name: {
                "soft_time_limit": worker.batch_time_limit_seconds,
                "time_limit": worker.batch_hard_time_limit_seconds,
            }
            for name in ("digest.deliver_batch", "digest.import_members")
        },
    }


@app.on_configure.connect
def _configure_from_settings(sender: Celery, **_: Any) -> None:
    sender.conf.update(celery_settings(runtime.settings()))


@worker_init.connect
def _tuned_worker(**_: Any) -> None:
    tune_garbage_collection()  # the worker itself, which runs the tasks with a solo or thread pool


@worker_process_init.connect
def _fresh_services_in_child(**_: Any) -> None:
    # Database connections and HTTP pools must not be shared across a fork.
    runtime.reset()
    tune_garbage_collection()


# The sender's config, as ``runtime.fingerprint``: a worker whose own differs says so.
CONFIG_HEADER = "digest_config"
# Sent by beat, whose config is read at its start only; the tick and the prune read the file
# afresh themselves.
_UNSTAMPED = frozenset({"digest.tick", "digest.prune"})


@before_task_publish.connect
def _stamp_config(
    sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any
) -> None:
    if headers is not None and sender not in _UNSTAMPED:
        headers[CONFIG_HEADER] = runtime.fingerprint()


@task_prerun.connect
def _compare_config(task: Any = None, **_: Any) -> None:
    sent = task.request.get(CONFIG_HEADER) if task is not None else None
    if isinstance(sent, str):  # absent in-process (eager tasks are not published)
        runtime.note_sender(sent, task.name)


class TickInterval(schedule):  # type: ignore[misc]  # celery is untyped
    """Every ``run_every`` seconds, as Celery's ``schedule``, but due at once when the last tick
    is dated after now: the machine's clock was stepped back since (an NTP correction, a virtual
    machine restored). Celery counts the next tick from the last one's date, so a clock stepped
    back an hour held every tick, and with it every poll, edition and retry, for that hour. A
    tick run early is harmless: work in hand is not handed out twice (digest.ticking)."""

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = self.maybe_make_aware(self.now())
        if self.maybe_make_aware(last_run_at) > now:
            return schedstate(is_due=True, next=self.seconds)
        return super().is_due(last_run_at)


_log = logging.getLogger(__name__)


class _TickSending:
    """Whether beat is handing a tick to the broker now; a stop asked meanwhile (SIGHUP, by
    ``digest beat``) waits for the hand-over to end. Raised in the middle of it, the stop cut
    kombu's exchange with Redis short, and beat's shutdown logged the broken connection's
    traceback; the tick itself was sent again by the next beat either way."""

    def __init__(self) -> None:
        self.active = False
        self.stop_asked = False

    @contextmanager
    def held(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False
            if self.stop_asked:
                raise SystemExit(0)

    def stop(self) -> None:
        """End beat now (SystemExit, as its loop expects), or once the tick in hand is sent."""
        if self.active:
            self.stop_asked = True
            return
        raise SystemExit(0)


tick_sending = _TickSending()


class TickScheduler(Scheduler):  # type: ignore[misc]  # celery is untyped
    """Celery's scheduler, kept in memory, but a tick the broker refused (a Redis at its memory
    limit, one that refuses this user's writes) is told in one line, as an operator can act on
    it. Celery logged it with its traceback and the whole stack, some 150 lines a tick, every
    minute; a failure of another kind keeps them.

    The schedule is the config, read by each tick, and its one entry, the tick, needs no
    memory of past runs: Celery's persistent scheduler kept a file beat had to be given a folder
    for, which a beat killed before it could clean up left behind."""

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        _log.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            with tick_sending.held():
                self.apply_async(entry, producer=producer, advance=False)
        except SchedulingError as error:
            refusal = _broker_refusal(error)
            if refusal is None:  # as Celery logs it
                _log.error("Message Error: %s", error, exc_info=True)
                return
            _log.error("beat: tick not sent: %s", refusal)


# How redis-py words an error reply to a pipeline's command (kombu sends a task as one).
_PIPELINE_COMMAND = re.compile(r"^Command # \d+ \(.*?\) of pipeline caused error: ")


def _broker_refusal(error: BaseException) -> str | None:
    """What the operator is told of a tick the broker refused, or None when ``error`` is not
    the broker's refusal (Redis's reply, however kombu and Celery wrapped it)."""
    from redis.exceptions import OutOfMemoryError, ResponseError  # beat's broker is Redis

    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ResponseError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    reason = brief(_PIPELINE_COMMAND.sub("", str(cause))).rstrip(".")
    said = f"the broker {without_password(str(app.conf.broker_url))} refused it: {reason}"
    if isinstance(cause, OutOfMemoryError):
        said += (
            "; it is full: raise its maxmemory, or see what fills it (digest status shows "
            "the queue)"
        )
    return f"{said}; the next tick tries again"


# How often beat sends the prune task (digest.retention): each deletes a bounded share of what
# is past the windows, so an old database is brought down over a few runs, not in one.
PRUNE_SECONDS = 600


def beat_schedule(interval_seconds: float) -> dict[str, Any]:
    """Beat's whole schedule: the tick, whose lists' own schedules are read from config, and
    the prune. Two beats at once send each twice, which is harmless: a tick hands out nothing
    twice, and two prunes delete each row once."""
    return {
        "digest-tick": {"task": "digest.tick", "schedule": TickInterval(interval_seconds)},
        "digest-prune": {"task": "digest.prune", "schedule": TickInterval(PRUNE_SECONDS)},
    }
