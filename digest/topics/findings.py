"""What a topic's rules found in an article: hits at their places, rolled up and tallied."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.config import TopicSettings
from digest.topics.rules import TermPattern
from digest.topics.verdicts import Veto


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    settings: TopicSettings
    slug: str  # settings.slug, read for every article
    root: str  # the slug at the top of its tree: ambiguous terms look for context there
    descendants: tuple[str, ...]
    feeds: frozenset[str]
    categories: dict[str, str]  # normalized -> as configured
    terms: TermPattern
    exclude: TermPattern
    ignore: TermPattern


@dataclass(slots=True)  # not frozen: built for every hit, and a frozen __init__ costs twice as much
class Hit:
    key: tuple[object, ...]  # where it is: one place in the text counts once, whatever topic
    topic: str
    rule: str
    term: str
    field: str
    points: float
    needs_context: bool = False  # an ambiguous term, or a one-word term behind a clitic prefix
    # A publisher's category, of a feed whose categories are not trusted, with nothing in the
    # article's title or text for the topic: it counts for nothing.
    unsupported: bool = False


# One rule's hits under a topic, summed: (topic, rule, term, field, note, count, points, counted).
# Only ``explain`` groups the hits so (``classify`` wants only the score), and only it pays for
# ``Evidence`` records.
Tally = tuple[str, str, str, str, str, int, float, bool]
UNSUPPORTED_CATEGORY = (
    "a publisher's category; nothing in the title or text supports it, and the feed's "
    "categories are not trusted (feeds[].trust_categories)"
)


@dataclass(slots=True)
class Findings:
    """What one topic's own rules found."""

    # Each at its own place in the text: a topic's terms are found without overlaps, and its
    # feed and each of the article's (distinct) categories count once.
    hits: list[Hit] = field(default_factory=list)
    vetoes: list[Veto] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    implied: bool = False  # a feed of the topic matched, or a category with support
    implied_by_category: bool = False  # a category of the topic matched

    def gives_context(self) -> bool:
        if self.vetoes or not self.hits:  # no hits: not implied either
            return False
        return self.implied or any(
            not hit.needs_context and not hit.unsupported for hit in self.hits
        )


# A topic's rolled-up evidence: its score, the hits it counts (its own and its descendants', one
# per place in the text) and whether its tree gives ambiguous terms their context.
Scored = tuple[float, list[Hit], bool]


def rolled_up(
    topic: CompiledTopic, own: dict[str, Findings], has_context: bool
) -> tuple[float, list[Hit]]:
    """The topic's score, and the hits it counts: its own and those of its descendants that were
    not vetoed, one per place in the text (the first found, own hits first). The list may be a
    topic's own ``Findings.hits``: not to be changed."""
    found = [
        own[slug].hits
        for slug in (topic.slug, *topic.descendants)
        if own[slug].hits and not own[slug].vetoes
    ]
    if len(found) == 1:  # the usual case: one topic's hits are each at a place of their own
        hits = found[0]
    else:
        seen: set[tuple[object, ...]] = set()
        hits = []
        for topic_hits in found:
            for hit in topic_hits:
                if hit.key not in seen:
                    seen.add(hit.key)
                    hits.append(hit)
    score = 0.0  # hit by hit: the same sum as ``tallied`` rule by rule (whole-number weights)
    for hit in hits:
        if has_context or not hit.needs_context:
            score += hit.points
    return score, hits


def tallied(hits: list[Hit], has_context: bool) -> list[Tally]:
    """The hits summed rule by rule, in the order each rule was first found."""
    grouped: dict[tuple[str, str, str, str, bool, bool], list[Hit]] = {}
    for hit in hits:
        key = (hit.topic, hit.rule, hit.term, hit.field, hit.needs_context, hit.unsupported)
        grouped.setdefault(key, []).append(hit)
    tallies = []
    for (slug, rule, term, field_name, needs_context, unsupported), found in grouped.items():
        counted = (not needs_context or has_context) and not unsupported
        points = sum(hit.points for hit in found) if counted else 0.0
        note = UNSUPPORTED_CATEGORY if unsupported else _note(rule, needs_context, counted)
        tallies.append((slug, rule, term, field_name, note, len(found), points, counted))
    return tallies


def _note(rule: str, needs_context: bool, counted: bool) -> str:
    if not needs_context:
        return ""
    why = "ambiguous" if rule == "ambiguous" else "matched behind a prefix"
    return f"{why}; supported by other evidence" if counted else f"{why}; nothing supports it"
