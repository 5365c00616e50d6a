"""The reasons for a composed edition's layout, gathered as data (``digest.reasons``).

    compose's decisions (each candidate's rank terms, the rule that placed it, the lead's choice)
        ─► EditionWhy: every shown article's place, each section's share, what was left out

Pure, like compose: it words nothing (``digest.edition_why`` does) and decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from digest.bylines import Bylines
from digest.config import ListSettings
from digest.reasons import (
    EditionWhy,
    ItemWhy,
    LeadWhy,
    LeftOut,
    LeftOutReason,
    Placement,
    RankTerms,
    SectionWhy,
)
from digest.records import Article, Edition, EditionItem


@dataclass(frozen=True, slots=True)
class Ranked:
    """What compose knows of one candidate it ranked."""

    article: Article
    topic: str  # the topic it is filed under
    terms: RankTerms


def gather(
    edition: Edition,
    ranked: Sequence[Ranked],
    thread_capped: Sequence[Ranked],
    places: Mapping[int, Placement],
    lead: LeadWhy | None,
    digest_list: ListSettings,
    bylines: Bylines,
) -> EditionWhy:
    """The reasons for ``edition``: ``ranked`` are the candidates shown or left for the cap (one
    per story), ``thread_capped`` the stories over their thread's share, ``places`` the rule
    that placed each shown item (by article id)."""
    by_id = {entry.article.id: entry for entry in ranked}
    items: list[ItemWhy] = []
    blocks: list[tuple[EditionItem, ...]] = [(edition.lead,) if edition.lead else ()]
    blocks += [section.items for section in edition.sections] + [edition.recommended]
    for block in blocks:
        for position, entry in enumerate(block, start=1):
            head = entry.article.id
            items.append(ItemWhy(head, places[head], position, by_id[head].terms))
            person = bylines.shared_person(entry.article, entry.more_from)
            for under, article in enumerate(entry.more_from, start=1):
                terms = by_id[article.id].terms
                items.append(ItemWhy(article.id, "more-from", under, terms, head, person))

    shown = {item.article_id for item in items}
    left = [_left_out(entry, "thread-cap") for entry in thread_capped]
    left += [_left_out(entry, "max-articles") for entry in ranked if entry.article.id not in shown]
    cap = digest_list.max_articles
    share = -(-cap // 2) if len({entry.topic for entry in ranked}) > 1 else cap
    return EditionWhy(
        max_articles=cap,
        recommended=digest_list.recommended,
        lead=lead,
        sections=tuple(
            SectionWhy(
                topic=section.topic,
                list_position=digest_list.topics.index(section.topic) + 1,
                share=share,
                past_share=any(places[e.article.id] == "past-share" for e in section.items),
            )
            for section in edition.sections
        ),
        items=tuple(items),
        # Best-ranked first; ties in the order compose ranked them.
        left_out=tuple(sorted(left, key=lambda entry: -entry.terms.rank_score)),
    )


def _left_out(entry: Ranked, reason: LeftOutReason) -> LeftOut:
    return LeftOut(entry.article.id, entry.article.title, entry.topic, reason, entry.terms)
