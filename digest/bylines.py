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

    byline_words   the agencies, wire services, desk words and titles, in each language
    person_keys    a name as compared: case, invisible characters, optional marks, titles aside
    byline_titles  a newsroom title before a name, read as a credit and the name after it
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from digest.byline_titles import is_rtl, named_after_role
from digest.byline_words import DESK_WORDS, NAMES_OPENING_LIKE_AND, WIRE_SERVICES
from digest.config import FeedSettings
from digest.person_keys import AGENCY_KEYS, DOTS, credit_key, is_agency, person_key, visible
from digest.records import Article

MAX_NAME_WORDS = 6
MAX_BYLINE_CHARS = 300  # read of an author field: the store keeps 200 (clean.AUTHOR_LIMIT)


# The kind of piece or work a byline may name before its "by": "Written by", "Opinion by".
_WORK_BY = (
    r"(?:written|words|reporting|reported|story|text|analysis|opinion|commentary|interview"
    r"|photos?|photographs|photography|pictures|video)\s+by"
)
# What opens a byline before the names: "By", "Written by", "Reporting by", بقلم، كتب، מאת،
# گزارش.
_LEADING_BY = re.compile(
    rf"^(?:{_WORK_BY}|by)\s*:?\s+"
    r"|^(?:بقلم|كتب|كتبت|إعداد|اعداد|تقرير|מאת|צילום|نویسنده|گزارش(?:گر)?"
    # Persian "written by" with its ezafe, as desks type it: "نوشته‌ی", "نوشتهٔ", "نوشتۀ", and
    # "به قلم" with a space or a zero-width non-joiner.
    r"|نوشت(?:ه(?:[\s\u200c]*ی|\u0654)?|\u06c0)|به[\s\u200c]+قلم)\s*:?\s+",
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


@dataclass(frozen=True, slots=True)
class Byline:
    """An author field read: the people named, and everything else it credits."""

    people: tuple[str, ...] = ()
    credits: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Each person's name as compared: case and spacing ignored."""
        return tuple(person_key(person) for person in self.people)


def read_byline(
    author: str | None, *, agencies: Iterable[str] = (), outlet: str | None = None
) -> Byline:
    """The people and credits of ``author``; ``agencies`` are a feed's own non-person bylines,
    ``outlet`` the feed's name (its own name in a byline is no person either)."""
    # Longer is no byline; the bound keeps every pattern below cheap on any input.
    text = (author or "")[:MAX_BYLINE_CHARS]
    return _read(text, frozenset(credit_key(name) for name in agencies), outlet or "")


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
