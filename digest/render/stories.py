"""An edition's items as the stories the templates show: headline, summary, byline, time, links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from digest import placeholders
from digest.bylines import Bylines, without_outlet, written_author
from digest.config import ListSettings, Settings
from digest.images.records import Pictures, Role
from digest.ingest import summaries
from digest.ingest.markup import says_anything
from digest.ingest.pictures import story_picture
from digest.records import Article, Edition, EditionItem
from digest.render.bounds import (
    ALSO_COVERED_OUTLETS,
    COMPACT_LEAD_SUMMARY_CHARS,
    COMPACT_SUMMARY_CHARS,
    MIN_PARAGRAPH_CHARS,
    MORE_ON_STORY_HEADLINES,
    NAME_CHARS,
    PICTURE_DESCRIPTION_CHARS,
    TITLE_CHARS,
    Bounds,
    bounded_url,
)
from digest.render.pictures import kept_by, picture_address
from digest.render.text import (
    Neutralized,
    one_line,
    script_language,
    shorten,
    shorten_summary,
    text_direction,
    with_full_stop,
)
from digest.render.views import SectionView, Story, StoryLink
from digest.tracking import NONE as NO_TRACKING
from digest.tracking import with_parameters
from digest.wording import Wording, direction_of


class StoryViews:
    """An edition's items as the stories the templates show, with the feeds' bylines read once."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bylines = Bylines.for_feeds(settings.feeds)

    def stories(
        self,
        edition: Edition,
        zone: ZoneInfo,
        words: Wording,
        bounds: Bounds,
        tracking: dict[str, str] = NO_TRACKING,
        summaries: int | None = None,
        pictures: Pictures | None = None,
    ) -> dict[str, Any]:
        """The lead, sections and recommended stories of the context, within ``bounds``; with
        ``summaries``, only that many items after the lead keep their summary and picture, and
        the pieces under an item's "More from" follow it as headlines of their own."""
        story = partial(self._story, zone=zone, words=words, tracking=tracking)
        headline = partial(story, summary_chars=0, image=False, brief=True)
        full = partial(story, image=bounds.thumbnails, overrun=bounds.overrun, pictures=pictures)
        shown = 0

        def item_stories(item: EditionItem) -> Iterator[Story]:
            nonlocal shown
            shown += 1
            if summaries is None:
                yield full(item, summary_chars=bounds.summary)
                return
            if shown > summaries:
                yield headline(item)
            else:
                # A briefing's summaries are short, and its authors' other pieces wait for the web.
                compact = min(bounds.summary, COMPACT_SUMMARY_CHARS)
                yield full(item, summary_chars=compact, more_from=False)
            # A compact item shows no "More from": the pieces compose moved under it would be in
            # no part of the mail, nor on the web copy, which is the mail's HTML.
            for piece in item.more_from:
                yield headline(EditionItem(piece, item.topic))

        lead_summary = bounds.lead_summary
        if summaries is not None:
            lead_summary = min(lead_summary, COMPACT_LEAD_SUMMARY_CHARS)
        lead = (
            full(edition.lead, summary_chars=lead_summary, image=bounds.lead_image, role="lead")
            if edition.lead
            else None
        )
        sections = tuple(
            SectionView(
                slug=section.topic,
                title=section.title,
                stories=tuple(story for item in section.items for story in item_stories(item)),
            )
            for section in edition.sections
            if section.items
        )
        recommended = tuple(story for item in edition.recommended for story in item_stories(item))
        return {"lead": lead, "sections": sections, "recommended": recommended}

    def _story(
        self,
        item: EditionItem,
        zone: ZoneInfo,
        words: Wording,
        summary_chars: int,
        *,
        image: bool,
        tracking: dict[str, str] = NO_TRACKING,
        brief: bool = False,
        more_from: bool = True,
        pictures: Pictures | None = None,
        role: Role = "thumb",
        overrun: bool = False,
    ) -> Story:
        """``item`` as the templates show it; ``brief``: as a headline, without "More from"."""
        more_from = more_from and not brief
        article = item.article
        other_outlets = _other_outlets(article, item.also_covered_by)
        own_outlet = _own_outlet(article, item)
        title = _headline(article, words)
        # The plain-text summary: safer than feed HTML, and it reads the same in every mail app.
        paragraphs = (
            _summary_paragraphs(article, summary_chars, overrun=overrun) if summary_chars else ()
        )
        summary = " ".join(paragraphs)
        if summary.rstrip(".") == one_line(article.title).rstrip("."):
            summary, paragraphs = "", ()  # feeds that repeat the title as the summary
        private = self._settings.ingest.allow_private_addresses
        pictured = story_picture(item, kept_by(pictures, role, private)) if image else None
        image_url, image_height = (
            picture_address(pictured, role, pictures) if pictured is not None else (None, None)
        )
        return Story(
            article=article,
            title=title,
            url=with_parameters(bounded_url(article.link), tracking),
            summary=summary,
            paragraphs=paragraphs,
            # Without the outlet's own name: the byline prints it right after.
            author=shorten(
                without_outlet(written_author(article.author), article.feed_name) or "",
                NAME_CHARS,
            )
            or None,
            feed_name=shorten(article.feed_name, NAME_CHARS),
            published=_time(_shown_time(article)),
            image_url=image_url,
            image_height=image_height,
            # The publisher's words for the picture, or none: a credit describes nothing, and
            # the headline beside it already says what the story is (digest.ingest.captions).
            image_alt=shorten(pictured.image_description or "", PICTURE_DESCRIPTION_CHARS)
            if pictured is not None
            else "",
            image_alt_language=_story_language(pictured) if pictured is not None else None,
            language=_story_language(article),
            direction=text_direction(article),
            more_from=()
            if not more_from
            else tuple(_story_link(other, words, tracking) for other in item.more_from),
            more_from_name=(
                shorten(person, NAME_CHARS)
                if item.more_from
                and more_from
                and (person := self._bylines.shared_person(article, item.more_from))
                else None
            ),
            headline_only=brief,
            also_covered_by=tuple(
                _story_link(other, words, tracking)
                for other in other_outlets[:ALSO_COVERED_OUTLETS]
            ),
            also_covered_more=max(0, len(other_outlets) - ALSO_COVERED_OUTLETS),
            more_on_story=tuple(
                _story_link(other, words, tracking)
                for other in own_outlet[:MORE_ON_STORY_HEADLINES]
            ),
            more_on_story_more=max(0, len(own_outlet) - MORE_ON_STORY_HEADLINES),
            separator=words.separator,
        )


