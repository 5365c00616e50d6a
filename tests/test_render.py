"""Tests for digest.render: an edition rendered once into inlined HTML and readable plain text."""

from __future__ import annotations

import html as html_module
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from premailer import Premailer

from digest import placeholders
from digest.config import Settings, settings_from_mapping
from digest.errors import RenderError
from digest.images.records import Role, ServedPicture
from digest.lint import HTML_SIZE_LIMIT, STYLE_SIZE_LIMIT
from digest.records import Article, Edition, EditionItem, RenderedEdition, Section
from digest.render import (
    ALSO_COVERED_OUTLETS,
    HTML_BUDGET,
    MORE_ON_STORY_HEADLINES,
    SUMMARY_CHARS,
    Renderer,
    build_preheader,
    edition_url,
    format_datetime,
    safe_url,
    shorten,
    template_folder,
    text_direction,
)
from digest.render.bounds import leaving_out_order
from digest.render.text import Neutralized, held_right_to_left, script_language, wrap_text
from digest.render.views import SectionView
from digest.wording import PERSIAN, longest_datetime, wording_for

SLOT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 07:00 in Dubai
IMAGES = "https://images.example.org"
LIST_NAME = "The Middle East in your inbox"
LIST_SLUG = "middle-east-daily"


def make_settings(tmp_path: Path, **list_overrides: Any) -> Settings:
    (tmp_path / "subscribers.csv").write_text("email,name\n", encoding="utf-8")
    digest_list: dict[str, Any] = {
        "slug": "middle-east-daily",
        "name": LIST_NAME,
        "description": "The day's essential stories from the region, picked by our desk.",
        "topics": ["middle-east", "iran", "gulf", "diplomacy"],
        "schedule": "0 7 * * *",
        "timezone": "Asia/Dubai",
        "subject": "{{ list_name }}: {{ lead_title }}",
        "subscribers": "subscribers.csv",
    }
    digest_list.update(list_overrides)
    raw = {
        "service": {
            "base_url": "https://briefing.example.org",
            "sender_name": "The Middle East Desk",
            "sender_address": "briefing@example.org",
            "postal_address": (
                "Example Media Ltd, 12 Harbour Street, Dubai Media City, Dubai, "
                "United Arab Emirates"
            ),
        },
        "topics": [
            {"slug": "middle-east", "name": "Middle East"},
            {"slug": "iran", "name": "Iran", "parent": "middle-east"},
            {"slug": "gulf", "name": "The Gulf", "parent": "middle-east"},
            {"slug": "diplomacy", "name": "Diplomacy", "parent": "middle-east"},
        ],
        "lists": [digest_list],
    }
    return settings_from_mapping(raw, source=tmp_path / "config.toml", environ={})


def article(
    article_id: int,
    title: str,
    *,
    feed: str = "Gulf Wire",
    author: str | None = "Layla Haddad",
    summary: str = "",
    image: str | None = None,
    language: str | None = "en",
    hours_ago: float = 2,
    link: str | None = None,
) -> Article:
    published = SLOT - timedelta(hours=hours_ago)
    return Article(
        id=article_id,
        feed_id=1,
        feed_name=feed,
        guid=f"guid-{article_id}",
        link=link or f"https://news.example.org/2026/11/story-{article_id}",
        title=title,
        summary_html=f"<p>{summary}</p>",
        summary_text=summary,
        author=author,
        published_at=published,
        first_seen_at=published + timedelta(minutes=5),
        image_url=image,
        language=language,
    )


def gulf_edition(lead: Article, item: Article, *, recommended: Article | None = None) -> Edition:
    """The daily's edition of SLOT: ``lead``, ``item`` in a section of the Gulf, and
    ``recommended`` when given."""
    return Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=EditionItem(lead, "gulf"),
        sections=(Section("gulf", "The Gulf", (EditionItem(item, "gulf"),)),),
        recommended=(EditionItem(recommended, "gulf"),) if recommended else (),
    )


def sample_edition(image_base: str = IMAGES) -> Edition:
    """A realistic edition: a lead, three sections, an author's other pieces, recommendations."""
    lead = article(
        1,
        "Saudi Arabia and Iran agree to reopen trade offices after talks in Muscat",
        feed="Diplomatic Notes",
        author="Omar Al-Rashid",
        summary=(
            "Negotiators from Riyadh and Tehran ended three days of talks hosted by Oman with "
            "an agreement to reopen trade offices in both capitals by March, the first concrete "
            "step since embassies reopened. Officials on both sides described the meeting as "
            "businesslike, and said a joint committee would meet again in January to settle "
            "shipping insurance and visa rules for traders."
        ),
        image=f"{image_base}/lead.svg",
        hours_ago=5,
    )
    oil = article(
        2,
        "OPEC+ holds output steady as Gulf producers eye a softer 2027",
        summary=(
            "Ministers kept production quotas unchanged at a brief online meeting, with Saudi "
            "and Emirati officials signalling caution over demand next year."
        ),
        image=f"{image_base}/oil.svg",
        author="Layla Haddad",
    )
    oil_more = (
        article(
            3, "Aramco's new pricing favours Asian buyers", author="Layla Haddad", hours_ago=20
        ),
        article(4, "Why Abu Dhabi is betting on hydrogen", author="Layla Haddad", hours_ago=30),
    )
    qatar = article(
        5,
        "Qatar opens the region's largest desalination plant",
        summary=(
            "The plant at Ras Abu Fontas will supply a fifth of the country's drinking water, "
            "and runs partly on solar power."
        ),
        author=None,
    )
    rial = article(
        6,
        "Iran's rial steadies after central bank intervention",
        feed="Persia Review",
        author="Sara Mohammadi",
        summary="The currency recovered some of last week's losses on the open market in Tehran.",
        image=f"{image_base}/tehran.svg",
    )
    arabic = article(
        7,
        "مجلس التعاون الخليجي يبحث توحيد التأشيرات السياحية",
        feed="Al-Manara",
        author="أحمد الخطيب",
        summary="ناقش وزراء الداخلية في دول المجلس خطة لإطلاق تأشيرة سياحية موحدة العام المقبل.",
        image=f"{image_base}/gcc.svg",
        language="ar",
    )
    envoy = article(
        8,
        "UN envoy returns to Sanaa with a new ceasefire proposal",
        feed="Diplomatic Notes",
        author="Omar Al-Rashid",
        summary="The plan would extend the truce by six months and reopen roads around Taiz.",
    )
    recommended = (
        article(
            9,
            "The long read: how Dubai's creek shaped a trading city",
            feed="Weekend Life",
            author="Nadia Farouk",
            summary="A walk along the water, from the abra stations to the spice souk.",
            image=f"{image_base}/creek.svg",
            hours_ago=40,
        ),
        article(
            10,
            "Podcast: what the Muscat talks mean for the region",
            feed="World Briefing",
            author=None,
            summary="Our correspondents discuss the agreement and what comes next.",
            hours_ago=3,
        ),
    )
    return Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=SLOT - timedelta(days=1),
        window_end=SLOT,
        lead=EditionItem(lead, "diplomacy"),
        sections=(
            Section(
                "gulf",
                "The Gulf",
                (
                    EditionItem(oil, "gulf", more_from=oil_more),
                    EditionItem(qatar, "gulf"),
                    EditionItem(arabic, "gulf"),
                ),
            ),
            Section("iran", "Iran", (EditionItem(rial, "iran"),)),
            Section("diplomacy", "Diplomacy", (EditionItem(envoy, "diplomacy"),)),
        ),
        recommended=tuple(EditionItem(item, "middle-east") for item in recommended),
    )


