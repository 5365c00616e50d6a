"""The Celery app, configured from the digest settings.

Embedded mode (no ``service.broker_url``): tasks run in the calling process (``task_always_eager``),
with no broker and no Redis server. Distributed mode (``DIGEST_BROKER_URL=redis://…``): tasks go
through the broker to any number of ``celery -A worker.app worker`` processes.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

from digest.config import Settings
from digest.gc_tuning import tune_garbage_collection
from worker import runtime

app = Celery("digest", include=["worker.tasks"])

# How long Redis keeps a task a worker took but has not acknowledged (acks_late: until it ends)
# before it hands the task to another worker. Above the longest time limit of any task
# (worker/tasks.py: a delivery batch, 660 s) with room to spare: a shorter one would hand a batch
# still running to a second worker, which would send its copies again at the same time. Not much
# longer either: a worker killed outright (its machine lost) leaves its batches unacknowledged,
# and they go again only once this has passed.
VISIBILITY_TIMEOUT_SECONDS = 900


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
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        "result_backend_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
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


def beat_schedule(interval_seconds: float) -> dict[str, Any]:
    """Beat's whole schedule: one tick; lists' own schedules are read by the tick, from config."""
    return {"digest-tick": {"task": "digest.tick", "schedule": interval_seconds}}
