"""A long run in one process: many cycles of `digest run`'s own cycle on a moving clock, with churn.

    python bench/soak.py [--cycles 400] [--hours 6] [--churn-every 8] [--trace] [--json]

Each cycle moves an injected clock ``--hours`` on, writes every feed afresh with articles never
seen before, and runs ``pipeline.run_cycle`` through the Celery dispatcher in its embedded
(eager) mode, as `digest run` does at each tick: feeds polled over HTTP from a loopback server,
editions built and written to the outbox (emptied after each cycle, as a pickup would). Every
``--churn-every`` cycles the config changes, as an operator's edits do over weeks: a list added
or removed, a list renamed, a topic's rules edited, readers joining (the list's file) and
leaving (unsubscribed), a reader moving timezone. Each change builds the services again, as
`digest run` does when its config file changes, the old ones closed.

After each cycle it reads what a leak would show: the process's resident memory, the Python
heap (tracemalloc, with ``--trace``: slower), the objects the collector tracks, open file
descriptors, threads, child processes, the ``/tmp/digest-*`` folders, the SQLite WAL, the
outbox's left-over files and the log handlers. It prints each one at the end of the warm-up (the
first fifth) and at the end, and its growth per cycle after the warm-up (a least-squares slope):
what grows with time rather than with the config is a leak. With ``--trace``, the source lines
whose memory grew most after the warm-up.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_cost import processes
from digest import pipeline
from digest.clock import FixedClock
from digest.config import Settings, settings_from_mapping
from digest.mail.transport import OutboxTransport
from digest.sample_server import serve_folder
from digest.services import Services, build_services

START = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)  # a month before Europe's clocks go forward
FEEDS = ("gulf-wire", "levant-ledger", "world-briefing")
STORIES_PER_FEED = 6  # new articles per feed and cycle
ZONES = ("Asia/Dubai", "Europe/London", "America/New_York", "Asia/Tokyo")


# What one cycle leaves behind ---------------------------------------------------------------


def resident_bytes() -> int:
    pages = Path("/proc/self/statm").read_text().split()[1]
    return int(pages) * os.sysconf("SC_PAGE_SIZE")


def open_descriptors() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def child_processes() -> int:
    mine = str(os.getpid())
    return sum(fields[1] == mine for _, fields in processes())


def digest_temp_folders() -> int:
    return sum(1 for _ in Path(tempfile.gettempdir()).glob("digest-*"))


def log_handlers() -> int:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    return sum(len(logger.handlers) for logger in loggers if isinstance(logger, logging.Logger))


@dataclass
class Reading:
    cycle: int
    rss: int
    heap: int | None
    objects: int
    fds: int
    threads: int
    children: int
    temp_folders: int
    wal: int
    outbox_left: int
    log_handlers: int


def reading(cycle: int, folder: Path, traced: bool) -> Reading:
    gc.collect()
    wal = folder / "digest.db-wal"
    return Reading(
        cycle=cycle,
        rss=resident_bytes(),
        heap=tracemalloc.get_traced_memory()[0] if traced else None,
        objects=len(gc.get_objects()),
        fds=open_descriptors(),
        threads=threading.active_count(),
        children=child_processes(),
        temp_folders=digest_temp_folders(),
        wal=wal.stat().st_size if wal.exists() else 0,
        outbox_left=sum(1 for path in (folder / "outbox").glob("*") if path.suffix != ".eml"),
        log_handlers=log_handlers(),
    )


def slope(points: list[tuple[int, float]]) -> float:
    """The least-squares growth per cycle of ``points`` (cycle, value)."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


# The newsroom: feeds, topics, lists and readers that change over time ------------------------


