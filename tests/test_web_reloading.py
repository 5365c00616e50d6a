"""digest.web.reloading: the readers' app swapped for one on the edited config, never mid-request.

The apps here are small ASGI functions that answer with their settings' list slugs, so that
each answer says which settings served it; the config is the example's, in a real file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from digest.config import Settings, load_settings
from digest.errors import StoreUnavailableError
from digest.web.reloading import ReloadingApp, Served
from tests.test_end_to_end import example_config


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Builds:
    """Builds apps that answer with their lists' slugs; records what was closed. An app built
    ``held`` holds its first request until ``release`` is set; ``broken`` builds raise as a
    lost database."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.closed: list[tuple[str, ...]] = []
        self.broken = 0

    def __call__(self, settings: Settings, *, held: bool = False) -> Served:
        if self.broken:
            self.broken -= 1
            raise StoreUnavailableError("postgresql://db.example/digest", "connection refused")
        slugs = tuple(entry.slug for entry in settings.lists)

        holding = [held]

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if holding.pop() if holding else False:
                await self.release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": ",".join(slugs).encode()})

        return Served(settings, app, close=lambda: self.closed.append(slugs))


async def ask(app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> str:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send)
    return bytes(sent[-1]["body"]).decode()


async def answered(app: ReloadingApp, expected: str, clock: Clock) -> None:
    """Ask, a (fake) second apart, until the answer is ``expected``: the file is read in a
    thread, so the swap comes a few real moments after the request that saw the edit."""
    for _ in range(200):
        if await ask(app) == expected:
            return
        clock.now += 1.0
        await asyncio.sleep(0.02)
    raise AssertionError(f"never answered {expected!r}")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return example_config(tmp_path, smtp_port=None)


def without_weekly(text: str) -> str:
    table = text[text.index('[[lists]]\nslug = "gulf-weekly"') :]
    end = table.find("\n\n")  # the next table, or the file's end
    return text.replace(table if end < 0 else table[: end + 2], "")


def test_an_edit_is_served_after_a_check_and_the_old_app_closes_once_its_requests_end(
    config: Path,
) -> None:
    async def scenario() -> None:
        builds, clock = Builds(), Clock()
        first = builds(load_settings(config), held=True)
        app = ReloadingApp(first, builds, monotonic=clock)
        in_hand = asyncio.create_task(ask(app))  # taken by the first app, held there
        await asyncio.sleep(0.01)

        config.write_text(without_weekly(config.read_text()))
        clock.now += 0.5  # within a second of the last look at the file: not read yet
        assert await ask(app) == "middle-east-daily,gulf-weekly"
        await asyncio.sleep(0.2)
        assert await ask(app) == "middle-east-daily,gulf-weekly"

        await answered(app, "middle-east-daily", clock)
        assert app.settings.lists[0].slug == "middle-east-daily" and len(app.settings.lists) == 1
        await asyncio.sleep(0.2)
        assert builds.closed == []  # its request in hand is not answered yet
        builds.release.set()
        assert await in_hand == "middle-east-daily,gulf-weekly"
        for _ in range(100):
            if builds.closed:
                break
            await asyncio.sleep(0.02)
        assert builds.closed == [("middle-east-daily", "gulf-weekly")]

        app.close()  # at shutdown: the app in force
        assert builds.closed[-1] == ("middle-east-daily",)

    asyncio.run(scenario())


def test_an_edit_whose_services_cannot_be_built_is_said_once_and_tried_again(
    config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        builds, clock = Builds(), Clock()
        app = ReloadingApp(builds(load_settings(config)), builds, monotonic=clock)
        builds.broken = 3  # the database is down for the next three tries
        config.write_text(without_weekly(config.read_text()))
        with caplog.at_level(logging.ERROR, logger="digest.web.reloading"):
            await answered(app, "middle-east-daily", clock)
        refusals = [r for r in caplog.records if "config edit refused" in r.getMessage()]
        assert len(refusals) == 1
        assert "cannot reach" in refusals[0].getMessage() or "connection refused" in (
            refusals[0].getMessage()
        )
        assert builds.broken == 0

    asyncio.run(scenario())


def test_a_new_listening_address_is_said_to_wait_for_the_next_start(
    config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        builds, clock = Builds(), Clock()
        app = ReloadingApp(builds(load_settings(config)), builds, monotonic=clock)
        config.write_text(without_weekly(config.read_text()) + "\n[web]\nport = 8099\n")
        with caplog.at_level(logging.INFO, logger="digest.web.reloading"):
            await answered(app, "middle-east-daily", clock)
        said = caplog.text
        assert "web.host and web.port apply at the next start of digest serve" in said
        assert f"{config} changed: the pages are served on it" in said

    asyncio.run(scenario())
