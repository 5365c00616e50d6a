"""Lists across operators' edits, through the real pipeline: a list removed from the config, a bad
or emptied subscriber file, a renamed slug, a new database (issue #9, points 4, 5 and 7)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from digest import imports, pipeline
from digest.clock import FixedClock
from digest.config import Settings, settings_from_mapping
from digest.errors import ConfigError
from digest.lists import previous_slug_problems
from digest.mail.transport import MemoryTransport
from digest.records import Subscriber
from digest.sample_server import serve_folder
from digest.send_now import send_now
from digest.services import Services, build_services
from digest.store import open_store
from digest.suppression import read_suppressions
from digest.unsubscribes import unsubscribe
from tests.configs import service_table
from tests.members import KEY
from tests.test_pipeline import DAY1, SLOT1, build_without_sending, write_feed

MEMBERS = "email,name\nsam@example.org,Sam\nrana@example.org,Rana\nli@example.org,\n"
WEEKLY = "email,name\nomar@example.org,Omar\nnoor@example.org,Noor\n"


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    with serve_folder(folder) as base_url:
        yield folder, base_url


def a_list(slug: str, subscribers: str, **options: object) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": f"The {slug.title()} Brief",
        "topics": ["middle-east"],
        "schedule": "0 7 * * *",
        "timezone": "Asia/Dubai",
        "subscribers": subscribers,
        **options,
    }


def raw_config(tmp_path: Path, base_url: str, *lists: dict[str, Any]) -> dict[str, Any]:
    for name, text in (("members.csv", MEMBERS), ("weekly.csv", WEEKLY)):
        if not (tmp_path / name).exists():
            (tmp_path / name).write_text(text)
    return {
        "service": service_table(tmp_path),
        "ingest": {"allow_private_addresses": True},
        "feeds": [{"name": "Wire", "url": f"{base_url}/wire.xml"}],
        "topics": [{"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Iran"]}}],
        "lists": list(lists or [a_list("daily", "members.csv")]),
    }


def settings_of(tmp_path: Path, raw: dict[str, Any]) -> Settings:
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


def start(settings: Settings, clock: FixedClock) -> tuple[Services, MemoryTransport]:
    transport = MemoryTransport()
    return build_services(settings, clock=clock, transport=transport), transport


def run(services: Services) -> pipeline.CycleSummary:
    return pipeline.run_cycle(services, pipeline.InlineDispatcher(services))


def first_cycle(
    tmp_path: Path, raw: dict[str, Any], clock: FixedClock
) -> tuple[Services, MemoryTransport]:
    """The services of ``raw`` once a first cycle has run (the members imported, the editions
    sent): the state each later step of a test changes."""
    services, transport = start(settings_of(tmp_path, raw), clock)
    run(services)
    return services, transport


def active_member(services: Services, name: str, slug: str = "daily") -> Subscriber:
    """The member of ``slug`` called ``name``, one the next edition goes to."""
    return next(s for s in services.store.active_subscribers(slug) if s.name == name)


def recipients(transport: MemoryTransport) -> list[str]:
    return sorted(message.recipient for message in transport.sent)


# Point 4: a list that leaves the config -------------------------------------------------------


def test_a_removed_list_is_held_and_named_while_the_others_go_out(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    daily, weekly = a_list("daily", "members.csv"), a_list("weekly", "weekly.csv")
    both = settings_of(tmp_path, raw_config(tmp_path, base_url, daily, weekly))
    clock = FixedClock(DAY1)
    services, _ = start(both, clock)
    assert build_without_sending(services, "daily").pending_deliveries == 3
    assert pipeline.build_edition(services, "weekly", SLOT1).pending_deliveries == 2
    services.close()

    # The operator takes "weekly" out of the config while its copies are still pending.
    services, transport = start(settings_of(tmp_path, raw_config(tmp_path, base_url, daily)), clock)
    summary = run(services)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    [held] = [problem for problem in summary.problems if "'weekly'" in problem]
    assert "no longer in" in held and "2 pending deliveries" in held
    assert 'previous_slugs = ["weekly"]' in held
    assert "'weekly'" in " ".join(run(services).problems)  # named at every cycle
    services.close()

    # Put back, it sends what was held.
    services, transport = start(both, clock)
    summary = run(services)
    assert recipients(transport) == ["noor@example.org", "omar@example.org"]
    assert not summary.problems
    services.close()


# Point 5: stored work is never stranded -------------------------------------------------------


def test_a_bad_subscriber_row_costs_that_row_only(tmp_path: Path, feed: tuple[Path, str]) -> None:
    _, base_url = feed
    (tmp_path / "members.csv").write_text(MEMBERS + "not-an-address,Someone\nlee@example.org,Lee\n")
    services, transport = start(
        settings_of(tmp_path, raw_config(tmp_path, base_url)), FixedClock(DAY1)
    )
    summary = run(services)
    assert summary.editions_built == 1
    assert recipients(transport) == [
        "lee@example.org",
        "li@example.org",
        "rana@example.org",
        "sam@example.org",
    ]
    [warning] = summary.problems
    assert f"{tmp_path / 'members.csv'}: line 5: 'not-an-address' is not an email" in warning
    assert "left out" in warning
    services.close()


def test_an_edition_stored_but_never_queued_is_queued_at_the_next_cycle(
    tmp_path: Path, feed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, base_url = feed
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url))
    clock = FixedClock(DAY1)
    services, transport = start(settings, clock)
    queue = services.store.queue_deliveries

    def database_gone(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("INSERT INTO deliveries", {}, sqlite3.OperationalError("disk I/O"))

    # The build stores its edition, then the database fails before the deliveries are queued.
    monkeypatch.setattr(services.store, "queue_deliveries", database_gone)
    with pytest.raises(OperationalError):
        run(services)
    stored = services.store.latest_edition("daily")
    assert stored is not None and stored.status == "ready"
    assert services.store.delivery_counts(stored.id).pending == 0

    monkeypatch.setattr(services.store, "queue_deliveries", queue)
    clock.advance(timedelta(minutes=5))
    summary = run(services)
    assert summary.messages_delivered == 3 and summary.editions_built == 0
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    assert services.store.unqueued_editions() == []
    assert run(services).messages_delivered == 0  # queued once, sent once
    services.close()


def test_an_emptied_subscriber_file_removes_nobody(tmp_path: Path, feed: tuple[Path, str]) -> None:
    folder, base_url = feed
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url))
    clock = FixedClock(DAY1)
    services, transport = start(settings, clock)
    first = build_without_sending(services, "daily")
    assert first.pending_deliveries == 3

    # The file is emptied (a bad export) and an edition is forced: the file is an import, so
    # nobody leaves; the copies queued go, and the new edition goes to the same readers.
    (tmp_path / "members.csv").write_text("email,name\n")
    clock.advance(timedelta(hours=1))
    write_feed(folder, [(2, "Iran story 2", clock.now() - timedelta(minutes=5))])
    run_list = pipeline.run_cycle(
        services, pipeline.InlineDispatcher(services), only_list="daily", force_poll=True
    )
    assert recipients(transport) == sorted(
        2 * ["li@example.org", "rana@example.org", "sam@example.org"]
    )
    assert run_list.messages_delivered == 6 and run_list.problems == ()
    assert services.store.delivery_counts(first.edition_id).skipped == 0
    services.close()


def test_a_subscriber_file_broken_mid_run_keeps_the_members_and_says_so(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    folder, base_url = feed
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url))
    clock = FixedClock(DAY1)
    services, transport = start(settings, clock)
    assert run(services).messages_delivered == 3
    (tmp_path / "members.csv").write_bytes(b"email,name\nj@example.org,Jos\xe9\n")  # Latin-1
    clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(2, "Iran story 2", clock.now() - timedelta(minutes=5))])
    transport.sent.clear()
    summary = run(services)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    [warning] = summary.problems
    assert "not UTF-8" in warning and "keeps its members as last imported" in warning
    services.close()


def test_a_subscriber_file_rewritten_while_a_cycle_reads_it_is_imported_once_it_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy job rewrote the file in place (same readers) as a cycle read it: the hash saw it
    # whole, the import only its start, and the mark of the whole file kept the rest of the
    # readers out, cycle after cycle, until the file changed again.
    whole = "email,name\nsam@example.org,Sam\nrana@example.org,Rana\n"
    settings = settings_of(tmp_path, raw_config(tmp_path, "http://127.0.0.1:9"))
    path = tmp_path / "members.csv"
    path.write_text(whole)
    hash_file, rewrites = imports.file_digest, ["email,name\nsam@example.org,Sam\n"]

    def hashed_as_the_job_rewrites_it(hashed: Path) -> str:
        digest = hash_file(hashed)
        if rewrites:  # the job has truncated the file and written its start
            hashed.write_text(rewrites.pop())
        return digest

    monkeypatch.setattr(imports, "file_digest", hashed_as_the_job_rewrites_it)
    store = open_store(settings.service.database_url)
    try:
        imports.import_list_file(settings, store, KEY, settings.lists[0], DAY1)
        path.write_text(whole)  # the job is done: the same readers as before
        imports.import_list_file(settings, store, KEY, settings.lists[0], DAY1 + timedelta(1))
        members = sorted(member.email for member in store.memberships("daily"))
    finally:
        store.engine.dispose()
    assert members == ["rana@example.org", "sam@example.org"]


def test_subscriber_files_that_differ_between_machines_are_not_imported_in_turn(
    tmp_path: Path,
) -> None:
    # Each tick and build runs on any machine, each reading the file on its own disk: two that
    # differed were imported in turn, each undoing the other's names and timezones, every tick.
    settings = settings_of(tmp_path, raw_config(tmp_path, "http://127.0.0.1:9"))
    path = tmp_path / "members.csv"
    on_a = "email,name,timezone\nsam@example.org,Sam,Asia/Dubai\n"
    on_b = "email,name,timezone\nsam@example.org,Samir,Europe/London\n"
    store = open_store(settings.service.database_url)

    def tick_on(machine: str, text: str, day: int) -> list[str]:
        path.write_text(text)  # the file as that machine's disk holds it
        _, said = imports.import_list_file(
            settings, store, KEY, settings.lists[0], DAY1 + timedelta(day), host=machine
        )
        return said

    def sam() -> tuple[str | None, str | None]:
        [member] = store.active_subscribers("daily")
        return member.name, member.timezone

    try:
        assert tick_on("a", on_a, 0) == [] and sam() == ("Sam", "Asia/Dubai")
        assert tick_on("b", on_b, 1) == [] and sam() == ("Samir", "Europe/London")
        for day in range(2, 6, 2):
            assert tick_on("a", on_a, day) == [
                f"{path}: lists[daily].subscribers: this file on a differs from the one another "
                "machine imported since, and is not imported again; give every machine the "
                "same file (the list's members are as that import left them)"
            ]
            assert tick_on("b", on_b, day + 1) == []
            assert sam() == ("Samir", "Europe/London")
        # A file edited on one machine first is imported from it; the other, not yet edited,
        # does not undo it.
        tick_on("a", on_a.replace("Sam,", "Sam Q,"), 6)
        assert sam() == ("Sam Q", "Asia/Dubai")
        assert tick_on("b", on_b, 7) != [] and sam() == ("Sam Q", "Asia/Dubai")
    finally:
        store.engine.dispose()


# Point 7: an unsubscribe survives a rename and a new database ---------------------------------


def test_a_renamed_list_keeps_its_unsubscribes_and_continues_its_window(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    folder, base_url = feed
    clock = FixedClock(DAY1)
    services, _ = start(settings_of(tmp_path, raw_config(tmp_path, base_url)), clock)
    assert run(services).messages_delivered == 3
    first = services.store.latest_edition("daily")
    rana = active_member(services, "Rana")
    assert unsubscribe(services, rana.id, "daily", "unsubscribe-page")
    services.close()

    renamed = a_list("morning", "members.csv", previous_slugs=["daily"])
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url, renamed))
    clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(n, f"Iran story {n}", DAY1 - timedelta(hours=1)) for n in (1, 2)])
    services, transport = start(settings, clock)
    summary = run(services)
    assert recipients(transport) == ["li@example.org", "sam@example.org"]
    second = services.store.latest_edition("morning")
    assert first is not None and second is not None
    assert second.window_start == first.window_end  # the old list's editions came along
    assert services.store.latest_edition("daily") is None
    assert summary.editions_built == 1 and not summary.problems
    services.close()


def test_an_edition_sent_by_hand_right_after_a_rename_goes_on_from_the_lists_last(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    """`digest send LIST` builds an edition now, with no cycle before it. Right after a rename
    it found no edition under the new slug: it built the slot the old slug had sent already,
    its window from the start, and mailed every reader that edition's articles again."""
    _, base_url = feed
    clock = FixedClock(DAY1)
    services, _ = start(settings_of(tmp_path, raw_config(tmp_path, base_url)), clock)
    assert run(services).messages_delivered == 3
    first = services.store.latest_edition("daily")
    services.close()
    renamed = a_list("morning", "members.csv", previous_slugs=["daily"])
    clock.set(DAY1 + timedelta(hours=2))
    services, transport = start(
        settings_of(tmp_path, raw_config(tmp_path, base_url, renamed)), clock
    )
    try:
        send_now(services, "morning", workers=None)
        assert recipients(transport) == []  # nothing new since the edition they have
        assert first is not None
        assert [e.id for e in services.store.editions_of_slot("morning", first.slot)] == [first.id]
    finally:
        services.close()


