"""digest.signup on SQLite and PostgreSQL: what a sign-up does for each state of the address,
the confirmation, and sign-ups of one new address racing on several workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from digest import pipeline
from digest.errors import DeliveryPermanentError
from digest.mail.transport import MemoryTransport
from digest.records import Subscriber
from digest.services import Services
from digest.signup import SignUpRequest, confirm_max_age, confirm_sign_up, handle_sign_up
from digest.store import SubscriberInput
from digest.store.schema import SuppressionRow
from digest.store.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from tests.members import add_members
from tests.webtools import Newsroom, newsroom


@pytest.fixture
def room(tmp_path: Path, database_url: str) -> Iterator[Newsroom]:
    with newsroom(tmp_path, editions=0, database_url=database_url) as built:
        yield built


def signed_up_and_confirmed(
    services: Services, list_slug: str, email: str, at: datetime
) -> Subscriber:
    """``email`` signed up to the list and confirmed at ``at``, as a reader who follows the
    confirmation link does; their subscriber."""
    handle_sign_up(services, MemoryTransport(), SignUpRequest(list_slug, email))
    reader = services.store.subscriber_by_email(email)
    assert reader is not None
    confirm_sign_up(services, reader.id, list_slug, at)
    return reader


def membership(room: Newsroom, email: str, list_slug: str = "daily") -> str | None:
    found = [m.status for m in room.services.store.memberships(list_slug) if m.email == email]
    return found[0] if found else None


def test_each_state_of_the_address(room: Newsroom) -> None:
    services, now = room.services, room.clock.now()
    store, transport = services.store, MemoryTransport()

    def sign_up(email: str, name: str | None = None, list_slug: str = "daily") -> int:
        before = len(transport.sent)
        handle_sign_up(services, transport, SignUpRequest(list_slug, email, name))
        return len(transport.sent) - before

    assert sign_up("new@example.org", "New") == 1
    assert membership(room, "new@example.org") == PENDING
    assert sign_up("new@example.org", "Someone Else") == 1  # pending: the link again
    assert store.subscriber_by_email("new@example.org").name == "New"  # type: ignore[union-attr]
    subscriber = store.subscriber_by_email("new@example.org")
    assert subscriber is not None
    change = confirm_sign_up(services, subscriber.id, "daily", room.clock.now())
    assert change is not None and change.after == CONFIRMED
    assert sign_up("NEW@example.org") == 0  # confirmed: nothing, however it is written
    assert membership(room, "new@example.org") == CONFIRMED
    assert sign_up("new@example.org", list_slug="arabic") == 1  # another list: its own opt-in
    store.unsubscribe(subscriber.id, "daily", now, "one-click")
    assert sign_up("new@example.org") == 1  # unsubscribed: opting in anew
    assert membership(room, "new@example.org") == PENDING
    for reason in ("hard-bounce", "forgotten"):
        email = f"{reason}@example.org"
        store.suppress(email, services.address_key, reason, "operator", now)
        assert sign_up(email) == 0
        assert store.subscriber_by_email(email) is None
    assert handle_sign_up(services, transport, SignUpRequest("gone", "x@example.org")) is None


def test_confirming_twice_or_after_leaving_changes_nothing(room: Newsroom) -> None:
    services = room.services
    handle_sign_up(services, MemoryTransport(), SignUpRequest("daily", "nour@example.org"))
    nour = services.store.subscriber_by_email("nour@example.org")
    assert nour is not None
    first = confirm_sign_up(services, nour.id, "daily", room.clock.now())
    again = confirm_sign_up(services, nour.id, "daily", room.clock.now())
    assert first is not None and first.changed and again is not None and not again.changed
    services.store.unsubscribe(nour.id, "daily", room.clock.now(), "one-click")
    late = confirm_sign_up(services, nour.id, "daily", room.clock.now())
    assert late is not None and late.after == UNSUBSCRIBED
    assert (
        confirm_sign_up(services, nour.id, "arabic", room.clock.now()) is None
    )  # never signed up there


def test_one_new_address_signed_up_by_several_workers_at_once(room: Newsroom) -> None:
    services = room.services
    start, errors = threading.Barrier(6), []
    transports = [MemoryTransport() for _ in range(6)]

    def worker(transport: MemoryTransport) -> None:
        start.wait()
        try:
            handle_sign_up(services, transport, SignUpRequest("daily", "race@example.org", "R"))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(t,)) for t in transports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [
        m.status for m in services.store.memberships("daily") if m.email == "race@example.org"
    ] == [PENDING]
    assert sum(len(t.sent) for t in transports) >= 1


def test_a_returning_reader_stays_subscribed_when_the_suppression_file_is_read_again(
    room: Newsroom,
) -> None:
    from digest.unsubscribes import reconcile_suppressions, unsubscribe

    services, now = room.services, room.clock.now()
    store, path = services.store, services.settings.service.suppression_path
    back = signed_up_and_confirmed(services, "daily", "back@example.org", room.clock.now())
    assert unsubscribe(services, back.id, "daily", "one-click")
    reconcile_suppressions(services.settings, store, services.address_key, now)
    # They come back: sign up again, and confirm.
    handle_sign_up(services, MemoryTransport(), SignUpRequest("daily", "back@example.org"))
    assert membership(room, "back@example.org") == PENDING
    confirm_sign_up(services, back.id, "daily", room.clock.now())
    assert path.read_text().splitlines()[-1].startswith("back@example.org,daily,sign-up,")
    # The operator edits the file by hand: it is read whole again, and still they stay.
    path.write_text(path.read_text() + "other@example.org,daily,operator,\n")
    reconcile_suppressions(services.settings, store, services.address_key, now)
    assert membership(room, "back@example.org") == CONFIRMED
    assert membership(room, "other@example.org") == UNSUBSCRIBED
    # Unsubscribing once more is a line after theirs: that one holds again.
    assert unsubscribe(services, back.id, "daily", "unsubscribe-page")
    path.write_text(path.read_text().replace("operator,", "operator,\n", 1))
    reconcile_suppressions(services.settings, store, services.address_key, now)
    assert membership(room, "back@example.org") == UNSUBSCRIBED


def test_a_confirmation_and_an_unsubscribe_at_once_leave_the_file_in_the_databases_order(
    room: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A returning reader presses the confirmation button and, a moment later, the one-click
    unsubscribe of an older mail. Each change and its line are made in one turn of the file:
    the file, read back into a new database, says what the database says."""
    from digest.suppression import read_suppressions
    from digest.unsubscribes import unsubscribe

    services, store = room.services, room.services.store
    path = services.settings.service.suppression_path
    back = signed_up_and_confirmed(services, "daily", "back@example.org", room.clock.now())
    assert unsubscribe(services, back.id, "daily", "one-click")
    handle_sign_up(services, MemoryTransport(), SignUpRequest("daily", "back@example.org"))
    issued = room.clock.now()

    # The confirmation is held just after its change is committed, before its line.
    committed, go_on = threading.Event(), threading.Event()
    confirm = store.confirm

    def confirm_then_wait(*args: object, **kwargs: object) -> object:
        change = confirm(*args, **kwargs)  # type: ignore[arg-type]
        committed.set()
        assert go_on.wait(timeout=30)
        return change

    monkeypatch.setattr(store, "confirm", confirm_then_wait)
    confirming = threading.Thread(target=confirm_sign_up, args=(services, back.id, "daily", issued))
    confirming.start()
    assert committed.wait(timeout=30)
    leaving = threading.Thread(target=unsubscribe, args=(services, back.id, "daily", "one-click"))
    leaving.start()
    leaving.join(timeout=1)  # it waits for the confirmation's turn (before: done at once)
    go_on.set()
    confirming.join(timeout=30)
    leaving.join(timeout=30)
    assert not confirming.is_alive() and not leaving.is_alive()

    assert membership(room, "back@example.org") == UNSUBSCRIBED
    reasons = [line.split(",")[2] for line in path.read_text().splitlines()[1:]]
    assert reasons == ["one-click", "sign-up", "one-click"]
    assert read_suppressions(path).holds("back@example.org", "daily")


