"""Read a feed's author field as the people who wrote the article, apart from desks and agencies.

    "By Jane Doe and John Roe, Reuters"  ─► people ("Jane Doe", "John Roe"), credits ("Reuters",)
    "Justin Klawans, The Week US"        ─► people ("Justin Klawans",) when the feed is The Week
    "AFP" · "News Desk" · "Staff"        ─► no person

"More from" groups an edition's articles by person (``digest.compose``), never by a desk or an
agency: "More from AFP" is no author's work and repeats the news of the day under one item.

A part of a byline is a person only when it is none of these:
- an agency or a desk: ``AGENCY_BYLINES`` (in English, Arabic, Hebrew, Persian and Turkish
  spellings) or a feed's own ``agency_bylines``;
- a part holding a desk word (staff, desk, agencies, newsroom, correspondent, وكالات, מערכת…):
  "Web Desk", "FP Staff", "the Monitor's Editorial Board", "Staff Writer";
- the feed's own name, alone or followed by an edition ("The Week UK" in the feed "The Week");
- a single word ("admin", "Namibian", an unknown agency's acronym), a part with digits, or one
  of more than ``MAX_NAME_WORDS`` words: a false "More from" costs more than a missed one;
- the outlet an aggregator's summary opens with in brackets ("[Africa Check] ...", ``Bylines.of``);
- a content system's stand-in for a missing author ("Not Available", "Unknown", "undefined").

The parts are split on commas (also "،"), "|", "/", ";", "·", "•", " - ", "and", "&", "with" and the
Arabic and Hebrew conjunctions (" و ", " ו ", and "و"/"ו" written onto a name of two or more
words after one of two or more words, or after a comma: "أحمد علي، محمد حسن، وخالد عمر").
E-mail addresses, web addresses and handles ("@janedoe") are dropped, a leading "By" (بقلم،
كتب، מאת…) too; "(AFP)" and " for Reuters" are credits; " in Jerusalem" after a name is where
the reporter was. "By JANE DOE" reads as Jane Doe. The people a wire names after its writers,
under another role ("Reporting by A; Editing by B", "A, with additional reporting by B"), are
credits. A newsroom title before a name, around an outlet it knows ("مراسل الجزيرة أحمد علي",
"Al Jazeera correspondent Ahmed Ali", "مراسلنا أحمد علي", "Senior Editor Jane Doe", "BBC Middle
East editor Jane Doe", "העורך דני כהן"), is a credit and the name a person; so is the kind of
piece before "by" ("Opinion by", "Interview by", "Photographs by"). A title alone is nobody,
and so is an English title with nothing before it ("Editor Picks Today" heads a column).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from digest.config import FeedSettings
from digest.records import Article

MAX_NAME_WORDS = 6
MAX_BYLINE_CHARS = 300  # read of an author field: the store keeps 200 (clean.AUTHOR_LIMIT)

# Wire agencies, broadcasters and generic newsroom credits seen as whole bylines. Compared
# case-insensitively, ignoring dots and a leading "The" ("A.P." is "AP").
AGENCY_BYLINES = frozenset(
    {
        # International wires and their usual spellings
        "Reuters", "Thomson Reuters", "AFP", "Agence France-Presse", "Agence France Presse",
        "AP", "Associated Press", "The Associated Press", "Bloomberg", "Bloomberg News",
        "dpa", "EFE", "ANSA", "Kyodo", "Kyodo News", "Yonhap", "Xinhua", "Xinhua News Agency",
        "TASS", "RIA Novosti", "Sputnik", "Interfax", "UPI", "United Press International",
        "PA", "PA Media", "Press Association", "AAP", "Canadian Press", "CP", "PTI", "IANS",
        "ANI", "UNI", "Bernama", "Antara", "CNA", "NHK", "CGTN", "BBC", "BBC News", "CNN",
        "Al Jazeera", "Al Jazeera English", "Deutsche Welle", "DW", "France 24", "RFI",
        "Euronews", "PR Newswire", "Business Wire", "GlobeNewswire",
        # Middle East agencies and outlets
        "Anadolu", "Anadolu Agency", "Anadolu Ajansı", "AA", "DHA", "IHA", "İHA", "WAFA",
        "IRNA", "ISNA", "Tasnim", "Tasnim News Agency", "Fars", "Fars News Agency", "Mehr",
        "Mehr News Agency", "IRIB", "Press TV", "WAM", "Emirates News Agency", "SPA",
        "Saudi Press Agency", "KUNA", "QNA", "BNA", "ONA", "MENA", "SANA", "NNA", "Petra",
        "Saba", "Ma'an", "Maan", "Shafaq News", "Rudaw", "Kurdistan24", "i24NEWS", "TPS",
        "JNS", "Ynet", "Walla", "Kan", "Al Arabiya", "Asharq Al-Awsat", "The National",
        "Gulf News", "Khaleej Times", "Arab News", "Middle East Eye", "Middle East Monitor",
        "MEMO", "Times of Israel", "Jerusalem Post", "Haaretz", "Tehran Times",
        # Outlets a syndicated or aggregated byline names after its writer ("Jane Doe, The
        # Guardian"); the ones that start with "The" are no person in any case (bylines._is_person)
        "Washington Post", "Guardian", "Economist", "Independent", "Telegraph", "Atlantic",
        "New Yorker", "Conversation", "Foreign Policy", "Foreign Affairs", "Politico",
        "Politico Europe", "Le Monde", "Le Figaro", "Der Spiegel", "El País", "El Pais",
        "Corriere della Sera", "Rest of World", "Kyiv Independent", "ProPublica", "Al-Monitor",
        "Al Monitor", "Sky News", "ABC News", "CBS News", "NBC News", "Fox News", "Semafor",
        "Deutsche Presse-Agentur", "South China Morning Post", "Straits Times", "Daily Star",
        "L'Orient-Le Jour", "L'Orient Today", "Hürriyet", "Daily Sabah",
        # Arabic
        "رويترز", "فرانس برس", "فرانس بريس", "أ ف ب", "ا ف ب", "أسوشيتد برس", "الأناضول",
        "وكالات", "وفا", "إرنا", "ارنا", "شينخوا", "سبوتنيك", "بي بي سي", "الجزيرة", "الجزيرة نت",
        "العربية", "وام", "واس", "كونا", "قنا", "بنا", "سانا", "بترا", "سبأ",
        # Hebrew
        "רויטרס", "סוכנות הידיעות", "AP וסוכנויות", "ynet", "וואלה", "כאן חדשות", "מעריב",
        "הארץ", "ישראל היום", "גלובס",
        # Persian
        "ایرنا", "ایسنا", "تسنیم", "فارس", "مهر", "ایلنا", "رویترز", "خبرآنلاین", "همشهری",
        "بی‌بی‌سی", "بی بی سی",
    }
)  # fmt: skip

# Wires and broadcasters whose name opens those of their services ("AP Photo", "BBC Arabic",
# "Reuters Breakingviews"): no given name is spelt so. Agencies that are also given names
# (Petra, Saba, Wafa, Efe, Ansa, Irna) are not among them.
WIRE_SERVICES = frozenset(
    {"reuters", "ap", "afp", "bloomberg", "cnn", "bbc", "xinhua", "anadolu", "dpa", "kyodo",
     "yonhap", "tass", "interfax", "upi", "cnbc", "nbc", "cbs", "abc", "pti", "rfi", "dw"}
)  # fmt: skip

# A part holding one of these words is a desk, a role or an institution, not a person.
DESK_WORDS = frozenset(
    {
        # English
        "staff", "desk", "desks", "team", "editor", "editors", "editorial", "newsroom",
        "bureau", "agencies", "agency", "wire", "wires", "wireservices", "service", "services",
        "correspondent", "correspondents", "reporter", "reporters", "writer", "writers",
        "contributor", "contributors", "admin", "administrator", "webmaster", "press", "news",
        "media", "report", "online", "digital", "web", "monitor", "newswire", "syndicated",
        "sponsored", "partner", "content", "guest", "author", "authors", "times", "tribune",
        "gazette", "herald", "journal", "magazine", "network", "channel", "tv", "radio",
        "daily", "weekly", "board", "ministry", "office", "institute", "foundation",
        "observer", "special", "fellow", "director", "analyst", "columnist", "columnists",
        "contributing", "senior", "chief", "associate", "deputy", "managing", "executive",
        "producer", "producers", "photographer", "opinion", "newsletter", "podcast", "images",
        "photos", "pictures",
        # French, Spanish, German, Turkish
        "rédaction", "redaction", "redacción", "redaccion", "agencias", "agences", "agence",
        "redaktion", "haber", "haberleri", "merkezi", "ajansı", "ajansi", "servisi",
        "muhabiri", "editör",
        # Arabic
        "وكالات", "وكالة", "الأنباء", "فريق", "تحرير", "التحرير", "المحرر", "محرر", "مراسل",
        "مراسلنا", "مراسلة", "قسم", "الأخبار", "أخبار", "اخبار", "موقع", "بوابة", "خاص",
        "الموقع", "الإلكتروني", "نت", "صحفي", "صحفية", "صحافي", "صحافية",
        # Hebrew
        "מערכת", "חדשות", "סוכנויות", "הידיעות", "כתב", "כתבנו", "כתבת", "דסק", "צוות", "הכתב",
        "הכתבת", "עורך", "עורכת", "העורך", "העורכת", "פרשן", "פרשנית", "הפרשן", "הפרשנית",
        "פרשננו", "צלם", "צלמת", "הצלם", "הצלמת",
        # Persian
        "خبرگزاری", "گروه", "سرویس", "تحریریه", "خبرنگار", "خبرنگاران", "پایگاه",
    }
)  # fmt: skip

# The kind of piece or work a byline may name before its "by": "Written by", "Opinion by".
_WORK_BY = (
    r"(?:written|words|reporting|reported|story|text|analysis|opinion|commentary|interview"
    r"|photos?|photographs|photography|pictures|video)\s+by"
)
# What opens a byline before the names: "By", "Written by", "Reporting by", بقلم، كتب، מאת.
_LEADING_BY = re.compile(
    rf"^(?:{_WORK_BY}|by)\s*:?\s+"
    r"|^(?:بقلم|كتب|كتبت|إعداد|اعداد|تقرير|מאת|צילום|نویسنده|نوشته|به\s+قلم|گزارش)\s*:?\s+",
    re.IGNORECASE,
)
# What a script, a template or a content system wrote when the author was missing: "undefined",
# "null", "None", "[object Object]", "Not Available", "Unknown", an unfilled "{{author}}" or
# "${author}", the login of the site's account ("admin", "webmaster", "wpengine": WordPress
# writes it when no display name was set); and a "By" with no name after it.
_NO_AUTHOR = re.compile(
    r"(?:undefined|null|none|nil|nan|n/a|\[object object\]|unknown|unavailable"
    r"|admin|administrator|site\s*admin(?:istrator)?|webmaster|wpengine|root|sysadmin|superuser"
    r"|not\s+(?:available|specified|known|provided|given)"
    rf"|{_WORK_BY}|by|بقلم|كتب|מאת)\W*"
    r"|.*(?:\{\{|\}\}|\$\{|<%|%>).*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"<?[^\s<>()@,]+@[^\s<>()@,]+\.[^\s<>()@,]+>?")
_WEB_ADDRESS = re.compile(
    r"(?i:https?://|www\.)[^\s()<>\[\]]+"
    # without its scheme: a host whose last label is in lower case ("J.Doe/AP" is a byline),
    # then a path
    r"|\b(?:[A-Za-z0-9-]+\.)+[a-z]{2,24}/[^\s()<>\[\]]*"
)
# A social media handle: "Jane Doe @janedoe" is Jane Doe; with its network's name before it too
# ("X: @janedoe", "Twitter: @janedoe"). After the e-mail addresses are gone.
_HANDLE = re.compile(
    r"(?:\b(?:Twitter|X|Instagram|IG|Threads|Bluesky|Telegram|TikTok)\s*:\s*)?(?<![\w@])@\w{1,30}\b"
)
_NAME_AFTER_ADDRESS = re.compile(r"(?:mailto:\s*)?\((?P<name>[^()]+)\)")
_PARENTHESES = re.compile(r"[(\[]([^()\[\]]*)[)\]]")
# Between two names. " - " needs its spaces: hyphenated names have none. A name holds no en or
# em dash, so "Jane Doe —Reuters" and "Jane Doe—Reuters" are split too.
_SEPARATORS = re.compile(
    r"\s*[,،;|/·•‧∙⋅]\s*(?:(?:and|&|و|ו)\s+)?|\s+-\s+|\s*[–—]\s*"
    r"|\s+(?:and|&|\+|with|et|y|und|ve|و|ו)\s+",
    re.IGNORECASE,
)
# Where the reporter was: "Bethan McKernan in Jerusalem", "Jane Doe reporting from Gaza".
# The little words of these suffixes are written in small letters, or in capitals in a byline
# in capitals ("JANE DOE IN GAZA"); never as "In": "Lee In Young" is a name.
_PLACE_SUFFIX = re.compile(
    r"\s+(?:in|IN|reporting\s+from|REPORTING\s+FROM|from|FROM)\s+[A-Z][\w'’.-]*"
    r"(?:\s+[A-Z][\w'’.-]*)*$"
)  # one way to match any text: no backtracking over the words
# The outlet a person wrote for: "John Roe for Reuters", "Jane Doe for the Guardian", or after a
# comma "for Reuters" alone. Its words as _PLACE_SUFFIX's, one way to match.
_FOR_OUTLET = re.compile(
    r"(?:^|\s+)(?:for|FOR)\s+(?P<outlet>(?:the\s+|THE\s+)?[A-Z][\w'’.&-]*"
    r"(?:\s+[A-Z][\w'’.&-]*)*)$"
)
# The roles a wire names, each before its people: "Reporting by A and B; Writing by C; Editing
# by D", "A, with additional reporting by B".
_ROLE_BY = re.compile(
    r"\b(?P<role>words\s+(?:and|&)\s+pictures|additional\s+reporting|reporting|reported"
    r"|writing|written|editing|edited|compiled|translated|translation|graphics|illustrations?"
    r"|photos?|photographs|photography|pictures|videos?|production|produced"
    r"|fact[- ]checking|research)\s+by\b\s*:?\s*",
    re.IGNORECASE,
)
_WRITING_ROLES = frozenset({"reporting", "reported", "writing", "written"})
# What joined a segment to the role after it: "A, with", "A and", "A;".
_JOINER_AT_END = re.compile(r"(?:[\s,;|/&]|\b(?:with|and)\b)*$", re.IGNORECASE)
_NAME_IN_CAPITALS = re.compile(r"\b[A-Z][A-Z'’.-]+(?:\s+[A-Z][A-Z'’.-]+)+\b")
_CONJUNCTIONS = ("و", "ו")  # written onto the next word in Arabic and Hebrew
# Written or left out at will, the same name either way: Arabic vowel marks and Quranic signs,
# the tatweel that stretches a word, Hebrew vowel points and cantillation marks.
_OPTIONAL_MARKS = re.compile(
    "[\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8"
    "\u06ea-\u06ed\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]"
)
# Letters written one for the other in names: alef with or without its hamza or madda, final
# yeh dotted or not, teh marbuta or heh, and the Persian yeh and kaf typed on Arabic keyboards.
_LETTER_VARIANTS = str.maketrans(
    {
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك", "ة": "ه",
    }
)  # fmt: skip
# Titles written before a name, as person_key compares them (digest.person_keys).
TITLE_WORDS = (
    "dr", "dr.", "doctor", "prof", "prof.", "professor", "mr", "mr.", "mrs", "mrs.", "ms",
    "ms.", "mx", "mx.", "miss", "sir", "dame", "rev", "rev.", "reverend", "sheikh", "shaikh",
    "sheikha", "rabbi", "imam", "eng.",
    "د", "د.", "دكتور", "الدكتور", "الدكتورة", "الشيخ", "الشيخة", "الأستاذ", "الأستاذة", "أ.",
    "المهندس", "المهندسة", "م.", "دکتر", "مهندس", "استاد",
    'ד"ר', "ד״ר", "דר'", "פרופ'", "פרופ׳", "פרופסור", "הרב", "עו\"ד", "עו״ד",
)  # fmt: skip
# Names that start with the letter of an "and" written onto a name (و, ו): no conjunction there
# ("أحمد علي، وليد حسن" is Walid Hassan, not "and Lid Hassan"). Given names and family names,
# Arabic, Persian, Hebrew.
NAMES_OPENING_LIKE_AND = frozenset(
    {
        "وليد", "وائل", "وسام", "وسيم", "وسيمة", "وفاء", "وعد", "وداد", "وضاح", "وحيد", "وحيدة",
        "وديع", "وديعة", "وجدي", "وجدان", "ولاء", "وهيب", "وهيبة", "وهبة", "وهبي", "وصفي",
        "وصفية", "وجيه", "وجيهة", "ورد", "وردة", "وصال", "وفيق", "وفيقة", "وهاب", "والي", "ودود",
        "وهدان", "ونيس", "وافي", "وزير", "وطفة", "وديان", "وئام", "ولید", "وحید",
        "وحیده", "ولی", "وفا", "ویدا", "ورا",
        "ורד", "ורדה", "ורה", "ויקטור", "ולדימיר", "ולרי", "ויטלי", "ואדים", "ויולט", "ויויאן",
        "ויליאם", "וקנין", "וייס", "ויס", "וינברג", "ויצמן", "וולף", "וולך", "וינר", "ויסמן",
        "וקסלר", "וילנר", "ויזל", "ויינשטיין", "וולפסון", "ורון",
    }
)  # fmt: skip
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


@dataclass(frozen=True, slots=True)
class Byline:
    """An author field read: the people named, and everything else it credits."""

    people: tuple[str, ...] = ()
    credits: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Each person's name as compared: case and spacing ignored."""
        return tuple(person_key(person) for person in self.people)


