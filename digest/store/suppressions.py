"""Addresses suppressed for every list, and the marks of the operator's files already read.

A suppression is kept under the address's key (an HMAC of it under the service's secret, see
digest.addresses), and with the address itself until its owner asks to be forgotten: then only
the key is left, enough to refuse the address at any import, never enough to mail it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.addresses import mailbox_key
from digest.store.base import StoreBase, chunks
from digest.store.schema import (
    FileMarkRow,
    SubscriberRow,
    SubscriptionChangeRow,
    SubscriptionRow,
    SuppressionRow,
)
from digest.store.subscribers import CONFIRMED, FORGOTTEN, IMPORT, UNSUBSCRIBED, check_channel

REASONS = ("hard-bounce", "complaint", "operator", "forgotten")
# The file mark that holds the check of the secret key the address keys and links are made with:
# the key is an operator's file too (data_dir/secret_key), or DIGEST_SECRET_KEY.
SECRET_KEY_MARK = "secret-key"  # noqa: S105 (a row's name, not a key)
# How long a transaction may stay open and still have its unsubscribes copied to the file.
SETTLE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Suppression:
    email: str | None  # None once forgotten
    reason: str
    channel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FileMark:
    digest: str | None
    size: int
    notes: tuple[str, ...]  # what the file's last import said
    history_upto: int
    suppressions_upto: int
    copied: tuple[str, ...] = ()  # rows after those ids already copied: "h<id>", "s<id>"


@dataclass(frozen=True, slots=True)
class ChangesToCopy:
    """What the database recorded since the suppression file was last written: its lines, and
    the ids to mark as copied."""

    lines: list[tuple[str, str, str, datetime]]  # (email, list slug or "", reason, when)
    history_upto: int
    suppressions_upto: int
    copied: tuple[str, ...]  # rows past the ids above that are copied: "h<id>", "s<id>"


def check_reason(reason: str) -> str:
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}: one of {', '.join(REASONS)}")
    return reason


class SuppressionStore(StoreBase):
    def suppress(
        self,
        email: str,
        address_key: Callable[[str], str],
        reason: str,
        channel: str,
        now: datetime,
    ) -> bool:
        """Suppress an address for every list, kept under its key and its mailbox's (both made
        by ``address_key``, digest.addresses: a sign-up form is refused for any spelling of
        the same mailbox); False when it was suppressed already (a forgotten one stays
        forgotten)."""
        check_reason(reason)
        check_channel(channel)
        key = address_key(email)
        with self.transaction() as session:
            found = session.scalar(
                select(SuppressionRow.id).where(SuppressionRow.address_key == key)
            )
            if found is not None:
                return False
            session.execute(
                insert(SuppressionRow),
                [
                    {
                        "address_key": key,
                        "mailbox_key": mailbox_key(address_key, email),
                        "email": email.lower(),
                        "reason": reason,
                        "channel": channel,
                        "at": now,
                    }
                ],
            )
            return True

    def suppression(self, key: str) -> Suppression | None:
        with self.transaction() as session:
            row = session.execute(
                select(
                    SuppressionRow.email,
                    SuppressionRow.reason,
                    SuppressionRow.channel,
                    SuppressionRow.at,
                ).where(SuppressionRow.address_key == key)
            ).first()
            return Suppression(*row) if row is not None else None

    def suppressions(self) -> list[Suppression]:
        """Every suppression, oldest first (forgotten ones without their address)."""
        with self.transaction() as session:
            return [
                Suppression(*row)
                for row in session.execute(
                    select(
                        SuppressionRow.email,
                        SuppressionRow.reason,
                        SuppressionRow.channel,
                        SuppressionRow.at,
                    ).order_by(SuppressionRow.at, SuppressionRow.id)
                )
            ]

    # The marks of files read ------------------------------------------------------------------

    def file_mark(self, name: str) -> FileMark | None:
        with self.transaction() as session:
            row = session.get(FileMarkRow, name)
            if row is None:
                return None
            notes = tuple(row.notes.splitlines()) if row.notes else ()
            copied = tuple(row.copied.split(",")) if row.copied else ()
            return FileMark(
                row.digest, row.size, notes, row.history_upto, row.suppressions_upto, copied
            )

    def set_file_mark(
        self,
        name: str,
        digest: str | None,
        now: datetime,
        *,
        size: int = 0,
        notes: tuple[str, ...] = (),
        history_upto: int | None = None,
        suppressions_upto: int | None = None,
        copied: tuple[str, ...] | None = None,
    ) -> None:
        with self.transaction() as session:
            row = _file_mark_row(session, name)
            row.digest, row.size, row.at = digest, size, now
            row.notes = "\n".join(note.replace("\n", " ") for note in notes) or None
            if history_upto is not None:
                row.history_upto = history_upto
            if suppressions_upto is not None:
                row.suppressions_upto = suppressions_upto
            if copied is not None:
                row.copied = ",".join(copied) or None

    def secret_key_check(self) -> str | None:
        """The check (``digest.mail.tokens.secret_check``) of the secret key the database is
        used with; None before one is recorded (a new database, or one from before the check
        was kept)."""
        known = self.file_mark(SECRET_KEY_MARK)
        return known.digest if known is not None else None

    def record_secret_key(self, check: str, now: datetime) -> str:
        """Record ``check`` as the secret key's when none is yet; the one recorded."""
        try:
            with self.transaction() as session:
                session.add(FileMarkRow(name=SECRET_KEY_MARK, digest=check, size=0, at=now))
        except IntegrityError:  # another process recorded its key first: theirs is the one
            pass
        recorded = self.secret_key_check()
        assert recorded is not None
        return recorded

    def forgotten_count(self) -> int:
        """How many addresses are kept only as their keys (their owners asked to be forgotten)."""
        with self.transaction() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(SuppressionRow)
                    .where(SuppressionRow.email.is_(None))
                )
                or 0
            )

    def adopt_secret_key(self, check: str, now: datetime, address_key: Callable[[str], str]) -> int:
        """Record ``check`` as the secret key's from now on: the operator changed it on purpose.
        The suppressions whose address is kept are keyed anew with the new key's
        ``address_key`` in the same transaction, so that an import or a sign-up form still
        finds them; the forgotten ones cannot be (their address is gone). How many were keyed
        anew."""
        with self.transaction() as session:
            keyed = _key_suppressions(session, address_key, every=True)
            mark = _file_mark_row(session, SECRET_KEY_MARK)
            mark.digest, mark.size, mark.at = check, 0, now
        return keyed

    def key_suppressions(self, address_key: Callable[[str], str]) -> int:
        """Give each suppression whose address is kept and has no mailbox key yet (kept before
        there was one, or by a path that had no key function) its mailbox's key; how many."""
        with self.transaction() as session:
            return _key_suppressions(session, address_key, every=False)

    def unsubscribes_now(self) -> list[tuple[str, str, str, datetime]]:
        """Every unsubscribed membership and suppression, as lines of the suppression file
        (those that came from a file, and forgotten addresses, left out), oldest first."""
        with self.transaction() as session:
            lines: list[tuple[str, str, str, datetime]] = [
                (email, slug, channel, at)
                for email, slug, channel, at in session.execute(
                    select(
                        SubscriberRow.email,
                        SubscriptionRow.list_slug,
                        SubscriptionRow.channel,
                        SubscriptionRow.changed_at,
                    )
                    .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
                    .where(
                        SubscriptionRow.status == UNSUBSCRIBED,
                        SubscriptionRow.channel != IMPORT,
                        SubscriberRow.set_by != FORGOTTEN,
                    )
                    .order_by(SubscriptionRow.changed_at, SubscriptionRow.id)
                )
            ]
            lines += [
                (address or "", "", reason, at)
                for address, reason, at in session.execute(
                    select(SuppressionRow.email, SuppressionRow.reason, SuppressionRow.at)
                    .where(SuppressionRow.email.is_not(None), SuppressionRow.channel != IMPORT)
                    .order_by(SuppressionRow.at, SuppressionRow.id)
                )
            ]
        return lines

    def changes_to_copy(self, mark: FileMark | None, now: datetime) -> ChangesToCopy:
        """The unsubscribes and suppressions recorded since ``mark``, as lines of the
        suppression file; those that came from a file (channel "import"), whose address was
        forgotten, or of a reader who confirmed the list again since, are left out.

        Ids are handed out before commit: on PostgreSQL a transaction may commit a row with a
        smaller id after a larger one was read. So the mark's ids only pass rows older than
        ``SETTLE``; the newer ones already copied are named in the mark, not copied twice.
        """
        history_after = mark.history_upto if mark else 0
        suppressions_after = mark.suppressions_upto if mark else 0
        done = set(mark.copied) if mark else set()
        settled = now - SETTLE
        with self.transaction() as session:
            history_upto = session.scalar(
                select(func.max(SubscriptionChangeRow.id)).where(
                    SubscriptionChangeRow.id > history_after, SubscriptionChangeRow.at <= settled
                )
            )
            suppressions_upto = session.scalar(
                select(func.max(SuppressionRow.id)).where(
                    SuppressionRow.id > suppressions_after, SuppressionRow.at <= settled
                )
            )
            history = _unsubscribes_after(session, history_after)
            suppressions = _suppressions_after(session, suppressions_after)
        history_upto = history_upto or history_after
        suppressions_upto = suppressions_upto or suppressions_after
        lines: list[tuple[str, str, str, datetime]] = []
        copied: list[str] = []
        for row_id, email, slug, channel, at, status_now, changed_at in history:
            # A reader who confirmed a sign-up since has their "sign-up" line in the file
            # already, written at once: the older unsubscribe, appended after it, would read
            # as their last word and unsubscribe them again when the file is read back.
            returned = status_now == CONFIRMED and changed_at is not None and changed_at > at
            if f"h{row_id}" not in done and not returned:
                lines.append((email, slug, channel, at))
            if row_id > history_upto:
                copied.append(f"h{row_id}")
        for row_id, address, reason, at in suppressions:
            if f"s{row_id}" not in done:
                lines.append((address or "", "", reason, at))
            if row_id > suppressions_upto:
                copied.append(f"s{row_id}")
        return ChangesToCopy(lines, history_upto, suppressions_upto, tuple(copied))


