"""The example config's topic rules measured on the labelled sample (bench/topic_quality.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from digest.topics.normalize import normalize_text, script_of

BENCH = Path(__file__).resolve().parent.parent / "bench" / "topic_quality.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("topic_quality", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["topic_quality"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(bench: ModuleType) -> dict[str, dict[str, dict[str, float]]]:
    result: dict[str, dict[str, dict[str, float]]] = bench.report(bench.EXAMPLE)
    return result


def test_the_sample_is_large_varied_and_labelled_with_known_topics(bench: ModuleType) -> None:
    from digest.config import load_settings

    samples = bench.load_samples()
    assert len(samples) >= 300
    regional = [s for s in samples if "middle-east" in s.labels]
    assert len(regional) >= len(samples) / 3
    assert len(samples) - len(regional) >= 100  # negatives, many of them hard
    held_out = [s for s in samples if s.split == "holdout"]
    assert len(held_out) >= 100
    known = {topic.slug for topic in load_settings(bench.EXAMPLE, {}).topics}
    assert all(s.labels <= known for s in samples)
    # A labelled sub-topic always comes with its region.
    assert all("middle-east" in s.labels for s in samples if s.labels)
    scripts = {script_of(normalize_text(s.article.title)) for s in samples}
    assert scripts == {"arabic", "hebrew", "other"}
    assert len({s.id for s in samples}) == len(samples)


@pytest.mark.parametrize("run", ["all", "tuning", "holdout"])
def test_middle_east_meets_its_targets(
    runs: dict[str, dict[str, dict[str, float]]], run: str
) -> None:
    figures = runs[run]["middle-east"]
    assert figures["precision"] >= 0.95, figures
    assert figures["recall"] >= 0.85, figures


def test_clitic_prefixes_add_recall_without_costing_precision(
    runs: dict[str, dict[str, dict[str, float]]],
) -> None:
    with_prefixes = runs["Arabic-script and Hebrew"]["middle-east"]
    without = runs["same, no clitic prefixes"]["middle-east"]
    assert with_prefixes["precision"] >= without["precision"]
    assert with_prefixes["recall"] > without["recall"]


def test_every_sub_topic_is_measured(runs: dict[str, dict[str, dict[str, float]]]) -> None:
    figures = runs["all"]
    assert set(figures) >= {
        "iran",
        "israel-palestine",
        "gulf",
        "syria",
        "lebanon",
        "iraq",
        "yemen",
        "egypt",
        "turkey",
        "diplomacy",
        "energy",
    }
    for slug, row in figures.items():
        assert row["support"] >= 10, slug
        assert row["precision"] >= 0.85, (slug, row)


def test_diplomacy_finds_its_talks_tours_and_sanctions(
    runs: dict[str, dict[str, dict[str, float]]],
) -> None:
    """The weakest topic: 0.72 recall at 0.94 precision before its rules named tours,
    sanctions, prisoner swaps, peace efforts and maritime borders, and left markets' "ceasefire
    hopes" out (issue #12 point 3: recall at least 0.75 at precision 0.95 or better)."""
    figures = runs["all"]["diplomacy"]
    assert figures["recall"] >= 0.75, figures
    assert figures["precision"] >= 0.95, figures