def person_key(name: str) -> str:
    """A person's name as compared across articles: case, accents' forms (NFC or NFD), spacing
    and the characters that show as nothing ignored, and in Arabic, Persian and Hebrew the
    marks and letter shapes a name is written with or without (see _OPTIONAL_MARKS)."""
    words = _folded(name).split()
    # A title before the name ("Dr. Jane Doe", "د. أحمد علي") is the same person, as long as
    # two words are left to compare.
    while len(words) > 2 and words[0] in _TITLES:
        del words[0]
    return " ".join(words)


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
    key = person_key(DOTS.sub("", text))
    return key.removeprefix("the ").strip(" -–—:")


AGENCY_KEYS = frozenset(credit_key(name) for name in AGENCY_BYLINES)


def read_byline(
    author: str | None, *, agencies: Iterable[str] = (), outlet: str | None = None
) -> Byline:
    """The people and credits of ``author``; ``agencies`` are a feed's own non-person bylines,
    ``outlet`` the feed's name (its own name in a byline is no person either)."""
    # Longer is no byline; the bound keeps every pattern below cheap on any input.
    text = (author or "")[:MAX_BYLINE_CHARS]
    return _read(text, frozenset(credit_key(name) for name in agencies), outlet or "")


def is_agency(name: str) -> bool:
    """Whether ``name`` is one of ``AGENCY_BYLINES`` (case, dots and a leading "The" aside)."""
    return credit_key(name) in AGENCY_KEYS


