"""Distributed delivery throughput and memory: an edition to 20,000 subscribers into Postfix's
smtp-sink through Redis with 1 and 2 worker processes, the same in-process, and smtp-source on
the same sink in the same run.

    python bench/throughput.py [--readers 20000] [--workers 1 2] [--rounds 3]
                               [--sizes 2000 20000] [--memory 10000 100000] [--sessions 4]

Every path sends the same stored edition from PostgreSQL (a server this script starts, with a
redis-server) to the same sink:

    workers N    ``digest worker --concurrency N`` (N pool processes, one SMTP connection each);
                 the delivery handed out as the tick does (``digest.ticking``: one task per
                 batch of the ledger), timed from the hand-out until the ledger has every row
                 sent (worker start-up not counted)
    in process   the embedded mode's send (``pipeline.InlineDispatcher``, ``smtp.connections``
                 processes), in a process of its own, on the same database kind
    smtp-source  Postfix's C sender, ``--sessions`` sessions, messages of the same size

The sending paths run ``--rounds`` times, and smtp-source before the first and after every run:
a shared machine's speed drifts by a third within minutes, so each run is set against the mean
of the smtp-source runs around it, and the medians of those shares over the rounds are the
verdicts (2 workers against in-process: each round's two shares over each other). Targets: 2
workers at least as fast as in-process with 2 connections; the best send at least 0.8 of
smtp-source. It prints too the broker messages per subscriber at two list sizes (task messages
pushed to Redis, must not grow with the list), and the peak resident memory of a worker's pool
process at two list sizes (flat: within 1.5x).
The sink, Redis and PostgreSQL share the machine's cores with the senders, and so does anything
else running: the CPU time other processes took during the run is printed.

Needs smtp-sink and smtp-source (DEBIAN_FRONTEND=noninteractive apt-get install -y postfix),
redis-server and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from sqlalchemy import Engine, create_engine, func, insert, make_url, select

from bench.run_cost import toml_text
from bench.send_cost import (
    NOW,
    SLOT,
    load,
    machine_busy,
    own_cpu,
    peak_rss_mb,
    postfix_tools_present,
    process_cpu,
    raw_settings,
    sample_message,
    smtp_sink,
    smtp_source_rate,
    write_feed,
)
from digest import pipeline, ticking
from digest.clock import FixedClock
from digest.sample_server import serve_folder
from digest.services import Services, build_services
from digest.store.editions import SENT
from digest.store.schema import DeliveryRow, EditionRow, SubscriberRow, SubscriptionRow
from digest.store.subscribers import CONFIRMED
from tests.servers import postgres_server, redis_cluster
from tests.service_cluster import children, fresh_database

DIGEST = str(Path(sys.executable).parent / "digest")
WORKERS = "through Redis, {} worker process(es)"
INLINE = "in process, {} connection(s)"
SOURCE = "smtp-source (C)"
SECRET = "bench-secret-0123456789"


def prepare(folder: Path, port: int, database_url: str, readers: int) -> int:
    """A database with one built edition and ``readers`` pending deliveries; its id. The
    settings (settings.json, digest.toml) name the database and the sink."""
    feeds = folder / "feeds"
    feeds.mkdir(parents=True)
    write_feed(feeds)
    with serve_folder(feeds) as base_url:
        raw = raw_settings(folder, f"{base_url}/wire.xml", port, 2)
        raw["service"]["database_url"] = database_url
        (folder / "settings.json").write_text(json.dumps(raw))
        (folder / "digest.toml").write_text(toml_text(raw))
        services = build_services(load(folder), clock=FixedClock(NOW))
        [feed] = services.store.sync_feeds(services.settings.feeds, NOW)
        pipeline.poll_feed(services, feed.id)
    built = pipeline.build_edition(services, "gulf-daily", SLOT)
    if built.edition_id is None:
        raise SystemExit(f"the bench's edition was not built: {built}")
    enrol(services, readers)
    # The ledger as a build queues it (one INSERT ... SELECT, the statistics brought up to date).
    services.store.queue_deliveries(built.edition_id, "gulf-daily", NOW)
    services.close()
    return built.edition_id


def enrol(services: Services, count: int) -> None:
    """``count`` subscribers, members of the list, inserted in bulk (setup, not measured)."""
    chunk = 5000
    with services.store.transaction() as session:
        for start in range(0, count, chunk):
            rows = [
                {"email": f"reader{n}@example.org", "name": f"Reader {n}", "created_at": NOW}
                for n in range(start, min(count, start + chunk))
            ]
            session.execute(insert(SubscriberRow), rows)
        ids = list(session.scalars(select(SubscriberRow.id).order_by(SubscriberRow.id)))
        for start in range(0, len(ids), chunk):
            members = [
                {
                    "subscriber_id": i,
                    "list_slug": "gulf-daily",
                    "status": CONFIRMED,
                    "changed_at": NOW,
                }
                for i in ids[start : start + chunk]
            ]
            session.execute(insert(SubscriptionRow), members)


def edition_sent(engine: Engine, edition_id: int) -> bool:
    """Whether the edition is marked sent: one primary-key lookup, cheap to poll often, where
    counting the ledger would load the database the sending shares the CPU with."""
    with engine.connect() as connection:
        query = select(EditionRow.status).where(EditionRow.id == edition_id)
        return connection.execute(query).scalar_one() == SENT


def sent_count(engine: Engine, edition_id: int) -> int:
    with engine.connect() as connection:
        query = select(func.count()).where(
            DeliveryRow.edition_id == edition_id, DeliveryRow.status == "sent"
        )
        return int(connection.execute(query).scalar_one())


@contextmanager
def digest_worker(folder: Path, broker: str, concurrency: int) -> Iterator[int]:
    """A ``digest worker`` on ``folder``'s config, ready to take tasks; yields its pid."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST")}
    environment |= {"DIGEST_BROKER_URL": broker, "DIGEST_SECRET_KEY": SECRET}
    log = folder / f"worker-{concurrency}.log"
    command = [DIGEST, "--config", str(folder / "digest.toml"), "worker", "-c", str(concurrency)]
    with log.open("ab") as output:
        worker = subprocess.Popen(
            command, env=environment, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "ready." not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"digest worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield worker.pid
    finally:
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            worker.wait(60)
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def pushed(client: redis.Redis) -> int:
    """Messages pushed onto Redis lists so far (kombu's queues): LPUSH and RPUSH calls."""
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("lpush", "rpush"))


