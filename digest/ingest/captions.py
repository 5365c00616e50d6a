"""A story's picture described in the publisher's words: what a reader who does not see it hears.

The mail shows the picture beside the story's headline, so its ``alt`` is what a screen reader
says, and what a mail app that holds pictures back prints in its box. A credit ("Photo · Gulf
Wire") describes nothing and repeats the byline; a description is worth hearing only when the
publisher wrote one. Where feeds write it, best first:

- ``<media:description>`` (kept apart from the story's own description by ``media_guard``),
  unless the entry has no description of its own: a video's then describes the story;
- ``<media:text>``, which some publishers fill with the caption;
- the ``alt`` of the ``<img>`` in the entry's HTML that shows the very picture kept.

``<media:credit>`` is a credit, and ``<media:title>`` most often the file's or the story's name:
neither is read. A description that only repeats the headline, or that is a file's name, is
none: the headline beside the picture already says what the story is, and the mail then gives
the picture an empty ``alt``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from digest.ingest.image_tags import image_sources
from digest.ingest.markup import html_to_text, says_anything, truncate_text

# Characters of a description kept, ellipsis included: a caption, not an article (the longest
# of the captured real feeds' run to about 250).
DESCRIPTION_LIMIT = 300
_FILE_NAME = re.compile(r"^\S+\.(?:jpe?g|png|gif|webp|avif|heic|tiff?)$", re.IGNORECASE)
_ENDING_PUNCTUATION = " .!?:;,…"


def picture_description(
    raw: Mapping[str, Any],
    picture: str | None,
    title: str,
    html: Iterable[tuple[str, str]],
    resolve: Callable[[str, str], str | None],
) -> str | None:
    """The publisher's description of the entry's picture ``picture`` (an absolute address), or
    None. ``html`` is the entry's HTML, each with the address its relative URLs are read
    against, and ``resolve`` makes an ``<img>``'s source absolute as the picture's was."""
    if picture is None:
        return None
    # An entry with no description of its own is described by its media's (a YouTube video's):
    # the story's summary then, not its picture's.
    own = raw.get("summary_detail") or raw.get("content") or raw.get("summary")
    media = raw.get("media_description") if own else None
    for written in (media, raw.get("media_text")):
        if isinstance(written, str) and (description := _described(written, title)):
            return description
    for value, base in html:
        if "<img" not in value.lower():
            continue
        alts: dict[str, str] = {}
        image_sources(value, alts)
        for source, alt in alts.items():
            if resolve(source, base) == picture and (description := _described(alt, title)):
                return description
    return None


def _described(written: str, title: str) -> str | None:
    text = html_to_text(written)  # hostile text as any other: tags, controls and blanks gone
    if not says_anything(text) or _FILE_NAME.match(text):
        return None
    if text.rstrip(_ENDING_PUNCTUATION).casefold() == title.rstrip(_ENDING_PUNCTUATION).casefold():
        return None
    return truncate_text(text, DESCRIPTION_LIMIT)
