"""The secret key the database is used with: another one is refused by every command, said by
`config check`, and taken on purpose only with `digest db adopt-secret-key`."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from digest.addresses import key_function, mailbox_key
from digest.config import load_settings
from digest.errors import SecretKeyMismatchError
from digest.mail.tokens import secret_check
from digest.preflight import preflight
from digest.services import secret_source
from digest.store import open_store
from tests.test_config import MINIMAL, write_config
from tests.test_end_to_end import SECRET, digest, example_config

pytestmark = pytest.mark.integration

OTHER = "another-secret-key-of-32-characters!"
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def digest_with(config: Path, secret: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return digest(config, *args, secret=secret, columns=200)


def outbox(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def test_another_secret_key_is_refused_until_adopted_on_purpose(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    first = digest_with(config, SECRET, "run", "--once")
    assert first.returncode == 0, first.stderr
    mailed = outbox(tmp_path)
    assert mailed

    # A machine given another key: it would sign links the others refuse, and refuse theirs.
    for command in (("run", "--once"), ("serve", "--port", "1"), ("inbound", "--port", "1")):
        refused = digest_with(config, OTHER, *command)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert "the secret key (DIGEST_SECRET_KEY) is not the one the database" in refused.stderr
        assert "digest db adopt-secret-key" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert outbox(tmp_path) == mailed, "nothing was mailed with the other key"
    check = digest_with(config, OTHER, "config", "check")
    assert check.returncode == 2, check.stdout
    assert "is not the one the database" in check.stdout + check.stderr

    # The right key goes on as before.
    again = digest_with(config, SECRET, "run", "--once")
    assert again.returncode == 0, again.stderr

    bounced = digest_with(config, SECRET, "subscribers", "suppress", "Gone+x@Example.org")
    assert bounced.returncode == 0, bounced.stderr

    adopted = digest_with(config, OTHER, "db", "adopt-secret-key")
    assert adopted.returncode == 0, adopted.stderr
    assert "The database now takes this secret key" in adopted.stdout
    # A suppression whose address is kept is recognised under the new key, and so is its
    # mailbox (a sign-up form writing "gone@example.org" reaches no one).
    store = open_store(load_settings(config).service.database_url)
    try:
        new_key = key_function(OTHER)
        assert store.suppression(new_key("gone+x@example.org")) is not None
        assert store.suppression(new_key("gone@example.org")) is None
        assert (
            store.sign_up(
                "gone@example.org",
                None,
                "middle-east-daily",
                new_key("gone@example.org"),
                NOW,
                mailbox_key=new_key("gone@example.org"),
            ).subscriber_id
            is None
        )
    finally:
        store.engine.dispose()
    assert digest_with(config, OTHER, "run", "--once").returncode == 0
    refused = digest_with(config, SECRET, "run", "--once")
    assert refused.returncode == 1 and "is not the one the database" in refused.stderr


def test_a_key_file_not_restored_with_the_database_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    """The embedded default's key lives in data_dir/secret_key: a database restored on a new
    machine without it would get a new key made silently, and every link mailed would break."""
    config = example_config(tmp_path, smtp_port=None)
    first = digest_with(config, None, "run", "--once")
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "var" / "secret_key"
    kept = key_file.read_text()
    key_file.unlink()

    check = digest_with(config, None, "config", "check")
    assert check.returncode == 2
    assert "is not the one the database" in check.stdout + check.stderr
    refused = digest_with(config, None, "run", "--once")
    assert refused.returncode == 1
    assert f"the secret key ({key_file}) is not the one the database" in refused.stderr

    key_file.write_text(kept)  # restored from the backup
    assert digest_with(config, None, "run", "--once").returncode == 0, "the old key goes on"


def test_the_first_key_is_the_database_s_and_a_second_store_reads_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    first, second = open_store(url), open_store(url)
    try:
        assert first.secret_key_check() is None
        assert first.record_secret_key(secret_check(SECRET), NOW) == secret_check(SECRET)
        assert second.record_secret_key(secret_check(OTHER), NOW) == secret_check(SECRET)
        second.adopt_secret_key(secret_check(OTHER), NOW, key_function(OTHER))
        assert first.secret_key_check() == secret_check(OTHER)
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_a_key_flipped_back_merges_an_address_suppressed_under_both(database_url: str) -> None:
    # A -> B -> A: an address suppressed under each key (forgotten under A and suppressed
    # again under B, where it was not recognised; or written by a machine still on A while
    # B was adopted) came to two rows under one key: the unique key refused the re-keying
    # and the whole command rolled back, and the operator could adopt neither key.
    a, b = key_function(SECRET), key_function(OTHER)
    earlier, later = NOW, NOW.replace(hour=10)
    store = open_store(database_url)
    try:
        store.record_secret_key(secret_check(SECRET), earlier)
        # Forgotten under A, suppressed again under B.
        store.suppress("ann@example.org", a, "complaint", "complaint", earlier)
        store.forget("ann@example.org", a("ann@example.org"), earlier)
        # Suppressed under A by a machine still on it, and under B.
        store.suppress("bob@example.org", a, "complaint", "complaint", earlier)
        store.adopt_secret_key(secret_check(OTHER), later, b)
        store.suppress("ann@example.org", b, "hard-bounce", "bounce", later)
        store.suppress("bob@example.org", a, "hard-bounce", "bounce", later)
        store.suppress("cat@example.org", b, "operator", "operator", later)

        store.adopt_secret_key(secret_check(SECRET), later, a)  # back to A
        store.adopt_secret_key(secret_check(OTHER), later, b)  # and to B again
        store.adopt_secret_key(secret_check(SECRET), later, a)

        assert store.secret_key_check() == secret_check(SECRET)
        kept = {s.email: s for s in store.suppressions()}
        assert len(store.suppressions()) == 3, store.suppressions()
        # One row each, under the key in force; the earliest date, the strongest reason, and
        # the address kept, which sending is matched by.
        ann, bob = kept["ann@example.org"], kept["bob@example.org"]
        assert (ann.reason, ann.channel, ann.at) == ("hard-bounce", "bounce", earlier)
        assert (bob.reason, bob.channel, bob.at) == ("complaint", "complaint", earlier)
        for email in ("ann@example.org", "bob@example.org", "cat@example.org"):
            assert store.suppression(a(email)) == kept[email]
            assert store.suppression(b(email)) is None
        with store.engine.connect() as connection:
            rows = connection.execute(sql("SELECT email, mailbox_key FROM suppressions")).all()
        mailboxes = {row.email: row.mailbox_key for row in rows}
        assert mailboxes == {email: mailbox_key(a, email) for email in kept}
    finally:
        store.engine.dispose()


def test_the_check_does_not_give_the_key_away() -> None:
    check = secret_check(SECRET)
    assert len(check) == 64 and SECRET not in check
    assert check != secret_check(OTHER) and check == secret_check(SECRET)


def test_a_key_read_from_a_file_or_a_credential_is_named_by_it(tmp_path: Path) -> None:
    # A key from DIGEST_SECRET_KEY_FILE or a credential was called "DIGEST_SECRET_KEY", and the
    # operator told to set that variable, which is not set.
    config = write_config(tmp_path, MINIMAL)
    (tmp_path / "key").write_text("short\n")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "secret_key").write_text("short\n")
    for environ, origin in (
        ({"DIGEST_SECRET_KEY": "short"}, "DIGEST_SECRET_KEY"),
        ({"DIGEST_SECRET_KEY_FILE": "key"}, f"DIGEST_SECRET_KEY_FILE={tmp_path / 'key'}"),
        ({"CREDENTIALS_DIRECTORY": str(credentials)}, f"credential secret_key in {credentials}"),
    ):
        settings = load_settings(config, environ, working_directory=Path("/"))
        refused = str(SecretKeyMismatchError("sqlite:///digest.db", secret_source(settings)))
        assert f"the secret key ({origin}) is not the one" in refused
        assert refused.count("DIGEST_SECRET_KEY") == (0 if "credential" in origin else 1)
        [short] = [w for w in preflight(settings, None).warnings if "characters" in w]
        assert short.startswith(f"{origin} is 5 characters: a key that short")
