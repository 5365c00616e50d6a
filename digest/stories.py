"""Stories: an edition's articles grouped into reports of one event, and events into threads.

    articles ─► profiles and pair strengths (digest.story_links: 1.0 links a pair alone, a
                cannot-link when the reports cannot be one story; kept for the thread's next
                grouping, story_links.Known: an edition's variants, the day's other lists)
             ─► candidate pairs (sharing less common features; bounded per article)
             ─► stories: pairs merged strongest first while no cross pair is a cannot-link and
                 the strengths average AVERAGE_STRENGTH (average linkage with cannot-links)
             ─► threads: stories merged the same way, time and figures set aside, across days

Grouping happens when an edition is composed, from the articles alone, so the result depends on
the set of articles and never on the order feeds were polled in or articles were numbered: every
order in the method is by strength, then by the articles' links (unique, and the same whatever
the poll order).

Average linkage is what keeps a week of one subject apart: a story joins another only when the
reports are similar on average, so a chain of pairwise resemblances never glues two days of one
war into one story. What a single pair must show is in ``digest.story_links``.

A developing story — the same thread across days — shows at most ``THREAD_ITEMS`` items in one
section; ``shown`` applies that to a list of articles in rank order. The figures of all this on
labelled sets are in ``docs/stories.md`` (``python bench/dedup_quality.py``).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from digest import dedup
from digest.records import Article
from digest.story_links import Known, Links, Profile

AVERAGE_STRENGTH = 0.6  # two groups merge when their pairs' strengths average this much
# Stories of one thread: this strong, time and figures set aside, and story_links.THREAD_GAP or
# more apart: a thread runs across days.
THREAD_STRENGTH = 1.25
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
_KNOWN = Known()  # what earlier groupings in this thread worked out (story_links.Known)
Encoder = Callable[[Sequence[str]], Sequence[Sequence[float]]]


@dataclass(frozen=True, slots=True)
class Stories:
    """Article id -> its story's key and its thread's key (the least link among the members)."""

    story: Mapping[int, str]
    thread: Mapping[int, str]


def group(articles: Iterable[Article], *, encoder: Encoder | None = None) -> Stories:
    """The stories and threads of ``articles`` (module docstring). ``encoder`` embeds texts for
    the comparison across scripts (``digest.semantic``); without it names and numbers are used."""
    profiles = _KNOWN.profiles_of(articles)
    semantic: dict[int, Sequence[float]] = {}
    if encoder is not None and len({p.script for p in profiles.values()}) > 1:
        ids = sorted(profiles, key=lambda article_id: profiles[article_id].key)
        texts = [f"{profiles[i].article.title}. {profiles[i].article.summary_text}" for i in ids]
        semantic = dict(zip(ids, encoder(texts), strict=True))
    links = Links(profiles, semantic, _KNOWN.strengths)
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


def _candidate_pairs(profiles: Mapping[int, Profile]) -> set[tuple[int, int]]:
    """Pairs (lower id first) worth comparing in full: see ``CANDIDATES``."""
    postings: dict[int, list[int]] = {}
    for article_id, profile in profiles.items():
        for feature in profile.features:
            postings.setdefault(feature, []).append(article_id)
    key = {article_id: profile.key for article_id, profile in profiles.items()}
    common = max(COMMON_FLOOR, int(len(profiles) * COMMON_SHARE))
    # A common feature still suggests the articles nearest in time that hold it (a story told
    # by many outlets makes its own words common): each posting in order of time, then link.
    places: dict[int, dict[int, int]] = {}
    when = {
        article_id: (profile.article.sort_time, key[article_id])
        for article_id, profile in profiles.items()
    }
    for feature, posting in postings.items():
        if len(posting) > common:
            posting.sort(key=when.__getitem__)
            places[feature] = {article_id: at for at, article_id in enumerate(posting)}
    pairs: set[tuple[int, int]] = set()
    for article_id, profile in profiles.items():
        near: list[list[int]] = []
        for feature in profile.features:
            posting = postings[feature]
            if feature in places:
                at = places[feature][article_id]
                near.append(posting[max(0, at - COMMON_NEIGHBOURS) : at + COMMON_NEIGHBOURS + 1])
            else:
                near.append(posting)
        shared = Counter(itertools.chain.from_iterable(near))  # counted in one call
        del shared[article_id]
        least = 2 if len(profile.features) > dedup.MIN_SHARED else 1
        pool = [(-count, key[other], other) for other, count in shared.items() if count >= least]
        # The most shared first, ties by link: the same pairs whatever order articles came in.
        for _, _, other in heapq.nsmallest(CANDIDATES, pool, key=lambda e: e[:2]):
            pairs.add((min(article_id, other), max(article_id, other)))
    return pairs


def _nearest_across_languages(profiles: Mapping[int, Profile]) -> set[tuple[int, int]]:
    """Each article with the ``COMMON_NEIGHBOURS`` nearest in time of each other language."""
    by_language: dict[str, list[int]] = {}
    for article_id, profile in profiles.items():
        language = profile.language or profile.script
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
    profiles: Mapping[int, Profile],
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
    # Two groups found apart stay apart until the sample of one of them changes: the same
    # samples give the same average. Each group's sample is numbered; a pair found apart is kept
    # with its groups' numbers.
    drawn = dict.fromkeys(members, 0)
    apart: set[tuple[int, int, int, int]] = set()
    for a, b in edges:
        first, second = group_of[a], group_of[b]
        if first == second:
            continue
        found = (first, drawn[first], second, drawn[second])
        if found in apart:
            continue
        average = _average(sample[first], sample[second], link)
        if average is None or average < threshold:
            apart.add(found)
            continue
        # The smaller group moves (each article moves a logarithmic number of times at most).
        big, small = (
            (first, second) if len(members[first]) >= len(members[second]) else (second, first)
        )
        moved = members.pop(small)
        for member in moved:
            group_of[member] = big
        members[big].extend(moved)
        merged = sorted((*sample[big], *sample.pop(small)), key=key.__getitem__)[:AVERAGE_MEMBERS]
        if merged != sample[big]:
            sample[big] = merged
            drawn[big] += 1
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
    profiles: Mapping[int, Profile],
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
