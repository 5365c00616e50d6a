"""What the newsroom edits: the feeds, the topics articles are filed under, and the lists."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from digest.config.values import (
    CronExpression,
    HeaderText,
    HttpUrl,
    LanguageTag,
    SettingsModel,
    ShownText,
    Slug,
    TimezoneName,
    no_controls,
    no_line_breaks,
)
from digest.wording import PERSIAN_CALENDAR_LANGUAGES, primary_subtag


def _check_subject_template(source: str) -> str:
    """A Jinja2 template that parses."""
    try:
        SandboxedEnvironment().parse(source)
    except TemplateSyntaxError as error:
        raise ValueError(f"subject template does not parse: {error.message}") from None
    return source


def _check_utm_value(template: str) -> str:
    """Formats with ``{list}`` and ``{date}``, on a single line."""
    try:
        template.format(list="daily", date="2026-11-25")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"{template!r} does not format ({error}): use only the variables {{list}} and {{date}}"
        ) from None
    return no_line_breaks(template)


def _as_matched(term: str) -> str:
    """A term as topic matching reads it (digest.topics.normalize)."""
    # Imported here, not at the top: digest.topics reads the config's own types. Only a rule
    # with terms gets here, so the config's default (empty) rules import nothing.
    from digest.topics.normalize import normalize_text
    from digest.topics.persian import OPTIONAL_SPACE, is_persian, persian_spelling

    if is_persian(term):
        # Joined, with a ZWNJ or apart, with its plural or without: one word to matching.
        return persian_spelling(term).replace(OPTIONAL_SPACE, "")
    return normalize_text(term)


def _check_term(term: str) -> str:
    """A word or phrase, not empty, on one line."""
    # Empty once normalized: only spaces, or marks and invisible characters (a right-to-left
    # mark, a tatweel, a lone vowel sign) that matching takes out of every text. Such a term
    # was taken, and matched nothing.
    if not _as_matched(term):
        raise ValueError("empty term: write a word or phrase, or remove the entry")
    if "\n" in term or "\r" in term:
        raise ValueError(f"{term!r} spans lines: write one term per string")
    return term


Term = Annotated[str, AfterValidator(_check_term)]


# The characters of a feed's name the store keeps (digest.store.schema.FeedRow.name).
FEED_NAME_LIMIT = 300


def _feed_name_as_seen(name: str) -> str:
    """A feed's name as the eye reads it: composed (NFC), without blanks at its ends. Topic
    rules name feeds by it, and a name with a blank left at its end, or an accent written as a
    combining mark (pasted from a Mac), was another name: "no feed is named 'Wire'" refused a
    config whose feed was named, to the eye, just that."""
    seen = unicodedata.normalize("NFC", name).strip()
    if not seen:
        raise ValueError("blank: write the feed's name")
    return seen


FeedName = Annotated[str, AfterValidator(_feed_name_as_seen)]


def _check_feed_name(name: str) -> str:
    # Refused here, not at the database: PostgreSQL refused the row at the first poll, and
    # at every `digest feeds`, long after the config check had said OK (SQLite keeps it whole).
    if len(name) > FEED_NAME_LIMIT:
        raise ValueError(
            f"the name is {len(name)} characters long: a feed's name is at most "
            f"{FEED_NAME_LIMIT}; shorten it (topic rules refer to it by that name)"
        )
    return name


class FeedSettings(SettingsModel):
    """One feed to poll."""

    url: HttpUrl
    """The feed's address, at most 2,048 characters; it may carry a user and password
    (``https://user:password@host/``)."""
    name: Annotated[
        str,
        Field(min_length=1),
        AfterValidator(no_controls),
        AfterValidator(_check_feed_name),
        AfterValidator(_feed_name_as_seen),
    ]
    """The feed's name, unique, at most 300 characters; topic rules refer to it."""
    enabled: bool = True
    """The operator's switch: a disabled feed is not polled."""
    min_interval_minutes: float | None = Field(default=None, ge=1, le=7 * 24 * 60)
    """This feed's shortest time between two polls; none: ``ingest.min_interval_minutes``."""
    max_interval_minutes: float | None = Field(default=None, ge=1, le=30 * 24 * 60)
    """This feed's longest time between two polls; none: ``ingest.max_interval_minutes``."""
    agency_bylines: tuple[Term, ...] = Field(
        default=(),
        description=(
            "Bylines of this feed that name a desk, an agency or the outlet rather than a "
            'person ("Harbour Syndicate"), compared case-insensitively, for this feed only. '
            "Added to the built-in list (Reuters, AFP, AP, News Desk, Staff...); a byline "
            'read as no person never heads a "More from".'
        ),
    )
    trust_categories: bool = Field(
        default=False,
        description="Take this feed's own categories (tags) as evidence on their own. By "
        "default a category files an article, or adds to its score, only together with "
        "evidence from its title or text: publishers tag an arts piece with a country's name "
        "as readily as a report from it.",
    )


class TopicRules(SettingsModel):
    """An editor's brief for one topic; digest.topics documents how each rule counts."""

    feeds: tuple[FeedName, ...] = ()
    """Names of feeds whose every article belongs to the topic."""
    categories: tuple[str, ...] = ()
    """Feed categories that file an article under the topic (case-insensitive, normalized like
    terms)."""
    include: tuple[Term, ...] = ()
    """Words and phrases, matched as whole words: 3 points in the title, 1 in the summary or a
    category name."""
    places: tuple[Term, ...] = ()
    """Countries, regions, cities: they count like ``include``."""
    people: tuple[Term, ...] = ()
    """Leaders and officials: they count like ``include``."""
    groups: tuple[Term, ...] = ()
    """Parties, armed groups, institutions: they count like ``include``."""
    ambiguous: tuple[Term, ...] = ()
    """Terms that count only next to other evidence from the topic's tree ("Jordan")."""
    exclude: tuple[Term, ...] = ()
    """Words and phrases that veto the topic when in the title or summary."""
    ignore: tuple[Term, ...] = ()
    """Phrases that are no mention ("Gulf of Mexico"): their words count for nothing, and veto
    nothing; a parent's apply to its descendants."""
    threshold: float = Field(default=1.0, gt=0, le=1000)
    """The score at which terms alone file an article (feeds and categories always do)."""
    clitic_prefixes: bool = True
    """Arabic and Hebrew terms also match behind attached prefixes (بـ, وال, ב, ו…)."""

    @model_validator(mode="after")
    def _each_term_once(self) -> TopicRules:
        """A term in two lists is a contradiction (or a slip): say which lists, so one goes."""
        seen: dict[str, str] = {}
        problems = []
        for kind in ("include", "places", "people", "groups", "ambiguous", "exclude", "ignore"):
            for term in getattr(self, kind):
                # As matching reads it: "Erdoğan" in places and "Erdogan" in exclude is one
                # term, and its every mention would be vetoed.
                key = _as_matched(term)
                if key in seen and seen[key] != kind:
                    problems.append(f"{term!r} is in both {seen[key]} and {kind}")
                seen.setdefault(key, kind)
        if problems:
            raise ValueError("; ".join(problems) + ": keep each term in one list")
        return self


class TopicSettings(SettingsModel):
    """A topic articles are filed under; an edition has a section per topic."""

    slug: Slug
    """The topic's identifier; lists and other topics refer to it."""
    name: ShownText = Field(min_length=1)
    """The topic's name, as a section heading."""
    parent: Slug | None = None
    """A topic slug: a parent takes in everything its children match."""
    rules: TopicRules = TopicRules()
    """The editor's brief: what files an article under the topic."""
    previous_slugs: tuple[Slug, ...] = ()
    """Slugs the topic had before a rename: the articles filed under them, and the readers who
    chose them in their preferences, move to this slug at the next cycle. Articles are filed
    when they are stored, so without it a renamed topic's stored articles are in no section."""


UtmValue = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_check_utm_value)]


