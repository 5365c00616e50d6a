"""What a worker's tasks read of the config: the file as it says now, in every pool process."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from digest import ticking
from digest.config import Settings, load_settings
from digest.errors import UnknownListError
from digest.store.schema import SubscriberRow, SubscriptionRow
from tests.service_cluster import config_text, sqlite_database, write_members
from worker import runtime, tasks

WEEKLY = """
[[lists]]
slug = "weekly"
name = "Weekly Review"
topics = ["iran"]
schedule = "0 8 * * 1"
timezone = "UTC"
"""


@pytest.fixture
def worker_config(tmp_path: Path) -> Iterator[Path]:
    """A worker's config file (one list, ``daily``), read by the runtime as ``digest worker``
    reads it: no services handed in, built by the runtime from the file."""
    write_members(tmp_path, 1)
    config = tmp_path / "digest.toml"
    text = config_text(
        tmp_path, None, "https://wire.example.org/feed.xml", service_extra=sqlite_database(tmp_path)
    )
    config.write_text(text)
    before = runtime._settings, runtime._services, runtime._handed_in
    runtime.configure(load_settings(config, {}))
    try:
        yield config
    finally:
        runtime.reset()
        runtime._settings, runtime._services, runtime._handed_in = before


def test_a_sign_up_for_a_list_added_since_the_worker_started_is_recorded(
    worker_config: Path,
) -> None:
    # The pool process that takes the sign-up never ran a tick since the edit: it must still
    # know the list the form offered, or the reader's sign-up is dropped.
    runtime.services()  # the process has run a task before the edit
    worker_config.write_text(worker_config.read_text() + WEEKLY)

    tasks.sign_up("weekly", "ann@example.org", None)

    engine = create_engine(f"sqlite:///{worker_config.parent / 'digest.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(SubscriptionRow.list_slug, SubscriptionRow.status)
            .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
            .where(SubscriberRow.email == "ann@example.org")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("weekly", "pending")]


def test_an_invalid_edit_leaves_a_task_on_the_previous_settings(
    worker_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = runtime.for_task()
    worker_config.write_text(worker_config.read_text().replace("0 0 1 1 *", "every morning"))
    assert runtime.for_task() is before  # the tick says the refusal; a task keeps going
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_a_task_reads_the_file_again_only_once_it_changed(
    worker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading and checking the config costs milliseconds; a delivery batch's task runs several
    # times a second on each pool process.
    reads: list[Path] = []
    load = ticking.load_settings

    def counted(path: Path, environ: Mapping[str, str]) -> Settings:
        reads.append(path)
        return load(path, environ)

    monkeypatch.setattr(ticking, "load_settings", counted)
    first = runtime.for_task()
    assert runtime.for_task() is first and runtime.for_task() is first
    assert reads == [worker_config]

    worker_config.write_text(worker_config.read_text() + WEEKLY)
    assert "weekly" in {item.slug for item in runtime.for_task().settings.lists}
    runtime.for_task()
    assert reads == [worker_config, worker_config]


def test_work_for_a_list_this_worker_does_not_know_is_refused_naming_file_and_key(
    worker_config: Path,
) -> None:
    # Beat's machine has a list that this worker's config file lacks (or removed since).
    with pytest.raises(UnknownListError) as refused:
        tasks.build_edition("weekly", "2026-12-07T08:00:00+00:00")
    message = str(refused.value)
    assert message.startswith(f"{worker_config}: lists: no list 'weekly' (its lists: daily)")
    assert "pending" in message and "same config" in message
    assert repr(refused.value).count("no list 'weekly'") == 1  # as a worker's log shows it


def test_a_batch_of_an_edition_the_database_does_not_have_names_it(worker_config: Path) -> None:
    # Queued before the database was restored from a backup, or made afresh under a Redis that
    # kept its queue: the edition is gone, and the log says which and why.
    with pytest.raises(LookupError) as refused:
        tasks.deliver_batch(999, [1, 2])
    assert "edition 999 is not in the database" in str(refused.value)


def test_a_poll_of_a_feed_the_database_does_not_have_names_it(worker_config: Path) -> None:
    with pytest.raises(LookupError) as refused:
        tasks.poll_feed(999)
    assert "feed 999 is not in the database" in str(refused.value)


def test_an_edit_whose_services_cannot_be_built_leaves_the_previous_ones_in_force(
    worker_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The file parses, but the DKIM key it now names is no key: only building the services
    # finds out. The worker goes on with the services it had, and says why once a tick.
    before = runtime.for_task()
    (worker_config.parent / "dkim.pem").write_text("not a key\n")
    edited = worker_config.read_text() + '\n[dkim]\nselector = "s1"\nkey_file = "dkim.pem"\n'
    worker_config.write_text(edited)

    assert runtime.for_task() is before
    with caplog.at_level(logging.ERROR, logger="digest.ticking"):
        assert runtime.refresh() is before
    (refusal,) = [record.getMessage() for record in caplog.records]
    assert str(worker_config.parent / "dkim.pem") in refusal and "dkim.key_file" in refusal
    assert runtime.settings().dkim is None  # the previous settings, as the services are

    # The key file is fixed, the config file left as it was: the next task signs with it.
    shutil.copy(Path(__file__).parent / "data" / "dkim" / "private.pem", worker_config.parent)
    (worker_config.parent / "private.pem").replace(worker_config.parent / "dkim.pem")
    assert runtime.for_task().dkim is not None


def test_a_task_reads_a_secret_file_rotated_in_place(
    worker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A password rotated in its DIGEST_SMTP_PASSWORD_FILE file reached the tasks only at a
    # restart or the next edit of the config file: only the config file's stat was looked at.
    secret = worker_config.parent / "smtp-password"
    secret.write_text("the old password\n")
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD_FILE", str(secret))
    runtime.configure(load_settings(worker_config))
    smtp_password = runtime.for_task().settings.smtp_password
    assert smtp_password is not None and smtp_password.get_secret_value() == "the old password"
    secret.write_text("the new password, rotated\n")
    smtp_password = runtime.for_task().settings.smtp_password
    assert smtp_password is not None
    assert smtp_password.get_secret_value() == "the new password, rotated"
