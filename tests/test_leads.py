"""Tests for digest.leads and the lead of digest.compose: a weekly leads with the week's most
covered story, a daily with the freshest well-covered one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from digest import leads
from digest.compose import build_edition
from digest.config import ListSettings, TopicSettings
from digest.records import Article, Candidate, Edition

SLOT = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # a Friday
TOPICS = (TopicSettings(slug="gulf", name="The Gulf"),)
WEEKLY, DAILY = "0 7 * * 5", "0 7 * * *"

# Each story as its outlets would word it: one event, words mostly shared.
TALKS = (
    "Qatar hosts Sudan ceasefire talks between the army and the RSF in Doha",
    "Sudan army and RSF open ceasefire talks hosted by Qatar in Doha",
    "Ceasefire talks between Sudan army and RSF begin in Doha, Qatar hosts",
    "Qatar hosts talks in Doha on a Sudan ceasefire between army and RSF",
    "In Doha, Qatar hosts Sudan army and RSF for ceasefire talks",
)
TALKS_SUMMARY = "Mediators from Qatar brought envoys of the Sudanese army and the RSF to Doha."
PORT = (
    "Oman opens a new container terminal at the port of Duqm",
    "New container terminal opens at Oman's Duqm port",
)
PORT_SUMMARY = "The Duqm terminal doubles the port's container capacity, officials in Muscat said."
SOLO = "Kuwait names a new central bank governor after a long vacancy"
SOLO_SUMMARY = "The emir appointed the governor by decree on Thursday morning."


def report(
    number: int, outlet: int, title: str, summary: str, hours_ago: float, image: bool = True
) -> Article:
    when = SLOT - timedelta(hours=hours_ago)
    return Article(
        id=number,
        feed_id=outlet,
        feed_name=f"Outlet {outlet}",
        guid=str(number),
        link=f"https://outlet{outlet}.example/{number}",
        title=title,
        summary_html=f"<p>{summary}</p>",
        summary_text=summary,
        author=None,
        published_at=when,
        first_seen_at=when,
        image_url=f"https://outlet{outlet}.example/{number}.jpg" if image else None,
    )


def story(first: int, titles: Sequence[str], summary: str, hours_ago: float) -> list[Article]:
    """One report of the story by each of ``len(titles)`` outlets, an hour apart."""
    return [
        report(first + n, n + 1, title, summary, hours_ago + n) for n, title in enumerate(titles)
    ]


def edition(
    articles: Sequence[Article],
    scores: dict[int, float],
    schedule: str,
    lead: Literal["most-covered", "freshest"] | None = None,
) -> Edition:
    settings = ListSettings(
        slug="gulf",
        name="The Gulf",
        topics=("gulf",),
        schedule=schedule,
        lead=lead,
        subscribers=Path("subscribers.csv"),
    )
    return build_edition(
        settings,
        TOPICS,
        slot=SLOT,
        window_start=SLOT - timedelta(days=7),
        window_end=SLOT,
        candidates=[Candidate(a, {"gulf": scores.get(a.id, 2.0)}) for a in articles],
    )


def lead_title(built: Edition) -> str:
    assert built.lead is not None
    return built.lead.article.title


def test_a_weeklys_lead_is_the_story_four_outlets_covered_over_a_fresher_single_report() -> None:
    covered = story(1, TALKS[:4], TALKS_SUMMARY, hours_ago=50)
    fresh = report(20, 9, SOLO, SOLO_SUMMARY, hours_ago=2)
    built = edition([*covered, fresh], {20: 3.0}, WEEKLY)
    assert lead_title(built) == TALKS[0]
    assert built.lead is not None and len(built.lead.also_covered_by) == 3
    assert built.why is not None and built.why.lead is not None
    assert built.why.lead.rule == "most-covered" and not built.why.lead.from_config


def test_in_a_weekly_more_outlets_beat_more_reports_and_the_rank_breaks_ties() -> None:
    talks = story(1, TALKS[:3], TALKS_SUMMARY, hours_ago=60)  # three outlets
    port = story(10, PORT, PORT_SUMMARY, hours_ago=5)  # two outlets, fresher
    assert lead_title(edition([*talks, *port], {}, WEEKLY)) == TALKS[0]
    # Equal coverage: the better-ranked story (here the fresher) leads.
    assert lead_title(edition([*talks[:2], *port], {}, WEEKLY)) == PORT[0]


def test_a_dailys_lead_is_a_fresh_two_source_story_over_a_three_day_old_five_source_one() -> None:
    old = story(1, TALKS, TALKS_SUMMARY, hours_ago=72)
    fresh = story(10, PORT, PORT_SUMMARY, hours_ago=2)
    built = edition([*old, *fresh], {}, DAILY)
    assert lead_title(built) == PORT[0]
    assert built.why is not None and built.why.lead is not None
    assert built.why.lead.rule == "freshest" and built.why.lead.well_covered


def test_a_dailys_lead_is_well_covered_rather_than_a_stronger_single_report() -> None:
    covered = story(1, PORT, PORT_SUMMARY, hours_ago=4)
    single = report(20, 9, SOLO, SOLO_SUMMARY, hours_ago=1)
    assert lead_title(edition([*covered, single], {20: 3.0}, DAILY)) == PORT[0]
    # With no story two outlets covered, the best-ranked leads.
    built = edition([covered[0], single], {20: 3.0}, DAILY)
    assert lead_title(built) == SOLO
    assert built.why is not None and built.why.lead is not None
    assert not built.why.lead.well_covered


def test_a_dailys_first_edition_leads_with_today_not_the_weeks_most_told_story() -> None:
    old = story(1, TALKS, TALKS_SUMMARY, hours_ago=72)  # five outlets, three days ago
    today = report(20, 9, SOLO, SOLO_SUMMARY, hours_ago=2)
    built = edition([*old, today], {}, DAILY)
    assert lead_title(built) == SOLO
    assert built.why is not None and built.why.lead is not None
    assert not built.why.lead.well_covered


def test_the_lists_lead_key_overrides_what_the_schedule_suggests() -> None:
    old = story(1, TALKS, TALKS_SUMMARY, hours_ago=72)
    fresh = story(10, PORT, PORT_SUMMARY, hours_ago=2)
    built = edition([*old, *fresh], {}, DAILY, lead="most-covered")
    assert lead_title(built) == TALKS[0]
    assert built.why is not None and built.why.lead is not None and built.why.lead.from_config
    assert lead_title(edition([*old, *fresh], {}, WEEKLY, lead="freshest")) == PORT[0]


@pytest.mark.parametrize(
    ("schedule", "rule", "hours"),
    [
        (DAILY, "freshest", 24),
        ("0 7,19 * * *", "freshest", 12),
        (WEEKLY, "most-covered", 168),
        ("0 7 * * 1,4", "most-covered", 84),  # Monday and Thursday: three days or four
        ("0 7 * * 1,3,4", "freshest", 60),  # from Thursday: 20 days for 8 editions
        ("0 7 1 * *", "most-covered", 243 * 24 // 8),  # January to September 2027
    ],
)
def test_the_rule_follows_the_time_between_editions(schedule: str, rule: str, hours: int) -> None:
    settings = ListSettings(
        slug="x", name="X", topics=("gulf",), schedule=schedule, timezone="Asia/Dubai"
    )
    chosen = leads.rule_for(settings, datetime(2026, 12, 31, 3, 0, tzinfo=UTC))
    assert (chosen.rule, chosen.from_config) == (rule, False)
    assert chosen.interval == timedelta(hours=hours)
    assert leads.rule_for(settings, datetime(2027, 1, 4, 3, 0, tzinfo=UTC)).rule == rule