def summaries_shown(digest_list: ListSettings) -> int | None:
    """How many items after the lead keep their summary: all (None) unless the list is compact."""
    return digest_list.compact_summaries if digest_list.layout == "compact" else None


def _headline(article: Article, words: Wording) -> str:
    """The article's title as a headline, or "(untitled)" when it shows nothing: stored before
    ingest took such titles for missing, one of zero-width characters or punctuation alone would
    be a link with nothing to click and an empty subject."""
    title = shorten(article.title, TITLE_CHARS)
    return title if says_anything(title) else words.untitled


def _story_link(article: Article, words: Wording, tracking: dict[str, str]) -> StoryLink:
    """A one-line link to another article beside a story ("More from", "Also covered by")."""
    return StoryLink(
        title=_headline(article, words),
        url=with_parameters(bounded_url(article.link), tracking),
        feed_name=shorten(article.feed_name, NAME_CHARS),
        published=_time(_shown_time(article)),
        direction=text_direction(article),
        language=_story_language(article),
    )


def _outlet_key(article: Article) -> str:
    return one_line(article.feed_name).casefold()


def _other_outlets(article: Article, reports: tuple[Article, ...]) -> list[Article]:
    """The reports that "Also covered by" names: one per outlet (the first), none of the item's
    own outlet, whose other reports are named by their headlines instead ("More on this story").
    "Also covered by: ABC News" under an ABC News story, or "Gulf Wire, Gulf Wire", reads as
    a slip."""
    seen = {_outlet_key(article)}
    shown = []
    for report in reports:
        if _outlet_key(report) not in seen:
            seen.add(_outlet_key(report))
            shown.append(report)
    return shown