@dataclass
class Newsroom:
    """The config as an operator edits it over weeks, and the files it names."""

    folder: Path
    feeds_url: str
    clock: FixedClock
    story: int = 0
    edits: int = 0
    extra_lists: list[str] = field(default_factory=list)
    renamed: str = "daily"  # the slug the daily list has now (renamed now and then)
    readers: int = 12
    topic_terms: list[str] = field(default_factory=lambda: ["Gulf"])

    def write_feeds(self) -> None:
        now = self.clock.now()
        for index, name in enumerate(FEEDS):
            items = []
            for _ in range(STORIES_PER_FEED):
                self.story += 1
                number = self.story
                subject = ("Gulf", "Iran", "Tokyo", "markets")[number % 4]
                title = f"{subject} report {number}: talks resume in {subject}"
                published = now - timedelta(minutes=number % 50)
                items.append(
                    f"<item><title>{escape(title)}</title>"
                    f"<link>https://{name}.example.org/story/{number}</link>"
                    f"<guid>urn:{name}:{number}</guid>"
                    f"<author>desk@{name}.example.org (Desk {number % 5})</author>"
                    f"<description>{escape(title)}. Officials said more talks would follow, "
                    f"in story {number} of feed {index}.</description>"
                    f"<pubDate>{format_datetime(published)}</pubDate></item>"
                )
            (self.folder / "feeds" / f"{name}.xml").write_text(
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{name}</title><link>https://{name}.example.org/</link>"
                f"{''.join(items)}</channel></rss>",
                encoding="utf-8",
            )

    def write_readers(self) -> None:
        rows = ["email,name,timezone"]
        for number in range(self.readers):
            # A reader moves timezone at every edit: the zone follows the edit count.
            zone = ZONES[(number + self.edits) % len(ZONES)]
            rows.append(f"reader{number}@example.org,Reader {number},{zone}")
        (self.folder / "readers.csv").write_text("\n".join(rows) + "\n")

    def settings(self) -> Settings:
        lists: list[dict[str, Any]] = [
            {
                "slug": self.renamed,
                "name": "Daily Brief",
                "topics": ["gulf", "world"],
                "schedule": "0 7 * * *",
                "timezone": "Europe/London",
                "subscribers": "readers.csv",
                "previous_slugs": [] if self.renamed == "daily" else ["daily", *self._old_names()],
            },
            {
                "slug": "local",
                "name": "Morning, where you are",
                "topics": ["gulf"],
                "schedule": "0 7 * * *",
                "reader_local": True,
                "subscribers": "readers.csv",
            },
            *(
                {
                    "slug": slug,
                    "name": f"Extra {slug}",
                    "topics": ["world"],
                    "schedule": "0 18 * * *",
                    "timezone": "Asia/Dubai",
                    "subscribers": "readers.csv",
                    "previous_slugs": [],
                }
                for slug in self.extra_lists
            ),
        ]
        raw = {
            "service": {
                "database_url": f"sqlite:///{self.folder / 'digest.db'}",
                "data_dir": str(self.folder / "var"),
                "outbox": str(self.folder / "outbox"),
                "base_url": "https://news.example.org",
                "sender_name": "The Desk",
                "sender_address": "desk@example.org",
                "postal_address": "1 Example Street, Example City",
            },
            "ingest": {"allow_private_addresses": True, "min_interval_minutes": 60},
            "feeds": [{"name": name, "url": f"{self.feeds_url}/{name}.xml"} for name in FEEDS],
            "topics": [
                {"slug": "gulf", "name": "Gulf", "rules": {"include": list(self.topic_terms)}},
                {"slug": "world", "name": "World", "rules": {"include": ["Tokyo", "markets"]}},
            ],
            "lists": lists,
        }
        return settings_from_mapping(raw, source=self.folder / "digest.toml", environ={})

    def _old_names(self) -> list[str]:
        number = int(self.renamed.removeprefix("daily-"))
        return [f"daily-{earlier}" for earlier in range(1, number)]

    def edit(self, services: Services) -> str:
        """One of the operator's edits, in turn; what it was."""
        self.edits += 1
        kind = self.edits % 5
        if kind == 0:
            self.extra_lists.append(f"extra-{self.edits}")
            what = f"list {self.extra_lists[-1]} added"
        elif kind == 1 and self.extra_lists:
            what = f"list {self.extra_lists.pop(0)} removed"
        elif kind == 2:
            self.renamed = f"daily-{self.edits}"
            what = f"daily list renamed {self.renamed}"
        elif kind == 3:
            self.topic_terms.append(f"Term{self.edits}")
            what = "topic gulf edited"
        else:
            what = "readers joined"
        self.readers += 3  # readers join at every edit (the list's file) ...
        for number in range(self.edits % 3, self.readers, 7):  # ... and some leave
            found = services.store.subscriber_by_email(f"reader{number}@example.org")
            if found is not None:
                services.store.unsubscribe(found.id, self.renamed, self.clock.now())
        self.write_readers()
        return what


@contextmanager
def newsroom() -> Iterator[Newsroom]:
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    (folder / "feeds").mkdir()
    try:
        with serve_folder(folder / "feeds") as feeds_url:
            room = Newsroom(folder, feeds_url, FixedClock(START))
            room.write_readers()
            yield room
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# The run -----------------------------------------------------------------------------------


