"""What the operator reads when a command fails: what is wrong, where, what to do; no traceback.

Each test runs a ``digest`` command the way a careless operator would (a bad schedule, a wrong
slug, a database that is down, a port that is taken, Ctrl-C) and checks the message names the key,
list, port or file at fault, says what to do, carries no traceback, and ends with the exit code a
script can test (2: invalid configuration, 1: failed, 130: interrupted).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.testing import CliRunner

from digest.cli import app, boundary
from digest.cli.boundary import Terminated
from digest.errors import SchemaDriftError, StoreUnavailableError
from digest.store.db import database_errors
from tests.certificates import key_pem, pem, self_signed
from tests.feedserver import answer, feed_server
from tests.servers import free_port, postgres_cluster
from tests.service_cluster import fresh_database
from tests.test_end_to_end import example_config

DIGEST = str(Path(sys.executable).parent / "digest")

CONFIG = """\
[service]
database_url = "{database_url}"
data_dir = "{folder}/var"
outbox = "{folder}/outbox"
base_url = "https://news.example.org"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[ingest]
allow_private_addresses = true
timeout_seconds = 20

[[feeds]]
name = "Wire"
url = "{feed_url}"

[[topics]]
slug = "world"
name = "World"
[topics.rules]
include = ["world"]

[[lists]]
slug = "daily"
name = "Daily"
topics = ["world"]
schedule = "{schedule}"
subscribers = "members.csv"
"""


def write_config(
    folder: Path,
    *,
    database_url: str | None = None,
    schedule: str = "0 7 * * *",
    feed_url: str = "http://127.0.0.1:9/wire",
    extra: str = "",
) -> Path:
    (folder / "members.csv").write_text("email,name\nsam@example.org,Sam\n", encoding="utf-8")
    config = folder / "digest.toml"
    text = CONFIG.format(
        database_url=database_url or f"sqlite:///{folder / 'digest.db'}",
        folder=folder,
        feed_url=feed_url,
        schedule=schedule,
    )
    config.write_text(text + extra, encoding="utf-8")
    return config


def digest(config: Path | None, *args: str) -> Any:
    options = ["--config", str(config)] if config is not None else []
    return CliRunner().invoke(app, [*options, *args], env={"COLUMNS": "200"})


def refused(result: Any, exit_code: int) -> str:
    """The command ended on purpose, with ``exit_code`` and no traceback; its stderr."""
    assert result.exit_code == exit_code, result.output
    # CliRunner catches an escaping exception and reports exit code 1: it must be a plain exit.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return str(result.stderr)


def run_digest(config: Path, *args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """``digest`` in its own process: what an operator's terminal shows, tracebacks included."""
    environment = {**os.environ, "COLUMNS": "200"}
    environment.pop("DIGEST_CONFIG", None)
    environment.pop("DIGEST_DATABASE_URL", None)
    return subprocess.run(
        [DIGEST, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=options.pop("timeout", 120),
        check=False,
        **options,
    )


# --- config: which field, which list -------------------------------------------------------------


def test_a_cron_hour_out_of_range_is_named_with_its_range(tmp_path: Path) -> None:
    config = write_config(tmp_path, schedule="0 25 * * *")
    stderr = refused(digest(config, "config", "check"), 2)
    assert "lists[daily].schedule" in stderr
    assert "hour 25 is out of range" in stderr and "0-23" in stderr
    assert "expected five fields" not in stderr


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("61 7 * * *", "minute 61 is out of range: the minute field takes 0-59"),
        ("0 7 32 * *", "day-of-month 32 is out of range: the day-of-month field takes 1-31"),
        ("0 7 * 13 *", "month 13 is out of range: the month field takes 1-12 or jan-dec"),
        ("0 7 * * 8", "day-of-week 8 is out of range: the day-of-week field takes 0-7"),
        ("0 7-30 * * *", "hour 30 is out of range (in '7-30')"),
        ("0 7 * * monday", "the day-of-week field 'monday' is not understood"),
        ("0 7 * *", "expected five fields 'minute hour day-of-month month day-of-week', got 4"),
    ],
)
def test_each_cron_field_says_what_it_takes(tmp_path: Path, schedule: str, expected: str) -> None:
    stderr = refused(digest(write_config(tmp_path, schedule=schedule), "config", "check"), 2)
    assert f"lists[daily].schedule: invalid cron expression '{schedule}': {expected}" in stderr


@pytest.mark.parametrize("schedule", ["0 7 * * * *", "0 0 7 * * *", "0 7 * * * 2026"])
def test_a_sixth_field_of_seconds_or_years_is_refused(tmp_path: Path, schedule: str) -> None:
    # croniter reads a sixth field as seconds: '0 7 * * * *' made a slot of each second of
    # 07:00, and the seconds-first '0 0 7 * * *' of other schedulers the 7th of each month.
    config = write_config(tmp_path, schedule=schedule)
    for command in (["config", "check"], ["schedule"]):
        stderr = refused(digest(config, *command), 2)
        assert (
            f"lists[daily].schedule: invalid cron expression '{schedule}': expected five fields "
            "'minute hour day-of-month month day-of-week', got 6 (no field of seconds or years)"
        ) in stderr


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ("R 7 * * *", "minute 'R'"),
        ("0 r(6-8) * * *", "hour 'r(6-8)'"),
        ("0 7 * * R/2", "day-of-week 'R/2'"),
    ],
)
def test_a_random_cron_field_is_refused(tmp_path: Path, schedule: str, field: str) -> None:
    # croniter draws an 'R' field afresh each time it reads the expression: every tick found
    # another slot with no edition yet ('R 7 * * *': 07:03, then 07:53), and built it again.
    name, value = field.split(" ")
    stderr = refused(digest(write_config(tmp_path, schedule=schedule), "config", "check"), 2)
    assert (
        f"lists[daily].schedule: invalid cron expression '{schedule}': the {name} field "
        f"{value} is not understood"
    ) in stderr


def test_a_cron_nickname_is_kept(tmp_path: Path) -> None:
    result = digest(write_config(tmp_path, schedule="@daily"), "schedule")
    assert result.exit_code == 0, result.output
    assert "@daily (UTC)" in result.stdout and "00:00 UTC" in result.stdout


