"""Editions: one per (list, slot, variant), stored with their layout and rendering (invariant 2)."""

from __future__ import annotations

import fcntl
import os
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from digest.records import Article, Edition, EditionItem, RenderedEdition, Section
from digest.store.articles import ArticleStore
from digest.store.db import advisory_locks, sqlite_file
from digest.store.schema import (
    EditionArticleRow,
    EditionRow,
)

# An edition's status. Its ledger rows have their own (digest.store.deliveries).
EMPTY = "empty"  # nothing to send; the slot is done
READY = "ready"  # built and rendered; deliveries queued
SENT = "sent"  # every delivery settled


@dataclass(frozen=True, slots=True)
class EditionState:
    id: int
    list_slug: str
    slot: datetime
    window_start: datetime | None
    window_end: datetime
    window_seq: int
    status: str
    article_count: int
    variant: str = ""


def edition_state(row: EditionRow) -> EditionState:
    return EditionState(
        id=row.id,
        list_slug=row.list_slug,
        slot=row.slot,
        window_start=row.window_start,
        window_end=row.window_end,
        window_seq=row.window_seq,
        status=row.status,
        article_count=row.article_count,
        variant=row.variant,
    )


def _item_layout(item: EditionItem) -> dict[str, Any]:
    return {
        "article": item.article.id,
        "topic": item.topic,
        "more_from": [article.id for article in item.more_from],
        "also_covered_by": [article.id for article in item.also_covered_by],
    }


def edition_layout(edition: Edition) -> dict[str, Any]:
    """The edition's structure by article id: what is stored, so a rebuild yields the same."""
    return {
        "lead": _item_layout(edition.lead) if edition.lead else None,
        "sections": [
            {
                "topic": section.topic,
                "title": section.title,
                "items": [_item_layout(item) for item in section.items],
            }
            for section in edition.sections
        ],
        "recommended": [_item_layout(item) for item in edition.recommended],
    }


# A list's builds in this process, one at a time (see ``EditionStore.building``): a POSIX
# record lock does not keep apart two threads of one process, nor is there one for a database
# in memory. Keyed by (database URL, list).
_building_here: dict[tuple[str, str], threading.Lock] = {}
_building_here_guard = threading.Lock()

# The key of a list's build lock on PostgreSQL is (1651861868, hashtext(list)): the first
# number, "buil" in ASCII, keeps it apart from the ledger's advisory locks ("ledg").
_BUILD_LOCK = text("SELECT pg_advisory_xact_lock(1651861868, hashtext(:list_slug))")


