"""The edition in headless Chromium, light and dark, at 600 and 375 px: what a reader sees.

Screenshots are kept in ``$DIGEST_TEST_ARTIFACTS/mail`` (default: ``var/artifacts/mail`` in the
checkout), overwritten by each run. Pictures stay blocked (digest.screenshot), as in the many mail
apps that hold them back, so the lead picture's box must hold without its picture.
"""

from __future__ import annotations

import email
import email.policy
import html as html_module
import io
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from PIL import Image

from digest.config import ListSettings, Settings, load_settings
from digest.mail.personalize import fill_for_preview, personalize
from digest.mail.tokens import TokenSigner
from digest.records import Article, Edition, EditionItem, Section, Subscriber
from digest.render import Renderer
from digest.screenshot import WIDTHS, Browser, open_browser
from tests.test_mail_polish import with_also_covered
from tests.test_render import SLOT, article, make_settings, sample_edition

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("DIGEST_TEST_ARTIFACTS") or ROOT / "var" / "artifacts") / "mail"
COMPACT_HEIGHT_LIMIT = 3000  # px at 600 px wide: a morning briefing read in one go
MIN_CONTRAST = 4.5  # WCAG AA for body text

Scheme = Literal["light", "dark"]

# Every visible element that holds text of its own, its colour and the colour behind it (the
# first ancestor with an opaque background), and the contrast ratio between the two.
_CONTRAST_SCRIPT = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const results = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === 'none' || style.visibility === 'hidden' || box.height < 2) continue;
    if (el.closest('.preheader')) continue;
    const fg = lum(parse(style.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    results.push({what: el.tagName.toLowerCase() + '.' + el.className, ratio: ratio,
                  text: el.textContent.trim().slice(0, 40)});
  }
  return results;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with open_browser() as opened:
        yield opened


def look(browser: Browser, html: str, width: int, scheme: Scheme, name: str) -> Any:
    """Load ``html``, keep a screenshot as a test artifact, and return a page-facts reader."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.capture(html, width, png=ARTIFACTS / f"{name}.png", color_scheme=scheme)
    page = browser._browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    page.route("**/*", lambda route: route.abort())
    page.set_content(html, wait_until="load")
    return page


def filled(settings: Settings, digest_list: ListSettings, edition: Edition) -> str:
    """The edition's HTML as a reader gets it: greeting, links and times filled in."""
    result = Renderer(settings).render(edition, digest_list)
    copy = fill_for_preview(result, service=settings.service, digest_list=digest_list)
    assert "%%DIGEST" not in copy.html
    return copy.html


def rendered(tmp_path: Path, edition: Edition, **list_overrides: object) -> str:
    settings = make_settings(tmp_path, **list_overrides)
    return filled(settings, settings.list("middle-east-daily"), edition)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_edition_in_light_and_dark_at_desktop_and_phone_widths(
    browser: Browser, tmp_path: Path, width: int, scheme: Scheme
) -> None:
    html = rendered(tmp_path, with_also_covered(sample_edition()))
    page = look(browser, html, width, scheme, f"edition-{width}-{scheme}")
    try:
        # No sideways scrolling on a phone or at the desktop column.
        scroll = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
        )
        assert scroll[0] <= scroll[1], scroll
        # Every piece of text is readable against what is behind it.
        texts = page.evaluate(_CONTRAST_SCRIPT)
        assert len(texts) > 40  # the whole edition was measured, not an empty page
        poor = [item for item in texts if item["ratio"] < MIN_CONTRAST]
        assert poor == [], poor[:5]
        # The page is dark in dark mode, light in light mode.
        paper = page.evaluate(
            "() => getComputedStyle(document.querySelector('.container')).backgroundColor"
        )
        assert paper == ("rgb(26, 29, 33)" if scheme == "dark" else "rgb(255, 255, 255)")
        # The lead picture, held back, keeps a picture's box rather than a one-line strip.
        # Measured as the room between the "Top story" label and the headline under the picture.
        box = page.evaluate(
            """() => {
              const label = document.querySelector('.lead .label').getBoundingClientRect();
              const headline = document.querySelector('.lead-headline').getBoundingClientRect();
              return [headline.width, headline.top - label.bottom];
            }"""
        )
        assert box[1] >= box[0] * 0.5, box
        # "Also covered by" is in the mail's sans-serif, not the mail app's default serif.
        font = page.evaluate(
            "() => getComputedStyle(document.querySelector('.also-covered')).fontFamily"
        )
        assert font.startswith("Helvetica"), font
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_rtl_lists_more_from_label_reads_before_the_name(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    # An Arabic list; the story with "More from" is in English (laid out left to right).
    html = rendered(tmp_path, sample_edition(), language="ar")
    page = look(browser, html, width, "light", f"arabic-more-from-{width}")
    try:
        title = page.query_selector(".more-from-title")
        assert title is not None
        label = page.evaluate(_WHERE_SCRIPT, [title, "المزيد من"])
        name = page.evaluate(_WHERE_SCRIPT, [title, "Layla Haddad"])
        assert label is not None and name is not None
        # Read right to left: the label first, at the right, then the name to its left.
        assert label[0] > name[1] - 1, (label, name)
    finally:
        page.close()


# Words longer than a phone's line: a headline that is the entry's address (an entry without a
# title), a summary quoting one, a German compound, an author's handle.
LONG_ADDRESS = "https://www.gulfwire.example/2026/11/24/" + "talks-resume-in-muscat-" * 5
LONG_WORD = "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz"


@pytest.mark.parametrize("layout", ["full", "compact"])
def test_a_word_longer_than_a_phones_line_wraps_rather_than_widen_the_mail(
    browser: Browser, tmp_path: Path, layout: str
) -> None:
    # Unbroken, it widened the whole mail to over 500 px on a 375 px phone: every line of the
    # edition then ran off the screen, to be read by scrolling sideways.
    edition = sample_edition()
    assert edition.lead is not None
    lead = replace(
        edition.lead.article,
        title=LONG_ADDRESS,
        summary_text=f"{LONG_WORD} passed. Read {LONG_ADDRESS} for the text.",
        author=f"@{LONG_WORD}",
    )
    edition = replace(edition, lead=replace(edition.lead, article=lead))
    other = article(40, f"The {LONG_WORD} explained", summary=f"See {LONG_ADDRESS}")
    section = edition.sections[0]
    edition = replace(
        edition,
        sections=(replace(section, items=(*section.items, EditionItem(other, section.topic))),),
    )
    html = rendered(tmp_path, edition, layout=layout)
    page = look(browser, html, 375, "light", f"long-words-{layout}-375")
    try:
        scroll = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
        )
        assert scroll[0] <= scroll[1], scroll
        assert LONG_WORD in page.evaluate("() => document.body.innerText")
    finally:
        page.close()


