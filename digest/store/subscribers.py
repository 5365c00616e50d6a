"""Subscribers and their list memberships: each (subscriber, list) and its every change.

    (none) ──import / sign-up──► pending ──sign-up (its mail's button) / import --confirmed──►
                                   ▲  │                                                confirmed
                 sign-up again ────┘  └──────── any channel ──► unsubscribed ◄──────────────┘
                 (from unsubscribed)

A membership records the channel and time of its last change; each change is also appended to
``subscription_history``. An import adds and confirms, never unsubscribes and never undoes an
unsubscribe; only the reader (signing up again) leaves ``unsubscribed``. Only confirmed members
whose address is not suppressed (digest.store.suppressions) are queued and sent (invariant 8).

Imports work in batches of plain rows (Core executemany), never one ORM object per reader, and
look addresses up ``CHUNK`` at a time: SQLite caps the bound parameters of one statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from digest.records import Subscriber
from digest.store.base import StoreBase
from digest.store.schema import (
    SubscriberRow,
    SubscriptionChangeRow,
    SubscriptionRow,
    SuppressionRow,
)

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"
STATUSES = (PENDING, CONFIRMED, UNSUBSCRIBED)

# How a change came: the reader's own channels, the mail system's, the operator's, a file.
CHANNELS = (
    "sign-up",  # the sign-up form (to pending) and its confirmation mail's button (to confirmed)
    "form",
    "confirm-page",
    "one-click",
    "unsubscribe-page",
    "preferences",  # the reader left a list on their preferences page
    "mailto",
    "bounce",
    "complaint",
    "operator",
    "import",
)
IMPORT = "import"
SIGN_UP = "sign-up"
UNRECORDED = "unrecorded"  # an unsubscribe from before migration 0007, which kept no channel

# Who set a subscriber's name and timezone last (SubscriberRow.set_by).
SET_BY_IMPORT = "import"  # a later import may change them
SET_BY_READER = "reader"  # the reader's own choice: no import overwrites it
SET_BY_OPERATOR = "operator"
FORGOTTEN = "forgotten"  # personal data erased (digest.privacy)

CHUNK = 500  # addresses or ids per lookup: well under SQLite's bound-parameter cap


@dataclass(frozen=True, slots=True)
class SubscriberInput:
    """One row to import: a checked, normalized address, and what the file says of them."""

    email: str
    name: str | None = None
    timezone: str | None = None
    line: int = 0  # in the file, for the report
    status: str | None = None  # a status column (an export read back): "unsubscribed" is kept


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


# The statements of a membership's change, built once: a one-click unsubscribe is one of them
# per request, and building a statement costs more than SQLite takes to run it.
_MEMBERSHIP = select(SubscriptionRow.id, SubscriptionRow.status, SubscriptionRow.changed_at).where(
    SubscriptionRow.subscriber_id == bindparam("member"),
    SubscriptionRow.list_slug == bindparam("slug"),
)
_MOVE = (
    update(SubscriptionRow)
    .where(
        SubscriptionRow.id == bindparam("membership"), SubscriptionRow.status == bindparam("was")
    )
    .values(status=bindparam("becomes"), channel=bindparam("by"), changed_at=bindparam("at"))
)
_EMAIL = select(SubscriberRow.email).where(SubscriberRow.id == bindparam("member"))


@dataclass(frozen=True, slots=True)
class SignUp:
    """What a sign-up did: the subscriber it is about (None when the address is suppressed),
    the membership's status before (None when new) and after. A confirmation mail is due only
    when the membership is pending now."""

    subscriber_id: int | None
    before: str | None
    after: str | None

    @property
    def wants_confirmation(self) -> bool:
        return self.subscriber_id is not None and self.after == PENDING


@dataclass(frozen=True, slots=True)
class Change:
    """One transition of a membership: ``before`` is None when it was new."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True, slots=True)
class Membership:
    """A membership as the operator's commands show it."""

    email: str
    name: str | None
    timezone: str | None
    list_slug: str
    status: str
    channel: str
    changed_at: datetime
    suppressed: str | None = None  # the suppression's reason, when the address has one

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "timezone": self.timezone,
            "list": self.list_slug,
            "status": self.status,
            "channel": self.channel,
            "changed_at": self.changed_at.isoformat(),
            "suppressed": self.suppressed,
        }


