"""A newsroom title before a name ("Al Jazeera correspondent Ahmed Ali"), and the name after it."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from digest.person_keys import AGENCY_KEYS, credit_key

# A newsroom title written before the name, with the outlet on either side of it: "مراسل
# الجزيرة أحمد علي" (Al Jazeera correspondent Ahmed Ali), "مراسلنا أحمد علي", "Al Jazeera
# correspondent Ahmed Ali", "Our senior correspondent Jane Doe", "כתבנו דני כהן", "Senior
# Editor Jane Doe", "Middle East editor Jane Doe", "Washington bureau chief Jane Doe".
_ROLE_BEFORE_NAME = frozenset(
    {
        "correspondent", "reporter", "editor", "editor-at-large", "columnist", "writer",
        "commentator", "analyst", "photographer", "photojournalist", "producer", "chief",
        "مراسل", "مراسلة", "مراسلنا", "مراسلتنا", "موفد", "موفدة", "موفدنا", "الكاتب", "الكاتبة",
        "الصحفي", "الصحفية", "الصحافي", "الصحافية", "المحرر", "المحررة",
        "כתב", "כתבת", "כתבנו", "כתבתנו", "הכתב", "הכתבת", "עורך", "עורכת", "העורך", "העורכת",
        "פרשן", "פרשנית", "הפרשן", "הפרשנית", "פרשננו", "צלם", "צלמת", "הצלם", "הצלמת",
        "خبرنگار",
    }
)  # fmt: skip
# What may stand before that title besides an outlet: a rank ("Our correspondent", "Senior
# Editor"), a desk's beat or region ("Middle East editor", "Defense reporter", "Washington
# bureau chief") or another title ("Editor in Chief"). A closed list: any other word there
# (an unknown outlet, "Harbour Times correspondent") may be part of a name or an outlet, and
# a wrong name costs more than a missed one.
_ROLE_QUALIFIERS = frozenset(
    {
        # ranks and kinds
        "our", "senior", "chief", "foreign", "special", "political", "diplomatic", "security",
        "military", "economics", "business", "international", "regional", "staff", "associate",
        "deputy", "managing", "executive", "contributing", "guest", "lead", "principal",
        "national", "global", "world", "investigative", "visual", "data", "digital", "news",
        "bureau", "at", "large", "in", "of", "and", "the", "&", "editor", "correspondent",
        # beats
        "defense", "defence", "health", "science", "technology", "tech", "climate",
        "environment", "energy", "economy", "economic", "finance", "financial", "markets",
        "sports", "sport", "culture", "arts", "education", "legal", "justice", "crime",
        "politics", "policy", "affairs", "home", "white", "house", "congressional", "courts",
        "features", "opinion", "photo", "video", "religion", "transport", "media",
        # regions and bureaux
        "middle", "east", "eastern", "west", "western", "north", "south", "africa", "african",
        "europe", "european", "asia", "asian", "pacific", "america", "americas", "latin",
        "gulf", "arab", "levant", "washington", "london", "paris", "brussels", "moscow",
        "beijing", "jerusalem", "cairo", "beirut", "tehran", "istanbul", "dubai", "china",
        "russia", "india", "iran", "israel", "ukraine", "turkey", "us", "u.s.", "uk", "eu",
        "gaza", "bank", "syria", "lebanon", "iraq", "yemen", "egypt", "saudi", "qatar", "uae",
        "oman", "bahrain", "kuwait", "jordan", "sudan", "libya", "baghdad", "damascus", "riyadh",
        "doha", "ramallah", "tel", "aviv", "new", "york", "un", "united", "nations", "mideast",
        "afghanistan", "pakistan", "kabul", "geneva", "southeast", "central",
        # Arabic, Hebrew
        "الخاص", "السياسي", "الاقتصادي", "العسكري", "צבאי", "הצבאי", "מדיני", "המדיני",
        "פוליטי", "הפוליטי", "בכיר", "הבכיר", "בכירה", "הבכירה",
    }
)  # fmt: skip
# A first word that says where or for whom, not who: "مراسل الجزيرة في غزة" is no person.
_NOT_A_NAME_OPENING = frozenset(
    {"in", "from", "at", "for", "to", "on", "of", "the", "by", "with", "في", "من", "لدى", "على",
     "إلى", "ب", "در", "از"}
)  # fmt: skip
# What may stand before a title's last word: ranks, beats and other titles ("الكاتب الصحفي").
_TITLE_OPENING = _ROLE_QUALIFIERS | _ROLE_BEFORE_NAME
# English titles that also head a column or a feature ("Editor Picks Today", "Columnist Of The
# Year"): a title only after a rank, a beat or an outlet ("Senior Editor Jane Doe"), never alone.
_TITLES_NOT_ALONE = frozenset(
    {"editor", "columnist", "writer", "commentator", "analyst", "photographer",
     "photojournalist", "producer", "chief"}
)  # fmt: skip
_MAX_OUTLET_WORDS = 4


def named_after_role(part: str, agencies: frozenset[str], outlet_key: str) -> str | None:
    """The name after a reporter's role that opens ``part`` ("مراسل الجزيرة أحمد علي" ─►
    "أحمد علي"), or None. Read as a whole, the role's desk word made the reporter no person,
    and "More from" never named them. Only an outlet the reader knows (an agency, the feed's
    own name or its ``agency_bylines``) or a qualifier may stand around the role: what else
    follows it may be part of the name, and a wrong name costs more than a missed one."""
    words = part.split()
    # The title's last word: "Editor in Chief Jane Doe" names Jane Doe, not "in Chief Jane Doe".
    role = max(
        (
            index
            for index, word in enumerate(words[: _MAX_OUTLET_WORDS + 2])
            if word.strip(".,:'’").casefold() in _ROLE_BEFORE_NAME
        ),
        default=None,
    )
    if role is None or not _is_title_opening(words[:role], agencies, outlet_key):
        return None
    if role == 0 and words[0].strip(".,:'’").casefold() in _TITLES_NOT_ALONE:
        return None
    after = words[role + 1 :]
    # Arabic and Hebrew write a title's rank or beat after it: "הפרשן הצבאי דני כהן".
    while after and is_rtl(after[0]) and after[0].casefold() in _ROLE_QUALIFIERS:
        del after[0]
    # The outlet after the role, its longest reading first ("مراسل الجزيرة نت أحمد علي").
    for outlet_words in range(min(_MAX_OUTLET_WORDS, len(after) - 2), -1, -1):
        if outlet_words == 0 or _is_outlet(after[:outlet_words], agencies, outlet_key):
            name = after[outlet_words:]
            opening = name[0].strip(".,:").casefold()
            if opening in _NOT_A_NAME_OPENING or (opening.isascii() and not name[0][:1].isupper()):
                return None
            # An outlet the reader does not know, in Arabic, opens with the article a given
            # name does not: "مراسل الميادين أحمد علي" names no "الميادين أحمد علي".
            if outlet_words == 0 and opening.startswith("ال"):
                return None
            return " ".join(name)
    return None


def _is_title_opening(words: Sequence[str], agencies: frozenset[str], outlet_key: str) -> bool:
    """Whether ``words``, before a title, are a known outlet ("BBC", "Al Jazeera's") and then
    nothing but ranks, beats and regions (``_ROLE_QUALIFIERS``): "BBC Middle East editor"."""
    for outlet_words in range(len(words), -1, -1):
        if outlet_words and not _is_outlet(words[:outlet_words], agencies, outlet_key):
            continue
        if all(word.strip(".,:'’").casefold() in _TITLE_OPENING for word in words[outlet_words:]):
            return True
    return False


def _is_outlet(words: Sequence[str], agencies: frozenset[str], outlet_key: str) -> bool:
    """Whether ``words`` are an agency's or the outlet's name, a possessive "'s" aside."""
    if not words:
        return False
    key = credit_key(" ".join(words).removesuffix("'s").removesuffix("’s"))
    return key in AGENCY_KEYS or key in agencies or (bool(outlet_key) and key == outlet_key)


def is_rtl(word: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in word)
