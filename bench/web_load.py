"""Load on `digest serve`: one-click unsubscribe POSTs and archive GETs, with wrk, on SQLite and
PostgreSQL.

    python bench/web_load.py [--stores sqlite postgresql] [--duration 10] [--connections 32]
                             [--subscribers 20000] [--editions 30]

For each store: a database seeded for real (a loopback feed polled, editions built and rendered
by the pipeline, ``--subscribers`` readers imported), then `digest serve` started as its own
process on a loopback port, then wrk (one thread, ``--connections`` connections) for
``--duration`` seconds on each of:

    archive     GET, cycling through the list page, its later pages, every edition and the feed
    one-click   POST List-Unsubscribe=One-Click, each to a different reader's token (a real
                unsubscribe each time: the suppression file appended and synced, the row updated)

Targets on these 2 cores: one-click >= 500/s with p99 < 100 ms; archive >= 2,000/s. wrk and
the server share the cores (wrk takes a fraction of one). Needs wrk: apt-get install -y wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from digest import pipeline
from digest.clock import FixedClock
from digest.config import load_settings
from digest.mail.transport import MemoryTransport
from digest.sample_server import serve_folder
from digest.services import build_services
from tests.servers import free_port, postgres_server
from tests.webtools import FIRST_SLOT, SECRET, write_feed

DIGEST = str(Path(sys.executable).parent / "digest")
LUA = Path(__file__).with_name("web_load.lua")
TARGETS = {"one-click": (500.0, 100.0), "archive": (2000.0, None)}

CONFIG = """
[service]
database_url = "{database_url}"
data_dir = "{folder}/var"
outbox = "{folder}/outbox"
base_url = "http://127.0.0.1:{port}"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[ingest]
allow_private_addresses = true

[[feeds]]
name = "Wire"
url = "{feed_url}"

[[topics]]
slug = "middle-east"
name = "Middle East"
[topics.rules]
include = ["Gulf"]

[[lists]]
slug = "daily"
name = "Daily Brief"
description = "The Gulf each morning."
topics = ["middle-east"]
schedule = "0 7 * * *"
timezone = "Asia/Dubai"
subscribers = "members.csv"
"""


def seed(folder: Path, database_url: str, port: int, subscribers: int, editions: int) -> Path:
    """A config and a database with ``editions`` editions and ``subscribers`` readers."""
    feeds = folder / "feeds"
    feeds.mkdir()
    write_feed(feeds, [])
    members = folder / "members.csv"
    members.write_text("email,name\nfirst@example.org,First\n")
    with serve_folder(feeds) as feed_base:
        config = folder / "digest.toml"
        config.write_text(
            CONFIG.format(
                database_url=database_url,
                folder=folder,
                port=port,
                feed_url=f"{feed_base}/wire.xml",
            )
        )
        settings = load_settings(config, {"DIGEST_SECRET_KEY": SECRET})
        clock = FixedClock(FIRST_SLOT)
        services = build_services(settings, clock=clock, transport=MemoryTransport())
        try:
            stories = []
            for day in range(editions):
                if day == editions - 1:  # the readers arrive before the last edition
                    rows = "".join(
                        f"reader{n}@example.org,Reader {n}\n" for n in range(subscribers)
                    )
                    members.write_text("email,name\n" + rows)
                slot = FIRST_SLOT + timedelta(days=day)
                stories.append((day, f"Gulf story {day}", slot - timedelta(hours=1)))
                write_feed(feeds, stories[-8:])
                clock.set(slot + timedelta(minutes=5))
                for feed in services.store.sync_feeds(settings.feeds, clock.now()):
                    pipeline.poll_feed(services, feed.id)
                pipeline.build_edition(services, "daily", slot)
            tokens = [
                services.signer.unsubscribe_token(member.id, "daily")
                for member in services.store.active_subscribers("daily")
            ]
        finally:
            services.close()
    (folder / "one-click.txt").write_text("".join(f"/unsubscribe/{t}\n" for t in tokens))
    slots = [FIRST_SLOT + timedelta(days=day) for day in range(editions)]
    archive = ["/editions/daily", "/editions/daily?page=2", "/editions/daily/feed.atom"]
    archive += [f"/editions/daily/{slot:%Y-%m-%d-%H%M}" for slot in slots]
    (folder / "archive.txt").write_text("".join(f"{path}\n" for path in archive))
    return config


@contextmanager
def serving(
    config: Path,
    port: int,
    environment: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`digest serve` on ``port``, once it answers; ``environment`` is the process's (this
    one's with the bench's secret when None), ``log`` the file its output goes to (none)."""
    with ExitStack() as stack:
        output = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(
            [DIGEST, "--config", str(config), "serve", "--port", str(port)],
            env=environment or {**os.environ, "DIGEST_SECRET_KEY": SECRET},
            stdout=output,
            stderr=subprocess.STDOUT if log is not None else None,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    said = log.read_text() if log is not None else ""
                    raise SystemExit(f"digest serve did not start\n{said}")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            process.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, paths: Path, method: str, duration: int, connections: int) -> dict[str, Any]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
        "-s", str(LUA), f"http://127.0.0.1:{port}", "--", str(paths), method, "1",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK-JSON "))
    figures: dict[str, Any] = json.loads(line.removeprefix("WRK-JSON "))
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def run_store(store: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="web-load-")))
        if store == "sqlite":
            database_url = f"sqlite:///{folder / 'digest.db'}"
        else:
            database_url = stack.enter_context(postgres_server())
        port = free_port()
        started = time.monotonic()
        config = seed(folder, database_url, port, args.subscribers, args.editions)
        print(f"{store}: seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        with serving(config, port) as server:
            for scenario, paths, method in (
                ("archive", folder / "archive.txt", "GET"),
                ("one-click", folder / "one-click.txt", "POST"),
            ):
                before = cpu_seconds(server.pid)
                figures = wrk(port, paths, method, args.duration, args.connections)
                figures["server_cpu"] = (cpu_seconds(server.pid) - before) / args.duration
                results.append({"store": store, "scenario": scenario, **figures})
    return results


def report(results: list[dict[str, Any]]) -> None:
    print(f"{'store':<11}{'scenario':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
          f"{'server CPU':>12}  target")  # fmt: skip
    for row in results:
        rate_target, p99_target = TARGETS[row["scenario"]]
        met = row["rate"] >= rate_target and (
            p99_target is None or row["p99_us"] / 1000 < p99_target
        )
        target = f">= {rate_target:,.0f}/s" + (f", p99 < {p99_target:.0f} ms" if p99_target else "")
        print(
            f"{row['store']:<11}{row['scenario']:<11}{row['rate']:>9,.0f}"
            f"{row['p50_us'] / 1000:>9.1f}{row['p99_us'] / 1000:>9.1f}"
            f"{row['non_2xx'] + row['socket_errors']:>9}{row['server_cpu']:>11.0%}"
            f"  {target}: {'met' if met else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--editions", type=int, default=30)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    results = [row for store in args.stores for row in run_store(store, args)]
    report(results)
    print(json.dumps(results), file=sys.stderr)


if __name__ == "__main__":
    main()
