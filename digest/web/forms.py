"""Signed form tokens: each form carries one, so a form posted from another site is refused.

No session store and no cookie: the token is an HMAC (the service's secret key, its own salt)
over the form's action and the time it was issued. A post is taken only with a token issued for
that action within ``MAX_AGE``. Every form of the web pages (the unsubscribe button now, sign-up
and preferences later) takes ``form_token`` this way.

A token proves the form came from one of our pages, not that the post did: any site can fetch a
page, take its token and have its visitors' browsers post it (a sign-up aimed at one address from
a thousand visitors' addresses escapes every per-client limit). So a post whose ``Origin``
header names another origin than ``service.base_url``'s is refused as well, as an expired form
is (the page again, with a fresh token). A post with no ``Origin`` is taken: browsers older than
2020 and some privacy tools send none, and the token still stands. ``Origin: null`` (a sandboxed
frame, a ``data:`` page) is another site. The Host header is not compared: with a name of its
own pointed at this server (DNS rebinding), a site's posts would carry a matching Host.

The RFC 8058 one-click POST is the one post without a token or an origin check: mailbox
providers send it with no cookie and no page, and the unsubscribe token in its URL is what
authorises it.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadSignature, Signer
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from digest.clock import Clock
from digest.web.security import path_for_log

_log = logging.getLogger(__name__)

FIELD = "form_token"
SALT = "web-form"
MAX_AGE = timedelta(hours=12)
_CLOCK_SKEW = timedelta(minutes=5)  # several web processes whose clocks differ a little


class FormTokens:
    """Issues and checks the ``form_token`` of each form."""

    def __init__(self, secret: str, clock: Clock, *, base_url: str) -> None:
        self._signer = Signer(secret, salt=SALT)
        self._clock = clock
        self._origin = origin_of(base_url)
        self._base_url = base_url

    def accepts(self, request: Request, form: FormData) -> bool:
        """True for a form posted from one of our pages: from our origin (or one the browser
        did not name) and with a token issued for the path it was posted to."""
        if not self.from_our_origin(request):
            # Said in the log: an operator trying the pages at another address than base_url's
            # (a loopback port behind the proxy) sees every form refused as expired.
            _log.warning(
                "a form posted to %s from a page of %s was refused: not the origin of "
                "service.base_url (%s)",
                path_for_log(request.url.path),
                request.headers.get("origin", "")[:200],
                self._base_url,
            )
            return False
        return self.valid(form.get(FIELD), request.url.path)

    def from_our_origin(self, request: Request) -> bool:
        """True for a post from a page of ours, or from one the browser did not name."""
        origin = request.headers.get("origin")
        return origin is None or origin_of(origin) == self._origin

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


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an Origin header, as browsers compare origins: case
    folded, the scheme's default port written out; None for what names no origin ("null")."""
    try:
        parts = urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # "http://[oops]", a port that is no number
        return None
    if not host or port is None:
        return None
    return scheme, host, port


def _action_key(action: str) -> str:
    # A digest, not the path: an unsubscribe path holds a reader's token, which the form's own
    # token need not repeat.
    return hashlib.sha256(action.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _ClientFaultsAtDebug(logging.Filter):
    """Logs python-multipart's records at debug: each says what is wrong with a body a client
    sent ("Expected boundary character…", "Found invalid character…"), which is answered
    with the form again, and as warnings they let any stranger write lines into the log at
    will (Python's last-resort handler printed them, undated, on the stderr of digest serve)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


# The parser's own logger, to which the filter applies (a parent's filters see none of its
# records). The forms are its only use here, and every file is refused (max_files=0).
logging.getLogger("python_multipart.multipart").addFilter(_ClientFaultsAtDebug())


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
