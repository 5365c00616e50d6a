"""Edition composition: choose and arrange one list's articles for one slot, with no side effects.

    candidates ─► file each under its best topic ─► rank ─► one per story (digest.stories)
               ─► lead (digest.leads: most covered or freshest) ─► repeats of a story weighed down
               ─► sections (balanced, capped)
               ─► recommended (the best of what did not fit) ─► "more from" an author
               ─► Edition, with the reasons for each place (digest.edition_reasons)

The rules, each chosen so the same inputs always give an equal edition:

- Only candidates filed under at least one of the list's topics count. Each is filed under its most
  specific topic among them (a child beats its ancestor); ties go to the higher score, then to the
  topic listed first.
- Freshness: every score is halved for each ``FRESHNESS_HALF_LIFE`` between the article's time
  (``Article.sort_time``) and the window's end, so a daily briefing leads with today's news even
  when its window spans days (a first edition given a longer lookback, a weekly).
- Rank: score under that topic, then recency (``Article.sort_time``), then having an image, then
  the canonical link: never the article id, which follows the order feeds were polled in.
- Distinct stories first: an item whose developing story (``digest.stories``' thread) already
  has items ranked before it in the edition (the lead included) has its score weighted by
  ``REPEAT_WEIGHT`` for each of them, so a section shows other stories before a second day of
  one, on top of the cap of ``stories.THREAD_ITEMS`` per section.
- Lead: taken from the list's first topic or its descendants by the list's lead rule
  (``digest.leads``): a weekly's is the story the most outlets covered, a daily's the freshest
  among the well-covered ones. An article with both an image and a summary is preferred when its
  score is at least half the best one the rule kept; when the first topic has nothing, the lead is
  taken the same way from the whole edition. An article the rules are unsure of (its stored score
  under every topic that could make it lead is below ``digest.topics.UNSURE_MARGIN`` times that
  topic's threshold) never leads; when no article is sure, the edition has no lead. The lead
  counts towards its topic's section but is not repeated in it.
- Cap and balance: at most ``max_articles`` articles in all, lead, items, "more from" and
  recommended alike. Sections fill up to ``max_articles - recommended`` (at least the lead): first
  the best article of each topic in list order, so every topic with material is seen, then the rest
  in rank order, no section taking more than half the cap (rounded up) while another section still
  has material. Only when every other section has run dry may a section grow past its half.
- Recommended: the best-ranked articles that did not make the sections, up to ``recommended`` and
  within the cap.
- One per story: reports of one event (from other outlets or the same one, in any language; see
  ``digest.stories``) are shown once: the best-ranked stays, the others go under it as "also
  covered by". They are not shown anywhere else in the edition and do not count towards
  ``max_articles``. A section shows at most two stories of one developing thread; the others are
  left out.
- "More from": an author's other pieces move under their most prominent item
  (``digest.more_from``).
- Pictures: an image address ``digest.ingest.pictures`` knows for a pixel or a broken address
  counts as no picture, for the lead and the rank alike.
- Reasons: the edition carries, as data (``digest.reasons``), the terms each item was ranked by,
  the rule that placed it, how the lead was chosen, and what was left out and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from digest import bylines as byline_reading
from digest import edition_reasons, leads, semantic, stories
from digest.bylines import Bylines
from digest.config import ListSettings, TopicSettings
from digest.ingest.pictures import picture_url
from digest.more_from import RankKey, group_by_person
from digest.reasons import LeadWhy, Placement, RankTerms
from digest.records import Article, Candidate, Edition, EditionItem, Section
from digest.topics import is_unsure

FRESHNESS_HALF_LIFE = timedelta(hours=24)
# A later item of a developing story already shown costs this much of its score per earlier
# item: a 0.5 makes a second day of one story rank below a fresh other story half as strong.
REPEAT_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class _Pick:
    """A candidate filed under its topic in this edition, with its ranking key."""

    article: Article
    topic: str
    score: float  # under ``topic``, weighted by freshness
    scores: Mapping[str, float]  # every topic the article was filed under, weighted alike
    topic_score: float  # under ``topic``, as the rules gave it
    freshness: float
    repeats: int = 0  # items of its developing story ranked before it

    @property
    def id(self) -> int:
        return self.article.id

    @property
    def rank(self) -> RankKey:
        return _rank_key(self.article, self.score * REPEAT_WEIGHT**self.repeats)


def _rank_key(article: Article, score: float) -> RankKey:
    # The last term is the canonical link, unique and the same whatever the poll order.
    return (
        -score,
        -article.sort_time.timestamp(),
        picture_url(article.image_url) is None,
        article.link,
    )


class _TopicTree:
    def __init__(self, topics: Sequence[TopicSettings]) -> None:
        self._parents = {topic.slug: topic.parent for topic in topics}
        self._names = {topic.slug: topic.name for topic in topics}

    def name(self, slug: str) -> str:
        return self._names.get(slug, slug)

    def ancestors(self, slug: str) -> tuple[str, ...]:
        chain: list[str] = []
        parent = self._parents.get(slug)
        while parent is not None and parent not in chain:  # config refuses cycles; guard anyway
            chain.append(parent)
            parent = self._parents.get(parent)
        return tuple(chain)

    def subtree(self, slug: str) -> frozenset[str]:
        """The topic and all its descendants."""
        return frozenset(
            other for other in self._parents if other == slug or slug in self.ancestors(other)
        )


@dataclass(frozen=True, slots=True)
class _Stories:
    """The picks one per story, each kept pick's other reports, and what the thread cap left."""

    kept: list[_Pick]
    also_covered: dict[int, tuple[Article, ...]]
    thread: Mapping[int, str]  # article id -> its developing story's key
    dropped: list[_Pick]  # the best report of each story over its thread's share


