"""Signed tokens for the links in a mail and its return path, and the secret key that signs them."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import (
    BadData,
    SignatureExpired,
    Signer,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode

from digest.errors import ConfigError, DigestError

# One salt per action: a token signed for one action never opens another (invariant 7).
UNSUBSCRIBE_SALT = "unsubscribe"
PREFERENCES_SALT = "preferences"
CONFIRM_SALT = "confirm-sign-up"

# The return path's token: edition, subscriber and 80 bits of HMAC, in characters every mail
# server keeps as they are in a local part (lowercase hex: some servers fold the case).
DELIVERY_KEY_LABEL = b"digest delivery return path"
_DELIVERY = re.compile(r"([0-9]{1,15})-([0-9]{1,15})-([0-9a-f]{20})")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class InvalidToken(DigestError):
    """A token was altered, signed with another key, or made for another action."""


class ExpiredToken(InvalidToken):
    """A token that was ours, for this action, but is older than it may be. ``list_slug`` is
    the list it was made for, when its signature held (so that the page can say so in the
    list's language)."""

    def __init__(self, message: str, list_slug: str | None = None) -> None:
        super().__init__(message)
        self.list_slug = list_slug


class TokenSigner:
    """Signs and reads the tokens carried by links in a mail.

    Tokens hold no expiry: an unsubscribe link in a years-old mail must still work. They are
    signed with HMAC under the service's secret key, so rotating the key voids every link sent.
    """

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the signing secret is empty: set DIGEST_SECRET_KEY")
        self._unsubscribe = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT)
        self._preferences = URLSafeSerializer(secret, salt=PREFERENCES_SALT)
        # The one token that expires: a confirmation link opens a subscription only for a while.
        self._confirm = URLSafeTimedSerializer(secret, salt=CONFIRM_SALT)
        self._unsubscribe_seal = _Seal(self._unsubscribe)
        self._preferences_seal = _Seal(self._preferences)
        # A key of its own, derived from the secret: a return path never opens a link.
        delivery_key = hmac.new(secret.encode("utf-8"), DELIVERY_KEY_LABEL, hashlib.sha256)
        self._delivery_mac = hmac.new(delivery_key.digest(), digestmod=hashlib.sha256)

    def unsubscribe_token(self, subscriber_id: int, list_slug: str) -> str:
        """A token that unsubscribes this subscriber from this list, and does nothing else."""
        return self._unsubscribe_seal(self._unsubscribe.dump_payload([subscriber_id, list_slug]))

    def preferences_token(self, subscriber_id: int, list_slug: str) -> str:
        """A token that opens this subscriber's preferences for this list, and nothing else."""
        return self._preferences_seal(self._preferences.dump_payload([subscriber_id, list_slug]))

    def link_tokens(self, subscriber_id: int, list_slug: str) -> tuple[str, str]:
        """The unsubscribe and the preferences token, as the two methods above make them, for
        the price of one payload: what every personal copy carries."""
        payload = self._unsubscribe.dump_payload([subscriber_id, list_slug])
        return self._unsubscribe_seal(payload), self._preferences_seal(payload)

    def confirm_token(self, subscriber_id: int, list_slug: str, now: datetime) -> str:
        """A token that confirms this subscriber's sign-up to this list, issued at ``now``."""
        payload = self._confirm.dump_payload([subscriber_id, list_slug])
        signer = self._confirm.make_signer()
        # The timestamp is ``now`` (the service's clock), not the machine's time.time().
        stamped = payload + signer.sep + base64_encode(_int_bytes(int(now.timestamp())))
        # Signer.sign, not TimestampSigner.sign, which would add time.time() after ours.
        return Signer.sign(signer, stamped).decode("ascii")

    def read_confirm_token(self, token: str, now: datetime, max_age: timedelta) -> tuple[int, str]:
        """The (subscriber id, list slug) a confirmation token was made for. Raises
        ExpiredToken for one issued more than ``max_age`` before ``now`` (or in the future),
        InvalidToken for one altered or not made by us for confirming."""
        subscriber_id, list_slug, _ = self.read_confirm_token_issued(token, now, max_age)
        return subscriber_id, list_slug

    def read_confirm_token_issued(
        self, token: str, now: datetime, max_age: timedelta
    ) -> tuple[int, str, datetime]:
        """As ``read_confirm_token``, with the time the token was issued (to the second): a
        link issued before the sign-up it would confirm was made confirms nothing."""
        try:
            payload, issued = self._confirm.loads(token, return_timestamp=True)
        except SignatureExpired as error:  # never raised without max_age; kept for safety
            raise ExpiredToken("the confirmation link has expired") from error
        except BadData as error:
            raise InvalidToken("the confirmation link is invalid or was altered") from error
        subscriber_id, list_slug = _shape(payload, "confirmation")
        age = now - issued.astimezone(now.tzinfo)
        if age > max_age or age < -_CLOCK_SKEW:
            raise ExpiredToken("the confirmation link has expired", list_slug)
        return subscriber_id, list_slug, issued.astimezone(now.tzinfo)

    def delivery_token(self, edition_id: int, subscriber_id: int) -> str:
        """A token that names one delivery (edition, subscriber), for the copy's return path:
        ``12-345-`` and 20 hex digits of HMAC. A bounce is believed only with a valid one."""
        body = f"{edition_id}-{subscriber_id}"
        mac = self._delivery_mac.copy()
        mac.update(body.encode("ascii"))
        return f"{body}-{mac.hexdigest()[:20]}"

    def read_delivery_token(self, token: str) -> tuple[int, int]:
        """The (edition id, subscriber id) a delivery token names. Raises InvalidToken for one
        altered or not made by us."""
        match = _DELIVERY.fullmatch(token.lower())
        if match is None:
            raise InvalidToken("the return path's token is not one of ours")
        edition_id, subscriber_id = int(match[1]), int(match[2])
        if not hmac.compare_digest(self.delivery_token(edition_id, subscriber_id), match[0]):
            raise InvalidToken("the return path's token was altered or signed with another key")
        return edition_id, subscriber_id

    def read_unsubscribe_token(self, token: str) -> tuple[int, str]:
        """The (subscriber id, list slug) an unsubscribe token was made for.

        Raises InvalidToken for a token that was altered or not signed by us for unsubscribing.
        """
        return _read(self._unsubscribe, token, "unsubscribe")

    def read_preferences_token(self, token: str) -> tuple[int, str]:
        """The (subscriber id, list slug) a preferences token was made for.

        Raises InvalidToken for a token that was altered or not signed by us for preferences.
        """
        return _read(self._preferences, token, "preferences")


