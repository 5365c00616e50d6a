"""The classifier: the evidence each topic's rules find in an article, and the verdict per topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.config import TopicSettings
from digest.records import Article, TopicMatch
from digest.topics.normalize import normalize_text
from digest.topics.rules import Term, TermPattern

TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 1.0
CATEGORY_TEXT_WEIGHT = 1.0  # a term inside one of the article's category names
FEED_WEIGHT = 1.0
CATEGORY_WEIGHT = 2.0  # an article category equal to one of the topic's categories
# A filed article is "unsure" under a topic when its score is below this multiple of the topic's
# threshold: one title hit clears a threshold of 2, two passing mentions in the summary do not.
UNSURE_MARGIN = 1.5

_FIELD_WEIGHTS = {
    "title": TITLE_WEIGHT,
    "summary": SUMMARY_WEIGHT,
    "category": CATEGORY_TEXT_WEIGHT,
}
_INCLUDE_KINDS = ("include", "place", "person", "group", "ambiguous")


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


@dataclass(frozen=True, slots=True)
class _CompiledTopic:
    settings: TopicSettings
    slug: str  # settings.slug, read for every article
    root: str  # the slug at the top of its tree: ambiguous terms look for context there
    descendants: tuple[str, ...]
    feeds: frozenset[str]
    categories: dict[str, str]  # normalized -> as configured
    terms: TermPattern
    exclude: TermPattern
    ignore: TermPattern


@dataclass(frozen=True, slots=True)
class _Text:
    """The normalized text of an article, computed once and shared by every topic."""

    title: str
    summary: str
    categories: tuple[str, ...]


@dataclass(slots=True)  # not frozen: built for every hit, and a frozen __init__ costs twice as much
class _Hit:
    key: tuple[object, ...]  # where it is: one place in the text counts once, whatever topic
    topic: str
    rule: str
    term: str
    field: str
    points: float
    needs_context: bool = False  # an ambiguous term, or a one-word term behind a clitic prefix


@dataclass
class _Own:
    """What one topic's own rules found."""

    hits: list[_Hit] = field(default_factory=list)
    vetoes: list[Veto] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    implied: bool = False  # a feed or category of the topic matched

    def gives_context(self) -> bool:
        return not self.vetoes and (self.implied or any(not hit.needs_context for hit in self.hits))


def _terms(settings: TopicSettings, kinds: Sequence[str]) -> list[Term]:
    rules = settings.rules
    columns = {
        "include": rules.include,
        "place": rules.places,
        "person": rules.people,
        "group": rules.groups,
        "ambiguous": rules.ambiguous,
        "exclude": rules.exclude,
        "ignore": rules.ignore,
    }
    return [Term(text, kind) for kind in kinds for text in columns[kind]]


