"""Tests for digest.compose: filing, ranking, lead, sections, cap, more-from, recommended."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.compose import build_edition
from digest.config import ListSettings, TopicRules, TopicSettings
from digest.records import Article, Candidate, Edition

SLOT = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
WINDOW_START = SLOT - timedelta(days=1)

TOPICS = (
    TopicSettings(slug="middle-east", name="Middle East"),
    TopicSettings(slug="iran", name="Iran", parent="middle-east"),
    TopicSettings(slug="tehran", name="Tehran", parent="iran"),
    TopicSettings(slug="gulf", name="The Gulf", parent="middle-east"),
    TopicSettings(slug="syria", name="Syria", parent="middle-east"),
    TopicSettings(slug="diplomacy", name="Diplomacy", parent="middle-east"),
)


def digest_list(
    topics: Sequence[str] = ("middle-east", "iran", "gulf", "syria"),
    *,
    max_articles: int = 25,
    recommended: int = 3,
) -> ListSettings:
    return ListSettings(
        slug="daily",
        name="The Middle East in your inbox",
        topics=tuple(topics),
        schedule="0 7 * * *",
        max_articles=max_articles,
        recommended=recommended,
        subscribers=Path("subscribers.csv"),
    )


def codename(number: int, salt: int = 0) -> str:
    """A made-up word of its own for each number: the stories of these tests share no words, so
    digest.stories keeps each apart (the tests that group stories say so with their texts)."""
    value = number * 7 + salt * 100_003
    letters = [chr(ord("a") + value // 26**place % 26) for place in range(4)]
    return "".join(letters) + "o"


def article(
    article_id: int,
    *,
    minutes_ago: int = 60,
    image: bool = False,
    summary: str | None = None,
    author: str | None = None,
) -> Article:
    if summary is None:
        summary = f"What {codename(article_id, 1)} did, in {codename(article_id, 2)} lines."
    return Article(
        id=article_id,
        feed_id=1,
        feed_name="Gulf Wire",
        guid=f"guid-{article_id}",
        link=f"https://news.example.org/{article_id}",
        title=f"Story {article_id}: {codename(article_id)}",
        summary_html=f"<p>{summary}</p>",
        summary_text=summary,
        author=author,
        published_at=SLOT - timedelta(minutes=minutes_ago),
        first_seen_at=SLOT - timedelta(minutes=minutes_ago),
        image_url=f"https://news.example.org/{article_id}.jpg" if image else None,
    )


def candidate(article_id: int, topics: dict[str, float], **fields: object) -> Candidate:
    return Candidate(article=article(article_id, **fields), topics=topics)  # type: ignore[arg-type]


def compose(candidates: Sequence[Candidate], settings: ListSettings | None = None) -> Edition:
    return build_edition(
        settings or digest_list(),
        TOPICS,
        slot=SLOT,
        window_start=WINDOW_START,
        window_end=SLOT,
        candidates=candidates,
    )


def shown_ids(edition: Edition) -> list[int]:
    return [shown.id for shown in edition.articles()]


def section_ids(edition: Edition) -> dict[str, list[int]]:
    return {
        section.topic: [item.article.id for item in section.items] for section in edition.sections
    }


def section_counts(edition: Edition) -> Counter[str]:
    """Articles per topic, the lead and "more from" included."""
    counts: Counter[str] = Counter()
    for item in edition.items():
        if item not in edition.recommended:
            counts[item.topic] += 1 + len(item.more_from)
    return counts


# --- empty input --------------------------------------------------------------------------------


def test_no_candidates_gives_an_empty_edition() -> None:
    edition = compose([])
    assert edition.lead is None
    assert edition.sections == ()
    assert edition.recommended == ()
    assert edition.is_empty
    assert (edition.list_slug, edition.slot, edition.window_start, edition.window_end) == (
        "daily",
        SLOT,
        WINDOW_START,
        SLOT,
    )


def test_candidates_outside_the_list_topics_do_not_count() -> None:
    edition = compose([candidate(1, {"diplomacy": 5.0}), candidate(2, {"sport": 9.0})])
    assert edition.is_empty


# --- filing under the best topic ----------------------------------------------------------------


def test_article_goes_under_its_most_specific_topic() -> None:
    lead = candidate(1, {"middle-east": 9.0}, image=True)
    child = candidate(2, {"middle-east": 5.0, "iran": 3.0})
    edition = compose([lead, child])
    assert section_ids(edition) == {"iran": [2]}
    assert edition.sections[0].items[0].topic == "iran"


def test_grandchild_in_the_list_beats_child_and_parent() -> None:
    tehran = candidate(2, {"middle-east": 4.0, "iran": 4.0, "tehran": 4.0})
    lead = candidate(1, {"middle-east": 9.0}, image=True)
    with_tehran = compose([lead, tehran], digest_list(("middle-east", "iran", "tehran")))
    assert section_ids(with_tehran) == {"tehran": [2]}
    without_tehran = compose([lead, tehran], digest_list(("middle-east", "iran")))
    assert section_ids(without_tehran) == {"iran": [2]}


def test_ties_between_unrelated_topics_go_by_score_then_list_order() -> None:
    lead = candidate(1, {"middle-east": 9.0}, image=True)
    both_equal = candidate(2, {"middle-east": 3.0, "iran": 3.0, "gulf": 3.0})
    gulf_higher = candidate(3, {"middle-east": 4.0, "iran": 3.0, "gulf": 4.0})
    edition = compose([lead, both_equal, gulf_higher])
    assert section_ids(edition) == {"iran": [2], "gulf": [3]}
    reordered = compose([lead, both_equal], digest_list(("middle-east", "gulf", "iran")))
    assert section_ids(reordered) == {"gulf": [2]}


# --- sections and ranking -----------------------------------------------------------------------


def test_sections_follow_list_order_with_topic_names_and_skip_empty_topics() -> None:
    edition = compose(
        [
            candidate(1, {"middle-east": 9.0}, image=True),
            candidate(2, {"middle-east": 2.0, "syria": 2.0}),
            candidate(3, {"middle-east": 3.0, "iran": 3.0}),
            candidate(4, {"middle-east": 1.0}),
        ]
    )
    assert [(s.topic, s.title) for s in edition.sections] == [
        ("middle-east", "Middle East"),
        ("iran", "Iran"),
        ("syria", "Syria"),
    ]


def test_ranking_is_score_then_recency_then_image_then_link() -> None:
    edition = compose(
        [
            candidate(1, {"middle-east": 9.0}, image=True),  # the lead
            candidate(10, {"gulf": 2.0}, minutes_ago=5),
            candidate(11, {"gulf": 4.0}, minutes_ago=500),  # highest score first
            candidate(12, {"gulf": 2.0}, minutes_ago=30),
            candidate(13, {"gulf": 2.0}, minutes_ago=30, image=True),  # image breaks the tie
            candidate(15, {"gulf": 2.0}, minutes_ago=300),
            candidate(14, {"gulf": 2.0}, minutes_ago=300),  # the lower link breaks a full tie
        ]
    )
    assert section_ids(edition) == {"gulf": [11, 10, 13, 12, 14, 15]}


def test_a_full_tie_goes_by_the_link_never_by_the_id_the_poll_order_gave() -> None:
    def linked(article_id: int, link: str) -> Candidate:
        tied = candidate(article_id, {"gulf": 2.0}, minutes_ago=30)
        return replace(tied, article=replace(tied.article, link=link))

    first = compose([linked(1, "https://b.example/x"), linked(2, "https://a.example/x")])
    again = compose([linked(2, "https://b.example/x"), linked(1, "https://a.example/x")])
    assert [item.article.link for item in first.items()] == [
        "https://a.example/x",
        "https://b.example/x",
    ]
    assert [item.article.link for item in again.items()] == [
        item.article.link for item in first.items()
    ]


# --- the lead -----------------------------------------------------------------------------------


def test_lead_is_from_the_first_topic_and_not_repeated() -> None:
    edition = compose(
        [
            candidate(1, {"gulf": 20.0}, image=True),  # best overall, but not the first topic
            candidate(2, {"middle-east": 6.0, "iran": 6.0}, image=True),
            candidate(3, {"middle-east": 5.0}, image=True),
        ],
        digest_list(("iran", "gulf")),
    )
    assert edition.lead is not None
    assert edition.lead.article.id == 2
    assert edition.lead.topic == "iran"
    assert 2 not in [item.article.id for s in edition.sections for item in s.items]
    assert section_ids(edition) == {"gulf": [1]}  # article 3 is in no topic of this list


def test_lead_pool_takes_in_descendants_of_the_first_topic() -> None:
    # Article 1 was filed under Tehran but not Iran (as when Iran's own exclude fired).
    edition = compose(
        [
            candidate(1, {"gulf": 2.0, "tehran": 2.0}, image=True),
            candidate(2, {"gulf": 30.0}, image=True),
        ],
        digest_list(("iran", "gulf")),
    )
    assert edition.lead is not None
    assert edition.lead.article.id == 1
    assert section_ids(edition) == {"gulf": [2]}


def test_lead_prefers_an_illustrated_article_close_enough_in_score() -> None:
    edition = compose(
        [
            candidate(1, {"middle-east": 10.0}),  # best, but no image
            candidate(2, {"middle-east": 9.0}, image=True, summary=""),  # image, no summary
            candidate(3, {"middle-east": 5.0}, image=True),  # half the best: preferred
        ]
    )
    assert edition.lead is not None
    assert edition.lead.article.id == 3
    assert section_ids(edition) == {"middle-east": [1, 2]}


def test_lead_keeps_the_best_story_when_illustrated_ones_are_far_behind() -> None:
    edition = compose(
        [candidate(1, {"middle-east": 10.0}), candidate(2, {"middle-east": 4.0}, image=True)]
    )
    assert edition.lead is not None
    assert edition.lead.article.id == 1


def test_lead_falls_back_to_the_whole_edition_when_the_first_topic_is_empty() -> None:
    edition = compose(
        [candidate(1, {"gulf": 3.0}), candidate(2, {"syria": 5.0})],
        digest_list(("iran", "gulf", "syria")),
    )
    assert edition.lead is not None
    assert edition.lead.article.id == 2
    assert section_ids(edition) == {"gulf": [1]}


# --- cap, balance and recommended ---------------------------------------------------------------


def many(first_id: int, count: int, topic: str, score: float) -> list[Candidate]:
    return [
        candidate(first_id + n, {"middle-east": score, topic: score}, minutes_ago=n + 1)
        for n in range(count)
    ]


def test_cap_counts_every_article_shown() -> None:
    candidates = many(100, 30, "iran", 5.0) + many(200, 30, "gulf", 4.0)
    edition = compose(candidates, digest_list(max_articles=10, recommended=2))
    assert len(shown_ids(edition)) == 10
    assert len(edition.recommended) == 2


def test_no_section_takes_more_than_half_while_others_have_material() -> None:
    # Iran outranks the Gulf entirely; the cap is 10, so Iran keeps at most 5 (lead included).
    candidates = many(100, 30, "iran", 5.0) + many(200, 5, "gulf", 4.0)
    edition = compose(candidates, digest_list(max_articles=10, recommended=2))
    counts = section_counts(edition)
    assert counts["iran"] == 5
    assert counts["gulf"] == 3  # the rest of the 8 slots before the recommended
    assert edition.lead is not None
    assert edition.lead.article.id == 100
    # The recommended are the best of what did not fit: Iran's next two.
    assert [item.article.id for item in edition.recommended] == [105, 106]
    assert len(shown_ids(edition)) == 10


def test_a_section_grows_past_half_when_the_others_run_dry() -> None:
    candidates = many(100, 30, "iran", 5.0) + many(200, 1, "gulf", 4.0)
    edition = compose(candidates, digest_list(max_articles=10, recommended=2))
    counts = section_counts(edition)
    assert counts == {"iran": 7, "gulf": 1}
    assert [item.article.id for item in edition.recommended] == [107, 108]


def test_every_topic_with_material_gets_its_best_article() -> None:
    candidates = (
        many(100, 20, "iran", 9.0) + many(200, 20, "gulf", 8.0) + many(300, 2, "syria", 1.0)
    )
    edition = compose(candidates, digest_list(max_articles=6, recommended=1))
    assert section_ids(edition)["syria"] == [300]
    assert len(shown_ids(edition)) == 6


def test_recommended_holds_only_leftovers_best_first() -> None:
    candidates = many(100, 12, "iran", 5.0) + many(200, 12, "gulf", 4.0)
    edition = compose(candidates, digest_list(max_articles=8, recommended=3))
    assert edition.lead is not None
    in_sections = {item.article.id for s in edition.sections for item in s.items}
    assert in_sections | {edition.lead.article.id} == {100, 101, 102, 103, 200}
    assert [item.article.id for item in edition.recommended] == [104, 105, 106]


def test_nothing_is_recommended_when_everything_fits() -> None:
    candidates = many(100, 4, "iran", 5.0) + many(200, 3, "gulf", 4.0)
    edition = compose(candidates, digest_list(max_articles=10, recommended=3))
    assert edition.recommended == ()
    assert sorted(shown_ids(edition)) == [100, 101, 102, 103, 200, 201, 202]


def test_recommended_zero_and_cap_one() -> None:
    candidates = many(100, 5, "iran", 5.0) + many(200, 5, "gulf", 4.0)
    no_recommended = compose(candidates, digest_list(max_articles=6, recommended=0))
    assert no_recommended.recommended == ()
    assert len(shown_ids(no_recommended)) == 6
    lead_only = compose(candidates, digest_list(max_articles=1, recommended=3))
    assert shown_ids(lead_only) == [100]
    assert lead_only.sections == ()
    assert lead_only.recommended == ()


# --- more from an author ------------------------------------------------------------------------


def test_more_from_groups_an_authors_pieces_under_the_best_one() -> None:
    edition = compose(
        [
            candidate(1, {"middle-east": 9.0}, image=True, author="Lina Haddad"),
            candidate(2, {"gulf": 5.0}, author="Omar Said"),
            candidate(3, {"syria": 4.0}, author="omar  SAID"),  # same author, other spelling
            candidate(4, {"gulf": 3.0}, author="Omar Said"),
            candidate(5, {"gulf": 2.0}),
            candidate(6, {"gulf": 1.0}),  # no author: never grouped
        ]
    )
    items = {item.article.id: item for item in edition.items()}
    assert [a.id for a in items[2].more_from] == [3, 4]
    assert 3 not in items and 4 not in items
    assert items[5].more_from == () and items[6].more_from == ()
    assert section_ids(edition) == {"gulf": [2, 5, 6]}  # Syria's only piece moved under item 2
    assert sorted(shown_ids(edition)) == [1, 2, 3, 4, 5, 6]


def test_more_from_holds_at_most_three_and_the_rest_stay_items() -> None:
    candidates = [candidate(1, {"middle-east": 9.0}, image=True, author="Dana Levi")] + [
        candidate(n, {"gulf": 10.0 - n}, author="Dana Levi") for n in range(2, 7)
    ]
    edition = compose(candidates)
    assert edition.lead is not None
    assert [a.id for a in edition.lead.more_from] == [2, 3, 4]
    assert section_ids(edition) == {"gulf": [5, 6]}


def by(article_id: int, topics: dict[str, float], author: str, **fields: object) -> Candidate:
    """A candidate by ``author``; ``fields`` may also set the title, cluster or feed."""
    extra = {key: fields.pop(key) for key in ("title", "cluster_id", "feed_name") if key in fields}
    made = candidate(article_id, topics, author=author, **fields)
    return Candidate(article=replace(made.article, **extra), topics=made.topics)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "desk", ["AFP", "Reuters", "Associated Press", "News Desk", "Web Desk", "Staff", "Gulf Wire"]
)
def test_more_from_is_never_an_agency_a_desk_or_the_outlet(desk: str) -> None:
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, desk, image=True),
            by(2, {"gulf": 5.0}, desk),
            by(3, {"syria": 4.0}, desk),
        ]
    )
    assert all(item.more_from == () for item in edition.items())
    assert sorted(shown_ids(edition)) == [1, 2, 3]
    assert section_ids(edition) == {"gulf": [2], "syria": [3]}


def test_more_from_reads_the_person_behind_an_agency_credit() -> None:
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "Jane Doe | Reuters", image=True),
            by(2, {"gulf": 5.0}, "By JANE DOE, Reuters"),
            by(3, {"syria": 4.0}, "Jane Doe (AFP)"),
            by(4, {"gulf": 3.0}, "Omar Said | Reuters"),  # the same agency, another person
        ]
    )
    assert edition.lead is not None
    assert [a.id for a in edition.lead.more_from] == [2, 3]
    assert section_ids(edition) == {"gulf": [4]}


def test_more_from_is_never_the_outlet_a_syndicated_byline_names() -> None:
    # An aggregator's bylines name each writer and the outlet they wrote for: "The Washington
    # Post" was read as a person every such piece shared, "More from The Washington Post".
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "Jane Doe, The Washington Post", image=True),
            by(2, {"gulf": 5.0}, "Omar Said, The Washington Post"),
            by(3, {"syria": 4.0}, "Lina Haddad | The Conversation"),
            by(4, {"gulf": 3.0}, "Dana Levi, The Conversation"),
            by(5, {"syria": 2.0}, "Sam Hill, Foreign Policy"),
            by(6, {"gulf": 1.0}, "Ann Lee, Foreign Policy"),
        ]
    )
    assert all(item.more_from == () for item in edition.items())
    assert sorted(shown_ids(edition)) == [1, 2, 3, 4, 5, 6]


def test_more_from_reads_the_reporter_after_a_correspondents_role() -> None:
    # "مراسل الجزيرة" (Al Jazeera correspondent) before the name made the whole byline a desk's.
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "مراسل الجزيرة أحمد علي", image=True),
            by(2, {"gulf": 5.0}, "أحمد علي"),
            by(3, {"syria": 4.0}, "Al Jazeera correspondent Omar Said"),
            by(4, {"gulf": 3.0}, "Omar Said, Reuters"),
        ]
    )
    assert edition.lead is not None
    assert [a.id for a in edition.lead.more_from] == [2]
    assert [(item.article.id, [a.id for a in item.more_from]) for item in edition.items()][1:] == [
        (3, [4])
    ]


def test_more_from_counts_each_of_several_authors() -> None:
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "Lina Haddad and Omar Said", image=True),
            by(2, {"gulf": 5.0}, "Omar Said"),
            by(3, {"syria": 4.0}, "Dana Levi, Lina Haddad"),
        ]
    )
    assert edition.lead is not None
    # One "More from" per item: the lead's first person with other pieces, Lina Haddad.
    assert [a.id for a in edition.lead.more_from] == [3]
    assert section_ids(edition) == {"gulf": [2]}


# One person written with characters that show as nothing, another space, another Unicode form
# or in capitals: the same "More from" as "Jane Doe".
SAME_PERSON = [
    "Jane\u200bDoe",  # a zero-width space
    "\u200bJane Doe\u200b",
    "Jane\u00a0Doe",  # a no-break space
    "Ja\u00adne Doe",  # a soft hyphen
    "Jane \u2060Doe",  # a word joiner
    "\ufeffJane Doe",  # a byte order mark
    "\u202aJane Doe\u202c",  # a direction embedding
    "Jane Doe\u200e",  # a direction mark
    "Jane\u200c Doe",  # a zero-width non-joiner
    "JANE DOE",
    "jane doe",
    "Ｊａｎｅ Ｄｏｅ",  # fullwidth letters
]


@pytest.mark.parametrize("spelling", SAME_PERSON)
def test_more_from_sees_one_person_through_invisible_characters_forms_and_case(
    spelling: str,
) -> None:
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "Jane Doe", image=True),
            by(2, {"gulf": 5.0}, spelling),
            by(3, {"syria": 4.0}, "Jane Dow"),  # another person
            by(4, {"syria": 3.0}, "Janed Oe"),  # another too, with the same letters
        ]
    )
    assert edition.lead is not None
    assert [a.id for a in edition.lead.more_from] == [2]
    assert section_ids(edition) == {"syria": [3, 4]}


def test_more_from_sees_one_person_in_either_unicode_form() -> None:
    composed, decomposed = "José García", "Jose\u0301 Garci\u0301a"
    arabic = "\u200fأحمد علي"  # a right-to-left mark before the name
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, decomposed, image=True),
            by(2, {"gulf": 5.0}, composed),
            by(3, {"syria": 4.0}, "Jose Garcia"),  # no accents: not assumed to be him
            by(4, {"gulf": 3.0}, "أحمد علي"),
            by(5, {"syria": 2.0}, arabic),
        ]
    )
    items = {item.article.id: item for item in edition.items()}
    assert [a.id for a in items[1].more_from] == [2]
    assert [a.id for a in items[4].more_from] == [5]
    assert items[3].more_from == ()


def test_more_from_is_one_person_at_one_outlet() -> None:
    def at(article_id: int, topics: dict[str, float], link: str, **fields: object) -> Candidate:
        made = by(article_id, topics, "Ahmed Ali", **fields)
        return Candidate(article=replace(made.article, link=link), topics=made.topics)

    edition = compose(
        [
            at(1, {"middle-east": 9.0}, "https://www.gulfwire.example/a", image=True),
            at(2, {"gulf": 5.0}, "https://gulfwire.example/b"),  # the same site, without www.
            at(3, {"syria": 4.0}, "https://levant.example/c"),  # a namesake at another outlet
            at(4, {"gulf": 3.0}, "http://[oops]/d"),  # an address naming no site: its feed's
        ]
    )
    assert edition.lead is not None
    assert [a.id for a in edition.lead.more_from] == [2]
    assert section_ids(edition) == {"gulf": [4], "syria": [3]}


def test_more_from_is_never_the_editor_a_wire_names_after_its_reporters() -> None:
    # Every Reuters story ends its byline with "Editing by ...": one editor's name grouped
    # the pieces of different reporters under "More from Editing by John Roe".
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "Reporting by Jane Doe; Editing by John Roe", image=True),
            by(2, {"gulf": 5.0}, "Reporting by Omar Said; Editing by John Roe"),
            by(3, {"syria": 4.0}, "Lina Haddad; Additional reporting by Omar Said"),
        ]
    )
    assert all(item.more_from == () for item in edition.items())
    assert section_ids(edition) == {"gulf": [2], "syria": [3]}


def test_a_feeds_own_agency_byline_heads_no_more_from() -> None:
    from digest.bylines import Bylines
    from digest.config import FeedSettings

    feed = FeedSettings(
        url="https://gulfwire.example/feed",  # type: ignore[arg-type]
        name="Gulf Wire",
        agency_bylines=("Harbour Syndicate",),
    )
    candidates = [
        by(1, {"middle-east": 9.0}, "Harbour Syndicate", image=True),
        by(2, {"gulf": 5.0}, "Harbour Syndicate"),
    ]
    assert compose(candidates).lead.more_from != ()  # type: ignore[union-attr]  # two words: a name
    edition = build_edition(
        digest_list(),
        TOPICS,
        slot=SLOT,
        window_start=WINDOW_START,
        window_end=SLOT,
        candidates=candidates,
        bylines=Bylines.for_feeds([feed]),
    )
    assert all(item.more_from == () for item in edition.items())


def test_more_from_never_repeats_a_story_shown_elsewhere_in_the_edition() -> None:
    """The lead's story again (its title) under another item by the same person would show it
    twice: such a piece stays an item of its own, and so does a story other outlets covered."""
    edition = compose(
        [
            by(1, {"middle-east": 9.0}, "Omar Said", image=True, title="Truce holds in Gaza"),
            by(2, {"gulf": 6.0}, "Lina Haddad", title="Causeway opens"),
            by(3, {"gulf": 5.0}, "Lina Haddad", title="Truce  holds in GAZA"),  # the lead's
            by(4, {"syria": 4.0}, "Lina Haddad", cluster_id=70, title="Aleppo power plant"),
            by(5, {"syria": 3.0}, "Dana Levi", cluster_id=70, title="Power back in Aleppo"),
            by(6, {"gulf": 2.0}, "Lina Haddad", title="Port reopens"),
            # the title of a report shown under item 4 as "also covered by"
            by(7, {"gulf": 1.5}, "Lina Haddad", title="Power back in Aleppo"),
        ]
    )
    items = {item.article.id: item for item in edition.items()}
    assert [a.id for a in items[2].more_from] == [6]
    # Neither piece of a story shown elsewhere goes under item 2: the lead's story again is one
    # story with the lead (digest.stories groups a same-outlet report too), and the title of a
    # report shown under item 4 joins that story.
    assert [a.id for a in items[1].also_covered_by] == [3]
    assert [a.id for a in items[4].also_covered_by] == [5, 7]
    shown = [a.id for item in edition.items() for a in (item.article, *item.more_from)]
    shown += [a.id for item in edition.items() for a in item.also_covered_by]
    assert sorted(shown) == [1, 2, 3, 4, 5, 6, 7]  # each once


# --- invariants ---------------------------------------------------------------------------------


def random_candidates(seed: int) -> list[Candidate]:
    rng = random.Random(seed)
    slugs = [topic.slug for topic in TOPICS]
    authors = ["Lina Haddad", "lina haddad", "Omar Said", "Dana Levi", None, None]
    candidates = []
    for article_id in range(1, rng.randrange(0, 60) + 1):
        chosen = rng.sample(slugs, rng.randrange(1, 4))
        scores = {slug: float(rng.randrange(1, 10)) for slug in chosen}
        for slug in chosen:  # a parent takes in its children, as the classifier guarantees
            parent = next(t.parent for t in TOPICS if t.slug == slug)
            while parent is not None:
                scores[parent] = max(scores.get(parent, 0.0), scores[slug])
                parent = next(t.parent for t in TOPICS if t.slug == parent)
        candidates.append(
            candidate(
                article_id,
                scores,
                minutes_ago=rng.randrange(1, 1440),
                image=rng.random() < 0.5,
                author=rng.choice(authors),
            )
        )
    return candidates


@pytest.mark.parametrize("seed", range(40))
def test_invariants_hold_on_random_input(seed: int) -> None:
    rng = random.Random(seed)
    settings = digest_list(
        rng.sample(
            ["middle-east", "iran", "tehran", "gulf", "syria", "diplomacy"], rng.randrange(1, 6)
        ),
        max_articles=rng.randrange(1, 30),
        recommended=rng.randrange(0, 6),
    )
    candidates = random_candidates(seed)
    edition = compose(candidates, settings)
    ids = shown_ids(edition)

    assert len(ids) == len(set(ids)), "an article is shown twice"
    assert len(ids) <= settings.max_articles
    assert len(edition.recommended) <= settings.recommended
    assert all(len(item.more_from) <= 3 for item in edition.items())
    assert all(section.items for section in edition.sections)
    assert [s.topic for s in edition.sections] == [
        t for t in settings.topics if t in section_ids(edition)
    ]
    eligible = {c.article.id for c in candidates if set(c.topics) & set(settings.topics)}
    assert set(ids) <= eligible
    assert (edition.lead is None) == (not eligible)
    if eligible and len(eligible) <= settings.max_articles - settings.recommended:
        assert set(ids) == eligible, "everything fits, so everything is shown"

    shuffled = list(candidates)
    rng.shuffle(shuffled)
    again = compose(shuffled, settings)
    assert again == edition  # deterministic, whatever the input order
    assert again.why == edition.why  # and so are the reasons


@pytest.mark.parametrize("seed", range(40))
def test_the_reasons_account_for_every_candidate_on_random_input(seed: int) -> None:
    rng = random.Random(seed)
    settings = digest_list(
        rng.sample(["middle-east", "iran", "gulf", "syria", "diplomacy"], rng.randrange(1, 5)),
        max_articles=rng.randrange(1, 30),
        recommended=rng.randrange(0, 6),
    )
    candidates = random_candidates(seed)
    edition = compose(candidates, settings)
    why = edition.why
    eligible = {c.article.id for c in candidates if set(c.topics) & set(settings.topics)}
    if not eligible:
        assert edition.is_empty and why is None
        return
    assert why is not None
    assert sorted(item.article_id for item in why.items) == sorted(shown_ids(edition))
    blocks = [[edition.lead] if edition.lead else [], *(s.items for s in edition.sections)]
    allowed = [{"lead"}, *({"topic-best", "rank", "past-share"} for _ in edition.sections)]
    blocks.append(list(edition.recommended))
    allowed.append({"recommended"})
    for block, placements in zip(blocks, allowed, strict=True):
        found = [why.item(entry.article.id) for entry in block]
        assert [f.position for f in found if f] == list(range(1, len(block) + 1))
        assert {f.placement for f in found if f} <= placements
        if placements != {"lead"}:  # each block in rank order
            scores = [f.terms.rank_score for f in found if f]
            assert scores == sorted(scores, reverse=True)
        for entry in block:
            for position, moved in enumerate(entry.more_from, start=1):
                reason = why.item(moved.id)
                assert reason is not None and reason.placement == "more-from"
                assert (reason.under, reason.position) == (entry.article.id, position)
    covered = {a.id for item in edition.items() for a in item.also_covered_by}
    left = [entry.article_id for entry in why.left_out]
    assert sorted(left) == sorted(eligible - set(shown_ids(edition)) - covered)
    assert {entry.reason for entry in why.left_out} <= {"max-articles"}
    assert [e.terms.rank_score for e in why.left_out] == sorted(
        (e.terms.rank_score for e in why.left_out), reverse=True
    )
    assert [s.topic for s in why.sections] == [s.topic for s in edition.sections]
    assert why.lead is not None and why.lead.rule == "freshest"  # a daily


def test_a_candidate_passed_twice_is_shown_once() -> None:
    first = candidate(1, {"middle-east": 2.0})
    again = candidate(1, {"middle-east": 2.0, "iran": 2.0})
    edition = compose([first, again, candidate(2, {"gulf": 1.0})])
    assert sorted(shown_ids(edition)) == [1, 2]


def test_freshness_lets_todays_story_lead_over_a_stronger_one_from_days_ago() -> None:
    week_old = candidate(1, {"middle-east": 6.0}, minutes_ago=60 * 24 * 6, image=True)
    today = candidate(2, {"middle-east": 3.0}, minutes_ago=90, image=True)
    edition = compose([week_old, today])
    assert edition.lead is not None and edition.lead.article.id == 2
    # Between stories of the same day, the stronger match still leads.
    strong = candidate(3, {"middle-east": 6.0}, minutes_ago=120, image=True)
    assert compose([today, strong]).lead.article.id == 3  # type: ignore[union-attr]


# --- unsure articles never lead -----------------------------------------------------------------


def test_an_article_the_rules_are_unsure_of_never_leads() -> None:
    # Fresh but barely over the threshold (1.4 < 1.5 x 1): without the rule it would outrank the
    # day-old story once freshness is weighed in.
    unsure = candidate(1, {"middle-east": 1.4}, minutes_ago=10, image=True)
    sure = candidate(2, {"middle-east": 3.0}, minutes_ago=30 * 60)
    edition = compose([unsure, sure])
    assert edition.lead is not None
    assert edition.lead.article.id == 2
    assert section_ids(edition) == {"middle-east": [1]}  # still shown, just not as the lead


def test_near_is_measured_against_each_topics_own_threshold() -> None:
    strict = (
        TopicSettings(slug="middle-east", name="Middle East"),
        TopicSettings(
            slug="iran", name="Iran", parent="middle-east", rules=TopicRules(threshold=4)
        ),
    )
    picks = [candidate(1, {"iran": 5.0}), candidate(2, {"iran": 6.0}, minutes_ago=20 * 60)]
    edition = build_edition(
        digest_list(("iran",)),
        strict,
        slot=SLOT,
        window_start=WINDOW_START,
        window_end=SLOT,
        candidates=picks,
    )
    assert edition.lead is not None
    assert edition.lead.article.id == 2  # 6 >= 1.5 x 4; 5 is not


def test_an_edition_of_unsure_articles_has_no_lead() -> None:
    edition = compose([candidate(1, {"iran": 1.0}), candidate(2, {"gulf": 1.2})])
    assert edition.lead is None
    assert section_ids(edition) == {"iran": [1], "gulf": [2]}
    assert shown_ids(edition) == [1, 2]


def test_a_sure_article_elsewhere_leads_when_the_first_topic_is_unsure() -> None:
    edition = compose([candidate(1, {"middle-east": 1.0}), candidate(2, {"gulf": 4.0})])
    assert edition.lead is not None
    assert edition.lead.article.id == 2


def test_each_article_shows_once_under_its_best_topic_in_list_order() -> None:
    both = candidate(1, {"middle-east": 6.0, "iran": 3.0, "gulf": 5.0})
    others = [
        candidate(2, {"syria": 4.0}),
        candidate(3, {"iran": 4.0}),
        candidate(4, {"gulf": 3.0}),
    ]
    edition = compose([both, *others])
    assert shown_ids(edition).count(1) == 1
    filed = {item.article.id: item.topic for item in edition.items()}
    assert filed[1] == "gulf"  # the most specific topics first, then the higher score
    order = ["middle-east", "iran", "gulf", "syria"]
    assert [section.topic for section in edition.sections] == [
        slug for slug in order if slug in {s.topic for s in edition.sections}
    ]


# --- distinct stories before a pile of one --------------------------------------------------------

# Two days of one developing story (digest.stories: one thread, two stories).
TALKS_DAYS = (
    "Iran and European powers meet in Geneva on nuclear inspections, no deal",
    "Iran and European powers meet again in Geneva on nuclear inspections, no deal",
)


def day_of_talks(article_id: int, day: int, hours_ago: int) -> Article:
    return replace(
        article(article_id, minutes_ago=hours_ago * 60),
        title=TALKS_DAYS[day],
        summary_text=f"Deputy foreign ministers met for a {day + 1}th day; round {day + 11}.",
        summary_html="",
    )


def test_a_section_shows_other_stories_before_a_second_item_of_one_developing_story() -> None:
    # Day two ranks above the other stories on its own (score 1.0 a day and a half old is
    # 0.35; story 3 is 0.6 x 0.56 = 0.34), but it repeats the story day one already tells.
    candidates = [
        Candidate(day_of_talks(1, 1, hours_ago=1), {"gulf": 0.9}),
        Candidate(day_of_talks(2, 0, hours_ago=36), {"gulf": 1.0}),
        candidate(3, {"gulf": 0.6}, minutes_ago=20 * 60),
        candidate(4, {"gulf": 0.5}, minutes_ago=20 * 60),
    ]
    roomy = compose(candidates, digest_list(("middle-east", "gulf")))
    assert section_ids(roomy) == {"gulf": [1, 3, 4, 2]}
    tight = compose(candidates, digest_list(("middle-east", "gulf"), max_articles=3, recommended=0))
    assert section_ids(tight) == {"gulf": [1, 3, 4]}
    assert tight.why is not None
    assert [(entry.article_id, entry.reason) for entry in tight.why.left_out] == [
        (2, "max-articles")
    ]
    assert tight.why.left_out[0].terms.repeats == 1
    assert tight.why.left_out[0].terms.repeat_weight == 0.5


def test_the_leads_developing_story_counts_as_shown() -> None:
    candidates = [
        Candidate(day_of_talks(1, 1, hours_ago=1), {"middle-east": 3.0}),
        Candidate(day_of_talks(2, 0, hours_ago=36), {"gulf": 1.0}),
        candidate(3, {"gulf": 0.6}, minutes_ago=20 * 60),
    ]
    edition = compose(candidates, digest_list(("middle-east", "gulf")))
    assert edition.lead is not None and edition.lead.article.id == 1
    assert section_ids(edition) == {"gulf": [3, 2]}
