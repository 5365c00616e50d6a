"""The Celery settings of the distributed mode that keep a delivery batch from running twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import maybe_schedule

from digest.config import load_settings
from digest.errors import ConfigError
from worker.app import app, beat_schedule, celery_settings

CONFIG = Path(__file__).resolve().parent.parent / "config" / "example.toml"
BROKER = {"DIGEST_BROKER_URL": "redis://127.0.0.1:1/0"}


def effective_time_limits(configured: dict[str, Any]) -> dict[str, int | None]:
    """Each task's hard time limit: its own, or what the settings' annotations make it."""
    app.loader.import_default_modules()  # the tasks, with their time limits
    annotations = configured.get("task_annotations", {})
    return {
        name: annotations.get(name, {}).get("time_limit", task.time_limit)
        for name, task in app.tasks.items()
        if name.startswith("digest.")
    }


def with_worker_table(tmp_path: Path, table: str) -> Path:
    """The example config, its files found from ``tmp_path``, with a ``[worker]`` table."""
    folder = CONFIG.parent
    text = CONFIG.read_text().replace('directory = "samples"', f'directory = "{folder}/samples"')
    text = text.replace('subscribers = "subscribers/', f'subscribers = "{folder}/subscribers/')
    config = tmp_path / "digest.toml"
    config.write_text(f"{text}\n[worker]\n{table}\n")
    return config


def test_redis_hands_a_taken_task_on_only_after_the_longest_task_could_have_ended() -> None:
    settings = load_settings(CONFIG, BROKER)
    configured = celery_settings(settings)
    assert configured["task_acks_late"] and configured["task_reject_on_worker_lost"]
    visibility = configured["broker_transport_options"]["visibility_timeout"]
    limits = effective_time_limits(configured)
    assert limits["digest.deliver_batch"] == 660
    # Redelivered while it still runs, a batch would go out twice: a wide margin above each.
    assert all(limit is not None and limit * 1.2 < visibility for limit in limits.values()), limits
    # Not the default hour either: a worker lost outright holds its batches that long.
    assert visibility == 900


def test_a_shorter_batch_limit_shortens_the_hold_and_the_sweep_with_it(tmp_path: Path) -> None:
    config = with_worker_table(tmp_path, "batch_size = 50\nbatch_time_limit_seconds = 20")
    settings = load_settings(config, BROKER)
    configured = celery_settings(settings)
    options = configured["broker_transport_options"]
    assert effective_time_limits(configured)["digest.deliver_batch"] == 25
    assert configured["task_annotations"]["digest.deliver_batch"]["soft_time_limit"] == 20
    assert options["visibility_timeout"] == 25 + 240
    # Redis looks for tasks a lost worker held every tenth of the timeout, not every 100 s.
    assert options["unacked_restore_interval"] == 26 and options["unacked_restore_throttle"] == 1
    assert settings.worker.batch_size == 50


def test_a_visibility_timeout_below_the_batch_limit_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    config = with_worker_table(
        tmp_path, "batch_time_limit_seconds = 60\nvisibility_timeout_seconds = 60"
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(config, BROKER)
    message = str(refused.value)
    assert "worker" in message and "visibility_timeout_seconds (60)" in message
    assert "hard time limit (66 s" in message and "sent twice" in message


def test_beat_ticks_at_once_after_the_machine_clock_is_stepped_back() -> None:
    # Celery counts the next tick from the date of the last one: with the clock stepped back an
    # hour after a tick, no tick (no poll, edition or retry) went for an hour and a minute.
    now = [datetime(2026, 12, 6, 9, 0, tzinfo=UTC)]
    # What beat makes of the schedule's entry (a number becomes Celery's own schedule).
    tick = maybe_schedule(beat_schedule(60)["digest-tick"]["schedule"], app=app)
    tick.nowfun = lambda: now[0]
    last_tick = now[0]
    now[0] -= timedelta(hours=1)  # stepped back
    due, _ = tick.is_due(last_tick)
    assert due
    # Otherwise it keeps its interval, the clock going forward as usual.
    now[0] = last_tick + timedelta(seconds=30)
    due, next_check = tick.is_due(last_tick)
    assert not due and next_check == pytest.approx(30)
    now[0] = last_tick + timedelta(seconds=60)
    assert tick.is_due(last_tick)[0]


def test_a_stop_asked_while_a_tick_is_handed_to_the_broker_waits_for_it() -> None:
    # SIGHUP raised SystemExit wherever beat was: in the middle of kombu's exchange with Redis,
    # beat's shutdown then logged the broken connection's traceback.
    from worker.app import _TickSending

    sending = _TickSending()
    handed_over = False
    with pytest.raises(SystemExit), sending.held():
        sending.stop()  # the signal handler, during the hand-over: nothing raised yet
        handed_over = True
    assert handed_over
    with pytest.raises(SystemExit):
        sending.stop()  # between ticks: at once