def test_an_edition_sent_by_hand_after_an_undeclared_rename_is_refused(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    clock = FixedClock(DAY1)
    services, _ = start(settings_of(tmp_path, raw_config(tmp_path, base_url)), clock)
    assert run(services).messages_delivered == 3
    services.close()
    renamed = a_list("morning", "members.csv")  # previous_slugs not written
    services, transport = start(
        settings_of(tmp_path, raw_config(tmp_path, base_url, renamed)), clock
    )
    try:
        with pytest.raises(ConfigError, match="this list is new to the database, and 'daily'"):
            send_now(services, "morning", workers=None)
        assert transport.sent == [] and services.store.latest_edition("morning") is None
    finally:
        services.close()


def test_an_undeclared_rename_is_refused_before_anything_is_sent(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    clock = FixedClock(DAY1)
    services, _ = first_cycle(tmp_path, raw_config(tmp_path, base_url), clock)
    rana = active_member(services, "Rana")
    assert unsubscribe(services, rana.id, "daily", "unsubscribe-page")
    services.close()

    renamed = settings_of(
        tmp_path, raw_config(tmp_path, base_url, a_list("morning", "members.csv"))
    )
    clock.set(DAY1 + timedelta(days=1))
    services, transport = start(renamed, clock)
    with pytest.raises(ConfigError) as refused:
        run(services)
    message = str(refused.value)
    assert "list 'morning'" in message and "'daily'" in message
    assert 'previous_slugs = ["daily"]' in message and "previous_slugs = []" in message
    assert transport.sent == []
    services.close()

    # Saying it is a new list is enough: it starts with its own members and history.
    new_list = a_list("morning", "members.csv", previous_slugs=[])
    services, transport = start(
        settings_of(tmp_path, raw_config(tmp_path, base_url, new_list)), clock
    )
    summary = run(services)
    # A new list by the operator's word: rana left "daily", not this one.
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    assert not [problem for problem in summary.problems if "'daily'" in problem]
    services.close()


def test_an_old_unsubscribe_link_works_after_a_rename(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    folder, base_url = feed
    clock = FixedClock(DAY1)
    services, _ = first_cycle(tmp_path, raw_config(tmp_path, base_url), clock)
    sam = active_member(services, "Sam")
    token = services.signer.unsubscribe_token(sam.id, "daily")  # in mail sent before the rename
    services.close()

    renamed = a_list("morning", "members.csv", previous_slugs=["daily"])
    services, transport = start(
        settings_of(tmp_path, raw_config(tmp_path, base_url, renamed)), clock
    )
    run(services)  # carries the history over
    subscriber_id, slug = services.signer.read_unsubscribe_token(token)
    assert unsubscribe(services, subscriber_id, slug, "one-click")
    assert "sam@example.org" not in {s.email for s in services.store.active_subscribers("morning")}
    assert read_suppressions(services.settings.service.suppression_path).holds(
        "sam@example.org", "morning"
    )
    clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(2, "Iran story 2", clock.now() - timedelta(minutes=5))])
    run(services)
    assert recipients(transport) == ["li@example.org", "rana@example.org"]
    services.close()


def test_an_unsubscribe_survives_a_new_database(tmp_path: Path, feed: tuple[Path, str]) -> None:
    _, base_url = feed
    clock = FixedClock(DAY1)
    raw = raw_config(tmp_path, base_url)
    services, _ = first_cycle(tmp_path, raw, clock)
    rana = active_member(services, "Rana")
    assert unsubscribe(services, rana.id, "daily", "unsubscribe-page")
    services.close()

    raw["service"]["database_url"] = f"sqlite:///{tmp_path / 'new.db'}"
    services, transport = start(settings_of(tmp_path, raw), clock)
    assert run(services).messages_delivered == 2
    assert recipients(transport) == ["li@example.org", "sam@example.org"]
    services.close()


def test_an_unsubscribe_after_a_backup_holds_once_the_backup_is_restored(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    # The database restored remembers the suppression file as it was when it was copied: the
    # next cycle reads the lines added since, and the reader who left meanwhile stays out.
    folder, base_url = feed
    clock = FixedClock(DAY1)
    raw = raw_config(tmp_path, base_url)
    services, _ = first_cycle(tmp_path, raw, clock)
    database, backup = tmp_path / "digest.db", tmp_path / "backup.db"
    with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    assert unsubscribe(services, active_member(services, "Rana").id, "daily", "unsubscribe-page")
    clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(2, "Iran story 2", clock.now() - timedelta(minutes=5))])
    run(services)  # the file's new line read, its mark in the database moved past it
    services.close()

    with sqlite3.connect(backup) as copy, sqlite3.connect(database) as live:
        copy.backup(live)
    clock.set(DAY1 + timedelta(days=2))
    write_feed(folder, [(3, "Iran story 3", clock.now() - timedelta(minutes=5))])
    services, transport = start(settings_of(tmp_path, raw), clock)
    run(services)
    services.close()
    assert recipients(transport) == ["li@example.org", "sam@example.org"]


