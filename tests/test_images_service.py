"""web.images end to end: a loopback server with a feed and its pictures, real builds, the mail
sent, and `digest serve` answering the pictures the mail points at."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient

from digest import pipeline, windows
from digest.clock import FixedClock
from digest.config import Settings
from digest.images.checking import prepare_picture
from digest.images.fetching import start_window
from digest.images.gathering import picture_id
from digest.mail.transport import MemoryTransport
from digest.records import Edition
from digest.services import build_services, signing_secret
from digest.web import create_app
from tests.feedserver import answer, drip, feed_server, send
from tests.servers import free_port
from tests.test_header_injection import b_word, first_line_down  # noqa: F401
from tests.test_images_checking import encoded, photo
from tests.test_web_serve import digest_process
from tests.webtools import SECRET, web_settings

pytestmark = pytest.mark.integration

SLOT = datetime(2026, 11, 24, 3, tzinfo=UTC)  # 07:00 in Dubai
JPEG = {"Content-Type": "image/jpeg"}


def gps_webp() -> bytes:
    """A WebP photograph that says where it was taken (and by which camera)."""
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif[0x8825] = {1: "N", 2: (25.0, 16.0, 30.0), 3: "E", 4: (55.0, 17.0, 40.0)}
    return encoded(photo(1600, 1200), "WEBP", exif=exif.tobytes())


PICTURES = {
    "/pictures/harbour.webp": answer(200, gps_webp(), {"Content-Type": "image/webp"}),
    "/pictures/talks.jpg": answer(200, encoded(photo(900, 900), "JPEG"), JPEG),
    "/pictures/story-3.jpg": answer(200, encoded(Image.new("RGB", (1, 1)), "GIF"), JPEG),
    "/pictures/story-4.jpg": answer(200, b"<!doctype html><title>Sign in</title>", JPEG),
}


SUBJECTS = [
    "Oman brokers overnight talks between Tehran and Gulf envoys on shipping",
    "Qatar opens a new liquefied gas terminal on its northern Gulf coast",
    "Kuwait's parliament passes a budget with record spending on housing",
    "Bahrain hosts a regional summit on desalination and water security",
    "Saudi Arabia announces a high-speed rail line from Riyadh to the Gulf",
    "The UAE launches a weather satellite built by its own engineers",
    "Dubai airport reports record passenger numbers for November",
    "Iraq and Kuwait agree on navigation rules for the Khor Abdullah waterway",
]


def feed(base: str, stories: list[tuple[int, str, datetime]]) -> bytes:
    items = "".join(
        f"""<item><title>{SUBJECTS[number % len(SUBJECTS)]}</title>
        <link>https://wire.example.org/story/{number}</link><guid>urn:wire:{number}</guid>
        <description>{SUBJECTS[number % len(SUBJECTS)]}, officials said; more on this Gulf
        story as it develops.</description>
        <enclosure url={quoteattr(base + picture)} type="image/jpeg" length="1000"/>
        <pubDate>{published.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate></item>"""
        for number, picture, published in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example.org/</link>{items}</channel></rss>"
    ).encode()


def settings_file(tmp_path: Path, settings: Settings, feed_url: str, web_port: int) -> Path:
    """The same settings as a config file, for `digest serve` (web_settings wrote members.csv)."""
    config = tmp_path / "digest.toml"
    config.write_text(
        f"""
[service]
database_url = "{settings.service.database_url}"
data_dir = "{tmp_path / "var"}"
outbox = "{tmp_path / "outbox"}"
base_url = "{settings.service.base_url}"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[web]
port = {web_port}
images = true
images_allow_private_addresses = true

[ingest]
allow_private_addresses = true

[[feeds]]
name = "Wire"
url = "{feed_url}"

[[topics]]
slug = "middle-east"
name = "Middle East"
rules = {{ include = ["Gulf"] }}

[[lists]]
slug = "daily"
name = "Daily Brief"
topics = ["middle-east"]
schedule = "0 7 * * *"
timezone = "Asia/Dubai"
subscribers = "members.csv"
"""
    )
    return config


def image_sources(message: EmailMessage) -> list[str]:
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', html)


def test_the_mail_shows_only_the_services_copies_fetched_once_and_served_by_digest_serve(
    tmp_path: Path,
) -> None:
    web_port = free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    stories: list[tuple[int, str, datetime]] = []

    def wire(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, feed(server.base_url, stories), {"Content-Type": "application/rss+xml"})

    with feed_server({"/wire.xml": wire, **PICTURES}) as server:
        settings = web_settings(tmp_path, server.url("/wire.xml"), base_url=base_url)
        settings = settings.model_copy(
            update={
                "web": settings.web.model_copy(
                    update={"images": True, "images_allow_private_addresses": True}
                )
            }
        )
        transport = MemoryTransport()
        clock = FixedClock(SLOT)
        services = build_services(settings, clock=clock, transport=transport)
        try:
            # Two editions a day apart; the second's stories reuse the first's pictures.
            for day, pictures in enumerate([list(PICTURES), list(PICTURES)[:2]]):
                slot = SLOT + timedelta(days=day)
                stories += [
                    (4 * day + number, picture, slot - timedelta(hours=1, minutes=number))
                    for number, picture in enumerate(pictures, start=1)
                ]
                clock.set(slot + timedelta(minutes=5))
                for known in services.store.sync_feeds(settings.feeds, clock.now()):
                    pipeline.poll_feed(services, known.id)
                if day == 0:
                    # The preview shows what the mail will: the service's copies, which the
                    # build then finds kept.
                    preview = pipeline.render_preview(services, "daily").html
                    assert f"{base_url}/images/" in preview and "/pictures/" not in preview
                for list_slug in ("daily", "arabic"):
                    built = pipeline.build_edition(services, list_slug, slot)
                    assert built.edition_id is not None and built.article_count >= 2
                    assert built.warnings == ()
                    pending = services.store.pending_deliveries(built.edition_id)
                    pipeline.deliver_batch(services, built.edition_id, pending)

            def every_article_composed() -> Edition:
                """The daily list composed over every article (no first-edition reach), at
                the clock's time."""
                return windows.compose_window(
                    services,
                    settings.list("daily"),
                    SLOT + timedelta(days=2),
                    clock.now(),
                    services.store.article_sequence(),
                    after_seq=0,
                    window_start=SLOT - timedelta(days=1),
                )

            # Composing again over every article, on the first day: those whose picture the
            # service refused count as having none, so such a picture cannot win its article
            # the lead (a day later the retry is due, and they have their picture again).
            clock.set(SLOT + timedelta(hours=12))
            everything = every_article_composed()
            composed = {
                item.article.link.rsplit("/", 1)[1]: item.article.image_url
                for item in everything.items()
            }
            assert composed["3"] is None and composed["4"] is None
            assert str(composed["1"]).endswith("/pictures/harbour.webp")
            clock.set(SLOT + timedelta(days=1, hours=1))
            later = every_article_composed()
            assert any(
                str(item.article.image_url).endswith("/story-3.jpg") for item in later.items()
            )
        finally:
            services.close()
        fetched = [path for path in server.paths() if path.startswith("/pictures/")]
    # Each picture fetched once, over two editions of two lists; the refused ones too.
    assert sorted(fetched) == sorted(PICTURES)

    messages = [message_from_bytes(sent.data, policy=policy.default) for sent in transport.sent]
    assert len(messages) == 12  # 3 readers × 2 lists × 2 editions
    sources: set[str] = set()
    for message in messages:
        raw = message.as_string()
        assert server.base_url not in raw and "/pictures/" not in raw  # no publisher's address
        found = image_sources(message)
        assert found, "every edition shows the pictures that passed the check"
        assert all(re.fullmatch(rf"{base_url}/images/[0-9a-f]{{32}}\.jpg", src) for src in found)
        sources.update(found)
    # The lead with its real height (528 wide; the 1600×1200 picture is 396 high there).
    html = messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert re.search(r'class="lead-image"[^>]*width="528" height="(396|528)"', html)

    config = settings_file(tmp_path, settings, server.url("/wire.xml"), web_port)
    # The key the copies were mailed with, which the database keeps.
    with digest_process(config, "serve", secret=SECRET) as (_, address):
        assert address.rstrip("/") == base_url
        for src in sorted(sources):
            answered = httpx.get(src, timeout=10)
            assert answered.status_code == 200
            assert answered.headers["content-type"] == "image/jpeg"
            assert answered.headers["x-content-type-options"] == "nosniff"
            assert answered.headers["content-security-policy"] == "default-src 'none'; sandbox"
            assert "max-age=31536000" in answered.headers["cache-control"]
            with Image.open(io.BytesIO(answered.content)) as picture:
                assert picture.format == "JPEG" and picture.width in (192, 900, 1056)
                assert not picture.getexif() and "exif" not in picture.info
            assert b"Camera Maker" not in answered.content
            again = httpx.get(src, headers={"If-None-Match": answered.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
        # The archive shows the same copies, which its Content-Security-Policy lets load
        # from our own origin (base_url is plain http here: https: alone would not cover it).
        page = httpx.get(f"{base_url}/editions/daily/{SLOT:%Y-%m-%d-%H%M}", timeout=10)
        assert page.status_code == 200
        assert "img-src 'self'" in page.headers["content-security-policy"]
        archived = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', page.text)
        assert archived and set(archived) <= sources
        some = sorted(sources)[0]
        assert httpx.get(some.replace(".jpg", ".png"), timeout=10).status_code == 404
        folder, name = some.rsplit("/", 1)
        assert httpx.get(f"{folder}/{name[:32].upper()}.jpg", timeout=10).status_code == 404
        unknown = httpx.get(f"{base_url}/images/{'0' * 32}.jpg", timeout=10)
        assert unknown.status_code == 404
        assert httpx.get(f"{base_url}/images/..%2Fdigest.db", timeout=10).status_code == 404


@pytest.fixture
def picture_app(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """The app on a real store keeping one lead picture, and the address it is served at."""
    settings = web_settings(tmp_path, "http://127.0.0.1:9/wire.xml")
    settings = settings.model_copy(update={"web": settings.web.model_copy(update={"images": True})})
    services = build_services(settings, clock=FixedClock(SLOT), transport=MemoryTransport())
    prepared = prepare_picture(encoded(photo(900, 600), "JPEG"), "lead")
    services.store.save_picture(
        picture_id="ab" * 16,
        source_url="https://wire.example.org/pictures/talks.jpg",
        role="lead",
        content_type=prepared.content_type,
        data=prepared.data,
        width=prepared.width,
        height=prepared.height,
        failure=None,
        now=SLOT,
    )
    try:
        yield TestClient(create_app(services)), f"/images/{'ab' * 16}.jpg"
    finally:
        services.close()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_star_is_304_for_a_picture_that_exists(
    picture_app: tuple[TestClient, str], method: str
) -> None:
    # RFC 9110 §13.1.2: "*" matches any current representation; a cache revalidating with it
    # must get 304, not the whole picture again.
    client, address = picture_app
    answered = client.request(method, address, headers={"If-None-Match": "*"})
    assert answered.status_code == 304 and answered.content == b""
    assert answered.headers["etag"] == client.get(address).headers["etag"]
    assert "max-age=31536000" in answered.headers["cache-control"]
    unknown = client.request(method, f"/images/{'0' * 32}.jpg", headers={"If-None-Match": "*"})
    assert unknown.status_code == 404


@pytest.mark.parametrize("suffix", ["%0A", "%00", "?v=2", "?ID.png"])
def test_a_picture_is_served_at_its_one_address_only(
    picture_app: tuple[TestClient, str], suffix: str
) -> None:
    # Each other spelling of the address that answered the picture was one more copy of it in
    # every cache in front of the service, and an address no mail ever held: a query string
    # too, which made every request a new one for the cache, answered by the database.
    client, address = picture_app
    assert client.get(address).status_code == 200
    answered = client.get(address + suffix, follow_redirects=False)
    assert answered.status_code == 404 and answered.headers["content-type"].startswith("text/")
    assert answered.content != client.get(address).content


@pytest.mark.usefixtures("first_line_down")
def test_the_story_that_leads_once_a_hostile_lead_is_left_out_shows_its_picture(
    tmp_path: Path,
) -> None:
    # The checks before sending leave out a lead whose title gets past the header cleaning
    # (digest.screening) and compose again: the story that leads then must show its picture at
    # the lead's size, not lose it for having been gathered as a thumbnail.
    base_url = "https://news.example.org"
    stories = [
        (1, "Gulf talks " + b_word("\r\nX-Injected: 1"), "/pictures/talks.jpg"),
        (2, "Gulf ports reopen after the storm", "/pictures/ports.jpg"),
        (3, "Gulf airlines add winter routes", "/pictures/routes.jpg"),
    ]

    def wire(handler: BaseHTTPRequestHandler) -> None:
        items = "".join(
            f"""<item><title>{escape(title)}</title>
            <link>https://wire.example.org/story/{number}</link><guid>urn:wire:{number}</guid>
            <description>{escape(title)}, officials said on the Gulf coast.</description>
            <enclosure url={quoteattr(server.url(picture))} type="image/jpeg" length="1000"/>
            <pubDate>{(SLOT - timedelta(hours=number)).strftime("%a, %d %b %Y %H:%M:%S +0000")}
            </pubDate></item>"""
            for number, title, picture in stories
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}'
        send(handler, 200, (body + "</channel></rss>").encode(), {"Content-Type": "text/xml"})

    photograph = answer(200, encoded(photo(1600, 900), "JPEG"), JPEG)
    routes = {"/wire.xml": wire, **{picture: photograph for _, _, picture in stories}}
    with feed_server(routes) as server:
        settings = web_settings(tmp_path, server.url("/wire.xml"), base_url=base_url)
        subject = "{{ list_name }}: {{ lead_title }}"
        settings = settings.model_copy(
            update={
                "web": settings.web.model_copy(
                    update={"images": True, "images_allow_private_addresses": True}
                ),
                "lists": tuple(
                    digest_list.model_copy(update={"subject": subject})
                    for digest_list in settings.lists
                ),
            }
        )
        transport = MemoryTransport()
        services = build_services(settings, clock=FixedClock(SLOT), transport=transport)
        try:
            for known in services.store.sync_feeds(settings.feeds, SLOT):
                pipeline.poll_feed(services, known.id)
            built = pipeline.build_edition(services, "daily", SLOT)
            assert built.edition_id is not None
            assert any("was left out of the edition" in warning for warning in built.warnings)
            pipeline.deliver_batch(
                services, built.edition_id, services.store.pending_deliveries(built.edition_id)
            )
        finally:
            services.close()
    message = message_from_bytes(transport.sent[0].data, policy=policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "story/1" not in html and "Gulf ports reopen" in str(message["Subject"])
    lead = re.search(r'<img class="lead-image" src="([^"]+)" width="528" height="(\d+)"', html)
    assert lead is not None, "the new lead shows its picture"
    ports = picture_id(signing_secret(settings), "lead", server.url("/pictures/ports.jpg"))
    assert lead[1] == f"{base_url}/images/{ports}.jpg" and lead[2] == "297"


@pytest.mark.usefixtures("first_line_down")
def test_the_drafts_of_one_build_share_one_window_of_picture_fetches(tmp_path: Path) -> None:
    # Each draft of a build (a hostile lead left out, composed again) gathers its pictures; a
    # picture not asked for within the window is asked for again by the next draft. Each draft
    # opening a window of its own, a publisher dripping every picture held the build for one
    # window per draft, past the build task's time limit with a few of them.
    stories = [
        (number, f"Gulf story {number}" + (b_word("\r\nX-Injected: 1") if number <= 3 else ""))
        for number in range(1, 15)
    ]
    started: list[float] = []

    def wire(handler: BaseHTTPRequestHandler) -> None:
        items = "".join(
            f"""<item><title>{escape(title)}</title>
            <link>https://wire.example.org/story/{number}</link><guid>urn:wire:{number}</guid>
            <description>{escape(title)}, officials said on the Gulf coast.</description>
            <enclosure url={quoteattr(server.url(f"/pictures/{number}.jpg"))}
            type="image/jpeg" length="1000"/>
            <pubDate>{(SLOT - timedelta(hours=number)).strftime("%a, %d %b %Y %H:%M:%S +0000")}
            </pubDate></item>"""
            for number, title in stories
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}'
        send(handler, 200, (body + "</channel></rss>").encode(), {"Content-Type": "text/xml"})

    dripping = drip(b"\xff", every=0.2, count=10)

    def picture(handler: BaseHTTPRequestHandler) -> None:
        started.append(time.monotonic())
        dripping(handler)

    routes = {"/wire.xml": wire, **{f"/pictures/{number}.jpg": picture for number, _ in stories}}
    with feed_server(routes) as server:
        settings = web_settings(tmp_path, server.url("/wire.xml"))
        timeout = 0.5
        settings = settings.model_copy(
            update={
                "web": settings.web.model_copy(
                    update={
                        "images": True,
                        "images_allow_private_addresses": True,
                        "image_timeout_seconds": timeout,
                    }
                ),
                "ingest": settings.ingest.model_copy(update={"per_host_concurrency": 1}),
                "lists": tuple(
                    digest_list.model_copy(update={"subject": "{{ list_name }}: {{ lead_title }}"})
                    for digest_list in settings.lists
                ),
            }
        )
        services = build_services(settings, clock=FixedClock(SLOT), transport=MemoryTransport())
        try:
            for known in services.store.sync_feeds(settings.feeds, SLOT):
                pipeline.poll_feed(services, known.id)
            built = pipeline.build_edition(services, "daily", SLOT)
        finally:
            services.close()
    assert built.edition_id is not None
    assert sum("was left out of the edition" in warning for warning in built.warnings) == 3, (
        built.warnings
    )
    assert len(started) >= 2
    # No fetch of the build started past the window of its first (a little slack for the
    # server's own clock reading).
    assert max(started) - min(started) <= start_window(timeout) + 0.3, started
