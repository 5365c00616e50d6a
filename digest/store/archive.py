"""The archive's reading of editions: a list's sent editions by page, one by its slot, a ping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, select, text

from digest.store.base import StoreBase
from digest.store.schema import EditionRow

# An edition with something in it that went (or is going) to readers; never an empty one, not
# even one a list with send_when_empty mailed ("no new stories").
_SHOWN = ("ready", "sent")


@dataclass(frozen=True, slots=True)
class ArchivedEdition:
    """What the archive shows of one edition, without its HTML."""

    list_slug: str
    slot: datetime
    subject: str
    preheader: str
    article_count: int
    built_at: datetime
    # The edition's row: the one thing of it a rename of its list (which moves its list_slug)
    # leaves as it was, hence what its Atom entry's id names.
    edition_id: int
    variant: str = ""


def _archived(row: Any) -> ArchivedEdition:
    """From an EditionRow or a row of the same columns."""
    return ArchivedEdition(
        list_slug=row.list_slug,
        slot=row.slot,
        subject=row.subject or "",
        preheader=row.preheader or "",
        article_count=row.article_count,
        built_at=row.built_at,
        edition_id=row.id,
        variant=row.variant,
    )


def _shown(list_slugs: Sequence[str]) -> ColumnElement[bool]:
    return and_(
        EditionRow.list_slug.in_(list_slugs),
        EditionRow.status.in_(_SHOWN),
        EditionRow.html.is_not(None),
        EditionRow.article_count > 0,
    )


def _could_be_stored(variant: str) -> bool:
    """Whether some edition could have ``variant``, which a reader's link names and anyone can
    make up: PostgreSQL refuses to compare text holding a NUL (a DataError, not a miss), and
    the column holds no more than its length."""
    column = EditionRow.__table__.c.variant.type
    length = column.length if isinstance(column, String) else None
    return "\x00" not in variant and (length is None or len(variant) <= length)


class ArchiveStore(StoreBase):
    def ping(self) -> None:
        """Raise unless the database answers a query (the health check)."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def archived_editions(
        self, list_slugs: Sequence[str], *, offset: int, limit: int
    ) -> tuple[list[ArchivedEdition], int]:
        """The list's shown editions, newest first, from ``offset``; and how many there are.
        ``list_slugs`` are its slug and its former ones (digest.lists.slugs_and_previous): a
        renamed list's editions stay under the old slug until the next cycle carries them over,
        and one whose slot the new slug had already stays there for good. One per slot: of a
        list read in each reader's timezone, the first variant stored."""
        first_of_slot = (
            select(func.min(EditionRow.id)).where(_shown(list_slugs)).group_by(EditionRow.slot)
        )
        with self.transaction() as session:
            total = session.scalar(select(func.count()).select_from(first_of_slot.subquery()))
            rows = session.execute(
                select(
                    EditionRow.list_slug,
                    EditionRow.slot,
                    EditionRow.subject,
                    EditionRow.preheader,
                    EditionRow.article_count,
                    EditionRow.built_at,
                    EditionRow.id,
                    EditionRow.variant,
                )
                .where(EditionRow.id.in_(first_of_slot))
                .order_by(EditionRow.slot.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return [_archived(row) for row in rows], int(total or 0)

    def first_edition(self, list_slugs: Sequence[str]) -> tuple[int, datetime] | None:
        """The id and slot of the first edition ever stored for the list called ``list_slugs``
        (now and before), shown or not, or None before its first: the one thing of a list a
        rename leaves as it was (editions are never deleted, and a rename moves their
        list_slug, never their id)."""
        with self.transaction() as session:
            row = session.execute(
                select(EditionRow.id, EditionRow.slot)
                .where(EditionRow.list_slug.in_(list_slugs))
                .order_by(EditionRow.id)
                .limit(1)
            ).one_or_none()
        return None if row is None else (row.id, row.slot)

    def archived_edition(
        self, list_slugs: Sequence[str], slot: datetime, variant: str | None = None
    ) -> tuple[ArchivedEdition, str] | None:
        """The shown edition at ``slot`` of the list called ``list_slugs`` (now and before, as
        for ``archived_editions``) and its HTML for the web, or None: the slot's ``variant``, or
        without one its first."""
        shown = _shown(list_slugs)
        if variant is not None:
            if not _could_be_stored(variant):
                return None
            shown = and_(shown, EditionRow.variant == variant)
        with self.transaction() as session:
            row = session.scalars(
                select(EditionRow)
                .where(shown, EditionRow.slot == slot)
                .order_by(EditionRow.id)
                .limit(1)
            ).one_or_none()
            if row is None or row.html is None:
                return None
            # The whole edition when the mail had to leave stories out (migration 0015).
            return _archived(row), row.web_html or row.html
