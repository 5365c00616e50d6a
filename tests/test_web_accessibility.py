"""The readers' pages as a screen reader and a keyboard take them, in the system's Chromium: the
accessibility tree it builds (tests/axtree.py), where the focus is after a form comes back, and
the names of links, buttons and forms where a page holds several lists.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.axtree import Node, accessibility_tree, of_role
from tests.test_web_browser import browser, check, page, port, room, site
from tests.webtools import Newsroom

pytestmark = pytest.mark.integration
__all__ = ["browser", "page", "port", "room", "site"]  # test_web_browser's fixtures


def preferences_path(room: Newsroom, list_slug: str, name: str) -> str:
    reader = room.subscriber(list_slug, name)
    return f"/preferences/{room.services.signer.link_tokens(reader.id, list_slug)[1]}"


def focused(page: Page) -> dict[str, str]:
    # A page's autofocus is taken at its first rendering after it loads.
    page.wait_for_function("document.activeElement !== document.body", timeout=3000)
    return dict(
        page.evaluate(
            """() => ({tag: document.activeElement.tagName.toLowerCase(),
                       role: document.activeElement.getAttribute('role') || '',
                       text: document.activeElement.textContent.trim()})"""
        )
    )


def field_description(page: Page, name: str) -> str:
    found = [
        node
        for node in accessibility_tree(page)
        if node.name == name and node.role in ("textbox", "group")
    ]
    assert len(found) == 1, (name, found)
    return found[0].description


def submit(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_a_form_sent_back_puts_the_focus_on_what_is_wrong(
    room: Newsroom, site: str, page: Page
) -> None:
    # The notice was there, marked role="alert", but the focus stayed on the page's top: a
    # screen reader began again at the skip link and the site's name, and an alert already on
    # the page when it loads is one that many never announce.
    cases = [
        ("/subscribe/daily", "Email address", "someone@localhost", "Sign up", "email address"),
        ("/embed/arabic", "البريد الإلكتروني", "someone@localhost", "اشترك", ""),
        (preferences_path(room, "daily", "Rana"), "Your timezone", "Mars/Olympus", "Save", "zone"),
    ]
    for path, field, value, button, says in cases:
        page.goto(site + path)
        page.get_by_label(field).fill(value)
        submit(page, button)
        now = focused(page)
        assert now["role"] == "alert" and says in now["text"], (path, now)
        # The field the notice is about carries it as its description.
        assert now["text"] in field_description(page, field), path
        check(page, f"sent-back-{path.split('/')[1]}")
    # No topic left ticked: the notice is about the topics' group.
    page.goto(site + preferences_path(room, "daily", "Rana"))
    page.get_by_label("Middle East").uncheck()
    submit(page, "Save")
    now = focused(page)
    assert now["role"] == "alert" and "topic" in now["text"], now
    assert now["text"] in field_description(page, "Topics in your edition")
    # Saved: the reader hears that it was.
    page.get_by_label("Middle East").check()
    submit(page, "Save")
    assert focused(page)["role"] == "status"


def names_and_places(
    tree: list[Node], role: str
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    places: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    for link in of_role(tree, role):
        places[link.name].add(link.url)
        names[link.url].add(link.name)
    return places, names


def assert_each_link_says_where_it_goes(tree: list[Node]) -> None:
    places, names = names_and_places(tree, "link")
    # One name, one place: "Sign up" or "Past editions" twice, to two lists, says neither.
    assert {name: urls for name, urls in places.items() if len(urls) > 1} == {}
    # One place, one link: a heading's link and a link beside it to the same page read twice.
    assert {url: found for url, found in names.items() if len(found) > 1} == {}


def test_the_front_page_names_each_lists_links_form_and_button(site: str, page: Page) -> None:
    page.goto(f"{site}/")
    assert page.title() == "Newsletters · The Desk"  # where the reader is, before the site
    tree = accessibility_tree(page)
    assert_each_link_says_where_it_goes(tree)
    # Each list's form is named by the list, and so is its button, among the others' buttons.
    assert [form.name for form in of_role(tree, "form")] == ["Daily Brief", "النشرة اليومية"]
    buttons = [button.name for button in of_role(tree, "button")]
    assert len(set(buttons)) == len(buttons) == 2, buttons
    assert "Daily Brief" in buttons[0] and "النشرة اليومية" in buttons[1], buttons
    check(page, "front-page-named")


def test_the_preferences_name_each_lists_sign_up_link(
    room: Newsroom, site: str, page: Page
) -> None:
    # A reader of the daily list alone: the Arabic list is offered with a link to sign up.
    reader = room.subscriber("arabic", "Sam")
    assert room.services.store.unsubscribe(reader.id, "arabic", room.clock.now())
    page.goto(site + preferences_path(room, "daily", "Sam"))
    tree = accessibility_tree(page)
    assert_each_link_says_where_it_goes(tree)
    signup = [link.name for link in of_role(tree, "link") if "/subscribe/arabic" in link.url]
    assert signup == ["Sign up النشرة اليومية"], signup


def test_every_page_reflows_at_320_pixels_and_keeps_its_contrast_light_and_dark(
    room: Newsroom, site: str, browser: Browser
) -> None:
    # 320 CSS pixels: a 1280 px window zoomed to 400%. Contrast as axe computes it from the CSS.
    paths = {
        "front": "/",
        "archive-arabic": "/editions/arabic",
        "signup": "/subscribe/daily",
        "embed-arabic": "/embed/arabic",
        "preferences": preferences_path(room, "daily", "Rana"),
        "preferences-arabic": preferences_path(room, "arabic", "Rana"),
        "unsubscribe": f"/unsubscribe/{room.unsubscribe_token('arabic', 'Rana')}",
    }
    for scheme in ("light", "dark"):
        context = browser.new_context(
            viewport={"width": 320, "height": 640},
            color_scheme=scheme,  # type: ignore[arg-type]
        )
        page = context.new_page()
        try:
            for name, path in paths.items():
                page.goto(site + path)
                width = page.evaluate("() => document.scrollingElement.scrollWidth")
                assert width <= 320, (scheme, name, width)
                found = Axe().run(page, options={"runOnly": ["color-contrast"]})
                poor = [v["nodes"][0]["target"] for v in found.response["violations"]]
                assert poor == [], (scheme, name, poor)
        finally:
            context.close()


@pytest.mark.parametrize("path", ["/editions/daily", "/editions/arabic"])
def test_the_pages_words_set_in_capitals_are_read_as_written(
    site: str, page: Page, path: str
) -> None:
    # The kicker above a page's title was set in capitals by text-transform, which Chromium
    # passes on to screen readers: "PAST EDITIONS", read shouted or letter by letter.
    page.goto(site + path)
    tree = accessibility_tree(page)
    shouted = [
        node.name
        for node in tree
        if node.role == "StaticText" and node.name.isupper() and len(node.name) > 4
    ]
    assert shouted == [], shouted
