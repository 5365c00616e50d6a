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
sign up again. Sign-ups still waiting when the process stops are handled first (``close``);
those of a killed process are lost the same way.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from digest.errors import DigestError
from digest.mail.transport import MailTransport
from digest.services import Services, default_transport
from digest.signup import SignUpRequest, handle_sign_up

_log = logging.getLogger(__name__)
MAX_WAITING = 1000
# The most a sign-up waits on the thread before it is handled (the mail goes out that much later).
JITTER_SECONDS = 2.0


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
    ) -> None:
        self._services = services
        self._transport_factory = transport_factory
        self._delay = delay
        # (when it is due on time.monotonic(), the sign-up); None asks the thread to stop,
        # once the sign-ups before it are handled (close).
        self._queue: queue.Queue[tuple[float, SignUpRequest] | None] = queue.Queue(max_waiting)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, request: SignUpRequest) -> None:
        self._start()
        try:
            self._queue.put_nowait((time.monotonic() + self._delay(), request))
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
            due, request = item
            self._closing.wait(due - time.monotonic())
            try:
                if transport is None:
                    transport = self._transport_factory()
                handle_sign_up(self._services, transport, request)
            except Exception:  # one sign-up's failure (a store down, a bug) never stops the next
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
