"""Tests for digest.topics: normalization, prefixes, rules, scores, context, roll-up, explain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.config import TopicRules, TopicSettings, load_settings
from digest.errors import ConfigError
from digest.records import Article, TopicMatch
from digest.topics import TopicClassifier, is_unsure, normalize_text

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config" / "example.toml"


def topic(slug: str, *, parent: str | None = None, **rules: Any) -> TopicSettings:
    return TopicSettings(
        slug=slug, name=slug.replace("-", " ").title(), parent=parent, rules=TopicRules(**rules)
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
    include=("Middle East", "Yemen", "الشرق الأوسط", "המזרח התיכון"),
    places=("Amman",),
    ambiguous=("Jordan",),
    exclude=("recipe",),
)
IRAN = topic(
    "iran",
    parent="middle-east",
    feeds=("Persia Review",),
    categories=("Iran",),
    places=("Iran", "Tehran", "إيران", "طهران", "איראן"),
    people=("Khamenei",),
)
ISRAEL = topic(
    "israel-palestine",
    parent="middle-east",
    places=("Israel", "Gaza", "West Bank", "غزة", "القدس", "ישראל", "ירושלים", "עזה"),
    include=("הכנסת",),
)
GULF = topic(
    "gulf",
    parent="middle-east",
    feeds=("Gulf Wire",),
    categories=("GCC",),
    places=("Saudi Arabia", "Oman", "قطر", "السعودية", "عمان"),
    include=("Saudi",),
    ambiguous=("Gulf",),
    ignore=("Gulf of Mexico",),
)
LEBANON = topic(
    "lebanon",
    parent="middle-east",
    places=("Beirut", "لبنان"),
    ambiguous=("Lebanon",),
    ignore=("Lebanon, New Hampshire",),
)
DIPLOMACY = topic("diplomacy", parent="middle-east", ambiguous=("summit", "talks"), threshold=3)
TREE = (MIDDLE_EAST, IRAN, ISRAEL, GULF, LEBANON, DIPLOMACY)


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
    assert normalize_text("إيران") == normalize_text("ايران") == normalize_text("آيران")


def test_normalize_folds_arabic_letter_variants() -> None:
    assert normalize_text("غزة") == normalize_text("غزه")  # taa marbuta / haa
    assert normalize_text("مستشفى") == normalize_text("مستشفي")  # alef maqsura / yaa
    assert normalize_text("ٱلقدس") == normalize_text("القدس")  # alef wasla


def test_normalize_meets_persian_and_arabic_spellings() -> None:
    assert normalize_text("ایران") == normalize_text("ايران")  # Persian yeh
    assert normalize_text("کرمان") == normalize_text("كرمان")  # Persian kaf
    # The zero-width non-joiner inside Persian words is invisible formatting.
    assert normalize_text("خامنه\u200cای") == normalize_text("خامنهای")


def test_arabic_and_persian_digits_match_the_digits_a_rule_is_written_in() -> None:
    # Arabic outlets write numbers in Arabic-Indic digits as often as in 0-9, Persian ones in
    # their own (۱۷۰۱): a rule on Resolution 1701 missed both, whichever way it was written.
    assert normalize_text("القرار ١٧٠١") == normalize_text("القرار 1701") == "القرار 1701"
    assert normalize_text("قطعنامه ۱۷۰۱") == "قطعنامه 1701"
    assert normalize_text("٢٫٥ مليار") == "2.5 مليار"  # the Arabic decimal separator
    classifier = TopicClassifier([topic("lebanon", include=("1701", "القرار ١٧٠١"))])
    for title in ("القرار ١٧٠١ في لبنان", "القرار 1701 في لبنان", "قطعنامه ۱۷۰۱ در لبنان"):
        assert slugs(classifier.classify(article(title))) == ["lebanon"], title


def test_normalize_folds_turkish_letters() -> None:
    assert normalize_text("Diyarbakır") == normalize_text("Diyarbakir") == "diyarbakir"
    assert normalize_text("İSTANBUL") == "istanbul"
    assert normalize_text("Erdoğan") == "erdogan"


def test_normalize_strips_hebrew_niqqud_and_makes_apostrophes_plain() -> None:
    assert normalize_text("יְרוּשָׁלַיִם") == normalize_text("ירושלים")
    assert normalize_text("Jordan’s King") == "jordan's king"
    assert normalize_text("이란") == "이란"  # Hangul recomposed after decomposition


def test_hebrew_geresh_and_gershayim_match_the_apostrophe_and_quote_typed_for_them() -> None:
    # Hebrew writers type the geresh as an apostrophe and the gershayim as a double quote (or a
    # word processor's curly one) as often as not: a term written one way missed the others.
    tree = [topic("army", groups=('צה"ל',)), topic("jenin", places=("ג׳נין",))]
    classifier = TopicClassifier(tree)
    for written in ("צה״ל", 'צה"ל', "צה”ל"):
        assert slugs(classifier.classify(article(f"דובר {written} מסר"))) == ["army"], written
    assert slugs(classifier.classify(article("הקרב על ג'נין"))) == ["jenin"]
    assert slugs(classifier.classify(article('לוחמי צה"ל ליד ג׳נין'))) == ["army", "jenin"]


# --- word boundaries and prefixes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Oman signs a trade deal", ["middle-east", "gulf"]),
        ("A woman's view of the markets", []),
        ("Iran holds elections", ["middle-east", "iran"]),
        ("Iranian rial falls", []),  # "Iranian" is a term of its own, not configured here
        ("IRAN, once more", ["middle-east", "iran"]),
        ("The battle of Gazala, 1942", []),
        ("Saudi-led coalition", ["middle-east", "gulf"]),  # a hyphen is a word boundary
        ("Gaza talks resume", ["middle-east", "israel-palestine", "diplomacy"]),
    ],
)
def test_terms_match_whole_words_only(
    classifier: TopicClassifier, title: str, expected: list[str]
) -> None:
    assert slugs(classifier.classify(article(title))) == expected


def test_phrases_match_across_any_whitespace(classifier: TopicClassifier) -> None:
    assert slugs(classifier.classify(article("News from the Middle\n  East"))) == ["middle-east"]


def test_arabic_terms_match_with_and_without_diacritics(classifier: TopicClassifier) -> None:
    plain = classifier.classify(article("قصف في غزة اليوم"))
    vocalized = classifier.classify(article("قَصْف في غَزَّة اليوم"))
    assert slugs(plain) == slugs(vocalized) == ["middle-east", "israel-palestine"]
    assert slugs(classifier.classify(article("انتخابات في ايران"))) == ["middle-east", "iran"]


@pytest.mark.parametrize(
    "title",
    [
        "قصف بغزة",  # bi- "in"
        "مساعدات لغزة",  # li- "to"
        "وغزة تنتظر",  # wa- "and"
        "فغزة",  # fa- "so"
    ],
)
def test_arabic_prefixed_forms_match_with_support(classifier: TopicClassifier, title: str) -> None:
    # A one-word term behind a prefix needs support, like an ambiguous term: here "Israel".
    assert "israel-palestine" in slugs(classifier.classify(article(f"{title} Israel")))


def test_arabic_article_and_its_prefixed_forms(classifier: TopicClassifier) -> None:
    # The term was written with its article: the article itself is no prefix, so it stands alone.
    for title in ("السعودية تعلن", "بالسعودية", "للسعودية", "والسعودية", "شركة سعودية"):
        assert "gulf" in slugs(classifier.classify(article(title, "Saudi"))), title
    assert scores(classifier.classify(article("السعودية تعلن")))["gulf"] == 3


def test_a_prefixed_match_alone_does_not_file(classifier: TopicClassifier) -> None:
    # "بقطر" is "in Qatar" or "with a diameter of": alone, it files nothing.
    explanation = classifier.explain(article("نفق بقطر عشرة أمتار"))
    assert explanation.matches == ()
    gulf = next(v for v in explanation.verdicts if v.topic == "gulf")
    assert gulf.evidence[0].counted is False
    assert gulf.evidence[0].note == "matched behind a prefix; nothing supports it"
    assert slugs(classifier.classify(article("قطر تعلن"))) == ["middle-east", "gulf"]


def test_hebrew_prefixes_are_allowed_and_the_article_only_where_written(
    classifier: TopicClassifier,
) -> None:
    support = " ישראל"
    for title in ("בירושלים", "מירושלים", "וירושלים", "שבירושלים", "כשבירושלים"):
        assert scores(classifier.classify(article(title + support)))["israel-palestine"] == 6
    # "הכנסת" was written with its article: the article may go or give way to a preposition.
    for title in ("בכנסת", "מהכנסת", "והכנסת", "כנסת"):
        assert "israel-palestine" in slugs(classifier.classify(article(title + support))), title
    # A name never takes the article: "העזה" is "the daring", not Gaza.
    assert classifier.classify(article("העזה")) == ()
    assert slugs(classifier.classify(article("עזה"))) == ["middle-east", "israel-palestine"]


def test_short_terms_take_no_prefix() -> None:
    classifier = TopicClassifier([topic("x", places=("صور",))])  # 3 letters: prefixes allowed
    short = TopicClassifier([topic("x", places=("قم",))])  # 2 letters: exact word only
    assert slugs(classifier.classify(article("بصور", "صور"))) == ["x"]
    assert short.classify(article("بقم")) == ()
    assert scores(short.classify(article("قم")))["x"] == 3


def test_clitic_prefixes_can_be_turned_off() -> None:
    rules: dict[str, Any] = {"places": ("غزة", "ירושלים"), "include": ("Israel",)}
    on = TopicClassifier([topic("x", **rules)])
    off = TopicClassifier([topic("x", clitic_prefixes=False, **rules)])
    assert scores(on.classify(article("بغزة Israel")))["x"] == 6
    assert scores(off.classify(article("بغزة Israel")))["x"] == 3
    assert scores(off.classify(article("בירושלים Israel")))["x"] == 3


# --- Persian: one word written joined, with a ZWNJ or with a space --------------------------------

ZWNJ = "\u200c"
PERSIAN_DESK = (
    topic("middle-east", include=("خاورمیانه",)),
    topic("sanctions", include=("تحریم",)),
    topic("iran", places=("ایران",)),
    topic("israel", places=("اسرائیل",)),
)


@pytest.fixture(scope="module")
def persian_desk() -> TopicClassifier:
    return TopicClassifier(PERSIAN_DESK)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # One compound, three spellings: joined, ZWNJ, spaced.
        ("نشست امنیتی خاورمیانه در ژنو", ["middle-east"]),
        (f"نشست امنیتی خاور{ZWNJ}میانه در ژنو", ["middle-east"]),
        ("نشست امنیتی خاور میانه در ژنو", ["middle-east"]),
        # The plural, joined, ZWNJ'd or spaced, and with its ezafe.
        (f"تحریم{ZWNJ}ها تمدید شد", ["sanctions"]),
        ("تحریمها تمدید شد", ["sanctions"]),
        ("تحریم ها تمدید شد", ["sanctions"]),
        (f"تحریم{ZWNJ}های تازه اروپا", ["sanctions"]),
        # Arabic yeh and kaf, a kashida, marks copied inside the word, Persian punctuation.
        ("خاورميانه", ["middle-east"]),
        ("خاورمیــانه", ["middle-east"]),
        ("ای\u200fران و اسرا\u200eئیل", ["iran", "israel"]),
        ("«ایران»، «اسرائیل»؛ چه کسی پیروز است؟", ["iran", "israel"]),
        # Another word that starts with the name: "Iranian", "Iranians", a city, a carmaker.
        ("هواداران ایرانی", []),
        (f"ایرانی{ZWNJ}ها در خارج", []),
        ("زلزله در ایرانشهر", []),
        (f"سهام ایران{ZWNJ}خودرو", []),
    ],
)
def test_a_persian_rule_matches_each_spelling_of_its_word(
    persian_desk: TopicClassifier, title: str, expected: list[str]
) -> None:
    assert slugs(persian_desk.classify(article(title))) == expected


@pytest.mark.parametrize("written", ["خاور میانه", f"خاور{ZWNJ}میانه", "خاورمیانه"])
def test_a_persian_rule_written_any_way_matches_the_three(written: str) -> None:
    # An operator types the rule as their keyboard and habit have it; each finds all three.
    desk = TopicClassifier([topic("middle-east", include=(written,))])
    for text in ("خاورمیانه", f"خاور{ZWNJ}میانه", "خاور میانه"):
        assert slugs(desk.classify(article(f"تنش در {text}"))) == ["middle-east"], text


@pytest.mark.parametrize("written", ["می‌گوید", "میگوید", "می گوید"])
def test_a_persian_verb_rule_matches_with_its_prefix_joined_or_apart(written: str) -> None:
    desk = TopicClassifier([topic("statements", include=(written,))])
    for text in ("می‌گوید", "میگوید", "می گوید"):
        assert slugs(desk.classify(article(f"وزیر {text}"))) == ["statements"], text


def test_a_persian_rule_written_in_the_plural_matches_the_singular_too() -> None:
    desk = TopicClassifier([topic("sanctions", include=(f"تحریم{ZWNJ}ها",))])
    for text in ("تحریم نفتی", "تحریمها", f"تحریم{ZWNJ}های تازه", "تحریم ها"):
        assert slugs(desk.classify(article(text))) == ["sanctions"], text


def test_a_persian_word_ending_in_heh_matches_with_its_ezafe() -> None:
    # "پرونده‌ی هسته‌ای" (the nuclear file): the text drops the ZWNJ, "پروندهی" was another word.
    desk = TopicClassifier([topic("nuclear", include=("پرونده",)), topic("time", include=("گاه",))])
    for text in (f"پرونده{ZWNJ}ی هسته{ZWNJ}ای", "پروندهٔ هسته\u200cای", f"پرونده{ZWNJ}ها"):
        assert slugs(desk.classify(article(text))) == ["nuclear"], text
    # No other ending: "پرونده‌ای" (a file), and a short word's yeh ("گاهی", sometimes).
    assert desk.classify(article(f"پرونده{ZWNJ}ای تازه")) == ()
    assert desk.classify(article("گاهی")) == ()
    # A word of Arabic letters typed with its plural is Persian, and takes the ezafe too.
    plural = TopicClassifier([topic("programme", include=(f"برنامه{ZWNJ}ها",))])
    assert slugs(plural.classify(article(f"برنامه{ZWNJ}ی تازه"))) == ["programme"]


def test_a_persian_name_takes_no_arabic_prefix() -> None:
    # Persian writes "به ایران" apart; "وایران" and "بایران" are other words or typos.
    desk = TopicClassifier([topic("iran", places=("ایران",))])
    assert desk.classify(article("بایران")) == ()
    assert slugs(desk.classify(article("سفر به ایران"))) == ["iran"]


def test_a_persian_joined_rule_does_not_run_across_two_words() -> None:
    # "وزیر" (minister) must not match "و زیر" ("and under"): no space after a first letter.
    desk = TopicClassifier([topic("cabinet", include=("وزیر",))])
    assert desk.classify(article("و زیر فشار")) == ()
    assert slugs(desk.classify(article("وزیر خارجه"))) == ["cabinet"]


def test_an_arabic_rule_keeps_its_prefixes_and_no_persian_plural() -> None:
    # "قطرها" is "its diameter", not a plural of Qatar.
    desk = TopicClassifier([topic("gulf", places=("قطر",), include=("Gulf",))])
    assert desk.classify(article("قطرها Gulf")) == desk.classify(article("Gulf"))
    assert scores(desk.classify(article("بقطر Gulf")))["gulf"] == 6


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
    # ...and the category "Iran" also contains the term "Iran": 1.
    assert scores(matches)["iran"] == 6 + 3 + 1 + 2 + 1


def test_longest_term_wins_one_hit(classifier: TopicClassifier) -> None:
    assert scores(classifier.classify(article("Saudi Arabia")))["gulf"] == 3


def test_a_long_phrase_pasted_into_a_rule_still_builds_a_classifier() -> None:
    # Config validation takes a term of any length, and `digest run` builds the classifier at
    # each cycle: a paragraph pasted into a rule must not stop every cycle.
    pasted = " ".join(["The oil ministers met in Vienna to weigh output cuts"] * 100)
    tree = [topic("energy", include=(pasted, "OPEC"))]
    classifier = TopicClassifier(tree)
    assert scores(classifier.classify(article("Markets", f"{pasted}."))) == {"energy": 1}
    assert scores(classifier.classify(article("OPEC meets"))) == {"energy": 3}


def test_threshold_files_on_terms_alone_and_feeds_imply_the_topic() -> None:
    tree = [topic("iran", places=("Iran",), feeds=("Persia Review",), threshold=2)]
    classifier = TopicClassifier(tree)
    assert classifier.classify(article("Markets", "Oil and Iran.")) == ()  # 1 < 2
    assert scores(classifier.classify(article("Markets", "Iran, Iran.")))["iran"] == 2
    assert scores(classifier.classify(article("Iran votes")))["iran"] == 3
    # A feed implies the topic whatever the score.
    assert scores(classifier.classify(article("Weather", feed="Persia Review"))) == {"iran": 1}


def test_category_matches_after_normalization() -> None:
    # A feed whose categories the operator trusts: a category files the article on its own.
    trusting = TopicClassifier(TREE, trusted_feeds=["World Briefing"])
    matches = trusting.classify(article("Nothing to see", categories=("  middle   EAST ",)))
    assert scores(matches) == {"middle-east": 2 + 1}  # category match, plus the phrase inside it
    assert slugs(trusting.classify(article("", categories=("الشرق الأوسط",)))) == ["middle-east"]


# --- a publisher's categories need evidence from the text ----------------------------------------


def test_a_category_alone_files_nothing_unless_the_feed_is_trusted(
    classifier: TopicClassifier,
) -> None:
    # An arts piece tagged with a Gulf state's name, and its tag list naming the region.
    arts = article(
        "A retrospective of desert photography opens in London",
        "Forty years of landscapes, from dunes to salt flats, in a new gallery show.",
        categories=("Arts", "GCC", "Saudi Arabia", "Middle East"),
    )
    assert classifier.classify(arts) == ()
    # A toy's "soft power", tagged Iran by its publisher, is no story of Iran.
    toy = article(
        "How a plush toy became a global craze",
        "Collectors queue overnight as a cartoon rabbit's soft power spreads.",
        categories=("Iran", "Diplomacy", "Culture"),
    )
    assert classifier.classify(toy) == ()
    trusting = TopicClassifier(TREE, trusted_feeds=["World Briefing"])
    assert "gulf" in slugs(trusting.classify(arts)) and "iran" in slugs(trusting.classify(toy))


def test_a_category_counts_beside_the_text_of_its_topic_or_one_below_it(
    classifier: TopicClassifier,
) -> None:
    # The title names Iran: the category Iran adds its weight, and the Middle East's category
    # is supported by its sub-topic's evidence.
    matches = scores(
        classifier.classify(
            article("Tehran raises fuel prices", categories=("Iran", "Middle East"))
        )
    )
    assert matches["iran"] == 3 + 2 + 1  # title place, category match, place inside the category
    assert matches["middle-east"] >= 3 + 2
    # Evidence for another tree's topic is no support: the Gulf's category stays at nothing.
    assert "gulf" not in slugs(
        classifier.classify(article("Tehran raises fuel prices", categories=("GCC",)))
    )


def test_explain_says_a_category_was_left_without_support(classifier: TopicClassifier) -> None:
    explained = classifier.explain(
        article("A plush toy craze", "Collectors queue overnight.", categories=("Iran",))
    )
    [verdict] = [v for v in explained.verdicts if v.topic == "iran"]
    assert not verdict.filed and "only the publisher's categories" in verdict.reason
    assert all(not e.counted and "publisher's category" in e.note for e in verdict.evidence)


def test_no_rule_matches_gives_no_topic(classifier: TopicClassifier) -> None:
    assert classifier.classify(article("Cricket scores", "England won by six wickets.")) == ()


# --- ambiguous terms need context ---------------------------------------------------------------


def test_ambiguous_term_alone_files_nothing(classifier: TopicClassifier) -> None:
    assert classifier.classify(article("Jordan scores 38 as Northfield rallies")) == ()
    assert classifier.classify(article("Turkey, Gulf and Jordan")) == ()  # ambiguous with ambiguous


def test_ambiguous_term_counts_next_to_another_term_of_the_tree(
    classifier: TopicClassifier,
) -> None:
    matches = scores(classifier.classify(article("Jordan's king", "He spoke in Amman.")))
    assert matches == {"middle-east": 3 + 1}
    # Context may come from any topic of the tree, a feed or a category.
    assert "lebanon" in slugs(classifier.classify(article("Lebanon votes", "Iran watches.")))
    assert "lebanon" in slugs(classifier.classify(article("Lebanon votes", feed="Al-Manara")))
    # A category gives context only when its feed's categories are trusted.
    assert "lebanon" not in slugs(
        classifier.classify(article("Lebanon votes", categories=("GCC",)))
    )
    trusting = TopicClassifier(TREE, trusted_feeds=["World Briefing"])
    assert "lebanon" in slugs(trusting.classify(article("Lebanon votes", categories=("GCC",))))


def test_generic_words_count_only_in_the_region(classifier: TopicClassifier) -> None:
    assert classifier.classify(article("EU summit ends with a deal", "Talks in Brussels.")) == ()
    assert classifier.classify(article("Reaching the summit of Mont Blanc")) == ()
    matches = scores(classifier.classify(article("Summit in Riyadh", "Talks on Oman.")))
    assert matches["diplomacy"] == 3 + 1
    assert matches["middle-east"] == 3 + 1 + 1  # the region's own evidence, and diplomacy's


# --- ignore and exclude -------------------------------------------------------------------------


def test_ignore_phrases_count_for_nothing_but_veto_nothing(classifier: TopicClassifier) -> None:
    storm = article(
        "Storm heads for the Gulf of Mexico", "Oil platforms in the gulf were evacuated."
    )
    explanation = classifier.explain(storm)
    assert explanation.matches == ()
    gulf = next(v for v in explanation.verdicts if v.topic == "gulf")
    assert gulf.ignored == ("Gulf of Mexico",)
    # Other evidence still stands: the phrase was not a veto.
    both = article("Gulf of Mexico output falls as Saudi Arabia lifts its own")
    assert "gulf" in slugs(classifier.classify(both))


def test_lebanon_new_hampshire_skier_is_not_lebanon(classifier: TopicClassifier) -> None:
    skier = article(
        "Local skier wins slalom",
        "The skier, from Lebanon, New Hampshire, took gold in Lebanon's home race.",
    )
    assert classifier.classify(skier) == ()
    beirut = article("Beirut port reopens", "Lebanon's port is open again.")
    assert scores(classifier.classify(beirut)) == {"middle-east": 4, "lebanon": 4}


def test_exclude_vetoes_its_topic_and_only_title_and_summary_count(
    classifier: TopicClassifier,
) -> None:
    explanation = classifier.explain(article("A Saudi recipe for kabsa"))
    assert slugs(explanation.matches) == ["gulf"]  # the parent vetoed it; the child stands
    vetoed = next(v for v in explanation.verdicts if v.topic == "middle-east")
    assert not vetoed.filed and vetoed.reason == "vetoed: exclude 'recipe' in the title"
    assert [(v.term, v.field) for v in vetoed.vetoed_by] == [("recipe", "title")]
    assert slugs(classifier.classify(article("Yemen talks", categories=("recipe",))))[0] == (
        "middle-east"
    )


# --- parents ------------------------------------------------------------------------------------


def test_parent_counts_its_children_evidence_once(classifier: TopicClassifier) -> None:
    matches = scores(classifier.classify(article("Tehran and Riyadh: Saudi and Iran talk")))
    assert matches["iran"] == 6
    assert matches["gulf"] == 3
    assert matches["middle-east"] == 9  # its children's evidence, each place in the text once


def test_parent_files_on_evidence_spread_over_children() -> None:
    tree = (
        topic("middle-east", threshold=2),
        topic("iran", parent="middle-east", places=("Tehran",), threshold=2),
        topic("gulf", parent="middle-east", places=("Muscat",), threshold=2),
    )
    matches = TopicClassifier(tree).classify(article("Talks resume", "In Muscat and Tehran."))
    assert scores(matches) == {"middle-east": 2}  # neither child reaches its threshold alone


def test_each_ancestor_decides_for_itself() -> None:
    tree = (
        topic("world"),
        topic("middle-east", parent="world", exclude=("football",)),
        topic("iran", parent="middle-east", places=("Iran",)),
    )
    matches = TopicClassifier(tree).classify(article("Iran football league starts"))
    assert scores(matches) == {"world": 3, "iran": 3}


def test_a_vetoed_child_gives_its_parent_nothing() -> None:
    tree = (
        topic("middle-east", threshold=2),
        topic("turkey", parent="middle-east", places=("Turkey",), exclude=("roast",), threshold=2),
    )
    assert TopicClassifier(tree).classify(article("Roast turkey")) == ()


def test_results_follow_config_order_even_when_children_come_first() -> None:
    tree = (
        topic("iran", parent="middle-east", places=("Iran",)),
        topic("gulf", parent="middle-east", places=("Oman",)),
        topic("middle-east"),
    )
    matches = TopicClassifier(tree).classify(article("Oman hosts Iran", "Iran and Oman"))
    assert matches == (
        TopicMatch("iran", 4.0),
        TopicMatch("gulf", 4.0),
        TopicMatch("middle-east", 8.0),
    )


def test_classification_is_deterministic() -> None:
    text = article("Iran, Oman and Gaza", "Yemen, Beirut, Tehran", categories=("GCC", "Iran"))
    first = TopicClassifier(TREE).classify(text)
    assert first == TopicClassifier(TREE).classify(text) == TopicClassifier(TREE).classify(text)
    assert slugs(first) == ["middle-east", "iran", "israel-palestine", "gulf", "lebanon"]


# --- explanations -------------------------------------------------------------------------------


def test_explanation_lists_the_rules_that_fired(classifier: TopicClassifier) -> None:
    explanation = classifier.explain(
        article("Khamenei meets Oman's envoy", "Tehran, Tehran.", feed="Persia Review")
    )
    iran = next(v for v in explanation.verdicts if v.topic == "iran")
    assert iran.filed and iran.reason == "filed: its feed 'Persia Review' implies the topic"
    fired = {(e.rule, e.term, e.field, e.count, e.points) for e in iran.evidence}
    assert fired == {
        ("person", "Khamenei", "title", 1, 3.0),
        ("place", "Tehran", "summary", 2, 2.0),
        ("feed", "Persia Review", "feed", 1, 1.0),
    }
    middle_east = next(v for v in explanation.verdicts if v.topic == "middle-east")
    assert middle_east.via == ("iran", "gulf")
    assert {e.topic for e in middle_east.evidence} == {"iran", "gulf"}
    assert explanation.matches == classifier.classify(explanation.article)


def test_unsure_means_a_score_near_the_threshold() -> None:
    assert is_unsure(2.0, 2.0) and is_unsure(2.9, 2.0)
    assert not is_unsure(3.0, 2.0)
    classifier = TopicClassifier([topic("iran", places=("Iran",), threshold=2)])
    passing = next(iter(classifier.explain(article("x", "Iran and Iran")).verdicts))
    assert passing.filed and passing.unsure
    headline = next(iter(classifier.explain(article("Iran votes")).verdicts))
    assert headline.filed and not headline.unsure


# --- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"include": ("Iran", " ")}, "empty term"),
        # Invisible once normalized, as matching reads text: a right-to-left mark, a tatweel,
        # a Hebrew vowel sign alone.
        ({"places": ("غزة", "\u200f")}, "empty term"),
        ({"include": ("\u0640",)}, "empty term"),
        ({"groups": ("\u05b8 ",)}, "empty term"),
        ({"include": ("Iran",), "ambiguous": ("iran",)}, "'iran' is in both include and ambiguous"),
        ({"places": ("Gaza",), "exclude": ("GAZA",)}, "'GAZA' is in both places and exclude"),
        # The same term to matching, which reads text without diacritics or vowel signs.
        ({"people": ("Erdoğan",), "exclude": ("Erdogan",)}, "'Erdogan' is in both people and"),
        ({"places": ("غزة",), "ignore": ("غَزَّة",)}, "is in both places and ignore"),
        # One Persian word to matching, however it is spaced or whatever its plural.
        ({"include": ("خاورمیانه",), "exclude": ("خاور میانه",)}, "is in both include and exclude"),
        ({"include": ("تحریم",), "ignore": ("تحریم\u200cها",)}, "is in both include and ignore"),
        ({"threshold": 0}, "greater than 0"),
    ],
)
def test_rules_are_validated_with_clear_errors(
    tmp_path: Path, rules: dict[str, Any], message: str
) -> None:
    config = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    lines = [f"{key} = {_toml(value)}" for key, value in rules.items()]
    config += '\n[[topics]]\nslug = "extra"\nname = "Extra"\n[topics.rules]\n' + "\n".join(lines)
    path = tmp_path / "digest.toml"
    path.write_text(
        config.replace('"subscribers/', f'"{EXAMPLE_CONFIG.parent}/subscribers/').replace(
            'directory = "samples"', f'directory = "{EXAMPLE_CONFIG.parent}/samples"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert "topics[extra].rules" in str(caught.value)
    assert message in str(caught.value)


def _toml(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    return str(value)


# --- the shipped example config: the hard negatives ---------------------------------------------


@pytest.fixture(scope="module")
def example() -> TopicClassifier:
    return TopicClassifier(load_settings(EXAMPLE_CONFIG, {}).topics)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("A slow-roast turkey recipe", "Brine the bird overnight; roast it low and slow."),
        ("Hurricane nears the Gulf of Mexico", "Oil platforms off Louisiana were evacuated."),
        ("Jordan scores 38 as Northfield rallies", "The guard hit six threes in the fourth."),
        ("Skier from Lebanon, New Hampshire, wins", "Her first World Cup podium."),
        ("A Syrian-born novelist's book about a Swedish winter", "Set on Gotland."),
        ("Climbers reach the summit of K2", "The team fixed ropes through the Bottleneck."),
        ("EU foreign ministers hold a summit on defence", "Talks in Brussels ran late."),
        ("Caring for a Persian cat", "Brush daily."),
    ],
)
def test_example_config_resists_the_hard_negatives(
    example: TopicClassifier, title: str, summary: str
) -> None:
    assert example.classify(article(title, summary)) == ()


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Pezeshkian meets Khamenei", "", {"middle-east", "iran"}),
        ("Jordan's king warns of spillover", "King Abdullah II spoke in Amman.", {"middle-east"}),
        (
            "Turkey's central bank holds rates",
            "The lira steadied in Istanbul.",
            {"middle-east", "turkey"},
        ),
        ("قصف إسرائيلي على خان يونس", "", {"middle-east", "israel-palestine"}),
        ("ממשלת ישראל התכנסה בירושלים", "", {"middle-east", "israel-palestine"}),
        ("افزایش قیمت بنزین در ایران", "", {"middle-east", "iran", "energy"}),
        ("İstanbul'da deprem tatbikatı", "Türkiye genelinde.", {"middle-east", "turkey"}),
        (
            "OPEC+ delays an output increase",
            "Saudi Arabia led the decision.",
            {"middle-east", "energy"},
        ),
    ],
)
def test_example_config_files_the_region_in_its_languages(
    example: TopicClassifier, title: str, summary: str, expected: set[str]
) -> None:
    assert set(slugs(example.classify(article(title, summary)))) == expected