def pids_running(program: str, argument: str) -> list[int]:
    """Live processes of ``program`` whose command line holds ``argument``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        with suppress(OSError):
            words = entry.read_bytes().split(b"\0")
            named = words and Path(words[0].decode(errors="replace")).name == program
            if named and any(argument.encode() in word for word in words):
                found.append(int(entry.parent.name))
    return found


def through_workers(
    port: int, postgres: str, broker: str, readers: int, concurrency: int
) -> dict[str, Any]:
    """An edition to ``readers`` delivered by one ``digest worker -c concurrency``, with the
    CPU each part of the machine spent on it per copy (µs): the worker's processes, the
    PostgreSQL server, the sink and redis-server."""
    with tempfile.TemporaryDirectory(prefix="throughput-") as temporary:
        folder = Path(temporary)
        edition_id = prepare(folder, port, fresh_database(postgres), readers)
        client = redis.Redis.from_url(broker)
        client.flushdb()
        from worker import runtime
        from worker.app import app, celery_settings
        from worker.fanout import CeleryFanout
        from worker.leases import RedisLeases

        stored = load(folder)
        service = stored.service.model_copy(update={"broker_url": broker})
        settings = stored.model_copy(update={"service": service})
        runtime.configure(settings)  # before the app reads its settings from the runtime
        app.conf.update(celery_settings(settings))
        engine = create_engine(settings.service.database_url)
        broker_port = urlsplit(broker).port
        with digest_worker(folder, broker, concurrency) as pid:
            services = build_services(settings, clock=FixedClock(NOW), migrate=False)
            before = pushed(client)
            parts: dict[str, Callable[[], float]] = {
                "worker": lambda: process_cpu([pid, *children(pid)]),
                "postgres": lambda: cluster_cpu(postgres),
                "sink": lambda: process_cpu(pids_running("smtp-sink", f":{port}")),
                "redis": lambda: process_cpu(pids_running("redis-server", f":{broker_port}")),
            }
            cpu_before = {name: measure() for name, measure in parts.items()}
            start = time.perf_counter()
            batches = ticking.hand_out_deliveries(
                services, CeleryFanout(), RedisLeases(broker), edition_id
            )
            handed = time.perf_counter() - start
            while not edition_sent(engine, edition_id):
                time.sleep(0.01)
            seconds = time.perf_counter() - start
            if (sent := sent_count(engine, edition_id)) != readers:
                raise SystemExit(f"edition {edition_id} settled with {sent} of {readers} sent")
            cpu_per_copy = {
                name: round((measure() - cpu_before[name]) / readers * 1e6)
                for name, measure in parts.items()
            }
            messages = pushed(client) - before
            rss = max((peak_rss_mb(child) for child in children(pid)), default=0.0)
            services.close()
        engine.dispose()
        return {
            "sent": readers,
            "seconds": seconds,
            "hand_out_seconds": handed,
            "batches": batches,
            "broker_messages": messages,
            "rss_worker_mb": rss,
            "cpu_us_per_copy": cpu_per_copy,
            "size": len(sample_message(folder, edition_id)),
        }


def in_process(port: int, postgres: str, readers: int, connections: int) -> dict[str, Any]:
    """The embedded mode's send of the same edition, in a process of its own, its sending
    processes started before the clock starts, as the workers are."""
    with tempfile.TemporaryDirectory(prefix="throughput-") as temporary:
        folder = Path(temporary)
        edition_id = prepare(folder, port, fresh_database(postgres), readers)
        raw = json.loads((folder / "settings.json").read_text())
        raw["smtp"]["connections"] = connections
        (folder / "settings.json").write_text(json.dumps(raw))
        command = [
            sys.executable, "bench/send_cost.py", "--deliver", str(folder), str(edition_id),
            "--started",
        ]  # fmt: skip
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def cluster_cpu(database_url: str) -> float:
    """CPU-seconds the PostgreSQL server at ``database_url`` has used: its postmaster (found by
    its port; ``pg_ctl`` detaches it, so it is no descendant of this process) with the backends
    it has waited for, and its live processes."""
    port = f"-p {make_url(database_url).port} "
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    postmaster = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if port in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace"
            ):
                postmaster = int(entry.name)
    if postmaster is None:
        return 0.0
    fields = stats[postmaster]
    seconds = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    seconds += sum(
        int(other[11]) + int(other[12]) for other in stats.values() if int(other[1]) == postmaster
    )
    return seconds / tick


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each sending path")
    parser.add_argument("--sizes", type=int, nargs=2, default=[2_000, 20_000])
    parser.add_argument("--memory", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--sessions", type=int, default=4, help="smtp-source sessions")
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error("--rounds must be 1 or more: the verdicts are medians of the rounds")
    if not postfix_tools_present():
        return 2

    started, busy_before, ours_before = time.perf_counter(), machine_busy(), own_cpu()
    print(
        f"{os.cpu_count()} CPUs; {options.readers:,} readers; sink: smtp-sink on loopback; "
        f"smtp-source with {options.sessions} sessions\n"
    )
    rates: dict[str, list[float]] = {}
    shares: dict[str, list[float]] = {}  # each run's rate over the smtp-source runs around it
    per_subscriber: dict[int, float] = {}
    memory: dict[int, float] = {}
    with postgres_server() as postgres, redis_cluster() as broker, smtp_sink() as port:
        # pg_ctl detaches the server: its CPU is the bench's own, but reaches no rusage of ours.
        database_before = cluster_cpu(postgres)
        with tempfile.TemporaryDirectory(prefix="throughput-") as temporary:
            folder = Path(temporary)
            edition_id = prepare(folder, port, fresh_database(postgres), 0)
            message = sample_message(folder, edition_id)
        size = len(message)

        def source_run() -> float:
            rate = smtp_source_rate(port, message, options.readers, options.sessions)
            rates.setdefault(SOURCE, []).append(rate)
            return rate

        def workers_run(processes: int) -> dict[str, Any]:
            return through_workers(port, postgres, broker.url, options.readers, processes)

        def inline_run(processes: int) -> dict[str, Any]:
            return in_process(port, postgres, options.readers, processes)

        before = source_run()
        for round_number in range(1, options.rounds + 1):
            for processes in options.workers:
                for path, run in ((WORKERS, workers_run), (INLINE, inline_run)):
                    result = run(processes)
                    after = source_run()
                    name = path.format(processes)
                    rate = result["sent"] / result["seconds"]
                    rates.setdefault(name, []).append(rate)
                    shares.setdefault(name, []).append(rate / ((before + after) / 2))
                    print(
                        f"round {round_number}, {name}: {rate:,.0f} msg/s, smtp-source around "
                        f"it {before:,.0f} and {after:,.0f}: {shares[name][-1]:.2f}; {result}",
                        flush=True,
                    )
                    before = after
        for readers in options.sizes:
            result = through_workers(port, postgres, broker.url, readers, 2)
            per_subscriber[readers] = result["broker_messages"] / readers
            print(f"broker, {readers}: {result}", flush=True)
        for readers in options.memory:
            result = through_workers(port, postgres, broker.url, readers, 1)
            memory[readers] = result["rss_worker_mb"]
            print(f"memory, {readers}: {result}", flush=True)
        database = cluster_cpu(postgres) - database_before

    others = machine_busy() - busy_before - (own_cpu() - ours_before) - database
    cpus = (time.perf_counter() - started) * (os.cpu_count() or 1)
    print(f"\nmessage size: {size / 1024:.1f} KB (text + HTML, quoted-printable)")
    print(f"its PostgreSQL server took {database:.0f} CPU-seconds ({database / cpus:.0%})")
    print(f"other processes took {others:.0f} CPU-seconds during the run ({others / cpus:.0%})\n")
    print(f"{'path (medians of the rounds)':<44} {'msg/s':>9} {'/ smtp-source around it':>24}")
    for name, values in rates.items():
        share = statistics.median(shares[name]) if name in shares else 1.0
        print(f"{name:<44} {statistics.median(values):>9,.0f} {share:>24.2f}")
    print()
    for readers, per in per_subscriber.items():
        print(f"broker messages per subscriber, {readers:>7,} readers: {per:.4f}")
    for readers, mb in memory.items():
        print(f"peak memory of a worker process, {readers:>7,} readers: {mb:.0f} MB")

    two = max(options.workers)
    workers, inline = shares[WORKERS.format(two)], shares[INLINE.format(two)]
    # Each round's workers over its in-process run, both over the smtp-source runs around them.
    side_by_side = statistics.median(w / i for w, i in zip(workers, inline, strict=True))
    best = max(statistics.median(values) for values in shares.values())
    small, large = options.sizes
    low, high = options.memory
    checks = [
        (f"{two} workers / in process ({two} conn.)", side_by_side, ">= 1.0"),
        ("best send / smtp-source", best, ">= 0.80"),
        (
            f"broker messages per subscriber {large:,} / {small:,}",
            per_subscriber[large] / per_subscriber[small],
            "<= 1.0",
        ),
        (f"peak worker memory {high:,} / {low:,}", memory[high] / memory[low], "<= 1.5"),
    ]
    print()
    verdicts = []
    for name, ratio, target in checks:
        bound = float(target.split()[1])
        ok = ratio >= bound if target.startswith(">=") else ratio <= bound
        verdicts.append(ok)
        print(f"{name:<48} {ratio:>7.2f}  target {target:<8} {'ok' if ok else 'MISSED'}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
