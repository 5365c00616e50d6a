"""Prometheus metrics of the distributed mode: what an operator watches on a dashboard.

    worker task ─► outcome (PollOutcome, BuildOutcome, DeliveryOutcome) ─► observe() ─► counters
    beat        ─► QueueCollector: the broker's queue depth and tasks in hand, read at each scrape

The library's stages return outcomes and know nothing of Prometheus; the worker's thin tasks hand
each outcome to ``observe``. A Celery worker runs its tasks in forked children, so the counters
live in prometheus-client's multiprocess files (one directory per ``digest worker``, made when
it starts and removed when it stops, or by the next worker to start after one was killed) and
the worker's endpoint sums them. Queue depth is a property of the broker, not of a
worker: beat alone reports it, so that N workers do not report it N times.

``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus-client is first imported (it picks its
value store then): ``use_multiprocess_directory`` does that and is called by ``digest worker``
before any task module is loaded.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.errors import ListenError

if TYPE_CHECKING:
    import redis
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from digest.pipeline import BuildOutcome, DeliveryOutcome, PollOutcome

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The lists kombu's Redis transport keeps for one queue: the queue's own name, and one per
# priority step (``name\x06\x16N``) for messages sent with a priority.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


_FOLDER_PREFIX = "digest-metrics-"
# A file each worker's folder holds locked (flock) for as long as the worker or one of its pool
# processes lives: the kernel lets go of the lock when the last of them ends, however it ends.
_HELD_FILE = ".held"
_held: dict[Path, int] = {}  # this process's folders and the descriptors that hold them


def use_multiprocess_directory() -> Path:
    """Point prometheus-client at a fresh, empty directory for this process and its children,
    held for as long as they live; the directories of workers that are gone are removed first.

    A worker removes its directory when it stops; one killed outright (SIGKILL, the machine's
    OOM killer) could not, and each restart of such a worker left one more behind. Which
    directories are abandoned is told by their lock, not by a process id, which another
    process may have taken since (or which another container numbers differently). Making a
    directory and locking it is done under one lock with the sweep, so that a worker starting
    at the same moment never takes a directory not yet locked for abandoned."""
    parent = Path(tempfile.gettempdir())
    with _sweeping(parent):
        _remove_abandoned(parent)
        folder = Path(tempfile.mkdtemp(prefix=_FOLDER_PREFIX, dir=parent))
        held = os.open(folder / _HELD_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(held, fcntl.LOCK_EX)
        _held[folder] = held
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def remove_multiprocess_directory(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    held = _held.pop(folder, None)
    if held is not None:
        os.close(held)


@contextmanager
def _sweeping(parent: Path) -> Iterator[None]:
    """This user's lock on the metrics directories of ``parent``; without it (a lock file
    that cannot be opened), the directory is made all the same, and nothing is swept."""
    try:
        lock = os.open(
            parent / f"{_FOLDER_PREFIX}{os.getuid()}.lock",
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
            0o600,
        )
    except OSError:
        yield
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def _remove_abandoned(parent: Path) -> None:
    """Remove the metrics directories of ``parent`` whose lock no process holds. One with no
    lock file (made by an older version, whose worker may still run) is left alone, as is one
    of another user."""
    for folder in parent.glob(f"{_FOLDER_PREFIX}*"):
        try:
            held = os.open(folder / _HELD_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # not a directory, no lock file, or not ours to read
            continue
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its worker, or one of its pool processes, still runs
            continue
        else:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(held)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric the service exposes: what defines it and what documents it."""

    name: str  # as exposed; a counter's samples end in _total
    kind: str  # counter | histogram | gauge
    help: str
    labels: tuple[str, ...] = ()
    exposed_by: str = "worker"  # the process whose endpoint shows it


SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

POLLS = MetricSpec(
    "digest_polls",
    "counter",
    "Feed polls by result: fetched, not_modified (304 or the same document), error.",
    ("result",),
)
ARTICLES = MetricSpec(
    "digest_articles",
    "counter",
    "Articles the polls stored: new ones, and stored ones updated.",
    ("change",),
)
EDITIONS = MetricSpec(
    "digest_editions_built",
    "counter",
    "Editions built, per list; empty ones (no article in the window) apart.",
    ("list", "result"),
)
DELIVERIES = MetricSpec(
    "digest_deliveries",
    "counter",
    "Deliveries by outcome: sent, failed (for good), skipped (unsubscribed or suppressed before "
    "the send), retrying (a temporary failure), parked (no reply, smtp.max_attempts times). The "
    'send rate is rate(digest_deliveries_total{outcome="sent"}[1m]).',
    ("outcome",),
)
TASK_SECONDS = MetricSpec(
    "digest_task_seconds", "histogram", "How long each kind of task ran.", ("task",)
)
QUEUE_WAITING = MetricSpec(
    "digest_queue_waiting",
    "gauge",
    "Tasks in the queue no worker has taken yet.",
    ("queue",),
    exposed_by="beat",
)
QUEUE_IN_HAND = MetricSpec(
    "digest_queue_in_hand",
    "gauge",
    "Tasks a worker has taken and not yet finished (they are acknowledged after they ran).",
    exposed_by="beat",
)
DROPPED = MetricSpec(
    "digest_task_messages_dropped",
    "counter",
    "Task messages a worker dropped without running them, by reason: unknown_task (a task "
    "another release has), unreadable (a body not shaped as a task's), undecodable (not JSON), "
    "arguments (they do not fit the task). Each is also one line of the worker's log.",
    ("reason",),
)
ALL = (
    *(POLLS, ARTICLES, EDITIONS, DELIVERIES, TASK_SECONDS, DROPPED),
    *(QUEUE_WAITING, QUEUE_IN_HAND),
)