class _Anchors(HTMLParser):
    """Collects (href, text, attributes) for every link, and dir of the element around text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str, dict[str, str | None]]] = []
        self._open: list[tuple[dict[str, str | None], list[str]]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "a":
            self._open.append((attributes, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            attributes, text = self._open.pop()
            self.anchors.append((attributes.get("href") or "", "".join(text), attributes))

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _, text in self._open:
            text.append(data)

    def tag(self, name: str, css_class: str) -> dict[str, str | None]:
        """The attributes of the only ``name`` element whose class list holds ``css_class``."""
        found = [
            attributes
            for tag, attributes in self.tags
            if tag == name and css_class in (attributes.get("class") or "").split()
        ]
        assert len(found) == 1, (name, css_class, len(found))
        return found[0]


def parse(html: str) -> _Anchors:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def rendered(settings: Settings) -> RenderedEdition:
    return Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))


def body_of(html: str) -> str:
    return html.split("<body", 1)[1]


def head_of(html: str) -> str:
    return html.split("<body", 1)[0]


# ---------------------------------------------------------------------------------------------
# The HTML part


def test_css_is_inlined_and_media_queries_stay_in_head(rendered: RenderedEdition) -> None:
    page = parse(body_of(rendered.html))
    assert "font-family:Georgia" in (page.tag("h1", "masthead-title").get("style") or "")
    assert "padding-left:36px" in (page.tag("td", "masthead").get("style") or "")
    links = [attributes for _, _, attributes in page.anchors]
    assert links and all("color:" in (attributes.get("style") or "") for attributes in links)
    head = head_of(rendered.html)
    assert "<style" in head
    assert "@media only screen and (max-width: 620px)" in head
    assert "!important" in head  # the phone rules still win over the inlined ones
    assert "<style" not in body_of(rendered.html) and "<script" not in rendered.html.lower()
    assert "<link" not in rendered.html  # no external stylesheet
    assert 'name="viewport"' in head


def test_every_article_is_one_headline_link(rendered: RenderedEdition) -> None:
    edition = sample_edition()
    anchors = parse(rendered.html).anchors
    headline_items = [edition.lead, *(i for s in edition.sections for i in s.items)]
    headline_items += list(edition.recommended)
    for item in headline_items:
        assert item is not None
        title, link = item.article.title, item.article.link
        matches = [a for a in anchors if a[0] == link]
        assert len(matches) == 1, link
        assert matches[0][1] == title
        assert "headline-link" in (matches[0][2].get("class") or "")
    for item in edition.items():
        for other in item.more_from:
            matches = [a for a in anchors if a[0] == other.link]
            assert [(m[1], m[2].get("class")) for m in matches] == [(other.title, "more-from-link")]
    assert rendered.article_count == 10


def test_masthead_lead_sections_and_blocks_in_order(rendered: RenderedEdition) -> None:
    body = " ".join("".join(parse(body_of(rendered.html)).text).split())
    order = [
        LIST_NAME,
        "Wednesday 25 November 2026",  # the slot's date in Dubai
        placeholders.GREETING,
        "The day's essential stories from the region",
        "Top story",
        "Saudi Arabia and Iran agree",
        "The Gulf",
        "OPEC+ holds output steady",
        "More from Layla Haddad",
        "Aramco's new pricing favours Asian buyers",
        "Iran's rial steadies",
        "Diplomacy",
        "Recommended",
        "The long read",
        "You are receiving this because you subscribed to",
        "Unsubscribe",
        "Example Media Ltd, 12 Harbour Street",
    ]
    body = body[body.index(LIST_NAME) :]  # after the hidden preheader
    position = 0
    for part in order:
        found = body.find(part, position)
        assert found >= position, f"{part!r} missing or out of order"
        position = found + len(part)
    # author · feed · time, left as a marker that each subscriber's copy writes in their own
    # timezone (tests/test_personalize.py); the lead was published at 22:00 UTC
    published = placeholders.time_marker(datetime(2026, 11, 24, 22, 0, tzinfo=UTC))
    assert f"Omar Al-Rashid · Diplomatic Notes · {published}" in body


def test_placeholders_appear_exactly_where_intended(rendered: RenderedEdition) -> None:
    html, text = rendered.html, rendered.text
    for marker in placeholders.ALL:
        assert html.count(marker) == 1, marker
        assert text.count(marker) == 1, marker
    assert re.search(rf'<p class="greeting" style=[^>]*>{placeholders.GREETING}</p>', html)
    unsubscribe = [a for a in parse(html).anchors if a[1] == "Unsubscribe"]
    assert [a[0] for a in unsubscribe] == [placeholders.UNSUBSCRIBE_URL]
    assert f'(sent to <span dir="ltr">{placeholders.SUBSCRIBER_EMAIL}</span>)' in html
    assert f"Unsubscribe:\n{placeholders.UNSUBSCRIBE_URL}\n" in text


def test_images_have_size_and_alt_text(rendered: RenderedEdition) -> None:
    images = [attrs for tag, attrs in parse(rendered.html).tags if tag == "img"]
    assert len(images) == 5  # the lead picture and four thumbnails
    lead = images[0]
    assert lead["src"] == f"{IMAGES}/lead.svg"
    assert lead["width"] == "528"
    # No publisher described them: alt="", which a screen reader skips, rather than a credit
    # that describes nothing or the headline again, right above or beside the picture.
    assert lead["alt"] == ""
    for thumbnail in images[1:]:
        assert (thumbnail["width"], thumbnail["height"]) == ("96", "96")
        assert thumbnail["alt"] == ""
        assert (thumbnail["src"] or "").startswith(IMAGES)
    # Alt text is styled as a quiet caption (size, colour) and the box has a tint, not a frame.
    for image in images:
        style = image["style"] or ""
        assert "font-size:11px" in style and "color:#5c6370" in style, style
        assert "background-color:#ebe6dc" in style, style
        assert "dir" not in image and "lang" not in image  # an empty alt has nothing to read


def test_rtl_article_gets_dir_rtl(rendered: RenderedEdition) -> None:
    body = body_of(rendered.html)
    title = "مجلس التعاون الخليجي يبحث توحيد التأشيرات السياحية"
    blocks = list(re.finditer(r'<table [^>]*dir="(\w+)"[^>]*>', body))
    enclosing = [block for block in blocks if block.start() < body.index(title)][-1]
    assert enclosing.group(1) == "rtl"
    assert 'lang="ar"' in enclosing.group(0)
    assert [block.group(1) for block in blocks].count("rtl") == 1
    # The other seven stories, and the frame around them (the list is in English).
    assert [block.group(1) for block in blocks].count("ltr") == 8


def test_rtl_is_detected_from_language_or_script() -> None:
    assert text_direction(article(1, "Plain English title", language="he-IL")) == "rtl"
    assert text_direction(article(1, "Plain English title", language="fa")) == "rtl"
    assert text_direction(article(1, "ישראל והמפרץ: IDF", language=None)) == "rtl"
    assert text_direction(article(1, "Beirut: لبنان", language=None)) == "ltr"
    assert text_direction(article(1, "An English title", language="en")) == "ltr"


def test_a_direction_mark_copied_into_a_headline_does_not_turn_it() -> None:
    # A Persian headline opening with a brand in Latin letters: six Latin letters, seven Persian.
    # An LRM copied in front was counted as a seventh Latin letter and turned it left to right.
    for title in ("\u200eiPhone ۱۷ در ایران", "\u200eiPhone\u200e ۱۷ در ایران\u200e"):
        assert text_direction(article(1, title, language=None)) == "rtl", repr(title)
        assert build_preheader([title], "").startswith("\u200f"), repr(title)
        assert script_language(title) == "fa", repr(title)
    # ... and no run of RLM or ALM marks turns an English one.
    for mark in ("\u200f", "\u061c"):
        english = f"{mark}Gaza{mark * 4}"
        assert text_direction(article(1, english, language=None)) == "ltr"
        assert build_preheader([english], "") == english


# ---------------------------------------------------------------------------------------------
# Hostile feed text


HOSTILE_TITLE = "<script>alert(1)</script> \"quoted\" 'single' %%DIGEST-UNSUBSCRIBE-URL%%"
HOSTILE_AUTHOR = '"><img src=x onerror=alert(1)> %%DIGEST-EMAIL%%'
HOSTILE_SUMMARY = "</p><script>steal()</script> %%DIGEST-GREETING%% %%%DIGEST-EMAIL%%% 100%"


def hostile_edition() -> Edition:
    bad = article(
        1,
        HOSTILE_TITLE,
        author=HOSTILE_AUTHOR,
        feed="Evil <b>Feed</b> %%DIGEST-EMAIL%%",
        summary=HOSTILE_SUMMARY,
        image="javascript:alert(1)",
        link='https://evil.example.org/a?x="y"&q=%%DIGEST-UNSUBSCRIBE-URL%%',
    )
    sneaky = article(2, "Sneaky link", link="javascript:alert(document.cookie)", image="data:x")
    return Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=EditionItem(bad, "gulf", more_from=(sneaky,)),
        sections=(Section("gulf", "The Gulf", (EditionItem(sneaky, "gulf"),)),),
    )


def test_hostile_feed_text_is_escaped_and_cannot_forge_placeholders(settings: Settings) -> None:
    result = Renderer(settings).render(hostile_edition(), settings.list("middle-east-daily"))
    for marker in placeholders.ALL:
        # Only the template's own markers: one each in the body parts, none in the headers.
        assert result.html.count(marker) == 1, marker
        assert result.text.count(marker) == 1, marker
        assert marker not in result.subject and marker not in result.preheader
    html = result.html
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and "<b>Feed" not in html
    assert "javascript:" not in html and 'src="data:' not in html
    parser = parse(html)
    # Quotes did not break out of an attribute: every link and image has only expected attributes.
    for tag, attributes in parser.tags:
        assert not {name for name in attributes if name.startswith("on")}, (tag, attributes)
        for name in ("href", "src"):
            value = attributes.get(name)
            if value is not None:
                assert value.startswith(("http://", "https://", "%%DIGEST-")), value
    headline = [a for a in parser.anchors if a[0].startswith("https://evil.example.org/")]
    assert len(headline) == 1
    assert headline[0][0] == 'https://evil.example.org/a?x="y"&q=%25%DIGEST-UNSUBSCRIBE-URL%25%'
    # The reader still sees the text, with the %% run broken by an invisible word joiner.
    assert headline[0][1] == HOSTILE_TITLE.replace("%%", "%\u2060%")
    assert "<script>alert(1)</script>" in result.text  # plain text is not HTML: shown as is
    assert "% %DIGEST-UNSUBSCRIBE-URL% %" in result.text
    assert "Sneaky link" in html and "Sneaky link" in result.text
    assert "javascript:" not in result.text


RLO, PDF, RLE, RLI, PDI = "\u202e", "\u202c", "\u202b", "\u2067", "\u2069"


def test_a_direction_override_left_open_in_feed_text_turns_nothing_after_it_around(
    tmp_path: Path,
) -> None:
    # An override (U+202E) lasts to the end of the line it is in: left open in a headline it
    # showed the list's name in the subject and the next headlines in the preheader backwards,
    # left open in an author's name the outlet and the time in the byline.
    settings = make_settings(tmp_path, subject="{{ lead_title }} | {{ list_name }}")
    lead = article(1, f"Talks {RLO}resume in Muscat", author=f"Sam {RLO}Rana")
    paired = article(2, f"Gulf {RLE}محادثات{PDF} and {RLI}x{PDI}")
    stray = article(3, f"Oil {PDF}{PDI}steady {RLI}{RLE}today", author=None)
    edition = gulf_edition(lead, paired, recommended=stray)
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    assert result.subject == f"Talks resume in Muscat | {LIST_NAME}"
    assert result.preheader == f"{paired.title} · Oil steady today"
    assert "Sam Rana · Gulf Wire · " in result.text
    assert ">Sam Rana</span>" in result.html
    # Controls written in pairs are the publisher's, and stay.
    assert paired.title in result.text and paired.title in result.html
    for part in (result.subject, result.preheader, result.text, result.html):
        assert RLO not in part


def test_a_cut_drops_the_direction_control_whose_closer_it_cut_off() -> None:
    cut = shorten(f"Talks {RLO}resume in Muscat{PDF} after a week", 16)
    assert cut == "Talks resume…"
    assert shorten(f"Talks {RLO}resume{PDF} in Muscat after a week", 20) == (
        f"Talks {RLO}resume{PDF} in…"
    )


def test_marks_stacked_past_what_a_script_stacks_are_dropped_and_real_scripts_kept() -> None:
    zalgo = "Z" + "\u0301\u0300" * 25 + "ealots"
    assert shorten(zalgo, 100) == "Z\u0301\u0300\u0301\u0300ealots"
    # Vietnamese written decomposed, pointed Hebrew with a cantillation mark, Burmese, a keycap.
    for real in ("Vie\u0323\u0302t Nam", "שָּׁ֑לוֹם", "မှို့", "1\ufe0f\u20e3"):
        assert shorten(real, 100) == real


def test_safe_url_only_passes_http_and_https() -> None:
    assert safe_url("https://example.org/a") == "https://example.org/a"
    assert safe_url("HTTP://example.org/a") == "HTTP://example.org/a"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url(" javascript:alert(1)") is None
    assert safe_url("//example.org/a") is None
    assert safe_url("https://example.org/a\nb") is None
    assert (
        safe_url("https://example.org/%%DIGEST-EMAIL%%")
        == "https://example.org/%25%DIGEST-EMAIL%25%"
    )
    assert safe_url(None) is None


# ---------------------------------------------------------------------------------------------
# The plain-text part


def test_text_part_reads_on_its_own_within_72_columns(rendered: RenderedEdition) -> None:
    text = rendered.text
    for line in text.splitlines():
        if "://" in line or "%%DIGEST-" in line:
            continue
        assert len(line) <= 72, line
    lines = text.splitlines()
    assert lines[0] == LIST_NAME.upper()
    assert lines[1] == "Wednesday 25 November 2026"
    assert "TOP STORY\n=========\n" in text
    assert "THE GULF\n========\n" in text
    assert "RECOMMENDED\n===========\n" in text
    assert "More from Layla Haddad:" in text
    # Each article's link stands on a line of its own.
    for item in sample_edition().items():
        assert f"\n{item.article.link}\n" in text
    assert " ".join(text.split()).endswith("Dubai Media City, Dubai, United Arab Emirates")
    assert "  - Aramco's new pricing favours Asian buyers\n" in text
    assert "\n\n\n" not in text and not text.startswith("\n")
    assert "<" not in text  # no markup in the plain part


# ---------------------------------------------------------------------------------------------
# Subject and preheader


def test_subject_is_rendered_from_the_list_template(rendered: RenderedEdition) -> None:
    assert rendered.subject == (
        f"{LIST_NAME}: Saudi Arabia and Iran agree to reopen trade offices after talks in Muscat"
    )


def test_subject_variables_and_single_line(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        subject="{{ list_name }}\r\n — {{ date }}\n({{ article_count }} stories): {{ lead_title }}",
    )
    edition = sample_edition()
    long_lead = article(1, "Word " * 60 + "\nInjected: header", feed="Diplomatic Notes")
    edition = Edition(
        list_slug=edition.list_slug,
        slot=edition.slot,
        window_start=None,
        window_end=edition.window_end,
        lead=EditionItem(long_lead, "diplomacy"),
        sections=edition.sections,
    )
    subject = Renderer(settings).render(edition, settings.list("middle-east-daily")).subject
    assert "\n" not in subject and "\r" not in subject and "  " not in subject
    assert subject.startswith(f"{LIST_NAME} — 25 November 2026 (8 stories): Word Word")
    assert len(subject) <= 150
    assert subject.endswith("Word…")


def test_subject_template_error_is_a_render_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subject="{{ list_name }} {{ no_such_variable }}")
    with pytest.raises(RenderError, match=r"lists\[middle-east-daily\]\.subject.*no_such_variable"):
        Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))


def test_subject_template_is_sandboxed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subject="{{ list_name.__class__.__mro__ }}")
    with pytest.raises(RenderError):
        Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))


def test_preheader_teases_the_headlines_after_the_one_the_subject_shows(
    rendered: RenderedEdition,
) -> None:
    # The subject shows the lead's headline; an inbox prints the preheader right after it.
    assert "Saudi Arabia and Iran agree to reopen trade offices" in rendered.subject
    assert "Saudi Arabia and Iran" not in rendered.preheader
    assert rendered.preheader.startswith("OPEC+ holds output steady")
    assert " · " in rendered.preheader  # more than one headline
    assert len(rendered.preheader) <= 140
    assert rendered.preheader in rendered.html  # in the hidden span at the top of the body
    assert body_of(rendered.html).index(rendered.preheader) < body_of(rendered.html).index(
        LIST_NAME
    )


def test_preheader_teases_the_lead_when_the_subject_does_not_show_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subject="{{ list_name }} — week of {{ date }}")
    result = Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))
    assert result.preheader.startswith("Saudi Arabia and Iran agree to reopen trade offices")
    assert " · OPEC+ holds output steady" in result.preheader


def test_a_short_lead_title_the_subject_happens_to_hold_stays_in_the_preheader(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, subject="{{ list_name }}: the East this week")
    edition = sample_edition()
    assert edition.lead is not None
    lead = replace(edition.lead, article=replace(edition.lead.article, title="East"))
    result = Renderer(settings).render(
        replace(edition, lead=lead), settings.list("middle-east-daily")
    )
    assert result.preheader.startswith("East · OPEC+ holds output steady")


def test_a_preheader_of_a_lead_alone_is_the_description(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    edition = replace(sample_edition(), sections=(), recommended=())
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    assert result.preheader == "The day's essential stories from the region, picked by our desk."


def test_preheader_and_shorten_limits() -> None:
    assert build_preheader([], fallback="A list") == "A list"
    long = build_preheader(["x" * 30, "y" * 200, "z"], fallback="")
    assert long == "x" * 30  # a headline that does not fit whole is left out
    cut = shorten("alpha beta gamma delta", 15)
    assert cut == "alpha beta…" and len(cut) <= 15
    assert shorten("line one\r\nline\ttwo", 100) == "line one line two"


def test_a_persian_headline_cut_at_a_comma_ends_in_the_ellipsis_alone() -> None:
    # "Iran, Saudi Arabia, Turkey…" as an English cut ends: "ایران،…" kept the comma.
    headline = "نشست وزیران خارجه ایران، عربستان، ترکیه و قطر در دوحه؛ گفت\u200cوگو ادامه دارد"
    assert shorten(headline, 30) == "نشست وزیران خارجه ایران…"
    assert shorten(headline, 38) == "نشست وزیران خارجه ایران، عربستان…"
    assert shorten(headline, 62) == "نشست وزیران خارجه ایران، عربستان، ترکیه و قطر در دوحه…"


def test_a_right_to_left_headline_in_the_teaser_is_held_in_its_direction() -> None:
    # The teaser follows the subject in an inbox's line: an Arabic headline's closing "»" went
    # to the far end of that line, after the English headline beside it (Chromium shows it in
    # test_mail_clients.py, for the subject).
    rlm = "\u200f"
    teaser = build_preheader(["قال الوزير «لن نتراجع»", "Talks resume", "שיחות בקהיר"], "")
    assert teaser == f"{rlm}قال الوزير «لن نتراجع»{rlm} · Talks resume · {rlm}שיחות בקהיר{rlm}"
    assert len(build_preheader(["ب" * 300], "")) == 140  # the marks within the bound
    assert build_preheader(["Iran's Pezeshkian في الدوحة"], "") == "Iran's Pezeshkian في الدوحة"


def test_a_headline_that_holds_its_own_right_to_left_marks_gets_none_doubled() -> None:
    # Publishers copy a headline with its RLM in front (and some at its end): the teaser and the
    # subject added one more at each end, two invisible characters of the teaser's 140 and a
    # doubled mark a screen reader may announce.
    rlm = "\u200f"
    for title in (f"{rlm}قال الوزير «لن نتراجع»", f"{rlm}قال الوزير «لن نتراجع»{rlm}"):
        assert held_right_to_left(title) == f"{rlm}قال الوزير «لن نتراجع»{rlm}", repr(title)
        assert held_right_to_left(held_right_to_left(title)) == held_right_to_left(title)
        teaser = build_preheader([title, "Talks resume"], "")
        assert teaser == f"{rlm}قال الوزير «لن نتراجع»{rlm} · Talks resume", repr(teaser)
    assert held_right_to_left(f"قال الوزير{rlm}") == f"{rlm}قال الوزير{rlm}"


def first_strong(line: str) -> str | None:
    """The direction a plain-text reader gives ``line`` (UAX #9, P2 and P3): its first letter's."""
    for char in line:
        kind = unicodedata.bidirectional(char)
        if kind in ("L", "R", "AL"):
            return "ltr" if kind == "L" else "rtl"
    return None


@pytest.mark.parametrize("language", ["en", "ar"])
def test_each_line_of_a_story_in_the_text_part_reads_in_the_storys_direction(
    tmp_path: Path, language: str
) -> None:
    # A plain-text reader sets each line by its first letter. An Arabic headline opening with a
    # name in Latin letters, or a wrapped line of its summary that did, was laid out left to
    # right: the name drawn at the left, where an Arabic reader's line ends.
    title = "Pezeshkian يصل إلى الدوحة في زيارة رسمية لبحث التعاون الاقتصادي"
    summary = (
        "قال الرئيس الإيراني في مؤتمر صحفي مشترك إن بلاده مستعدة لتوسيع التعاون مع الدوحة، "
        "وأضاف في حديث لشبكة CNN International أن المحادثات ستتناول ملفات الطاقة والتجارة "
        "والاستثمار المشترك بين البلدين خلال الأشهر المقبلة."
    )
    lead = article(1, title, summary=summary, language="ar", author=None)
    other = article(2, "Talks resume in Muscat", summary="Envoys met again.", feed="Gulf Wire")
    settings = make_settings(tmp_path, language=language)
    digest_list = settings.list("middle-east-daily")
    text = Renderer(settings).render(gulf_edition(lead, other), digest_list).text
    lines = text.splitlines()
    start = next(at for at, line in enumerate(lines) if "Pezeshkian" in line)
    story = lines[start : lines.index(lead.link, start)]
    assert len([line for line in story if line.strip()]) >= 4, story  # headline, byline, 2+
    for line in story:
        if line.strip() and "%%DIGEST-" not in line:  # the byline holds an isolated time
            assert first_strong(line) == "rtl", line
            assert len(line) <= 72, line
    assert "\nTalks resume in Muscat\n" in text  # the English story's line has no mark


@pytest.mark.parametrize("language", ["fa", "en"])
def test_a_persian_storys_byline_names_its_author_first_from_the_right(
    tmp_path: Path, language: str
) -> None:
    # A byline opening with a name in Latin letters under a Persian story was set left to
    # right, the time first for a reader of the story; the HTML names the author first.
    lead = article(1, "اتحادیه اروپا تحریم\u200cهای تازه را تصویب کرد", language="fa",
                   author="Jane Doe", feed="رادیو فردا")  # fmt: skip
    other = article(2, "Talks resume in Muscat", author="Layla Haddad")
    settings = make_settings(tmp_path, language=language)
    text = Renderer(settings).render(gulf_edition(lead, other), settings.list(LIST_SLUG)).text
    [byline] = [line for line in text.splitlines() if "Jane Doe" in line]
    dash = "–" if language == "fa" else "·"  # the list's separator (Persian digits: a dash)
    assert byline.startswith(f"\u200fJane Doe {dash} رادیو فردا {dash} "), byline
    [english] = [line for line in text.splitlines() if "Layla Haddad" in line]
    assert english.startswith(f"Layla Haddad {dash} Gulf Wire {dash} "), english  # no mark


@pytest.mark.parametrize(("calendar", "separator"), [(None, "–"), ("gregorian", "·")])
def test_a_persian_digit_edition_sets_its_dates_apart_by_a_dash_not_a_dot(
    tmp_path: Path, calendar: str | None, separator: str
) -> None:
    # Persian zero is a dot: "رادیو فردا · ۴ آذر" read "رادیو فردا ۰ ۴ آذر". In Persian digits
    # every separator of the edition is the dash Persian print uses; in Latin ones the dot.
    overrides: dict[str, Any] = {"language": "fa", "layout": "compact", "compact_summaries": 0}
    if calendar is not None:
        overrides["calendar"] = calendar
    settings = make_settings(tmp_path, **overrides)
    rendered = Renderer(settings).render(
        _persian_edition_with_seven_outlets(), settings.list(LIST_SLUG)
    )
    html = html_module.unescape(rendered.html)
    marker = placeholders.time_marker(SLOT - timedelta(hours=2))
    other = "·" if separator == "–" else "–"
    for part in (html, rendered.text):  # bylines, the compact line, the footer, the title
        assert other not in part, part
    assert f'رادیو فردا</span>\xa0{separator}\xa0<span class="nowrap"' in html  # the lead
    assert f'ایران‌وایر\xa0{separator}\xa0<span class="nowrap"' in html  # the compact line
    assert f"Layla Haddad {separator} رادیو فردا {separator} \u2068{marker}" in rendered.text


def test_a_persian_digit_teaser_sets_its_headlines_apart_by_the_lists_separator() -> None:
    # A Persian headline may open with a number: "· ۳ کشته" read "۰ ۳ کشته" in the inbox.
    titles = ["زلزله در کرمان", "۳ کشته در تصادف جاده چالوس"]
    assert build_preheader(titles, "", separator="–") == (
        "\u200fزلزله در کرمان\u200f – \u200f۳ کشته در تصادف جاده چالوس\u200f"
    )
    assert build_preheader(["One", "Two"], "") == "One · Two"


def test_a_persian_bylines_dash_goes_where_its_time_goes_to_the_next_line() -> None:
    marker = "\u2068%%DIGEST-TIME-1771357740%%\u2069"  # isolated, as Story.byline writes it
    outlet = "خبرگزاری " * 6
    byline = Neutralized(f"لیلا حداد – {outlet.strip()} – {marker}")
    lines = wrap_text(byline).splitlines()
    assert lines[-1] == marker and not lines[0].rstrip().endswith("–"), lines
    assert wrap_text(Neutralized(f"{'ب' * 71} – {marker}")).splitlines() == ["ب" * 71, marker]


def test_the_footer_of_a_persian_list_reads_right_to_left_line_by_line(tmp_path: Path) -> None:
    # The footer names the list and the reader's address; wrapped, a line opened with the list's
    # English name ("Daily (ارسال به ...)") and was laid out left to right in a Persian mail.
    lead = article(1, "اتحادیه اروپا تحریم\u200cهای تازه را تصویب کرد", language="fa")
    other = article(2, "قیمت دلار در بازار تهران بالا رفت", language="fa", feed="Gulf Wire")
    settings = make_settings(tmp_path, language="fa", name="Tehran Bureau Daily")
    text = Renderer(settings).render(gulf_edition(lead, other), settings.list(LIST_SLUG))
    lines = text.text.splitlines()
    start = next(at for at, line in enumerate(lines) if PERSIAN.subscribed_to in line)
    footer = lines[start : lines.index(f"{PERSIAN.unsubscribe}:", start)]
    assert any(line.lstrip("\u200f").startswith("Daily") for line in footer), footer
    for line in footer:
        if line.strip():
            assert first_strong(line) == "rtl", line
            assert len(line) <= 72, line
    assert placeholders.SUBSCRIBER_EMAIL in "".join(footer)
    # And the mirror: an English list with a Persian name reads left to right; with an English
    # name its footer is as it was, with no mark.
    for name, marks in (("خبرنامه روزانه رادیو فردا برای خوانندگان انگلیسی", 1), (LIST_NAME, 0)):
        english = make_settings(tmp_path, name=name)
        edition = Renderer(english).render(gulf_edition(lead, other), english.list(LIST_SLUG))
        footer = edition.text.split("-" * 72 + "\n")[-1].split("\n\n")[0].splitlines()
        assert all(first_strong(line) == "ltr" for line in footer), footer
        assert sum(line.count("\u200e") for line in footer) == marks, footer


# ---------------------------------------------------------------------------------------------
# Rendering once, edge cases, template folders


def test_premailer_runs_exactly_once_per_render(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original: Callable[..., str] = Premailer.transform

    def counting(self: Premailer, *args: Any, **kwargs: Any) -> str:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Premailer, "transform", counting)
    renderer = Renderer(settings)
    digest_list = settings.list("middle-east-daily")
    first = renderer.render(sample_edition(), digest_list)
    assert len(calls) == 1
    second = renderer.render(sample_edition(), digest_list)
    assert len(calls) == 2
    assert first == second  # rendering is deterministic


def test_empty_edition_renders_a_short_note(settings: Settings) -> None:
    edition = Edition(
        list_slug="middle-east-daily", slot=SLOT, window_start=None, window_end=SLOT, lead=None
    )
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    assert result.article_count == 0
    assert "There are no new stories in this edition." in result.html
    assert "There are no new stories in this edition." in result.text
    assert result.subject == f"{LIST_NAME}: No new stories"
    assert result.preheader.startswith("The day's essential stories")
    assert placeholders.UNSUBSCRIBE_URL in result.html


def test_edition_of_another_list_is_refused(settings: Settings) -> None:
    edition = Edition(
        list_slug="gulf-weekly", slot=SLOT, window_start=None, window_end=SLOT, lead=None
    )
    with pytest.raises(RenderError, match="gulf-weekly"):
        Renderer(settings).render(edition, settings.list("middle-east-daily"))


def test_dates_are_in_the_list_timezone() -> None:
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 11, 25, 5, 14, tzinfo=UTC)
    assert format_datetime(moment, ZoneInfo("Asia/Dubai")) == "25 Nov 2026, 09:14 GST"
    assert format_datetime(moment, ZoneInfo("America/New_York")) == "25 Nov 2026, 00:14 ET"


