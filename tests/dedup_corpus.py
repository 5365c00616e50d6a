"""The labelled stories that measure near-duplicate detection, and the measure itself.

Two sets, both under ``tests/data/dedup/``: the cross-outlet stories of ``config/samples`` (read
from the sample feeds through the real parser, labelled by link in ``samples.toml``), on which the
threshold was chosen, and ``stories.toml``, written apart and held out. Only the English sample
feeds take part: fingerprints compare words, so an Arabic and an English report of one event can
never match, and counting them would measure nothing but that.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from digest import dedup
from digest import stories as stories_module
from digest.ingest import parse_feed
from digest.records import Article

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "dedup"
SAMPLE_FEEDS = ("gulf-wire.xml", "levant-ledger.atom", "persia-review.rdf",
                "diplomatic-notes.atom", "world-briefing.xml", "weekend-life.xml")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Story:
    id: str
    outlet: str
    event: str
    topic: str | None
    title: str
    summary: str
    published: datetime = datetime(2026, 11, 20, 12, tzinfo=UTC)  # one day, when not labelled
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Scores:
    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    hard_negatives: int  # pairs of one topic but different events
    hard_false_positives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def held_out_stories() -> list[Story]:
    with (DATA / "stories.toml").open("rb") as file:
        raw = tomllib.load(file)["story"]
    return [
        Story(s["id"], s["outlet"], s["event"], s["topic"], s["title"], s["summary"]) for s in raw
    ]


def event_stories() -> list[Story]:
    """The reports of ``events.toml``: times, languages, same-outlet and cross-script pairs."""
    with (DATA / "events.toml").open("rb") as file:
        raw = tomllib.load(file)["story"]
    fields = ("id", "outlet", "event", "subject", "title", "summary", "published", "language")
    return [Story(*(s[name] for name in fields)) for s in raw]


def as_articles(stories: Sequence[Story]) -> list[Article]:
    """The stories as stored articles, numbered in the order given, one feed per outlet."""
    feeds = {outlet: n for n, outlet in enumerate(sorted({s.outlet for s in stories}), start=1)}
    return [
        Article(id=n, feed_id=feeds[s.outlet], feed_name=s.outlet, guid=s.id,
                link=f"https://{feeds[s.outlet]}.example/{s.id}", title=s.title,
                summary_html=s.summary, summary_text=s.summary, author=None,
                published_at=s.published, first_seen_at=s.published, language=s.language)
        for n, s in enumerate(stories, start=1)
    ]  # fmt: skip


def grouped_pairs(stories: Sequence[Story], group_of: Sequence[object]) -> PairCounts:
    """Every pair of stories (whatever their outlets), counted against the labels: ``group_of``
    gives each story's group, in the order of ``stories``."""
    counts = PairCounts()
    for (a, group_a), (b, group_b) in itertools.combinations(
        zip(stories, group_of, strict=True), 2
    ):
        counts.add(a, b, same=a.event == b.event, found=group_a == group_b)
    return counts


def ingest_groups(stories: Sequence[Story]) -> list[int]:
    """The clusters the ingest-time index gives, articles taken in the order given."""
    assigned = dedup.clusters(
        (a.id, a.feed_id, a.title, a.summary_text) for a in as_articles(stories)
    )
    return [assigned[n] for n in range(1, len(stories) + 1)]


def compose_groups(
    stories: Sequence[Story], encoder: stories_module.Encoder | None = None
) -> list[str]:
    """The stories ``digest.stories`` groups them into."""
    articles = as_articles(stories)
    found = stories_module.group(articles, encoder=encoder)
    return [found.story[a.id] for a in articles]


@dataclass
class PairCounts:
    """Pairs of stories by kind (same outlet or not, same script or not), found and missed."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [tp, fp, fn, positives]

    def add(self, a: Story, b: Story, *, same: bool, found: bool) -> None:
        self.true_positives += same and found
        self.false_positives += found and not same
        self.false_negatives += same and not found
        if a.outlet == b.outlet:
            kind = "same outlet"
        elif _script_of(a.language) != _script_of(b.language):
            kind = "across scripts"
        else:
            kind = "across outlets"
        if not same and a.topic is not None and a.topic == b.topic:
            hard = self.by_kind.setdefault("same subject, other event", [0, 0, 0, 0])
            hard[1] += found
            hard[3] += 1
        tally = self.by_kind.setdefault(kind, [0, 0, 0, 0])
        tally[0] += same and found
        tally[1] += found and not same
        tally[2] += same and not found
        tally[3] += same

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def _script_of(language: str) -> str:
    return {"ar": "arabic", "fa": "arabic", "he": "hebrew"}.get(language, "latin")


def sample_stories() -> list[Story]:
    """Every article of the English sample feeds; the labelled ones carry their event."""
    with (DATA / "samples.toml").open("rb") as file:
        events = tomllib.load(file)["events"]
    event_of = {link: event for event, links in events.items() for link in links}
    now = datetime(2026, 11, 25, tzinfo=UTC)
    stories = []
    for name in SAMPLE_FEEDS:
        path = ROOT / "config" / "samples" / name
        feed = parse_feed(path.read_bytes(), url=f"https://samples.example/{name}",
                          content_type="application/xml", now=now)  # fmt: skip
        for entry in feed.entries:
            event = event_of.get(entry.link, entry.link)  # unlabelled: a story of its own
            stories.append(Story(entry.link, feed.title or name, event, None, entry.title,
                                 entry.summary_text))  # fmt: skip
    missing = set(event_of) - {story.id for story in stories}
    assert not missing, f"samples.toml names links the sample feeds do not have: {missing}"
    return stories


def pair_similarities(stories: Sequence[Story]) -> list[tuple[Story, Story, float]]:
    """Every pair of stories from different outlets, with the similarity of their fingerprints."""
    prints = {story.id: dedup.fingerprint(story.title, story.summary) for story in stories}
    return [
        (a, b, dedup.similarity(prints[a.id], prints[b.id]))
        for a, b in itertools.combinations(stories, 2)
        if a.outlet != b.outlet
    ]


def score(pairs: Sequence[tuple[Story, Story, float]], threshold: float) -> Scores:
    tp = fp = fn = hard = hard_fp = 0
    for a, b, similar in pairs:
        same = a.event == b.event
        found = similar >= threshold
        tp += same and found
        fp += found and not same
        fn += same and not found
        if not same and a.topic is not None and a.topic == b.topic:
            hard += 1
            hard_fp += found
    return Scores(threshold, tp, fp, fn, hard, hard_fp)
