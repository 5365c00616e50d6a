"""Articles in the store: each stored once (invariant 1), clustered with the other outlets'
reports of the same story, and filed under topics.

    entry ─► an article stored already?  ─► update in place (not new: never mailed again),
             (digest.store.entry_matching)    or a duplicate, dropped
          ─► the key of one pruned as old? ─► dropped: mailed before (digest.retention)
          ─► new article ─► fingerprint ─► cluster of the most similar recent article, or its own
    new and changed articles ─► classify (when given) ─► their topics, in the same transaction
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Engine,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from digest import dedup
from digest.records import Article, Candidate, Entry, TopicMatch
from digest.store.base import StoreBase, chunks
from digest.store.entry_matching import match_entries, other_scheme
from digest.store.retention import guid_key, link_key, pruned_keys
from digest.store.schema import ArticleRow, ArticleTopicRow, FeedRow
from digest.store.sequence import committed, next_stamp

# New articles are compared with the articles first seen this long before them: a story's other
# reports come out within hours, and a longer window only adds unrelated candidates.
CLUSTER_WINDOW = timedelta(days=3)
# The in-memory index of recent fingerprints is read again from scratch this often, which drops
# the articles that left the window (and picks up any that other processes committed late).
INDEX_REBUILD = timedelta(hours=1)


# What files an article under topics (TopicClassifier.classify).
Classify = Callable[[Article], tuple[TopicMatch, ...]]
# Tables, for the plain INSERTs and UPDATEs of many rows at once that polling does.
_ARTICLES = cast(Table, ArticleRow.__table__)
_ARTICLE_TOPICS = cast(Table, ArticleTopicRow.__table__)

# The statements every poll runs, built once: building one costs more than running it on a
# small feed (SQLAlchemy caches the compiled form, not the construction).
_FEED_NAME = select(FeedRow.name).where(FeedRow.id == bindparam("feed_id"))
_RECENT = (
    # The fingerprint as stored: most rows read here are this process's own, indexed already
    # when they were stored, and need no decoding.
    select(
        ArticleRow.id,
        ArticleRow.feed_id,
        ArticleRow.cluster_id,
        type_coerce(ArticleRow.fingerprint, Text),
    )
    .where(ArticleRow.id > bindparam("after_id"))
    .where(ArticleRow.first_seen_at >= bindparam("since"))
    .where(ArticleRow.cluster_id.is_not(None))  # not the rows this transaction is adding
    .order_by(ArticleRow.id)
)
_OWN_CLUSTERS = (
    update(_ARTICLES)
    .where(_ARTICLES.c.id.in_(bindparam("ids", expanding=True)))
    .values(cluster_id=_ARTICLES.c.id)
)
# INSERT ... ON CONFLICT DO NOTHING, in the dialect of each database config allows.
_INSERT_NEW = {
    name: dialect_insert(_ARTICLES)
    .on_conflict_do_nothing()
    .returning(_ARTICLES.c.id, _ARTICLES.c.link)
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
_FILE = insert(_ARTICLE_TOPICS)
_CLEAR_TOPICS = delete(_ARTICLE_TOPICS).where(
    _ARTICLE_TOPICS.c.article_id.in_(bindparam("ids", expanding=True))
)


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
        image_description=row.image_description,
        language=row.language,
        cluster_id=row.cluster_id,
    )


class _RecentFingerprints:
    """This process's index of recent articles' fingerprints, kept in step with the database.

    Each ``store_entries`` reads only the rows added since the last read; the index is rebuilt
    every ``INDEX_REBUILD``. A lock keeps threads polling in parallel from reading or assigning at
    the same moment.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index = dedup.ClusterIndex()
        self.last_id = 0
        self.built_at: datetime | None = None

    def refresh(self, session: Session, now: datetime) -> None:
        if self.built_at is None or now - self.built_at > INDEX_REBUILD or now < self.built_at:
            self.index, self.last_id, self.built_at = dedup.ClusterIndex(), 0, now
        rows = session.execute(_RECENT, {"after_id": self.last_id, "since": now - CLUSTER_WINDOW})
        for article_id, feed_id, cluster_id, fingerprint in rows:
            if article_id not in self.index:
                # A driver that decodes JSON itself (psycopg) hands over the list.
                values = json.loads(fingerprint) if isinstance(fingerprint, str) else fingerprint
                sketch = tuple(int(value) for value in values or ())
                self.index.add(article_id, feed_id, cluster_id or article_id, sketch)
            self.last_id = max(self.last_id, article_id)


