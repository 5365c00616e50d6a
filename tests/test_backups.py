"""Backing up and restoring the database as docs/upgrading-and-backups.md says, word for word.

Each guide's command is the shell block the guide marks ``<!-- sh: WHAT -->``; the tests run
it as written, in a folder laid out as the example's (``var/digest.db``), or with the URL of a
PostgreSQL database the test starts put in place of the guide's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from digest.store import Store, SubscriberInput, open_store
from digest.store.upgrades import HEAD_REVISION, stored_revision
from tests.members import add_members
from tests.service_cluster import fresh_database
from tests.test_store import make_edition

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs/upgrading-and-backups.md"
_MARKED_BLOCK = re.compile(
    r"^<!-- sh: (?P<what>[^\n]*?) -->\n```sh\n(?P<body>.*?)^```", re.S | re.M
)
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
GUIDE_URL = "postgresql://digest:PASSWORD@HOST/digest"


def guide_command(what: str) -> str:
    """The guide's shell block marked ``what``, its continued lines joined."""
    blocks = {m["what"]: m["body"] for m in _MARKED_BLOCK.finditer(GUIDE.read_text())}
    assert what in blocks, f"the guide has no shell block marked {what!r}"
    return blocks[what].replace("\\\n", " ").strip()


def run(command: str, folder: Path) -> None:
    done = subprocess.run(
        ["sh", "-c", command], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def edition_for_two(store: Store) -> tuple[int, list[int]]:
    """An edition of the list, queued for two readers: its id and its two copies' ids."""
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    readers = [SubscriberInput("first@example.org"), SubscriberInput("second@example.org")]
    add_members(store, "daily", readers, T0)
    store.queue_deliveries(state.id, "daily", T0)
    return state.id, store.pending_deliveries(state.id)


# A command that is running: it marks the copies whose ids it reads sent, as the delivery step
# does, and keeps the database open. SQLite holds its changes in digest.db-wal until a
# checkpoint, which a write this small does not reach.
_SENDER = """
import sys
from datetime import UTC, datetime
from digest.store import open_store

store = open_store(sys.argv[1])
for line in sys.stdin:
    store.mark_delivered_many([(int(line), f"<{line.strip()}@example.org>")], datetime.now(UTC))
    print("sent", flush=True)
"""


def test_a_sqlite_backup_taken_as_a_command_writes_restores_as_it_was(tmp_path: Path) -> None:
    # A copy taken with cp while `digest run` ran lacked what was still in digest.db-wal: the
    # copies marked sent since the last checkpoint, which went again after a restore. And a
    # restore with cp beside the digest.db-wal of a killed command read that file's newer pages
    # into the restored database. The guide's commands do neither.
    database = tmp_path / "var/digest.db"
    url = f"sqlite:///{database}"
    store = open_store(url)
    edition_id, (first, second) = edition_for_two(store)
    store.engine.dispose()
    sender = subprocess.Popen(
        [sys.executable, "-c", _SENDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert sender.stdin is not None and sender.stdout is not None
        sender.stdin.write(f"{first}\n")
        sender.stdin.flush()
        assert sender.stdout.readline() == "sent\n"
        run(guide_command("back up sqlite"), tmp_path)
        sender.stdin.write(f"{second}\n")
        sender.stdin.flush()
        assert sender.stdout.readline() == "sent\n"
    finally:
        sender.kill()  # killed, its last change left in digest.db-wal
        sender.wait()
    assert (tmp_path / "var/digest.db-wal").stat().st_size > 0

    run(guide_command("restore sqlite"), tmp_path)
    store = open_store(url)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        # As the backup was: the first copy sent (it was in digest.db-wal then), the second not.
        assert store.pending_deliveries(edition_id) == [second]
        counts = store.delivery_counts(edition_id)
        assert (counts.sent, counts.pending) == (1, 1)
    finally:
        store.engine.dispose()


def test_a_postgresql_backup_restores_the_ledger_the_schema_and_the_ids(
    tmp_path: Path, postgres_url: str
) -> None:
    database_url = fresh_database(postgres_url)
    store = open_store(database_url)
    edition_id, (first, second) = edition_for_two(store)
    store.mark_delivered_many([(first, "<1@example.org>")], T0)
    # The guide's URL names the test's database; its tools take it without the driver's name.
    url = make_url(database_url).set(drivername="postgresql")
    tools_url = url.render_as_string(hide_password=False)
    run(guide_command("back up postgresql").replace(GUIDE_URL, tools_url), tmp_path)
    # After the backup: the second copy sent, a reader more; then the backup is restored.
    store.mark_delivered_many([(second, "<2@example.org>")], T0)
    add_members(store, "daily", [SubscriberInput("later@example.org")], T0)
    store.engine.dispose()

    run(guide_command("restore postgresql").replace(GUIDE_URL, tools_url), tmp_path)
    store = open_store(database_url)
    try:
        assert stored_revision(store.engine) == HEAD_REVISION
        assert store.pending_deliveries(edition_id) == [second]
        assert [s.email for s in store.confirmed_subscribers("daily")] == [
            "first@example.org",
            "second@example.org",
        ]
        # The ids go on from the backup's: a reader added now takes a new one.
        add_members(store, "daily", [SubscriberInput("again@example.org")], T0)
        with store.engine.connect() as connection:
            ids = connection.execute(text("SELECT id FROM subscribers ORDER BY id")).scalars()
            assert len(set(ids)) == 3
    finally:
        store.engine.dispose()
