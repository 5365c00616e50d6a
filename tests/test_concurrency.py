"""Tests for digest.concurrency: the CPU turn polls take, and the per-host pool."""

from __future__ import annotations

import threading
from collections import Counter

from digest.concurrency import CpuTurn, run_per_host


def test_a_thread_waiting_gives_its_turn_to_another_and_takes_it_back() -> None:
    turn = CpuTurn()
    order: list[str] = []
    other_ran = threading.Event()

    def other() -> None:
        with turn:
            order.append("other has the turn")
        other_ran.set()

    with turn:
        worker = threading.Thread(target=other)
        worker.start()
        assert not other_ran.wait(0.2)  # the turn is held: the other thread waits
        with turn.waiting():
            assert not turn.held
            assert other_ran.wait(10)  # it ran while this thread waited
        assert turn.held
        order.append("back")
    worker.join(10)
    assert order == ["other has the turn", "back"]


def test_the_turn_is_taken_again_by_its_holder_and_waiting_without_it_changes_nothing() -> None:
    turn = CpuTurn()
    with turn.waiting():
        assert not turn.held
    with turn:
        with turn:  # the fetcher's stream calls run inside a poll that holds the turn
            assert turn.held
        assert turn.held
        with turn.waiting(), turn.waiting():
            assert not turn.held
        assert turn.held
    assert not turn.held

    def take() -> None:
        with turn:
            pass

    took = threading.Thread(target=take)
    took.start()
    took.join(10)
    assert not took.is_alive()  # released for good after the outermost holder left


def test_jobs_run_at_most_per_host_at_once_and_every_result_comes_back() -> None:
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    lock = threading.Lock()
    gate = threading.Barrier(4, timeout=10)  # two hosts x two at once: all four must overlap

    def work(job: tuple[str, int]) -> int:
        host, number = job
        with lock:
            running[host] += 1
            most[host] = max(most[host], running[host])
        if number < 2:
            gate.wait()
        with lock:
            running[host] -= 1
        return number

    jobs = [(host, (host, n)) for host in ("a", "b") for n in range(6)]
    results = list(run_per_host(jobs, work, max_workers=8, per_host=2))
    assert sorted(results) == sorted(n for _ in ("a", "b") for n in range(6))
    assert most == {"a": 2, "b": 2}
