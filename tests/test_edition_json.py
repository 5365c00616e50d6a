"""Tests for digest.edition_json and `digest preview LIST --json`: an edition's layout for tools."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from digest.bylines import DEFAULT
from digest.config import load_settings
from digest.edition_json import SCHEMA_VERSION, edition_json
from digest.images.gathering import shown_pictures
from digest.images.records import Pictures, ServedPicture
from digest.records import Article, Edition, EditionItem, Section
from digest.render import Renderer
from tests.test_edition_why import pieces, weekly
from tests.test_end_to_end import digest, example_config
from tests.test_render import article as render_article
from tests.test_render import make_settings, sample_edition

SLOT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
ITEM_KEYS = {
    "id", "title", "link", "outlet", "author", "published", "cluster", "topic", "topic_name",
    "people", "image", "more_from", "also_covered_by", "why",
}  # fmt: skip
LINK_KEYS = {"id", "title", "link", "outlet", "author", "published", "cluster"}
PICTURES = {"lead-image", "thumb"}  # the classes of a story's picture in the mail


def article(article_id: int, author: str | None, *, image: str | None = None) -> Article:
    return Article(
        id=article_id,
        feed_id=1,
        feed_name="Gulf Wire",
        guid=f"g{article_id}",
        link=f"https://gulfwire.example/{article_id}",
        title=f"Story {article_id}",
        summary_html="",
        summary_text="",
        author=author,
        published_at=SLOT - timedelta(hours=article_id),
        first_seen_at=SLOT,
        image_url=image,
        cluster_id=article_id * 10,
    )


def test_the_layout_names_every_item_its_more_from_and_its_other_reports() -> None:
    lead = EditionItem(
        article(1, "By Jane Doe | Reuters", image="https://gulfwire.example/1.jpg"),
        "middle-east",
        more_from=(article(2, "Jane Doe (AFP)"),),
        also_covered_by=(article(3, "AFP"),),
    )
    pixel = EditionItem(article(4, "Reuters", image="https://gulfwire.example/1x1.gif"), "gulf")
    edition = Edition(
        list_slug="daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=lead,
        sections=(Section(topic="gulf", title="The Gulf", items=(pixel,)),),
    )
    layout = json.loads(json.dumps(edition_json(edition, DEFAULT, {"gulf": "The Gulf"})))
    assert layout["schema"] == SCHEMA_VERSION
    assert layout["list"] == "daily" and layout["window_start"] is None
    assert layout["article_count"] == 3  # the lead, its "More from" and the Gulf item
    top = layout["lead"]
    assert set(top) == ITEM_KEYS
    assert top["author"] == "Jane Doe | Reuters" and top["people"] == ["Jane Doe"]
    assert top["image"] == "https://gulfwire.example/1.jpg"
    assert top["more_from"]["person"] == "Jane Doe"
    assert [set(link) for link in top["more_from"]["items"]] == [LINK_KEYS | {"why"}]
    assert [link["id"] for link in top["more_from"]["items"]] == [2]
    assert [(link["id"], link["outlet"]) for link in top["also_covered_by"]] == [(3, "Gulf Wire")]
    [section] = layout["sections"]
    assert (section["topic"], section["title"]) == ("gulf", "The Gulf")
    [gulf] = section["items"]
    assert gulf["image"] is None  # a pixel is no picture
    assert gulf["people"] == [] and gulf["more_from"] is None
    assert gulf["topic_name"] == "The Gulf"
    assert layout["recommended"] == []
    assert layout["why"] is None and top["why"] is None  # no reasons kept: a stored edition


def test_the_layout_carries_the_reasons_compose_gave() -> None:
    edition = weekly(pieces(), max_articles=5)
    assert edition.why is not None
    layout = json.loads(json.dumps(edition_json(edition, DEFAULT, {})))
    why = layout["why"]
    assert (why["max_articles"], why["recommended"]) == (5, 1)
    assert why["lead"]["rule"] == "most-covered" and why["lead"]["from_config"] is False
    assert [s["topic"] for s in why["sections"]] == ["gulf", "iran"]
    assert [(e["reason"], e["topic"]) for e in why["left_out"]] == [("max-articles", "iran")]
    lead = layout["lead"]["why"]
    assert lead["placement"] == "lead" and lead["position"] == 1
    assert (lead["terms"]["sources"], lead["terms"]["reports"]) == (4, 4)
    assert lead["terms"]["rank_score"] == edition.why.items[0].terms.rank_score
    [iran] = [s for s in layout["sections"] if s["topic"] == "iran"]
    [moved] = iran["items"][0]["more_from"]["items"]
    assert moved["why"]["placement"] == "more-from"
    assert moved["why"]["under"] == iran["items"][0]["id"]
    assert moved["why"]["person"] == "Mona Farid"
    assert layout["recommended"][0]["why"]["placement"] == "recommended"


def _items(layout: dict[str, Any]) -> list[dict[str, Any]]:
    items = [layout["lead"]] if layout["lead"] else []
    items += [item for section in layout["sections"] for item in section["items"]]
    return items + layout["recommended"]


@pytest.mark.integration
def test_preview_json_prints_the_layout_of_the_next_edition(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    result = digest(config, "preview", "middle-east-daily", "--poll", "--json")
    assert result.returncode == 0, result.stderr
    layout = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert layout["list"] == "middle-east-daily"
    items = _items(layout)
    assert layout["lead"] is not None and len(items) > 5
    assert all(set(item) == ITEM_KEYS for item in items)
    assert all(item["why"]["terms"]["topic_score"] > 0 for item in items)
    assert layout["why"]["lead"]["rule"] == "freshest"  # a daily
    shown = [item["id"] for item in items]
    shown += [
        link["id"] for item in items for link in (item["more_from"] or {"items": []})["items"]
    ]
    assert len(shown) == len(set(shown)) == layout["article_count"]
    for item in items:
        assert item["link"].startswith("http") and item["title"] and item["outlet"]
        if item["more_from"] is not None:
            assert item["more_from"]["person"] in item["people"]
    order = load_settings(config, {}).list("middle-east-daily").topics
    topics = [section["topic"] for section in layout["sections"]]
    assert topics == sorted(topics, key=order.index)  # sections in the list's order
    assert not (tmp_path / "var" / "preview").exists()  # --json writes no file


@pytest.mark.integration
def test_a_feeds_agency_bylines_in_the_config_reach_the_edition(tmp_path: Path) -> None:
    """The example's Persia Review signs two pieces "Nasrin Ebadi": a "More from" until the
    operator lists that byline as the feed's desk."""

    def more_from(config: Path) -> set[str]:
        result = digest(config, "preview", "middle-east-daily", "--poll", "--json")
        assert result.returncode == 0, result.stderr
        items = _items(json.loads(result.stdout))
        return {item["author"] for item in items if item["more_from"]}

    config = example_config(tmp_path, smtp_port=None)
    # The daily's first edition reaches back a day; her two pieces are days apart.
    slug = 'slug = "middle-east-daily"\n'
    config.write_text(
        config.read_text().replace(slug, slug + "first_edition_lookback_hours = 168\n")
    )
    assert "Nasrin Ebadi" in more_from(config)
    text = config.read_text()
    feed = 'name = "Persia Review"\n'
    assert feed in text
    config.write_text(text.replace(feed, feed + 'agency_bylines = ["Nasrin Ebadi"]\n'))
    authors = more_from(config)
    assert "Nasrin Ebadi" not in authors and authors  # the others' "More from" stay