class UtmSettings(SettingsModel):
    """Tracking parameters added to the article links of a list's editions (never to our own)."""

    source: UtmValue | None = "digest"
    """``utm_source``."""
    medium: UtmValue | None = "email"
    """``utm_medium``."""
    campaign: UtmValue | None = "{list}-{date}"
    """``utm_campaign``; ``{list}`` is the slug, ``{date}`` the edition's date (YYYY-MM-DD)."""
    term: UtmValue | None = None
    """``utm_term``; none leaves it out."""
    content: UtmValue | None = None
    """``utm_content``; none leaves it out."""


class ListSettings(SettingsModel):
    """A mailing list: its topics, its schedule and its subscribers."""

    slug: Slug
    """The list's identifier (in commands, ``List-Id`` and unsubscribe links)."""
    name: HeaderText
    """The list's display name (masthead, ``List-Id``)."""
    description: ShownText = ""
    """One line under the masthead."""
    topics: tuple[Slug, ...] = Field(min_length=1)
    """Topic slugs, in the order of the edition's sections; the first one's best story leads."""
    schedule: CronExpression
    """When an edition is due: a cron expression (``minute hour day month weekday``), in
    ``timezone``."""
    timezone: TimezoneName = "UTC"
    """The IANA timezone of the schedule, e.g. ``Asia/Dubai``."""
    reader_local: bool = Field(
        default=False,
        description="Read the schedule in each reader's own timezone ('0 7 * * *': 07:00 where "
        "the reader is); readers without a timezone get the list's. Each reader still gets "
        "every article of the list's topics once across their own editions.",
    )
    language: LanguageTag = "en"
    """The BCP 47 tag of the edition's own words (labels, dates: English, Arabic, Hebrew, Persian;
    others fall back to English words); ``ar``, ``he``, ``fa``, ``ur``… lay the edition out right
    to left, and so does a tag that names a right-to-left script (``ku-Arab``, but not
    ``ug-Latn``). Each article keeps its own direction, from its feed's language or script."""
    calendar: Literal["gregorian", "persian"] | None = Field(
        default=None,
        description="How the edition's dates are counted, in the masthead, the subject, each "
        "item's time and the archive. 'persian': the Solar Hijri calendar of Iran and "
        "Afghanistan ('۱۶ آذر ۱۴۰۵، ۰۹:۱۴'), with Persian digits in dates, times and counts; "
        "Iran's month names, or Afghanistan's for a Dari list (fa-AF, prs: '۱۶ قوس ۱۴۰۵'). "
        "Only a Persian list can have it. 'gregorian': '7 دسامبر 2026، 09:14' in a Persian "
        "list. Left out, it follows language: 'persian' for fa, fa-IR, fa-AF and prs, "
        "'gregorian' otherwise.",
    )
    subject: Annotated[str, AfterValidator(_check_subject_template)] = "{{ list_name }}: {{ date }}"
    """A Jinja2 template of the subject, with the variables ``list_name``, ``date``,
    ``lead_title`` and ``article_count``."""
    max_articles: int = Field(default=25, ge=1, le=200)
    """The most articles in one edition, all blocks counted."""
    recommended: int = Field(default=3, ge=0, le=20)
    """The size of the "Recommended" block."""
    lead: Literal["most-covered", "freshest"] | None = Field(
        default=None,
        description="How the lead story is chosen. 'most-covered': the story the most outlets "
        "(then the most reports) covered in the window, score and recency breaking ties, as a "
        "weekly wants. 'freshest': the best fresh story among those at least two outlets covered, "
        "as a daily briefing wants. Left out, it follows the schedule: 'most-covered' when "
        "editions are three days or more apart, else 'freshest'.",
    )
    first_edition_lookback_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 366,
        description="How far back, in hours, a list's first edition reaches from its newest "
        "report (one dated in the future counts as now). Left out, one period of the schedule: "
        "a day for a daily, a week for a weekly, the gap before the slot for uneven schedules. "
        "Later editions start where the previous one ended and are not bounded by it.",
    )
    send_when_empty: bool = False
    """Send an edition even when no article is new."""
    subscribers: Path | None = None
    """A CSV file (columns ``email``, ``name``, ``timezone``; relative to the config file)
    imported into the list as confirmed readers at the start of a cycle whenever it changed
    since its last import. An import adds and updates, never removes or resubscribes anyone:
    readers live in the database (``digest subscribers``). Leave it out for a list whose readers
    sign up or are imported with ``digest subscribers import``."""
    utm: UtmSettings | None = None
    """Tracking parameters for the list's article links; none leaves them as the feed gave
    them."""
    layout: Literal["full", "compact"] = Field(
        default="full",
        description="How much of each item the edition shows: 'full' gives every item its "
        "summary and picture; 'compact' (a morning briefing) gives them to the lead and the "
        "first compact_summaries items (shorter, without an author's other pieces), and lists "
        "the rest as headlines with their outlet and time.",
    )
    compact_summaries: int = Field(
        default=2,
        ge=0,
        le=50,
        description="With layout = 'compact', how many items after the lead keep their summary "
        "and picture, counted in the edition's order (sections, then recommended).",
    )
    max_topic_variants: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="The most variants of an edition narrowed to readers' choices of topics "
        "(one composition and render each, 25 to 70 ms of a core): past it, the choices the "
        "fewest readers hold are not rendered, and their readers get the variant of the most "
        "of their topics and no other "
        "(warned of, naming the list).",
    )
    previous_slugs: tuple[Slug, ...] | None = None
    """The slugs this list had before: its editions, members and unsubscribes follow it to this
    slug. ``[]`` says it is a new list, where a list that left the config has history."""

    @field_validator("calendar")
    @classmethod
    def _calendar_has_words(cls, calendar: str | None, info: ValidationInfo) -> str | None:
        """The Persian calendar's months are named in Persian alone: a list in another language
        would be sent dates no reader of it can read."""
        language = info.data.get("language")
        if (
            calendar == "persian"
            and isinstance(language, str)
            and primary_subtag(language) not in PERSIAN_CALENDAR_LANGUAGES
        ):
            raise ValueError(
                "the Persian calendar's months are named in Persian (fa, fa-AF, prs) only, and "
                f'the list\'s language is {language!r}: set calendar = "gregorian" or leave '
                "it out"
            )
        return calendar