@pytest.mark.parametrize("schedule", ["0 0 30 2 *", "0 7 31 4,6 *"])
def test_a_schedule_that_never_fires_is_refused_not_a_traceback(
    tmp_path: Path, schedule: str
) -> None:
    stderr = refused(digest(write_config(tmp_path, schedule=schedule), "config", "check"), 2)
    assert f"lists[daily].schedule: cron expression '{schedule}' never fires" in stderr
    assert "30 February" in stderr and "Traceback" not in stderr


def test_a_schedule_of_29_february_is_kept(tmp_path: Path) -> None:
    done = digest(write_config(tmp_path, schedule="0 7 29 2 *"), "config", "check")
    assert done.exit_code == 0, done.output


def test_errors_name_lists_topics_and_feeds_by_slug_and_name(tmp_path: Path) -> None:
    config = write_config(tmp_path, feed_url="ftp://example.org/wire")
    text = config.read_text().replace('subscribers = "members.csv"', 'subscribers = "gone.csv"')
    text = text.replace('include = ["world"]', 'include = ["world"]\nfeeds = ["Nope"]')
    config.write_text(text + 'frequency = "daily"\n')
    stderr = refused(digest(config, "config", "check"), 2)
    assert "feeds[Wire].url: 'ftp://example.org/wire' is not an http(s) URL" in stderr
    assert "lists[daily].frequency: unknown key" in stderr
    # The cross-checks, after the fields are valid.
    config.write_text(text.replace("ftp://", "http://"))
    stderr = refused(digest(config, "config", "check"), 2)
    assert "topics[world].rules.feeds: no feed is named 'Nope'" in stderr
    assert f"lists[daily].subscribers: file not found: {tmp_path / 'gone.csv'}" in stderr
    assert "lists[0]" not in stderr and "topics[0]" not in stderr


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("http://127.0.0.1:9/wire ", "has a blank at an end or a control character in it"),
        (" http://127.0.0.1:9/wire", "has a blank at an end or a control character in it"),
        ("http://127.0.0.1:9/wi\\tre", "has a blank at an end or a control character in it"),
        ("http://127.0.0.1:99999/wire", "has a port out of range: ports go from 0 to 65535"),
    ],
)
def test_a_feed_url_no_fetch_could_request_is_refused_by_the_check(
    tmp_path: Path, written: str, why: str
) -> None:
    # urlsplit passed each of these for an http URL; every poll of the feed then failed, on a
    # space at its start with "Request URL is missing an 'http://' or 'https://' protocol".
    stderr = refused(digest(write_config(tmp_path, feed_url=written), "config", "check"), 2)
    url = written.replace("\\t", "\t")  # the TOML escape, read as the tab it stands for
    assert f"feeds[Wire].url: {url!r} {why}" in stderr


