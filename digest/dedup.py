"""Near-duplicate stories: a MinHash fingerprint of each article's words, and clusters of them.

    title + summary ─► features (content words, folded) ─► fingerprint (bottom-k MinHash)
    fingerprint × recent articles' fingerprints ─► ClusterIndex.assign ─► cluster id

The fingerprint is a bottom-k MinHash sketch: every feature is hashed once (CRC-32) and the
``SKETCH_SIZE`` smallest hashes are kept. Two sketches estimate the Jaccard similarity of the
feature sets they came from (Broder 1997; Cohen & Kaplan 2007). A title and a 600-character
summary hold fewer features than ``SKETCH_SIZE``, so for articles the estimate is nearly always
the exact Jaccard index, computed from 64 integers per article without keeping any text. One hash
per feature, in C, makes a fingerprint cost microseconds without numpy; a library's k-permutation
MinHash would cost k hashes per feature for no gain on texts this short.

Features are the content words of the title and summary: Unicode-folded (case, accents, Arabic
and Hebrew points), stop words and words under three letters left out, each cut to its first
``STEM_LENGTH`` letters so "talks"/"talk", "Iran"/"Iranian" and "sanctions"/"sanctioned" meet.
Title words count once more, marked as title words: a headline says what the story is about.

Two articles from different feeds are the same story when their similarity reaches ``THRESHOLD``.
The threshold and its measured precision and recall on the labelled pairs in
``tests/data/dedup/`` are in the README ("Duplicate stories"); ``python bench/dedup_quality.py``
measures them again.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

SKETCH_SIZE = 64
STEM_LENGTH = 4
THRESHOLD = 0.2
# A feature found in more than this many recent articles is too common ("said", "Iran" in a Middle
# East service) to suggest a candidate on its own; it still counts in the similarity.
COMMON_FEATURE = 32
# Only the articles sharing the most less-common features are compared in full: another report of
# the same story shares its names and numbers, so it is among them; the cost per article is bounded.
CANDIDATES = 32
MIN_SHARED = 4  # fingerprints this short may match on a single shared feature

Fingerprint = tuple[int, ...]  # sorted, at most SKETCH_SIZE values

_WORD = re.compile(r"\w+")
# Accents, Arabic harakat and Hebrew niqqud: the marks NFKD splits off, deleted in one C pass.
_COMBINING_MARKS = {point: None for point in range(0x10000) if unicodedata.combining(chr(point))}
_STOP_WORDS = """
    the and for are but not you all any can had her was one our out has have his how its may new
    now old see two who did get him let put say she too use that with this from they will would
    there their what about which when were been into than them then these some could other more
    also after over only most such very just where while said says amid near last next first
    week weeks day days year years today yesterday monday tuesday wednesday thursday friday
    saturday sunday during before under between against again because being both each few those
    through until upon without within across among around per via told according including
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def features(title: str, summary: str) -> set[str]:
    """The words an article is compared by (module docstring)."""
    title_words = _words(title)
    return set(title_words) | {f"^{word}" for word in title_words} | set(_words(summary))


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_COMBINING_MARKS)
    return [
        word[:STEM_LENGTH]
        for word in _WORD.findall(folded)
        if (len(word) >= 3 or word.isdigit()) and word not in STOP_WORDS
    ]


def fingerprint(title: str, summary: str) -> Fingerprint:
    """The bottom-k MinHash sketch of the article's features."""
    hashes = {zlib.crc32(feature.encode("utf-8")) for feature in features(title, summary)}
    return tuple(sorted(hashes)[:SKETCH_SIZE])


def similarity(first: Iterable[int], second: Iterable[int]) -> float:
    """Estimated Jaccard similarity of the feature sets behind two fingerprints (0.0 to 1.0).

    The bottom-k estimator: of the k smallest hashes of the union, the share found in both. When
    the union holds no more than k hashes, that is the exact Jaccard index of the two sketches.
    """
    a, b = _as_set(first), _as_set(second)
    if not a or not b:
        return 0.0
    union = a | b
    if len(union) <= SKETCH_SIZE:
        return len(a & b) / len(union)
    cutoff = sorted(union)[SKETCH_SIZE - 1]
    return sum(1 for value in a & b if value <= cutoff) / SKETCH_SIZE


def _as_set(values: Iterable[int]) -> frozenset[int] | set[int]:
    return values if isinstance(values, frozenset | set) else set(values)


@dataclass(slots=True)
class _Indexed:
    article_id: int
    feed_id: int
    cluster_id: int
    fingerprint: frozenset[int]


@dataclass
class ClusterIndex:
    """Recent articles' fingerprints, searchable by feature: which cluster does a new one join?

    Candidates are the ``CANDIDATES`` articles sharing the most of the new fingerprint's less
    common features (see ``COMMON_FEATURE``), two at least; each is then compared in full. The
    best match at or above the threshold, from another feed, gives its cluster; else the article
    starts its own.
    """

    threshold: float = THRESHOLD
    _articles: dict[int, _Indexed] = field(default_factory=dict)
    _postings: defaultdict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def __len__(self) -> int:
        return len(self._articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def add(self, article_id: int, feed_id: int, cluster_id: int, sketch: Fingerprint) -> None:
        if article_id in self._articles:
            return
        self._articles[article_id] = _Indexed(article_id, feed_id, cluster_id, frozenset(sketch))
        for value in sketch:
            self._postings[value].append(article_id)

    def best_match(self, feed_id: int, sketch: Fingerprint) -> tuple[int, float] | None:
        """(cluster id, similarity) of the most similar indexed article of another feed."""
        shared: Counter[int] = Counter()
        for value in sketch:
            posting = self._postings.get(value, ())
            if len(posting) <= COMMON_FEATURE:
                shared.update(posting)
        # One shared word is chance; a report of the same story shares several.
        least = 2 if len(sketch) > MIN_SHARED else 1
        pool = [(count, article_id) for article_id, count in shared.items() if count >= least]
        features = frozenset(sketch)
        best: tuple[float, int] | None = None
        for _, article_id in heapq.nlargest(CANDIDATES, pool):
            other = self._articles[article_id]
            if other.feed_id == feed_id:
                continue
            score = similarity(features, other.fingerprint)
            # Ties go to the older article, so a cluster keeps the id of its first story.
            if score >= self.threshold and (best is None or (score, -article_id) > best):
                best = (score, -article_id)
        if best is None:
            return None
        return self._articles[-best[1]].cluster_id, best[0]

    def assign(self, article_id: int, feed_id: int, sketch: Fingerprint) -> int:
        """The cluster of a new article (its own id when it matches none), now indexed too."""
        match = self.best_match(feed_id, sketch)
        cluster_id = match[0] if match is not None else article_id
        self.add(article_id, feed_id, cluster_id, sketch)
        return cluster_id


def clusters(
    articles: Iterable[tuple[int, int, str, str]], threshold: float = THRESHOLD
) -> dict[int, int]:
    """Article id -> cluster id for (id, feed id, title, summary) rows taken in id order."""
    index = ClusterIndex(threshold=threshold)
    return {
        article_id: index.assign(article_id, feed_id, fingerprint(title, summary))
        for article_id, feed_id, title, summary in sorted(articles)
    }
