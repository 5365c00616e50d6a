"""Tests for digest.stories: reports grouped into stories and threads when an edition is composed,
whatever order the feeds were polled in."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from digest import dedup, pipeline, stories, story_links
from digest.clock import FixedClock
from digest.compose import build_edition
from digest.config import ListSettings, Settings, TopicSettings, settings_from_mapping
from digest.mail.transport import MemoryTransport
from digest.records import Article, Candidate, Edition
from digest.services import build_services
from tests.configs import service_table
from tests.dedup_corpus import (
    Story,
    as_articles,
    compose_groups,
    event_stories,
    grouped_pairs,
    held_out_stories,
    sample_stories,
)
from tests.feedserver import FeedServer, answer, feed_server


def _by_id(found: Sequence[Story], *ids: str) -> list[Story]:
    return [next(story for story in found if story.id == wanted) for wanted in ids]


def _groups(articles: Sequence[Article]) -> set[frozenset[str]]:
    """The stories of ``articles`` as sets of links: what stays the same whatever the ids."""
    found = stories.group(articles)
    members: dict[str, set[str]] = {}
    for article in articles:
        members.setdefault(found.story[article.id], set()).add(article.link)
    return {frozenset(group) for group in members.values()}


def _renumbered(articles: Sequence[Article], chooser: random.Random) -> list[Article]:
    """The articles in another order, numbered in that order, as another poll order would."""
    shuffled = chooser.sample(list(articles), len(articles))
    return [replace(article, id=n) for n, article in enumerate(shuffled, start=1)]


# ----------------------------------------------------------------------------------------------
# Grouping


def test_the_stories_do_not_depend_on_the_order_articles_came_in() -> None:
    chooser = random.Random(7)
    for labelled in (event_stories(), held_out_stories()):
        articles = as_articles(labelled)
        expected = _groups(articles)
        assert any(len(group) > 1 for group in expected)
        for _ in range(10):
            assert _groups(_renumbered(articles, chooser)) == expected


def test_two_days_of_one_war_are_two_stories_of_one_thread() -> None:
    labelled = _by_id(
        event_stories(), "gaza-day1-ledger", "gaza-day1-wire", "gaza-day2-ledger", "gaza-day2-wire"
    )
    articles = as_articles(labelled)
    found = stories.group(articles)
    day1, day2 = (
        {found.story[a.id] for a in articles[:2]},
        {found.story[a.id] for a in articles[2:]},
    )
    assert len(day1) == 1 and len(day2) == 1 and day1 != day2
    assert len({found.thread[a.id] for a in articles}) == 1


def test_reports_of_one_event_from_the_same_outlet_are_one_story() -> None:
    articles = as_articles(
        _by_id(event_stories(), "kerman-flash", "kerman-full", "hormozgan-quake")
    )
    assert articles[0].feed_id == articles[1].feed_id == articles[2].feed_id
    found = stories.group(articles)
    assert found.story[1] == found.story[2] != found.story[3]


def test_a_toll_revised_upwards_that_day_is_the_same_story_but_not_the_next_day() -> None:
    labelled = _by_id(
        event_stories(),
        "gaza-day1-ledger",  # "kill 31", 07:40
        "gaza-day1-ledger-update",  # "rises to 38", 13:15, same outlet
        "gaza-day1-wire",  # "at least 31", another outlet
        "gaza-day1-arabic",
    )
    found = stories.group(as_articles(labelled))
    assert len({found.story[n] for n in range(1, 5)}) == 1
    # The same figures a day apart: two days of one war, even with the count rising.
    first, _, _, _ = labelled
    next_day = Story(
        "gaza-next-day",
        first.outlet,
        "gaza-next-day",
        first.topic,
        "Israeli strikes on Khan Younis kill 40, Gaza health officials say",
        "Israeli air strikes on tents in Khan Younis killed at least 40 people, Gaza's health "
        "ministry said. The Israeli military said it had targeted Hamas fighters in the area.",
        first.published + timedelta(hours=23),
        "en",
    )
    found = stories.group(as_articles([first, next_day]))
    assert found.story[1] != found.story[2]


def test_titles_the_same_but_for_a_number_are_a_series_not_a_revised_toll() -> None:
    """ "Day 10 of the siege" and "Day 11 of the siege", hours apart: two days, two stories,
    though the second number is within a revised toll's rise of the first."""
    day = datetime(2026, 2, 27, 6, tzinfo=UTC)
    labelled = [
        Story("day-10", "Ledger", "day-10", None, "Day 10 of the siege of the old city",
              "No aid convoy reached the old city, and shelling hit its market, aid agencies "
              "said.", day),
        Story("day-11", "Ledger", "day-11", None, "Day 11 of the siege of the old city",
              "An aid convoy was turned back at the old city's gate as shelling resumed, aid "
              "agencies said.", day + timedelta(hours=6)),
    ]  # fmt: skip
    found = stories.group(as_articles(labelled))
    assert found.story[1] != found.story[2]


def test_bare_headlines_sharing_one_word_are_two_stories() -> None:
    """One outlet's puzzle pages, headline only: a single shared word is not a story."""
    day = datetime(2026, 2, 27, 6, tzinfo=UTC)
    labelled = [
        Story("solutions", "Weekly", "solutions", None, "Magazine solutions - February 27, 2026",
              "", day),
        Story("printables", "Weekly", "printables", None,
              "Magazine printables - February 27, 2026", "", day),
    ]  # fmt: skip
    found = stories.group(as_articles(labelled))
    assert found.story[1] != found.story[2]