def test_a_link_older_than_the_pending_sign_up_confirms_nothing(room: Newsroom) -> None:
    # A reader confirmed, then left. Anyone's form can make them pending again (a mail goes to
    # them); the first mail's link, still within web.confirm_days, must not confirm that.
    services, clock = room.services, room.clock
    first_mail = clock.now()
    left = signed_up_and_confirmed(services, "daily", "left@example.org", first_mail)
    clock.set(first_mail + timedelta(hours=1))
    services.store.unsubscribe(left.id, "daily", clock.now(), "one-click")
    clock.set(first_mail + timedelta(hours=2))
    second_mail = clock.now()
    handle_sign_up(services, MemoryTransport(), SignUpRequest("daily", "left@example.org"))
    old = confirm_sign_up(services, left.id, "daily", first_mail)
    assert old is not None and not old.changed
    assert membership(room, "left@example.org") == PENDING
    # The link of the mail that sign-up sent does confirm.
    new = confirm_sign_up(services, left.id, "daily", second_mail)
    assert new is not None and new.after == CONFIRMED


def test_a_mailbox_that_complained_is_not_mailed_under_another_spelling(room: Newsroom) -> None:
    services, transport = room.services, MemoryTransport()
    store, now = services.store, room.clock.now()
    for email, reason in (("victim@gmail.com", "complaint"), ("ann@example.org", "hard-bounce")):
        store.suppress(email, services.address_key, reason, "operator", now)
    for spelling in ("victim+news@gmail.com", "Vic.Tim@gmail.com", "ann+x@example.org"):
        outcome = handle_sign_up(services, transport, SignUpRequest("daily", spelling))
        assert outcome is not None and outcome.subscriber_id is None, spelling
        assert store.subscriber_by_email(spelling) is None
    assert transport.sent == []
    # Another person's address that merely looks alike is not theirs: a.nn is not ann.
    handle_sign_up(services, transport, SignUpRequest("daily", "a.nn@example.org"))
    assert [message.recipient for message in transport.sent] == ["a.nn@example.org"]


