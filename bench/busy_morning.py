"""A busy morning on one database: `digest run --once --list` sends an edition to 20,000 readers
while `digest serve` takes one-click unsubscribes, preference changes, sign-ups and their
confirmations, and `digest poll` runs beside them; on SQLite (the embedded default, one file
for all three processes) and PostgreSQL.

    python bench/busy_morning.py [--stores sqlite postgresql] [--readers 20000]
                                 [--threads 16] [--quiet-seconds 15] [--connections 2]

For each store: the readers imported and the feed served from loopback; an SMTP sink of its own
process (aiosmtpd) that notes each copy's recipient and the time it came; `digest serve` on a
loopback port. Then ``--threads`` threads of httpx put the mix below on the pages for
``--quiet-seconds`` (nothing else running), and again for as long as the send runs, with a
`digest poll` started beside it:

    one-click    POST List-Unsubscribe=One-Click, each to a different reader of the list
    preferences  GET the reader's page, POST it back with a new name (the list kept)
    sign-up      POST the form with a new address; its confirmation mail, once in the sink,
                 opened and its button pressed (confirm, timed apart)

Then what must hold, read from the database and the sink: no answer 5xx, no traceback and no
"database is locked" in any process's output; every one-click answered 200 left its reader
unsubscribed; no reader got a copy from a batch read after their unsubscribe was answered
(a batch is read just before its first copy goes: a copy that came more than ``SLACK`` s after
the answer is counted); every copy went once and every reader still a member got one; every
confirmation answered 200 left a confirmed member. The web figures (p50/p99) are printed for
the quiet and the busy phase side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import text

from bench.run_cost import LIST, SECRET, toml_text
from bench.send_cost import raw_settings, write_feed
from bench.web_load import serving
from digest.clock import SystemClock
from digest.config import load_settings
from digest.imports import import_list_files
from digest.sample_server import serve_folder
from digest.services import build_services
from digest.store.db import create_database_engine
from tests.morning import copies_after_leaving, read_outcome
from tests.servers import free_port, postgres_server

DIGEST = str(Path(sys.executable).parent / "digest")
# A batch is read just before its first copy goes: a copy that came later than this after its
# reader's unsubscribe was answered came from a batch read after the answer.
SLACK = 1.0
BATCH = 500  # worker.batch_size's default, which the config keeps
MIX = (("one-click", 5), ("preferences", 3), ("sign-up", 2))
_FORM_TOKEN = re.compile(r'name="form_token"\s+value="([^"]+)"')
_CONFIRM_LINK = re.compile(r"/confirm/([A-Za-z0-9_.\-]+)")


# The sink, run as its own process ------------------------------------------------------------


def run_sink(port: int, notes: Path) -> None:
    """An SMTP server on ``port`` that appends one JSON line per copy to ``notes``: when it came,
    its recipient and, for a confirmation mail, the token of its link."""
    from aiosmtpd.controller import Controller

    out = notes.open("a", buffering=1)

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            data = envelope.original_content or b""
            note: dict[str, Any] = {"at": time.time(), "to": list(envelope.rcpt_tos)}
            if b"Subject: Confirm" in data or b"/confirm/" in data.replace(b"=\r\n", b""):
                body = message_from_bytes(data, policy=policy.default)
                part = body.get_body(("plain",))
                found = _CONFIRM_LINK.search(part.get_content() if part is not None else "")
                note["confirm"] = found.group(1) if found else None
            out.write(json.dumps(note) + "\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    threading.Event().wait()


@contextmanager
def sink(port: int, notes: Path) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--sink", str(port), str(notes)], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the SMTP sink did not start")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def sink_notes(notes: Path) -> list[dict[str, Any]]:
    if not notes.exists():
        return []
    return [json.loads(line) for line in notes.read_text().splitlines() if line.strip()]


# Setup ------------------------------------------------------------------------------------------


def write_config(folder: Path, feed_url: str, database_url: str, smtp: int, web: int,
                 connections: int, readers: int) -> Path:  # fmt: skip
    raw = raw_settings(folder, feed_url, smtp, connections)
    raw["service"]["database_url"] = database_url
    raw["service"]["base_url"] = f"http://127.0.0.1:{web}"
    raw["web"] = {"port": web, "signup_rate_per_client": "1000000/hour"}
    members = "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(readers))
    (folder / "members.csv").write_text("email,name\n" + members, encoding="utf-8")
    config = folder / "digest.toml"
    config.write_text(toml_text(raw), encoding="utf-8")
    return config


@dataclass
class Reader:
    id: int
    email: str
    unsubscribe: str
    preferences: str


def seed(config: Path) -> list[Reader]:
    """The list's file imported (the run finds it unchanged); every reader with their links."""
    settings = load_settings(config, {"DIGEST_SECRET_KEY": SECRET})
    services = build_services(settings, clock=SystemClock())
    try:
        import_list_files(settings, services.store, services.address_key, SystemClock().now())
        return [
            Reader(
                member.id,
                member.email,
                services.signer.unsubscribe_token(member.id, LIST),
                services.signer.preferences_token(member.id, LIST),
            )
            for member in services.store.active_subscribers(LIST)
        ]
    finally:
        services.close()


