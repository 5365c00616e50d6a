"""Signed form tokens: each form carries one, so a form posted from another site is refused.

No session store and no cookie: the token is an HMAC (the service's secret key, its own salt)
over the form's action and the time it was issued. A post is taken only with a token issued for
that action within ``MAX_AGE``. Every form of the web pages (the unsubscribe button now, sign-up
and preferences later) takes ``form_token`` this way.

The RFC 8058 one-click POST is the one post without a token: mailbox providers send it with no
cookie and no page, and the unsubscribe token in its URL is what authorises it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from digest.clock import Clock

FIELD = "form_token"
SALT = "web-form"
MAX_AGE = timedelta(hours=12)
_CLOCK_SKEW = timedelta(minutes=5)  # several web processes whose clocks differ a little


class FormTokens:
    """Issues and checks the ``form_token`` of each form."""

    def __init__(self, secret: str, clock: Clock) -> None:
        self._signer = Signer(secret, salt=SALT)
        self._clock = clock

    def issue(self, action: str) -> str:
        """A token for a form posting to ``action`` (its path), valid for MAX_AGE."""
        issued = int(self._clock.now().timestamp())
        return self._signer.sign(f"{_action_key(action)}.{issued}").decode("ascii")

    def valid(self, token: object, action: str) -> bool:
        """True for a token this service issued for ``action`` less than MAX_AGE ago."""
        if not isinstance(token, str) or len(token) > 200:
            return False
        try:
            value = self._signer.unsign(token).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return False
        key, _, issued_text = value.rpartition(".")
        if key != _action_key(action) or not issued_text.isdigit() or len(issued_text) > 12:
            return False
        now = self._clock.now()
        issued = datetime.fromtimestamp(int(issued_text), now.tzinfo)
        return now - MAX_AGE <= issued <= now + _CLOCK_SKEW


def _action_key(action: str) -> str:
    # A digest, not the path: an unsubscribe path holds a reader's token, which the form's own
    # token need not repeat.
    return hashlib.sha256(action.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def posted_form(
    request: Request, *, max_fields: int = 20, max_part_size: int = 4096
) -> FormData:
    """The posted form of a page, or an empty one when the body is no form we can read (a
    malformed multipart body, an undecodable field, more fields or a longer one than asked):
    an empty form carries no form token, so it changes nothing. No file is ever taken."""
    try:
        return await request.form(max_files=0, max_fields=max_fields, max_part_size=max_part_size)
    except (HTTPException, ValueError, AssertionError):
        return FormData()