def written_author(author: str | None) -> str | None:
    """``author`` as a byline shows it: e-mail and web addresses and a leading "By" dropped,
    names and credits kept as written; None when nothing is left, or nothing that names anyone
    (punctuation, "undefined", "null", an unfilled template)."""
    if not author:
        return None
    text = _without_addresses(author[:MAX_BYLINE_CHARS])
    text = re.sub(r"\(\s*\)|<\s*>|\[\s*\]", " ", text)  # what held an address
    text = " ".join(_LEADING_BY.sub("", text).split()).strip(" ,;|-–—:")
    # Punctuation alone ("·", "...") or a stand-in for a missing value names nobody: printed,
    # the byline read "undefined · Gulf Wire · 09:14".
    if not any(char.isalnum() for char in text) or _NO_AUTHOR.fullmatch(text):
        return None
    # A name in capitals ("By JANE DOE, Reuters") reads as a name; an agency's stays.
    text = _NAME_IN_CAPITALS.sub(_names_in_capitals, text)
    return text or None


_BRACKETS_AT_END = re.compile(r"\s*[(\[](?P<inside>[^()\[\]]{1,100})[)\]]\s*$")


def without_outlet(author: str | None, outlet: str) -> str | None:
    """``author`` (as ``written_author`` gives it) without the parts that name the outlet
    itself: printed beside the outlet's name, "The Week UK · The Week" or "Justin Klawans, The
    Week US · The Week" say it twice. None when nothing else is left; agencies stay."""
    key = credit_key(outlet)
    if not author or not key:
        return author
    # The outlet in brackets after the name: "Jane Doe (Gulf Wire)".
    bracketed = _BRACKETS_AT_END.search(author)
    if bracketed and bracketed.start() > 0 and _names_outlet(bracketed["inside"], key):
        author = author[: bracketed.start()]
    pieces: list[tuple[str, str]] = []  # (the separator before it, a part)
    separator, start = "", 0
    for match in _SEPARATORS.finditer(author):
        pieces.append((separator, author[start : match.start()]))
        separator, start = match.group(), match.end()
    pieces.append((separator, author[start:]))
    kept = [(before, part) for before, part in pieces if not _names_outlet(part, key)]
    if len(kept) == len(pieces):
        return author
    if not kept:
        return None
    text = kept[0][1] + "".join(before + part for before, part in kept[1:])
    return text.strip(" ,;|/-–—:") or None


