"""The pure text helpers of rendering: one line, shortened, neutralized against forged
placeholders, wrapped to the plain part's width, safe URLs, text direction."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import jinja2
from jinja2.nodes import EvalContext
from markupsafe import Markup

from digest import placeholders
from digest.directions import closed_directions
from digest.records import Article
from digest.wording import ALL_WORDINGS, direction_of, longest_datetime

PREHEADER_MAX_CHARS = 140
TEXT_WIDTH = 72

# "%%" opens every placeholder; breaking up the run in feed text makes a forged one impossible.
# In HTML a word joiner keeps the text looking the same and survives premailer's reparse (an
# entity such as "&#37;" would be decoded back into "%" by lxml); in plain text a space is honest.
_PERCENT_RUN = re.compile(r"%(?=%)")
_HTML_PERCENT_BREAK = "%\u2060"
_TEXT_PERCENT_BREAK = "% "
_URL_PERCENT_BREAK = "%25"  # a bare "%" in a URL is invalid anyway; %25 is the literal percent
# A time marker is wrapped as if it were the longest time it may become ("25 September 2026,
# 09:14 UTC+12:45"), so that a line holding one keeps within 72 columns once it is filled: in
# the list's words when the caller knows them (``time_width``), else in any. The padding is a
# character no text holds (one_line drops control characters before it is added).
_TIME_WIDTH = longest_datetime()
_TIME_PAD = "\x00"
# Where a byline's time goes to the next line, the " · " before it goes: a line ending in a lone
# "·", or one opening with it, reads as a cut, and the line break separates them already. So
# does the separator of any wording ("–" in Persian digits, digest.wording.Wording.separator).
# The time may be isolated (FSI, U+2068) as a byline writes it.
_SEPARATORS = re.escape("".join(sorted({wording.separator for wording in ALL_WORDINGS})))
_SEPARATOR_AT_BREAK = re.compile(
    rf" [{_SEPARATORS}]\n(?=\u2068?%%DIGEST-TIME-)|\n[{_SEPARATORS}] (?=\u2068?%%DIGEST-TIME-)"
)


# Marks a letter may carry in a row: as many as a real script stacks (Vietnamese two, pointed
# Hebrew or Burmese three or four). "Zalgo" text piles fifty on one letter, whose ink then runs
# up over the lines above it, and which no line can break, however long it is drawn.
MAX_STACKED_MARKS = 4
_MARKS = frozenset(("Mn", "Me"))  # non-spacing and enclosing marks: they sit on a letter


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR and LF included) to a space; drop control characters,
    the marks stacked on one letter past ``MAX_STACKED_MARKS`` and the direction controls left
    open (``closed_directions``)."""
    if not text.isascii():
        text = _without_stacked_marks(text)
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return closed_directions(" ".join(text.split()))


def _without_stacked_marks(text: str) -> str:
    kept: list[str] = []
    marks = 0  # in a row, on the last letter kept
    for char in text:
        if unicodedata.category(char) in _MARKS:
            marks += 1
            if marks > MAX_STACKED_MARKS:
                continue
        else:
            marks = 0
        kept.append(char)
    return "".join(kept) if len(kept) < len(text) else text


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, marking the cut; a
    direction control whose closer was cut off goes too."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis) + 1]
    space = cut.rfind(" ")
    # A single very long word is cut where it is rather than dropped whole.
    cut = cut[:space] if space > limit // 2 else cut[: limit - len(ellipsis)]
    # The Arabic comma and semicolon too, which Persian and Arabic headlines are written with.
    return closed_directions(cut.rstrip(" ,;:–—-·،؛")) + ellipsis


# A summary a little over its bound is shown whole: its last words ("…according to UN special
# rapporteur Ben Saul.") say more than the room they take, and a cut a few words from the end
# reads as a slip. The bound grows by this share at most, so the HTML budget still holds.
SUMMARY_OVERRUN = 8  # a summary may run to limit + limit // SUMMARY_OVERRUN
# A sentence's end: ".", "?", "!" (Arabic "؟", CJK "。") and a closing quote, then a space.
_SENTENCE_END = re.compile(r"[.?!؟。][\"'”’»)]?(?= )")


# A full stop that ends an abbreviation, not a sentence: initials ("U.S.", "George W."), titles
# and months ("Dr.", "Mr.", "St.", "Jan."), a company's ("Inc."). A summary cut there ("...with a
# delegation from the U.S.") read as whole, its cut unmarked.
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Za-z]\.)+|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Mt|Ft|Sen|Rep|Gov|Gen|Lt|Col|Maj|Capt|Sgt|"
    r"Adm|Cmdr|Rev|Jr|Sr|No|Nos|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Inc|Co|Corp|"
    r"Ltd|vs)\.)$"
)


