"""Why an edition is laid out as it is, as data: what ``digest.compose`` found for each place.

    compose ─► EditionWhy(lead: LeadWhy, sections: SectionWhy…, items: ItemWhy…, left_out…)
            ─► digest.edition_why (the text of ``digest preview LIST --why``)
            ─► digest.edition_json (the ``why`` fields of ``--json``)

Compose records numbers and kinds, never sentences: the words are the command line's to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LeadRule = Literal["most-covered", "freshest"]
# Where an item's place came from (digest.compose's module docstring tells each rule):
# "lead"; "topic-best" (the best of its topic, shown first so every topic is seen); "rank" (in
# rank order within the section's share); "past-share" (the other sections had run dry);
# "recommended" (the best of what did not fit the sections); "more-from" (under the item of a
# person who wrote it).
Placement = Literal["lead", "topic-best", "rank", "past-share", "recommended", "more-from"]
# Why a candidate is not shown: "max-articles" (no room left under the cap) or "thread-cap"
# (its section already shows as many stories of its developing story as it may).
LeftOutReason = Literal["max-articles", "thread-cap"]


@dataclass(frozen=True, slots=True)
class RankTerms:
    """The terms an article is ranked by, in their order of weight."""

    topic_score: float  # its score under the topic it is shown under, as the rules gave it
    freshness: float  # the weight of its age: 1.0 at the window's end, halved each half-life
    sources: int  # outlets that reported its story in the window, itself included
    reports: int  # reports of its story in the window, itself included
    repeats: int  # items of its developing story ranked before it in this edition
    repeat_weight: float  # what those cost it: 1.0 for the first item of a developing story
    has_picture: bool  # the third tie-break, after the score and the time

    @property
    def rank_score(self) -> float:
        """The score it is ranked by: the topic score weighted by freshness and repeats."""
        return self.topic_score * self.freshness * self.repeat_weight


@dataclass(frozen=True, slots=True)
class ItemWhy:
    """Why one article is shown where it is."""

    article_id: int
    placement: Placement
    position: int  # 1-based, within its block (the section, "Recommended", the "More from" box)
    terms: RankTerms
    under: int | None = None  # for "more-from": the id of the item it is listed under
    person: str | None = None  # for "more-from": the person both are by


@dataclass(frozen=True, slots=True)
class LeadWhy:
    """How the lead was chosen."""

    rule: LeadRule
    from_config: bool  # the list's ``lead`` key chose the rule, not its schedule
    interval_hours: float  # the time between two editions of the list's schedule
    pool: Literal["first-topic", "edition"]  # where it was sought (the first topic had none)
    pool_size: int  # stories there the rules are sure of
    narrowed_to: int  # stories of that pool the rule kept (the most covered, the well covered)
    well_covered: bool  # "freshest": whether a fresh story of the pool had WELL_COVERED_SOURCES
    illustrated_over: int | None  # the better-ranked article passed over for want of a picture


@dataclass(frozen=True, slots=True)
class SectionWhy:
    """Why a section is where it is and holds as many items as it does."""

    topic: str
    list_position: int  # 1-based place of its topic in the list's ``topics``
    share: int  # the most articles it may hold while another section has material
    past_share: bool  # it grew past that share because the others had run dry


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A candidate the edition does not show, with why."""

    article_id: int
    title: str
    topic: str
    reason: LeftOutReason
    terms: RankTerms


@dataclass(frozen=True, slots=True)
class EditionWhy:
    """The reasons for every place of an edition."""

    max_articles: int
    recommended: int
    lead: LeadWhy | None
    sections: tuple[SectionWhy, ...]
    items: tuple[ItemWhy, ...]  # the lead, the sections' items, recommended, "More from"
    left_out: tuple[LeftOut, ...]  # best-ranked first

    def item(self, article_id: int) -> ItemWhy | None:
        """The reasons for the article ``article_id``, when the edition shows it."""
        return next((item for item in self.items if item.article_id == article_id), None)

    def section(self, topic: str) -> SectionWhy | None:
        return next((section for section in self.sections if section.topic == topic), None)
