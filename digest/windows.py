"""An edition's window and what it holds: the articles after the previous edition's sequence,
up to the one read when the build began, composed (digest.compose); a list's first edition
reaches back one period of its schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from digest import compose
from digest.bylines import Bylines
from digest.config import ListSettings
from digest.images.gathering import refused_pictures
from digest.ingest.pictures import names_private_host, picture_url
from digest.records import Candidate, Edition
from digest.schedule import interval_before
from digest.services import Services, signing_secret


def compose_next_edition(
    services: Services,
    digest_list: ListSettings,
    slot: datetime,
    now: datetime,
    window_seq: int,
    excluded: frozenset[int] = frozenset(),
) -> Edition:
    """The list's next edition: its window starts where the last edition's ended and ends at
    ``window_seq``, the article sequence read when the build began (digest.store.sequence),
    shown to readers as ending ``now``; the articles ``excluded`` (ids) are left out, as if the
    feeds had never sent them."""
    after_seq, window_start = window_after_previous(services, digest_list.slug, slot)
    compose_without = window_composer(
        services, digest_list, slot, window_seq, after_seq, window_start, now=now
    )
    return compose_without(excluded)


def window_after_previous(
    services: Services, list_slug: str, slot: datetime
) -> tuple[int, datetime | None]:
    """Where the window of (list, slot) starts: after the sequence and the end of the edition
    of the slot before (0 and None for a list's first edition). Another variant of this slot,
    stored a moment ago, is not where it starts."""
    previous = services.store.edition_before(list_slug, slot)
    if previous is None:
        return 0, None
    return previous.window_seq, previous.window_end


def compose_window(
    services: Services,
    digest_list: ListSettings,
    slot: datetime,
    now: datetime,
    window_seq: int,
    *,
    after_seq: int,
    window_start: datetime | None,
    excluded: frozenset[int] = frozenset(),
) -> Edition:
    """The edition of the articles after ``after_seq`` up to ``window_seq``, shown to readers as
    the window from ``window_start`` to ``now``; the articles ``excluded`` left out."""
    store = services.store
    window_end = max(now, window_start) if window_start is not None else now
    # Never behind the previous window, should a second build of another slot have raced ahead.
    window_seq = max(window_seq, after_seq)
    candidates = store.candidates(digest_list.topics, after_seq, window_seq)
    if window_start is None:
        # Before the exclusions: leaving out an article the checks refused must not move the
        # first edition's reach, which counts from its newest report.
        candidates = first_edition_candidates(digest_list, slot, window_end, candidates)
    candidates = [candidate for candidate in candidates if candidate.article.id not in excluded]
    edition = compose.build_edition(
        digest_list,
        services.settings.topics,
        bylines=Bylines.for_feeds(services.settings.feeds),
        slot=slot,
        window_start=window_start,
        window_end=window_end,
        candidates=_without_refused_pictures(services, candidates),
    )
    return replace(edition, window_seq=window_seq)


def first_edition_candidates(
    digest_list: ListSettings, slot: datetime, window_end: datetime, candidates: list[Candidate]
) -> list[Candidate]:
    """The candidates a list's first edition keeps: those of its last period up to its newest
    report (``first_edition_lookback_hours``, else the schedule's gap before ``slot``).

    A first edition has no previous window to start after, and the feeds carry days of backlog:
    a daily's first edition would lead and fill its sections with last week's news. It reaches
    back from the newest report rather than from the clock, so that feeds that went quiet still
    give their last period of news; a report dated in the future counts as ``window_end``.
    What it leaves out is never sent: later windows start after this one's sequence."""
    if not candidates:
        return candidates
    if digest_list.first_edition_lookback_hours is not None:
        lookback = timedelta(hours=digest_list.first_edition_lookback_hours)
    else:
        lookback = interval_before(digest_list.schedule, digest_list.timezone, slot)
    newest = min(max(candidate.article.sort_time for candidate in candidates), window_end)
    return [
        candidate for candidate in candidates if candidate.article.sort_time > newest - lookback
    ]


def _without_refused_pictures(services: Services, candidates: list[Candidate]) -> list[Candidate]:
    """The articles whose picture the mail will not show composed as having none: such a picture
    must not win an article the lead over one whose picture will show. With web.images, those
    the service refused (or could not fetch) lately; without, those on a private network, which
    the mail leaves out unless the feeds are on one too (digest.render.pictures.kept_by)."""
    settings = services.settings
    if not settings.web.images:
        if settings.ingest.allow_private_addresses:
            return candidates
        refused = {
            url
            for candidate in candidates
            if (url := picture_url(candidate.article.image_url)) and names_private_host(url)
        }
    else:
        refused = refused_pictures(
            {url for candidate in candidates if (url := picture_url(candidate.article.image_url))},
            store=services.store,
            secret=signing_secret(settings),
            now=services.clock.now(),
        )
    return [
        replace(candidate, article=replace(candidate.article, image_url=None))
        if picture_url(candidate.article.image_url) in refused
        else candidate
        for candidate in candidates
    ]


def window_composer(
    services: Services,
    digest_list: ListSettings,
    slot: datetime,
    window_seq: int,
    after_seq: int,
    window_start: datetime | None,
    *,
    now: datetime | None = None,
) -> Callable[[frozenset[int]], Edition]:
    """Composes the list's edition of the window (``after_seq``, ``window_seq``], shown to
    readers as ending ``now`` (by default the clock's), less the articles it is given."""
    now = now if now is not None else services.clock.now()

    def compose_without(excluded: frozenset[int]) -> Edition:
        return compose_window(
            services,
            digest_list,
            slot,
            now,
            window_seq,
            after_seq=after_seq,
            window_start=window_start,
            excluded=excluded,
        )

    return compose_without
