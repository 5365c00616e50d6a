"""A large newsroom's configuration: what an operator's commands and the service's steps cost.

    python bench/large_config.py [--feeds 400] [--topics 80] [--lists 40] [--readers 50000]
                                 [--postgres] [--profile STEP] [--keep FOLDER]

It writes a config of its own into a temporary folder: ``--feeds`` feeds of a day's articles
each, served on loopback; ``--topics`` topics with rules (ten parents and their children);
``--lists`` lists on daily, weekday, weekly and twice-a-day schedules in twenty timezones, ten
of them due at the same minute; ``--readers`` readers spread over the lists' files, a fifth of
them on a second list and a third of the rows with a choice of topics. Then it times, on
SQLite (or with ``--postgres`` a PostgreSQL cluster it starts):

- the commands an operator types, each its own process: ``config check``, ``status``,
  ``feeds``, ``schedule``, ``subscribers list --list``;
- in this process, what the service does: loading and checking the config (what ``run``,
  ``worker`` and ``beat`` do at start and ``beat`` at each tick), importing the files, a poll
  of every feed, classifying a day's articles, composing every list's edition and variants,
  building them, a beat tick with nothing due and with ten lists due, building the ten
  editions, and the readers' pages (sign-up, preferences, the archive of a list with two
  years of editions) through the web app;

and prints each step's seconds of the clock and of the CPU (a command's: its process's), and
the SQL statements it ran. ``--profile STEP`` prints the top of a cProfile of that step (a
name the table prints). docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, select, update  # noqa: E402

from digest import pipeline, ticking  # noqa: E402
from digest.clock import FixedClock  # noqa: E402
from digest.config import load_settings  # noqa: E402
from digest.mail.transport import MemoryTransport  # noqa: E402
from digest.preflight import preflight  # noqa: E402
from digest.sample_server import serve_folder  # noqa: E402
from digest.services import Services, build_services  # noqa: E402
from digest.store.schema import EditionRow as Edition  # noqa: E402
from digest.store.schema import FeedRow  # noqa: E402
from digest.topic_choices import bounded_groups  # noqa: E402
from digest.windows import window_after_previous, window_composer  # noqa: E402

SECRET = "large-config-bench-secret-key-0123456789"
# A Monday in December: no zone of the lists' changes its clock within days of it.
NOW = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)
DUE = NOW.replace(hour=6, minute=0)
ARTICLES_A_FEED = 12
# Ten lists whose 07:00-ish local slot is 06:00 UTC on DUE (none of these zones keeps summer time
# in December, Sao Paulo none at all): the tick at DUE finds all ten due at once.
DUE_TOGETHER = [
    ("0 6 * * *", "UTC"),
    ("0 10 * * *", "Asia/Dubai"),
    ("30 11 * * *", "Asia/Kolkata"),
    ("0 15 * * *", "Asia/Tokyo"),
    ("0 9 * * *", "Africa/Nairobi"),
    ("0 9 * * *", "Asia/Riyadh"),
    ("0 3 * * *", "America/Sao_Paulo"),
    ("0 11 * * *", "Asia/Karachi"),
    ("0 7 * * *", "Africa/Lagos"),
    ("0 14 * * *", "Asia/Singapore"),
]
OTHER_SCHEDULES = ["0 7 * * *", "30 6 * * 1-5", "0 8 * * 1", "0 7,17 * * *", "15 12 * * *"]
OTHER_ZONES = [
    "Europe/London", "Europe/Paris", "Europe/Istanbul", "America/New_York", "America/Chicago",
    "America/Los_Angeles", "Australia/Sydney", "Asia/Jerusalem", "Africa/Cairo", "Asia/Kathmandu",
]  # fmt: skip


def word(n: int, salt: int) -> str:
    """A made-up word, the same for the same numbers: a topic's place, person or term."""
    syllables = ["ka", "lo", "mir", "tan", "vel", "sho", "rud", "ne", "pa", "zim", "or", "qu"]
    value = n * 7919 + salt * 104729
    parts = []
    for _ in range(3):
        parts.append(syllables[value % len(syllables)])
        value //= len(syllables)
    return "".join(parts).capitalize() + str(n)


