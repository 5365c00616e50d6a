"""Problems that span several keys: references between tables, duplicates, files that must
exist."""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from digest.config.naming import entry_key
from digest.config.values import feed_url_key

if TYPE_CHECKING:
    from digest.config.editorial import TopicSettings
    from digest.config.loading import Settings


def _duplicates(values: Iterable[str]) -> set[str]:
    return {value for value, count in Counter(values).items() if count > 1}


def cross_check(settings: Settings) -> Iterable[tuple[str, str]]:
    """Problems that span several keys: references, duplicates, files that must exist."""
    yield from _duplicate_entries(settings)
    yield from _feed_intervals(settings)
    yield from _topic_references(settings)
    yield from _parent_cycles(settings.topics)
    yield from _previous_slugs(settings)
    yield from _list_references(settings)
    yield from _files_named(settings)


def _duplicate_entries(settings: Settings) -> Iterable[tuple[str, str]]:
    """Two feeds of one address or one name, two topics or two lists of one slug."""
    for what, values in (
        ("feeds", [feed_url_key(feed.url) for feed in settings.feeds]),
        ("feeds", [feed.name for feed in settings.feeds]),
        ("topics", [topic.slug for topic in settings.topics]),
        ("lists", [digest_list.slug for digest_list in settings.lists]),
    ):
        for duplicate in sorted(_duplicates(values)):
            first = values.index(duplicate)
            index = values.index(duplicate, first + 1)
            attribute = {"feeds": "url" if "://" in duplicate else "name"}.get(what, "slug")
            entries = getattr(settings, what)
            yield (
                f"{entry_key(what, entries, index)}.{attribute}",
                f"duplicate {attribute} {duplicate!r} (also {entry_key(what, entries, first)}):"
                f" give each entry its own {attribute}",
            )


def _feed_intervals(settings: Settings) -> Iterable[tuple[str, str]]:
    """A feed whose shortest interval, its own or [ingest]'s, is longer than its longest."""
    for index, feed in enumerate(settings.feeds):
        low = feed.min_interval_minutes or settings.ingest.min_interval_minutes
        high = feed.max_interval_minutes or settings.ingest.max_interval_minutes
        if low > high:
            yield (
                f"{entry_key('feeds', settings.feeds, index)}.min_interval_minutes",
                f"the feed's shortest interval ({low:g} minutes) is longer than its longest "
                f"({high:g} minutes; max_interval_minutes here or in [ingest])",
            )


def _topic_references(settings: Settings) -> Iterable[tuple[str, str]]:
    """A topic's parent that is no topic, a feed its rules name that is no feed."""
    topic_slugs = {topic.slug for topic in settings.topics}
    feed_names = {feed.name for feed in settings.feeds}
    for index, topic in enumerate(settings.topics):
        if topic.parent is not None and topic.parent not in topic_slugs:
            yield (
                f"{entry_key('topics', settings.topics, index)}.parent",
                _unknown_topic(settings.topics, topic.parent),
            )
        for feed_name in topic.rules.feeds:
            if feed_name not in feed_names:
                yield (
                    f"{entry_key('topics', settings.topics, index)}.rules.feeds",
                    f"no feed is named {feed_name!r}",
                )


def _previous_slugs(settings: Settings) -> Iterable[tuple[str, str]]:
    """A topic's previous slug that a topic of the config has, or another topic names too."""
    topic_slugs = {topic.slug for topic in settings.topics}
    claimed: dict[str, int] = {}  # a previous slug -> the topic that names it
    for index, topic in enumerate(settings.topics):
        key = f"{entry_key('topics', settings.topics, index)}.previous_slugs"
        for old in topic.previous_slugs:
            if old in topic_slugs:
                yield key, f"{old!r} is the slug of a topic of the config: a renamed one left it"
            elif claimed.setdefault(old, index) != index:
                other = entry_key("topics", settings.topics, claimed[old])
                yield key, f"{old!r} is a previous slug of {other} too: one topic took its place"


