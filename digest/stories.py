"""Stories: an edition's articles grouped into reports of one event, and events into threads.

    articles ─► profiles (word fingerprint without dates, names, numbers, weekdays, time, script)
             ─► candidate pairs (sharing less common features; bounded per article)
             ─► pair strength: similarity over the bar the pair must reach (1.0 links it alone),
                 or a cannot-link when the reports are more than STORY_SPAN apart
             ─► stories: pairs merged strongest first while no cross pair is a cannot-link and
                 the strengths average AVERAGE_STRENGTH (average linkage with cannot-links)
             ─► threads: stories merged the same way, time and figures set aside, across days

Grouping happens when an edition is composed, from the articles alone, so the result depends on
the set of articles and never on the order feeds were polled in or articles were numbered: every
order in the method is by strength, then by the articles' links (unique, and the same whatever
the poll order). Reports of one event from the same outlet merge too, at a higher bar
(``SAME_FEED_THRESHOLD``): an outlet's pieces share its style.

What keeps two events on one subject apart (two days of one war, the next rate decision):

- time: reports more than ``STORY_SPAN`` apart are never one story; beyond ``CLOSE_SPAN`` the bar
  is raised by ``LATE_FACTOR``;
- figures and days: two reports that each give numbers, or each name a day of the week, and
  share none, face a bar raised by ``CONFLICT_FACTOR``; a shared figure lowers it a little;
- average linkage: a story joins another only when the reports are similar on average, so a
  chain of pairwise resemblances never glues a week of one subject into one story.

Short pieces on one event, a title and a sentence, share few words but their headline's: two
titles that agree (``HEADLINE_WORDS`` shared with a phrase among them, a kicker such as
"Winter Olympics:" left out) face a lower bar within ``CLOSE_SPAN``, with no conflict of figures
or days.

Across languages (English and Arabic, Hebrew, Persian) words are never shared, so reports are
compared by the share of names and numbers they have in common (``digest.names``), and also by a
multilingual sentence model when the optional ``semantic`` extra is installed
(``digest.semantic``), whichever is surer.

A developing story — the same thread across days — shows at most ``THREAD_ITEMS`` items in one
section; ``shown`` applies that to a list of articles in rank order. The figures of all this on
labelled sets are in ``docs/stories.md`` (``python bench/dedup_quality.py``).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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
AVERAGE_STRENGTH = 0.6  # two groups merge when their pairs' strengths average this much
THREAD_STRENGTH = 1.25  # stories of one thread: this strong, time and figures set aside...
THREAD_GAP = timedelta(hours=12)  # ...and this far apart: a thread runs across days
THREAD_AVERAGE = 1.0
THREAD_ITEMS = 2
# Two groups are compared by at most this many members each (the first by link): a feed that
# repeats one text under a thousand links makes one story at a bounded cost.
AVERAGE_MEMBERS = 16
# Candidate pairs: each article is compared in full with at most CANDIDATES others, those that
# share the most of its less common features; a feature in more than COMMON_SHARE of the articles
# (and more than COMMON_FLOOR) counts only between articles near in time (COMMON_NEIGHBOURS). With
# the sentence model, each article is also compared with the COMMON_NEIGHBOURS nearest in time of
# every other language. The cost grows with the number of articles, never with its square.
CANDIDATES = 24
COMMON_SHARE = 0.05
COMMON_FLOOR = 12
COMMON_NEIGHBOURS = 8  # ...but the articles this near in time holding it still count

T = TypeVar("T")
Encoder = Callable[[Sequence[str]], Sequence[Sequence[float]]]


@dataclass(frozen=True, slots=True)
class _Profile:
    """What an article is compared by."""

    article: Article
    words: dedup.Fingerprint
    specifics: frozenset[str]  # name keys and numbers
    numbers: frozenset[str]
    weekdays: frozenset[int]
    headline: frozenset[str]  # the title's content words (dedup.title_words)
    phrases: frozenset[tuple[str, str]]  # ...and its pairs of them side by side
    script: str  # "latin", "arabic", "hebrew" or "other"
    features: frozenset[int]  # words and specifics, hashed: what candidate pairs are found by

    @property
    def key(self) -> str:
        return self.article.link


@dataclass(frozen=True, slots=True)
class Stories:
    """Article id -> its story's key and its thread's key (the least link among the members)."""

    story: Mapping[int, str]
    thread: Mapping[int, str]

    def members(self) -> dict[str, list[int]]:
        grouped: dict[str, list[int]] = {}
        for article_id, story in self.story.items():
            grouped.setdefault(story, []).append(article_id)
        return grouped


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


def _profile(article: Article) -> _Profile:
    text = f"{article.title}\n{article.summary_text}"
    # The stored fingerprint is not used: dates are taken out first (names.without_dates).
    words = dedup.fingerprint(
        names.without_dates(article.title), names.without_dates(article.summary_text)
    )
    numbers = names.numbers(text)
    specifics = names.names(text) | numbers
    hashed = frozenset(zlib.crc32(b"#" + value.encode()) for value in specifics)
    headline = dedup.title_words(_KICKER.sub("", names.without_dates(article.title), count=1))
    return _Profile(
        article,
        words,
        specifics,
        numbers,
        names.weekdays(text),
        frozenset(headline),
        frozenset(itertools.pairwise(headline)),
        _script(text[:300]),  # the title and the summary's start tell the script
        frozenset(words) | hashed,
    )


class _Links:
    """Pair similarities, worked out once each, and whether a pair may be one story."""

    def __init__(self, profiles: Mapping[int, _Profile], semantic: Mapping[int, Sequence[float]]):
        self._profiles = profiles
        self._semantic = semantic
        self._cache: dict[tuple[int, int], tuple[float, float]] = {}

    def pair(self, a: int, b: int) -> tuple[float, float]:
        """(story link, thread link) of two articles: a similarity, or -1.0 for cannot-link."""
        key = (a, b) if a < b else (b, a)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._link(self._profiles[a], self._profiles[b])
        return found

    def _link(self, a: _Profile, b: _Profile) -> tuple[float, float]:
        same_feed = a.article.feed_id == b.article.feed_id
        if a.script == b.script and not _other_languages(a, b):
            similar = dedup.similarity(a.words, b.words)
            if len(set(a.words) & set(b.words)) < MIN_SHARED_WORDS:
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
        earlier, later = sorted((a, b), key=lambda p: (p.article.sort_time, p.key))
        figures = _conflict(a.numbers, b.numbers) and not (
            apart <= CLOSE_SPAN
            and _revised(earlier.numbers, later.numbers)
            and not _numbered_alike(a.article.title, b.article.title)
        )
        if figures or _conflict(a.weekdays, b.weekdays):
            bar *= CONFLICT_FACTOR
            return similar / bar, thread
        if any(len(figure) > 1 for figure in a.numbers & b.numbers):
            bar *= SHARED_FIGURE_FACTOR
        if one_language and apart <= CLOSE_SPAN and _headlines_agree(a, b):
            bar = min(bar, HEADLINE_SAME_FEED_THRESHOLD if same_feed else HEADLINE_THRESHOLD)
        return similar / bar, thread

    def _across(self, a: _Profile, b: _Profile) -> tuple[float, float]:
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


def _headlines_agree(a: _Profile, b: _Profile) -> bool:
    """The titles share ``HEADLINE_WORDS`` content words with a phrase among them, or
    ``HEADLINE_WORDS_ALONE`` words: see ``HEADLINE_THRESHOLD``."""
    shared = len(a.headline & b.headline)
    return shared >= HEADLINE_WORDS_ALONE or (
        shared >= HEADLINE_WORDS and not a.phrases.isdisjoint(b.phrases)
    )


def _conflict(first: frozenset[T], second: frozenset[T]) -> bool:
    """Both give some (numbers, days of the week) and none is the same."""
    return bool(first) and bool(second) and not first & second


def _revised(earlier: frozenset[str], later: frozenset[str]) -> bool:
    """The later report raises a count of the earlier one: see ``REVISED_FIGURE``."""
    # Counts of people and things: two to nine digits (int() refuses a string of thousands).
    first = [int(n) for n in earlier if n.isdigit() and 1 < len(n) < 10]
    return any(
        old < int(new) <= old * REVISED_FIGURE
        for new in later
        if new.isdigit() and 1 < len(new) < 10
        for old in first
    )


_DIGITS = re.compile(r"\d+")


def _numbered_alike(first: str, second: str) -> bool:
    """Two titles the same but for their numbers ("Day 10 of the siege", "Day 11 of the
    siege"; "Story 10", "Story 11") number things in a series: a revised toll changes the
    sentence around its figure too ("kills 31", then "toll rises to 38")."""
    return _DIGITS.sub("#", first.casefold()) == _DIGITS.sub("#", second.casefold())


def _other_languages(a: _Profile, b: _Profile) -> bool:
    """Both feeds declare a language, and not the same one ("fa" and "ar"; "en" and "en-GB"
    are the same): one script, but words that are not shared."""
    first, second = (
        (profile.article.language or "").split("-")[0].casefold() for profile in (a, b)
    )
    return bool(first) and bool(second) and first != second


def group(articles: Iterable[Article], *, encoder: Encoder | None = None) -> Stories:
    """The stories and threads of ``articles`` (module docstring). ``encoder`` embeds texts for
    the comparison across scripts (``digest.semantic``); without it names and numbers are used."""
    profiles = {article.id: _profile(article) for article in articles}
    semantic: dict[int, Sequence[float]] = {}
    if encoder is not None and len({p.script for p in profiles.values()}) > 1:
        ids = sorted(profiles, key=lambda article_id: profiles[article_id].key)
        texts = [f"{profiles[i].article.title}. {profiles[i].article.summary_text}" for i in ids]
        semantic = dict(zip(ids, encoder(texts), strict=True))
    links = _Links(profiles, semantic)
    pairs = _candidate_pairs(profiles)
    if semantic:
        pairs |= _nearest_across_languages(profiles)
    story_edges = _edges(profiles, pairs, lambda a, b: links.pair(a, b)[0], 1.0)
    story = _merge(profiles, story_edges, lambda a, b: links.pair(a, b)[0], AVERAGE_STRENGTH)
    thread_edges = _edges(
        profiles,
        (pair for pair in pairs if story[pair[0]] != story[pair[1]]),
        lambda a, b: links.pair(a, b)[1],
        THREAD_STRENGTH,
    )
    thread = _merge(
        profiles, thread_edges, lambda a, b: links.pair(a, b)[1], THREAD_AVERAGE, start=story
    )
    return Stories(
        story={i: profiles[story[i]].key for i in profiles},
        thread={i: profiles[thread[i]].key for i in profiles},
    )


def _candidate_pairs(profiles: Mapping[int, _Profile]) -> set[tuple[int, int]]:
    """Pairs (lower id first) worth comparing in full: see ``CANDIDATES``."""
    postings: dict[int, list[int]] = {}
    for article_id, profile in profiles.items():
        for feature in profile.features:
            postings.setdefault(feature, []).append(article_id)
    common = max(COMMON_FLOOR, int(len(profiles) * COMMON_SHARE))
    # A common feature still suggests the articles nearest in time that hold it (a story told
    # by many outlets makes its own words common): each posting in order of time, then link.
    places: dict[int, dict[int, int]] = {}
    for feature, posting in postings.items():
        if len(posting) > common:
            posting.sort(key=lambda i: (profiles[i].article.sort_time, profiles[i].key))
            places[feature] = {article_id: at for at, article_id in enumerate(posting)}
    pairs: set[tuple[int, int]] = set()
    for article_id, profile in profiles.items():
        shared: Counter[int] = Counter()
        for feature in profile.features:
            posting = postings[feature]
            if feature in places:
                at = places[feature][article_id]
                shared.update(posting[max(0, at - COMMON_NEIGHBOURS) : at + COMMON_NEIGHBOURS + 1])
            else:
                shared.update(posting)
        del shared[article_id]
        least = 2 if len(profile.features) > dedup.MIN_SHARED else 1
        pool = [
            (count, profiles[other].key, other) for other, count in shared.items() if count >= least
        ]
        # The most shared first, ties by link: the same pairs whatever order articles came in.
        for _, _, other in heapq.nsmallest(CANDIDATES, pool, key=lambda e: (-e[0], e[1])):
            pairs.add((min(article_id, other), max(article_id, other)))
    return pairs


def _nearest_across_languages(profiles: Mapping[int, _Profile]) -> set[tuple[int, int]]:
    """Each article with the ``COMMON_NEIGHBOURS`` nearest in time of each other language."""
    by_language: dict[str, list[int]] = {}
    for article_id, profile in profiles.items():
        language = (profile.article.language or "").split("-")[0].casefold() or profile.script
        by_language.setdefault(language, []).append(article_id)
    for members in by_language.values():
        members.sort(key=lambda i: (profiles[i].article.sort_time, profiles[i].key))
    pairs: set[tuple[int, int]] = set()
    for language, members in by_language.items():
        for other_language, others in by_language.items():
            if other_language == language:
                continue
            times = [profiles[i].article.sort_time for i in others]
            for article_id in members:
                at = bisect.bisect_left(times, profiles[article_id].article.sort_time)
                for other in others[max(0, at - COMMON_NEIGHBOURS) : at + COMMON_NEIGHBOURS]:
                    pairs.add((min(article_id, other), max(article_id, other)))
    return pairs


def _merge(
    profiles: Mapping[int, _Profile],
    edges: Sequence[tuple[int, int]],
    link: Callable[[int, int], float],
    threshold: float,
    *,
    start: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """Groups from ``edges`` taken strongest first: two groups merge when no pair between them
    is a cannot-link (negative) and their average link reaches ``threshold``, judged on the
    first ``AVERAGE_MEMBERS`` of each. ``start`` gives groups to begin with (article -> a member
    of its group). Returns each article's group, named by the member with the least link."""
    key = {article_id: profile.key for article_id, profile in profiles.items()}
    members: dict[int, list[int]] = {}
    for article_id in sorted(profiles, key=key.__getitem__):
        members.setdefault(start[article_id] if start else article_id, []).append(article_id)
    group_of = {member: head for head, group in members.items() for member in group}
    # The first AVERAGE_MEMBERS members of each group by link, kept as groups merge.
    sample = {head: group[:AVERAGE_MEMBERS] for head, group in members.items()}
    for a, b in edges:
        first, second = group_of[a], group_of[b]
        if first == second:
            continue
        average = _average(sample[first], sample[second], link)
        if average is None or average < threshold:
            continue
        # The smaller group moves (each article moves a logarithmic number of times at most).
        big, small = (
            (first, second) if len(members[first]) >= len(members[second]) else (second, first)
        )
        moved = members.pop(small)
        for member in moved:
            group_of[member] = big
        members[big].extend(moved)
        sample[big] = sorted((*sample[big], *sample.pop(small)), key=key.__getitem__)[
            :AVERAGE_MEMBERS
        ]
    # Each group named by its member with the least link.
    name = {head: min(group, key=key.__getitem__) for head, group in members.items()}
    return {article_id: name[head] for article_id, head in group_of.items()}


def _average(
    first: Sequence[int], second: Sequence[int], link: Callable[[int, int], float]
) -> float | None:
    """The average link between two groups, or None when a pair of them is a cannot-link."""
    total = 0.0
    for x in first:
        for y in second:
            value = link(x, y)
            if value < 0:
                return None
            total += value
    return total / (len(first) * len(second))


def _edges(
    profiles: Mapping[int, _Profile],
    pairs: Iterable[tuple[int, int]],
    value: Callable[[int, int], float],
    least: float,
) -> list[tuple[int, int]]:
    """The pairs whose link reaches ``least``, strongest first, ties in the order of the pair's
    links (never of their ids, which follow the poll order)."""
    edges: list[tuple[float, str, str, int, int]] = []
    for a, b in pairs:
        link = value(a, b)
        if link >= least:
            first, second = sorted((profiles[a].key, profiles[b].key))
            edges.append((-link, first, second, a, b))
    edges.sort(key=lambda edge: edge[:3])
    return [(a, b) for _, _, _, a, b in edges]


def shown(
    ranked: Sequence[T],
    article: Callable[[T], Article],
    section: Callable[[T], str],
    found: Stories,
) -> tuple[list[T], dict[int, list[Article]]]:
    """Of ``ranked`` (best first): the items an edition shows, one per story and at most
    ``THREAD_ITEMS`` per thread in a section, and for each shown item's article id the other
    reports of its story, best first. A story over its thread's share is left out whole."""
    kept: list[T] = []
    head_of: dict[str, int | None] = {}
    others: dict[int, list[Article]] = {}
    per_thread: Counter[tuple[str, str]] = Counter()
    for item in ranked:
        current = article(item)
        story = found.story.get(current.id, current.link)
        if story in head_of:
            head = head_of[story]
            if head is not None:
                others.setdefault(head, []).append(current)
            continue
        thread = (found.thread.get(current.id, story), section(item))
        if per_thread[thread] >= THREAD_ITEMS:
            head_of[story] = None
            continue
        per_thread[thread] += 1
        head_of[story] = current.id
        kept.append(item)
    return kept, others
