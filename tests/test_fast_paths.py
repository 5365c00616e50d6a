"""The short cuts of the poll path give exactly what the plain implementations give.

Each fast path (text and images read with regular expressions, normalization by table, the trie
of terms and its look-ahead past the clitic prefixes, the fields of an article scanned as one
string, ``classify`` without the explanation) is checked against the straightforward code it
stands in for, on the labelled sample and on generated markup and articles built to reach both
the fast path and its fallback.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import nh3
import pytest

from digest.config import TopicRules, TopicSettings, load_settings
from digest.ingest import image_tags, markup
from digest.records import Article
from digest.topics import TopicClassifier, normalize_text
from digest.topics.article_text import ArticleText as _Text
from digest.topics.classify import _FIELD_WEIGHTS, _INCLUDE_KINDS, _terms
from digest.topics.findings import UNSUPPORTED_CATEGORY, _note
from digest.topics.findings import CompiledTopic as _CompiledTopic
from digest.topics.findings import Findings as _Own
from digest.topics.findings import Hit as _Hit
from digest.topics.findings import Tally as _Tally
from digest.topics.findings import tallied as _tallies
from digest.topics.persian import OPTIONAL_SPACE as OPTIONAL
from digest.topics.rules import MASK, Term, TermPattern
from digest.topics.verdicts import Veto

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [
    json.loads(line)
    for name in ("labelled.jsonl", "holdout.jsonl")
    for line in (ROOT / "tests" / "data" / "topics" / name).read_text().splitlines()
    if line.strip()
]
NOW = datetime(2026, 3, 1, tzinfo=UTC)
# The letter folds of digest.topics.normalize, as first written, with the Hebrew geresh and
# gershayim, the typographic double quotes, the Basic Multilingual Plane's decimal digits and
# the Arabic decimal and thousands separators added since.
FOLDS = str.maketrans(
    {
        "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "\u0671": "\u0627",
        "\u0629": "\u0647", "\u0649": "\u064a", "\u06cc": "\u064a", "\u06a9": "\u0643",
        "\u06d5": "\u0647", "\u0131": "i", "\u05f3": "'", "\u05f4": '"', "\u201c": '"',
        "\u201d": '"', "\u066b": ".", "\u066c": ",",
        **{
            chr(point): str(unicodedata.digit(chr(point)))
            for point in range(0x10000)
            if unicodedata.category(chr(point)) == "Nd"
        },
    }
)  # fmt: skip


def parser_text(html: str) -> str:
    extractor = markup._TextExtractor()
    extractor.feed(html)
    extractor.close()
    return markup.collapse_whitespace("".join(extractor.parts))


def parser_images(html: str) -> list[str]:
    finder = image_tags._ImageSources()
    finder.feed(html)
    finder.close()
    return finder.sources


def generated_markup(seed: int, count: int) -> Iterable[str]:
    """Fragments of plain tags, odd tags, comments, raw-text elements, entities and text."""
    rnd = random.Random(seed)
    names = ["img", "IMG", "p", "a", "br", "b", "div", "span", "script", "style", "textarea"]
    attributes = ["src", "SRC", "width", "height", "alt", "href", "title", "data-x", "x:y"]
    values = ["", "0", "1", "a.png", "/i/&amp;x.jpg", "&lt;q&gt;", "&#x41;", "a b", "&zz", "'"]
    spaces = [" ", "  ", "\t", "\n", "\f", "\x0b", "\xa0", "/", ""]
    texts = ["text", " ", "&amp;", "a > b", "&", "\n", "é", "<", "<!-- c -->", "<!x>", "<?pi?>"]

    def tag() -> str:
        name = rnd.choice(names)
        if rnd.random() < 0.2:
            return f"</{name}{rnd.choice(['', ' ', ' x'])}>"
        written = "<" + name
        for _ in range(rnd.randint(0, 3)):
            written += rnd.choice(spaces) + rnd.choice(attributes)
            quoting = rnd.random()
            value = rnd.choice(values)
            if quoting < 0.7:
                written += f'="{value}"'
            elif quoting < 0.8:
                written += f"='{value}'"
            elif quoting < 0.9:
                written += "=" + value.replace(" ", "")
        return written + rnd.choice(["", " ", "/", " /"]) + ">"

    for _ in range(count):
        pieces = rnd.randint(1, 12)
        yield "".join(tag() if rnd.random() < 0.5 else rnd.choice(texts) for _ in range(pieces))


def test_text_of_markup_is_what_the_parser_reads() -> None:
    # Where the fast path reads a fragment, it reads what the parser reads; any other fragment
    # the parser reads as html5ever canonicalized it (markup._TEXT_MARKUP: linear in time, where
    # html.parser is quadratic on runs of unclosed tags).
    reached = 0
    for number, html in enumerate(generated_markup(1, 20000)):
        if number % 2:  # as the sanitizer writes it: the fast path's usual input
            html = markup.sanitize_html(html, base_url="https://site.example/a/")
        if markup._plain_markup_text(html) is not None:
            reached += 1
            assert markup.html_to_text(html) == parser_text(html), html
        else:
            canonical = markup._TEXT_MARKUP.clean(html)
            assert markup.html_to_text(html) == parser_text(canonical), html
    assert reached > 5000  # the fast path was taken, and so was the parser


def test_text_without_tags_is_what_the_parser_reads() -> None:
    rnd = random.Random(2)
    pieces = ["a", " ", "&amp;", "&#39;", "&#x27;", "&nbsp;", "&bogus;", "&", "&copy", "\t", "\xa0"]
    for _ in range(20000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 20)))
        assert markup.html_to_text(text) == parser_text(text), text


def test_image_sources_are_what_the_parser_finds() -> None:
    # As for text: the fast path on what it reads, the parser on html5ever's canonical form of
    # everything else (image_tags._IMAGE_MARKUP).
    reached = 0
    for html in generated_markup(3, 20000):
        if image_tags._plain_markup_images(html) is not None:
            reached += 1
            assert image_tags.image_sources(html) == parser_images(html), html
        elif "<img" in html.lower():
            canonical = image_tags._IMAGE_MARKUP.clean(html)
            assert image_tags.image_sources(html) == parser_images(canonical), html
    assert reached > 1000


def test_the_sanitizer_writes_markup_the_fast_path_reads() -> None:
    html = nh3.clean('<p title="a>b &amp; &quot;c">x &amp; y &lt; z</p><br><a href="h">q</a>')
    assert markup._plain_markup_text(markup.sanitize_html(html, base_url=None)) is not None


def reference_normalize(text: str) -> str:
    """normalize_text as first written: one code point at a time."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        char
        for char in unicodedata.normalize("NFD", folded)
        if char != "\u0640" and unicodedata.category(char) not in ("Mn", "Cf")
    )
    recomposed = unicodedata.normalize("NFC", kept).translate(FOLDS)
    return re.sub(r"\s+", " ", recomposed).strip()


