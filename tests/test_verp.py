"""VERP return paths: each copy's envelope sender names its delivery, signed; off, as before."""

from __future__ import annotations

import pytest

from digest.config import BouncesSettings
from digest.mail.personalize import Personalizer
from digest.mail.tokens import InvalidToken, TokenSigner
from digest.records import Subscriber
from tests.test_personalize import DIGEST_LIST, NOW, RENDERED, SAM, SERVICE, SIGNER


def personalizer(bounces: BouncesSettings | None) -> Personalizer:
    return Personalizer(
        RENDERED,
        edition_id=12,
        service=SERVICE,
        digest_list=DIGEST_LIST,
        signer=SIGNER,
        bounces=bounces,
    )


def test_each_copy_is_sent_from_a_return_path_naming_its_delivery() -> None:
    making = personalizer(BouncesSettings(enabled=True))
    sam = making.message_for(SAM, NOW)
    local, _, domain = sam.sender.partition("@")
    assert domain == "example.org"  # the sender's domain when [bounces] domain is unset
    assert local.startswith("bounces+12-345-")
    assert len(local) <= 64  # RFC 5321's limit on a local part
    token = local.removeprefix("bounces+")
    assert SIGNER.read_delivery_token(token) == (12, 345)
    other = making.message_for(Subscriber(id=346, email="rana@example.org", name=None), NOW)
    assert other.sender != sam.sender
    # The header From stays the newsroom's: only the envelope changes.
    assert b"From: The Middle East Desk <briefing@example.org>" in sam.data


def test_the_local_part_and_domain_are_configurable() -> None:
    making = personalizer(
        BouncesSettings(enabled=True, local_part="rt", domain="bounce.example.net")
    )
    sender = making.message_for(SAM, NOW).sender
    assert sender.startswith("rt+12-345-") and sender.endswith("@bounce.example.net")


@pytest.mark.parametrize("bounces", [None, BouncesSettings(), BouncesSettings(enabled=False)])
def test_off_the_envelope_sender_stays_the_senders_address(
    bounces: BouncesSettings | None,
) -> None:
    assert personalizer(bounces).message_for(SAM, NOW).sender == "briefing@example.org"


@pytest.mark.parametrize(
    "token",
    [
        "12-346-" + SIGNER.delivery_token(12, 345).rsplit("-", 1)[1],  # another reader's number
        "12-345-" + "0" * 20,
        SIGNER.delivery_token(12, 345)[:-1],
        "012-345-" + SIGNER.delivery_token(12, 345).rsplit("-", 1)[1],
        TokenSigner("another-secret-0123").delivery_token(12, 345),
        SIGNER.unsubscribe_token(345, "middle-east-daily"),
        "",
        "12-345",
    ],
)
def test_a_forged_or_altered_delivery_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.read_delivery_token(token)


def test_a_delivery_token_survives_a_server_that_folds_case() -> None:
    token = SIGNER.delivery_token(7, 99)
    assert SIGNER.read_delivery_token(token.upper()) == (7, 99)
