"""Bursts of unsubscribes from one domain: what a link scanner that follows every link looks like.

A mail security scanner at a company or a mailbox provider may open (or, worse, POST to) every
link of every mail it screens; when it unsubscribes readers, it does so for many addresses of its
own domain within minutes. Readers who leave on their own are spread over hours and domains.
``find_bursts`` is pure: it takes the unsubscribes and returns the windows to look at.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Burst:
    """``count`` unsubscribes from addresses at ``domain`` between ``start`` and ``end``."""

    domain: str
    start: datetime
    end: datetime
    count: int
    lists: tuple[str, ...]
    channels: tuple[tuple[str, int], ...]  # (channel, how many), most first


def find_bursts(
    unsubscribes: Iterable[tuple[datetime, str, str, str]], *, minutes: int, threshold: int
) -> list[Burst]:
    """The runs of unsubscribes from one domain in which every ``threshold`` consecutive ones
    fall within ``minutes`` (so each run has at least ``threshold``), each as long as it goes;
    oldest first. ``unsubscribes`` are (when, address, list slug, channel)."""
    by_domain: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for at, address, slug, channel in unsubscribes:
        by_domain[address.rpartition("@")[2].lower()].append((at, slug, channel))
    window = timedelta(minutes=minutes)
    bursts: list[Burst] = []
    for domain, events in by_domain.items():
        events.sort()
        start = 0
        while start + threshold <= len(events):
            if events[start + threshold - 1][0] - events[start][0] > window:
                start += 1
                continue
            end = start + threshold - 1
            # Extend while the next one still has threshold - 1 others within the window.
            while (
                end + 1 < len(events)
                and events[end + 1][0] - events[end + 2 - threshold][0] <= window
            ):
                end += 1
            run = events[start : end + 1]
            bursts.append(
                Burst(
                    domain=domain,
                    start=run[0][0],
                    end=run[-1][0],
                    count=len(run),
                    lists=tuple(sorted({slug for _, slug, _ in run})),
                    channels=tuple(Counter(channel for _, _, channel in run).most_common()),
                )
            )
            start = end + 1
    return sorted(bursts, key=lambda burst: (burst.start, burst.domain))