def test_normalization_is_unchanged_for_every_code_point_and_the_sample() -> None:
    points = [chr(point) for point in range(0x110000) if not 0xD800 <= point < 0xE000]
    for start in range(0, len(points), 997):
        chunk = "".join(points[start : start + 997])
        assert normalize_text(chunk) == reference_normalize(chunk), start
    for sample in SAMPLES:
        text = f"{sample['title']} {sample['summary']}"
        assert normalize_text(text) == reference_normalize(text)


class FlatPattern(TermPattern):
    """TermPattern with the terms as one flat alternation, longest first (the first design)."""

    def __init__(self, terms: Iterable[Term], *, clitic_prefixes: bool) -> None:
        import digest.topics.rules as rules

        def flat(terms: Iterable[str]) -> str:
            ordered = sorted(terms, key=lambda term: (-len(term), term))
            return "|".join(map(spelled, ordered))

        def spelled(term: str) -> str:
            # A space is one or more; a Persian word's optional space (topics.persian) any or none.
            words = (r"\s+".join(map(re.escape, part.split(" "))) for part in term.split(OPTIONAL))
            return r"\s*".join(words)

        trie, rules._alternation = rules._alternation, flat
        try:
            super().__init__(terms, clitic_prefixes=clitic_prefixes)
        finally:
            rules._alternation = trie


class UnguardedPattern(TermPattern):
    """TermPattern without the look-ahead for a match's first character before each prefix."""

    def __init__(self, terms: Iterable[Term], *, clitic_prefixes: bool) -> None:
        import digest.topics.rules as rules

        guard, rules._first_letters = rules._first_letters, lambda prefix, cores: ""
        try:
            super().__init__(terms, clitic_prefixes=clitic_prefixes)
        finally:
            rules._first_letters = guard


def hits(pattern: TermPattern, text: str) -> list[tuple[str, str, int, int, bool]]:
    return [
        (hit.term.text, hit.term.kind, hit.start, hit.end, hit.prefixed)
        for hit in pattern.finditer(text)
    ]


