"""Letters written one for the other in Arabic, Persian and Hebrew, each folded to one form."""

from __future__ import annotations

import unicodedata

# One table for every comparison of words: topic terms (topics.normalize), story words and
# names (names) and people's names (person_keys). Each adds what only its own comparison needs.
LETTER_VARIANTS: dict[str, str] = {
    # Alef with or without its hamza or madda, and alef wasla. Where the text is decomposed
    # first (NFD, NFKD) the hamza and madda go with the marks; the table covers composed text.
    "\u0623": "\u0627",  # أ -> ا
    "\u0625": "\u0627",  # إ -> ا
    "\u0622": "\u0627",  # آ -> ا
    "\u0671": "\u0627",  # ٱ -> ا
    # Taa marbuta written as haa; alef maqsura written as yaa.
    "\u0629": "\u0647",  # ة -> ه
    "\u0649": "\u064a",  # ى -> ي
    # Persian letters that Arabic text writes with their Arabic twins. The Persian heh with yeh
    # above decomposes to ە and a hamza, so both fold to the haa whatever the normal form.
    "\u06cc": "\u064a",  # ی -> ي
    "\u06a9": "\u0643",  # ک -> ك
    "\u06c0": "\u0647",  # ۀ -> ه
    "\u06d5": "\u0647",  # ە -> ه
    # Hebrew geresh and gershayim, which writers type as the apostrophe and the double quote
    # as often as not ("ג׳נין" and "ג'נין" are Jenin, "צה״ל" and "צה"ל" the army).
    "\u05f3": "'",
    "\u05f4": '"',
}

# Every decimal digit as 0-9: Arabic outlets write "١٧٠١" as often as "1701", Persian ones "۱۷۰۱".
# (NFKC and NFKD fold only the fullwidth and mathematical ones.) The Basic Multilingual Plane's.
DECIMAL_DIGITS: dict[str, str] = {
    chr(point): str(unicodedata.decimal(chr(point)))
    for point in range(0x80, 0x10000)
    if unicodedata.category(chr(point)) == "Nd"
}

# The Arabic decimal and thousands separators, as "2.5" and "1,000" are written ("٢٫٥", "١٬٠٠٠"):
# for the comparisons that read figures (topic terms, story names).
DECIMAL_SEPARATORS: dict[str, str] = {"\u066b": ".", "\u066c": ","}

# Invisible marks that copy and paste leave inside words: ZERO WIDTH NON-JOINER and JOINER, which
# Persian types between the parts of one word ("می‌گوید", "تحریم‌ها"), and the LEFT-TO-RIGHT,
# RIGHT-TO-LEFT and ARABIC LETTER marks. Deleted wherever words are compared, so that the word
# reads as one, joined: a word cut by one of them was two words, neither of them the word.
INVISIBLE_IN_WORDS: dict[str, None] = dict.fromkeys("\u200c\u200d\u200e\u200f\u061c")