def _names_outlet(part: str, outlet_key: str) -> bool:
    """Whether a byline's part is the outlet, alone or with an edition ("The Week UK")."""
    key = credit_key(part.strip(" .:-–—"))
    return bool(key) and (
        key == outlet_key or key.startswith(outlet_key + " ") or outlet_key.startswith(key + " ")
    )


# The little words between names in a byline in capitals, written small when its names are not.
_LINKING_WORDS = frozenset({"AND", "WITH", "FOR", "IN", "FROM", "REPORTING"})


def _names_in_capitals(run: re.Match[str]) -> str:
    if is_agency(run[0]):
        return run[0]
    return " ".join(
        word if is_agency(word) else word.lower() if word in _LINKING_WORDS else word.title()
        for word in run[0].split()
    )


def _without_addresses(author: str) -> str:
    """``author`` without its e-mail and web addresses and its handles ("@janedoe"),
    whitespace collapsed. The name RSS writes in brackets after an address ("jane@example.org
    (Jane Doe)", also with the address in angle brackets) is then the whole byline, out of its
    brackets."""
    text = _HANDLE.sub(" ", _WEB_ADDRESS.sub(" ", _EMAIL.sub(" ", author)))
    text = " ".join(text.split())
    if text != " ".join(author.split()):
        named = _NAME_AFTER_ADDRESS.fullmatch(text)
        if named:
            return named["name"].strip()
    return text


