"""Text folded for matching: one spelling per word whatever the script, case or marks."""

from __future__ import annotations

import unicodedata

from digest.letter_variants import DECIMAL_DIGITS, DECIMAL_SEPARATORS, LETTER_VARIANTS

_TATWEEL = "\u0640"  # Arabic kashida: stretches a word for layout, never changes it
_FOLDS = str.maketrans(
    {
        **LETTER_VARIANTS,
        **DECIMAL_DIGITS,  # a rule is written in one of the digits, a text in another
        **DECIMAL_SEPARATORS,
        # Typographic apostrophes, so "Jordan’s" in a feed matches the term "Jordan's".
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u2032": "'",
        # The typographic double quotes a word processor puts in place of a Hebrew gershayim
        # ("צה”ל").
        "\u201c": '"',
        "\u201d": '"',
        # Turkish dotless i: "Diyarbakır" and "Diyarbakir" are one word here. (Dotted capital İ
        # folds to i by losing its combining dot.)
        "\u0131": "i",
    }
)


class _Marks(dict[int, str | None]):
    """``str.translate`` table deleting combining marks, format characters and the tatweel; each
    code point is looked up in ``unicodedata`` once, the first time it is met."""

    def __missing__(self, point: int) -> str | None:
        char = chr(point)
        kept = char != _TATWEEL and unicodedata.category(char) not in ("Mn", "Cf")
        self[point] = value = char if kept else None
        return value


_MARKS = _Marks()


def normalize_text(text: str) -> str:
    """Text folded for matching: NFKC, casefolded, marks and invisible format characters removed.

    Removing combining marks strips Latin and Turkish diacritics ("Tehrān" -> "tehran",
    "Erdoğan" -> "erdogan"), Arabic harakat and Hebrew niqqud, and the hamza or madda carried on
    an alef ("إيران" -> "ايران"), so a term matches whether or not the writer vocalized it.
    Format characters (zero-width non-joiner in Persian, bidi marks, soft hyphens) are dropped;
    the letter variants above are folded to one form, and every decimal digit to 0-9. Runs of
    whitespace become one space.
    """
    # Whitespace is collapsed by splitting, several times faster than ``re.sub(r"\s+", " ")``
    # and the same: ``str.split`` and ``\s`` both take the characters of ``str.isspace``.
    if text.isascii():
        # NFKC, NFD and NFC leave ASCII alone, it has no marks or folds, and casefold is lower.
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = unicodedata.normalize("NFD", folded).translate(_MARKS)
    # Recompose: scripts such as Hangul decompose into letters that must be joined again.
    recomposed = unicodedata.normalize("NFC", kept).translate(_FOLDS)
    return " ".join(recomposed.split())


def script_of(term: str) -> str:
    """ "arabic", "hebrew" or "other": the script of a normalized term's first letter."""
    for char in term:
        if char.isalpha():
            code = ord(char)
            if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF:
                return "arabic"
            if 0x0590 <= code <= 0x05FF:
                return "hebrew"
            return "other"
    return "other"
