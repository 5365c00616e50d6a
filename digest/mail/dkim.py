"""DKIM signatures (RFC 6376) with dkimpy, over the headers mailbox providers look at.

The private key comes from ``[dkim] key_file`` or the ``DIGEST_DKIM_KEY`` variable, never from
the config file itself. The public key is published by the operator as a TXT record at
``{selector}._domainkey.{domain}``.
"""

from __future__ import annotations

from pathlib import Path

import dkim

from digest.config import Settings
from digest.errors import ConfigError

# Signed headers. Gmail and Yahoo require List-Unsubscribe and List-Unsubscribe-Post to be
# signed for one-click unsubscribe to be offered. A verifier checks the last instance of each
# name, so one added above it (by whoever replays a copy: a new Subject, a Reply-To of theirs)
# would pass unchecked while mail programs show it; listing each name once more than a copy
# holds signs that there is no other ("oversigned", RFC 6376 section 8.15). Not Feedback-ID:
# a relay such as Amazon SES adds its own, which must not break the signature.
_OVERSIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
SIGNED_HEADERS = (*(name for name in _OVERSIGNED for _ in range(2)), b"feedback-id")


class DkimSigner:
    """Signs whole messages (bytes, CRLF line ends) for one selector and domain."""

    def __init__(self, *, selector: str, domain: str, private_key: bytes) -> None:
        self.selector = selector
        self.domain = domain.lower()
        self._key = private_key
        try:
            dkim.crypto.parse_pem_private_key(private_key)
        except (dkim.crypto.UnparsableKeyError, ValueError, IndexError) as error:
            raise ValueError(f"not a PEM RSA private key: {error}") from error

    def sign(self, message: bytes) -> bytes:
        """``message`` with a DKIM-Signature header in front."""
        # relaxed/relaxed: survives relays that refold headers or change trailing whitespace.
        signature: bytes = dkim.sign(
            message,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self._key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        return signature + message


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The signer ``[dkim]`` describes, or None when it is absent. Raises ConfigError when the
    key cannot be read or is not a private key."""
    config = settings.dkim
    if config is None:
        return None
    domain = config.domain or settings.service.sender_address.rpartition("@")[2]
    if config.key_file is not None:
        path: Path | None = settings.config_path(config.key_file)
        where, key = "dkim.key_file", _read_key(settings.config_path(config.key_file))
    elif settings.dkim_key is not None:
        path, where = None, settings.origin("DIGEST_DKIM_KEY")
        key = settings.dkim_key.get_secret_value().encode("ascii", "replace")
    else:
        raise ConfigError(
            str(settings.source),
            [("dkim", "no private key: set dkim.key_file or the DIGEST_DKIM_KEY variable")],
        )
    try:
        return DkimSigner(selector=config.selector, domain=domain, private_key=key)
    except ValueError as error:
        why = f"{error}; give the PEM private key of the selector"
        if path is None:  # the variable, its file or credential names itself once
            raise ConfigError(where, [("", why)]) from None
        raise ConfigError(str(path), [(where, why)]) from None


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(
            str(path), [("dkim.key_file", f"cannot read: {error.strerror}")]
        ) from None
