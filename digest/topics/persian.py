"""Persian rule words: where a word may be written joined, with a ZWNJ or with a space.

Persian desks write one compound three ways: "خاورمیانه", "خاور‌میانه" (with ZERO WIDTH NON-JOINER,
U+200C) and "خاور میانه"; the verb prefix "می" and the plural "ها" likewise ("می‌گوید",
"میگوید", "می گوید"; "تحریم‌ها", "تحریمها", "تحریم ها"). Text drops the ZWNJ when it is
normalized (``normalize.normalize_text``), which makes it the joined spelling; a Persian rule word
is spelled here with ``OPTIONAL_SPACE`` where a writer may put a space or nothing:

- where the rule has a space or a ZWNJ between two letters ("خاور میانه", "خاور‌میانه");
- after the prefix "می" or "نمی" of a word of three more letters ("میگوید");
- inside a one-word rule, after a letter that never joins the next (ا د ذ ر ز ژ و), with two
  letters on each side ("خاورمیانه" -> "خاور میانه"): there a joined and a spaced word look the
  same on the page, and writers put the space or leave it out as they please. After a letter
  that joins, a writer who means two parts types the ZWNJ, which is the joined spelling here.

A Persian rule word also matches with the plural "ها", "های" or "هایی" after it ("تحریم" finds
"تحریم‌ها"), and one written with its plural apart ("تحریم‌ها") matches without it too. A word
of four letters or more that ends in a silent heh also matches with the ezafe written after it
("پرونده‌ی هسته‌ای", "the nuclear file"). No other ending counts: "ایران" does not find "ایرانی"
(Iranian) nor "ایرانشهر" (a city), as "Iran" does not find "Iranian". Persian writes its
prepositions apart ("به ایران"), so a Persian rule word takes none of the Arabic prefixes
(``rules``).

A rule word is Persian when it holds a letter Arabic does not write (پ چ ژ گ, the Persian yeh
and kaf, ۀ) or a ZWNJ: a Persian keyboard types those, an Arabic one never does. A Persian word
of letters Arabic shares ("برنامه") is read as Arabic; typed with its plural ("برنامه‌ها") it
is Persian.
"""

from __future__ import annotations

import itertools

from digest.persian_words import PERSIAN_ONLY_LETTERS, PLURALS
from digest.topics.normalize import normalize_text

OPTIONAL_SPACE = "\x01"  # in a rule's spelling: any run of whitespace, or none
PLURAL_PATTERN = "(?:ها(?:يي?)?)?"  # "ها", "های", "هایی", after the text's folding
_ZWNJ = "\u200c"
_PERSIAN_ONLY = PERSIAN_ONLY_LETTERS | {_ZWNJ}  # a Persian keyboard types the ZWNJ too
_NON_JOINING = frozenset("ادذرزژو")  # as folded: alef with hamza or madda is alef
_VERB_PREFIXES = ("نمي", "مي")  # "نمی", "می" as folded; the longer first
_MIN_REST = 3  # letters after a verb prefix: "میز" (table) is no verb
_MIN_SIDE = 2  # letters on each side of a space a joined word may take
_HEH, _EZAFE = "ه", "ي"  # as folded
# A word of three letters ending in heh may take a yeh and be another word ("ماه", month, and
# "ماهی", fish); the longer ones do not.
_MIN_EZAFE_WORD = 4


def is_persian(text: str) -> bool:
    """Whether a rule word, as the editor wrote it, is written in Persian (module docstring)."""
    return not _PERSIAN_ONLY.isdisjoint(text)


def persian_spelling(text: str) -> str:
    """The rule word normalized, with ``OPTIONAL_SPACE`` wherever a Persian writer may put a
    space or leave it out (module docstring)."""
    words = _rule_words(text)
    spelled = _spaced_word(words[0])
    for before, word in itertools.pairwise(words):
        # Between two Persian words: a Latin one beside them ("ایران air") keeps its space.
        joinable = _is_arabic_letter(before[-1]) and _is_arabic_letter(word[0])
        spelled += (OPTIONAL_SPACE if joinable else " ") + _spaced_word(word)
    return spelled


def _rule_words(text: str) -> list[str]:
    words = normalize_text(text.replace(_ZWNJ, " ")).split(" ")
    if len(words) > 1 and words[-1] in PLURALS:
        words.pop()  # the plural the pattern allows after every Persian word ("تحریم‌ها")
    return words


def _is_arabic_letter(char: str) -> bool:
    return char.isalpha() and "\u0600" <= char <= "\u06ff"


def persian_spellings(text: str) -> tuple[str, ...]:
    """``persian_spelling``, and for a word ending in a silent heh its ezafe, which Persian
    writes after a ZWNJ ("برنامه‌ی هسته‌ای", "the nuclear programme", of a rule on "برنامه"):
    the text drops the ZWNJ, and "برنامهی" was no longer the rule's word."""
    spelling = persian_spelling(text)
    last = _rule_words(text)[-1]
    if last.endswith(_HEH) and len(last) >= _MIN_EZAFE_WORD:
        return spelling, spelling + _EZAFE
    return (spelling,)


def _spaced_word(word: str) -> str:
    for prefix in _VERB_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_REST:
            return prefix + OPTIONAL_SPACE + _spaced_word(word[len(prefix) :])
    pieces = []
    for index, char in enumerate(word):
        pieces.append(char)
        after = index + 1
        if char in _NON_JOINING and after >= _MIN_SIDE and len(word) - after >= _MIN_SIDE:
            pieces.append(OPTIONAL_SPACE)
    return "".join(pieces)
