"""``digest worker`` and ``digest beat``: the processes of the distributed mode, on Celery.

Both need a broker (``DIGEST_BROKER_URL`` or ``service.broker_url``): without one they refuse to
start (exit 2), since a worker with no queue would wait for nothing and a beat with no queue would
send its ticks nowhere. A worker whose config cannot work (a DKIM key that is no key) refuses to
start too (exit 2), before it takes a task off the queue. Beat sends one ``digest.tick`` every
``--interval`` seconds; the tick, on a worker, reads the config afresh and fans the due work out
as tasks (``digest.ticking``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from digest.cli.app import app, errors, load_config
from digest.cli.boundary import EXIT_INVALID_CONFIG
from digest.config import Settings
from digest.services import build_services

TICK_SECONDS = 60.0


def _require_broker(settings: Settings, command: str) -> str:
    """The broker URL, or a one-line refusal saying what to set (exit 2)."""
    broker = settings.service.broker_url
    if not broker:
        errors.print(
            f"[bold red]digest {command} needs a broker[/]: set DIGEST_BROKER_URL "
            f"(e.g. redis://localhost:6379/0) or service.broker_url in "
            f"{escape(str(settings.source))}",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    return broker


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker processes.")
    ] = 2,
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Queues to consume, comma-separated.")
    ] = "digest",
) -> None:
    """Run a Celery worker for the distributed mode (needs DIGEST_BROKER_URL)."""
    settings = load_config()
    _require_broker(settings, "worker")
    # What the config names but only building the services reads (the DKIM key, the SMTP
    # password, the secret) is checked now, before a task is taken: a worker that cannot do the
    # work must leave it queued for one that can, not take it off the queue and fail it.
    build_services(settings, migrate=False).close()
    from worker import runtime
    from worker.app import app as celery

    runtime.configure(settings)
    celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            "--pool=prefork",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command()
def beat(
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, help="Seconds between two ticks.")
    ] = TICK_SECONDS,
) -> None:
    """Run Celery beat: one tick every interval; the tick finds what is due (needs a broker)."""
    settings = load_config()
    _require_broker(settings, "beat")
    from worker import runtime
    from worker.app import app as celery
    from worker.app import beat_schedule

    runtime.configure(settings)
    celery.conf.beat_schedule = beat_schedule(interval)
    # The schedule lives in the config, not in beat's own file: a scratch file does.
    with tempfile.TemporaryDirectory(prefix="digest-beat-") as scratch:
        celery.start(
            [
                "beat",
                "--loglevel=INFO",
                f"--schedule={Path(scratch) / 'celerybeat-schedule'}",
            ]
        )