def test_entries_sharing_a_slug_are_named_by_position(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text()
    config.write_text(text + text[text.index("[[lists]]") :])
    stderr = refused(digest(config, "config", "check"), 2)
    assert (
        "lists[1].slug: duplicate slug 'daily' (also lists[0]): give each entry its own slug"
        in (stderr)
    )


# --- preview of an edition that would not go out -------------------------------------------------


def test_preview_poll_names_a_failed_feed_without_its_password(tmp_path: Path) -> None:
    url = f"http://desk:s3cret@127.0.0.1:{free_port()}/wire"  # nothing listens there
    config = write_config(tmp_path, feed_url=url)
    result = digest(config, "preview", "daily", "--poll", "--output", str(tmp_path / "d.html"))
    assert result.exit_code == 0, result.output
    [failure] = [line for line in result.stderr.splitlines() if line.startswith("feed ")]
    assert failure.startswith(f"feed {url.replace('s3cret', '***')}: cannot connect")
    assert "s3cret" not in result.output


def test_preview_poll_leaves_a_feed_the_publisher_removed_alone(tmp_path: Path) -> None:
    # A 410 disables the feed until an operator enables it again; preview --poll asked the
    # publisher for it anyway, at every preview, as no other poll does.
    with feed_server({"/wire": answer(410, b"gone for good")}) as server:
        config = write_config(tmp_path, feed_url=server.url("/wire"))
        assert digest(config, "poll").exit_code == 0
        preview = digest(config, "preview", "daily", "--poll", "-o", str(tmp_path / "d.html"))
    assert preview.exit_code == 0, preview.output
    assert server.paths() == ["/wire"]
    assert "polled 0 feeds" in preview.stderr


def test_preview_of_an_empty_edition_says_it_would_not_be_sent_and_why(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = digest(config, "preview", "daily", "--output", str(tmp_path / "daily.html"))
    assert result.exit_code == 0, result.output
    assert "0 articles" in result.stderr
    assert "ready to send" not in result.stderr
    assert "Not sent" in result.stderr and "lists[daily].send_when_empty is false" in result.stderr
    assert "set it to true" in result.stderr


def test_send_of_an_empty_edition_names_the_key_as_the_config_reference_spells_it(
    tmp_path: Path,
) -> None:
    # `digest send` said "lists.daily.send_when_empty", a key the reference does not have: its
    # lists are entries of [[lists]], named lists[SLUG] everywhere else.
    config = write_config(tmp_path)
    result = digest(config, "send", "daily")
    assert result.exit_code == 0, result.output
    assert "lists[daily].send_when_empty is false" in result.stdout
    assert "lists.daily" not in result.output


def test_preview_png_without_playwright_says_how_to_install_it_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `pip install -e .` (the README's install) leaves playwright out. The refusal said "pip
    # install playwright": with the virtual environment not activated, that pip is the
    # system's, which Debian refuses to install into, and the browser it also needs went unsaid.
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # as if never installed
    monkeypatch.setenv("DIGEST_CHROMIUM", "")
    monkeypatch.setenv("PATH", str(tmp_path))  # and no Chromium on the path either
    config = write_config(tmp_path)
    result = digest(config, "preview", "daily", "--png", "-o", str(tmp_path / "daily.html"))
    stderr = refused(result, 1)
    assert f"{sys.executable} -m pip install playwright" in stderr
    assert "apt-get install -y chromium" in stderr and "DIGEST_CHROMIUM" in stderr
    assert (tmp_path / "daily.html").is_file()  # the HTML is written all the same
    # and said where, as without --png: the path was printed only once every screenshot was taken.
    assert result.stdout.strip() == str(tmp_path / "daily.html")


def test_preview_help_says_png_needs_playwright_and_chromium() -> None:
    shown = digest(None, "preview", "--help").stdout
    help_text = " ".join(shown.replace("│", " ").split())  # the words, out of their box
    assert "needs the playwright package and Chromium" in help_text


def test_preview_of_an_empty_edition_of_a_list_that_sends_them_is_ready(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra="send_when_empty = true\n")
    result = digest(config, "preview", "daily", "--output", str(tmp_path / "daily.html"))
    assert result.exit_code == 0, result.output
    assert "ready to send" in result.stderr and "Not sent" not in result.stderr


# --- a database that cannot be reached -----------------------------------------------------------


def test_a_postgresql_server_that_is_not_there(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://desk:hunter2@127.0.0.1:{free_port()}/digest"
    config = write_config(tmp_path, database_url=url)
    commands = (
        ["run", "--once"],
        ["feeds"],
        ["db", "upgrade"],
        ["topics", "explain", "1"],
        ["status"],
        ["deliveries", "retry", "1"],
    )
    for command in commands:
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        [line] = lines
        masked = url.replace(":hunter2@", ":***@")
        assert f"cannot open the database {masked}: connection failed" in line, line
        assert "hunter2" not in line
        assert "Connection refused" in line
        assert "check that the database server is running" in line
        assert "service.database_url (or DIGEST_DATABASE_URL)" in line


def test_a_postgresql_server_that_never_answers_is_given_up_on(tmp_path: Path) -> None:
    # A server that takes the connection and never answers (PostgreSQL stopped with SIGSTOP,
    # its machine paused, a port that is not PostgreSQL's): every command waited for ever.
    from digest.store.db import CONNECT_SECONDS

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel takes the connections; nobody reads them
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://desk:hunter2@127.0.0.1:{port}/digest"
        config = write_config(tmp_path, database_url=url)
        for command in (["status"], ["db", "upgrade"]):
            started = time.monotonic()
            result = run_digest(config, *command)
            took = time.monotonic() - started
            assert result.returncode == 1, (command, result.stderr)
            assert took < CONNECT_SECONDS + 30, took
            assert "Traceback" not in result.stderr, command
            [line] = result.stderr.strip().splitlines()
            masked = url.replace(":hunter2@", ":***@")
            assert f"cannot open the database {masked}: connection timeout expired" in line, line
            assert "check that the database server is running" in line


def test_a_command_waiting_on_a_lock_another_session_holds_gives_up_in_time(
    tmp_path: Path, postgres_url: str
) -> None:
    # Another session holding a lock the command needs (a long transaction left open in psql,
    # a stuck migration): `digest feeds` and `digest run --once` waited on it for ever.
    url = fresh_database(postgres_url).replace("digest@", "digest:hunter2@")
    config = write_config(tmp_path, database_url=url)
    text_with_bound = config.read_text(encoding="utf-8").replace(
        "[ingest]", "database_timeout_seconds = 1\n\n[ingest]", 1
    )
    config.write_text(text_with_bound, encoding="utf-8")
    config.chmod(0o600)  # it holds a password: readable by others, it is warned of
    assert run_digest(config, "db", "upgrade").returncode == 0
    holder = create_engine(url).connect()
    try:
        holder.execute(text("LOCK TABLE feeds IN ACCESS EXCLUSIVE MODE"))
        for command in (["feeds"], ["run", "--once"]):
            started = time.monotonic()
            result = run_digest(config, *command, timeout=60)
            took = time.monotonic() - started
            assert result.returncode == 1, (command, result.stderr)
            assert took < 20, (command, took)
            assert "Traceback" not in result.stderr, (command, result.stderr)
            [line] = result.stderr.strip().splitlines()
            assert "cannot open the database postgresql+psycopg://digest:***@127.0.0.1" in line
            assert "hunter2" not in line
            assert "statement timeout" in line, line
            assert "another session holds a lock" in line, line
            assert "service.database_timeout_seconds" in line, line
    finally:
        holder.rollback()
        holder.close()
    # The lock let go of, the same commands run as ever.
    assert run_digest(config, "feeds").returncode == 0


def test_an_upgrade_waiting_on_a_table_another_session_reads_gives_up_in_time(
    tmp_path: Path, postgres_url: str
) -> None:
    # A reader's transaction left open on `editions` (psql, a stuck worker) held the migration
    # that alters the table for ever, and every session queued behind the lock it asked for.
    from digest.store.db import create_database_engine
    from digest.store.upgrades import HEAD_REVISION, upgrade

    url = fresh_database(postgres_url)
    engine = create_database_engine(url)
    upgrade(engine, "0014")  # 0015 adds a column to `editions`
    engine.dispose()
    config = write_config(tmp_path, database_url=url)
    text_with_bound = config.read_text(encoding="utf-8").replace(
        "[ingest]", "database_timeout_seconds = 1\n\n[ingest]", 1
    )
    config.write_text(text_with_bound, encoding="utf-8")
    reader = create_engine(url).connect()
    try:
        reader.execute(text("SELECT count(*) FROM editions"))  # its transaction stays open
        result = run_digest(config, "db", "upgrade", timeout=60)
    finally:
        reader.rollback()
        reader.close()
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "canceling statement due to lock timeout" in line, line
    assert "another session holds a lock" in line, line
    # Nothing half done: the upgrade runs whole once the reader is gone.
    again = run_digest(config, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert f"Database at revision {HEAD_REVISION}" in again.stdout


def test_a_command_whose_database_server_stops_answering_mid_statement_gives_up(
    tmp_path: Path, postgres_url: str
) -> None:
    # The server's process of the command's connection paused (SIGSTOP: a machine frozen, a
    # network dropping packets) while a statement runs: the server cannot cancel it, and the
    # command waited for its answer for ever.
    url = fresh_database(postgres_url)
    config = write_config(tmp_path, database_url=url)
    text_with_bound = config.read_text(encoding="utf-8").replace(
        "[ingest]", "database_timeout_seconds = 3\n\n[ingest]", 1
    )
    config.write_text(text_with_bound, encoding="utf-8")
    assert run_digest(config, "db", "upgrade").returncode == 0
    database = url.rsplit("/", 1)[1]
    observer = create_engine(url, isolation_level="AUTOCOMMIT").connect()
    holder = create_engine(url).connect()
    stopped: list[int] = []
    command: subprocess.Popen[str] | None = None
    try:
        # The lock keeps the command inside its statement long enough to find its server process.
        holder.execute(text("LOCK TABLE feeds IN ACCESS EXCLUSIVE MODE"))
        command = subprocess.Popen(
            [DIGEST, "--config", str(config), "feeds"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        started = time.monotonic()
        waiting = text(
            "SELECT pid FROM pg_stat_activity WHERE datname = :database "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        while not stopped and time.monotonic() - started < 30:  # its start, on a busy machine
            pids = observer.execute(waiting, {"database": database}).scalars().all()
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            time.sleep(0.02)
        assert stopped, "the command never waited on the lock"
        holder.rollback()  # its lock is granted to a process that no longer runs
        paused = time.monotonic()
        _, stderr = command.communicate(timeout=60)
        took = time.monotonic() - paused
        assert command.returncode == 1, stderr
        assert took < 20, took
        assert "Traceback" not in stderr, stderr
        [line] = stderr.strip().splitlines()
        assert f"cannot open the database {url}: the server did not answer within" in line, line
    finally:
        if command is not None and command.poll() is None:
            command.kill()
            command.wait()
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        holder.close()
        observer.close()


def test_an_edition_number_past_what_the_database_holds_is_refused_as_a_usage_error(
    tmp_path: Path, postgres_url: str
) -> None:
    # Passed to PostgreSQL as they were, each ended in a traceback: "integer out of range".
    config = write_config(tmp_path, database_url=fresh_database(postgres_url))
    assert run_digest(config, "db", "upgrade").returncode == 0
    huge = str(2**64)
    for command, option in (
        (["deliveries", "retry", huge], "'EDITION'"),
        (["status", "--recent", huge], "'--recent'"),
    ):
        result = run_digest(config, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        assert f"Invalid value for {option}" in result.stderr, command
        assert "less than or equal to 2147483647" in result.stderr, command
    assert run_digest(config, "status", "--recent", "2147483647").returncode == 0


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        # SQLAlchemy reads a "/" in the password as part of it, and connects with it: only the
        # mask, which took it for the start of a path, showed it whole.
        ("postgresql+psycopg://desk:hunter2/x@127.0.0.1:{port}/digest", "desk:***@127.0.0.1"),
        # libpq takes a password as a query parameter too.
        ("postgresql+psycopg://desk@127.0.0.1:{port}/digest?password=hunter2", "password=***"),
    ],
)
def test_a_password_the_mask_did_not_see_is_never_shown(
    tmp_path: Path, written: str, shown: str
) -> None:
    url = written.format(port=free_port())
    result = run_digest(write_config(tmp_path, database_url=url), "status")
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "cannot open the database postgresql+psycopg://" in line and shown in line, line
    assert "hunter2" not in line


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("foo=bar", 'invalid connection option "foo"'),  # libpq has no such option
        ("port=abc", "Received non-integer port arguments"),
    ],
)
def test_a_database_url_option_the_driver_refuses_is_one_line(
    tmp_path: Path, option: str, said: str
) -> None:
    # Each ended every command that opens the store in a traceback of hundreds of lines.
    url = f"postgresql+psycopg://desk:hunter2@127.0.0.1:{free_port()}/digest?{option}"
    result = run_digest(write_config(tmp_path, database_url=url), "status")
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "cannot open the database postgresql+psycopg://desk:***@127.0.0.1" in line, line
    assert said in line, line
    assert "correct service.database_url (or DIGEST_DATABASE_URL)" in line, line
    assert "hunter2" not in line


def test_an_at_sign_in_a_database_password_is_refused_before_any_connection(
    tmp_path: Path,
) -> None:
    # "desk:hunter@2@host": the password ended at the first "@", the driver was told to reach
    # host "2@127.0.0.1" and said so, with the rest of the password, in its error.
    url = f"postgresql+psycopg://desk:hunter@2secret@127.0.0.1:{free_port()}/digest"
    result = run_digest(write_config(tmp_path, database_url=url), "status")
    assert result.returncode == 2, result.stderr
    assert "service.database_url: its user name or password holds an '@'" in result.stderr
    assert "write each '@' in them as %40" in result.stderr
    assert "2secret" not in result.stderr and "hunter" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_postgresql_database_that_does_not_exist(tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    result = run_digest(write_config(tmp_path, database_url=url), "feeds")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"cannot open the database {url}: " in line and "no_such_database" in line
    assert "that the database and its user exist" in line


@pytest.mark.parametrize("whose", ["a new database", "tables another user made"])
def test_a_postgresql_user_without_the_rights_is_told_so_in_one_line(
    tmp_path: Path, postgres_url: str, whose: str
) -> None:
    # PostgreSQL 15 lets only a database's owner create tables in its schema public, and the
    # tables `digest db upgrade` made as one user are that user's: every command ended in a
    # traceback, "permission denied for schema public" or "... for table alembic_version".
    database_url = fresh_database(postgres_url)
    user = f"reader_{tmp_path.name[-20:].replace('-', '_').lower()}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {user} LOGIN"))
    admin.dispose()
    owner = create_engine(database_url)
    if whose == "tables another user made":
        made = run_digest(write_config(tmp_path, database_url=database_url), "db", "upgrade")
        assert made.returncode == 0, made.stderr
    url = database_url.replace("postgresql+psycopg://digest@", f"postgresql+psycopg://{user}@")
    assert url != database_url
    config = write_config(tmp_path, database_url=url)
    refused = "permission denied for schema public"
    if whose == "tables another user made":
        refused = "permission denied for table alembic_version"
    for command in (["db", "upgrade"], ["status"], ["run", "--once"], ["subscribers", "list"]):
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: cannot open the database {url}: {refused}; "), line
        assert "the user of the URL may not make or use digest's tables there" in line
        assert "make it the owner of the database" in line
        assert "check that the database server is running" not in line
    listed = text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    with owner.connect() as connection:
        tables = set(connection.execute(listed).scalars())
    owner.dispose()
    assert bool(tables) == (whose == "tables another user made")


@pytest.mark.parametrize("schema", ["none yet", "upgraded"])
def test_a_postgresql_server_that_takes_no_writes_is_told_so_in_one_line(
    tmp_path: Path, postgres_url: str, schema: str
) -> None:
    # A standby (the URL names a replica, or the old primary after a failover) or a database
    # set read-only: every command that writes ended in a traceback, "cannot execute CREATE
    # TABLE in a read-only transaction" (or INSERT).
    url = fresh_database(postgres_url)
    config = write_config(tmp_path, database_url=url)
    if schema == "upgraded":
        assert run_digest(config, "db", "upgrade").returncode == 0
    name = url.rsplit("/", 1)[1]
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    admin.dispose()
    statement = "CREATE TABLE" if schema == "none yet" else "INSERT"
    for command in (["db", "upgrade"], ["run", "--once"], ["feeds"], ["subscribers", "list"]):
        if schema == "upgraded" and command in (["db", "upgrade"], ["subscribers", "list"]):
            continue  # they write nothing to a database at the latest schema
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        [line] = result.stderr.strip().splitlines()
        said = f"cannot execute {statement} in a read-only transaction; "
        assert line.startswith(f"error: cannot open the database {url}: {said}"), line
        assert "the server takes no writes there (a standby, or a database set read-only)" in line
        assert "at the primary server" in line


@pytest.mark.parametrize(
    ("url", "missing"),
    [
        # The URL of many a guide, on an install with psycopg (3), not psycopg2.
        ("postgresql+psycopg2://desk:hunter2@127.0.0.1:5432/digest", "No module named 'psycopg2'"),
        # A driver SQLAlchemy has no dialect for (a typo).
        ("postgresql+pyscopg://desk:hunter2@127.0.0.1:5432/digest", "postgresql.pyscopg"),
    ],
)
def test_a_database_driver_that_is_not_installed_is_one_line_not_a_traceback(
    tmp_path: Path, url: str, missing: str
) -> None:
    config = write_config(tmp_path, database_url=url)
    for command in (["status"], ["db", "upgrade"], ["config", "check"], ["run", "--once"]):
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        [line] = result.stderr.strip().splitlines()
        masked = url.replace(":hunter2@", ":***@")
        driver = url.split(":", 1)[0]
        assert line.startswith(
            f"error: cannot open the database {masked}: its driver {driver} is not installed ("
        ), line
        assert missing in line and "hunter2" not in line
        assert "install the driver the URL names" in line
        assert "service.database_url (or DIGEST_DATABASE_URL)" in line


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_an_sqlite_file_that_cannot_be_made(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    database = tmp_path / ("a-file/data/digest.db" if where == "under a file" else "a-folder")
    url = f"sqlite:///{database}"
    config = write_config(tmp_path, database_url=url)
    for command in (["run", "--once"], ["feeds", "enable", "http://127.0.0.1:9/wire"]):
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: cannot open the database {url}: "), line
        assert "check that its folder exists (or can be made) and is writable" in line


def test_an_sqlite_file_that_is_no_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # database_url pointed at another file (the subscriber CSV), or a damaged database.
    database = tmp_path / "members.csv"
    url = f"sqlite:///{database}"
    config = write_config(tmp_path, database_url=url)
    for command in (["run", "--once"], ["status"], ["db", "upgrade"], ["subscribers", "list"]):
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: cannot open the database {url}: file is not a database; ")
        assert "the file is not a digest database (another file, or a damaged one)" in line
    assert database.read_text() == "email,name\nsam@example.org,Sam\n"


def test_an_sqlite_file_another_process_holds_says_so_not_to_check_its_folder(
    tmp_path: Path,
) -> None:
    # What SQLite says once its busy timeout (30 seconds) ran out waiting for another writer.
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    with pytest.raises(StoreUnavailableError) as caught, database_errors(url):
        raise locked
    message = str(caught.value)
    assert message.startswith(f"cannot open the database {url}: database is locked; ")
    assert "another process is writing to it" in message
    assert "writable" not in message


def test_an_sqlite_file_this_user_may_not_write_says_so_not_to_check_its_folder(
    tmp_path: Path,
) -> None:
    # A database file made by a command run as root, and the service run as its own user:
    # SQLite opens it read-only and refuses the first write. The advice was to check that the
    # folder exists and is writable, which it is.
    database = tmp_path / "digest.db"
    with sqlite3.connect(database) as made:
        made.execute("CREATE TABLE feeds (url TEXT)")
    made.close()
    url = f"sqlite:///{database}"
    read_only = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    try:
        with (
            pytest.raises(StoreUnavailableError) as caught,
            database_errors(url),
            read_only.begin() as connection,
        ):
            connection.execute(text("INSERT INTO feeds VALUES ('http://127.0.0.1:9/wire')"))
    finally:
        read_only.dispose()
    message = str(caught.value)
    assert message.startswith(f"cannot open the database {url}: attempt to write a readonly ")
    assert "this user may not write the file, or its -wal and -shm files beside it" in message
    assert "check their owner and permissions" in message
    assert "folder exists" not in message


@pytest.mark.parametrize(
    ("tables", "recorded"),
    [
        # Another application's database: one of its tables has a name digest uses too.
        (["CREATE TABLE users (id INTEGER PRIMARY KEY)", "CREATE TABLE feeds (url TEXT)"], None),
        (["CREATE TABLE users (id INTEGER PRIMARY KEY)"], None),
        # One its own Alembic keeps: digest took its revision for one of a newer digest.
        (
            [
                "CREATE TABLE users (id INTEGER PRIMARY KEY)",
                "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
                "INSERT INTO alembic_version VALUES ('3f2a9c1b7d10')",
            ],
            "3f2a9c1b7d10",
        ),
    ],
)
def test_another_application_s_database_is_refused_and_left_as_it_was(
    tmp_path: Path, database_url: str, tables: list[str], recorded: str | None
) -> None:
    # service.database_url pointed at another application's database: digest created its
    # schema among that application's tables, or failed on a name both use with the advice of
    # a folder that cannot be written, or called the other's revision a newer digest's.
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(database_url)
    with engine.begin() as connection:
        for statement in tables:
            connection.execute(text(statement))
    before = sorted(inspect(engine).get_table_names())
    config = write_config(tmp_path, database_url=database_url)
    theirs = ", ".join(table for table in before if table != "alembic_version")
    found = f"schema {recorded}, not digest's" if recorded else "no digest schema"
    for command in (["status"], ["db", "upgrade"]):
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, command
        [line] = result.stderr.strip().splitlines()
        said = f"it holds tables ({theirs}) and {found}; it is another application's database"
        assert said in line, line
        assert "nothing was written to it" in line and "newer" not in line, line
    assert sorted(inspect(engine).get_table_names()) == before
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("sqlite:///var/digest.db", sqlite3.OperationalError("database or disk is full")),
        (
            "postgresql+psycopg://desk:hunter2@db.internal/digest",
            Exception(
                'could not extend file "base/16384/16402": No space left on device\n'
                "HINT:  Check free disk space."
            ),
        ),
    ],
)
def test_a_full_disk_says_to_free_space_not_to_check_the_folder_or_the_server(
    url: str, said: Exception
) -> None:
    # A write of a cycle, an import or an upgrade on a full disk: the advice was that of a
    # database that cannot be reached (its folder, its server), which were all right.
    full = OperationalError("INSERT ...", {}, said)
    with pytest.raises(StoreUnavailableError) as caught, database_errors(url):
        raise full
    message = str(caught.value)
    assert "the disk that holds it is full: free space there" in message, message
    assert "writable" not in message and "server is running" not in message
    assert "hunter2" not in message


def test_an_sqlite_file_in_a_folder_that_does_not_exist_yet_is_made(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'digest.db'}"
    result = digest(write_config(tmp_path, database_url=url), "feeds", "--json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "folder" / "digest.db").is_file()


# --- a port in use -------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_a_sample_server_port_in_use_is_one_line_naming_port_and_key(
    tmp_path: Path, taken_port: int
) -> None:
    (tmp_path / "samples").mkdir()
    sample = f'\n[sample_server]\ndirectory = "samples"\nport = {taken_port}\n'
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("[[feeds]]", sample + "\n[[feeds]]", 1))
    for command in (["run", "--once"], ["topics", "test", str(config)], ["preview", "daily"]):
        result = run_digest(config, *command)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert f"127.0.0.1:{taken_port} (sample_server.port = {taken_port})" in line, line
        assert "Address already in use" in line
        assert "set sample_server.port to a free port" in line


# --- help ----------------------------------------------------------------------------------------


def test_feeds_import_help_shows_the_feeds_blocks() -> None:
    result = CliRunner().invoke(app, ["feeds", "import", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Print the [[feeds]] blocks an OPML file adds" in result.output
    assert "Append the new [[feeds]] to the config file." in result.output
    assert "[]" not in result.output


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["preview"], ["poll"], ["feeds"], ["feeds", "import"], ["topics", "explain"]],
)
def test_flags_show_no_value_in_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    assert "--help" in result.output


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        yield " ".join((*path, name)), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def test_each_command_is_one_unbroken_sentence_in_the_list_of_commands() -> None:
    # Typer's rich help kept the docstring's line breaks in the list of commands: "preview"
    # read "...without storing or sending anything, and" then, on a line of its own, "show...".
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert (
        "without storing or sending anything, and show what the checks that run before each send"
        in result.output
    )
    commands = dict(_commands(typer.main.get_command(app)))
    assert {"preview", "send", "status", "subscribers import", "topics explain"} <= set(commands)
    for name, command in commands.items():
        text = command.get_short_help_str(limit=10_000)
        assert "\n" not in text, name
        if not hasattr(command, "commands"):
            assert text, f"{name} has no help"


def test_options_that_take_a_value_still_show_it() -> None:
    # As a word for the value (LIST, N), not as its Python type ("<str>", "<int range>").
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert re.search(r"--list +LIST ", result.output), result.output
    assert re.search(r"--interval +N ", result.output), result.output


@pytest.mark.parametrize("command", [["run"], ["beat"]])
def test_a_cycle_a_second_is_taken_by_run_as_by_beat(tmp_path: Path, command: list[str]) -> None:
    # `digest beat --interval 1` ticked every second, `digest run --interval 1` was refused
    # ("not in the range x>=10"): an operator trying a config edit on the embedded mode waited
    # ten seconds for each, though a cycle polls only the feeds that are due.
    stderr = refused(digest(tmp_path / "nowhere.toml", *command, "--interval", "1"), 2)
    assert "--interval" not in stderr, stderr
    assert f"{tmp_path / 'nowhere.toml'}: file not found" in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--once", "--config", "digest.toml"],
        ["preview", "daily", "-c", "digest.toml"],
        ["feeds", "export", "--config=digest.toml"],
    ],
)
def test_the_config_given_after_the_command_says_where_it_goes(args: list[str]) -> None:
    # "No such option: --config" from a command whose --help lists no --config, when digest
    # has one: a newcomer who typed it after the command's name was not told to move it.
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())
    assert "is an option of digest itself" in said
    assert f"digest --config FILE {args[0]}" in said and "DIGEST_CONFIG" in said


