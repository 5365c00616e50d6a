"""The suppression file: appended safely, read tolerantly, an operator's own lines welcome."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.suppression import append_suppressions, read_suppressions, remove_address

AT = datetime(2026, 11, 24, 8, 1, tzinfo=UTC)


def test_a_missing_file_holds_nothing(tmp_path: Path) -> None:
    found = read_suppressions(tmp_path / "suppressed.csv")
    assert found.by_list == {} and found.refused == []


def test_appended_lines_are_read_back_by_list_and_for_every_list(tmp_path: Path) -> None:
    path = tmp_path / "var" / "suppressed.csv"
    assert append_suppressions(path, [("Rana@Example.org", "daily", "link", AT)]) == 1
    append_suppressions(path, [("sam@example.org", "", "complaint\r\nBcc: x", AT)])
    assert path.read_text().splitlines() == [
        "email,list,reason,at",
        "Rana@Example.org,daily,link,2026-11-24T08:01:00+00:00",
        "sam@example.org,,complaint Bcc: x,2026-11-24T08:01:00+00:00",
    ]
    found = read_suppressions(path)
    assert found.holds("rana@example.org", "daily") and not found.holds(
        "rana@example.org", "weekly"
    )
    assert found.holds("SAM@example.org", "weekly")
    assert found.for_list(["morning", "daily"]) == {"rana@example.org", "sam@example.org"}


def test_an_operators_lines_are_kept_and_a_bad_one_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "suppressed.csv"
    path.write_text("Email\nnot an address\nomar@example.org")  # no list column, no last newline
    append_suppressions(path, [("noor@example.org", "weekly", "link", AT)])
    found = read_suppressions(path)
    assert found.refused == [
        ("line 2", "'not an address' is not an email address (expected name@domain)")
    ]
    assert found.holds("omar@example.org", "daily") and found.holds("noor@example.org", "weekly")


def test_a_file_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "suppressed.csv"
    path.write_text("address\nsam@example.org\n")
    with pytest.raises(ConfigError, match="no 'email' column"):
        read_suppressions(path)


def _append_many(path: Path, worker: int) -> None:
    for number in range(200):
        append_suppressions(path, [(f"r{worker}-{number}@example.org", "daily", "link", AT)])


def test_processes_appending_at_once_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "suppressed.csv"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    found = read_suppressions(path)
    assert found.refused == []
    assert len(found.by_list["daily"]) == 800
    assert path.read_text().count("email,list,reason,at") == 1


def test_an_address_that_starts_as_a_formula_never_runs_in_a_spreadsheet_and_reads_back(
    tmp_path: Path,
) -> None:
    """Anyone can sign up "-2+3@example.org" and unsubscribe it: an operator who opens the
    file in a spreadsheet must see it, not have it computed."""
    path = tmp_path / "suppressed.csv"
    formula = "-2+3@example.org"
    append_suppressions(path, [(formula, "daily", "one-click", AT)])
    append_suppressions(path, [("+1@example.org", "", "-hard bounce", AT)])
    cells = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
    assert not any(cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in cells)
    found = read_suppressions(path)
    assert found.holds(formula, "daily") and found.holds("+1@example.org", "weekly")
    assert found.reasons == {"+1@example.org": "-hard bounce"}
    assert remove_address(path, formula) == 1
    assert not read_suppressions(path).holds(formula, "daily")


def test_an_address_that_starts_with_an_apostrophe_reads_back_as_itself(tmp_path: Path) -> None:
    # "'-x@example.org" is a valid address anyone can sign up, and "-x@example.org" another
    # one: the "'" that keeps a formula from running was taken off the first when read back,
    # so the unsubscribe of one reader held for the other, in a new database.
    path = tmp_path / "suppressed.csv"
    quoted, plain = "'-x@example.org", "'ann@example.org"
    append_suppressions(path, [(quoted, "daily", "one-click", AT), (plain, "", "operator", AT)])
    found = read_suppressions(path)
    assert found.holds(quoted, "daily") and not found.holds("-x@example.org", "daily")
    assert found.holds(plain, "weekly") and not found.holds("ann@example.org", "weekly")
    assert remove_address(path, quoted) == 1
    assert not read_suppressions(path).holds(quoted, "daily")