_defined: dict[str, Any] = {}
_defining = threading.Lock()  # polls run on threads: two may ask for a new metric at once


def _metric(spec: MetricSpec) -> Any:
    """The worker's metric of ``spec``, defined on first use: after the multiprocess directory
    is chosen."""
    metric = _defined.get(spec.name)
    if metric is not None:
        return metric
    with _defining:
        metric = _defined.get(spec.name)
        if metric is not None:
            return metric
        from prometheus_client import Counter, Histogram

        if spec.kind == "counter":
            metric = Counter(spec.name, spec.help, spec.labels)
        elif spec.kind == "histogram":
            metric = Histogram(spec.name, spec.help, spec.labels, buckets=SECONDS_BUCKETS)
        else:
            raise ValueError(f"{spec.name}: a {spec.kind} is not kept by the worker")
        _defined[spec.name] = metric
        return metric


def observe_poll(outcome: PollOutcome) -> None:
    # No request made: another worker's poll of the feed counts, or its host asked to wait.
    if outcome.elsewhere or outcome.paused:
        return
    if outcome.error is not None:
        result = "error"
    elif outcome.not_modified:
        result = "not_modified"
    else:
        result = "fetched"
    _metric(POLLS).labels(result=result).inc()
    _metric(ARTICLES).labels(change="new").inc(outcome.new_articles)
    _metric(ARTICLES).labels(change="updated").inc(outcome.updated_articles)


def observe_build(outcome: BuildOutcome) -> None:
    if outcome.built:  # a slot built already is not built again: nothing to count
        result = "empty" if outcome.empty else "built"
        _metric(EDITIONS).labels(list=outcome.list_slug, result=result).inc()


def observe_delivery(outcome: DeliveryOutcome) -> None:
    deliveries = _metric(DELIVERIES)
    for name in ("sent", "failed", "skipped", "retrying", "parked"):
        deliveries.labels(outcome=name).inc(getattr(outcome, name))


def observe_dropped(reason: str) -> None:
    """A task message dropped unread (``DROPPED``'s reasons)."""
    _metric(DROPPED).labels(reason).inc()


def observe_task_seconds(task: str, seconds: float) -> None:
    _metric(TASK_SECONDS).labels(task=task).observe(seconds)


# What beat reports -------------------------------------------------------------------------------


def queue_lists(queue: str) -> list[str]:
    """The Redis lists that hold a queue's waiting messages, all priorities."""
    return [queue, *(f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]


@dataclass(frozen=True, slots=True)
class QueueDepth:
    waiting: int  # messages no worker has taken yet
    in_hand: int  # taken by a worker, not yet acknowledged (running, or reserved)


def queue_depth(redis_client: redis.Redis, queue: str) -> QueueDepth:
    """The queue's depth as kombu's Redis transport keeps it (``unacked`` holds the messages
    taken and not yet acknowledged, for every queue of the broker)."""
    pipe = redis_client.pipeline()
    for name in queue_lists(queue):
        pipe.llen(name)
    pipe.hlen("unacked")
    *waiting, in_hand = pipe.execute()
    return QueueDepth(waiting=sum(waiting), in_hand=in_hand)


# How long a scrape waits on the broker for the queue's depth.
QUEUE_READ_SECONDS = 2.0


def broker_client(broker_url: str) -> redis.Redis:
    """A Redis client to read the queue's depth with, bounded in time: a broker that hangs (its
    machine paused, a network dropping packets) gives no sample, as one that refuses does. With
    redis-py's default of no timeout, each scrape of beat's endpoint hung until the TCP
    connection gave up, if ever."""
    import redis

    return redis.Redis.from_url(
        broker_url, socket_connect_timeout=QUEUE_READ_SECONDS, socket_timeout=QUEUE_READ_SECONDS
    )


class QueueCollector:
    """Reads the queue's depth from Redis at each scrape; a broker that does not answer gives
    no sample rather than a stale one (the scrape itself still succeeds)."""

    def __init__(self, redis_client: redis.Redis, queue: str) -> None:
        self._redis, self._queue = redis_client, queue

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily
        from redis.exceptions import RedisError

        try:
            depth = queue_depth(self._redis, self._queue)
        except RedisError:
            return
        waiting = GaugeMetricFamily(
            QUEUE_WAITING.name, QUEUE_WAITING.help, labels=list(QUEUE_WAITING.labels)
        )
        waiting.add_metric([self._queue], depth.waiting)
        in_hand = GaugeMetricFamily(QUEUE_IN_HAND.name, QUEUE_IN_HAND.help)
        in_hand.add_metric([], depth.in_hand)
        yield from (waiting, in_hand)


# Serving ---------------------------------------------------------------------------------------


def worker_registry() -> CollectorRegistry:
    """A registry that sums the counters every process of this worker wrote."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def beat_registry(redis_client: redis.Redis, queue: str) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(QueueCollector(redis_client, queue))
    return registry


def serve(registry: CollectorRegistry, host: str, port: int, key: str) -> tuple[str, int]:
    """Serve /metrics on (host, port) from a daemon thread; returns the address bound. Raises
    ListenError naming the config ``key`` that set the port when it cannot be bound."""
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise ListenError.from_os_error("metrics", host, port, key, error) from error
    bound_host, bound_port = server.server_address[:2]
    return str(bound_host), int(bound_port)
