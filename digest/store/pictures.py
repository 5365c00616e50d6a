"""The pictures the service serves: kept once per (role, address), evicted least recently used."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from digest.store.base import StoreBase
from digest.store.schema import PictureRow


@dataclass(frozen=True, slots=True)
class StoredPicture:
    """What a build needs of a kept picture: its size, or why it failed (no bytes then)."""

    id: str
    content_type: str | None
    width: int | None
    height: int | None
    failure: str | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class PictureBytes:
    content_type: str
    data: bytes


class PictureStore(StoreBase):
    def stored_pictures(self, ids: Iterable[str]) -> dict[str, StoredPicture]:
        """The kept pictures (or failures) among ``ids``, by id; their bytes are not read."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        with self.transaction() as session:
            rows = session.execute(
                select(
                    PictureRow.id,
                    PictureRow.content_type,
                    PictureRow.width,
                    PictureRow.height,
                    PictureRow.failure,
                    PictureRow.fetched_at,
                ).where(PictureRow.id.in_(wanted))
            ).all()
        return {row.id: StoredPicture(*row) for row in rows}

    def save_picture(
        self,
        *,
        picture_id: str,
        source_url: str,
        role: str,
        content_type: str | None,
        data: bytes | None,
        width: int | None,
        height: int | None,
        failure: str | None,
        now: datetime,
    ) -> None:
        """Keep a picture, or the reason it failed, replacing what was kept under its id (two
        builds fetching it at once keep the same thing)."""
        # Another build may keep it at the same moment, from the same address: either copy does.
        with suppress(IntegrityError):
            self._merge_picture(
                PictureRow(
                    id=picture_id,
                    source_url=source_url,
                    role=role,
                    content_type=content_type,
                    data=data,
                    width=width,
                    height=height,
                    size=len(data) if data else 0,
                    failure=failure,
                    fetched_at=now,
                    used_at=now,
                )
            )

    def _merge_picture(self, row: PictureRow) -> None:
        with self.transaction() as session:
            session.merge(row)

    def picture_bytes(self, picture_id: str) -> PictureBytes | None:
        """The bytes the service serves for ``picture_id``; None for an unknown id or a failure."""
        with self.transaction() as session:
            row = session.execute(
                select(PictureRow.content_type, PictureRow.data).where(PictureRow.id == picture_id)
            ).first()
        if row is None or row.data is None or row.content_type is None:
            return None
        return PictureBytes(row.content_type, row.data)

    def mark_pictures_used(self, ids: Collection[str], now: datetime) -> None:
        """Note that an edition built at ``now`` shows these pictures (eviction spares them)."""
        if ids:
            with self.transaction() as session:
                session.execute(
                    update(PictureRow).where(PictureRow.id.in_(sorted(ids))).values(used_at=now)
                )

    def evict_pictures(
        self,
        max_bytes: int,
        keep: Collection[str] = (),
        *,
        failures_unused_since: datetime | None = None,
    ) -> int:
        """Delete the least recently used pictures until the kept bytes are at most
        ``max_bytes``, never one in ``keep``, and the failures no edition wanted since
        ``failures_unused_since``; the number of pictures deleted."""
        if failures_unused_since is not None:
            with self.transaction() as session:
                session.execute(
                    delete(PictureRow).where(
                        PictureRow.data.is_(None), PictureRow.used_at < failures_unused_since
                    )
                )
        with self.transaction() as session:
            total = session.scalar(select(func.coalesce(func.sum(PictureRow.size), 0))) or 0
            if total <= max_bytes:
                return 0
            doomed: list[str] = []
            rows = session.execute(
                select(PictureRow.id, PictureRow.size)
                .where(PictureRow.size > 0)
                .order_by(PictureRow.used_at, PictureRow.id)
            )
            for picture_id, size in rows:
                if total <= max_bytes:
                    break
                if picture_id in keep:
                    continue
                doomed.append(picture_id)
                total -= size
            if doomed:
                session.execute(delete(PictureRow).where(PictureRow.id.in_(doomed)))
        return len(doomed)
