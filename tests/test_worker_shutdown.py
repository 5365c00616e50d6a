"""SIGTERM lets a `digest worker` finish the delivery batch in hand before it exits: what a
deploy or `systemctl stop` sends. Real processes: redis-server, PostgreSQL, an SMTP server that
takes its time, `digest worker` and `digest beat`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy import create_engine, func, select

from digest.store.schema import DeliveryRow
from tests.feedserver import answer, feed_server
from tests.servers import SmtpSink, free_port, redis_server
from tests.service_cluster import DIGEST, config_text, fresh_database, process, rss, wait_for

READERS = 80  # one delivery batch
SECONDS_PER_MESSAGE = 0.1  # the batch takes about 8 s: the signal comes in the middle of it


class SlowSink(SmtpSink):
    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        await asyncio.sleep(SECONDS_PER_MESSAGE)
        return await super().handle_DATA(server, session, envelope)


def test_sigterm_lets_the_worker_finish_the_batch_in_hand(
    tmp_path: Path, postgres_url: str
) -> None:
    database_url = fresh_database(postgres_url)
    (tmp_path / "members.csv").write_text(
        "email,name\n" + "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(READERS))
    )
    routes = {"/wire.xml": answer(200, rss(datetime.now(UTC)), {"Content-Type": "text/xml"})}
    sink = SlowSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        with redis_server() as broker, feed_server(routes) as feeds:
            config = tmp_path / "digest.toml"
            config.write_text(config_text(tmp_path, sink.port, feeds.url("/wire.xml")))
            env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
            env["DIGEST_DATABASE_URL"] = database_url
            digest = [str(DIGEST), "--config", str(config)]
            subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
            subprocess.run([*digest, "poll"], env=env, check=True, capture_output=True)
            env["DIGEST_BROKER_URL"] = broker
            worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
            with process([*digest, "worker", "-c", "1"], env, worker_log) as worker:
                with process([*digest, "beat", "--interval", "1"], env, beat_log):
                    wait_for(lambda: len(sink.received) >= 3, "the first messages", timeout=120)
                # Beat is gone: nothing hands the batch out again. Stop the worker mid-batch.
                in_hand_at_signal = READERS - len(sink.received)
                worker.send_signal(signal.SIGTERM)
                exit_code = worker.wait(timeout=120)
            engine = create_engine(database_url)
            with engine.connect() as connection:
                counts = dict(
                    connection.execute(
                        select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
                    ).all()
                )
            engine.dispose()
    finally:
        controller.stop()

    copies = Counter(recipient for mail in sink.received for recipient in mail.rcpt_tos)
    print(f"in hand at the signal {in_hand_at_signal}, sent {sum(copies.values())}, {counts}")
    assert in_hand_at_signal > 0, "the batch was over before the signal: the test proves nothing"
    assert exit_code == 0, worker_log.read_text(errors="replace")[-3000:]
    assert counts == {"sent": READERS}
    assert len(copies) == READERS and set(copies.values()) == {1}
