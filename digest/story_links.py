"""Whether two reports may be one story: what an article is compared by, and a pair's strength.

    article ─► profile (word fingerprint without dates, names, numbers, weekdays, time, script)
    pair    ─► similarity over the bar it must reach (1.0 or more links it alone), or a
               cannot-link when the reports are more than STORY_SPAN apart

Reports of one event from the same outlet are held to a higher bar (``SAME_FEED_THRESHOLD``): an
outlet's pieces share its style. What keeps two events on one subject apart (two days of one
war, the next rate decision):

- time: reports more than ``STORY_SPAN`` apart are never one story; beyond ``CLOSE_SPAN`` the bar
  is raised by ``LATE_FACTOR``;
- figures and days: two reports that each give numbers, or each name a day of the week, and
  share none, face a bar raised by ``CONFLICT_FACTOR``; a shared figure lowers it a little.

Short pieces on one event, a title and a sentence, share few words but their headline's: two
titles that agree (``HEADLINE_WORDS`` shared with a phrase among them, a kicker such as
"Winter Olympics:" left out) face a lower bar within ``CLOSE_SPAN``, with no conflict of figures
or days.

Across languages (English and Arabic, Hebrew, Persian) words are never shared, so reports are
compared by the share of names and numbers they have in common (``digest.names``), and also by a
multilingual sentence model when the optional ``semantic`` extra is installed
(``digest.semantic``), whichever is surer. How pairs become stories is ``digest.stories``.
"""

from __future__ import annotations

import itertools
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from digest import dedup, names
from digest.records import Article

# A pair's strength is its similarity over the bar it must reach: 1.0 or more links it alone.
THRESHOLD = 0.2  # word similarity of two reports of one event (dedup.THRESHOLD, measured)
SAME_FEED_THRESHOLD = 0.25  # one outlet's pieces share its style and stock phrases
# Across languages: the share of names and numbers in common, and at least this many of them.
ACROSS_THRESHOLD = 0.34
ACROSS_SHARED = 3
SEMANTIC_THRESHOLD = 0.62  # cosine of the optional sentence model, across languages
CLOSE_SPAN = timedelta(hours=14)
LATE_FACTOR = 1.75  # the bar is raised this much for reports CLOSE_SPAN to STORY_SPAN apart
STORY_SPAN = timedelta(hours=30)  # never one story beyond this
CONFLICT_FACTOR = 2.25  # and this much when both give numbers, or days, and share none
SHARED_FIGURE_FACTOR = 0.8  # lowered this much when they share a figure ("5.6", "31", "4.4")
# A toll revised upwards is the same count, not another event: the later report's whole number
# of two digits or more within this factor above one of the earlier's ("kills 31", then "rises
# to 38" that day, within CLOSE_SPAN) lifts the conflict of figures. Tolls only rise: a smaller
# one, or one a day later, stays a conflict.
REVISED_FIGURE = 1.5
# Two reports in one language must share this many word features (a title word counts twice): a
# bare headline shares one word with its neighbour ("Magazine solutions", "Magazine printables").
MIN_SHARED_WORDS = 3
# A short headline names a column as often as an event ("Live updates", "Morning briefing",
# "Letters"): two reports that each carry a summary and share none of its words are one story
# only when their headlines agree (HEADLINE_WORDS below), never on a shorter headline alone.
# Headlines that agree: two titles in one language sharing HEADLINE_WORDS content words, two of
# them side by side in both (a phrase: "nuclear talks", "US-brokered talks"), or
# HEADLINE_WORDS_ALONE of them, within CLOSE_SPAN and with no conflict of figures or days, are
# held to a lower bar. Short analysis pieces on one event (a title and a sentence) share few
# words beyond their headline's (word similarity 0.14-0.17 on the captured Iran talks), and on
# the labelled sets no two different events of this shape reach 0.12. One outlet's pieces keep
# a higher bar, as everywhere here: an outlet repeats its own phrasing.
HEADLINE_WORDS = 3
HEADLINE_WORDS_ALONE = 4
HEADLINE_THRESHOLD = 0.12
HEADLINE_SAME_FEED_THRESHOLD = 0.2
# A kicker opening a title ("Winter Olympics: ...", "South Africa: ...", "Media: ...") names a
# series, a desk or a country that many stories share: its words are no evidence of one story.
_KICKER = re.compile(r"^[^:]{1,40}:\s")
# Two titles the same but for their numbers ("Day 10 of the siege", "Day 11 of the siege";
# "Story 10", "Story 11") number things in a series, where a revised toll changes the sentence
# around its figure too ("kills 31", then "toll rises to 38"): Profile.numbered, compared.
_DIGITS = re.compile(r"\d+")
# Stories this far apart may be one thread (digest.stories.THREAD_STRENGTH): a thread runs
# across days.
THREAD_GAP = timedelta(hours=12)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Profile:
    """What an article is compared by."""

    article: Article
    words: dedup.Fingerprint
    specifics: frozenset[str]  # name keys and numbers
    numbers: frozenset[str]
    weekdays: frozenset[int]
    headline: frozenset[str]  # the title's content words (dedup.title_words)
    summary_words: frozenset[str]  # the summary's content words, as features (dedup.features)
    phrases: frozenset[tuple[str, str]]  # ...and its pairs of them side by side
    script: str  # "latin", "arabic", "hebrew" or "other"
    features: frozenset[int]  # words and specifics, hashed: what candidate pairs are found by
    # Worked out once an article rather than once a pair:
    word_set: frozenset[int]  # words, as a set
    language: str  # the declared language without its region, folded ("" when none)
    counts: tuple[int, ...]  # the whole numbers of two to nine digits (see _revised)
    numbered: str  # the title folded, its numbers as "#" (see _DIGITS)

    @property
    def key(self) -> str:
        return self.article.link