def test_the_layout_names_the_picture_the_mail_shows(tmp_path: Path) -> None:
    """With the image service, the mail shows the service's copy of a kept picture, and none
    where the check refused every picture of the story: the layout says the same, picture for
    picture, not the publisher's address of a picture the mail never shows."""
    settings = make_settings(tmp_path)
    digest_list = settings.list("middle-east-daily")
    edition = sample_edition()
    assert edition.lead is not None
    own = "https://wire.example/logo.png"
    lead = replace(edition.lead.article, image_url=own, feed_name="Wire Service")
    kept = render_article(
        64, "Harbour reopens", feed="Levant Post", image="https://lp.example/h.jpg"
    )
    edition = replace(edition, lead=replace(edition.lead, article=lead, also_covered_by=(kept,)))
    shown = list(shown_pictures(edition))
    thumbs = {
        key: ServedPicture(f"https://news.example.org/images/{n}.jpg", 192, 192)
        for n, key in enumerate(shown)
        if key[0] == "thumb"
    }
    lead_copy = ServedPicture("https://news.example.org/images/lead.jpg", 1056, 594)
    renderer = Renderer(settings)

    def mail_and_layout(pictures: Pictures) -> tuple[list[str | None], dict[str, Any]]:
        laid_out = renderer.lay_out(edition, digest_list, pictures)
        tree = lxml_html.fromstring(laid_out.rendered.html)
        sources = [img.get("src") for img in tree.iter("img") if img.get("class") in PICTURES]
        layout = edition_json(edition, DEFAULT, {}, laid_out.pictures())
        return sources, layout

    sources, layout = mail_and_layout({**thumbs, ("lead", kept.image_url or ""): lead_copy})
    assert layout["lead"]["image"] == lead_copy.url  # another report's kept picture, our copy
    assert sorted(filter(None, (item["image"] for item in _items(layout)))) == sorted(sources)
    assert len(sources) > 1

    sources, layout = mail_and_layout(thumbs)  # none of the lead's pictures kept
    assert layout["lead"]["image"] is None and lead_copy.url not in sources
    assert sorted(filter(None, (item["image"] for item in _items(layout)))) == sorted(sources)
    # Without the mail's pictures, the layout names the publisher's address.
    assert edition_json(edition, DEFAULT, {})["lead"]["image"] == own
