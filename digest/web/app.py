"""The web app: ``create_app(services)`` gives the Starlette app that ``digest serve`` runs.

    request ─► BasePath ─► SecurityHeaders ─► RequestLimits ─► router
                                                ├─ /, /healthz, /static/site.css    (home)
                                                ├─ /subscribe/{list}, /embed/{list},
                                                │  /confirm/{token}                 (signup)
                                                ├─ /unsubscribe/{token}            (unsubscribe)
                                                ├─ /preferences/{token}            (preferences)
                                                ├─ /editions/{list}[/{slot}|/feed.atom] (archive)
                                                ├─ /images/{id}.jpg|png             (images)
                                                └─ /webhooks/ses, /webhooks/mailgun (webhooks)

``BasePath`` lets the pages be reached under ``service.base_url``'s path whether the proxy in
front strips it or passes it on: "/news/unsubscribe/TOKEN" is "/unsubscribe/TOKEN".

Routes are thin: they read the request, call the store or ``digest.unsubscribes`` (in a thread:
the store is synchronous) and render a template. Errors become pages in the site's look: 404 and
405 say what to do, a database that does not answer is a 503 that asks to come back shortly, and
a bug is a 500 page with the same headers as every other page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from digest.errors import StoreUnavailableError
from digest.inbound.providers import Webhooks, webhooks_for
from digest.services import Services, signing_secret
from digest.web import archive, home, images, preferences, signup, unsubscribe, webhooks
from digest.web.cache import PageCache
from digest.web.clients import trusted_networks
from digest.web.context import WebContext, web_context
from digest.web.forms import FormTokens
from digest.web.pages import Pages
from digest.web.ratelimits import LimitsUnavailable, SignUpLimits, sign_up_limits
from digest.web.security import (
    BODY_LIMIT,
    RequestLimits,
    SecurityHeaders,
    default_headers,
    embed_csp,
    path_for_log,
)
from digest.web.signups import QueueUnavailable, SignUpQueue, sign_up_queue

_log = logging.getLogger(__name__)


def create_app(
    services: Services,
    *,
    body_limit: int = BODY_LIMIT,
    signups: SignUpQueue | None = None,
    limits: SignUpLimits | None = None,
    providers: Webhooks | None = None,
) -> Starlette:
    """The readers' web app on ``services`` (its store, signer, clock and settings). Sign-ups
    go to ``signups`` (by default a thread with the configured transport, or the workers in
    the distributed mode) under ``limits`` (by default those of ``[web]``); the providers'
    webhooks are ``providers`` (by default those the config enables)."""
    settings = services.settings
    routes = [
        *home.routes,
        *signup.routes,
        *unsubscribe.routes,
        *preferences.routes,
        *archive.routes,
        *images.routes,
        *webhooks.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(BasePath, root=urlsplit(settings.service.base_url).path, routes=routes),
            Middleware(SecurityHeaders, https=settings.service.base_url.startswith("https:")),
            Middleware(
                RequestLimits,
                limit=body_limit,
                wider={webhooks.PREFIX: webhooks.WEBHOOK_BODY_LIMIT},
            ),
        ],
        exception_handlers={
            HTTPException: _http_error,
            OperationalError: _store_down,
            InterfaceError: _store_down,
            StoreUnavailableError: _store_down,
            LimitsUnavailable: _store_down,
            QueueUnavailable: _store_down,
            # Starlette answers this one outside every middleware: the page sets the headers.
            Exception: _server_error,
        },
    )
    # Starlette's own redirect of "/editions/daily/" writes an absolute URL from the request's
    # Host and scheme: behind an https proxy it sent readers to plain http, and any Host header
    # went into the Location. The 404 handler redirects to a path of base_url's instead.
    app.router.redirect_slashes = False
    app.state.web = WebContext(
        services=services,
        pages=Pages(settings),
        forms=FormTokens(
            signing_secret(settings), services.clock, base_url=settings.service.base_url
        ),
        archive_cache=PageCache(services.clock),
        signups=signups or sign_up_queue(services),
        limits=limits or sign_up_limits(settings),
        trusted_proxies=trusted_networks(settings.web.trusted_proxies),
        webhooks=providers if providers is not None else webhooks_for(services),
        settings_written=_written_at(settings.source),
    )
    return app


def _written_at(config: Path) -> datetime | None:
    """When ``config`` was last written; None for settings built without a file."""
    try:
        return datetime.fromtimestamp(config.stat().st_mtime, UTC)
    except (OSError, ValueError, OverflowError):
        return None


class BasePath:
    """Takes ``root`` (base_url's path, "/news") off the front of a request's path, so that the
    routes answer "/news/unsubscribe/TOKEN" as "/unsubscribe/TOKEN": the mail's links carry
    base_url's path, and a proxy that passes it on (nginx's ``proxy_pass`` with no URI does)
    made every link of every mail a 404, the one-click unsubscribe among them. The root is
    taken off only when a route answers what is left (trailing slashes aside), so a proxy that
    strips the root is served as before even when the root reads like a route's start
    ("/editions" and "/editions/daily"). The path the routes see is then the same either way,
    and so are the form tokens issued for it."""

    def __init__(self, app: ASGIApp, *, root: str, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.raw_root = root.rstrip("/").encode("ascii", "replace")  # as the request writes it
        self.root = unquote(root.rstrip("/"))  # as ASGI's decoded path has it
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = self._below_root(scope) if scope["type"] == "http" else None
        if rest is not None:
            raw: bytes | None = scope.get("raw_path")
            if raw is not None and raw.startswith(self.raw_root):
                raw = raw[len(self.raw_root) :] or b"/"
            scope = {**scope, "path": rest, "raw_path": raw}
        await self.app(scope, receive, send)

    def _below_root(self, scope: Scope) -> str | None:
        """The path without the root when a route answers it, else None."""
        path: str = scope["path"]
        if not self.root or not (path == self.root or path.startswith(self.root + "/")):
            return None
        rest = path[len(self.root) :] or "/"
        probe = {**scope, "path": rest.rstrip("/") or "/"}
        if any(route.matches(probe)[0] is not Match.NONE for route in self.routes):
            return rest
        return None


def _framing(request: Request) -> dict[str, str]:
    """The policy of an answer under /embed/: shown in the newsroom's frame (a list no longer
    sent, the broker down), where a page that forbade framing showed the browser's refusal.
    No header for the other pages, which keep the policy that forbids every frame."""
    if not request.url.path.startswith(signup.EMBED_PREFIX):
        return {}
    origins = web_context(request).services.settings.web.embed_origins
    return {"content-security-policy": embed_csp(origins)}


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    pages = web_context(request).pages
    if error.status_code == 404:
        twin = _without_trailing_slash(request)
        if twin is not None:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"{pages.root}{twin}{query}", status_code=307)
        return pages.error(
            404,
            "No such page",
            "There is nothing at this address. It may have been mistyped; the list of "
            "newsletters links to every archive.",
            headers=_framing(request),
        )
    if error.status_code == 405:
        return pages.error(
            405,
            "Not a way to ask for this page",
            "This address answers to other requests: open it as a link.",
            headers={**(error.headers or {}), "Allow": _allowed(request), **_framing(request)},
        )
    return pages.error(
        error.status_code,
        "The request could not be read",
        error.detail,
        headers=_framing(request),
    )


def _allowed(request: Request) -> str:
    """The methods of every route at the request's path: a path's GET and POST are two routes,
    and Starlette's 405 named the first one's alone ("Allow: GET, HEAD" at an unsubscribe link,
    whose POST is RFC 8058's one-click)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods, key=lambda method: (_METHOD_ORDER.get(method, 9), method)))


_METHOD_ORDER = {"GET": 0, "HEAD": 1, "POST": 2}


def _without_trailing_slash(request: Request) -> str | None:
    """The path without its trailing slashes when a route answers it ("/editions/daily/"
    is "/editions/daily"), else None."""
    path = request.url.path
    twin = path.rstrip("/")
    if not twin or twin == path:
        return None
    scope = {**request.scope, "path": twin}
    for route in request.app.router.routes:
        if route.matches(scope)[0] is not Match.NONE:
            return twin
    return None


async def _server_error(request: Request, error: Exception) -> Response:
    web = web_context(request)
    https = web.services.settings.service.base_url.startswith("https:")
    headers = default_headers(https)
    framing = _framing(request)
    if framing:
        del headers["x-frame-options"]  # DENY would forbid what frame-ancestors allows
    return web.pages.error(
        500,
        "Something went wrong on our side",
        "Nothing was changed. Please try again in a few minutes; if it keeps happening, reply "
        "to one of our mails to tell us.",
        headers=headers | framing,
    )


async def _store_down(request: Request, error: Exception) -> Response:
    path = path_for_log(request.url.path)
    _log.error("the store failed during %s %s: %s", request.method, path, error)
    web = web_context(request)
    return web.pages.error(
        503,
        "Please try again in a few minutes",
        "The service cannot reach its records just now. Nothing was changed; the same link "
        "will work again shortly.",
        headers={"Retry-After": "120", **_framing(request)},
    )
