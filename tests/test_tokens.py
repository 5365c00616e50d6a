"""Signed unsubscribe tokens and the secret key file."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from digest.errors import ConfigError, DigestError
from digest.mail.tokens import InvalidToken, TokenSigner, load_or_create_secret

SECRET = "test-secret-0123456789"


def test_unsubscribe_token_round_trip() -> None:
    signer = TokenSigner(SECRET)
    token = signer.unsubscribe_token(42, "middle-east-daily")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token), "a token must fit in a URL path unquoted"
    assert signer.read_unsubscribe_token(token) == (42, "middle-east-daily")


def test_tokens_differ_per_subscriber_and_list_and_are_stable() -> None:
    signer = TokenSigner(SECRET)
    token = signer.unsubscribe_token(1, "gulf-weekly")
    assert token == TokenSigner(SECRET).unsubscribe_token(1, "gulf-weekly")
    assert token != signer.unsubscribe_token(2, "gulf-weekly")
    assert token != signer.unsubscribe_token(1, "middle-east-daily")


@pytest.mark.parametrize(
    ("subscriber_id", "list_slug"),
    [(1, "a"), (42, "middle-east-daily"), (10**12, "gulf-weekly"), (7, "a" * 63)],  # last: zlib
)
def test_tokens_are_itsdangerous_tokens(subscriber_id: int, list_slug: str) -> None:
    # Links already sent must keep working: the tokens are byte for byte what itsdangerous
    # makes, whichever method made them.
    signer = TokenSigner(SECRET)
    unsubscribe = URLSafeSerializer(SECRET, salt="unsubscribe").dumps([subscriber_id, list_slug])
    preferences = URLSafeSerializer(SECRET, salt="preferences").dumps([subscriber_id, list_slug])
    assert signer.unsubscribe_token(subscriber_id, list_slug) == unsubscribe
    assert signer.preferences_token(subscriber_id, list_slug) == preferences
    assert signer.link_tokens(subscriber_id, list_slug) == (unsubscribe, preferences)


@pytest.mark.parametrize("position", [0, 5, -2, -10])
def test_tampered_token_is_rejected(position: int) -> None:
    # Not the last character: its lowest bits are base64 padding that decoding ignores.
    signer = TokenSigner(SECRET)
    token = signer.unsubscribe_token(42, "middle-east-daily")
    index = position % len(token)
    swapped = "A" if token[index] != "A" else "B"
    tampered = token[:index] + swapped + token[index + 1 :]
    with pytest.raises(InvalidToken):
        signer.read_unsubscribe_token(tampered)


def test_token_made_for_another_subscriber_cannot_be_rewritten() -> None:
    signer = TokenSigner(SECRET)
    payload_42, _, _ = signer.unsubscribe_token(42, "gulf-weekly").partition(".")
    _, _, signature_43 = signer.unsubscribe_token(43, "gulf-weekly").partition(".")
    with pytest.raises(InvalidToken):
        signer.read_unsubscribe_token(f"{payload_42}.{signature_43}")


def test_token_for_another_action_is_rejected() -> None:
    other_action = URLSafeSerializer(SECRET, salt="confirm").dumps([42, "middle-east-daily"])
    with pytest.raises(InvalidToken):
        TokenSigner(SECRET).read_unsubscribe_token(other_action)


def test_preferences_token_round_trip_and_stays_in_its_lane() -> None:
    signer = TokenSigner(SECRET)
    preferences = signer.preferences_token(42, "middle-east-daily")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", preferences)
    assert signer.read_preferences_token(preferences) == (42, "middle-east-daily")
    unsubscribe = signer.unsubscribe_token(42, "middle-east-daily")
    assert preferences != unsubscribe
    # Each token opens its own action only: the salts differ (invariant 7).
    with pytest.raises(InvalidToken, match="unsubscribe link is invalid"):
        signer.read_unsubscribe_token(preferences)
    with pytest.raises(InvalidToken, match="preferences link is invalid"):
        signer.read_preferences_token(unsubscribe)


def test_token_from_another_key_is_rejected() -> None:
    foreign = TokenSigner("another-secret").unsubscribe_token(42, "middle-east-daily")
    with pytest.raises(InvalidToken):
        TokenSigner(SECRET).read_unsubscribe_token(foreign)


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 42},
        [42],
        ["42", "gulf-weekly"],
        [True, "gulf-weekly"],
        [42, "Not A Slug"],
        [42, "gulf-weekly", "extra"],
    ],
)
def test_signed_payload_of_the_wrong_shape_is_rejected(payload: object) -> None:
    token = URLSafeSerializer(SECRET, salt="unsubscribe").dumps(payload)
    with pytest.raises(InvalidToken):
        TokenSigner(SECRET).read_unsubscribe_token(token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "%%%"])
def test_garbage_is_rejected_as_a_digest_error(garbage: str) -> None:
    with pytest.raises(DigestError):
        TokenSigner(SECRET).read_unsubscribe_token(garbage)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError) as refused:
        TokenSigner("")
    assert str(refused.value) == "the signing secret is empty: set DIGEST_SECRET_KEY"


def test_secret_file_is_created_private_and_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "var" / "keys" / "secret_key"
    linked: list[Path] = []
    real_link = os.link

    def link(source: str, target: Path) -> None:
        linked.append(Path(source))
        real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    key = load_or_create_secret(path)
    assert len(key) >= 40
    # One line, as an operator copies it into DIGEST_SECRET_KEY.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}\n", path.read_text(encoding="ascii"))
    # Made beside the key: a link cannot cross file systems, and data_dir is often a mount.
    assert [source.parent for source in linked] == [path.parent]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == key
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"], "no temporary left"
    # The key really signs: a token made with it reads back with a signer built from the file.
    token = TokenSigner(key).unsubscribe_token(7, "gulf-weekly")
    reloaded = TokenSigner(load_or_create_secret(path))
    assert reloaded.read_unsubscribe_token(token) == (7, "gulf-weekly")


def test_existing_secret_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret_key"
    path.write_text("  operator-chosen-key\n", encoding="ascii")

    def read_only(**_: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    # A key kept in a read-only folder (/etc/digest, a read-only mount) is read, not made.
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert load_or_create_secret(path) == "operator-chosen-key"


def test_each_new_secret_file_gets_its_own_key(tmp_path: Path) -> None:
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


def test_empty_secret_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("\n", encoding="ascii")
    with pytest.raises(ConfigError, match="empty") as caught:
        load_or_create_secret(path)
    assert caught.value.source == str(path)
    assert "DIGEST_SECRET_KEY" in str(caught.value)


def test_a_secret_file_that_cannot_be_made_is_named_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # data_dir is relative to the working directory: "var/secret_key" did not say which.
    monkeypatch.chdir(tmp_path)
    Path("blocked").write_text("a file where the data folder should be\n")
    with pytest.raises(ConfigError) as raised:
        load_or_create_secret(Path("blocked/var/secret_key"))
    assert str(raised.value).startswith(f"{tmp_path}/blocked/var/secret_key: cannot ")


def test_a_confirmation_token_opens_its_sign_up_until_it_expires() -> None:
    from datetime import UTC, datetime, timedelta

    from digest.mail.tokens import ExpiredToken

    signer, issued = TokenSigner(SECRET), datetime(2026, 11, 24, 8, tzinfo=UTC)
    days = timedelta(days=3)
    token = signer.confirm_token(42, "middle-east-daily", issued)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token) and len(token) < 100
    assert signer.read_confirm_token(token, issued, days) == (42, "middle-east-daily")
    assert signer.read_confirm_token(token, issued + days, days) == (42, "middle-east-daily")
    with pytest.raises(ExpiredToken) as expired:
        signer.read_confirm_token(token, issued + days + timedelta(seconds=1), days)
    # Its signature held: the page says so in the language of the list it names.
    assert expired.value.list_slug == "middle-east-daily"
    assert str(expired.value) == "the confirmation link has expired"
    with pytest.raises(ExpiredToken):  # issued in the future: not by a clock we trust
        signer.read_confirm_token(token, issued - timedelta(hours=1), days)
    # Altered, another key, another action, another action's token: refused, and not as
    # expired (the page says the link is damaged).
    for bad in (
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        TokenSigner("another-secret").confirm_token(42, "middle-east-daily", issued),
        signer.unsubscribe_token(42, "middle-east-daily"),
        signer.preferences_token(42, "middle-east-daily"),
    ):
        with pytest.raises(InvalidToken) as raised:
            signer.read_confirm_token(bad, issued, days)
        assert not isinstance(raised.value, ExpiredToken)
    with pytest.raises(InvalidToken):  # nor does a confirmation token unsubscribe anyone
        signer.read_unsubscribe_token(token)


def test_a_confirmation_token_from_a_clock_five_minutes_ahead_still_confirms() -> None:
    # A worker whose clock runs a little ahead of the web process's issues the link; beyond
    # the allowed skew the link is not from a clock we trust.
    from datetime import UTC, datetime, timedelta

    from digest.mail.tokens import ExpiredToken

    signer, now = TokenSigner(SECRET), datetime(2026, 11, 24, 8, tzinfo=UTC)
    days = timedelta(days=3)
    ahead = signer.confirm_token(42, "daily", now + timedelta(minutes=5))
    assert signer.read_confirm_token(ahead, now, days) == (42, "daily")
    too_far = signer.confirm_token(42, "daily", now + timedelta(minutes=5, seconds=1))
    with pytest.raises(ExpiredToken):
        signer.read_confirm_token(too_far, now, days)


@pytest.mark.parametrize("year", [1970, 2026, 2038, 2110])
def test_a_confirmation_token_carries_its_issue_time_whatever_its_size(year: int) -> None:
    # The issue time is written in as few bytes as it takes: four now, five after 2106.
    from datetime import UTC, datetime, timedelta

    signer, issued = TokenSigner(SECRET), datetime(year, 2, 1, 8, 0, 1, tzinfo=UTC)
    token = signer.confirm_token(42, "daily", issued)
    assert signer.read_confirm_token_issued(token, issued, timedelta(days=3)) == (
        42,
        "daily",
        issued,
    )


def test_a_signed_token_of_the_wrong_shape_says_what_it_lacks() -> None:
    # Said in the inbound log for a mail to the unsubscribe address.
    token = URLSafeSerializer(SECRET, salt="unsubscribe").dumps([42])
    with pytest.raises(InvalidToken, match=r"^the unsubscribe link does not name a subscriber"):
        TokenSigner(SECRET).read_unsubscribe_token(token)


def test_a_return_paths_token_is_the_same_after_an_upgrade() -> None:
    # A bounce comes back days after its mail was sent, perhaps to a newer release: the token
    # is an HMAC under a key derived from the secret with a label of its own (so that it opens
    # no link), and must be made the same way by every release.
    signer = TokenSigner(SECRET)
    assert signer.delivery_token(12, 345) == "12-345-23fe82feb4dc736f1ffa"
    assert signer.read_delivery_token("12-345-23FE82FEB4DC736F1FFA") == (12, 345)


def test_a_confirmation_token_signed_without_its_own_salt_is_refused() -> None:
    # Another program sharing the secret key, signing with itsdangerous's default salt, makes
    # no confirmation link of ours (invariant 7), nor one signing with no salt at all.
    from datetime import UTC, datetime, timedelta

    from itsdangerous import URLSafeTimedSerializer

    now = datetime.now(UTC)
    for foreign in (URLSafeTimedSerializer(SECRET), URLSafeTimedSerializer(SECRET, salt=None)):
        with pytest.raises(InvalidToken):
            TokenSigner(SECRET).read_confirm_token(
                foreign.dumps([42, "daily"]), now, timedelta(days=3)
            )


@pytest.mark.parametrize("damaged", [b"\xff\xfe key\n", "clé-secrète\n".encode()])
def test_a_secret_file_that_is_not_ascii_says_why_and_is_not_replaced(
    tmp_path: Path, damaged: bytes
) -> None:
    # A key file damaged on disk is the operator's to restore: a new key would void every link.
    # One in UTF-8 is refused too: read under each machine's locale, a web process and a
    # worker would sign with different keys.
    path = tmp_path / "secret_key"
    path.write_bytes(damaged)
    with pytest.raises(ConfigError) as raised:
        load_or_create_secret(path)
    assert str(raised.value) == (
        f"{path}: cannot read the secret key file: not ASCII text; fix it or set DIGEST_SECRET_KEY"
    )
    assert path.read_bytes() == damaged


def test_a_folder_where_the_secret_file_should_be_is_named_with_the_system_s_reason(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secret_key"
    path.mkdir()
    with pytest.raises(ConfigError) as raised:
        load_or_create_secret(path)
    assert str(raised.value) == (
        f"{path}: cannot read the secret key file: Is a directory; fix it or set DIGEST_SECRET_KEY"
    )


def test_an_empty_secret_file_says_the_links_already_sent_stop_working(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("  \n", encoding="ascii")
    with pytest.raises(ConfigError) as raised:
        load_or_create_secret(path)
    assert str(raised.value) == (
        f"{path}: the secret key file is empty: delete it to have a new key made (links in "
        "mails already sent stop working), or set DIGEST_SECRET_KEY"
    )


def test_a_secret_file_made_meanwhile_by_another_process_is_the_key_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes started together: the one that links second keeps the first one's key,
    # or the links the first one already signed would be refused.
    path = tmp_path / "secret_key"
    real_link = os.link

    def link_after_the_other(source: str, target: Path) -> None:
        Path(target).write_text("the-other-process-key\n", encoding="ascii")
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_after_the_other)
    assert load_or_create_secret(path) == "the-other-process-key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"], "no temporary left"


def test_a_secret_file_removed_while_being_made_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret_key"
    monkeypatch.setattr(os, "link", lambda source, target: None)  # linked, then removed
    with pytest.raises(ConfigError) as raised:
        load_or_create_secret(path)
    assert str(raised.value) == f"{path}: the secret key file vanished while being created"
    assert list(tmp_path.iterdir()) == [], "no temporary left"


@pytest.mark.parametrize(
    ("number", "remedy"),
    [
        (errno.ENOSPC, "free space on its disk"),
        (errno.EDQUOT, "free space on its disk"),
        (errno.EACCES, "make its folder writable"),
    ],
)
def test_a_secret_file_that_cannot_be_written_leaves_nothing_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: int, remedy: str
) -> None:
    path = tmp_path / "secret_key"

    def fails(descriptor: int) -> None:
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, "fsync", fails)
    with pytest.raises(ConfigError) as raised:
        load_or_create_secret(path)
    assert str(raised.value) == (
        f"{path}: cannot create the secret key file: {os.strerror(number)}; {remedy} or set "
        "DIGEST_SECRET_KEY"
    )
    assert list(tmp_path.iterdir()) == [], "no half-written key, and no temporary"
