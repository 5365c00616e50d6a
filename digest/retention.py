"""Keeping the database to its windows (``[retention]``): what is older is deleted a bounded
batch at a time, by each cycle of `digest run`, by `digest beat`'s prune task, and by
`digest db prune`.

    now ─► windows: deliveries_days, articles_days before now (longer for a list whose
           editions are further apart: Windows)
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial

from digest.config import ListSettings, Settings
from digest.config.retention import RetentionSettings
from digest.schedule import longest_gap as schedule_gap
from digest.store import Store
from digest.store.retention import Prunable

_log = logging.getLogger(__name__)
DAY = timedelta(days=1)


# Where a list's gaps between editions are measured from, and over how many days with
# editions: a fixed moment, so that the windows are the same whatever the day.
_GAPS_FROM = datetime(2026, 1, 1, tzinfo=UTC)
_GAP_DAYS = 60


@lru_cache(maxsize=256)
def longest_gap(schedule: str, timezone: str) -> timedelta:
    """The longest time between two editions of a schedule, over its next 60 days with
    editions."""
    return schedule_gap(schedule, timezone, _GAPS_FROM, _GAP_DAYS)


@dataclass(frozen=True, slots=True)
class Windows:
    """How long each kind of row is kept, and so the moments before which it goes.

    A window is never shorter than the longest gap between two editions of a list, and a day:
    a list that goes out less often than the articles are kept (a monthly round-up) would
    otherwise find the start of its window deleted, and one read in each reader's timezone its
    readers' last copies, which say where each one's next window starts."""

    deliveries: timedelta
    articles: timedelta
    now: datetime

    @classmethod
    def of(
        cls, retention: RetentionSettings, lists: Sequence[ListSettings], now: datetime
    ) -> Windows:
        gaps = [(longest_gap(each.schedule, each.timezone), each.reader_local) for each in lists]
        articles = max([timedelta(days=retention.articles_days)] + [gap + DAY for gap, _ in gaps])
        deliveries = max(
            [timedelta(days=retention.deliveries_days)]
            + [gap + DAY for gap, local in gaps if local]
        )
        return cls(deliveries, articles, now)

    @property
    def deliveries_before(self) -> datetime:
        return self.now - self.deliveries

    @property
    def articles_before(self) -> datetime:
        return self.now - self.articles

    @property
    def keys_before(self) -> datetime:
        return self.now - self.articles


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


def prunable(store: Store, windows: Windows) -> Prunable:
    """What a prune in ``windows`` would delete, and the old copies it would keep (in flight)."""
    return store.prunable(windows.deliveries_before, windows.articles_before, windows.keys_before)


def prune(
    store: Store,
    retention: RetentionSettings,
    now: datetime,
    *,
    lists: Sequence[ListSettings] = (),
    max_batches: int | None = None,
) -> PruneOutcome:
    """Delete what is past the windows at ``now`` (kept longer for ``lists`` whose editions are
    further apart), ``retention.batch_rows`` rows a transaction, at most ``max_batches``
    transactions (None: until nothing is left)."""
    windows = Windows.of(retention, lists, now)
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


def prune_cycle(store: Store, settings: Settings, now: datetime) -> PruneOutcome:
    """A cycle's or a beat task's prune: nothing when ``retention.prune`` is off, else at most
    ``retention.batches_a_cycle`` batches."""
    retention = settings.retention
    if not retention.prune:
        return PruneOutcome()
    return prune(store, retention, now, lists=settings.lists, max_batches=retention.batches_a_cycle)
