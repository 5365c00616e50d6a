"""Importing a subscriber file into a list: every row checked against suppressions and the
list's history, then one batch of statements per kind of change, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from digest.store.base import StoreBase, chunks
from digest.store.schema import SubscriberRow, SubscriptionChangeRow, SubscriptionRow
from digest.store.subscribers import (
    CONFIRMED,
    FORGOTTEN,
    IMPORT,
    PENDING,
    SET_BY_IMPORT,
    UNSUBSCRIBED,
    SubscriberInput,
    history_row,
    insert_subscribers,
    memberships_in_list,
    subscribers_by_email,
    suppressions_by_key,
)

# Addresses an import looks up and writes at a time: 5,000 readers' lookups and parameters are
# a few megabytes; a whole file's were 2 KB a reader (200,000 readers, 440 MB).
IMPORT_SLICE = 5_000


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: readers added to the list, updated, left as they were, refused."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_choices: int = 0  # names or timezones the reader chose, which the file did not change
    refused: tuple[tuple[int, str], ...] = ()  # (line, why): bad or duplicate rows
    pending: int = 0  # of the added: waiting for their confirmation
    # (line, why): readers who unsubscribed from the list, addresses suppressed or forgotten.
    kept_out: tuple[tuple[int, str], ...] = ()


@dataclass
class _Plan:
    """What an import will write, gathered before one batch of statements per kind."""

    new_members: list[dict[str, Any]] = field(default_factory=list)
    confirms: list[dict[str, Any]] = field(default_factory=list)
    renames: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


_CONFIRM = (
    update(SubscriptionRow)
    .where(SubscriptionRow.id == bindparam("membership"), SubscriptionRow.status == PENDING)
    .values(status=CONFIRMED, channel=IMPORT, changed_at=bindparam("now"))
)
_RENAME = (
    update(SubscriberRow)
    .where(SubscriberRow.id == bindparam("subscriber"), SubscriberRow.set_by == SET_BY_IMPORT)
    .values(name=bindparam("new_name"), timezone=bindparam("new_timezone"))
)


class SubscriberImportStore(StoreBase):
    def import_members(
        self,
        list_slug: str,
        rows: Sequence[SubscriberInput],
        now: datetime,
        *,
        confirmed: bool,
        address_key: Callable[[str], str],
        former_slugs: Sequence[str] = (),
    ) -> ImportReport:
        """Add ``rows`` to the list, in one transaction: new readers as confirmed (the operator
        vouches) or pending; pending ones confirmed when ``confirmed``, but for a row whose
        ``status`` (an export's) says pending or unsubscribed, which is kept; names and timezones
        updated where the file gives one and the reader never chose their own; a row's
        ``topics`` (an export's) given to the membership it makes, never to one the reader has
        (only the reader changes their choice).

        Refused, each with its line and why: an address suppressed for every list or forgotten
        (``address_key`` gives the key suppressions are kept under), a reader who unsubscribed
        from this list (an import never resubscribes), the same address twice. A reader who
        unsubscribed and is pending again (anyone's form can sign them up) is theirs to
        confirm, not the file's: left alone as an unsubscribed one, their history read under
        the list's slug and ``former_slugs``.
        """
        refused: list[tuple[int, str]] = []
        wanted: dict[str, SubscriberInput] = {}
        for row in rows:
            email = row.email.lower()
            if email in wanted:
                refused.append((row.line, f"duplicate email {row.email!r} in the file"))
            else:
                wanted[email] = row
        tally = _Tally()
        with self.transaction() as session:
            connection = session.connection()
            # A slice at a time, in the one transaction: what an import holds besides the rows
            # (lookups, the statements' parameters) is a slice's, for a file of any size.
            for emails in chunks(list(wanted), IMPORT_SLICE):
                _import_slice(
                    connection,
                    list_slug,
                    {email: wanted[email] for email in emails},
                    now,
                    confirmed=confirmed,
                    address_key=address_key,
                    tally=tally,
                    history_slugs=(list_slug, *former_slugs),
                )
        return ImportReport(
            tally.added,
            tally.updated,
            tally.unchanged,
            tally.kept,
            tuple(sorted(refused)),
            tally.pending,
            tuple(sorted(tally.kept_out)),
        )


@dataclass
class _Tally:
    """What the slices of an import did, added up."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    pending: int = 0
    kept_out: list[tuple[int, str]] = field(default_factory=list)


def _import_slice(
    connection: Connection,
    list_slug: str,
    wanted: dict[str, SubscriberInput],
    now: datetime,
    *,
    confirmed: bool,
    address_key: Callable[[str], str],
    tally: _Tally,
    history_slugs: Sequence[str],
) -> None:
    """``import_members`` for some of the file's addresses (lowercased, each once)."""
    kept_out = tally.kept_out
    suppressed = suppressions_by_key(connection, {address_key(email): email for email in wanted})
    for email, (reason, at) in suppressed.items():
        kept_out.append((wanted.pop(email).line, _suppressed_why(reason, at)))
    existing = subscribers_by_email(connection, list(wanted))
    new = {email for email in wanted if email not in existing}
    existing.update(insert_subscribers(connection, [wanted[e] for e in wanted if e in new], now))
    ids = {existing[email][0]: email for email in wanted}
    memberships = memberships_in_list(connection, list_slug, list(ids))
    # The pending who left before: a stranger's form makes an unsubscribed reader pending, and
    # confirming them here gave that stranger, with any edit of the file, the reader back.
    waiting = [subscriber for subscriber, held in memberships.items() if held[1] == PENDING]
    left = _last_unsubscribes(connection, history_slugs, waiting)
    plan = _Plan()
    added = updated = unchanged = kept = pending = 0
    status_new = CONFIRMED if confirmed else PENDING
    for email, row in wanted.items():
        subscriber_id, name, timezone, set_by = existing[email]
        membership = memberships.get(subscriber_id)
        if membership is not None and membership[1] == UNSUBSCRIBED and row.status != UNSUBSCRIBED:
            # Left alone, name and all: the reader's word is final.
            kept_out.append((row.line, _unsubscribed_why(list_slug, *membership[2:])))
            continue
        if subscriber_id in left:
            kept_out.append((row.line, _pending_again_why(list_slug, *left[subscriber_id])))
            continue
        renamed = email not in new and _renames(row, name, timezone)
        if renamed and set_by != SET_BY_IMPORT:
            kept += 1
            renamed = False
        elif renamed:
            plan.renames.append(
                {
                    "subscriber": subscriber_id,
                    "new_name": row.name or name,
                    "new_timezone": row.timezone or timezone,
                }
            )
        # An export's "pending" is a reader who never confirmed (their sign-up mail
        # unanswered): vouching for the file confirms the rest, never them.
        confirms = confirmed and row.status not in (UNSUBSCRIBED, PENDING)
        if membership is None:
            after = status_new
            if row.status in (UNSUBSCRIBED, PENDING):
                after = row.status
            plan.new_members.append(
                {
                    "subscriber_id": subscriber_id,
                    "list_slug": list_slug,
                    "status": after,
                    "channel": IMPORT,
                    "changed_at": now,
                    "topics": sorted(row.topics) if row.topics is not None else None,
                }
            )
            plan.history.append(history_row(subscriber_id, list_slug, None, after, now))
            added += 1
            pending += after == PENDING
        elif membership[1] == PENDING and confirms:
            plan.confirms.append({"membership": membership[0], "now": now})
            plan.history.append(history_row(subscriber_id, list_slug, PENDING, CONFIRMED, now))
            updated += 1
        elif renamed:
            updated += 1
        else:
            unchanged += 1
    _write(connection, plan)
    tally.added += added
    tally.updated += updated
    tally.unchanged += unchanged
    tally.kept += kept
    tally.pending += pending


def _renames(row: SubscriberInput, name: str | None, timezone: str | None) -> bool:
    """Whether the file changes the name or timezone: a blank in the file erases nothing."""
    return bool(
        (row.name is not None and row.name != name)
        or (row.timezone is not None and row.timezone != timezone)
    )


def _write(connection: Connection, plan: _Plan) -> None:
    """One executemany per kind of row the import changes."""
    if plan.renames:
        connection.execute(_RENAME, plan.renames)
    if plan.new_members:
        connection.execute(insert(SubscriptionRow.__table__), plan.new_members)  # type: ignore[arg-type]
    if plan.confirms:
        connection.execute(_CONFIRM, plan.confirms)
    if plan.history:
        connection.execute(insert(SubscriptionChangeRow.__table__), plan.history)  # type: ignore[arg-type]


def _suppressed_why(reason: str, at: datetime) -> str:
    if reason == FORGOTTEN:
        return (
            f"this address was forgotten at its owner's request on {at:%Y-%m-%d} "
            "(digest subscribers forget): it is never imported or mailed again"
        )
    return (
        f"suppressed for every list ({reason}, {at:%Y-%m-%d}): not imported; "
        "see digest subscribers list"
    )


def _last_unsubscribes(
    connection: Connection, list_slugs: Sequence[str], subscriber_ids: Sequence[int]
) -> dict[int, tuple[str, datetime]]:
    """subscriber id -> (channel, time) of their last unsubscribe from the list, under any of
    ``list_slugs``, for those of ``subscriber_ids`` whose history holds one."""
    found: dict[int, tuple[str, datetime]] = {}
    for chunk in chunks(subscriber_ids):
        for subscriber_id, channel, at in connection.execute(
            select(
                SubscriptionChangeRow.subscriber_id,
                SubscriptionChangeRow.channel,
                SubscriptionChangeRow.at,
            )
            .where(
                SubscriptionChangeRow.subscriber_id.in_(chunk),
                SubscriptionChangeRow.list_slug.in_(list_slugs),
                SubscriptionChangeRow.to_status == UNSUBSCRIBED,
            )
            .order_by(SubscriptionChangeRow.id)
        ):
            found[subscriber_id] = (channel, at)
    return found


def _pending_again_why(list_slug: str, channel: str, at: datetime) -> str:
    return (
        f"unsubscribed from list {list_slug!r} on {at:%Y-%m-%d} ({channel}) and signed up again "
        "since, not yet confirmed: an import never resubscribes a reader; only the link of "
        "their confirmation mail does"
    )


def _unsubscribed_why(list_slug: str, channel: str, at: datetime) -> str:
    return (
        f"unsubscribed from list {list_slug!r} on {at:%Y-%m-%d} ({channel}): an import never "
        "resubscribes a reader; they can sign up again themselves"
    )
