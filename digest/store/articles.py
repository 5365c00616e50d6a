"""Articles in the store: each stored once (invariant 1), with the topics they are filed under."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.records import Article, Candidate, Entry, TopicMatch
from digest.store.base import StoreBase
from digest.store.schema import ArticleRow, ArticleTopicRow, FeedRow


@dataclass(frozen=True, slots=True)
class StoredEntries:
    new: tuple[int, ...]  # ids of articles stored for the first time
    updated: tuple[int, ...]  # ids of articles whose entry changed in place (not mailed again)
    duplicates: int  # entries already stored from this or another feed


def to_article(row: ArticleRow, feed_name: str) -> Article:
    return Article(
        id=row.id,
        feed_id=row.feed_id,
        feed_name=feed_name,
        guid=row.guid,
        link=row.link,
        title=row.title,
        summary_html=row.summary_html,
        summary_text=row.summary_text,
        author=row.author,
        published_at=row.published_at,
        first_seen_at=row.first_seen_at,
        categories=tuple(row.categories or ()),
        image_url=row.image_url,
        language=row.language,
    )


def _changed(row: ArticleRow, entry: Entry) -> bool:
    return (
        row.title != entry.title
        or row.summary_html != entry.summary_html
        or row.author != entry.author
        or row.image_url != entry.image_url
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
    row.language = entry.language


class ArticleStore(StoreBase):
    def store_entries(self, feed_id: int, entries: Sequence[Entry], now: datetime) -> StoredEntries:
        """Store a feed's entries: once per (feed, guid) and once per canonical link across feeds.

        An entry seen before in the same feed updates the stored article in place; one whose link
        another feed already brought is a duplicate and is dropped.
        """
        new: list[int] = []
        updated: list[int] = []
        duplicates = 0
        with self.transaction() as session:
            for entry in _unique(entries):
                row = session.scalars(
                    select(ArticleRow).where(
                        ArticleRow.feed_id == feed_id, ArticleRow.guid == entry.guid
                    )
                ).one_or_none()
                if row is not None:
                    if _changed(row, entry):
                        _copy_entry(row, entry)
                        updated.append(row.id)
                    else:
                        duplicates += 1
                    continue
                article_id = _insert(session, feed_id, entry, now)
                if article_id is None:
                    duplicates += 1
                else:
                    new.append(article_id)
        return StoredEntries(tuple(new), tuple(updated), duplicates)

    def articles(self, article_ids: Iterable[int]) -> list[Article]:
        ids = list(article_ids)
        if not ids:
            return []
        with self.transaction() as session:
            rows = session.execute(
                select(ArticleRow, FeedRow.name)
                .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
                .where(ArticleRow.id.in_(ids))
            ).all()
            by_id = {row.id: to_article(row, name) for row, name in rows}
        return [by_id[article_id] for article_id in ids if article_id in by_id]

    def set_topics(self, filed: dict[int, tuple[TopicMatch, ...]]) -> None:
        """Replace the topics of each article with what the classifier said."""
        if not filed:
            return
        with self.transaction() as session:
            session.execute(delete(ArticleTopicRow).where(ArticleTopicRow.article_id.in_(filed)))
            session.add_all(
                ArticleTopicRow(article_id=article_id, topic=match.topic, score=match.score)
                for article_id, matches in filed.items()
                for match in matches
            )

    def all_article_ids(self) -> list[int]:
        with self.transaction() as session:
            return list(session.scalars(select(ArticleRow.id).order_by(ArticleRow.id)))

    def candidates(
        self, topics: Sequence[str], window_start: datetime | None, window_end: datetime
    ) -> list[Candidate]:
        """Articles first seen in (window_start, window_end] and filed under any of ``topics``."""
        with self.transaction() as session:
            query = (
                select(ArticleRow, FeedRow.name)
                .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
                .where(ArticleRow.first_seen_at <= window_end)
                .where(
                    ArticleRow.id.in_(
                        select(ArticleTopicRow.article_id).where(ArticleTopicRow.topic.in_(topics))
                    )
                )
                .order_by(ArticleRow.id)
            )
            if window_start is not None:
                query = query.where(ArticleRow.first_seen_at > window_start)
            articles = [to_article(row, name) for row, name in session.execute(query)]
            scores: dict[int, dict[str, float]] = {article.id: {} for article in articles}
            if articles:
                for article_id, topic, score in session.execute(
                    select(
                        ArticleTopicRow.article_id, ArticleTopicRow.topic, ArticleTopicRow.score
                    ).where(ArticleTopicRow.article_id.in_(scores))
                ):
                    scores[article_id][topic] = score
        return [Candidate(article=article, topics=scores[article.id]) for article in articles]


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


def _insert(session: Session, feed_id: int, entry: Entry, now: datetime) -> int | None:
    """Insert a new article; None when another feed (or a concurrent poll) stored the link first."""
    if session.scalar(select(ArticleRow.id).where(ArticleRow.link == entry.link)) is not None:
        return None
    row = ArticleRow(feed_id=feed_id, guid=entry.guid, link=entry.link, first_seen_at=now)
    _copy_entry(row, entry)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row.id