# Headlines of the lengths wire services write (45 to 95 characters).
HEADLINES = (
    "Iran's foreign minister heads to Muscat for a second round of indirect talks",
    "Tehran stock exchange falls for a fourth day",
    "Rial slides as traders brace for new sanctions on shipping and insurance firms",
    "Ceasefire talks resume in Cairo with a new proposal on hostages and aid",
    "Aid convoys wait at Kerem Shalom as crossings stay shut for a second day",
    "Knesset committee delays vote on the budget",
    "OPEC+ holds output steady as Gulf producers eye a softer year ahead",
    "Qatar opens the region's largest desalination plant",
    "Saudi Arabia's sovereign fund sells a stake in its telecoms champion to foreign buyers",
    "Damascus and Ankara agree to reopen a border crossing closed since 2012",
    "Syrian pound steadies after central bank auction",
    "UN envoy warns of a funding gap for refugees returning to the north of the country",
    "Lebanon's parliament fails again to elect a president",
    "Beirut port blast inquiry resumes after a two-year pause",
    "Electricity rationing in Lebanon extends to 20 hours a day as fuel shipment is delayed",
    "UN envoy returns to Sanaa with a new ceasefire proposal",
    "Gulf foreign ministers meet in Riyadh on regional security and trade",
    "EU and GCC agree to start talks on visa-free travel",
    "Shipping insurers raise Red Sea premiums again",
    "Baghdad and Erbil settle oil export dispute after months of talks in the capital",
    "Egypt's central bank holds rates, citing inflation that has yet to peak",
)


