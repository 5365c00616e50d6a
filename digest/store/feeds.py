"""Feeds in the store: kept in step with the config, and the state of their polling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Row, Table, Update, bindparam, case, func, insert, or_, select, update

from digest.config import FeedSettings
from digest.records import FetchResult, ParsedFeed
from digest.store.base import StoreBase
from digest.store.schema import ArticleRow, FeedRow

OK, ERROR, DISABLED, NEVER_POLLED = "ok", "error", "disabled", "never polled"
# The table, for the statements every poll runs (a plain SELECT and UPDATE cost a fraction of the
# ORM's identity map and bulk-update bookkeeping, which a poll of unchanged feeds is mostly).
_FEEDS = cast(Table, FeedRow.__table__)
_FEED_BY_ID = select(_FEEDS).where(_FEEDS.c.id == bindparam("b_id"))
_SET_FROM_CONFIG = (
    update(_FEEDS)
    .where(_FEEDS.c.id == bindparam("b_id"))
    .values(name=bindparam("b_name"), enabled=bindparam("b_enabled"))
)


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    url: str  # the address in the config: the feed's identity
    name: str
    enabled: bool  # the config's switch
    etag: str | None
    last_modified: str | None
    last_fetched_at: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_errors: int
    articles: int = 0
    current_url: str | None = None  # where it moved to for good (301/308), when it did
    next_poll_at: datetime | None = None
    last_error_at: datetime | None = None
    disabled_reason: str | None = None  # set by a 410 Gone; cleared by `digest feeds enable`
    entries_per_day: float | None = None
    last_new_entry_at: datetime | None = None
    title: str | None = None
    parse_warning: str | None = None
    content_hash: str | None = None  # of the last document read in full (see record_fetch)
    # The origin whose server asked to wait at the last poll (a 429/503 Retry-After), if any.
    wait_asked_by: str | None = None
    wait_asked_until: datetime | None = None  # when that server's wait ends (its Retry-After)

    @property
    def fetch_url(self) -> str:
        """The address to fetch: the permanent redirect's target once there was one."""
        return self.current_url or self.url

    @property
    def pollable(self) -> bool:
        return self.enabled and self.disabled_reason is None

    @property
    def status(self) -> str:
        """ok, error, disabled or never polled: the word `digest feeds` shows."""
        if not self.pollable:
            return DISABLED
        if self.last_fetched_at is None:
            return NEVER_POLLED
        return ERROR if self.consecutive_errors else OK


def _state(row: FeedRow | Row[Any], articles: int = 0) -> FeedState:
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
        current_url=row.current_url,
        next_poll_at=row.next_poll_at,
        last_error_at=row.last_error_at,
        disabled_reason=row.disabled_reason,
        entries_per_day=row.entries_per_day,
        last_new_entry_at=row.last_new_entry_at,
        title=row.title,
        parse_warning=row.parse_warning,
        content_hash=row.content_hash,
        wait_asked_by=row.wait_asked_by,
        wait_asked_until=row.wait_asked_until,
    )


