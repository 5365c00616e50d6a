"""Habits of particular publishers and platforms that would mislead a reader, undone.

- Google News titles end in " - Outlet" (the outlet is also in ``<source>``), and a description
  that is only a link to the story says nothing the title does not.
- Publishing systems end every headline with the outlet's own name ("... | Al Jazeera").
- A Reddit link post's entry links to its comments page; the article is its "[link]".
- WordPress, The Guardian and Reddit append the same lines to every summary ("The post ...
  appeared first on ...", "Continue reading...", "submitted by /u/... [link] [comments]").

Each rule starts with a substring test, so feeds without the habit pay next to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import unescape
from typing import Any

from digest.ingest.markup import without_edge_breaks

# An anchor's start tag as the sanitizer writes it (see clean.sanitize_html).
_ANCHOR = r'<a(?: [a-z]+="[^"]*")*>'
# Text up to, not across, the end of the paragraph it is in.
_IN_PARAGRAPH = r"(?:[^<]|<(?!/p>))"
# Each pattern starts with a literal, never with whitespace: a pattern that starts with "\s*" is
# tried at every position of a run of blanks, which takes a time quadratic in the run's length
# (a feed can send hundreds of kilobytes of line breaks). The blanks left in front are harmless.
# Yoast writes "appeared first on", Rank Math "first appeared on".
_APPEARED_FIRST = r"(?:appeared first|first appeared) on"
_WORDPRESS_FOOTER = re.compile(
    rf"<p>The post {_IN_PARAGRAPH}*? {_APPEARED_FIRST} {_IN_PARAGRAPH}*</p>"
)
# The same footer closing a summary outside a paragraph of its own: after line breaks, in the
# excerpt's paragraph, or as plain text with its links gone. The site's name is a link or a few
# words without a comma, so that a sentence ("The post office that appeared first on the list
# was closed, officials said") stays.
_FOOTER_AT_END = re.compile(
    rf"The post (?:{_ANCHOR}[^<]*</a>|[^<]){{1,400}}? {_APPEARED_FIRST} "
    rf"(?:{_ANCHOR}[^<]{{1,200}}</a>|[^\s<,]+(?: [^\s<,]+){{0,4}})\.?"
)
# What may come right before that footer: the summary's start, a sentence's end or a tag.
_BEFORE_FOOTER = re.compile(r"(?:^|[.!?…\"”’)\]]|>)\s*$")
_CONTINUE_READING = re.compile(rf"{_ANCHOR}Continue reading(?:\.\.\.|…)</a>")
_REDDIT_BYLINE = re.compile(
    rf"submitted by\s*{_ANCHOR}[^<]*</a>\s*(?:<br>)?\s*"
    rf"{_ANCHOR}\[link\]</a>\s*{_ANCHOR}\[comments\]</a>"
)
# WordPress's "read more" mark at the end of an excerpt: " [&#8230;]", " [...]".
_EXCERPT_MORE = re.compile(r" ?\[(?:…|\.\.\.)\]")
# A "read more" link that ends an excerpt, whole paragraph or end of the last one, as WordPress
# themes write it ("Continue reading →", "Continue reading<span> "Title"</span>", "Read More »")
# and Arabic, Persian and Hebrew sites ("اقرأ المزيد", "ادامه مطلب", "להמשך קריאה"). Shown, the
# summary ended in a link's words with no link.
_READ_MORE = (
    r"(?:Continue reading|Read more|Read the full (?:story|article)|Read full (?:story|article)"
    r"|Read the (?:story|article)|Read (?:story|article)|Click here|Keep reading|Full story"
    r"|اقرأ المزيد|اقرأ التفاصيل|ادامه مطلب|המשך קריאה|להמשך קריאה)"
)
_READ_MORE_PARAGRAPH = re.compile(
    rf"<p>\s*{_ANCHOR}\s*{_READ_MORE}[^<]*</a>\s*</p>$", re.IGNORECASE
)
_READ_MORE_AT_END = re.compile(
    rf"{_ANCHOR}\s*{_READ_MORE}[^<]*</a>(?=\s*(?:</p>)?$)", re.IGNORECASE
)
# The same words left as text where a feed stripped the link, closing the summary after a
# sentence's end or alone in its paragraph ("... officials said. Read more »", "Continue
# reading..."), or opening a last paragraph whose link is the story's headline ("Read more:
# <a>Qatar signs LNG deal</a>"). Within a sentence ("urged residents to read more") they stay.
_READ_MORE_WORDS_AT_END = re.compile(
    rf"(?:(?<=[.!?…\"”’])|(?<=<p>))\s*{_READ_MORE}\s*(?:»|›|→|>>|\.\.\.|…)?\s*(?=(?:</p>)?$)",
    re.IGNORECASE,
)
READ_MORE_TAIL = 80  # characters at the end of a summary that may hold the words and marks
_READ_MORE_HEADLINE_PARAGRAPH = re.compile(
    rf"<p>\s*{_READ_MORE}\s*:\s*{_ANCHOR}[^<]*</a>\.?\s*</p>$", re.IGNORECASE
)
_REDDIT_PAGE = re.compile(r"https?://(?:[a-z0-9-]+\.)*reddit\.com/", re.IGNORECASE)
_REDDIT_SHARED = re.compile(r'<a href="([^"<>]*)">\s*\[link\]\s*</a>')


def without_boilerplate(summary_html: str) -> str:
    """Sanitized summary HTML without the lines a platform appends to every entry."""
    if "appeared first on" in summary_html or "first appeared on" in summary_html:
        summary_html = _without_footer_at_end(_WORDPRESS_FOOTER.sub("", summary_html))
    if "Continue reading" in summary_html:
        summary_html = _CONTINUE_READING.sub("", summary_html)
    if "submitted by" in summary_html:
        summary_html = _REDDIT_BYLINE.sub("", summary_html)
    if "[…]" in summary_html or "[...]" in summary_html:
        summary_html = _EXCERPT_MORE.sub("…", summary_html)
    # A footer's block left its line break behind (markup.sanitize_html).
    summary_html = without_edge_breaks(summary_html)
    if summary_html.endswith("</a>") or summary_html.endswith("</a></p>"):
        summary_html = _READ_MORE_PARAGRAPH.sub("", summary_html)
        summary_html = _READ_MORE_HEADLINE_PARAGRAPH.sub("", summary_html)
        summary_html = without_edge_breaks(_READ_MORE_AT_END.sub("", summary_html))
    else:
        # Only the summary's end is read: the words are short, and so the rule costs the same
        # on a summary of any length.
        cut = max(0, len(summary_html) - READ_MORE_TAIL)
        tail = _READ_MORE_WORDS_AT_END.sub("", summary_html[cut:]).removesuffix("<p></p>")
        summary_html = without_edge_breaks(summary_html[:cut] + tail)
    return summary_html


def _without_footer_at_end(summary_html: str) -> str:
    """``summary_html`` without a "The post ... appeared first on ..." that ends it outside a
    paragraph of its own (``_FOOTER_AT_END``); the paragraph's end tag after it stays."""
    at = summary_html.rfind("The post ")
    found = _FOOTER_AT_END.match(summary_html, at) if at >= 0 else None
    if found is None or summary_html[found.end() :].strip() not in ("", "</p>"):
        return summary_html
    if not _BEFORE_FOOTER.search(summary_html[:at]):
        return summary_html
    return summary_html[:at].rstrip() + summary_html[found.end() :].strip()


