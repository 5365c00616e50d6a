"""``digest send LIST``: a list's edition built now, its delivery handed to the workers (the
distributed mode) or made in this process (the embedded mode); progress read from the ledger.

    forced slot ─► build (digest.pipeline) ─┬─► workers: one deliver task per batch (digest.ticking)
                                            └─► here: batches on smtp.connections processes
    ledger counts ─► progress, until nothing of the edition is pending

Nothing waits on a task result: whoever follows the delivery reads the edition's ledger rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from digest import pipeline, ticking
from digest.delivering import added_counts, due_batches, following_the_ledger, settled
from digest.lists import carry_over
from digest.services import Services
from digest.store.deliveries import DeliveryCounts
from digest.topic_renames import carry_over_topics

__all__ = ["send_now", "settled", "slot_counts", "slot_to_send", "total"]


def send_now(
    services: Services,
    list_slug: str,
    *,
    workers: tuple[ticking.Fanout, ticking.Leases] | None,
    progress: Callable[[DeliveryCounts], None] | None = None,
    slot: datetime | None = None,
) -> pipeline.BuildOutcome:
    """Build ``list_slug``'s edition now (its latest slot if never built, else the current
    minute, as ``digest run --list`` does; ``slot`` when the caller chose it with
    ``pipeline.forced_slot``) and deliver it: handed to ``workers`` (a fanout and the shared
    leases) when given, else sent here, ``progress`` told the counts of the slot's editions as
    copies reach the ledger (``following_the_ledger``)."""
    if slot is None:
        slot = slot_to_send(services, list_slug)
    if workers is not None:
        fanout, leases = workers
        return ticking.publish(services, fanout, leases, list_slug, slot, by_hand=True)
    built = pipeline.build_edition(services, list_slug, slot, by_hand=True)
    if built.pending_deliveries:
        dispatcher = pipeline.InlineDispatcher(services)
        dispatcher.prepare_delivery()
        # Every edition of the slot: a list read in each reader's timezone may have several.
        editions = [edition.id for edition in services.store.editions_of_slot(list_slug, slot)]
        problems: list[str] = []  # why copies failed or wait, as digest run tells them
        untold = 0
        with following_the_ledger(lambda: slot_counts(services, list_slug, slot), progress):
            for edition_id in editions:
                ledger = due_batches(services, edition_id, services.clock.now())
                # What became of each copy is on the ledger, read by following_the_ledger.
                for delivery in dispatcher.deliver(edition_id, ledger):
                    shown = delivery.errors[: pipeline.SHOWN_DELIVERY_PROBLEMS - len(problems)]
                    problems.extend(shown)
                    untold += len(delivery.errors) - len(shown)
        if untold:
            problems.append(
                f"{untold} more copies failed or wait for a retry, for reasons like those "
                "above; each one's is on its ledger row (digest status)"
            )
        built = replace(built, warnings=(*built.warnings, *problems))
    return built


def slot_to_send(services: Services, list_slug: str) -> datetime:
    """The renames of the config carried over, then the slot of an edition of ``list_slug``
    asked for now (``pipeline.forced_slot``): what ``send_now`` builds, for a caller that must
    know it first (to name the edition when interrupted)."""
    # As a cycle does before it builds: the renames of the config carried over (an undeclared
    # one of a list refused, ConfigError). Sent right after a rename, an edition found nothing
    # under the new slug: a renamed list's window started afresh and mailed its last edition's
    # articles again, and a renamed topic's stored articles were in no section, for good (the
    # next edition's window starts where this one ended). And the slot is chosen after: before,
    # the new slug had no edition yet, so it was the schedule's latest slot, whose edition the
    # old slug had built; found once carried over, it was said built already, nothing sent.
    carry_over(services.settings, services.store, services.clock.now())
    carry_over_topics(services.settings, services.store)
    return pipeline.forced_slot(services, list_slug, services.clock.now())


def slot_counts(services: Services, list_slug: str, slot: datetime) -> DeliveryCounts:
    """The deliveries of every edition of the list's slot, added up: readers in other
    timezones, or who chose some of the list's topics, each have an edition of their own."""
    return added_counts(
        services.store.delivery_counts(edition.id)
        for edition in services.store.editions_of_slot(list_slug, slot)
    )


def total(counts: DeliveryCounts) -> int:
    return settled(counts) + counts.pending
