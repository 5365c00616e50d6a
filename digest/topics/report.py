"""What editors read: explanations as plain data, and a dry run of new rules on stored articles."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from digest.records import Article
from digest.topics.classify import TopicClassifier
from digest.topics.verdicts import Explanation


def explanation_record(explanation: Explanation) -> dict[str, Any]:
    """A JSON-ready form of an explanation (``digest topics explain --json``)."""
    article = explanation.article
    return {
        "article": {
            "id": article.id or None,
            "title": article.title,
            "link": article.link,
            "feed": article.feed_name or None,
            "categories": list(article.categories),
        },
        "topics": [match.topic for match in explanation.matches],
        "verdicts": [
            {
                "topic": verdict.topic,
                "filed": verdict.filed,
                "score": verdict.score,
                "threshold": verdict.threshold,
                "unsure": verdict.unsure,
                "reason": verdict.reason,
                "via": list(verdict.via),
                "rules": [
                    {
                        "topic": evidence.topic,
                        "rule": evidence.rule,
                        "term": evidence.term,
                        "field": evidence.field,
                        "count": evidence.count,
                        "points": evidence.points,
                        "counted": evidence.counted,
                        "note": evidence.note,
                    }
                    for evidence in verdict.evidence
                ],
                "vetoed_by": [{"term": v.term, "field": v.field} for v in verdict.vetoed_by],
                "ignored": list(verdict.ignored),
            }
            for verdict in explanation.verdicts
        ],
    }


@dataclass(frozen=True, slots=True)
class Move:
    """An article that a rule change files under a topic (gained) or takes out of it (lost)."""

    article: Article
    topic: str
    gained: bool
    score_before: float | None
    score_after: float | None


@dataclass(frozen=True, slots=True)
class TopicChange:
    topic: str
    before: int  # articles filed under the topic by the current rules
    after: int  # by the new rules
    gained: int
    lost: int


@dataclass(frozen=True, slots=True)
class DryRun:
    articles: int
    topics: tuple[TopicChange, ...]  # the new config's topics in order, then removed ones
    moves: tuple[Move, ...]  # by topic, then article

    @property
    def changed(self) -> bool:
        return bool(self.moves)


def dry_run(
    articles: Iterable[Article],
    current: TopicClassifier,
    proposed: TopicClassifier,
    topic_order: Sequence[str],
) -> DryRun:
    """Classify each article under both sets of rules and list what moves."""
    order = list(topic_order)
    counts: dict[str, list[int]] = {}
    moves: list[Move] = []
    total = 0
    for article in articles:
        total += 1
        before = {m.topic: m.score for m in current.classify(article)}
        after = {m.topic: m.score for m in proposed.classify(article)}
        for slug in before.keys() | after.keys():
            if slug not in order:
                order.append(slug)
            tally = counts.setdefault(slug, [0, 0])
            tally[0] += slug in before
            tally[1] += slug in after
            if (slug in before) != (slug in after):
                moves.append(Move(article, slug, slug in after, before.get(slug), after.get(slug)))
    position = {slug: index for index, slug in enumerate(order)}
    moves.sort(key=lambda move: (position[move.topic], not move.gained, move.article.id))
    changes = []
    for slug in order:
        before_count, after_count = counts.get(slug, [0, 0])
        gained = sum(1 for move in moves if move.topic == slug and move.gained)
        lost = sum(1 for move in moves if move.topic == slug and not move.gained)
        changes.append(TopicChange(slug, before_count, after_count, gained, lost))
    return DryRun(articles=total, topics=tuple(changes), moves=tuple(moves))
