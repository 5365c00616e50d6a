"""The pictures of the README and the guides come from here, not from hand (issue #13 point 3).

The mail: the example's ``middle-east-daily`` edition, previewed on the bundled sample feeds
(``digest preview --poll``, a database of its own), laid out by the system's Chromium at 600
pixels with pictures held back, as many mail apps do, and its top 1,100 pixels kept. Each run
keeps it in the test artifacts; with DIGEST_DOCS_SCREENSHOTS=1 it is also written to
docs/images/mail.png (the sign-up page's picture comes from tests/test_signup_browser.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.test_end_to_end import digest, example_config
from tests.test_web_browser import ARTIFACTS, ROOT, browser

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the fixture, shared with the other browser tests

DOCS_IMAGE = ROOT / "docs" / "images" / "mail.png"
WIDTH, HEIGHT = 600, 1100


@pytest.fixture
def mail_html(tmp_path: Path) -> Iterator[str]:
    config = example_config(tmp_path, smtp_port=None)
    output = tmp_path / "mail.html"
    preview = digest(config, "preview", "middle-east-daily", "--poll", "--output", str(output))
    assert preview.returncode == 0, preview.stderr
    yield output.read_text(encoding="utf-8")


def test_the_readmes_mail_picture_is_the_examples_edition_at_600_pixels(
    browser: Browser, mail_html: str
) -> None:
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    page.route("**/*", lambda route: route.abort())  # pictures held back
    page.set_content(mail_html, wait_until="load")
    # What the picture must show: the masthead and the lead story, whole, in 600 pixels.
    assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
    lead = page.locator("h1, h2, .lead-title").first.bounding_box()
    assert lead is not None and lead["y"] + lead["height"] < HEIGHT
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT}
    page.screenshot(path=str(ARTIFACTS / "readme-mail.png"), clip=clip)
    if os.environ.get("DIGEST_DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS_IMAGE), clip=clip)
    page.close()