def test_one_persian_headline_in_three_outlets_spellings_is_one_story() -> None:
    """Radio Farda types the ZWNJ and the Persian yeh and kaf, a wire on an Arabic keyboard
    spaces "می" and "ها" and types ي and ك, BBC Persian joins them; a copied RLM sits in a name.
    One report, one story, and every report's words the same."""
    zwnj = "\u200c"
    day = datetime(2026, 11, 30, 9, tzinfo=UTC)
    labelled = [
        Story("farda", "Radio Farda", "sanctions", None,
              f"اروپا تحریم{zwnj}های تازه علیه سپاه را تصویب کرد",
              f"وزیران خارجه اروپا در بروکسل بسته تازه{zwnj}ای از تحریم{zwnj}ها را تصویب "
              f"کردند. مسئول سیاست خارجی اروپا می{zwnj}گوید این تحریم{zwnj}ها به پهپادها "
              "مربوط است.", day, "fa"),
        Story("wire", "Pars Wire", "sanctions", None,
              "اروپا تحريم هاي تازه عليه سپاه را تصويب كرد",
              "وزيران خارجه اروپا در بروكسل بسته تازه اي از تحريم ها را تصويب كردند. مسئول "
              "سياست خارجي اروپا مي گويد اين تحريم ها به پهپاد ها مربوط است.", day, "fa"),
        Story("bbc", "BBC Persian", "sanctions", None,
              "اروپا تحریمهای تازه علیه سپ\u200fاه را تصویب کرد",
              "وزیران خارجه اروپا در بروکسل بسته تازهای از تحریمها را تصویب کردند. مسئول "
              "سیاست خارجی اروپا میگوید این تحریمها به پهپادها مربوط است.", day, "fa"),
        Story("quake", "BBC Persian", "quake", None, "زلزله ۵ ریشتری کرمان را لرزاند",
              "زمین‌لرزه‌ای به بزرگی ۵ ریشتر بامداد امروز کرمان را لرزاند.", day, "fa"),
    ]  # fmt: skip
    articles = as_articles(labelled)
    found = stories.group(articles)
    assert found.story[1] == found.story[2] == found.story[3] != found.story[4]
    words = {dedup.features(a.title, a.summary_text) == dedup.features(
        articles[0].title, articles[0].summary_text) for a in articles[:3]}  # fmt: skip
    assert words == {True}


def test_a_column_headline_shared_by_outlets_is_no_story_when_the_summaries_differ() -> None:
    """Three outlets' live blogs, each headed "Live updates", on three events: the headline is a
    column's name, and summaries that share no word say the reports are of different events."""
    day = datetime(2026, 2, 27, 6, tzinfo=UTC)
    labelled = [
        Story("amman", "Harbour Monitor", "amman", None, "Live updates",
              "Protesters filled the main square of Amman demanding lower bread prices.", day),
        Story("rates", "Capital Post", "rates", None, "Live updates",
              "The central bank of Egypt raised interest rates by two points.", day),
        Story("sandstorm", "Southern Broadcaster", "sandstorm", None, "Live updates",
              "A sandstorm closed Kuwait airport for six hours, stranding travellers.", day),
    ]  # fmt: skip
    articles = as_articles(labelled)
    assert _groups(articles) == {frozenset({article.link}) for article in articles}


# Short analysis pieces on one round of talks, a title and a sentence each, from three outlets:
# their words barely meet (similarity 0.14-0.24), their headlines do ("security talks").
TALKS_DAY = datetime(2026, 3, 3, 12, tzinfo=UTC)
TALKS = [
    Story("talks-end", "Harbour Monitor", "talks", None,
          "Progress but no deal as latest Saudi-Iran security talks end",
          "With pressure mounting on both capitals, the latest round closed without a clear way "
          "forward.", TALKS_DAY),
    Story("talks-proceed", "Capital Post", "talks", None,
          "Amid threat of sanctions, Saudi-Iran security talks proceed without breakthrough",
          "The meeting in Baghdad went ahead against a backdrop of naval drills, as Riyadh warned "
          "it could walk away.", TALKS_DAY - timedelta(hours=1.5)),
    Story("talks-drills", "Southern Broadcaster", "talks", None,
          "Iran announces naval drills during security talks with Riyadh",
          "Tehran said live-fire exercises would run near the Strait of Hormuz for two days as its "
          "envoys sat down in Baghdad.", TALKS_DAY + timedelta(hours=2)),
    # The same outlet as the second, on another subject, heading into the talks.
    Story("anger", "Capital Post", "anger", None,
          "Anger grows in Iran over prices, as Riyadh raises the pressure",
          "As Tehran heads into security talks with Saudi Arabia, shopkeepers say inflation has "
          "not eased.", TALKS_DAY - timedelta(hours=2)),
    # Two events at once, the talks among them.
    Story("busy-day", "Global Review", "busy-day", None, "A busy day for Gulf mediators",
          "Iraq is hosting Saudi-Iran security talks and a Yemen prisoner exchange at once.",
          TALKS_DAY + timedelta(hours=2.5)),
]  # fmt: skip


def test_short_pieces_on_one_event_whose_headlines_share_a_phrase_are_one_story() -> None:
    """Three words of the headline in common, two of them side by side in both ("security
    talks"), the same day: a lower bar, met at a word similarity of 0.14. The piece on another
    subject that mentions the talks, and the one on two events at once, stay apart."""
    articles = as_articles(TALKS)
    expected = {
        frozenset(a.link for a in articles[:3]),
        frozenset({articles[3].link}),
        frozenset({articles[4].link}),
    }
    assert _groups(articles) == expected
    chooser = random.Random(3)
    for _ in range(5):
        assert _groups(_renumbered(articles, chooser)) == expected


def test_short_pieces_whose_headlines_share_four_words_are_one_story() -> None:
    """Four words of the headline in common, no phrase ("Armenia ... Azerbaijan talks ...
    Geneva", "Armenian and Azerbaijani envoys meet in Geneva for ... talks"), five hours apart."""
    day = TALKS_DAY
    labelled = [
        Story("geneva-a", "Capital Post", "geneva", None,
              "Armenia presses claims, and faces pressure, as Azerbaijan talks move to Geneva",
              "Falling reserves and an exodus of young workers signal time is short for Yerevan, "
              "which is not dropping its demands over the disputed corridor.", day),
        Story("geneva-b", "Wire", "geneva", None,
              "Armenian and Azerbaijani envoys meet in Geneva for EU-brokered talks after two "
              "years of clashes", "Delegations sat down at a lakeside hotel with European "
              "mediators, officials said.", day - timedelta(hours=5)),
    ]  # fmt: skip
    found = stories.group(as_articles(labelled))
    assert found.story[1] == found.story[2]


