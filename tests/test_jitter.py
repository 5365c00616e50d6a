"""The process's jitter: draws in [0, 1), and every process forked from another draws its own."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import billiard
import pytest

from digest import jitter
from digest.fork_server import fork_context


def _draw_in_child(sender: Connection) -> None:
    sender.send(jitter.draw())


def _draws_of_forked_processes(context: Any, count: int) -> list[float]:
    draws = []
    for _ in range(count):
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_draw_in_child, args=(sender,))
        child.start()
        draws.append(receiver.recv())
        child.join()
    return draws


def test_draws_are_spread_over_zero_to_one() -> None:
    draws = [jitter.draw() for _ in range(1000)]
    assert all(0.0 <= draw < 1.0 for draw in draws)
    assert min(draws) < 0.1 and max(draws) > 0.9


FORKERS: dict[str, Callable[[], Any]] = {
    "os": lambda: multiprocessing.get_context("fork"),
    "digest-worker": lambda: billiard.get_context("fork"),  # Celery's prefork pool
    "sending": fork_context,
}


@pytest.mark.parametrize("forker", FORKERS)
def test_processes_forked_from_one_draw_their_own_jitter(forker: str) -> None:
    # The processes of a `digest worker` (Celery's prefork pool, billiard) are forked from one
    # that holds the generator, as are the sending processes from their server: a process that
    # did not reseed drew the same jitter as its siblings, and the polls and retries they set
    # came due in step, which is what the jitter is there to prevent.
    jitter.draw()
    draws = _draws_of_forked_processes(FORKERS[forker](), 3)
    assert len(set(draws)) == 3
    assert jitter.draw() not in draws, "a process forked draws apart from the one it left"
