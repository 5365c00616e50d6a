"""A summary as an editor would print it: its paragraphs apart, no wire dateline or byline first.

    "<p>Strikes despite truce</p><p>JERUSALEM (Reuters) - Israel said...</p>"
        ─► paragraphs ("Strikes despite truce", "Israel said...")

Read at ingest (``digest.ingest.clean`` stores the summary without the dateline) and again, by
the same ``clean_paragraphs``, when an edition is rendered (``digest.render`` shows each
paragraph apart, so "...despite truce" and "JERUSALEM: ..." never run together, and a summary
stored before a filter was written is shown as a new one would be).

What leaves the opening of a paragraph, a wire's dateline or a byline, is read by
``digest.ingest.datelines``. A paragraph that is only a source tag ("[allAfrica]") is not shown
(``without_bare_source_tags``), nor one that is only a web address (``without_bare_addresses``)
or shows nothing ("…"), nor the furniture, credits and promotions around the story's own words
(``clean_paragraphs``).
Two apostrophes typed for a quotation mark ("''Pulses of the world,''") print as one, and a
pair of dashes spaced on one side only ("Gala —the event— featuring") is spaced on both.
"""

from __future__ import annotations

import re
from html import escape, unescape

from digest.bylines import written_author
from digest.ingest.datelines import (
    CLOCK,
    DATE,
    SOURCE_TAG,
    opening,
    without_byline_paragraph,
    without_dateline,
)
from digest.ingest.markup import says_anything
from digest.person_keys import person_key

MAX_PARAGRAPHS = 3  # shown per summary: a feed's many short lines must not swell the mail

# Boundaries of the blocks a sanitized summary holds (clean.ALLOWED_TAGS, as nh3 writes them).
_BLOCK_BOUNDARY = re.compile(r"</?(?:p|li|ul|ol|blockquote)>|<br>")
_TAG = re.compile(r"<[^<>]*>")
# The sanitizer's inline tags (clean.ALLOWED_TAGS): a word or stop right after one is part of
# the same run of text, "<b>Cairo</b>, officials said" is "Cairo, officials said".
_INLINE_TAG = re.compile(r"</?(?:a|b|i|em|strong|code)(?:\s[^<>]*)?>")

# A paragraph that only dates the story ("Updated: 17 November 2026 09:14 GST", "Posted on
# November 17, 2026 by admin") or says how long it takes to read ("3 min read").
_STAMP = re.compile(
    r"(?:(?i:(?:last\s+|first\s+)?(?:updated|published|posted|modified)|date)(?:\s+on)?\s*:?\s*)?"
    rf"{DATE}{CLOCK}(?:\s+(?:by|\|)\s+[^.!?]{{1,60}})?\.?"
    r"|(?i:(?:estimated\s+)?reading\s+time\s*:?\s*[0-9]{1,3}\s*min(?:ute)?s?\.?"
    r"|[0-9]{1,3}\s*min(?:ute)?s?\s+read\.?)"
)
_SOURCE_TAG_ALONE = re.compile(r"\[[^\[\]\n]{1,60}\][\s.…]*")
_SENTENCE_END = re.compile(r"[.!?…\"”’:]$")
# A paragraph that only credits a picture: "Photo: AFP", "(Photo by Jane Doe/Reuters)", "File
# photo: AP", "Image credit: Getty Images", "صورة: رويترز", "צילום: רויטרס", "عکس: ایرنا". A few
# words, no sentence: "Credit:" alone opens financial news ("Credit: Moody's cuts...").
_PICTURE_CREDIT = re.compile(
    r"\(?(?:(?:file\s+)?(?:photo|photograph|picture|image|pic)s?(?:\s+credit)?"
    r"|صورة|الصورة|צילום|צילומים|عکس|تصویر)"
    r"\s*(?::|\bby\b)\s*[^\s.!?:;]+(?:\s+[^\s.!?:;]+){0,7}\s*\)?\.?",
    re.IGNORECASE,
)
# The same credit closing a paragraph after its last sentence: in brackets ("(AFP Photo)",
# "(Photo: AFP)", "(AP Photo/Jane Doe)"), or an agency in capitals and a slash ("REUTERS/Jane
# Doe", "AFP/Getty Images").
_PICTURE_CREDIT_AT_END = re.compile(
    r"(?<=[.!?\"”’])\s+(?:\((?:[A-Z][\w.]*\s+)?(?i:(?:file\s+)?photo(?:graph)?s?)\b[^()]{0,60}\)"
    r"|[A-Z]{2,}/[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})\.?$"
)
# A word of a paragraph that is a web address, the brackets or stops around it aside.
_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_AROUND_ADDRESS = "()<>[].,;:…"
# Two apostrophes typed for a quotation mark, as typewriters and some desks write it
# ("''Pulses of the world,''", Hebrew's "צה''ל"): one double quotation mark, as it reads.
_TWO_APOSTROPHES = re.compile(r"(?<!')''(?!')")
# A pair of dashes around an aside, each spaced on its outer side only ("Gala —the biggest
# event— featuring"): spaced on both, so that the aside reads apart and no wrapped line of the
# plain text opens on "—the".
_LOPSIDED_DASHES = re.compile(r"(?<=\s)([—–])(?=\S)([^—–\n]{1,200}?\S)\1(?=\s)")