def test_headlines_sharing_words_are_not_enough_across_days_figures_or_one_outlets_pieces() -> None:
    """The lower bar for agreeing headlines holds only within CLOSE_SPAN, with no conflict of
    figures or days, not for the words of a kicker ("Winter Olympics: "), and within one outlet
    it stays higher: each of these pairs shares three headline words or more, and each is two
    events."""
    day = TALKS_DAY
    pairs = {
        "the next day's round": (
            Story("open", "Wire", "open", None, "Saudi-Iran security talks open in Muscat",
                  "The delegations sat down for a first session, Omani officials said.", day),
            Story("end", "Gulf Post", "end", None, "Saudi-Iran security talks end without a deal",
                  "Both envoys left Oman with no agreement after a long closing round.",
                  day + timedelta(hours=20)),
        ),
        "another day named": (
            Story("monday", "Wire", "monday", None,
                  "Oman hosts Saudi-Iran security talks on Monday",
                  "The delegations sat down in Muscat for a first session, Omani officials said.",
                  day),
            Story("thursday", "Gulf Post", "thursday", None,
                  "Saudi-Iran security talks to resume on Thursday",
                  "A second session is planned after both envoys consult their governments.",
                  day + timedelta(hours=3)),
        ),
        "other figures": (
            Story("van", "Wire", "van", None,
                  "Magnitude 5.8 earthquake shakes Van province in eastern Turkey",
                  "The quake struck at a depth of 10 km, the disaster agency said; no deaths "
                  "were reported.", day),
            Story("kerman", "Gulf Post", "kerman", None,
                  "Magnitude 5.6 earthquake shakes Kerman province in Iran",
                  "The quake struck at a shallow depth, the seismological centre said; homes "
                  "were damaged.", day + timedelta(hours=1)),
        ),
        "one outlet, two chambers": (
            Story("walkout", "Africa Wire", "walkout", None,
                  "MPs walk out as protest over electronic voting bill continues",
                  "Some members of parliament left the chamber in protest against the move to "
                  "reverse the amendment.", day),
            Story("closed", "Africa Wire", "closed", None,
                  "Electronic voting bill debate forces council into closed-door session",
                  "Before the closed session, councillors were weighing a motion to cut the "
                  "notice period for polls.", day + timedelta(minutes=20)),
        ),
        "a kicker and one more word": (
            Story("curling", "Wire", "curling", None,
                  "Winter Olympics: Team GB win gold in women's curling",
                  "Scotland's rink beat Canada in a tense final, a first title on ice for the "
                  "squad.", day),
            Story("skeleton", "Sport Daily", "skeleton", None,
                  "Winter Olympics: Team GB miss out on skeleton medal",
                  "The British slider finished fourth after a mistake on the last run in "
                  "Cortina.", day + timedelta(hours=3)),
        ),
        "two stabbings": (
            Story("court", "Metro", "court", None,
                  "Man who fled a care unit appears in court over city stabbings",
                  "A 25-year-old man accused of killing a shopper days after leaving a clinic "
                  "was charged with murder.", day),
            Story("released", "Metro", "released", None,
                  "Man, 19, released without charge after fatal island stabbing",
                  "Police said the man arrested over the death of another man, 27, on Saturday "
                  "was released pending inquiries.", day + timedelta(hours=5)),
        ),
    }  # fmt: skip
    merged = [name for name, pair in pairs.items() if len(_groups(as_articles(pair))) == 1]
    assert merged == []


def test_a_number_of_thousands_of_digits_is_grouped_without_error() -> None:
    """int() refuses strings of more than 4,300 digits: a hostile feed must not stop an edition."""
    day = datetime(2026, 2, 27, 6, tzinfo=UTC)
    huge = "9" * 5000
    labelled = [
        Story("a", "Wire", "a", None, f"Strikes kill {huge} in Khan Younis", f"Toll {huge}.", day),
        Story("b", "Wire", "b", None, "Strikes kill 31 in Khan Younis", "Toll 31 people.",
              day + timedelta(hours=2)),
    ]  # fmt: skip
    found = stories.group(as_articles(labelled))
    assert set(found.story) == {1, 2}


def test_reports_in_arabic_hebrew_and_persian_join_the_english_ones() -> None:
    labelled = _by_id(
        event_stories(),
        "gaza-day1-ledger",
        "gaza-day1-arabic",
        "gaza-day1-hebrew",
        "riyadh-fm-en",
        "riyadh-fm-persian",
        "riyadh-fm-arabic",
        "gaza-day2-arabic",  # the next day's strikes, in Arabic: another story
    )
    found = stories.group(as_articles(labelled))
    assert found.story[1] == found.story[2] == found.story[3]
    assert found.story[4] == found.story[5] == found.story[6] != found.story[1]
    assert found.story[7] not in {found.story[1], found.story[4]}


def test_a_sentence_model_when_installed_compares_reports_across_languages() -> None:
    """Two reports that share too few names and numbers to match: the encoder decides."""
    english, hebrew = as_articles(_by_id(event_stories(), "redsea-ship-a", "redsea-ship-hebrew"))
    hebrew = replace(hebrew, title="מכלית דיווחה על פיצוץ", summary_text="ללא נזק לספינה.")
    english = [english, hebrew]
    assert len(set(stories.group(english).story.values())) == 2

    def encoder(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]  # every text the same meaning

    assert len(set(stories.group(english, encoder=encoder).story.values())) == 1

    def unlike(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] if n % 2 else [0.0, 1.0] for n, _ in enumerate(texts)]

    assert len(set(stories.group(english, encoder=unlike).story.values())) == 2


def test_measured_precision_and_recall_of_same_story_pairs() -> None:
    """The figures docs/stories.md reports (``python bench/dedup_quality.py`` prints them)."""
    figures = {}
    for name, labelled in (
        ("events", event_stories()),
        ("held-out", held_out_stories()),
        ("tuning", sample_stories()),
    ):
        counts = grouped_pairs(labelled, compose_groups(labelled))
        figures[name] = (counts.true_positives, counts.false_positives, counts.false_negatives)
    assert figures == {"events": (25, 0, 0), "held-out": (16, 2, 1), "tuning": (11, 0, 0)}
    events = grouped_pairs(event_stories(), compose_groups(event_stories()))
    assert events.by_kind["same subject, other event"][1] == 0  # no two events merged
    assert events.by_kind["across scripts"][0] == 16
    assert events.by_kind["same outlet"][0] == 2