class _Seal:
    """The signature ``serializer.dumps`` appends to a payload, with its HMAC key derived and
    set up once rather than for every token: the same bytes, a third of the time."""

    def __init__(self, serializer: URLSafeSerializer) -> None:
        signer = serializer.make_signer()
        self._mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method)
        self._sep = signer.sep

    def __call__(self, payload: bytes) -> str:
        mac = self._mac.copy()
        mac.update(payload)
        return (payload + self._sep + base64_encode(mac.digest())).decode("ascii")


_CLOCK_SKEW = timedelta(minutes=5)  # web processes and workers whose clocks differ a little


def _int_bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")


def _read(serializer: URLSafeSerializer, token: str, action: str) -> tuple[int, str]:
    try:
        payload = serializer.loads(token)
    except BadData as error:
        raise InvalidToken(f"the {action} link is invalid or was altered") from error
    return _shape(payload, action)


def _shape(payload: object, action: str) -> tuple[int, str]:
    # A valid signature over an unexpected shape means a bug or a key shared with another
    # program; refuse rather than guess.
    match payload:
        case [int() as subscriber_id, str() as list_slug] if _SLUG.match(list_slug):
            if not isinstance(subscriber_id, bool):  # JSON true is not subscriber 1
                return subscriber_id, list_slug
    raise InvalidToken(f"the {action} link does not name a subscriber and a list")


def secret_check(secret: str) -> str:
    """What tells one secret key from another without giving it away: an HMAC of a fixed text
    under it. The database keeps the check of the key it is used with (digest.services)."""
    return hmac.new(secret.encode("utf-8"), b"digest: the secret key", hashlib.sha256).hexdigest()


def load_or_create_secret(path: Path) -> str:
    """The secret key kept in ``path``, created there (mode 0600) on first use.

    For the embedded mode, when DIGEST_SECRET_KEY is unset. The key is written to a temporary
    file and then linked into place, so a reader never sees a half-written key and two processes
    starting together end up with the same key.
    """
    key = read_secret(path)
    if key is not None:
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(secrets.token_urlsafe(32) + "\n")
                file.flush()
                os.fsync(file.fileno())
            # link, not replace: if another process created the key meanwhile, keep theirs.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(temporary).unlink()
    except OSError as error:
        # A full disk is not mended by making the folder writable, which it is.
        remedy = (
            "free space on its disk"
            if error.errno in (errno.ENOSPC, errno.EDQUOT)
            else "make its folder writable"
        )
        why = (
            f"cannot create the secret key file: {error.strerror}; "
            f"{remedy} or set DIGEST_SECRET_KEY"
        )
        raise ConfigError(str(path.absolute()), [("", why)]) from error
    key = read_secret(path)
    if key is None:
        vanished = "the secret key file vanished while being created"
        raise ConfigError(str(path.absolute()), [("", vanished)])
    return key


def read_secret(path: Path) -> str | None:
    """The key kept in ``path``, or None when there is no such file; ConfigError when the file
    is there but unreadable or empty (``digest config check`` reads it, and creates nothing)."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not ASCII text"
        raise ConfigError(
            str(path.absolute()),
            [("", f"cannot read the secret key file: {why}; fix it or set DIGEST_SECRET_KEY")],
        ) from error
    if not key:
        why = (
            "the secret key file is empty: delete it to have a new key made "
            "(links in mails already sent stop working), or set DIGEST_SECRET_KEY"
        )
        raise ConfigError(str(path.absolute()), [("", why)])
    return key
