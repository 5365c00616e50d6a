"""Sign-up in a real browser: the system's Chromium (playwright) fills in the form on / from
the keyboard, the confirmation mail arrives at a loopback SMTP server (aiosmtpd), the reader
opens its link and presses the button, and the next edition reaches them. The embeddable form
works inside a frame of another site. Every new page is screenshotted and checked by axe-core.

With DIGEST_DOCS_SCREENSHOTS=1 the sign-up page is also written, 600 pixels wide, to
docs/images/signup.png (the picture the README shows).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, Page

from digest.delivering import deliver_batch
from digest.sample_server import serve_folder
from digest.services import default_transport
from digest.web import create_app
from digest.web.server import serving
from tests.servers import SmtpSink, free_port, smtp_server
from tests.test_end_to_end import parse
from tests.test_web_browser import ARTIFACTS, ROOT, browser, check, policed_page
from tests.webtools import Newsroom, build_editions, newsroom

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the fixture, shared with the other browser tests

DOCS_IMAGE = ROOT / "docs" / "images" / "signup.png"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink, port: int) -> Iterator[Newsroom]:
    with newsroom(
        tmp_path_factory.mktemp("signup-browser"),
        editions=1,
        base_url=f"http://127.0.0.1:{port}",
        smtp_port=smtp.port,
    ) as built:
        yield built


@pytest.fixture(scope="module")
def site(room: Newsroom, port: int) -> Iterator[str]:
    with serving(create_app(room.services), "127.0.0.1", port) as address:
        yield address


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Only the site answers, and the made-up site that frames the embeddable form.
    with policed_page(browser, lambda url: url.startswith("http://127.0.0.1:")) as (
        opened,
        refused,
    ):
        yield opened
    assert [text for text in refused if "frame-ancestors" not in text] == [], refused


FRAMING_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Newsroom</title></head><body>'
    '<main><h1>Our newsroom</h1><iframe title="Sign up" src="{src}" width="500" height="420">'
    "</iframe></main></body></html>"
)


@pytest.fixture(scope="module")
def framing_site(tmp_path_factory: pytest.TempPathFactory, site: str) -> Iterator[str]:
    """The newsroom's own site: another origin (another port) whose pages frame ours."""
    folder = tmp_path_factory.mktemp("newsroom-site")
    for name, path in (("embed", "/embed/daily"), ("other", "/subscribe/daily")):
        (folder / f"{name}.html").write_text(FRAMING_PAGE.format(src=site + path))
    with serve_folder(folder) as address:
        yield address


def received_confirmation(smtp: SmtpSink, to: str) -> EmailMessage:
    deadline = time.monotonic() + 30
    while True:
        for mail in smtp.received:
            message = parse(mail.data)
            if mail.rcpt_tos == [to] and "Confirm" in str(message["Subject"]):
                return message
        assert time.monotonic() < deadline, "no confirmation mail arrived"
        time.sleep(0.1)


def confirm_link(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"http://127\.0\.0\.1:\d+/confirm/\S+", text)
    assert found is not None, text
    return found.group(0)


def docs_screenshot(page: Page, site: str) -> None:
    """The front page and its sign-up forms as the README shows them: 600 pixels wide, the
    whole page and nothing below it."""
    if os.environ.get("DIGEST_DOCS_SCREENSHOTS") != "1":
        return
    page.set_viewport_size({"width": 600, "height": 300})
    page.goto(f"{site}/")
    DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGE), full_page=True)
    page.set_viewport_size({"width": 1024, "height": 800})


def test_sign_up_confirm_and_receive_the_next_edition_in_a_browser(
    room: Newsroom, site: str, smtp: SmtpSink, page: Page
) -> None:
    page.goto(f"{site}/")
    check(page, "signup-front")
    # From the keyboard: into the address field, on to the name, Enter sends the form.
    page.focus("#email-daily")
    page.keyboard.type("reader@example.org")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "name-daily"
    page.keyboard.type("Reader")
    page.keyboard.press("Tab")  # past the hidden trap field, straight to the button
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    check(page, "signup-check-inbox")

    link = confirm_link(received_confirmation(smtp, "reader@example.org"))
    page.goto(link)
    page.get_by_role("heading", name="Confirm your subscription to Daily Brief").wait_for()
    check(page, "signup-confirm")
    assert not room.is_member("daily", "Reader")  # opening the link changed nothing
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    check(page, "signup-confirmed")
    assert room.is_member("daily", "Reader")

    sent_before = len(smtp.received)
    build_editions(room, 1)
    services = room.services
    edition = services.store.latest_edition("daily")
    assert edition is not None and services.settings.smtp is not None
    with default_transport(services.settings) as transport:  # the loopback SMTP server
        delivering = replace(services, transport=transport, personalizers={})
        deliver_batch(delivering, edition.id, services.store.pending_deliveries(edition.id))
    edition_to = {mail.rcpt_tos[0] for mail in smtp.received[sent_before:]}
    assert "reader@example.org" in edition_to


def test_the_other_sign_up_pages_look_right_and_pass_axe(
    room: Newsroom, site: str, page: Page
) -> None:
    issued = room.clock.now() - timedelta(days=4)  # web.confirm_days is 3
    expired = room.services.signer.confirm_token(1, "daily", issued)
    arabic = room.services.signer.confirm_token(1, "arabic", room.clock.now())
    pages = {
        "signup-page": "/subscribe/daily",
        "signup-page-arabic": "/subscribe/arabic",
        "signup-embed": "/embed/daily",
        "signup-expired-link": f"/confirm/{expired}",
        "signup-damaged-link": f"/confirm/{expired[:-3]}",
        "signup-confirm-arabic": f"/confirm/{arabic}",
    }
    for name, path in pages.items():
        answer = page.goto(site + path)
        assert answer is not None and answer.status in (200, 400, 410), (path, answer.status)
        check(page, name)
    # The Arabic form: right to left, its labels in Arabic, the address field left to right.
    page.goto(f"{site}/subscribe/arabic")
    form = page.locator("form.signup")
    assert form.get_attribute("dir") == "rtl" and form.get_attribute("lang") == "ar"
    assert page.get_by_label("البريد الإلكتروني").get_attribute("dir") == "ltr"
    # An address the browser lets through but we cannot send to: the form again, saying so.
    page.get_by_label("البريد الإلكتروني").fill("someone@localhost")
    page.get_by_role("button", name="اشترك").click()
    page.get_by_role("alert").wait_for()
    check(page, "signup-bad-address-arabic")
    assert page.get_by_label("البريد الإلكتروني").get_attribute("aria-invalid") == "true"
    docs_screenshot(page, site)


def test_the_embeddable_form_works_in_a_frame_of_another_site(
    room: Newsroom, site: str, framing_site: str, smtp: SmtpSink, page: Page
) -> None:
    page.goto(f"{framing_site}/embed.html")
    frame = page.frame_locator("iframe")
    frame.get_by_label("Email address").fill("framed@example.org")
    frame.get_by_role("button", name="Sign up").click()
    frame.get_by_role("heading", name="Check your inbox").wait_for()
    received_confirmation(smtp, "framed@example.org")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "signup-embedded-in-a-site.png"))
    # Any other page of ours refuses the frame: nothing of it is shown.
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    page.goto(f"{framing_site}/other.html")
    deadline = time.monotonic() + 10
    while not any("frame-ancestors" in text for text in blocked):
        assert time.monotonic() < deadline, blocked
        page.wait_for_timeout(100)
    assert all('class="signup"' not in frame.content() for frame in page.frames)
