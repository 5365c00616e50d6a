"""Building: each list's due edition composed, rendered once, stored and queued.

    due_editions(now)          each list's latest cron slot that has no edition yet (digest.due)
    build_edition(list, slot)  window = (previous edition's sequence, committed sequence]
                               (digest.windows) ─► candidates ─► compose ─► render once
                               ─► checked (digest.previews) ─► store ─► queue deliveries
                                  (web.images: the pictures fetched once and kept before the
                                  render, which points at the service's copies: digest.images)

Building has no side effect but storing (and, with web.images, fetching the pictures it keeps):
a retried build never sends, and building a (list, slot) again yields the same edition
(invariant 2). ``build_edition`` is what the build task calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from digest import screening
from digest.config import ListSettings
from digest.due import due_groups, missed_slots
from digest.images.fetching import one_window
from digest.imports import import_list_file
from digest.local_time import BY_HAND, of_a_readers_hour
from digest.previews import check_edition, edition_pictures
from digest.records import Edition, RenderedEdition
from digest.services import Services
from digest.store.editions import EMPTY, READY, EditionState
from digest.topic_choices import bounded_groups, variant_name
from digest.windows import window_after_previous, window_composer

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    list_slug: str
    slot: str  # ISO 8601, UTC
    # The edition (for a list read in each reader's timezone: the variant with the most readers
    # at this slot); None when nobody is due at the slot and nothing was stored for it.
    edition_id: int | None
    built: bool  # False when the edition of this slot existed already
    empty: bool
    article_count: int
    pending_deliveries: int = 0  # ledger rows of the edition still to send
    ready: bool = False  # stored to be sent (not empty, not sent already): to be queued
    warnings: tuple[str, ...] = ()  # articles left out, subscriber rows refused: named
    # An edition asked for by hand (digest send, run --list), not a slot of the schedule: for a
    # list read in each reader's timezone, every reader not served since is due at it.
    by_hand: bool = False


def list_members_in_step(services: Services, digest_list: ListSettings) -> list[str]:
    """The list's file from the config imported first if it changed since its last import
    (a cycle did it already at its start: then this costs the file's SHA-256); the members are
    who the database holds. Returns warnings, never raises for a file's content."""
    _, warnings = import_list_file(
        services.settings,
        services.store,
        services.address_key,
        digest_list,
        services.clock.now(),
    )
    return warnings


def build_edition(
    services: Services, list_slug: str, slot: datetime, *, by_hand: bool = False
) -> BuildOutcome:
    """Compose, render and store the edition of (list, slot), and queue one delivery per member;
    ``by_hand``: an edition asked for now (``forced_slot``), not the schedule's.

    Building a slot that was built before returns the stored edition (invariant 2).
    """
    with one_window():
        return queue_edition(services, store_edition(services, list_slug, slot, by_hand=by_hand))


def store_edition(
    services: Services, list_slug: str, slot: datetime, *, by_hand: bool = False
) -> BuildOutcome:
    """The first half of ``build_edition``: the edition of (list, slot) composed, rendered and
    stored, or found stored (``built`` says which), with a variant for each distinct choice of
    topics its readers made (digest.topic_choices); nothing queued yet. The list's other builds
    wait (``building``): each reads where its window starts once the one before has stored."""
    # Its drafts and variants fetch their pictures within one window (digest.images).
    with services.store.building(list_slug), one_window():
        return _store_edition(services, list_slug, slot, by_hand)


def _store_edition(
    services: Services, list_slug: str, slot: datetime, by_hand: bool
) -> BuildOutcome:
    store, settings, now = services.store, services.settings, services.clock.now()
    digest_list = settings.list(list_slug)
    if digest_list.reader_local:
        return _local_slot(services, digest_list, slot, queue=False, by_hand=by_hand)
    if _follows_readers_hours(services, digest_list, slot):
        return _local_slot(services, digest_list, slot, queue=False, by_hand=True)
    existing = store.edition_for_slot(list_slug, slot, "")
    warnings: tuple[str, ...] = ()
    latest = store.latest_edition(list_slug) if existing is None else None
    if latest is not None and latest.slot > slot:
        # A build that waited in the queue (or that the broker handed back after its worker
        # died) while a later slot was built: this slot's window would start before that
        # edition's and mail its articles again. That edition covers this slot; nothing is due.
        _log.info("list %r, slot %s: a later slot is built already; not built", list_slug, slot)
        return BuildOutcome(
            list_slug, slot.isoformat(), None, built=False, empty=True, article_count=0
        )
    if existing is None:
        # Read once: a recomposition without a refused article keeps the same window.
        window_seq = store.article_sequence()
        after_seq, window_start = window_after_previous(services, list_slug, slot)
        state, built, warnings = _store_screened(
            services,
            digest_list,
            window_composer(
                services, digest_list, slot, window_seq, after_seq, window_start, now=now
            ),
        )
        missed = None if by_hand or latest is None else missed_slots(digest_list, latest.slot, slot)
        if missed is not None and built:
            _log.warning("%s", missed)  # news is not lost: said in the log, not as a problem
    else:
        state, built = existing, False
    groups, bound_warnings = _choice_groups(digest_list, store.topic_choices(list_slug))
    for warning in bound_warnings:
        _log.warning("%s", warning)
    warnings = (*warnings, *bound_warnings)
    for choice in groups:
        if choice is not None:
            _, made, found = _topic_variant(services, digest_list, slot, choice, state)
            built, warnings = built or made, (*warnings, *found)
    return BuildOutcome(
        list_slug=list_slug,
        slot=slot.isoformat(),
        edition_id=state.id,
        built=built,
        empty=state.status == EMPTY,
        article_count=state.article_count,
        ready=state.status == READY,
        warnings=warnings,
    )


def queue_edition(services: Services, stored: BuildOutcome) -> BuildOutcome:
    """The second half of ``build_edition``: one ledger row per member of the list for a stored
    edition that is to be sent. Also when the edition existed: a crash between storing it and
    queueing must not leave its members without their copy (run_cycle builds again each edition
    never queued). Queueing adds only the rows that are missing, and marks the edition queued.
    Members who chose topics are queued for their choice's variant, stored now if their choice
    is newer than the first half. The list's other builds wait, as for ``store_edition``: a
    list read in each reader's timezone places its readers' windows here."""
    with services.store.building(stored.list_slug), one_window():
        return _queue_edition(services, stored)


def _queue_edition(services: Services, stored: BuildOutcome) -> BuildOutcome:
    digest_list = services.settings.list(stored.list_slug)
    if digest_list.reader_local:
        slot = datetime.fromisoformat(stored.slot)
        queued = _local_slot(services, digest_list, slot, queue=True, by_hand=stored.by_hand)
        # It finds stored the variants the storing half built (and said what they left out):
        # the outcome a run or a worker reports is that of both halves.
        return replace(
            queued,
            built=stored.built or queued.built,
            warnings=tuple(dict.fromkeys((*stored.warnings, *queued.warnings))),
        )
    slot = datetime.fromisoformat(stored.slot)
    if _follows_readers_hours(services, digest_list, slot):
        queued = _local_slot(services, digest_list, slot, queue=True, by_hand=True)
        return replace(queued, built=stored.built or queued.built, by_hand=stored.by_hand)
    if not stored.ready or stored.edition_id is None:
        return stored
    store, now = services.store, services.clock.now()
    file_warnings = list_members_in_step(services, digest_list)
    groups, _ = _choice_groups(digest_list, store.topic_choices(digest_list.slug))
    if not groups:  # nobody chose: every member gets the one edition, as always
        store.queue_deliveries(stored.edition_id, stored.list_slug, now)
        pending = store.delivery_counts(stored.edition_id).pending
        return replace(
            stored, pending_deliveries=pending, warnings=(*stored.warnings, *file_warnings)
        )
    plain = store.edition_for_slot(digest_list.slug, slot, "")
    assert plain is not None and plain.id == stored.edition_id
    store.queue_deliveries(plain.id, digest_list.slug, now, default_topics=True)
    warnings = [*stored.warnings, *file_warnings]
    served = {plain.id}
    for choice, readers in groups.items():
        state = plain
        if choice is not None:
            state, _, found = _topic_variant(services, digest_list, slot, choice, plain)
            warnings += found
        # An empty variant (nothing new in the chosen topics) is not sent; its readers wait.
        store.queue_deliveries(
            state.id, digest_list.slug, now, readers=readers if state.status == READY else []
        )
        served.add(state.id)
    states = store.editions_of_slot(digest_list.slug, slot)
    for state in states:
        if state.id not in served and state.status == READY:
            # A choice nobody holds any more: marked queued, so no cycle comes back for it.
            store.queue_deliveries(state.id, digest_list.slug, now, readers=[])
    pending = sum(store.delivery_counts(state.id).pending for state in states)
    return replace(stored, pending_deliveries=pending, warnings=tuple(warnings))


def _choice_groups(
    digest_list: ListSettings, choices: Mapping[int, Sequence[str]]
) -> tuple[dict[tuple[str, ...] | None, list[int]], tuple[str, ...]]:
    """The readers of ``choices`` by the variant they get, within the list's
    ``max_topic_variants``, with the warning of that bound reached (digest.topic_choices)."""
    most = digest_list.max_topic_variants
    return bounded_groups(choices, digest_list.topics, most, digest_list.slug)


def _topic_variant(
    services: Services,
    digest_list: ListSettings,
    slot: datetime,
    choice: tuple[str, ...],
    plain: EditionState,
) -> tuple[EditionState, bool, tuple[str, ...]]:
    """The variant of (list, slot) for the readers of ``choice``, stored now if it was not:
    the list narrowed to those topics, over the very window of the plain edition ``plain``."""
    after_seq, window_start = window_after_previous(services, digest_list.slug, slot)
    return _variant(
        services,
        digest_list,
        slot,
        choice,
        variant_name(choice),
        window_seq=plain.window_seq,
        after_seq=after_seq,
        window_start=window_start,
        now=plain.window_end,
    )


def _variant(
    services: Services,
    digest_list: ListSettings,
    slot: datetime,
    choice: tuple[str, ...] | None,
    variant: str,
    *,
    window_seq: int,
    after_seq: int,
    window_start: datetime | None,
    now: datetime | None = None,
    dated_in: str | None = None,
) -> tuple[EditionState, bool, tuple[str, ...]]:
    """The edition ``variant`` of (list, slot), or, when it is not stored yet, the list's
    edition of the window (``after_seq``, ``window_seq``] narrowed to the topics of ``choice``
    (None: all of them) composed, screened and stored as it: (its state, stored now, warnings).
    With ``dated_in``, its readers' timezone, it is dated there rather than in the list's."""
    stored = services.store.edition_for_slot(digest_list.slug, slot, variant)
    if stored is not None:
        return stored, False, ()
    narrowed = digest_list if choice is None else digest_list.model_copy(update={"topics": choice})
    if dated_in is not None:
        narrowed = narrowed.model_copy(update={"timezone": dated_in})
    compose_without = window_composer(
        services, narrowed, slot, window_seq, after_seq, window_start, now=now
    )
    return _store_screened(services, narrowed, compose_without, variant)


def _store_screened(
    services: Services,
    digest_list: ListSettings,
    compose_without: Callable[[frozenset[int]], Edition],
    variant: str = "",
) -> tuple[EditionState, bool, tuple[str, ...]]:
    """Compose, screen, render and store an edition: (its state, stored now, warnings)."""
    now = services.clock.now()
    edition = compose_without(frozenset())
    rendered: RenderedEdition | None = None
    warnings: tuple[str, ...] = ()
    if not edition.is_empty or digest_list.send_when_empty:
        # Before anything is stored or queued: a refused edition is built again next tick;
        # an article whose text broke the headers is left out and the rest goes out. Each
        # draft gets its own pictures: once a lead is left out, another story leads and needs
        # its picture at the lead's size (kept pictures are not fetched again).
        screened = screening.screen_edition(
            edition,
            render=lambda draft: services.renderer.render(
                draft, digest_list, edition_pictures(services, draft), variant
            ),
            check=lambda rendering: check_edition(services, rendering, digest_list),
            compose_without=compose_without,
        )
        edition, rendered, warnings = screened.edition, screened.rendered, screened.warnings
        for warning in warnings:
            _log.warning("%s", warning)
        if edition.is_empty and not digest_list.send_when_empty:
            rendered = None  # every article was left out: an empty edition, not sent
    state, built = services.store.save_edition(edition, rendered, now, variant)
    return state, built, warnings


def _local_slot(
    services: Services, digest_list: ListSettings, slot: datetime, *, queue: bool, by_hand: bool
) -> BuildOutcome:
    """Store (and with ``queue``, queue) the variants of (list, slot) for a list read in each
    reader's timezone: one per group of readers due at the slot with the same window start
    (digest.local_time). An edition asked for by hand is an extra one: every reader not served
    since is due at it, also in the very minute of some zone's hour. So is a slot with a
    variant asked for by hand stored but not queued (such an edition whose build stopped in
    between: run_cycle builds it again, not by hand). A slot of the schedule built again once
    all its readers are queued (its task handed out twice), or whose readers all left between
    its halves, is nobody's."""
    store, now = services.store, services.clock.now()
    file_warnings = list_members_in_step(services, digest_list) if queue else []
    groups = [group for group in due_groups(services, digest_list, now) if group.slot == slot]
    if by_hand or _stored_unqueued_by_hand(services, digest_list.slug, slot):
        groups = due_groups(services, digest_list, now, extra_slot=slot)
    window_seq = store.article_sequence()  # read once: every variant ends at the same place
    built_any, pending = False, 0
    queued: set[int] = set()  # the variants this build queued readers for
    warnings: list[str] = list(file_warnings)
    largest: tuple[int, EditionState] | None = None
    choices = store.topic_choices(digest_list.slug)
    for group in groups:
        # Within a window, one variant more per distinct choice of topics among its readers.
        in_group = {reader: choices[reader] for reader in group.readers if reader in choices}
        by_choice, bound_warnings = _choice_groups(digest_list, in_group)
        for warning in () if queue else bound_warnings:
            _log.warning("%s", warning)
        warnings += bound_warnings
        chosen = {reader for choice, readers in by_choice.items() if choice for reader in readers}
        plain_readers = [reader for reader in group.readers if reader not in chosen]
        subgroups = [(None, plain_readers)] + [
            (choice, readers) for choice, readers in by_choice.items() if choice is not None
        ]
        previous = store.edition_ending_at(digest_list.slug, group.after_seq)
        for choice, readers in subgroups:
            state, built, found = _variant(
                services,
                digest_list,
                slot,
                choice,
                variant_name(choice, base=group.variant),
                window_seq=window_seq,
                after_seq=group.after_seq,
                window_start=previous.window_end if previous else None,
                dated_in=group.zone,
            )
            built_any, warnings = built_any or built, [*warnings, *found]
            if queue and state.status == READY:
                store.queue_deliveries(state.id, digest_list.slug, now, readers=readers)
                queued.add(state.id)
                pending += store.delivery_counts(state.id).pending
            if largest is None or len(readers) > largest[0]:
                largest = (len(readers), state)
    shown = largest[1] if largest else store.edition_for_slot(digest_list.slug, slot)
    states = store.editions_of_slot(digest_list.slug, slot)
    for state in states if queue else ():
        if state.status == READY and state.id not in queued:
            # Stored for readers served since by another edition (one asked for by hand
            # between the halves of this build; they moved, or left): marked queued, else
            # every run and tick would build the slot again, for nobody, for ever.
            store.queue_deliveries(state.id, digest_list.slug, now, readers=[])
    return BuildOutcome(
        list_slug=digest_list.slug,
        slot=slot.isoformat(),
        edition_id=shown.id if shown else None,
        built=built_any,
        empty=all(state.status == EMPTY for state in states),
        article_count=shown.article_count if shown else 0,
        pending_deliveries=pending,
        ready=any(state.status == READY for state in states),
        warnings=tuple(warnings),
        by_hand=by_hand,
    )


def _follows_readers_hours(services: Services, digest_list: ListSettings, slot: datetime) -> bool:
    """Whether the edition of (list, slot), for a list read in one timezone, follows one built
    at some readers' own hour (the list was read in each reader's timezone until now). Its
    readers' last windows end at different places: one window after the latest of them left
    out what the others had not had yet, so this edition is built as an extra one of such a
    list, every reader from where their own last window ended; the next starts after it."""
    if digest_list.reader_local:
        return False
    previous = services.store.edition_before(digest_list.slug, slot)
    return previous is not None and of_a_readers_hour(previous.variant)


def _stored_unqueued_by_hand(services: Services, list_slug: str, slot: datetime) -> bool:
    """Whether an edition of (list, slot) asked for by hand is stored to be sent and was never
    queued. Only such a one: a slot of the schedule whose readers all left (unsubscribed, moved
    to another zone) between the halves of its build is no extra edition for the other zones."""
    return any(
        (edition.list_slug, edition.slot) == (list_slug, slot)
        and edition.variant.startswith(BY_HAND)
        for edition in services.store.unqueued_editions()
    )
