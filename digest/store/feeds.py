"""Feeds in the store: kept in step with the config, and the state of their last fetch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from digest.config import FeedSettings
from digest.records import FetchResult, ParsedFeed
from digest.store.base import StoreBase
from digest.store.schema import ArticleRow, FeedRow


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    url: str
    name: str
    enabled: bool
    etag: str | None
    last_modified: str | None
    last_fetched_at: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_errors: int
    articles: int = 0


def _state(row: FeedRow, articles: int = 0) -> FeedState:
    return FeedState(
        id=row.id,
        url=row.url,
        name=row.name,
        enabled=row.enabled,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetched_at=row.last_fetched_at,
        last_status=row.last_status,
        last_error=row.last_error,
        consecutive_errors=row.consecutive_errors,
        articles=articles,
    )


class FeedStore(StoreBase):
    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> list[FeedState]:
        """Make the stored feeds match the config: add new ones, update names, disable removed ones.

        Removed feeds are disabled rather than deleted, so their articles stay in past editions.
        """
        with self.transaction() as session:
            rows = {row.url: row for row in session.scalars(select(FeedRow))}
            configured = set()
            for feed in feeds:
                configured.add(feed.url)
                row = rows.get(feed.url)
                if row is None:
                    row = FeedRow(
                        url=feed.url, name=feed.name, enabled=feed.enabled, created_at=now
                    )
                    session.add(row)
                    rows[feed.url] = row
                else:
                    row.name = feed.name
                    row.enabled = feed.enabled
            for url, row in rows.items():
                if url not in configured:
                    row.enabled = False
            session.flush()
            return [_state(rows[feed.url]) for feed in feeds]

    def feeds(self) -> list[FeedState]:
        with self.transaction() as session:
            counts = dict(
                session.execute(
                    select(ArticleRow.feed_id, func.count()).group_by(ArticleRow.feed_id)
                ).all()
            )
            rows = session.scalars(select(FeedRow).order_by(FeedRow.id))
            return [_state(row, counts.get(row.id, 0)) for row in rows]

    def feed(self, feed_id: int) -> FeedState:
        with self.transaction() as session:
            return _state(session.get_one(FeedRow, feed_id))

    def record_fetch(
        self, feed_id: int, result: FetchResult, parsed: ParsedFeed | None, now: datetime
    ) -> None:
        """Remember a successful fetch: validators for the next conditional GET, the title."""
        with self.transaction() as session:
            row = session.get_one(FeedRow, feed_id)
            row.last_fetched_at = now
            row.last_status = result.status
            row.last_error = None
            row.consecutive_errors = 0
            if not result.not_modified:
                row.etag = result.etag
                row.last_modified = result.last_modified
            if parsed is not None:
                row.title = parsed.title or row.title
                row.link = parsed.link or row.link
                row.parse_warning = parsed.warning

    def record_failure(
        self, feed_id: int, error: str, now: datetime, status: int | None = None
    ) -> None:
        with self.transaction() as session:
            row = session.get_one(FeedRow, feed_id)
            row.last_fetched_at = now
            row.last_status = status
            row.last_error = error
            row.consecutive_errors += 1
