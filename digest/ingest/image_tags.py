"""The pictures a feed's HTML fragment names in its ``<img>`` tags. Hostile markup is read in
linear time: plainly written fragments with regular expressions, anything else first rewritten
by html5ever (nh3) and only then handed to html.parser."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import nh3

from digest.ingest.nesting import bound_nesting

_IMG_TAG = re.compile(r"<img", re.IGNORECASE)
# A start tag whose attributes are all name="value" (no "<", ">" or quote inside), separated by
# the spaces that end a tag name for html.parser, or an end tag; each holds exactly one "<".
_PLAIN_TAG = re.compile(
    r'<(?:([a-zA-Z][a-zA-Z0-9]*)((?:[\t\n\r\f ]+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"<>]*")?)*)'
    r"[\t\n\r\f ]*/?|/[a-zA-Z][a-zA-Z0-9]*)>"
)
_PLAIN_ATTRIBUTE = re.compile(r'([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"<>]*)")?')
# Elements whose content some version of html.parser reads as text rather than as tags.
_RAW_TEXT = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
     "plaintext"}
)  # fmt: skip

# Where lazy-loading scripts (WordPress plugins, jQuery lazyload, lazysizes) keep the picture.
_LAZY_SOURCES = ("data-lazy-src", "data-src", "data-original", "data-lazy")


class _ImageSources(HTMLParser):
    def __init__(self, alts: dict[str, str] | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []
        self.alts = alts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            _add_image(self.sources, dict(attrs), self.alts)

    handle_startendtag = handle_starttag


def _add_image(
    sources: list[str], values: dict[str, str | None], alts: dict[str, str] | None = None
) -> None:
    # Tracking pixels are declared 1x1 (or 0x0); they are not a picture of the story.
    if values.get("width") in ("0", "1") or values.get("height") in ("0", "1"):
        return
    # WordPress writes each emoji as an <img class="emoji"> (or "wp-smiley"): an icon, not a photo.
    if "emoji" in (kind := values.get("class") or "") or "smiley" in kind:
        return
    # Lazy-loading plugins put the picture in a data attribute and a placeholder in src.
    for name in _LAZY_SOURCES:
        if source := values.get(name):
            break
    else:
        source = values.get("src") or ""
        if not source and (srcset := values.get("srcset")):
            source = (srcset.split() or [""])[0].rstrip(",")  # its first candidate
        elif not source:
            return
    sources.append(source)
    if alts is not None and (alt := values.get("alt")):
        alts.setdefault(source, alt)


# Every attribute _add_image reads; <noscript> is kept, where lazy-loading plugins put the real
# <img> for readers without scripts.
_IMAGE_MARKUP = nh3.Cleaner(
    tags={"img"},
    clean_content_tags={"script", "style", "template", "textarea"},
    attributes={"img": {"src", "srcset", "width", "height", "class", "alt", *_LAZY_SOURCES}},
    strip_comments=True,
    link_rel=None,
)


def image_sources(html: str, alts: dict[str, str] | None = None) -> list[str]:
    """The picture of each ``<img>`` in ``html`` (its lazy-loaded source over ``src``, else its
    ``srcset``), in order, tracking pixels and emoji left out. Each one's ``alt``, when it has
    one, goes into ``alts`` under its source."""
    if _IMG_TAG.search(html) is None:  # the parser sees a tag only where "<img" is written
        return []
    sources = _plain_markup_images(html, alts)
    if sources is None:
        canonical = _IMAGE_MARKUP.clean(bound_nesting(html))  # see markup._TEXT_MARKUP
        sources = _plain_markup_images(canonical, alts)
        if sources is None:  # an attribute value with "<" or ">" in it
            finder = _ImageSources(alts)
            finder.feed(canonical)
            finder.close()
            sources = finder.sources
    return sources


def _plain_markup_images(html: str, alts: dict[str, str] | None = None) -> list[str] | None:
    """What ``_ImageSources`` would find in ``html``, read with regular expressions when every
    tag in it is plainly written (as feedparser writes the HTML it hands on); None for anything
    else (comments, declarations, raw-text elements such as ``<script>``, unquoted or oddly
    spaced attributes), which the parser reads.

    Between such tags there is only text, so the parser's start tags are exactly these, with
    the same names and attributes (lowercased names, entities in values decoded).
    """
    sources: list[str] = []
    tags = 0
    for tag in _PLAIN_TAG.finditer(html):
        tags += 1
        name = (tag.group(1) or "").lower()  # "" for an end tag
        if name in _RAW_TEXT:
            return None
        if name == "img":
            values: dict[str, str | None] = {
                attribute.group(1).lower(): (
                    unescape(attribute.group(2)) if attribute.group(2) else attribute.group(2)
                )
                for attribute in _PLAIN_ATTRIBUTE.finditer(tag.group(2))
            }
            _add_image(sources, values, alts)
    if html.count("<") != tags:  # a "<" that starts no plain tag
        return None
    return sources