@lru_cache(maxsize=4096)
def _read(author: str, agencies: frozenset[str], outlet: str) -> Byline:
    text = _without_addresses(visible(author, keep_joiners=True))
    credits: list[str] = []

    def credit(part: str) -> None:
        if part and part not in credits:
            credits.append(part)

    for inner in _PARENTHESES.findall(text):
        credit(inner.strip())
    text = " ".join(_PARENTHESES.sub(" ", text).split())
    people: list[str] = []
    outlet_key = credit_key(outlet)
    for wrote, segment in _by_role(text):
        for index, raw_part in enumerate(_SEPARATORS.split(_LEADING_BY.sub("", segment))):
            raw_part = _LEADING_BY.sub("", raw_part.strip(" .:-–—"))
            for part in _split_attached_conjunction(raw_part, after_separator=index > 0):
                wrote_for = _FOR_OUTLET.search(part)
                if wrote_for:
                    credit(wrote_for["outlet"])
                    part = part[: wrote_for.start()]
                name = _PLACE_SUFFIX.sub("", part)
                # The title is read before the place: "Editor in Chief Jane Doe" is no
                # "Editor" in "Chief Jane Doe".
                named = named_after_role(part, agencies, outlet_key)
                if named is not None and wrote:
                    title = part[: -len(named)].strip()
                    named = _PLACE_SUFFIX.sub("", named)
                    if _is_person(named, agencies, outlet_key):
                        credit(title)
                        name = named
                if wrote and _is_person(name, agencies, outlet_key):
                    person = _display(name)
                    if person_key(person) not in map(person_key, people):
                        people.append(person)
                else:
                    credit(part)
    return Byline(people=tuple(people), credits=tuple(credits))


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