def test_template_folder_is_bundled_by_default(settings: Settings) -> None:
    folder = template_folder(settings)
    assert (folder / "email" / "digest.html.j2").is_file()
    assert (folder / "email" / "digest.txt.j2").is_file()


def test_operator_templates_override_the_bundled_ones(tmp_path: Path) -> None:
    own = tmp_path / "brand"
    (own / "email").mkdir(parents=True)
    (own / "email" / "digest.txt.j2").write_text(
        "{{ list_name }} by ACME\n{{ placeholders.UNSUBSCRIBE_URL }}\n", encoding="utf-8"
    )
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"service": settings.service.model_copy(update={"templates": Path("brand")})}
    )
    assert template_folder(settings) == tmp_path / "brand"
    result = Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))
    assert result.text == f"{LIST_NAME} by ACME\n{placeholders.UNSUBSCRIBE_URL}\n"
    assert "Top story" in result.html  # the HTML template still comes bundled


def test_broken_operator_template_is_a_render_error(tmp_path: Path) -> None:
    own = tmp_path / "brand"
    (own / "email").mkdir(parents=True)
    (own / "email" / "digest.txt.j2").write_text("{{ no_such_thing.title }}\n", encoding="utf-8")
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"service": settings.service.model_copy(update={"templates": own})}
    )
    with pytest.raises(RenderError, match=r"digest\.txt\.j2.*no_such_thing"):
        Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))


