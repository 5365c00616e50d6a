"""Precision and recall of the example config's topic rules on the labelled sample.

    python bench/topic_quality.py [--config PATH] [--errors] [--json]

The sample (tests/data/topics/) was written for the project: ``labelled.jsonl`` is the part the
rules were tuned on, ``holdout.jsonl`` was written before any tuning and is reported on its own.
Each line is an article (title, summary, feed, categories) and the set of topic slugs it belongs
to. A second run with clitic prefixes off measures what prefix matching adds or costs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import TopicSettings, load_settings  # noqa: E402
from digest.records import Article  # noqa: E402
from digest.topics import TopicClassifier, normalize_text  # noqa: E402
from digest.topics.normalize import script_of  # noqa: E402

SAMPLE_DIR = ROOT / "tests" / "data" / "topics"
SPLITS = {"tuning": "labelled.jsonl", "holdout": "holdout.jsonl"}
EXAMPLE = ROOT / "config" / "example.toml"


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    article: Article
    labels: frozenset[str]
    split: str


@dataclass(frozen=True, slots=True)
class Quality:
    topic: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        filed = self.true_positives + self.false_positives
        return self.true_positives / filed if filed else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 1.0

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives


def load_samples(splits: Iterable[str] = SPLITS) -> list[Sample]:
    samples = []
    for split in splits:
        path = SAMPLE_DIR / SPLITS[split]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            article = Article(
                id=number,
                feed_id=0,
                feed_name=row["feed"],
                guid=row["id"],
                link=f"https://sample.example.org/{row['id']}",
                title=row["title"],
                summary_html="",
                summary_text=row["summary"],
                author=None,
                published_at=None,
                first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
                categories=tuple(row.get("categories", ())),
            )
            samples.append(Sample(row["id"], article, frozenset(row["labels"]), split))
    return samples


def predictions(topics: Sequence[TopicSettings], samples: Sequence[Sample]) -> list[set[str]]:
    classifier = TopicClassifier(topics)
    return [{match.topic for match in classifier.classify(s.article)} for s in samples]


def measure(
    topics: Sequence[TopicSettings], samples: Sequence[Sample], predicted: Sequence[set[str]]
) -> dict[str, Quality]:
    quality = {}
    for topic in topics:
        slug = topic.slug
        pairs = [
            (slug in found, slug in sample.labels)
            for sample, found in zip(samples, predicted, strict=True)
        ]
        quality[slug] = Quality(
            topic=slug,
            true_positives=sum(1 for found, wanted in pairs if found and wanted),
            false_positives=sum(1 for found, wanted in pairs if found and not wanted),
            false_negatives=sum(1 for found, wanted in pairs if wanted and not found),
        )
    return quality


def without_clitics(topics: Sequence[TopicSettings]) -> list[TopicSettings]:
    return [
        topic.model_copy(
            update={"rules": topic.rules.model_copy(update={"clitic_prefixes": False})}
        )
        for topic in topics
    ]


def report(config: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{run: {topic: {precision, recall, support}}} for each split, both splits, no prefixes."""
    topics = load_settings(config, {}).topics
    samples = load_samples()
    runs: dict[str, dict[str, dict[str, float]]] = {}
    predicted = predictions(topics, samples)
    for name, chosen in (
        ("tuning", [i for i, s in enumerate(samples) if s.split == "tuning"]),
        ("holdout", [i for i, s in enumerate(samples) if s.split == "holdout"]),
        ("all", list(range(len(samples)))),
    ):
        subset = [samples[i] for i in chosen]
        quality = measure(topics, subset, [predicted[i] for i in chosen])
        runs[name] = {slug: _figures(q) for slug, q in quality.items()}
    bare_predicted = predictions(without_clitics(topics), samples)
    bare = measure(topics, samples, bare_predicted)
    runs["all, no clitic prefixes"] = {slug: _figures(q) for slug, q in bare.items()}
    # Prefixes only change Arabic and Hebrew script matching: measure them where they apply.
    chosen = [
        i for i, s in enumerate(samples) if script_of(normalize_text(s.article.title)) != "other"
    ]
    subset = [samples[i] for i in chosen]
    for name, found in (
        ("Arabic-script and Hebrew", predicted),
        ("same, no clitic prefixes", bare_predicted),
    ):
        quality = measure(topics, subset, [found[i] for i in chosen])
        runs[name] = {slug: _figures(q) for slug, q in quality.items()}
    return runs


def _figures(quality: Quality) -> dict[str, float]:
    return {
        "precision": round(quality.precision, 3),
        "recall": round(quality.recall, 3),
        "support": quality.support,
        "false_positives": quality.false_positives,
        "false_negatives": quality.false_negatives,
    }


def print_errors(config: Path) -> None:
    topics = load_settings(config, {}).topics
    samples = load_samples(["tuning"])  # the held-out part is never looked at while tuning
    for sample, found in zip(samples, predictions(topics, samples), strict=True):
        if found != set(sample.labels):
            extra, missing = sorted(found - sample.labels), sorted(sample.labels - found)
            print(f"{sample.id}  +{extra} -{missing}  {sample.article.title}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=EXAMPLE)
    parser.add_argument("--errors", action="store_true", help="list the tuning part's mistakes")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    if options.errors:
        print_errors(options.config)
        return
    runs = report(options.config)
    if options.json:
        print(json.dumps(runs, indent=2))
        return
    for run, figures in runs.items():
        print(f"\n{run}")
        print(f"  {'topic':<18} {'precision':>9} {'recall':>7} {'labelled':>8}  fp  fn")
        for slug, row in figures.items():
            print(
                f"  {slug:<18} {row['precision']:>9.3f} {row['recall']:>7.3f} "
                f"{row['support']:>8}  {row['false_positives']:>2}  {row['false_negatives']:>2}"
            )


if __name__ == "__main__":
    main()