class EditionStore(ArticleStore):
    @contextmanager
    def building(self, list_slug: str) -> Iterator[None]:
        """The list's editions built by this block alone: another build of the list, of any
        slot, in any process, waits for it to end.

        A build reads where its window starts (the edition before its slot) long before it
        stores its edition: two builds of different slots at once (a late slot's task and the
        current one's on two workers, ``digest send`` beside the service) both started after
        the same edition and mailed the same articles. One at a time, the second finds the
        first's edition and starts after it, or, for an older slot, is not built at all.

        PostgreSQL: an advisory lock of a transaction open on a connection of the block's own
        (``advisory_locks``), which a worker
        killed outright lets go of with its connection. SQLite: a POSIX record lock on one byte
        (the list's) of a file beside the database, let go of by a killed process too.
        """
        local = self._local_build_lock(list_slug)
        with local:
            if self.engine.dialect.name == "postgresql":
                with advisory_locks(self.engine, _BUILD_LOCK, {"list_slug": list_slug}):
                    yield
                return
            database = sqlite_file(self.engine.url)
            if database is None or database.startswith("file:"):
                yield  # a database in memory: no other process sees it
                return
            descriptor = os.open(f"{database}-building", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(descriptor, fcntl.LOCK_EX, 1, zlib.crc32(list_slug.encode()))
                yield
            finally:
                os.close(descriptor)  # its lock goes with it

    def _local_build_lock(self, list_slug: str) -> threading.Lock:
        key = (self.engine.url.render_as_string(hide_password=False), list_slug)
        with _building_here_guard:
            return _building_here.setdefault(key, threading.Lock())

    def edition_for_slot(
        self, list_slug: str, slot: datetime, variant: str | None = None
    ) -> EditionState | None:
        """The edition of (list, slot) and ``variant``; with no variant named, the first stored
        of the slot (a list read in one timezone has only one)."""
        query = select(EditionRow).where(EditionRow.list_slug == list_slug, EditionRow.slot == slot)
        if variant is not None:
            query = query.where(EditionRow.variant == variant)
        with self.transaction() as session:
            row = session.scalars(query.order_by(EditionRow.id).limit(1)).one_or_none()
            return edition_state(row) if row else None

    def editions_of_slot(self, list_slug: str, slot: datetime) -> list[EditionState]:
        with self.transaction() as session:
            rows = session.scalars(
                select(EditionRow)
                .where(EditionRow.list_slug == list_slug, EditionRow.slot == slot)
                .order_by(EditionRow.id)
            )
            return [edition_state(row) for row in rows]

    def edition_ending_at(self, list_slug: str, window_seq: int) -> EditionState | None:
        """The latest edition of the list whose window ended at ``window_seq``."""
        with self.transaction() as session:
            row = session.scalars(
                select(EditionRow)
                .where(EditionRow.list_slug == list_slug, EditionRow.window_seq == window_seq)
                .order_by(EditionRow.slot.desc(), EditionRow.id.desc())
                .limit(1)
            ).one_or_none()
            return edition_state(row) if row else None

    def edition_before(self, list_slug: str, slot: datetime) -> EditionState | None:
        """The list's latest edition of a slot before ``slot``: where the window of an edition
        of ``slot`` starts, whichever of its variants is stored first."""
        with self.transaction() as session:
            row = session.scalars(
                select(EditionRow)
                .where(EditionRow.list_slug == list_slug, EditionRow.slot < slot)
                .order_by(EditionRow.slot.desc(), EditionRow.id)
                .limit(1)
            ).one_or_none()
            return edition_state(row) if row else None

    def latest_edition(self, list_slug: str) -> EditionState | None:
        with self.transaction() as session:
            row = session.scalars(
                select(EditionRow)
                .where(EditionRow.list_slug == list_slug)
                .order_by(EditionRow.slot.desc())
                .limit(1)
            ).one_or_none()
            return edition_state(row) if row else None

    def save_edition(
        self,
        edition: Edition,
        rendered: RenderedEdition | None,
        built_at: datetime,
        variant: str = "",
    ) -> tuple[EditionState, bool]:
        """Store a built edition: (state, True) when stored now, (existing, False) if it was before.

        The unique (list, slot, variant) key makes concurrent builds of one slot agree on one
        edition.
        """
        row = EditionRow(
            list_slug=edition.list_slug,
            slot=edition.slot,
            variant=variant,
            window_start=edition.window_start,
            window_end=edition.window_end,
            window_seq=edition.window_seq,
            status=EMPTY if rendered is None else READY,
            built_at=built_at,
            layout=edition_layout(edition),
            article_count=sum(1 for _ in edition.articles()),
        )
        if rendered is not None:
            row.subject, row.preheader = rendered.subject, rendered.preheader
            row.html, row.text = rendered.html, rendered.text
            row.web_html = rendered.web_html
        try:
            with self.transaction() as session:
                session.add(row)
                session.flush()
                session.add_all(
                    EditionArticleRow(edition_id=row.id, article_id=article.id, position=position)
                    for position, article in enumerate(edition.articles())
                )
                return edition_state(row), True
        except IntegrityError:
            existing = self.edition_for_slot(edition.list_slug, edition.slot, variant)
            if existing is None:
                raise
            return existing, False

    def load_edition(self, edition_id: int) -> Edition:
        with self.transaction() as session:
            row = session.get_one(EditionRow, edition_id)
            layout, state = row.layout, edition_state(row)
        ids = [
            article_id
            for item in _layout_items(layout)
            for article_id in (
                item["article"],
                *item["more_from"],
                *item.get("also_covered_by", ()),
            )
        ]
        articles = {article.id: article for article in self.articles(ids)}

        def item(data: dict[str, Any]) -> EditionItem:
            return EditionItem(
                article=articles[data["article"]],
                topic=data["topic"],
                more_from=tuple(articles[i] for i in data["more_from"]),
                also_covered_by=tuple(articles[i] for i in data.get("also_covered_by", ())),
            )

        return Edition(
            list_slug=state.list_slug,
            slot=state.slot,
            window_start=state.window_start,
            window_end=state.window_end,
            window_seq=state.window_seq,
            lead=item(layout["lead"]) if layout["lead"] else None,
            sections=tuple(
                Section(
                    topic=section["topic"],
                    title=section["title"],
                    items=tuple(item(data) for data in section["items"]),
                )
                for section in layout["sections"]
            ),
            recommended=tuple(item(data) for data in layout["recommended"]),
        )

    def rendered_edition(self, edition_id: int) -> RenderedEdition:
        with self.transaction() as session:
            row = session.get(EditionRow, edition_id)
            if row is None:  # a batch queued before the database was restored or replaced
                raise LookupError(
                    f"edition {edition_id} is not in the database: its work was handed out "
                    "before the database was restored from a backup or made afresh; it is "
                    "dropped (the ledger's pending rows are handed out again by the next tick)"
                )
            if row.html is None or row.text is None or row.subject is None:
                raise LookupError(f"edition {edition_id} has nothing to send")
            return RenderedEdition(
                list_slug=row.list_slug,
                slot=row.slot,
                subject=row.subject,
                preheader=row.preheader or "",
                html=row.html,
                text=row.text,
                article_count=row.article_count,
            )

    def edition_articles(self, edition_id: int) -> list[Article]:
        with self.transaction() as session:
            ids = list(
                session.scalars(
                    select(EditionArticleRow.article_id)
                    .where(EditionArticleRow.edition_id == edition_id)
                    .order_by(EditionArticleRow.position)
                )
            )
        return self.articles(ids)


def _layout_items(layout: dict[str, Any]) -> Iterable[dict[str, Any]]:
    if layout["lead"]:
        yield layout["lead"]
    for section in layout["sections"]:
        yield from section["items"]
    yield from layout["recommended"]