# --- careless operator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["run", "--once"], ["poll"], ["preview", "daily"], ["send", "daily"]]
)
def test_a_config_error_found_as_the_services_start_is_exit_2_in_every_command(
    tmp_path: Path, command: list[str]
) -> None:
    # The DKIM key is read as the services start, after the file passed its validation.
    (tmp_path / "dkim.pem").write_text("not a key\n")
    config = write_config(tmp_path, extra='\n[dkim]\nselector = "s1"\nkey_file = "dkim.pem"\n')
    stderr = refused(digest(config, *command), 2)
    assert stderr.startswith("Invalid configuration\n")
    assert "dkim.key_file: not a PEM RSA private key" in stderr


def test_a_missing_config_says_how_to_give_one(tmp_path: Path) -> None:
    stderr = refused(digest(tmp_path / "nowhere.toml", "run", "--once"), 2)
    assert f"{tmp_path / 'nowhere.toml'}: file not found" in stderr
    assert "--config FILE or the DIGEST_CONFIG variable" in stderr


def test_an_unreadable_config_is_named(tmp_path: Path) -> None:
    stderr = refused(digest(tmp_path, "feeds"), 2)
    assert f"{tmp_path}: cannot read: Is a directory" in stderr
    assert "--config FILE or the DIGEST_CONFIG variable" in stderr


