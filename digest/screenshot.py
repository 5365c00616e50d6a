"""Screenshots of an edition's HTML in headless Chromium, and a check that nothing overflows.

    html ─► Chromium (playwright, the system's /usr/bin/chromium) at a viewport width
         ─► PNG of the whole page + the layout facts: page width, elements past the right edge

Images load from nowhere: every request leaves the page blocked, as in the many mail clients that
hold images back until the reader asks, so a screenshot shows the edition as most first see it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from digest.errors import DigestError

WIDTHS = (600, 375)  # the desktop column, and a common phone
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # Without these Chromium keeps trying to reach the internet for updates and field trials.
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

# Elements whose right edge lies past the viewport, skipping hidden ones (the preheader).
_LAYOUT_SCRIPT = """
() => {
  const width = window.innerWidth;
  const past = [];
  for (const element of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(element);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5) {
      past.push(element.tagName.toLowerCase() +
        (element.className ? '.' + String(element.className).split(' ').join('.') : '') +
        ' right=' + Math.round(box.right));
    }
  }
  return {
    viewport: width,
    scroll_width: document.scrollingElement.scrollWidth,
    height: document.scrollingElement.scrollHeight,
    overflowing: past.slice(0, 20),
  };
}
"""


class ScreenshotError(DigestError):
    """Chromium could not be started or could not load the page."""


@dataclass(frozen=True, slots=True)
class Layout:
    """What the page looked like at one width."""

    viewport: int
    scroll_width: int
    height: int
    overflowing: tuple[str, ...]  # "td.story-cell right=412" for each element past the edge
    color_scheme: Literal["light", "dark"]
    png: Path | None = None

    @property
    def fits(self) -> bool:
        return self.scroll_width <= self.viewport and not self.overflowing


_NO_CHROMIUM = (
    "no Chromium found: install it (Debian: apt-get install -y chromium) or set "
    "DIGEST_CHROMIUM to its path"
)


def _found_chromium() -> Path | None:
    """``DIGEST_CHROMIUM``, else the first Chromium on PATH; None when there is none."""
    explicit = os.environ.get("DIGEST_CHROMIUM")
    if explicit:
        return Path(explicit)
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def chromium_path() -> Path:
    """The Chromium to drive: ``DIGEST_CHROMIUM``, else the first found on PATH."""
    found = _found_chromium()
    if found is None:
        raise ScreenshotError(_NO_CHROMIUM)
    return found


def _playwright_missing() -> str:
    """What to do when playwright is not installed: the pip of this very interpreter (a bare
    ``pip`` is the system's when the virtual environment is not activated, and Debian refuses
    to install into that), and the browser too when it is missing, so one reading fixes both."""
    advice = (
        f"screenshots need the playwright package: install it with {sys.executable} -m pip "
        "install playwright (its own browser download is not needed; the system's Chromium is "
        "used)"
    )
    if _found_chromium() is None:
        advice += f"; and {_NO_CHROMIUM}"
    return advice


class Browser:
    """One headless Chromium, reused for every screenshot taken inside ``open_browser``."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def capture(
        self,
        html: str,
        width: int,
        *,
        png: Path | None = None,
        color_scheme: Literal["light", "dark"] = "light",
    ) -> Layout:
        """Load ``html`` at ``width`` CSS pixels, measure it, and write a full-page PNG if asked."""
        page = self._browser.new_page(
            viewport={"width": width, "height": 800}, color_scheme=color_scheme
        )
        try:
            # Nothing leaves the page: images stay blocked, as in many mail apps by default.
            page.route("**/*", lambda route: route.abort())
            page.set_content(html, wait_until="load")
            facts = page.evaluate(_LAYOUT_SCRIPT)
            if png is not None:
                png.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(png), full_page=True)
        finally:
            page.close()
        return Layout(
            viewport=int(facts["viewport"]),
            scroll_width=int(facts["scroll_width"]),
            height=int(facts["height"]),
            overflowing=tuple(str(item) for item in facts["overflowing"]),
            color_scheme=color_scheme,
            png=png,
        )


@contextmanager
def open_browser(executable: Path | None = None) -> Iterator[Browser]:
    """Start headless Chromium for a few screenshots; it is stopped on leaving the block."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise ScreenshotError(_playwright_missing()) from error
    path = executable or chromium_path()
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=str(path), args=list(CHROMIUM_ARGS))
            try:
                yield Browser(browser)
            finally:
                browser.close()
    except PlaywrightError as error:
        raise ScreenshotError(f"Chromium at {path} failed: {error.message}") from error


def screenshot_edition(
    html: str, png: Path, widths: Sequence[int] = WIDTHS, *, dark: bool = False
) -> list[Layout]:
    """Full-page PNGs of ``html`` at each width: ``png`` for the first, ``NAME-375.png`` etc."""
    layouts = []
    with open_browser() as browser:
        for index, width in enumerate(widths):
            target = png if index == 0 else png.with_name(f"{png.stem}-{width}{png.suffix}")
            layouts.append(browser.capture(html, width, png=target))
            if dark:
                night = target.with_name(f"{target.stem}-dark{target.suffix}")
                layouts.append(browser.capture(html, width, png=night, color_scheme="dark"))
    return layouts
