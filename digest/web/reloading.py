"""The readers' app on the config as its file says now: ``digest serve`` applies an edit
without a restart (DESIGN invariant 5), as ``digest run``, beat and the workers do.

    request ─► ReloadingApp ─► the app built on the settings in force
                  └─ at most once every CHECK_EVERY seconds, in the background: the file's
                     stat; changed ─► read and checked ─► an app built on it ─► swapped in,
                     the previous one closed once the requests it took are answered

No request waits for a reload: each is answered by the app in force when it came, and those
after the swap by the new one, so a list added to the file gets its sign-up page and a list
removed loses it within a second or two. An edit the checks refuse is logged with the file, the
key and the reason, once, and the previous settings stay in force until the file is fixed; so
do they when the edit's services cannot be built (a database that cannot be opened), which is
tried again at each check and said again only when the reason changes. The address served is
the socket's, bound at start: an edit of ``web.host`` or ``web.port`` is said, and applies at the
next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from digest.config import Settings
from digest.config_edits import CHECK_EVERY, ConfigEdits

_log = logging.getLogger(__name__)

_RETIRE_POLL = 0.05  # seconds between two looks at a replaced app's requests in hand


@dataclass(eq=False)
class Served:
    """An app built on one config, and how to let it go (its services, its sign-up queue)."""

    settings: Settings
    app: ASGIApp
    close: Callable[[], None]
    active: int = 0  # requests in hand


class ReloadingApp:
    """An ASGI app that answers with the app ``build`` made of the config file's latest
    valid settings (module docstring), starting with ``first``."""

    def __init__(
        self,
        first: Served,
        build: Callable[[Settings], Served],
        *,
        environ: Mapping[str, str] = os.environ,
        check_every: float = CHECK_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._served = first
        self._edits = ConfigEdits(first.settings, build, log=_log, environ=environ)
        self._check_every = check_every
        self._monotonic = monotonic
        self._checked = monotonic()
        self._checking: asyncio.Task[None] | None = None
        self._replaced: list[Served] = []  # swapped out, not yet closed
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def settings(self) -> Settings:
        """The settings in force."""
        return self._served.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        now = self._monotonic()
        if self._checking is None and now - self._checked >= self._check_every:
            self._checked = now
            self._checking = asyncio.get_running_loop().create_task(self._check())
        served = self._served
        served.active += 1
        try:
            await served.app(scope, receive, send)
        finally:
            served.active -= 1

    def close(self) -> None:
        """Close the app in force and every replaced one not closed yet (at shutdown)."""
        for served in (*self._replaced, self._served):
            served.close()
        self._replaced.clear()

    async def _check(self) -> None:
        try:
            await self._reload_if_edited()
        except Exception:  # a bug here must not stop the pages, which go on as they are
            _log.exception("reading the config again failed; the previous settings stay in force")
        finally:
            self._checking = None

    async def _reload_if_edited(self) -> None:
        taken = await anyio.to_thread.run_sync(self._edits.take)
        if taken is None:
            return
        fresh, served = taken
        current = self._served.settings
        if (fresh.web.host, fresh.web.port) != (current.web.host, current.web.port):
            _log.warning(
                "%s: web.host and web.port apply at the next start of digest serve; the pages "
                "stay on the address they are served at",
                fresh.source,
            )
        replaced, self._served = self._served, served
        _log.info("%s changed: the pages are served on it", fresh.source)
        self._replaced.append(replaced)
        task = asyncio.get_running_loop().create_task(self._retire(replaced))
        self._retiring.add(task)  # held: the loop keeps only a weak reference to a task
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, replaced: Served) -> None:
        """Close ``replaced`` once the requests it took are answered."""
        while replaced.active:
            await asyncio.sleep(_RETIRE_POLL)
        if replaced in self._replaced:  # not closed by close() meanwhile
            self._replaced.remove(replaced)
            await anyio.to_thread.run_sync(replaced.close)