@pytest.mark.parametrize("command", [["run", "--once", "--list"], ["preview"]])
def test_a_wrong_list_slug_names_the_lists_there_are(tmp_path: Path, command: list[str]) -> None:
    stderr = refused(digest(write_config(tmp_path), *command, "weekly"), 2)
    assert "No list 'weekly' in" in stderr and "its lists are daily" in stderr


def test_a_list_slug_for_a_config_with_no_lists(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text()
    config.write_text(text[: text.index("[[lists]]")])
    stderr = refused(digest(config, "preview", "daily"), 2)
    assert "No list 'daily' in" in stderr and "it has no [[lists]]" in stderr


def test_enabling_a_feed_that_is_not_configured(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    stderr = refused(digest(config, "feeds", "enable", "http://example.org/other"), 1)
    assert f"No feed with the URL http://example.org/other in {config}" in stderr
    assert "`digest feeds` lists them" in stderr


def test_a_bad_opml_file_is_named(tmp_path: Path) -> None:
    opml = tmp_path / "subscriptions[old].opml"  # brackets: printed as written, not as markup
    opml.write_text("<opml><body><outline")
    stderr = refused(digest(write_config(tmp_path), "feeds", "import", str(opml)), 2)
    assert f"{opml}: not well-formed XML" in stderr


def test_explaining_an_article_that_is_not_stored(tmp_path: Path) -> None:
    stderr = refused(digest(write_config(tmp_path), "topics", "explain", "4242"), 1)
    assert "no stored article has id 4242" in stderr
    assert "give the id of a stored article" in stderr


def test_exporting_to_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "feeds.opml"
    stderr = refused(digest(write_config(tmp_path), "feeds", "export", "--output", str(target)), 1)
    assert f"error: {target}: No such file or directory" in stderr


def test_a_rich_markup_lookalike_in_an_error_is_printed_as_written(tmp_path: Path) -> None:
    config = write_config(tmp_path, schedule="0 7 * * [bold]")
    stderr = refused(digest(config, "config", "check"), 2)
    assert "lists[daily].schedule: invalid cron expression '0 7 * * [bold]'" in stderr


def test_ctrl_c_is_one_line_and_the_exit_code_of_an_interrupt(tmp_path: Path) -> None:
    # A feed server that accepts and never answers: the poll waits on it until interrupted.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/wire"
        config = write_config(tmp_path, feed_url=url)
        environment = {**os.environ, "COLUMNS": "200"}
        environment.pop("DIGEST_DATABASE_URL", None)
        process = subprocess.Popen(
            [DIGEST, "--config", str(config), "poll", "--force"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            # As a terminal delivers it: the test runner may have set SIGINT to be ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the poll has connected
            silent.settimeout(0.2)
            try:
                connection, _ = silent.accept()
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("the poll never connected")
        process.send_signal(signal.SIGINT)
        try:
            time.sleep(1)  # the interrupt lands first; then the fetch in flight ends, refused
            connection.close()
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip() == "Interrupted."


def test_a_database_error_that_reaches_the_boundary_names_the_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command that opens the store some other way than digest.store.db.database_errors.
    monkeypatch.setattr(boundary._context, "database_url", None)
    boundary.note_database("postgresql+psycopg://desk:hunter2@db.example.org/digest")
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    with pytest.raises(typer.Exit) as exited, boundary.expected_failures():
        raise lost
    assert exited.value.exit_code == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        "error: cannot open the database postgresql+psycopg://desk:***@db.example.org/digest: "
        "server closed the connection unexpectedly; check that the database server is running"
    )


@pytest.mark.parametrize(
    ("interrupt", "code", "said"),
    [(KeyboardInterrupt, 130, "Interrupted."), (Terminated, 143, "Terminated.")],
)
def test_a_database_error_in_a_cleanup_after_ctrl_c_ends_the_command_as_interrupted(
    capsys: pytest.CaptureFixture[str],
    interrupt: type[KeyboardInterrupt],
    code: int,
    said: str,
) -> None:
    # Ctrl-C broke off a database call; a cleanup on the way out failed on the connection it
    # left, and `digest send` ended "cannot open the database …: can't change 'autocommit'
    # now", exit 1 (seen in tests/test_send_command.py's Ctrl-C test under load).
    broken = ProgrammingError("SELECT 1", {}, Exception("can't change 'autocommit' now"))
    with pytest.raises(typer.Exit) as exited, boundary.expected_failures():
        try:
            raise interrupt
        finally:
            raise OperationalError("SELECT 1", {}, Exception("cleanup")) from broken
    assert exited.value.exit_code == code
    assert capsys.readouterr().err.strip() == said
    # Another error, with no interrupt behind it, is still itself.
    with pytest.raises(typer.Exit) as exited, boundary.expected_failures():
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert exited.value.exit_code == 1


def test_an_error_that_is_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(KeyError), boundary.expected_failures():
        raise KeyError("a bug")


def test_preview_shows_a_subject_with_square_brackets_as_written(tmp_path: Path) -> None:
    # The subject is the lead's headline (as the example config writes it), and headlines
    # carry brackets: "[/]" ended the preview in a MarkupError traceback, and "[updated]" was
    # read as a style and left out of the line.
    title = "World markets [/] fall [updated]"
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<link>https://wire.example.org/</link><description>d</description><item>"
        f"<title>{title}</title><link>https://wire.example.org/1</link><guid>1</guid>"
        "<description>The world today.</description></item></channel></rss>"
    ).encode()
    with feed_server(
        {"/wire": answer(200, rss, {"Content-Type": "application/rss+xml"})}
    ) as server:
        config = write_config(
            tmp_path,
            feed_url=server.url("/wire"),
            extra='subject = "{% if lead_title %}{{ lead_title }} | {% endif %}{{ list_name }}"\n',
        )
        result = digest(config, "preview", "daily", "--poll", "-o", str(tmp_path / "d.html"))
    assert result.exit_code == 0, result.output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert f"subject: {title} | Daily" in result.stderr


def test_a_config_in_a_folder_with_brackets_is_named_as_it_is(tmp_path: Path) -> None:
    # "[prod]" is rich markup: the path printed lost it ("/etc//digest.toml").
    for folder_name in ("[prod]", "[bold red]"):
        folder = tmp_path / folder_name
        folder.mkdir()
        config = write_config(folder)
        checked = digest(config, "config", "check")
        assert checked.exit_code == 0, checked.output
        assert f"OK {config}" in checked.stdout, checked.stdout
        new_rules = digest(config, "topics", "test", str(config))
        assert new_rules.exit_code == 0, new_rules.output
        said = " ".join(new_rules.stdout.split())  # a long path wraps the line
        assert f"rules of {config} → rules of {config}" in said, new_rules.stdout


def test_a_postgresql_certificate_not_trusted_here_is_told_with_what_to_name(
    tmp_path: Path,
) -> None:
    # A managed PostgreSQL signs its certificate with its own authority. With sslmode=verify-ca
    # or verify-full and no sslrootcert, or the wrong one, every command said to check that the
    # server runs and accepts connections, and libpq's own advice was cut short.
    with postgres_cluster() as server:
        data = server.socket_folder / "data"
        key, certificate = self_signed(
            "db.internal", datetime.now(UTC), days=3650, ip_address="127.0.0.1"
        )
        _, stranger = self_signed("another.internal", datetime.now(UTC), days=3650)
        for name, content in (("server.crt", pem(certificate)), ("server.key", key_pem(key))):
            (data / name).write_bytes(content)
            os.chmod(data / name, 0o600)
            if os.geteuid() == 0:
                shutil.chown(data / name, user="postgres")
        admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("ALTER SYSTEM SET ssl = on"))
            connection.execute(text("SELECT pg_reload_conf()"))
        admin.dispose()
        (tmp_path / "authority.pem").write_bytes(pem(certificate))
        (tmp_path / "stranger.pem").write_bytes(pem(stranger))
        url = fresh_database(server.url)
        said = {}
        for query in (
            f"sslmode=verify-ca&sslrootcert={tmp_path / 'stranger.pem'}",
            f"sslmode=verify-full&sslrootcert={tmp_path / 'nowhere.pem'}",
            f"sslmode=verify-full&sslrootcert={tmp_path / 'authority.pem'}",
        ):
            config = write_config(tmp_path, database_url=f"{url}?{query}")
            said[query.split("/")[-1]] = run_digest(config, "db", "upgrade")
    trusted = said.pop("authority.pem")
    assert trusted.returncode == 0, trusted.stderr
    for result in said.values():
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "the server's TLS certificate is not trusted here" in line, line
        assert "as sslrootcert=PATH (its certificate, a PEM file)" in line
        assert "check that the database server is running" not in line


# --- a schema other than the code's ------------------------------------------------------------


def _example_on(folder: Path, database_url: str) -> Path:
    """The example's config on ``database_url``, upgraded and its feeds polled: its editions
    hold news and go to its readers, offline."""
    config = example_config(folder, smtp_port=None)
    sqlite_url = f"sqlite:///{folder / 'digest.db'}"
    config.write_text(config.read_text().replace(sqlite_url, database_url), encoding="utf-8")
    assert run_digest(config, "db", "upgrade").returncode == 0
    assert run_digest(config, "poll").returncode == 0
    return config


def _by_hand(database_url: str, statement: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.mark.parametrize(
    ("change", "missing", "commands"),
    [
        # A column the ledger's record of a sent copy writes, and nothing before it reads: the
        # record was tried again for a minute as if the database were away, then said "cannot
        # open the database …; check that its folder exists".
        ("ALTER TABLE deliveries DROP COLUMN sent_at", "the column deliveries.sent_at",
         [["send", "middle-east-daily"], ["run", "--once"]]),
        ("ALTER TABLE editions RENAME TO editions_by_hand", "the table editions",
         [["status"], ["run", "--once"]]),
    ],
)  # fmt: skip
def test_a_schema_changed_by_hand_is_told_at_once_not_as_a_database_away(
    tmp_path: Path, database_url: str, change: str, missing: str, commands: list[list[str]]
) -> None:
    config = _example_on(tmp_path, database_url)
    _by_hand(database_url, change)
    for command in commands:
        started = time.monotonic()
        result = run_digest(config, *command)
        took = time.monotonic() - started
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith(f"error: the database {database_url} lacks {missing} "), line
        assert "this code expects" in line
        assert "it has schema 0021, this code's, changed since by hand" in line, line
        assert "put back what was dropped or renamed" in line
        assert "unreachable" not in result.stderr and "folder exists" not in line
        assert "Stopped sending" not in result.stderr  # the next run meets it again
        assert took < 20, (command, took)  # a behaviour bound: the retries took a minute


@pytest.mark.parametrize("recorded", ["0019", "0099"])
def test_a_schema_of_another_release_is_told_with_what_to_run(
    tmp_path: Path, database_url: str, recorded: str
) -> None:
    # A database another release upgraded (or one restored from before an upgrade) under a
    # process of this one: its revision says which release to run.
    assert (
        run_digest(write_config(tmp_path, database_url=database_url), "db", "upgrade").returncode
        == 0
    )
    _by_hand(database_url, "ALTER TABLE editions RENAME TO editions_by_hand")
    _by_hand(database_url, f"UPDATE alembic_version SET version_num = '{recorded}'")
    with pytest.raises(SchemaDriftError) as caught, database_errors(database_url):
        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT id FROM editions"))
        finally:
            engine.dispose()
    message = str(caught.value)
    assert message.startswith(f"the database {database_url} lacks the table editions "), message
    if recorded == "0099":
        said = "it has schema 0099, newer than this code knows (its newest is 0021): run the "
        assert said + "version of digest that upgraded it" in message
    else:
        assert "it has schema 0019, this code needs 0021: run `digest db upgrade` once" in message


def test_a_missing_column_that_reaches_the_boundary_is_told_as_the_schema(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A command that opens the store some other way than database_errors: its refused statement
    # read "cannot open the database …" (SQLite), or ended in a traceback (PostgreSQL).
    from digest.store import open_store

    open_store(database_url).engine.dispose()
    _by_hand(database_url, "ALTER TABLE feeds DROP COLUMN etag")
    monkeypatch.setattr(boundary._context, "database_url", None)
    boundary.note_database(database_url)
    engine = create_engine(database_url)
    with pytest.raises(typer.Exit) as exited, boundary.expected_failures():
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT etag FROM feeds"))
        finally:
            engine.dispose()
    assert exited.value.exit_code == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: the database {database_url} lacks the column etag "), line
    assert "cannot open" not in line
