"""Render an edition once into the HTML and plain-text parts that every subscriber receives.

    Edition + ListSettings ─► story views (local dates, safe URLs, text direction)
                           ─► Jinja2: email/digest.html.j2 and email/digest.txt.j2
                           ─► premailer inlines the CSS, once per edition (invariant 4)
                           ─► RenderedEdition (subject, preheader, html, text)

Per-subscriber fields are left as the markers of ``digest.placeholders`` for ``digest.mail`` to
fill in by plain string substitution. Feed text can never spell one of those markers: every string
a template prints goes through ``finalize``, which breaks up ``%%`` runs (invariant 6).
"""

from __future__ import annotations

import logging
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import Markup, escape
from premailer import Premailer

import digest
from digest import placeholders
from digest.bylines import Bylines, written_author
from digest.config import ListSettings, Settings, entry_key
from digest.errors import RenderError
from digest.images.records import Pictures, Role
from digest.ingest import summaries
from digest.ingest.pictures import picture_url
from digest.mail.headers import header_text
from digest.records import Article, Edition, EditionItem, RenderedEdition
from digest.tracking import NONE as NO_TRACKING
from digest.tracking import utm_parameters, with_parameters
from digest.wording import (
    Wording,
    direction_of,
    format_date,
    format_datetime,  # noqa: F401  (part of this module's interface: times in a timezone)
    format_long_date,
    longest_datetime,
    wording_for,
)

HTML_TEMPLATE = "email/digest.html.j2"
TEXT_TEMPLATE = "email/digest.txt.j2"

PLACEHOLDERS = placeholders.ALL

SUBJECT_MAX_CHARS = 150
PREHEADER_MAX_CHARS = 140
TEXT_WIDTH = 72
# Bounds on what a feed may put into an edition, so that 25 articles with the longest of
# everything stay under Gmail's 102 KB clipping limit (tests/test_render.py measures it).
LEAD_SUMMARY_CHARS = 480
SUMMARY_CHARS = 300
TITLE_CHARS = 160
NAME_CHARS = 60  # an author or a feed name
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


# Tried in order until the HTML fits the budget: almost every edition fits the first, so the CSS
# is inlined once; an edition of very long feed text gives up thumbnails, then shortens summaries.
FALLBACK_BOUNDS = (
    Bounds(LEAD_SUMMARY_CHARS, SUMMARY_CHARS, thumbnails=True, lead_image=True),
    Bounds(320, 200, thumbnails=False, lead_image=True),
    Bounds(200, 120, thumbnails=False, lead_image=False),
    Bounds(0, 0, thumbnails=False, lead_image=False),
)
# "%%" opens every placeholder; breaking up the run in feed text makes a forged one impossible.
# In HTML a word joiner keeps the text looking the same and survives premailer's reparse (an
# entity such as "&#37;" would be decoded back into "%" by lxml); in plain text a space is honest.
_PERCENT_RUN = re.compile(r"%(?=%)")
_HTML_PERCENT_BREAK = "%\u2060"
_TEXT_PERCENT_BREAK = "% "
_URL_PERCENT_BREAK = "%25"  # a bare "%" in a URL is invalid anyway; %25 is the literal percent
# Enough invisible filler after the preheader that mail apps do not pull body text into the preview.
_PREHEADER_FILLER = "\u034f\u200c\u00a0" * 40
# A time marker is wrapped as if it were the longest time it may become ("25 September 2026,
# 09:14 UTC+12:45"), so that a line holding one keeps within 72 columns once it is filled. The
# padding is a character no text holds (one_line drops control characters before it is added).
_TIME_WIDTH = longest_datetime()
_TIME_PAD = "\x00"


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
# What the templates see


@dataclass(frozen=True, slots=True)
class StoryLink:
    """One of an author's other pieces, shown as a link under a story."""

    title: str
    url: str | None
    feed_name: str
    published: str
    direction: Literal["ltr", "rtl"]


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
    language: str | None
    direction: Literal["ltr", "rtl"]
    more_from: tuple[StoryLink, ...] = ()
    also_covered_by: tuple[StoryLink, ...] = ()  # other outlets' reports of the same story
    more_from_name: str | None = None  # the person "More from" is from (digest.bylines)
    paragraphs: tuple[str, ...] = ()  # the summary's paragraphs, shown apart
    headline_only: bool = False  # a compact edition's later items: headline, outlet and time

    @property
    def byline(self) -> Neutralized:
        parts = (self.author, self.feed_name)
        return Neutralized(
            " · ".join([*(neutralize_text(part) for part in parts if part), self.published])
        )