def _by_role(text: str) -> list[tuple[bool, str]]:
    """``text`` cut before each role a wire names ("Reporting by A; Editing by B"), each
    segment with whether its people wrote the piece: the first segment's, and those of a
    reporting or writing role, did; an editor's or a contributor's after them did not."""
    segments: list[tuple[bool, str]] = []
    wrote, start = True, 0
    for found in _ROLE_BY.finditer(text):
        segments.append((wrote, _JOINER_AT_END.sub("", text[start : found.start()])))
        role = " ".join(found["role"].casefold().split())
        wrote = not segments[-1][1] or role in _WRITING_ROLES or role.startswith("words")
        start = found.end()
    segments.append((wrote, text[start:]))
    return [(wrote, segment) for wrote, segment in segments if segment]


def _split_attached_conjunction(part: str, *, after_separator: bool = False) -> list[str]:
    """ "أحمد علي ومحمد حسن" is two people: a conjunction written onto the first word of a
    name of two or more words, after a name of two or more words. ``after_separator``: the part
    follows a comma (or another separator) in the byline, where a list's last name takes its
    "and" ("أحمد علي، محمد حسن، وخالد عمر"): there the part's first word may hold one too."""
    names: list[str] = []
    words = part.split()
    start = 0
    for index in range(len(words) - 1):
        word = words[index]
        joined = index - start >= 2 or (index == 0 and after_separator)
        if (
            joined
            and word[:1] in _CONJUNCTIONS
            and len(word) > 2
            and word not in NAMES_OPENING_LIKE_AND
            and is_rtl(word)
        ):
            names.append(" ".join(words[start:index]))
            words[index] = word[1:]
            start = index
    names.append(" ".join(words[start:]))
    return [name for name in names if name]


