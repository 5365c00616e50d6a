"""An edition's layout as JSON, for tools and editors: what ``digest preview LIST --json`` prints.

    Edition ─► {"list", "slot", "lead", "sections": [{"topic", "title", "items"}], "recommended"}

Each item says what the mail shows of it: title, link, outlet, author, topic, picture, its
"More from" (the person and their other pieces) and its "Also covered by" reports, and ``why``
it is there and in that place (``digest.reasons``: the rule that placed it and its rank terms);
the edition's ``why`` tells how the lead was chosen, each section's share and what was left
out. The schema is ``SCHEMA_VERSION`` and is documented in docs/editing.md; a change to it
raises the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from digest.bylines import Bylines, without_outlet, written_author
from digest.ingest.pictures import picture_url, story_picture
from digest.reasons import EditionWhy, ItemWhy, RankTerms
from digest.records import Article, Edition, EditionItem

SCHEMA_VERSION = 1


def edition_json(
    edition: Edition,
    bylines: Bylines,
    topic_names: dict[str, str],
    pictures: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """``edition`` as plain JSON values; ``topic_names`` maps each topic's slug to its name.

    ``pictures``, the address of the picture each item's story shows in the mail by article id
    (``Renderer.lay_out``), says which the mail shows: the service's copy, or none where its
    check refused the picture or the layout left thumbnails out. Without it, each story's
    picture is the publisher's address of its own or another report's (``story_picture``)."""

    why = edition.why

    def item_why(article: Article) -> dict[str, Any] | None:
        return _item_why(why.item(article.id)) if why is not None else None

    def item(entry: EditionItem) -> dict[str, Any]:
        more_from = None
        if entry.more_from:
            more_from = {
                "person": bylines.shared_person(entry.article, entry.more_from),
                "items": [
                    {**_link(article), "why": item_why(article)} for article in entry.more_from
                ],
            }
        if pictures is not None:
            image = pictures.get(entry.article.id)
        else:
            pictured = story_picture(entry)  # its own, or another report's of the story
            image = picture_url(pictured.image_url) if pictured is not None else None
        return {
            **_link(entry.article),
            "topic": entry.topic,
            "topic_name": topic_names.get(entry.topic, entry.topic),
            "people": list(bylines.people(entry.article)),
            "image": image,
            "more_from": more_from,
            "also_covered_by": [_link(article) for article in entry.also_covered_by],
            "why": item_why(entry.article),
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
        "why": _edition_why(why) if why is not None else None,
    }


def _terms(terms: RankTerms) -> dict[str, Any]:
    return {**asdict(terms), "rank_score": terms.rank_score}


def _item_why(found: ItemWhy | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "placement": found.placement,
        "position": found.position,
        "terms": _terms(found.terms),
        "under": found.under,
        "person": found.person,
    }


def _edition_why(why: EditionWhy) -> dict[str, Any]:
    """What the edition as a whole owes its layout to: the cap, the lead, the sections' shares
    and what was left out."""
    return {
        "max_articles": why.max_articles,
        "recommended": why.recommended,
        "lead": asdict(why.lead) if why.lead is not None else None,
        "sections": [asdict(section) for section in why.sections],
        "left_out": [
            {
                "id": entry.article_id,
                "title": entry.title,
                "topic": entry.topic,
                "reason": entry.reason,
                "terms": _terms(entry.terms),
            }
            for entry in why.left_out
        ],
    }


def _link(article: Article) -> dict[str, Any]:
    """What a line about an article says: the fields every item and every link under it share."""
    return {
        "id": article.id,
        "title": article.title,
        "link": article.link,
        "outlet": article.feed_name,
        "author": without_outlet(written_author(article.author), article.feed_name),
        "published": article.sort_time.isoformat(),
        "cluster": article.cluster_id,
    }