def _typeset(paragraph: str) -> str:
    """``paragraph`` with its quotation marks and dashes set as an editor would."""
    paragraph = _TWO_APOSTROPHES.sub('"', paragraph)
    return _LOPSIDED_DASHES.sub(r"\1 \2 \1", paragraph)


def paragraphs_of(summary_html: str) -> list[str]:
    """The plain text of each paragraph (or list item, or line) of a sanitized summary."""
    paragraphs = []
    for block in _BLOCK_BOUNDARY.split(summary_html):
        text = " ".join(unescape(_TAG.sub(" ", _INLINE_TAG.sub("", block))).split())
        if text:
            paragraphs.append(text)
    return paragraphs


def paragraphs_html(paragraphs: list[str]) -> str:
    """Plain paragraphs written back as summary HTML."""
    return "".join(f"<p>{escape(paragraph, quote=False)}</p>" for paragraph in paragraphs)


def plain_text_paragraphs(text: str) -> list[str]:
    """The paragraphs of a description written as plain text inside HTML (no block tags): a
    blank line parts two, and so does a line break after a sentence's end or before a dateline.
    Other line breaks are where the writer's editor wrapped the line."""
    paragraphs: list[str] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        current: list[str] = []
        for line in chunk.splitlines():
            line = line.strip()
            if not line:
                continue
            if current and (_SENTENCE_END.search(current[-1]) or opening(line) > 0):
                paragraphs.append(" ".join(current))
                current = []
            current.append(line)
        if current:
            paragraphs.append(" ".join(current))
    return paragraphs


def without_author_paragraph(paragraphs: list[str], author: str | None) -> list[str]:
    """``paragraphs`` without a first one that only says who wrote the piece: the entry's own
    author field again ("Jane Doe | Reuters", "By Jane Doe, Staff Writer"), which the byline
    prints already."""
    if author and len(paragraphs) > 1:
        first = written_author(paragraphs[0])
        if first is not None and person_key(first) == person_key(author):
            return paragraphs[1:]
    return paragraphs


def _without(paragraphs: list[str], pattern: re.Pattern[str]) -> list[str]:
    """``paragraphs`` without those that ``pattern`` matches whole."""
    return [paragraph for paragraph in paragraphs if not pattern.fullmatch(paragraph)]


def without_bare_source_tags(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without those that are only an aggregator's source tag ("[allAfrica]",
    sent as a whole description): shown, the summary said nothing but the outlet's name. The
    stored summary keeps it, where it tells the outlet from a person (``Bylines.of``)."""
    return _without(paragraphs, _SOURCE_TAG_ALONE)


def without_bare_addresses(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without those that are only a web address ("https://outlet.example/y",
    a description that is a bare link to the story): shown, the summary was the address, with
    a full stop after it that is no part of it. An address within a sentence stays."""
    return [paragraph for paragraph in paragraphs if not _is_addresses_alone(paragraph)]


def _is_addresses_alone(paragraph: str) -> bool:
    words = [word.strip(_AROUND_ADDRESS) for word in paragraph.split()]
    return any(words) and all(not word or _WEB_ADDRESS.fullmatch(word) for word in words)


