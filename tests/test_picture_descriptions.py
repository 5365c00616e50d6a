"""A story's picture as a reader who does not see it hears it: the publisher's description,
read from the feed (digest.ingest.captions), stored with the article, and given as the picture's
alt in the mail, or alt="" when the publisher wrote none."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from lxml import html as lxml_html

from digest.ingest import parse_feed
from digest.ingest.captions import DESCRIPTION_LIMIT
from digest.records import Edition
from digest.render.bounds import PICTURE_DESCRIPTION_CHARS
from tests.test_mail_screens import rendered
from tests.test_render import sample_edition

NOW = datetime(2026, 2, 14, 12, 0, tzinfo=UTC)

# The shapes of the captured real feeds (docs/pictures.md): Media RSS with a credit and a
# description after the story's own description and content; a <media:group> of renditions with
# one description; a caption in <media:text>; an enclosure whose picture the description's
# <img> shows with its alt; and a picture with nothing said of it but its credit.
FEED = (Path(__file__).parent / "data" / "feeds" / "picture-descriptions.xml").read_bytes()


def test_a_pictures_description_is_read_from_what_the_feed_says_of_it() -> None:
    entries = {
        entry.link.rsplit("/", 1)[1]: entry
        for entry in parse_feed(
            FEED, url="https://gulfwire.example/rss", content_type="application/rss+xml", now=NOW
        ).entries
    }
    robots = entries["robots"]
    # The caption came after the story's content: feedparser made it the story's summary.
    assert robots.summary_text == "Companies stage boxing matches between humanoid robots."
    assert robots.image_description == (
        "Robots wear boxing gloves during a bout at a trade show in Las Vegas"
    )
    # After the story's description, it was read as the story's content; now as the picture's.
    assert entries["wages"].summary_text == "Household budgets are squeezed."
    assert entries["wages"].image_description == "A shop owner stands behind his counter in Doha."
    assert entries["timekeepers"].image_description == "A montage of athletes with motifs of timers"
    # The alt of the <img> showing the very picture kept, not of another one.
    assert entries["strike"].image_url == "https://img.gulfwire.example/100x80/cgt.jpg"
    assert (
        entries["strike"].image_description == "The union\u2019s council decided the walkout online"
    )
    # A credit, a title that is the headline, a description that only repeats it: none.
    assert entries["talks"].image_description is None
    assert entries["ports"].image_description is None
    # Hostile text is plain text, without controls, bounded.
    hostile = entries["hostile"].image_description or ""
    assert hostile.startswith('A "quoted" crowd[2J at the port')
    assert "<" not in hostile and "\x1b" not in hostile and "alert" not in hostile
    assert len(hostile) <= DESCRIPTION_LIMIT


def _pictured(edition: Edition, description: str | None) -> Edition:
    assert edition.lead is not None
    return replace(
        edition,
        lead=replace(
            edition.lead, article=replace(edition.lead.article, image_description=description)
        ),
    )


def _alts(html: str) -> list[str | None]:
    return [image.get("alt") for image in lxml_html.fromstring(html).iter("img")]


def test_a_picture_is_described_by_its_publisher_or_not_at_all(tmp_path: Path) -> None:
    # Its alt was a credit, "Photo · Diplomatic Notes": under a story from that outlet it
    # repeated the byline, and said nothing of the picture.
    for layout in ("full", "compact"):
        plain = rendered(tmp_path, sample_edition(), layout=layout)
        alts = _alts(plain)
        assert alts and set(alts) == {""}, (layout, alts)
        long = "Envoys " + "shake hands before the talks in Muscat " * 10 + '"<b>&'
        described = rendered(tmp_path, _pictured(sample_edition(), long), layout=layout)
        [lead, *others] = _alts(described)
        assert lead is not None and lead.startswith("Envoys shake hands before the talks")
        assert lead.endswith("…") and len(lead) <= PICTURE_DESCRIPTION_CHARS
        assert set(others) == {""}
        assert 'alt="Photo' not in described


def test_the_description_is_stored_and_a_downgrade_drops_only_it(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from digest.config import FeedSettings
    from digest.store import Store
    from digest.store.db import create_database_engine
    from digest.store.upgrades import alembic_config, upgrade

    engine = create_database_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    [wire] = store.sync_feeds([FeedSettings(name="Wire", url="https://wire.example/rss")], NOW)
    entries = parse_feed(
        FEED, url="https://gulfwire.example/rss", content_type="application/rss+xml", now=NOW
    ).entries
    new = store.store_entries(wire.id, entries, NOW).new
    described = {a.link: a.image_description for a in store.articles(new)}
    # A description the publisher adds later is an update of the article.
    talks = next(entry for entry in entries if entry.link.endswith("/talks"))
    updated = store.store_entries(wire.id, [replace(talks, image_description="Envoys")], NOW)
    command.downgrade(alembic_config(engine), "0018")
    columns = {column["name"] for column in inspect(engine).get_columns("articles")}
    upgrade(engine)
    again = {a.link: a.image_description for a in store.articles(new)}
    engine.dispose()
    assert described["https://gulfwire.example/wages"] == (
        "A shop owner stands behind his counter in Doha."
    )
    assert described["https://gulfwire.example/talks"] is None
    assert len(updated.updated) == 1
    assert "image_description" not in columns and "image_url" in columns
    assert set(again.values()) == {None} and len(again) == len(new)
