"""Tests for digest.topics: normalization, word boundaries, scores, excludes, parent topics."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import TopicRules, TopicSettings
from digest.records import Article, TopicMatch
from digest.topics import TopicClassifier, normalize_text

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config" / "example.toml"


def topic(
    slug: str,
    *,
    parent: str | None = None,
    feeds: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
) -> TopicSettings:
    return TopicSettings(
        slug=slug,
        name=slug.replace("-", " ").title(),
        parent=parent,
        rules=TopicRules(feeds=feeds, categories=categories, include=include, exclude=exclude),
    )


def article(
    title: str = "",
    summary: str = "",
    *,
    feed: str = "World Briefing",
    categories: tuple[str, ...] = (),
) -> Article:
    return Article(
        id=1,
        feed_id=1,
        feed_name=feed,
        guid="guid-1",
        link="https://news.example.org/1",
        title=title,
        summary_html=f"<p>{summary}</p>",
        summary_text=summary,
        author=None,
        published_at=None,
        first_seen_at=datetime(2024, 5, 1, tzinfo=UTC),
        categories=categories,
    )


def slugs(matches: tuple[TopicMatch, ...]) -> list[str]:
    return [match.topic for match in matches]


def scores(matches: tuple[TopicMatch, ...]) -> dict[str, float]:
    return {match.topic: match.score for match in matches}


# A small tree shaped like the example config's.
MIDDLE_EAST = topic(
    "middle-east",
    feeds=("Al-Manara",),
    categories=("Middle East", "الشرق الأوسط"),
    include=("Middle East", "Yemen", "Jordan's", "الشرق الأوسط", "המזרח התיכון"),
    exclude=("Gulf of Mexico", "recipe"),
)
IRAN = topic(
    "iran",
    parent="middle-east",
    feeds=("Persia Review",),
    categories=("Iran",),
    include=("Iran", "Tehran", "إيران", "طهران", "איראן"),
)
ISRAEL = topic(
    "israel-palestine",
    parent="middle-east",
    include=("Israel", "Gaza", "West Bank", "غزة", "القدس", "ישראל", "ירושלים"),
)
GULF = topic(
    "gulf",
    parent="middle-east",
    feeds=("Gulf Wire",),
    categories=("Gulf", "GCC"),
    include=("Saudi", "Saudi Arabia", "Oman", "Gulf", "عمان"),
    exclude=("Gulf of Mexico",),
)
LEBANON = topic(
    "lebanon",
    parent="middle-east",
    categories=("Lebanon",),
    include=("Lebanon", "Beirut", "لبنان"),
    exclude=("Lebanon, New Hampshire",),
)
TREE = (MIDDLE_EAST, IRAN, ISRAEL, GULF, LEBANON)


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier(TREE)


# --- normalize_text -----------------------------------------------------------------------------


def test_normalize_folds_case_width_and_latin_diacritics() -> None:
    assert normalize_text("Tehrān") == "tehran"
    assert normalize_text("ＩＲＡＮ") == "iran"  # fullwidth letters, folded by NFKC
    assert normalize_text("Straße") == "strasse"
    assert normalize_text("Ｃａｆé  au\u00a0lait\n") == "cafe au lait"


def test_normalize_strips_arabic_harakat_tatweel_and_hamza_marks() -> None:
    assert normalize_text("غَزَّة") == normalize_text("غزة")
    assert normalize_text("إِيرَان") == normalize_text("إيران")
    assert normalize_text("ايـــران") == normalize_text("ايران")  # tatweel (kashida)
    # Hamza on an alef is a combining mark once decomposed: both spellings meet.
    assert normalize_text("إيران") == normalize_text("ايران")


def test_normalize_strips_hebrew_niqqud() -> None:
    assert normalize_text("יְרוּשָׁלַיִם") == normalize_text("ירושלים")
    assert normalize_text("יִשְׂרָאֵל") == "ישראל"


def test_normalize_makes_typographic_apostrophes_plain() -> None:
    assert normalize_text("Jordan’s King") == "jordan's king"


def test_normalize_keeps_hangul_whole() -> None:
    # Decomposing Hangul yields letters, not marks; recomposition must give the syllables back.
    assert normalize_text("이란") == "이란"


# --- word boundaries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Oman signs a trade deal", ["middle-east", "gulf"]),
        ("A woman's view of the markets", []),
        ("Iran holds elections", ["middle-east", "iran"]),
        ("Iranian rial falls", []),  # "Iranian" is a term of its own, not configured here
        ("IRAN, once more", ["middle-east", "iran"]),
        ("Gaza talks resume", ["middle-east", "israel-palestine"]),
        ("The battle of Gazala, 1942", []),
        ("Saudi-led coalition", ["middle-east", "gulf"]),  # a hyphen is a word boundary
        ("Jordan’s king visits", ["middle-east"]),  # the term "Jordan's", curly apostrophe
    ],
)
def test_terms_match_whole_words_only(
    classifier: TopicClassifier, title: str, expected: list[str]
) -> None:
    assert slugs(classifier.classify(article(title))) == expected


def test_phrases_match_across_any_whitespace(classifier: TopicClassifier) -> None:
    matches = classifier.classify(article("News from the Middle\n  East"))
    assert slugs(matches) == ["middle-east"]


def test_arabic_terms_match_with_and_without_diacritics(classifier: TopicClassifier) -> None:
    plain = classifier.classify(article("قصف في غزة اليوم"))
    vocalized = classifier.classify(article("قَصْف في غَزَّة اليوم"))
    assert slugs(plain) == slugs(vocalized) == ["middle-east", "israel-palestine"]
    # The term spelled with hamza matches text written without it, and the other way round.
    assert slugs(classifier.classify(article("انتخابات في ايران"))) == ["middle-east", "iran"]
    assert slugs(classifier.classify(article("", "زيارة إِلى طَهْرَان"))) == ["middle-east", "iran"]


def test_arabic_word_with_attached_prefix_is_a_different_word(classifier: TopicClassifier) -> None:
    # The known limit: "بغزة" ("in Gaza") is one word; such forms must be listed as terms.
    assert classifier.classify(article("قصف بغزة")) == ()


def test_hebrew_terms_match_with_and_without_niqqud(classifier: TopicClassifier) -> None:
    assert slugs(classifier.classify(article("ממשלת ישראל"))) == ["middle-east", "israel-palestine"]
    vocalized = classifier.classify(article("בִּירוּשָׁלַיִם", "ביקור ביְרוּשָׁלַיִם ובירושלים"))
    assert vocalized == ()  # prefixed forms only: the known limit holds for Hebrew too
    assert slugs(classifier.classify(article("שלום ירושָׁלַיִם"))) == [
        "middle-east",
        "israel-palestine",
    ]
    assert slugs(classifier.classify(article("המזרח התיכון היום"))) == ["middle-east"]


# --- rules and scores ---------------------------------------------------------------------------


def test_scores_weigh_title_summary_category_and_feed(classifier: TopicClassifier) -> None:
    matches = classifier.classify(
        article(
            "Iran and Tehran",  # two title hits: 2 x 3
            "Iran said so in Tehran on Monday. Iran again.",  # three summary hits: 3 x 1
            feed="Persia Review",  # feed: 1
            categories=("IRAN", "Iran", "Politics"),  # one category (duplicates count once): 2
        )
    )
    # ...and the category "Iran" also contains the include term "Iran": 1.
    assert scores(matches)["iran"] == 6 + 3 + 1 + 2 + 1


def test_longest_term_wins_one_hit(classifier: TopicClassifier) -> None:
    # "Saudi Arabia" is one hit of the longer term, not "Saudi" plus something.
    assert scores(classifier.classify(article("Saudi Arabia")))["gulf"] == 3


def test_feed_alone_files_every_article_of_the_feed(classifier: TopicClassifier) -> None:
    matches = classifier.classify(article("Weather in the north", feed="Persia Review"))
    assert scores(matches) == {"middle-east": 1, "iran": 1}


def test_category_matches_after_normalization(classifier: TopicClassifier) -> None:
    matches = classifier.classify(article("Nothing to see", categories=("  middle   EAST ",)))
    assert scores(matches) == {"middle-east": 2 + 1}  # category match, plus the phrase inside it
    arabic = classifier.classify(article("", categories=("الشرق الأوسط",)))
    assert slugs(arabic) == ["middle-east"]


def test_include_term_in_a_category_files_the_article(classifier: TopicClassifier) -> None:
    assert scores(classifier.classify(article("Markets", categories=("Yemen news",)))) == {
        "middle-east": 1
    }


def test_no_rule_matches_gives_no_topic(classifier: TopicClassifier) -> None:
    assert classifier.classify(article("Cricket scores", "England won by six wickets.")) == ()


# --- excludes -----------------------------------------------------------------------------------


def test_gulf_of_mexico_never_files_under_gulf(classifier: TopicClassifier) -> None:
    matches = classifier.classify(
        article(
            "Storm heads for the Gulf of Mexico",
            "Oil platforms in the gulf were evacuated.",
            feed="Gulf Wire",  # the feed match is vetoed too
            categories=("Gulf",),
        )
    )
    assert matches == ()


def test_lebanon_new_hampshire_skier_is_not_lebanon(classifier: TopicClassifier) -> None:
    skier = article(
        "Local skier wins slalom",
        "The skier, from Lebanon, New Hampshire, took gold in Lebanon's home race.",
        categories=("Lebanon",),
    )
    assert classifier.classify(skier) == ()
    beirut = article("Beirut port reopens", "Lebanon's port is open again.")
    assert slugs(classifier.classify(beirut)) == ["middle-east", "lebanon"]


def test_exclude_terms_in_categories_do_not_veto(classifier: TopicClassifier) -> None:
    matches = classifier.classify(article("Yemen talks", categories=("recipe",)))
    assert slugs(matches) == ["middle-east"]


# --- parents ------------------------------------------------------------------------------------


def test_parent_takes_in_children_with_at_least_their_score(classifier: TopicClassifier) -> None:
    matches = scores(classifier.classify(article("Tehran and Riyadh: Saudi and Iran talk")))
    assert matches["iran"] == 6
    assert matches["gulf"] == 3
    assert matches["middle-east"] == 6  # the best child's score
    own = scores(classifier.classify(article("Middle East: Yemen and Iran")))
    assert own["iran"] == 3
    assert own["middle-east"] == 6  # its own score when higher than any child's


def test_ancestor_own_exclude_vetoes_it_but_the_child_stands(classifier: TopicClassifier) -> None:
    matches = classifier.classify(article("A Saudi recipe for kabsa"))
    assert slugs(matches) == ["gulf"]


def test_each_ancestor_decides_for_itself() -> None:
    tree = (
        topic("world"),
        topic("middle-east", parent="world", exclude=("football",)),
        topic("iran", parent="middle-east", include=("Iran",)),
    )
    matches = TopicClassifier(tree).classify(article("Iran football league starts"))
    assert scores(matches) == {"world": 3, "iran": 3}


def test_results_follow_config_order_even_when_children_come_first() -> None:
    tree = (
        topic("iran", parent="middle-east", include=("Iran",)),
        topic("gulf", parent="middle-east", include=("Oman",)),
        topic("middle-east"),
    )
    matches = TopicClassifier(tree).classify(article("Oman hosts Iran", "Iran and Oman"))
    assert matches == (
        TopicMatch("iran", 4.0),
        TopicMatch("gulf", 4.0),
        TopicMatch("middle-east", 4.0),
    )


def test_classification_is_deterministic() -> None:
    text = article("Iran, Oman and Gaza", "Yemen, Beirut, Tehran", categories=("GCC", "Iran"))
    first = TopicClassifier(TREE).classify(text)
    assert first == TopicClassifier(TREE).classify(text) == TopicClassifier(TREE).classify(text)
    assert slugs(first) == ["middle-east", "iran", "israel-palestine", "gulf", "lebanon"]


# --- the shipped example config -----------------------------------------------------------------


def example_topics() -> tuple[TopicSettings, ...]:
    raw = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    return tuple(TopicSettings.model_validate(entry) for entry in raw["topics"])


def test_example_config_topics_behave() -> None:
    classifier = TopicClassifier(example_topics())
    assert slugs(classifier.classify(article("Hurricane nears the Gulf of Mexico", "UAE"))) == []
    assert slugs(classifier.classify(article("Pezeshkian meets Khamenei"))) == [
        "middle-east",
        "iran",
    ]
    woman = article("A woman's guide to Kuwait", "Travel notes.")
    assert "gulf" in slugs(classifier.classify(woman))
    assert classifier.classify(article("A woman's guide to gardening")) == ()
    skier = article("Skier from Lebanon, New Hampshire wins", categories=("Lebanon",))
    assert "lebanon" not in slugs(classifier.classify(skier))