def topic_terms(topic: int) -> dict[str, list[str]]:
    return {
        "include": [f"{word(topic, s)} affairs" for s in range(6)],
        "places": [word(topic, 10 + s) for s in range(8)],
        "people": [f"Minister {word(topic, 20 + s)}" for s in range(5)],
        "groups": [f"{word(topic, 30 + s)} Front" for s in range(3)],
        "ambiguous": [word(topic, 40 + s) for s in range(3)],
        "exclude": [f"{word(topic, 50)} recipe"],
        "ignore": [f"{word(topic, 10)} Street"],
    }


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def write_feeds(folder: Path, args: argparse.Namespace, days: int) -> None:
    """Each feed's document: ``ARTICLES_A_FEED`` articles of the day before NOW, and with
    ``days=2`` as many more published between NOW and DUE (what the due editions carry). Two
    feeds side by side report the same stories, each story in words of its own and in terms of
    two topics."""
    for feed in range(args.feeds):
        outlet = feed - feed % 2
        stories = []
        for day in range(days):
            for item in range(ARTICLES_A_FEED):
                story = outlet * 1000 + day * 100 + item
                first, second = (
                    (outlet * 3 + item + day) % args.topics,
                    (outlet * 5 + item * 7) % args.topics,
                )
                terms, other = topic_terms(first), topic_terms(second)
                own = [word(story, 60 + n).lower() for n in range(6)]
                title = (
                    f"{terms['places'][item % 8]} {own[0]} {own[1]} as"
                    f" {other['people'][item % 5]} {own[2]}"
                )
                if day == 0:
                    published = NOW - timedelta(minutes=20 + 110 * item + outlet % 60)
                else:
                    published = NOW + timedelta(minutes=1 + item * 2)
                stories.append(
                    f"<item><title>{title}</title>"
                    f"<link>https://feed{feed}.example.org/story/{story}</link>"
                    f"<guid>urn:feed{feed}:{story}</guid>"
                    f"<description>{terms['include'][item % 6]} {own[3]} {own[4]} and"
                    f" {other['groups'][item % 3]} {own[5]} said on"
                    f" {terms['ambiguous'][0]}.</description>"
                    f"<pubDate>{format_datetime(published + timedelta(minutes=feed % 2))}"
                    "</pubDate></item>"
                )
        (folder / f"feed{feed}.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><link>https://feed{feed}.example.org/</link>"
            + "".join(stories)
            + "</channel></rss>",
            encoding="utf-8",
        )


def write_config(folder: Path, base_url: str, args: argparse.Namespace) -> Path:
    """The config file, the lists' files and the feeds' documents; returns the config's path."""
    feeds_dir, members_dir = folder / "feeds", folder / "subscribers"
    members_dir.mkdir()
    parents = max(1, args.topics // 8)
    lines = [
        "[service]",
        'base_url = "https://news.example.org"',
        'sender_name = "The Desk"',
        'sender_address = "desk@news.example.org"',
        'postal_address = "Example Media, 1 Harbour Street, Dubai"',
        'outbox = "var/outbox"',
        "",
        "[ingest]",
        "allow_private_addresses = true",
        "",
    ]
    for feed in range(args.feeds):
        lines += ["[[feeds]]", f'name = "Feed {feed}"', f'url = "{base_url}/feed{feed}.xml"', ""]
    write_feeds(feeds_dir, args, days=1)
    for topic in range(args.topics):
        terms = topic_terms(topic)
        lines += ["[[topics]]", f'slug = "topic-{topic}"', f'name = "Topic {topic}"']
        if topic >= parents:
            lines.append(f'parent = "topic-{topic % parents}"')
        lines.append("[topics.rules]")
        if topic < parents:
            lines.append(f'feeds = ["Feed {topic}", "Feed {topic + parents}"]')
        lines.append(f'categories = ["Category {topic}"]')
        lines += [f"{key} = {toml_list(values)}" for key, values in terms.items()]
        lines += ["threshold = 2", ""]
    list_topics = []
    for number in range(args.lists):
        parent = number % parents
        children = [t for t in range(parents, args.topics) if t % parents == parent]
        chosen = [parent, *children[: 3 + number % 9]]
        list_topics.append(chosen)
        if number < len(DUE_TOGETHER):
            schedule, zone = DUE_TOGETHER[number]
        else:
            schedule = OTHER_SCHEDULES[number % len(OTHER_SCHEDULES)]
            zone = OTHER_ZONES[number % len(OTHER_ZONES)]
        lines += [
            "[[lists]]",
            f'slug = "list-{number}"',
            f'name = "List {number}"',
            f"topics = {toml_list([f'topic-{t}' for t in chosen])}",
            f'schedule = "{schedule}"',
            f'timezone = "{zone}"',
            f"max_articles = {15 + number % 20}",
            f'subscribers = "subscribers/list-{number}.csv"',
            "",
        ]
    rows: list[list[str]] = [["email,name,timezone,topics\n"] for _ in range(args.lists)]
    for reader in range(args.readers):
        lists = [reader % args.lists] + ([(reader * 7 + 3) % args.lists] if reader % 5 == 0 else [])
        for slug_number in dict.fromkeys(lists):
            topics = list_topics[slug_number]
            choice = ""
            if reader % 3 == 0:
                picked = [topics[(reader + k) % len(topics)] for k in range(1 + reader % 3)]
                choice = " ".join(f"topic-{t}" for t in dict.fromkeys(picked))
            zone = OTHER_ZONES[reader % len(OTHER_ZONES)]
            rows[slug_number].append(
                f"reader{reader}@example.org,Reader {reader},{zone},{choice}\n"
            )
    for number, lines_of_list in enumerate(rows):
        (members_dir / f"list-{number}.csv").write_text("".join(lines_of_list), encoding="utf-8")
    path = folder / "digest.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Statements:
    """Counts the SQL statements an engine runs while it is listened to."""

    def __init__(self, services: Services) -> None:
        self.engine = services.store.engine
        self.count = 0

    def seen(self, *_: object) -> None:
        self.count += 1

    @contextmanager
    def listening(self) -> Iterator[None]:
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self.seen)
        try:
            yield
        finally:
            event.remove(self.engine, "before_cursor_execute", self.seen)


