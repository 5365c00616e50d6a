"""Which editions are due: each list's latest slot without an edition, for a list read in
each reader's timezone each group of readers whose hour has come, and the slot of an edition
asked for by hand."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from digest import local_time
from digest.config import ListSettings
from digest.schedule import latest_slot, next_slot
from digest.services import Services
from digest.store.editions import READY


def due_editions(services: Services, now: datetime) -> list[tuple[str, datetime]]:
    """(list, slot) for every list whose latest scheduled slot has no edition yet.

    A list that never sent counts its latest slot as due, so a first run mails at once; missed
    slots are not replayed one by one: the next edition's window covers them. A slot older than
    the list's latest edition is not due either (its schedule or timezone changed, the clock
    stepped back, an edition was asked for by hand): that edition's window covers it, and one
    built for it would start before that window and send its news again.
    """
    due = []
    for digest_list in services.settings.lists:
        if digest_list.reader_local:
            due += [
                (digest_list.slug, slot) for slot in _local_due_slots(services, digest_list, now)
            ]
            continue
        slot = latest_slot(digest_list.schedule, digest_list.timezone, now)
        latest = services.store.latest_edition(digest_list.slug)
        if latest is None or latest.slot < slot:
            due.append((digest_list.slug, slot))
    return due


def _local_due_slots(
    services: Services, digest_list: ListSettings, now: datetime
) -> list[datetime]:
    """The slots of a list read in each reader's timezone with readers to serve: a group whose
    variant is not stored yet, or is stored to be sent and they are not queued for it (they
    joined since). A group whose variant came out empty waits for its next slot."""
    store, slots = services.store, []
    # Its members as the cycle or the tick brought them in step before asking (members_in_step).
    for group in due_groups(services, digest_list, now):
        if group.slot in slots:
            continue
        stored = store.edition_for_slot(digest_list.slug, group.slot, group.variant)
        if stored is None or stored.status == READY:
            slots.append(group.slot)
    return slots


def due_groups(
    services: Services, digest_list: ListSettings, now: datetime, extra_slot: datetime | None = None
) -> list[local_time.DueGroup]:
    store = services.store

    # Once per zone and slot, not per reader: a list whose thousands of readers were just
    # imported asked the store (and the schedule) for each of them, at each tick and each build.
    @functools.cache
    def start_for_new(zone: str, slot: datetime) -> int:
        before = latest_slot(digest_list.schedule, zone, slot - timedelta(microseconds=1))
        return store.sequence_before(before)

    return local_time.due_groups(
        digest_list.schedule,
        digest_list.timezone,
        store.reader_positions(digest_list.slug),
        now,
        start_for_new,
        extra_slot=extra_slot,
        started=store.list_started(digest_list.slug),
    )


def forced_slot(services: Services, list_slug: str, now: datetime) -> datetime:
    """The slot for an edition asked for by hand: the latest scheduled one if it has not been
    built, else the current minute (an extra edition whose window continues from the last)."""
    digest_list = services.settings.list(list_slug)
    if digest_list.reader_local:  # every reader's hour is their own: the extra edition is now
        return now.replace(second=0, microsecond=0)
    slot = latest_slot(digest_list.schedule, digest_list.timezone, now)
    latest = services.store.latest_edition(list_slug)
    if latest is None or latest.slot < slot:  # as due_editions: never a slot behind the last
        return slot
    return now.replace(second=0, microsecond=0)


def missed_slots(digest_list: ListSettings, previous: datetime, slot: datetime) -> str | None:
    """What to tell the operator when the edition of ``slot`` follows its list's ``previous``
    one over slots of the schedule never built (``due_editions`` does not replay them: the
    edition's window carries their news); None when ``slot`` is the next one."""
    first = next_slot(digest_list.schedule, digest_list.timezone, previous)
    if first >= slot:
        return None
    return (
        f"list {digest_list.slug!r}: its edition of {_utc(slot)} carries the news since its "
        f"last one, of {_utc(previous)}; the slots of its schedule from {_utc(first)} were not "
        "built, as nothing ran at their time (or the clock or the schedule changed)"
    )


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