class FeedStore(StoreBase):
    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> list[FeedState]:
        """Make the stored feeds match the config: add new ones, update names, disable removed ones.

        Removed feeds are disabled rather than deleted, so their articles stay in past editions.
        Every poll starts here, with the config nearly always as it was: one SELECT then, and
        writes only for what changed.
        """
        with self.engine.begin() as connection:
            stored = {row.url: row for row in connection.execute(select(_FEEDS))}
            configured = {feed.url: feed for feed in feeds}  # one row per URL, the last one wins
            new = [
                {"url": url, "name": feed.name, "enabled": feed.enabled, "created_at": now}
                for url, feed in configured.items()
                if url not in stored
            ]
            changed = [
                {"b_id": row.id, "b_name": feed.name, "b_enabled": feed.enabled}
                for url, feed in configured.items()
                if (row := stored.get(url)) is not None
                and (row.name, row.enabled) != (feed.name, feed.enabled)
            ]
            changed += [
                {"b_id": row.id, "b_name": row.name, "b_enabled": False}
                for url, row in stored.items()
                if url not in configured and row.enabled
            ]
            if new:
                connection.execute(insert(_FEEDS), new)
            if changed:
                connection.execute(_SET_FROM_CONFIG, changed)
            if new or changed:
                stored = {row.url: row for row in connection.execute(select(_FEEDS))}
            return [_state(stored[feed.url]) for feed in feeds]

    def feeds(self) -> list[FeedState]:
        """Every stored feed with the number of articles stored from it."""
        with self.transaction() as session:
            counts = dict(
                session.execute(
                    select(ArticleRow.feed_id, func.count()).group_by(ArticleRow.feed_id)
                ).all()
            )
            rows = session.scalars(select(FeedRow).order_by(FeedRow.id))
            return [_state(row, counts.get(row.id, 0)) for row in rows]

    def feed(self, feed_id: int) -> FeedState:
        with self.engine.connect() as connection:
            row = connection.execute(_FEED_BY_ID, {"b_id": feed_id}).one_or_none()
        if row is None:  # a poll queued before the database was restored or replaced
            raise LookupError(
                f"feed {feed_id} is not in the database: its poll was handed out before the "
                "database was restored from a backup or made afresh; it is dropped (the next "
                "tick polls the feeds the database has)"
            )
        return _state(row)

    def due_feeds(self, now: datetime) -> list[FeedState]:
        """Enabled feeds whose next poll time has come, or that were never polled."""
        with self.transaction() as session:
            rows = session.scalars(
                select(FeedRow)
                .where(
                    FeedRow.enabled.is_(True),
                    FeedRow.disabled_reason.is_(None),
                    or_(FeedRow.next_poll_at.is_(None), FeedRow.next_poll_at <= now),
                )
                .order_by(FeedRow.id)
            )
            return [_state(row) for row in rows]

    def feed_states(self) -> dict[int, FeedState]:
        """Every stored feed by id, as ``feed`` reads one (without article counts): one query
        for a whole poll rather than one per feed."""
        with self.engine.connect() as connection:
            return {row.id: _state(row) for row in connection.execute(select(_FEEDS))}

    def record_fetch(
        self,
        feed_id: int,
        result: FetchResult,
        parsed: ParsedFeed | None,
        now: datetime,
        *,
        next_poll_at: datetime | None = None,
        entries_per_day: float | None = None,
        new_entries: int = 0,
        content_hash: str | None = None,
    ) -> None:
        """Remember a successful poll: validators for the next conditional GET, the feed's new
        address after a permanent redirect, its title, its publishing rate and next poll time,
        and ``content_hash`` when given (the document was read and its entries stored).

        One UPDATE, no read first: a re-poll of unchanged feeds is mostly this and a 304.
        """
        values = _fetch_values(
            result, now, next_poll_at, entries_per_day, new_entries, parsed, content_hash
        )
        with self.engine.begin() as connection:
            connection.execute(_record_statement(frozenset(values)), _parameters(feed_id, values))

    def record_unchanged(self, fetches: Sequence[UnchangedFetch]) -> None:
        """Remember several polls that found their feed unchanged (``record_fetch`` without a
        document), in one transaction: one statement for all that set the same columns."""
        shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
        for fetch in fetches:
            values = _fetch_values(
                fetch.result, fetch.now, fetch.next_poll_at, fetch.entries_per_day
            )
            shapes.setdefault(frozenset(values), []).append(_parameters(fetch.feed_id, values))
        if not shapes:
            return
        with self.engine.begin() as connection:
            for columns, rows in shapes.items():
                connection.execute(_record_statement(columns), rows)

    def record_failure(
        self,
        feed_id: int,
        error: str,
        now: datetime,
        status: int | None = None,
        *,
        next_poll_at: datetime | None = None,
        disabled_reason: str | None = None,
        wait_asked_by: str | None = None,
        wait_asked_until: datetime | None = None,
    ) -> int:
        """Remember a failed poll and when to try again; returns the consecutive errors so far.
        ``wait_asked_by``: the origin whose server asked to wait (a 429/503 Retry-After), which
        holds its feeds back until ``wait_asked_until``; None clears an earlier one."""
        with self.transaction() as session:
            row = session.get_one(FeedRow, feed_id)
            row.last_fetched_at = now
            row.last_status = status
            row.last_error = error
            row.last_error_at = now
            row.consecutive_errors += 1
            row.next_poll_at = next_poll_at
            row.wait_asked_by = wait_asked_by
            row.wait_asked_until = wait_asked_until if wait_asked_by is not None else None
            if disabled_reason is not None:
                row.disabled_reason = disabled_reason
            return row.consecutive_errors

    def waiting_on_servers(self, now: datetime) -> list[FeedState]:
        """The feeds whose last poll got a 429 or 503 with a Retry-After (a server
        that asked to wait, ``wait_asked_by``) and whose wait ends after ``now``: the few
        that may hold their host back (``polling.paused_by``), read through the index on the
        next poll time rather than with every feed."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(_FEEDS).where(
                    _FEEDS.c.next_poll_at > now,
                    # Enabled or not: a feed taken out of the config since does not lift the
                    # wait its server asked for.
                    _FEEDS.c.consecutive_errors > 0,
                    _FEEDS.c.last_status.in_((429, 503)),
                    _FEEDS.c.wait_asked_by.is_not(None),
                    _FEEDS.c.wait_asked_until > now,  # never after next_poll_at
                )
            )
            return [_state(row) for row in rows]

    def put_off_polls(self, feed_ids: Sequence[int], until: datetime) -> None:
        """Put the next poll of each of ``feed_ids`` off to ``until`` (a host's Retry-After);
        one already due later keeps its time, and none is ever brought forward."""
        if not feed_ids:
            return
        with self.engine.begin() as connection:
            connection.execute(
                update(_FEEDS)
                .where(
                    _FEEDS.c.id.in_(feed_ids),
                    or_(_FEEDS.c.next_poll_at.is_(None), _FEEDS.c.next_poll_at < until),
                )
                .values(next_poll_at=until)
            )

    def enable_feed(self, url: str) -> FeedState | None:
        """Lift a 410's disabling of the feed configured at ``url`` (or moved to it): it is polled
        at the next cycle, from its configured address. None when no stored feed has that URL."""
        with self.transaction() as session:
            row = session.scalars(
                select(FeedRow).where(or_(FeedRow.url == url, FeedRow.current_url == url))
            ).first()
            if row is None:
                return None
            row.disabled_reason = None
            row.consecutive_errors = 0
            row.next_poll_at = None
            row.current_url = None
            row.wait_asked_by = None
            row.wait_asked_until = None
            return _state(row)


@dataclass(frozen=True, slots=True)
class UnchangedFetch:
    """A poll that found its feed unchanged (a 304, or the document stored last time)."""

    feed_id: int
    result: FetchResult
    now: datetime
    next_poll_at: datetime | None
    entries_per_day: float | None


def _fetch_values(
    result: FetchResult,
    now: datetime,
    next_poll_at: datetime | None,
    entries_per_day: float | None,
    new_entries: int = 0,
    parsed: ParsedFeed | None = None,
    content_hash: str | None = None,
) -> dict[str, Any]:
    """The columns a successful poll sets (see ``FeedStore.record_fetch``)."""
    values: dict[str, Any] = {
        "last_fetched_at": now,
        "last_status": result.status,
        "last_error": None,
        "consecutive_errors": 0,
        "next_poll_at": next_poll_at,
        "entries_per_day": entries_per_day,
        "wait_asked_by": None,  # the server answered: whatever wait it asked for is over
        "wait_asked_until": None,
    }
    if new_entries:
        values["last_new_entry_at"] = now
    if result.permanent_redirect is not None:
        # Only a 301/308 moves the feed; a 302/307 leaves the address we fetch from alone.
        values["current_url"] = result.permanent_redirect
    if not result.not_modified:
        values["etag"] = result.etag
        values["last_modified"] = result.last_modified
    else:
        # A 304 may carry fresher validators; keep what it sent, else what we had.
        if result.etag:
            values["etag"] = result.etag
        if result.last_modified:
            values["last_modified"] = result.last_modified
    if parsed is not None:
        if parsed.title:
            values["title"] = parsed.title
        if parsed.link:
            values["link"] = parsed.link
        values["parse_warning"] = parsed.warning
    if content_hash is not None:
        values["content_hash"] = content_hash
    return values


def _parameters(feed_id: int, values: dict[str, Any]) -> dict[str, Any]:
    return {"b_id": feed_id, **{f"b_{column}": value for column, value in values.items()}}


@cache
def _record_statement(columns: frozenset[str]) -> Update:
    """The UPDATE of ``record_fetch`` for one set of columns, built once (bound parameters)."""
    values: dict[str, Any] = {column: bindparam(f"b_{column}") for column in columns}
    if "current_url" in columns:
        # Moving back to the configured address clears the move.
        target: Any = bindparam("b_current_url")
        values["current_url"] = case((_FEEDS.c.url == target, None), else_=target)
    return update(_FEEDS).where(_FEEDS.c.id == bindparam("b_id")).values(values)
