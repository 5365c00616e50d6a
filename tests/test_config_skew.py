"""Machines of the distributed mode given different config files: a worker running a task sent
by a process whose feeds, topics or lists differ from its own says so in its log, once."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import update

from digest.config import load_settings
from digest.store.schema import FeedRow
from tests.servers import redis_server, smtp_server
from tests.service_cluster import (
    DIGEST,
    config_text,
    deployment,
    fresh_database,
    sqlite_database,
    wait_for,
)

SKEW = "was sent by a process whose config differs from this one's"
TOPIC = '\n[[topics]]\nslug = "gulf"\nname = "Gulf"\nrules = { include = ["Gulf"] }\n'


def fingerprint_of(text: str, folder: Path) -> str:
    config = folder / "fingerprinted.toml"
    config.write_text(text)
    secret = {"DIGEST_SECRET_KEY": "skew-secret-0123456789"}
    return load_settings(config, secret).shared_fingerprint()


def test_the_fingerprint_is_of_the_feeds_topics_and_lists_alone(tmp_path: Path) -> None:
    (tmp_path / "members.csv").write_text("email,name\nreader@example.org,\n")
    base = config_text(tmp_path, 2525, "http://127.0.0.1:9/wire.xml")
    same = fingerprint_of(base, tmp_path)
    # Comments, and what each machine may spell its own way, are no difference.
    assert fingerprint_of("# edited\n" + base, tmp_path) == same
    moved = config_text(
        tmp_path, 2526, "http://127.0.0.1:9/wire.xml", service_extra=sqlite_database(tmp_path)
    )
    assert fingerprint_of(moved, tmp_path) == same
    assert fingerprint_of(base + TOPIC, tmp_path) != same


def test_a_worker_says_once_that_a_task_came_from_a_process_with_another_config(
    tmp_path: Path, postgres_url: str
) -> None:
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, 3) as service,
    ):
        other = tmp_path / "other.toml"
        other.write_text(service.config.read_text() + TOPIC)
        log = tmp_path / "worker.log"

        def poll(config: Path) -> None:
            """`digest poll` hands each due feed's poll to the workers and waits for it."""
            with service.engine.begin() as connection:
                connection.execute(update(FeedRow).values(next_poll_at=None))  # due now
            done = subprocess.run(
                [str(DIGEST), "--config", str(config), "poll"],
                env=service.env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert "1 feed polled" in done.stdout

        with service.worker("worker", concurrency=1):
            poll(service.config)
            assert "digest.poll_feed" in log.read_text(errors="replace")
            assert SKEW not in log.read_text(errors="replace")
            poll(other)
            poll(other)
            wait_for(lambda: SKEW in log.read_text(errors="replace"), "the worker's warning")
        text = log.read_text(errors="replace")
    assert text.count(SKEW) == 1, text[-3000:]
    assert "task digest.poll_feed was sent" in text and "DIGEST_CONFIG" in text