def _script(text: str) -> str:
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            if "\u0600" <= char <= "\u06ff" or "\u0750" <= char <= "\u08ff":
                counts["arabic"] += 1
            elif "\u0590" <= char <= "\u05ff":
                counts["hebrew"] += 1
            elif char.isascii() or "\u00c0" <= char <= "\u024f":
                counts["latin"] += 1
            else:
                counts["other"] += 1
    return counts.most_common(1)[0][0] if counts else "other"


def profile_of(article: Article) -> Profile:
    text = f"{article.title}\n{article.summary_text}"
    # The stored fingerprint is not used: dates are taken out first (names.without_dates).
    title = names.without_dates(article.title)
    summary = names.without_dates(article.summary_text)
    words = dedup.fingerprint(title, summary)
    word_set = frozenset(words)
    numbers = names.numbers(text)
    specifics = names.names(text) | numbers
    hashed = frozenset(zlib.crc32(b"#" + value.encode()) for value in specifics)
    headline = dedup.title_words(_KICKER.sub("", title, count=1))
    # Counts of people and things: two to nine digits (int() refuses a string of thousands).
    counts = tuple(int(n) for n in numbers if n.isdigit() and 1 < len(n) < 10)
    return Profile(
        article,
        words,
        specifics,
        numbers,
        names.weekdays(text),
        frozenset(headline),
        frozenset(dedup.features("", summary)),
        frozenset(itertools.pairwise(headline)),
        _script(text[:300]),  # the title and the summary's start tell the script
        word_set | hashed,
        word_set,
        (article.language or "").split("-")[0].casefold(),
        counts,
        _DIGITS.sub("#", article.title.casefold()),
    )


# (lower id, higher id) -> Links.pair, or its story link alone when the thread link is 0.0 (as
# it is for most pairs, those less than THREAD_GAP apart): two floats in a tuple take some 80
# bytes more than one, and the strengths kept run to hundreds of thousands.
Strengths = dict[tuple[int, int], float | tuple[float, float]]


class Known(threading.local):
    """Profiles and pair strengths worked out by earlier groupings in this thread, by article id.

    An edition's variants group subsets of its articles, and the lists built in one process
    group much the same day's articles: each article is profiled, and each pair compared, once
    while it stays here. An article whose fields differ from those of its profile here (an
    entry edited since) is profiled again, and the strengths kept are dropped, as some of them
    were its own. Bounded: emptied when full. One per thread, as a grouping adds to it as it goes.
    """

    PROFILES = 20_000
    PAIRS = 400_000

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.strengths: Strengths = {}

    def profiles_of(self, articles: Iterable[Article]) -> dict[int, Profile]:
        """Each article's profile (``profile_of``), by article id."""
        given = list(articles)
        new = sum(1 for article in given if article.id not in self.profiles)
        if len(self.profiles) + new > self.PROFILES:
            self.profiles.clear()
            self.strengths.clear()
        elif len(self.strengths) > self.PAIRS:
            self.strengths.clear()
        found: dict[int, Profile] = {}
        for article in given:
            profile = self.profiles.get(article.id)
            if profile is None or profile.article != article:
                if profile is not None:  # strengths are by id: drop those of its old fields
                    self.strengths.clear()
                profile = self.profiles[article.id] = profile_of(article)
            found[article.id] = profile
        return found


