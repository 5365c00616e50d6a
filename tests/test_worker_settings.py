"""The Celery settings of the distributed mode that keep a delivery batch from running twice."""

from __future__ import annotations

from pathlib import Path

from digest.config import load_settings
from worker.app import app, celery_settings

CONFIG = Path(__file__).resolve().parent.parent / "config" / "example.toml"


def test_redis_hands_a_taken_task_on_only_after_the_longest_task_could_have_ended() -> None:
    settings = load_settings(CONFIG, {"DIGEST_BROKER_URL": "redis://127.0.0.1:1/0"})
    configured = celery_settings(settings)
    assert configured["task_acks_late"] and configured["task_reject_on_worker_lost"]
    visibility = configured["broker_transport_options"]["visibility_timeout"]
    app.loader.import_default_modules()  # the tasks, with their time limits
    limits = {
        name: task.time_limit for name, task in app.tasks.items() if name.startswith("digest.")
    }
    assert "digest.deliver_batch" in limits
    # Redelivered while it still runs, a batch would go out twice: a wide margin above each.
    assert all(limit is not None and limit * 1.2 < visibility for limit in limits.values()), limits
    # Not the default hour either: a worker lost outright holds its batches that long.
    assert visibility < 3600
