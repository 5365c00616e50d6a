"""`digest run --once`, as an operator runs it (embedded mode, eager Celery tasks), sends an
edition of several batches on ``smtp.connections`` connections."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from digest.pipeline import DELIVERY_BATCH_SIZE
from digest.sample_server import serve_folder
from tests.servers import SmtpSink, free_port
from tests.service_cluster import config_text, sqlite_database
from tests.test_pipeline import write_feed

pytestmark = pytest.mark.integration

DIGEST = str(Path(sys.executable).parent / "digest")
READERS = 2 * DELIVERY_BATCH_SIZE + 25  # three batches


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
    server = SessionCountingSink("127.0.0.1", free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def test_run_once_sends_on_smtp_connections_sessions(
    tmp_path: Path, sink: SessionCountingSink
) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    now = datetime.now(UTC)
    write_feed(feeds, [(n, f"Iran story {n}", now - timedelta(hours=n)) for n in (1, 2)])
    readers = [f"reader{n}@example.org" for n in range(READERS)]
    (tmp_path / "members.csv").write_text("email,name\n" + "".join(f"{r},\n" for r in readers))
    with serve_folder(feeds) as base_url:
        config = tmp_path / "digest.toml"
        config.write_text(
            config_text(
                tmp_path,
                sink.port,
                f"{base_url}/wire.xml",
                service_extra=sqlite_database(tmp_path),
                schedule="0 7 * * *",
                timezone="Asia/Dubai",
                connections=2,
            )
        )
        environment = {**os.environ, "DIGEST_SECRET_KEY": "connections-secret", "COLUMNS": "120"}
        environment.pop("DIGEST_BROKER_URL", None)
        result = subprocess.run(
            [DIGEST, "--config", str(config), "run", "--once", "--list", "daily"],
            capture_output=True,
            text=True,
            env=environment,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert sorted(r for mail in sink.received for r in mail.rcpt_tos) == sorted(readers)
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
