"""Feed HTML made safe and read: the sanitizer's allowlist (invariant 6) and the plain text of a
fragment (image_tags reads the pictures it names). Every reader takes hostile markup in linear
time: plainly written fragments are read with regular expressions, anything else is first
rewritten by html5ever (nh3) and only then handed to html.parser."""

from __future__ import annotations

import re
import string
import unicodedata
from contextvars import ContextVar
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

from digest.ingest.nesting import bound_nesting
from digest.ingest.urls import CONTROL, note_unreadable, resolve_url

ALLOWED_TAGS = frozenset(
    {"p", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote", "br", "code"}
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements dropped with everything inside them; other disallowed tags lose the tag, keep the text.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
        "form", "textarea", "select", "button", "head", "title", "frameset", "frame",
    }
)  # fmt: skip

_WHITESPACE_RUN = re.compile(r"[ \t]{2,}")
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
# An anchor the sanitizer emptied (it held an image, a feedflare button, a thumbnail).
_EMPTY_ANCHOR = re.compile(r'<a(?: [a-z]+="[^"]*")*>\s*</a>')
# Block elements the allowlist strips would otherwise glue their text to the next block's: a
# line break takes the place of each one's start and end, so that "<div>Strikes go on</div>
# <div>Israel said...</div>" or "<h2>Standfirst</h2>Text" stay paragraphs apart (a space alone
# ran them together as one: "Strikes go on Israel said..."). The break goes before a start tag,
# whose attributes are not read.
_STRIPPED_BLOCK = (
    r"(?:h[1-6]|div|section|article|header|footer|figure|figcaption|table|tr|td|th|dd|dt|pre)"
)
_STRIPPED_BLOCK_END = re.compile(rf"(</{_STRIPPED_BLOCK}\s*>)", re.IGNORECASE)
_STRIPPED_BLOCK_START = re.compile(rf"(<{_STRIPPED_BLOCK}(?=[\s/>]))", re.IGNORECASE)
# The breaks left at either end: they part nothing.
_EDGE_BREAKS = re.compile(r"^(?:\s*<br>)+|(?:<br>\s*)+$")
# A start or end tag of ALLOWED_TAGS as the sanitizer writes it: lowercase, attributes in double
# quotes with "<" escaped, no "/>". Each holds exactly one "<".
_TAG_NAMES = "|".join(sorted(ALLOWED_TAGS))
_SANITIZED_TAG = re.compile(rf'<(?:({_TAG_NAMES})(?: [a-z]+="[^"<]*")*|/({_TAG_NAMES}))>')
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
        "tr", "td", "th", "table", "section", "article", "header", "footer", "pre", "hr",
        "figure", "figcaption", "dd", "dt", "dl",
    }
)  # fmt: skip


def sanitize_html(html: str, *, base_url: str | None) -> str:
    """Feed HTML cut down to a small allowlist: links absolute http(s)/mailto, no images."""
    token = _LINK_BASE.set(base_url)
    try:
        # The space too: in a table, html5ever moves a <br> out before it (foster parenting).
        embedded = without_social_embeds(without_picture_captions(bound_nesting(html)))
        marked = _STRIPPED_BLOCK_END.sub(r"\1<br> ", embedded)
        cleaned = _SANITIZER.clean(_STRIPPED_BLOCK_START.sub(r"<br>\1", marked))
    finally:
        _LINK_BASE.reset(token)
    # Dropping images leaves the links and then the paragraphs that held them empty.
    if "</a>" in cleaned:
        cleaned = _EMPTY_ANCHOR.sub("", cleaned)
    cleaned = _WHITESPACE_RUN.sub(" ", _EMPTY_PARAGRAPH.sub("", without_controls(cleaned))).strip()
    return without_edge_breaks(cleaned)


# A picture's caption, in a block that holds the picture: the figure's <figcaption>, and the
# paragraph WordPress's [caption] shortcode writes ("wp-caption-text").
_CAPTION_STARTS = (
    ("<figcaption", "</figcaption", "<figure", "</figure"),
    ('class="wp-caption-text', "</p", 'class="wp-caption', "</div"),
)
_PICTURE_TAGS = ("<img", "<picture", "<video")
MAX_CAPTIONS = 20  # read per summary; a summary of more captions keeps the rest as text
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def without_picture_captions(html: str) -> str:
    """``html`` without the captions of its pictures: the sanitizer drops every picture, and a
    caption left alone read as the summary's first words ("The port of Duqm at dawn. (Photo:
    Reuters)"). A caption whose block holds no picture, or that is never closed, stays text.
    Found by plain searches, each from the last, so that a long document costs one reading."""
    lowered = html.translate(_ASCII_LOWER)  # str.lower may change the length, and the places
    if "caption" not in lowered:
        return html
    cuts: list[tuple[int, int]] = []
    for opening, closing, block, block_end in _CAPTION_STARTS:
        at, read = 0, 0
        while read < MAX_CAPTIONS and (start := lowered.find(opening, at)) >= 0:
            read += 1
            end = lowered.find(closing, start)
            if end < 0:
                break
            end = lowered.find(">", end) + 1 or len(html)
            if opening.startswith("class"):  # the cut starts at the tag holding the class
                start = lowered.rfind("<", 0, start)
            around = lowered[lowered.rfind(block, 0, start) : lowered.find(block_end, end)]
            if lowered.rfind(block, 0, start) >= 0 and any(tag in around for tag in _PICTURE_TAGS):
                cuts.append((start, end))
            at = end
    for start, end in sorted(cuts, reverse=True):
        html = html[:start] + html[end:]
    return html


