"""The region's main names across scripts: one key for "Gaza", "غزة", "עזה" and "غزه".

    text ─► words (folded, Arabic and Persian letters unified) ─► prefixes tried off ─► name keys
    text ─► numbers (Arabic-Indic and Persian digits read, separators dropped, years left out)

Reports of one event in English, Arabic, Hebrew and Persian share almost no words, but they
share the places, people and bodies they name and the numbers they give. ``digest.stories``
compares reports across scripts by these. The table is small on purpose: the names a Middle East
and Gulf news service meets every day, each under the forms its outlets print. Adding a name is
adding a line to ``_TABLE``; ``tests/test_names.py`` checks that every form reads back to its key.

Arabic and Hebrew glue prepositions and the article to the word ("وغزة", "بغزة", "בעזה",
"והחמאס"): up to two such letters (and Arabic's ال) are tried off the front of a word that is
not a name as it stands, and the rest must be a name of at least three letters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from digest.letter_variants import (
    DECIMAL_DIGITS,
    DECIMAL_SEPARATORS,
    INVISIBLE_IN_WORDS,
    LETTER_VARIANTS,
)

# key: forms in English, Arabic, Hebrew, Persian (several words allowed, split by spaces).
_TABLE: dict[str, tuple[str, ...]] = {
    "gaza": ("Gaza", "Gazan", "Gazans", "غزة", "غزه", "עזה"),
    "israel": ("Israel", "Israeli", "Israelis", "إسرائيل", "إسرائيلية", "إسرائيلي",
               "اسرائیل", "اسرائیلی", "ישראל", "ישראלי", "ישראלית"),
    "iran": ("Iran", "Iranian", "Iranians", "إيران", "إيراني", "إيرانية", "ایران", "ایرانی",
             "איראן", "איראני", "איראנית"),
    "tehran": ("Tehran", "طهران", "تهران", "טהרן"),
    "lebanon": ("Lebanon", "Lebanese", "لبنان", "لبناني", "לבנון"),
    "beirut": ("Beirut", "بيروت", "بیروت", "ביירות"),
    "syria": ("Syria", "Syrian", "سوريا", "سورية", "سوری", "سوریه", "סוריה"),
    "damascus": ("Damascus", "دمشق", "דמשק"),
    "jordan": ("Jordan", "Jordanian", "الأردن", "اردن", "ירדן"),
    "egypt": ("Egypt", "Egyptian", "مصر", "مصري", "מצרים"),
    "cairo": ("Cairo", "القاهرة", "قاهره", "קהיר"),
    "qatar": ("Qatar", "Qatari", "قطر", "קטאר", "קטר"),
    "doha": ("Doha", "الدوحة", "دوحه", "דוחא", "דוחה"),
    "saudi": ("Saudi", "Saudis", "السعودية", "السعودي", "عربستان", "סעודיה", "הסעודית"),
    "riyadh": ("Riyadh", "الرياض", "ریاض", "ריאד"),
    "uae": ("Emirates", "Emirati", "الإمارات", "امارات", "האמירויות", "איחוד האמירויות"),
    "abu-dhabi": ("Abu Dhabi", "أبوظبي", "أبو ظبي", "ابوظبی", "אבו דאבי"),
    "dubai": ("Dubai", "دبي", "دبی", "דובאי"),
    "muscat": ("Muscat", "مسقط", "מוסקט"),
    "iraq": ("Iraq", "Iraqi", "العراق", "عراق", "עיראק"),
    "baghdad": ("Baghdad", "بغداد", "בגדד"),
    "yemen": ("Yemen", "Yemeni", "اليمن", "یمن", "תימן"),
    "houthis": ("Houthi", "Houthis", "الحوثي", "الحوثيين", "الحوثيون", "حوثی", "حوثیها",
                "החות'ים", "חות'ים", "חותים"),
    "hamas": ("Hamas", "حماس", "חמאס"),
    "hezbollah": ("Hezbollah", "حزب الله", "حزب‌الله", "חיזבאללה"),
    "jerusalem": ("Jerusalem", "القدس", "قدس", "اورشلیم", "ירושלים"),
    "west-bank": ("West Bank", "الضفة الغربية", "کرانه باختری", "הגדה המערבית"),
    "rafah": ("Rafah", "رفح", "רפיח"),
    "khan-younis": ("Khan Younis", "Khan Yunis", "خان يونس", "خان یونس", "חאן יונס"),
    "netanyahu": ("Netanyahu", "نتنياهو", "نتانیاهو", "נתניהו"),
    "trump": ("Trump", "ترامب", "ترامپ", "טראמפ"),
    "united-states": ("United States", "Washington", "American",
                      "الولايات المتحدة", "واشنطن", "أمريكا", "آمریکا", "امریکا", "ایالات متحده",
                      "واشنگتن", "ארה\"ב", "ארצות הברית", "וושינגטון", "אמריקה"),
    "united-nations": ("United Nations", "الأمم المتحدة", "سازمان ملل", "האו\"ם"),
    "geneva": ("Geneva", "جنيف", "ژنو", "ז'נבה", "ז׳נבה"),
    "vienna": ("Vienna", "فيينا", "وین", "וינה"),
    "iaea": ("الوكالة الدولية للطاقة الذرية", "آژانس بین‌المللی انرژی اتمی",
             "סבא\"א", "הסוכנות הבינלאומית לאנרגיה אטומית"),
    "turkey": ("Turkey", "Turkish", "Türkiye", "تركيا", "ترکیه", "טורקיה"),
    "ankara": ("Ankara", "أنقرة", "آنکارا", "אנקרה"),
    "russia": ("Russia", "Russian", "روسيا", "روسیه", "רוסיה"),
    "moscow": ("Moscow", "موسكو", "مسکو", "מוסקבה"),
    "kuwait": ("Kuwait", "Kuwaiti", "الكويت", "کویت", "כווית"),
    "bahrain": ("Bahrain", "البحرين", "بحرین", "בחריין"),
    "red-sea": ("Red Sea", "البحر الأحمر", "دریای سرخ", "הים האדום"),
    "hormuz": ("Hormuz", "هرمز", "הורמוז"),
    "isfahan": ("Isfahan", "أصفهان", "اصفهان", "איספהאן"),
    "natanz": ("Natanz", "نطنز", "נתנז"),
    "fordow": ("Fordow", "فوردو", "فردو", "פורדו"),
    "araghchi": ("Araghchi", "عراقجي", "عراقچی", "עראקצ'י", "עראקצ׳י"),
    "pezeshkian": ("Pezeshkian", "بزشكيان", "پزشکیان", "פזשכיאן"),
    "khamenei": ("Khamenei", "خامنئي", "خامنه‌ای", "חמינאי"),
    "erdogan": ("Erdogan", "Erdoğan", "أردوغان", "اردوغان", "ארדואן"),
    "sisi": ("Sisi", "el-Sisi", "السيسي", "سیسی", "א-סיסי", "סיסי"),
    "putin": ("Putin", "بوتين", "پوتین", "פוטין"),
    "oman": ("Oman", "Omani", "سلطنة عمان", "עומאן"),  # عمان alone is Oman or Amman: left out
    "palestinian": ("Palestinian", "Palestinians", "فلسطين", "الفلسطينية", "الفلسطينيين",
                    "فلسطینی", "פלסטינים", "פלסטיני", "הפלסטינית"),
    "europe": ("European", "Europe", "الاتحاد الأوروبي", "أوروبا", "اروپا",
               "האיחוד האירופי", "אירופה"),
    "france": ("France", "French", "فرنسا", "فرانسه", "צרפת"),
    "britain": ("Britain", "British", "بريطانيا", "بریتانیا", "בריטניה"),
    "germany": ("Germany", "German", "ألمانيا", "آلمان", "גרמניה"),
    "china": ("China", "Chinese", "الصين", "چین", "סין"),
}  # fmt: skip

# Letters that open an Arabic or Hebrew word as a preposition, a conjunction or the article.
_ARABIC_PREFIXES: tuple[str, ...] = (
    "وال",
    "بال",
    "فال",
    "كال",
    "لل",
    "ال",
    "و",
    "ب",
    "ل",
    "ف",
    "ك",
)
_HEBREW_PREFIXES: tuple[str, ...] = tuple("ובלמהשכ")
_MIN_STEM = 3
_LONGEST_NAME = 6  # words in the longest form of _TABLE
# Folded letters that differ only by spelling habit (LETTER_VARIANTS), and what only figures
# and words compared need: every decimal digit and the Arabic separators (one table with topics
# and dedup), the joiners and direction marks left inside words, and the tatweel.
_UNIFY = str.maketrans(
    {**LETTER_VARIANTS, **DECIMAL_DIGITS, **DECIMAL_SEPARATORS, **INVISIBLE_IN_WORDS, "ـ": ""}
)
# Latin capitals that are names only as capitals ("US", not "us"): read before folding.
_ACRONYMS = {"US": "united-states", "USA": "united-states", "UN": "united-nations",
             "UAE": "uae", "IAEA": "iaea", "UK": "britain", "EU": "europe"}  # fmt: skip
_ACRONYM = re.compile(r"(?<![\w.])(?:U\.S\.A?\.?|U\.N\.|U\.K\.|[A-Z]{2,4})(?![\w])")
_WORD = re.compile(r"[\w'\"]+")
# Combining marks: Latin accents, Hebrew points and cantillation, Arabic harakat.
_MARKS = re.compile("[\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_YEARS = range(1900, 2101)
_MONTHS = (
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec"
)
_MONTH = "(?:" + "|".join(_MONTHS.split()) + r")\.?"
# "February 17", "17 Feb.": a date, not a figure of the story (in any case, folded).
_DATE = re.compile(rf"\b(?:{_MONTH}\s+\d{{1,2}}|\d{{1,2}}\s+{_MONTH})(?:,?\s+(?:19|20)\d\d)?(?!\w)")
_DATE_CASED = re.compile(_DATE.pattern, re.IGNORECASE)


def fold(text: str) -> str:
    """Case folded, marks deleted, letters and digits unified across Arabic and Persian."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold())).translate(_UNIFY)


