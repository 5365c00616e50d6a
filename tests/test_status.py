"""`digest status` on the ledger a real cycle left: what it says of editions settled, in flight
and of none at all."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest import pipeline
from digest.cli import app
from digest.clock import FixedClock
from digest.config import load_settings
from digest.sample_server import serve_folder
from digest.services import build_services
from tests.service_cluster import config_text, sqlite_database
from tests.test_pipeline import DAY1, write_feed

SECRET = "status-secret"


@dataclass(frozen=True)
class Newsroom:
    folder: Path
    config: Path

    def run_cycle(self) -> pipeline.CycleSummary:
        """One cycle at DAY1, its mail written to the outbox."""
        settings = load_settings(self.config, {"DIGEST_SECRET_KEY": SECRET})
        services = build_services(settings, clock=FixedClock(DAY1))
        try:
            return pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        finally:
            services.close()

    def status(self, *args: str) -> Any:
        environment = {"COLUMNS": "250", "DIGEST_SECRET_KEY": SECRET}
        shown = CliRunner().invoke(
            app, ["--config", str(self.config), "status", *args], env=environment
        )
        assert shown.exit_code == 0, shown.output
        return shown


def newsroom(folder: Path, base_url: str, readers: int) -> Newsroom:
    (folder / "members.csv").write_text(
        "email,name\n" + "".join(f"reader{n}@example.org,\n" for n in range(readers))
    )
    config = folder / "digest.toml"
    config.write_text(
        config_text(
            folder,
            None,
            f"{base_url}/wire.xml",
            service_extra=sqlite_database(folder),
            schedule="0 7 * * *",
            timezone="Asia/Dubai",
        )
    )
    return Newsroom(folder, config)


@pytest.fixture
def feeds(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    with serve_folder(folder) as base_url:
        yield base_url


def test_recent_zero_with_a_sent_edition_does_not_say_there_is_none(
    tmp_path: Path, feeds: str
) -> None:
    room = newsroom(tmp_path, feeds, readers=2)
    assert room.run_cycle().messages_delivered == 2
    shown = " ".join(room.status("--recent", "0").output.split())
    # The one edition is settled, and --recent 0 asks for no settled one: none is listed, and
    # the report says so rather than "No editions yet.", which sent the operator looking for
    # the reason nothing was ever built.
    assert "No editions yet." not in shown
    assert "No edition in flight; 1 settled" in shown and "--recent" in shown
    assert json.loads(room.status("--recent", "0", "--json").output)["editions"] == []
    listed = room.status("--recent", "1").output
    assert "daily" in listed and "No edition in flight" not in listed


def test_a_database_with_no_edition_says_so(tmp_path: Path, feeds: str) -> None:
    room = newsroom(tmp_path, feeds, readers=2)
    for recent in ("0", "10"):
        assert "No editions yet." in room.status("--recent", recent).output


def test_an_edition_with_no_reader_is_settled_not_in_flight_for_ever(
    tmp_path: Path, feeds: str
) -> None:
    # A list with no confirmed member yet: its edition is built and queued with no ledger
    # row, so no batch ever settles it. It was shown "in flight" at every status since, and
    # listed however small --recent was.
    room = newsroom(tmp_path, feeds, readers=0)
    assert room.run_cycle().editions_built == 1
    [edition] = json.loads(room.status("--json").output)["editions"]
    # Settled, and not "sent" either: no reader had a copy of it.
    assert (edition["status"], edition["sent"], edition["pending"]) == ("none to send", 0, 0)
    assert "in flight" not in room.status().output
    assert json.loads(room.status("--recent", "0", "--json").output)["editions"] == []
    assert "No edition in flight; 1 settled" in " ".join(
        room.status("--recent", "0").output.split()
    )


def test_an_edition_with_nothing_to_send_is_not_listed(tmp_path: Path, feeds: str) -> None:
    write_feed(tmp_path / "feeds", [(1, "Harvest festival opens", DAY1 - timedelta(hours=1))])
    room = newsroom(tmp_path, feeds, readers=2)
    summary = room.run_cycle()
    assert (summary.editions_built, summary.editions_skipped) == (0, 1)
    assert json.loads(room.status("--json").output)["editions"] == []
    assert "No editions yet." in room.status().output


def _set_deliveries(room: Newsroom, rows: list[tuple[str, str]]) -> None:
    """Give the ledger's rows, in id order, these (status, last error): the states a day of
    bad luck leaves, written as the delivery stage would have."""
    with sqlite3.connect(room.folder / "digest.db") as database:
        ids = [row_id for (row_id,) in database.execute("SELECT id FROM deliveries ORDER BY id")]
        for row_id, (state, error) in zip(ids, rows, strict=False):
            database.execute(
                "UPDATE deliveries SET status = ?, last_error = ?, attempts = 1 WHERE id = ?",
                (state, error, row_id),
            )
        # A pending row keeps its edition in flight, as a batch leaves it.
        database.execute("UPDATE editions SET status = 'ready'")


def test_a_mail_servers_reply_never_reaches_the_terminal_as_control_codes(
    tmp_path: Path, feeds: str
) -> None:
    # The reason a delivery is parked quotes the mail server's reply, decoded as it came: an
    # escape sequence in it cleared the operator's screen or retitled the terminal when the
    # parked table printed it.
    room = newsroom(tmp_path, feeds, readers=4)
    assert room.run_cycle().messages_delivered == 4
    hostile = "451 \x1b[2J\x1b]0;owned\x1b\\ try later \x9b31m"
    _set_deliveries(
        room,
        [("pending", ""), ("parked", hostile), ("failed", "550 no such user"), ("skipped", "")],
    )
    shown = room.status().output
    assert "\x1b" not in shown and "\x9b" not in shown
    assert "try later" in shown
    [edition] = json.loads(room.status("--json").output)["editions"]
    counts = {key: edition[key] for key in ("sent", "pending", "parked", "failed", "skipped")}
    assert counts == {"sent": 0, "pending": 1, "parked": 1, "failed": 1, "skipped": 1}
    assert edition["status"] == "in flight"


def test_retry_of_an_edition_whose_list_left_the_config_says_they_are_held(
    tmp_path: Path, feeds: str
) -> None:
    # The list was taken out of the config (or renamed without previous_slugs) while an edition
    # of it had parked deliveries: the release promised that the next digest run sends them,
    # and no run ever did (a run sends no list outside the config); the edition stayed in
    # flight in every status since.
    room = newsroom(tmp_path, feeds, readers=2)
    assert room.run_cycle().messages_delivered == 2
    _set_deliveries(room, [("parked", "451 no reply"), ("sent", "")])
    room.config.write_text(room.config.read_text().replace('slug = "daily"', 'slug = "weekly"'))
    released = CliRunner().invoke(
        app,
        ["--config", str(room.config), "deliveries", "retry", "1"],
        env={"COLUMNS": "250", "DIGEST_SECRET_KEY": SECRET},
    )
    assert released.exit_code == 0, released.output
    said = " ".join(released.output.split())
    assert "the next digest run sends them" not in said
    assert "'daily' is not in" in said and "held" in said
    assert "previous_slugs" in said


def test_an_edition_of_a_list_that_left_the_config_is_held_not_in_flight(
    tmp_path: Path, feeds: str
) -> None:
    # Its list taken out of the config while deliveries were pending, an edition was shown "in
    # flight" in every status since, though no run sends a list outside the config: the
    # operator waited for deliveries that were never to go.
    room = newsroom(tmp_path, feeds, readers=2)
    assert room.run_cycle().messages_delivered == 2
    _set_deliveries(room, [("pending", ""), ("sent", "")])
    [edition] = json.loads(room.status("--json").output)["editions"]
    assert edition["status"] == "in flight"
    room.config.write_text(room.config.read_text().replace('slug = "daily"', 'slug = "weekly"'))
    [edition] = json.loads(room.status("--json").output)["editions"]
    assert (edition["status"], edition["pending"]) == ("held", 1)
    shown = " ".join(room.status().output.split())
    assert "in flight" not in shown and "held" in shown
    assert "the editions of 'daily' are held, not sent" in shown and "previous_slugs" in shown


def test_an_edition_none_of_whose_copies_went_is_not_called_sent(
    tmp_path: Path, feeds: str
) -> None:
    # Every delivery of the edition refused or parked, none sent: `digest status` called it
    # "sent", in its table and its --json, and "1 sent" under --recent 0, as if the readers
    # had it. Its state now says what happened; the counts beside it say why.
    room = newsroom(tmp_path, feeds, readers=3)
    assert room.run_cycle().messages_delivered == 3
    _set_deliveries(
        room, [("failed", "550 no such user"), ("parked", "451 no reply"), ("skipped", "")]
    )
    [edition] = json.loads(room.status("--json").output)["editions"]
    assert (edition["status"], edition["sent"], edition["failed"], edition["parked"]) == (
        "not sent",
        0,
        1,
        1,
    )
    assert "not sent" in room.status().output
    shown = " ".join(room.status("--recent", "0").output.split())
    assert "1 sent" not in shown and "No edition in flight; 1 settled" in shown
    # Some went, some did not: neither "sent" nor "not sent" is the truth.
    _set_deliveries(room, [("failed", "550 no such user"), ("sent", ""), ("sent", "")])
    [edition] = json.loads(room.status("--json").output)["editions"]
    assert (edition["status"], edition["sent"], edition["failed"]) == ("partly sent", 2, 1)


def test_retry_of_an_edition_that_does_not_exist_says_there_is_no_such_edition(
    tmp_path: Path, feeds: str
) -> None:
    # A mistyped edition number was told "Edition 99 has no parked deliveries", as if it
    # existed and had been checked.
    room = newsroom(tmp_path, feeds, readers=2)
    assert room.run_cycle().messages_delivered == 2
    retried = CliRunner().invoke(
        app,
        ["--config", str(room.config), "deliveries", "retry", "99"],
        env={"COLUMNS": "250", "DIGEST_SECRET_KEY": SECRET},
    )
    assert retried.exit_code == 1, retried.output
    said = " ".join(retried.stderr.split())
    assert "No edition 99 (digest status lists them)." in said
    assert "has no parked deliveries" not in said
    # An edition that exists and has none is still told so.
    existing = CliRunner().invoke(
        app,
        ["--config", str(room.config), "deliveries", "retry", "1"],
        env={"COLUMNS": "250", "DIGEST_SECRET_KEY": SECRET},
    )
    assert existing.exit_code == 1
    assert "Edition 1 has no parked deliveries" in existing.stderr