def test_unsubscribes_only_in_the_database_are_copied_out_and_survive_a_new_one(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    # Unsubscribes recorded before the suppression file existed (or straight in the database).
    _, base_url = feed
    clock = FixedClock(DAY1)
    raw = raw_config(tmp_path, base_url)
    services, _ = first_cycle(tmp_path, raw, clock)
    li = next(s for s in services.store.active_subscribers("daily") if s.email == "li@example.org")
    assert services.store.unsubscribe(li.id, "daily", clock.now())
    run(services)
    path = services.settings.service.suppression_path
    assert read_suppressions(path).holds("li@example.org", "daily")
    run(services)
    assert path.read_text().count("li@example.org") == 1  # copied once
    services.close()

    raw["service"]["database_url"] = f"sqlite:///{tmp_path / 'new.db'}"
    services, transport = first_cycle(tmp_path, raw, clock)
    assert recipients(transport) == ["rana@example.org", "sam@example.org"]
    services.close()


def both_lists_sent_with_suppressions(
    tmp_path: Path, base_url: str, lines: str
) -> tuple[pipeline.CycleSummary, MemoryTransport]:
    """A first cycle of the daily and the weekly list, with an operator's suppression file of
    ``lines`` (after its header) set in the config."""
    raw = raw_config(
        tmp_path, base_url, a_list("daily", "members.csv"), a_list("weekly", "weekly.csv")
    )
    raw["service"]["suppression_file"] = str(tmp_path / "do-not-mail.csv")
    (tmp_path / "do-not-mail.csv").write_text("email,list,reason,at\n" + lines)
    services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1))
    try:
        return run(services), transport
    finally:
        services.close()