@dataclass(frozen=True, slots=True)
class SectionView:
    slug: str
    title: str
    stories: tuple[Story, ...]


# --------------------------------------------------------------------------------------------
# Pure helpers


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR and LF included) to a space; drop control characters."""
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return " ".join(text.split())


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, marking the cut."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis) + 1]
    space = cut.rfind(" ")
    # A single very long word is cut where it is rather than dropped whole.
    cut = cut[:space] if space > limit // 2 else cut[: limit - len(ellipsis)]
    return cut.rstrip(" ,;:–—-·") + ellipsis


def neutralize_html(text: str) -> str:
    return _PERCENT_RUN.sub(_HTML_PERCENT_BREAK, text)


def neutralize_text(text: str) -> str:
    return _PERCENT_RUN.sub(_TEXT_PERCENT_BREAK, text)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, with any ``%%`` run broken; otherwise None."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        return None
    return _PERCENT_RUN.sub(_URL_PERCENT_BREAK, url)


def text_direction(article: Article) -> Literal["ltr", "rtl"]:
    """RTL for Arabic, Hebrew, Persian, Urdu… articles, or when the title is mostly RTL script."""
    if direction_of(article.language) == "rtl":
        return "rtl"
    rtl = ltr = 0
    for char in article.title:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return "rtl" if rtl > ltr else "ltr"


def edition_url(base_url: str, list_slug: str, slot: datetime) -> str:
    """The edition's stable web address: ``{base_url}/editions/{list}/{slot, UTC, %Y-%m-%d-%H%M}``.

    UTC, because a local time can occur twice when clocks go back; the slot keys the edition.
    """
    return f"{base_url.rstrip('/')}/editions/{list_slug}/{slot.astimezone(UTC):%Y-%m-%d-%H%M}"


def build_preheader(titles: Iterable[str], fallback: str, limit: int = PREHEADER_MAX_CHARS) -> str:
    """The inbox teaser: the lead title, then as many whole next headlines as fit."""
    headlines = [title for title in (one_line(t) for t in titles) if title]
    if not headlines:
        return shorten(fallback, limit)
    text = shorten(headlines[0], limit)
    for headline in headlines[1:]:
        candidate = f"{text} · {headline}"
        if len(candidate) > limit:
            break
        text = candidate
    return text


def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", subsequent_indent: str | None = None
) -> str:
    """Wrap feed text to ``width`` columns; words longer than a line (URLs) stay whole.

    ``%%`` runs are broken first, so that the line lengths hold in the output.
    """
    if not isinstance(text, Neutralized):
        text = neutralize_text(str(text))
    # Neutralized: finalize must not break the time markers a byline holds.
    return Neutralized(wrap_block(text, width, indent, subsequent_indent))


def wrap_block(
    text: str, width: int = TEXT_WIDTH, indent: str = "", subsequent_indent: str | None = None
) -> str:
    """Wrap template output whose feed text was already neutralized (it may hold placeholders)."""
    text = one_line(str(text))
    if not text:
        return ""
    wrapped = textwrap.fill(
        placeholders.pad_time_markers(text, _TIME_WIDTH, _TIME_PAD),
        width=width,
        initial_indent=indent,
        subsequent_indent=indent if subsequent_indent is None else subsequent_indent,
        break_long_words=False,
        break_on_hyphens=False,  # keeps placeholders and hyphenated names in one piece
    )
    return wrapped.replace(_TIME_PAD, "")


def underline(text: str, char: str = "-") -> str:
    longest = max((len(line) for line in str(text).splitlines()), default=0)
    return char * min(longest, TEXT_WIDTH)


def tidy_text(text: str) -> str:
    """Strip trailing spaces, keep at most one blank line in a row, end with a newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy: list[str] = []
    for line in lines:
        if not line and (not tidy or not tidy[-1]):
            continue
        tidy.append(line)
    while tidy and not tidy[-1]:
        tidy.pop()
    return "\n".join(tidy) + "\n"


class Neutralized(str):
    """Text whose feed parts had their ``%%`` runs broken already and that may hold a marker of
    ``digest.placeholders`` (an article's time): printed and wrapped as it is. HTML
    autoescaping still applies to it, unlike Markup."""

    __slots__ = ()


@jinja2.pass_eval_context
def _finalize(eval_context: EvalContext, value: Any) -> Any:
    """Break ``%%`` runs in every printed string that is not trusted markup (the placeholders)."""
    if isinstance(value, Markup | Neutralized) or not isinstance(value, str):
        return value
    return neutralize_html(value) if eval_context.autoescape else neutralize_text(value)


