""" "More from": an author's other pieces in an edition, moved under their most prominent item.

When one person has several articles in the edition (``digest.bylines``: an agency, a desk, the
outlet or no author is never grouped; names are compared as ``bylines.person_key`` spells them:
case, spacing, Unicode forms and invisible characters aside; a byline of several people counts for
each) at one outlet (the site its links are on), the most prominent one (the lead, else the
best-ranked in the sections, else in recommended) stays an item, and up to ``MORE_FROM_LIMIT``
others, best-ranked first, move under it. An item heads one person's "More from" at most. A piece
of a story shown elsewhere in the edition (its cluster, link or title, the lead and "also covered
by" included), or one with "also covered by" reports of its own, never moves: it stays an item.
Moving never changes the number of articles shown, so the edition's cap still holds; any further
pieces by the person stay items of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from digest.bylines import Bylines
from digest.ingest.urls import link_host
from digest.records import Article

MORE_FROM_LIMIT = 3  # an author's other pieces shown under their item
# An item's rank key (digest.compose._rank_key): compared, never read.
RankKey = tuple[float, float, bool, str]


def group_by_person(
    shown: Sequence[tuple[Article, RankKey]],
    also_covered: Mapping[int, Sequence[Article]],
    bylines: Bylines,
) -> dict[int, tuple[Article, ...]]:
    """For each person with several articles ``shown`` (most prominent first, each with its
    rank key): the head's id -> the articles moved under it (see the module docstring)."""
    rank = {article.id: key for article, key in shown}
    # What marks each item's story, its "also covered by" reports included.
    stories = {
        article.id: set().union(
            *(_story_keys(report) for report in (article, *also_covered.get(article.id, ())))
        )
        for article, _ in shown
    }

    # In the order each person first appears. A name is one person at one outlet: "Ahmed Ali"
    # of one outlet and "Ahmed Ali" of another are more often two reporters than one, and a
    # "More from" under the wrong one misleads, where one missed costs little.
    by_person: dict[tuple[str, str], list[Article]] = {}
    for article, _ in shown:
        for key in bylines.of(article).keys:
            by_person.setdefault((key, _outlet(article)), []).append(article)

    more_from: dict[int, tuple[Article, ...]] = {}
    moved: set[int] = set()
    for articles in by_person.values():
        available = [article for article in articles if article.id not in moved]
        if len(available) < 2 or available[0].id in more_from:
            continue
        head, *others = available
        # A piece of a story the edition shows elsewhere would repeat it under another item.
        movable = sorted(
            (
                article
                for article in others
                if article.id not in more_from
                and article.id not in also_covered  # its "also covered by" would be lost
                and not _story_shown_elsewhere(article, stories)
            ),
            key=lambda article: rank[article.id],
        )[:MORE_FROM_LIMIT]
        if movable:
            more_from[head.id] = tuple(movable)
            moved.update(article.id for article in movable)
    return more_from


def _outlet(article: Article) -> str:
    """The site of the article's link (``www.`` aside: an outlet's feeds link to both), or its
    feed when the link names no host."""
    return link_host(article.link).removeprefix("www.") or f"feed {article.feed_id}"


def _story_keys(article: Article) -> set[str]:
    """What marks two articles as one story here: the cluster, the link, the title."""
    keys = {f"link:{article.link}", f"title:{' '.join(article.title.casefold().split())}"}
    if article.cluster_id is not None:
        keys.add(f"cluster:{article.cluster_id}")
    return keys


def _story_shown_elsewhere(article: Article, stories: Mapping[int, set[str]]) -> bool:
    """Whether another item of the edition, or a report under one, is ``article``'s story;
    ``stories`` holds each item's story keys by its id."""
    keys = _story_keys(article)
    return any(keys & other for other_id, other in stories.items() if other_id != article.id)
