"""Time to compose one edition from a few hundred to a few thousand candidates.

    python bench/compose_cost.py [--before PATH]

Candidates are the labelled reports of tests/data/dedup (and the captured feeds of
../shared/realfeeds when present), repeated under new links and times until there are enough,
all filed under one topic of one list: the first composition, and the same composed again in
that process, as a variant or another list of the same articles would be (the profiles and pair
strengths kept, ``digest.story_links.Known``). ``--before PATH`` also times the same candidates
with ``digest`` imported from another checkout (the main branch, say), in a process of its own.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.records import Candidate  # noqa: E402
from tests.dedup_corpus import as_articles, event_stories, held_out_stories, sample_stories  # noqa: E402

SIZES = (300, 1000, 3000)


def candidates(size: int) -> list[Candidate]:
    stories = [*sample_stories(), *held_out_stories(), *event_stories()]
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        from dedup_quality import REALFEEDS, realfeed_stories

        if REALFEEDS.is_dir():
            stories += realfeed_stories()
    except ImportError:
        pass
    base = as_articles(stories)
    articles = []
    for n in range(size):
        article = base[n % len(base)]
        copy = n // len(base)  # a later copy: another day, another link
        articles.append(
            replace(
                article,
                id=n + 1,
                link=f"{article.link}?copy={copy}",
                published_at=(article.published_at or article.first_seen_at)
                - timedelta(days=2 * copy),
            )
        )
    return [Candidate(article=a, topics={"news": 1.0 - (a.id % 97) / 100}) for a in articles]


# Run in a process whose ``digest`` is another checkout's: reads pickled candidates, prints the
# milliseconds of a first composition and of the same composed again (a variant, another list:
# what digest.story_links.Known keeps), each the best of three.
_TIMER = """
import pickle, sys, time
from pathlib import Path
from digest import stories
from digest.compose import build_edition
from digest.config import ListSettings, TopicSettings
pool = pickle.load(sys.stdin.buffer)
settings = ListSettings(slug="daily", name="Daily", topics=("news",), schedule="0 7 * * *",
                        max_articles=25, recommended=3, subscribers=Path("members.csv"))
topics = (TopicSettings(slug="news", name="News"),)
end = max(c.article.sort_time for c in pool)
first = again = float("inf")
for _ in range(3):
    if hasattr(stories, "_KNOWN"):  # nothing kept from the last run
        stories._KNOWN = type(stories._KNOWN)()
    for kept in (False, True):
        started = time.perf_counter()
        build_edition(settings, topics, slot=end, window_start=None, window_end=end,
                      candidates=pool)
        took = time.perf_counter() - started
        first, again = (first, min(again, took)) if kept else (min(first, took), again)
print(first * 1000, again * 1000)
"""


def timed(pool: list[Candidate], code: Path) -> tuple[float, float]:
    """Milliseconds to compose ``pool`` with the ``digest`` of ``code``, first and again."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMER],
        input=pickle.dumps(pool),
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,  # python -c puts its working directory ahead of PYTHONPATH
    )
    first, again = done.stdout.split()
    return float(first), float(again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout to time beside this one")
    before: Path | None = parser.parse_args().before
    print(
        "candidates   this checkout: first, again"
        + (f"   {before}: first, again" if before else "")
    )
    for size in SIZES:
        pool = candidates(size)
        line = "{:>10}   {:8.1f} ms {:8.1f} ms".format(size, *timed(pool, ROOT))
        if before is not None:
            line += "   {:8.1f} ms {:8.1f} ms".format(*timed(pool, before))
        print(line)


if __name__ == "__main__":
    main()