@pytest.mark.parametrize("kinds", [_INCLUDE_KINDS, ("exclude",), ("ignore",)])
def test_the_term_trie_finds_what_a_flat_alternation_finds(kinds: tuple[str, ...]) -> None:
    topics = load_settings(ROOT / "config" / "example.toml", {}).topics
    texts = [normalize_text(f"{s['title']} {s['summary']}") for s in SAMPLES]
    texts += [normalize_text(name) for s in SAMPLES for name in s.get("categories", ())]
    found = 0
    for topic in topics:
        terms = _terms(topic, kinds)
        prefixes = topic.rules.clitic_prefixes
        trie, flat = (
            TermPattern(terms, clitic_prefixes=prefixes),
            FlatPattern(terms, clitic_prefixes=prefixes),
        )
        for text in texts:
            expected = hits(flat, text)
            assert hits(trie, text) == expected, (topic.slug, text)
            found += len(expected)
    assert found or kinds != _INCLUDE_KINDS


def test_the_term_trie_prefers_the_longest_term_and_gives_way_to_a_shorter_one() -> None:
    rnd = random.Random(4)
    # Persian letters and the ZWNJ too: a Persian term's optional spaces are trie branches.
    letters = "ab سعودية בירושלים'-. پگدر\u200cمیها"
    for _ in range(1500):
        terms = [
            Term("".join(rnd.choice(letters) for _ in range(rnd.randint(1, 7))), "include")
            for _ in range(rnd.randint(1, 12))
        ]
        prefixes = rnd.random() < 0.7
        trie, flat = (
            TermPattern(terms, clitic_prefixes=prefixes),
            FlatPattern(terms, clitic_prefixes=prefixes),
        )
        for _ in range(10):
            text = normalize_text("".join(rnd.choice(letters + " x") for _ in range(30)))
            assert hits(trie, text) == hits(flat, text), (terms, text)


def test_classify_gives_the_matches_of_the_explanation_on_the_sample() -> None:
    classifier = TopicClassifier(load_settings(ROOT / "config" / "example.toml", {}).topics)
    filed = 0
    for number, sample in enumerate(SAMPLES):
        article = Article(
            id=number,
            feed_id=1,
            feed_name=sample["feed"],
            guid=sample["id"],
            link="https://news.example/",
            title=sample["title"],
            summary_html="",
            summary_text=sample["summary"],
            author=None,
            published_at=None,
            first_seen_at=NOW,
            categories=tuple(sample.get("categories", ())),
        )
        matches = classifier.classify(article)
        assert matches == classifier.explain(article).matches, sample["id"]
        filed += bool(matches)
    assert filed > len(SAMPLES) / 3


@pytest.mark.parametrize("kinds", [_INCLUDE_KINDS, ("exclude",), ("ignore",)])
def test_the_prefix_look_ahead_changes_no_hit(kinds: tuple[str, ...]) -> None:
    topics = load_settings(ROOT / "config" / "example.toml", {}).topics
    texts = [normalize_text(f"{s['title']} {s['summary']}") for s in SAMPLES]
    texts += [normalize_text(name) for s in SAMPLES for name in s.get("categories", ())]
    for topic in topics:
        terms = _terms(topic, kinds)
        prefixes = topic.rules.clitic_prefixes
        guarded, unguarded = (
            TermPattern(terms, clitic_prefixes=prefixes),
            UnguardedPattern(terms, clitic_prefixes=prefixes),
        )
        for text in texts:
            assert hits(guarded, text) == hits(unguarded, text), (topic.slug, text)


def test_the_prefix_look_ahead_changes_no_hit_among_the_prefix_letters() -> None:
    # Terms of the prefix letters (وفالبك, ושכבלמה), some behind punctuation, and text made of
    # the terms, prefixes, letters and punctuation.
    rnd = random.Random(5)
    letters = "وفالبكسعدية ושכבלמהירם'(-.a"
    prefixes = ["و", "ب", "ال", "وبال", "فل", "ו", "ה", "מ", "וב", "שב", "כשה"]
    found = 0
    for _ in range(1000):
        terms = [
            Term("".join(rnd.choice(letters) for _ in range(rnd.randint(1, 7))), "include")
            for _ in range(rnd.randint(1, 12))
        ]
        guarded, unguarded = (
            TermPattern(terms, clitic_prefixes=True),
            UnguardedPattern(terms, clitic_prefixes=True),
        )
        pieces = [term.text for term in terms] + prefixes + list(letters) + [" "] * 8
        for _ in range(10):
            text = normalize_text("".join(rnd.choice(pieces) for _ in range(12)))
            expected = hits(unguarded, text)
            assert hits(guarded, text) == expected, (terms, text)
            found += sum(hit[4] or not hit[0][0].isalpha() for hit in expected)
    assert found > 300  # behind a prefix, or beginning with punctuation


