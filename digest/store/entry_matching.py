"""Which stored article a feed's entry is, before anything is written.

    entry ─► same feed and guid?        ─► that article, unless it is another story (link and
                                           title differ, not published at the same time): the
                                           guid was reused, the entry is known by its link
          ─► same feed and link?        ─► the feed moved its guid: adopt it
          ─► same feed, title, date     ─► the feed moved its guid and its link: adopt the guid
             and summary?
          ─► same link from another feed ─► duplicate, dropped
          ─► none of these              ─► fresh: a new article (digest.store.articles)

A matched article whose entry changed takes the entry's fields in place; an unchanged one is a
duplicate. Links are looked up under http and https alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from digest.records import Entry
from digest.store.base import chunks
from digest.store.schema import ArticleRow

# The statements every poll runs, built once: building one costs more than running it on a
# small feed (SQLAlchemy caches the compiled form, not the construction).
_BY_GUID = select(ArticleRow).where(
    ArticleRow.feed_id == bindparam("feed_id"),
    ArticleRow.guid.in_(bindparam("guids", expanding=True)),
)
_BY_LINK = select(ArticleRow).where(ArticleRow.link.in_(bindparam("links", expanding=True)))
_BY_TITLE = select(ArticleRow).where(
    ArticleRow.feed_id == bindparam("feed_id"),
    ArticleRow.title.in_(bindparam("titles", expanding=True)),
)


@dataclass(frozen=True, slots=True)
class Matched:
    """A feed's entries set against the stored articles."""

    fresh: list[Entry]  # entries no stored article is
    updated: list[ArticleRow]  # stored articles that took their changed entry in place
    duplicates: int  # entries stored already, unchanged or brought by another feed first


def match_entries(session: Session, feed_id: int, entries: Sequence[Entry]) -> Matched:
    """Match each of a feed's entries to its stored article (module docstring), updating in
    place the articles whose entry changed or whose feed moved its guid."""
    kept, by_guid = _by_guid(session, feed_id, _unique(entries))
    by_link = _by_link(session, [entry for entry in kept if entry.guid not in by_guid])
    unmatched = [e for e in kept if e.guid not in by_guid and e.link not in by_link]
    by_item = _same_items(session, feed_id, unmatched)
    fresh: list[Entry] = []
    updated: list[ArticleRow] = []
    duplicates = 0
    for entry in kept:
        row = by_guid.get(entry.guid)
        if row is None:
            row = by_link.get(entry.link)
            if row is None and (key := _item_key(entry)) is not None:
                row = by_item.get(key)
            if row is None:
                fresh.append(entry)
                continue
            if row.feed_id != feed_id:
                duplicates += 1  # another feed brought this link first
                continue
            if row.guid in by_guid:  # this row's own guid is still in the feed
                duplicates += 1
                continue
            # The feed moved its guids; the link (or the item itself) is the story.
            row.guid = entry.guid
            if row.link == other_scheme(entry.link) and entry.link.startswith("https:"):
                row.link = entry.link  # moved to https: readers follow that one
        if _changed(row, entry):
            _copy_entry(row, entry)
            updated.append(row)
        else:
            duplicates += 1
    return Matched(fresh, updated, duplicates)


def _by_guid(
    session: Session, feed_id: int, entries: list[Entry]
) -> tuple[list[Entry], dict[str, ArticleRow]]:
    """The entries, each under the guid it is known by, and the feed's stored articles under
    those guids."""
    by_guid = _rows_by_guid(session, feed_id, entries)
    # A guid the feed gave before to another story (a CMS that hands out its ids again): the
    # entry is known by its link instead, as when one document gives a guid to several links;
    # updated in place, the new story was never stored or mailed.
    reused = {
        id(entry)
        for entry in entries
        if (row := by_guid.get(entry.guid)) is not None and _another_story(row, entry)
    }
    if not reused:
        return entries, by_guid
    # Rare: looked up again, under the guids the entries now have.
    rekeyed = _unique([replace(e, guid=e.link) if id(e) in reused else e for e in entries])
    return rekeyed, _rows_by_guid(session, feed_id, rekeyed)


