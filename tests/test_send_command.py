"""``digest send LIST [--wait]``: the edition built now and delivered, on the workers (over a
real redis-server and PostgreSQL, followed on the ledger) or in this process."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import func, select

from digest.delivering import DELIVERY_BATCH_SIZE
from digest.store.schema import EditionRow
from tests.servers import free_port, redis_server, smtp_server
from tests.service_cluster import DIGEST, deployment, fresh_database, tally

READERS = 2 * DELIVERY_BATCH_SIZE + 50  # three delivery batches


def test_send_wait_hands_the_edition_to_the_workers_and_follows_it_on_the_ledger(
    tmp_path: Path, postgres_url: str
) -> None:
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, READERS) as service,
    ):
        with service.worker("worker"):
            done = service.run("send", "daily", "--wait")
        if done.returncode != 0:
            service.print_logs()
        result = tally(sink, service)
    result.show("send --wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"sent {READERS} / failed 0 / suppressed 0" in done.stdout
    assert result.lost == 0 and result.duplicates == 0 and result.sent == READERS


def test_send_without_a_broker_delivers_in_this_process(tmp_path: Path, postgres_url: str) -> None:
    with (
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), None, sink, READERS) as service,
    ):
        done = service.run("send", "daily")
        result = tally(sink, service)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"sent {READERS} / failed 0 / suppressed 0" in done.stdout
    assert result.lost == 0 and result.duplicates == 0 and result.sent == READERS


def test_send_to_an_unknown_list_names_the_lists_there_are(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parent.parent / "config" / "example.toml"
    done = subprocess.run(
        [str(DIGEST), "--config", str(config), "send", "no-such-list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "No list 'no-such-list'" in done.stderr and "Traceback" not in done.stderr


def test_send_with_the_broker_down_says_so_in_one_line_and_builds_nothing(
    tmp_path: Path,
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with (
        smtp_server() as sink,
        deployment(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}", down, sink, 3) as service,
    ):
        done = service.run("send", "daily", "--wait")
        with service.engine.connect() as connection:
            editions = connection.execute(select(func.count()).select_from(EditionRow)).scalar()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert down in lines[0] and "DIGEST_BROKER_URL" in lines[0]
    assert editions == 0  # refused before anything was built: the next send builds it whole