class TopicClassifier:
    """Files articles under topics; build once per config and reuse for every article."""

    def __init__(self, topics: Sequence[TopicSettings]) -> None:
        parents = {topic.slug: topic.parent for topic in topics}
        chains = {topic.slug: _ancestors(topic.slug, parents) for topic in topics}
        by_slug = {topic.slug: topic for topic in topics}
        self._topics = tuple(
            _CompiledTopic(
                settings=topic,
                slug=topic.slug,
                root=(chains[topic.slug] or (topic.slug,))[-1],
                descendants=tuple(
                    other.slug for other in topics if topic.slug in chains[other.slug]
                ),
                feeds=frozenset(topic.rules.feeds),
                categories={
                    normalize_text(name): name
                    for name in reversed(topic.rules.categories)
                    if normalize_text(name)
                },
                terms=TermPattern(
                    _terms(topic, _INCLUDE_KINDS), clitic_prefixes=topic.rules.clitic_prefixes
                ),
                exclude=TermPattern(
                    _terms(topic, ("exclude",)), clitic_prefixes=topic.rules.clitic_prefixes
                ),
                # A parent's ignore phrases hold for its whole tree: "Syrian-born" is no
                # mention of Syria, whichever topic lists "Syrian".
                ignore=TermPattern(
                    [
                        term
                        for slug in (topic.slug, *chains[topic.slug])
                        for term in _terms(by_slug[slug], ("ignore",))
                    ],
                    clitic_prefixes=topic.rules.clitic_prefixes,
                ),
            )
            for topic in topics
        )

    def classify(self, article: Article) -> tuple[TopicMatch, ...]:
        """The topics the article is filed under, in config order, each with its score.

        The same as ``explain(article).matches``, without writing the explanation.
        """
        own, scored, passes = self._judge(article)
        matches = []
        for topic in self._topics:
            mine = own[topic.slug]
            if mine.vetoes:
                continue
            score, evidence = scored[topic.slug]
            via = any(passes[slug] for slug in topic.descendants)
            if (evidence or mine.ignored or via) and (passes[topic.slug] or via):
                matches.append(TopicMatch(topic.slug, score))
        return tuple(matches)

    def explain(self, article: Article) -> Explanation:
        """Every topic's verdict on the article, with the rules that fired and those that vetoed."""
        own, scored, passes = self._judge(article)
        verdicts = []
        for topic in self._topics:
            mine = own[topic.slug]
            threshold = topic.settings.rules.threshold
            if mine.vetoes:
                veto = mine.vetoes[0]
                verdicts.append(
                    TopicVerdict(
                        topic=topic.slug,
                        filed=False,
                        score=0.0,
                        threshold=threshold,
                        reason=f"vetoed: exclude {veto.term!r} in the {veto.field}",
                        vetoed_by=tuple(mine.vetoes),
                        ignored=tuple(mine.ignored),
                    )
                )
                continue
            score, evidence = scored[topic.slug]
            via = tuple(slug for slug in topic.descendants if passes[slug])
            if not (evidence or mine.ignored or via):
                continue
            filed = passes[topic.slug] or bool(via)
            verdicts.append(
                TopicVerdict(
                    topic=topic.slug,
                    filed=filed,
                    score=score,
                    threshold=threshold,
                    reason=_reason(topic, mine, score, evidence, via, filed),
                    evidence=tuple(evidence),
                    ignored=tuple(mine.ignored),
                    via=via,
                )
            )
        return Explanation(article=article, verdicts=tuple(verdicts))

    def _judge(
        self, article: Article
    ) -> tuple[dict[str, _Own], dict[str, tuple[float, list[Evidence]]], dict[str, bool]]:
        """What each topic's own rules found, each topic's rolled-up score and evidence (vetoed
        topics have none), and whether each passes on its own."""
        text = _Text(
            title=normalize_text(article.title),
            summary=normalize_text(article.summary_text),
            # Duplicates such as "Iran" and "IRAN" count once.
            categories=tuple(sorted({normalize_text(name) for name in article.categories} - {""})),
        )
        own = {topic.slug: self._own(topic, article.feed_name, text) for topic in self._topics}
        context = {topic.root for topic in self._topics if own[topic.slug].gives_context()}
        passes: dict[str, bool] = {}
        scored: dict[str, tuple[float, list[Evidence]]] = {}
        for topic in self._topics:
            if own[topic.slug].vetoes:
                passes[topic.slug] = False
                continue
            score, evidence = self._rolled_up(topic, own, topic.root in context)
            scored[topic.slug] = (score, evidence)
            passes[topic.slug] = own[topic.slug].implied or score >= topic.settings.rules.threshold
        return own, scored, passes

    @staticmethod
    def _own(topic: _CompiledTopic, feed_name: str, text: _Text) -> _Own:
        found = _Own()
        if topic.exclude:  # most topics have no exclude or ignore terms: no need to look
            for field_name, value in (("title", text.title), ("summary", text.summary)):
                found.vetoes += [
                    Veto(hit.term.text, field_name) for hit in topic.exclude.finditer(value)
                ]
        fields = [("title", 0, text.title), ("summary", 0, text.summary)]
        fields += [("category", index, name) for index, name in enumerate(text.categories)]
        for field_name, index, value in fields:
            masked = value
            if topic.ignore:
                masked, ignored = topic.ignore.mask(value)
                found.ignored += [
                    hit.term.text for hit in ignored if hit.term.text not in found.ignored
                ]
            for hit in topic.terms.finditer(masked):
                found.hits.append(
                    _Hit(
                        key=(field_name, index, hit.start),
                        topic=topic.slug,
                        rule=hit.term.kind,
                        term=hit.term.text,
                        field=field_name,
                        points=_FIELD_WEIGHTS[field_name],
                        needs_context=hit.term.kind == "ambiguous" or hit.prefixed,
                    )
                )
        if feed_name in topic.feeds:
            found.implied = True
            found.hits.append(_Hit(("feed",), topic.slug, "feed", feed_name, "feed", FEED_WEIGHT))
        for name in text.categories:
            if name in topic.categories:
                found.implied = True
                found.hits.append(
                    _Hit(
                        ("category-match", name),
                        topic.slug,
                        "category",
                        topic.categories[name],
                        "category",
                        CATEGORY_WEIGHT,
                    )
                )
        return found

    def _rolled_up(
        self, topic: _CompiledTopic, own: dict[str, _Own], has_context: bool
    ) -> tuple[float, list[Evidence]]:
        """The topic's score over its own hits and those of its descendants that were not vetoed."""
        seen: set[tuple[object, ...]] = set()
        grouped: dict[tuple[str, str, str, str, bool], list[_Hit]] = {}
        for slug in (topic.slug, *topic.descendants):
            if own[slug].vetoes:
                continue
            for hit in own[slug].hits:
                if hit.key in seen:
                    continue
                seen.add(hit.key)
                key = (hit.topic, hit.rule, hit.term, hit.field, hit.needs_context)
                grouped.setdefault(key, []).append(hit)
        score = 0.0
        evidence = []
        for (slug, rule, term, field_name, needs_context), hits in grouped.items():
            counted = not needs_context or has_context
            points = sum(hit.points for hit in hits) if counted else 0.0
            score += points
            evidence.append(
                Evidence(
                    topic=slug,
                    rule=rule,
                    term=term,
                    field=field_name,
                    count=len(hits),
                    points=points,
                    counted=counted,
                    note=_note(rule, needs_context, counted),
                )
            )
        return score, evidence