def environment(database_url: str) -> dict[str, str]:
    env = {**os.environ, "DIGEST_SECRET_KEY": SECRET, "COLUMNS": "160"}
    for name in ("DIGEST_CONFIG", "DIGEST_BROKER_URL"):
        env.pop(name, None)
    env["DIGEST_DATABASE_URL"] = database_url
    return env


# The load -------------------------------------------------------------------------------------


@dataclass
class Answer:
    action: str
    phase: str
    started: float
    answered: float
    status: int
    email: str | None = None


@dataclass
class Load:
    base: str
    readers: list[Reader]
    notes: Path
    answers: list[Answer] = field(default_factory=list)
    signed_up: list[str] = field(default_factory=list)
    confirmed_links: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_reader: int = 0
    _next_address: int = 0
    _local: threading.local = field(default_factory=threading.local)

    def client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            self._local.client = httpx.Client(base_url=self.base, timeout=60)
        return self._local.client  # type: ignore[no-any-return]

    def reader(self) -> Reader:
        with self.lock:
            self._next_reader += 1
            return self.readers[self._next_reader - 1]

    def address(self) -> str:
        with self.lock:
            self._next_address += 1
            return f"new{self._next_address}@example.net"

    def timed(
        self,
        action: str,
        phase: str,
        send: Callable[[], httpx.Response],
        email: str | None = None,
    ) -> httpx.Response | None:
        started = time.time()
        try:
            response = send()
            status = response.status_code
        except httpx.HTTPError:
            response, status = None, 0
        with self.lock:
            self.answers.append(Answer(action, phase, started, time.time(), status, email))
        return response

    def one_click(self, phase: str) -> None:
        reader = self.reader()
        self.timed(
            "one-click",
            phase,
            lambda: self.client().post(
                f"/unsubscribe/{reader.unsubscribe}",
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            email=reader.email.lower(),
        )

    def preferences(self, phase: str) -> None:
        reader = self.reader()
        path = f"/preferences/{reader.preferences}"
        page = self.timed("preferences-page", phase, lambda: self.client().get(path))
        found = _FORM_TOKEN.search(page.text) if page is not None else None
        if found is None:
            return
        form = {
            "form_token": found.group(1),
            "topics": "gulf",
            "name": f"Reader {reader.id} renamed",
            "timezone": "",
            "lists": LIST,
            "shown": LIST,
        }
        self.timed(
            "preferences", phase, lambda: self.client().post(path, data=form), email=reader.email
        )

    def sign_up(self, phase: str) -> None:
        path = f"/subscribe/{LIST}"
        page = self.timed("sign-up-page", phase, lambda: self.client().get(path))
        found = _FORM_TOKEN.search(page.text) if page is not None else None
        if found is None:
            return
        email = self.address()
        form = {"form_token": found.group(1), "email": email, "name": "New", "website": ""}
        answer = self.timed(
            "sign-up", phase, lambda: self.client().post(path, data=form), email=email
        )
        if answer is not None and answer.status_code == 200:
            with self.lock:
                self.signed_up.append(email)

    def confirm(self, token: str, email: str, phase: str) -> None:
        path = f"/confirm/{token}"
        page = self.timed("confirm-page", phase, lambda: self.client().get(path))
        found = _FORM_TOKEN.search(page.text) if page is not None else None
        if found is None:
            return
        form = {"form_token": found.group(1)}
        self.timed("confirm", phase, lambda: self.client().post(path, data=form), email=email)

    def confirm_waiting(self, phase: str) -> int:
        """Open the links of the confirmation mails come since last asked; how many."""
        opened = 0
        for note in sink_notes(self.notes):
            token = note.get("confirm")
            if token and token not in self.confirmed_links:
                self.confirmed_links.add(token)
                self.confirm(token, note["to"][0], phase)
                opened += 1
        return opened


def put_load(load: Load, phase: str, threads: int, until: Callable[[], bool]) -> None:
    """``threads`` threads each doing the mix until ``until()``, and one confirming sign-ups."""
    actions = {"one-click": load.one_click, "preferences": load.preferences,
               "sign-up": load.sign_up}  # fmt: skip
    names = [name for name, weight in MIX for _ in range(weight)]

    def work(seed: int) -> None:
        chooser = random.Random(seed)
        while not until():
            actions[chooser.choice(names)](phase)

    def confirming() -> None:
        while not until():
            if not load.confirm_waiting(phase):
                time.sleep(0.2)

    with ThreadPoolExecutor(threads + 1) as pool:
        futures = [pool.submit(work, n) for n in range(threads)] + [pool.submit(confirming)]
        for future in futures:
            future.result()


# Checks ---------------------------------------------------------------------------------------


def check(database_url: str, load: Load, logs: dict[str, str]) -> dict[str, Any]:
    outcome = read_outcome(database_url, LIST)
    status = outcome.status
    notes = sink_notes(load.notes)
    copies: dict[str, list[float]] = {}
    for note in notes:
        if "confirm" not in note:  # a copy of the edition
            copies.setdefault(note["to"][0].lower(), []).append(note["at"])
    results: dict[str, Any] = {}
    results["5xx"] = len([a for a in load.answers if a.status >= 500])
    results["no answer"] = len([a for a in load.answers if a.status == 0])
    results["tracebacks"] = {name: log.count("Traceback") for name, log in logs.items()}
    results["locked"] = {
        name: log.count("database is locked") + log.count("database table is locked")
        for name, log in logs.items()
    }
    left = [
        (a.email or "", a.answered)
        for a in load.answers
        if a.action == "one-click" and a.status == 200
    ]
    results["unsubscribes answered"] = len(left)
    results["unsubscribes lost"] = len([e for e, _ in left if status.get(e) != "unsubscribed"])
    gaps = [gap for _, gap in copies_after_leaving(left, outcome.queued, copies, BATCH)]
    results["copies to readers who left"] = len(gaps)
    results["their batch's first copy, s after the answer (max)"] = max(gaps, default=0)
    results["copies after the unsubscribe"] = len([gap for gap in gaps if gap > SLACK])
    results["copies twice"] = len([times for times in copies.values() if len(times) > 1])
    results["ledger"] = dict(outcome.ledger)
    results["members queued with no copy"] = len(
        [e for e in outcome.queued if status.get(e) == "confirmed" and e not in copies]
    )
    results["copies sent"] = sum(len(times) for times in copies.values())
    confirmed = [a.email or "" for a in load.answers if a.action == "confirm" and a.status == 200]
    results["confirmations answered"] = len(confirmed)
    results["confirmations lost"] = len([e for e in confirmed if status.get(e) != "confirmed"])
    results["sign-ups answered"] = len(load.signed_up)
    results["sign-ups with no mail"] = len(load.signed_up) - len(
        {note["to"][0] for note in notes if note.get("confirm")}
    )
    return results


def latencies(load: Load) -> dict[tuple[str, str], dict[str, float]]:
    by: dict[tuple[str, str], list[float]] = {}
    for answer in load.answers:
        by.setdefault((answer.phase, answer.action), []).append(answer.answered - answer.started)
    figures = {}
    for key, values in by.items():
        values.sort()
        figures[key] = {
            "count": len(values),
            "p50": 1000 * statistics.median(values),
            "p99": 1000 * values[min(len(values) - 1, int(len(values) * 0.99))],
        }
    return figures


# One store ------------------------------------------------------------------------------------


def run_store(store: str, options: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="busy-morning-")))
        database_url = (
            f"sqlite:///{folder / 'digest.db'}"
            if store == "sqlite"
            else stack.enter_context(postgres_server())
        )
        feeds = folder / "feeds"
        feeds.mkdir()
        write_feed(feeds)
        feed_base = stack.enter_context(serve_folder(feeds))
        smtp, web = free_port(), free_port()
        config = write_config(folder, f"{feed_base}/wire.xml", database_url, smtp, web,
                              options.connections, options.readers)  # fmt: skip
        started = time.monotonic()
        readers = seed(config)
        random.Random(7).shuffle(readers)
        print(f"{store}: {len(readers):,} readers in {time.monotonic() - started:.0f} s",
              file=sys.stderr)  # fmt: skip
        notes = folder / "sink.jsonl"
        stack.enter_context(sink(smtp, notes))
        env = environment(database_url)
        logs = {name: folder / f"{name}.log" for name in ("serve", "run", "poll")}
        load = Load(f"http://127.0.0.1:{web}", readers, notes)
        wal = stack.enter_context(largest_size(folder / "digest.db-wal"))
        with serving(config, web, env, logs["serve"]):
            quiet_end = time.monotonic() + options.quiet_seconds
            put_load(load, "quiet", options.threads, lambda: time.monotonic() > quiet_end)
            if options.pages_from == "serve":
                figures = busy_phase(config, env, load, logs, options, once=True)
        if options.pages_from == "run":
            # The embedded mode in one process: the looping run serves the pages itself.
            looping = config.with_name("digest-run.toml")
            looping.write_text(config.read_text().replace("[web]", "[web]\nenabled = true"))
            figures = busy_phase(looping, env, load, logs, options, once=False)
        texts = {name: path.read_text(errors="replace") for name, path in logs.items()}
        results = check(database_url, load, texts)
        results.update(figures)
        if store == "sqlite":
            results["largest WAL, MB"] = round(wal[0] / 1e6, 1)
        if options.keep_logs:
            for name, body in texts.items():
                Path(options.keep_logs, f"{store}-{name}.log").write_text(body)
        return {"store": store, "checks": results, "latency": latencies(load)}


