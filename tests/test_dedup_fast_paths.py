"""digest.dedup's shortcuts give what its plain definitions give.

Fingerprints are stored, so the ASCII path, the combining-mark expression and the cache of word
hashes must give, for every text, the fingerprint of the definition: casefold, NFKD, the marks of
the Basic Multilingual Plane deleted, the letter variants, the digits, the tatweel and the
marks left inside words folded, Persian words joined and Persian stop words taken out
(``persian_words``), \\w+ words, their features, CRC-32 of each, the smallest ``SKETCH_SIZE``.
The index's similarity, computed without building the union, must be the bottom-k estimate.
"""

from __future__ import annotations

import random
import re
import unicodedata
import zlib

import pytest

from digest import dedup, persian_words
from digest.letter_variants import INVISIBLE_IN_WORDS, LETTER_VARIANTS

_MARKS = {point: None for point in range(0x10000) if unicodedata.combining(chr(point))}
_SPELLINGS = str.maketrans(
    {
        **LETTER_VARIANTS,
        **{
            chr(point): str(unicodedata.digit(chr(point)))
            for point in range(0x80, 0x10000)
            if unicodedata.category(chr(point)) == "Nd"
        },
        **INVISIBLE_IN_WORDS,
        "\u0640": None,
    }
)
_WORD = re.compile(r"\w+")


def _reference_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_MARKS).translate(_SPELLINGS)
    words = _WORD.findall(folded)
    if persian_words.is_persian(text):
        words = persian_words.content_words(words)
    return [
        word[: dedup.STEM_LENGTH]
        for word in words
        if (len(word) >= 3 or word.isdigit()) and word not in dedup.STOP_WORDS
    ]


def _reference_fingerprint(title: str, summary: str) -> dedup.Fingerprint:
    title_words = _reference_words(title)
    features = set(title_words) | {f"^{w}" for w in title_words} | set(_reference_words(summary))
    return tuple(sorted({zlib.crc32(f.encode("utf-8")) for f in features})[: dedup.SKETCH_SIZE])


def _reference_similarity(first: dedup.Fingerprint, second: dedup.Fingerprint) -> float:
    a, b = set(first), set(second)
    if not a or not b:
        return 0.0
    union = a | b
    if len(union) <= dedup.SKETCH_SIZE:
        return len(a & b) / len(union)
    cutoff = sorted(union)[dedup.SKETCH_SIZE - 1]
    return sum(1 for value in a & b if value <= cutoff) / dedup.SKETCH_SIZE


TRICKY = [
    ("Talks in ZURICH", "The talks RESUMED in Zürich, officials said."),  # ASCII title, lowered
    ("Zürich", "Genève café naïve São Paulo e\u0301te\u0301"),  # folds to ASCII
    ("ﬁnance ＩＲＡＮ", "STRASSE straße ẞ ß İstanbul ſtate ΣΑΣ"),  # ligature, fullwidth, ß
    ("A㎔", "℡ ㎧ ½"),  # NFKD leaves capitals after casefold: "THz" stays "THz"
    ("مُحَمَّد", "يَذْهَبُ إِلَى الْمَدْرَسَةِ ٣ ١٢"),  # harakat, Arabic-Indic digits
    ("שָׁלוֹם", "בְּרֵאשִׁית בָּרָא ﬧ"),  # niqqud, presentation forms
    ("1 22 333 ² ①", "a_b __ x1 \0 null\0byte 5G"),  # short digits, underscores, NUL
    ("abc\U0001d167def", "\U00010a0dxyzw"),  # marks beyond the BMP are kept, as ever
    ("می\u200cگوید تحریم ها", "ای\u200fران نمی پذیرد پرونده\u200cهای"),  # Persian, marks
    ("", ""),
]


@pytest.mark.parametrize(("title", "summary"), TRICKY)
def test_fingerprint_is_the_definition(title: str, summary: str) -> None:
    assert dedup.fingerprint(title, summary) == _reference_fingerprint(title, summary)


def test_a_stored_fingerprint_stays_the_same() -> None:
    title = "Talks in Zürich: ﬁnance ＩＲＡＮ 5G"
    summary = "مُحَمَّد يَذْهَبُ — שָׁלוֹם ٣ ² STRASSE straße ㎔ abc\U0001d167def 12 a_b"
    # Changed once on purpose: the Arabic-Indic "٣" is read as "3" since outlets write either
    # (1593614075, the feature "٣", became 1842515611, "3"); the rest stays.
    assert dedup.fingerprint(title, summary) == (
        214229345, 450215437, 478413393, 684407274, 747264600, 891568578, 1054781052,
        1330857165, 1587279831, 1672375416, 1842515611, 2260112569, 2423656047, 2669991355,
        2694354765, 3116667019, 3649161504, 3874737426, 4284582928,
    )  # fmt: skip


def _random_text(rnd: random.Random) -> str:
    alphabet = (
        "abcXYZ019_ .,;'\n\t\0àéÎõüßẞİıſﬁﬂＡｂ１²½ΣσςЁё日本"
        "\u0301\u0308\u0323\u0651\u064e\u05b0\u05bc\u3099\u200d㎔℡"
        "ابتثمحدإأآةىي٣שלוםבר\U0001d167\U0001f600"
        "یکگپ\u200c\u200e\u200fها می"
    )
    words = ["".join(rnd.choices(alphabet, k=rnd.randint(1, 8))) for _ in range(rnd.randint(0, 40))]
    return " ".join(words)


def test_fingerprint_is_the_definition_for_random_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(7)
    # A small cache, so that it is emptied many times along the way.
    monkeypatch.setattr(dedup._FeatureHashes, "_LIMIT", 50)
    for _ in range(2000):
        title, summary = _random_text(rnd), _random_text(rnd)
        ascii_title = title.encode("ascii", "replace").decode()
        assert dedup.fingerprint(title, summary) == _reference_fingerprint(title, summary)
        assert dedup.fingerprint(ascii_title, "") == _reference_fingerprint(ascii_title, "")


def test_similarity_is_the_bottom_k_estimate() -> None:
    rnd = random.Random(11)
    for _ in range(500):
        shared = rnd.sample(range(2**32), rnd.randint(0, 40))
        a = tuple(sorted(shared + rnd.sample(range(2**32), rnd.randint(0, 40))))[:64]
        b = tuple(sorted(shared + rnd.sample(range(2**32), rnd.randint(0, 40))))[:64]
        expected = _reference_similarity(a, b)
        assert dedup.similarity(a, b) == expected
        assert dedup.similarity(set(a), frozenset(b)) == expected
        assert dedup._similarity(frozenset(a), a, b) == expected


def test_the_index_takes_a_fingerprint_with_repeated_values() -> None:
    index = dedup.ClusterIndex()
    index.add(1, feed_id=1, cluster_id=1, sketch=(1, 2, 2, 3, 4, 5))
    # As the union of {1..5} and {1..6}: 5/6, not counted from the repeated value.
    assert index.best_match(feed_id=2, sketch=(1, 2, 3, 4, 5, 6)) == (1, 5 / 6)
    assert index.best_match(feed_id=2, sketch=(1, 1, 2, 3, 4, 5, 6)) == (1, 5 / 6)