class Fanout:
    """Records the tasks a tick hands out, and runs none."""

    def __init__(self) -> None:
        self.polls: list[int] = []
        self.publishes: list[tuple[str, datetime]] = []
        self.batches = 0

    def poll(self, feed_id: int) -> None:
        self.polls.append(feed_id)

    def publish(self, list_slug: str, slot: datetime) -> None:
        self.publishes.append((list_slug, slot))

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None:
        self.batches += 1

    def import_members(self, list_slug: str) -> None:
        pass


class Timer:
    """Times steps, prints one line each, and profiles the one asked for."""

    def __init__(self, profile: str | None) -> None:
        self.profile = profile
        self.statements: Statements | None = None

    def step(self, name: str, work: Callable[[], Any], note: str = "") -> Any:
        profiler = cProfile.Profile() if name == self.profile else None
        counting = self.statements.listening() if self.statements else ExitStack()
        with counting:
            start, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            result = work()
            if profiler:
                profiler.disable()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        queries = f"{self.statements.count:>7}" if self.statements else "      -"
        print(f"{name:<36} {seconds:>8.3f} s {cpu:>8.3f} s {queries} SQL  {note}", flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        return result

    def command(self, name: str, config: Path, environ: dict[str, str], *argv: str) -> None:
        start = time.perf_counter()
        before = os.times()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "digest"), "--config", str(config), *argv],
            env=environ,
            capture_output=True,
            text=True,
        )
        seconds, after = time.perf_counter() - start, os.times()
        cpu = after.children_user + after.children_system
        cpu -= before.children_user + before.children_system
        note = f"exit {done.returncode}, {len(done.stdout.splitlines())} lines"
        print(f"{name:<36} {seconds:>8.3f} s {cpu:>8.3f} s       - SQL  {note}", flush=True)
        if done.returncode not in (0, 1):
            print(done.stderr[-2000:], file=sys.stderr)


def compose_variants(services: Services, slots: list[tuple[str, datetime]]) -> int:
    """Each list's edition of its slot and every variant its readers' choices of topics ask for,
    composed and not stored (the stories of each grouped, as a build does). Returns how many."""
    store, composed = services.store, 0
    for slug, slot in slots:
        digest_list = services.settings.list(slug)
        groups, _ = bounded_groups(
            store.topic_choices(slug), digest_list.topics, digest_list.max_topic_variants, slug
        )
        after_seq, window_start = window_after_previous(services, slug, slot)
        window_seq = store.article_sequence()
        for choice in [None, *(choice for choice in groups if choice is not None)]:
            narrowed = digest_list.model_copy(update={"topics": choice or digest_list.topics})
            compose_without = window_composer(
                services, narrowed, slot, window_seq, after_seq, window_start
            )
            compose_without(frozenset())
            composed += 1
    return composed


