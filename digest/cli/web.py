"""``digest serve``: the readers' web pages (unsubscribe, archive) on uvicorn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.app import app, console, load_config, log_lines_on_stderr, services_of
from digest.config import Settings
from digest.services import Services

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from digest.web.reloading import Served


def announce(url: str, base_url: str) -> None:
    console.print(
        f"Serving the web pages on [bold]{url}[/] (the links in mail point to {base_url})",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: web.host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on; 0 picks a free one (default: web.port).", min=0, max=65535
        ),
    ] = None,
) -> None:
    """Serve the readers' web pages until stopped: sign-up and its confirmation, preferences,
    unsubscribe (page and one-click), the archive and its Atom feed, the webhooks of the mail
    providers the config enables, and a health check. Ctrl-C, SIGTERM and SIGHUP (a closed
    terminal) stop it once the requests in hand are answered; config edits apply unasked."""
    from digest.web.reloading import ReloadingApp
    from digest.web.server import serve as run_server

    settings = load_config()
    pages = ReloadingApp(served_on(settings), served_on)
    # One dated line each for what the pages and the providers' calls did (a call taken, a
    # refusal, the database not answering), not the config's reloads alone: the rest went,
    # undated, through Python's last resort, or at INFO nowhere.
    log_lines_on_stderr("digest")
    try:
        run_server(
            pages,
            host or settings.web.host,
            settings.web.port if port is None else port,
            announce=lambda url: announce(url, settings.service.base_url),
            key="web.port" if port is None else "--port",
        )
    finally:
        pages.close()


def served_on(settings: Settings) -> Served:
    """The readers' app on ``settings``, with its own services: what ``digest serve`` swaps in
    when the config file is edited."""
    from digest.web.context import WebContext
    from digest.web.reloading import Served

    services = services_of(settings)
    app = readers_app(services)
    web: WebContext = app.state.web

    def close() -> None:
        web.signups.close()  # the sign-ups in hand go out on these services first
        services.close()

    return Served(settings, app, close)


def readers_app(services: Services) -> Starlette:
    """The readers' web app of ``services``: its sign-ups handled by a thread of this process
    in the embedded mode, by the workers (the task ``digest.sign_up``) in the distributed one."""
    from digest.web import create_app

    if services.settings.service.broker_url is None:
        return create_app(services)
    from worker.signups import CeleryQueue

    return create_app(services, signups=CeleryQueue())
