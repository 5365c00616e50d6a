"""Topics across config edits: a renamed topic keeps its stored articles and its readers' choices.

    [[topics]] previous_slugs ─► carry_over_topics, at the start of each cycle: the articles
                                 filed under an old slug, and the readers who chose it in their
                                 preferences, move to the new slug (nothing to move once done)
    slugs recent articles are filed under that no topic has, or had ─► a warning from
                                 ``config check`` and ``run``: their articles are in no section
    a reader's choice read before the next cycle ─► current_slugs: the old slugs read as the
                                 new ones (the preferences page)

Why it matters: articles are filed under topics when they are stored, and an edition is built
from what is filed. Under a new slug a topic starts empty, and the articles of the edition's
window filed under its old slug would go out in no edition at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from digest.config import Settings
from digest.store import Store

_log = logging.getLogger(__name__)

# How far back a slug no topic has is looked for: well past the longest window of a weekly.
RECENT = timedelta(days=30)


def carry_over_topics(settings: Settings, store: Store) -> None:
    """File under each topic what is filed under its ``previous_slugs``."""
    for topic in settings.topics:
        for old in topic.previous_slugs:
            moved = store.rename_topic(old, topic.slug)
            if moved.articles or moved.readers:
                _log.info(
                    "topic %r was %r: %d articles and %d readers' choices carried over",
                    topic.slug,
                    old,
                    moved.articles,
                    moved.readers,
                )


def current_slugs(chosen: Sequence[str], settings: Settings) -> tuple[str, ...]:
    """A reader's stored choice with each slug a topic had before a rename read as the topic's
    slug now. The choice itself moves at the next cycle (``carry_over_topics``); the readers'
    pages take an edit within seconds, and until then they showed the renamed topic unticked,
    and a page saved in between wrote the reader's choice without it."""
    renamed = {old: topic.slug for topic in settings.topics for old in topic.previous_slugs}
    return tuple(renamed.get(slug, slug) for slug in chosen)


def unknown_topic_warnings(settings: Settings, store: Store, now: datetime) -> list[str]:
    """A warning per slug that articles of the last ``RECENT`` are filed under and that no topic
    of the config has or names among its ``previous_slugs``."""
    known = {topic.slug for topic in settings.topics}
    known.update(old for topic in settings.topics for old in topic.previous_slugs)
    return [
        f"topic {slug!r} is not in {settings.source}, and articles of the last "
        f"{RECENT.days} days are filed under it: they are in no edition's sections. If it was "
        f'renamed, add previous_slugs = ["{slug}"] to its new [[topics]] entry'
        for slug in sorted(store.topic_slugs_filed_since(now - RECENT) - known)
    ]