def test_html_entities_decode_to_the_feed_text(rendered: RenderedEdition) -> None:
    # What a reader sees is the feed's text, not doubly escaped entities.
    assert "&amp;#39;" not in rendered.html and "&amp;amp;" not in rendered.html
    assert html_module.unescape("Aramco&#39;s new pricing") in html_module.unescape(rendered.html)


# ---------------------------------------------------------------------------------------------
# Mail clients: view in browser, dark mode, languages, what Gmail strips, size


def test_view_in_browser_link_is_derived_from_the_edition(rendered: RenderedEdition) -> None:
    url = "https://briefing.example.org/editions/middle-east-daily/2026-11-25-0300"
    assert edition_url("https://briefing.example.org/", "middle-east-daily", SLOT) == url
    dubai = SLOT.astimezone(ZoneInfo("Asia/Dubai"))  # the same instant names the same edition
    assert edition_url("https://briefing.example.org", "middle-east-daily", dubai) == url
    links = [a for a in parse(rendered.html).anchors if a[0] == url]
    assert [a[1] for a in links] == ["View in your browser", "View in your browser"]  # top, foot
    assert f"View in your browser:\n{url}\n" in rendered.text


def test_dark_mode_and_phone_rules_stay_in_head(rendered: RenderedEdition) -> None:
    head = head_of(rendered.html)
    assert '<meta name="color-scheme" content="light dark">' in head
    assert '<meta name="supported-color-schemes" content="light dark">' in head
    dark = head[head.index("@media (prefers-color-scheme: dark)") :]
    assert ".container { background-color: #1a1d21 !important }" in dark
    assert ".headline-link" in dark and "!important" in dark
    # Gmail drops a <style> block over 16 KB whole, phone and dark rules with it.
    style = re.search(r"<style[^>]*>(.*?)</style>", head, re.S)
    assert style is not None and len(style.group(1).encode()) < STYLE_SIZE_LIMIT