# The blockquote a social network's embed code writes, by its class: its text is the post's
# fallback for a page without the network's script ("pic.twitter.com/abc", "— IRNA News
# (@IrnaEnglish) November 17, 2026", "View this post on Instagram").
_SOCIAL_EMBED = re.compile(
    r'<blockquote\b[^<>]*?\bclass="[^"<>]*\b(?:twitter-tweet|twitter-video|instagram-media'
    r"|tiktok-embed|bluesky-embed|text-post-media|reddit-embed-bq|fb-xfbml-parse-ignore)\b"
)
MAX_EMBEDS = 20  # read per summary, as MAX_CAPTIONS


def without_social_embeds(html: str) -> str:
    """``html`` without the social posts embedded in it (``_SOCIAL_EMBED``), each up to its
    blockquote's end: their fallback text is no part of the story. One never closed stays."""
    lowered = html.translate(_ASCII_LOWER)  # as in without_picture_captions
    if "<blockquote" not in lowered:
        return html
    pieces: list[str] = []
    at = 0
    for _ in range(MAX_EMBEDS):
        found = _SOCIAL_EMBED.search(lowered, at)
        if found is None:
            break
        end = lowered.find("</blockquote", found.end())
        if end < 0:
            break
        pieces.append(html[at : found.start()])
        at = (lowered.find(">", end) + 1) or len(html)
    return "".join(pieces) + html[at:]


def without_edge_breaks(html: str) -> str:
    """Sanitized ``html`` without the line breaks at either end (they part nothing)."""
    return _EDGE_BREAKS.sub("", html).strip() if "<br>" in html else html.strip()


# What relative links in the HTML being sanitized are relative to: one sanitizer serves every
# entry (building one per call costs more than the cleaning), so the base goes beside it.
_LINK_BASE: ContextVar[str | None] = ContextVar("link_base", default=None)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return _safe_link(value, _LINK_BASE.get())
    return value


_SANITIZER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_keep_attribute,
    url_schemes=set(LINK_SCHEMES),
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def _safe_link(value: str, base_url: str | None) -> str | None:
    # Browsers ignore control characters and surrounding spaces in URLs ("java\tscript:"), so we
    # drop them too before deciding what the scheme is.
    href = CONTROL.sub("", value).strip()
    if not href:
        return None
    try:
        scheme = urlsplit(href).scheme.lower()
        if not scheme:
            if base_url is None:
                return None  # a relative link is useless in a mail
            href = resolve_url(base_url, href)
            scheme = urlsplit(href).scheme.lower()
    except ValueError:  # "http://[oops]/": brackets that hold no IPv6 address
        note_unreadable(href)
        return None
    return href if scheme in LINK_SCHEMES else None


