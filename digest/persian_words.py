"""Persian words written joined or apart, as one spelling: the joined one.

Persian desks write the verb prefix "می" (and "نمی") and the plural "ها" (and "های", "هایی")
joined to their word, with a ZERO WIDTH NON-JOINER or with a space: "می‌گوید", "میگوید" and
"می گوید" are one word, as "تحریم‌ها", "تحریمها" and "تحریم ها" are. Words are compared with
the ZWNJ deleted (``letter_variants.INVISIBLE_IN_WORDS``), which makes the first form the joined
one; ``joined`` joins the spaced one too. Only in text holding a letter Arabic does not write:
in Arabic a lone "ها" opens a phrase ("ها هو"), and no word of an Arabic text is moved.
"""

from __future__ import annotations

import re

# Letters Persian writes and Arabic does not: پ چ ژ گ, the Persian kaf and yeh, heh with yeh.
_PERSIAN_ONLY = frozenset("پچژگکیۀ")
# As folded (``letter_variants``): the Persian yeh is the Arabic one.
_PREFIX_APART = re.compile(r"(?<!\w)(ن?مي)\s+(?=\w)")
_PLURAL_APART = re.compile(r"(?<=\w)\s+(هاي?ي?)(?!\w)")


def is_persian(text: str) -> bool:
    """Whether ``text`` holds a letter only Persian writes (as written, before folding)."""
    return not _PERSIAN_ONLY.isdisjoint(text)


def joined(folded: str) -> str:
    """``folded`` (Persian text, its letters folded) with the prefix "می" and the plural "ها"
    joined to their word where a space set them apart."""
    return _PLURAL_APART.sub(r"\1", _PREFIX_APART.sub(r"\1", folded))
