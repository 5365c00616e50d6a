"""What every response carries and every request is held to: security headers, a body limit.

Two plain ASGI middlewares, outermost first:

    request ─► SecurityHeaders ─► RequestLimits ─► the routes
                 adds the headers    headers over HEADER_LIMIT ─► 431
                 a route did not     a body over BODY_LIMIT ─► 413, before reading it (by its
                 set                 Content-Length), or as soon as a chunked one passes it;
                                     a client gone before its body is in ─► no answer, a
                                     debug line (not an error and its traceback)

uvicorn's h11 parser refuses a request head it has not seen the end of within HEADER_LIMIT
bytes (400); one that arrives whole in a single read (up to 64 KiB) reaches us, and the 431
here holds the same limit for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_log = logging.getLogger(__name__)

# The pages: our stylesheet, our images, forms posting back to us; no script anywhere, no frame.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# An archived edition is email HTML: its styles are inline (premailer put them there), its
# pictures come from the feeds' servers, or from our own /images/ (web.images: 'self', which
# https: does not cover on a plain-http base_url). Inline styles are allowed for that route
# alone; scripts stay forbidden (default-src 'none' covers script-src), so even feed HTML the
# sanitizer missed could not run.
EDITION_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


def embed_csp(origins: tuple[str, ...]) -> str:
    """The policy of the embeddable sign-up form (``/embed/LIST``): the page's own, but framed
    by ``web.embed_origins`` ('*': any site; none: no site). The origins were checked when the
    config was read: scheme, host and port, nothing that could end the directive."""
    ancestors = " ".join(origins) if origins else "'none'"
    return PAGE_CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


# The paths whose last part is a reader's token (digest.mail.tokens): it opens that reader's
# unsubscribe, preferences or sign-up to whoever holds it.
_TOKEN_IN_PATH = re.compile(r"(/(?:unsubscribe|preferences|confirm)/)[^/?#]+")


# The pages a reader's token opens (the path as the routes see it, base_url's path taken off).
_READERS_PAGE = re.compile(r"/(?:unsubscribe|preferences|confirm)/")
# Asked of them: a mail forwarded to a list with a public archive hands its links to every
# crawler, and the preferences page shows the reader's name, timezone and newsletters.
_NOT_INDEXED = (b"x-robots-tag", b"noindex, nofollow")
# And their address is never a Referer, not even ours: under same-origin the stylesheet's
# request and a click to the archive carried the token, for a static file server, a CDN in
# front of /static/ or an access log that writes Referer. Not no-referrer, for the reason the
# default gives; strict-origin still names our origin on the forms' posts.
_READERS_REFERRER = (b"referrer-policy", b"strict-origin")


def path_for_log(path: str) -> str:
    """``path`` with any reader's token in it masked ("/unsubscribe/…"): what a log line may
    name of a request. Whoever reads the log (a log shipper, the support desk, a backup) could
    otherwise unsubscribe that reader or change their topics."""
    return _TOKEN_IN_PATH.sub(r"\1…", path)


# Forms are a few hundred bytes; anything much larger is not a reader.
BODY_LIMIT = 16 * 1024
# The request line and every header together; browsers send 1-3 KiB.
HEADER_LIMIT = 16 * 1024


def default_headers(https: bool) -> dict[str, str]:
    """The headers every response carries unless it sets its own."""
    return {name.decode(): value.decode() for name, value in _default_headers(https).items()}


def _default_headers(https: bool) -> dict[bytes, bytes]:
    headers = {
        b"content-security-policy": PAGE_CSP.encode(),
        # Unsubscribe URLs carry a reader's token: no page tells another site where it was.
        # Not no-referrer: under it a browser posts our own forms with "Origin: null", and the
        # forms refuse posts from other origins (digest.web.forms), "null" among them.
        b"referrer-policy": b"same-origin",
        b"x-content-type-options": b"nosniff",
        b"x-frame-options": b"DENY",  # for browsers that predate frame-ancestors
        b"cross-origin-opener-policy": b"same-origin",
        b"permissions-policy": b"camera=(), microphone=(), geolocation=(), interest-cohort=()",
        # Nothing is cached unless its route says it may be (the archive does).
        b"cache-control": b"no-store",
    }
    if https:
        headers[b"strict-transport-security"] = b"max-age=31536000"
    return headers


class SecurityHeaders:
    """Adds the security and cache headers to every response that does not set its own, and
    to those of the pages a reader's token opens, a request not to index them and a referrer
    policy that names no more than our origin."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.defaults = _default_headers(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        readers_page = _READERS_PAGE.match(scope.get("path", "")) is not None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower(): value for name, value in headers}
                if readers_page and _READERS_REFERRER[0] not in present:
                    headers.append(_READERS_REFERRER)
                    present[_READERS_REFERRER[0]] = _READERS_REFERRER[1]
                headers.extend(
                    (name, value)
                    for name, value in self.defaults.items()
                    if name not in present and not _framing_allowed(name, present)
                )
                if readers_page and _NOT_INDEXED[0] not in present:
                    headers.append(_NOT_INDEXED)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _framing_allowed(name: bytes, present: Mapping[bytes, bytes]) -> bool:
    """True for X-Frame-Options on a response whose own policy lets some site frame it (the
    embeddable form): DENY would forbid what its frame-ancestors allow."""
    if name != b"x-frame-options":
        return False
    policy = present.get(b"content-security-policy", b"")
    return b"frame-ancestors" in policy and b"frame-ancestors 'none'" not in policy


class _TooLarge(Exception):
    """The body went past the limit while it was being read."""


class RequestLimits:
    """Refuses request heads over ``header_limit`` bytes (431) and bodies over ``limit`` (413),
    reading no more of a body than the limit. ``wider`` gives the paths under a prefix a limit
    of their own (the providers' webhooks, whose notifications are larger than any form)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = BODY_LIMIT,
        header_limit: int = HEADER_LIMIT,
        wider: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.header_limit = header_limit
        self.wider = dict(wider or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", [])
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
        head += sum(len(name) + len(value) + 4 for name, value in raw_headers)
        if head > self.header_limit:
            await _refuse(send, 431, b"The request headers are too large.\n")
            return
        limit = self._limit_of(scope.get("path", ""))
        declared = _content_length(dict(raw_headers))
        if declared == -1:
            await _refuse(send, 400, b"The Content-Length header is not a number.\n")
            return
        if declared is not None and declared > limit:
            await _refuse(send, 413, b"The request body is too large.\n")
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, noting_send)
        except _TooLarge:
            if started:
                raise
            await _refuse(send, 413, b"The request body is too large.\n")
        except ClientDisconnect:
            # The client left before its body was in (it closed, or dribbled it past the bound
            # on a request's arrival): no one to answer, and no bug to report. Let through, it
            # was logged as an error with a traceback, which any stranger could write at will.
            if started:
                raise
            path = path_for_log(scope.get("path", ""))
            _log.debug("%s %s: the client left before its body was in", scope["method"], path)

    def _limit_of(self, path: str) -> int:
        for prefix, limit in self.wider.items():
            if path.startswith(prefix):
                return limit
        return self.limit


def _content_length(headers: Mapping[bytes, bytes]) -> int | None:
    """The declared body length; None when not declared; -1 when it is no number."""
    value = headers.get(b"content-length")
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        return -1
    return int(text)


async def _refuse(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                # The body was not read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