def test_pairs_compared_grow_with_the_articles_not_their_square() -> None:
    """A thousand reports sharing most of their words: each is compared with a bounded number
    of others (``CANDIDATES``), and one text repeated under many links is one story."""
    base = as_articles(held_out_stories())[0]
    articles = [
        replace(base, id=n, link=f"https://wire.example/{n}", title=f"{base.title} {n}")
        for n in range(1, 1001)
    ]
    profiles = {article.id: story_links.profile_of(article) for article in articles}
    pairs = stories._candidate_pairs(profiles)
    assert len(pairs) <= stories.CANDIDATES * len(articles)
    same = [replace(base, id=n, link=f"https://wire.example/{n}") for n in range(1, 1001)]
    assert len(set(stories.group(same).story.values())) == 1


def test_two_groups_found_apart_are_averaged_again_only_once_one_of_them_changes() -> None:
    """The same two groups met again by another of their pairs give the same average: it is
    worked out again only after a merge changed one of them."""
    articles = as_articles(held_out_stories())[:5]
    profiles = {article.id: story_links.profile_of(article) for article in articles}
    strong = {(1, 5), (2, 5)}  # 5 joins the group of 1 and 2; 3 and 4 stay apart from both
    looked_up: list[tuple[int, int]] = []

    def link(a: int, b: int) -> float:
        looked_up.append((a, b))
        return 2.0 if (min(a, b), max(a, b)) in strong else 0.1

    edges = [(1, 3), (2, 4), (1, 4), (2, 3), (1, 5), (2, 4), (1, 3)]
    found = stories._merge(profiles, edges, link, 0.6, start={1: 1, 2: 1, 3: 3, 4: 3, 5: 5})
    assert found[1] == found[2] == found[5] != found[3] == found[4]
    # Groups {1, 2} and {3, 4} once (4 pairs), {1, 2} and {5} (2), then {1, 2, 5} and {3, 4}
    # once more (6): not once an edge.
    assert len(looked_up) == 4 + 2 + 6


def test_articles_grouped_again_are_profiled_and_compared_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An edition's variants, and other lists of the day, group many of the same articles."""
    monkeypatch.setattr(stories, "_KNOWN", story_links.Known())
    profiled: list[int] = []
    profile_of = story_links.profile_of
    compared = 0
    link = story_links.Links._link

    def counted_profile(article: Article) -> story_links.Profile:
        profiled.append(article.id)
        return profile_of(article)

    def counted_link(
        self: story_links.Links, a: story_links.Profile, b: story_links.Profile
    ) -> tuple[float, float]:
        nonlocal compared
        compared += 1
        return link(self, a, b)

    monkeypatch.setattr(story_links, "profile_of", counted_profile)
    monkeypatch.setattr(story_links.Links, "_link", counted_link)
    articles = as_articles(event_stories())
    stories.group(articles)
    assert sorted(profiled) == [article.id for article in articles]
    first = compared
    assert first > 0
    variant = stories.group(articles[::2])  # a variant: some of the edition's articles
    assert (len(profiled), compared) == (len(articles), first)
    monkeypatch.setattr(stories, "_KNOWN", story_links.Known())
    assert variant == stories.group(articles[::2])  # as a grouping that never saw them before


def test_an_article_changed_since_an_earlier_grouping_is_grouped_as_it_is_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stories, "_KNOWN", story_links.Known())
    articles = as_articles(held_out_stories())
    before = _groups(articles)
    # Article 1, one story with article 2, re-dated by its feed: now days apart from it.
    first = articles[0]
    later = (first.published_at or first.first_seen_at) + timedelta(days=3)
    edited = replace(first, published_at=later, first_seen_at=later)
    changed = [edited]
    changed += articles[1:]
    after = _groups(changed)
    assert after != before
    monkeypatch.setattr(stories, "_KNOWN", story_links.Known())
    assert _groups(changed) == after  # as a grouping that never saw it before


# ----------------------------------------------------------------------------------------------
# Merging, with pair strengths chosen: each report in a language of its own, its headline a word
# no other shares, compared by a sentence model whose meanings are chosen so that a pair's
# strength is the one the test gives (the cosine over story_links.SEMANTIC_THRESHOLD; 1.0 links a
# pair alone, and groups merge when their pairs average stories.AVERAGE_STRENGTH).

CHOSEN_DAY = datetime(2026, 3, 3, 6, tzinfo=UTC)
# Half the headlines in Greek letters: an edition of two scripts, which consults the model.
HEADLINES = (
    "alpha", "βήτα", "bravo", "δέλτα", "charlie", "ζήτα", "echo", "θήτα", "golf", "ιώτα",
    "hotel", "κάππα", "india", "λάμδα", "juliett", "όμικρον", "kilo", "σίγμα", "lima", "ύψιλον",
    "mike", "ωμέγα", "oscar", "χαίρε",
)  # fmt: skip


def _chosen(
    strengths: dict[tuple[str, str], float], hours: dict[str, float] | None = None
) -> tuple[list[Article], stories.Encoder]:
    """Reports named by the letters in ``strengths``, published ``hours`` after CHOSEN_DAY (0
    when not given), and an encoder that gives each pair that strength and every other 0."""
    names = sorted({name for pair in strengths for name in pair} | set(hours or {}))
    labelled = [
        Story(name, f"Outlet {name}", name, None, HEADLINES[n], "",
              CHOSEN_DAY + timedelta(hours=(hours or {}).get(name, 0)), f"x{n}")
        for n, name in enumerate(names)
    ]  # fmt: skip
    vectors = {HEADLINES[n]: [0.0] * len(strengths) for n in range(len(names))}
    for at, ((a, b), strength) in enumerate(strengths.items()):
        # One dimension per pair, the product exact: strength x threshold, times 1.0.
        vectors[HEADLINES[names.index(a)]][at] = strength * story_links.SEMANTIC_THRESHOLD
        vectors[HEADLINES[names.index(b)]][at] = 1.0

    def encoder(texts: Sequence[str]) -> list[list[float]]:
        return [vectors[text.split(".")[0]] for text in texts]

    return as_articles(labelled), encoder