_WEEKDAYS = {
    **{fold(day): n for n, day in enumerate(("monday", "tuesday", "wednesday", "thursday",
                                              "friday", "saturday", "sunday"))},
    **{fold(day): n for n, day in enumerate(("الاثنين", "الثلاثاء", "الأربعاء", "الخميس",
                                              "الجمعة", "السبت", "الأحد"))},
    **{fold(day): n for n, day in enumerate(("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنج‌شنبه",
                                              "جمعه", "شنبه", "یکشنبه"))},
}  # fmt: skip
_SHANBEH = fold("شنبه")
# Hebrew day names are also ordinals ("שני" is "second"): read only after "יום" (day).
_HEBREW_WEEKDAYS = {
    day: n for n, day in enumerate(("שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת", "ראשון"))
}


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(fold(text)):
        if word.endswith("'s") and word.isascii():  # "Yemen's", "Britain's"
            word = word[:-2]
        words.append(word.strip("'\""))
    return words


def _build() -> dict[tuple[str, ...], str]:
    forms: dict[tuple[str, ...], str] = {}
    for key, names in _TABLE.items():
        for name in names:
            words = tuple(_words(name))
            if words:
                forms[words] = key
    return forms


_FORMS = _build()
_SINGLE = {words[0]: key for words, key in _FORMS.items() if len(words) == 1}
_OPENERS = frozenset(words[0] for words in _FORMS if len(words) > 1)


