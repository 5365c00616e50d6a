"""The ``digest`` command line; each module adds its commands to the one Typer app."""

from __future__ import annotations

from digest.cli import commands as _commands  # noqa: F401  (registers the commands)
from digest.cli import db_copy as _db_copy  # noqa: F401  (registers the command)
from digest.cli import edition_preview as _edition_preview  # noqa: F401  (registers the command)
from digest.cli import feeds as _feeds  # noqa: F401  (registers the commands)
from digest.cli import inbound as _inbound  # noqa: F401  (registers the command)
from digest.cli import prune as _prune  # noqa: F401  (registers the command)
from digest.cli import schedule as _schedule  # noqa: F401  (registers the command)
from digest.cli import send as _send  # noqa: F401  (registers the command)
from digest.cli import service as _service  # noqa: F401  (registers the commands)
from digest.cli import status as _status  # noqa: F401  (registers the commands)
from digest.cli import subscribers as _subscribers  # noqa: F401  (registers the commands)
from digest.cli import topics as _topics  # noqa: F401  (registers the commands)
from digest.cli import web as _web  # noqa: F401  (registers the command)
from digest.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