GMAIL_STRIPS = (
    r"display\s*:\s*(flex|grid)",
    r"position\s*:",
    r"float\s*:",
    r"var\(--",
    r"@import",
    r"@font-face",
    r"<link\b",
    r"<script\b",
    r"background-image",
    r"<svg\b",
)


def test_no_css_that_gmail_strips(rendered: RenderedEdition) -> None:
    for pattern in GMAIL_STRIPS:
        assert not re.search(pattern, rendered.html, re.I), pattern
    # Gmail replaces <html> and <body>: the direction and background are set again inside.
    assert re.search(r'<table [^>]*class="canvas"[^>]*lang="en" dir="ltr"', rendered.html)
    assert "background-color:#f2efe9" in (
        parse(rendered.html).tag("table", "canvas")["style"] or ""
    )


def test_an_arabic_list_reads_right_to_left_and_keeps_english_articles_left_to_right(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, language="ar")
    result = Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))
    html = result.html
    assert '<html lang="ar" dir="rtl" ' in html
    canvas = parse(html).tag("table", "canvas")
    assert (canvas["dir"], canvas["lang"]) == ("rtl", "ar")
    assert "الخبر الرئيسي" in html and "مختارات" in html  # "Top story", "Recommended"
    assert "الأربعاء 25 نوفمبر 2026" in html  # the masthead date in Arabic
    assert "إلغاء الاشتراك" in result.text
    # An English story in the Arabic digest stays left to right, the Arabic one right to left.
    body = body_of(html).split('class="canvas', 1)[1]  # past the preheader's headlines
    english = body.rindex("<table", 0, body.index(">OPEC+ holds output steady"))
    assert 'dir="ltr" lang="en"' in body[english : body.index(">", english)]
    arabic = body.rindex("<table", 0, body.index(">مجلس التعاون الخليجي يبحث"))
    assert 'dir="rtl" lang="ar"' in body[arabic : body.index(">", arabic)]
    # Letter-spacing would pull Arabic letters apart: the labels have none.
    assert "letter-spacing:0" in (parse(html).tag("h2", "label")["style"] or "")
    top = parse(html).tag("td", "topbar-cell")
    assert top["align"] == "left"  # "view in browser" at the end of an RTL line


def test_hebrew_and_unknown_languages() -> None:
    from digest.wording import direction_of, wording_for

    assert direction_of("he-IL") == "rtl" and wording_for("he").top_story == "הכתבה המרכזית"
    assert direction_of("fr") == "ltr" and wording_for("fr").top_story == "Top story"


def worst_case_article(article_id: int, *, word: str, url_length: int) -> Article:
    """Everything as long as a feed could make it: far over every bound."""
    written = article(
        article_id,
        (word + " ") * 100,
        feed="Feed " * 40,
        author="Author " * 40,
        summary=(word + " ") * 2000,
        image=f"https://images.example.org/{'i' * url_length}{article_id}.jpg",
        link=f"https://news.example.org/{'p' * url_length}{article_id}",
        language="ar" if not word.isascii() else "en",
    )
    return replace(written, image_description=(word + " ") * 100)


def worst_case_edition(
    word: str, url_length: int, *, gulf: int = 15, iran: int = 6, recommended: int = 3
) -> Edition:
    """A lead, then ``gulf`` and ``iran`` stories in two sections and ``recommended`` reads,
    each article as long as a feed could make it."""
    items = [
        EditionItem(worst_case_article(i, word=word, url_length=url_length), "gulf")
        for i in range(1, 2 + gulf + iran + recommended)
    ]
    return Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=items[0],
        sections=(
            Section("gulf", "The Gulf", tuple(items[1 : 1 + gulf])),
            Section("iran", "Iran", tuple(items[1 + gulf : 1 + gulf + iran])),
        ),
        recommended=tuple(items[1 + gulf + iran :]),
    )


def twenty_five(word: str, url_length: int) -> Edition:
    return worst_case_edition(word, url_length)


@pytest.mark.parametrize("word", ["word", "كلمة"])  # Arabic letters take two bytes each
def test_25_articles_with_the_longest_summaries_stay_under_gmail_clipping(
    settings: Settings, word: str
) -> None:
    digest_list = settings.list("middle-east-daily")
    # Long but real links: every summary at its bound and every picture shown.
    full = Renderer(settings).render(twenty_five(word, url_length=120), digest_list)
    size = len(full.html.encode())
    print(f"25 articles, longest summaries ({word}): HTML {size / 1000:.1f} KB")
    assert size <= HTML_BUDGET < HTML_SIZE_LIMIT
    assert full.html.count("<img") == 25
    summaries = re.findall(r'<p class="summary"[^>]*>([^<]*)</p>', full.html)
    assert len(summaries) == 24 and all(len(text) == SUMMARY_CHARS for text in summaries)
    # Absurd links too: the edition gives up thumbnails and trims summaries rather than clip.
    absurd = Renderer(settings).render(twenty_five(word, url_length=560), digest_list)
    print(
        f"25 articles, 600-character links ({word}): HTML {len(absurd.html.encode()) / 1000:.1f} KB"
    )
    assert len(absurd.html.encode()) <= HTML_BUDGET
    assert absurd.html.count('class="thumb"') == 0
    assert absurd.article_count == 25 and absurd.text.count("https://news.example.org/") == 25