def _bare(word: str) -> str | None:
    """The key of a word that is a name once one or two glued prefixes are taken off."""
    if word in _SINGLE:
        return _SINGLE[word]
    first = word[:1]
    if "\u0600" <= first <= "\u06ff":
        prefixes, article = _ARABIC_PREFIXES, "ال"
    elif "\u05d0" <= first <= "\u05ea":
        prefixes, article = _HEBREW_PREFIXES, "ה"
    else:
        return None
    rests = {word}
    for _ in range(2):  # "و" + "ب" + "غزة"; "ו" + "ב" + "עזה"
        rests = {w[len(p) :] for w in rests for p in prefixes if w.startswith(p)}
        for rest in sorted(rests):
            if len(rest) >= _MIN_STEM and (key := _SINGLE.get(rest) or _SINGLE.get(article + rest)):
                return key
    return None


def _first_words(word: str) -> tuple[str, ...]:
    """The forms of ``word`` (as it is, or without a glued prefix, with or without the article)
    that open a name of several words ("בים" of "בים האדום")."""
    if word in _OPENERS:
        return (word,)
    if not "\u0590" <= word[:1] <= "\u06ff":  # only Arabic and Hebrew glue prefixes
        return ()
    found = []
    for prefixes, article in ((_ARABIC_PREFIXES, "ال"), (_HEBREW_PREFIXES, "ה")):
        for prefix in prefixes:
            if word.startswith(prefix) and len(word) > len(prefix) + 1:
                bare = word[len(prefix) :]
                found += [form for form in (bare, article + bare) if form in _OPENERS]
    return tuple(found)


