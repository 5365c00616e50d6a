"""The process's one source of jitter: it spreads next poll times (digest.polling) and retry times
(digest.retries) so that feeds and readers do not come due all at once."""

from __future__ import annotations

import os
import random

_random = random.Random()
# A process forked from this one (a `digest worker`'s pool, the sending pool) starts with a copy
# of the generator: without a seed of its own, each would draw what its siblings draw, and the
# polls and retries they set would come due in step.
os.register_at_fork(after_in_child=_random.seed)


def draw() -> float:
    """A number in [0, 1)."""
    return _random.random()
