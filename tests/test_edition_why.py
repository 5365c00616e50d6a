"""Tests for digest.edition_why and `digest preview LIST --why`: an edition's order explained."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update

from digest.compose import build_edition
from digest.config import ListSettings, TopicSettings
from digest.edition_why import why_lines
from digest.records import Candidate, Edition
from digest.store.schema import ArticleRow
from tests.test_end_to_end import digest, example_config
from tests.test_leads import PORT, PORT_SUMMARY, SLOT, TALKS, TALKS_SUMMARY, report, story

TOPICS = (TopicSettings(slug="gulf", name="The Gulf"), TopicSettings(slug="iran", name="Iran"))


def weekly(candidates: list[Candidate], max_articles: int) -> Edition:
    settings = ListSettings(
        slug="gulf-weekly",
        name="The Gulf Weekly",
        topics=("gulf", "iran"),
        schedule="0 7 * * 5",
        max_articles=max_articles,
        recommended=1,
        subscribers=Path("subscribers.csv"),
    )
    return build_edition(
        settings,
        TOPICS,
        slot=SLOT,
        window_start=SLOT - timedelta(days=7),
        window_end=SLOT,
        candidates=candidates,
    )


COLUMNS = (
    ("Zorbavel festival draws record crowds", "Lanterns lined the corniche until dawn."),
    ("Quintaroz museum reopens a pearl gallery", "Divers' logbooks go on show for the first time."),
    ("Mipplethorn startup raises seed money", "Its sensors watch brine from desalination plants."),
    ("Vascudrel chess open ends in a tie", "Four grandmasters share the trophy after blitz games."),
)


def pieces() -> list[Candidate]:
    """A story four outlets covered, one two covered, and single pieces, two by one writer."""
    talks = story(1, TALKS[:4], TALKS_SUMMARY, hours_ago=30)
    port = story(10, PORT, PORT_SUMMARY, hours_ago=3)
    singles = [
        replace(report(20 + n, 7, title, summary, 5 + n), author="Mona Farid" if n < 2 else None)
        for n, (title, summary) in enumerate(COLUMNS)
    ]
    return [
        *(Candidate(a, {"gulf": 2.0}) for a in [*talks, *port]),
        *(Candidate(a, {"iran": 1.5 - n / 10}) for n, a in enumerate(singles)),
    ]


def test_every_place_is_explained_in_order_from_the_lead_to_what_was_left_out() -> None:
    edition = weekly(pieces(), max_articles=5)
    text = "\n".join(why_lines(edition, {"gulf": "The Gulf", "iran": "Iran"}))
    assert text.startswith("gulf-weekly: edition due 2026-11-27 07:00 UTC, 5 articles shown")
    assert "(max_articles 5, recommended 1)" in text
    lead, rest = text.split("\nSection 1: The Gulf\n")
    assert f'"{TALKS[0]}" (Outlet 1)' in lead
    assert "rule: most-covered, from the schedule (an edition every 7 days on average)" in lead
    assert "1 of them covered by the most outlets and reports" in lead
    assert "4 outlets, 4 reports" in lead
    gulf, rest = rest.split("\nSection 2: Iran\n")
    assert f'1. "{PORT[0]}" (Outlet 1)' in gulf
    assert "in rank order, within the section's share" in gulf  # the lead was its first
    assert "2 outlets, 2 reports" in gulf
    iran, rest = rest.split("\nRecommended\n")
    assert f'1. "{COLUMNS[0][0]}" (Outlet 7)' in iran
    assert "the best of its topic, placed first so that every topic is seen" in iran
    assert f'More from Mona Farid: "{COLUMNS[1][0]}"' in iran
    assert "topic 2 of the list; up to 3 articles" in iran
    recommended, left = rest.split("\nLeft out (1)\n")
    assert f'1. "{COLUMNS[2][0]}"' in recommended
    assert "the best of what did not fit the sections" in recommended
    assert f'- "{COLUMNS[3][0]}" (Iran): no room left under max_articles' in left
    assert "score 1.2 x freshness" in left


def test_a_later_item_of_a_developing_story_says_what_the_repeat_cost_it() -> None:
    days = [
        replace(
            report(n + 1, 1, title, f"Deputy ministers met for a {n + 1}th day.", 40 - 36 * n),
            summary_text=f"Deputy foreign ministers met for a {n + 1}th day; round {n + 11}.",
        )
        for n, title in enumerate(
            (
                "Iran and European powers meet in Geneva on nuclear inspections, no deal",
                "Iran and European powers meet again in Geneva on nuclear inspections, no deal",
            )
        )
    ]
    other = report(9, 2, PORT[0], PORT_SUMMARY, 30)
    edition = weekly([Candidate(a, {"iran": 2.0}) for a in [*days, other]], max_articles=10)
    lines = why_lines(edition, {})
    [repeat] = [line for line in lines if "developing story" in line]
    assert "x 0.5 (item 2 of its developing story)" in repeat


def test_an_empty_edition_says_there_is_nothing_to_show() -> None:
    lines = why_lines(weekly([], max_articles=5), {})
    assert lines[0].endswith("0 articles shown")
    assert lines[-1] == "Nothing to show: no article of the list's topics in the window."


def test_an_edition_loaded_from_the_store_says_its_reasons_were_not_kept() -> None:
    edition = replace(weekly(pieces(), max_articles=5), why=None)
    lines = why_lines(edition, {})
    assert lines[-1] == "(the reasons for this edition's layout were not kept)"


def _items(layout: dict[str, Any]) -> list[dict[str, Any]]:
    items = [layout["lead"]] if layout["lead"] else []
    items += [item for section in layout["sections"] for item in section["items"]]
    return items + layout["recommended"]


@pytest.mark.integration
def test_preview_why_explains_the_next_edition_and_json_carries_the_same(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    explained = digest(config, "preview", "gulf-weekly", "--poll", "--why")
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert "rule: most-covered, from the schedule" in text
    laid_out = digest(config, "preview", "gulf-weekly", "--json")
    assert laid_out.returncode == 0, laid_out.stderr
    layout = json.loads(laid_out.stdout)
    assert layout["why"]["lead"]["rule"] == "most-covered"
    assert layout["why"]["max_articles"] == 15
    # Every item of the layout is explained, in the layout's order.
    at = 0
    for item in _items(layout):
        assert item["why"] is not None and item["why"]["terms"]["rank_score"] > 0
        at = text.index(f'"{item["title"]}" ({item["outlet"]})', at)
    for entry in layout["why"]["left_out"]:
        assert f'"{entry["title"]}"' in text
    assert not (tmp_path / "var" / "preview").exists()  # --why writes no file


def test_the_lead_says_which_better_ranked_article_it_was_preferred_to_for_its_picture() -> None:
    plain = report(1, 1, PORT[0], PORT_SUMMARY, 2, image=False)
    illustrated = report(2, 2, COLUMNS[0][0], COLUMNS[0][1], 3)
    edition = weekly([Candidate(plain, {"gulf": 2.0}), Candidate(illustrated, {"gulf": 1.5})], 5)
    assert edition.lead is not None and edition.lead.article.id == 2
    assert edition.why is not None and edition.why.lead is not None
    assert edition.why.lead.illustrated_over == 1
    text = "\n".join(why_lines(edition, {}))
    assert f'preferred for its picture and summary to "{PORT[0]}" (Outlet 1)' in text


@pytest.mark.integration
def test_preview_prints_headlines_stored_with_controls_as_text(tmp_path: Path) -> None:
    # Headlines stored before feeds' text was cleaned of control characters: to a terminal
    # U+009B is a CSI (here "clear the screen"), U+009D an OSC (a hidden link), ESC any sequence.
    config = example_config(tmp_path, smtp_port=None)
    polled = digest(config, "preview", "gulf-weekly", "--poll", "--json")
    assert polled.returncode == 0, polled.stderr
    hostile = "\u009b2J\u009d8;;https://evil.example/\u009c\u001b]52;c;aGk=\u0007\u202e[bold]"
    engine = create_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    with engine.begin() as connection:
        connection.execute(update(ArticleRow).values(title=hostile + ArticleRow.title))
    engine.dispose()
    controls = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]")
    explained = digest(config, "preview", "gulf-weekly", "--why")
    laid_out = digest(config, "preview", "gulf-weekly", "--json")
    written = digest(config, "preview", "gulf-weekly")
    for result in (explained, laid_out, written):
        assert result.returncode in (0, 1), result.stderr  # 1: the checks may find fault
        assert not controls.search(result.stdout + result.stderr), repr(result.stdout[:2000])
    assert "2J" in explained.stdout and "[bold]" in explained.stdout
    assert json.loads(laid_out.stdout)["lead"]["title"].startswith(hostile)  # the same data
    assert "subject: " in written.stderr


@pytest.mark.integration
def test_preview_names_the_file_it_wrote_as_it_is(tmp_path: Path) -> None:
    # "[draft]" in the path is rich markup: the path printed lost it, and a script reading the
    # last line found no such file.
    config = example_config(tmp_path, smtp_port=None)
    output = tmp_path / "[draft]" / "gulf-weekly.html"
    written = digest(config, "preview", "gulf-weekly", "--poll", "--output", str(output))
    assert written.returncode in (0, 1), written.stderr  # 1: the checks may find fault
    assert output.exists()
    assert written.stdout.splitlines()[-1] == str(output), written.stdout
