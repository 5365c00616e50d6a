"""A whole `digest run --once --list` to 20,000 readers, against Postfix's smtp-source sending
as many messages of the same size to the same smtp-sink, in the same run.

The command is the operator's: import the list's subscriber file if it changed since its last
import, poll the feed (from a loopback server), build and render the edition, queue one delivery
per reader and send them (embedded mode: eager Celery tasks, ``smtp.connections`` processes). Its
rate is the readers over the command's wall-clock time, start-up included. Two runs on one
database: the first, on an empty one, also imports the 20,000 readers of the subscriber file;
the next (the list's next edition, forced) finds the file unchanged and reads only its SHA-256,
as every edition after the first does. smtp-source runs with 4 sessions. Target: digest at
least 0.8 of smtp-source.

    python bench/run_cost.py [--readers 20000] [--connections 2 4] [--rounds 2]
                             [--profile FILE]

Each round runs digest once per number of connections (a fresh database each time) and
smtp-source once, one after the other, so that the drift of a shared machine weighs on both;
the ratio uses the median of the rounds. ``--profile FILE`` runs the command under cProfile
(the main process; the sending processes are not profiled) and writes the stats to FILE.
The CPU time other processes took meanwhile is printed: the sink shares the cores.

Needs smtp-sink and smtp-source: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import update

from bench.send_cost import (
    machine_busy,
    own_cpu,
    postfix_tools_present,
    raw_settings,
    smtp_sink,
    smtp_source_rate,
    write_feed,
)
from digest.clock import SystemClock
from digest.config import load_settings
from digest.delivering import personalizer_for
from digest.records import Subscriber
from digest.sample_server import serve_folder
from digest.services import build_services
from digest.store.db import create_database_engine
from digest.store.schema import FeedRow

DIGEST = str(Path(sys.executable).parent / "digest")
LIST = "gulf-daily"
SECRET = "bench-secret-0123456789"


def toml_text(raw: dict[str, Any]) -> str:
    """The settings mapping as TOML (strings, numbers, booleans, lists, tables, arrays of
    tables; what ``raw_settings`` makes)."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item)
        if isinstance(item, list):
            return "[" + ", ".join(value(element) for element in item) + "]"
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{key} = {value(v)}" for key, v in item.items()) + " }"
        raise TypeError(item)

    lines: list[str] = []
    for section, content in raw.items():
        tables = content if isinstance(content, list) else [content]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(content, list) else f"[{section}]")
            lines.extend(f"{key} = {value(item)}" for key, item in table.items())
            lines.append("")
    return "\n".join(lines)


def write_config(folder: Path, feed_url: str, port: int, connections: int, readers: int) -> Path:
    raw = raw_settings(folder, feed_url, port, connections)
    members = "".join(
        f"reader{n}@example.org,{f'Reader {n}' if n % 3 else ''}\n" for n in range(readers)
    )
    (folder / "members.csv").write_text("email,name\n" + members, encoding="utf-8")
    config = folder / "digest.toml"
    config.write_text(toml_text(raw), encoding="utf-8")
    return config


def run_digest(config: Path, profile: Path | None) -> dict[str, Any]:
    """One `digest run --once --list` into the sink; its wall-clock time and what it said."""
    environment = {**os.environ, "DIGEST_SECRET_KEY": SECRET, "COLUMNS": "120"}
    for name in ("DIGEST_CONFIG", "DIGEST_BROKER_URL", "DIGEST_DATABASE_URL"):
        environment.pop(name, None)
    command = [DIGEST, "--config", str(config), "run", "--once", "--list", LIST]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"digest run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    delivered = re.search(r"messages delivered\s+│\s+(\d+)", done.stdout)
    sent = int(delivered.group(1)) if delivered else 0
    return {"seconds": seconds, "sent": sent}


def next_stories(config: Path, feeds: Path) -> None:
    """New stories in the feed, and the feed due for a poll now (setup, not measured)."""
    write_feed(feeds, first=next(_numbers))
    settings = load_settings(config, {"DIGEST_SECRET_KEY": SECRET})
    engine = create_database_engine(settings.service.database_url)
    with engine.begin() as connection:
        connection.execute(update(FeedRow).values(next_poll_at=None))
    engine.dispose()


_numbers = itertools.count(1000, 1000)


