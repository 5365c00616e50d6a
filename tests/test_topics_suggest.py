"""`digest topics suggest TOPIC`: names and phrases that recur in a topic's articles and near
misses but are not in its rules, each with the articles it would file (issue #12 point 3)."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from itertools import count
from typing import Any

from digest.records import Article
from digest.topics import Explanation, TopicClassifier
from digest.topics.suggest import suggest
from tests.test_topics import DIPLOMACY, TREE

_ids = count(1)


def article(title: str, summary: str = "") -> Article:
    number = next(_ids)
    return Article(
        id=number,
        feed_id=1,
        feed_name="World Briefing",
        guid=f"guid-{number}",
        link=f"https://news.example.org/{number}",
        title=title,
        summary_html=f"<p>{summary}</p>",
        summary_text=summary,
        author=None,
        published_at=None,
        first_seen_at=datetime(2026, 12, 1, tzinfo=UTC),
        categories=(),
    )


# A new name of current events recurs in near misses: reports placed in the region whose only
# diplomatic word ("talks") falls short of the topic's threshold without more.
NEAR_MISSES = [
    article("Muscat Framework draft circulates in Tehran", "Officials called the talks early."),
    article("Oman hosts the Muscat Framework", "Delegates from Yemen joined the talks."),
    article("Yemen factions weigh the Muscat Framework", "Sanaa sent nobody to the talks."),
]
FILED = [
    article("Foreign ministers meet for summit talks in Amman", "Envoys from the region gathered."),
    article(
        "Ceasefire talks resume in Doha with mediators", "The envoy for Yemen joined the talks."
    ),
]
ELSEWHERE = [
    article("Cricket: England beat India in the final", "The final was played in Mumbai."),
    article("Tech firms unveil new phones for the season", "The new phones go on sale in March."),
    article("The final of the league is played in London", "Fans travelled to London."),
    article("Weather: storms sweep across the north", "Forecasters expect more storms."),
]


def test_a_new_name_recurring_in_near_misses_is_proposed_with_what_it_would_file() -> None:
    classifier = TopicClassifier(TREE)
    found = suggest([*NEAR_MISSES, *FILED, *ELSEWHERE], classifier, DIPLOMACY)
    phrases = [item.phrase for item in found]
    assert phrases[0] == "Muscat Framework"
    first = found[0]
    assert {title for _, title in first.near_misses} == {a.title for a in NEAR_MISSES}
    assert first.elsewhere == 0
    # Not "Muscat" or "Framework" alone: the longer name is used by exactly the same articles.
    assert "Muscat" not in phrases and "Framework" not in phrases


def test_stop_words_and_terms_already_in_the_rules_are_never_proposed() -> None:
    classifier = TopicClassifier(TREE)
    found = suggest([*NEAR_MISSES, *FILED, *ELSEWHERE], classifier, DIPLOMACY)
    folded = {item.phrase.lower() for item in found}
    assert not folded & {"the", "in", "of", "with", "for", "from", "talks", "summit"}
    assert all(not phrase.startswith(("the ", "in ")) for phrase in folded)
    # Words of other subjects that recur only elsewhere say nothing of the topic.
    assert "final" not in folded and "london" not in folded


def test_nothing_to_suggest_without_articles_of_the_topic() -> None:
    assert suggest(ELSEWHERE, TopicClassifier(TREE), DIPLOMACY) == []


def test_the_command_refuses_an_unknown_topic_and_an_empty_store_and_prints_json(
    tmp_path: object,
) -> None:
    from pathlib import Path

    from tests.test_end_to_end import digest, example_config

    folder = Path(str(tmp_path))
    config = example_config(folder, smtp_port=None)
    unknown = digest(config, "topics", "suggest", "sport")
    assert unknown.returncode == 2
    assert "no topic 'sport'" in unknown.stderr and "diplomacy" in unknown.stderr
    empty = digest(config, "topics", "suggest", "diplomacy")
    assert empty.returncode == 1 and "poll the feeds first" in empty.stderr
    assert digest(config, "poll").returncode == 0
    found = digest(config, "topics", "suggest", "diplomacy", "--json", "--days", "3650")
    assert found.returncode == 0, found.stderr
    records = json.loads(found.stdout)
    assert all(set(r) == {"phrase", "weight", "filed", "elsewhere", "near_misses"} for r in records)
    table = digest(config, "topics", "suggest", "iran", "--days", "3650")
    assert table.returncode == 0, table.stderr
    assert "Phrases for iran" in table.stdout or "Nothing to suggest for iran" in table.stdout


def test_a_possessive_of_a_term_in_the_rules_is_that_term_not_a_new_phrase() -> None:
    """The rules match "Oman" in "Oman's" (a word ends at the apostrophe): proposing "Oman's"
    would offer the editor what the topic already has. A new name keeps its possessives
    together with its plain uses."""
    classifier = TopicClassifier(TREE)
    possessives = [
        article("Oman's envoy carries the Muscat Framework's draft", "The talks resume."),
        article("The Muscat Framework's backers meet in Oman's capital", "Envoys' talks went on."),
        article("Muscat Framework talks: Oman's foreign ministers' plan", "The envoy spoke."),
    ]
    found = suggest([*possessives, *FILED, *ELSEWHERE], classifier, DIPLOMACY)
    phrases = [item.phrase for item in found]
    assert not [phrase for phrase in phrases if "'" in phrase], phrases
    framework = next(item for item in found if item.phrase == "Muscat Framework")
    assert framework.filed + len(framework.near_misses) == 3


def test_the_articles_of_other_subjects_cost_no_memory_per_phrase() -> None:
    """Only a phrase of the topic's own articles can be proposed: each phrase of every other
    article, each with the set of its articles, held gigabytes for a window of 50,000."""
    classifier = TopicClassifier(TREE)
    unrelated = [
        article(f"Report {number}", " ".join(f"w{number}x{word}" for word in range(250)))
        for number in range(120)
    ]
    tracemalloc.start()
    try:
        found = suggest([*NEAR_MISSES, *FILED, *unrelated], classifier, DIPLOMACY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found[0].phrase == "Muscat Framework" and found[0].elsewhere == 0
    # The 90,000 phrases of the unrelated articles held some 40 MB.
    assert peak < 5 * 2**20, f"{peak / 2**20:.1f} MB"


def test_a_word_the_rules_already_match_inside_is_never_proposed() -> None:
    """The rules match a term behind an Arabic or Hebrew prefix ("والسعودية" is "and Saudi
    Arabia") and inside a hyphenated word ("Iran-US", "Saudi-led"): proposing those words
    offered the editor what the topic's rules already file."""
    from tests.test_topics import GULF, IRAN

    classifier = TopicClassifier(TREE)
    reports = [
        article("Iran-US talks in Oman: Saudi-led coalition waits", "والسعودية ترحب"),
        article("Oman hosts Iran-US contacts; Saudi-led coalition", "قالت والسعودية"),
        article("Saudi-led coalition and Iran-US channel in Oman", "والسعودية تعلن"),
        article("Tehran: Iran-US channel reopens", "Officials in Tehran spoke."),
    ]
    for topic, words in ((GULF, ("saudi-led", "والسعودية")), (IRAN, ("iran-us",))):
        found = suggest([*reports, *ELSEWHERE], classifier, topic)
        phrases = [item.phrase.casefold() for item in found]
        assert phrases, topic.slug  # what the rules do not name is still proposed
        assert not [p for p in phrases if any(word in p for word in words)], (topic.slug, phrases)


def test_a_figure_s_unit_is_never_proposed() -> None:
    """A figure's unit ("$5bn", "10km", "21st") is no word of its own: read after its digits,
    "bn" and "km" recurred in any topic's reports and were proposed."""
    from tests.test_topics import GULF

    classifier = TopicClassifier(TREE)
    reports = [
        article("Oman signs $5bn port deal", "The 21st pier is 10km away."),
        article("Oman agrees $3bn port pipeline", "A 2nd pier, 40km south."),
        article("Oman opens $2bn port terminal", "The 3rd pier is 12km long."),
    ]
    found = suggest([*reports, *ELSEWHERE], classifier, GULF)
    words = {word for item in found for word in item.phrase.casefold().split()}
    assert "port" in words  # the reports' words are still read
    assert not words & {"bn", "st", "nd", "rd", "km"}, words


def test_the_names_of_days_and_months_are_never_proposed() -> None:
    """A report says when ("on Monday", "in December", "يوم الاثنين", "בדצמבר"): a topic's
    reports of one week share the day's name, which files nothing of the topic."""
    from tests.test_topics import GULF

    classifier = TopicClassifier(TREE)
    reports = [
        article("Oman port opens on Monday", "Shipping starts in December. الميناء يوم الاثنين"),
        article("Oman port terminal ready Monday", "Cargo from December. الميناء في ديسمبر"),
        article("Oman port expands on Monday", "Tenders close in December. الاثنين ديسمبر"),
    ]
    found = suggest([*reports, *ELSEWHERE], classifier, GULF)
    words = {word for item in found for word in item.phrase.casefold().split()}
    assert "port" in words  # the reports' words are still read
    assert not words & {"monday", "december", "الاثنين", "ديسمبر"}, words


def test_an_outlet_s_name_is_never_proposed() -> None:
    """A feed names itself in its reports ("Harbour Post reported") and wires are credited in
    any outlet's ("(Reuters)"): an outlet's name says who wrote a report, not what it is about,
    and the topic's reports of a few outlets share it."""
    from dataclasses import replace

    from tests.test_topics import GULF

    classifier = TopicClassifier(TREE)
    reports = [
        article("Oman port opens", "The terminal took cargo, Harbour Post reported (Reuters)."),
        article("Oman port terminal ready", "Harbour Post learnt of its cargo. (Reuters)"),
        article("Oman port expands", "Cargo grows, Reuters said. Harbour Post"),
    ]
    reports = [replace(report, feed_name="Harbour Post") for report in reports]
    found = suggest([*reports, *ELSEWHERE], classifier, GULF)
    phrases = [item.phrase.casefold() for item in found]
    assert "port" in phrases  # the reports' words are still read
    assert not [p for p in phrases if "harbour" in p or "reuters" in p], phrases


def test_a_term_of_a_topic_below_is_never_proposed_for_the_topic_above() -> None:
    """A sub-topic's evidence counts for the topic above it ("Tehran", of Iran's rules, files a
    report under the Middle East): proposing it for the Middle East offered what its tree
    already files."""
    from tests.test_topics import MIDDLE_EAST

    classifier = TopicClassifier(TREE)
    reports = [
        article("Tehran court rules on port", "In Tehran, Beirut officials spoke."),
        article("Tehran and Beirut port trade grows", "Tehran said"),
        article("Beirut and Tehran sign port deal", ""),
    ]
    found = suggest([*reports, *ELSEWHERE], classifier, MIDDLE_EAST)
    phrases = [item.phrase.casefold() for item in found]
    assert "port" in phrases  # the reports' words are still read
    assert not [p for p in phrases if "tehran" in p or "beirut" in p], phrases


class _ExplainingNothing(TopicClassifier):
    """A classifier whose explanations cost too much to write for every article of a window."""

    def explain(self, article: Article) -> Explanation:
        raise AssertionError("suggest wrote an explanation of every topic for every article")


def test_suggest_judges_each_article_without_explaining_every_topic() -> None:
    """Writing every topic's explanation of each of 20,000 articles, to read one topic's
    verdict, was a third of the classifier's time in suggest; standing() is that verdict."""
    from dataclasses import replace

    reports = [*NEAR_MISSES, *FILED, *ELSEWHERE]
    shapes = [
        replace(ELSEWHERE[0], categories=("Iran",)),  # a category alone, and beside a term
        replace(FILED[0], categories=("Iran", "GCC")),
        replace(FILED[1], title="A Tehran recipe for talks in Amman"),  # a veto above
        replace(NEAR_MISSES[0], feed_name="Gulf Wire"),  # a feed of a topic
        article("Jordan and Beirut talks on the Gulf", "Lebanon's envoy went to Oman."),
    ]
    plain = TopicClassifier(TREE)
    trusting = TopicClassifier(TREE, trusted_feeds=["World Briefing"])
    for classifier in (plain, trusting):
        for report in [*reports, *shapes]:
            for topic in TREE:
                verdict = next(
                    (v for v in classifier.explain(report).verdicts if v.topic == topic.slug),
                    None,
                )
                filed, score = classifier.standing(report, topic.slug)
                assert filed == (verdict is not None and verdict.filed), (report, topic.slug)
                vetoed = verdict is not None and bool(verdict.vetoed_by)
                expected = verdict.score if verdict is not None and not vetoed else 0.0
                assert score == expected, (report.title, topic.slug)
    for report in reports:
        for topic in TREE:
            verdict = next(
                (v for v in plain.explain(report).verdicts if v.topic == topic.slug), None
            )
            filed, score = plain.standing(report, topic.slug)
            assert filed == (verdict is not None and verdict.filed)
            vetoed = verdict is not None and bool(verdict.vetoed_by)
            assert score == (verdict.score if verdict is not None and not vetoed else 0.0)
    found = suggest(reports, _ExplainingNothing(TREE), DIPLOMACY)
    assert found == suggest(reports, plain, DIPLOMACY)
    assert found[0].phrase == "Muscat Framework"


class _CountingScans(TopicClassifier):
    """Counts the topics whose rules are read for an article."""

    scans = 0

    def _own(self, *args: Any, **kwargs: Any) -> Any:
        self.scans += 1
        return super()._own(*args, **kwargs)


def test_one_topic_s_verdict_reads_the_rules_of_its_own_tree_only() -> None:
    """A topic's verdict depends on its rules and those of the topics below it; the other
    topics' are read only when a term of its needs context its tree does not give. Reading
    every topic's rules for each article of a window was most of suggest's time."""
    classifier = _CountingScans(TREE)
    report = article("Tehran opens a port", "Iran's envoy spoke.")
    assert classifier.standing(report, "iran") == (True, 4.0)
    assert classifier.scans == 1  # Iran has no topic below it
    classifier.scans = 0
    needs_context = article("Summit talks", "Officials spoke.")  # talks: ambiguous, alone
    assert classifier.standing(needs_context, "diplomacy") == (False, 0.0)
    assert classifier.scans == 1 + len(TREE)  # its tree, then the root's whole tree


def test_a_phrase_a_topic_above_ignores_is_never_proposed() -> None:
    """A parent's ignore phrases hold for its whole tree: the words of "Dead Sea Scrolls" count
    for nothing under the topic below it, so proposing the phrase offered a rule that could
    never fire."""
    from tests.test_topics import topic

    region = topic("region", places=("Jericho",), ignore=("Dead Sea Scrolls",))
    museums = topic("museums", parent="region", include=("museum",))
    classifier = TopicClassifier((region, museums))
    reports = [
        article("Museum shows the Dead Sea Scrolls", "Curators brought them by road."),
        article("Dead Sea Scrolls leave the museum", "Curators open a new wing."),
        article("Museum guards the Dead Sea Scrolls", "Curators let visitors in."),
    ]
    found = suggest([*reports, *ELSEWHERE], classifier, museums)
    phrases = [item.phrase.casefold() for item in found]
    assert phrases  # the reports' other words are still read
    assert not [p for p in phrases if "dead sea" in p or "sea scrolls" in p], phrases
