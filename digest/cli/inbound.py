"""``digest inbound``: the receiver of bounces, complaints and mailto unsubscribes."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from digest.cli.app import (
    app,
    console,
    load_config,
    log_lines_on_stderr,
    running,
    services_of,
)
from digest.config_edits import CHECK_EVERY
from digest.inbound.server import InboundServer


@app.command()
def inbound(
    host: Annotated[
        str | None, typer.Option("--host", help="Listen on this address (inbound.host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Listen on this port (inbound.port)."),
    ] = None,
    lmtp: Annotated[
        bool | None,
        typer.Option("--lmtp/--smtp", help="Speak LMTP, for a Postfix transport (inbound.lmtp)."),
    ] = None,
) -> None:
    """Receive bounces, complaints and mailto unsubscribes by SMTP or LMTP until stopped
    (Ctrl-C, SIGTERM or SIGHUP); config edits apply unasked."""
    settings = load_config()
    # One line per message taken, ignored (with why) or refused: the operator's record of
    # what came back.
    log_lines_on_stderr("digest.inbound")
    with running(settings) as services:
        server = InboundServer.from_settings(
            services, host=host, port=port, lmtp=lmtp, rebuild=services_of
        )
        server.start()
        stop = threading.Event()

        def terminate(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, terminate)
        signal.signal(signal.SIGHUP, terminate)  # a closed terminal: it follows edits by itself
        console.print(server.describe(), highlight=False)
        try:
            while not stop.wait(CHECK_EVERY):
                server.follow_edits()  # invariant 5: an edit applies without a restart
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
        console.print("Stopped.")
