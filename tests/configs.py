"""Pieces of the configs the tests write, where many write the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def service_table(folder: Path, **changes: Any) -> dict[str, Any]:
    """The ``[service]`` table of a test's config: an SQLite database and the service's files
    in ``folder``, an https base URL, the sender and the postal address the checks ask for."""
    return {
        "database_url": f"sqlite:///{folder / 'digest.db'}",
        "data_dir": str(folder / "var"),
        "base_url": "https://news.example.org",
        "sender_name": "The Desk",
        "sender_address": "desk@example.org",
        "postal_address": "1 Example Street, Example City",
        **changes,
    }
