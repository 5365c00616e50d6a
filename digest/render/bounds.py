"""How much of an edition the mail shows, tried in turn until its HTML fits under Gmail's clip."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from digest.render.text import safe_url
from digest.render.views import SectionView, Story

# Bounds on what a feed may put into an edition, so that 25 articles with the longest of
# everything stay under Gmail's 102 KB clipping limit (tests/test_render.py measures it).
LEAD_SUMMARY_CHARS = 480
SUMMARY_CHARS = 300
TITLE_CHARS = 160
NAME_CHARS = 60  # an author or a feed name
# A picture's alt text: the publisher's description, cut to what a screen reader says in a breath
# and what a mail app's box for a held-back picture shows in a few lines.
PICTURE_DESCRIPTION_CHARS = 160
# "Also covered by" names this many outlets and counts the rest: a story forty outlets covered
# otherwise heads the mail with a wall of forty links (and its text part with forty addresses).
ALSO_COVERED_OUTLETS = 5
# "More on this story" lists this many of the outlet's own other reports, and counts the rest:
# a live story updated forty times is one line of headlines, not forty.
MORE_ON_STORY_HEADLINES = 3
LEAD_IMAGE_WIDTH = 528  # the lead picture's width in the mail (email/macros.html.j2)
URL_CHARS = 600  # a longer article link is shown unlinked, a longer image URL not at all
# A compact edition (layout = "compact") is a briefing: shorter summaries for the few it keeps.
COMPACT_LEAD_SUMMARY_CHARS = 320
COMPACT_SUMMARY_CHARS = 200
MIN_PARAGRAPH_CHARS = 40  # a summary's next paragraph is shown only with room for this much
# Gmail clips at about 102 KB (digest.lint.HTML_SIZE_LIMIT); what is left is room for what each
# subscriber's copy adds: the signed unsubscribe link, the address, tracking parameters on links.
HTML_BUDGET = 96_000


@dataclass(frozen=True, slots=True)
class Bounds:
    """How much of each article an edition shows."""

    lead_summary: int
    summary: int
    thumbnails: bool
    lead_image: bool
    # A summary up to an eighth over its bound is shown whole (render.text.shorten_summary).
    overrun: bool = False


# Tried in order until the HTML fits the budget: almost every edition fits the first, so the CSS
# is inlined once; an edition of very long feed text gives up the summaries' overrun first, then
# thumbnails, then shortens summaries.
FALLBACK_BOUNDS = (
    Bounds(LEAD_SUMMARY_CHARS, SUMMARY_CHARS, thumbnails=True, lead_image=True, overrun=True),
    Bounds(LEAD_SUMMARY_CHARS, SUMMARY_CHARS, thumbnails=True, lead_image=True),
    Bounds(320, 200, thumbnails=False, lead_image=True),
    Bounds(200, 120, thumbnails=False, lead_image=False),
    Bounds(0, 0, thumbnails=False, lead_image=False),
)


def bounded_url(url: str | None) -> str | None:
    """``safe_url``, and None for a URL too long to be worth its weight in the edition."""
    checked = safe_url(url)
    return checked if checked is not None and len(checked) <= URL_CHARS else None


def fits(html: str) -> bool:
    return len(html.encode("utf-8")) <= HTML_BUDGET


# Where a story is shown: ("recommended", index) or (section index, index in the section).
Place = tuple[str | int, int]


def leaving_out_order(
    sections: tuple[SectionView, ...], recommended: tuple[Story, ...]
) -> list[Place]:
    """The order in which stories are left out of an HTML too large for the mail: the
    recommended reads from the last, then, one at a time, the last story of the section that
    shows the most (the later of two as long), so that every topic keeps its first stories.
    The lead is never left out."""
    order: list[Place] = [("recommended", index) for index in reversed(range(len(recommended)))]
    left = [len(section.stories) for section in sections]
    while any(left):
        fullest = max(range(len(left)), key=lambda index: (left[index], index))
        left[fullest] -= 1
        order.append((fullest, left[fullest]))
    return order


def stories_without(stories: dict[str, Any], left_out: frozenset[Place]) -> dict[str, Any]:
    sections = tuple(
        replace(
            section,
            stories=tuple(
                story
                for index, story in enumerate(section.stories)
                if (number, index) not in left_out
            ),
        )
        for number, section in enumerate(stories["sections"])
    )
    recommended = tuple(
        story
        for index, story in enumerate(stories["recommended"])
        if ("recommended", index) not in left_out
    )
    return {
        "lead": stories["lead"],
        "sections": tuple(section for section in sections if section.stories),
        "recommended": recommended,
    }