@contextmanager
def largest_size(path: Path) -> Iterator[list[int]]:
    """The largest size ``path`` had, read every 0.2 s while the block runs (SQLite's -wal
    file: readers that never pause keep a checkpoint from starting it over)."""
    largest = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            with suppress(OSError):
                largest[0] = max(largest[0], path.stat().st_size)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield largest
    finally:
        stop.set()
        watcher.join()


def busy_phase(config: Path, env: dict[str, str], load: Load, logs: dict[str, Path],
               options: argparse.Namespace, *, once: bool) -> dict[str, Any]:  # fmt: skip
    """The send with `digest poll` beside it and the load on the pages until it is done:
    `digest run --once --list` beside `digest serve`, or (not ``once``) the looping `digest
    run --list` serving the pages itself, stopped once the edition is sent."""
    command = [DIGEST, "--config", str(config), "run", "--list", LIST]
    command += ["--once"] if once else ["--interval", "3600"]
    with logs["run"].open("wb") as run_log, logs["poll"].open("wb") as poll_log:
        started = time.monotonic()
        run = subprocess.Popen(command, env=env, stdout=run_log, stderr=subprocess.STDOUT)
        if not once:
            while not _answers(load.base):
                if run.poll() is not None:
                    raise SystemExit("digest run did not start:\n" + logs["run"].read_text())
                time.sleep(0.1)
        poll = subprocess.Popen(
            [DIGEST, "--config", str(config), "poll"],
            env=env, stdout=poll_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        engine = create_database_engine(env["DIGEST_DATABASE_URL"])
        done = _run_ended(run) if once else _edition_sent(engine)
        put_load(load, "busy", options.threads, done)
        seconds = time.monotonic() - started
        # The sign-ups' mails go out within a few seconds: their links opened while the
        # pages are still served.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not load.confirm_waiting("busy"):
                time.sleep(0.5)
        engine.dispose()
        if not once:
            run.send_signal(signal.SIGTERM)
        run.wait(timeout=120)
        poll.wait(timeout=300)
    return {"run exit": run.returncode, "poll exit": poll.returncode,
            "send seconds": round(seconds, 1)}  # fmt: skip


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _run_ended(run: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: run.poll() is not None


def _edition_sent(engine: Any) -> Callable[[], bool]:
    """Whether the list has an edition and none of its copies is pending, asked at most once a
    second."""
    last = [0.0, False]

    def sent() -> bool:
        if time.monotonic() - float(last[0]) > 1:
            with engine.connect() as connection:
                built = connection.execute(text("SELECT count(*) FROM deliveries")).scalar()
                pending = connection.execute(
                    text("SELECT count(*) FROM deliveries WHERE status = 'pending'")
                ).scalar()
            last[:] = [time.monotonic(), bool(built) and not pending]
        return bool(last[1])

    return sent


def report(result: dict[str, Any]) -> None:
    print(f"\n{result['store']}: {json.dumps(result['checks'], indent=1)}")
    print(f"{'action':<18}{'quiet n':>8}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'busy n':>8}{'p50 ms':>8}{'p99 ms':>8}")  # fmt: skip
    actions = sorted({action for _, action in result["latency"]})
    for action in actions:
        row = f"{action:<18}"
        for phase in ("quiet", "busy"):
            figures = result["latency"].get((phase, action))
            row += (
                f"{figures['count']:>8}{figures['p50']:>8.1f}{figures['p99']:>8.1f}"
                if figures else f"{'-':>8}{'-':>8}{'-':>8}"
            )  # fmt: skip
        print(row)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--sink":
        run_sink(int(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--quiet-seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=2, help="smtp.connections")
    parser.add_argument(
        "--pages-from",
        choices=["serve", "run"],
        default="serve",
        help="who serves the pages during the send: `digest serve` beside `digest run --once`, "
        "or the looping `digest run` itself (web.enabled)",
    )
    parser.add_argument("--keep-logs", help="a folder to keep each process's output in")
    options = parser.parse_args()
    for store in options.stores:
        report(run_store(store, options))


if __name__ == "__main__":
    main()
