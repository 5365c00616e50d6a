"""A membership's moves: a reader's sign-up and confirmation, an unsubscribe by any channel, a
reader's own name, timezone and topics; each change appended to the history in the same
transaction (the lifecycle is drawn in digest.store.subscribers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from digest.store.base import StoreBase, chunks
from digest.store.schema import (
    SubscriberRow,
    SubscriptionChangeRow,
    SubscriptionRow,
    SuppressionRow,
)
from digest.store.subscribers import (
    CONFIRMED,
    FORGOTTEN,
    IMPORT,
    PENDING,
    SET_BY_READER,
    SIGN_UP,
    UNSUBSCRIBED,
    SubscriberInput,
    check_channel,
    history_row,
    insert_subscribers,
    last_asked,
    memberships_in_list,
    subscribers_by_email,
)

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


class MembershipStore(StoreBase):
    def sign_up(
        self,
        email: str,
        name: str | None,
        list_slug: str,
        key: str,
        now: datetime,
        *,
        mailbox_key: str | None = None,
        former_slugs: Sequence[str] = (),
    ) -> SignUp:
        """A reader asks to join a list with the form: in one transaction, the subscriber made
        if new (with ``name``; an existing one's name is never changed by a stranger's form),
        the membership made pending or, when unsubscribed, pending again (the reader opts in
        anew), the change recorded with channel "sign-up". A pending or confirmed membership
        stays as it is. An address suppressed for every list (``key``, see digest.addresses)
        or forgotten changes nothing; so does one whose mailbox is (``mailbox_key``, the key
        of its plain spelling: "ann+news@" when "ann@" complained, and "ann@" when
        "a.nn+news@gmail.com" did). A membership still held
        under one of the list's ``former_slugs`` (a rename the next cycle carries over)
        counts as the list's when pending or confirmed; an unsubscribed one is left for the
        carry-over, which keeps this sign-up, the later word."""
        keys = [key] if mailbox_key is None else [key, mailbox_key]
        matches: ColumnElement[bool] = SuppressionRow.address_key.in_(keys)
        if mailbox_key is not None:
            matches = or_(matches, SuppressionRow.mailbox_key == mailbox_key)
        with self.transaction() as session:
            connection = session.connection()
            suppressed = connection.execute(
                select(SuppressionRow.id).where(matches).limit(1)
            ).first()
            if suppressed is not None:
                return SignUp(None, None, None)
            found = subscribers_by_email(connection, [email.lower()])
            if email.lower() not in found:
                found = insert_subscribers(connection, [SubscriberInput(email, name=name)], now)
            subscriber_id = found[email.lower()][0]
            membership = memberships_in_list(connection, list_slug, [subscriber_id])
            for former in former_slugs if subscriber_id not in membership else ():
                held = memberships_in_list(connection, former, [subscriber_id]).get(subscriber_id)
                if held is not None and held[1] != UNSUBSCRIBED:
                    # A confirmed reader gets no mail from a form; a pending one gets it again.
                    _asked_again(connection, held[0], held[1], now)
                    return SignUp(subscriber_id, held[1], held[1])
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
                    _asked_again(connection, membership_id, before, now)
                    return SignUp(subscriber_id, before, before)
                done = connection.execute(
                    update(SubscriptionRow)
                    .where(
                        SubscriptionRow.id == membership_id, SubscriptionRow.status == UNSUBSCRIBED
                    )
                    .values(status=PENDING, channel=SIGN_UP, changed_at=now, asked_at=None)
                )
                if done.rowcount != 1:  # another request changed it meanwhile: theirs stands
                    return SignUp(subscriber_id, before, before)
            connection.execute(
                insert(SubscriptionChangeRow.__table__),  # type: ignore[arg-type]
                [
                    {
                        **history_row(subscriber_id, list_slug, before, PENDING, now),
                        "channel": SIGN_UP,
                    }
                ],
            )
            return SignUp(subscriber_id, before, PENDING)

    def lapse_sign_ups(
        self, before: datetime, now: datetime, slugs_of: Mapping[str, Sequence[str]]
    ) -> int:
        """Each membership pending from the form since before ``before`` (its confirmation
        link no longer works) that ``drop_unconfirmed`` kept, as it was before that sign-up:
        a reader who had left is unsubscribed again, with that change's channel and time (the
        lapse appended to the history); a person never in the list (a member of another) is
        taken out of it with the history of the sign-ups. ``slugs_of`` gives a list's slug and
        its former ones (the history keeps the slug of its time). Returns how many."""
        with self.transaction() as session:
            connection = session.connection()
            lapsed = connection.execute(
                select(
                    SubscriptionRow.id, SubscriptionRow.subscriber_id, SubscriptionRow.list_slug
                ).where(
                    SubscriptionRow.status == PENDING,
                    SubscriptionRow.channel == SIGN_UP,
                    last_asked(SubscriptionRow) < before,
                )
            ).all()
            for membership_id, subscriber_id, list_slug in lapsed:
                slugs = slugs_of.get(list_slug, (list_slug,))
                history = SubscriptionChangeRow.__table__.c
                left = connection.execute(
                    select(history.channel, history.at)
                    .where(
                        history.subscriber_id == subscriber_id,
                        history.list_slug.in_(slugs),
                        history.to_status != PENDING,
                    )
                    .order_by(history.at.desc(), history.id.desc())
                    .limit(1)
                ).first()
                if left is None:  # never more than asked for: nothing of it is kept
                    connection.execute(
                        delete(SubscriptionRow).where(SubscriptionRow.id == membership_id)
                    )
                    connection.execute(
                        delete(SubscriptionChangeRow).where(
                            history.subscriber_id == subscriber_id, history.list_slug == list_slug
                        )
                    )
                    continue
                connection.execute(
                    update(SubscriptionRow)
                    .where(SubscriptionRow.id == membership_id)
                    .values(status=UNSUBSCRIBED, channel=left.channel, changed_at=left.at)
                )
                connection.execute(
                    insert(SubscriptionChangeRow.__table__),  # type: ignore[arg-type]
                    [
                        {
                            **history_row(subscriber_id, list_slug, PENDING, UNSUBSCRIBED, now),
                            "channel": SIGN_UP,
                        }
                    ],
                )
            return len(lapsed)

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
                                **history_row(subscriber_id, list_slug, status, to, now),
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
            for chunk in chunks(lowered):
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
                            **history_row(row[1], list_slug, row[2], UNSUBSCRIBED, now),
                            "channel": channel,
                        }
                        for row in rows
                    ],
                )
                changed += len(rows)
        return changed


def _asked_again(connection: Connection, membership_id: int, status: str, now: datetime) -> None:
    """A pending sign-up asked for again: its confirmation mail goes again, and its link works
    as long as the mail says from now (``last_asked``)."""
    if status == PENDING:
        connection.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.id == membership_id, SubscriptionRow.status == PENDING)
            .values(asked_at=now)
        )
