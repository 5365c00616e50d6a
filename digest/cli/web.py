"""``digest serve``: the readers' web pages (unsubscribe, archive) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.app import app, console, load_config
from digest.services import build_services
from digest.store.db import database_errors


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
        typer.Option(help="Port to listen on; 0 picks a free one (default: web.port).", min=0),
    ] = None,
) -> None:
    """Serve the readers' pages: unsubscribe links, one-click unsubscribe, the archive."""
    from digest.web import create_app
    from digest.web.server import serve as run_server

    settings = load_config()
    with database_errors(settings.service.database_url):
        services = build_services(settings)
    try:
        run_server(
            create_app(services),
            host or settings.web.host,
            settings.web.port if port is None else port,
            announce=lambda url: announce(url, settings.service.base_url),
            key="web.port" if port is None else "--port",
        )
    finally:
        services.close()
