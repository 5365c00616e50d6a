"""The example's edition judged by real tools: SpamAssassin scores it, Chromium lays it out.

Chromium is Debian's (``/usr/bin/chromium``) driven by playwright; SpamAssassin runs with local
tests only (``-L``). ``scripts/test`` installs both when missing.
"""

from __future__ import annotations

import email
import re
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.lint import message_bodies
from digest.mail.personalize import personalize
from digest.mail.tokens import TokenSigner
from digest.records import Subscriber
from digest.render import Renderer
from digest.screenshot import WIDTHS, Browser, open_browser
from tests.test_end_to_end import digest, example_config
from tests.test_render import make_settings as render_settings
from tests.test_render import sample_edition

pytestmark = pytest.mark.integration

SPAM_THRESHOLD = 2.0


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example config after one real run: its outbox holds the middle-east-daily edition."""
    tmp_path = tmp_path_factory.mktemp("example")
    config = example_config(tmp_path, smtp_port=None)
    result = digest(config, "run", "--once", "--list", "middle-east-daily")
    assert result.returncode == 0, result.stderr
    return config


@pytest.fixture(scope="module")
def message(example: Path) -> bytes:
    outbox = example.parent / "outbox"
    sent = sorted(outbox.glob("*.eml"))
    assert sent, f"nothing in {outbox}"
    for path in sent:  # the copy for a subscriber of middle-east-daily
        data = path.read_bytes()
        if b"List-Id:" in data and b"middle-east-daily." in data:
            return data
    raise AssertionError("no message of middle-east-daily in the outbox")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with open_browser() as opened:
        yield opened


# ---------------------------------------------------------------------------------------------
# SpamAssassin


def spam_report(data: bytes) -> tuple[float, list[str], str]:
    """Score, rules that fired, and the report, from ``spamassassin -L -t`` (local tests)."""
    result = subprocess.run(
        ["spamassassin", "-L", "-t"], input=data, capture_output=True, timeout=120, check=True
    )
    checked = email.message_from_bytes(result.stdout, policy=policy.default)
    status = " ".join(str(checked["X-Spam-Status"]).split())
    score = re.search(r"score=(-?[\d.]+)", status)
    assert score, status
    rules = re.search(r"tests=(\S+)", status)
    fired = rules.group(1).split(",") if rules and rules.group(1) != "none" else []
    report = result.stdout.decode("utf-8", "replace").split("Content analysis details:", 1)
    return float(score.group(1)), fired, report[-1] if len(report) > 1 else status


def test_spamassassin_scores_the_example_edition_below_two(message: bytes) -> None:
    score, fired, report = spam_report(message)
    print(f"\nSpamAssassin score {score} (must stay below {SPAM_THRESHOLD}); rules that fire:")
    print(report.strip())
    assert score < SPAM_THRESHOLD, fired
    # The usual tells of bulk mail are not among them.
    for rule in ("MIME_HTML_ONLY", "HTML_IMAGE_ONLY", "HTML_SHORT_LINK_IMG", "MPART_ALT_DIFF"):
        assert not any(name.startswith(rule) for name in fired), fired


# ---------------------------------------------------------------------------------------------
# Chromium: nothing overflows at desktop and phone widths, light and dark


def html_part(data: bytes) -> str:
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    _, html = message_bodies(data)
    assert html
    return html


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_example_edition_fits_desktop_and_phone(
    message: bytes, browser: Browser, tmp_path: Path, width: int, scheme: str
) -> None:
    png = tmp_path / f"example-{width}-{scheme}.png"
    layout = browser.capture(html_part(message), width, png=png, color_scheme=scheme)  # type: ignore[arg-type]
    print(f"\n{width}px {scheme}: page {layout.scroll_width}px wide, {layout.height}px tall")
    assert layout.viewport == width
    assert layout.scroll_width <= width, layout
    assert layout.overflowing == (), layout.overflowing
    assert png_size(png) == (width, layout.height)
    assert layout.height > 2000  # the whole edition, not an empty page


def test_dark_mode_changes_the_page(message: bytes, browser: Browser, tmp_path: Path) -> None:
    html = html_part(message)
    light = browser.capture(html, 600, png=tmp_path / "light.png")
    dark = browser.capture(html, 600, png=tmp_path / "dark.png", color_scheme="dark")
    assert light.height == dark.height  # the same layout, other colours
    assert (tmp_path / "light.png").read_bytes() != (tmp_path / "dark.png").read_bytes()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_arabic_list_fits_too(browser: Browser, tmp_path: Path, width: int) -> None:
    settings = render_settings(tmp_path, language="ar")
    rendered = Renderer(settings).render(sample_edition(), settings.list("middle-east-daily"))
    layout = browser.capture(rendered.html, width, png=tmp_path / "arabic.png")
    assert layout.fits, layout


def test_preview_png_writes_screenshots_beside_the_html(example: Path) -> None:
    result = digest(example, "preview", "middle-east-daily", "--png")
    assert result.returncode == 0, result.stderr
    html = Path(result.stdout.strip().splitlines()[-1])
    assert html.suffix == ".html" and html.is_file()
    assert "Checks passed" in result.stderr
    for width, png in (
        (600, html.with_suffix(".png")),
        (375, html.with_name(html.stem + "-375.png")),
    ):
        assert png.is_file(), result.stderr
        assert png_size(png)[0] == width
        assert f"{png} ({width}px wide, fits)" in result.stderr
    assert html.with_suffix(".txt").read_text(encoding="utf-8").startswith("THE MIDDLE EAST")


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# Where each character of a line is drawn: [character, left, right] in CSS pixels.
_DRAWN = """
([text, direction]) => {
  const line = document.createElement('div');
  line.dir = direction;
  line.style.cssText = 'white-space:nowrap;font:16px sans-serif;display:inline-block';
  line.textContent = text;
  document.body.replaceChildren(line);
  const drawn = [];
  for (let at = 0; at < text.length; at++) {
    const range = document.createRange();
    range.setStart(line.firstChild, at);
    range.setEnd(line.firstChild, at + 1);
    const box = range.getBoundingClientRect();
    drawn.push([text[at], box.left, box.right]);
  }
  return drawn;
}
"""


@pytest.mark.parametrize(
    "title",
    [
        "قال وزير الخارجية إن بلاده «لن تتراجع»",
        "هل تنجح المحادثات النووية في مسقط هذه المرة؟ " + "مصادر دبلوماسية تتحدث " * 8,
    ],
)
def test_an_arabic_lead_in_a_subject_keeps_its_ends_where_an_inbox_shows_it(
    browser: Browser, tmp_path: Path, title: str
) -> None:
    # An inbox sets a subject and its teaser in a line of its own direction. An Arabic lead
    # ending in a closing quote, or cut with "…", drew that mark at the line's far end, after
    # the list's name: "«لن تتراجع" with its "»" out on the right, the "…" before the headline.
    settings = render_settings(
        tmp_path, subject="{% if lead_title %}{{ lead_title }} | {% endif %}{{ list_name }}"
    )
    edition = sample_edition()
    assert edition.lead is not None
    lead = replace(edition.lead.article, title=title, language="ar")
    edition = replace(edition, lead=replace(edition.lead, article=lead))
    rendered = Renderer(settings).render(edition, settings.list("middle-east-daily"))
    sent = personalize(
        rendered,
        Subscriber(id=1, email="sam@example.org"),
        edition_id=1,
        service=settings.service,
        digest_list=settings.list("middle-east-daily"),
        signer=TokenSigner("test-secret-0123456789"),
        now=datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
    )
    subject = str(email.message_from_bytes(sent.data, policy=policy.default)["Subject"])
    # The long lead is cut by the subject's bound, and takes the list's name with it.
    assert subject.endswith(" | The Middle East in your inbox") == (len(title) < 100)
    page = browser._browser.new_page()
    try:
        for direction in ("ltr", "auto"):
            drawn = page.evaluate(_DRAWN, [subject, direction])
            arabic = [(left, right) for char, left, right in drawn if "\u0600" <= char <= "\u06ff"]
            start, end = min(left for left, _ in arabic), max(right for _, right in arabic)
            ends = [(char, left) for char, left, _ in drawn if char in "»…"]
            assert ends, subject
            # The headline's last mark is drawn at its left, where an Arabic reader ends it.
            assert all(left < start for _, left in ends), (direction, ends, start)
            name = [left for char, left, _ in drawn if char == "T"]  # "The Middle East…"
            bars = [left for char, left, _ in drawn if char == "|"]
            if direction == "ltr" and bars:  # the list's name after the headline, as written
                assert end <= bars[0] < name[0], (direction, end, bars, name)
    finally:
        page.close()