def realistic_edition() -> Edition:
    """A busy morning: a lead with a picture, 21 items over the daily's 7 sections (pictures,
    long summaries, an author's other pieces, other outlets' reports), 3 recommended: 25 in all."""
    summary = (
        "Officials said the talks would resume next week after both delegations reported progress "
        "on the sequencing of the first steps, while diplomats cautioned that the hardest issues, "
        "from security guarantees to the timetable for sanctions relief, remain unresolved."
    )
    sections = []
    number = 100
    topics = [
        ("middle-east", "Middle East"),
        ("iran", "Iran"),
        ("israel-palestine", "Israel and Palestine"),
        ("gulf", "The Gulf"),
        ("syria", "Syria"),
        ("lebanon", "Lebanon"),
        ("diplomacy", "Diplomacy"),
    ]
    headlines = iter(HEADLINES)
    for slug, title in topics:
        items = []
        for index in range(3):
            number += 1
            story = article(
                number,
                next(headlines),
                feed=("Gulf Wire", "Levant Post", "Persia Review")[index],
                summary=summary,
                image=f"https://images.example.org/{number}.jpg" if index == 0 else None,
                hours_ago=1 + number % 9,
            )
            more = (article(number + 500, "An earlier analysis of the same talks", hours_ago=30),)
            covered = (article(number + 600, "Ministers meet again", feed="World Briefing"),)
            items.append(
                EditionItem(
                    story,
                    slug,
                    more_from=more if index == 0 else (),
                    also_covered_by=covered if index == 1 else (),
                )
            )
        sections.append(Section(slug, title, tuple(items)))
    recommended = tuple(
        EditionItem(
            article(
                900 + index,
                f"The long read: a city's trade routes, chapter {index}",
                summary=summary,
                image=f"https://images.example.org/long-{index}.jpg",
                hours_ago=40,
            ),
            "middle-east",
        )
        for index in range(3)
    )
    lead = sample_edition().lead
    assert lead is not None
    edition = Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=SLOT - timedelta(days=1),
        window_end=SLOT,
        lead=lead,
        sections=tuple(sections),
        recommended=recommended,
    )
    assert sum(1 for _ in edition.items()) == 25
    return edition


def example_daily(layout: str) -> tuple[Settings, ListSettings]:
    """The example config's daily list, laid out as ``layout``."""
    settings = load_settings(ROOT / "config" / "example.toml", environ={})
    daily = settings.list("middle-east-daily").model_copy(update={"layout": layout})
    return settings, daily


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_compact_daily_stays_under_3000_px_at_600_px_wide(
    browser: Browser, scheme: Scheme
) -> None:
    heights = {}
    for layout in ("full", "compact"):
        settings, daily = example_daily(layout)
        html = filled(settings, daily, realistic_edition())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        png = ARTIFACTS / f"daily-{layout}-600-{scheme}.png"
        layout_facts = browser.capture(html, 600, png=png, color_scheme=scheme)
        assert layout_facts.fits, layout_facts
        heights[layout] = layout_facts.height
        phone = browser.capture(html, 375, color_scheme=scheme)
        assert phone.fits, phone
    print(
        f"\n25 items at 600px, {scheme}: full {heights['full']}px, compact {heights['compact']}px"
    )
    assert heights["full"] > COMPACT_HEIGHT_LIMIT  # the edition is a real test of the layout
    assert heights["compact"] < COMPACT_HEIGHT_LIMIT


def test_a_compact_edition_keeps_the_lead_and_n_summaries() -> None:
    settings, daily = example_daily("compact")
    assert daily.compact_summaries == 2  # the default
    daily = daily.model_copy(update={"compact_summaries": 3})
    result = Renderer(settings).render(realistic_edition(), daily)
    html = result.html
    assert 'class="container compact"' in html
    assert html.count('class="lead-summary"') == 1
    assert html.count('class="summary"') == 3  # the first three items after the lead
    # The items past the summaries, and the pieces under an item's "More from": headlines.
    edition = realistic_edition()
    pieces = sum(len(item.more_from) for item in edition.items() if item is not edition.lead)
    assert pieces > 0
    assert html.count('class="story brief') == 25 - 1 - 3 + pieces
    assert html.count('class="thumb"') == 1  # the first item's picture; the rest have none
    assert 'class="more-from"' not in html  # an author's other pieces are headlines instead
    # Every article's headline and link is still there, in the HTML and in the plain text.
    for shown in edition.articles():
        assert html_module.escape(shown.title, quote=False) in html
        assert shown.link in result.text
    # A full edition of the same list shows every summary.
    full = Renderer(settings).render(
        realistic_edition(), daily.model_copy(update={"layout": "full"})
    )
    assert full.html.count('class="summary"') == 24 and 'class="story brief' not in full.html


