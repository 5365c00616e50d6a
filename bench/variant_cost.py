"""Time to build one edition of a twelve-topic list whose readers made many distinct choices.

    python bench/variant_cost.py [--choices N] [--readers N] [--most N]

One list of twelve topics, a wire of 36 stories (three a topic), ``--readers`` members of whom
``--choices`` each keep a distinct pair or more of the topics (as confirmed readers of a
catch-all domain could), the list's ``max_topic_variants`` ``--most`` (4096: no bound). Prints
the variants stored and the cycle's seconds, of the clock and of the process's CPU.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.clock import FixedClock  # noqa: E402
from digest.sample_server import serve_folder  # noqa: E402
from tests.members import numbered_readers  # noqa: E402
from tests.test_lists import run, settings_of, start  # noqa: E402
from tests.test_pipeline import DAY1, write_feed  # noqa: E402
from tests.test_topic_choices import daily_over_every_topic  # noqa: E402

TOPICS = [f"topic{letter}" for letter in "abcdefghijkl"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--choices", type=int, default=200)
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--most", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        folder = tmp / "feeds"
        folder.mkdir()
        write_feed(folder, [])
        (tmp / "members.csv").write_text(numbered_readers(args.readers))
        with serve_folder(folder) as base_url:
            raw = daily_over_every_topic(
                tmp, base_url, TOPICS, subscribers="members.csv", max_topic_variants=args.most
            )
            services, _ = start(settings_of(tmp, raw), FixedClock(DAY1))
            try:
                run(services)
                ids = sorted(s.id for s in services.store.active_subscribers("daily"))
                pairs = (
                    combo
                    for size in range(2, len(TOPICS))
                    for combo in itertools.combinations(TOPICS, size)
                )
                for reader, choice in zip(ids[: args.choices], pairs, strict=False):
                    services.store.choose_topics(reader, "daily", list(choice))
                when = DAY1 + timedelta(hours=23)
                write_feed(
                    folder,
                    [
                        (n, f"{TOPICS[n % 12].title()} story {n}: talks resume on the matter", when)
                        for n in range(36)
                    ],
                )
                services.clock.set(DAY1 + timedelta(days=1))  # type: ignore[attr-defined]
                started, cpu = time.perf_counter(), time.process_time()
                run(services)
                took, cpu = time.perf_counter() - started, time.process_time() - cpu
                latest = services.store.latest_edition("daily")
                assert latest is not None
                variants = len(services.store.editions_of_slot("daily", latest.slot))
                print(
                    f"{args.choices} choices: {variants} variants stored, "
                    f"cycle {took:.2f} s, CPU {cpu:.2f} s"
                )
            finally:
                services.close()


if __name__ == "__main__":
    main()
