"""Persian words written joined or apart, as one spelling, and the words that say nothing.

Persian desks write the verb prefix "می" (and "نمی") and the plural "ها" (and "های", "هایی")
joined to their word, with a ZERO WIDTH NON-JOINER or with a space: "می‌گوید", "میگوید" and
"می گوید" are one word, as "تحریم‌ها", "تحریمها" and "تحریم ها" are. Words are compared with
the ZWNJ deleted (``letter_variants.INVISIBLE_IN_WORDS``), which makes the first form the joined
one; ``content_words`` joins the words apart too, and takes out the words every Persian report
is written with, as
``dedup.STOP_WORDS`` does the English ones ("is", "did", "said", "Monday", "last"): two reports of
unrelated events ("صادرات نفت" and "واکسن آنفلوآنزا") shared "است", "کرد", "روز", "دوشنبه",
"اعلام", "گذشته" and were one story.

Only in text holding a letter Arabic does not write: in Arabic a lone "ها" opens a phrase ("ها
هو"), and "کرد" is "did" in Persian but "Kurd" in Arabic.
"""

from __future__ import annotations

from digest.letter_variants import INVISIBLE_IN_WORDS, LETTER_VARIANTS

# Letters Persian writes and Arabic does not: پ چ ژ گ, the Persian kaf and yeh, heh with yeh.
PERSIAN_ONLY_LETTERS = frozenset("پچژگکیۀ")
# As folded (``letter_variants``): the Persian yeh is the Arabic one.
_PREFIXES = frozenset(("مي", "نمي"))
PLURALS = frozenset(("ها", "هاي", "هايي"))
# Words of three letters or more (shorter ones are no feature anyway): being and doing, saying
# and announcing, pronouns and conjunctions, the days and the words that say when. Folded and
# joined below, as the text they are taken out of.
_STOP_WORDS = """
    است این برای کرد کرده کردند کند کنند کنیم می‌کند می‌کنند شده شود می‌شود بود بوده بودند
    خواهد خواهند دارد دارند داشت داشته هست نیست باید نیز همه همین چنین آنها اینها اما اگر
    پیش بین روی زیر درباره خود گفت گفته گفتند افزود اعلام می‌گوید اند
    شنبه یکشنبه دوشنبه سه‌شنبه چهارشنبه پنجشنبه پنج‌شنبه جمعه روز امروز دیروز فردا هفته ماه
    سال گذشته آینده اخیر
"""
_FOLDED = str.maketrans({**LETTER_VARIANTS, **INVISIBLE_IN_WORDS})
_STOP_WORDS_FOLDED = frozenset(word.translate(_FOLDED) for word in _STOP_WORDS.split())


def is_persian(text: str) -> bool:
    """Whether ``text`` holds a letter only Persian writes (as written, before folding)."""
    return not PERSIAN_ONLY_LETTERS.isdisjoint(text)


def content_words(words: list[str]) -> list[str]:
    """The words of a Persian text (folded, in order) with "می" and "ها" joined to their word
    where a space set them apart, and without the words every report is written with."""
    joined: list[str] = []
    prefix = ""
    for word in words:
        if word in _PREFIXES:
            prefix += word  # "نمی" and "می" before the verb they belong to
            continue
        word, prefix = prefix + word, ""
        if word in PLURALS and joined:
            joined[-1] += word
        else:
            joined.append(word)
    if prefix:
        joined.append(prefix)
    return [word for word in joined if word not in _STOP_WORDS_FOLDED]