@pytest.mark.parametrize("width", WIDTHS)
def test_a_compact_arabic_list_fits_and_reads_right_to_left(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    settings = make_settings(tmp_path, language="ar", layout="compact")
    html = filled(settings, settings.list("middle-east-daily"), realistic_edition())
    layout = browser.capture(html, width, png=ARTIFACTS / f"arabic-compact-{width}.png")
    assert layout.fits, layout
    assert 'class="container compact"' in html and 'class="story brief' in html


# An address as universities and agencies hand them out: one unbroken word of 68 characters.
LONG_ADDRESS_OF_A_READER = "firstname.middlename.lastname@mail.department.university.example.edu"


@pytest.mark.parametrize("layout", ["full", "compact"])
def test_a_readers_long_address_in_the_footer_wraps_rather_than_widen_the_mail(
    browser: Browser, tmp_path: Path, layout: str
) -> None:
    # The footer's "sent to ADDRESS" sits outside the edition's column: unbroken, a long
    # address widened the whole mail to 441 px on a 375 px phone, every line off the screen.
    settings = make_settings(tmp_path, layout=layout)
    digest_list = settings.list("middle-east-daily")
    rendered_edition = Renderer(settings).render(sample_edition(), digest_list)
    message = personalize(
        rendered_edition,
        Subscriber(id=7, email=LONG_ADDRESS_OF_A_READER, name="Sam"),
        edition_id=1,
        service=settings.service,
        digest_list=digest_list,
        signer=TokenSigner("test-secret-0123456789"),
        now=SLOT,
    )
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert LONG_ADDRESS_OF_A_READER in html
    for width in WIDTHS:
        layout_facts = browser.capture(
            html, width, png=ARTIFACTS / f"long-reader-address-{layout}-{width}.png"
        )
        assert layout_facts.fits, layout_facts


def _headline_first(title: str) -> Edition:
    """``sample_edition`` with a story headed ``title`` first under its first section's title."""
    edition = sample_edition()
    section = edition.sections[0]
    story = EditionItem(article(50, title, summary="The talks go on."), section.topic)
    return replace(edition, sections=(replace(section, items=(story, *section.items)),))


@pytest.mark.parametrize("width", WIDTHS)
def test_combining_marks_stacked_deep_stay_off_the_lines_above(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    # "Zalgo" text: 50 accents on one letter drew a column of ink up over the section's title
    # and its rule; a letter keeps as many as a real script stacks (Vietnamese, pointed Hebrew).
    settings = make_settings(tmp_path)
    digest_list = settings.list("middle-east-daily")
    zalgo = "Z" + "\u0301\u0300\u0302" * 17 + "ealots rally " + "a\u0308" * 3
    clips = []
    for name, title in (("plain", "Zealots rally"), ("zalgo", zalgo)):
        html = filled(settings, digest_list, _headline_first(title))
        page = look(browser, html, width, "light", f"stacked-marks-{name}-{width}")
        try:
            top, bottom = page.evaluate(
                """() => {
                  const rule = document.querySelector('.section .section-rule');
                  const title = rule.querySelector('.section-title').getBoundingClientRect();
                  return [rule.getBoundingClientRect().top, title.bottom];
                }"""
            )
            # The section's rule and title, and 4 px of air under them: no ink of the headline.
            clip = {"x": 0, "y": top - 4, "width": width, "height": bottom - top + 8}
            clips.append(page.screenshot(full_page=True, clip=clip))
            assert "Zealots rally" in page.evaluate(
                "() => document.querySelector('.section .headline').innerText.normalize('NFKD')"
                ".replace(/[\\u0300-\\u036f]/g, '')"
            )
        finally:
            page.close()
    assert clips[0] == clips[1]


# Where a piece of text is drawn: the left and right of the range holding ``wanted`` in ``root``.
_WHERE_SCRIPT = """
([root, wanted]) => {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.textContent.indexOf(wanted);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + wanted.length);
    const box = range.getBoundingClientRect();
    return [box.left, box.right];
  }
  return null;
}
"""


# The dash between a byline's outlet and its date (the one between author and outlet has plain
# spaces): a Persian-digit list's separator.
DATE_DASH = "\u00a0–\u00a0"


def _in_first_section(*articles: Article) -> Edition:
    """The sample edition with ``articles`` alone in its first section."""
    edition = sample_edition()
    section = edition.sections[0]
    items = tuple(EditionItem(story, section.topic) for story in articles)
    return replace(edition, sections=(replace(section, items=items),))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_byline_names_the_author_before_the_outlet_whatever_their_script(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    # Two names of one script side by side, in a story of the other direction, ran together as
    # one phrase of their own: the Arabic story's byline read "Gulf Wire · Layla Haddad" from
    # the right, the English story's "الجزيرة نت · أحمد الخطيب" from the left, the outlet first.
    stories = (
        ("rtl", "مجلس التعاون يبحث التأشيرات", "Layla Haddad", "Gulf Wire", "ar"),
        ("ltr", "Talks resume in Muscat", "أحمد الخطيب", "الجزيرة نت", "en"),
    )
    edition = _in_first_section(
        *(
            article(50 + index, title, author=author, feed=feed, language=language)
            for index, (_, title, author, feed, language) in enumerate(stories)
        )
    )
    html = rendered(tmp_path, edition)
    page = look(browser, html, width, "light", f"byline-order-{width}")
    try:
        bylines = page.query_selector_all(".section .byline")
        assert len(bylines) == 2
        for byline, (direction, _, author, feed, _) in zip(bylines, stories, strict=True):
            named = page.evaluate(_WHERE_SCRIPT, [byline, author])
            outlet = page.evaluate(_WHERE_SCRIPT, [byline, feed])
            assert named is not None and outlet is not None
            if direction == "rtl":
                assert named[0] >= outlet[1] - 1, (author, named, feed, outlet)
            else:
                assert named[1] <= outlet[0] + 1, (author, named, feed, outlet)
    finally:
        page.close()


def _blank(png: bytes) -> bool:
    """Whether a screenshot is one colour: nothing was drawn in it."""
    with Image.open(io.BytesIO(png)) as picture:
        low, high = zip(*picture.convert("RGB").getextrema(), strict=True)
        return low == high


def test_a_headline_or_paragraph_of_blank_letters_is_not_shown_as_an_empty_line(
    browser: Browser, tmp_path: Path
) -> None:
    # Hangul fillers and the blank braille pattern are letters and symbols that draw nothing:
    # a headline of them was a link with nothing to click, a paragraph of them a blank line.
    edition = _headline_first("\u3164" * 6)
    section = edition.sections[0]
    story = section.items[0]
    blank = replace(
        story.article,
        summary_html="<p>\u2800\u2800\u2800</p><p>\u115f\u1160\uffa0</p><p>The talks go on.</p>",
        summary_text="\u2800\u2800\u2800 \u115f\u1160\uffa0 The talks go on.",
    )
    items = (replace(story, article=blank), *section.items[1:])
    edition = replace(edition, sections=(replace(section, items=items),))
    page = look(browser, rendered(tmp_path, edition), 600, "light", "blank-letters")
    try:
        first = page.query_selector(".section .story")
        assert first is not None
        lines = first.query_selector_all(".headline, .summary")
        assert len(lines) >= 2
        for line in lines:
            assert not _blank(line.screenshot()), line.inner_html()
        assert first.query_selector(".headline").inner_text() == "(untitled)"
    finally:
        page.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_compact_items_also_covered_by_names_the_outlets_after_the_label(
    browser: Browser, tmp_path: Path, language: str
) -> None:
    # A compact item's line flows in the item's direction: under a story of the other direction
    # than the list, the outlets went on the far side of the label, "Gulf Wire Also covered by:"
    # in an English list, read from the left; the label and its outlets now read as one phrase.
    story, other = (
        ("هل إيران مستعدة لاتفاق؟", "ar") if language == "en" else ("Is Iran ready?", "en")
    )
    edition = sample_edition()
    section = edition.sections[0]
    covered = EditionItem(
        article(60, story, feed="Levant Post", language=other),
        section.topic,
        also_covered_by=(article(61, "Another report", feed="Gulf Wire"),),
    )
    edition = replace(edition, sections=(replace(section, items=(covered,)),))
    settings = make_settings(tmp_path, layout="compact", compact_summaries=0, language=language)
    html = filled(settings, settings.list("middle-east-daily"), edition)
    label = "Also covered by" if language == "en" else "تناولته أيضًا"
    for width in WIDTHS:
        page = look(browser, html, width, "light", f"compact-also-covered-{language}-{width}")
        try:
            line = page.query_selector(".section .brief-meta")
            assert line is not None
            said = page.evaluate(_WHERE_SCRIPT, [line, label])
            named = page.evaluate(_WHERE_SCRIPT, [line, "Gulf Wire"])
            assert said is not None and named is not None
            if language == "en":
                assert named[0] >= said[1] - 1, (said, named)
            else:
                assert named[1] <= said[0] + 1, (said, named)
        finally:
            page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_persian_date_reads_day_month_time_and_zone_from_the_right(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    # "۴ آذر، ۰۴:۳۰ به وقت تهران": Persian digits are of the Latin digits' bidirectional class,
    # turned Arabic numbers by the letters before them; the day, month, time and zone must
    # still read in that order from the right, under a Persian story and an English one alike,
    # and the time's hours stay left of its minutes. The outlet is set apart from the date by a
    # dash: a dot before "۴" read as a Persian zero ("۰ ۴").
    edition = _in_first_section(
        article(70, "قیمت دلار در بازار تهران بالا رفت", feed="ایران‌وایر", language="fa"),
        article(71, "Talks resume in Muscat", feed="Gulf Wire", language="en"),
    )
    html = rendered(tmp_path, edition, language="fa", timezone="Asia/Tehran")
    assert "۴ آذر، ۰۴:۳۰ به وقت تهران" in html_module.unescape(html)  # SLOT less 2 hours
    masthead_date = "چهارشنبه ۴ آذر ۱۴۰۵"
    assert masthead_date in html_module.unescape(html)
    page = look(browser, html, width, "light", f"persian-dates-{width}")
    try:
        bylines = page.query_selector_all(".section .byline")
        assert len(bylines) == 2
        for byline, outlet in zip(bylines, ("ایران‌وایر", "Gulf Wire"), strict=True):
            at = {
                piece: page.evaluate(_WHERE_SCRIPT, [byline, piece])
                for piece in ("آذر", "۰۴:۳۰", "تهران", "۰۴", "۳۰", DATE_DASH, "۴ آذر", outlet)
            }
            dash, day = at[DATE_DASH], at["۴ آذر"]
            assert all(box is not None for box in at.values()), at
            assert "·" not in byline.inner_text(), byline.inner_text()
            assert at["آذر"][0] >= at["۰۴:۳۰"][1] - 1, at  # the month right of the time
            assert at["۰۴:۳۰"][0] >= at["تهران"][1] - 1, at  # the time right of the zone
            assert at["۰۴"][1] <= at["۳۰"][0] + 1, at  # 04:30, not 30:04
            # The dash between the outlet and the date, on the side each direction reads first.
            if outlet == "Gulf Wire":
                assert at[outlet][1] <= dash[0] + 1 and dash[1] <= day[0] + 1, at
            else:
                assert at[outlet][0] >= dash[1] - 1 and dash[0] >= day[1] - 1, at
        body = page.query_selector("body")
        weekday = page.evaluate(_WHERE_SCRIPT, [body, "چهارشنبه"])
        year = page.evaluate(_WHERE_SCRIPT, [body, "۱۴۰۵"])
        assert weekday is not None and year is not None
        assert weekday[0] >= year[1] - 1, (weekday, year)  # the masthead from the right
    finally:
        page.close()