def source_name(raw: Mapping[str, Any]) -> str:
    """The outlet an aggregator's ``<source>`` names (Google News), or ""."""
    source = raw.get("source")
    if not isinstance(source, Mapping):
        return ""
    return " ".join(str(source.get("title") or "").split())


def title_without_source(title: str, source: str) -> str:
    """``title`` without the " - Outlet" an aggregator appends, when it names ``source``."""
    suffix = f" - {source}"
    if source and title.endswith(suffix) and len(title) > len(suffix):
        return title[: -len(suffix)].rstrip()
    return title


def title_without_outlet(title: str, outlets: Iterable[str | None]) -> str:
    """``title`` without the outlet's name a publishing system appends to every headline ("Truce
    holds - Gulf Wire", "Truce holds | Al Jazeera"), when it is one of ``outlets`` (the feed's
    name in the config, the feed's own title). Printed, the name came twice: in the headline
    and in the byline right under it. A title that is only the name stays."""
    for outlet in outlets:
        name = " ".join((outlet or "").split())
        if not name or len(name) >= len(title):
            continue
        found = re.search(rf"\s+(?:-|–|—|\||::|·)\s+{re.escape(name)}\s*$", title, re.IGNORECASE)
        if found and found.start() > 0:
            return title[: found.start()]
    return title


def restates_title(summary_text: str, title: str, source: str) -> bool:
    """Whether the summary is only the title again (with the outlet after it, as Google News
    writes its descriptions)."""
    if not summary_text.startswith(title):
        return False
    rest = summary_text[len(title) :].strip()
    return rest in ("", source)


def shared_link(link: str, source_html: str) -> str | None:
    """The address a Reddit link post shares (its "[link]"), when ``link`` is its Reddit page."""
    if "[link]" not in source_html or _REDDIT_PAGE.match(link) is None:
        return None
    found = _REDDIT_SHARED.search(source_html)
    if found is None:
        return None
    url = unescape(found.group(1))
    # A text post's "[link]" is its own page: nothing is shared.
    return None if _REDDIT_PAGE.match(url) else url