def _by_link(session: Session, entries: Sequence[Entry]) -> dict[str, ArticleRow]:
    """The stored articles of any feed under the links of ``entries``, looked up under either
    scheme: one feed's http link and another's https one (or a publisher's move to https,
    with new guids) are the same article."""
    links = [link for entry in entries for link in (entry.link, other_scheme(entry.link))]
    found = {
        row.link: row
        for chunk in chunks(links)
        for row in session.scalars(_BY_LINK, {"links": chunk})
    }
    return {
        entry.link: row
        for entry in entries
        if (row := found.get(entry.link) or found.get(other_scheme(entry.link)))
    }


def _rows_by_guid(
    session: Session, feed_id: int, entries: Sequence[Entry]
) -> dict[str, ArticleRow]:
    """The feed's stored articles under the guids of ``entries``."""
    return {
        row.guid: row
        for chunk in chunks([entry.guid for entry in entries])
        for row in session.scalars(_BY_GUID, {"feed_id": feed_id, "guids": chunk})
    }


def _another_story(row: ArticleRow, entry: Entry) -> bool:
    """Whether the article stored under an entry's guid is another story than the entry.

    An article edited after publication keeps its guid and may change its title or its link
    (a slug rewritten, http to https), rarely both, and keeps its publication date; a CMS that
    reuses its ids gives the guid to a story with a new link and a later date, often under the
    same title (a live page, a daily column: "Live: the day in the Gulf"). Without a publication
    date on both sides, a new link and a new title tell it: an entry dated by its updates only
    has a new date at every edit.
    """
    if row.link == entry.link:
        return False
    publication_dates = row.published_at is not None and entry.published_at is not None
    if publication_dates and not entry.dated_by_update:
        return row.published_at != entry.published_at
    return row.title != entry.title


def _item_key(entry: Entry) -> tuple[str, datetime, str] | None:
    """What an entry is known by when its guid and link are new: its title, its date and its
    summary; None for an entry without a date, whose title and summary may well recur."""
    if entry.published_at is None:
        return None
    return entry.title, entry.published_at, entry.summary_text


def other_scheme(link: str) -> str:
    """The canonical ``link`` under the other of http and https."""
    if link.startswith("https://"):
        return "http://" + link.removeprefix("https://")
    return "https://" + link.removeprefix("http://")


def _same_items(
    session: Session, feed_id: int, entries: Sequence[Entry]
) -> dict[tuple[str, datetime, str], ArticleRow]:
    """The feed's stored articles with the title, date and summary of one of ``entries``.

    Some feeds send each item under a new guid and a new link at every poll (a cache-busting
    query, a session id in the address): the same title, summary and publication date in the
    same feed are still the one item, and stored again it went out in every edition for as
    long as the feed carried it.
    """
    titles = sorted({entry.title for entry in entries if _item_key(entry) is not None})
    found: dict[tuple[str, datetime, str], ArticleRow] = {}
    for chunk in chunks(titles):
        for row in session.scalars(_BY_TITLE, {"feed_id": feed_id, "titles": chunk}):
            if row.published_at is not None:
                found.setdefault((row.title, row.published_at, row.summary_text), row)
    return found


def _unique(entries: Sequence[Entry]) -> list[Entry]:
    """A feed may repeat an entry; keep its first occurrence by guid and by link."""
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if entry.guid in seen or entry.link in seen:
            continue
        seen.update((entry.guid, entry.link))
        kept.append(entry)
    return kept


def _changed(row: ArticleRow, entry: Entry) -> bool:
    return (
        row.title != entry.title
        or row.summary_html != entry.summary_html
        or row.author != entry.author
        or row.image_url != entry.image_url
        or row.image_description != entry.image_description
        or tuple(row.categories or ()) != entry.categories
    )


def _copy_entry(row: ArticleRow, entry: Entry) -> None:
    row.title = entry.title
    row.summary_html = entry.summary_html
    row.summary_text = entry.summary_text
    row.author = entry.author
    row.published_at = row.published_at or entry.published_at
    row.updated_at = entry.updated_at
    row.categories = list(entry.categories)
    row.image_url = entry.image_url
    row.image_description = entry.image_description
    row.language = entry.language
