"""What a topic's rules made of an article, and why: the evidence, the vetoes and the verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from digest.records import Article, TopicMatch

# A filed article is "unsure" under a topic when its score is below this multiple of the topic's
# threshold: one title hit clears a threshold of 2, two passing mentions in the summary do not.
UNSURE_MARGIN = 1.5


def is_unsure(score: float, threshold: float) -> bool:
    """Whether a score is near its topic's threshold (see ``UNSURE_MARGIN``)."""
    return score < threshold * UNSURE_MARGIN


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule that fired for a topic: a term (its occurrences in one field), feed or category."""

    topic: str  # the topic whose rule this is: the verdict's own, or a descendant's
    rule: str  # feed, category, include, place, person, group or ambiguous
    term: str  # the term, feed name or category, as configured
    field: str  # title, summary, category or feed
    count: int
    points: float  # what it adds to the score; 0 when it does not count
    counted: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class Veto:
    term: str  # the exclude term, as configured
    field: str  # title or summary


@dataclass(frozen=True, slots=True)
class TopicVerdict:
    """What the rules of one topic made of one article, and why."""

    topic: str
    filed: bool
    score: float
    threshold: float
    reason: str
    evidence: tuple[Evidence, ...] = ()  # own rules first, then the descendants'
    vetoed_by: tuple[Veto, ...] = ()
    ignored: tuple[str, ...] = ()  # ignore phrases found (their words counted for nothing)
    via: tuple[str, ...] = ()  # descendants filed on their own rules, which file this one too

    @property
    def unsure(self) -> bool:
        return self.filed and is_unsure(self.score, self.threshold)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Every topic with something to say about an article, in config order."""

    article: Article
    verdicts: tuple[TopicVerdict, ...]

    @property
    def matches(self) -> tuple[TopicMatch, ...]:
        return tuple(TopicMatch(v.topic, v.score) for v in self.verdicts if v.filed)
