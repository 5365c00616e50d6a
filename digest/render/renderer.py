"""The renderer: an edition into its HTML and plain-text parts, with one template environment
and one CSS inliner, within the HTML budget that keeps Gmail from clipping it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import escape
from premailer import Premailer

import digest
from digest import placeholders
from digest.bylines import Bylines, without_outlet, written_author
from digest.config import ListSettings, Settings, entry_key
from digest.errors import RenderError
from digest.images.records import Pictures, Role
from digest.ingest import summaries
from digest.ingest.markup import says_anything
from digest.ingest.pictures import names_private_host, picture_url, story_picture
from digest.mail.headers import header_text
from digest.records import Article, Edition, EditionItem, RenderedEdition
from digest.render.text import (
    Neutralized,
    build_preheader,
    edition_url,
    finalize,
    http_url_filter,
    neutralize_text,
    one_line,
    safe_url,
    script_direction,
    script_language,
    shorten,
    shorten_summary,
    text_direction,
    tidy_text,
    underline,
    with_full_stop,
    wrap_block,
    wrap_text,
)
from digest.render.views import SectionView, Story, StoryLink
from digest.tracking import NONE as NO_TRACKING
from digest.tracking import utm_parameters, with_parameters
from digest.wording import Wording, direction_of, format_date, format_long_date, wording_for

_log = logging.getLogger(__name__)

HTML_TEMPLATE = "email/digest.html.j2"
TEXT_TEMPLATE = "email/digest.txt.j2"

PLACEHOLDERS = placeholders.ALL

SUBJECT_MAX_CHARS = 150
# Bounds on what a feed may put into an edition, so that 25 articles with the longest of
# everything stay under Gmail's 102 KB clipping limit (tests/test_render.py measures it).
LEAD_SUMMARY_CHARS = 480
SUMMARY_CHARS = 300
TITLE_CHARS = 160
NAME_CHARS = 60  # an author or a feed name
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
# Enough invisible filler after the preheader that mail apps do not pull body text into the preview.
_PREHEADER_FILLER = "\u034f\u200c\u00a0" * 40


def template_folder(settings: Settings) -> Path:
    """The folder of templates: the operator's ``service.templates``, else the bundled one."""
    if settings.service.templates is not None:
        return settings.config_path(settings.service.templates)
    return bundled_template_folder()


def bundled_template_folder() -> Path:
    """The templates shipped with the service."""
    package = Path(digest.__file__).parent
    bundled = package / "templates"  # where wheel installs put the templates
    if bundled.is_dir():
        return bundled
    return package.parent / "templates"


# --------------------------------------------------------------------------------------------
# The renderer


@dataclass(frozen=True, slots=True)
class LaidOut:
    """A rendered edition and the stories its HTML shows, as the templates saw them."""

    rendered: RenderedEdition
    lead: Story | None
    sections: tuple[SectionView, ...]
    recommended: tuple[Story, ...]

    def stories(self) -> Iterator[Story]:
        if self.lead is not None:
            yield self.lead
        for section in self.sections:
            yield from section.stories
        yield from self.recommended

    def pictures(self) -> dict[int, str]:
        """The address of the picture each story shows, by article id; a story without any
        is absent. That of the service's copy with web.images, else the publisher's."""
        return {story.article.id: story.image_url for story in self.stories() if story.image_url}


