"""What every route of the web app is handed: services, pages, form tokens, the archive cache."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from digest.services import Services
from digest.web.cache import PageCache
from digest.web.forms import FormTokens
from digest.web.pages import Pages


@dataclass(frozen=True, slots=True)
class WebContext:
    services: Services
    pages: Pages
    forms: FormTokens
    archive_cache: PageCache


def web_context(request: Request) -> WebContext:
    """The context ``create_app`` put on the app."""
    context: WebContext = request.app.state.web
    return context
