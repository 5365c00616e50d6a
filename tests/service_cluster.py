"""A distributed deployment for tests, with real processes: redis-server, PostgreSQL, an SMTP
server, the feed server, ``digest worker`` and ``digest beat``; and the tally of what reached the
mail server (sent, duplicates, lost) that every such test prints and checks.

Waits are on conditions (the ledger, a log), with generous bounds that only stop a hung run;
processes are started in their own process group and killed by it in ``finally``.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text

from digest.store.schema import DeliveryRow, SubscriberRow
from tests.feedserver import answer, feed_server
from tests.servers import SmtpSink

DIGEST = Path(sys.executable).parent / "digest"
_databases = itertools.count()


def fresh_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server of ``server_url``; its URL."""
    name = f"service_{os.getpid()}_{next(_databases)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def rss(now: datetime) -> bytes:
    items = "".join(
        f"<item><title>Iran story {n}</title><link>https://wire.example.org/story/{n}</link>"
        f"<guid>urn:wire:{n}</guid><description>Iran story {n}, as it develops.</description>"
        f"<pubDate>{format_datetime(now - timedelta(hours=n))}</pubDate></item>"
        for n in (1, 2, 3)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example.org/</link>{items}</channel></rss>"
    ).encode()


CONFIG = """
[service]
data_dir = "{folder}/var"
base_url = "https://news.example.org"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"
{service_extra}
{smtp}
[ingest]
allow_private_addresses = true

[[feeds]]
name = "Wire"
url = "{feed_url}"

[[topics]]
slug = "iran"
name = "Iran"
rules = {{ include = ["Iran"] }}

[[lists]]
slug = "daily"
name = "Daily Brief"
topics = ["iran"]
schedule = "{schedule}"
timezone = "{timezone}"
subscribers = "members.csv"
{list_extra}

{extra}
"""
SMTP = """
[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
connections = {connections}
{smtp_extra}
"""
# Its latest slot is always past: the list is due at the first tick, once.
ONCE_A_YEAR = "0 0 1 1 *"


def config_text(
    folder: Path,
    smtp_port: int | None,
    feed_url: str,
    *,
    smtp_extra: str = "",
    service_extra: str = "",
    list_extra: str = "",
    schedule: str = ONCE_A_YEAR,
    timezone: str = "UTC",
    connections: int = 1,
    extra: str = "",
) -> str:
    """The config of one service, one feed, one topic and one list (``daily``, its readers in
    ``folder/members.csv``): ``CONFIG`` with its blanks filled. Without ``smtp_port`` mail goes
    to the outbox; the ``*_extra`` lines go into their tables, ``extra`` holds tables of its
    own, after the rest. The database is the environment's (``DIGEST_DATABASE_URL``) unless
    ``service_extra`` names one."""
    smtp = (
        ""
        if smtp_port is None
        else SMTP.format(smtp_port=smtp_port, connections=connections, smtp_extra=smtp_extra)
    )
    return CONFIG.format(
        folder=folder,
        feed_url=feed_url,
        smtp=smtp,
        service_extra=service_extra,
        list_extra=list_extra,
        schedule=schedule,
        timezone=timezone,
        extra=extra,
    )


def sqlite_database(folder: Path) -> str:
    """The ``service_extra`` line of an SQLite database in ``folder``."""
    return f'database_url = "sqlite:///{folder}/digest.db"'


# Retries come back within a second (0.3 s, doubled up to 1.2 s), so a test sees them through:
# beat ticks every second and hands out the retries that are due.
QUICK_RETRIES = "retry_minutes = 0.005\nmax_retry_minutes = 0.02"


def reader(n: int) -> str:
    return f"reader{n}@example.org"


