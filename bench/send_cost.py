"""What one more subscriber costs: an edition built once and delivered to 10,000 and 100,000
subscribers into Postfix's smtp-sink on loopback, against two references measured in the same run:

    limit   Postfix's smtp-source (C) sending messages of the same size to the same sink
    naive   rendering the edition and running premailer for every subscriber, then building the
            message with Python's email package (measured on a few hundred, per message)

Targets: at least 50% of smtp-source's rate, at least 100x the naive path, and peak memory flat
(within 1.5x) from 10,000 to 100,000 subscribers. Figures are ratios measured in one run.

    python bench/send_cost.py [--counts 10000 100000] [--connections 1 2 4] [--naive 300]
                              [--dkim 2000] [--verp]

--verp sends every copy from its own return path (``[bounces] enabled``), as a newsroom that
reads its bounces does: one more HMAC per copy.

Each count is sent once per number of connections: 1 is the sending process itself; more are
worker processes, one connection each (``smtp.connections``). The ratios use the fastest.
The sink shares the machine's cores with the sender, and so does anything else running: the
CPU time other processes took during the run is printed, since other work skews every rate.

Needs smtp-sink and smtp-source: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix
(only its test tools are used; the mail daemon need not run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from digest import pipeline, placeholders
from digest.clock import FixedClock
from digest.config import Settings, settings_from_mapping
from digest.sample_server import serve_folder
from digest.services import Services, build_services
from digest.store.deliveries import PENDING
from digest.store.schema import DeliveryRow, SubscriberRow, SubscriptionRow
from digest.store.subscribers import CONFIRMED

NOW = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
SLOT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
SENDER = "briefing@example.org"
TIMEZONES = ("Asia/Dubai", "Europe/London", "America/New_York", None)
VERP = {"enabled": False}  # --verp: [bounces] enabled in the settings every run writes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_sink() -> Any:
    port = free_port()
    sink = subprocess.Popen(
        ["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{port}", "1024"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        sink.terminate()
        sink.wait(10)


# The edition --------------------------------------------------------------------------------

WORDS = (
    "envoys met in Muscat for a third day of talks on shipping lanes, sanctions relief and the "
    "exchange of prisoners, while officials in the region weighed the cost of further delay "
)


def write_feed(folder: Path, first: int = 1) -> None:
    """40 stories, numbered from ``first``."""
    items = []
    for number in range(first, first + 40):
        published = NOW - timedelta(minutes=17 * (number - first + 1))
        summary = (WORDS * 4)[: 300 + number * 7]
        items.append(
            f"""<item><title>{escape(f"Gulf story {number}: talks resume as envoys meet")}</title>
            <link>https://wire.example.org/2026/11/25/gulf-story-{number}</link>
            <guid>urn:wire:{number}</guid><author>desk@wire.example.org (Desk {number % 5})</author>
            <description>{escape(summary)}</description>
            <pubDate>{format_datetime(published)}</pubDate></item>"""
        )
    (folder / "wire.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Gulf Wire'
        "</title><link>https://wire.example.org/</link>" + "".join(items) + "</channel></rss>",
        encoding="utf-8",
    )


def raw_settings(folder: Path, feed_url: str, smtp_port: int, connections: int) -> dict[str, Any]:
    (folder / "members.csv").write_text("email,name\n", encoding="utf-8")
    return {
        "service": {
            "database_url": f"sqlite:///{folder / 'digest.db'}",
            "data_dir": str(folder / "var"),
            "base_url": "https://briefing.example.org",
            "sender_name": "The Middle East Desk",
            "sender_address": SENDER,
            "reply_to": "desk@example.org",
            "postal_address": "Example Media Ltd, 12 Harbour Street, Dubai",
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "tls": "none",
            "connections": connections,
        },
        "ingest": {"allow_private_addresses": True},
        "bounces": {"enabled": VERP["enabled"]},
        "feeds": [{"name": "Gulf Wire", "url": feed_url}],
        "topics": [{"slug": "gulf", "name": "The Gulf", "rules": {"feeds": ["Gulf Wire"]}}],
        "lists": [
            {
                "slug": "gulf-daily",
                "name": "The Gulf Daily",
                "description": "The day's essential stories from the Gulf.",
                "topics": ["gulf"],
                "schedule": "0 7 * * *",
                "timezone": "Asia/Dubai",
                "subscribers": "members.csv",
                "utm": {},
            }
        ],
    }


def load(folder: Path) -> Settings:
    raw = json.loads((folder / "settings.json").read_text())
    environ = {"DIGEST_SECRET_KEY": "bench-secret-0123456789"}
    return settings_from_mapping(raw, source=folder / "digest.toml", environ=environ)


def prepare(folder: Path, smtp_port: int, connections: int, subscribers: int) -> int:
    """A database with one built edition and ``subscribers`` pending deliveries; its id."""
    feeds = folder / "feeds"
    feeds.mkdir(parents=True)
    write_feed(feeds)
    with serve_folder(feeds) as base_url:
        raw = raw_settings(folder, f"{base_url}/wire.xml", smtp_port, connections)
        (folder / "settings.json").write_text(json.dumps(raw))
        services = build_services(load(folder), clock=FixedClock(NOW))
        [feed] = services.store.sync_feeds(services.settings.feeds, NOW)
        pipeline.poll_feed(services, feed.id)
    built = pipeline.build_edition(services, "gulf-daily", SLOT)
    queue_ledger(services, built.edition_id, subscribers)
    services.close()
    return built.edition_id


def queue_ledger(services: Services, edition_id: int, count: int) -> None:
    """Subscribers, memberships and pending deliveries, inserted in bulk (setup, not measured)."""
    chunk = 5000
    with services.store.transaction() as session:
        for start in range(0, count, chunk):
            rows = [
                {
                    "email": f"reader{n}@example.org",
                    "name": f"Reader {n}" if n % 3 else None,
                    "timezone": TIMEZONES[n % len(TIMEZONES)],
                    "created_at": NOW,
                }
                for n in range(start, min(count, start + chunk))
            ]
            session.execute(insert(SubscriberRow), rows)
        ids = list(session.scalars(select(SubscriberRow.id).order_by(SubscriberRow.id)))
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            session.execute(
                insert(SubscriptionRow),
                [
                    {"subscriber_id": i, "list_slug": "gulf-daily", "status": CONFIRMED,
                     "changed_at": NOW}
                    for i in part
                ],
            )  # fmt: skip
            session.execute(
                insert(DeliveryRow),
                [
                    {"edition_id": edition_id, "subscriber_id": i, "status": PENDING,
                     "attempts": 0}
                    for i in part
                ],
            )  # fmt: skip


# The measured run, in a process of its own so that its peak memory is its own ---------------


def deliver(
    folder: Path, edition_id: int, dkim_key: Path | None, *, started: bool = False
) -> dict[str, Any]:
    """Deliver the stored edition; with ``started``, the sending processes are started and
    ready before the clock starts, as a running service's are (and as bench/throughput.py's
    workers are): the send alone is timed, not the second a process pool takes to start."""
    settings = load(folder)
    if dkim_key is not None:
        raw = json.loads((folder / "settings.json").read_text())
        raw["dkim"] = {"selector": "bench", "key_file": str(dkim_key)}
        (folder / "settings.json").write_text(json.dumps(raw))
        settings = load(folder)
    services = build_services(settings, clock=FixedClock(NOW), migrate=False)
    dispatcher = pipeline.InlineDispatcher(services)
    if started:
        dispatcher.prepare_delivery()
        wait_until_started(services)
    # The sending processes are forked from a server process, not from this one: their CPU
    # and peak memory are read from /proc while they live. Their CPU is known only when they
    # were started before the clock; otherwise they start during the send.
    senders = services.sending.pids() if services.sending is not None else []
    cpu_before = process_cpu([os.getpid(), *senders])
    start = time.perf_counter()
    sent = failed = 0
    ledger = services.store.pending_delivery_batches(edition_id, pipeline.DELIVERY_BATCH_SIZE)
    for outcome in dispatcher.deliver(edition_id, ledger):
        sent += outcome.sent
        failed += outcome.failed
    seconds = time.perf_counter() - start
    cpu = process_cpu([os.getpid(), *senders]) - cpu_before
    workers = services.sending.pids() if services.sending is not None else []
    rss_worker_mb = max((peak_rss_mb(pid) for pid in workers), default=0.0)
    services.close()
    return {
        "sent": sent,
        "failed": failed,
        "seconds": seconds,
        "cpu_us_per_copy": {"sender": round(cpu / max(sent, 1) * 1e6)} if started else None,
        "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_worker_mb": rss_worker_mb,
    }


def wait_until_started(services: Services) -> None:
    """Every sending process started: as many short sleeps as processes, each held by one."""
    sending = services.sending
    if sending is not None:
        pool = sending.start()
        for held in [pool.submit(time.sleep, 0.3) for _ in range(sending.processes)]:
            held.result()


def process_cpu(pids: list[int]) -> float:
    """CPU-seconds the live processes ``pids`` have used so far (user and system)."""
    seconds = 0
    for pid in pids:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds += int(fields[11]) + int(fields[12])
    return seconds / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_delivery(
    port: int, connections: int, subscribers: int, dkim_key: Path | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="send-cost-") as temporary:
        folder = Path(temporary)
        edition_id = prepare(folder, port, connections, subscribers)
        command = [sys.executable, __file__, "--deliver", str(folder), str(edition_id)]
        if dkim_key is not None:
            command += ["--dkim-key", str(dkim_key)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["size"] = sample_size(folder, edition_id)
        return result


def sample_size(folder: Path, edition_id: int) -> int:
    return len(sample_message(folder, edition_id))


def sample_message(folder: Path, edition_id: int) -> bytes:
    services = build_services(load(folder), clock=FixedClock(NOW), migrate=False)
    from digest.delivering import personalizer_for
    from digest.records import Subscriber

    message = personalizer_for(services, edition_id).message_for(
        Subscriber(id=1, email="reader1@example.org", name="Reader 1"), NOW
    )
    services.close()
    return message.data


# The references -----------------------------------------------------------------------------


def smtp_source_rate(port: int, message: bytes, count: int, sessions: int) -> float:
    with tempfile.TemporaryDirectory(prefix="send-cost-") as temporary:
        path = Path(temporary) / "message.lf"
        path.write_bytes(message.replace(b"\r\n", b"\n"))
        command = ["smtp-source", "-d", "-s", str(sessions), "-m", str(count), "-F", str(path)]
        command += ["-f", SENDER, "-t", "reader@example.org", f"127.0.0.1:{port}"]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return count / (time.perf_counter() - start)


def naive_rate(port: int, count: int) -> float:
    """Render (Jinja2 + premailer) and build the MIME message per subscriber; smtplib sends."""
    with tempfile.TemporaryDirectory(prefix="send-cost-") as temporary:
        folder = Path(temporary)
        edition_id = prepare(folder, port, 1, 0)
        services = build_services(load(folder), clock=FixedClock(NOW), migrate=False)
        settings = services.settings
        digest_list = settings.list("gulf-daily")
        edition = services.store.load_edition(edition_id)
        smtp = smtplib.SMTP("127.0.0.1", port)
        start = time.perf_counter()
        for n in range(count):
            rendered = services.renderer.render(edition, digest_list)
            token = services.signer.unsubscribe_token(n, digest_list.slug)
            values = {
                placeholders.GREETING: f"Hello Reader {n},",
                placeholders.UNSUBSCRIBE_URL: f"{settings.service.base_url}/unsubscribe/{token}",
                placeholders.PREFERENCES_URL: f"{settings.service.base_url}/preferences/{token}",
                placeholders.SUBSCRIBER_EMAIL: f"reader{n}@example.org",
            }
            html, text = rendered.html, rendered.text
            for marker, value in values.items():
                html, text = html.replace(marker, value), text.replace(marker, value)
            message = EmailMessage()
            message["From"] = f"The Middle East Desk <{SENDER}>"
            message["To"] = f"Reader {n} <reader{n}@example.org>"
            message["Subject"] = rendered.subject
            message["Date"] = format_datetime(NOW)
            message["List-Unsubscribe"] = f"<{values[placeholders.UNSUBSCRIBE_URL]}>"
            message.set_content(text, cte="quoted-printable")
            message.add_alternative(html, subtype="html", cte="quoted-printable")
            smtp.sendmail(SENDER, [f"reader{n}@example.org"], message.as_bytes())
        rate = count / (time.perf_counter() - start)
        smtp.quit()
        services.close()
        return rate


# The report ---------------------------------------------------------------------------------


def machine_busy() -> float:
    """CPU-seconds every process on the machine has used since boot (Linux /proc/stat)."""
    total = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0]
    # user nice system idle iowait irq softirq: all but idle and iowait is work
    user, nice, system, _, _, irq, softirq = (int(v) for v in total.split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU-seconds of this process and its children (the sink, smtp-source, the senders)."""
    own = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(usage.ru_utime + usage.ru_stime for usage in own)


