"""Tests for digest.dedup: fingerprints, similarity, clusters, and their measured quality."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import dedup
from digest.compose import build_edition
from digest.config import ListSettings, TopicSettings
from digest.records import Article, Candidate, Edition
from tests.dedup_corpus import held_out_stories, pair_similarities, sample_stories, score

SLOT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def test_features_fold_case_accents_and_stop_words() -> None:
    words = dedup.features("Talks in Zürich", "The talks RESUMED in Zurich, officials said.")
    assert words == {"talk", "zuri", "^talk", "^zuri", "resu", "offi"}


def test_arabic_points_are_folded() -> None:
    assert dedup.features("", "مُحَمَّد") == dedup.features("", "محمد")


def test_one_headline_in_two_outlets_spellings_is_one_set_of_words() -> None:
    # Arabic outlets write "غزة" or "غزه", "١٢" or "12", and Persian ones "ایران" with their own
    # yeh: the same headline from two outlets shared half its words, and its fingerprint too.
    one = "مقتل ١٢ شخصا في غارة على غزة وتصريحات لإيران"
    other = "مقتل 12 شخصاً في غارة على غـزه وتصريحات لايران"
    assert dedup.features(one, "") == dedup.features(other, "")
    assert dedup.similarity(dedup.fingerprint(one, ""), dedup.fingerprint(other, "")) == 1.0
    assert dedup.features("ایران کرمان", "") == dedup.features("إيران كرمان", "")
    assert dedup.features("مستشفى", "") == dedup.features("مستشفي", "")


ZWNJ = "\u200c"


@pytest.mark.parametrize(
    ("zwnj", "spaced", "joined"),
    [
        (f"عراقچی می{ZWNJ}گوید", "عراقچی می گوید", "عراقچی میگوید"),
        (f"نمی{ZWNJ}پذیرد", "نمی پذیرد", "نمیپذیرد"),
        (f"تحریم{ZWNJ}های تازه", "تحریم های تازه", "تحریمهای تازه"),
        (f"نفتکش{ZWNJ}ها", "نفتکش ها", "نفتکشها"),
    ],
)
def test_a_persian_word_joined_with_a_zwnj_or_apart_is_one_word(
    zwnj: str, spaced: str, joined: str
) -> None:
    # Persian desks write "می" and "ها" three ways; one outlet's headline and another's shared
    # only the words beside them ("میگو" against "گوید", "های" as a word of its own).
    assert dedup.features(zwnj, "") == dedup.features(spaced, "") == dedup.features(joined, "")


def test_a_direction_mark_copied_inside_a_word_leaves_it_one_word() -> None:
    marked = "ای\u200fران و اسرا\u200eئیل \u061cتوافق کردند"
    assert dedup.features(marked, "") == dedup.features("ایران و اسرائیل توافق کردند", "")


def test_the_words_every_persian_report_is_written_with_are_no_features() -> None:
    # "is", "did", "Monday", "announced", "last month" in Persian; "کرد" is "Kurd" in Arabic.
    assert dedup.features("", "وزیر نفت روز دوشنبه اعلام کرد که این است") == {"وزير", "نفت"}
    assert dedup.features("", "مقاتلين كرد في سوريا") == {"مقات", "كرد", "سوري"}


def test_an_arabic_ha_apart_stays_a_word_apart() -> None:
    # "ها نحن" ("here we are") opens an Arabic phrase: no Persian plural is joined in Arabic.
    assert dedup.features("", "قال ها نحن هنا") == {"قال", "نحن", "هنا"}


def test_fingerprint_is_stable_sorted_and_bounded() -> None:
    text = " ".join(str(n) for n in range(1000, 1500))
    sketch = dedup.fingerprint("title", text)
    assert len(sketch) == dedup.SKETCH_SIZE
    assert list(sketch) == sorted(sketch)
    # crc32, not Python's per-process salted hash: the same in every process, so it can be stored.
    assert dedup.fingerprint("Syria", "") == (713638201, 1254889618)


def test_similarity_is_the_jaccard_index_for_short_texts() -> None:
    a = dedup.fingerprint("", "alpha bravo charlie delta")
    b = dedup.fingerprint("", "alpha bravo charlie echo")
    assert dedup.similarity(a, b) == 3 / 5
    assert dedup.similarity(a, a) == 1.0
    assert dedup.similarity(a, ()) == 0.0


def test_similarity_estimate_on_long_texts() -> None:
    shared = [str(n) for n in range(1000, 1300)]  # numbers: four digits survive the stemming
    a = dedup.fingerprint("", " ".join(shared + [str(n) for n in range(2000, 2300)]))
    b = dedup.fingerprint("", " ".join(shared + [str(n) for n in range(3000, 3300)]))
    assert abs(dedup.similarity(a, b) - 1 / 3) < 0.15  # bottom-64 estimate of 300/900


def test_the_index_joins_the_best_cluster_of_another_feed() -> None:
    index = dedup.ClusterIndex()
    story = dedup.fingerprint("Quake hits Van", "A 5.8 earthquake struck near Ercis in Van.")
    retold = dedup.fingerprint("Van quake", "An earthquake of 5.8 struck near Ercis, Van.")
    other = dedup.fingerprint("Markets", "Stocks rose in Riyadh and Dubai on bank earnings.")
    assert index.assign(1, feed_id=1, sketch=story) == 1
    assert index.assign(2, feed_id=1, sketch=retold) == 2  # the same feed: not "also covered"
    assert index.assign(3, feed_id=2, sketch=retold) == 2  # the most similar: identical words
    assert index.assign(5, feed_id=2, sketch=story) == 1
    assert index.assign(4, feed_id=3, sketch=other) == 4
    assert len(index) == 5


def test_common_features_alone_make_no_candidates() -> None:
    index = dedup.ClusterIndex()
    common = dedup.fingerprint("", "iran")
    for article_id in range(1, dedup.COMMON_FEATURE + 2):
        index.add(article_id, feed_id=article_id, cluster_id=article_id, sketch=common)
    assert index.best_match(feed_id=0, sketch=common) is None


def test_the_index_finds_what_comparing_every_pair_finds() -> None:
    stories = held_out_stories()
    feeds = {outlet: n for n, outlet in enumerate(sorted({s.outlet for s in stories}))}
    rows = [(n, feeds[s.outlet], s.title, s.summary) for n, s in enumerate(stories, start=1)]
    assigned = dedup.clusters(rows)
    prints = {n: dedup.fingerprint(title, summary) for n, _, title, summary in rows}
    for (a, feed_a, *_), (b, feed_b, *_) in itertools.combinations(rows, 2):
        if feed_a != feed_b and dedup.similarity(prints[a], prints[b]) >= dedup.THRESHOLD:
            assert assigned[b] != b, f"{b} matched {a} but started a cluster of its own"


def test_measured_precision_and_recall_on_the_labelled_stories() -> None:
    """The figures the README reports (``python bench/dedup_quality.py`` prints them)."""
    held_out = score(pair_similarities(held_out_stories()), dedup.THRESHOLD)
    assert (held_out.true_positives, held_out.false_positives, held_out.false_negatives) == (
        16,
        4,
        1,
    )
    assert held_out.precision == 0.8 and round(held_out.recall, 2) == 0.94
    tuning = score(pair_similarities(sample_stories()), dedup.THRESHOLD)
    assert (tuning.true_positives, tuning.false_positives, tuning.false_negatives) == (11, 0, 0)


# ----------------------------------------------------------------------------------------------
# In an edition: one report per story, the others "also covered by"


# Reports of the held-out set, by id: three of one earthquake, and three other stories.
QUAKE = ("quake-van-a", "quake-van-b", "quake-van-c")
OTHERS = ("quake-kerman", "cb-saudi-cut", "zikim-fuel")


def _candidate(article_id: int, score: float, story: str, cluster: int | None = None) -> Candidate:
    """The held-out story ``story`` as a candidate of the edition; ``cluster`` is what ingest
    stored, which composing no longer reads."""
    found = next(s for s in held_out_stories() if s.id == story)
    when = SLOT - timedelta(hours=1)
    return Candidate(
        article=Article(
            id=article_id,
            feed_id=article_id,
            feed_name=found.outlet,
            guid=story,
            link=f"https://news.example.org/{story}",
            title=found.title,
            summary_html="",
            summary_text=found.summary,
            author=None,
            published_at=when,
            first_seen_at=when,
            cluster_id=cluster,
        ),
        topics={"syria": score},
    )


def _compose(candidates: list[Candidate], max_articles: int = 25) -> Edition:
    settings = ListSettings(
        slug="daily",
        name="Daily",
        topics=("syria",),
        schedule="0 7 * * *",
        max_articles=max_articles,
        recommended=0,
        subscribers=Path("subscribers.csv"),
    )
    return build_edition(
        settings,
        (TopicSettings(slug="syria", name="Syria"),),
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        candidates=candidates,
    )


def test_an_edition_shows_each_story_once_with_the_other_outlets_under_it() -> None:
    edition = _compose(
        [
            _candidate(1, 0.5, QUAKE[0], cluster=1),
            _candidate(2, 0.9, QUAKE[1], cluster=2),  # the best-ranked report leads
            _candidate(3, 0.4, QUAKE[2], cluster=None),  # stored before clustering
            _candidate(4, 0.7, OTHERS[1], cluster=1),  # ingest put it with the quake: not read
            _candidate(5, 0.6, OTHERS[2], cluster=5),
        ]
    )
    items = list(edition.items())
    assert [item.article.id for item in items] == [2, 4, 5]
    assert [article.id for article in items[0].also_covered_by] == [1, 3]
    assert all(not item.also_covered_by for item in items[1:])
    assert sorted(article.id for article in edition.articles()) == [2, 4, 5]


def test_reports_under_a_story_do_not_count_towards_the_cap() -> None:
    edition = _compose(
        [_candidate(n, 1.0 - n / 10, QUAKE[n - 1]) for n in range(1, 4)]
        + [_candidate(10, 0.1, OTHERS[0])],
        max_articles=2,
    )
    first, second = edition.items()
    assert (first.article.id, second.article.id) == (1, 10)
    assert [article.id for article in first.also_covered_by] == [2, 3]