def _list_references(settings: Settings) -> Iterable[tuple[str, str]]:
    """A list's topic that is no topic or is named twice, a subscribers file not found."""
    topic_slugs = {topic.slug for topic in settings.topics}
    for index, digest_list in enumerate(settings.lists):
        for slug in digest_list.topics:
            if slug not in topic_slugs:
                yield (
                    f"{entry_key('lists', settings.lists, index)}.topics",
                    _unknown_topic(settings.topics, slug),
                )
        for duplicate in sorted(_duplicates(digest_list.topics)):
            yield (
                f"{entry_key('lists', settings.lists, index)}.topics",
                f"topic {duplicate!r} is listed twice",
            )
        if digest_list.subscribers is None:
            continue
        subscribers = settings.config_path(digest_list.subscribers)
        if not subscribers.is_file():
            yield (
                f"{entry_key('lists', settings.lists, index)}.subscribers",
                _not_a_file(subscribers),
            )


def _files_named(settings: Settings) -> Iterable[tuple[str, str]]:
    """Folders and files the config names that are not there, and a DKIM key missing."""
    if settings.sample_server is not None:
        folder = settings.config_path(settings.sample_server.directory)
        if not folder.is_dir():
            yield "sample_server.directory", f"folder not found: {folder}"
    if settings.service.templates is not None:
        folder = settings.config_path(settings.service.templates)
        if not folder.is_dir():
            yield "service.templates", f"folder not found: {folder}"
    if settings.smtp is not None and settings.smtp.ca_file is not None:
        ca_file = settings.config_path(settings.smtp.ca_file)
        if not ca_file.is_file():
            yield "smtp.ca_file", _not_a_file(ca_file)
        else:
            try:
                ssl.create_default_context(cafile=str(ca_file))
            except (ssl.SSLError, OSError) as error:
                reason = getattr(error, "reason", None) or error.strerror or str(error)
                yield "smtp.ca_file", f"{ca_file} holds no PEM certificate: {reason}"
    if settings.dkim is not None:
        if settings.dkim.key_file is not None:
            key_file = settings.config_path(settings.dkim.key_file)
            if not key_file.is_file():
                yield "dkim.key_file", _not_a_file(key_file)
        elif settings.dkim_key is None:
            yield (
                "dkim",
                "no private key: set dkim.key_file to a PEM file or the DIGEST_DKIM_KEY variable",
            )


def _unknown_topic(topics: tuple[TopicSettings, ...], slug: str) -> str:
    """Why ``slug`` names no topic, and the topic's slug now when one was renamed from it: a
    topic renamed and the lists left as they were said "unknown topic 'iran'" while the config
    named 'iran' in the renamed topic's previous_slugs."""
    for index, topic in enumerate(topics):
        if slug in topic.previous_slugs:
            where = f"{entry_key('topics', topics, index)}.previous_slugs"
            return (
                f"unknown topic {slug!r}: it was renamed {topic.slug!r} ({where}); "
                f"write {topic.slug!r}"
            )
    return f"unknown topic {slug!r}"


def _not_a_file(path: Path) -> str:
    """Why ``path``, which must be a file, is none: missing, or a folder by that name."""
    if path.is_dir():
        return f"{path} is a folder: give the file in it"
    return f"file not found: {path}"


def _parent_cycles(topics: tuple[TopicSettings, ...]) -> Iterable[tuple[str, str]]:
    parents = {topic.slug: topic.parent for topic in topics}
    for index, topic in enumerate(topics):
        seen = {topic.slug}
        parent = topic.parent
        while parent is not None and parent in parents:
            if parent in seen:
                yield (
                    f"{entry_key('topics', topics, index)}.parent",
                    f"topic {topic.slug!r} is its own ancestor",
                )
                break
            seen.add(parent)
            parent = parents[parent]
