"""Keeping the database to its windows (``[retention]``): what is older is deleted a bounded
batch at a time, by each cycle of `digest run`, by `digest beat`'s prune task, and by
`digest db prune`.

    now ─► windows: deliveries_days, articles_days before now
        ─► settled copies of editions older than the window, an edition at a time
           (pending and parked copies stay; the edition is never queued again)
        ─► articles first seen before the window, their keys kept
           (digest.store.articles asks them: an item a feed serves again is not new)
        ─► keys no feed has served for a window

Each batch is its own short transaction, so no lock is held for long and a writer (a poll, a
delivery) waits a batch at most; two processes pruning at once delete each row once, the
other finding it gone. Nothing a reader said lives in these rows: memberships, their history,
suppressions and inbound events are kept, and editions keep their frozen pages for the archive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from digest.config.retention import RetentionSettings
from digest.store import Store
from digest.store.retention import Prunable

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Windows:
    """The moments before which each kind of row goes."""

    deliveries_before: datetime
    articles_before: datetime
    keys_before: datetime

    @classmethod
    def at(cls, retention: RetentionSettings, now: datetime) -> Windows:
        articles = now - timedelta(days=retention.articles_days)
        return cls(now - timedelta(days=retention.deliveries_days), articles, articles)


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What one prune deleted, and whether it got through everything past the windows."""

    deliveries: int = 0
    articles: int = 0
    article_keys: int = 0
    batches: int = 0
    seconds: float = 0.0
    finished: bool = True

    @property
    def deleted(self) -> int:
        return self.deliveries + self.articles + self.article_keys


def prunable(store: Store, retention: RetentionSettings, now: datetime) -> Prunable:
    """What a prune at ``now`` would delete, and the old copies it would keep (in flight)."""
    windows = Windows.at(retention, now)
    return store.prunable(windows.deliveries_before, windows.articles_before, windows.keys_before)


def prune(
    store: Store,
    retention: RetentionSettings,
    now: datetime,
    *,
    max_batches: int | None = None,
) -> PruneOutcome:
    """Delete what is past the windows at ``now``, ``retention.batch_rows`` rows a transaction,
    at most ``max_batches`` transactions (None: until nothing is left)."""
    windows = Windows.at(retention, now)
    size = retention.batch_rows
    counts = {"deliveries": 0, "articles": 0, "article_keys": 0}
    steps: tuple[tuple[str, Callable[[], int]], ...] = (
        ("deliveries", partial(store.prune_deliveries, windows.deliveries_before, now, size)),
        ("articles", partial(store.prune_articles, windows.articles_before, now, size)),
        ("article_keys", partial(store.prune_article_keys, windows.keys_before, size)),
    )
    batches, started, finished = 0, time.perf_counter(), True
    for name, step in steps:
        while True:
            if max_batches is not None and batches >= max_batches:
                finished = False
                break
            deleted = step()
            batches += 1
            counts[name] += deleted
            if deleted == 0:
                break
        if not finished:
            break
    outcome = PruneOutcome(
        **counts, batches=batches, seconds=time.perf_counter() - started, finished=finished
    )
    if outcome.deleted:
        _log.info(
            "pruned past retention: %d ledger rows, %d articles, %d article keys in %.2f s%s",
            outcome.deliveries,
            outcome.articles,
            outcome.article_keys,
            outcome.seconds,
            "" if finished else "; the rest at the next cycle",
        )
    return outcome


def prune_cycle(store: Store, retention: RetentionSettings, now: datetime) -> PruneOutcome:
    """A cycle's or a beat task's prune: nothing when ``retention.prune`` is off, else at most
    ``retention.batches_a_cycle`` batches."""
    if not retention.prune:
        return PruneOutcome()
    return prune(store, retention, now, max_batches=retention.batches_a_cycle)