def _chosen_groups(
    strengths: dict[tuple[str, str], float], hours: dict[str, float] | None = None
) -> tuple[set[frozenset[str]], set[frozenset[str]]]:
    """The stories and the threads of ``_chosen``'s reports, as sets of their names."""
    articles, encoder = _chosen(strengths, hours)
    found = stories.group(articles, encoder=encoder)
    result = []
    for grouping in (found.story, found.thread):
        members: dict[str, set[str]] = {}
        for article in articles:
            members.setdefault(grouping[article.id], set()).add(article.guid)
        result.append({frozenset(group) for group in members.values()})
    return result[0], result[1]


def _apart(*groups: str) -> set[frozenset[str]]:
    return {frozenset(group) for group in groups}


def test_a_report_joins_a_story_only_when_its_pairs_average_enough() -> None:
    """c is linked to a alone (1.0 reaches the bar), but joins a's story only when its pairs
    with the whole story average AVERAGE_STRENGTH; d's pair with c, weaker than c's with a, is
    still taken once c stays apart."""
    assert stories.AVERAGE_STRENGTH == 0.6
    just_enough = {("a", "b"): 1.2, ("a", "c"): 1.0, ("b", "c"): 0.2}  # (1.0 + 0.2) / 2
    assert _chosen_groups(just_enough)[0] == _apart("abc")
    too_little = {("a", "b"): 1.2, ("a", "c"): 1.1, ("b", "c"): 0.05, ("c", "d"): 1.0}
    assert _chosen_groups(too_little)[0] == _apart("ab", "cd")
    assert _chosen_groups({("a", "b"): 0.99})[0] == _apart("a", "b")


def test_two_stories_merge_on_the_average_of_all_their_pairs() -> None:
    """Two stories of two reports each, one strong pair between them: they merge when the four
    pairs across average AVERAGE_STRENGTH, not when one pair is strong."""
    within = {("a", "b"): 1.5, ("c", "d"): 1.5}
    apart = {**within, ("a", "c"): 1.1, ("a", "d"): 0.3, ("b", "c"): 0.3, ("b", "d"): 0.5}
    assert _chosen_groups(apart)[0] == _apart("ab", "cd")  # 2.2 / 4
    close = {**within, ("a", "c"): 1.1, ("a", "d"): 0.5, ("b", "c"): 0.5, ("b", "d"): 0.5}
    assert _chosen_groups(close)[0] == _apart("abcd")  # 2.6 / 4


def test_the_strongest_pair_is_joined_first() -> None:
    """b is nearer c than a: b and c make the story, and a, whose pairs with it average 0.55,
    stays apart. Taken weakest first, a and b would have been joined, and c after them."""
    assert _chosen_groups({("a", "b"): 1.1, ("b", "c"): 1.5})[0] == _apart("a", "bc")


def test_a_story_is_named_by_its_least_link_whatever_the_poll_order() -> None:
    articles, encoder = _chosen({("a", "b"): 1.2, ("b", "c"): 0.0})
    chooser = random.Random(5)
    for _ in range(4):
        renumbered = _renumbered(articles, chooser)
        found = stories.group(renumbered, encoder=encoder)
        by_guid = {article.guid: article for article in renumbered}
        least = min(by_guid["a"].link, by_guid["b"].link)
        assert found.story[by_guid["a"].id] == found.story[by_guid["b"].id] == least
        assert found.story[by_guid["c"].id] == by_guid["c"].link


def test_the_sentence_model_is_used_only_for_an_edition_in_two_scripts() -> None:
    """Loading it costs seconds: an edition all in Latin script never asks for it."""
    asked: list[int] = []

    def encoder(texts: Sequence[str]) -> list[list[float]]:
        asked.append(len(texts))
        return [[0.0] for _ in texts]

    english = _by_id(event_stories(), "kerman-flash", "kerman-full")
    stories.group(as_articles(english), encoder=encoder)
    assert asked == []
    stories.group(
        as_articles([*english, *_by_id(event_stories(), "gaza-day1-arabic")]), encoder=encoder
    )
    assert asked == [3]


def test_with_the_sentence_model_reports_in_one_language_are_still_compared_by_words() -> None:
    """An edition in two scripts: the model compares across languages, and the two English
    reports of one quake, which it finds unlike, are still one story by their words."""
    labelled = _by_id(event_stories(), "kerman-flash", "kerman-full", "gaza-day1-arabic")

    def unlike(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0 if n == at else 0.0 for n in range(len(texts))] for at in range(len(texts))]

    found = stories.group(as_articles(labelled), encoder=unlike)
    assert found.story[1] == found.story[2] != found.story[3]


def test_the_sentence_model_compares_languages_of_one_script() -> None:
    """a and c are both in Latin letters, in two languages, with no word in common: the model
    is what finds them one story."""
    assert _chosen_groups({("a", "c"): 1.2, ("a", "b"): 0.0})[0] == _apart("ac", "b")


def test_reports_without_a_language_are_compared_by_the_model_across_scripts() -> None:
    articles, encoder = _chosen({("a", "b"): 1.2})
    undeclared = [replace(article, language=None) for article in articles]
    found = stories.group(undeclared, encoder=encoder)
    assert found.story[1] == found.story[2]


def test_a_story_over_its_threads_share_is_left_out_whole_and_later_stories_still_shown() -> None:
    """Three stories of one developing thread, the third with a second report, then a story of
    another thread, all in one section."""
    articles = as_articles(
        [Story(name, "Wire", name, None, name, "") for name in ("t1", "t2", "t3", "t3b", "o")]
    )
    ids = {article.guid: article.id for article in articles}
    story = {"t1": "s1", "t2": "s2", "t3": "s3", "t3b": "s3", "o": "so"}
    found = stories.Stories(
        story={ids[name]: key for name, key in story.items()},
        thread={ids[name]: "other" if name == "o" else "thread" for name in ids},
    )
    kept, others = stories.shown(articles, lambda article: article, lambda _: "section", found)
    assert [article.guid for article in kept] == ["t1", "t2", "o"]
    assert others == {}


