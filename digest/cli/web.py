"""``digest serve``: the readers' web pages (unsubscribe, archive) on uvicorn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.app import app, console, load_config
from digest.services import Services, build_services
from digest.store.db import database_errors

if TYPE_CHECKING:
    from starlette.applications import Starlette


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
    """Serve the readers' pages: unsubscribe links, one-click unsubscribe, the archive."""
    from digest.web.server import serve as run_server

    settings = load_config()
    with database_errors(settings.service.database_url):
        services = build_services(settings)
    try:
        run_server(
            readers_app(services),
            host or settings.web.host,
            settings.web.port if port is None else port,
            announce=lambda url: announce(url, settings.service.base_url),
            key="web.port" if port is None else "--port",
        )
    finally:
        services.close()


def readers_app(services: Services) -> Starlette:
    """The readers' web app of ``services``: its sign-ups handled by a thread of this process
    in the embedded mode, by the workers (the task ``digest.sign_up``) in the distributed one."""
    from digest.web import create_app

    if services.settings.service.broker_url is None:
        return create_app(services)
    from worker.signups import CeleryQueue

    return create_app(services, signups=CeleryQueue())
