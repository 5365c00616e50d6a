"""The classifier: the evidence each topic's rules find in an article, and the verdict per topic."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Sequence

from digest.config import Settings, TopicSettings
from digest.records import Article, TopicMatch
from digest.topics.article_text import ArticleText
from digest.topics.findings import (
    UNSUPPORTED_CATEGORY,
    CompiledTopic,
    Findings,
    Hit,
    Scored,
    rolled_up,
    tallied,
)
from digest.topics.normalize import normalize_text
from digest.topics.rules import MASK, Term, TermPattern
from digest.topics.verdicts import Evidence, Explanation, TopicVerdict, Veto

# The weights are whole numbers, so a score, their sum, is exact in whatever order the points
# are added: ``classify`` adds them hit by hit, ``explain`` shows them summed rule by rule.
TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 1.0
CATEGORY_TEXT_WEIGHT = 1.0  # a term inside one of the article's category names
FEED_WEIGHT = 1.0
CATEGORY_WEIGHT = 2.0  # an article category equal to one of the topic's categories

_FIELD_WEIGHTS = {
    "title": TITLE_WEIGHT,
    "summary": SUMMARY_WEIGHT,
    "category": CATEGORY_TEXT_WEIGHT,
}
_INCLUDE_KINDS = ("include", "place", "person", "group", "ambiguous")


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


def classifier_for(settings: Settings) -> TopicClassifier:
    """The classifier of a config: its topics, and the feeds whose categories it trusts."""
    trusted = [feed.name for feed in settings.feeds if feed.trust_categories]
    return TopicClassifier(settings.topics, trusted_feeds=trusted)


class TopicClassifier:
    """Files articles under topics; build once per config and reuse for every article."""

    def __init__(
        self, topics: Sequence[TopicSettings], trusted_feeds: Collection[str] = ()
    ) -> None:
        """``trusted_feeds``: names of the feeds whose categories count on their own
        (``feeds[].trust_categories``); anyone else's count only beside the article's text."""
        self._trusted_feeds = frozenset(trusted_feeds)
        parents = {topic.slug: topic.parent for topic in topics}
        chains = {topic.slug: _ancestors(topic.slug, parents) for topic in topics}
        by_slug = {topic.slug: topic for topic in topics}
        self._above = {
            slug: tuple(by_slug[other] for other in chain) for slug, chain in chains.items()
        }
        # A sub-topic with no ignore phrases of its own has its parent's: one pattern for both,
        # so that an article is masked once for the two (see ``ArticleText.masked``).
        ignores: dict[tuple[tuple[Term, ...], bool], TermPattern] = {}

        def shared(terms: list[Term], clitic_prefixes: bool) -> TermPattern:
            key = (tuple(terms), clitic_prefixes)
            if key not in ignores:
                ignores[key] = TermPattern(terms, clitic_prefixes=clitic_prefixes)
            return ignores[key]

        self._topics = tuple(
            CompiledTopic(
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
                ignore=shared(
                    [
                        term
                        for slug in (topic.slug, *chains[topic.slug])
                        for term in _terms(by_slug[slug], ("ignore",))
                    ],
                    topic.rules.clitic_prefixes,
                ),
            )
            for topic in topics
        )
        self._separator = _separator(topics)
        # Each topic with those below it, whose evidence counts for it: its verdict's reading.
        compiled = {topic.slug: topic for topic in self._topics}
        self._trees = {
            topic.slug: (topic, *(compiled[other] for other in topic.descendants))
            for topic in self._topics
        }

    def counting_for(self, slug: str) -> tuple[TopicSettings, ...]:
        """The topic ``slug`` and those below it, whose evidence counts for it too (none for a
        slug no topic has)."""
        for topic in self._topics:
            if topic.slug == slug:
                below = {other.slug: other.settings for other in self._topics}
                return (topic.settings, *(below[other] for other in topic.descendants))
        return ()

    def above(self, slug: str) -> tuple[TopicSettings, ...]:
        """The topics above ``slug``, its parent first: their ignore phrases hold for it too."""
        return self._above.get(slug, ())

    def standing(self, article: Article, slug: str) -> tuple[bool, float]:
        """Whether the article is filed under the topic ``slug``, and its score there (0 when
        vetoed): ``explain``'s verdict on that one topic, without writing any explanation.

        Only the topic's own tree (it and the topics below it) is read, unless one of its hits
        needs context that the tree does not give: another topic of its root's may."""
        tree = self._trees.get(slug)
        if tree is None:
            return False, 0.0
        topic = tree[0]
        text = self._text(article)
        own = {member.slug: self._own(member, article.feed_name, text) for member in tree}
        if article.feed_name in self._trusted_feeds:
            for mine in own.values():
                mine.implied = mine.implied or mine.implied_by_category
        else:
            self._unsupported_categories(own, tree)
        if own[slug].vetoes:
            return False, 0.0
        has_context = any(mine.gives_context() for mine in own.values())
        if not has_context and any(hit.needs_context for m in own.values() for hit in m.hits):
            # The context a term needs may come from any topic of the root's tree.
            _, scored, passes = self._judge(article)
            score = scored[slug][0]
        else:
            passes = {}
            for member in tree:
                mine = own[member.slug]
                rolled, _ = rolled_up(member, own, has_context)
                passes[member.slug] = not mine.vetoes and (
                    mine.implied or rolled >= member.settings.rules.threshold
                )
            score = rolled_up(topic, own, has_context)[0]
        return passes[slug] or any(passes[other] for other in topic.descendants), score

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
            score, hits, _ = scored[topic.slug]
            # (most topics have no descendants: no generator to build for them)
            via = bool(topic.descendants) and any(passes[slug] for slug in topic.descendants)
            if (hits or mine.ignored or via) and (passes[topic.slug] or via):
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
            score, hits, has_context = scored[topic.slug]
            via = tuple(slug for slug in topic.descendants if passes[slug])
            if not (hits or mine.ignored or via):
                continue
            tallies = tallied(hits, has_context)
            evidence = [
                Evidence(
                    topic=slug,
                    rule=rule,
                    term=term,
                    field=field_name,
                    count=count,
                    points=points,
                    counted=counted,
                    note=note,
                )
                for slug, rule, term, field_name, note, count, points, counted in tallies
            ]
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
    ) -> tuple[dict[str, Findings], dict[str, Scored], dict[str, bool]]:
        """What each topic's own rules found, each topic's rolled-up score and hits (vetoed
        topics have none), and whether each passes on its own."""
        text = self._text(article)
        feed_name = article.feed_name
        own = {topic.slug: self._own(topic, feed_name, text) for topic in self._topics}
        if feed_name in self._trusted_feeds:
            for mine in own.values():
                mine.implied = mine.implied or mine.implied_by_category
        else:
            self._unsupported_categories(own)
        context = {topic.root for topic in self._topics if own[topic.slug].gives_context()}
        passes: dict[str, bool] = {}
        scored: dict[str, Scored] = {}
        for topic in self._topics:
            mine = own[topic.slug]
            if mine.vetoes:
                passes[topic.slug] = False
                continue
            has_context = topic.root in context
            score, hits = rolled_up(topic, own, has_context)
            scored[topic.slug] = (score, hits, has_context)
            passes[topic.slug] = mine.implied or score >= topic.settings.rules.threshold
        return own, scored, passes

    def _text(self, article: Article) -> ArticleText:
        return ArticleText.of(
            self._separator,
            title=normalize_text(article.title),
            summary=normalize_text(article.summary_text),
            # Duplicates such as "Iran" and "IRAN" count once.
            categories=tuple(sorted({normalize_text(name) for name in article.categories} - {""})),
        )

    def _own(self, topic: CompiledTopic, feed_name: str, text: ArticleText) -> Findings:
        found = Findings()
        self._scan(topic, text, found)
        if feed_name in topic.feeds:
            found.implied = True
            found.hits.append(Hit(("feed",), topic.slug, "feed", feed_name, "feed", FEED_WEIGHT))
        if topic.categories:
            for name in text.categories:
                if name in topic.categories:
                    found.implied_by_category = True
                    found.hits.append(
                        Hit(
                            ("category-match", name),
                            topic.slug,
                            "category",
                            topic.categories[name],
                            "category",
                            CATEGORY_WEIGHT,
                        )
                    )
        return found

    def _unsupported_categories(
        self, own: dict[str, Findings], topics: Sequence[CompiledTopic] | None = None
    ) -> None:
        """A publisher's categories count beside evidence from the article's title, text or
        feed for the topic or a topic under it, never alone (an arts piece is tagged with a
        country's name as readily as a report from it): alone, they count for nothing. Only
        for a feed whose categories the operator does not trust."""
        for topic in self._topics if topics is None else topics:
            mine = own[topic.slug]
            if not any(hit.field == "category" for hit in mine.hits):
                continue
            tree = (topic.slug, *topic.descendants)
            if any(hit.field != "category" for slug in tree for hit in own[slug].hits):
                mine.implied = mine.implied or mine.implied_by_category
                continue
            for hit in mine.hits:
                if hit.field == "category":
                    hit.points, hit.unsupported = 0.0, True

    @staticmethod
    def _scan(topic: CompiledTopic, text: ArticleText, found: Findings) -> None:
        """The topic's exclude, ignore and include terms in the article's title, summary and
        categories (exclude terms in the title and summary only)."""
        if topic.exclude:  # most topics have no exclude or ignore terms: no need to look
            found.vetoes += [
                Veto(term.text, "title" if text.slot(start) == 0 else "summary")
                for term, start, _, _ in topic.exclude.spans(text.head)
            ]
        masked = text.joined
        if topic.ignore:
            # Masking keeps offsets, so the joined fields masked are the fields masked, joined.
            masked, ignored = text.masked(topic.ignore)
            for hit in ignored:  # each phrase listed once, however often it was found
                if hit.term.text not in found.ignored:
                    found.ignored.append(hit.term.text)
        starts, places, hits = text.starts, text.places, found.hits
        for term, start, _, prefixed in topic.terms.spans(masked):
            slot = bisect_right(starts, start) - 1  # text.slot(start), without the call
            field_name, index = places[slot]
            hits.append(
                Hit(
                    (field_name, index, start - starts[slot]),
                    topic.slug,
                    term.kind,
                    term.text,
                    field_name,
                    _FIELD_WEIGHTS[field_name],
                    term.kind == "ambiguous" or prefixed,
                )
            )