def test_a_mailbox_suppressed_under_another_spelling_is_not_mailed_under_its_plain_one(
    room: Newsroom,
) -> None:
    """The other way round: the reader complained, or asked to be forgotten, under a tagged or
    dotted spelling; a stranger's form writing the mailbox plainly, or another way, reaches
    nobody."""
    from digest import privacy
    from digest.inbound.apply import suppress

    services, transport = room.services, MemoryTransport()
    suppress(services, "Vic.Tim+news@gmail.com", "complaint")
    privacy.forget(
        services.settings,
        services.store,
        services.address_key,
        "ann+x@example.org",
        room.clock.now(),
    )
    for spelling in (
        "victim@gmail.com",
        "v.i.c.tim+other@googlemail.com",
        "ann@example.org",
        "ANN+y@example.org",
    ):
        outcome = handle_sign_up(services, transport, SignUpRequest("daily", spelling))
        assert outcome is not None and outcome.subscriber_id is None, spelling
        assert services.store.subscriber_by_email(spelling) is None
    assert transport.sent == []
    handle_sign_up(services, transport, SignUpRequest("daily", "a.nn@example.org"))
    assert [message.recipient for message in transport.sent] == ["a.nn@example.org"]


def test_a_suppression_kept_without_its_mailbox_key_gets_it_at_the_next_cycle(
    room: Newsroom,
) -> None:
    """Rows kept before suppressions had a mailbox key (or by a path without the secret key)
    are given theirs by the cycle's first step."""
    services, transport = room.services, MemoryTransport()
    email = "vic.tim+news@gmail.com"
    services.store.suppress(email, services.address_key, "complaint", "operator", room.clock.now())
    with services.store.engine.begin() as connection:  # as a row kept before there was one
        connection.execute(update(SuppressionRow).values(mailbox_key=None))
    pipeline.members_in_step(services, room.clock.now())
    outcome = handle_sign_up(services, transport, SignUpRequest("daily", "victim@gmail.com"))
    assert outcome is not None and outcome.subscriber_id is None
    assert transport.sent == []
    assert services.store.key_suppressions(services.address_key) == 0, "once is enough"


