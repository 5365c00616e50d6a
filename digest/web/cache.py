"""Rendered archive pages kept in memory for a short while: they change only when an edition is
stored, and rendering one costs a database query and a template, a hundred times a cache hit.

Used from the event loop only (the routes are coroutines), so it needs no lock. Bounded in both
the number of pages and their age; a page is at most TTL older than the store, which the
archive's own Cache-Control (minutes) already allows browsers and proxies.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.responses import Response

from digest.clock import Clock

TTL = timedelta(seconds=30)
SIZE = 256  # pages of 2 KB (a list page) to 100 KB (an edition): 25 MB at the very most


@dataclass(frozen=True, slots=True)
class _Page:
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    media_type: str | None
    stored_at: datetime


class PageCache:
    """The last SIZE responses put in, each for TTL."""

    def __init__(self, clock: Clock, *, ttl: timedelta = TTL, size: int = SIZE) -> None:
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._pages: OrderedDict[str, _Page] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: str) -> Response | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if self._clock.now() - page.stored_at >= self._ttl:
            del self._pages[key]
            return None
        self._pages.move_to_end(key)
        return Response(
            page.body,
            status_code=page.status,
            headers=dict(page.headers),
            media_type=page.media_type,
        )

    def put(self, key: str, response: Response) -> Response:
        """Keep ``response`` (a complete one, with its body) under ``key``; returns it."""
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        )
        self._pages[key] = _Page(
            bytes(response.body),
            response.status_code,
            headers,
            response.headers.get("content-type"),
            self._clock.now(),
        )
        self._pages.move_to_end(key)
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)
        return response