def weekdays(text: str) -> frozenset[int]:
    """The days of the week ``text`` names (0 is Monday), in English, Arabic, Persian and
    Hebrew: two reports that each name a day, and not the same one, tell of different days."""
    found: set[int] = set()
    words = _words(text)
    for at, word in enumerate(words):
        day = _WEEKDAYS.get(word)
        # Persian writes "سه‌شنبه" (Tuesday) as often apart, "سه شنبه": that "شنبه" is no
        # Saturday. ("شنبه" after "پنج", "یک", "دو", "چهار" likewise.)
        if word == _SHANBEH and at > 0:
            day = _WEEKDAYS.get(words[at - 1] + word, day)
        if day is None and word[:1] in "وب" and len(word) > 4:
            day = _WEEKDAYS.get(word[1:])
        if day is None and at > 0 and words[at - 1] in ("יום", "ביום", "ויום"):
            day = _HEBREW_WEEKDAYS.get(word)
        if day is not None:
            found.add(day)
    return frozenset(found)


def names(text: str) -> frozenset[str]:
    """The keys of the table's names that ``text`` mentions, in any of its scripts."""
    found = {
        key
        for match in _ACRONYM.findall(text)
        if (key := _ACRONYMS.get(match.replace(".", ""))) is not None
    }
    words = _words(text)
    at = 0
    while at < len(words):
        first = _first_words(words[at])
        if first:
            for length in range(min(_LONGEST_NAME, len(words) - at), 1, -1):
                rest = tuple(words[at + 1 : at + length])
                key = next((k for f in first if (k := _FORMS.get((f, *rest)))), None)
                if key is not None:
                    found.add(key)
                    at += length
                    break
            else:
                first = ()
        if not first:
            key = _bare(words[at])
            if key is not None:
                found.add(key)
            at += 1
    return frozenset(found)


def numbers(text: str) -> frozenset[str]:
    """The numbers ``text`` gives, as plain digits ("12,000" -> "12000", "٤٫٤" -> "4.4");
    years and English dates ("February 17") are not figures of the story and are left out."""
    found: set[str] = set()
    for match in _NUMBER.findall(_DATE.sub(" ", fold(text))):
        value = _plain_number(match)
        # The length first: int() refuses a string of more than 4,300 digits, which a hostile
        # feed may send, and no year is that long.
        if value and not (value.isdigit() and len(value) < 10 and int(value) in _YEARS):
            found.add(value)
    return frozenset(found)


def without_dates(text: str) -> str:
    """``text`` with English dates ("February 17, 2026", "17 Feb") taken out: a series'
    date-stamped titles ("Briefing - February 17, 2026") say nothing of the story. Years on
    their own stay: "the 2027 season" and "from 2027" tell one story from another."""
    return _DATE_CASED.sub(" ", text)


def _plain_number(text: str) -> str:
    # "12,000" and "12.000" are thousands; "4.4" and "4,4" a decimal: a group of three after
    # the separator is a thousands group.
    parts = re.split(r"[.,]", text)
    if len(parts) > 1 and all(len(part) == 3 for part in parts[1:]):
        return "".join(parts).lstrip("0") or "0"
    whole, *fraction = parts
    value = (whole.lstrip("0") or "0") + ("." + "".join(fraction) if fraction else "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def forms() -> Iterator[tuple[str, str]]:
    """(form, key) of every name in the table, acronyms too, for its tests."""
    for key, names_ in _TABLE.items():
        for name in names_:
            yield name, key
    yield from ((acronym, key) for acronym, key in _ACRONYMS.items())
