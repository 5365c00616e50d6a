"""Where a sign-up goes once the form is answered: off the request path, so the answer takes
the same time whether a confirmation mail is sent or not (no enumeration, also by timing).

    embedded: ThreadQueue ─► one thread, its own mail transport ─► digest.signup.handle_sign_up
    distributed (service.broker_url): worker.signups.CeleryQueue ─► task digest.sign_up on the
                                      workers (passed in by the commands that serve the app)

A new address costs the thread its rows and a mail rendered and sent (8 ms of CPU here), a
subscribed one a look-up (1 ms): done at once, that work slowed the requests the same client
sent next (three of them, on loopback: 15.6 against 8.8 ms at the median), which told the two
apart as the answer no longer did. The thread takes each sign-up at a random moment within
``JITTER_SECONDS`` of its answer instead; the distributed mode's workers run on other machines.

The thread's queue is bounded: a flood past ``MAX_WAITING`` is dropped (and logged) rather
than held in memory; the readers among it are told to check their inbox, find nothing, and
sign up again. A sign-up that finds the database unreachable (restarting, failing over) waits
and is tried again, ``RETRIES`` times over some four minutes, before it is dropped (logged).
Sign-ups still waiting when the process stops are handled first (``close``); those of a killed
process are lost the same way.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from digest.errors import DigestError
from digest.mail.transport import MailTransport
from digest.services import Services, default_transport
from digest.signup import SignUpRequest, handle_sign_up
from digest.store.schema_lacks import driver_reason

_log = logging.getLogger(__name__)
MAX_WAITING = 1000
# The most a sign-up waits on the thread before it is handled (the mail goes out that much later).
JITTER_SECONDS = 2.0
# A sign-up met by the database down is tried again this many times, after these waits.
RETRIES = 8


def retry_wait(attempt: int) -> float:
    """Seconds before the ``attempt``-th try again: 2, 4, 8… up to a minute (some four minutes
    in all, a database's restart or failover)."""
    return float(min(60, 2**attempt))


def random_delay() -> float:
    """A moment within JITTER_SECONDS, each as likely."""
    return random.uniform(0.0, JITTER_SECONDS)


class SignUpQueue(Protocol):
    # True: the sign-up is handed over only once the answer is sent (its work runs in this
    # process); False: before, so a broker that does not take it is a 503.
    after_response: bool

    def submit(self, request: SignUpRequest) -> None:
        """Hand the sign-up over; returns at once, whatever becomes of it."""
        ...

    def close(self) -> None:
        """Let go of what the queue holds, once what was handed over is on its way."""
        ...


class ThreadQueue:
    """Handles sign-ups one at a time on a thread of this process, with a transport of its
    own (a transport serves one thread at a time), closed whenever the queue runs dry. Each is
    handled no sooner than ``delay()`` seconds after it was handed over (none by default;
    ``sign_up_queue`` gives a random one), and at once when the queue is closed."""

    after_response = True

    def __init__(
        self,
        services: Services,
        transport_factory: Callable[[], MailTransport],
        *,
        max_waiting: int = MAX_WAITING,
        delay: Callable[[], float] = lambda: 0.0,
        retry_delay: Callable[[int], float] = retry_wait,
    ) -> None:
        self._services = services
        self._transport_factory = transport_factory
        self._delay = delay
        self._retry_delay = retry_delay
        # (when it is due on time.monotonic(), the sign-up, the tries it had); None asks the
        # thread to stop, once the sign-ups before it are handled (close).
        self._queue: queue.Queue[tuple[float, SignUpRequest, int] | None] = queue.Queue(max_waiting)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, request: SignUpRequest) -> None:
        self._start()
        try:
            self._queue.put_nowait((time.monotonic() + self._delay(), request, 0))
        except queue.Full:
            _log.error("list %r: a sign-up was dropped, %d wait already", request.list_slug,
                       self._queue.maxsize)  # fmt: skip

    def join(self) -> None:
        """Return once every sign-up submitted so far was handled (for tests and shutdown)."""
        self._queue.join()

    def close(self) -> None:
        """Handle the sign-ups waiting, then stop the thread: the queue of an app that a config
        edit replaced (digest.web.reloading), whose services close next."""
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._closing.set()  # what waits is handled now: the process is stopping
            self._queue.put(None)
            thread.join()

    def _try_again(self, request: SignUpRequest, tries: int, error: DBAPIError) -> None:
        """Put a sign-up that met the database down back on the queue, to be tried again after
        its wait; dropped, said so, once its tries are spent or the queue is full."""
        reason = driver_reason(error, first_line=True)  # the driver's words, not the statement
        if tries < RETRIES and not self._closing.is_set():
            wait = self._retry_delay(tries + 1)
            try:
                self._queue.put_nowait((time.monotonic() + wait, request, tries + 1))
            except queue.Full:
                pass
            else:
                _log.warning("list %r: a sign-up waits for the database (%s); tried again in "
                             "%.0f s", request.list_slug, reason, wait)  # fmt: skip
                return
        _log.error("list %r: a sign-up was dropped, the database unreachable after %d tries "
                   "(%s); the reader finds no mail and may sign up again",
                   request.list_slug, tries + 1, reason)  # fmt: skip

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="digest-sign-ups", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        transport: MailTransport | None = None
        while True:
            item = self._queue.get()
            if item is None:
                if transport is not None:
                    transport.close()
                self._queue.task_done()
                return
            due, request, tries = item
            self._closing.wait(due - time.monotonic())
            try:
                if transport is None:
                    transport = self._transport_factory()
                handle_sign_up(self._services, transport, request)
            except (OperationalError, InterfaceError) as error:  # the database is unreachable
                self._try_again(request, tries, error)
            except Exception:  # one sign-up's failure (a bug) never stops the next
                _log.exception("list %r: a sign-up failed", request.list_slug)
            finally:
                if self._queue.empty() and transport is not None:
                    transport.close()  # no idle SMTP connection for the server to drop
                self._queue.task_done()


class QueueUnavailable(DigestError):
    """The broker did not take the sign-up: a 503 that asks to come back, nothing done."""


def sign_up_queue(services: Services) -> SignUpQueue:
    """A thread with the configured transport: the embedded mode's queue. The distributed
    mode's, ``worker.signups.CeleryQueue``, is handed to the app by the commands that serve it
    (the library knows nothing of Celery)."""
    settings = services.settings
    return ThreadQueue(services, lambda: default_transport(settings), delay=random_delay)