def shorten_summary(text: str, limit: int, *, overrun: bool = True) -> str:
    """A summary paragraph in at most about ``limit`` characters, ended as a reader expects:
    whole when it runs over by an eighth at most (with ``overrun``), else at the last sentence's
    end past half the bound (an abbreviation's full stop is none), else at a word with "…"."""
    text = one_line(text)
    if len(text) <= limit + (limit // SUMMARY_OVERRUN if overrun else 0):
        return text
    ends = [
        match.end()
        for match in _SENTENCE_END.finditer(text, 0, limit + 1)
        if not _ABBREVIATION.search(text, max(0, match.start() - 8), match.start() + 1)
    ]
    if ends and ends[-1] >= limit // 2:
        return closed_directions(text[: ends[-1]])
    return shorten(text, limit)


# Closing quotation marks a summary may end on: "… has become a ‘signature flourish’" lacks its
# full stop as much as a sentence ending in a word does; the stop goes after the mark, which
# leaves the quoted words as they were written.
_CLOSING_QUOTES = "\"'”’»"


def with_full_stop(text: str) -> str:
    """``text`` ended with a full stop when it ends in a letter or a digit, or in a closing
    quotation mark after one: wire copy often drops the last one ("…over its disputed nuclear
    program"), which an editor puts back. A closing bracket ("(AFP)") ends it as it is."""
    words = text.rstrip(_CLOSING_QUOTES)
    if words and unicodedata.category(words[-1])[0] in "LN":
        return text + "."
    return text


def neutralize_html(text: str) -> str:
    return _PERCENT_RUN.sub(_HTML_PERCENT_BREAK, text)


def neutralize_text(text: str) -> str:
    return _PERCENT_RUN.sub(_TEXT_PERCENT_BREAK, text)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, with any ``%%`` run broken; otherwise None."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        return None
    return _PERCENT_RUN.sub(_URL_PERCENT_BREAK, url)


def text_direction(article: Article) -> Literal["ltr", "rtl"]:
    """RTL for Arabic, Hebrew, Persian, Urdu… articles, or when the title is mostly RTL script."""
    if direction_of(article.language) == "rtl":
        return "rtl"
    return script_direction(article.title)


# The letters of the Arabic script that one language of the region uses and Arabic does not:
# Urdu's first, as Urdu writes Persian's too. Arabic text holds none of them.
_URDU_LETTERS = frozenset("ٹڈڑںےہ")  # U+0679, U+0688, U+0691, U+06BA, U+06D2, U+06C1
_PERSIAN_LETTERS = frozenset("پچژگکیۀ")  # U+067E, U+0686, U+0698, U+06AF, U+06A9, U+06CC, U+06C0
_ARABIC_LETTERS = range(0x0621, 0x064B)  # hamza to yeh: the letters Arabic itself writes
_HEBREW_LETTERS = range(0x05D0, 0x05EB)


def script_language(text: str) -> str | None:
    """The language a right-to-left ``text`` is in, as its letters say it: "he" for Hebrew's,
    "ur" or "fa" for the Arabic script with letters only Urdu or Persian writes, "ar" for
    Arabic's alone; None for text mostly of another direction, or of letters that name no one
    language (Kurdish, Pashto, Sindhi write their own too)."""
    if script_direction(text) != "rtl":
        return None
    letters = {char for char in text if unicodedata.category(char).startswith("L")}
    if any(ord(char) in _HEBREW_LETTERS for char in letters):
        return "he"
    arabic_script = {char for char in letters if "\u0600" <= char <= "\u06ff"}
    if arabic_script & _URDU_LETTERS:
        return "ur"
    others = {char for char in arabic_script if ord(char) not in _ARABIC_LETTERS}
    if others and others <= _PERSIAN_LETTERS:
        return "fa"
    return "ar" if arabic_script and not others else None


_HEBREW_SCRIPT_LANGUAGES = frozenset({"he", "iw", "yi"})


def name_language(name: str, around: str) -> str | None:
    """The lang a name needs inside text in ``around``: the language its letters name, when the
    text around it is written otherwise (an Arabic outlet under an English story, a Hebrew one
    under an Arabic story). None when the letters name none, or share the text's script: a
    Persian or Urdu name is often written in letters Arabic has too, and is no more Arabic."""
    named = script_language(name)
    if named is None:
        return None
    primary = around.replace("_", "-").split("-")[0].lower()
    if direction_of(around) == "rtl" and (named == "he") == (primary in _HEBREW_SCRIPT_LANGUAGES):
        return None
    return named


# The LEFT-TO-RIGHT, RIGHT-TO-LEFT and ARABIC LETTER marks: strong to the bidi algorithm, but
# no letters of the text. Copied into a headline ("\u200eiPhone ۱۷ در ایران"), one was counted
# as a Latin letter and turned a Persian headline of six Latin letters and seven Persian ones
# left to right: no lang, no mark holding it in the subject.
_DIRECTION_MARKS_IN_TEXT = dict.fromkeys(map(ord, "\u200e\u200f\u061c"))


def script_direction(text: str) -> Literal["ltr", "rtl"]:
    """RTL when ``text`` is mostly in a right-to-left script, else LTR (a name of digits too);
    direction marks are no letters and count for neither."""
    rtl = ltr = 0
    for char in text.translate(_DIRECTION_MARKS_IN_TEXT):
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return "rtl" if rtl > ltr else "ltr"


def edition_url(base_url: str, list_slug: str, slot: datetime, variant: str = "") -> str:
    """The edition's stable web address: ``{base_url}/editions/{list}/{slot, UTC, %Y-%m-%d-%H%M}``,
    with ``?variant=`` for a variant of the slot (a reader's topics or hour): the reader's own
    edition, not the slot's first.

    UTC, because a local time can occur twice when clocks go back; the slot keys the edition.
    """
    url = f"{base_url.rstrip('/')}/editions/{list_slug}/{slot.astimezone(UTC):%Y-%m-%d-%H%M}"
    return f"{url}?variant={quote(variant, safe='')}" if variant else url


RIGHT_TO_LEFT_MARK = "\u200f"
LEFT_TO_RIGHT_MARK = "\u200e"


def held_right_to_left(text: str) -> str:
    """``text`` between two right-to-left marks when it is mostly in a right-to-left script, as
    a headline goes into a line an inbox sets in its own direction (a subject, the teaser after
    it). Without them an Arabic headline's last mark ("»", "؟ )", the "…" of a cut) was drawn at
    the far end of an English line, after the list's name, and its opening "«" at the start.
    Marks, not isolates: mail clients have drawn them for decades, and they reorder nothing
    else in the line. A mark the headline holds at either end already (publishers copy one in
    front) stands for ours: none is doubled, and held twice the text is held once."""
    if not text or script_direction(text) != "rtl":
        return text
    opening = "" if text.startswith(RIGHT_TO_LEFT_MARK) else RIGHT_TO_LEFT_MARK
    closing = "" if text.endswith(RIGHT_TO_LEFT_MARK) else RIGHT_TO_LEFT_MARK
    return f"{opening}{text}{closing}"


LEFT_TO_RIGHT_ISOLATE = "\u2066"
POP_ISOLATE = "\u2069"


def left_to_right_in(text: str, direction: str) -> str:
    """``text`` (the reader's address) isolated left to right in a plain-text line of a
    right-to-left edition (the template filter ``left_to_right_in``). Its neutrals took the
    line's direction: "(أُرسلت إلى 2024.sam@example.org)." showed "sam@example.org.2024",
    an address opening with digits turned around. A left-to-right line needs nothing."""
    if direction != "rtl":
        return text
    # A placeholder (the address is one, as Markup) is printed as it is; other text as finalize
    # prints it, its %% runs broken.
    trusted = text if isinstance(text, Markup | Neutralized) else neutralize_text(text)
    return Neutralized(f"{LEFT_TO_RIGHT_ISOLATE}{trusted}{POP_ISOLATE}")


def build_preheader(
    titles: Iterable[str], fallback: str, limit: int = PREHEADER_MAX_CHARS, separator: str = "·"
) -> str:
    """The inbox teaser: the lead title, then as many whole next headlines as fit, each of a
    right-to-left script held in its direction (``held_right_to_left``), set apart by the
    list's ``separator`` (a headline may open with a digit)."""
    headlines = [title for title in (one_line(t) for t in titles) if title]
    if not headlines:
        return shorten(fallback, limit)
    text = held_right_to_left(shorten(headlines[0], limit - 2))
    for headline in headlines[1:]:
        candidate = f"{text} {separator} {held_right_to_left(headline)}"
        if len(candidate) > limit:
            break
        text = candidate
    return text


def wrap_text(
    text: str,
    width: int = TEXT_WIDTH,
    indent: str = "",
    subsequent_indent: str | None = None,
    direction: str | None = None,
    *,
    time_width: int = _TIME_WIDTH,
) -> str:
    """Wrap feed text to ``width`` columns; words longer than a line (URLs) stay whole.

    ``%%`` runs are broken first, so that the line lengths hold in the output. With a
    ``direction`` (a story's), each line that a plain-text reader would set otherwise opens with
    that direction's mark (``_lines_in_direction``).
    """
    if not isinstance(text, Neutralized):
        text = neutralize_text(str(text))
    # Neutralized: finalize must not break the time markers a byline holds.
    return Neutralized(
        wrap_block(text, width, indent, subsequent_indent, direction, time_width=time_width)
    )


# A plain-text reader sets each line by its first letter (UAX #9, rules P2 and P3), a line with
# none left to right. An Arabic headline that opens with a name in Latin letters ("Pezeshkian يصل
# إلى الدوحة"), or a summary's line that wrapped before one, was laid out left to right: the
# name at the left, where an Arabic reader's line ends. A mark of the story's direction first
# sets the line as the story is written.
_DIRECTION_MARKS = {"rtl": RIGHT_TO_LEFT_MARK, "ltr": LEFT_TO_RIGHT_MARK}


def _first_strong(line: str) -> str:
    for char in line:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "ltr"


def _lines_in_direction(wrapped: str, direction: str) -> str:
    mark = _DIRECTION_MARKS[direction]
    return "\n".join(
        mark + line if line and _first_strong(line) != direction else line
        for line in wrapped.split("\n")
    )


def wrap_block(
    text: str,
    width: int = TEXT_WIDTH,
    indent: str = "",
    subsequent_indent: str | None = None,
    direction: str | None = None,
    *,
    time_width: int = _TIME_WIDTH,
) -> str:
    """Wrap template output whose feed text was already neutralized (it may hold placeholders);
    with a ``direction``, each line opens as ``wrap_text`` says."""
    wrapped = _wrapped(text, width, indent, subsequent_indent, time_width)
    if direction in _DIRECTION_MARKS and any(
        _first_strong(line) != direction for line in wrapped.splitlines()
    ):
        # One column for the mark: the lines still hold within ``width``.
        wrapped = _lines_in_direction(
            _wrapped(text, width - 1, indent, subsequent_indent, time_width), direction
        )
    return wrapped


def _wrapped(
    text: str, width: int, indent: str, subsequent_indent: str | None, time_width: int
) -> str:
    text = one_line(str(text))
    if not text:
        return ""
    wrapped = textwrap.fill(
        placeholders.pad_time_markers(text, time_width, _TIME_PAD),
        width=width,
        initial_indent=indent,
        subsequent_indent=indent if subsequent_indent is None else subsequent_indent,
        break_long_words=False,
        break_on_hyphens=False,  # keeps placeholders and hyphenated names in one piece
    )
    return _SEPARATOR_AT_BREAK.sub("\n", wrapped).replace(_TIME_PAD, "")


def underline(text: str, char: str = "-") -> str:
    longest = max((len(line) for line in str(text).splitlines()), default=0)
    return char * min(longest, TEXT_WIDTH)


def tidy_text(text: str) -> str:
    """Strip trailing spaces, keep at most one blank line in a row, end with a newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy: list[str] = []
    for line in lines:
        if not line and (not tidy or not tidy[-1]):
            continue
        tidy.append(line)
    while tidy and not tidy[-1]:
        tidy.pop()
    return "\n".join(tidy) + "\n"


class Neutralized(str):
    """Text whose feed parts had their ``%%`` runs broken already and that may hold a marker of
    ``digest.placeholders`` (an article's time): printed and wrapped as it is. HTML
    autoescaping still applies to it, unlike Markup."""

    __slots__ = ()


@jinja2.pass_eval_context
def finalize(eval_context: EvalContext, value: Any) -> Any:
    """Break ``%%`` runs in every printed string that is not trusted markup (the placeholders)."""
    if isinstance(value, Markup | Neutralized) or not isinstance(value, str):
        return value
    return neutralize_html(value) if eval_context.autoescape else neutralize_text(value)


def http_url_filter(value: Any) -> str:
    """Template filter: the URL if http(s), else an empty string (never a javascript: link)."""
    return safe_url(value if isinstance(value, str) else None) or ""
