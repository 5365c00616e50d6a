"""The front page (every list), the health check for load balancers, and the stylesheet."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.errors import DigestError
from digest.web.context import web_context
from digest.web.signup import form_context
from digest.web.words import ENGLISH, words_for
from digest.wording import direction_of

_log = logging.getLogger(__name__)


async def lists_page(request: Request) -> Response:
    """Every list of the config: its name and description in its own language, its archive,
    its sign-up form."""
    web = web_context(request)
    root = web.pages.root
    lists = [
        {
            "name": digest_list.name,
            "description": digest_list.description,
            "language": digest_list.language,
            "direction": direction_of(digest_list.language),
            "archive": f"{root}/editions/{digest_list.slug}",
            "feed": f"{root}/editions/{digest_list.slug}/feed.atom",
            "words": words_for(digest_list.language),
            "form": form_context(web, digest_list, f"/subscribe/{digest_list.slug}"),
        }
        for digest_list in web.services.settings.lists
    ]
    return web.pages.render(
        "web/index.html.j2",
        {"words": ENGLISH, "lists": lists},
        headers={"Cache-Control": "public, max-age=60"},
    )


async def healthz(request: Request) -> Response:
    """200 while the store answers a query, else 503: what a load balancer needs to know."""
    web = web_context(request)
    try:
        await web.store_threads.run(web.services.store.ping)
    except (SQLAlchemyError, DigestError, OSError) as error:
        _log.warning("health check: the store does not answer: %s", error)
        return JSONResponse({"status": "unavailable", "store": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "store": "up"})


async def stylesheet(request: Request) -> Response:
    return web_context(request).pages.stylesheet_response(request)


routes = [
    Route("/", lists_page, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/static/site.css", stylesheet, methods=["GET"]),
]