def test_a_large_story_is_judged_by_its_members_of_least_link_whatever_the_poll_order() -> None:
    """A story of 17 reports is compared by its AVERAGE_MEMBERS of least link. x and y each
    have one strong pair, with the member of greatest link, and weaker ones with the rest: x
    (the same hour) falls short of the story's average, y (20 hours on) of its thread's, both
    judged without that member, whatever the ids (the poll order) say."""
    members = [f"m{n:02}" for n in range(stories.AVERAGE_MEMBERS + 1)]
    hours = dict.fromkeys(members, 0.0) | {"x": 0.0, "y": 20.0}
    link_of = {article.guid: article.link for article in _chosen({}, hours)[0]}
    last = max(members, key=link_of.__getitem__)
    strengths = dict.fromkeys(itertools.combinations(members, 2), 1.5)
    strengths |= {(name, "x"): 0.58 for name in members}  # with ``last`` judged: 0.606
    strengths |= {(name, "y"): 0.99 for name in members}  # a thread's: 1.009 with ``last``
    strengths |= {(last, "x"): 1.0, (last, "y"): 1.3}
    articles, encoder = _chosen(strengths, hours)
    # ``last`` first by id: the order that would put it among the 16 were ids to decide.
    ordered = sorted(articles, key=lambda article: article.guid != last)
    for renumbered in (articles, [replace(a, id=n) for n, a in enumerate(ordered, start=1)]):
        found = stories.group(renumbered, encoder=encoder)
        story = {a.guid: found.story[a.id] for a in renumbered}
        thread = {a.guid: found.thread[a.id] for a in renumbered}
        assert len({story[name] for name in members}) == 1
        assert story["x"] != story[last]
        assert thread["y"] != thread[last]


# ----------------------------------------------------------------------------------------------
# In an edition

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

# Four days of one developing story, each a report of its own day's talks.
ROUNDS = (
    "Iran and European powers meet in Geneva on nuclear inspections, no deal",
    "Iran and European powers meet again in Geneva on nuclear inspections, no deal",
    "Iran and European powers hold more Geneva talks on nuclear inspections, no deal",
    "Iran and European powers end Geneva talks on nuclear inspections with no deal",
)


def _edition(candidates: Sequence[Candidate]) -> Edition:
    settings = ListSettings(
        slug="weekly",
        name="Weekly",
        topics=("iran",),
        schedule="0 7 * * 5",
        max_articles=25,
        recommended=0,
        subscribers=Path("subscribers.csv"),
    )
    return build_edition(
        settings,
        (TopicSettings(slug="iran", name="Iran"),),
        slot=SLOT,
        window_start=SLOT - timedelta(days=7),
        window_end=SLOT,
        candidates=candidates,
    )


def test_a_section_shows_at_most_two_stories_of_one_developing_thread() -> None:
    candidates = []
    for day, title in enumerate(ROUNDS):
        when = SLOT - timedelta(days=4 - day)
        article = Article(
            id=day + 1,
            feed_id=1,
            feed_name="Persia Review",
            guid=str(day),
            link=f"https://persiareview.example/round-{day}",
            title=title,
            summary_html="",
            summary_text=f"Deputy foreign ministers met for a {day + 1}th day; round {day + 11}.",
            author=None,
            published_at=when,
            first_seen_at=when,
        )
        candidates.append(Candidate(article=article, topics={"iran": 1.0}))
    other = as_articles(_by_id(held_out_stories(), "quake-kerman"))[0]
    other = replace(other, id=9, published_at=SLOT - timedelta(hours=3))
    candidates.append(Candidate(article=other, topics={"iran": 0.5}))

    edition = _edition(candidates)
    shown = [item.article.id for item in edition.items()]
    assert 9 in shown  # another story still has its place
    assert len([n for n in shown if n != 9]) == stories.THREAD_ITEMS
    assert {4, 3} <= set(shown)  # the freshest two days of the thread


def test_an_outlets_flash_and_its_fuller_report_are_one_item() -> None:
    labelled = _by_id(event_stories(), "kerman-flash", "kerman-full", "hormozgan-quake")
    articles = as_articles(labelled)
    edition = _edition([Candidate(article=a, topics={"iran": 1.0}) for a in articles])
    items = {item.article.id: [a.id for a in item.also_covered_by] for item in edition.items()}
    assert items == {2: [1], 3: []}  # the fuller report, fresher, is the item


# ----------------------------------------------------------------------------------------------
# Polled from a real feed server in shuffled orders

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)


