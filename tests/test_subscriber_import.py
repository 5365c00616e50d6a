"""Importing subscriber files into the store, on SQLite and PostgreSQL: the report, refusals by
line, a reader's word kept, batches rather than a statement per reader (issue #11, point 1)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from digest.config import settings_from_mapping
from digest.imports import import_file
from digest.store import Store, SubscriberInput, open_store
from digest.store.schema import SubscriptionChangeRow
from tests.configs import service_table
from tests.members import KEY, add_members
from tests.test_lists import a_list
from tests.test_store import T0, make_edition

# The config whose list "daily" the files are imported into.
SETTINGS = settings_from_mapping(
    {
        "service": service_table(Path("var")),
        "feeds": [{"name": "Wire", "url": "https://wire.example.org/feed.xml"}],
        "topics": [{"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Iran"]}}],
        "lists": [{k: v for k, v in a_list("daily", "-").items() if k != "subscribers"}],
    },
    source=Path("digest.toml"),
    environ={},
)
[DAILY] = SETTINGS.lists


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_store(database_url)
    yield store
    store.engine.dispose()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "readers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def status_of(store: Store, email: str, list_slug: str = "daily") -> str:
    [status] = [m.status for m in store.memberships(list_slug) if m.email == email]
    return status


def test_an_import_reports_what_it_added_updated_and_refused_line_by_line(
    store: Store, tmp_path: Path
) -> None:
    add_members(store, "daily", [SubscriberInput("old@example.org", "Old")], T0)
    path = write(
        tmp_path,
        "email,name,timezone\n"
        "sam@example.org,Sam,Asia/Dubai\n"  # 2 added
        "not an address,Someone,\n"  # 3 bad address
        "rana@example.org,Rana,Mars/Olympus\n"  # 4 unknown timezone
        "SAM@example.org,Sam again,\n"  # 5 duplicate of line 2
        f"huge@example.org,{'y' * 200_000},\n"  # 6 larger than the csv module's field limit
        f"long@example.org,{'x' * 301},\n"  # 7 added, its name cut to the column's 300
        "x@example.invalid,,\n"  # 8 what email-validator refuses
        "old@example.org,Old Renamed,\n"  # 9 updated
        "li@example.org,,Europe/London\n",  # 10 added, after every bad row
    )
    report = import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=True)
    assert (report.added, report.updated, report.unchanged) == (3, 1, 0)
    refused = dict(report.refused)
    assert sorted(refused) == [3, 4, 5, 6, 8]
    assert "'not an address' is not an email address" in refused[3]
    assert "unknown timezone 'Mars/Olympus'" in refused[4]
    assert "duplicate email 'SAM@example.org' (first on line 2)" in refused[5]
    assert "name of 200000 characters: at most 10000" in refused[6]
    assert "special-use or reserved name" in refused[8]
    assert sorted(s.email for s in store.confirmed_subscribers("daily")) == [
        "li@example.org",
        "long@example.org",
        "old@example.org",
        "sam@example.org",
    ]
    names = {s.email: s.name for s in store.confirmed_subscribers("daily")}
    assert names["long@example.org"] == "x" * 300
    assert {s.email: s.name for s in store.confirmed_subscribers("daily")}["old@example.org"] == (
        "Old Renamed"
    )


def test_new_readers_are_pending_without_confirmed_and_get_no_edition(
    store: Store, tmp_path: Path
) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    path = write(tmp_path, "email\nsam@example.org\nrana@example.org\n")
    report = import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=False)
    assert (report.added, report.pending) == (2, 2)
    assert store.queue_deliveries(state.id, "daily", T0) == 0
    assert store.members_of(["daily"]) == 0
    # The operator vouches for them later: the same file, --confirmed, confirms them.
    again = import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=True)
    assert (again.added, again.updated, again.pending) == (0, 2, 0)
    assert store.queue_deliveries(state.id, "daily", T0) == 2


def test_an_exports_pending_reader_stays_pending_when_the_file_is_vouched_for(
    store: Store, tmp_path: Path
) -> None:
    # A new database started from an export: --confirmed keeps the confirmed readers confirmed,
    # and must not confirm those who never answered their confirmation mail.
    add_members(store, "daily", [SubscriberInput("li@example.org", "Li")], T0, confirmed=False)
    path = write(
        tmp_path,
        "email,name,timezone,list,status\n"
        "sam@example.org,Sam,,daily,confirmed\n"
        "pat@example.org,Pat,,daily,pending\n"
        "lee@example.org,Lee,,daily,unsubscribed\n"
        "li@example.org,Li,,daily,pending\n",
    )
    report = import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=True)
    assert (report.added, report.updated, report.unchanged, report.pending) == (3, 0, 1, 1)
    assert status_of(store, "sam@example.org") == "confirmed"
    assert status_of(store, "pat@example.org") == "pending"
    assert status_of(store, "lee@example.org") == "unsubscribed"
    assert status_of(store, "li@example.org") == "pending"
    assert [s.email for s in store.confirmed_subscribers("daily")] == ["sam@example.org"]


def test_a_reimport_never_undoes_an_unsubscribe_a_suppression_or_a_readers_choice(
    store: Store, tmp_path: Path
) -> None:
    text = (
        "email,name,timezone\n"
        "sam@example.org,Sam,Asia/Dubai\n"
        "rana@example.org,Rana,\n"
        "li@example.org,Li,\n"
    )
    path = write(tmp_path, text)
    import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=True)
    sam, _, li = store.confirmed_subscribers("daily")
    assert store.unsubscribe(sam.id, "daily", T0, "one-click")
    assert store.suppress("rana@example.org", KEY, "complaint", "complaint", T0)
    # Li chose another name and timezone on the preferences page.
    assert store.set_name_and_timezone(li.id, "Li Wei", "Asia/Shanghai")

    path.write_text(text.replace("Li,", "Li From The File,Europe/Paris"), encoding="utf-8")
    report = import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=True)
    assert (report.added, report.updated, report.unchanged, report.kept_choices) == (0, 0, 1, 1)
    kept = dict(report.kept_out)
    assert "unsubscribed from list 'daily'" in kept[2] and "never resubscribes" in kept[2]
    assert "suppressed for every list (complaint" in kept[3]
    assert [(s.email, s.name, s.timezone) for s in store.confirmed_subscribers("daily")] == [
        ("li@example.org", "Li Wei", "Asia/Shanghai")
    ]
    assert status_of(store, "sam@example.org") == "unsubscribed"


def test_a_reader_who_left_and_was_signed_up_again_is_theirs_to_confirm(store: Store) -> None:
    # Sam left "morning", renamed "daily" since; then the form made her pending on "daily"
    # (anyone can type her address). Ann, who never left, was signed up by the form too.
    add_members(store, "morning", [SubscriberInput("sam@example.org", "Sam")], T0)
    [sam] = store.confirmed_subscribers("morning")
    assert store.unsubscribe(sam.id, "morning", T0, "one-click")
    store.rename_list("morning", "daily", T0)
    later = T0 + timedelta(hours=1)
    for email in ("sam@example.org", "ann@example.org"):
        assert store.sign_up(email, None, "daily", KEY(email), later).after == "pending"
    rows = [
        SubscriberInput("sam@example.org", "Sam", line=2),
        SubscriberInput("ann@example.org", "Ann", line=3),
    ]
    report = store.import_members(
        "daily", rows, later, confirmed=True, address_key=KEY, former_slugs=("morning",)
    )
    [(line, why)] = report.kept_out
    assert line == 2 and why.startswith("unsubscribed from list 'daily' on ")
    assert "(one-click) and signed up again since, not yet confirmed" in why
    assert status_of(store, "sam@example.org") == "pending"
    assert status_of(store, "ann@example.org") == "confirmed"  # the file vouches for her


def test_every_change_is_in_the_history_with_its_channel(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "email\nsam@example.org\n")
    import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=False)
    import_file(store, KEY, path, SETTINGS, DAILY, T0 + timedelta(minutes=1), confirmed=True)
    [sam] = store.confirmed_subscribers("daily")
    assert store.unsubscribe(sam.id, "daily", T0 + timedelta(minutes=2), "one-click")
    assert store.unsubscribe(sam.id, "daily", T0 + timedelta(minutes=3), "one-click")  # again
    with store.transaction() as session:
        history = session.execute(
            select(
                SubscriptionChangeRow.from_status,
                SubscriptionChangeRow.to_status,
                SubscriptionChangeRow.channel,
            ).order_by(SubscriptionChangeRow.id)
        ).all()
    assert [tuple(row) for row in history] == [
        (None, "pending", "import"),
        ("pending", "confirmed", "import"),
        ("confirmed", "unsubscribed", "one-click"),
    ]
    [member] = store.memberships("daily")
    assert (member.status, member.channel) == ("unsubscribed", "one-click")
    with pytest.raises(ValueError, match="unknown channel 'link'"):
        store.unsubscribe(sam.id, "daily", T0, "link")


def test_a_renamed_list_keeps_its_memberships_as_they_were(store: Store) -> None:
    readers = [SubscriberInput(f"{name}@example.org") for name in ("a", "b", "c")]
    add_members(store, "daily", readers[:1], T0, confirmed=False)
    add_members(store, "daily", readers[1:], T0)
    _, c = store.confirmed_subscribers("daily")
    store.unsubscribe(c.id, "daily", T0, "unsubscribe-page")
    store.rename_list("daily", "morning", T0)
    assert {m.email: (m.status, m.channel) for m in store.memberships("morning")} == {
        "a@example.org": ("pending", "import"),
        "b@example.org": ("confirmed", "import"),
        "c@example.org": ("unsubscribed", "unsubscribe-page"),
    }
    report = add_members(store, "morning", readers, T0)
    assert (report.added, report.updated, len(report.kept_out)) == (0, 1, 1)
    assert [s.email for s in store.confirmed_subscribers("morning")] == [
        "a@example.org",
        "b@example.org",
    ]


def test_an_import_holds_little_more_than_the_files_rows(tmp_path: Path) -> None:
    # 200,000 readers held 540 MB: the file copied whole for the csv module, at four bytes a
    # character, and every reader's lookups and statement parameters gathered at once.
    readers = 20_000
    path = write(
        tmp_path,
        "email,name,timezone\n"
        + "".join(
            f"reader{n}@domain{n % 300}.example.org,Reader Número {n},Europe/Paris\n"
            for n in range(readers)
        ),
    )
    store = open_store(f"sqlite:///{tmp_path / 'digest.db'}")
    try:
        tracemalloc.start()
        try:
            report = import_file(store, KEY, path, SETTINGS, DAILY, T0, confirmed=True)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        store.engine.dispose()
    assert report.added == readers
    # 2,100 bytes a reader before; about 950 now, a slice of 5,000 readers' lookups included.
    assert peak < readers * 1_500


def test_twenty_thousand_readers_import_in_batches_within_the_parameter_cap(
    store: Store,
) -> None:
    readers = [SubscriberInput(f"reader{n}@example.org", f"Reader {n}") for n in range(20_000)]
    statements: list[int] = []

    def count(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        # Rows of an executemany each bind their own; one statement's own binds stay capped.
        rows = parameters if many else [parameters]
        statements.append(max((len(row) for row in rows if row is not None), default=0))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        report = add_members(store, "daily", readers, T0)
        assert report.added == 20_000
        statements_first = len(statements)
        readers[0] = SubscriberInput("reader0@example.org", "Reader Zero")
        again = add_members(store, "daily", readers, T0)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert (again.added, again.updated, again.unchanged) == (0, 1, 19_999)
    # Lookups of 500 addresses at a time, then one executemany per kind of row: about a
    # hundred statements for 20,000 readers, not 20,000 (nor 40,000).
    assert statements_first < 300 and len(statements) - statements_first < 300
    assert max(statements) <= 999  # SQLite's historical cap on one statement's parameters


def test_a_name_saved_in_decomposed_form_is_the_same_name(store: Store, tmp_path: Path) -> None:
    # A file saved on a Mac spells "Zoë" as "Zoe" and a combining diaeresis: each import of
    # it after the one saved on Windows (or the other way round) counted every accented reader
    # "updated" and rewrote the name: one reader, two spellings of one name.
    composed = write(tmp_path, "email,name\nzoe@example.org,Zo\u00eb Haddad\n")
    assert import_file(store, KEY, composed, SETTINGS, DAILY, T0, confirmed=True).added == 1
    decomposed = write(tmp_path, "email,name\nzoe@example.org,Zoe\u0308 Haddad\n")
    again = import_file(store, KEY, decomposed, SETTINGS, DAILY, T0, confirmed=True)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    [reader] = store.confirmed_subscribers("daily")
    assert reader.name == "Zo\u00eb Haddad"