# Elements whose text is not part of the text; void elements (embed, frame) have none to skip.
_TEXT_SKIPPED = DROPPED_WITH_CONTENT - {"embed", "frame"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _TEXT_SKIPPED:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _TEXT_SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, control characters read
    (``without_controls``), whitespace collapsed."""
    if "<" not in html:
        # No tag (most titles and bylines): all the parser would do is decode the entities.
        return collapse_whitespace(without_controls(unescape(html)))
    text = _plain_markup_text(html)
    if text is None:
        extractor = _TextExtractor()
        extractor.feed(_TEXT_MARKUP.clean(bound_nesting(html)))  # see _TEXT_MARKUP
        extractor.close()
        text = "".join(extractor.parts)
    return collapse_whitespace(without_controls(text))


# Control characters no text of a feed means, but tab and line breaks (whitespace, which each
# field collapses or keeps as it needs): the C0 ones a JSON string may escape, DEL, and the C1
# ones, which XML allows and JSON too. To a terminal, ESC and U+009B open a control sequence
# (a cleared screen, a moved cursor) and U+009D an OSC (a hidden link, a clipboard write): an
# operator reading titles in `digest topics explain` or a log would see what the feed chose.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A C1 control in a feed is a Windows-1252 byte read as Latin-1 (a document written in the one
# and declared in the other): the character that byte stands for, as feedparser reads them in
# RSS and Atom. Five bytes stand for none (0x81, 0x8D, 0x8F, 0x90, 0x9D), and go.
_WINDOWS_1252 = {
    code: character
    for code in range(0x80, 0xA0)
    if (character := bytes([code]).decode("windows-1252", "ignore"))
}


def without_controls(text: str) -> str:
    """``text`` without control characters (``_CONTROL_CHARACTERS``), each C1 one that is a
    Windows-1252 byte read as the character it stands for; tab and line breaks kept."""
    if _CONTROL_CHARACTERS.search(text) is None:
        return text
    return _CONTROL_CHARACTERS.sub(lambda found: _WINDOWS_1252.get(ord(found[0]), ""), text)


# What html.parser is handed when the plain-markup readers cannot take a fragment: the fragment as
# html5ever reads it (in linear time), with nothing but the tags that matter left, all closed
# and quoted. Given a malformed fragment itself, html.parser takes a time quadratic in the length
# of a run of unclosed tags ("<img src=x <img src=x ...", "<!--<!--..."): 100 KB of them in a
# title or description held the poller for twenty seconds.
_TEXT_MARKUP = nh3.Cleaner(
    tags=set(_BLOCK_TAGS),
    clean_content_tags=set(_TEXT_SKIPPED),
    attributes={},
    strip_comments=True,
    link_rel=None,
)


def _plain_markup_text(html: str) -> str | None:
    """The text ``_TextExtractor`` would find in ``html``, read with one regular expression when
    every tag is an allowlisted one written as the sanitizer writes it (so every summary); None
    for anything else, which the parser reads.

    Between such tags there is nothing but text, so the parser's events are exactly: each tag
    (a space for a block element) and each run of text with its entities decoded.
    """
    parts: list[str] = []
    position = tags = 0
    for tag in _SANITIZED_TAG.finditer(html):
        parts.append(_decoded(html[position : tag.start()]))
        if (tag.group(1) or tag.group(2)) in _BLOCK_TAGS:
            parts.append(" ")
        position = tag.end()
        tags += 1
    if html.count("<") != tags:  # a "<" that starts no such tag: not plain markup
        return None
    parts.append(_decoded(html[position:]))
    return "".join(parts)


def _decoded(text: str) -> str:
    return unescape(text) if "&" in text else text


# Markup in what should be text: a tag of HTML's text markup opened and closed, or a line break
# written as XHTML does. Read apart (linear time, whatever the text): a feed that escapes its
# HTML twice ("&amp;lt;em&amp;gt;", or "&lt;p&gt;" inside CDATA) showed the reader "<em>holds</em>".
_TEXT_MARKUP_NAMES = (
    r"(?:p|em|strong|b|i|u|a|span|div|ul|ol|li|h[1-6]|blockquote|code|small|sup|sub)"
)
_MARKUP_OPENING = re.compile(rf"<({_TEXT_MARKUP_NAMES})(?:\s[^<>]*)?>", re.IGNORECASE)
_MARKUP_CLOSING = re.compile(rf"</({_TEXT_MARKUP_NAMES})\s*>", re.IGNORECASE)
_XHTML_BREAK = re.compile(r"<br\s*/>", re.IGNORECASE)


def holds_markup(text: str) -> bool:
    """Whether plain ``text`` holds HTML markup (see _MARKUP_OPENING): a tag both opened and
    closed, or "<br/>". "If x < y", "a <b> tag" and "<3" are text."""
    if "<" not in text:
        return False
    if _XHTML_BREAK.search(text):
        return True
    closed = {name.casefold() for name in _MARKUP_CLOSING.findall(text)}
    return bool(closed) and any(name.casefold() in closed for name in _MARKUP_OPENING.findall(text))


def collapse_whitespace(text: str) -> str:
    # The same as re.sub(r"\s+", " ", text).strip(), a few times faster: str.split and the
    # pattern's \s agree on what whitespace is, for every character (the tests check).
    return " ".join(text.split())


# Letters and symbols that draw nothing: the Hangul fillers and the blank braille pattern, what
# a text written to look empty (or a name meant to be invisible) is made of.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def says_anything(text: str) -> bool:
    """Whether ``text`` holds a letter, a digit or a symbol (an emoji counts) that shows. Zero-width
    spaces and joiners, direction marks, soft hyphens, combining marks on nothing and the blank
    letters (``_BLANK_LETTERS``) show as nothing, and punctuation alone ("-", "…", "?!") is what a
    publishing system writes for no title: a headline made only of them is an empty or
    meaningless link in the mail."""
    return any(
        unicodedata.category(char)[0] in "LNS" and char not in _BLANK_LETTERS for char in text
    )


def truncate_text(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = cut.rfind(" ")
    # A text with no space in reach (one enormous word, or a script without spaces) is cut hard.
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,;:.-–—") + "…"