def is_rtl(word: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in word)


def _is_person(name: str, agencies: frozenset[str], outlet_key: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= MAX_NAME_WORDS:
        return False
    if any(char.isdigit() for char in name) or not any(char.isalpha() for char in name):
        return False
    # "Not Available": a content system's stand-in, which "More from" would group by.
    if _NO_AUTHOR.fullmatch(name):
        return False
    key = credit_key(name)
    if key in AGENCY_KEYS or key in agencies:
        return False
    # "The Washington Post", "The Conversation": an English name opens with no article.
    if words[0] in ("The", "THE", "the"):
        return False
    # A wire's or a broadcaster's service: "AP Photo", "CNN Business", "Reuters Graphics".
    if DOTS.sub("", words[0]).casefold() in WIRE_SERVICES:
        return False
    folded = {
        word.strip(".,'’:").casefold().removesuffix("'s").removesuffix("’s") for word in words
    }
    folded |= {word.removeprefix("ال") for word in folded if len(word) > 4}
    if folded & DESK_WORDS:
        return False
    # The feed's own name, alone or with an edition after it ("The Week UK" in "The Week").
    return not outlet_key or not (
        key == outlet_key or key.startswith(outlet_key + " ") or outlet_key.startswith(key + " ")
    )


def _display(name: str) -> str:
    """ "JANE DOE" (a byline in capitals) as Jane Doe; any other spelling as written."""
    letters = [char for char in name if char.isalpha()]
    if letters and all(char.isupper() for char in letters) and len(letters) > 3:
        return name.title()
    return name


@dataclass(frozen=True, slots=True)
class Bylines:
    """The bylines reader of a config: the default agencies plus each feed's ``agency_bylines``
    (by feed name)."""

    per_feed: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def for_feeds(cls, feeds: Sequence[FeedSettings]) -> Bylines:
        """The reader of the config's feeds."""
        return cls({feed.name: frozenset(feed.agency_bylines) for feed in feeds})

    def read(self, author: str | None, feed_name: str) -> Byline:
        return read_byline(author, agencies=self.per_feed.get(feed_name, ()), outlet=feed_name)

    def of(self, article: Article) -> Byline:
        """Who wrote ``article``. An aggregator credits the outlet it took the article from both
        as the author and as a tag opening the summary ("[Africa Check] No, photos..."): that
        author is an outlet, not a person."""
        byline = self.read(article.author, article.feed_name)
        if byline.people and article.author:
            tag = article.summary_text[: MAX_BYLINE_CHARS + 2]
            if tag.startswith("[") and person_key(tag[1:].partition("]")[0]) == person_key(
                article.author
            ):
                return Byline(people=(), credits=(*byline.people, *byline.credits))
        return byline

    def people(self, article: Article) -> tuple[str, ...]:
        return self.of(article).people

    def shared_person(self, head: Article, others: Sequence[Article]) -> str | None:
        """The person ``head`` and every one of ``others`` name: whom a "More from" is from."""
        shared = None
        for article in others:
            keys = set(self.of(article).keys)
            shared = keys if shared is None else shared & keys
        for person in self.people(head):
            if shared is None or person_key(person) in shared:
                return person
        return None


DEFAULT = Bylines()
