"""A name as compared across articles: case, invisible characters, optional marks, titles aside."""

from __future__ import annotations

import re
import unicodedata

from digest.byline_words import AGENCY_BYLINES, TITLE_WORDS
from digest.letter_variants import LETTER_VARIANTS

# Written or left out at will, the same name either way: Arabic vowel marks and Quranic signs,
# the tatweel that stretches a word, Hebrew vowel points and cantillation marks.
_OPTIONAL_MARKS = re.compile(
    "[\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8"
    "\u06ea-\u06ed\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]"
)
_LETTER_VARIANTS = str.maketrans(LETTER_VARIANTS)
DOTS = re.compile(r"[.\u200c\u200f\u200e]")
# What shows as nothing (Unicode's Default_Ignorable_Code_Point): zero-width spaces, joiners
# and non-joiners, direction marks, embeddings and isolates, soft hyphens, word joiners, byte
# order marks, variation selectors, Hangul fillers, tags. Pasted or left by an editor, one
# made "Jane\u200bDoe" another person than "Jane Doe".
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def person_key(name: str) -> str:
    """A person's name as compared across articles: case, accents' forms (NFC or NFD), spacing
    and the characters that show as nothing ignored, and in Arabic, Persian and Hebrew the
    marks and letter shapes a name is written with or without (see _OPTIONAL_MARKS). A name in
    the Arabic script is compared without its spaces: Persian writes a compound name joined,
    with a zero-width non-joiner or apart ("علیرضا", "علی‌رضا", "علی رضا"), Arabic "عبدالله"
    or "عبد الله", and each spelling was another writer for "More from"."""
    words = _words_of(name)
    if words and "\u0600" <= words[0][0] <= "\u06ff":
        return "".join(words)
    return " ".join(words)


def _words_of(name: str) -> list[str]:
    words = _folded(name).split()
    # A title before the name ("Dr. Jane Doe", "د. أحمد علي") is the same person, as long as
    # two words are left to compare.
    while len(words) > 2 and words[0] in _TITLES:
        del words[0]
    return words


def _folded(text: str) -> str:
    key = unicodedata.normalize("NFKC", visible(text)).casefold()
    if not key.isascii():
        key = _OPTIONAL_MARKS.sub("", key).translate(_LETTER_VARIANTS)
    return key


def visible(text: str, *, keep_joiners: bool = False) -> str:
    """``text`` as it shows, the characters that show as nothing left out (see _INVISIBLE),
    but for a zero-width space before a capital ("Jane\u200bDoe"): there it stands for the
    space between two words. Anywhere else it is taken as nothing: "Reu\u200bters" is one word,
    and an uncertain break reads no name where a wrong one would make someone up.

    ``keep_joiners``: for a name as shown, the zero-width non-joiner and joiner stay. They
    change how the letters around them are drawn: "علی‌رضا" without its non-joiner is
    misspelt, its "ی" joined to the "ر" after it. Compared (person_key), a name goes without."""
    if text.isascii():
        return text
    return _INVISIBLE.sub(_kept_joiner if keep_joiners else _space_or_nothing, text)


def _space_or_nothing(found: re.Match[str]) -> str:
    following = found.string[found.end() : found.end() + 1]
    return " " if found[0] == "\u200b" and following.isupper() else ""


def _kept_joiner(found: re.Match[str]) -> str:
    return found[0] if found[0] in "\u200c\u200d" else _space_or_nothing(found)


_TITLES = frozenset(_folded(title) for title in TITLE_WORDS)


def credit_key(text: str) -> str:
    # Word by word: a credit is compared by its first words too ("الجزيرة" in "الجزيرة نت").
    key = " ".join(_words_of(DOTS.sub("", text)))
    return key.removeprefix("the ").strip(" -–—:")


AGENCY_KEYS = frozenset(credit_key(name) for name in AGENCY_BYLINES)


def is_agency(name: str) -> bool:
    """Whether ``name`` is one of ``AGENCY_BYLINES`` (case, dots and a leading "The" aside)."""
    return credit_key(name) in AGENCY_KEYS