def write_members(folder: Path, readers: int) -> list[str]:
    """The list's subscribers, ``readers`` of them; their addresses. The one place tests of the
    distributed mode say who subscribes (today the list's CSV file)."""
    addresses = [reader(n) for n in range(readers)]
    (folder / "members.csv").write_text(
        "email,name\n" + "".join(f"{address},Reader {address}\n" for address in addresses)
    )
    return addresses


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.1)


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``digest`` process in its own process group, stopped by SIGTERM (then SIGKILL)."""
    with log.open("ab") as output:
        started = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield started
        finally:
            if started.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(started.pid, signal.SIGTERM)
                with suppress(subprocess.TimeoutExpired):
                    started.wait(timeout=60)
            with suppress(ProcessLookupError):  # children a warm shutdown left behind
                os.killpg(started.pid, signal.SIGKILL)
            started.wait()


def children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (a worker's pool processes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def ended(pids: list[int]) -> bool:
    """Every one of ``pids`` has exited (gone, or a zombie its parent has not reaped yet)."""
    for pid in pids:
        with suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                return False
    return True


# What a killed sender had written to its socket before it died still reaches the server, and a
# whole message there is taken: on loopback in microseconds. The server is given this long to
# read it before the copies in flight at the kill are counted.
WIRE_SETTLE_SECONDS = 1.0


@dataclass
class Deployment:
    """One configured service: its folder, environment and database; processes on demand."""

    folder: Path
    config: Path
    env: dict[str, str]
    database_url: str
    engine: Engine
    readers: list[str]
    logs: list[Path] = field(default_factory=list)

    @property
    def digest(self) -> list[str]:
        return [str(DIGEST), "--config", str(self.config)]

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.digest, *arguments], env=self.env, capture_output=True, text=True, timeout=120
        )

    def start(self, *arguments: str, new_session: bool = False) -> subprocess.Popen[str]:
        """``digest ARGUMENTS`` started on the deployment, its output piped as text; with
        ``new_session``, in a process group of its own (to signal it and its children)."""
        return subprocess.Popen(
            [*self.digest, *arguments],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )

    def worker(
        self, name: str, concurrency: int = 2
    ) -> AbstractContextManager[subprocess.Popen[bytes]]:
        log = self.folder / f"{name}.log"
        self.logs.append(log)
        command = [*self.digest, "worker", "--concurrency", str(concurrency)]
        return process(command, self.env, log)

    def beat(self, name: str = "beat") -> AbstractContextManager[subprocess.Popen[bytes]]:
        log = self.folder / f"{name}.log"
        self.logs.append(log)
        return process([*self.digest, "beat", "--interval", "1"], self.env, log)

    def print_logs(self) -> None:
        for log in self.logs:
            print(f"----- {log.name}")
            print(log.read_text(errors="replace")[-6000:])

    def ticks(self) -> int:
        """The ticks the workers have run so far, by their logs."""
        return sum(
            log.read_text(errors="replace").count("delivery batches handed out")
            for log in self.logs
        )

    def statuses(self) -> Counter[str]:
        with self.engine.connect() as connection:
            query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            return Counter(dict(connection.execute(query).all()))

    def sent(self) -> int:
        return self.statuses()["sent"]

    def settled(self) -> bool:
        """Every reader has a ledger row and none is pending."""
        statuses = self.statuses()
        return sum(statuses.values()) >= len(self.readers) and statuses["pending"] == 0

    def sent_message_ids(self) -> set[str]:
        with self.engine.connect() as connection:
            query = select(DeliveryRow.message_id).where(DeliveryRow.status == "sent")
            return {str(message_id) for message_id in connection.execute(query).scalars()}

    def rows(self) -> dict[str, tuple[str, int, str | None]]:
        """Each reader's ledger row: (status, attempts, last error), by address."""
        with self.engine.connect() as connection:
            query = select(
                SubscriberRow.email,
                DeliveryRow.status,
                DeliveryRow.attempts,
                DeliveryRow.last_error,
            ).join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            return {
                email: (status, attempts, error)
                for email, status, attempts, error in connection.execute(query)
            }