class PerFieldClassifier(TopicClassifier):
    """TopicClassifier scanning each field on its own, as first written."""

    @staticmethod
    def _scan(topic: _CompiledTopic, text: _Text, found: _Own) -> None:
        if topic.exclude:
            for field_name, value in (("title", text.title), ("summary", text.summary)):
                found.vetoes += [
                    Veto(hit.term.text, field_name) for hit in topic.exclude.finditer(value)
                ]
        fields = [("title", 0, text.title), ("summary", 0, text.summary)]
        fields += [("category", index, name) for index, name in enumerate(text.categories)]
        for field_name, index, value in fields:
            masked = value
            if topic.ignore:
                masked, ignored = topic.ignore.mask(value)
                for hit in ignored:
                    if hit.term.text not in found.ignored:
                        found.ignored.append(hit.term.text)
            for hit in topic.terms.finditer(masked):
                found.hits.append(
                    _Hit(
                        key=(field_name, index, hit.start),
                        topic=topic.slug,
                        rule=hit.term.kind,
                        term=hit.term.text,
                        field=field_name,
                        points=_FIELD_WEIGHTS[field_name],
                        needs_context=hit.term.kind == "ambiguous" or hit.prefixed,
                    )
                )


def sample_article(
    number: int, feed: str, title: str, summary: str, categories: Iterable[str]
) -> Article:
    return Article(
        id=number,
        feed_id=1,
        feed_name=feed,
        guid=f"guid-{number}",
        link="https://news.example/",
        title=title,
        summary_html="",
        summary_text=summary,
        author=None,
        published_at=None,
        first_seen_at=NOW,
        categories=tuple(categories),
    )


def generated_articles(seed: int, count: int, topics: Iterable[TopicSettings]) -> Iterable[Article]:
    """Articles strung together from the topics' own rules, behind prefixes, next to punctuation
    and the mask character, in every field, with the same phrase more than once in a field."""
    rnd = random.Random(seed)
    rules = [topic.rules for topic in topics]
    columns = ("include", "places", "people", "groups", "ambiguous", "exclude", "ignore")
    words = sorted(
        {
            word
            for rule in rules
            for column in (*columns, "categories")
            for word in getattr(rule, column)
        }
    )
    feeds = [*sorted({feed for rule in rules for feed in rule.feeds}), "Daily Ledger"]
    prefixes = ["", "", "", "", "و", "ب", "ال", "وبال", "ו", "ה", "מ", "וב", "שב"]
    maqaf = "\u05be"  # the Hebrew hyphen
    others = ["the", "recipe", "talks", "of", "-", ",", ".", "'s", "'", '"', "(", MASK, maqaf, "x"]
    spaces = [" ", " ", " ", "", "  ", "-", "\n"]

    def text(pieces: int) -> str:
        written, word = "", ""
        for _ in range(pieces):
            if not word or rnd.random() > 0.1:  # now and then the same word again
                word = rnd.choice(words) if rnd.random() < 0.6 else rnd.choice(others)
            if rnd.random() < 0.2:
                word = word.upper()
            written += rnd.choice(spaces) + rnd.choice(prefixes) + word
        return written

    for number in range(count):
        yield sample_article(
            number,
            rnd.choice(feeds),
            text(rnd.randint(0, 6)),
            text(rnd.randint(0, 14)),
            [text(rnd.randint(0, 2)) for _ in range(rnd.randint(0, 4))],
        )