def start_services(room: Newsroom) -> Services:
    """The services of the config as it is now, as `digest run` builds them at start and after
    each edit (digest.cli.app.running), the Celery app's in-process runtime given them."""
    from worker import runtime

    services = build_services(
        room.settings(), clock=room.clock, transport=OutboxTransport(room.folder / "outbox")
    )
    runtime.configure(services.settings, services)
    return services


def soak(
    cycles: int,
    hours: float,
    churn_every: int,
    traced: bool,
    report: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    from worker.app import app as celery_app
    from worker.dispatch import CeleryDispatcher

    if traced:
        tracemalloc.start(1)
    readings: list[Reading] = []
    warm_up = max(1, cycles // 5)
    snapshot: tracemalloc.Snapshot | None = None
    sent = editions = 0
    started = time.perf_counter()
    with newsroom() as room:
        services = start_services(room)
        try:
            for cycle in range(1, cycles + 1):
                if churn_every and cycle % churn_every == 0:
                    what = room.edit(services)
                    services.close()
                    services = start_services(room)
                    report(f"cycle {cycle}: {what}")
                room.write_feeds()
                summary = pipeline.run_cycle(services, CeleryDispatcher(celery_app))
                sent += summary.messages_delivered
                editions += summary.editions_built
                for message in (room.folder / "outbox").glob("*.eml"):
                    message.unlink()  # picked up
                room.clock.advance(timedelta(hours=hours))
                readings.append(reading(cycle, room.folder, traced))
                if cycle == warm_up and traced:
                    snapshot = tracemalloc.take_snapshot()
                if cycle % 50 == 0:
                    last = readings[-1]
                    report(
                        f"cycle {cycle} ({room.clock.now():%Y-%m-%d}): rss {last.rss >> 20} MiB, "
                        f"objects {last.objects}, fds {last.fds}, threads {last.threads}"
                    )
        finally:
            services.close()
        growth = None
        if snapshot is not None:
            later = tracemalloc.take_snapshot()
            growth = [
                f"{stat.size_diff / 1024:+.1f} KiB {stat.count_diff:+d} blocks {stat.traceback[0]}"
                for stat in later.compare_to(snapshot, "lineno")[:15]
            ]
    return summarize(readings, warm_up, growth, sent, editions, time.perf_counter() - started)


def summarize(
    readings: list[Reading],
    warm_up: int,
    growth: list[str] | None,
    sent: int,
    editions: int,
    seconds: float,
) -> dict[str, Any]:
    after = [entry for entry in readings if entry.cycle >= warm_up]
    metrics: dict[str, Any] = {}
    for name in (
        "rss",
        "heap",
        "objects",
        "fds",
        "threads",
        "children",
        "temp_folders",
        "wal",
        "outbox_left",
        "log_handlers",
    ):
        values = [(entry.cycle, getattr(entry, name)) for entry in after]
        if values[0][1] is None:
            continue
        metrics[name] = {
            "at_warm_up": values[0][1],
            "at_end": values[-1][1],
            "per_cycle": round(slope(values), 3),
        }
    return {
        "cycles": len(readings),
        "warm_up": warm_up,
        "editions": editions,
        "messages": sent,
        "seconds": round(seconds, 1),
        "metrics": metrics,
        "heap_growth_by_line": growth,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=400)
    parser.add_argument("--hours", type=float, default=6.0, help="clock hours per cycle")
    parser.add_argument("--churn-every", type=int, default=8, help="cycles between edits (0: none)")
    parser.add_argument("--trace", action="store_true", help="trace the Python heap (slower)")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = soak(
        options.cycles,
        options.hours,
        options.churn_every,
        options.trace,
        report=(lambda line: None) if options.json else print,
    )
    if options.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['cycles']} cycles ({result['cycles'] * options.hours / 24:.0f} days), "
        f"{result['editions']} editions, {result['messages']} messages, {result['seconds']} s"
    )
    print(f"{'':14}{'after warm-up':>16}{'at end':>16}{'per cycle':>14}")
    for name, figures in result["metrics"].items():
        print(
            f"{name:14}{figures['at_warm_up']:>16}{figures['at_end']:>16}{figures['per_cycle']:>14}"
        )
    for line in result["heap_growth_by_line"] or []:
        print(line)


if __name__ == "__main__":
    main()
