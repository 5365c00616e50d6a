"""The readers' web side: unsubscribe pages and one-click, the archive, the front page.

``create_app(services)`` (digest.web.app) builds the Starlette app; ``digest.web.server`` runs it
on uvicorn, alone (``digest serve``) or beside the loop (``digest run`` with ``[web] enabled``).
"""

from __future__ import annotations

from digest.web.app import create_app

__all__ = ["create_app"]
