"""DKIM: signed personal copies verify with dkimpy against the public key of the selector."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest

from digest.config import settings_from_mapping
from digest.errors import ConfigError
from digest.mail.dkim import DkimSigner, dkim_signer
from digest.mail.personalize import personalize
from digest.records import Subscriber
from tests.test_personalize import DIGEST_LIST, RENDERED, SERVICE, SIGNER

NOW = datetime(2024, 5, 1, 3, 0, 5, tzinfo=UTC)


KEYS = Path(__file__).parent / "data" / "dkim"


@pytest.fixture(scope="module")
def key_pair() -> tuple[Path, bytes]:
    """A 1024-bit RSA key made for these tests only (small: the test is about the signature),
    and its public half as it would be published in DNS (base64 DER)."""
    return KEYS / "private.pem", (KEYS / "public.b64").read_bytes().strip()


def dns_with(
    public_key: bytes, name: bytes = b"digest._domainkey.example.org."
) -> Callable[..., Any]:
    record = b"v=DKIM1; k=rsa; p=" + public_key

    def dnsfunc(query: bytes, timeout: int = 5) -> bytes | None:
        return record if query == name else None

    return dnsfunc


def signed_copy(private: Path, **subscriber: Any) -> bytes:
    signer = DkimSigner(selector="digest", domain="example.org", private_key=private.read_bytes())
    who = Subscriber(id=345, email="sam@example.org", name="Sam Haddad", **subscriber)
    message = personalize(
        RENDERED,
        who,
        edition_id=12,
        service=SERVICE,
        digest_list=DIGEST_LIST,
        signer=SIGNER,
        now=NOW,
        dkim=signer,
    )
    return message.data


def test_a_signed_copy_verifies(key_pair: tuple[Path, bytes]) -> None:
    private, public = key_pair
    data = signed_copy(private)
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dns_with(public), minkey=1024)
    # The copy still parses as the multipart/alternative message it was.
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"


def test_the_headers_providers_check_are_signed(key_pair: tuple[Path, bytes]) -> None:
    private, _ = key_pair
    data = signed_copy(private)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    tags = dict(
        part.strip().split("=", 1)
        for part in "".join(str(parsed["DKIM-Signature"]).split()).split(";")
        if part.strip()
    )
    assert tags["d"] == "example.org" and tags["s"] == "digest"
    assert tags["c"] == "relaxed/relaxed" and tags["a"] == "rsa-sha256"
    signed = tags["h"].lower().split(":")
    for header in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "feedback-id",
        "mime-version",
        "content-type",
    ):
        assert header in signed
    assert signed.count("from") == 2, "From is oversigned: one added in transit breaks it"
    assert signed.count("feedback-id") == 1, "a relay may add its own Feedback-ID"


def test_a_changed_body_or_header_fails(key_pair: tuple[Path, bytes]) -> None:
    private, public = key_pair
    data = signed_copy(private)
    dns = dns_with(public)
    tampered_body = data.replace(b"Talks resume in Muscat", b"Talks resumed in Muscat")
    assert not dkim.verify(tampered_body, dnsfunc=dns, minkey=1024)
    tampered_unsubscribe = data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"
    )
    assert not dkim.verify(tampered_unsubscribe, dnsfunc=dns, minkey=1024)
    assert not dkim.verify(data, dnsfunc=dns_with(public, b"other._domainkey.example.org."))


@pytest.mark.parametrize(
    "added",
    [
        b"Subject: You won a prize: claim it at https://evil.example",
        b"Reply-To: claims@evil.example",
        b"To: everyone@victim.example",
        b"Date: Fri, 01 Jan 2038 00:00:00 +0000",
        b"Message-ID: <replayed@evil.example>",
        b"List-Unsubscribe: <https://evil.example/unsubscribe>",
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"Content-Type: text/html",
        b"MIME-Version: 1.0",
        b"List-Id: <other.evil.example>",
    ],
)
def test_a_header_added_to_a_signed_copy_breaks_the_signature(
    key_pair: tuple[Path, bytes], added: bytes
) -> None:
    # A verifier checks the last instance of each signed header, so one added above it by
    # whoever replays a copy went unchecked while the reader's mail program showed it: a new
    # Subject or Reply-To passed as ours. Listing each header once more than the copy holds
    # signs that there is no other ("oversigning", RFC 6376 section 8.15), as From always was.
    private, public = key_pair
    data = signed_copy(private)
    signature, separator, rest = data.partition(b"\r\nFrom: ")
    assert dkim.verify(data, dnsfunc=dns_with(public), minkey=1024)
    replayed = signature + b"\r\n" + added + separator + rest
    assert not dkim.verify(replayed, dnsfunc=dns_with(public), minkey=1024)


def test_a_feedback_id_a_relay_adds_keeps_the_signature(key_pair: tuple[Path, bytes]) -> None:
    # Amazon SES adds a Feedback-ID of its own to every message it relays.
    private, public = key_pair
    signature, separator, rest = signed_copy(private).partition(b"\r\nFrom: ")
    relayed = signature + b"\r\nFeedback-ID: 1.eu-west-1.abc:AmazonSES" + separator + rest
    assert dkim.verify(relayed, dnsfunc=dns_with(public), minkey=1024)


def test_non_ascii_names_and_other_timezones_still_verify(key_pair: tuple[Path, bytes]) -> None:
    private, public = key_pair
    data = signed_copy(private, timezone="America/New_York")
    assert dkim.verify(data, dnsfunc=dns_with(public), minkey=1024)
    signer = DkimSigner(selector="digest", domain="example.org", private_key=private.read_bytes())
    arabic = personalize(
        RENDERED,
        Subscriber(id=7, email="m@example.org", name="محمد عبد الله"),
        edition_id=12,
        service=SERVICE,
        digest_list=DIGEST_LIST,
        signer=SIGNER,
        now=NOW,
        dkim=signer,
    )
    assert dkim.verify(arabic.data, dnsfunc=dns_with(public), minkey=1024)


def _settings(tmp_path: Path, dkim_table: dict[str, Any], environ: dict[str, str]) -> Any:
    (tmp_path / "members.csv").write_text("email\n")
    raw = {
        "service": {
            "base_url": "https://news.example.org",
            "sender_name": "The Desk",
            "sender_address": "desk@example.org",
            "postal_address": "1 Example Street",
        },
        "topics": [{"slug": "world", "name": "World"}],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily",
                "topics": ["world"],
                "schedule": "0 7 * * *",
                "subscribers": "members.csv",
            }
        ],
        "dkim": dkim_table,
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ=environ)


def test_key_from_a_file_or_the_environment(tmp_path: Path, key_pair: tuple[Path, bytes]) -> None:
    private, public = key_pair
    from_file = dkim_signer(
        _settings(tmp_path, {"selector": "digest", "key_file": str(private)}, {})
    )
    assert from_file is not None and from_file.domain == "example.org"  # the sender's domain
    environ = {"DIGEST_DKIM_KEY": private.read_text()}
    from_env = dkim_signer(_settings(tmp_path, {"selector": "digest"}, environ))
    assert from_env is not None
    assert dkim.verify(from_env.sign(_unsigned()), dnsfunc=dns_with(public))


def _unsigned() -> bytes:
    return personalize(
        RENDERED,
        Subscriber(id=1, email="a@example.org"),
        edition_id=12,
        service=SERVICE,
        digest_list=DIGEST_LIST,
        signer=SIGNER,
        now=NOW,
    ).data


def test_a_key_that_cannot_sign_is_named_once_by_where_it_was_read_from(tmp_path: Path) -> None:
    # It said "DIGEST_DKIM_KEY: DIGEST_DKIM_KEY: …", and named the variable when the key came
    # from a file or a credential.
    not_a_key = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    key_file = tmp_path / "dkim-key"
    key_file.write_text(not_a_key)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "dkim_key").write_text(not_a_key)
    for environ, origin in (
        ({"DIGEST_DKIM_KEY": not_a_key}, "DIGEST_DKIM_KEY"),
        ({"DIGEST_DKIM_KEY_FILE": str(key_file)}, f"DIGEST_DKIM_KEY_FILE={key_file}"),
        ({"CREDENTIALS_DIRECTORY": str(credentials)}, f"credential dkim_key in {credentials}"),
    ):
        with pytest.raises(ConfigError) as caught:
            dkim_signer(_settings(tmp_path, {"selector": "digest"}, environ))
        said = str(caught.value)
        assert said.startswith(f"{origin}: "), said
        assert said.endswith("; give the PEM private key of the selector"), said
        assert said.count("DIGEST_DKIM_KEY") == (0 if "credential" in origin else 1), said


def test_a_key_never_goes_in_the_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, {"selector": "digest", "private_key": "-----BEGIN..."}, {})
    assert "DIGEST_DKIM_KEY" in str(caught.value)
    with pytest.raises(ConfigError, match="no private key"):
        _settings(tmp_path, {"selector": "digest"}, {})
    with pytest.raises(ConfigError, match="file not found"):
        _settings(tmp_path, {"selector": "digest", "key_file": "missing.pem"}, {})


def test_a_file_that_is_not_a_key_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    settings = _settings(tmp_path, {"selector": "digest", "key_file": str(bad)}, {})
    with pytest.raises(ConfigError, match="not a PEM RSA private key"):
        dkim_signer(settings)