def test_an_edition_too_large_at_every_bound_leaves_its_last_stories_out_not_itself(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """150 stories (max_articles allows 200): over Gmail's clip even as bare headlines, so the
    check before each send held the list back at every run. The stories last in line are left
    out of the HTML, the recommended reads first, then each section's last, so every topic keeps
    its first; the plain-text part and the web copy keep them all, and the operator is told."""
    edition = worst_case_edition("word", 120, gulf=99, iran=40, recommended=10)
    with caplog.at_level(logging.WARNING, logger="digest.render.renderer"):
        laid_out = Renderer(settings).lay_out(edition, settings.list("middle-east-daily"))
    size = len(laid_out.rendered.html.encode())
    assert size <= HTML_BUDGET
    shown = [story.article.id for story in laid_out.stories()]
    assert laid_out.lead is not None and shown[0] == 1
    assert laid_out.recommended == ()
    gulf, iran = laid_out.sections
    # The fuller section gave up stories first, and each keeps its first ones in order.
    assert [story.article.id for story in gulf.stories] == list(range(2, 2 + len(gulf.stories)))
    assert [story.article.id for story in iran.stories] == list(range(101, 101 + len(iran.stories)))
    assert abs(len(gulf.stories) - len(iran.stories)) <= 1
    left_out = 150 - len(shown)
    assert 0 < left_out < 140
    in_html = re.findall(r"news\.example\.org/p{120}(\d+)", laid_out.rendered.html)
    assert {int(number) for number in in_html} == set(shown)
    assert laid_out.rendered.text.count("https://news.example.org/") == 150
    # The web copy shows them all, and the mail links to it under its last story.
    web_html = laid_out.rendered.web_html
    assert web_html is not None
    in_web = re.findall(r"news\.example\.org/p{120}(\d+)", web_html)
    assert {int(number) for number in in_web} == set(range(1, 151))
    assert "more-online-link" in laid_out.rendered.html and "more-online-link" not in web_html
    assert [record.getMessage() for record in caplog.records] == [
        f"list middle-east-daily: {left_out} of the edition's stories left out of its HTML to "
        "stay under Gmail's clipping limit (they are in the plain-text part and the web copy); "
        "lower its max_articles"
    ]


def test_stories_are_left_out_from_the_recommended_then_the_fullest_section() -> None:
    def section(count: int) -> SectionView:
        return SectionView("s", "S", tuple(object() for _ in range(count)))  # type: ignore[misc]

    order = leaving_out_order((section(3), section(1), section(3)), (object(), object()))  # type: ignore[arg-type]
    assert order == [
        ("recommended", 1),
        ("recommended", 0),
        (2, 2),
        (0, 2),
        (2, 1),
        (0, 1),
        (2, 0),
        (1, 0),
        (0, 0),
    ]


# ---------------------------------------------------------------------------------------------
# What an editor would sign: paragraphs apart, no dateline, no pixel, "More from" a person


def edited_edition() -> Edition:
    """A lead stored before ingest knew its dateline and its pixel, with two paragraphs, and an
    item whose author is credited beside an agency."""
    lead = article(
        1,
        "Strikes go on in Gaza despite the truce",
        author="Jane Doe | Reuters",
        image="https://news.example.org/assets/rss-pixel.png",
    )
    lead = replace(
        lead,
        summary_html="<p>Strikes go on despite truce</p>"
        "<p>JERUSALEM (Reuters) - Israel said on Monday it would keep talking.</p>",
        summary_text="Strikes go on despite truce JERUSALEM (Reuters) - Israel said on Monday it "
        "would keep talking.",
    )
    other = article(2, "Talks move to Cairo", author="By JANE DOE, Reuters")
    return Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=SLOT - timedelta(days=1),
        window_end=SLOT,
        lead=EditionItem(lead, "middle-east", more_from=(other,)),
    )


def test_summary_paragraphs_stay_apart_without_their_dateline(settings: Settings) -> None:
    result = Renderer(settings).render(edited_edition(), settings.list("middle-east-daily"))
    assert "Strikes go on despite truce\n\nIsrael said on Monday it would keep talking." in (
        result.text
    )
    body = body_of(result.html)
    assert re.search(r">Strikes go on despite truce</p>\s*<p[^>]*>Israel said on Monday", body)
    assert "(Reuters) -" not in result.text and "(Reuters) -" not in body
    assert "truce JERUSALEM" not in result.text and "truce JERUSALEM" not in body


def test_a_summary_of_only_a_source_tag_is_not_shown(settings: Settings) -> None:
    # An aggregator's description that is nothing but its source tag printed "[Gulf Digest]"
    # as the story's summary.
    lead = article(1, "Port strike ends in Salalah", summary="[Gulf Digest]")
    tagged = article(2, "Oman lifts fuel subsidy", summary="[Gulf Digest] Oman lifted it.")
    result = Renderer(settings).render(
        gulf_edition(lead, tagged), settings.list("middle-east-daily")
    )
    for part in (result.text, body_of(result.html)):
        assert part.count("[Gulf Digest]") == 1  # the one that goes on with the summary stays
        assert "[Gulf Digest] Oman lifted it." in part


def test_a_summary_is_shown_as_ingest_would_clean_it_now(settings: Settings) -> None:
    # Stored before ingest cleaned it: a credit line and a promotion closing it, behind a bare
    # source tag; and a summary kept only as text, with its dateline.
    lead = article(
        1,
        "Port strike ends in Salalah",
        summary="Dockers went back to work.</p><p>Officials said more. (Reporting by Jane Doe;"
        " Editing by John Roe)</p><p>Follow us on Twitter.</p><p>[Gulf Digest]",
    )
    plain = replace(
        article(2, "Oman lifts fuel subsidy"),
        summary_html="",
        summary_text="MUSCAT (Reuters) - Oman lifted the subsidy.",
    )
    result = Renderer(settings).render(
        gulf_edition(lead, plain), settings.list("middle-east-daily")
    )
    for part in (result.text, body_of(result.html)):
        assert "Officials said more." in part
        assert (
            "Reporting by" not in part and "Follow us" not in part and "[Gulf Digest]" not in part
        )
        assert "Oman lifted the subsidy." in part and "(Reuters)" not in part


def test_a_summary_of_only_a_web_address_is_not_shown(settings: Settings) -> None:
    # A description that is only a link, written as its address, printed the address as the
    # story's summary, with a full stop after it that is no part of it.
    lead = article(1, "Port strike ends in Salalah", summary="https://gulfdigest.example/y")
    item = article(2, "Oman lifts fuel subsidy", summary="www.gulfdigest.example/oman-fuel")
    cited = article(
        3,
        "Kuwait assembly meets",
        summary="The full text is at https://gulfdigest.example/kuwait-text for readers.",
    )
    result = Renderer(settings).render(
        gulf_edition(lead, item, recommended=cited), settings.list("middle-east-daily")
    )
    for part in (result.text, body_of(result.html)):
        assert "gulfdigest.example/y" not in part and "gulfdigest.example/oman-fuel" not in part
        assert "https://gulfdigest.example/kuwait-text for readers." in part  # a sentence stays


@pytest.mark.parametrize("nothing", ["…", "-", "\u200b", "...", "\u00a0·\u00a0"])
def test_a_summary_that_shows_nothing_is_not_shown(settings: Settings, nothing: str) -> None:
    # A publishing system's stand-in for a missing excerpt printed a lone "…" as the summary,
    # or a zero-width space: a blank paragraph under the byline.
    lead = article(1, "Port strike ends in Salalah", summary=nothing)
    item = article(2, "Oman lifts fuel subsidy", summary=f"<br>{nothing}<br>Oman lifted it.")
    result = Renderer(settings).render(gulf_edition(lead, item), settings.list("middle-east-daily"))
    time = "\u2068%%DIGEST-TIME-1795568400%%\u2069"  # isolated, as a byline writes it
    assert f"Gulf Wire · {time}\nhttps://news.example.org/2026/11/story-1" in result.text
    body = body_of(result.html)
    assert len(re.findall(r'<p class="summary"', body)) == 1
    assert re.search(r'<p class="summary"[^>]*>Oman lifted it\.</p>', body)


def test_a_pictures_credit_is_no_part_of_the_summary(settings: Settings) -> None:
    # A figure's caption left behind its picture: the summary read "Photo: AFP." or opened
    # with "Photo: Reuters".
    lead = article(1, "Port strike ends in Salalah", summary="Photo: AFP")
    item = replace(
        article(2, "Oman lifts fuel subsidy"),
        summary_html="<p>(Photo by Jane Doe/Reuters)</p><p>Oman lifted it.</p>",
        summary_text="(Photo by Jane Doe/Reuters) Oman lifted it.",
    )
    result = Renderer(settings).render(gulf_edition(lead, item), settings.list("middle-east-daily"))
    for part in (result.text, body_of(result.html)):
        assert "Photo: AFP" not in part and "Photo by" not in part
        assert "Oman lifted it." in part


def test_a_stored_pixel_is_never_shown(settings: Settings) -> None:
    result = Renderer(settings).render(edited_edition(), settings.list("middle-east-daily"))
    assert "rss-pixel.png" not in result.html
    assert "<img" not in body_of(result.html)


PRIVATE_PICTURES = [
    "http://169.254.169.254/latest/meta-data/photo.jpg",
    "http://192.168.1.1/cgi-bin/reboot.jpg",
    "http://[::1]/photo.jpg",
    "http://0x7f.1/photo.jpg",  # 127.0.0.1, as browsers read it
    "http://localhost:8080/photo.jpg",
    "http://nas.local/photos/photo.jpg",  # names only a local network resolves
    "http://router.home.arpa/photo.jpg",
    "http://cms.corp.internal/photo.jpg",
    # As browsers read these too: full-width digits and ideographic full stops (UTS 46), a
    # host of percent-escapes, "localhost" in circled letters.
    "http://\uff11\uff12\uff17\u3002\uff10\u3002\uff10\u3002\uff11/photo.jpg",
    "http://%31%36%39.254.169.254/latest/meta-data/photo.jpg",
    "http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3:8080/photo.jpg",
]


def _pictures_of_a_lead_with_another_report(tmp_path: Path, address: str) -> list[Any]:
    """The attributes of each picture the mail shows for a lead pictured at ``address`` whose
    other report, from the Levant Ledger, has a picture of its own."""
    settings = make_settings(tmp_path)
    lead = article(1, "Talks resume in Muscat", image=address)
    other = replace(
        article(2, "Muscat talks resume", feed="Levant Ledger", image=f"{IMAGES}/other.jpg"),
        image_description="Envoys at the Levant Ledger's table",
    )
    edition = Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=EditionItem(lead, "gulf", also_covered_by=(other,)),
    )
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    return [attrs for tag, attrs in parse(result.html).tags if tag == "img"]


