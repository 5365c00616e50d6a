"""Edition composition: choose and arrange one list's articles for one slot, with no side effects.

    candidates ─► file each under its best topic ─► rank ─► one per story (digest.stories) ─► lead
               ─► sections (balanced, capped)
               ─► recommended (the best of what did not fit) ─► "more from" an author ─► Edition

The rules, each chosen so the same inputs always give an equal edition:

- Only candidates filed under at least one of the list's topics count. Each is filed under its most
  specific topic among them (a child beats its ancestor); ties go to the higher score, then to the
  topic listed first.
- Freshness: every score is halved for each ``FRESHNESS_HALF_LIFE`` between the article's time
  (``Article.sort_time``) and the window's end, so a daily briefing leads with today's news even
  when its window (a list's first edition, say) spans a week.
- Rank: score under that topic, then recency (``Article.sort_time``), then having an image, then
  the lower article id.
- Lead: the best-ranked article of the list's first topic or its descendants. An article with both
  an image and a summary is preferred when its score is at least half the best one there; when the
  first topic has nothing, the lead is taken the same way from the whole edition. An article the
  rules are unsure of (its stored score under every topic that could make it lead is below
  ``digest.topics.UNSURE_MARGIN`` times that topic's threshold) never leads; when no article is
  sure, the edition has no lead. The lead counts towards its topic's section but is not repeated
  in it.
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
- "More from": when one person (``digest.bylines``: an agency, a desk, the outlet or no author
  is never grouped; names compared case-insensitively; a byline of several people counts for
  each) has several articles in the edition, the most prominent one (the lead, else the
  best-ranked in the sections, else in recommended) stays an item, and up to three others,
  best-ranked first, move under it. An item heads one person's "More from" at most; a piece
  of a story shown elsewhere in the edition (its cluster, link or title, the lead and "also
  covered by" included), or one with "also covered by" reports of its own, never moves: it
  stays an item. Moving never changes the number of
  articles shown, so the cap still holds; any further pieces by the person stay items of their
  own.
- Pictures: an image address ``digest.ingest.pictures`` knows for a pixel or a broken address
  counts as no picture, for the lead and the rank alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest import bylines as byline_reading
from digest import semantic, stories
from digest.bylines import Bylines
from digest.config import ListSettings, TopicSettings
from digest.ingest.pictures import picture_url
from digest.records import Article, Candidate, Edition, EditionItem, Section
from digest.topics import is_unsure

MORE_FROM_LIMIT = 3  # an author's other pieces shown under their item
# The lead prefers an article with an image and a summary when it scores at least this share of
# the best article, so a well-illustrated minor story never displaces the day's main one.
LEAD_ILLUSTRATED_SHARE = 0.5
FRESHNESS_HALF_LIFE = timedelta(hours=24)

_RankKey = tuple[float, float, bool, int]


@dataclass(frozen=True, slots=True)
class _Pick:
    """A candidate filed under its topic in this edition, with its ranking key."""

    article: Article
    topic: str
    score: float
    scores: Mapping[str, float]  # every topic the article was filed under

    @property
    def id(self) -> int:
        return self.article.id

    @property
    def rank(self) -> _RankKey:
        return _rank_key(self.article, self.score)


def _rank_key(article: Article, score: float) -> _RankKey:
    return (
        -score,
        -article.sort_time.timestamp(),
        picture_url(article.image_url) is None,
        article.id,
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
    fresh = [_freshened(candidate, window_end) for candidate in _merge(candidates)]
    picks, also_covered = _one_per_story(_file(fresh, digest_list.topics, tree))
    if not picks:
        return Edition(
            list_slug=digest_list.slug,
            slot=slot,
            window_start=window_start,
            window_end=window_end,
            lead=None,
        )

    lead = _choose_lead(
        picks, tree.subtree(digest_list.topics[0]), _sure_topics(candidates, topics)
    )
    sections, recommended = _select(picks, lead, digest_list)
    more_from = _group_by_person(lead, sections, recommended, also_covered, bylines)
    moved = {article.id for articles in more_from.values() for article in articles}

    def item(pick: _Pick) -> EditionItem:
        return EditionItem(
            article=pick.article,
            topic=pick.topic,
            more_from=more_from.get(pick.id, ()),
            also_covered_by=also_covered.get(pick.id, ()),
        )

    return Edition(
        list_slug=digest_list.slug,
        slot=slot,
        window_start=window_start,
        window_end=window_end,
        lead=item(lead) if lead is not None else None,
        sections=tuple(
            Section(topic=topic, title=tree.name(topic), items=items)
            for topic in digest_list.topics
            if (items := tuple(item(p) for p in sections.get(topic, ()) if p.id not in moved))
        ),
        recommended=tuple(item(p) for p in recommended if p.id not in moved),
    )


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


def _freshened(candidate: Candidate, window_end: datetime) -> Candidate:
    """The candidate with its scores weighted by freshness (see the module docstring)."""
    age = max(window_end - candidate.article.sort_time, timedelta(0))
    weight = 0.5 ** (age / FRESHNESS_HALF_LIFE)
    return Candidate(
        article=candidate.article,
        topics={slug: score * weight for slug, score in candidate.topics.items()},
    )


def _file(
    candidates: Iterable[Candidate], list_topics: Sequence[str], tree: _TopicTree
) -> list[_Pick]:
    """File each candidate under its best topic of the list; the result is in rank order."""
    order = {slug: index for index, slug in enumerate(list_topics)}
    picks = []
    for candidate in candidates:
        matched = [slug for slug in list_topics if slug in candidate.topics]
        if not matched:
            continue
        covered = {ancestor for slug in matched for ancestor in tree.ancestors(slug)}
        most_specific = [slug for slug in matched if slug not in covered]
        topic = min(most_specific, key=lambda slug: (-candidate.topics[slug], order[slug]))
        picks.append(
            _Pick(
                article=candidate.article,
                topic=topic,
                score=candidate.topics[topic],
                scores=candidate.topics,
            )
        )
    return sorted(picks, key=lambda pick: pick.rank)


def _one_per_story(picks: Sequence[_Pick]) -> tuple[list[_Pick], dict[int, tuple[Article, ...]]]:
    """The best-ranked pick of each story (``picks`` are in rank order), at most
    ``stories.THREAD_ITEMS`` of one developing story per section, and for each kept pick's id the
    other reports of its story, best-ranked first (``digest.stories``)."""
    found = stories.group([pick.article for pick in picks], encoder=semantic.encoder())
    kept, others = stories.shown(picks, lambda pick: pick.article, lambda pick: pick.topic, found)
    return kept, {head_id: tuple(articles) for head_id, articles in others.items()}


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
    picks: Sequence[_Pick], first_topic: frozenset[str], sure: Mapping[int, frozenset[str]]
) -> _Pick | None:
    """The lead: see the module docstring. ``first_topic`` is the list's first topic's subtree."""

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
    if not scored:
        return None
    best_score = scored[0][0]
    for score, pick in scored:
        illustrated = (
            picture_url(pick.article.image_url) is not None
            and pick.article.summary_text.strip() != ""
        )
        if illustrated and score >= best_score * LEAD_ILLUSTRATED_SHARE:
            return pick
    return scored[0][1]


def _select(
    picks: Sequence[_Pick], lead: _Pick | None, digest_list: ListSettings
) -> tuple[dict[str, list[_Pick]], list[_Pick]]:
    """The articles of each section (rank order, lead left out) and the recommended ones."""
    cap = digest_list.max_articles
    sections_budget = max(1, cap - digest_list.recommended)
    topics_with_material = {pick.topic for pick in picks}
    share = -(-cap // 2) if len(topics_with_material) > 1 else cap

    counts: Counter[str] = Counter([lead.topic] if lead is not None else [])
    chosen: set[int] = {lead.id} if lead is not None else set()
    sections: dict[str, list[_Pick]] = {}

    def take(pick: _Pick) -> None:
        counts[pick.topic] += 1
        chosen.add(pick.id)
        sections.setdefault(pick.topic, []).append(pick)

    # Every topic with material first shows its best article, in the list's order.
    for topic in digest_list.topics:
        if len(chosen) >= sections_budget:
            break
        if counts[topic] == 0:
            best = next((pick for pick in picks if pick.topic == topic), None)
            if best is not None:
                take(best)

    overflow: list[_Pick] = []
    for pick in picks:
        if pick.id in chosen:
            continue
        if len(chosen) < sections_budget and counts[pick.topic] < share:
            take(pick)
        else:
            overflow.append(pick)

    # Room left means every refusal above came from a share: the other sections have run dry, so
    # the sections over their share may grow.
    leftovers: list[_Pick] = []
    for pick in overflow:
        if len(chosen) < sections_budget:
            take(pick)
        else:
            leftovers.append(pick)

    room = min(digest_list.recommended, cap - len(chosen))
    recommended = leftovers[: max(0, room)]
    for topic_picks in sections.values():
        topic_picks.sort(key=lambda pick: pick.rank)
    return sections, recommended


def _group_by_person(
    lead: _Pick | None,
    sections: Mapping[str, Sequence[_Pick]],
    recommended: Sequence[_Pick],
    also_covered: Mapping[int, Sequence[Article]],
    bylines: Bylines,
) -> dict[int, tuple[Article, ...]]:
    """For each person with several articles shown: the head's id -> the articles moved under it
    (see the module docstring)."""
    by_prominence: list[tuple[tuple[int, _RankKey], _Pick]] = (
        [((0, lead.rank), lead)] if lead is not None else []
    )
    by_prominence += [((1, p.rank), p) for picks in sections.values() for p in picks]
    by_prominence += [((2, p.rank), p) for p in recommended]
    by_prominence.sort(key=lambda entry: entry[0])
    shown = [pick for _, pick in by_prominence]
    # What marks each item's story, its "also covered by" reports included.
    stories = {
        pick.id: set().union(
            *(_story_keys(article) for article in (pick.article, *also_covered.get(pick.id, ())))
        )
        for pick in shown
    }

    by_person: dict[str, list[_Pick]] = {}  # in the order each person first appears
    for pick in shown:
        for key in bylines.of(pick.article).keys:
            by_person.setdefault(key, []).append(pick)

    more_from: dict[int, tuple[Article, ...]] = {}
    moved: set[int] = set()
    for picks in by_person.values():
        available = [pick for pick in picks if pick.id not in moved]
        if len(available) < 2 or available[0].id in more_from:
            continue
        head, *others = available
        # A piece of a story the edition shows elsewhere would repeat it under another item.
        movable = sorted(
            (
                pick
                for pick in others
                if pick.id not in more_from
                and pick.id not in also_covered  # its "also covered by" would be lost
                and not _story_shown_elsewhere(pick, stories)
            ),
            key=lambda pick: pick.rank,
        )[:MORE_FROM_LIMIT]
        if movable:
            more_from[head.id] = tuple(pick.article for pick in movable)
            moved.update(pick.id for pick in movable)
    return more_from


def _story_keys(article: Article) -> set[str]:
    """What marks two articles as one story here: the cluster, the link, the title."""
    keys = {f"link:{article.link}", f"title:{' '.join(article.title.casefold().split())}"}
    if article.cluster_id is not None:
        keys.add(f"cluster:{article.cluster_id}")
    return keys


def _story_shown_elsewhere(pick: _Pick, stories: Mapping[int, set[str]]) -> bool:
    """Whether another item of the edition, or a report under one, is ``pick``'s story;
    ``stories`` holds each item's story keys by its id."""
    keys = _story_keys(pick.article)
    return any(keys & other for other_id, other in stories.items() if other_id != pick.id)
