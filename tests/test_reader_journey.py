"""A reader's whole way through the service in a real browser (issue #11 point 9): the system's
Chromium (playwright) signs up on /, the confirmation mail arrives at a loopback SMTP server,
the reader opens its link and presses confirm, the next edition arrives; on the preferences
page of that mail they drop a topic, and the next edition lacks it; they follow the mail's
unsubscribe link and press the button, and no further mail comes. A link scanner that opens
every address of an edition changes nothing. Each page is screenshotted and checked by axe-core.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest
from playwright.sync_api import Browser, Page

from digest import pipeline
from digest.delivering import deliver_batch
from digest.services import default_transport
from digest.web import create_app
from digest.web.server import serving
from tests.servers import SmtpSink, free_port, smtp_server
from tests.test_end_to_end import parse
from tests.test_web_browser import browser, check
from tests.webtools import FIRST_SLOT, Newsroom, newsroom, write_feed

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the fixture, shared with the other browser tests

READER = "noor@example.org"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def room(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink, port: int) -> Iterator[Newsroom]:
    with newsroom(
        tmp_path_factory.mktemp("journey"),
        editions=0,
        base_url=f"http://127.0.0.1:{port}",
        smtp_port=smtp.port,
        topics=("iran", "gulf"),
    ) as built:
        yield built


@pytest.fixture
def site(room: Newsroom, port: int) -> Iterator[str]:
    with serving(create_app(room.services), "127.0.0.1", port) as address:
        yield address


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    opened = context.new_page()
    yield opened
    context.close()


def next_edition(room: Newsroom, smtp: SmtpSink, day: int) -> dict[str, EmailMessage]:
    """Day ``day``'s edition of the daily list, an Iran and a Gulf story, built and sent to the
    loopback SMTP server; the copies it took, by recipient."""
    services, clock = room.services, room.clock
    slot = FIRST_SLOT + timedelta(days=day)
    stories: list[tuple[int, str, datetime]] = [
        (10 * day, f"Iran weighs new talks on the uranium stockpile, day {day}", slot),
        (10 * day + 1, f"Gulf ports expand shipping lanes, day {day}", slot),
    ]
    write_feed(
        room.feed_folder, [(n, title, when - timedelta(hours=1)) for n, title, when in stories]
    )
    clock.set(slot + timedelta(minutes=5))
    for feed in services.store.sync_feeds(services.settings.feeds, clock.now()):
        pipeline.poll_feed(services, feed.id)
    pipeline.build_edition(services, "daily", slot)
    before = len(smtp.received)
    assert services.settings.smtp is not None
    with default_transport(services.settings) as transport:
        delivering = replace(services, transport=transport, personalizers={})
        for state in services.store.editions_of_slot("daily", slot):
            deliver_batch(delivering, state.id, services.store.pending_deliveries(state.id))
    return {mail.rcpt_tos[0]: parse(mail.data) for mail in smtp.received[before:]}


def text_of(message: EmailMessage) -> str:
    return " ".join(message.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]


def link_after(message: EmailMessage, path: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+/{path}/\S+", text_of(message))
    assert found is not None, text_of(message)
    return found.group(0)


def wait_for_confirmation(smtp: SmtpSink) -> EmailMessage:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for mail in smtp.received:
            if mail.rcpt_tos == [READER] and "Confirm" in str(parse(mail.data)["Subject"]):
                return parse(mail.data)
        time.sleep(0.1)
    raise AssertionError("no confirmation mail arrived")


def test_sign_up_confirm_choose_topics_and_leave_in_a_browser(
    room: Newsroom, site: str, smtp: SmtpSink, page: Page
) -> None:
    services = room.services
    # Sign up on the front page, confirm from the mail.
    page.goto(f"{site}/")
    page.fill("#email-daily", READER)
    page.fill("#name-daily", "Noor")
    page.locator("form.signup").first.get_by_role("button").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert READER not in next_edition(room, smtp, 0)  # pending: nothing yet
    page.goto(link_after(wait_for_confirmation(smtp), "confirm"))
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()

    # The next edition arrives, with both topics.
    first = next_edition(room, smtp, 1)
    assert "uranium" in text_of(first[READER]) and "shipping lanes" in text_of(first[READER])
    # A link scanner opens every address of the mail that points at the service: nothing
    # changes (the unsubscribe and preferences pages are pages, not actions).
    reader = services.store.subscriber_by_email(READER)
    assert reader is not None
    html = first[READER].get_body(("html",)).get_content()  # type: ignore[union-attr]
    for address in set(re.findall(r'href="(http://127\.0\.0\.1:\d+/[^"]+)"', html)):
        httpx.get(address.replace("&amp;", "&"), timeout=10)
    assert services.store.memberships_of(reader.id)["daily"] == ("confirmed", None)

    # On the preferences page of that mail, the Gulf is dropped.
    page.goto(link_after(first[READER], "preferences"))
    page.get_by_role("heading", name="Your preferences for Daily Brief").wait_for()
    check(page, "journey-preferences")
    page.get_by_label("Gulf").uncheck()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved. Your next edition follows these choices.").wait_for()
    check(page, "journey-preferences-saved")
    second = next_edition(room, smtp, 2)
    assert "uranium" in text_of(second[READER]) and "shipping lanes" not in text_of(second[READER])
    assert "shipping lanes" in text_of(second["sam@example.org"])  # the others' as before

    # The mail's unsubscribe link, and its button: no further mail.
    page.goto(link_after(second[READER], "unsubscribe"))
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    check(page, "journey-unsubscribed")
    third = next_edition(room, smtp, 3)
    assert READER not in third and "sam@example.org" in third
