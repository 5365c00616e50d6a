"""Sending an edition's deliveries: one compiled message per process, several SMTP connections.

    ledger (pending rows, a batch at a time) ─► N worker processes, each with its own store
    session and SMTP connection ─► deliver_batch: personalize ─► send ─► one UPDATE per batch

Processes rather than threads: most of a send is Python work under the GIL (tokens, joining
bytes, SMTP replies), so threads share one core; bench/send_cost.py measures it. Each process
compiles the edition's message once (``digest.delivering.personalizer_for``) and reuses it for
every batch.

The processes are forked from a server process that imported the library once (the
"forkserver" start method, with the modules preloaded; ``digest.fork_server``): a process then
starts in milliseconds rather than the second its imports take. Nothing of the parent is shared
with them (its database connections and locks stay its own), and they live as long as the
services that started them, so every edition of a cycle (and of the next cycles of ``digest
run``) uses the same ones; ``start_sending_processes`` starts them ahead, while editions are
built.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.util import Finalize
from types import FrameType
from typing import TYPE_CHECKING

from digest.delivering import DeliveryOutcome, deliver_batch
from digest.errors import SendingProcessLost
from digest.fork_server import fork_context

if TYPE_CHECKING:
    from digest.clock import Clock
    from digest.config import Settings
    from digest.services import Services

# Worker processes ---------------------------------------------------------------------------

_worker_services: Services | None = None
# Set in a worker process once the process that started it is gone (killed outright): its
# batch makes no more copies, and the process ends once the batch has recorded what it sent.
_orphaned = threading.Event()
_batch_in_hand = threading.Lock()


def _watch_starter(starter: Connection) -> None:
    """Wait for the process that started this one to end, then stop sending and exit.

    A pool process is forked from the fork server, not from its starter, and neither notices
    its starter being killed outright (``kill -9``, the OOM killer): without this it would
    send the rest of its batch while a new ``digest run`` sends the same pending rows, and
    then wait forever for another batch.
    """
    with contextlib.suppress(EOFError, OSError):
        while True:
            starter.recv_bytes()  # nothing is ever sent: this returns at the end of the pipe
    _end_after_batch()


def _end_after_batch() -> None:
    """Make no more copies; once the batch in hand has recorded what went, end the process."""
    _orphaned.set()
    with _batch_in_hand:
        os._exit(1)


def _stop_asked(signum: int, frame: FrameType | None) -> None:
    """SIGTERM, SIGINT or SIGHUP sent to the whole process group (a service manager stopping
    the run, Ctrl-C in its terminal, the terminal closed): the run ends, and this process with
    it, as when its starter is gone. Their default actions ended it mid-batch, and the copies
    the server had taken and the ledger did not have yet went again at the next run."""
    threading.Thread(target=_end_after_batch, name="digest-stop-asked", daemon=True).start()


def _start_worker(settings: Settings, clock: Clock, starter: Connection) -> None:
    global _worker_services
    signal.signal(signal.SIGTERM, _stop_asked)
    signal.signal(signal.SIGINT, _stop_asked)
    signal.signal(signal.SIGHUP, _stop_asked)
    threading.Thread(
        target=_watch_starter, args=(starter,), name="digest-watch-starter", daemon=True
    ).start()
    from digest.gc_tuning import tune_garbage_collection
    from digest.services import build_services

    tune_garbage_collection()
    _worker_services = build_services(settings, clock=clock, migrate=False)
    # Say goodbye to the mail server and release the database when the pool shuts down.
    Finalize(None, _worker_services.close, exitpriority=10)


def _ready() -> int:
    """Nothing; sent to each process as it starts, so that its start is not left for later."""
    return os.getpid()


def _deliver_in_worker(edition_id: int, delivery_ids: list[int]) -> DeliveryOutcome:
    assert _worker_services is not None, "the worker process was not started"
    with _batch_in_hand:
        return deliver_batch(
            _worker_services,
            edition_id,
            delivery_ids,
            keep_going=lambda: not _orphaned.is_set(),
        )


class SendingProcesses:
    """``processes`` worker processes, each with its own services (store session, SMTP
    connection) built from ``settings`` and ``clock``. ``start`` starts them without waiting;
    ``close`` says goodbye to the mail server and ends them."""

    def __init__(self, settings: Settings, clock: Clock, processes: int) -> None:
        self.settings, self.clock, self.processes = settings, clock, processes
        self._pool: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        # The write end stays in this process and is never written: its processes watch the
        # read end, which ends when this process does, however it ends.
        self._alive: Connection | None = None

    def start(self) -> ProcessPoolExecutor:
        if self._pool is not None and self._pool._broken:
            # A process died (killed, out of memory): its batch failed the cycle that sent it;
            # the next one gets new processes.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            if self._alive is not None:
                self._alive.close()  # what is left of those processes ends
                self._alive = None
        if self._pool is None:
            context = fork_context()
            watched, self._alive = context.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self.settings, self.clock, watched),
            )
            # The first process waits for the server to import the library: started from a
            # thread, so that the caller goes on meanwhile (building editions).
            self._starting = threading.Thread(
                target=_start_processes,
                args=(self._pool, self.processes),
                name="digest-sending-start",
                daemon=True,
            )
            self._starting.start()
        return self._pool

    def stop_sending(self) -> None:
        """Ask each process to make no more copies, record those the server took and end
        (``_stop_asked``), as when a signal reaches the whole process group."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def pids(self) -> list[int]:
        """The process ids of the processes started so far (to watch them, e.g. their memory)."""
        return list(self._pool._processes or {}) if self._pool is not None else []

    def close(self) -> None:
        pool, self._pool = self._pool, None
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.join()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        alive, self._alive = self._alive, None
        if alive is not None:
            alive.close()