def _unsubscribes_after(
    session: Session, after: int
) -> Sequence[Row[int, str, str, str, datetime, str, datetime]]:
    """Each unsubscribe recorded after history row ``after`` that the file takes (none from a
    file, none of an address forgotten), with the membership's state now."""
    return session.execute(
        select(
            SubscriptionChangeRow.id,
            SubscriberRow.email,
            SubscriptionChangeRow.list_slug,
            SubscriptionChangeRow.channel,
            SubscriptionChangeRow.at,
            SubscriptionRow.status,
            SubscriptionRow.changed_at,
        )
        .join(SubscriberRow, SubscriberRow.id == SubscriptionChangeRow.subscriber_id)
        .outerjoin(
            SubscriptionRow,
            and_(
                SubscriptionRow.subscriber_id == SubscriptionChangeRow.subscriber_id,
                SubscriptionRow.list_slug == SubscriptionChangeRow.list_slug,
            ),
        )
        .where(
            SubscriptionChangeRow.id > after,
            SubscriptionChangeRow.to_status == UNSUBSCRIBED,
            SubscriptionChangeRow.channel != IMPORT,
            SubscriberRow.set_by != FORGOTTEN,
        )
        .order_by(SubscriptionChangeRow.id)
    ).all()


def _file_mark_row(session: Session, name: str) -> FileMarkRow:
    """The mark named ``name``, made (and added to ``session``) when there is none yet."""
    row = session.get(FileMarkRow, name)
    if row is None:
        row = FileMarkRow(name=name, history_upto=0, suppressions_upto=0)
        session.add(row)
    return row


