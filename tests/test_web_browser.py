"""The web pages in a real browser: the system's Chromium (playwright) presses the unsubscribe
button, by mouse and by keyboard; each page is screenshotted and checked by axe-core.

Screenshots are kept in ``$DIGEST_TEST_ARTIFACTS/web`` (default: ``var/artifacts/web`` in the
checkout), one PNG per page, overwritten by each run.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from digest import pipeline, placeholders
from digest.render import Renderer
from digest.screenshot import CHROMIUM_ARGS, chromium_path
from digest.web import create_app
from digest.web.pages import left_to_right_runs
from digest.web.server import serving
from digest.web.words import words_for
from tests.servers import free_port
from tests.test_render import LIST_SLUG, article, gulf_edition, make_settings
from tests.webtools import FIRST_SLOT, Newsroom, newsroom, write_feed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("DIGEST_TEST_ARTIFACTS") or ROOT / "var" / "artifacts") / "web"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[Newsroom]:
    # base_url is where the browser goes: the forms refuse posts from pages of other origins.
    with newsroom(
        tmp_path_factory.mktemp("browser"), editions=2, base_url=f"http://127.0.0.1:{port}"
    ) as built:
        yield built


@pytest.fixture(scope="module")
def site(room: Newsroom, port: int) -> Iterator[str]:
    with serving(create_app(room.services), "127.0.0.1", port) as address:
        yield address


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(chromium_path()), args=list(CHROMIUM_ARGS)
        )
        yield launched
        launched.close()


@contextmanager
def policed_page(
    browser: Browser, answers: Callable[[str], bool]
) -> Iterator[tuple[Page, list[str]]]:
    """A page of 1024 by 800 on which only the addresses ``answers`` takes are fetched (every
    other request is aborted), and the Content Security Policy refusals its console reports."""
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    opened = context.new_page()
    opened.route(
        "**/*",
        lambda route: route.continue_() if answers(route.request.url) else route.abort(),
    )
    refused: list[str] = []
    opened.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield opened, refused
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Only the site answers: an archived edition's pictures on feed servers stay blocked.
    with policed_page(browser, lambda url: "127.0.0.1" in url) as (opened, refused):
        yield opened
    assert refused == [], refused  # the page needed nothing its policy forbids


def check(page: Page, name: str) -> None:
    """Screenshot ``page`` as ``name`` and find no serious accessibility problem in it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    results: Any = Axe().run(page)
    blocking = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]
    assert blocking == [], f"{name}: {blocking}"


def test_every_page_looks_right_and_passes_axe(room: Newsroom, site: str, page: Page) -> None:
    slot = f"{room.slots[-1]:%Y-%m-%d-%H%M}"
    pages = {
        "lists": "/",
        "archive": "/editions/daily",
        "archive-arabic": "/editions/arabic",
        "edition": f"/editions/daily/{slot}",
        "edition-arabic": f"/editions/arabic/{slot}",
        "unsubscribe": f"/unsubscribe/{room.unsubscribe_token('daily', 'Rana')}",
        "unsubscribe-arabic": f"/unsubscribe/{room.unsubscribe_token('arabic', 'Rana')}",
        "damaged-link": "/unsubscribe/not-a-token",
        "not-found": "/editions/nothing-here",
    }
    for name, path in pages.items():
        answer = page.goto(site + path)
        assert answer is not None
        assert answer.status in (200, 400, 404), (path, answer.status)
        check(page, name)
    assert room.is_member("daily", "Rana") and room.is_member("arabic", "Rana")


def test_pressing_the_button_unsubscribes(room: Newsroom, site: str, page: Page) -> None:
    page.goto(f"{site}/unsubscribe/{room.unsubscribe_token('daily', 'Sam')}")
    assert room.is_member("daily", "Sam")
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    check(page, "unsubscribed")
    assert not room.is_member("daily", "Sam")
    assert room.is_member("arabic", "Sam")


def test_the_button_works_from_the_keyboard_right_to_left(
    room: Newsroom, site: str, page: Page
) -> None:
    page.goto(f"{site}/unsubscribe/{room.unsubscribe_token('arabic', 'Sam')}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    for _ in range(5):
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "إلغاء الاشتراك"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="تم إلغاء اشتراكك").wait_for()
    check(page, "unsubscribed-arabic")
    assert not room.is_member("arabic", "Sam")


def test_a_readers_token_is_in_no_referer_the_browser_sends(
    room: Newsroom, site: str, page: Page
) -> None:
    # Each page a reader's link opens fetched the stylesheet, and led to the archive, with the
    # link's whole address as Referer: a static file server, a CDN in front of /static/ or an
    # access log that writes Referer got every reader's token to unsubscribe them.
    services, li = room.services, room.subscriber("daily", None)
    tokens = {
        "unsubscribe": services.signer.unsubscribe_token(li.id, "daily"),
        "preferences": services.signer.preferences_token(li.id, "daily"),
        "confirm": services.signer.confirm_token(li.id, "daily", room.clock.now()),
    }
    referers: list[str] = []
    page.on("request", lambda request: referers.append(request.headers.get("referer", "")))
    for kind, token in tokens.items():
        answer = page.goto(f"{site}/{kind}/{token}")
        assert answer is not None and answer.status == 200, kind
    page.goto(f"{site}/unsubscribe/{tokens['unsubscribe']}")
    page.get_by_role("button", name="Unsubscribe").click()  # its form still posts its origin
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert not room.is_member("daily", None)
    page.get_by_role("link", name="Past editions").click()
    page.wait_for_url(f"{site}/editions/daily")
    assert f"{site}/" in referers  # the origin alone is still said
    assert [r for r in referers if any(token in r for token in tokens.values())] == []


