"""What `digest status` shows of the distributed mode: the workers that answer, the queue's depth.

Read from the broker (a control ping, and the lists of kombu's Redis transport), never from task
results. Short timeouts: a status report must come back even when the broker does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from digest.errors import BrokerUnavailableError, NoWorkerError, brief, without_password
from digest.metrics import QueueDepth, queue_depth
from worker.app import app

PING_SECONDS = 1.0
WORKER_PATIENCE_SECONDS = 10.0  # how long a command waits for a worker that is starting

# What the leases (redis-py) and the task messages (kombu) raise when the broker is away.
BROKER_ERRORS = (RedisError, OperationalError)


@dataclass(frozen=True, slots=True)
class ServiceState:
    workers: tuple[str, ...]  # the names of the workers that answered a ping
    queue: QueueDepth | None
    problem: str | None = None  # why the broker could not be read


def service_state(broker_url: str, queue: str, timeout: float = PING_SECONDS) -> ServiceState:
    client = redis.Redis.from_url(
        broker_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        depth = queue_depth(client, queue)
    except RedisError as error:
        return ServiceState(
            (),
            None,
            f"the broker {without_password(broker_url)} does not answer: {brief(str(error))}",
        )
    finally:
        client.close()
    replies = app.control.ping(timeout=timeout) or []
    workers = sorted(name for reply in replies for name in reply)
    return ServiceState(tuple(workers), depth)


def require_broker(broker_url: str, timeout: float = PING_SECONDS) -> None:
    """Return once the broker answers a ping; else BrokerUnavailableError, before a command
    builds or stores anything that it would then hand to no one."""
    client = redis.Redis.from_url(
        broker_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
    except RedisError as error:
        raise BrokerUnavailableError(broker_url, str(error)) from error
    finally:
        client.close()


def require_workers(
    broker_url: str, timeout: float = PING_SECONDS, patience: float = WORKER_PATIENCE_SECONDS
) -> None:
    """Return once the broker and a worker answer; else BrokerUnavailableError, or
    NoWorkerError when no worker has answered for ``patience`` seconds (one started with the
    command, by the same service manager, answers a few seconds after). For a command that
    hands tasks to the workers and waits for each result: with no worker, it would wait for
    ever, saying nothing."""
    require_broker(broker_url, timeout)
    deadline = time.monotonic() + patience
    while not app.control.ping(timeout=timeout):
        if time.monotonic() >= deadline:
            raise NoWorkerError(broker_url)
