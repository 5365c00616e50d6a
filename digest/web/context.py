"""What every route of the web app is handed: services, pages, form tokens, the archive cache,
the sign-up queue and rate limits, the providers' webhooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import Request

from digest.inbound.providers import Webhooks
from digest.services import Services
from digest.web.cache import PageCache
from digest.web.clients import Network
from digest.web.forms import FormTokens
from digest.web.pages import Pages
from digest.web.ratelimits import SignUpLimits
from digest.web.signups import SignUpQueue

T = TypeVar("T")
P = ParamSpec("P")
# The store's calls at once: the size of SQLAlchemy's connection pool (5). More threads than
# connections make the pool open and close a connection per request past the fifth (PostgreSQL's
# one-click rate fell from 600 to 350 a second with Starlette's default of 40 threads), and the
# unsubscribes take turns at the suppression file anyway.
STORE_THREADS = 5


class StoreThreads:
    """Runs the synchronous store's calls in threads, at most ``size`` at a time."""

    def __init__(self, size: int = STORE_THREADS) -> None:
        self._size = size
        self._limiter: CapacityLimiter | None = None  # made inside the event loop, on first use

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._limiter is None:
            self._limiter = CapacityLimiter(self._size)
        return await anyio.to_thread.run_sync(
            partial(function, *args, **kwargs), limiter=self._limiter
        )


@dataclass(frozen=True, slots=True)
class WebContext:
    services: Services
    pages: Pages
    forms: FormTokens
    archive_cache: PageCache
    signups: SignUpQueue  # where a sign-up goes once answered (digest.web.signups)
    limits: SignUpLimits
    trusted_proxies: tuple[Network, ...] = ()
    webhooks: Webhooks = field(default_factory=Webhooks)  # those the config enables
    store_threads: StoreThreads = field(default_factory=StoreThreads)
    # When the config file the pages are made of was last written: a page is no older than its
    # settings (a list's name, timezone), whatever the date of the edition it shows.
    settings_written: datetime | None = None


def web_context(request: Request) -> WebContext:
    """The context ``create_app`` put on the app."""
    context: WebContext = request.app.state.web
    return context