@dataclass
class _Plan:
    """What an import will write, gathered before one batch of statements per kind."""

    new_members: list[dict[str, Any]] = field(default_factory=list)
    confirms: list[dict[str, Any]] = field(default_factory=list)
    renames: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _suppressed_of(address: Any) -> Any:
    """The reason of the suppression of ``address`` (a lowercased address column), or NULL."""
    return (
        select(SuppressionRow.reason)
        .where(SuppressionRow.email == address)
        .limit(1)
        .scalar_subquery()
    )


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    return channel


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


class SubscriberStore(StoreBase):
    # Imports -----------------------------------------------------------------------------------

    def import_members(
        self,
        list_slug: str,
        rows: Sequence[SubscriberInput],
        now: datetime,
        *,
        confirmed: bool,
        address_key: Callable[[str], str],
    ) -> ImportReport:
        """Add ``rows`` to the list, in one transaction: new readers as confirmed (the operator
        vouches) or pending; pending ones confirmed when ``confirmed``; names and timezones
        updated where the file gives one and the reader never chose their own.

        Refused, each with its line and why: an address suppressed for every list or forgotten
        (``address_key`` gives the key suppressions are kept under), a reader who unsubscribed
        from this list (an import never resubscribes), the same address twice.
        """
        refused: list[tuple[int, str]] = []
        kept_out: list[tuple[int, str]] = []
        wanted: dict[str, SubscriberInput] = {}
        for row in rows:
            email = row.email.lower()
            if email in wanted:
                refused.append((row.line, f"duplicate email {row.email!r} in the file"))
            else:
                wanted[email] = row
        with self.transaction() as session:
            connection = session.connection()
            suppressed = self._suppressions_by_key(
                connection, {address_key(email): email for email in wanted}
            )
            for email, (reason, at) in suppressed.items():
                kept_out.append((wanted.pop(email).line, _suppressed_why(reason, at)))
            existing = self._subscribers_by_email(connection, list(wanted))
            new = {email for email in wanted if email not in existing}
            existing.update(
                self._insert_subscribers(connection, [wanted[e] for e in wanted if e in new], now)
            )
            ids = {existing[email][0]: email for email in wanted}
            memberships = self._memberships_of(connection, list_slug, list(ids))
            plan = _Plan()
            added = updated = unchanged = kept = pending = 0
            status_new = CONFIRMED if confirmed else PENDING
            for email, row in wanted.items():
                subscriber_id, name, timezone, set_by = existing[email]
                membership = memberships.get(subscriber_id)
                if (
                    membership is not None
                    and membership[1] == UNSUBSCRIBED
                    and row.status != UNSUBSCRIBED
                ):
                    # Left alone, name and all: the reader's word is final.
                    kept_out.append((row.line, _unsubscribed_why(list_slug, *membership[2:])))
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
                if membership is None:
                    after = UNSUBSCRIBED if row.status == UNSUBSCRIBED else status_new
                    plan.new_members.append(
                        {
                            "subscriber_id": subscriber_id,
                            "list_slug": list_slug,
                            "status": after,
                            "channel": IMPORT,
                            "changed_at": now,
                        }
                    )
                    plan.history.append(_history(subscriber_id, list_slug, None, after, now))
                    added += 1
                    pending += after == PENDING
                elif membership[1] == PENDING and confirmed and row.status != UNSUBSCRIBED:
                    plan.confirms.append({"membership": membership[0], "now": now})
                    plan.history.append(_history(subscriber_id, list_slug, PENDING, CONFIRMED, now))
                    updated += 1
                elif renamed:
                    updated += 1
                else:
                    unchanged += 1
            _write(connection, plan)
        return ImportReport(
            added,
            updated,
            unchanged,
            kept,
            tuple(sorted(refused)),
            pending,
            tuple(sorted(kept_out)),
        )

    def _suppressions_by_key(
        self, connection: Connection, emails_by_key: dict[str, str]
    ) -> dict[str, tuple[str, datetime]]:
        """The suppressed among the addresses (by their keys): address -> (reason, when)."""
        found: dict[str, tuple[str, datetime]] = {}
        for keys in _chunks(list(emails_by_key)):
            for key, reason, at in connection.execute(
                select(SuppressionRow.address_key, SuppressionRow.reason, SuppressionRow.at).where(
                    SuppressionRow.address_key.in_(keys)
                )
            ):
                found[emails_by_key[key]] = (reason, at)
        return found

    def _subscribers_by_email(
        self, connection: Connection, emails: Sequence[str]
    ) -> dict[str, tuple[int, str | None, str | None, str]]:
        """The subscribers of these lowercased addresses: address -> (id, name, tz, set_by)."""
        found: dict[str, tuple[int, str | None, str | None, str]] = {}
        for chunk in _chunks(emails):
            for subscriber_id, email, name, timezone, set_by in connection.execute(
                select(
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                    SubscriberRow.set_by,
                ).where(func.lower(SubscriberRow.email).in_(chunk))
            ):
                found.setdefault(email.lower(), (subscriber_id, name, timezone, set_by))
        return found

    def _insert_subscribers(
        self, connection: Connection, rows: Sequence[SubscriberInput], now: datetime
    ) -> dict[str, tuple[int, str | None, str | None, str]]:
        """Insert new subscribers in one executemany, then read their ids back ``CHUNK`` at a
        time (an executemany with RETURNING runs a statement per row on SQLite)."""
        if not rows:
            return {}
        connection.execute(
            insert(SubscriberRow.__table__),  # type: ignore[arg-type]
            [
                {
                    "email": row.email,
                    "name": row.name,
                    "timezone": row.timezone,
                    "created_at": now,
                    "set_by": SET_BY_IMPORT,
                }
                for row in rows
            ],
        )
        return self._subscribers_by_email(connection, [row.email.lower() for row in rows])

    def _memberships_of(
        self, connection: Connection, list_slug: str, subscriber_ids: Sequence[int]
    ) -> dict[int, tuple[int, str, str, datetime]]:
        """subscriber id -> (membership id, status, channel, changed_at) in the list."""
        found: dict[int, tuple[int, str, str, datetime]] = {}
        for chunk in _chunks(subscriber_ids):
            for subscriber_id, membership_id, status, channel, changed_at in connection.execute(
                select(
                    SubscriptionRow.subscriber_id,
                    SubscriptionRow.id,
                    SubscriptionRow.status,
                    SubscriptionRow.channel,
                    SubscriptionRow.changed_at,
                ).where(
                    SubscriptionRow.list_slug == list_slug,
                    SubscriptionRow.subscriber_id.in_(chunk),
                )
            ):
                found[subscriber_id] = (membership_id, status, channel, changed_at)
        return found

    def sign_up(
        self,
        email: str,
        name: str | None,
        list_slug: str,
        key: str,
        now: datetime,
        *,
        mailbox_key: str | None = None,
    ) -> SignUp:
        """A reader asks to join a list with the form: in one transaction, the subscriber made
        if new (with ``name``; an existing one's name is never changed by a stranger's form),
        the membership made pending or, when unsubscribed, pending again (the reader opts in
        anew), the change recorded with channel "sign-up". A pending or confirmed membership
        stays as it is. An address suppressed for every list (``key``, see digest.addresses)
        or forgotten changes nothing; so does one whose mailbox is (``mailbox_key``, the key
        of its plain spelling: "ann+news@" when "ann@" complained)."""
        keys = [key] if mailbox_key is None else [key, mailbox_key]
        with self.transaction() as session:
            connection = session.connection()
            suppressed = connection.execute(
                select(SuppressionRow.id).where(SuppressionRow.address_key.in_(keys)).limit(1)
            ).first()
            if suppressed is not None:
                return SignUp(None, None, None)
            found = self._subscribers_by_email(connection, [email.lower()])
            if email.lower() not in found:
                found = self._insert_subscribers(
                    connection, [SubscriberInput(email, name=name)], now
                )
            subscriber_id = found[email.lower()][0]
            membership = self._memberships_of(connection, list_slug, [subscriber_id])
            if subscriber_id not in membership:
                connection.execute(
                    insert(SubscriptionRow.__table__),  # type: ignore[arg-type]
                    [
                        {
                            "subscriber_id": subscriber_id,
                            "list_slug": list_slug,
                            "status": PENDING,
                            "channel": SIGN_UP,
                            "changed_at": now,
                        }
                    ],
                )
                before = None
            else:
                membership_id, before = membership[subscriber_id][:2]
                if before != UNSUBSCRIBED:
                    return SignUp(subscriber_id, before, before)
                done = connection.execute(
                    update(SubscriptionRow)
                    .where(
                        SubscriptionRow.id == membership_id, SubscriptionRow.status == UNSUBSCRIBED
                    )
                    .values(status=PENDING, channel=SIGN_UP, changed_at=now)
                )
                if done.rowcount != 1:  # another request changed it meanwhile: theirs stands
                    return SignUp(subscriber_id, before, before)
            connection.execute(
                insert(SubscriptionChangeRow.__table__),  # type: ignore[arg-type]
                [{**_history(subscriber_id, list_slug, before, PENDING, now), "channel": SIGN_UP}],
            )
            return SignUp(subscriber_id, before, PENDING)

    def set_name_and_timezone(
        self,
        subscriber_id: int,
        name: str | None,
        timezone: str | None,
        *,
        by: str = SET_BY_READER,
    ) -> bool:
        """Record a subscriber's name and timezone as ``by`` chose them (the reader, on the
        preferences page; the operator): no import changes them after. False when there is no
        such subscriber."""
        with self.transaction() as session:
            done = session.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id, SubscriberRow.set_by != FORGOTTEN)
                .values(name=name, timezone=timezone, set_by=by)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    # Topic choices (the preferences page) ---------------------------------------------------

    def choose_topics(
        self, subscriber_id: int, list_slug: str, topics: Iterable[str] | None
    ) -> bool:
        """Record the topics of a list a member chose (None: every topic of the list); False
        when there is no such membership. Only the reader chooses them: no import does."""
        chosen = sorted(set(topics)) if topics is not None else None
        with self.transaction() as session:
            done = session.execute(
                update(SubscriptionRow)
                .where(
                    SubscriptionRow.subscriber_id == subscriber_id,
                    SubscriptionRow.list_slug == list_slug,
                )
                .values(topics=chosen)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def memberships_of(self, subscriber_id: int) -> dict[str, tuple[str, tuple[str, ...] | None]]:
        """Each list the subscriber is or was on: (status, chosen topics or None for all)."""
        with self.transaction() as session:
            rows = session.execute(
                select(
                    SubscriptionRow.list_slug, SubscriptionRow.status, SubscriptionRow.topics
                ).where(SubscriptionRow.subscriber_id == subscriber_id)
            )
            return {
                slug: (status, tuple(topics) if topics is not None else None)
                for slug, status, topics in rows
            }

    def confirmed_count(self, list_slug: str) -> int:
        """How many confirmed members the list has (suppressed addresses included)."""
        with self.transaction() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        SubscriptionRow.list_slug == list_slug, SubscriptionRow.status == CONFIRMED
                    )
                )
                or 0
            )

    def topic_choices(self, list_slug: str) -> dict[int, tuple[str, ...]]:
        """The confirmed members of a list who chose some of its topics, with their choice;
        every other member takes every topic (they are not read: a list nobody customised
        costs one indexed query that finds nothing)."""
        with self.transaction() as session:
            rows = session.execute(
                select(SubscriptionRow.subscriber_id, SubscriptionRow.topics).where(
                    SubscriptionRow.list_slug == list_slug,
                    SubscriptionRow.status == CONFIRMED,
                    SubscriptionRow.topics.is_not(None),
                )
            )
            return {
                subscriber_id: tuple(topics or ())
                for subscriber_id, topics in rows
                if topics is not None
            }

    # Transitions -------------------------------------------------------------------------------

    def unsubscribe(
        self, subscriber_id: int, list_slug: str, now: datetime, channel: str = "operator"
    ) -> bool:
        """Unsubscribe a member from a list by ``channel``; False when there is no such
        membership. Idempotent: unsubscribing again changes and records nothing."""
        return (
            self.change_membership(subscriber_id, list_slug, UNSUBSCRIBED, channel, now) is not None
        )

    def confirm(
        self,
        subscriber_id: int,
        list_slug: str,
        now: datetime,
        channel: str = "confirm-page",
        *,
        asked_at: datetime | None = None,
    ) -> Change | None:
        """Confirm a pending membership; an unsubscribed one stays so (the reader signs up
        again first). None when there is no such membership.

        ``asked_at``, when the confirmation link was issued: a membership pending only since
        a later time stays pending. It became pending by a later sign-up (after an
        unsubscribe: anyone's form can ask), and an older link, made for a sign-up the
        reader has since undone, must not confirm it."""
        return self.change_membership(
            subscriber_id, list_slug, CONFIRMED, channel, now, unless_changed_after=asked_at
        )

    def change_membership(
        self,
        subscriber_id: int,
        list_slug: str,
        to: str,
        channel: str,
        now: datetime,
        *,
        unless_changed_after: datetime | None = None,
    ) -> Change | None:
        """Move one membership to ``to`` and append the change to the history, in one
        transaction; None when there is no such membership. Only the transitions of the
        lifecycle happen (unsubscribed to confirmed does not: the Change says it stayed), and
        none for a membership last changed after ``unless_changed_after``.

        The UPDATE is conditional on the status read, so two requests at once (a double
        click, a retried one-click POST) record one change between them.
        """
        check_channel(channel)
        with self.transaction() as session:
            connection = session.connection()
            for _ in range(5):
                found = connection.execute(
                    _MEMBERSHIP, {"member": subscriber_id, "slug": list_slug}
                ).first()
                if found is None:
                    return None
                membership_id, status, changed_at = found
                if status == to or (status == UNSUBSCRIBED and to == CONFIRMED):
                    return Change(status, status)
                if unless_changed_after is not None and changed_at > unless_changed_after:
                    return Change(status, status)
                done = connection.execute(
                    _MOVE,
                    {
                        "membership": membership_id,
                        "was": status,
                        "becomes": to,
                        "by": channel,
                        "at": now,
                    },
                )
                if done.rowcount == 1:
                    connection.execute(
                        insert(SubscriptionChangeRow.__table__),  # type: ignore[arg-type]
                        [
                            {
                                **_history(subscriber_id, list_slug, status, to, now),
                                "channel": channel,
                            }
                        ],
                    )
                    return Change(status, to)
            raise RuntimeError(f"membership {membership_id} kept changing under this update")

    def unsubscribe_addresses(
        self, list_slug: str, emails: Iterable[str], now: datetime, channel: str = IMPORT
    ) -> int:
        """Unsubscribe the list's members of ``emails`` (any case) not unsubscribed yet;
        returns how many changed. The copies still pending for them are skipped at the send."""
        check_channel(channel)
        lowered = sorted({email.lower() for email in emails})
        changed = 0
        with self.transaction() as session:
            connection = session.connection()
            for chunk in _chunks(lowered):
                rows = connection.execute(
                    select(
                        SubscriptionRow.id, SubscriptionRow.subscriber_id, SubscriptionRow.status
                    )
                    .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
                    .where(
                        SubscriptionRow.list_slug == list_slug,
                        SubscriptionRow.status != UNSUBSCRIBED,
                        func.lower(SubscriberRow.email).in_(chunk),
                    )
                ).all()
                if not rows:
                    continue
                connection.execute(
                    update(SubscriptionRow)
                    .where(SubscriptionRow.id == bindparam("membership"))
                    .values(status=UNSUBSCRIBED, channel=channel, changed_at=now),
                    [{"membership": row[0]} for row in rows],
                )
                connection.execute(
                    insert(SubscriptionChangeRow.__table__),  # type: ignore[arg-type]
                    [
                        {
                            **_history(row[1], list_slug, row[2], UNSUBSCRIBED, now),
                            "channel": channel,
                        }
                        for row in rows
                    ],
                )
                changed += len(rows)
        return changed

    # Reading -----------------------------------------------------------------------------------

    def confirmed_subscribers(self, list_slug: str) -> list[Subscriber]:
        """The list's confirmed members whose address is not suppressed: who its next edition
        goes to."""
        with self.transaction() as session:
            rows = session.execute(
                select(
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                )
                .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
                .where(
                    SubscriptionRow.list_slug == list_slug,
                    SubscriptionRow.status == CONFIRMED,
                    _suppressed_of(func.lower(SubscriberRow.email)).is_(None),
                )
                .order_by(SubscriberRow.id)
            )
            return [Subscriber(*row) for row in rows]

    # The name the store had before memberships could be pending: the members who get mail.
    active_subscribers = confirmed_subscribers

    def ever_unsubscribed(self, subscriber_id: int, list_slug: str) -> bool:
        """Whether the history holds an unsubscribe of this member from this list."""
        with self.transaction() as session:
            found = session.execute(
                select(SubscriptionChangeRow.id)
                .where(
                    SubscriptionChangeRow.subscriber_id == subscriber_id,
                    SubscriptionChangeRow.list_slug == list_slug,
                    SubscriptionChangeRow.to_status == UNSUBSCRIBED,
                )
                .limit(1)
            ).first()
            return found is not None

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        with self.transaction() as session:
            row = session.get(SubscriberRow, subscriber_id)
            if row is None:
                return None
            return Subscriber(row.id, row.email, row.name, timezone=row.timezone)

    def held_subscriber(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber, None when there is none or they were forgotten (digest.privacy)."""
        with self.transaction() as session:
            row = session.get(SubscriberRow, subscriber_id)
            if row is None or row.set_by == FORGOTTEN:
                return None
            return Subscriber(row.id, row.email, row.name, timezone=row.timezone)

    def email_of(self, subscriber_id: int) -> str | None:
        """The address of a subscriber, None when there is no such subscriber."""
        with self.transaction() as session:
            email: str | None = (
                session.connection().execute(_EMAIL, {"member": subscriber_id}).scalar()
            )
            return email

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        with self.transaction() as session:
            row = session.execute(
                select(
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                )
                .where(func.lower(SubscriberRow.email) == email.lower())
                .order_by(SubscriberRow.id)
                .limit(1)
            ).first()
            return Subscriber(*row) if row is not None else None

    def memberships(
        self, list_slug: str | None = None, *, batch: int = 1000
    ) -> Iterator[Membership]:
        """Every membership (of ``list_slug`` when given), by list and address, read ``batch``
        at a time (keyset pagination): a list of any size costs one batch of memory."""
        after: tuple[str, int] = ("", 0)
        while True:
            query = (
                select(
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                    SubscriptionRow.list_slug,
                    SubscriptionRow.status,
                    SubscriptionRow.channel,
                    SubscriptionRow.changed_at,
                    _suppressed_of(func.lower(SubscriberRow.email)),
                    SubscriptionRow.id,
                )
                .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
                .where(SubscriberRow.set_by != FORGOTTEN)
                .where(
                    (SubscriptionRow.list_slug > after[0])
                    | ((SubscriptionRow.list_slug == after[0]) & (SubscriptionRow.id > after[1]))
                )
                .order_by(SubscriptionRow.list_slug, SubscriptionRow.id)
                .limit(batch)
            )
            if list_slug is not None:
                query = query.where(SubscriptionRow.list_slug == list_slug)
            with self.transaction() as session:
                rows = session.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield Membership(*row[:8])
            after = (rows[-1][3], rows[-1][8])

    def unsubscribe_history(
        self, since: datetime | None = None
    ) -> list[tuple[datetime, str, str, str]]:
        """(when, address, list slug, channel) of every unsubscribe recorded (since ``since``),
        oldest first: what ``digest subscribers audit`` looks at."""
        query = (
            select(
                SubscriptionChangeRow.at,
                SubscriberRow.email,
                SubscriptionChangeRow.list_slug,
                SubscriptionChangeRow.channel,
            )
            .join(SubscriberRow, SubscriberRow.id == SubscriptionChangeRow.subscriber_id)
            .where(SubscriptionChangeRow.to_status == UNSUBSCRIBED)
            .order_by(SubscriptionChangeRow.at, SubscriptionChangeRow.id)
        )
        if since is not None:
            query = query.where(SubscriptionChangeRow.at >= since)
        with self.transaction() as session:
            return [
                (at, email, slug, channel) for at, email, slug, channel in session.execute(query)
            ]


def _renames(row: SubscriberInput, name: str | None, timezone: str | None) -> bool:
    """Whether the file changes the name or timezone: a blank in the file erases nothing."""
    return bool(
        (row.name is not None and row.name != name)
        or (row.timezone is not None and row.timezone != timezone)
    )


def _history(
    subscriber_id: int, list_slug: str, before: str | None, after: str, now: datetime
) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "list_slug": list_slug,
        "from_status": before,
        "to_status": after,
        "channel": IMPORT,
        "at": now,
    }


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


def _unsubscribed_why(list_slug: str, channel: str, at: datetime) -> str:
    return (
        f"unsubscribed from list {list_slug!r} on {at:%Y-%m-%d} ({channel}): an import never "
        "resubscribes a reader; they can sign up again themselves"
    )
