"""What `digest status` shows of the distributed mode: the workers that answer, the queue's depth.

Read from the broker (a control ping, and the lists of kombu's Redis transport), never from task
results. Short timeouts: a status report must come back even when the broker does not.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from kombu.exceptions import OperationalError
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError, ResponseError

from digest.errors import (
    BrokerCertificateError,
    BrokerForbiddenError,
    BrokerRefusedError,
    BrokerUnavailableError,
    NoWorkerError,
)
from digest.metrics import QueueDepth, queue_depth
from digest.shown import brief, without_password
from worker.app import app
from worker.dropped import dropped_counts

PING_SECONDS = 1.0
WORKER_PATIENCE_SECONDS = 10.0  # how long a command waits for a worker that is starting
# How long a command that follows the ledger bears with a broker that stopped answering (a
# restart takes a second or two), or with no worker answering (one restarting), and how often
# it asks each: a ping of the workers waits PING_SECONDS for their replies.
BROKER_PATIENCE_SECONDS = 15.0
BROKER_CHECK_SECONDS = 2.0
WORKERS_CHECK_SECONDS = 5.0

# What the leases (redis-py) and the task messages (kombu) raise when the broker is away.
BROKER_ERRORS = (RedisError, OperationalError)
# What redis-py raises when the broker answers and refuses the URL's password, user or database
# number: no wait mends it, a corrected URL does.
REFUSALS = (AuthenticationError, ResponseError)


@dataclass(frozen=True, slots=True)
class ServiceState:
    workers: tuple[str, ...]  # the names of the workers that answered a ping
    queue: QueueDepth | None
    problem: str | None = None  # why the broker could not be read
    eviction_policy: str | None = None  # the broker's, when it drops keys once full
    dropped: tuple[tuple[str, int], ...] = ()  # task messages the workers dropped, by reason


def eviction_policy(client: redis.Redis) -> str | None:
    """The broker's ``maxmemory-policy`` when Redis drops keys to stay under its memory limit;
    None when it keeps them (``noeviction``, or no limit set) or will not say. Read from
    ``INFO memory``, which a user whom ``CONFIG`` is refused may still run."""
    try:
        memory: dict[str, Any] = client.info("memory")  # type: ignore[assignment]  # sync client
    except RedisError:
        return None
    policy = str(memory.get("maxmemory_policy", "noeviction"))
    if policy == "noeviction" or not int(memory.get("maxmemory", 0)):
        return None
    return policy


def eviction_warning(broker_url: str, policy: str) -> str:
    """What to tell the operator of a broker that drops keys once full: kombu's queue is a
    Redis list, a lease a key; either dropped is lost without a word from Redis."""
    return (
        f"the broker {without_password(broker_url)} evicts keys when its memory is full "
        f"(maxmemory-policy {policy}): a task waiting in the queue, a sign-up or a lease may "
        "vanish; set maxmemory-policy noeviction in its redis.conf (or CONFIG SET) and give it "
        "the memory the queue needs"
    )


def evicting_broker(broker_url: str, timeout: float = PING_SECONDS) -> str | None:
    """``eviction_warning`` for the broker, or None when it keeps its keys or does not answer
    (``digest worker`` and ``digest beat`` say so themselves)."""
    with _broker_client(broker_url, timeout) as client:
        policy = eviction_policy(client)
    return None if policy is None else eviction_warning(broker_url, policy)


@contextmanager
def _broker_client(broker_url: str, timeout: float) -> Iterator[redis.Redis]:
    """A client of the broker whose every call gives up after ``timeout``, closed after use."""
    client = redis.Redis.from_url(
        broker_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        yield client
    finally:
        client.close()


def broker_error(
    broker_url: str, error: RedisError
) -> BrokerRefusedError | BrokerCertificateError | BrokerUnavailableError:
    """What ``error`` of the broker is, to tell: the URL's password, user or database number
    refused, or its TLS certificate not trusted here (no wait mends either), or no answer."""
    if isinstance(error, NoPermissionError):
        return BrokerForbiddenError(broker_url, str(error))
    if isinstance(error, REFUSALS):
        return BrokerRefusedError(broker_url, str(error))
    return untrusted_certificate(broker_url, error) or BrokerUnavailableError(
        broker_url, str(error)
    )


def service_state(broker_url: str, queue: str, timeout: float = PING_SECONDS) -> ServiceState:
    try:
        with _broker_client(broker_url, timeout) as client:
            depth = queue_depth(client, queue)
            policy = eviction_policy(client)
            dropped = tuple(dropped_counts(client).items())
    except RedisError as error:
        problem = broker_error(broker_url, error)
        if isinstance(problem, BrokerUnavailableError):  # the report says no more than this
            said = f"the broker {without_password(broker_url)} does not answer: {brief(str(error))}"
            return ServiceState((), None, said)
        return ServiceState((), None, str(problem))
    try:
        workers = answering_workers(broker_url, timeout)
    except BrokerForbiddenError as problem:
        return ServiceState((), depth, str(problem), eviction_policy=policy, dropped=dropped)
    return ServiceState(workers, depth, eviction_policy=policy, dropped=dropped)


def answering_workers(broker_url: str, timeout: float = PING_SECONDS) -> tuple[str, ...]:
    """The names of the workers that answer a ping within ``timeout``. The ping is published
    to every worker: a broker whose ACL refuses the URL's user PUBLISH raises
    BrokerForbiddenError (kombu's error wrapping it ended the command in a traceback)."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except OperationalError as error:
        problem = forbidden(broker_url, error)
        if problem is None:
            raise
        raise problem from error
    return tuple(sorted(name for reply in replies for name in reply))


def forbidden(broker_url: str, error: BaseException) -> BrokerForbiddenError | None:
    """BrokerForbiddenError when Redis's ACL refusing the URL's user a command is why
    ``error`` was raised (redis-py's NoPermissionError, or kombu's error wrapping it); else
    None."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, NoPermissionError):
        cause = cause.__cause__ or cause.__context__
    return None if cause is None else BrokerForbiddenError(broker_url, str(cause))


def require_broker(broker_url: str, timeout: float = PING_SECONDS) -> None:
    """Return once the broker answers a ping; else BrokerUnavailableError, before a command
    builds or stores anything that it would then hand to no one."""
    try:
        with _broker_client(broker_url, timeout) as client:
            client.ping()
    except RedisError as error:
        raise broker_error(broker_url, error) from error


def untrusted_certificate(broker_url: str, error: BaseException) -> BrokerCertificateError | None:
    """The broker's TLS certificate refused by this machine, as the error to tell, when that is
    why ``error`` (redis-py's, the TLS error in its context) was raised; else None."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    return BrokerCertificateError(broker_url, str(cause.verify_message or cause))


def refuse_a_refusing_broker(broker_url: str, timeout: float = PING_SECONDS) -> None:
    """Raise BrokerRefusedError when the broker answers and refuses the URL's password, user or
    database number, and BrokerCertificateError when its TLS certificate is not trusted here: a
    worker or beat started so retried its connection for ever, one log line at a time, while
    nothing but a corrected URL could help. A broker that cannot be reached is left to
    Celery's retries: a process started before Redis waits for it."""
    try:
        with _broker_client(broker_url, timeout) as client:
            client.ping()
    except RedisError as error:
        problem = broker_error(broker_url, error)
        if not isinstance(problem, BrokerUnavailableError):
            raise problem from error


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
    while not answering_workers(broker_url, timeout):
        if time.monotonic() >= deadline:
            raise NoWorkerError(broker_url)


class BrokerWatch:
    """For a command that follows the workers' progress on the ledger (``digest send --wait``):
    ``check`` raises BrokerUnavailableError once the broker has not answered for ``patience``
    seconds, and NoWorkerError once no worker has. With either gone nothing moves (no batch
    reaches a worker, no tick hands the pending deliveries out again, or none is run), and the
    command waited for ever, saying nothing."""

    def __init__(
        self,
        broker_url: str,
        *,
        meanwhile: str,
        patience: float = BROKER_PATIENCE_SECONDS,
        every: float | None = None,
        workers_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        workers_answer: Callable[[], bool] | None = None,
    ) -> None:
        self._url, self._meanwhile = broker_url, meanwhile
        # A silence counts from the first check that met it, and is told at the first check
        # past the patience: checks a third of it apart, at most, keep a short patience (the
        # operator's --give-up-after 3) from being rounded up to the default cadence.
        every = min(BROKER_CHECK_SECONDS, patience / 3) if every is None else every
        workers_every = (
            min(WORKERS_CHECK_SECONDS, patience / 3) if workers_every is None else workers_every
        )
        self._patience, self._every, self._workers_every = patience, every, workers_every
        self._clock = clock
        self._workers_answer = workers_answer or (
            lambda: bool(answering_workers(broker_url, timeout=1.0))
        )
        self._next_look = clock() + every
        self._next_ping = clock() + workers_every
        self._silent_since: float | None = None
        self._no_worker_since: float | None = None

    def check(self) -> None:
        now = self._clock()
        if now < self._next_look:
            return
        self._next_look = now + self._every
        try:
            require_broker(self._url)
        except BrokerUnavailableError as error:
            if self._silent_since is None:
                self._silent_since = now
            if now - self._silent_since >= self._patience:
                raise BrokerUnavailableError(
                    self._url, error.reason, meanwhile=self._meanwhile
                ) from error
            return
        self._silent_since = None
        if now < self._next_ping:
            return
        self._next_ping = now + self._workers_every
        if self._workers_answer():
            self._no_worker_since = None
            return
        if self._no_worker_since is None:
            self._no_worker_since = now
        if now - self._no_worker_since >= self._patience:
            raise NoWorkerError(self._url, meanwhile=self._meanwhile)
