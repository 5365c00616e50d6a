"""What a send beside the readers' requests left behind, read from the database, and which
copies went to a reader from a batch read after their unsubscribe was answered: for
tests/test_busy_morning.py and bench/busy_morning.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text

from digest.store.db import create_database_engine


@dataclass(frozen=True)
class Outcome:
    status: dict[str, str]  # address (lowercased) -> the membership's status in the list
    queued: list[str]  # the addresses of the ledger's rows, in the order of their ids
    ledger: Counter[str]  # the ledger's rows by status


def read_outcome(database_url: str, list_slug: str) -> Outcome:
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            status = connection.execute(
                text(
                    "SELECT lower(s.email), m.status FROM subscriptions m "
                    "JOIN subscribers s ON s.id = m.subscriber_id WHERE m.list_slug = :slug"
                ),
                {"slug": list_slug},
            ).all()
            ledger = connection.execute(
                text(
                    "SELECT lower(s.email), d.status FROM deliveries d "
                    "JOIN subscribers s ON s.id = d.subscriber_id ORDER BY d.id"
                )
            ).all()
    finally:
        engine.dispose()
    return Outcome(
        dict(status),
        [email for email, _ in ledger],
        Counter(state for _, state in ledger),
    )


def copies_after_leaving(
    left: Sequence[tuple[str, float]],
    queued: Sequence[str],
    copies: Mapping[str, Sequence[float]],
    batch_size: int,
) -> list[tuple[str, float]]:
    """For each reader in ``left`` (address, when their unsubscribe was answered) who got a copy
    all the same: (address, seconds from the answer to the first copy of their batch). A batch
    is read just before its first copy goes, so a figure well above the time that takes is a
    copy from a batch read after the answer. ``queued``: the ledger's addresses in id order,
    which the batches take ``batch_size`` at a time; ``copies``: when each address's copies came."""
    batch_of = {email: position // batch_size for position, email in enumerate(queued)}
    first_copy: dict[int, float] = {}
    for email, times in copies.items():
        if email in batch_of and times:
            batch = batch_of[email]
            first_copy[batch] = min([first_copy.get(batch, times[0]), *times])
    return [
        (email, round(first_copy[batch_of[email]] - answered, 3))
        for email, answered in left
        if copies.get(email) and email in batch_of
    ]