def test_an_operator_line_in_the_suppression_file_stops_mail_to_every_list(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    summary, transport = both_lists_sent_with_suppressions(
        tmp_path,
        base_url,
        "SAM@example.org,,complaint,2026-11-20T00:00:00+00:00\n"
        "omar@example.org,weekly,operator,2026-11-20T00:00:00+00:00\nnot an address,,x,\n",
    )
    assert recipients(transport) == ["li@example.org", "noor@example.org", "rana@example.org"]
    assert any("do-not-mail.csv: line 4" in problem for problem in summary.problems)


def test_an_operator_line_naming_its_list_otherwise_stops_it_or_is_reported(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    # An operator's line for one list, the slug written as the list's name reads ("Weekly"),
    # or misspelt: both were left out without a word, and the reader kept getting the list.
    _, base_url = feed
    summary, transport = both_lists_sent_with_suppressions(
        tmp_path,
        base_url,
        "omar@example.org, Weekly ,operator,2026-11-20T00:00:00+00:00\n"
        "sam@example.org,dialy,operator,2026-11-20T00:00:00+00:00\n"
        "rana@example.org,dialy,operator,2026-11-20T00:00:00+00:00\n",
    )
    assert "omar@example.org" not in recipients(transport)
    [said] = [problem for problem in summary.problems if "'dialy'" in problem]
    assert said == (
        f"{tmp_path / 'do-not-mail.csv'}: line 3: no list 'dialy' in the config or the database "
        "(lines naming it: 2); they are left out; write the list's slug"
    )


def test_previous_slugs_that_contradict_the_config_are_refused(tmp_path: Path) -> None:
    raw = raw_config(
        tmp_path,
        "http://127.0.0.1:9",
        a_list("daily", "members.csv", previous_slugs=["daily", "old"]),
        a_list("weekly", "weekly.csv", previous_slugs=["daily", "old"]),
    )
    twice = "'old' is a previous slug of two lists: its history can follow one"
    assert previous_slug_problems(settings_of(tmp_path, raw)) == [
        ("list 'daily': previous_slugs", "'daily' is this list's own slug: leave it out"),
        ("list 'daily': previous_slugs", twice),
        (
            "list 'weekly': previous_slugs",
            "'daily' is another list of this config: a slug names one list",
        ),
        ("list 'weekly': previous_slugs", twice),
    ]


def test_a_misspelt_previous_slug_is_refused_not_ignored(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    clock = FixedClock(DAY1)
    services, _ = first_cycle(tmp_path, raw_config(tmp_path, base_url), clock)
    services.close()
    misspelt = a_list("morning", "members.csv", previous_slugs=["dialy"])
    services, transport = start(
        settings_of(tmp_path, raw_config(tmp_path, base_url, misspelt)), clock
    )
    with pytest.raises(ConfigError, match="no history of 'dialy', while 'daily'"):
        run(services)
    assert transport.sent == []
    services.close()


def test_an_unsubscribe_is_kept_when_the_suppression_file_cannot_be_written(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    raw = raw_config(tmp_path, base_url)
    clock = FixedClock(DAY1)
    services, _ = first_cycle(tmp_path, raw, clock)
    sam = active_member(services, "Sam")
    services.close()

    # The operator points the file somewhere it cannot be: under a regular file.
    raw["service"]["suppression_file"] = str(tmp_path / "members.csv" / "suppressed.csv")
    services, _ = start(settings_of(tmp_path, raw), clock)
    assert unsubscribe(services, sam.id, "daily", "one-click")
    assert "sam@example.org" not in {s.email for s in services.store.active_subscribers("daily")}
    summary = run(services)
    assert any("suppressed.csv" in problem for problem in summary.problems)
    services.close()

    # Pointed back, the next cycle copies the unsubscribe out of the database.
    del raw["service"]["suppression_file"]
    services, _ = first_cycle(tmp_path, raw, clock)
    assert read_suppressions(services.settings.service.suppression_path).holds(
        "sam@example.org", "daily"
    )
    services.close()


def test_a_suppression_added_while_copies_are_pending_skips_them(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    # An operator's line (a complaint), or one an unsubscribe wrote just before a crash.
    _, base_url = feed
    settings = settings_of(tmp_path, raw_config(tmp_path, base_url))
    services, transport = start(settings, FixedClock(DAY1))
    built = build_without_sending(services, "daily")
    assert built.pending_deliveries == 3
    settings.service.suppression_path.parent.mkdir(parents=True, exist_ok=True)
    settings.service.suppression_path.write_text("email\nRana@example.org\n")
    summary = run(services)
    assert recipients(transport) == ["li@example.org", "sam@example.org"]
    assert services.store.delivery_counts(built.edition_id).skipped == 1
    assert not summary.problems
    services.close()
