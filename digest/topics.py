"""Topic classification: file an article under the configured topics, with a score for each.

The rules of a topic (``TopicRules``) are compiled once into at most two regular expressions, one
for its include terms and one for its exclude terms, matched on normalized text. Scoring:

    the article's feed is one of rules.feeds                   1
    each article category equal to one of rules.categories     2
    each occurrence of an include term in the title            3
    each occurrence of an include term in the summary or in    1
    an article category

An article belongs to a topic when the feed, a category or an include term matched, and no exclude
term occurs in its title or summary; an exclude vetoes the topic even after a feed or category
match. A parent topic takes in its children: when a topic matches, each of its ancestors matches
too, with at least that score, unless the ancestor's own exclude terms fire (the ancestor's editor
vetoed the article; the child's match stands). Each ancestor decides for itself, so a vetoed
topic in the middle of a chain does not stop its own parent from taking the article in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from digest.config import TopicSettings
from digest.records import Article, TopicMatch

TITLE_WEIGHT = 3.0
TEXT_WEIGHT = 1.0  # a hit in the summary or in a category's text
FEED_WEIGHT = 1.0
CATEGORY_WEIGHT = 2.0

_TATWEEL = "\u0640"  # Arabic kashida: stretches a word for layout, never changes it
# Typographic apostrophes, so "Jordan’s" in a feed matches the term "Jordan's" in the config.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'"})
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Text folded for matching: NFKC, casefolded, combining marks and tatweel removed.

    Removing combining marks strips Latin diacritics ("Tehrān" -> "tehran"), Arabic harakat and
    Hebrew niqqud, and the hamza carried on an alef ("إيران" -> "ايران"), so a term matches
    whether or not the writer vocalized it. Runs of whitespace become one space.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(
        char for char in decomposed if char != _TATWEEL and unicodedata.category(char) != "Mn"
    )
    # Recompose: scripts such as Hangul decompose into letters that must be joined again.
    recomposed = unicodedata.normalize("NFC", kept).translate(_APOSTROPHES)
    return _SPACES.sub(" ", recomposed).strip()


def _compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of the terms as whole words, or None when there are none.

    ``(?<!\\w)`` and ``(?!\\w)`` are Unicode-aware word boundaries that work for Arabic and Hebrew
    letters and for terms that begin or end with punctuation ("Jordan's"). Longer terms come first
    so "Saudi Arabia" is one hit rather than "Saudi" plus nothing. Known limit: words with an
    attached prefix, the Arabic article "ال" ("السعودية" vs "سعودية") or the Hebrew prefixes
    ה/ו/ב/ל/מ/ש, are different words here; list such forms as terms of their own.
    """
    normalized = {normalize_text(term) for term in terms}
    normalized.discard("")
    if not normalized:
        return None
    ordered = sorted(normalized, key=lambda term: (-len(term), term))
    # A space in a phrase matches any run of whitespace in the (already collapsed) text.
    alternatives = "|".join(r"\s+".join(map(re.escape, term.split(" "))) for term in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


@dataclass(frozen=True, slots=True)
class _CompiledTopic:
    slug: str
    ancestors: tuple[str, ...]  # parent first, then its parent, and so on
    feeds: frozenset[str]
    categories: frozenset[str]  # normalized
    include: re.Pattern[str] | None
    exclude: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class _ArticleText:
    """The normalized text of an article, computed once and shared by every topic."""

    title: str
    summary: str
    categories: tuple[str, ...]


def _ancestors(topic: TopicSettings, parents: dict[str, str | None]) -> tuple[str, ...]:
    chain: list[str] = []
    parent = topic.parent
    # Config validation refuses cycles; the guard keeps a bad object from looping forever.
    while parent is not None and parent in parents and parent not in chain:
        chain.append(parent)
        parent = parents[parent]
    return tuple(chain)


class TopicClassifier:
    """Files articles under topics; build once per config and reuse for every article."""

    def __init__(self, topics: Sequence[TopicSettings]) -> None:
        parents = {topic.slug: topic.parent for topic in topics}
        self._topics = tuple(
            _CompiledTopic(
                slug=topic.slug,
                ancestors=_ancestors(topic, parents),
                feeds=frozenset(topic.rules.feeds),
                categories=frozenset(
                    name for name in map(normalize_text, topic.rules.categories) if name
                ),
                include=_compile_terms(topic.rules.include),
                exclude=_compile_terms(topic.rules.exclude),
            )
            for topic in topics
        )
        self._order = {topic.slug: index for index, topic in enumerate(self._topics)}

    def classify(self, article: Article) -> tuple[TopicMatch, ...]:
        """The topics the article belongs to, in config order, each with its score."""
        text = _ArticleText(
            title=normalize_text(article.title),
            summary=normalize_text(article.summary_text),
            # Duplicates such as "Iran" and "IRAN" count once.
            categories=tuple(sorted({normalize_text(name) for name in article.categories} - {""})),
        )
        vetoed = {topic.slug for topic in self._topics if self._excluded(topic, text)}
        scores: dict[str, float] = {}
        for topic in self._topics:
            if topic.slug in vetoed:
                continue
            score = self._own_score(topic, article.feed_name, text)
            if score is None:
                continue
            scores[topic.slug] = max(scores.get(topic.slug, 0.0), score)
            for ancestor in topic.ancestors:
                if ancestor not in vetoed:
                    scores[ancestor] = max(scores.get(ancestor, 0.0), score)
        return tuple(
            TopicMatch(topic=slug, score=scores[slug])
            for slug in sorted(scores, key=self._order.__getitem__)
        )

    @staticmethod
    def _excluded(topic: _CompiledTopic, text: _ArticleText) -> bool:
        if topic.exclude is None:
            return False
        return bool(topic.exclude.search(text.title) or topic.exclude.search(text.summary))

    @staticmethod
    def _own_score(topic: _CompiledTopic, feed_name: str, text: _ArticleText) -> float | None:
        """The score of the topic's own rules, or None when none of them matched."""
        matched = False
        score = 0.0
        if feed_name in topic.feeds:
            matched = True
            score += FEED_WEIGHT
        category_hits = sum(1 for name in text.categories if name in topic.categories)
        if category_hits:
            matched = True
            score += CATEGORY_WEIGHT * category_hits
        if topic.include is not None:
            title_hits = len(topic.include.findall(text.title))
            text_hits = len(topic.include.findall(text.summary)) + sum(
                len(topic.include.findall(name)) for name in text.categories
            )
            if title_hits or text_hits:
                matched = True
                score += TITLE_WEIGHT * title_hits + TEXT_WEIGHT * text_hits
        return score if matched else None
