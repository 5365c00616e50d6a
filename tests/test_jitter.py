"""The process's jitter: draws in [0, 1), and processes forked from one server draw apart."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from digest import jitter


def _draw_in_child(reseed: bool, sender: Connection) -> None:
    if reseed:
        jitter.reseed()
    sender.send(jitter.draw())


def _draws_of_forked_processes(count: int, *, reseed: bool) -> list[float]:
    context = multiprocessing.get_context("fork")
    draws = []
    for _ in range(count):
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_draw_in_child, args=(reseed, sender))
        child.start()
        draws.append(receiver.recv())
        child.join()
    return draws


def test_draws_are_spread_over_zero_to_one() -> None:
    draws = [jitter.draw() for _ in range(1000)]
    assert all(0.0 <= draw < 1.0 for draw in draws)
    assert min(draws) < 0.1 and max(draws) > 0.9


def test_sending_processes_forked_from_one_server_draw_their_own_jitter() -> None:
    # Each process of the sending pool reseeds when it starts: without it, every process drew
    # the same waits, and a list's retries came back in step, process after process.
    jitter.draw()
    assert len(set(_draws_of_forked_processes(3, reseed=False))) == 1
    assert len(set(_draws_of_forked_processes(3, reseed=True))) == 3