def test_asking_again_gives_the_new_link_its_whole_time(room: Newsroom) -> None:
    """The mail sent again says its link works for web.confirm_days; the sign-up is kept that
    long after the latest ask, not the first one's, for a new person and a reader who left."""
    services, store, start = room.services, room.services.store, room.clock.now()
    former = signed_up_and_confirmed(services, "daily", "former@example.org", start)
    store.unsubscribe(former.id, "daily", start, "one-click")
    form = MemoryTransport()
    for email in ("new@example.org", "former@example.org"):
        handle_sign_up(services, form, SignUpRequest("daily", email))
    asked_again = start + confirm_max_age(services) - timedelta(hours=1)
    room.clock.set(asked_again)
    for email in ("new@example.org", "former@example.org"):
        handle_sign_up(services, form, SignUpRequest("daily", email))
    assert len(form.sent) == 4
    first_link_gone = start + confirm_max_age(services) + timedelta(minutes=1)
    room.clock.set(first_link_gone)
    pipeline.members_in_step(services, first_link_gone)
    for email in ("new@example.org", "former@example.org"):
        assert membership(room, email) == PENDING, email
        reader = store.subscriber_by_email(email)
        assert reader is not None
        change = confirm_sign_up(services, reader.id, "daily", asked_again)
        assert change is not None and change.after == CONFIRMED, email
    # Past the second link's time too, a sign-up still pending lapses as before.
    handle_sign_up(services, form, SignUpRequest("daily", "late@example.org"))
    gone = first_link_gone + confirm_max_age(services) + timedelta(minutes=1)
    pipeline.members_in_step(services, gone)
    assert store.subscriber_by_email("late@example.org") is None


def services_before_the_rename(room: Newsroom) -> Services:
    """Services on the config as it was before ``daily`` was renamed from ``morning``."""
    from digest.services import build_services

    settings = room.services.settings
    before = tuple(
        digest_list.model_copy(update={"slug": "morning", "previous_slugs": []})
        if digest_list.slug == "daily"
        else digest_list
        for digest_list in settings.lists
    )
    return build_services(
        settings.model_copy(update={"lists": before}),
        clock=room.clock,
        transport=MemoryTransport(),
    )


def test_a_reader_who_left_a_list_before_its_rename_and_came_back_stays_subscribed(
    room: Newsroom,
) -> None:
    # The list was "morning" and is "daily" now (previous_slugs): the reader left it under its
    # former slug, and signed up again to it under the new one.
    from digest import pipeline
    from digest.unsubscribes import unsubscribe

    services, store = room.services, room.services.store
    path = services.settings.service.suppression_path
    old = services_before_the_rename(room)
    try:
        back = signed_up_and_confirmed(old, "morning", "back@example.org", room.clock.now())
        assert unsubscribe(old, back.id, "morning", "one-click")
    finally:
        old.close()
    assert "back@example.org,morning,one-click," in path.read_text()
    pipeline.carry_over(services.settings, store, room.clock.now())
    pipeline.members_in_step(services, room.clock.now())
    assert membership(room, "back@example.org") == UNSUBSCRIBED

    handle_sign_up(services, MemoryTransport(), SignUpRequest("daily", "back@example.org"))
    confirm_sign_up(services, back.id, "daily", room.clock.now())
    assert membership(room, "back@example.org") == CONFIRMED
    # The operator edits the file by hand: it is read whole again, and still they stay.
    header, rest = path.read_text().split("\n", 1)
    path.write_text(f"{header}\nother@example.org,daily,operator,\n{rest}")
    pipeline.members_in_step(services, room.clock.now())
    assert membership(room, "back@example.org") == CONFIRMED
    assert membership(room, "other@example.org") == UNSUBSCRIBED


