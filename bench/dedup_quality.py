"""Precision and recall of near-duplicate detection on the labelled stories in tests/data/dedup.

    python bench/dedup_quality.py

Prints, for a range of thresholds, the precision and recall over every pair of stories from
different outlets, on the tuning set (the sample feeds' cross-outlet stories) and on the
held-out set; the line marked ``*`` is ``digest.dedup.THRESHOLD``. Also lists the pairs the
threshold gets wrong on the held-out set, and the similarity of every same-event pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import dedup  # noqa: E402
from tests.dedup_corpus import held_out_stories, pair_similarities, sample_stories, score  # noqa: E402


def main() -> None:
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


if __name__ == "__main__":
    main()
