"""The first prune of a database that kept years, with a sending process writing beside it.

    python bench/prune_beside.py [--days 730] [--readers 2000] [--feeds 50] [--postgres]

Fills a new database as ``bench/year_growth.py`` does, then deletes everything past the default
``[retention]`` windows a batch at a time, as `digest db prune` does, while another engine (as a
sending worker would) updates one ledger row every 20 ms. It prints each batch's transaction and
each of the writer's waits (median, 99th percentile, longest) and the process's peak memory
before and after the prune: a prune that held a lock for minutes, or read the backlog into
memory, shows here.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from functools import partial

from sqlalchemy import text
from year_growth import T0, filled_database

from digest import retention
from digest.config.retention import RetentionSettings
from digest.store import open_store

WRITE_EVERY_SECONDS = 0.02


def quantiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"median {ordered[len(ordered) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.0f} ms, "
        f"longest {ordered[-1] * 1000:.0f} ms"
    )


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--readers", type=int, default=2_000)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument(
        "--postgres", action="store_true", help="in a PostgreSQL the script starts, not SQLite"
    )
    arguments = parser.parse_args()
    with ExitStack() as stack:
        url, store = filled_database(
            stack, arguments.postgres, arguments.days, arguments.readers, arguments.feeds
        )
        with store.engine.connect() as connection:
            pending = connection.execute(
                text("SELECT min(id) FROM deliveries WHERE status = 'pending'")
            ).scalar()
        before = peak_mib()

        writer = open_store(url, statement_seconds=60)
        waits: list[float] = []
        done = threading.Event()

        def send() -> None:
            while not done.is_set():
                started = time.perf_counter()
                with writer.engine.begin() as connection:
                    connection.execute(
                        text("UPDATE deliveries SET attempts = attempts WHERE id = :id"),
                        {"id": pending},
                    )
                waits.append(time.perf_counter() - started)
                time.sleep(WRITE_EVERY_SECONDS)

        sender = threading.Thread(target=send)
        sender.start()
        now = T0 + timedelta(days=arguments.days, hours=1)
        settings = RetentionSettings()
        windows = retention.Windows.of(settings, (), now)
        steps = (  # as retention.prune takes them, each batch timed on its own
            partial(store.prune_deliveries, windows.deliveries_before, now, settings.batch_rows),
            partial(store.prune_articles, windows.articles_before, now, settings.batch_rows),
            partial(store.prune_article_keys, windows.keys_before, settings.batch_rows),
        )
        batches: list[float] = []
        deleted = 0
        started = time.perf_counter()
        for step in steps:
            while True:
                batch_started = time.perf_counter()
                rows = step()
                batches.append(time.perf_counter() - batch_started)
                deleted += rows
                if not rows:
                    break
        took = time.perf_counter() - started
        done.set()
        sender.join()
        print(
            f"{store.engine.dialect.name}: {deleted:,} rows in {len(batches)} batches, {took:.0f} s"
        )
        print(f"  a batch's transaction: {quantiles(batches)}")
        print(f"  the sending write beside it ({len(waits)} writes): {quantiles(waits)}")
        print(
            f"  peak memory: {before:.0f} MiB after the fill, {peak_mib():.0f} MiB after the prune"
        )
        writer.engine.dispose()
        store.engine.dispose()


if __name__ == "__main__":
    main()
