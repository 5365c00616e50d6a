"""Tests for digest.sample_server: a read-only folder of feeds on loopback."""

from __future__ import annotations

import calendar
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import feedparser
import httpx
import pytest

from digest.errors import DigestError
from digest.sample_server import serve_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "samples"
    root.mkdir()
    (root / "gulf-wire.xml").write_text('<?xml version="1.0"?><rss version="2.0"></rss>')
    (root / "levant-ledger.atom").write_text('<feed xmlns="http://www.w3.org/2005/Atom"/>')
    (root / "persia-review.rdf").write_text("<rdf:RDF/>")
    (root / "atom-as.xml").write_text('<?xml version="1.0"?>\n<feed xmlns="x"/>')
    (root / "notes.rss").write_text("<rss/>")
    (root / "sub").mkdir()
    (root / "sub" / "nested.xml").write_text("<rss>nested</rss>")
    (tmp_path / "secret.txt").write_text("outside the folder")
    return root


@pytest.fixture
def base_url(folder: Path) -> Iterator[str]:
    with serve_folder(folder) as url:
        yield url


def get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=5, trust_env=False)


def test_serves_files_with_feed_content_types(base_url: str) -> None:
    expected = {
        "gulf-wire.xml": "application/rss+xml",
        "levant-ledger.atom": "application/atom+xml",
        "persia-review.rdf": "application/rdf+xml",
        "atom-as.xml": "application/atom+xml",
        "notes.rss": "application/rss+xml",
        "sub/nested.xml": "application/rss+xml",
    }
    for name, content_type in expected.items():
        response = get(f"{base_url}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == content_type
    assert get(f"{base_url}/sub/nested.xml").text == "<rss>nested</rss>"


def test_base_url_is_loopback_with_the_chosen_port(folder: Path) -> None:
    with serve_folder(folder) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0


def test_answers_carry_validators_and_honour_if_none_match(base_url: str) -> None:
    first = get(f"{base_url}/gulf-wire.xml")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert first.headers["last-modified"].endswith("GMT")

    again = get(f"{base_url}/gulf-wire.xml", {"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    several = get(f"{base_url}/gulf-wire.xml", {"If-None-Match": f'"other", W/{etag}'})
    assert several.status_code == 304
    assert get(f"{base_url}/gulf-wire.xml", {"If-None-Match": '"other"'}).status_code == 200


def test_honours_if_modified_since(folder: Path, base_url: str) -> None:
    path = folder / "gulf-wire.xml"
    os.utime(path, (1_700_000_000, 1_700_000_000))
    last_modified = get(f"{base_url}/gulf-wire.xml").headers["last-modified"]
    assert last_modified == formatdate(1_700_000_000, usegmt=True)

    assert get(f"{base_url}/gulf-wire.xml", {"If-Modified-Since": last_modified}).status_code == 304
    earlier = formatdate(1_600_000_000, usegmt=True)
    assert get(f"{base_url}/gulf-wire.xml", {"If-Modified-Since": earlier}).status_code == 200
    assert get(f"{base_url}/gulf-wire.xml", {"If-Modified-Since": "garbage"}).status_code == 200


def test_a_changed_file_gets_a_new_etag(folder: Path, base_url: str) -> None:
    before = get(f"{base_url}/notes.rss").headers["etag"]
    (folder / "notes.rss").write_text("<rss>changed</rss>")
    after = get(f"{base_url}/notes.rss", {"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["etag"] != before
    assert after.text == "<rss>changed</rss>"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/sub",
        "/sub/",
        "/missing.xml",
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/%2E%2E/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "//etc/passwd",
    ],
)
def test_no_listing_and_no_escape(base_url: str, path: str) -> None:
    # Sent on a raw socket: an HTTP client would tidy the dots away before sending.
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404")
    assert b"outside the folder" not in answer
    assert b"nested.xml" not in answer


def test_a_symbolic_link_out_of_the_folder_is_not_followed(folder: Path, base_url: str) -> None:
    (folder / "link.xml").symlink_to(folder.parent / "secret.txt")
    assert get(f"{base_url}/link.xml").status_code == 404


def test_head_answers_without_a_body(base_url: str) -> None:
    response = httpx.head(f"{base_url}/gulf-wire.xml", timeout=5, trust_env=False)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_writing_is_not_allowed(base_url: str) -> None:
    response = httpx.post(f"{base_url}/gulf-wire.xml", content=b"x", timeout=5, trust_env=False)
    assert response.status_code == 501


def test_requests_are_not_logged(base_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    get(f"{base_url}/gulf-wire.xml")
    get(f"{base_url}/missing.xml")
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_a_port_in_use_is_a_digest_error(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DigestError) as raised, serve_folder(folder, port=port):
            pass
    assert f"cannot serve sample feeds on 127.0.0.1:{port}" in str(raised.value)


def test_a_missing_folder_is_a_digest_error(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="not a folder"), serve_folder(tmp_path / "nope"):
        pass


def test_the_port_is_released_on_exit(folder: Path) -> None:
    with serve_folder(folder) as url:
        port = int(url.rsplit(":", 1)[1])
        assert get(f"{url}/notes.rss").status_code == 200
    with pytest.raises(httpx.ConnectError):
        get(f"{url}/notes.rss")
    # The same port can be served again right away.
    with serve_folder(folder, port=port) as again:
        assert get(f"{again}/notes.rss").status_code == 200


def test_serves_on_ipv6_loopback(folder: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with serve_folder(folder, host="::1") as url:
            assert url.startswith("http://[::1]:")
            assert get(f"{url}/notes.rss").status_code == 200
    except DigestError as error:
        pytest.skip(f"IPv6 loopback unavailable: {error}")


SAMPLES = Path(__file__).resolve().parents[1] / "config" / "samples"


def _dates(data: bytes) -> list[datetime]:
    """Every entry's and feed's date as feedparser reads it, in UTC."""
    parsed = feedparser.parse(data)
    found = []
    for item in [parsed.feed, *parsed.entries]:
        for key in ("published_parsed", "updated_parsed"):
            # dict.get: feedparser's own would read a missing updated_parsed as published_parsed.
            value = dict.get(item, key)
            if value:
                found.append(datetime.fromtimestamp(calendar.timegm(value), UTC))
    return found


def test_replayed_samples_end_in_the_day_before_the_run_moved_by_whole_days() -> None:
    """The example serves its samples dated as the latest news: every date of every feed moved
    by the same whole number of days, the newest within the day before the command's time."""
    run_at = datetime(2027, 3, 14, 6, 30, tzinfo=UTC)
    served = {}
    with serve_folder(SAMPLES, replay_until=run_at) as url:
        for path in sorted(SAMPLES.glob("*.*")):
            if path.suffix in (".xml", ".atom", ".rdf"):
                served[path.name] = get(f"{url}/{path.name}").content
    assert len(served) >= 7
    newest = max(date for data in served.values() for date in _dates(data))
    assert run_at - timedelta(days=1) < newest <= run_at
    for name, data in served.items():
        written = _dates((SAMPLES / name).read_bytes())
        moved = _dates(data)
        assert len(moved) == len(written) > 0, name
        shifts = {after - before for before, after in zip(written, moved, strict=True)}
        assert len(shifts) == 1, f"{name}: dates moved unevenly: {shifts}"
        [shift] = shifts
        assert shift % timedelta(days=1) == timedelta(0) and shift > timedelta(0), name
        assert feedparser.parse(data).bozo == 0, name


def test_without_replay_the_files_are_served_as_written(folder: Path) -> None:
    feed = b"<rss><channel><item><pubDate>Wed, 25 Nov 2026 09:00:00 +0400</pubDate></item>"
    (folder / "dated.xml").write_bytes(feed + b"</channel></rss>")
    with serve_folder(folder) as url:
        assert get(f"{url}/dated.xml").content == feed + b"</channel></rss>"


def test_replay_writes_each_date_in_its_own_format_and_leaves_unreadable_ones(
    folder: Path,
) -> None:
    (folder / "dated.xml").write_bytes(
        b"<rss><channel><lastBuildDate>not a date</lastBuildDate><item>"
        b"<pubDate>Wed, 25 Nov 2026 09:00:00 +0400</pubDate><dc:date>2026-11-24T10:00:00Z"
        b"</dc:date><updated>2026-11-24T10:00:00+03:30</updated></item></channel></rss>"
    )
    with serve_folder(folder, replay_until=datetime(2026, 11, 28, 4, 0, tzinfo=UTC)) as url:
        served = get(f"{url}/dated.xml").content
    # The newest, 05:00 UTC on the 25th, moves two days: to 05:00 on the 27th.
    assert b"<lastBuildDate>not a date</lastBuildDate>" in served
    assert b"<pubDate>Fri, 27 Nov 2026 09:00:00 +0400</pubDate>" in served
    assert b"<dc:date>2026-11-26T10:00:00Z</dc:date>" in served
    assert b"<updated>2026-11-26T10:00:00+03:30</updated>" in served
