"""The edition as a screen reader takes it, in the system's Chromium: which voice reads each
piece of text (the language the nearest ``lang`` gives it), and the accessibility tree it
builds (tests/axtree.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from digest.records import Edition
from digest.render.text import name_language, script_language
from digest.screenshot import Browser, open_browser
from digest.wording import wording_for
from tests.axtree import Node, accessibility_tree, of_role
from tests.test_mail_screens import rendered
from tests.test_render import article, sample_edition

pytestmark = pytest.mark.integration

# Every text node with letters of its own, and the language its nearest lang attribute gives it.
_VOICES_SCRIPT = """
() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text || node.parentElement.closest('.preheader')) continue;
    const marked = node.parentElement.closest('[lang]');
    found.push([text, marked ? marked.getAttribute('lang') : '']);
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with open_browser() as opened:
        yield opened


def names_in_other_scripts() -> Edition:
    """``sample_edition`` with Arabic, Hebrew and Persian names on English stories: an author and
    outlet of one story, the outlet of that author's other pieces, another story's outlet, and
    outlets that also covered the lead."""
    edition = sample_edition()
    assert edition.lead is not None
    gulf = edition.sections[0]
    oil, qatar, *rest = gulf.items
    oil = replace(
        oil,
        article=replace(oil.article, author="أحمد الخطيب", feed_name="المنارة"),
        more_from=tuple(replace(other, feed_name="המערכת") for other in oil.more_from),
    )
    qatar = replace(qatar, article=replace(qatar.article, feed_name="ידיעות המפרץ"))
    covered = (
        article(21, "Riyadh and Tehran to reopen trade offices", feed="همشهری آنلاین"),
        article(22, "Saudi-Iran trade offices to reopen by March", feed="الخليج اليوم"),
    )
    return replace(
        edition,
        lead=replace(edition.lead, also_covered_by=covered),
        sections=(replace(gulf, items=(oil, qatar, *rest)), *edition.sections[1:]),
    )


@pytest.mark.parametrize("layout", ["full", "compact"])
def test_a_name_in_another_script_is_read_in_its_own_language(
    browser: Browser, tmp_path: Path, layout: str
) -> None:
    # An Arabic outlet's name under an English story sat inside lang="en": a screen reader read
    # its letters with the English voice, which spells them out or says nothing.
    html = rendered(tmp_path, names_in_other_scripts(), layout=layout)
    page = browser._browser.new_page(viewport={"width": 600, "height": 800})
    try:
        page.route("**/*", lambda route: route.abort())
        page.set_content(html, wait_until="load")
        voices = page.evaluate(_VOICES_SCRIPT)
    finally:
        page.close()
    misread = []
    seen = set()
    for text, marked in voices:
        language = script_language(text)
        if language is None:
            continue
        seen.add(text)
        if marked.split("-")[0] != language:
            misread.append((text, marked))
    assert misread == []
    expected = {"المنارة", "ידיעות המפרץ", "همشهری آنلاین", "الخليج اليوم"}
    if layout == "full":
        expected |= {"أحمد الخطيب", "המערכת"}
    assert expected <= seen, expected - seen


@pytest.mark.parametrize(
    ("name", "around", "lang"),
    [
        ("المنارة", "en", "ar"),
        ("ידיעות המפרץ", "en-GB", "he"),
        ("همشهری آنلاین", "en", "fa"),
        ("ידיעות המפרץ", "ar", "he"),  # Hebrew letters under an Arabic story
        ("المنارة", "he", "ar"),
        ("Gulf Wire", "ar", None),  # Latin letters name no language
        # Letters Arabic shares with Persian and Urdu: under a Persian or Urdu story the name
        # is read in the story's voice, not marked Arabic.
        ("محمد رضا", "fa", None),
        ("محمد رضا", "ur", None),
        ("محمد رضا", "ar", None),
    ],
)
def test_a_names_lang_is_the_one_its_letters_name_where_the_text_around_does_not(
    name: str, around: str, lang: str | None
) -> None:
    assert name_language(name, around) == lang


def read_at(browser: Browser, html: str, width: int) -> tuple[list[Node], int]:
    """The edition's accessibility tree at ``width`` pixels, its pictures held back, and how
    wide it lays out."""
    page = browser._browser.new_page(viewport={"width": width, "height": 2 * width})
    try:
        page.route("**/*", lambda route: route.abort())
        page.set_content(html, wait_until="load")
        return accessibility_tree(page), page.evaluate(
            "() => document.scrollingElement.scrollWidth"
        )
    finally:
        page.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_screen_reader_walks_the_edition_by_its_headings(
    browser: Browser, tmp_path: Path, language: str
) -> None:
    edition = sample_edition()
    tree, width = read_at(browser, rendered(tmp_path, edition, language=language), 320)
    assert width <= 320  # a 1280 px window at 400%: nothing to scroll sideways
    headings = [(node.level, node.name) for node in of_role(tree, "heading")]
    assert [level for level, _ in headings].count(1) == 1
    levels = [level or 0 for level, _ in headings]
    assert all(after <= before + 1 for before, after in pairwise(levels)), headings
    assert edition.lead is not None
    assert (2, edition.lead.article.title) in headings  # the lead, reached by heading
    titles = [name.casefold() for level, name in headings if level == 2]
    assert all(section.title.casefold() in titles for section in edition.sections), titles
    # The footer's way out, named in the list's words.
    words = wording_for(language)
    links = [node.name for node in of_role(tree, "link")]
    assert links[-3:-1] == [words.unsubscribe, words.preferences], links[-3:]


@pytest.mark.parametrize(
    ("list_language", "topic", "lang"),
    [
        ("en", "الخليج", "ar"),  # an Arabic topic's name in an English list
        ("ar", "המפרץ", "he"),  # a Hebrew one in an Arabic list
        ("he", "الخليج", "ar"),
        ("ar", "الخليج", None),  # its own script: the list's voice
        ("en", "The Gulf", None),
    ],
)
def test_a_topics_name_in_another_script_is_read_in_its_own_language(
    tmp_path: Path, list_language: str, topic: str, lang: str | None
) -> None:
    # A section's title is the topic's name as the config gives it, with no language: an
    # Arabic one in an English edition sat in lang="en" and was read with the English voice.
    from lxml import html as lxml_html

    edition = sample_edition()
    edition = replace(
        edition, sections=(replace(edition.sections[0], title=topic), *edition.sections[1:])
    )
    for layout in ("full", "compact"):
        html = rendered(tmp_path, edition, language=list_language, layout=layout)
        [title] = [
            heading
            for heading in lxml_html.fromstring(html).iter("h2")
            if heading.text_content() == topic
        ]
        assert title.get("lang") == lang, layout


@pytest.mark.parametrize("layout", ["full", "compact"])
def test_words_set_in_capitals_are_read_as_written(
    browser: Browser, tmp_path: Path, layout: str
) -> None:
    # Section titles, the "Top story" label and the masthead's kicker were set in capitals by
    # text-transform, which Chromium passes on to screen readers: "THE GULF", read shouted or
    # letter by letter.
    edition = sample_edition()
    tree, _ = read_at(browser, rendered(tmp_path, edition, layout=layout), 600)
    headings = [node.name for node in of_role(tree, "heading")]
    assert all(section.title in headings for section in edition.sections), headings
    shouted = [
        node.name
        for node in tree
        if node.role == "StaticText" and node.name.isupper() and len(node.name) > 4
    ]
    assert shouted == [], shouted