def build_edition(
    digest_list: ListSettings,
    topics: Sequence[TopicSettings],
    *,
    slot: datetime,
    window_start: datetime | None,
    window_end: datetime,
    candidates: Sequence[Candidate],
    bylines: Bylines = byline_reading.DEFAULT,
) -> Edition:
    """Compose the edition of ``digest_list`` due at ``slot`` from the window's candidates;
    ``bylines`` reads who wrote each (the config's feeds add their own agency bylines)."""
    tree = _TopicTree(topics)
    found = _one_per_story(_file(_merge(candidates), window_end, digest_list.topics, tree))
    if not found.kept:
        return Edition(
            list_slug=digest_list.slug,
            slot=slot,
            window_start=window_start,
            window_end=window_end,
            lead=None,
        )

    also_covered = found.also_covered
    covered = {p.id: leads.coverage(p.article, also_covered.get(p.id, ())) for p in found.kept}
    lead, lead_why = _choose_lead(
        found.kept,
        tree.subtree(digest_list.topics[0]),
        _sure_topics(candidates, topics),
        covered,
        leads.rule_for(digest_list, slot),
        window_end,
    )
    picks = _weigh_repeats(found.kept, lead, found.thread)
    sections, recommended, places = _select(picks, lead, digest_list)
    more_from = group_by_person(_by_prominence(lead, sections, recommended), also_covered, bylines)
    moved = {article.id for articles in more_from.values() for article in articles}

    def item(pick: _Pick) -> EditionItem:
        return EditionItem(
            article=pick.article,
            topic=pick.topic,
            more_from=more_from.get(pick.id, ()),
            also_covered_by=also_covered.get(pick.id, ()),
        )

    shown_sections = tuple(
        Section(topic=topic, title=tree.name(topic), items=items)
        for topic in digest_list.topics
        if (items := tuple(item(p) for p in sections.get(topic, ()) if p.id not in moved))
    )
    edition = Edition(
        list_slug=digest_list.slug,
        slot=slot,
        window_start=window_start,
        window_end=window_end,
        lead=item(lead) if lead is not None else None,
        sections=shown_sections,
        recommended=tuple(item(p) for p in recommended if p.id not in moved),
    )
    why = edition_reasons.gather(
        edition,
        [_ranked(pick, covered) for pick in picks],
        [_ranked(pick, covered) for pick in found.dropped],
        places,
        lead_why,
        digest_list,
        bylines,
    )
    return replace(edition, why=why)