def _rss(title: str, items: Sequence[Story], link_base: str) -> bytes:
    entries = "".join(
        f"""<item><title>{escape(story.title)}</title><link>{link_base}{story.id}</link>
        <guid>{story.id}</guid><description>{escape(story.summary)}</description>
        <pubDate>{format_datetime(story.published)}</pubDate></item>"""
        for story in items
    )
    return (
        f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
        <title>{escape(title)}</title><link>{link_base}</link>{entries}</channel></rss>"""
    ).encode()


@pytest.fixture
def outlets() -> Iterator[tuple[FeedServer, dict[str, str]]]:
    """Each outlet of events.toml as a feed of its reports of the last three days."""
    recent = [story for story in event_stories() if NOW - story.published < timedelta(days=3)]
    by_outlet: dict[str, list[Story]] = {}
    for story in recent:
        by_outlet.setdefault(story.outlet, []).append(story)
    slugs = {outlet: outlet.lower().replace(" ", "-") for outlet in by_outlet}
    routes = {
        f"/{slugs[outlet]}.xml": answer(
            200,
            _rss(outlet, items, f"https://{slugs[outlet]}.example/"),
            {"Content-Type": "application/rss+xml"},
        )
        for outlet, items in by_outlet.items()
    }
    with feed_server(routes) as server:
        yield server, slugs


def _settings(
    tmp_path: Path, server: FeedServer, slugs: dict[str, str], max_articles: int = 60
) -> Settings:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = {
        "service": service_table(tmp_path),
        "ingest": {"allow_private_addresses": True},
        "feeds": [
            {"name": outlet, "url": server.url(f"/{slug}.xml")} for outlet, slug in slugs.items()
        ],
        "topics": [{"slug": "news", "name": "News", "rules": {"feeds": list(slugs)}}],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily Brief",
                "topics": ["news"],
                "schedule": "0 7 * * *",
                "timezone": "UTC",
                "subscribers": "members.csv",
                "max_articles": max_articles,
                # Both days of the Gaza stories in the one edition, first though it is.
                "first_edition_lookback_hours": 72,
            }
        ],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


@pytest.mark.integration
def test_polling_in_any_order_gives_the_same_stories_and_the_same_edition(
    tmp_path: Path, outlets: tuple[FeedServer, dict[str, str]]
) -> None:
    server, slugs = outlets
    chooser = random.Random(3)
    results = []
    for attempt in range(5):
        folder = tmp_path / f"order-{attempt}"
        folder.mkdir()
        services = build_services(
            _settings(folder, server, slugs), clock=FixedClock(NOW), transport=MemoryTransport()
        )
        try:
            feeds = pipeline.due_feeds(services, NOW, force=True)
            for feed in chooser.sample(feeds, len(feeds)):
                assert pipeline.poll_feed(services, feed.id).error is None
            edition = pipeline.compose_next_edition(
                services,
                services.settings.list("daily"),
                NOW,
                NOW,
                services.store.article_sequence(),
            )
            rendered = services.renderer.render(edition, services.settings.list("daily"))
        finally:
            services.store.engine.dispose()
        shown = [
            (item.article.link, tuple(sorted(a.link for a in item.also_covered_by)))
            for item in edition.items()
        ]
        results.append((shown, rendered.text, rendered.html))
    first_shown, first_text, first_html = results[0]
    groups = [{head, *covered} for head, covered in first_shown]
    day1 = {"gaza-day1-ledger", "gaza-day1-wire", "gaza-day1-arabic", "gaza-day1-hebrew"}
    day2 = {"gaza-day2-ledger", "gaza-day2-wire", "gaza-day2-arabic"}
    named = [{link.rsplit("/", 1)[1] for link in group} for group in groups]
    assert any(day1 <= group for group in named)  # across outlets and languages
    assert any(day2 <= group for group in named)
    assert not any(group & day1 and group & day2 for group in named)  # two days: two stories
    for shown, text, html in results[1:]:
        assert shown == first_shown
        assert text == first_text
        assert html == first_html


TIED = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def _made_up_words(chooser: random.Random, count: int) -> str:
    """Words no other piece shares, so that digest.stories keeps every piece apart."""
    letters = "bcdfghklmnprstvz"
    return " ".join(
        "".join(chooser.choice(letters) + chooser.choice("aeiou") for _ in range(4))
        for _ in range(count)
    )


@pytest.fixture
def tied_outlets() -> Iterator[tuple[FeedServer, dict[str, str]]]:
    """Three outlets of four unrelated pieces each, all published the same minute and filed with
    the same score: nothing but the rank's last tie-break orders them."""
    chooser = random.Random(12)
    slugs: dict[str, str] = {}
    routes = {}
    for outlet in range(3):
        name = f"Tied Outlet {outlet}"
        slugs[name] = f"tied-{outlet}"
        pieces = [
            Story(
                id=f"piece-{outlet}-{n}",
                outlet=name,
                event=f"piece-{outlet}-{n}",
                topic=None,
                title=_made_up_words(chooser, 6).capitalize(),
                summary=_made_up_words(chooser, 14).capitalize() + ".",
                published=TIED,
            )
            for n in range(4)
        ]
        routes[f"/tied-{outlet}.xml"] = answer(
            200,
            _rss(name, pieces, f"https://tied-{outlet}.example/"),
            {"Content-Type": "application/rss+xml"},
        )
    with feed_server(routes) as server:
        yield server, slugs


@pytest.mark.integration
def test_polling_in_any_order_gives_the_same_layout_when_every_rank_term_ties(
    tmp_path: Path, tied_outlets: tuple[FeedServer, dict[str, str]]
) -> None:
    server, slugs = tied_outlets
    chooser = random.Random(5)
    layouts = []
    for attempt in range(5):
        folder = tmp_path / f"order-{attempt}"
        folder.mkdir()
        settings = _settings(folder, server, slugs, max_articles=5)
        services = build_services(settings, clock=FixedClock(NOW), transport=MemoryTransport())
        try:
            feeds = pipeline.due_feeds(services, NOW, force=True)
            for feed in chooser.sample(feeds, len(feeds)):
                assert pipeline.poll_feed(services, feed.id).error is None
            edition = pipeline.compose_next_edition(
                services, settings.list("daily"), NOW, NOW, services.store.article_sequence()
            )
            ids = sorted(article.id for article in edition.articles())
        finally:
            services.store.engine.dispose()
        layouts.append(([item.article.title for item in edition.items()], ids))
    first_titles, _ = layouts[0]
    assert len(first_titles) == 5  # the cap leaves seven of the twelve pieces out
    for titles, _ in layouts[1:]:
        assert titles == first_titles
    assert len({tuple(ids) for _, ids in layouts}) > 1  # the poll orders numbered them apart


def test_two_persian_reports_of_other_events_written_alike_are_two_stories() -> None:
    """Oil exports and a flu vaccine: the words every Persian report is written with ("است",
    "کرد", "روز", "دوشنبه", "اعلام", "گذشته") made them one story."""
    zwnj = "\u200c"
    labelled = [
        Story("oil", "Radio Farda", "oil", None, "صادرات نفت ایران به چین افزایش یافته است",
              "وزیر نفت روز دوشنبه اعلام کرد که صادرات این کشور در ماه گذشته افزایش یافته "
              "است.", language="fa"),
        Story("flu", "IranWire", "flu", None, f"واکسن آنفلوآنزا در داروخانه{zwnj}ها توزیع شده است",
              f"وزیر بهداشت روز دوشنبه اعلام کرد که واکسن در ماه گذشته در داروخانه{zwnj}ها "
              "توزیع شده است.", language="fa"),
    ]  # fmt: skip
    found = stories.group(as_articles(labelled))
    assert found.story[1] != found.story[2]


def test_one_persian_report_on_tuesday_written_with_a_zwnj_or_apart_is_one_story() -> None:
    """One outlet writes "سه‌شنبه" (Tuesday), the other "سه شنبه", read as "شنبه" (Saturday):
    the two named different days and were two stories."""
    zwnj = "\u200c"
    labelled = [
        Story("farda", "Radio Farda", "quake", None, "زلزله ۵٫۲ ریشتری کرمان را لرزاند",
              f"زمین{zwnj}لرزه{zwnj}ای به بزرگی ۵٫۲ ریشتر بامداد سه{zwnj}شنبه کرمان را لرزاند "
              "و به ۱۲ خانه آسیب زد.", language="fa"),
        Story("iranwire", "IranWire", "quake", None, "آسیب به ۱۲ خانه در پی زمین‌لرزه کرمان",
              "هلال احمر می گوید زلزله سه شنبه در کرمان به بزرگی ۵٫۲ ریشتر بود و ۱۲ خانه را "
              "ویران کرد.", language="fa"),
    ]  # fmt: skip
    found = stories.group(as_articles(labelled))
    assert found.story[1] == found.story[2]


def _with_features(
    articles: Sequence[Article], features: Sequence[Sequence[int]]
) -> dict[int, story_links.Profile]:
    """Profiles of ``articles`` whose features (what candidate pairs are found by) are given."""
    given = sorted(zip(articles, features, strict=True), key=lambda pair: pair[0].id)
    return {  # in the order of their ids, not of their times
        article.id: replace(story_links.profile_of(article), features=frozenset(held))
        for article, held in given
    }


def _published_apart(count: int, chooser: random.Random) -> list[Article]:
    """``count`` reports an hour apart, numbered (and linked) in another order than their
    times."""
    base = as_articles(held_out_stories())[0]
    when = datetime(2026, 12, 7, tzinfo=UTC)
    ids = chooser.sample(range(1, count + 1), count)
    return [
        replace(
            base,
            id=ids[hour],
            link=f"https://wire.example/{ids[hour]:03}",
            published_at=when + timedelta(hours=hour),
        )
        for hour in range(count)
    ]


@pytest.mark.parametrize("holders", [stories.COMMON_FLOOR, stories.COMMON_FLOOR + 7])
def test_a_common_feature_pairs_the_reports_nearest_in_time_and_a_rarer_one_all(
    holders: int,
) -> None:
    # A feature held by more than COMMON_FLOOR reports (a story's own words, told by many
    # outlets) pairs each report with the COMMON_NEIGHBOURS nearest in time that hold it, on
    # either side, whatever their ids; one held by no more pairs every two of them.
    articles = _published_apart(holders, random.Random(holders))
    pairs = stories._candidate_pairs(_with_features(articles, [[7]] * holders))
    common = holders > stories.COMMON_FLOOR
    expected = {
        (min(a.id, b.id), max(a.id, b.id))
        for (hour_a, a), (hour_b, b) in itertools.combinations(enumerate(articles), 2)
        if not common or abs(hour_a - hour_b) <= stories.COMMON_NEIGHBOURS
    }
    assert pairs == expected


def test_a_long_profile_needs_two_shared_features_to_be_compared_and_a_short_one_one() -> None:
    # Fingerprints of at most dedup.MIN_SHARED features may match on one shared feature; a
    # longer one on a single shared word was a pair for every report that used the word.
    articles = _published_apart(6, random.Random(6))
    short = list(range(100, 100 + dedup.MIN_SHARED))
    long = list(range(200, 201 + dedup.MIN_SHARED))
    features = [
        short,  # 0 and 1 share one feature, each at most MIN_SHARED long: a pair
        [short[0], *range(300, 300 + dedup.MIN_SHARED - 1)],
        long,  # 2 and 3 share one, both longer: no pair; 2 and 4 share two: a pair
        [long[0], *range(400, 400 + dedup.MIN_SHARED + 1)],
        [long[0], long[1], *range(500, 500 + dedup.MIN_SHARED)],
        [900],  # shares nothing: in no pair, nor paired with itself
    ]
    pairs = stories._candidate_pairs(_with_features(articles, features))
    named = {(articles[a].id, articles[b].id) for a, b in ((0, 1), (2, 4))}
    assert pairs == {(min(pair), max(pair)) for pair in named}


def test_reports_of_one_time_pair_alike_whatever_order_they_were_numbered_in() -> None:
    # A feed without dates gives a whole poll's reports one time (first seen): ordered among
    # themselves by id, a common feature's nearest reports were those polled next to them,
    # and the pairs changed with the poll order. By link they are the same every time.
    holders = stories.COMMON_FLOOR + 7
    found = set()
    for seed in range(3):
        # The same reports (by link), numbered in another order each time.
        articles = [
            replace(
                article,
                link=f"https://wire.example/{n:03}",
                published_at=None,
                first_seen_at=datetime(2026, 12, 7, tzinfo=UTC),
            )
            for n, article in enumerate(_published_apart(holders, random.Random(seed)))
        ]
        link = {article.id: article.link for article in articles}
        pairs = stories._candidate_pairs(_with_features(articles, [[7]] * holders))
        found.add(frozenset(frozenset((link[a], link[b])) for a, b in pairs))
    assert len(found) == 1


def test_a_report_with_more_candidates_than_it_may_compare_keeps_those_sharing_most() -> None:
    # Each report is compared with at most CANDIDATES others: the ones sharing the most of its
    # features, ties by link (not by id: poll order). To see one report's choice alone, each of
    # the others has more than CANDIDATES better partners of its own: 49 reports on the points
    # of the affine plane of order 7, every two of them on one line, whose three features the
    # line's seven points hold; the report chosen among is linked last ("zzz"), so that each of
    # the 49 ranks it after its 48 partners sharing as much.
    points = [(x, y) for x in range(7) for y in range(7)]
    lines = [[(x, (m * x + b) % 7) for x in range(7)] for m in range(7) for b in range(7)]
    lines += [[(b, y) for y in range(7)] for b in range(7)]
    features: list[list[int]] = [
        [3 * at + k for at, line in enumerate(lines) if point in line for k in range(3)]
        for point in points
    ]
    sharing = {n: 3 if n < stories.CANDIDATES + 2 else 2 for n in range(stories.CANDIDATES + 6)}
    features_of_it: list[int] = []  # the report's own: a few features with each of 30 others
    for n, shared in sharing.items():
        own = [1000 + 3 * n + k for k in range(shared)]
        features[n] += own
        features_of_it += own
    articles = _published_apart(len(points) + 1, random.Random(49))
    articles = [
        replace(article, link=f"https://wire.example/{n:02}") for n, article in enumerate(articles)
    ]
    articles[-1] = replace(articles[-1], link="https://wire.example/zzz")
    pairs = stories._candidate_pairs(_with_features(articles, [*features, features_of_it]))
    it = articles[-1].id
    chosen = {a if b == it else b for a, b in pairs if it in (a, b)}
    # The 26 sharing three, the 24 of them with the least links; none of the 4 sharing two.
    assert chosen == {articles[n].id for n in range(stories.CANDIDATES)}