class ArticleStore(StoreBase):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._recent = _RecentFingerprints()

    def store_entries(
        self,
        feed_id: int,
        entries: Sequence[Entry],
        now: datetime,
        *,
        classify: Classify | None = None,
    ) -> StoredEntries:
        """Store a feed's entries: once per (feed, guid) and once per canonical link across feeds.

        An entry seen before in the same feed updates the stored article in place, whether the
        feed kept its guid or moved it to a new one (same link, new guid: the guid is adopted),
        or moved both its guid and its link (same title, date and summary: the guid is adopted).
        One whose link another feed already brought is a duplicate and is dropped. A new article
        joins the cluster of the most similar article of another feed seen in ``CLUSTER_WINDOW``.
        With ``classify``, the new and changed articles are filed under the topics it gives in
        the same transaction, so an article is never stored without its topics.
        """
        with self.transaction() as session:
            matched = match_entries(session, feed_id, entries)
            updated = matched.updated
            # An item whose article was deleted as old (digest.retention) is not new either.
            fresh = _not_pruned(session, feed_id, matched.fresh, now)
            inserted = self._insert_clustered(session, feed_id, fresh, now)
            duplicates = matched.duplicates + len(matched.fresh) - len(inserted)
            if classify is not None and (inserted or updated):
                session.flush()  # the changed rows, before they are read for filing
                feed_name = session.scalar(_FEED_NAME, {"feed_id": feed_id})
                articles = [
                    *(_new_article(new, feed_id, feed_name or "", now) for new in inserted),
                    *(to_article(row, feed_name or "") for row in updated),
                ]
                _file(session, articles, classify, replace=[row.id for row in updated])
        return StoredEntries(
            tuple(new.id for new in inserted), tuple(row.id for row in updated), duplicates
        )

    def _insert_clustered(
        self, session: Session, feed_id: int, entries: Sequence[Entry], now: datetime
    ) -> list[_Inserted]:
        """Insert new articles, each with its cluster (module docstring); the ones a concurrent
        poll stored first (same link) are left out."""
        if not entries:
            return []
        sketches = [dedup.fingerprint(entry.title, entry.summary_text) for entry in entries]
        with self._recent.lock:
            self._recent.refresh(session, now)
            index = self._recent.index
            # Matched before the insert, so that a row joining a cluster is written with it. The
            # entries of one feed never match each other, so none needs the others indexed.
            joined = [
                match[0] if (match := index.best_match(feed_id, sketch)) else None
                for sketch in sketches
            ]
            # Taken last before the insert, one per transaction: the counter stays locked until
            # commit, so other polls' store transactions queue behind this one from here only.
            seq = next_stamp(session)
            kept = _insert_new(
                session,
                [
                    _row_values(feed_id, entry, now, seq, sketch, cluster_id)
                    for entry, sketch, cluster_id in zip(entries, sketches, joined, strict=True)
                ],
            )
            inserted = [
                _Inserted(article_id, entries[at], sketches[at], joined[at] or article_id)
                for at, article_id in kept
            ]
            # The others start a cluster of their own, known by their own id.
            alone = [new.id for new in inserted if new.cluster_id == new.id]
            for chunk in chunks(alone):
                session.execute(_OWN_CLUSTERS, {"ids": chunk})
            for new in inserted:
                index.add(new.id, feed_id, new.cluster_id, new.fingerprint)
        return inserted

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

    def articles_seen_since(self, since: datetime) -> list[Article]:
        """Articles first seen after ``since``, oldest first (a dry run of new topic rules)."""
        with self.transaction() as session:
            rows = session.execute(
                select(ArticleRow, FeedRow.name)
                .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
                .where(ArticleRow.first_seen_at > since)
                .order_by(ArticleRow.first_seen_at, ArticleRow.id)
            ).all()
            return [to_article(row, name) for row, name in rows]

    def article_sequence(self) -> int:
        """Where the next edition's window ends: the last committed sequence stamp
        (digest.store.sequence). Read before ``candidates``, in a transaction of its own."""
        with self.transaction() as session:
            return committed(session)

    def sequence_before(self, moment: datetime) -> int:
        """The highest stamp of the articles first seen at or before ``moment`` (0: none): where
        the window of a reader who joins starts, so that their first edition holds what came in
        since their previous slot."""
        with self.transaction() as session:
            found = session.scalar(
                select(func.max(ArticleRow.seq)).where(ArticleRow.first_seen_at <= moment)
            )
            return int(found or 0)

    def candidates(self, topics: Sequence[str], after_seq: int, upto_seq: int) -> list[Candidate]:
        """Articles stored by the transactions stamped in (after_seq, upto_seq] and filed under
        any of ``topics``."""
        with self.transaction() as session:
            query = (
                select(ArticleRow, FeedRow.name)
                .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
                .where(ArticleRow.seq > after_seq, ArticleRow.seq <= upto_seq)
                .where(
                    ArticleRow.id.in_(
                        select(ArticleTopicRow.article_id).where(ArticleTopicRow.topic.in_(topics))
                    )
                )
                .order_by(ArticleRow.id)
            )
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