def _start_processes(pool: ProcessPoolExecutor, processes: int) -> None:
    """Start ``processes`` processes in ``pool``: a submit starts one while none is idle."""
    with contextlib.suppress(RuntimeError, BrokenProcessPool):  # closed or broken meanwhile
        for _ in range(processes):
            pool.submit(_ready)


def start_sending_processes(services: Services, processes: int) -> SendingProcesses | None:
    """The services' sending processes, started now if they were not (None for one process,
    which sends in this one). Those of another number or other settings are replaced."""
    current = services.sending
    if current is not None and (
        current.processes != processes
        or current.settings is not services.settings
        or current.clock is not services.clock
    ):
        current.close()
        current = services.sending = None
    if processes <= 1:
        return None
    if current is None:
        current = services.sending = SendingProcesses(services.settings, services.clock, processes)
    current.start()
    return current


def deliver_in_processes(
    services: Services,
    edition_id: int,
    batches: Iterable[list[int]],
    processes: int,
    deliver_here: Callable[[list[int]], DeliveryOutcome],
) -> Iterator[DeliveryOutcome]:
    """Deliver ``batches`` on ``processes`` worker processes (the services' own, see
    ``start_sending_processes``), each with its own connection.

    A single batch is delivered here with ``deliver_here``: handing it over costs more than it
    saves. Batches are read from ``batches`` only as workers free up, so the ledger is streamed.
    Outcomes come back in the order the batches were read.
    """
    source = iter(batches)
    first = next(source, None)
    if first is None:
        return
    second = next(source, None)
    if second is None or processes <= 1:
        yield deliver_here(first)
        if second is not None:
            yield deliver_here(second)
            for batch in source:
                yield deliver_here(batch)
        return
    # Forked from the server of preloaded modules, not from this process, whose database
    # connections and locks a child must not share.
    sending = start_sending_processes(services, processes)
    assert sending is not None
    pool = sending.start()
    in_flight: deque[Future[DeliveryOutcome]] = deque()
    pending_batches: Iterator[list[int]] = _chain(first, second, source)
    try:
        for batch in pending_batches:
            in_flight.append(pool.submit(_deliver_in_worker, edition_id, batch))
            # Two batches per process keep every connection busy while the next is read.
            if len(in_flight) >= 2 * processes:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM that reached this process alone (``kill PID``, a service manager
        # that signals the main process only): the batches handed over would otherwise be
        # sent in full, two per process, before the run could end.
        sending.stop_sending()
        raise
    except BrokenProcessPool as error:
        # The pool ends its other processes too; the next edition or cycle gets new ones.
        raise SendingProcessLost(
            f"a sending process ended abruptly (killed, or out of memory?) while sending "
            f"edition {edition_id}: the copies not recorded as sent stay pending and go at the "
            "next run"
        ) from error
    finally:
        for future in in_flight:
            future.cancel()


def _chain(first: list[int], second: list[int], rest: Iterator[list[int]]) -> Iterator[list[int]]:
    yield first
    yield second
    yield from rest
