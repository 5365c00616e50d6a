"""The process's one source of jitter: it spreads next poll times (digest.polling) and retry times
(digest.retries) so that feeds and readers do not come due all at once."""

from __future__ import annotations

import random

_random = random.Random()


def draw() -> float:
    """A number in [0, 1)."""
    return _random.random()


def reseed() -> None:
    """A new seed, in a process forked from another that drew from it: without one, every
    forked process would draw the same jitter."""
    _random.seed()
