"""Topics as the database remembers them: the slugs articles are filed under, and renames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, delete, exists, select, update
from sqlalchemy.orm import aliased

from digest.store.base import StoreBase
from digest.store.schema import ArticleRow, ArticleTopicRow, SubscriptionRow


@dataclass(frozen=True, slots=True)
class TopicRename:
    articles: int  # articles now filed under the new slug that were under the old one
    readers: int  # memberships whose chosen topics named the old slug


class TopicSlugStore(StoreBase):
    def topic_slugs_filed_since(self, since: datetime) -> set[str]:
        """The topics articles first seen since ``since`` are filed under."""
        with self.transaction() as session:
            query = (
                select(ArticleTopicRow.topic)
                .join(ArticleRow, ArticleRow.id == ArticleTopicRow.article_id)
                .where(ArticleRow.first_seen_at >= since)
                .distinct()
            )
            return set(session.scalars(query))

    def rename_topic(self, old: str, new: str) -> TopicRename:
        """File under ``new`` every article filed under ``old`` (keeping the higher score of an
        article filed under both), and put ``new`` for ``old`` in the topics readers chose, in
        one transaction."""
        both = aliased(ArticleTopicRow)
        filed_under_new = exists().where(
            both.article_id == ArticleTopicRow.article_id, both.topic == new
        )
        with self.transaction() as session:
            moved = (
                session.connection()
                .execute(
                    update(ArticleTopicRow)
                    .where(ArticleTopicRow.topic == old, ~filed_under_new)
                    .values(topic=new)
                )
                .rowcount
            )
            # Filed under both (a poll since the rename filed it anew): the new row stays.
            session.execute(delete(ArticleTopicRow).where(ArticleTopicRow.topic == old))
            readers = 0
            # The JSON lists that may name it, found by their text (a slug holds no character
            # LIKE reads specially), then read and written here: SQLite and PostgreSQL update
            # JSON unalike.
            chosen = session.execute(
                select(SubscriptionRow.id, SubscriptionRow.topics).where(
                    cast(SubscriptionRow.topics, String).like(f'%"{old}"%')
                )
            ).all()
            for membership_id, topics in chosen:
                if topics and old in topics:
                    renamed = sorted({new if topic == old else topic for topic in topics})
                    session.execute(
                        update(SubscriptionRow)
                        .where(SubscriptionRow.id == membership_id)
                        .values(topics=renamed)
                    )
                    readers += 1
        return TopicRename(articles=int(moved or 0), readers=readers)
