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
and Hebrew points), stop words (English ones, and in Persian text Persian ones:
``persian_words``) and words under three letters left out, each cut to its first
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
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, filterfalse

from digest import persian_words
from digest.letter_variants import DECIMAL_DIGITS, INVISIBLE_IN_WORDS, LETTER_VARIANTS

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


def _runs(points: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive code points, given in increasing order."""
    first = last = -2
    for point in points:
        if point != last + 1:
            if first >= 0:
                yield first, last
            first = point
        last = point
    if first >= 0:
        yield first, last


# Accents, Arabic harakat and Hebrew niqqud: the marks NFKD splits off. A regular expression
# deletes them some ten times faster than str.translate with a table of them (40 -> 4 us for an
# Arabic paragraph). The Basic Multilingual Plane's marks only, as ever: fingerprints are stored,
# and deleting the others too would change those of texts that hold one.
_COMBINING_MARKS = re.compile(
    "["
    + "".join(
        f"\\u{first:04x}-\\u{last:04x}"
        for first, last in _runs(p for p in range(0x10000) if unicodedata.combining(chr(p)))
    )
    + "]+"
)
# For ASCII text, a bytes.translate and split() in place of findall: \w matches [0-9A-Z_a-z] in
# ASCII, and every other byte becomes a space.
_ASCII_WORD_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_ASCII_WORDS = bytes(byte if byte in _ASCII_WORD_BYTES else 0x20 for byte in range(256))
# The same that also lowers A-Z (the table's entries for them), which is all that casefold and NFKD
# do to an ASCII text. Not for a folded one: NFKD may leave capitals after casefold ("㎔" -> "THz").
_LOWERED_ASCII_WORDS = _ASCII_WORDS.lower()


def features(title: str, summary: str) -> set[str]:
    """The words an article is compared by (module docstring)."""
    title_words = _words(title)
    return set(title_words) | {f"^{word}" for word in title_words} | set(_words(summary))


def title_words(title: str) -> tuple[str, ...]:
    """The content words of a title, as features (folded, cut to ``STEM_LENGTH``), in order:
    side by side, two of them are a phrase of the title ("nuclear talks")."""
    return tuple(_words(title))


def _words(text: str) -> list[str]:
    return [
        word[:STEM_LENGTH]
        for word in _word_list(_fold(text), text)
        if (len(word) >= 3 or word.isdigit()) and word not in STOP_WORDS
    ]


def _word_list(folded: str, text: str) -> list[str]:
    """The words of ``folded``, the folded ``text``; a Persian one's joined and without its stop
    words (``persian_words``)."""
    words = _WORD.findall(folded)
    return persian_words.content_words(words) if persian_words.is_persian(text) else words


# One spelling of the letters and digits that outlets write one for the other ("غزة" and "غزه",
# "١٢" and "12", Persian "ایران" and Arabic "إيران"), and no tatweel, which only stretches a
# word: else one headline from two outlets shared half its words.
# A ZWNJ or a direction mark inside a word ("تحریم‌ها", "ای\u200fران") leaves it one word.
_SPELLINGS = str.maketrans(
    {**LETTER_VARIANTS, **DECIMAL_DIGITS, **INVISIBLE_IN_WORDS, "\u0640": None}
)


def _fold(text: str) -> str:
    """Case and compatibility folded, combining marks deleted, letter variants and digits as
    one spelling."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    if folded.isascii():
        return folded  # no marks, variants or other digits
    return _COMBINING_MARKS.sub("", folded).translate(_SPELLINGS)


def _folded_words(text: str) -> list[bytes]:
    """The words of the folded text (``_word_list``), UTF-8 encoded."""
    if text.isascii():  # most English text
        return text.encode().translate(_LOWERED_ASCII_WORDS).split()
    folded = _fold(text)
    if folded.isascii():
        return folded.encode().translate(_ASCII_WORDS).split()
    words = _word_list(folded, text)
    # One join, encode and split instead of an encode per word: "\0" is not a word character.
    return "\0".join(words).encode().split(b"\0") if words else []


class _FeatureHashes(dict[bytes, int]):
    """Folded word (UTF-8) -> CRC-32 of its feature, or ``_NO_FEATURE`` for a word left out.

    Most of a fingerprint's cost was finding each word's feature and hashing it; the words of the
    news repeat from article to article, so each is worked out once and looked up after. Bounded:
    emptied when full, at some 6 MB (an LRU, functools.lru_cache, took nearly twice as long a
    lookup). Articles are fingerprinted in several threads at once: a dict's operations are
    atomic, and a word two threads miss together is merely worked out twice, to the same value.
    """

    _LIMIT = 50_000

    def __init__(self, prefix: bytes) -> None:
        super().__init__()
        # CRC-32 continued from the prefix's: the CRC-32 of prefix + feature.
        self._start = zlib.crc32(prefix)

    def __missing__(self, folded: bytes) -> int:
        word = folded.decode()
        if (len(word) >= 3 or word.isdigit()) and word not in STOP_WORDS:
            value = zlib.crc32(word[:STEM_LENGTH].encode(), self._start)
        else:
            value = _NO_FEATURE
        if len(self) >= self._LIMIT:
            self.clear()
        self[folded] = value
        return value


_NO_FEATURE = -1  # never a CRC-32, which is unsigned
_HASHES = _FeatureHashes(b"")
_TITLE_HASHES = _FeatureHashes(b"^")


def fingerprint(title: str, summary: str) -> Fingerprint:
    """The bottom-k MinHash sketch of the article's features: the ``SKETCH_SIZE`` smallest of the
    CRC-32s of ``features(title, summary)``, each UTF-8 encoded."""
    title_words = _folded_words(title)
    hashes = set(map(_HASHES.__getitem__, _folded_words(summary)))
    hashes.update(map(_HASHES.__getitem__, title_words))
    hashes.update(map(_TITLE_HASHES.__getitem__, title_words))
    hashes.discard(_NO_FEATURE)
    return tuple(sorted(hashes)[:SKETCH_SIZE])


def similarity(first: Iterable[int], second: Iterable[int]) -> float:
    """Estimated Jaccard similarity of the feature sets behind two fingerprints (0.0 to 1.0).

    The bottom-k estimator: of the k smallest hashes of the union, the share found in both. When
    the union holds no more than k hashes, that is the exact Jaccard index of the two sketches.
    """
    a = _as_set(first)
    return _similarity(a, tuple(a), tuple(_as_set(second)))


def _similarity(a: frozenset[int] | set[int], a_values: Fingerprint, b: Fingerprint) -> float:
    """``similarity`` of two fingerprints of distinct values, the first given as a set too."""
    if not a or not b:
        return 0.0
    shared = a.intersection(b)
    # The union's size without building it; it is built only when its k smallest matter.
    union_size = len(a) + len(b) - len(shared)
    if union_size <= SKETCH_SIZE:
        return len(shared) / union_size
    # In order: sorted() merges two sorted runs in one pass (fingerprints are sorted); a set's
    # order is its hash table's, which it would sort some three times slower.
    union = sorted((*a_values, *filterfalse(shared.__contains__, b)))
    cutoff = union[SKETCH_SIZE - 1]
    return sum(1 for value in shared if value <= cutoff) / SKETCH_SIZE


def _as_set(values: Iterable[int]) -> frozenset[int] | set[int]:
    return values if isinstance(values, frozenset | set) else set(values)


# An indexed article: (feed id, cluster id, fingerprint of distinct values). A plain tuple of ints
# and a tuple of ints, where the index first kept a dataclass and a frozenset, for the memory (the
# index holds tens of thousands of articles) and for the garbage collector, which stops tracking
# such tuples once they have lived through a collection, and so never looks at them again. A
# NamedTuple would stay tracked: the collector lets go of exact tuples only.
_Indexed = tuple[int, int, Fingerprint]


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
    # Feature hash -> the articles holding it, in the order they were added; None once more than
    # COMMON_FEATURE do, as such a feature never suggests a candidate again and its list would
    # only grow. Tuples, not lists, for the garbage collector's sake (``_Indexed``); extending
    # one of at most COMMON_FEATURE ids costs no more than an append.
    _postings: dict[int, tuple[int, ...] | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def add(self, article_id: int, feed_id: int, cluster_id: int, sketch: Fingerprint) -> None:
        if article_id in self._articles:
            return
        values = tuple(sketch)
        # Stored as distinct values, as the union's size is counted from them (``_similarity``);
        # fingerprint() gives distinct values already, and so do the fingerprints stored from it.
        stored = values if len(set(values)) == len(values) else tuple(sorted(set(values)))
        self._articles[article_id] = (feed_id, cluster_id, stored)
        postings = self._postings
        for value in values:
            posting = postings.get(value, ())
            if posting is not None:
                posting += (article_id,)
                postings[value] = posting if len(posting) <= COMMON_FEATURE else None

    def best_match(self, feed_id: int, sketch: Fingerprint) -> tuple[int, float] | None:
        """(cluster id, similarity) of the most similar indexed article of another feed."""
        # The ids in the postings of the sketch's less common features, counted in one C call.
        rare = filter(None, map(self._postings.get, sketch))
        shared = Counter(chain.from_iterable(rare))
        # One shared word is chance; a report of the same story shares several.
        least = 2 if len(sketch) > MIN_SHARED else 1
        pool = [(count, article_id) for article_id, count in shared.items() if count >= least]
        if len(pool) > CANDIDATES:
            pool = heapq.nlargest(CANDIDATES, pool)
        features = frozenset(sketch)
        values = sketch if len(features) == len(sketch) else tuple(sorted(features))
        articles = self._articles
        best: tuple[float, int] | None = None
        # In any order: the best is the greatest (score, -article_id), and article ids differ.
        for _, article_id in pool:
            other_feed, _, other = articles[article_id]
            if other_feed == feed_id:
                continue
            score = _similarity(features, values, other)
            # Ties go to the older article, so a cluster keeps the id of its first story.
            if score >= self.threshold and (best is None or (score, -article_id) > best):
                best = (score, -article_id)
        if best is None:
            return None
        _, cluster_id, _ = articles[-best[1]]
        return cluster_id, best[0]

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
