"""Lists across config edits: a renamed list keeps its history, a removed one is held, not sent.

    the config's [[lists]] ─┐
                            ├─► rename_problems: a new slug while a slug with history left,
    slugs with history ─────┘   undeclared ─► refused (``config check`` and ``run`` alike)
                                declared (previous_slugs) ─► carry_over: editions, members and
                                unsubscribes move to the new slug
                                removed ─► held_warnings: its pending deliveries stay pending,
                                named at every cycle; the other lists go on

Why refuse an undeclared rename: under a new slug the list's readers would be new members, and
whoever had unsubscribed from the old slug would be mailed again (invariant 8). A database
cannot tell a rename from a removal plus a new list; the operator can, in one line.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from digest.config import ListSettings, Settings
from digest.errors import ConfigError
from digest.store import Store

_log = logging.getLogger(__name__)


def slugs_and_previous(digest_list: ListSettings) -> tuple[str, ...]:
    """The list's slug, then the slugs it had before."""
    return (digest_list.slug, *(digest_list.previous_slugs or ()))


def list_for_slug(settings: Settings, slug: str) -> ListSettings | None:
    """The configured list called ``slug`` now or before (an old unsubscribe link), or None."""
    for digest_list in settings.lists:
        if slug in slugs_and_previous(digest_list):
            return digest_list
    return None


def previous_slug_problems(settings: Settings) -> list[tuple[str, str]]:
    """What is wrong with the ``previous_slugs`` of the config alone."""
    problems = []
    current = {digest_list.slug for digest_list in settings.lists}
    claimed = Counter(
        old for digest_list in settings.lists for old in set(digest_list.previous_slugs or ())
    )
    for digest_list in settings.lists:
        key = f"list {digest_list.slug!r}: previous_slugs"
        for old in digest_list.previous_slugs or ():
            if old == digest_list.slug:
                problems.append((key, f"{old!r} is this list's own slug: leave it out"))
            elif old in current:
                problems.append(
                    (key, f"{old!r} is another list of this config: a slug names one list")
                )
            elif claimed[old] > 1:
                problems.append(
                    (key, f"{old!r} is a previous slug of two lists: its history can follow one")
                )
    return problems


def removed_slugs(settings: Settings, history: Iterable[str]) -> set[str]:
    """Slugs with history in the database that no list of the config has now or had before."""
    known = {slug for digest_list in settings.lists for slug in slugs_and_previous(digest_list)}
    return set(history) - known


def rename_problems(settings: Settings, history: set[str]) -> list[tuple[str, str]]:
    """A list new to the database, while a slug with history left the config, and nothing says
    whether the new one is the old one renamed: refused, with the line to add."""
    removed = sorted(removed_slugs(settings, history))
    if not removed:
        return []
    problems = []
    names = " or ".join(repr(slug) for slug in removed)
    for digest_list in settings.lists:
        previous = digest_list.previous_slugs
        if digest_list.slug in history or previous == ():
            continue
        if previous:
            if not set(previous) & history:
                # A slip of the pen ("dialy") would carry nothing over and say nothing.
                problems.append(
                    (
                        f"list {digest_list.slug!r}: previous_slugs",
                        f"the database has no history of {', '.join(map(repr, previous))}, "
                        f"while {names}, no longer in the config, has: check the spelling of "
                        "previous_slugs",
                    )
                )
            continue
        problems.append(
            (
                f"list {digest_list.slug!r}",
                f"this list is new to the database, and {' and '.join(map(repr, removed))}, which "
                f"{'has' if len(removed) == 1 else 'have'} editions or subscribers there, "
                f"{'is' if len(removed) == 1 else 'are'} no longer in the config. "
                f"If {digest_list.slug!r} is "
                f'{names} renamed, add previous_slugs = ["{removed[0]}"] to its [[lists]] '
                "entry, so its unsubscribes and editions follow it; if it is a new list, add "
                "previous_slugs = [] to say so",
            )
        )
    return problems


def history_problems(settings: Settings, store: Store) -> list[tuple[str, str]]:
    """Every problem of the config's lists, the database's history included."""
    return previous_slug_problems(settings) + rename_problems(
        settings, store.list_slugs_with_history()
    )


def held_warnings(settings: Settings, store: Store) -> list[str]:
    """One warning per list slug outside the config whose editions have deliveries pending, or
    were never queued: held, not sent, until the list is back (or named as a previous slug)."""
    current = {digest_list.slug for digest_list in settings.lists}
    held = store.held_deliveries(besides=current)
    unqueued = Counter(
        edition.list_slug
        for edition in store.unqueued_editions()
        if edition.list_slug not in current
    )
    warnings = []
    for slug in sorted(set(held) | set(unqueued)):
        renamed = list_for_slug(settings, slug)
        if renamed is not None:
            # Before the cycle carries the slug over (config check, or run before its first
            # cycle), most of its editions are still under it: only those whose slot the new
            # slug already has will stay there.
            held[slug], unqueued[slug] = store.held_after_rename(slug, renamed.slug)
        what = []
        if held.get(slug):
            what.append(f"{held[slug]} pending deliveries")
        if unqueued.get(slug):
            what.append(f"{unqueued[slug]} editions never queued")
        if not what:
            continue
        if renamed is not None:
            warnings.append(
                f"list {renamed.slug!r} (before, {slug!r}): {' and '.join(what)} of editions "
                f"whose slot {renamed.slug!r} already had stay under {slug!r}, held, not sent"
            )
            continue
        warnings.append(
            f"list {slug!r} is no longer in {settings.source}: {' and '.join(what)} of it are "
            "held, not sent. Put the list back to send them; if it was renamed, add "
            f'previous_slugs = ["{slug}"] to its new [[lists]] entry'
        )
    return warnings


def carry_over(settings: Settings, store: Store, now: datetime) -> list[str]:
    """At the start of a cycle: refuse what ``history_problems`` refuses (ConfigError), move the
    history of each previous slug to its list, and return the warnings about held lists."""
    problems = history_problems(settings, store)
    if problems:
        raise ConfigError(str(settings.source), problems)
    history = store.list_slugs_with_history()
    for digest_list in settings.lists:
        for old in digest_list.previous_slugs or ():
            if old not in history:
                continue
            moved = store.rename_list(old, digest_list.slug, now)
            _log.info(
                "list %r was %r: %d editions and %d memberships carried over",
                digest_list.slug,
                old,
                moved.editions,
                moved.memberships,
            )
    return held_warnings(settings, store)
