"""`digest run --once`, as an operator runs it (embedded mode, eager Celery tasks), sends an
edition of several batches on ``smtp.connections`` connections."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope

from digest.pipeline import DELIVERY_BATCH_SIZE
from digest.sample_server import serve_folder
from tests.servers import SmtpSink, free_port, smtp_server
from tests.service_cluster import config_text, sqlite_database
from tests.test_pipeline import write_feed

pytestmark = pytest.mark.integration

DIGEST = str(Path(sys.executable).parent / "digest")
READERS = 2 * DELIVERY_BATCH_SIZE + 25  # three batches
READER_ADDRESSES = [f"reader{n}@example.org" for n in range(READERS)]


class SessionCountingSink(SmtpSink):
    """Notes the SMTP session (client address and port) of each message. Until a second
    session shows up it holds each message, for 15 s from the first at most: a sender with one
    connection still gets through, late, and is seen as one session."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.sessions: list[tuple[str, int]] = []
        self.deadline: float | None = None

    async def handle_DATA(self, server: object, session: Any, envelope: Envelope) -> str:
        self.sessions.append(tuple(session.peer))
        self.deadline = self.deadline or time.monotonic() + 15
        while len(set(self.sessions)) < 2 and time.monotonic() < self.deadline:
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink() -> Iterator[SessionCountingSink]:
    with smtp_server(SessionCountingSink("127.0.0.1", free_port())) as server:
        yield server


def test_run_once_sends_on_smtp_connections_sessions(
    tmp_path: Path, sink: SessionCountingSink
) -> None:
    with _embedded_run(tmp_path, sink.port, connections=2) as command:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=_run_environment("connections-secret"),
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert sorted(r for mail in sink.received for r in mail.rcpt_tos) == sorted(READER_ADDRESSES)
    assert len(set(sink.sessions)) == 2, "smtp.connections = 2: two sessions, one per process"


def test_sending_processes_die_and_are_replaced_at_the_next_start(tmp_path: Path) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from digest.clock import FixedClock
    from digest.sending import SendingProcesses, _ready
    from tests.test_pipeline import DAY1, make_settings

    sending = SendingProcesses(make_settings(tmp_path, "http://127.0.0.1:9"), FixedClock(DAY1), 2)
    try:
        pool = sending.start()
        assert sending.start() is pool, "kept while it works"
        first = pool.submit(_ready).result(timeout=60)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            for _ in range(100):  # the pool notices the death within moments
                pool.submit(_ready).result(timeout=60)
                time.sleep(0.05)
        replaced = sending.start()
        assert replaced is not pool
        assert replaced.submit(_ready).result(timeout=60) != first
    finally:
        sending.close()


class SlowSink(SmtpSink):
    """Takes a message every few milliseconds, so that a run is killed in the middle."""

    async def handle_DATA(self, server: object, session: Any, envelope: Envelope) -> str:
        await asyncio.sleep(0.005)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def _slow_sink() -> Iterator[SlowSink]:
    """A SlowSink listening on loopback for the block."""
    with smtp_server(SlowSink("127.0.0.1", free_port())) as sink:
        yield sink


def _run_environment(secret: str) -> dict[str, str]:
    """The environment of an embedded `digest run`: this one's, with no broker."""
    environment = {**os.environ, "DIGEST_SECRET_KEY": secret, "COLUMNS": "200"}
    environment.pop("DIGEST_BROKER_URL", None)
    return environment


def _wait_for_copies(sink: SlowSink, count: int) -> None:
    """Until the sink took ``count`` copies (two minutes at most): a run is mid-send."""
    deadline = time.monotonic() + 120
    while len(sink.received) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def _copies(sink: SlowSink) -> dict[str, list[str]]:
    """The Message-ID of each copy the sink took, by its reader."""
    copies: dict[str, list[str]] = {}
    for mail in sink.received:
        [recipient] = mail.rcpt_tos
        copies.setdefault(recipient, []).append(mail.message_id)
    return copies


def _some_twice_after_a_kill(copies: dict[str, list[str]]) -> None:
    """Every reader got the edition; a second copy only where one sending process was killed:
    the copies not on the ledger yet, and the two on its wire, per killed process."""
    from digest.delivering import UNRECORDED_AT_MOST

    assert sorted(copies) == sorted(READER_ADDRESSES), "every reader got the edition"
    twice = [recipient for recipient, ids in copies.items() if len(ids) > 1]
    assert len(twice) <= 2 * (UNRECORDED_AT_MOST + 2), f"{len(twice)} readers got two copies"


