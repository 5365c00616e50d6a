"""`digest run` without --once takes up an edit of its config at the next cycle (invariant 5).

The real command runs on the example config, with its sample feeds and an outbox folder, a cycle
every second. An invalid edit is refused once, with the file, the key and the reason, and the
cycles go on with the settings in force; a valid one is taken up without a restart: a list added
to the file gets its edition at the next cycle.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import postgres_cluster
from tests.test_end_to_end import DIGEST, SECRET, example_config

pytestmark = pytest.mark.integration

INTERVAL = 1  # the least --interval takes: each wait below is a cycle or two
PATIENCE = 120.0  # seconds to wait for what a cycle or two should show

ADDED_LIST = """
[[lists]]
slug = "levant-evening"
name = "The Levant in the evening"
topics = ["syria", "lebanon"]
schedule = "* * * * *"
timezone = "Asia/Beirut"
send_when_empty = true
subscribers = "{subscribers}"
"""


class Running:
    def __init__(self, process: subprocess.Popen[str], stdout: Path, stderr: Path) -> None:
        self.process, self._stdout, self._stderr = process, stdout, stderr

    def stdout(self) -> str:
        return self._stdout.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self._stderr.read_text(encoding="utf-8")

    def wait_for(self, what: str, shown: Callable[[], bool]) -> None:
        deadline = time.monotonic() + PATIENCE
        while not shown():
            if self.process.poll() is not None:
                pytest.fail(f"digest run ended ({self.process.returncode}) before {what}:\n"
                            f"{self.stdout()}\n{self.stderr()}")  # fmt: skip
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} in {PATIENCE:.0f} s:\n{self.stdout()}\n{self.stderr()}")
            time.sleep(0.2)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return example_config(tmp_path, smtp_port=None)


@pytest.fixture
def running(tmp_path: Path, config: Path) -> Iterator[Running]:
    with run_continuously(tmp_path, config) as started:
        yield started


@contextmanager
def run_continuously(tmp_path: Path, config: Path) -> Iterator[Running]:
    """`digest run` on ``config``, a cycle every INTERVAL seconds, stopped by Ctrl-C at the end."""
    # A terminal as wide as the config's path and a little more: a line a script greps for
    # (the path, then what changed) stays whole however long the path.
    columns = str(len(str(config)) + 20)
    environment = {**os.environ, "DIGEST_SECRET_KEY": SECRET, "COLUMNS": columns}
    environment.pop("DIGEST_CONFIG", None)
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [DIGEST, "--config", str(config), "run", "--interval", str(INTERVAL)],
            stdout=out,
            stderr=err,
            text=True,
            env=environment,
        )
    try:
        yield Running(process, stdout, stderr)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def lists_mailed(outbox: Path) -> set[str]:
    """The List-Id of every message in the outbox folder."""
    found = set()
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.add(str(message["List-Id"]).rsplit("<", 1)[-1].split(".", 1)[0])
    return found


def test_an_edit_of_the_config_is_taken_up_at_the_next_cycle_and_an_invalid_one_refused(
    tmp_path: Path, config: Path, running: Running
) -> None:
    outbox = tmp_path / "outbox"
    running.wait_for("first cycle", lambda: "Cycle summary" in running.stdout())
    assert "levant-evening" not in lists_mailed(outbox)
    original = config.read_text()

    # Invalid: refused with the file, the key and the reason, once, and the cycles go on.
    config.write_text(original.replace('schedule = "0 7 * * *"', 'schedule = "0 25 * * *"'))
    running.wait_for("refusal", lambda: "Config edit refused" in running.stderr())
    assert f"{config}: lists[middle-east-daily].schedule" in running.stderr()
    cycles = running.stdout().count("Cycle summary")
    running.wait_for(
        "two more cycles", lambda: running.stdout().count("Cycle summary") >= cycles + 2
    )
    assert running.stderr().count("Config edit refused") == 1  # said once, not every cycle
    assert "changed: the next cycles run on it" not in running.stdout()

    # Valid: a list added to the file is built and mailed without a restart.
    subscribers = Path(__file__).resolve().parents[1] / "config/subscribers/gulf-weekly.csv"
    config.write_text(original + ADDED_LIST.format(subscribers=subscribers))
    running.wait_for("the change", lambda: "changed: the next cycles run on it" in running.stdout())
    running.wait_for("the new list's mail", lambda: "levant-evening" in lists_mailed(outbox))

    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=60) == 0
    assert "Stopped." in running.stdout()
    assert "Traceback" not in running.stderr()


def test_a_database_restarted_between_cycles_stops_a_cycle_not_the_run(tmp_path: Path) -> None:
    # PostgreSQL restarted (an update, a failover) while `digest run` slept between cycles: the
    # next cycle's first query failed and the run ended with exit 1, and with it the readers'
    # pages and the bounces it serves, until someone started it again.
    with postgres_cluster() as database:
        config = example_config(tmp_path, smtp_port=None)
        sqlite_url = f"sqlite:///{tmp_path / 'digest.db'}"
        config.write_text(config.read_text().replace(sqlite_url, database.url))
        with run_continuously(tmp_path, config) as running:
            running.wait_for("first cycle", lambda: "Cycle summary" in running.stdout())
            database.stop()
            running.wait_for("the failed cycle", lambda: "the cycle stopped" in running.stderr())
            cycles = running.stdout().count("Cycle summary")
            database.start()
            running.wait_for(
                "a cycle after the restart",
                lambda: running.stdout().count("Cycle summary") > cycles,
            )
            running.process.send_signal(signal.SIGINT)
            assert running.process.wait(timeout=60) == 0
    said = " ".join(running.stderr().split())
    assert "Traceback" not in said
    assert "error: the cycle stopped: the database postgresql+psycopg://digest@127.0.0.1:" in said
    assert f"and the next cycle, in {INTERVAL} s, tries again" in said
    assert "Stopped." in running.stdout()


def test_an_edit_made_while_the_database_is_away_waits_for_it_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    # The edit's checks read the database only when they could: they passed, and the settings
    # they took up opened it at once, which failed and ended the run with exit 1.
    with postgres_cluster() as database:
        config = example_config(tmp_path, smtp_port=None)
        sqlite_url = f"sqlite:///{tmp_path / 'digest.db'}"
        original = config.read_text().replace(sqlite_url, database.url)
        config.write_text(original)
        subscribers = Path(__file__).resolve().parents[1] / "config/subscribers/gulf-weekly.csv"
        with run_continuously(tmp_path, config) as running:
            running.wait_for("first cycle", lambda: "Cycle summary" in running.stdout())
            database.stop()
            config.write_text(original + ADDED_LIST.format(subscribers=subscribers))
            running.wait_for("the edit held", lambda: "Config edit refused" in running.stderr())
            database.start()
            running.wait_for(
                "the change", lambda: "changed: the next cycles run on it" in running.stdout()
            )
            running.wait_for(
                "the new list's mail", lambda: "levant-evening" in lists_mailed(tmp_path / "outbox")
            )
            running.process.send_signal(signal.SIGINT)
            assert running.process.wait(timeout=60) == 0
    said = " ".join(running.stderr().split())
    assert "Traceback" not in said
    assert (
        "Config edit refused, the previous settings stay in force cannot open the database "
        "postgresql+psycopg://digest@127.0.0.1:"
    ) in said
    assert said.count("Config edit refused") == 1  # said once while the database was away


def test_a_table_renamed_by_hand_between_cycles_is_told_as_the_schema_and_the_run_goes_on(
    tmp_path: Path, database_url: str
) -> None:
    # A refused statement stopped the cycle as "the database … failed: no such table: editions"
    # (SQLite), or ended the run in a traceback (PostgreSQL's UndefinedTable).
    from sqlalchemy import create_engine, text

    config = example_config(tmp_path, smtp_port=None)
    sqlite_url = f"sqlite:///{tmp_path / 'digest.db'}"
    config.write_text(config.read_text().replace(sqlite_url, database_url))
    engine = create_engine(database_url)
    with run_continuously(tmp_path, config) as running:
        running.wait_for("first cycle", lambda: "Cycle summary" in running.stdout())
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE editions RENAME TO editions_by_hand"))
        running.wait_for("the failed cycle", lambda: "the cycle stopped" in running.stderr())
        cycles = running.stdout().count("Cycle summary")
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE editions_by_hand RENAME TO editions"))
        running.wait_for(
            "a cycle once it is back", lambda: running.stdout().count("Cycle summary") > cycles
        )
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=60) == 0
    engine.dispose()
    said = " ".join(running.stderr().split())
    assert "Traceback" not in said
    # The database's own words, read as the boundary reads them: the cycle told PostgreSQL's
    # context lines too ("LINE 1: SELECT editions.id, …" and a caret), the statement's text.
    refused = (
        "no such table: editions"
        if database_url.startswith("sqlite")
        else 'relation "editions" does not exist'
    )
    assert (
        f"error: the cycle stopped: the database {database_url} lacks the table editions "
        f"this code expects ({refused}); it has schema 0021, this code's, changed since by hand"
    ) in said, said
    assert "LINE " not in said
    assert f"and the next cycle, in {INTERVAL} s, tries again" in said