class Links:
    """Pair similarities, worked out once each, and whether a pair may be one story.

    ``known`` holds strengths already worked out from the same profiles (``Known``); without a
    sentence model's vectors, a pair's strength depends on the two profiles alone."""

    def __init__(
        self,
        profiles: Mapping[int, Profile],
        semantic: Mapping[int, Sequence[float]],
        known: Strengths | None = None,
    ):
        self._profiles = profiles
        self._semantic = semantic
        self._cache: Strengths = {} if known is None or semantic else known

    def pair(self, a: int, b: int) -> tuple[float, float]:
        """(story link, thread link) of two articles: a similarity, or -1.0 for cannot-link."""
        key = (a, b) if a < b else (b, a)
        found = self._cache.get(key)
        if found is None:
            story, thread = self._link(self._profiles[a], self._profiles[b])
            self._cache[key] = story if thread == 0.0 else (story, thread)
            return story, thread
        return found if isinstance(found, tuple) else (found, 0.0)

    def _link(self, a: Profile, b: Profile) -> tuple[float, float]:
        same_feed = a.article.feed_id == b.article.feed_id
        if a.script == b.script and not _other_languages(a, b):
            similar = dedup.similarity(a.word_set, b.word_set)
            if len(a.word_set & b.word_set) < MIN_SHARED_WORDS or _only_headlines_shared(a, b):
                similar = 0.0
            bar = SAME_FEED_THRESHOLD if same_feed else THRESHOLD
            one_language = True
        else:
            similar, bar = self._across(a, b)
            one_language = False
        apart = abs(a.article.sort_time - b.article.sort_time)
        thread = similar / bar if apart >= THREAD_GAP else 0.0
        if apart > STORY_SPAN:
            return -1.0, thread
        if apart > CLOSE_SPAN:
            bar *= LATE_FACTOR
        in_order = (a.article.sort_time, a.key) <= (b.article.sort_time, b.key)
        earlier, later = (a, b) if in_order else (b, a)
        figures = _conflict(a.numbers, b.numbers) and not (
            apart <= CLOSE_SPAN
            and _revised(earlier.counts, later.counts)
            and a.numbered != b.numbered  # numbered alike: a series, not a revised toll
        )
        if figures or _conflict(a.weekdays, b.weekdays):
            bar *= CONFLICT_FACTOR
            return similar / bar, thread
        if any(len(figure) > 1 for figure in a.numbers & b.numbers):
            bar *= SHARED_FIGURE_FACTOR
        if one_language and apart <= CLOSE_SPAN and _headlines_agree(a, b):
            bar = min(bar, HEADLINE_SAME_FEED_THRESHOLD if same_feed else HEADLINE_THRESHOLD)
        return similar / bar, thread

    def _across(self, a: Profile, b: Profile) -> tuple[float, float]:
        """(similarity, its bar) of two reports in different languages: by the names and
        numbers they share, or by the sentence model when it is surer."""
        shared = a.specifics & b.specifics
        found = 0.0
        if len(shared) >= ACROSS_SHARED:
            found = len(shared) / len(a.specifics | b.specifics)
        first, second = self._semantic.get(a.article.id), self._semantic.get(b.article.id)
        if first is not None and second is not None:
            cosine = sum(x * y for x, y in zip(first, second, strict=True))
            if cosine / SEMANTIC_THRESHOLD > found / ACROSS_THRESHOLD:
                return cosine, SEMANTIC_THRESHOLD
        return found, ACROSS_THRESHOLD


def _headlines_agree(a: Profile, b: Profile) -> bool:
    """The titles share ``HEADLINE_WORDS`` content words with a phrase among them, or
    ``HEADLINE_WORDS_ALONE`` words: see ``HEADLINE_THRESHOLD``."""
    shared = len(a.headline & b.headline)
    return shared >= HEADLINE_WORDS_ALONE or (
        shared >= HEADLINE_WORDS and not a.phrases.isdisjoint(b.phrases)
    )


def _only_headlines_shared(a: Profile, b: Profile) -> bool:
    """Both carry a summary, the summaries share no word and the headlines do not agree: see
    ``MIN_SHARED_WORDS``."""
    return (
        bool(a.summary_words)
        and bool(b.summary_words)
        and a.summary_words.isdisjoint(b.summary_words)
        and not _headlines_agree(a, b)
    )


def _conflict(first: frozenset[T], second: frozenset[T]) -> bool:
    """Both give some (numbers, days of the week) and none is the same."""
    return bool(first) and bool(second) and not first & second


def _revised(earlier: Sequence[int], later: Sequence[int]) -> bool:
    """The later report raises a count of the earlier one (``Profile.counts``): see
    ``REVISED_FIGURE``."""
    return any(old < new <= old * REVISED_FIGURE for new in later for old in earlier)


def _other_languages(a: Profile, b: Profile) -> bool:
    """Both feeds declare a language, and not the same one ("fa" and "ar"; "en" and "en-GB"
    are the same): one script, but words that are not shared."""
    return bool(a.language) and bool(b.language) and a.language != b.language