class Renderer:
    """Renders editions of any list with one template environment and one CSS inliner."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._story_views = StoryViews(settings)
        self.folder = template_folder(settings)
        # An operator's folder may override only some templates; the rest come bundled.
        search_path = [self.folder]
        if bundled_template_folder() != self.folder:
            search_path.append(bundled_template_folder())
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search_path),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm", "xml", "html.j2", "xml.j2"),
                default_for_string=False,
                default=False,  # the plain-text part (.txt.j2) and the stylesheet
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=finalize,
            keep_trailing_newline=True,
        )
        self.environment.filters["http_url"] = http_url_filter
        self.environment.filters["wrap"] = wrap_text
        self.environment.filters["wrap_block"] = wrap_block
        self.environment.filters["underline"] = underline
        self.environment.filters["script_direction"] = script_direction
        self._subject_environment = SandboxedEnvironment(
            autoescape=False, undefined=jinja2.StrictUndefined
        )
        self._subject_templates: dict[str, jinja2.Template] = {}
        self.inliner = Premailer(
            # Only what cannot be inlined stays in <head>: the phone and dark-mode @media rules
            # (premailer leaves them there). Keeping the whole stylesheet too cost 12 KB of
            # every copy, against Gmail's clip at about 102 KB.
            keep_style_tags=False,
            strip_important=False,  # they override the inlined styles with !important
            allow_network=False,
            allow_loading_external_files=False,
            disable_link_rewrites=True,
            disable_validation=True,  # email CSS uses properties cssutils does not know
            # The templates set width/height attributes themselves; premailer would turn
            # "width:100%" and "height:auto" into attributes that Outlook misreads.
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.ERROR,
            exclude_pseudoclasses=True,
        )

    def render(
        self,
        edition: Edition,
        digest_list: ListSettings,
        pictures: Pictures | None = None,
        variant: str = "",
    ) -> RenderedEdition:
        """Render ``edition`` of ``digest_list``: subject, preheader, inlined HTML, plain text.

        With ``pictures`` (web.images: the service's copies, digest.images), a picture is shown
        from the service's address, and one missing from them is not shown at all; without,
        from the publisher's address. ``variant``, the edition's among those of its slot, is in
        its "View in your browser" address."""
        return self.lay_out(edition, digest_list, pictures, variant).rendered

    def lay_out(
        self,
        edition: Edition,
        digest_list: ListSettings,
        pictures: Pictures | None = None,
        variant: str = "",
    ) -> LaidOut:
        """``render``, with the stories the HTML shows: those of the first bounds that kept it
        within its budget."""
        if edition.list_slug != digest_list.slug:
            raise RenderError(
                f"edition of list {edition.list_slug!r} cannot be rendered with the settings of "
                f"list {digest_list.slug!r}"
            )
        zone = ZoneInfo(digest_list.timezone)
        words = wording_for(digest_list.language)
        article_count = len({article.id for article in edition.articles()})
        subject = self.subject(edition, digest_list, article_count)
        titles = [item.article.title for item in edition.items()]
        if titles and "lead_title" in digest_list.subject and _shows_title(subject, titles[0]):
            # An inbox prints the preheader right after the subject: the lead's headline twice
            # in a row says nothing the first did not, so the teaser starts at the next one.
            titles = titles[1:]
        preheader = neutralize_text(
            build_preheader(titles, fallback=digest_list.description or digest_list.name)
        )

        context: dict[str, Any] = {
            "list_name": digest_list.name,
            "list_slug": digest_list.slug,
            "list_description": digest_list.description,
            "language": language_tag(digest_list.language) or "en",
            "direction": direction_of(digest_list.language),
            "words": words,
            "edition_date": format_long_date(edition.slot, zone, words),
            "edition_short_date": format_date(edition.slot, zone, words),
            "edition_url": edition_url(
                self._settings.service.base_url, edition.list_slug, edition.slot, variant
            ),
            "subject": subject,
            "preheader": preheader,
            "preheader_filler": _PREHEADER_FILLER,
            "compact": digest_list.layout == "compact",
            "more_online": False,  # stories left out of the mail, shown on the web (below)
            "article_count": article_count,
            "sender_name": self._settings.service.sender_name,
            "postal_address": self._settings.service.postal_address,
            "base_url": self._settings.service.base_url,
            "placeholders": {
                # Markup, so that finalize lets them through whole (they hold no HTML).
                "GREETING": escape(placeholders.GREETING),
                "UNSUBSCRIBE_URL": escape(placeholders.UNSUBSCRIBE_URL),
                "SUBSCRIBER_EMAIL": escape(placeholders.SUBSCRIBER_EMAIL),
                "PREFERENCES_URL": escape(placeholders.PREFERENCES_URL),
            },
        }
        # The plain text has no size limit: it shows all that the first bounds allow.
        # Per-list tracking parameters on article links, once per edition (digest.tracking).
        tracking = utm_parameters(digest_list, edition.slot)
        summaries = summaries_shown(digest_list)
        first = self._story_views.stories(
            edition, zone, words, FALLBACK_BOUNDS[0], tracking, summaries, pictures
        )
        context.update(first)
        text = tidy_text(self._render_template(TEXT_TEMPLATE, context, digest_list))
        html = fullest = ""
        web_html = None
        for bounds in FALLBACK_BOUNDS:
            stories = (
                first
                if bounds is FALLBACK_BOUNDS[0]
                else self._story_views.stories(
                    edition, zone, words, bounds, tracking, summaries, pictures
                )
            )
            context.update(stories)
            html = self._html(context, digest_list)
            fullest = fullest or html
            if fits(html):
                break
        else:
            # The stories the mail leaves out were in its plain-text part alone, which few
            # readers ever see: the web copy, with no clip to fear, shows them all at the
            # fullest bounds, and the mail says so under its last story.
            web_html = fullest
            context["more_online"] = True
            stories, html = self._leaving_out(stories, context, digest_list)
        rendered = RenderedEdition(
            list_slug=edition.list_slug,
            slot=edition.slot,
            subject=subject,
            preheader=preheader,
            html=html,
            text=text,
            article_count=article_count,
            web_html=web_html,
        )
        return LaidOut(rendered, stories["lead"], stories["sections"], stories["recommended"])

    def _html(self, context: dict[str, Any], digest_list: ListSettings) -> str:
        return self._inline(self._render_template(HTML_TEMPLATE, context, digest_list), digest_list)

    def _leaving_out(
        self, stories: dict[str, Any], context: dict[str, Any], digest_list: ListSettings
    ) -> tuple[dict[str, Any], str]:
        """The HTML with as many of ``stories`` (laid out in the lightest bounds) as fit the
        budget, and those stories: the last in line are left out (``leaving_out_order``), never
        the edition. Without this, an edition of a hundred headlines was over Gmail's clip at
        every bound, and the check before each send held the whole list back at every run. The
        plain-text part and the web copy keep them all; the operator is told to lower
        max_articles."""
        order = leaving_out_order(stories["sections"], stories["recommended"])
        if not order:  # the lead alone: the check before the send says what is too large
            return stories, self._html(context, digest_list)

        def without(count: int) -> tuple[dict[str, Any], str]:
            kept = stories_without(stories, frozenset(order[:count]))
            context.update(kept)
            return kept, self._html(context, digest_list)

        # The fewest left out that fit: the HTML's size falls with each story left out. When
        # none fits short of all of them, all are left out (the lead alone is checked before
        # the send).
        low, high = 1, len(order)
        best = None
        while low < high:
            middle = (low + high) // 2
            attempt = without(middle)
            if fits(attempt[1]):
                best, high = attempt, middle
            else:
                low = middle + 1
        if best is None:
            best = without(high)
        _log.warning(
            "list %s: %d of the edition's stories left out of its HTML to stay under Gmail's "
            "clipping limit (they are in the plain-text part and the web copy); lower its "
            "max_articles",
            digest_list.slug,
            high,
        )
        context.update(best[0])
        return best

    def subject(self, edition: Edition, digest_list: ListSettings, article_count: int) -> str:
        """The list's subject template rendered on one line of at most ~150 characters, fit for
        a mail header whatever the feed's text held."""
        zone = ZoneInfo(digest_list.timezone)
        words = wording_for(digest_list.language)
        first = next(edition.items(), None)
        lead_title = shorten(first.article.title, TITLE_CHARS) if first else words.no_new_stories
        if not says_anything(lead_title):
            # Nothing to show: "{% if lead_title %}" leaves it out of the subject, where
            # "(untitled)" would lead it.
            lead_title = ""
        date = format_date(edition.slot, zone, words)
        variables = {
            "list_name": digest_list.name,
            "date": date,
            "lead_title": neutralize_text(lead_title),
            "article_count": article_count,
        }
        try:
            template = self._subject_templates.get(digest_list.subject)
            if template is None:
                template = self._subject_environment.from_string(digest_list.subject)
                self._subject_templates[digest_list.subject] = template
            rendered = template.render(variables)
        except jinja2.TemplateError as error:
            raise RenderError(
                f"{self._settings.source}: {self._list_key(digest_list)}.subject: the subject "
                f"template {digest_list.subject!r} failed: {error}. Use only the variables "
                f"list_name, date, lead_title and article_count."
            ) from error
        # Feed text reaches the subject (lead_title): encoded words are decoded and checked, and
        # whatever would break the header line is a space (invariant 6; digest.mail.headers).
        subject = shorten(header_text(rendered, 4 * SUBJECT_MAX_CHARS), SUBJECT_MAX_CHARS)
        return subject or header_text(f"{digest_list.name}: {date}", SUBJECT_MAX_CHARS)

    def _render_template(
        self, name: str, context: Mapping[str, Any], digest_list: ListSettings
    ) -> str:
        try:
            return self.environment.get_template(name).render(context)
        except jinja2.TemplateNotFound as error:
            raise RenderError(
                f"list {digest_list.slug!r}: template {error.name!r} not found in {self.folder}; "
                "check service.templates in the config or restore the bundled templates"
            ) from error
        except jinja2.TemplateSyntaxError as error:
            raise RenderError(
                f"list {digest_list.slug!r}: template {error.filename or error.name}, line "
                f"{error.lineno}: {error.message}"
            ) from error
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as error:
            # An operator's template may fail in plain Python ways too (adding a str to an int).
            raise RenderError(
                f"list {digest_list.slug!r}: template {name} in {self.folder} failed: "
                f"{type(error).__name__}: {error}"
            ) from error

    def _inline(self, html: str, digest_list: ListSettings) -> str:
        try:
            inlined: str = self.inliner.transform(html, pretty_print=False)
        except (etree.LxmlError, ValueError, TypeError) as error:
            raise RenderError(
                f"list {digest_list.slug!r}: inlining the CSS of {HTML_TEMPLATE} failed: {error}"
            ) from error
        return _tight_styles(inlined)

    def _list_key(self, digest_list: ListSettings) -> str:
        for index, candidate in enumerate(self._settings.lists):
            if candidate.slug == digest_list.slug:
                return entry_key("lists", self._settings.lists, index)
        return f"list {digest_list.slug!r}"


# An inline style attribute as premailer writes it: double quotes, or single ones around a value
# holding a quoted font name.
_STYLE_ATTRIBUTE = re.compile(r"""style=("[^"]*"|'[^']*')""")
_SPACE_AFTER_SEPARATOR = re.compile(r"([;,])\s+")


_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
_LINE_BREAK = re.compile(r"\s*\n\s*")


def _tight_styles(html: str) -> str:
    """``html`` with no space after the ";" and "," of its inline styles and its <style> block
    on one line: the same CSS, some 1.5 KB lighter in a long edition, under Gmail's clip with
    room for more."""
    html = _STYLE_BLOCK.sub(
        lambda found: found[1] + _LINE_BREAK.sub(" ", found[2]).strip() + found[3], html, count=1
    )
    return _STYLE_ATTRIBUTE.sub(
        lambda found: "style=" + _SPACE_AFTER_SEPARATOR.sub(r"\1", found[1]), html
    )


def _shows_title(subject: str, title: str) -> bool:
    """Whether ``subject`` shows ``title`` (whole, or the start of it the subject kept)."""
    shown = one_line(title)
    start = shown[: min(len(shown), 40)]
    return bool(start) and start in subject


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
        shown = 0

        def item_story(item: EditionItem) -> Story:
            nonlocal shown
            shown += 1
            if summaries is None:
                return self._story(
                    item,
                    zone,
                    words,
                    bounds.summary,
                    image=bounds.thumbnails,
                    overrun=bounds.overrun,
                    tracking=tracking,
                    pictures=pictures,
                )
            if shown > summaries:
                return self._story(item, zone, words, 0, image=False, tracking=tracking, brief=True)
            # A briefing's summaries are short, and its authors' other pieces wait for the web.
            return self._story(
                item,
                zone,
                words,
                min(bounds.summary, COMPACT_SUMMARY_CHARS),
                image=bounds.thumbnails,
                overrun=bounds.overrun,
                tracking=tracking,
                pictures=pictures,
                brief=False,
                more_from=False,
            )

        def item_stories(item: EditionItem) -> Iterator[Story]:
            yield item_story(item)
            if summaries is not None:
                # A compact item shows no "More from": the pieces compose moved under it would
                # be in no part of the mail, nor on the web copy, which is the mail's HTML.
                for piece in item.more_from:
                    yield self._story(
                        EditionItem(piece, item.topic),
                        zone,
                        words,
                        0,
                        image=False,
                        tracking=tracking,
                        brief=True,
                    )

        lead_summary = bounds.lead_summary
        if summaries is not None:
            lead_summary = min(lead_summary, COMPACT_LEAD_SUMMARY_CHARS)
        lead = (
            self._story(
                edition.lead,
                zone,
                words,
                lead_summary,
                image=bounds.lead_image,
                overrun=bounds.overrun,
                tracking=tracking,
                pictures=pictures,
                role="lead",
            )
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
            image_credit=shorten((pictured or article).feed_name, NAME_CHARS),
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
    last) and ``limit`` characters in all, without an opening dateline (one stored before
    ingest knew it too)."""
    paragraphs = summaries.clean_paragraphs(summaries.paragraphs_of(article.summary_html))
    if not paragraphs:
        paragraphs = [one_line(article.summary_text)] if article.summary_text.strip() else []
    # A summary stored as a bare address, or as "…", before ingest left it out.
    paragraphs = summaries.without_bare_addresses(summaries.without_bare_source_tags(paragraphs))
    paragraphs = summaries.without_picture_credits(summaries.without_empty_paragraphs(paragraphs))
    paragraphs = summaries.without_related_links(summaries.without_wire_credits(paragraphs))
    paragraphs = summaries.without_stamps(summaries.without_promotion(paragraphs))
    paragraphs = summaries.without_page_furniture(paragraphs)
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


def kept_by(
    pictures: Pictures | None, role: Role, private_allowed: bool
) -> Callable[[Article], bool]:
    """With the service's pictures, whether it kept a report's picture for ``role``; without
    them (no web service), any address that is no known pixel and that the mail can show
    (``_publisher_picture_url``) will do, but one on a private network (``names_private_host``)
    only where the feeds may be on one too (``ingest.allow_private_addresses``): the reader's
    mail app loads it. A report whose address cannot be shown gives way to the next report's
    picture, rather than leave the story without any."""
    if pictures is None:
        return lambda article: (
            _publisher_picture_url(picture_url(article.image_url)) is not None
            and (private_allowed or not names_private_host(article.image_url or ""))
        )
    return lambda article: (role, picture_url(article.image_url) or "") in pictures


def picture_address(
    article: Article, role: Role, pictures: Pictures | None
) -> tuple[str | None, int | None]:
    """The address a story's picture is shown from, and the lead's height at its display width
    when the service's copy tells it."""
    # A pixel stored before its pattern was known is no picture either (ingest.pictures).
    source = picture_url(article.image_url)
    if pictures is None:
        return _publisher_picture_url(source), None
    served = pictures.get((role, source)) if source else None
    if served is None:
        return None, None  # not fetched, or refused by the check: the item shows without it
    height = round(LEAD_IMAGE_WIDTH * served.height / served.width) if served.width else None
    return served.url, height


# A space a feed left in a picture's path or query ("…/Harbour at dawn.jpg"), which browsers
# send percent-encoded; a tab or a line break they drop, and a space in the host name fails the
# address: no address to guess at.
_SPACE_IN_URL = re.compile(r"[^\S\t\n\r]")


def _publisher_picture_url(url: str | None) -> str | None:
    """The publisher's address of a picture as the mail shows it (no image service): the spaces
    after its host written as a browser requests them (%20), then ``bounded_url``; None when
    it cannot be shown."""
    if url is None:
        return None
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    host, slash, after_host = rest.partition("/")
    if separator and slash:
        url = f"{scheme}://{host}/{_SPACE_IN_URL.sub(lambda space: quote(space[0]), after_host)}"
    return bounded_url(url)


def bounded_url(url: str | None) -> str | None:
    """``safe_url``, and None for a URL too long to be worth its weight in the edition."""
    checked = safe_url(url)
    return checked if checked is not None and len(checked) <= URL_CHARS else None


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