def _key_suppressions(session: Session, address_key: Callable[[str], str], *, every: bool) -> int:
    """``key_suppressions``, or with ``every`` both keys of every kept address made anew."""
    kept = select(SuppressionRow.id, SuppressionRow.email, SuppressionRow.address_key).where(
        SuppressionRow.email.is_not(None)
    )
    if not every:
        kept = kept.where(SuppressionRow.mailbox_key.is_(None))
    changes: list[dict[str, Any]] = []
    for row_id, email, key in session.execute(kept.order_by(SuppressionRow.id)):
        assert email is not None  # the query keeps none without
        new_key = address_key(email) if every else key
        changes.append(
            {"row_id": row_id, "key": new_key, "mailbox": mailbox_key(address_key, email)}
        )
    if every:
        _merge_rows_of_one_key(session, changes)
    if changes:
        statement = update(SuppressionRow).where(SuppressionRow.id == bindparam("row_id"))
        values: dict[str, Any] = {
            "address_key": bindparam("key"),
            "mailbox_key": bindparam("mailbox"),
        }
        session.connection().execute(statement.values(values), changes)
    return len(changes)


# Which of an address's suppressions says most, when two are merged: the reader's own word,
# then their server's, then the operator's. "forgotten" only stands when no address is kept.
_STRENGTH = {"complaint": 3, "hard-bounce": 2, "operator": 1, FORGOTTEN: 0}