def _merge(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per article id, whatever the caller passed twice; scores merged by maximum."""
    merged: dict[int, Candidate] = {}
    for candidate in candidates:
        seen = merged.get(candidate.article.id)
        if seen is None:
            merged[candidate.article.id] = candidate
        else:
            scores = dict(seen.topics)
            for slug, score in candidate.topics.items():
                scores[slug] = max(scores.get(slug, score), score)
            merged[candidate.article.id] = Candidate(article=seen.article, topics=scores)
    return [merged[article_id] for article_id in sorted(merged)]


def _freshness(article: Article, window_end: datetime) -> float:
    """The weight of the article's age (see the module docstring)."""
    age = max(window_end - article.sort_time, timedelta(0))
    return float(0.5 ** (age / FRESHNESS_HALF_LIFE))


def _file(
    candidates: Iterable[Candidate],
    window_end: datetime,
    list_topics: Sequence[str],
    tree: _TopicTree,
) -> list[_Pick]:
    """File each candidate under its best topic of the list, its scores weighted by freshness;
    the result is in rank order."""
    order = {slug: index for index, slug in enumerate(list_topics)}
    picks = []
    for candidate in candidates:
        matched = [slug for slug in list_topics if slug in candidate.topics]
        if not matched:
            continue
        weight = _freshness(candidate.article, window_end)
        scores = {slug: score * weight for slug, score in candidate.topics.items()}
        covered = {ancestor for slug in matched for ancestor in tree.ancestors(slug)}
        most_specific = [slug for slug in matched if slug not in covered]
        topic = min(most_specific, key=lambda slug: (-scores[slug], order[slug]))
        picks.append(
            _Pick(
                article=candidate.article,
                topic=topic,
                score=scores[topic],
                scores=scores,
                topic_score=candidate.topics[topic],
                freshness=weight,
            )
        )
    return sorted(picks, key=lambda pick: pick.rank)


def _one_per_story(picks: Sequence[_Pick]) -> _Stories:
    """The best-ranked pick of each story (``picks`` are in rank order), at most
    ``stories.THREAD_ITEMS`` of one developing story per section, and for each kept pick's id the
    other reports of its story, best-ranked first (``digest.stories``)."""
    found = stories.group([pick.article for pick in picks], encoder=semantic.encoder())
    kept, others = stories.shown(picks, lambda pick: pick.article, lambda pick: pick.topic, found)
    placed = {pick.id for pick in kept} | {a.id for group in others.values() for a in group}
    dropped: dict[str, _Pick] = {}
    for pick in picks:
        if pick.id not in placed:
            dropped.setdefault(found.story.get(pick.id, pick.article.link), pick)
    return _Stories(
        kept=kept,
        also_covered={head_id: tuple(articles) for head_id, articles in others.items()},
        thread={p.id: found.thread.get(p.id, found.story.get(p.id, p.article.link)) for p in picks},
        dropped=list(dropped.values()),
    )


def _weigh_repeats(
    picks: Sequence[_Pick], lead: _Pick | None, thread: Mapping[int, str]
) -> list[_Pick]:
    """``picks`` with each one's earlier items of its developing story counted (the lead first,
    then in rank order), re-ranked by the weighted score (see ``REPEAT_WEIGHT``)."""
    seen: Counter[str] = Counter([thread[lead.id]] if lead is not None else [])
    weighed = []
    for pick in picks:
        if lead is not None and pick.id == lead.id:
            weighed.append(pick)
            continue
        weighed.append(replace(pick, repeats=seen[thread[pick.id]]))
        seen[thread[pick.id]] += 1
    return sorted(weighed, key=lambda pick: pick.rank)


def _sure_topics(
    candidates: Iterable[Candidate], topics: Sequence[TopicSettings]
) -> dict[int, frozenset[str]]:
    """For each article, the topics whose rules are sure of it, judged on the stored scores."""
    thresholds = {topic.slug: topic.rules.threshold for topic in topics}
    return {
        candidate.article.id: frozenset(
            slug
            for slug, score in candidate.topics.items()
            if not is_unsure(score, thresholds.get(slug, 1.0))
        )
        for candidate in _merge(candidates)
    }


def _choose_lead(
    picks: Sequence[_Pick],
    first_topic: frozenset[str],
    sure: Mapping[int, frozenset[str]],
    covered: Mapping[int, leads.Coverage],
    rule: leads.Rule,
    window_end: datetime,
) -> tuple[_Pick | None, LeadWhy | None]:
    """The lead, and how it was chosen: see the module docstring and ``digest.leads``.
    ``first_topic`` is the list's first topic's subtree."""

    def lead_score(pick: _Pick) -> float:
        return max(
            (score for slug, score in pick.scores.items() if slug in first_topic), default=0.0
        )

    pool = [pick for pick in picks if sure.get(pick.id, frozenset()) & first_topic]
    if pool:
        scored = sorted(
            ((lead_score(p), p) for p in pool), key=lambda sp: _rank_key(sp[1].article, sp[0])
        )
    else:
        scored = [(pick.score, pick) for pick in picks if pick.topic in sure.get(pick.id, ())]

    def article(pick: _Pick) -> Article:
        return pick.article

    def coverage(pick: _Pick) -> leads.Coverage:
        return covered[pick.id]

    # Bound before unpacking: unpacked here, mypy would read the type from the return annotation.
    found = leads.choose(scored, rule, window_end, article, coverage)
    lead, choice = found
    if lead is None:
        return None, None
    return lead, LeadWhy(
        rule=rule.rule,
        from_config=rule.from_config,
        interval_hours=rule.interval / timedelta(hours=1),
        pool="first-topic" if pool else "edition",
        pool_size=len(scored),
        narrowed_to=choice.narrowed_to,
        well_covered=choice.well_covered,
        illustrated_over=choice.illustrated_over.id if choice.illustrated_over else None,
    )


def _select(
    picks: Sequence[_Pick], lead: _Pick | None, digest_list: ListSettings
) -> tuple[dict[str, list[_Pick]], list[_Pick], dict[int, Placement]]:
    """The articles of each section (rank order, lead left out), the recommended ones, and the
    rule that placed each."""
    cap = digest_list.max_articles
    sections_budget = max(1, cap - digest_list.recommended)
    topics_with_material = {pick.topic for pick in picks}
    share = -(-cap // 2) if len(topics_with_material) > 1 else cap

    counts: Counter[str] = Counter([lead.topic] if lead is not None else [])
    chosen: set[int] = {lead.id} if lead is not None else set()
    sections: dict[str, list[_Pick]] = {}
    places: dict[int, Placement] = {lead.id: "lead"} if lead is not None else {}

    def take(pick: _Pick, place: Placement) -> None:
        counts[pick.topic] += 1
        chosen.add(pick.id)
        sections.setdefault(pick.topic, []).append(pick)
        places[pick.id] = place

    # Every topic with material first shows its best article, in the list's order.
    for topic in digest_list.topics:
        if len(chosen) >= sections_budget:
            break
        if counts[topic] == 0:
            best = next((pick for pick in picks if pick.topic == topic), None)
            if best is not None:
                take(best, "topic-best")

    overflow: list[_Pick] = []
    for pick in picks:
        if pick.id in chosen:
            continue
        if len(chosen) < sections_budget and counts[pick.topic] < share:
            take(pick, "rank")
        else:
            overflow.append(pick)

    # Room left means every refusal above came from a share: the other sections have run dry, so
    # the sections over their share may grow.
    leftovers: list[_Pick] = []
    for pick in overflow:
        if len(chosen) < sections_budget:
            take(pick, "past-share")
        else:
            leftovers.append(pick)

    room = min(digest_list.recommended, cap - len(chosen))
    recommended = leftovers[: max(0, room)]
    places.update((pick.id, "recommended") for pick in recommended)
    for topic_picks in sections.values():
        topic_picks.sort(key=lambda pick: pick.rank)
    return sections, recommended, places


def _ranked(pick: _Pick, covered: Mapping[int, leads.Coverage]) -> edition_reasons.Ranked:
    """What the reasons say of ``pick``: its rank terms (``digest.reasons``)."""
    coverage = covered.get(pick.id, leads.Coverage(1, 1))
    terms = RankTerms(
        topic_score=pick.topic_score,
        freshness=pick.freshness,
        sources=coverage.sources,
        reports=coverage.reports,
        repeats=pick.repeats,
        repeat_weight=REPEAT_WEIGHT**pick.repeats,
        has_picture=picture_url(pick.article.image_url) is not None,
    )
    return edition_reasons.Ranked(pick.article, pick.topic, terms)


def _by_prominence(
    lead: _Pick | None, sections: Mapping[str, Sequence[_Pick]], recommended: Sequence[_Pick]
) -> list[tuple[Article, RankKey]]:
    """The items shown, the lead first, then the sections', then recommended, each by rank."""
    ordered: list[tuple[tuple[int, RankKey], _Pick]] = (
        [((0, lead.rank), lead)] if lead is not None else []
    )
    ordered += [((1, p.rank), p) for picks in sections.values() for p in picks]
    ordered += [((2, p.rank), p) for p in recommended]
    ordered.sort(key=lambda entry: entry[0])
    return [(pick.article, pick.rank) for _, pick in ordered]