def _http_url_filter(value: Any) -> str:
    """Template filter: the URL if http(s), else an empty string (never a javascript: link)."""
    return safe_url(value if isinstance(value, str) else None) or ""


# --------------------------------------------------------------------------------------------
# The renderer


class Renderer:
    """Renders editions of any list with one template environment and one CSS inliner."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bylines = Bylines.for_feeds(settings.feeds)
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
            finalize=_finalize,
            keep_trailing_newline=True,
        )
        self.environment.filters["http_url"] = _http_url_filter
        self.environment.filters["wrap"] = wrap_text
        self.environment.filters["wrap_block"] = wrap_block
        self.environment.filters["underline"] = underline
        self._subject_environment = SandboxedEnvironment(
            autoescape=False, undefined=jinja2.StrictUndefined
        )
        self._subject_templates: dict[str, jinja2.Template] = {}
        self.inliner = Premailer(
            keep_style_tags=True,  # media queries for phones must stay in <head>
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
        self, edition: Edition, digest_list: ListSettings, pictures: Pictures | None = None
    ) -> RenderedEdition:
        """Render ``edition`` of ``digest_list``: subject, preheader, inlined HTML, plain text.

        With ``pictures`` (web.images: the service's copies, digest.images), a picture is shown
        from the service's address, and one missing from them is not shown at all; without,
        from the publisher's address."""
        if edition.list_slug != digest_list.slug:
            raise RenderError(
                f"edition of list {edition.list_slug!r} cannot be rendered with the settings of "
                f"list {digest_list.slug!r}"
            )
        zone = ZoneInfo(digest_list.timezone)
        words = wording_for(digest_list.language)
        article_count = len({article.id for article in edition.articles()})
        titles = [item.article.title for item in edition.items()]
        preheader = neutralize_text(
            build_preheader(titles, fallback=digest_list.description or digest_list.name)
        )
        subject = self.subject(edition, digest_list, article_count)

        context: dict[str, Any] = {
            "list_name": digest_list.name,
            "list_slug": digest_list.slug,
            "list_description": digest_list.description,
            "language": _language_tag(digest_list.language) or "en",
            "direction": direction_of(digest_list.language),
            "words": words,
            "edition_date": format_long_date(edition.slot, zone, words),
            "edition_short_date": format_date(edition.slot, zone, words),
            "edition_url": edition_url(
                self._settings.service.base_url, edition.list_slug, edition.slot
            ),
            "subject": subject,
            "preheader": preheader,
            "preheader_filler": _PREHEADER_FILLER,
            "compact": digest_list.layout == "compact",
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
        summaries = _summaries_shown(digest_list)
        first = self._stories(
            edition, zone, words, FALLBACK_BOUNDS[0], tracking, summaries, pictures
        )
        context.update(first)
        text = tidy_text(self._render_template(TEXT_TEMPLATE, context, digest_list))
        html = ""
        for bounds in FALLBACK_BOUNDS:
            context.update(
                self._stories(edition, zone, words, bounds, tracking, summaries, pictures)
            )
            page = self._render_template(HTML_TEMPLATE, context, digest_list)
            html = self._inline(page, digest_list)
            if len(html.encode("utf-8")) <= HTML_BUDGET:
                break
        return RenderedEdition(
            list_slug=edition.list_slug,
            slot=edition.slot,
            subject=subject,
            preheader=preheader,
            html=html,
            text=text,
            article_count=article_count,
        )

    def subject(self, edition: Edition, digest_list: ListSettings, article_count: int) -> str:
        """The list's subject template rendered on one line of at most ~150 characters, fit for
        a mail header whatever the feed's text held."""
        zone = ZoneInfo(digest_list.timezone)
        words = wording_for(digest_list.language)
        first = next(edition.items(), None)
        lead_title = shorten(first.article.title, TITLE_CHARS) if first else words.no_new_stories
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

    # ----------------------------------------------------------------------------------------

    def _stories(
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
        ``summaries``, only that many items after the lead keep their summary and picture."""
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
                tracking=tracking,
                pictures=pictures,
                brief=False,
                more_from=False,
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
                stories=tuple(item_story(item) for item in section.items),
            )
            for section in edition.sections
            if section.items
        )
        recommended = tuple(item_story(item) for item in edition.recommended)
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
    ) -> Story:
        """``item`` as the templates show it; ``brief``: as a headline, without "More from"."""
        more_from = more_from and not brief
        article = item.article
        title = shorten(article.title, TITLE_CHARS) or words.untitled
        # The plain-text summary: safer than feed HTML, and it reads the same in every mail app.
        paragraphs = _summary_paragraphs(article, summary_chars) if summary_chars else ()
        summary = " ".join(paragraphs)
        if summary == one_line(article.title):
            summary, paragraphs = "", ()  # feeds that repeat the title as the summary
        image_url, image_height = _picture(article, role, pictures) if image else (None, None)
        return Story(
            article=article,
            title=title,
            url=with_parameters(_bounded_url(article.link), tracking),
            summary=summary,
            paragraphs=paragraphs,
            author=shorten(written_author(article.author) or "", NAME_CHARS) or None,
            feed_name=shorten(article.feed_name, NAME_CHARS),
            published=_time(article.sort_time),
            image_url=image_url,
            image_height=image_height,
            language=_language_tag(article.language),
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
                _story_link(other, words, tracking) for other in item.also_covered_by
            ),
        )

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
        return inlined

    def _list_key(self, digest_list: ListSettings) -> str:
        for index, candidate in enumerate(self._settings.lists):
            if candidate.slug == digest_list.slug:
                return entry_key("lists", self._settings.lists, index)
        return f"list {digest_list.slug!r}"


def _summaries_shown(digest_list: ListSettings) -> int | None:
    """How many items after the lead keep their summary: all (None) unless the list is compact."""
    return digest_list.compact_summaries if digest_list.layout == "compact" else None


def _story_link(article: Article, words: Wording, tracking: dict[str, str]) -> StoryLink:
    """A one-line link to another article beside a story ("More from", "Also covered by")."""
    return StoryLink(
        title=shorten(article.title, TITLE_CHARS) or words.untitled,
        url=with_parameters(_bounded_url(article.link), tracking),
        feed_name=shorten(article.feed_name, NAME_CHARS),
        published=_time(article.sort_time),
        direction=text_direction(article),
    )


def _summary_paragraphs(article: Article, limit: int) -> tuple[str, ...]:
    """The summary's first paragraphs, at most ``summaries.MAX_PARAGRAPHS`` (the rest joins the
    last) and ``limit`` characters in all, without an opening dateline (one stored before
    ingest knew it too)."""
    paragraphs = summaries.clean_paragraphs(summaries.paragraphs_of(article.summary_html))
    if not paragraphs:
        paragraphs = [one_line(article.summary_text)] if article.summary_text.strip() else []
    if len(paragraphs) > summaries.MAX_PARAGRAPHS:
        last = summaries.MAX_PARAGRAPHS - 1
        paragraphs = [*paragraphs[:last], " ".join(paragraphs[last:])]
    shown: list[str] = []
    room = limit
    for paragraph in paragraphs:
        if shown and room < MIN_PARAGRAPH_CHARS:
            shown[-1] = shorten(shown[-1] + " …", len(shown[-1]) + 1)
            break
        piece = shorten(paragraph, room)
        shown.append(piece)
        room -= len(piece)
        if piece != one_line(paragraph):
            break
    return tuple(piece for piece in shown if piece)


def _time(moment: datetime) -> Neutralized:
    """An article's time, left as a marker that each subscriber's copy writes in their timezone
    (``digest.placeholders``); the preview and the linter see it in the list's."""
    return Neutralized(placeholders.time_marker(moment))


def _picture(
    article: Article, role: Role, pictures: Pictures | None
) -> tuple[str | None, int | None]:
    """The address a story's picture is shown from, and the lead's height at its display width
    when the service's copy tells it."""
    # A pixel stored before its pattern was known is no picture either (ingest.pictures).
    source = picture_url(article.image_url)
    if pictures is None:
        return _bounded_url(source), None
    served = pictures.get((role, source)) if source else None
    if served is None:
        return None, None  # not fetched, or refused by the check: the item shows without it
    height = round(LEAD_IMAGE_WIDTH * served.height / served.width) if served.width else None
    return served.url, height


def _bounded_url(url: str | None) -> str | None:
    """``safe_url``, and None for a URL too long to be worth its weight in the edition."""
    checked = safe_url(url)
    return checked if checked is not None and len(checked) <= URL_CHARS else None


def _language_tag(language: str | None) -> str | None:
    """A BCP 47-looking tag for the lang attribute, or None for anything else."""
    if language and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*", language.strip()):
        return language.strip().replace("_", "-")
    return None
