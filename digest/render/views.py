"""What the templates see: an edition's items as stories, links and sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from digest.records import Article
from digest.render.text import Neutralized, neutralize_text

# A run that takes its direction from its first letter, set apart from the text around it.
FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"
# An outlet's name up to this long is kept on one line in the HTML byline: "Foreign Policy"
# wrapped as "Foreign / Policy" under a phone's narrow column read as two names. A longer name
# may wrap, so that it and the time after it (held to it) never run past that column.
OUTLET_UNBROKEN_CHARS = 24


@dataclass(frozen=True, slots=True)
class StoryLink:
    """One of an author's other pieces, shown as a link under a story."""

    title: str
    url: str | None
    feed_name: str
    published: str
    direction: Literal["ltr", "rtl"]
    language: str | None  # its lang attribute where it differs from the text around it


@dataclass(frozen=True, slots=True)
class Story:
    """An edition item as the templates show it: local dates, safe URLs, text direction."""

    article: Article
    title: str
    url: str | None  # None when the link is not http(s): the headline is shown unlinked
    summary: str  # the paragraphs shown, on one line
    author: str | None
    feed_name: str
    published: str  # a time marker: "25 Nov 2026, 09:14" in each subscriber's timezone
    image_url: str | None
    image_height: int | None  # the lead's height at LEAD_IMAGE_WIDTH, when known
    # The picture's alt text: its publisher's description, "" for none; in the language of the
    # report it came from (the story's, or another outlet's report of it).
    image_alt: str
    image_alt_language: str | None
    language: str | None
    direction: Literal["ltr", "rtl"]
    more_from: tuple[StoryLink, ...] = ()
    also_covered_by: tuple[StoryLink, ...] = ()  # other outlets' reports of the story, one each
    also_covered_more: int = 0  # the outlets that covered it too, past those named
    more_on_story: tuple[StoryLink, ...] = ()  # its own outlet's other reports of the story
    more_on_story_more: int = 0  # its own outlet's reports past those listed
    more_from_name: str | None = None  # the person "More from" is from (digest.bylines)
    paragraphs: tuple[str, ...] = ()  # the summary's paragraphs, shown apart
    headline_only: bool = False  # a compact edition's later items: headline, outlet and time
    separator: str = "·"  # between the byline's parts: the list's (digest.wording.Wording)

    @property
    def feed_name_unbroken(self) -> bool:
        """Whether the HTML byline keeps the outlet's name on one line (see the constant)."""
        return len(self.feed_name) <= OUTLET_UNBROKEN_CHARS

    @property
    def byline(self) -> Neutralized:
        """The plain text's byline: author, outlet and time, the time isolated (FSI … PDI) as the
        HTML isolates it by a dir attribute. In a line of the other direction (an English
        story's byline in an Arabic list) a time not isolated was drawn with its day at the far
        end: "نوفمبر، 05:00 غرينتش+4 … 25"."""
        parts = (self.author, self.feed_name)
        time = f"{FIRST_STRONG_ISOLATE}{self.published}{POP_DIRECTIONAL_ISOLATE}"
        parts_shown = [*(neutralize_text(part) for part in parts if part), time]
        return Neutralized(f" {self.separator} ".join(parts_shown))


@dataclass(frozen=True, slots=True)
class SectionView:
    slug: str
    title: str
    stories: tuple[Story, ...]
