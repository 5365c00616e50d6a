"""An edition's layout as JSON, for tools and editors: what ``digest preview LIST --json`` prints.

    Edition ─► {"list", "slot", "lead", "sections": [{"topic", "title", "items"}], "recommended"}

Each item says what the mail shows of it: title, link, outlet, author, topic, picture, its
"More from" (the person and their other pieces) and its "Also covered by" reports. The schema
is ``SCHEMA_VERSION`` and is documented in docs/editing.md; a change to it raises the version.
"""

from __future__ import annotations

from typing import Any

from digest.bylines import Bylines, written_author
from digest.ingest.pictures import picture_url
from digest.records import Article, Edition, EditionItem

SCHEMA_VERSION = 1


def edition_json(edition: Edition, bylines: Bylines, topic_names: dict[str, str]) -> dict[str, Any]:
    """``edition`` as plain JSON values; ``topic_names`` maps each topic's slug to its name."""

    def item(entry: EditionItem) -> dict[str, Any]:
        more_from = None
        if entry.more_from:
            more_from = {
                "person": bylines.shared_person(entry.article, entry.more_from),
                "items": [_link(article) for article in entry.more_from],
            }
        return {
            **_link(entry.article),
            "topic": entry.topic,
            "topic_name": topic_names.get(entry.topic, entry.topic),
            "people": list(bylines.people(entry.article)),
            "image": picture_url(entry.article.image_url),
            "more_from": more_from,
            "also_covered_by": [_link(article) for article in entry.also_covered_by],
        }

    return {
        "schema": SCHEMA_VERSION,
        "list": edition.list_slug,
        "slot": edition.slot.isoformat(),
        "window_start": edition.window_start.isoformat() if edition.window_start else None,
        "window_end": edition.window_end.isoformat(),
        "article_count": len({article.id for article in edition.articles()}),
        "lead": item(edition.lead) if edition.lead is not None else None,
        "sections": [
            {
                "topic": section.topic,
                "title": section.title,
                "items": [item(entry) for entry in section.items],
            }
            for section in edition.sections
        ],
        "recommended": [item(entry) for entry in edition.recommended],
    }


def _link(article: Article) -> dict[str, Any]:
    """What a line about an article says: the fields every item and every link under it share."""
    return {
        "id": article.id,
        "title": article.title,
        "link": article.link,
        "outlet": article.feed_name,
        "author": written_author(article.author),
        "published": article.sort_time.isoformat(),
        "cluster": article.cluster_id,
    }