@pytest.mark.parametrize("address", PRIVATE_PICTURES)
def test_a_picture_on_a_private_network_is_not_shown(tmp_path: Path, address: str) -> None:
    # Shown, it was a broken box for every reader, and for one on such a network a request the
    # feed had their mail app send into it. The story takes another report's picture instead.
    sources = [attrs["src"] for attrs in _pictures_of_a_lead_with_another_report(tmp_path, address)]
    assert sources == [f"{IMAGES}/other.jpg"]


def test_a_picture_address_with_spaces_is_shown_as_a_browser_asks_for_it(tmp_path: Path) -> None:
    # Feeds leave the spaces of a file's name in its address; every browser asks for it with
    # %20. Dropped, the story lost its picture, though compose had preferred it for having one.
    settings = make_settings(tmp_path)
    lead = article(1, "Talks resume in Muscat", image=f"{IMAGES}/uploads/Harbour at dawn.jpg")
    edition = replace(hostile_edition(), lead=EditionItem(lead, "gulf"), sections=())
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    sources = [attrs["src"] for tag, attrs in parse(result.html).tags if tag == "img"]
    assert sources == [f"{IMAGES}/uploads/Harbour%20at%20dawn.jpg"]


@pytest.mark.parametrize(
    "address",
    [
        f"{IMAGES}/{'photo-' * 120}.jpg",  # longer than the mail gives a picture's address
        f"{IMAGES}/harbour\nat-dawn.jpg",  # a line break, which browsers drop: no guessing
        "https://images example.org/harbour.jpg",  # a space in the host name
    ],
)
def test_a_picture_address_the_mail_cannot_show_gives_way_to_another_reports(
    tmp_path: Path, address: str
) -> None:
    # The story's own picture was chosen, then found unshowable: the story showed none, though
    # another report of it had a picture to show.
    images = _pictures_of_a_lead_with_another_report(tmp_path, address)
    assert [image["src"] for image in images] == [f"{IMAGES}/other.jpg"]
    assert str(images[0]["alt"]).endswith("Levant Ledger's table")  # the report's description


def test_a_picture_on_a_private_network_is_shown_where_the_feeds_are_on_one(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"allow_private_addresses": True})}
    )
    lead = article(1, "Talks resume in Muscat", image="http://10.0.0.7/photo.jpg")
    edition = replace(hostile_edition(), lead=EditionItem(lead, "gulf"), sections=())
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    sources = [attrs["src"] for tag, attrs in parse(result.html).tags if tag == "img"]
    assert sources == ["http://10.0.0.7/photo.jpg"]


def test_more_from_names_the_person_not_the_agency(settings: Settings) -> None:
    result = Renderer(settings).render(edited_edition(), settings.list("middle-east-daily"))
    assert "More from Jane Doe:" in result.text
    assert "More from <bdi>Jane Doe</bdi></p>" in result.html
    assert "More from Jane Doe | Reuters" not in result.text


# With web.images: the service's copies, and nothing else


def test_with_the_services_pictures_the_mail_shows_only_them(settings: Settings) -> None:
    served = "https://news.example.org/images"
    pictures: dict[tuple[Role, str], ServedPicture] = {
        ("lead", f"{IMAGES}/lead.svg"): ServedPicture(f"{served}/{'a' * 32}.jpg", 1056, 704),
        ("thumb", f"{IMAGES}/oil.svg"): ServedPicture(f"{served}/{'b' * 32}.png", 192, 192),
        # The lead's picture as a thumbnail is another copy: not the one the lead shows.
        ("thumb", f"{IMAGES}/lead.svg"): ServedPicture(f"{served}/{'c' * 32}.jpg", 192, 192),
    }
    result = Renderer(settings).render(
        sample_edition(), settings.list("middle-east-daily"), pictures
    )
    images = [attrs for tag, attrs in parse(result.html).tags if tag == "img"]
    # The lead keeps its box when pictures are blocked: 528 wide, 352 high (1056×704 halved).
    assert [(i["src"], i["width"], i["height"]) for i in images] == [
        (f"{served}/{'a' * 32}.jpg", "528", "352"),
        (f"{served}/{'b' * 32}.png", "96", "96"),
    ]  # the three thumbnails the service does not hold (refused, not fetched) are not shown
    assert IMAGES not in result.html


def test_without_the_services_pictures_the_publishers_addresses_stay(settings: Settings) -> None:
    result = Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"), None)
    images = [attrs for tag, attrs in parse(result.html).tags if tag == "img"]
    assert images[0]["src"] == f"{IMAGES}/lead.svg" and "height" not in images[0]
    assert len(images) == 5


def test_a_stored_title_that_shows_nothing_is_untitled_not_an_empty_link(tmp_path: Path) -> None:
    # Ingest now takes such titles for missing; articles stored before it keep theirs, and a
    # headline of zero-width spaces or a lone dash was a link with nothing to click.
    settings = make_settings(
        tmp_path, subject="{% if lead_title %}{{ lead_title }} | {% endif %}{{ list_name }}"
    )
    lead = article(1, "\u200b\u200b\u200b")
    dash = article(2, "–")
    edition = gulf_edition(lead, dash)
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    assert result.subject == LIST_NAME
    anchors = parse(result.html).anchors
    for story in (lead, dash):
        texts = [text.strip() for href, text, _ in anchors if href.startswith(story.link)]
        assert "(untitled)" in texts, texts
        assert story.title not in texts, texts
    assert "(untitled)" in result.text


def test_a_story_forty_outlets_covered_names_a_few_and_counts_the_rest(tmp_path: Path) -> None:
    # Every outlet's name and link under the lead made a wall of 39 links in the mail and 39
    # addresses in its text part, above the rest of the day's news.
    settings = make_settings(tmp_path)
    lead = article(1, "Iran and Saudi Arabia restore ties in Beijing deal", feed="Outlet 0")
    others = tuple(
        article(n, "Iran and Saudi Arabia restore ties", feed=f"Outlet {n}") for n in range(2, 41)
    )
    edition = Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=EditionItem(lead, "gulf", also_covered_by=others),
    )
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    named = [n for n in range(2, 41) if f">Outlet {n}</a>" in result.html]
    assert named == list(range(2, 2 + ALSO_COVERED_OUTLETS))
    unnamed = 39 - ALSO_COVERED_OUTLETS
    assert f"and {unnamed} more" in body_of(result.html)
    text = " ".join(result.text.split())
    assert f"Outlet {2 + ALSO_COVERED_OUTLETS - 1} and {unnamed} more" in text
    assert f"Outlet {2 + ALSO_COVERED_OUTLETS}," not in text
    linked = [n for n in range(2, 41) if f"/story-{n}\n" in result.text]
    assert linked == list(range(2, 2 + ALSO_COVERED_OUTLETS))


def test_a_compact_edition_shows_an_authors_other_pieces_as_headlines(tmp_path: Path) -> None:
    # A compact edition leaves "More from" out of its items: the pieces compose had moved under
    # an item were then in no part of the mail and not on the web copy either.
    settings = make_settings(tmp_path, layout="compact")
    lead = article(1, "Talks resume in Muscat", author="Layla Haddad")
    head = article(2, "Ports reopen along the Gulf", author="Omar Saleh")
    others = tuple(
        article(n, f"Shipping insurers return, part {n}", author="Omar Saleh") for n in (3, 4, 5)
    )
    edition = Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=EditionItem(lead, "gulf"),
        sections=(Section("gulf", "The Gulf", (EditionItem(head, "gulf", more_from=others),)),),
    )
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    html = body_of(result.html)
    for piece in (head, *others):
        assert html.count(f">{piece.title}</a>") == 1
        assert result.text.count(piece.title) == 1
        assert piece.link in result.text
    # Each after the item whose "More from" it was, in both parts.
    assert html.index(head.title) < html.index(others[0].title) < html.index(others[2].title)
    assert result.text.index(head.title) < result.text.index(others[0].title)


def test_an_outlets_forty_updates_of_a_story_name_a_few_and_count_the_rest(
    tmp_path: Path,
) -> None:
    # A live story one outlet updated forty times listed 39 headlines under "More on this
    # story", in the mail and in its text part.
    settings = make_settings(tmp_path)
    lead = article(1, "Iran and Saudi Arabia restore ties in Beijing deal")
    updates = tuple(
        article(n, f"Iran and Saudi Arabia restore ties: update {n}") for n in range(2, 41)
    )
    edition = Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=EditionItem(lead, "gulf", also_covered_by=updates),
    )
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    html = body_of(result.html)
    named = [n for n in range(2, 41) if f"update {n}</a>" in html]
    assert named == list(range(2, 2 + MORE_ON_STORY_HEADLINES))
    unnamed = 39 - MORE_ON_STORY_HEADLINES
    assert f"and {unnamed} more" in html
    assert [n for n in range(2, 41) if f"update {n}\n" in result.text] == named
    assert f"and {unnamed} more" in result.text


def _language_of(element: Any) -> str | None:
    """The language an element's text is read in: its own lang, else its nearest ancestor's."""
    while element is not None:
        if element.get("lang") is not None:
            return str(element.get("lang"))
        element = element.getparent()
    return None


