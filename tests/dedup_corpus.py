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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest import dedup
from digest.ingest import parse_feed

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
