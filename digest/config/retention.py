"""How long the database keeps what: the delivery ledger and the articles (digest.retention)."""

from __future__ import annotations

from pydantic import Field

from digest.config.values import SettingsModel

# The shortest a window may be: a reader read in their own timezone who gets no copy for longer
# (their chosen topics were quiet) starts again as a reader who joins, whose first window is the
# last day or week of their zone (digest.local_time); past two weeks that window never reaches
# back over the one their last copy ended.
SHORTEST_DAYS = 14


class RetentionSettings(SettingsModel):
    """How long the delivery ledger and the articles are kept; older rows are deleted at each
    cycle of `digest run`, by `digest beat`'s prune task, or by `digest db prune`."""

    prune: bool = Field(
        default=True,
        description="Delete what is older than the windows below, on its own, at each cycle "
        "or beat tick. Off: nothing is deleted but by `digest db prune`.",
    )
    deliveries_days: int = Field(
        default=90,
        ge=SHORTEST_DAYS,
        le=36500,
        description="Days a settled copy of an edition (sent, failed, skipped) stays in the "
        "ledger after its edition was built: who got which edition, for a reader's question or "
        "`digest subscribers export-person`. A copy still pending or parked is kept whatever "
        "its age. The ledger is most of a database's size (a row per reader per edition).",
    )
    articles_days: int = Field(
        default=90,
        ge=SHORTEST_DAYS,
        le=36500,
        description="Days an article is kept after it was first seen. Editions keep their "
        "own copy of what they showed, so the archive does not need them; a key of each "
        "deleted article is kept while its feed still serves it, so it is never stored or "
        "mailed again.",
    )
    batch_rows: int = Field(
        default=2000,
        ge=100,
        le=50000,
        description="Rows deleted in one transaction: each batch holds the database's write "
        "lock (SQLite) or its rows' locks (PostgreSQL) for a few milliseconds only.",
    )
    batches_a_cycle: int = Field(
        default=50,
        ge=1,
        le=10000,
        description="Batches one cycle deletes at most; what is left waits for the next cycle, "
        "so the first prune of an old database spreads over several cycles instead of "
        "holding one up. `digest db prune` has no such bound.",
    )