def _story_links(html: str) -> dict[str, Any]:
    """The links of an edition to its stories, by the story's number ("3" for .../story-3)."""
    from lxml import html as lxml_html

    return {
        link.get("href").rsplit("-", 1)[1]: link
        for link in lxml_html.document_fromstring(html).iter("a")
        if "/story-" in (link.get("href") or "")
    }


# A headline in each of two languages, each a story of the other language's list.
_HEADLINES = {"en": "OPEC+ holds output steady", "ar": "مجلس التعاون الخليجي يبحث أسعار النفط"}
_A_STORY_IN_THE_OTHER_LANGUAGE = pytest.mark.parametrize(
    ("list_language", "story_language", "title"),
    [("en", "ar", _HEADLINES["ar"]), ("ar", "en", _HEADLINES["en"])],
    ids=["arabic-story-english-list", "english-story-arabic-list"],
)


@_A_STORY_IN_THE_OTHER_LANGUAGE
def test_the_lists_words_in_a_story_of_another_language_are_read_in_the_lists(
    tmp_path: Path, list_language: str, story_language: str, title: str
) -> None:
    # The time under a story is written in the list's words ("25 Nov, 09:14 GST"); inside an
    # Arabic story of an English list
    # they inherited lang="ar", so a screen reader spoke the English words with an Arabic voice.
    from lxml import html as lxml_html

    def story(article_id: int, **fields: Any) -> Article:
        written = article(
            article_id, title, language=story_language, image=f"{IMAGES}/{article_id}.jpg", **fields
        )
        return replace(written, image_description=title)  # in the publisher's words

    lead = EditionItem(story(1), "gulf", more_from=(story(2, feed="Al-Manara"),))
    edition = Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=lead,
        sections=(Section("gulf", "The Gulf", (EditionItem(story(3), "gulf"),)),),
    )
    for layout in ("full", "compact"):
        settings = make_settings(
            tmp_path, language=list_language, layout=layout, compact_summaries=0
        )
        result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
        document = lxml_html.document_fromstring(result.html)
        stories = document.find_class("story")
        assert stories and {_language_of(table) for table in stories} == {story_language}
        times = [span for table in stories for span in table.find_class("nowrap")]
        pictures = [image for table in stories for image in table.iter("img")]
        assert len(times) == 3 and pictures, layout  # the lead, its "More from" piece, the item
        for element in times:
            assert _language_of(element) == list_language, (layout, lxml_html.tostring(element))
        # A picture's alt is its publisher's description, in the story's language.
        for element in pictures:
            assert element.get("alt") == title, layout
            assert _language_of(element) == story_language, (layout, lxml_html.tostring(element))


@_A_STORY_IN_THE_OTHER_LANGUAGE
def test_the_other_headlines_under_a_story_are_read_in_their_own_language(
    tmp_path: Path, list_language: str, story_language: str, title: str
) -> None:
    # "More on this story" is a line in the list's language (lang="en") that lists the outlet's
    # other Arabic headlines: without a lang of their own a screen reader read them with the
    # English voice. An author's other pieces under "More from" are each in their own language.

    def report(article_id: int, language: str = story_language, words: str = title) -> Article:
        return article(article_id, f"{words} {article_id}", language=language)

    # The author's piece in the list's language is written in it, in its letters too: an
    # Arabic title declared English is taken for Arabic (test_mail_reading).
    lead = EditionItem(
        report(1),
        "gulf",
        more_from=(report(2), report(3, list_language, _HEADLINES[list_language])),
        also_covered_by=(report(4),),  # the lead's outlet's other report: "More on this story"
    )
    edition = replace(gulf_edition(report(5), report(6)), lead=lead)
    settings = make_settings(tmp_path, language=list_language)
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    links = _story_links(result.html)
    assert links["4"].get("class") == "also-covered-link"
    assert links["2"].get("class") == links["3"].get("class") == "more-from-link"
    assert _language_of(links["4"]) == _language_of(links["2"]) == story_language
    assert _language_of(links["3"]) == list_language


@pytest.mark.parametrize(
    ("title", "language"),
    [
        ("مجلس التعاون الخليجي يبحث أسعار النفط", "ar"),
        ("ایران و عربستان دفاتر تجاری را بازگشایی می‌کنند", "fa"),  # ی، ک، پ: Persian's letters
        ("پاکستان میں بارشوں سے سیلاب آ گیا ہے", "ur"),  # ں، ے، ہ: Urdu's
        ("השיחות במוסקט יתחדשו מחר", "he"),
    ],
)
def test_a_story_with_no_declared_language_takes_the_one_its_script_names(
    tmp_path: Path, title: str, language: str
) -> None:
    # A feed that declares no language (most Atom feeds) left an Arabic story of an English list
    # dir="rtl" and in the list's lang="en": a screen reader read the headline with the English
    # voice. The guides said its lang came "from the script of its title"; it did not.

    settings = make_settings(tmp_path)
    story = article(1, title, language=None)
    again = article(2, f"{title} (2)", language=None)  # the outlet's other report of it
    latin = article(3, "Oil steady as OPEC+ meets", language=None)
    lead = EditionItem(story, "gulf", also_covered_by=(again,))
    edition = replace(gulf_edition(story, latin), lead=lead)
    result = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    links = _story_links(result.html)
    assert _language_of(links["1"]) == _language_of(links["2"]) == language
    assert _language_of(links["3"]) == "en"  # Latin letters name no language: the list's


def _persian_edition_with_seven_outlets() -> Edition:
    """A Persian lead whose story seven other outlets covered too: five are named, "and 2 more"."""
    lead = article(1, "تورم ۴۰ درصدی و قیمت 120 هزار تومانی دلار", language="fa",
                   feed="رادیو فردا")  # fmt: skip
    others = tuple(
        article(10 + number, f"گزارش {number}", language="fa", feed=f"خبرگزاری {number}")
        for number in range(7)
    )
    item = article(2, "قیمت دلار در بازار تهران بالا رفت", language="fa", feed="ایران‌وایر")
    edition = gulf_edition(lead, item)
    return replace(edition, lead=EditionItem(lead, "gulf", also_covered_by=others))


@pytest.mark.parametrize(
    ("calendar", "masthead", "subject_date", "and_more"),
    [
        (None, "چهارشنبه ۴ آذر ۱۴۰۵", "۴ آذر ۱۴۰۵", "و ۲ مورد دیگر"),
        ("gregorian", "چهارشنبه 25 نوامبر 2026", "25 نوامبر 2026", "و 2 مورد دیگر"),
    ],
)
def test_a_persian_edition_is_dated_and_counted_in_its_calendar_and_digits(
    tmp_path: Path, calendar: str | None, masthead: str, subject_date: str, and_more: str
) -> None:
    overrides: dict[str, Any] = {"language": "fa", "subject": "{{ list_name }} | {{ date }}"}
    if calendar is not None:
        overrides["calendar"] = calendar
    settings = make_settings(tmp_path, **overrides)
    rendered = Renderer(settings).render(
        _persian_edition_with_seven_outlets(), settings.list(LIST_SLUG)
    )
    assert rendered.subject == f"{LIST_NAME} | {subject_date}"
    for part in (rendered.html, " ".join(rendered.text.split())):
        assert masthead in part
        assert and_more in part
        # The headline keeps the digits its publisher wrote, Latin and Persian alike.
        assert "تورم ۴۰ درصدی و قیمت 120 هزار تومانی دلار" in part
    # Times are filled per reader (digest.mail.personalize): the rendered edition holds markers.
    assert "۰۹:" not in rendered.text and placeholders.time_marker(SLOT - timedelta(hours=2)) in (
        rendered.text
    )


def test_an_english_byline_is_wrapped_for_english_times_not_an_arabic_zone_name(
    tmp_path: Path,
) -> None:
    # The plain text wraps a byline's time as its longest possible value. Counted in any
    # language, that was "بتوقيت مكة المكرمة", twice as long as "UTC+12:45": an English
    # byline that fits on one line with any English time was cut before its time.
    # "Margaret Ellington · Gulf Wire · " and "25 September 2026, 09:14 UTC+12:45": 33 + 34
    lead = article(1, "Talks resume in Muscat", author="Margaret Ellington")
    other = article(2, "Oil prices steady", author="Layla Haddad")
    settings = make_settings(tmp_path)
    text = Renderer(settings).render(gulf_edition(lead, other), settings.list(LIST_SLUG)).text
    [byline] = [line for line in text.splitlines() if line.startswith(lead.author or "")]
    assert "%%DIGEST-TIME-" in byline, text
    assert len(f"{lead.author} · Gulf Wire · ") + longest_datetime(wording_for("en")) <= 72


def test_a_short_outlet_name_stays_on_one_line_of_the_byline(tmp_path: Path) -> None:
    # At 375 px "Karen Kramer and Esfandiar Aban · Foreign Policy · 09:14" broke as "… · Foreign"
    # and "Policy · 09:14": two names, to the reader. A name too long for a phone's column may
    # still wrap, so that it and the time held to it never overflow it.
    short = article(1, "Talks resume in Muscat", feed="Foreign Policy")
    long_name = "The Christian Science Monitor | All stories"
    other = article(2, "Oil prices steady", feed=long_name)
    settings = make_settings(tmp_path)
    html = Renderer(settings).render(gulf_edition(short, other), settings.list(LIST_SLUG)).html
    outlet_span = r'<span class="byline-outlet"[^>]*white-space:nowrap[^>]*>([^<]*)</span>'
    unbroken = re.findall(outlet_span, html)
    assert "Foreign Policy" in unbroken
    assert html_module.escape(long_name, quote=False) in html
    assert html_module.escape(long_name, quote=False) not in unbroken