@contextmanager
def archive_of(tmp_path: Path, headline: str) -> Iterator[str]:
    """The site, serving both lists' edition of FIRST_SLOT, led by a story of ``headline``."""
    port = free_port()
    with newsroom(tmp_path, editions=0, base_url=f"http://127.0.0.1:{port}") as room:
        services, slot = room.services, FIRST_SLOT
        write_feed(room.feed_folder, [(1, headline, slot - timedelta(hours=1))])
        room.clock.set(slot + timedelta(minutes=5))
        for feed in services.store.sync_feeds(services.settings.feeds, room.clock.now()):
            pipeline.poll_feed(services, feed.id)
        for list_slug in ("daily", "arabic"):
            pipeline.build_edition(services, list_slug, slot)
        with serving(create_app(services), "127.0.0.1", port) as site:
            yield site


def test_an_archive_of_a_headline_longer_than_a_phones_line_fits_the_phone(
    tmp_path: Path, browser: Browser
) -> None:
    # An entry whose headline is an address, as some publishing systems write it: unbroken, the
    # teaser under the edition's title widened the archive page to 1131 px on a 375 px phone.
    address = "https://wire.example.org/2026/11/24/" + "TalksResumeInMuscat_" * 6
    with archive_of(tmp_path, f"Gulf {address}") as site:
        for list_slug in ("daily", "arabic"):
            phone = browser.new_page(viewport={"width": 375, "height": 800})
            try:
                answer = phone.goto(f"{site}/editions/{list_slug}")
                assert answer is not None and answer.status == 200
                phone.screenshot(
                    path=str(ARTIFACTS / f"archive-long-headline-{list_slug}-375.png"),
                    full_page=True,
                )
                assert "TalksResumeInMuscat_" in phone.inner_text(".edition-teaser")
                scroll = phone.evaluate(
                    "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
                )
                assert scroll[0] <= scroll[1], (list_slug, scroll)
            finally:
                phone.close()


def test_an_english_teaser_in_an_arabic_archive_reads_left_to_right(
    tmp_path: Path, browser: Browser
) -> None:
    # Set in the page's right-to-left direction, an English headline cut short put its "…" at the
    # left end of its last line, before the words it cut, and its first word alone on the right.
    headline = "Gulf " + " ".join(["ministers meet in Muscat to talk about trade and visas"] * 4)
    with archive_of(tmp_path, headline) as site:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        try:
            answer = page.goto(f"{site}/editions/arabic")
            assert answer is not None and answer.status == 200
            page.screenshot(path=str(ARTIFACTS / "archive-english-teaser-arabic-375.png"))
            teaser = page.query_selector(".edition-teaser")
            assert teaser is not None
            text = teaser.inner_text()
            assert text.startswith("Gulf ministers") and text.endswith("…"), text
            cut, ellipsis = page.evaluate(
                """(teaser) => {
                  const node = teaser.firstChild;
                  const at = node.textContent.lastIndexOf('…');
                  const box = (start, end) => {
                    const range = document.createRange();
                    range.setStart(node, start);
                    range.setEnd(node, end);
                    return range.getBoundingClientRect();
                  };
                  const before = box(at - 1, at), mark = box(at, at + 1);
                  return [[before.left, before.top], [mark.left, mark.top]];
                }""",
                teaser,
            )
            # On the line of the last letter it follows, to that letter's right.
            assert abs(ellipsis[1] - cut[1]) < 2 and ellipsis[0] > cut[0], (cut, ellipsis)
            first = page.evaluate(
                """(teaser) => {
                  const range = document.createRange();
                  range.setStart(teaser.firstChild, 0);
                  range.setEnd(teaser.firstChild, 4);
                  return range.getBoundingClientRect().left - teaser.getBoundingClientRect().left;
                }""",
                teaser,
            )
            assert first < 2, first  # "Gulf" opens the first line, at its left
        finally:
            page.close()


