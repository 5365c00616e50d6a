"""What the web tests share: a config with an English and an Arabic list, editions built for
real from a loopback feed (rendered, stored, queued), and the app on those services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from digest import pipeline
from digest.clock import FixedClock
from digest.config import Settings, settings_from_mapping
from digest.mail.transport import MailTransport, MemoryTransport
from digest.records import Subscriber
from digest.sample_server import serve_folder
from digest.services import Services, build_services

SECRET = "web-test-secret"
FIRST_SLOT = datetime(2026, 11, 24, 3, tzinfo=UTC)  # 07:00 in Dubai


def write_feed(folder: Path, stories: list[tuple[int, str, datetime]]) -> None:
    items = "".join(
        f"""<item><title>{escape(title)}</title>
        <link>https://wire.example.org/story/{number}</link>
        <guid>urn:wire:{number}</guid>
        <description>{escape(title)}. More on this story as it develops.</description>
        <pubDate>{format_datetime(published)}</pubDate></item>"""
        for number, title, published in stories
    )
    (folder / "wire.xml").write_text(
        f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
        <title>Wire</title><link>https://wire.example.org/</link>{items}</channel></rss>""",
        encoding="utf-8",
    )


def web_settings(
    tmp_path: Path,
    feed_url: str,
    *,
    base_url: str = "https://news.example.org",
    database_url: str | None = None,
    smtp_port: int | None = None,
    topics: tuple[str, ...] = ("middle-east",),
    max_articles: int | None = None,
) -> Settings:
    """Two lists (``daily`` in English, ``arabic``) of ``topics``; a topic files the articles
    whose title names it (``middle-east`` those that name the Gulf)."""
    (tmp_path / "members.csv").write_text(
        "email,name\nsam@example.org,Sam\nrana@example.org,Rana\nli@example.org,\n"
    )
    list_common = {
        "topics": list(topics),
        "schedule": "0 7 * * *",
        "timezone": "Asia/Dubai",
        "subscribers": "members.csv",
        "send_when_empty": False,
        **({} if max_articles is None else {"max_articles": max_articles}),
    }
    raw: dict[str, object] = {
        "service": {
            "database_url": database_url or f"sqlite:///{tmp_path / 'digest.db'}",
            "data_dir": str(tmp_path / "var"),
            "outbox": str(tmp_path / "outbox"),
            "base_url": base_url,
            "sender_name": "The Desk",
            "sender_address": "desk@example.org",
            "postal_address": "1 Example Street, Example City",
        },
        "ingest": {"allow_private_addresses": True},
        "feeds": [{"name": "Wire", "url": feed_url}],
        "topics": [
            {"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Gulf"]}}
            if slug == "middle-east"
            else {"slug": slug, "name": slug.title(), "rules": {"include": [slug.title()]}}
            for slug in topics
        ],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily Brief",
                "description": "The Gulf each morning <in brief> & more.",
                "previous_slugs": ["morning"],
                **list_common,
            },
            {
                "slug": "arabic",
                "name": "النشرة اليومية",
                "description": "أخبار الخليج كل صباح",
                "language": "ar",
                **list_common,
            },
        ],
    }
    if smtp_port is not None:
        raw["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "tls": "none"}
    return settings_from_mapping(
        raw, source=tmp_path / "digest.toml", environ={"DIGEST_SECRET_KEY": SECRET}
    )


@dataclass
class Newsroom:
    """Services with editions built, the clock they run on, and the feed folder."""

    services: Services
    clock: FixedClock
    feed_folder: Path
    slots: list[datetime]

    def subscriber(self, list_slug: str, name: str | None) -> Subscriber:
        return next(s for s in self.services.store.active_subscribers(list_slug) if s.name == name)

    def unsubscribe_token(self, list_slug: str, name: str | None) -> str:
        return self.services.signer.unsubscribe_token(
            self.subscriber(list_slug, name).id, list_slug
        )

    def is_member(self, list_slug: str, name: str | None) -> bool:
        return any(s.name == name for s in self.services.store.active_subscribers(list_slug))


def build_editions(newsroom: Newsroom, count: int, *, first_story: int = 1) -> None:
    """``count`` more daily editions of both lists, one new story each, a day apart."""
    services, clock = newsroom.services, newsroom.clock
    stories: list[tuple[int, str, datetime]] = []
    for day in range(len(newsroom.slots), len(newsroom.slots) + count):
        slot = FIRST_SLOT + timedelta(days=day)
        number = first_story + day
        stories.append((number, f"Gulf story {number} <b>&", slot - timedelta(hours=1)))
        write_feed(newsroom.feed_folder, stories[-5:])
        clock.set(slot + timedelta(minutes=5))
        for feed in services.store.sync_feeds(services.settings.feeds, clock.now()):
            pipeline.poll_feed(services, feed.id)
        for list_slug in ("daily", "arabic"):
            pipeline.build_edition(services, list_slug, slot)
        newsroom.slots.append(slot)


@contextmanager
def newsroom(
    tmp_path: Path,
    editions: int = 2,
    *,
    transport: MailTransport | None = None,
    **settings_options: object,
) -> Iterator[Newsroom]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [])
    with serve_folder(folder) as feed_base:
        settings = web_settings(tmp_path, f"{feed_base}/wire.xml", **settings_options)  # type: ignore[arg-type]
        clock = FixedClock(FIRST_SLOT)
        services = build_services(settings, clock=clock, transport=transport or MemoryTransport())
        room = Newsroom(services, clock, folder, [])
        try:
            build_editions(room, editions)
            yield room
        finally:
            services.close()
