"""A reader's preferences for a list, as the preferences page shows and saves them.

Library work, no web: what a reader holds (``preferences_of``) and what a saved form changes
(``save_preferences``): the list's topics they want (digest.topic_choices: their next edition
follows them), their name and timezone (marked the reader's own: no import overwrites them),
and which of their lists they stay on (leaving one is an unsubscribe with the channel
"preferences", as any other).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from digest.config import ListSettings
from digest.errors import DigestError
from digest.lists import slugs_and_previous
from digest.mail.headers import cut
from digest.mail.reader_addresses import clean_name
from digest.services import Services
from digest.store.subscribers import CONFIRMED
from digest.topic_choices import effective_choice
from digest.topic_renames import current_slugs
from digest.unsubscribes import unsubscribe
from digest.zone_names import zone_named

CHANNEL = "preferences"
NAME_CHARS = 100
ZONE_CHARS = 64


class PreferencesGone(DigestError):
    """The reader a preferences link was made for is no longer held (forgotten or removed)."""


class PreferencesRefused(DigestError):
    """A saved form that cannot be taken as it is: ``problem`` says which field and why."""

    def __init__(self, problem: str, field: str) -> None:
        super().__init__(problem)
        self.problem, self.field = problem, field


@dataclass(frozen=True, slots=True)
class ListMembership:
    slug: str
    name: str
    language: str
    status: str | None  # pending | confirmed | unsubscribed; None: never on it
    # The slug the membership is held under: the list's, or one it had before, until the next
    # cycle carries a rename over (None: never on it).
    held_as: str | None = None


@dataclass(frozen=True, slots=True)
class Preferences:
    subscriber_id: int
    email: str
    name: str | None
    timezone: str | None
    topics: tuple[str, ...]  # the list's topics the reader gets, in the list's order
    lists: tuple[ListMembership, ...]  # every list of the config, in its order


def preferences_of(
    services: Services, subscriber_id: int, digest_list: ListSettings
) -> Preferences:
    """What the preferences page of ``digest_list`` shows its reader; PreferencesGone when the
    reader is not held any more."""
    store = services.store
    subscriber = store.held_subscriber(subscriber_id)
    if subscriber is None:
        raise PreferencesGone(f"subscriber {subscriber_id} is not held any more")
    held = store.memberships_of(subscriber_id)
    here = _held_as(held, digest_list)
    chosen = held[here][1] if here is not None else None
    if chosen is not None:  # a topic renamed since is carried over at the next cycle: read so now
        chosen = current_slugs(chosen, services.settings)
    topics = effective_choice(chosen, digest_list.topics) or tuple(digest_list.topics)
    lists = []
    for other in services.settings.lists:
        held_as = _held_as(held, other)
        status = held[held_as][0] if held_as is not None else None
        lists.append(ListMembership(other.slug, other.name, other.language, status, held_as))
    return Preferences(
        subscriber_id, subscriber.email, subscriber.name, subscriber.timezone, topics, tuple(lists)
    )


def _held_as(
    held: Mapping[str, tuple[str, tuple[str, ...] | None]], digest_list: ListSettings
) -> str | None:
    """The slug the reader's membership of the list is held under: its slug, or one it had
    before. The pages take a config edit within seconds, and a renamed list's members move at
    the next cycle: in between, the page showed its reader off the list (a sign-up link), with
    every topic ticked, and saved their choice nowhere."""
    return next((slug for slug in slugs_and_previous(digest_list) if slug in held), None)


def save_preferences(
    services: Services,
    subscriber_id: int,
    digest_list: ListSettings,
    *,
    topics: Collection[str],
    name: str,
    timezone: str,
    stay_on: Collection[str],
    shown: Collection[str] | None = None,
    topics_shown: Collection[str] | None = None,
) -> Preferences:
    """Save a reader's form: ``topics`` of ``digest_list`` (at least one of its own), ``name``
    and ``timezone`` (an IANA name; empty: the list's), and ``stay_on``, the slugs of the lists
    they are on that they keep (the others of those are unsubscribed). ``shown``: the lists the
    form had a box for; a list the reader joined after the page was opened had none, so it
    cannot have been unticked, and stays (None: every list, for a form that does not say).
    ``topics_shown`` likewise: a topic the form had no box for (added to the list since) keeps
    what the reader had, which for a reader who never chose is every topic.
    Raises PreferencesRefused before anything changes when a field cannot be taken,
    PreferencesGone for a reader not held."""
    current = preferences_of(services, subscriber_id, digest_list)
    ticked = set(topics)
    kept = [
        topic
        for topic in digest_list.topics
        if topic in ticked
        or (topics_shown is not None and topic not in topics_shown and topic in current.topics)
    ]
    if not kept:
        raise PreferencesRefused("choose at least one topic", "topics")
    zone = timezone.strip()
    if zone and (len(zone) > ZONE_CHARS or zone_named(zone) is None):
        raise PreferencesRefused(f"unknown timezone {zone[:ZONE_CHARS]!r}", "timezone")
    cleaned = clean_name(name)
    cleaned = cut(cleaned, NAME_CHARS) if cleaned else None
    store = services.store
    here = next(m.held_as for m in current.lists if m.slug == digest_list.slug) or digest_list.slug
    store.choose_topics(subscriber_id, here, None if len(kept) == len(digest_list.topics) else kept)
    store.set_name_and_timezone(subscriber_id, cleaned, zone or None)
    for membership in current.lists:
        if membership.status != CONFIRMED or membership.slug in stay_on:
            continue
        if shown is None or membership.slug in shown:
            unsubscribe(services, subscriber_id, membership.held_as or membership.slug, CHANNEL)
    return preferences_of(services, subscriber_id, digest_list)