def test_the_preferences_fields_sit_one_under_the_other_without_gaps(
    room: Newsroom, site: str, page: Page
) -> None:
    # The sign-up form's fields share a row at 12rem each; stacked in the preferences form's
    # column, that basis became each field's height: 120 px of nothing under the name and under
    # the timezone, the Save button far below them.
    reader = room.subscriber("daily", "Rana")
    _, token = room.services.signer.link_tokens(reader.id, "daily")
    for width in (375, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{site}/preferences/{token}")
        page.screenshot(path=str(ARTIFACTS / f"preferences-{width}.png"), full_page=True)
        gaps = page.evaluate(
            """() => {
              const box = (selector) => document.querySelector(selector).getBoundingClientRect();
              const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
              return [box('label[for=timezone]').top - box('#name').bottom,
                      box('.preferences .button').top - box('#timezone-hint').bottom, rem];
            }"""
        )
        # The form's own gap (1rem) between them, and no more.
        assert gaps[0] <= gaps[2] * 1.5 and gaps[1] <= gaps[2] * 1.5, (width, gaps)


# The characters of ``needle`` in the first text node under ``element`` that holds it, ordered
# as drawn from left to right (spaces left out: a space between runs of two directions sits
# where the algorithm puts it, and reads as nothing).
_READ_LEFT_TO_RIGHT = """([element, needle]) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode()) && !node.textContent.includes(needle)) {}
  if (!node) return null;
  const at = node.textContent.indexOf(needle), drawn = [];
  for (let i = at; i < at + needle.length; i++) {
    if (needle[i - at] === ' ') continue;
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    drawn.push([range.getBoundingClientRect().left, needle[i - at]]);
  }
  return drawn.sort((a, b) => a[0] - b[0]).map((pair) => pair[1]).join('');
}"""


def read_left_to_right(page: Page, selector: str, needle: str) -> str | None:
    """``needle`` as drawn in the element ``selector`` names, read from left to right."""
    element = page.query_selector(selector)
    assert element is not None, selector
    return page.evaluate(_READ_LEFT_TO_RIGHT, [element, needle])  # type: ignore[no-any-return]


def test_a_sign_up_notice_in_an_arabic_page_shows_an_address_and_its_symbols_in_order(
    site: str, page: Page
) -> None:
    # Set in the page's right-to-left direction, the symbols an address may hold (". _ + -")
    # showed as "- + _ ." (in Hebrew, scrambled): read by someone about to type an address.
    for typed, needle in (("سام@example.org", ". _ + -"), ("no address", "name@example.org")):
        page.goto(f"{site}/subscribe/arabic")
        # Past the browser's own check of the field, to the server's answer.
        page.evaluate("() => { document.querySelector('input[name=email]').type = 'text'; }")
        page.fill("input[name=email]", typed)
        page.click("button[type=submit]")
        page.wait_for_selector(".notice")
        check(page, f"signup-notice-arabic-{needle[0]}")
        assert read_left_to_right(page, ".notice", needle) == needle.replace(" ", "")


@pytest.mark.parametrize("language", ["ar", "he", "fa"])
def test_the_left_to_right_runs_of_every_right_to_left_notice_read_in_order(
    browser: Browser, language: str
) -> None:
    words = words_for(language)
    runs = {
        "#symbols": (words.address_not_ascii, ". _ + -"),
        "#address": (words.invalid_email, "name@example.org"),
        "#zones": (words.unknown_timezone, "Europe/London"),
        "#hint": (words.timezone_hint.format(zone="Etc/GMT+3"), "Etc/GMT+3"),
    }
    paragraphs = "".join(
        f'<p id="{selector[1:]}">{left_to_right_runs(sentence)}</p>'
        for selector, (sentence, _) in runs.items()
    )
    page = browser.new_page()
    try:
        page.set_content(f'<html lang="{language}" dir="rtl"><body>{paragraphs}</body></html>')
        for selector, (_, needle) in runs.items():
            drawn = read_left_to_right(page, selector, needle)
            assert drawn == needle.replace(" ", ""), (language, selector, drawn)
    finally:
        page.close()


@pytest.mark.parametrize("address", ["sam.lee+news@example.org", "2024.sam@example.org"])
def test_the_address_in_the_footer_of_a_right_to_left_edition_reads_in_order(
    tmp_path: Path, browser: Browser, address: str
) -> None:
    # The plain-text footer "(ارسال به ADDRESS)." set an address opening with digits in the
    # line's direction: "sam@example.org.2024". Each line as a plain-text reader sets it, by
    # its first letter; the HTML footer as the HTML part is.
    lead = article(1, "اتحادیه اروپا تحریم‌های تازه را تصویب کرد", language="fa")
    other = article(2, "قیمت دلار در بازار تهران بالا رفت", language="fa")
    settings = make_settings(tmp_path, language="fa")
    rendered = Renderer(settings).render(gulf_edition(lead, other), settings.list(LIST_SLUG))
    text = rendered.text.replace(placeholders.SUBSCRIBER_EMAIL, address)
    lines = "".join(
        f'<div dir="auto" style="white-space: pre">{html.escape(line)}</div>'
        for line in text.splitlines()
        if address in line
    )
    page = browser.new_page()
    try:
        page.set_content(f'<html><body><div id="text">{lines}</div></body></html>')
        assert read_left_to_right(page, "#text", address) == address
        page.set_content(rendered.html.replace(placeholders.SUBSCRIBER_EMAIL, address))
        assert read_left_to_right(page, "body", address) == address
    finally:
        page.close()