def _killed_if_left(marker: str, settle: float = 0.0) -> list[int]:
    """The processes still holding ``marker`` (after up to ``settle`` seconds for them to end),
    killed so as not to outlive the test, whatever was found."""
    settled = time.monotonic() + settle
    while _processes_with(marker) and time.monotonic() < settled:
        time.sleep(0.1)
    left = _processes_with(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _marker(variable: str, tmp_path: Path) -> str:
    """The whole environment entry a test's run is told by. The test's folder, not its name:
    tests running side by side (pytest-xdist) number their folders alike, and a name matched
    another test's run, which was then killed as left over. The NUL ends the entry, so that
    ``…_1`` does not match ``…_10``."""
    return f"{variable}={tmp_path}\0"


def _processes_with(marker: str) -> list[int]:
    """The processes whose environment holds ``marker`` (a run and every process it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or not ours to read
    return found


def test_a_run_killed_outright_leaves_no_process_sending_beside_the_next_run(
    tmp_path: Path,
) -> None:
    # The sending processes used to outlive a `digest run` killed with SIGKILL: they sent the
    # rest of their batches while the next run sent the same pending rows (hundreds of
    # readers got two copies), then waited for another batch forever.
    environment = _run_environment("killed-secret")
    marker = _marker("DIGEST_TEST_KILLED_RUN", tmp_path)
    with _slow_sink() as sink, _embedded_run(tmp_path, sink.port, connections=2) as command:
        killed = subprocess.Popen(
            command,
            env={**environment, "DIGEST_TEST_KILLED_RUN": str(tmp_path)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_copies(sink, 100)
        killed.kill()
        killed.wait()
        result = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr
        assert _killed_if_left(marker, settle=10) == [], "the killed run's sending processes ended"
    copies = _copies(sink)
    _some_twice_after_a_kill(copies)
    assert max(len(ids) for ids in copies.values()) <= 2
    assert all(len(set(ids)) == 1 for ids in copies.values()), "a copy sent again has the same id"


def _parent_of(pid: int) -> int:
    # /proc/PID/stat: "pid (name) state ppid ..."; the name may hold spaces, not ")".
    return int((Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[1])


def test_a_sending_process_killed_mid_send_is_one_problem_line_and_the_next_run_resumes(
    tmp_path: Path,
) -> None:
    # A sending process killed outright (the OOM killer) used to end `digest run` with a
    # traceback of BrokenProcessPool, and the loop of `digest run` with it.
    environment = _run_environment("lost-secret")
    marker = _marker("DIGEST_TEST_LOST_PROCESS", tmp_path)
    with _slow_sink() as sink, _embedded_run(tmp_path, sink.port, connections=2) as command:
        first = subprocess.Popen(
            command,
            env={**environment, "DIGEST_TEST_LOST_PROCESS": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for_copies(sink, 100)
        # A sending process: forked from the fork server, itself started by the run.
        ours = set(_processes_with(marker))
        senders = [
            pid
            for pid in ours
            if pid != first.pid and _parent_of(pid) in ours and _parent_of(pid) != first.pid
        ]
        assert senders, "the run sends on processes of its own"
        os.kill(senders[0], signal.SIGKILL)
        output, problems = first.communicate(timeout=300)
        assert first.returncode == 0, problems
        assert "messages delivered" in output, "the cycle's summary is still printed"
        assert "Traceback" not in problems and "BrokenProcessPool" not in problems
        assert "problem: a sending process ended abruptly" in problems
        assert "edition 1" in problems
        again = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=300, check=False
        )
        assert again.returncode == 0, again.stderr
    _some_twice_after_a_kill(_copies(sink))


@contextmanager
def _embedded_run(tmp_path: Path, smtp_port: int, connections: int) -> Iterator[list[str]]:
    """The command of `digest run --once --list daily` for READERS readers, on SQLite and
    ``connections`` SMTP connections, while its feed is served."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    now = datetime.now(UTC)
    write_feed(feeds, [(n, f"Iran story {n}", now - timedelta(hours=n)) for n in (1, 2)])
    (tmp_path / "members.csv").write_text(
        "email,name\n" + "".join(f"{r},\n" for r in READER_ADDRESSES)
    )
    with serve_folder(feeds) as base_url:
        config = tmp_path / "digest.toml"
        config.write_text(
            config_text(
                tmp_path,
                smtp_port,
                f"{base_url}/wire.xml",
                service_extra=sqlite_database(tmp_path),
                schedule="0 7 * * *",
                timezone="Asia/Dubai",
                connections=connections,
            )
        )
        yield [DIGEST, "--config", str(config), "run", "--once", "--list", "daily"]


@pytest.mark.parametrize("connections", [1, 2])
def test_two_runs_at_once_send_each_reader_one_copy(tmp_path: Path, connections: int) -> None:
    # A cron job started again while the last run still sends, or a run by hand beside the
    # service: on SQLite nothing held the rows one run was sending, and the other sent them
    # too (a few hundred readers of 1,025 got two copies).
    environment = _run_environment("twice-secret")
    with _slow_sink() as sink, _embedded_run(tmp_path, sink.port, connections) as command:
        first = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _wait_for_copies(sink, 50)
        second = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=300, check=False
        )
        _, problems = first.communicate(timeout=300)
        assert first.returncode == 0, problems
        assert second.returncode == 0, second.stderr
        # Rows the first run held, the second left pending for it: all are sent now.
        final = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=300, check=False
        )
        assert final.returncode == 0, final.stderr
    recipients = [recipient for mail in sink.received for recipient in mail.rcpt_tos]
    assert len(set(recipients)) == READERS, "every reader got the edition"
    assert len(recipients) == READERS, "and one copy each"


