"""feedparser's reading of GeoRSS positions, made to fail softly.

A ``<gml:posList>`` of a polygon whose coordinates do not read as numbers raised TypeError inside
feedparser (``_parse_poslist`` subscripts the None its line reader returns), and the whole
document was lost, every entry with it. The digest uses no positions; such a one is now read as
none, as feedparser already reads a bad ``<georss:point>`` or ``<georss:polygon>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import feedparser.namespaces.georss as georss

_original: Callable[..., Any] = georss._parse_poslist


def _parse_poslist(value: str, geom_type: str, swap: bool = True, dims: int = 2) -> Any:
    """feedparser's own reading, or None where it fails on the feed's coordinates."""
    try:
        return _original(value, geom_type, swap=swap, dims=dims)
    except (TypeError, ValueError, IndexError):
        return None


def install() -> None:
    """Make feedparser read positions with ``_parse_poslist`` (later calls change nothing)."""
    georss._parse_poslist = _parse_poslist