def _note(rule: str, needs_context: bool, counted: bool) -> str:
    if not needs_context:
        return ""
    why = "ambiguous" if rule == "ambiguous" else "matched behind a prefix"
    return f"{why}; supported by other evidence" if counted else f"{why}; nothing supports it"


def _ancestors(slug: str, parents: dict[str, str | None]) -> tuple[str, ...]:
    """Parent first, then its parent, and so on."""
    chain: list[str] = []
    parent = parents.get(slug)
    # Config validation refuses cycles; the guard keeps a bad object from looping forever.
    while parent is not None and parent in parents and parent not in chain and parent != slug:
        chain.append(parent)
        parent = parents[parent]
    return tuple(chain)


def _reason(
    topic: _CompiledTopic,
    mine: _Own,
    score: float,
    evidence: list[Evidence],
    via: tuple[str, ...],
    filed: bool,
) -> str:
    threshold = topic.settings.rules.threshold
    implied = [e for e in evidence if e.topic == topic.slug and e.rule in ("feed", "category")]
    if filed:
        if implied:
            return f"filed: its {implied[0].rule} {implied[0].term!r} implies the topic"
        if score >= threshold:
            return f"filed: score {score:g} reaches the threshold {threshold:g}"
        return f"filed: through {', '.join(via)}"
    if evidence and all(not e.counted for e in evidence):
        return "not filed: only terms that need support, and nothing else supports them"
    if not evidence:
        return "not filed: every mention was an ignore phrase"
    return f"not filed: score {score:g} is below the threshold {threshold:g}"