def _not_pruned(
    session: Session, feed_id: int, entries: Sequence[Entry], now: datetime
) -> list[Entry]:
    """The entries whose guid in this feed and whose link (under either scheme) are no key of
    an article deleted as older than ``retention.articles_days``."""
    if not entries:
        return []
    keys = {
        id(entry): (
            guid_key(feed_id, entry.guid),
            link_key(entry.link),
            link_key(other_scheme(entry.link)),
        )
        for entry in entries
    }
    every = sorted({key for three in keys.values() for key in three})
    known = set().union(*(pruned_keys(session, chunk, now) for chunk in chunks(every)))
    return [entry for entry in entries if known.isdisjoint(keys[id(entry)])]


@dataclass(slots=True)
class _Inserted:
    """A new article just inserted: its id, the entry stored, its fingerprint and cluster."""

    id: int
    entry: Entry
    fingerprint: dedup.Fingerprint
    cluster_id: int


def _row_values(
    feed_id: int,
    entry: Entry,
    now: datetime,
    seq: int,
    sketch: dedup.Fingerprint,
    cluster_id: int | None,
) -> dict[str, Any]:
    """The columns of a new article: the entry's fields, where and when it was seen, and its
    transaction's sequence stamp. A cluster id of None is filled in with the article's own id
    once it has one."""
    return {
        "feed_id": feed_id,
        "guid": entry.guid,
        "link": entry.link,
        "first_seen_at": now,
        "seq": seq,
        "title": entry.title,
        "summary_html": entry.summary_html,
        "summary_text": entry.summary_text,
        "author": entry.author,
        "published_at": entry.published_at,
        "updated_at": entry.updated_at,
        "categories": list(entry.categories),
        "image_url": entry.image_url,
        "image_description": entry.image_description,
        "language": entry.language,
        "fingerprint": list(sketch),
        "cluster_id": cluster_id,
    }


def _insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """Insert new articles in one statement, leaving out any whose link (or feed and guid) a
    concurrent poll stored first. Returns (position in ``rows``, id) of each inserted."""
    # Ids are matched to rows by link (unique), not by the order RETURNING gives them in: asking
    # for that order makes SQLite insert one row per statement.
    position = {row["link"]: at for at, row in enumerate(rows)}
    returned = session.execute(_INSERT_NEW[session.get_bind().dialect.name], rows).all()
    return sorted((position[link], article_id) for article_id, link in returned)


def _new_article(new: _Inserted, feed_id: int, feed_name: str, now: datetime) -> Article:
    """The article ``new`` as ``to_article`` would read it back."""
    return Article.from_entry(
        new.entry,
        id=new.id,
        feed_id=feed_id,
        feed_name=feed_name,
        first_seen_at=now,
        cluster_id=new.cluster_id,
    )


def _file(
    session: Session, articles: Sequence[Article], classify: Classify, *, replace: Sequence[int]
) -> None:
    """Store the topics ``classify`` gives each article; ``replace`` lists those that had some."""
    for chunk in chunks(replace):
        session.execute(_CLEAR_TOPICS, {"ids": chunk})
    rows = [
        {"article_id": article.id, "topic": match.topic, "score": match.score}
        for article in articles
        for match in classify(article)
    ]
    if rows:
        session.execute(_FILE, rows)