def _separator(topics: Sequence[TopicSettings]) -> str:
    """A character to join an article's fields with that no term of ``topics`` contains.

    ``MASK`` unless a config writes it into a term; the fallbacks are private-use characters.
    Each is neither a word character nor a space, and no clitic prefix is made of them.
    """
    kinds = (*_INCLUDE_KINDS, "exclude", "ignore")
    used = {
        char
        for topic in topics
        for term in _terms(topic, kinds)
        for char in normalize_text(term.text)
    }
    return next(char for char in (MASK, *map(chr, range(0xE000, 0xF900))) if char not in used)


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
    topic: CompiledTopic,
    mine: Findings,
    score: float,
    evidence: list[Evidence],
    via: tuple[str, ...],
    filed: bool,
) -> str:
    threshold = topic.settings.rules.threshold
    implied = [
        e
        for e in evidence
        if e.topic == topic.slug and e.rule in ("feed", "category") and e.counted
    ]
    if filed:
        if implied:
            return f"filed: its {implied[0].rule} {implied[0].term!r} implies the topic"
        if score >= threshold:
            return f"filed: score {score:g} reaches the threshold {threshold:g}"
        return f"filed: through {', '.join(via)}"
    if evidence and all(e.note == UNSUPPORTED_CATEGORY for e in evidence):
        return "not filed: only the publisher's categories name it, and nothing in the text"
    if evidence and all(not e.counted for e in evidence):
        return "not filed: only terms that need support, and nothing else supports them"
    if not evidence:
        return "not filed: every mention was an ignore phrase"
    return f"not filed: score {score:g} is below the threshold {threshold:g}"