def _merge_rows_of_one_key(session: Session, changes: list[dict[str, Any]]) -> None:
    """Make the rows that ``changes`` would give one key (an address suppressed under each of
    two secret keys: A -> B -> A, or a machine still on the old key meanwhile) one row, so that
    the unique key takes the re-keying: the earliest row is kept, with the earliest date and
    the strongest reason and its channel, and its address; the others are deleted, and dropped
    from ``changes``. A forgotten row (not re-keyed: its address is gone) that holds a new key
    is merged too."""
    by_key: dict[str, list[int]] = {}
    for change in changes:
        by_key.setdefault(change["key"], []).append(change["row_id"])
    holders = [
        (row_id, key)
        for chunk in chunks(list(by_key))
        for row_id, key in session.execute(
            select(SuppressionRow.id, SuppressionRow.address_key).where(
                SuppressionRow.address_key.in_(chunk)
            )
        )
    ]
    for row_id, key in holders:  # rows whose key is another's new one: forgotten ones
        if row_id not in by_key[key]:
            by_key[key].append(row_id)
    merged = [ids for ids in by_key.values() if len(ids) > 1]
    if not merged:
        return
    gone: set[int] = set()
    for ids in merged:
        rows = session.execute(
            select(
                SuppressionRow.id,
                SuppressionRow.email,
                SuppressionRow.reason,
                SuppressionRow.channel,
                SuppressionRow.at,
            ).where(SuppressionRow.id.in_(ids))
        ).all()
        first = min(rows, key=lambda row: (row.at, row.id))
        strongest = max(rows, key=lambda row: (_STRENGTH.get(row.reason, 0), -row.id))
        email = next(row.email for row in rows if row.email is not None)
        others = [row.id for row in rows if row.id != first.id]
        session.execute(delete(SuppressionRow).where(SuppressionRow.id.in_(others)))
        session.execute(
            update(SuppressionRow)
            .where(SuppressionRow.id == first.id)
            .values(email=email, reason=strongest.reason, channel=strongest.channel)
        )
        gone.update(others)
        # The kept row takes the key and mailbox key made anew (it may be a forgotten row,
        # which had no change of its own).
        made = next(change for change in changes if change["row_id"] in ids)
        made["row_id"] = first.id
    changes[:] = [change for change in changes if change["row_id"] not in gone]


def _suppressions_after(
    session: Session, after: int
) -> Sequence[Row[int, str | None, str, datetime]]:
    """Each suppression of an address recorded after row ``after``, but those from a file."""
    return session.execute(
        select(
            SuppressionRow.id,
            SuppressionRow.email,
            SuppressionRow.reason,
            SuppressionRow.at,
        )
        .where(
            SuppressionRow.id > after,
            SuppressionRow.email.is_not(None),
            SuppressionRow.channel != IMPORT,
        )
        .order_by(SuppressionRow.id)
    ).all()