def postfix_tools_present() -> bool:
    """Whether smtp-sink and smtp-source are installed; says how to install them when not."""
    missing = [tool for tool in ("smtp-sink", "smtp-source") if shutil.which(tool) is None]
    if missing:
        print(
            f"{' and '.join(missing)} not found: install Postfix's test tools with\n"
            "  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix",
            file=sys.stderr,
        )
    return not missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--naive", type=int, default=300, help="subscribers for the naive path")
    parser.add_argument("--dkim", type=int, default=2000, help="messages signed with DKIM; 0: skip")
    parser.add_argument("--verp", action="store_true", help="a return path per copy (VERP)")
    parser.add_argument("--deliver", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--dkim-key", help=argparse.SUPPRESS)
    parser.add_argument("--started", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    VERP["enabled"] = options.verp
    if options.deliver:
        folder, edition_id = Path(options.deliver[0]), int(options.deliver[1])
        key = Path(options.dkim_key) if options.dkim_key else None
        print(json.dumps(deliver(folder, edition_id, key, started=options.started)))
        return 0

    if not postfix_tools_present():
        return 2

    started, busy_before, ours_before = time.perf_counter(), machine_busy(), own_cpu()
    print(f"{os.cpu_count()} CPUs; sink: smtp-sink on loopback\n")
    with smtp_sink() as port:
        runs: dict[tuple[int, int], dict[str, Any]] = {}
        for connections in options.connections:
            for count in options.counts:
                result = run_delivery(port, connections, count)
                assert result["sent"] == count, result
                runs[connections, count] = result
        size = next(iter(runs.values()))["size"]
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            edition_id = prepare(folder, port, 1, 0)
            message = sample_message(folder, edition_id)
        limit = smtp_source_rate(port, message, options.counts[0], 4)
        naive = naive_rate(port, options.naive)
        dkim_run = None
        if options.dkim:
            with tempfile.TemporaryDirectory() as temporary:
                key = Path(temporary) / "dkim.pem"
                subprocess.run(
                    ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
                )
                dkim_run = run_delivery(port, 1, options.dkim, key)

    print(f"message size: {size / 1024:.1f} KB (text + HTML, quoted-printable)")
    others = machine_busy() - busy_before - (own_cpu() - ours_before)
    cpus = (time.perf_counter() - started) * (os.cpu_count() or 1)
    print(f"other processes took {others:.0f} CPU-seconds during the run ({others / cpus:.0%})\n")
    print(f"{'path':<44} {'messages':>9} {'msg/s':>9} {'main MB':>8} {'worker MB':>9}")
    for (connections, count), result in runs.items():
        rate = result["sent"] / result["seconds"]
        name = f"digest, {connections} connection{'s' if connections > 1 else ''}"
        name += " (workers)" if connections > 1 else " (in process)"
        workers = f"{result['rss_worker_mb']:>9.0f}" if connections > 1 else f"{'-':>9}"
        print(f"{name:<44} {count:>9,} {rate:>9,.0f} {result['rss_main_mb']:>8.0f} {workers}")
    source = "smtp-source (C), 4 sessions, same size"
    print(f"{source:<44} {options.counts[0]:>9,} {limit:>9,.0f}")
    print(f"{'naive: render + premailer + email package':<44} {options.naive:>9,} {naive:>9,.1f}")
    if dkim_run is not None:
        rate = dkim_run["sent"] / dkim_run["seconds"]
        print(f"{'digest with DKIM (RSA-2048, dkimpy)':<44} {options.dkim:>9,} {rate:>9,.0f}")

    largest = options.counts[-1]
    best = max(
        (connections for connections in options.connections),
        key=lambda c: runs[c, largest]["sent"] / runs[c, largest]["seconds"],
    )
    ours = runs[best, largest]["sent"] / runs[best, largest]["seconds"]
    checks = [
        (f"rate / smtp-source ({best} conn.)", ours / limit, ">= 0.50", ours / limit >= 0.5),
        (f"rate / naive ({best} conn.)", ours / naive, ">= 100", ours / naive >= 100),
    ]
    for connections in options.connections:
        small, large = runs[connections, options.counts[0]], runs[connections, largest]
        fields = ["rss_main_mb"] + (["rss_worker_mb"] if connections > 1 else [])
        for field in fields:
            ratio = large[field] / small[field]
            who = "main" if field == "rss_main_mb" else "worker"
            name = f"peak memory {who}, {connections} conn., {largest:,} / {options.counts[0]:,}"
            checks.append((name, ratio, "<= 1.5", ratio <= 1.5))
    print()
    for name, ratio, target, ok in checks:
        print(f"{name:<44} {ratio:>9.2f}  target {target:<8} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