def without_empty_paragraphs(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without those that show nothing: punctuation alone ("…", "-") or
    characters of no width, what a publishing system writes for a missing excerpt. Shown, the
    summary was a lone "…", or a blank line under the byline."""
    return [paragraph for paragraph in paragraphs if says_anything(paragraph)]


def without_stamps(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without those that only date the story ("Updated: 17 November 2026 09:14
    GST", "Posted on November 17, 2026 by admin") or time its reading ("3 min read"): shown, the
    summary opened with a date in no reader's timezone beside the byline's own time."""
    return _without(paragraphs, _STAMP)


def without_picture_credits(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without those that only credit the picture the feed's HTML held ("Photo:
    AFP", "Image: Jane Doe/Reuters", "صورة: رويترز"), and without such a credit closing one
    after its last sentence ("... the budget. (AFP Photo)", "... REUTERS/Jane Doe"): the
    picture is not in the summary, and shown, the credit read as the story's words."""
    kept = _without(paragraphs, _PICTURE_CREDIT)
    return [
        # Either form of the credit holds a slash or ends in a bracket: others pay nothing.
        _PICTURE_CREDIT_AT_END.sub("", paragraph)
        if "/" in paragraph or ")" in paragraph
        else paragraph
        for paragraph in kept
    ]


# The credit line a wire service ends its copy with: "(Reporting by Jane Doe in Dubai;
# additional reporting by Omar Ali; Editing by John Roe)". The names are capitalised, so that
# "Reporting by local outlets said ..." is a sentence.
_CREDIT_ROLE = r"(?i:(?:additional |further )?reporting|writing|editing|compiled|compiling)"
_CREDIT_NAME = r"[A-Z][\w'’.-]*"
_CREDIT_PEOPLE = (
    rf"{_CREDIT_NAME}(?:,?\s+(?:{_CREDIT_NAME}|and|in|at|from|&|al|el|bin|de|van|von|der))*"
)
_CREDIT = rf"{_CREDIT_ROLE}\s+by\s+{_CREDIT_PEOPLE}"
_CREDITS = rf"{_CREDIT}(?:\s*[;,]\s*{_CREDIT})*"
_WIRE_CREDITS_ALONE = re.compile(rf"\(?{_CREDITS}\)?\.?")
_WIRE_CREDITS_AT_END = re.compile(rf"(?<=[.!?\"”’])\s+\(?{_CREDITS}\)?\.?$")


def without_wire_credits(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without a wire service's credit line ("(Reporting by Jane Doe; Editing by
    John Roe)"), a paragraph of its own or closing the last one: shown, the summary's last
    words were the newsroom's."""
    kept = _without(paragraphs, _WIRE_CREDITS_ALONE)
    if kept and "by" in kept[-1]:
        kept[-1] = _WIRE_CREDITS_AT_END.sub("", kept[-1])
    return kept


# A heading over links to other stories, a paragraph of its own: "Related", "See also:", "Read
# also", "You may also like", "اقرأ أيضا", "קראו עוד", "بیشتر بخوانید".
_RELATED_HEADING = re.compile(
    r"(?:related(?: (?:stories|articles|posts|news|content|coverage|reading))?|see also|"
    r"read also|also read|you may also like|you might also like|more on this(?: story)?|"
    r"recommended(?: for you| reading)?|share this(?: article| story| post)?|like this|"
    r"اقرأ أيضا|اقرأ أيضاً|إقرأ أيضا|إقرأ أيضاً|"
    r"קראו עוד|קראו גם|بیشتر بخوانید|بخوانید)\s*[:：]?",
    re.IGNORECASE,
)


# A paragraph that is only a label or a button of the page the content was cut from.
_PAGE_FURNITURE = re.compile(
    r"(?:advertisement|advertising|sponsored(?: content)?|loading(?:\.{3}|…)?|listen now"
    r"|listen to this (?:article|story)|read in (?:the )?app|leave a comment|share"
    r"|click to share on \w+(?: \(opens in new window\))?|subscribe now|watch the video"
    r"|(?:[\w.]+(?:/[\w.]+)? via )?getty images)[.:]?",
    re.IGNORECASE,
)


def without_page_furniture(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without those that are only a label or a button of the page the content
    was cut from ("Advertisement", "Share", "Loading...", "Listen to this article", "AFP via
    Getty Images"): shown, such a word stood between two paragraphs of the story."""
    return _without(paragraphs, _PAGE_FURNITURE)


def without_related_links(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` up to a heading over links to other stories (``_RELATED_HEADING``), which
    go with it: shown, their headlines ran on from the summary ("Related Bahrain hosts F1 ...").
    A first paragraph is the story's own and stays."""
    for index, paragraph in enumerate(paragraphs[1:], start=1):
        if _RELATED_HEADING.fullmatch(paragraph):
            return paragraphs[:index]
    return paragraphs


# A publisher's promotion or syndication note that closes a summary: "This article was originally
# published on The Conversation.", "Sign up for our newsletter ...", "Follow us on Twitter ...",
# a note on the page's form the summary does not have ("This is a photo gallery curated by AP
# photo editors.").
_PROMOTION = re.compile(
    r"(?:this (?:article|story|post|piece|report) (?:was |is )?(?:originally |first )?"
    r"(?:published|appeared|posted)|(?:sign up|subscribe|register) (?:for|to|here|now)"
    r"|follow us on|(?:like|join) us on|(?:download|get) (?:our|the) app"
    r"|this is an? (?:photo |picture |video )?(?:gallery|slideshow) (?:curated|selected) by)\b",
    re.IGNORECASE,
)
MAX_PROMOTION_CHARS = 200  # a longer paragraph is more than a publisher's line


def without_promotion(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without a last one that only promotes the publisher or says where the
    story first appeared (``_PROMOTION``): shown, the story's last words asked the reader to
    sign up. The first paragraph always stays: that one is the story's own."""
    if len(paragraphs) > 1:
        last = paragraphs[-1]
        if len(last) <= MAX_PROMOTION_CHARS and _PROMOTION.match(last):
            return paragraphs[:-1]
    return paragraphs


# Quotation marks a headline and its summary spell either way ("Don't" and "Don’t").
_SAME_QUOTES = str.maketrans("‘’‛′“”„″", "''''\"\"\"\"")
# What parts a headline from the sentence after it when the summary opens with it again: an end
# of sentence, a colon, or a dash or bar between spaces ("Truce holds - Talks resumed ...").
_AFTER_HEADLINE = re.compile(r"(?:[.!?…:]+|\s+[-–—|]{1,2})\s+(?=\S)")
# An aggregator's "Country: " before a headline ("Kenya: ...", "South Sudan: "): a summary that
# repeats the headline leaves it out.
_HEADLINE_PLACE = re.compile(r"^[^\s:]+(?:\s+[^\s:]+){0,2}:\s+(?=\S)")
MIN_HEADLINE_WORDS = 3  # a shorter headline opening a summary may be the sentence's own words
# Fewer words after a repeated headline are an outlet's name or a tag ("... - Gulf Wire"), no
# sentence: the paragraph goes whole.
MIN_SENTENCE_WORDS = 4


def without_headline(paragraphs: list[str], title: str) -> list[str]:
    """``paragraphs`` without the headline again at their start: a first paragraph that is only
    the headline (a standfirst copied from it, "[Africa Check] No, photos ...", in any case), or
    the headline as the first paragraph's first sentence ("Truce holds. Talks resumed ...").
    Printed, the story read its headline twice in a row. A source tag stays before what is left.
    """
    if not paragraphs or not title.strip():
        return paragraphs
    first = paragraphs[0]
    tag = SOURCE_TAG.match(first)
    prefix = tag.group() if tag else ""
    text = first[len(prefix) :]
    folded = _headline_fold(text)
    for headline in _headline_forms(title):
        if folded.rstrip(".!?… ") == headline:
            return paragraphs[1:]
        if len(headline.split()) < MIN_HEADLINE_WORDS or not folded.startswith(headline):
            continue
        parted = _AFTER_HEADLINE.match(text, len(headline))
        if parted is not None:
            rest = text[parted.end() :]
            if len(rest.split()) < MIN_SENTENCE_WORDS:
                return paragraphs[1:]  # the headline and a tag: "... - Gulf Wire"
            return [prefix + rest[:1].upper() + rest[1:], *paragraphs[1:]]
    return paragraphs


def _headline_forms(title: str) -> list[str]:
    """The headline as a summary may repeat it, folded (``_headline_fold``): whole, and without
    an aggregator's "Country: " before it."""
    whole = _headline_fold(" ".join(title.split())).rstrip(".!?… ")
    place = _HEADLINE_PLACE.match(whole)
    return [whole, whole[place.end() :]] if place else [whole]


def _headline_fold(text: str) -> str:
    """``text`` in lower case with one spelling of each quotation mark, character for character
    (so that a position in it is the same position in ``text``)."""
    return "".join(
        lowered if len(lowered := char.lower()) == 1 else char
        for char in text.translate(_SAME_QUOTES)
    )


def clean_paragraphs(paragraphs: list[str], *, keep_source_tags: bool = True) -> list[str]:
    """Each paragraph without its opening dateline or byline; a byline paragraph, a paragraph
    of a bare web address, a picture's credit, links to related stories, a date or reading time
    alone, the page's furniture, one that shows nothing, and the closing lines (a promotion, a
    wire's credit line) left out. Without ``keep_source_tags``, for print, a paragraph that is
    only a source tag goes too (``without_bare_source_tags``)."""
    shown = without_byline_paragraph(without_empty_paragraphs(paragraphs))
    shown = without_picture_credits(without_bare_addresses(shown))
    shown = without_related_links(without_stamps(without_page_furniture(shown)))
    shown = _without_closing_lines(shown)
    if not keep_source_tags:
        # And the closing lines again: a tag after them hid them from the filters of the last.
        shown = _without_closing_lines(without_bare_source_tags(shown))
    return [without_dateline(_typeset(paragraph)) for paragraph in shown]


def _without_closing_lines(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without the promotions and wire credit lines that close them, in any order
    and number. Each filter reads the last paragraph, so each goes again once the other took
    one away: "... said. (Reporting by Jane Doe)" then "Sign up for our newsletter."."""
    while True:
        kept = without_wire_credits(without_promotion(paragraphs))
        if kept == paragraphs:
            return kept
        paragraphs = kept