def two_years_of_editions(services: Services, list_slug: str) -> int:
    """Copies of the list's latest edition, one a day for two years before it: an archive."""
    with services.store.engine.begin() as connection:
        latest = (
            connection.execute(
                select(Edition.__table__)
                .where(Edition.list_slug == list_slug)
                .order_by(Edition.slot)
            )
            .mappings()
            .first()
        )
        assert latest is not None
        rows = []
        for day in range(1, 731):
            row = dict(latest)
            del row["id"]
            for key in ("slot", "window_end", "built_at"):
                row[key] = latest[key] - timedelta(days=day)
            row["window_start"] = row["window_end"] - timedelta(days=1)
            rows.append(row)
        connection.execute(insert(Edition.__table__), rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=400)
    parser.add_argument("--topics", type=int, default=80)
    parser.add_argument("--lists", type=int, default=40)
    parser.add_argument("--readers", type=int, default=50000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", help="a step's name: print its cProfile")
    parser.add_argument("--keep", type=Path, help="write the config here, and keep it")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        feeds_dir = folder / "feeds"
        feeds_dir.mkdir()
        base_url = stack.enter_context(serve_folder(feeds_dir))
        if args.postgres:
            from tests.servers import postgres_cluster

            database_url = stack.enter_context(postgres_cluster()).url
        else:
            database_url = f"sqlite:///{folder / 'digest.db'}"
        config = write_config(folder, base_url, args)
        environ = {
            **os.environ,
            "DIGEST_SECRET_KEY": SECRET,
            "DIGEST_DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT),
        }
        for name in ("DIGEST_BROKER_URL", "DIGEST_CONFIG"):
            environ.pop(name, None)
        os.environ.update({k: environ[k] for k in ("DIGEST_SECRET_KEY", "DIGEST_DATABASE_URL")})
        size = sum(p.stat().st_size for p in (folder / "subscribers").iterdir())
        print(
            f"{args.feeds} feeds, {args.topics} topics, {args.lists} lists, {args.readers}"
            f" readers ({size // 1024} KB of lists' files), {database_url.split(':')[0]}"
        )
        timer = Timer(args.profile)
        timer.command("digest db upgrade", config, environ, "db", "upgrade")
        timer.command("digest config check (empty db)", config, environ, "config", "check")
        settings = timer.step("load the config", lambda: load_settings(config))
        clock = FixedClock(NOW)
        services = build_services(settings, clock=clock, transport=MemoryTransport())
        stack.callback(services.close)
        timer.statements = Statements(services)
        timer.step("check the config (preflight)", lambda: preflight(settings, services.store))
        timer.step("import the lists' files", lambda: pipeline.members_in_step(services, NOW))
        timer.step("import again, files unchanged", lambda: pipeline.members_in_step(services, NOW))
        polled = timer.step(
            "poll every feed (and classify)",
            lambda: pipeline.poll_cycle(services, pipeline.InlineDispatcher(services)),
        )
        print(f"    {polled.feeds_polled} feeds, {polled.new_articles} articles")
        articles = services.store.articles_seen_since(NOW - timedelta(days=2))
        timer.step(
            "classify a day's articles",
            lambda: [services.classifier.classify(article) for article in articles],
            f"{len(articles)} articles",
        )
        # Every list's latest slot before NOW built, as a running service would have.
        fanout, leases = Fanout(), ticking.LocalLeases(clock)
        first = ticking.tick(services, fanout, leases)
        count = timer.step(
            "compose every list's variants",
            lambda: compose_variants(services, fanout.publishes),
        )
        print(f"    {count} editions and variants of {len(fanout.publishes)} lists, not stored")
        timer.step(
            "build every list's latest slot",
            lambda: [
                ticking.publish(services, fanout, leases, slug, slot)
                for slug, slot in fanout.publishes
            ],
            f"{len(first.publishes)} editions",
        )
        timer.step("beat tick, nothing due", lambda: ticking.tick(services, Fanout(), leases))
        write_feeds(feeds_dir, args, days=2)
        clock.set(DUE)
        with services.store.engine.begin() as connection:  # every feed due again
            connection.execute(update(FeedRow).values(next_poll_at=None))
        polled = timer.step(
            "poll every feed again",
            lambda: pipeline.poll_cycle(services, pipeline.InlineDispatcher(services)),
        )
        print(f"    {polled.feeds_polled} feeds, {polled.new_articles} articles")
        due = Fanout()
        outcome = timer.step(
            "beat tick, ten lists due", lambda: ticking.tick(services, due, leases)
        )
        timer.step(
            "build the ten due editions",
            lambda: [
                ticking.publish(services, due, leases, slug, slot) for slug, slot in due.publishes
            ],
            f"{len(outcome.publishes)} editions",
        )
        clock.set(DUE + timedelta(minutes=1))
        print(f"    archive: {two_years_of_editions(services, 'list-0')} editions of list-0")
        from starlette.testclient import TestClient

        from digest.web.app import create_app

        client = TestClient(create_app(services), base_url="https://news.example.org")
        member = next(iter(services.store.active_subscribers("list-1")))
        token = services.signer.preferences_token(member.id, "list-1")
        for name, path in [
            ("web: front page", "/"),
            ("web: sign-up page", "/subscribe/list-1"),
            ("web: preferences page", f"/preferences/{token}"),
            ("web: archive index, 2 years", "/editions/list-0"),
            ("web: archive index again", "/editions/list-0"),
        ]:
            response = timer.step(name, lambda path=path: client.get(path))
            assert response.status_code == 200, (path, response.status_code)
        timer.statements = None
        for name, argv in [
            ("digest config check", ["config", "check"]),
            ("digest status", ["status"]),
            ("digest feeds", ["feeds"]),
            ("digest schedule", ["schedule"]),
            ("digest subscribers list --list", ["subscribers", "list", "--list", "list-1"]),
        ]:
            timer.command(name, config, environ, *argv)


if __name__ == "__main__":
    main()