@pytest.mark.parametrize(
    ("stopped_command", "stop", "exit_code", "last_words"),
    [
        (["run", "--list", "daily"], signal.SIGTERM, 0, "Stopped."),
        (["run", "--once", "--list", "daily"], signal.SIGTERM, 143, "Terminated."),
        (["send", "daily"], signal.SIGTERM, 143, "Terminated."),
        # A closed terminal (or `kill -HUP`) ended the run and its sending processes as
        # SIGTERM once did: it stops as on SIGTERM.
        (["run", "--list", "daily"], signal.SIGHUP, 0, "Stopped."),
        (["run", "--once", "--list", "daily"], signal.SIGHUP, 129, "Hung up."),
    ],
)
def test_a_run_stopped_by_sigterm_records_every_copy_the_server_took(
    tmp_path: Path,
    stopped_command: list[str],
    stop: signal.Signals,
    exit_code: int,
    last_words: str,
) -> None:
    # A service manager stops `digest run` with SIGTERM, sent to every process of the run
    # (systemd's default). It used to end the run and its sending processes there and then
    # (exit -15): the copies the server had taken that the ledger did not have yet (a dozen
    # in a run) went again at the next run. `digest send` sends in its process alike.
    environment = _run_environment("terminated-secret")
    marker = _marker("DIGEST_TEST_TERMINATED_RUN", tmp_path)
    with _slow_sink() as sink, _embedded_run(tmp_path, sink.port, connections=2) as command:
        polled = subprocess.run(  # `digest send` builds on what was polled before
            [*command[:3], "poll"], capture_output=True, text=True, env=environment, check=False
        )
        assert polled.returncode == 0, polled.stderr
        stopped = subprocess.Popen(
            [*command[:3], *stopped_command],
            env={**environment, "DIGEST_TEST_TERMINATED_RUN": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a service manager's
        )
        _wait_for_copies(sink, 100)
        os.killpg(stopped.pid, stop)
        output, problems = stopped.communicate(timeout=120)
        assert stopped.returncode == exit_code, problems
        assert last_words in output + problems
        assert "Traceback" not in problems and "leaked" not in problems
        taken = len(sink.received)
        assert taken < READERS, "stopped mid-send"
        with sqlite3.connect(tmp_path / "digest.db") as database:
            [(recorded,)] = database.execute(
                "SELECT count(*) FROM deliveries WHERE status = 'sent'"
            ).fetchall()
        assert recorded == taken, "every copy the server took is on the ledger"
        assert _killed_if_left(marker) == [], "the run's sending processes ended with it"
        again = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=300, check=False
        )
        assert again.returncode == 0, again.stderr
    recipients = sorted(recipient for mail in sink.received for recipient in mail.rcpt_tos)
    assert recipients == sorted(READER_ADDRESSES), "every reader got the edition, one copy each"


def test_a_run_whose_main_process_alone_is_stopped_stops_its_sending_processes(
    tmp_path: Path,
) -> None:
    # SIGTERM to the run's process only (kill PID; systemd's KillMode=mixed): the run ended
    # as on Ctrl-C, but waited for its sending processes to send every batch handed to them,
    # two each, in full: the whole edition here, however long a slow server takes.
    environment = _run_environment("main-alone-secret")
    with _slow_sink() as sink, _embedded_run(tmp_path, sink.port, connections=2) as command:
        stopped = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _wait_for_copies(sink, 100)
        stopped.send_signal(signal.SIGTERM)
        _, problems = stopped.communicate(timeout=120)
        assert stopped.returncode == 143, problems
        taken = len(sink.received)
        assert taken < 2 * DELIVERY_BATCH_SIZE, "the batches in hand stopped, not sent in full"
        with sqlite3.connect(tmp_path / "digest.db") as database:
            [(recorded,)] = database.execute(
                "SELECT count(*) FROM deliveries WHERE status = 'sent'"
            ).fetchall()
        assert recorded == taken, "every copy the server took is on the ledger"