def test_a_reader_who_signs_up_again_before_the_rename_is_carried_over_stays_subscribed(
    room: Newsroom,
) -> None:
    # The reader left "morning"; the list is renamed "daily" and the web pages run on the new
    # config before the next cycle carries the members over: the reader signs up again there
    # and confirms. Carrying over kept the old unsubscribe over their newer sign-up.
    from digest import pipeline
    from digest.unsubscribes import unsubscribe

    services, store = room.services, room.services.store
    old = services_before_the_rename(room)
    try:
        for email in ("back@example.org", "gone@example.org"):
            reader = signed_up_and_confirmed(old, "morning", email, room.clock.now())
            assert unsubscribe(old, reader.id, "morning", "one-click")
    finally:
        old.close()
    room.clock.set(room.clock.now() + timedelta(minutes=5))
    signed_up_and_confirmed(services, "daily", "back@example.org", room.clock.now())
    # An import under the new slug is no reader's word: the unsubscribe holds over it.
    gone = store.subscriber_by_email("gone@example.org")
    assert gone is not None
    store.import_members(
        "daily",
        [SubscriberInput("gone@example.org")],
        room.clock.now(),
        confirmed=True,
        address_key=services.address_key,
    )
    pipeline.carry_over(services.settings, store, room.clock.now())
    pipeline.members_in_step(services, room.clock.now())
    assert membership(room, "back@example.org") == CONFIRMED
    assert membership(room, "gone@example.org") == UNSUBSCRIBED


def test_a_reader_removed_by_the_operator_who_comes_back_before_the_next_cycle_stays(
    room: Newsroom,
) -> None:
    # The operator's removal is copied to the suppression file by the next cycle; the reader
    # signed up again and confirmed before it, their sign-up line written at once. The cycle
    # then appended the older removal after it, and the file, read whole again (an edit, a new
    # database), unsubscribed the reader once more.
    from digest.unsubscribes import reconcile_suppressions

    services, store = room.services, room.services.store
    path = services.settings.service.suppression_path
    back = signed_up_and_confirmed(services, "daily", "back@example.org", room.clock.now())
    reconcile_suppressions(services.settings, store, services.address_key, room.clock.now())
    assert store.unsubscribe(back.id, "daily", room.clock.now(), "operator")  # subscribers remove
    room.clock.set(room.clock.now() + timedelta(minutes=5))
    handle_sign_up(services, MemoryTransport(), SignUpRequest("daily", "back@example.org"))
    confirm_sign_up(services, back.id, "daily", room.clock.now())
    assert membership(room, "back@example.org") == CONFIRMED
    room.clock.set(room.clock.now() + timedelta(hours=1))
    reconcile_suppressions(services.settings, store, services.address_key, room.clock.now())
    header, rest = path.read_text().split("\n", 1)
    path.write_text(f"{header}\nother@example.org,daily,operator,\n{rest}")
    reconcile_suppressions(services.settings, store, services.address_key, room.clock.now())
    assert membership(room, "back@example.org") == CONFIRMED
    assert membership(room, "other@example.org") == UNSUBSCRIBED


