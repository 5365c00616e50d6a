"""feedparser's reading of a Media RSS ``<media:description>``, kept to the picture it describes.

feedparser reads ``<media:description>`` as the entry's own description: after a
``<description>`` it becomes a second content, and after a ``<content:encoded>`` it replaces the
summary, so a story whose feed gave its picture a caption was summarized by the caption
("Robots wear boxing gloves during ..."). It is now kept apart, as ``media_description`` on the
entry (or the feed), where ``digest.ingest.captions`` reads it as the picture's description.
"""

from __future__ import annotations

from typing import Any

import feedparser.namespaces.mediarss as mediarss


def _start_media_description(self: Any, attrs_d: dict[str, str]) -> None:
    self.push("media_description", 1)


def _end_media_description(self: Any) -> None:
    # feedparser's pop stores the text on the entry as "media_description" (the outermost
    # one when several are nested: a <media:group>'s over its renditions').
    self.pop("media_description")


def install() -> None:
    """Make feedparser read ``<media:description>`` as above (later calls change nothing)."""
    mediarss.Namespace._start_media_description = _start_media_description
    mediarss.Namespace._end_media_description = _end_media_description
