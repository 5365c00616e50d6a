"""Leads: which story tops an edition, for a weekly and for a daily, with no side effects.

    list's ``lead`` key, else its schedule ─► rule ─► the pool narrowed by coverage ─► the lead

- **most-covered** (a weekly): the story the most outlets reported in the window, then the one
  with the most reports; the rank (score weighted by freshness, then recency) breaks ties.
- **freshest** (a daily): among the fresh stories at least ``WELL_COVERED_SOURCES`` outlets
  reported, the best-ranked, which the freshness weight makes today's; when no fresh story is that
  well covered, the best-ranked of all. Fresh: reported within the time between two editions
  (``FRESH_SPAN`` at least) of the window's end, so a daily whose window spans days still leads
  with today's news rather than with the week's most told story.

Left out of the config, the rule follows the schedule: editions ``WEEKLY_INTERVAL`` or more apart
(on average over the next few) take "most-covered", closer ones "freshest". Within what the rule
keeps, an article with a picture and a summary is preferred when it scores at least
``ILLUSTRATED_SHARE`` of the best one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from digest.config import ListSettings
from digest.ingest.pictures import picture_url
from digest.reasons import LeadRule
from digest.records import Article
from digest.schedule import latest_slot, upcoming_slots

WEEKLY_INTERVAL = timedelta(days=3)
WELL_COVERED_SOURCES = 2
FRESH_SPAN = timedelta(hours=24)
# An article with a picture and a summary is preferred when it scores at least this share of the
# best one, so a well-illustrated minor story never displaces the main one.
ILLUSTRATED_SHARE = 0.5
_AVERAGED = 8  # editions the time between two is averaged over

T = TypeVar("T")


@dataclass(frozen=True, slots=True, order=True)
class Coverage:
    """How widely a story was reported in the window: outlets first, then reports."""

    sources: int
    reports: int


def coverage(article: Article, others: Sequence[Article]) -> Coverage:
    """The coverage of ``article``'s story, ``others`` being its other reports."""
    return Coverage(
        sources=len({report.feed_id for report in (article, *others)}), reports=1 + len(others)
    )


@dataclass(frozen=True, slots=True)
class Rule:
    """The lead rule of a list, and what chose it."""

    rule: LeadRule
    from_config: bool
    interval: timedelta  # between two editions of the schedule, on average


def rule_for(digest_list: ListSettings, slot: datetime) -> Rule:
    """The list's lead rule at ``slot``: its ``lead`` key, else what its schedule suggests."""
    # The average over the next few editions, so a list sent Monday and Thursday follows one
    # rule whichever edition it is.
    previous = latest_slot(digest_list.schedule, digest_list.timezone, slot)
    upcoming = upcoming_slots(digest_list.schedule, digest_list.timezone, previous, _AVERAGED)
    interval = (upcoming[-1] - previous) / _AVERAGED
    if digest_list.lead is not None:
        return Rule(digest_list.lead, True, interval)
    return Rule("most-covered" if interval >= WEEKLY_INTERVAL else "freshest", False, interval)


@dataclass(frozen=True, slots=True)
class Choice:
    """How the rule narrowed the pool the lead was chosen from."""

    narrowed_to: int
    well_covered: bool
    illustrated_over: Article | None


def choose(
    scored: Sequence[tuple[float, T]],
    rule: Rule,
    window_end: datetime,
    article: Callable[[T], Article],
    covered: Callable[[T], Coverage],
) -> tuple[T | None, Choice]:
    """The lead among ``scored`` ((score, item) in rank order, best first) under ``rule``."""
    pool = list(scored)
    well = True
    if rule.rule == "most-covered" and pool:
        best = max(covered(item) for _, item in pool)
        pool = [entry for entry in pool if covered(entry[1]) == best]
    elif rule.rule == "freshest":
        since = window_end - max(rule.interval, FRESH_SPAN)
        narrowed = [
            entry
            for entry in pool
            if covered(entry[1]).sources >= WELL_COVERED_SOURCES
            and article(entry[1]).sort_time >= since
        ]
        well = bool(narrowed)
        pool = narrowed or pool
    if not pool:
        return None, Choice(0, well, None)
    best_score, first = pool[0]
    chosen = first
    for score, item in pool:
        if _illustrated(article(item)) and score >= best_score * ILLUSTRATED_SHARE:
            chosen = item
            break
    passed_over = article(first) if chosen is not first else None
    return chosen, Choice(len(pool), well, passed_over)


def _illustrated(article: Article) -> bool:
    return picture_url(article.image_url) is not None and article.summary_text.strip() != ""
