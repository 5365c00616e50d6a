"""The feeds a web page names (``<link rel="alternate" type="application/rss+xml" href=...>``).

Operators often configure a site's address instead of its feed's; the poll then fails with a page
that is no feed. The error names the feeds the page points to, so the fix is one copy away.
"""

from __future__ import annotations

from contextlib import suppress
from html.parser import HTMLParser
from urllib.parse import urlsplit

from digest.ingest.urls import absolute_http_url

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
    }
)
# A page's <head> is near its start; the rest is not worth reading for this.
SCANNED_BYTES = 256 * 1024
MAX_FEEDS = 5


class _FeedLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        # The first <base href>, as HTML takes it: what a relative href is resolved against.
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and self.base is None and "href" in values:
            self.base = values["href"]
        if tag != "link":
            return
        kind = values.get("type", "").split(";")[0].strip().lower()
        href = values.get("href", "")
        if (
            "alternate" in values.get("rel", "").lower().split()
            and kind in FEED_TYPES
            and not (kind == "application/json" and _is_wordpress_rest_api(href))
        ):
            self.hrefs.append(href)

    handle_startendtag = handle_starttag


def _is_wordpress_rest_api(href: str) -> bool:
    """Whether ``href`` is a WordPress REST API record (".../wp-json/wp/v2/pages/42", or
    "?rest_route=/wp/v2/..." without pretty permalinks): every WordPress page names its own as
    an "alternate" application/json, the type JSON Feed 1.0 used, and it is no feed."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return False
    return "/wp-json/" in parts.path or "rest_route=" in parts.query


def feeds_named_by_page(page: bytes, page_url: str) -> list[str]:
    """The absolute http(s) addresses of the feeds ``page`` (UTF-8) links to, in its order, at
    most ``MAX_FEEDS``; [] when it names none (or is no HTML page at all)."""
    finder = _FeedLinks()
    # AssertionError is html.parser's way of refusing some markup ("<![CDATX[", a marked section
    # it does not know); the links read before it still count, and the page is still no feed.
    with suppress(AssertionError):
        finder.feed(page[:SCANNED_BYTES].decode("utf-8", "replace"))
    base = absolute_http_url(finder.base, page_url) or page_url
    found: list[str] = []
    for href in finder.hrefs:
        url = absolute_http_url(href, base)
        if url is not None and url != page_url and url not in found:
            found.append(url)
    return found[:MAX_FEEDS]