def _own_outlet(article: Article, item: EditionItem) -> list[Article]:
    """The item's own outlet's other reports of its story, each headline once and none the
    item's own: an outlet's copy of the same article under another address says nothing new."""
    seen = {one_line(article.title).casefold()}
    shown = []
    for report in item.also_covered_by:
        title = one_line(report.title).casefold()
        if _outlet_key(report) == _outlet_key(article) and title not in seen:
            seen.add(title)
            shown.append(report)
    return shown


def _summary_paragraphs(article: Article, limit: int, *, overrun: bool) -> tuple[str, ...]:
    """The summary's first paragraphs, at most ``summaries.MAX_PARAGRAPHS`` (the rest joins the
    last) and ``limit`` characters in all, cleaned as ingest cleans them (a summary stored
    before ingest knew a dateline, a credit or a promotion is shown as a new one would be),
    without a bare source tag and without the headline again."""
    paragraphs = summaries.paragraphs_of(article.summary_html)
    if not paragraphs:
        paragraphs = [one_line(article.summary_text)] if article.summary_text.strip() else []
    paragraphs = summaries.clean_paragraphs(paragraphs, keep_source_tags=False)
    paragraphs = summaries.without_headline(paragraphs, one_line(article.title))
    if len(paragraphs) > summaries.MAX_PARAGRAPHS:
        last = summaries.MAX_PARAGRAPHS - 1
        # Each joined paragraph ends as a sentence: list items and standfirsts carry no full
        # stop, and joined as they were they ran on as one ("...to Fujairah Oil rose...").
        joined = [with_full_stop(paragraph) for paragraph in paragraphs[last:-1]]
        paragraphs = [*paragraphs[:last], " ".join([*joined, paragraphs[-1]])]
    shown: list[str] = []
    room = limit
    for paragraph in paragraphs:
        if shown and room < MIN_PARAGRAPH_CHARS:
            shown[-1] = shorten(shown[-1] + " …", len(shown[-1]) + 1)
            break
        piece = shorten_summary(paragraph, room, overrun=overrun)
        shown.append(piece)
        room -= len(piece)
        if piece != one_line(paragraph):
            break
    else:
        # Whole to its end: the summary ends as a sentence does. A paragraph before it may be a
        # standfirst ("Strikes go on despite truce"), which keeps its form.
        if shown:
            shown[-1] = with_full_stop(shown[-1])
    return tuple(piece for piece in shown if piece)


def _shown_time(article: Article) -> datetime:
    """When the byline says the article appeared: its date, or when it was first seen if that
    was earlier. A feed that writes local time as UTC dates its stories hours ahead (ingest
    accepts up to a day), and the byline of a 07:00 edition said a story was from 10:00."""
    return min(article.sort_time, article.first_seen_at)


def _time(moment: datetime) -> Neutralized:
    """An article's time, left as a marker that each subscriber's copy writes in their timezone
    (``digest.placeholders``); the preview and the linter see it in the list's."""
    return Neutralized(placeholders.time_marker(moment))


def _story_language(article: Article) -> str | None:
    """The lang of an article: its feed's, when the story is written in that language's
    direction; else the one its title's letters name (the HTML then tells a screen reader which
    voice reads a right-to-left story), else none: the list's. An Arabic story in a feed that
    WordPress declares "en-US" is no English: read with an English voice, it was gibberish."""
    declared = language_tag(article.language)
    if declared is not None and direction_of(article.language) == text_direction(article):
        return declared
    return script_language(article.title)


def language_tag(language: str | None) -> str | None:
    """A BCP 47-looking tag for the lang attribute, or None for anything else."""
    if language and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*", language.strip()):
        return language.strip().replace("_", "-")
    return None