def test_the_joined_fields_give_the_verdicts_of_each_field_scanned_alone() -> None:
    topics = load_settings(ROOT / "config" / "example.toml", {}).topics
    joined, per_field = TopicClassifier(topics), PerFieldClassifier(topics)
    articles = [
        sample_article(n, s["feed"], s["title"], s["summary"], s.get("categories", ()))
        for n, s in enumerate(SAMPLES)
    ]
    articles += generated_articles(6, 2500, topics)
    # Phrases cut in two, from title to summary and from summary to category: no field has one.
    phrases = sorted({term.text for topic in topics for term in _terms(topic, _INCLUDE_KINDS)})
    for number, phrase in enumerate(phrase for phrase in phrases if " " in phrase):
        first, rest = phrase.split(" ", 1)
        summary = f"{rest} today, and {first}"
        articles.append(sample_article(number, "Daily Ledger", f"Report {first}", summary, [rest]))
    reached: Counter[str] = Counter()
    for article in articles:
        explanation = joined.explain(article)
        assert explanation == per_field.explain(article), article
        # Down to where each hit is: the same keys, at the same offsets in the same fields.
        assert joined._judge(article)[0] == per_field._judge(article)[0], article
        assert joined.classify(article) == per_field.classify(article), article
        for verdict in explanation.verdicts:
            reached.update(evidence.field for evidence in verdict.evidence)
            reached.update(evidence.note for evidence in verdict.evidence)
            reached["vetoed"] += bool(verdict.vetoed_by)
            reached["ignored"] += bool(verdict.ignored)
            assert len(set(verdict.ignored)) == len(verdict.ignored), verdict  # each phrase once
    for what in ("title", "summary", "category", "feed", "vetoed", "ignored"):
        assert reached[what] > 20, (what, reached)
    assert reached["matched behind a prefix; supported by other evidence"] > 20, reached


def reference_rolled_up(
    topic: _CompiledTopic, own: dict[str, _Own], has_context: bool
) -> tuple[float, list[_Tally]]:
    """A topic's score and evidence as first written: its tree's hits, each place once, summed
    rule by rule; a publisher's category without support counts for nothing."""
    seen: set[tuple[object, ...]] = set()
    grouped: dict[tuple[str, str, str, str, bool, bool], list[_Hit]] = {}
    for slug in (topic.slug, *topic.descendants):
        if own[slug].vetoes:
            continue
        for hit in own[slug].hits:
            if hit.key not in seen:
                seen.add(hit.key)
                key = (hit.topic, hit.rule, hit.term, hit.field, hit.needs_context, hit.unsupported)
                grouped.setdefault(key, []).append(hit)
    score, tallies = 0.0, []
    for (slug, rule, term, field_name, needs_context, unsupported), hits in grouped.items():
        counted = (not needs_context or has_context) and not unsupported
        points = sum(hit.points for hit in hits) if counted else 0.0
        score += points
        note = UNSUPPORTED_CATEGORY if unsupported else _note(rule, needs_context, counted)
        tallies.append((slug, rule, term, field_name, note, len(hits), points, counted))
    return score, tallies


def test_scores_added_hit_by_hit_are_those_of_the_evidence_summed_rule_by_rule() -> None:
    topics = load_settings(ROOT / "config" / "example.toml", {}).topics
    classifier = TopicClassifier(topics)
    articles = [
        sample_article(n, s["feed"], s["title"], s["summary"], s.get("categories", ()))
        for n, s in enumerate(SAMPLES)
    ]
    articles += generated_articles(7, 2500, topics)
    merged = 0
    for article in articles:
        own, scored, _ = classifier._judge(article)
        context = {
            topic.root
            for topic in classifier._topics
            if not own[topic.slug].vetoes
            and (
                own[topic.slug].implied
                or any(not h.needs_context and not h.unsupported for h in own[topic.slug].hits)
            )
        }
        for topic in classifier._topics:
            if own[topic.slug].vetoes:
                assert topic.slug not in scored
                continue
            score, hits, has_context = scored[topic.slug]
            assert has_context == (topic.root in context)
            assert (score, _tallies(hits, has_context)) == reference_rolled_up(
                topic, own, has_context
            ), (article, topic.slug)
            tree = (topic.slug, *topic.descendants)
            merged += sum(bool(own[slug].hits and not own[slug].vetoes) for slug in tree) > 1
    assert merged > 500  # hits of several topics of a tree, some at the same places


def test_fields_are_joined_by_a_character_no_term_contains() -> None:
    # A term with the mask character in it (TOML can write one) must not run from the end of
    # the title into the summary.
    topics = [
        TopicSettings(slug="odd", name="Odd", rules=TopicRules(include=(f"north{MASK}south",)))
    ]
    article = sample_article(1, "Daily Ledger", "Heading north", "south we go", ())
    assert PerFieldClassifier(topics).explain(article).verdicts == ()
    assert TopicClassifier(topics).explain(article).verdicts == ()
    inside = sample_article(2, "Daily Ledger", f"north{MASK}south", "", ())
    assert TopicClassifier(topics).explain(inside) == PerFieldClassifier(topics).explain(inside)
    assert TopicClassifier(topics).classify(inside)
