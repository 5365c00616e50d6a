"""Run many jobs at once on a thread pool, never more than a few at a time against one host.

Polling is mostly waiting on the network, so threads suffice; the per-host limit keeps one
publisher with a hundred feeds from seeing a hundred requests at once. Jobs are handed to the pool
only when their host has room, so a host with many feeds never ties up workers that could be
fetching from other hosts; results come back as each job ends, for a progress bar.

What the threads overlap is the waiting. The work between the waits (the HTTP exchange itself,
parsing, storing, classifying) is Python holding the GIL, so it runs one thread at a time whatever
we do; ``cpu_turn`` makes that explicit: a poll holds the turn from start to end, and gives it
up only while it waits (``cpu_turn.waiting()``: on the network, in the fetcher's socket calls
that would block; on a parser process). Sixteen threads fighting for the GIL instead cost a third
more time than taking turns (a handoff at every socket call, cold caches, SQLite writers waiting
out each other's locks).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from queue import SimpleQueue
from types import TracebackType
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


class CpuTurn:
    """The one turn to run Python that polls take (module docstring); ``with cpu_turn:`` takes
    it, also when the thread holds it already."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def held(self) -> bool:
        """Whether this thread holds the turn."""
        return bool(getattr(self._local, "depth", 0))

    def __enter__(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if not depth:
            self._lock.acquire()
        self._local.depth = depth + 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._local.depth -= 1
        if not self._local.depth:
            self._lock.release()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Give the turn up while this thread waits, if it holds it; take it back after."""
        depth = getattr(self._local, "depth", 0)
        if not depth:
            yield
            return
        self._local.depth = 0
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._local.depth = depth


cpu_turn = CpuTurn()


def run_per_host(
    jobs: Iterable[tuple[str, Job]],
    work: Callable[[Job], Result],
    *,
    max_workers: int,
    per_host: int,
) -> Iterator[Result]:
    """``work(job)`` for every (host, job), at most ``max_workers`` at once and ``per_host`` at
    once per host, yielding each result as it is ready (not in the order given).

    An exception from ``work`` is raised from the iterator once the jobs already running are done;
    callers whose jobs must not stop the others catch inside ``work``.
    """
    if max_workers < 1 or per_host < 1:
        raise ValueError("max_workers and per_host must be at least 1")
    waiting: dict[str, deque[Job]] = {}
    for host, job in jobs:
        waiting.setdefault(host, deque()).append(job)
    if not waiting:
        return
    busy: Counter[str] = Counter()
    running: dict[Future[Result], str] = {}
    # Each job, once done, queues its future here: the loop below waits on one queue rather than
    # on every running future at each turn (concurrent.futures.wait installs and removes a waiter
    # on each of them), which takes a tenth off the cost of running a short job.
    finished: SimpleQueue[Future[Result]] = SimpleQueue()
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="digest-poll") as pool:

        def start_more() -> None:
            # Round-robin over the hosts with room, one job each per pass, so hosts take turns.
            while len(running) < max_workers:
                started = False
                for host in list(waiting):
                    if len(running) >= max_workers:
                        break
                    if busy[host] >= per_host:
                        continue
                    queue = waiting[host]
                    job = queue.popleft()
                    if not queue:
                        del waiting[host]
                    future = pool.submit(work, job)
                    running[future] = host
                    future.add_done_callback(finished.put)
                    busy[host] += 1
                    started = True
                if not started:
                    return

        start_more()
        while running:
            done = [finished.get()]
            while not finished.empty():  # others that ended meanwhile: one refill for all
                done.append(finished.get())
            for future in done:
                busy[running.pop(future)] -= 1
            start_more()
            for future in done:
                yield future.result()