def processes() -> Iterator[tuple[int, list[str]]]:
    """Each process of the machine now, with the fields of its /proc/PID/stat after its name
    (the state first, then the parent's pid)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(entry.name), fields


class GrandchildrenCpu:
    """CPU-seconds of this process's descendants below its children: digest's sending
    processes are forked from a server process that nobody waits for, so their CPU never
    reaches this process's own accounting (``own_cpu``). Read from /proc every 0.2 s while
    they run; what a process uses after the last reading is missed."""

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> GrandchildrenCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.2):
            parents, cpu = {}, {}
            for pid, fields in processes():
                parents[pid] = int(fields[1])
                cpu[pid] = (int(fields[11]) + int(fields[12])) / self._tick
            for pid, seconds in cpu.items():
                depth, ancestor = 0, pid
                while ancestor in parents and ancestor != me and depth < 10:
                    ancestor, depth = parents[ancestor], depth + 1
                if ancestor == me and depth >= 2:
                    self._seen[pid] = max(self._seen.get(pid, 0.0), seconds)


def sample_message(config: Path) -> bytes:
    """One reader's copy of the edition the run sent: smtp-source sends its size."""
    settings = load_settings(config, {"DIGEST_SECRET_KEY": SECRET})
    services = build_services(settings, clock=SystemClock(), migrate=False)
    try:
        edition = services.store.latest_edition(LIST)
        assert edition is not None, "the run built no edition"
        reader = Subscriber(id=1, email="reader1@example.org", name="Reader 1")
        message = personalizer_for(services, edition.id).message_for(reader, SystemClock().now())
    finally:
        services.close()
    return message.data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=4, help="smtp-source sessions")
    parser.add_argument("--profile", type=Path, help="cProfile the (last) digest run into FILE")
    options = parser.parse_args()
    if not postfix_tools_present():
        return 2

    started, busy_before, ours_before = time.perf_counter(), machine_busy(), own_cpu()
    grandchildren = GrandchildrenCpu().__enter__()
    print(f"{os.cpu_count()} CPUs; {options.readers:,} readers; sink: smtp-sink on loopback\n")
    kinds = ("first", "next")
    rates: dict[tuple[str, int], list[float]] = {
        (kind, n): [] for kind in kinds for n in options.connections
    }
    limits: list[float] = []
    size = 0
    with smtp_sink() as port, tempfile.TemporaryDirectory(prefix="run-cost-") as temporary:
        feeds = Path(temporary) / "feeds"
        feeds.mkdir()
        write_feed(feeds)
        with serve_folder(feeds) as base_url:
            for round_number in range(options.rounds):
                for connections in options.connections:
                    folder = Path(temporary) / f"run-{round_number}-{connections}"
                    folder.mkdir()
                    config = write_config(
                        folder, f"{base_url}/wire.xml", port, connections, options.readers
                    )
                    last = round_number == options.rounds - 1
                    for kind in kinds:
                        if kind == "next":
                            next_stories(config, feeds)
                        profiled = last and (kind, connections) == ("next", options.connections[-1])
                        result = run_digest(config, options.profile if profiled else None)
                        if result["sent"] != options.readers:
                            raise SystemExit(f"sent {result['sent']} of {options.readers}")
                        rate = options.readers / result["seconds"]
                        rates[kind, connections].append(rate)
                        print(
                            f"round {round_number + 1}: {kind} run, {connections} connections: "
                            f"{result['seconds']:.1f} s, {rate:,.0f} msg/s"
                        )
                    if not size:
                        message = sample_message(config)
                        size = len(message)
                limit = smtp_source_rate(port, message, options.readers, options.sessions)
                limits.append(limit)
                print(f"round {round_number + 1}: smtp-source, {options.sessions} sessions: "
                      f"{limit:,.0f} msg/s")  # fmt: skip

    grandchildren.__exit__()
    ours = own_cpu() - ours_before + grandchildren.seconds
    others = machine_busy() - busy_before - ours
    cpus = (time.perf_counter() - started) * (os.cpu_count() or 1)
    print(f"\nmessage size: {size / 1024:.1f} KB (text + HTML, quoted-printable)")
    print(f"other processes took {others:.0f} CPU-seconds during the run ({others / cpus:.0%})\n")
    limit = statistics.median(limits)
    print(f"{'path':<48} {'msg/s (median)':>15} {'/ smtp-source':>14}")
    print(f"{f'smtp-source (C), {options.sessions} sessions, same size':<48} {limit:>15,.0f}")
    best = 0.0
    for (kind, connections), measured in rates.items():
        rate = statistics.median(measured)
        if kind == "next":
            best = max(best, rate / limit)
        name = f"digest run --once --list, {kind} run, {connections} conn."
        print(f"{name:<48} {rate:>15,.0f} {rate / limit:>14.2f}")
    ok = best >= 0.8
    print(f"\nbest next run / smtp-source: {best:.2f}  target >= 0.80  {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
