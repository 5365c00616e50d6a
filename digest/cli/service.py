"""``digest worker`` and ``digest beat``: the processes of the distributed mode, on Celery.

Both need a broker (``DIGEST_BROKER_URL`` or ``service.broker_url``): without one they refuse to
start (exit 2), since a worker with no queue would wait for nothing and a beat with no queue would
send its ticks nowhere. A worker whose config cannot work (a DKIM key that is no key) refuses to
start too (exit 2), before it takes a task off the queue. Beat sends one ``digest.tick`` every
``--interval`` seconds; the tick, on a worker, reads the config afresh and fans the due work out
as tasks (``digest.ticking``).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from digest import metrics
from digest.cli.app import app, console, errors, load_config
from digest.cli.boundary import EXIT_INVALID_CONFIG
from digest.config import Settings
from digest.services import build_services

if TYPE_CHECKING:
    from celery import Celery

TICK_SECONDS = 60.0
# The longest --interval: one tick a day. Celery's scheduler adds the interval to the date of the
# last tick, and a larger one ("1e12", "inf") ended beat in an OverflowError traceback.
LONGEST_TICK_SECONDS = 24 * 3600.0
QUEUE = "digest"  # worker.app's task_default_queue
# The most pool processes one worker may fork. Each is a whole Python process (some 100 MB) with
# database connections of its own, and a worker is meant to run near its machine's cores; an
# absurd --concurrency (100000) set about forking that many and took the machine down with it.
MOST_WORKER_PROCESSES = 256

MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=1,
        max=65535,
        help="Serve Prometheus metrics on this port (overrides the config's metrics table).",
    ),
]


def _metrics_port(option: int | None, configured: int | None, key: str) -> tuple[int, str] | None:
    """The metrics port and the name that set it (for a clear error when it is taken)."""
    if option is not None:
        return option, "--metrics-port"
    if configured is not None:
        return configured, key
    return None


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


def _require_sent_queues(queues: str) -> str:
    """``--queues`` as given, or a one-line refusal (exit 2) when it names a queue no task is sent
    to: every task goes to QUEUE, and a worker on another one took nothing, yet it answered the
    pings, so ``digest send --wait`` and ``digest status`` counted it and waited on it."""
    names = [name.strip() for name in queues.split(",")]
    unsent = [name for name in names if name != QUEUE]
    if unsent:
        errors.print(
            f"[bold red]digest worker --queues {escape(repr(queues))}[/]: no task is ever sent to "
            f"{', '.join(escape(repr(name)) for name in unsent)}: every task goes to the "
            f"'{QUEUE}' queue; leave --queues out",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    return ",".join(names)


def _warn_of_an_evicting_broker(broker: str) -> None:
    """Say at start, in the process's log, that the broker drops keys once its memory is full
    (worker.inspect.eviction_warning); the process runs on, as Redis works until it is full."""
    from worker.inspect import evicting_broker

    warning = evicting_broker(broker)
    if warning is not None:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def _require_schema(settings: Settings) -> None:
    """Refuse to start on a database whose schema is not this code's (SchemaMismatchError,
    saying to run `digest db upgrade`): checked here, before anything is consumed."""
    from digest.store.db import close_engine, database_errors, open_engine
    from digest.store.upgrades import check_schema

    url = settings.service.database_url
    with database_errors(url):
        engine = open_engine(url, statement_seconds=settings.service.database_timeout_seconds)
        try:
            check_schema(engine, url)
        finally:
            close_engine(engine)


def _celery_command(celery: Celery, argv: list[str]) -> int:
    """Run Celery's command line on ``celery`` as ``Celery.start`` does, and return its exit
    code, which ``start`` drops: a worker that stopped on an error ("Unrecoverable error", a
    broker user refused a command) exited 0, which a service manager takes for a clean stop
    and does not restart."""
    from celery.bin.celery import celery as command

    command.params[0].default = celery
    try:
        code = command.main(args=argv, standalone_mode=False)
    finally:
        command.params[0].default = None
    return code if isinstance(code, int) else 0


@app.command()
def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, max=MOST_WORKER_PROCESSES, help="Worker processes."
        ),
    ] = 2,
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Queues to consume, comma-separated.")
    ] = QUEUE,
    metrics_port: MetricsPort = None,
) -> None:
    """Run a Celery worker for the distributed mode (needs DIGEST_BROKER_URL)."""
    settings = load_config()
    broker = _require_broker(settings, "worker")
    queues = _require_sent_queues(queues)
    _require_schema(settings)
    # What the config names but only building the services reads (the DKIM key, the SMTP
    # password, the secret) is checked now, before a task is taken: a worker that cannot do the
    # work must leave it queued for one that can, not take it off the queue and fail it.
    build_services(settings, migrate=False).close()
    serving = _metrics_port(metrics_port, settings.metrics.worker_port, "metrics.worker_port")
    # Before any task module is loaded: prometheus-client picks its value store at import.
    folder = metrics.use_multiprocess_directory() if serving else None
    from worker import runtime
    from worker.app import app as celery
    from worker.inspect import refuse_a_refusing_broker

    runtime.configure(settings)
    try:
        refuse_a_refusing_broker(broker)
        _warn_of_an_evicting_broker(broker)
        if serving:
            port, key = serving
            host, bound = metrics.serve(metrics.worker_registry(), settings.metrics.host, port, key)
            console.print(f"metrics: http://{host}:{bound}/metrics", highlight=False)
        exit_code = _celery_command(
            celery,
            [
                "worker",
                f"--concurrency={concurrency}",
                f"--queues={queues}",
                "--pool=prefork",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        if exit_code:
            raise typer.Exit(exit_code)
    finally:
        if folder is not None:
            metrics.remove_multiprocess_directory(folder)


@app.command()
def beat(
    interval: Annotated[
        float,
        typer.Option(
            "--interval", min=1.0, max=LONGEST_TICK_SECONDS, help="Seconds between two ticks."
        ),
    ] = TICK_SECONDS,
    metrics_port: MetricsPort = None,
) -> None:
    """Run Celery beat: one tick every interval; the tick finds what is due (needs a broker)."""
    settings = load_config()
    broker = _require_broker(settings, "beat")
    _require_schema(settings)
    serving = _metrics_port(metrics_port, settings.metrics.beat_port, "metrics.beat_port")
    if serving:
        port, key = serving
        registry = metrics.beat_registry(metrics.broker_client(broker), QUEUE)
        host, bound = metrics.serve(registry, settings.metrics.host, port, key)
        console.print(f"metrics: http://{host}:{bound}/metrics", highlight=False)
    from worker import runtime
    from worker.app import app as celery
    from worker.app import beat_schedule
    from worker.inspect import refuse_a_refusing_broker

    refuse_a_refusing_broker(broker)
    _warn_of_an_evicting_broker(broker)
    runtime.configure(settings)
    celery.conf.beat_schedule = beat_schedule(interval)
    hangup = _Hangup()
    # The schedule lives in the config, not in a file of beat's (worker.app.TickScheduler).
    with hangup.taken():
        celery.start(["beat", "--loglevel=INFO", "--scheduler=worker.app:TickScheduler"])
    if hangup.asked:
        hangup.start_again()


class _Hangup:
    """SIGHUP to beat, as to a worker (Celery's own handler there): stop, then start again as
    the same command, reading the config and the environment anew. Its default action ended
    beat on the spot (a service manager's reload, a closed session), and with no tick nothing
    due was handed out. Beat's schedule is the config, read by each tick on a worker: the start
    again loses no slot, and its first tick is an interval after it."""

    def __init__(self) -> None:
        self.asked = False

    @contextmanager
    def taken(self) -> Iterator[None]:
        """For the block, SIGHUP stops beat as SIGTERM does (beat's loop ends on SystemExit)."""
        if sys.stdout.isatty():  # as Celery's worker: a closed terminal ends the command
            yield
            return

        from worker.app import tick_sending

        def stop(signum: int, frame: FrameType | None) -> None:
            self.asked = True
            tick_sending.stop()  # now, or once a tick being handed to the broker is sent

        previous = signal.signal(signal.SIGHUP, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGHUP, previous)

    def start_again(self) -> None:
        errors.print(
            "beat: SIGHUP: starting again, with the config and the environment as they are now",
            highlight=False,
        )
        sys.stderr.flush()
        # This very command line, as it was started (the interpreter's options included).
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606  # no shell: the same argv again
