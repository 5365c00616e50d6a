"""The renderer: an edition into its HTML and plain-text parts, with one template environment
and one CSS inliner, within the HTML budget that keeps Gmail from clipping it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import escape
from premailer import Premailer

import digest
from digest import placeholders
from digest.config import ListSettings, Settings, entry_key
from digest.errors import RenderError
from digest.images.records import Pictures
from digest.ingest.markup import says_anything
from digest.mail.headers import header_text
from digest.records import Edition, RenderedEdition
from digest.render.bounds import (
    FALLBACK_BOUNDS,
    TITLE_CHARS,
    fits,
    leaving_out_order,
    stories_without,
)
from digest.render.stories import StoryViews, language_tag, summaries_shown
from digest.render.text import (
    RIGHT_TO_LEFT_MARK,
    build_preheader,
    edition_url,
    finalize,
    held_right_to_left,
    http_url_filter,
    left_to_right_in,
    name_language,
    neutralize_text,
    one_line,
    script_direction,
    shorten,
    tidy_text,
    underline,
    wrap_block,
    wrap_text,
)
from digest.render.views import SectionView, Story
from digest.tracking import utm_parameters
from digest.wording import (
    Wording,
    direction_of,
    format_date,
    format_long_date,
    longest_datetime,
    wording_for,
)

_log = logging.getLogger(__name__)

HTML_TEMPLATE = "email/digest.html.j2"
TEXT_TEMPLATE = "email/digest.txt.j2"

PLACEHOLDERS = placeholders.ALL

SUBJECT_MAX_CHARS = 150

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


def _in_the_lists_words(wrap: Callable[..., str]) -> Callable[..., str]:
    """``wrap`` as a filter that counts a time as long as the template's ``words`` write one:
    an English list's lines are not cut short for the longest Arabic zone name."""

    @jinja2.pass_context
    def wrapped(context: jinja2.runtime.Context, text: str, *args: Any, **kwargs: Any) -> str:
        words = context.get("words")
        if isinstance(words, Wording):
            kwargs.setdefault("time_width", longest_datetime(words))
        return wrap(text, *args, **kwargs)

    return wrapped


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
        self.environment.filters["wrap"] = _in_the_lists_words(wrap_text)
        self.environment.filters["wrap_block"] = _in_the_lists_words(wrap_block)
        self.environment.filters["left_to_right_in"] = left_to_right_in
        self.environment.filters["underline"] = underline
        self.environment.filters["script_direction"] = script_direction
        self.environment.filters["name_language"] = name_language
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
        words = wording_for(digest_list.language, digest_list.calendar)
        article_count = len({article.id for article in edition.articles()})
        subject = self.subject(edition, digest_list, article_count)
        preheader = _preheader(edition, digest_list, subject, words.separator)
        context = self._context(edition, digest_list, variant, zone, words)
        context.update(subject=subject, preheader=preheader, article_count=article_count)
        # Per-list tracking parameters on article links, once per edition (digest.tracking).
        tracking = utm_parameters(digest_list, edition.slot)
        summaries = summaries_shown(digest_list)
        first = self._story_views.stories(
            edition, zone, words, FALLBACK_BOUNDS[0], tracking, summaries, pictures
        )
        context.update(first)
        # The plain text has no size limit: it shows all that the first bounds allow.
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

    def _context(
        self,
        edition: Edition,
        digest_list: ListSettings,
        variant: str,
        zone: ZoneInfo,
        words: Wording,
    ) -> dict[str, Any]:
        """What both templates see of the list and the edition, before its stories."""
        return {
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
            "preheader_filler": _PREHEADER_FILLER,
            "compact": digest_list.layout == "compact",
            "more_online": False,  # stories left out of the mail, shown on the web (below)
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
        words = wording_for(digest_list.language, digest_list.calendar)
        first = next(edition.items(), None)
        lead_title = shorten(first.article.title, TITLE_CHARS) if first else words.no_new_stories
        if not says_anything(lead_title):
            # Nothing to show: "{% if lead_title %}" leaves it out of the subject, where
            # "(untitled)" would lead it.
            lead_title = ""
        lead_title = held_right_to_left(lead_title)
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
        marked = lead_title.startswith(RIGHT_TO_LEFT_MARK)
        subject = shorten(
            header_text(rendered, 4 * SUBJECT_MAX_CHARS),
            SUBJECT_MAX_CHARS - 1 if marked else SUBJECT_MAX_CHARS,
        )
        if marked and subject.count(RIGHT_TO_LEFT_MARK) % 2:
            # The cut took the mark that closes the lead: its "…" is the lead's end.
            subject += RIGHT_TO_LEFT_MARK
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


def _preheader(edition: Edition, digest_list: ListSettings, subject: str, separator: str) -> str:
    """The inbox teaser: the edition's headlines after the subject, or the list's description."""
    titles = [item.article.title for item in edition.items()]
    if titles and "lead_title" in digest_list.subject and _shows_title(subject, titles[0]):
        # An inbox prints the preheader right after the subject: the lead's headline twice
        # in a row says nothing the first did not, so the teaser starts at the next one.
        titles = titles[1:]
    return neutralize_text(
        build_preheader(
            titles, fallback=digest_list.description or digest_list.name, separator=separator
        )
    )


def _shows_title(subject: str, title: str) -> bool:
    """Whether ``subject`` shows ``title`` (whole, or the start of it the subject kept)."""
    shown = one_line(title)
    start = shown[: min(len(shown), 40)]
    return bool(start) and start in subject