def test_a_confirmation_refused_is_logged_by_subscriber_id_never_the_address(
    room: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    # Anyone can type any address into the form: each confirmation the mail server refused
    # was logged with the address twice (the error's, and the server's reply quoting it).
    typed = "no.such.reader@example.org"
    transport = MemoryTransport()
    transport.failures[typed] = DeliveryPermanentError(
        typed, f"550 5.1.1 <{typed}>: Recipient address rejected: User unknown"
    )
    caplog.set_level(logging.ERROR, logger="digest.signup")
    handle_sign_up(room.services, transport, SignUpRequest("daily", typed))
    reader = room.services.store.subscriber_by_email(typed)
    assert reader is not None
    [said] = [record.getMessage() for record in caplog.records if record.name == "digest.signup"]
    assert typed not in said
    assert f"subscriber {reader.id} was not sent" in said and "550 5.1.1" in said, said


def test_a_sign_up_never_confirmed_is_dropped_once_its_link_has_expired(
    room: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    # Anyone's form kept an address, and the name typed with it, for ever, though its owner
    # never confirmed and the link of the mail stopped working after web.confirm_days.
    services, store, start = room.services, room.services.store, room.clock.now()
    form = MemoryTransport()
    handle_sign_up(services, form, SignUpRequest("daily", "stranger@example.org", "Typed in"))
    signed_up_and_confirmed(services, "daily", "reader@example.org", start)
    handle_sign_up(services, form, SignUpRequest("arabic", "reader@example.org"))  # pending
    add_members(store, "daily", [SubscriberInput("imported@example.org")], start, confirmed=False)
    former = signed_up_and_confirmed(services, "daily", "former@example.org", start)
    store.unsubscribe(former.id, "daily", start, "one-click")
    handle_sign_up(services, form, SignUpRequest("daily", "former@example.org"))  # back, pending
    expiry = start + confirm_max_age(services)
    for moment in (expiry - timedelta(minutes=1), expiry + timedelta(minutes=1)):
        room.clock.set(moment)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="digest.signup"):
            pipeline.members_in_step(services, moment)  # as each cycle and tick do first
        kept = store.subscriber_by_email("stranger@example.org") is not None
        assert kept == (moment < expiry)
    # The operator is told how many, and nothing of who.
    assert [r.getMessage() for r in caplog.records if r.name == "digest.signup"] == [
        "1 sign-ups never confirmed within web.confirm_days were dropped, with what was typed "
        "into the form",
        "2 sign-ups of readers kept for another reason were not confirmed within "
        "web.confirm_days: each membership is as it was before its sign-up",
    ]
    assert store.person("stranger@example.org", services.address_key("x"))["subscriber"] is None
    # A reader with a membership of their own keeps it, not the sign-up they never confirmed;
    # an operator's import is the operator's to settle; a reader who had left is out again.
    assert membership(room, "reader@example.org") == CONFIRMED
    assert membership(room, "reader@example.org", "arabic") is None
    assert membership(room, "imported@example.org") == PENDING
    assert membership(room, "former@example.org") == UNSUBSCRIBED  # a reader once: their history
    # Asked again, the form sends a mail whose link works.
    assert handle_sign_up(services, form, SignUpRequest("daily", "stranger@example.org"))
    assert membership(room, "stranger@example.org") == PENDING


def test_a_reader_who_left_and_was_signed_up_again_is_out_once_the_link_expires(
    room: Newsroom,
) -> None:
    # A stranger's form made a reader who had left pending again, and pending they stayed for
    # good once the link expired: neither a member nor out, shown as waiting for ever.
    services, store, start = room.services, room.services.store, room.clock.now()
    former = signed_up_and_confirmed(services, "daily", "former@example.org", start)
    store.unsubscribe(former.id, "daily", start, "one-click")
    room.clock.set(start + timedelta(days=1))
    form = MemoryTransport()
    handle_sign_up(services, form, SignUpRequest("daily", "former@example.org"))  # a stranger
    assert membership(room, "former@example.org") == PENDING
    expired = start + timedelta(days=1) + confirm_max_age(services) + timedelta(minutes=1)
    room.clock.set(expired)
    pipeline.members_in_step(services, expired)
    [shown] = [m for m in store.memberships("daily") if m.email == "former@example.org"]
    # As they left it: by their own click, at its time; the lapse is in the history.
    assert (shown.status, shown.channel, shown.changed_at) == (UNSUBSCRIBED, "one-click", start)
    changes = store.person("former@example.org", services.address_key("x"))["history"]
    assert [(c["from"], c["to"], c["channel"]) for c in changes][-2:] == [
        ("unsubscribed", "pending", "sign-up"),
        ("pending", "unsubscribed", "sign-up"),
    ]
    pipeline.members_in_step(services, expired)  # the next cycle changes nothing more
    assert len(store.person("former@example.org", services.address_key("x"))["history"]) == len(
        changes
    )
    # They may sign up again, and their own confirmation brings them back.
    form.sent.clear()
    handle_sign_up(services, form, SignUpRequest("daily", "former@example.org"))
    assert len(form.sent) == 1 and membership(room, "former@example.org") == PENDING
    confirm_sign_up(services, former.id, "daily", expired)
    assert membership(room, "former@example.org") == CONFIRMED


@pytest.mark.parametrize(
    ("language", "calendar", "days", "expires", "separator"),
    [
        ("fa", None, 3, "این پیوند ۳ روز کار می‌کند.", "–"),  # a dot reads as a Persian zero
        ("fa", "gregorian", 3, "این پیوند 3 روز کار می‌کند.", "·"),
        ("fa", None, 1.5, "این پیوند ۱٫۵ روز کار می‌کند.", "–"),
        # Each count in the form the language gives it (digest.plurals), not "1 days".
        ("en", None, 1, "The link works for 1 day.", "·"),
        ("en", None, 1.5, "The link works for 1.5 days.", "·"),
        ("ar", None, 1, "يعمل الرابط لمدة يوم واحد.", "·"),
        ("ar", None, 2, "يعمل الرابط لمدة يومين.", "·"),
        ("ar", None, 3, "يعمل الرابط لمدة 3 أيام.", "·"),
        ("ar", None, 11, "يعمل الرابط لمدة 11 يومًا.", "·"),
        ("ar", None, 100, "يعمل الرابط لمدة 100 يوم.", "·"),
        ("ar", None, 1.5, "يعمل الرابط لمدة 1.5 يوم.", "·"),
        ("he", None, 1, "הקישור תקף במשך יום אחד.", "·"),
        ("he", None, 2, "הקישור תקף במשך יומיים.", "·"),
        ("he", None, 11, "הקישור תקף במשך 11 ימים.", "·"),
    ],
)
def test_the_confirmation_mail_counts_its_days_in_the_lists_words_and_digits(
    tmp_path: Path,
    language: str,
    calendar: str | None,
    days: float,
    expires: str,
    separator: str,
) -> None:
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    from digest.mail.confirmation import confirmation_message
    from digest.render import Renderer
    from tests.test_render import LIST_SLUG, make_settings

    overrides = {"language": language} | ({"calendar": calendar} if calendar else {})
    settings = make_settings(tmp_path, **overrides)
    web = settings.web.model_copy(update={"confirm_days": days})
    settings = settings.model_copy(update={"web": web})
    outgoing = confirmation_message(
        settings,
        Renderer(settings),
        settings.list(LIST_SLUG),
        Subscriber(id=1, email="maryam@example.org"),
        "https://briefing.example.org/confirm/token",
        datetime(2026, 12, 7, 5, 0).astimezone(),
    )
    message = message_from_bytes(outgoing.data, _class=EmailMessage, policy=policy.default)
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        assert expires in " ".join(body.get_content().split())
        # Signed as the list's editions are: the sender and its address set apart alike.
        assert f"The Middle East Desk {separator} Example Media" in body.get_content()
