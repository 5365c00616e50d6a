"""`digest config check` and `digest run` agree on what is wrong with the lists: the same warnings,
and `run` refuses at start what `check` refuses (issue #9, points 4, 5 and 7)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest import pipeline
from digest.cli import app
from digest.clock import FixedClock
from tests.test_lists import (
    DAY1,
    SLOT1,
    a_list,
    build_without_sending,
    raw_config,
    settings_of,
    start,
)
from tests.test_pipeline import write_feed


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    from digest.sample_server import serve_folder

    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    with serve_folder(folder) as url:
        yield url


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def write_config(tmp_path: Path, raw: dict[str, Any]) -> Path:
    """The config as TOML: tables, arrays of tables, anything deeper inline."""
    raw["service"].setdefault("outbox", str(tmp_path / "outbox"))
    lines: list[str] = []
    for name, value in raw.items():
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            lines += [f"{key} = {toml_value(item)}" for key, item in row.items()]
    path = tmp_path / "digest.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def digest(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(config), *args], env={"COLUMNS": "200"})


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning:")]


def sent(tmp_path: Path) -> int:
    return len(list((tmp_path / "outbox").glob("*.eml")))


def test_a_bad_subscriber_row_is_the_same_warning_in_check_and_run_and_stops_neither(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text(
        "email,name\nsam@example.org,Sam\nsam@example,Typo\nli@example.org,Li\n"
    )
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    [warning] = warnings(check.stderr)
    assert f"{tmp_path / 'members.csv'}: line 3: 'sam@example' has an invalid domain" in warning
    assert "OK" in check.stdout

    first = digest(config, "run", "--once")
    assert first.exit_code == 0, first.output
    assert warning in warnings(first.stderr)
    assert sent(tmp_path) == 2
    # A run with nothing due reads the file all the same, and says so: never silent.
    again = digest(config, "run", "--once")
    assert again.exit_code == 0, again.output
    assert warnings(again.stderr) == [warning]


def test_a_row_of_an_export_for_another_list_is_the_same_warning_in_check_and_run(
    tmp_path: Path, base_url: str
) -> None:
    # An export of every list given as one list's file: run left the other list's row out
    # with a warning, while check counted it a reader and said nothing.
    (tmp_path / "members.csv").write_text(
        "email,name,list,status\n"
        "sam@example.org,Sam,daily,confirmed\n"
        "omar@example.org,Omar,weekly,confirmed\n"
        "li@example.org,Li,daily,confirmed\n"
    )
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    run = digest(config, "run", "--once")
    assert run.exit_code == 0, run.output
    [warning] = warnings(run.stderr)
    assert "line 3: this row is for list 'weekly', not 'daily'" in warning
    assert warnings(check.stderr) == [warning]
    assert sent(tmp_path) == 2


def test_an_unreadable_subscriber_file_is_refused_by_check_and_by_run_before_it_starts(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text("mail,name\nsam@example.org,Sam\n")
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (2, 2)
    reason = f"{tmp_path / 'members.csv'}: line 1: unknown column 'mail'"
    assert reason in check.stderr and reason in run.stderr
    assert sent(tmp_path) == 0
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url))
    services, _ = start(settings, FixedClock(DAY1))
    assert services.store.latest_edition("daily") is None  # nothing was stored either
    services.close()


def test_a_file_in_the_outboxs_place_is_refused_by_check_and_by_run_before_it_starts(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    (tmp_path / "outbox").write_text("not a folder")
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (2, 2), run.output
    reason = f"service.outbox: {tmp_path / 'outbox'} is a file, not a folder"
    assert reason in check.stderr and reason in run.stderr
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url))
    services, _ = start(settings, FixedClock(DAY1))
    assert services.store.latest_edition("daily") is None  # nothing was built or queued
    services.close()


def test_a_dkim_key_file_that_is_no_key_is_refused_by_check_and_by_run_alike(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    (tmp_path / "dkim.pem").write_text("not a key\n")
    raw = raw_config(tmp_path, base_url)
    raw["dkim"] = {"selector": "digest", "key_file": "dkim.pem"}
    config = write_config(tmp_path, raw)
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (2, 2), (check.output, run.output)
    reason = "dkim.key_file: not a PEM RSA private key"
    assert reason in check.stderr and reason in run.stderr
    assert "Invalid configuration" in check.stderr and "Invalid configuration" in run.stderr
    assert sent(tmp_path) == 0


def test_an_empty_secret_key_file_is_refused_by_check_and_by_run_alike(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = raw_config(tmp_path, base_url)
    config = write_config(tmp_path, raw)
    key = settings_of(tmp_path, raw).service.data_dir / "secret_key"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("\n")  # a disk that filled up, a restore that went wrong
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (2, 2), (check.output, run.output)
    reason = f"{key}: the secret key file is empty"
    assert reason in check.stderr and reason in run.stderr
    assert key.read_text() == "\n"  # neither replaced it: links already sent depend on it
    assert sent(tmp_path) == 0


@pytest.mark.parametrize("secret", ["changeme", "   ", "s3cret-key-15ch"])
def test_a_short_secret_key_is_the_same_warning_in_check_and_run(
    tmp_path: Path, base_url: str, secret: str
) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    environment = {"COLUMNS": "200", "DIGEST_SECRET_KEY": secret}
    runner = CliRunner()
    check = runner.invoke(app, ["--config", str(config), "config", "check"], env=environment)
    run = runner.invoke(app, ["--config", str(config), "run", "--once"], env=environment)
    assert (check.exit_code, run.exit_code) == (0, 0), (check.output, run.output)
    [warning] = [line for line in warnings(check.stderr) if "DIGEST_SECRET_KEY" in line]
    assert f"DIGEST_SECRET_KEY is {len(secret.strip())} characters: a key that short" in warning
    assert warning in warnings(run.stderr)


def test_a_random_secret_key_draws_no_warning(tmp_path: Path, base_url: str) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    environment = {"COLUMNS": "200", "DIGEST_SECRET_KEY": "k" * 16}
    check = CliRunner().invoke(app, ["--config", str(config), "config", "check"], env=environment)
    assert check.exit_code == 0, check.output
    assert "DIGEST_SECRET_KEY" not in check.stderr


def test_a_mail_template_that_does_not_compile_is_refused_by_check_and_by_run_alike(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    email = tmp_path / "brand" / "email"
    email.mkdir(parents=True)
    (email / "digest.html.j2").write_text("<p>{% if %}</p>\n")
    (email / "digest.txt.j2").write_text("{{ list_name | shout }}\n")  # no such filter
    raw = raw_config(tmp_path, base_url)
    raw["service"]["templates"] = "brand"
    config = write_config(tmp_path, raw)
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (2, 2), (check.output, run.output)
    for reason in (
        f"service.templates: {email / 'digest.html.j2'}, line 1: Expected an expression",
        f"service.templates: {email / 'digest.txt.j2'}, line 1: No filter named 'shout'",
    ):
        assert reason in check.stderr and reason in run.stderr
    assert sent(tmp_path) == 0
    # Fixed, the folder's templates are taken: only the bundled ones fill what it lacks.
    (email / "digest.html.j2").unlink()
    (email / "digest.txt.j2").unlink()
    assert digest(config, "config", "check").exit_code == 0


@pytest.mark.parametrize(
    ("port", "tls", "advice"),
    [
        (465, "starttls", "speaks TLS from the start; set smtp.tls = 'ssl'"),
        (587, "ssl", "starts in plain text; set smtp.tls = 'starttls'"),
    ],
)
def test_smtp_tls_that_does_not_fit_the_port_is_the_same_warning_in_check_and_run(
    tmp_path: Path, base_url: str, port: int, tls: str, advice: str
) -> None:
    # Each side waits for the other to speak first: every copy would fail with "timed out".
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = raw_config(tmp_path, base_url)
    raw["smtp"] = {"host": "127.0.0.1", "port": port, "tls": tls, "timeout_seconds": 1}
    config = write_config(tmp_path, raw)
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (0, 0), (check.output, run.output)
    [warning] = [line for line in warnings(check.stderr) if "smtp.port" in line]
    assert f"smtp.port = {port} with smtp.tls = '{tls}': a server on port {port} {advice}" in (
        warning
    )
    assert warning in warnings(run.stderr)


def test_smtp_tls_that_fits_the_port_draws_no_warning(tmp_path: Path, base_url: str) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    for port, tls in ((465, "ssl"), (587, "starttls"), (2526, "none")):
        raw = raw_config(tmp_path, base_url)
        raw["smtp"] = {"host": "smtp.example.org", "port": port, "tls": tls}
        check = digest(write_config(tmp_path, raw), "config", "check")
        assert check.exit_code == 0, check.output
        assert "smtp.port" not in check.stderr


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.1.2.3", "[::1]", "169.254.169.254", "192.168.0.7"]
)
def test_a_feed_on_a_private_address_is_the_same_warning_in_check_and_run(
    tmp_path: Path, base_url: str, host: str
) -> None:
    # config check said OK, and every poll of the feed was refused from the first run on,
    # one "refused to connect" a feed a cycle, with nothing said before.
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = raw_config(tmp_path, base_url)
    raw["ingest"]["allow_private_addresses"] = False
    raw["feeds"].append({"name": "Desk", "url": f"http://editor:pw@{host}:9/desk.xml"})
    config = write_config(tmp_path, raw)
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (0, 0), (check.output, run.output)
    [warning] = [line for line in warnings(check.stderr) if "feeds[Desk]: " in line]
    assert (
        f"feeds[Desk]: http://editor:***@{host}:9/desk.xml is on a private, loopback or "
        "link-local address: every poll of it is refused; set ingest.allow_private_addresses "
        "= true to fetch feeds from the local network"
    ) in warning
    assert "pw@" not in check.stderr
    assert warning in warnings(run.stderr)
    # The other feed, on 127.0.0.1 too, is named as well; allowed, neither is.
    assert any("feeds[Wire]" in line for line in warnings(check.stderr))
    raw["ingest"]["allow_private_addresses"] = True
    allowed = digest(write_config(tmp_path, raw), "config", "check")
    assert allowed.exit_code == 0 and "private, loopback" not in allowed.stderr


def test_a_feed_on_a_public_address_or_a_host_name_draws_no_such_warning(
    tmp_path: Path, base_url: str
) -> None:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = raw_config(tmp_path, base_url)
    raw["ingest"]["allow_private_addresses"] = False
    raw["feeds"] = [
        {"name": "Wire", "url": "https://news.example.org/rss"},
        {"name": "Agency", "url": "http://93.184.215.14/agency.xml"},
    ]
    check = digest(write_config(tmp_path, raw), "config", "check")
    assert check.exit_code == 0, check.output
    assert "private, loopback" not in check.stderr


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused_by_check_and_by_run_alike(
    tmp_path: Path, base_url: str, url: str
) -> None:
    # Each connection has its own empty database: a run's polling threads found no tables and
    # it ended in tracebacks and "no such table: feeds; check that its folder exists".
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = raw_config(tmp_path, base_url)
    raw["service"]["database_url"] = url
    config = write_config(tmp_path, raw)
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once")
    assert (check.exit_code, run.exit_code) == (2, 2), (check.output, run.output)
    assert "Traceback" not in run.output
    reason = "service.database_url: an in-memory SQLite database is not kept"
    assert reason in check.stderr and reason in run.stderr
    assert sent(tmp_path) == 0


def test_a_removed_list_is_named_by_check_and_run_and_the_others_are_sent(
    tmp_path: Path, base_url: str
) -> None:
    daily, weekly = a_list("daily", "members.csv"), a_list("weekly", "weekly.csv")
    raw = raw_config(tmp_path, base_url, daily, weekly)
    raw["service"]["outbox"] = str(tmp_path / "outbox")
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    build_without_sending(services, "daily")
    pipeline.build_edition(services, "weekly", SLOT1)  # its copies pending when the list goes
    services.close()

    config = write_config(tmp_path, raw_config(tmp_path, base_url, daily))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    [warning] = warnings(check.stderr)
    assert "list 'weekly' is no longer in" in warning and "2 pending deliveries" in warning
    assert 'add previous_slugs = ["weekly"] to its new [[lists]] entry' in warning
    run = digest(config, "run", "--once")
    assert run.exit_code == 0, run.output
    assert warnings(run.stderr) == [warning]
    assert sent(tmp_path) == 3  # daily's readers, and only them


def test_a_declared_rename_with_deliveries_pending_is_no_warning_and_they_are_sent(
    tmp_path: Path, base_url: str
) -> None:
    weekly = a_list("weekly", "weekly.csv")
    raw = raw_config(tmp_path, base_url, weekly)
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    build_without_sending(services, "weekly")  # its copies pending when the list is renamed
    services.close()

    renamed = a_list("friday", "weekly.csv", previous_slugs=["weekly"])
    config = write_config(tmp_path, raw_config(tmp_path, base_url, renamed))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    assert warnings(check.stderr) == []  # they follow the list to its new slug: none is held
    run = digest(config, "run", "--once")
    assert run.exit_code == 0, run.output
    assert warnings(run.stderr) == []
    assert sent(tmp_path) == 2


def test_a_renamed_lists_editions_of_a_slot_the_new_slug_has_are_the_held_ones(
    tmp_path: Path, base_url: str
) -> None:
    raw = raw_config(
        tmp_path, base_url, a_list("weekly", "weekly.csv"), a_list("friday", "members.csv")
    )
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    build_without_sending(services, "weekly")
    pipeline.build_edition(services, "friday", SLOT1)  # the same slot, under the new slug
    services.close()

    renamed = a_list("friday", "members.csv", previous_slugs=["weekly"])
    config = write_config(tmp_path, raw_config(tmp_path, base_url, renamed))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    [warning] = warnings(check.stderr)
    assert "list 'friday' (before, 'weekly'): 2 pending deliveries" in warning
    run = digest(config, "run", "--once")
    assert run.exit_code == 0, run.output
    assert warning in warnings(run.stderr)


def test_an_undeclared_rename_is_refused_by_check_and_run_alike(
    tmp_path: Path, base_url: str
) -> None:
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    assert digest(config, "run", "--once").exit_code == 0
    assert sent(tmp_path) == 3

    config = write_config(
        tmp_path, raw_config(tmp_path, base_url, a_list("morning", "members.csv"))
    )
    check = digest(config, "config", "check")
    run = digest(config, "run", "--once", "--list", "morning")
    assert (check.exit_code, run.exit_code) == (2, 2)
    refusal = f"{config}: list 'morning': this list is new to the database"
    assert refusal in check.stderr and refusal in run.stderr
    assert 'add previous_slugs = ["daily"]' in run.stderr
    assert sent(tmp_path) == 3  # nothing more

    renamed = a_list("morning", "members.csv", previous_slugs=["daily"])
    config = write_config(tmp_path, raw_config(tmp_path, base_url, renamed))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    assert warnings(check.stderr) == []


def test_config_check_creates_no_database(tmp_path: Path, base_url: str) -> None:
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    assert "no database yet" in check.stdout
    assert not (tmp_path / "digest.db").exists()


def test_config_check_does_not_take_a_folder_for_a_database_to_come(
    tmp_path: Path, base_url: str
) -> None:
    # service.database_url naming a folder: `config check` said "no database yet" there, as
    # of a file the first run makes, and every other command then refused it.
    config = write_config(tmp_path, raw_config(tmp_path, base_url))
    folder = tmp_path / "digest.db"
    folder.mkdir()
    check = digest(config, "config", "check")
    assert check.exit_code == 0, check.output
    said = " ".join(check.stdout.split())
    assert f"Lists' history not checked: {folder} is a folder, not a database file" in said
    assert "no database yet" not in said