@contextmanager
def deployment(
    folder: Path,
    database_url: str,
    broker_url: str | None,
    sink: SmtpSink | None,
    readers: int,
    *,
    smtp_extra: str = "",
    service_extra: str = "",
    list_extra: str = "",
    schedule: str = ONCE_A_YEAR,
    extra: str = "",
) -> Iterator[Deployment]:
    """The config, the subscribers, the schema and the feed's articles of one service whose
    mail goes to ``sink`` (to the outbox folder when None); its workers and beat are started by
    the test."""
    addresses = write_members(folder, readers)
    routes = {
        "/wire.xml": answer(200, rss(datetime.now(UTC)), {"Content-Type": "application/rss+xml"})
    }
    with feed_server(routes) as feeds:
        config = folder / "digest.toml"
        config.write_text(
            config_text(
                folder,
                None if sink is None else sink.port,
                feeds.url("/wire.xml"),
                smtp_extra=smtp_extra,
                service_extra=service_extra,
                list_extra=list_extra,
                schedule=schedule,
                extra=extra,
            )
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
        env["DIGEST_DATABASE_URL"] = database_url
        engine = create_engine(database_url, pool_pre_ping=True)
        service = Deployment(folder, config, env, database_url, engine, addresses)
        for step in (("db", "upgrade"), ("poll",)):
            # The articles are in before beat starts: a build that ran before a poll of the
            # same tick would be empty (and its articles in the next edition).
            done = service.run(*step)
            assert done.returncode == 0, done.stdout + done.stderr
        if broker_url is not None:  # else the embedded mode
            env["DIGEST_BROKER_URL"] = broker_url
        try:
            yield service
        finally:
            engine.dispose()


@dataclass(frozen=True)
class Tally:
    """What reached the mail server, reader by reader, against the ledger."""

    sent: int  # copies the server took
    duplicates: int  # copies beyond the first, per reader
    lost: int  # readers with neither a copy nor a settled row saying why not
    repeated: dict[str, list[str]]  # reader -> the Message-IDs of their copies, if more than one

    def show(self, name: str) -> None:
        print(f"{name}: sent {self.sent}, duplicates {self.duplicates}, lost {self.lost}")


def tally(sink: SmtpSink, service: Deployment, *, refused: frozenset[str] = frozenset()) -> Tally:
    """Count the copies ``sink`` took. A reader in ``refused`` is lost unless the ledger failed
    their delivery (the server said 5xx); anyone else is lost without a copy and a sent row."""
    copies: dict[str, list[str]] = defaultdict(list)
    for mail in list(sink.received):
        for recipient in mail.rcpt_tos:
            copies[recipient].append(mail.message_id)
    rows = service.rows()
    lost = 0
    for address in service.readers:
        status = rows.get(address, ("missing", 0, None))[0]
        if address in refused:
            lost += status != "failed"
        else:
            lost += not copies.get(address) or status != "sent"
    repeated = {address: ids for address, ids in copies.items() if len(ids) > 1}
    sent = sum(len(ids) for ids in copies.values())
    return Tally(sent, sum(len(ids) - 1 for ids in repeated.values()), lost, repeated)


def check_repeats(result: Tally, in_flight: set[str]) -> None:
    """Each repeated copy carries its first copy's Message-ID, one that was in flight at the
    fault (taken by the server, not yet recorded on the ledger)."""
    for address, message_ids in result.repeated.items():
        assert len(set(message_ids)) == 1, f"{address} got copies with different Message-IDs"
        assert message_ids[0] in in_flight, (
            f"{address} got {len(message_ids)} copies of {message_ids[0]}, not in flight at "
            "the fault"
        )


def in_flight_now(sink: SmtpSink, service: Deployment) -> set[str]:
    """The Message-IDs the server has taken that the ledger does not have as sent: read right
    after a fault, the copies in flight at it (and some that a live worker records meanwhile,
    which never go again)."""
    taken = {mail.message_id for mail in list(sink.received)}
    return taken - service.sent_message_ids()
