"""The bundled sample feeds and subscriber lists: well formed, varied, and fit for the example."""

from __future__ import annotations

import calendar
import csv
import re
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SAMPLES_DIR = CONFIG_DIR / "samples"
SUBSCRIBERS_DIR = CONFIG_DIR / "subscribers"
EXAMPLE_CONFIG = CONFIG_DIR / "example.toml"

FEED_SUFFIXES = {".xml", ".atom", ".rdf"}
SAMPLE_FILES = sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix in FEED_SUFFIXES)
SUBSCRIBER_FILES = sorted(SUBSCRIBERS_DIR.glob("*.csv"))

# Reserved for documentation (RFC 2606): the samples must never mail a real person.
RESERVED_DOMAINS = {"example.org", "example.com", "example.net"}
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")
ARABIC = re.compile(r"[\u0600-\u06FF]")
HEBREW = re.compile(r"[\u0590-\u05FF]")
TAG = re.compile(r"<[^>]+>")

# The sample week: every article is dated inside it, so one run of the example sees them all.
WEEK_START = datetime(2026, 11, 18, tzinfo=UTC)
WEEK_END = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture(scope="module")
def feeds() -> dict[str, Any]:
    return {path.name: feedparser.parse(path.read_bytes()) for path in SAMPLE_FILES}


@pytest.fixture(scope="module")
def example_config() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))


def _author(entry: Any) -> str | None:
    # An RSS 2.0 <author> is "address (Name)"; feedparser splits the name out into author_detail.
    detail = entry.get("author_detail") or {}
    name = detail.get("name") or entry.get("author")
    return str(name) if name else None


def _entry_date(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None


def test_there_are_sample_feeds() -> None:
    assert len(SAMPLE_FILES) >= 7


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_parses_without_bozo(path: Path) -> None:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, f"{path.name}: {parsed.get('bozo_exception')!r}"
    assert 8 <= len(parsed.entries) <= 30, path.name
    assert parsed.feed.get("title")
    assert parsed.feed.get("language")


def test_every_feed_of_the_example_config_is_bundled(example_config: dict[str, Any]) -> None:
    for feed in example_config["feeds"]:
        name = Path(urlsplit(feed["url"]).path).name
        assert (SAMPLES_DIR / name).is_file(), f"{feed['name']}: {name} missing from {SAMPLES_DIR}"


def test_enough_articles_in_three_formats(feeds: dict[str, Any]) -> None:
    assert sum(len(parsed.entries) for parsed in feeds.values()) >= 150
    assert {"rss20", "atom10", "rss10"} <= {parsed.version for parsed in feeds.values()}


def test_every_entry_has_title_link_id_author_and_date_in_the_sample_week(
    feeds: dict[str, Any],
) -> None:
    links: Counter[str] = Counter()
    for name, parsed in feeds.items():
        ids = Counter(entry.get("id") for entry in parsed.entries)
        assert max(ids.values()) == 1, f"{name}: duplicate ids {ids.most_common(2)}"
        for entry in parsed.entries:
            where = f"{name}: {entry.get('title')!r}"
            assert entry.get("title"), where
            assert entry.get("id"), where
            assert _author(entry), where
            assert urlsplit(entry.get("link", "")).scheme == "https", where
            date = _entry_date(entry)
            assert date is not None, where
            assert WEEK_START <= date < WEEK_END, where
            links[entry.link] += 1
    assert max(links.values()) == 1, links.most_common(2)


def test_summaries_are_two_sentences_or_more(feeds: dict[str, Any]) -> None:
    for name, parsed in feeds.items():
        for entry in parsed.entries:
            text = TAG.sub(" ", entry.get("summary", ""))
            sentences = re.findall(r"[.!?。؟](?:\s|$)", text)
            assert len(sentences) >= 2, f"{name}: {entry.title!r}"


def test_arabic_and_hebrew_feeds(feeds: dict[str, Any]) -> None:
    by_language = {parsed.feed.get("language"): parsed for parsed in feeds.values()}
    for language, script in (("ar", ARABIC), ("he", HEBREW)):
        assert language in by_language, f"no feed in language {language!r}"
        entries = by_language[language].entries
        assert all(script.search(entry.title) for entry in entries)
        assert all(script.search(entry.summary) for entry in entries)


def test_some_feed_has_three_regular_authors(feeds: dict[str, Any]) -> None:
    regulars = {
        name: [a for a, n in Counter(_author(e) for e in parsed.entries).items() if n >= 3]
        for name, parsed in feeds.items()
    }
    assert any(len(authors) >= 3 for authors in regulars.values()), regulars


def test_many_entries_carry_an_image(feeds: dict[str, Any]) -> None:
    def has_image(entry: Any) -> bool:
        return bool(
            entry.get("media_content")
            or entry.get("media_thumbnail")
            or any(e.get("type") == "image/jpeg" for e in entry.get("enclosures", []))
            or "<img" in entry.get("summary", "")
        )

    with_image = [e for parsed in feeds.values() for e in parsed.entries if has_image(e)]
    assert len(with_image) >= 60


def test_raw_samples_give_the_sanitizer_work() -> None:
    # feedparser strips these itself, so look at the bytes a fetch would get.
    raw = "\n".join(path.read_text(encoding="utf-8") for path in SAMPLE_FILES)
    for needle in ("&lt;script", "<script", "onclick=", "javascript:", "&lt;iframe"):
        assert needle in raw, needle


def _topic_matchers(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(topic["slug"], topic.get("rules", {})) for topic in config["topics"]]


def _words(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.IGNORECASE)


def _topics_of(entry: Any, feed_name: str | None, config: dict[str, Any]) -> list[str]:
    """The example's topic rules as the config documents them: whole words, case-insensitive."""
    categories = [tag.term for tag in entry.get("tags", [])]
    text = " ".join([entry.title, TAG.sub(" ", entry.get("summary", "")), *categories])
    folded = {c.casefold() for c in categories}
    found = []
    for slug, rules in _topic_matchers(config):
        hit = (
            feed_name in rules.get("feeds", [])
            or any(c.casefold() in folded for c in rules.get("categories", []))
            or any(_words(term).search(text) for term in rules.get("include", []))
        )
        if hit and not any(_words(term).search(text) for term in rules.get("exclude", [])):
            found.append(slug)
    return found


def test_off_topic_articles_and_hard_negatives(
    feeds: dict[str, Any], example_config: dict[str, Any]
) -> None:
    names = {Path(urlsplit(f["url"]).path).name: f["name"] for f in example_config["feeds"]}
    unmatched = [
        entry
        for file_name, parsed in feeds.items()
        for entry in parsed.entries
        if not _topics_of(entry, names.get(file_name), example_config)
    ]
    assert len(unmatched) >= 40
    unmatched_text = " ".join(f"{e.title} {e.summary}" for e in unmatched)
    for negative in ("Gulf of Mexico", "Lebanon, New Hampshire", "recipe", "Jordan Whitaker"):
        assert negative in unmatched_text, negative

    matched = sum(len(parsed.entries) for parsed in feeds.values()) - len(unmatched)
    assert matched >= 100


@pytest.mark.parametrize("path", SUBSCRIBER_FILES, ids=lambda p: p.name)
def test_subscriber_list(path: Path) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        assert reader.fieldnames == ["email", "name", "timezone"]
    assert 5 <= len(rows) <= 8
    addresses = [row["email"] for row in rows]
    assert len(set(addresses)) == len(addresses)
    for row in rows:
        match = EMAIL.match(row["email"])
        assert match, row["email"]
        assert match.group(1) in RESERVED_DOMAINS, row["email"]
        if row["timezone"]:
            ZoneInfo(row["timezone"])  # raises for a name that is not in the IANA database


def test_subscriber_lists_cover_awkward_rows() -> None:
    rows = []
    for path in SUBSCRIBER_FILES:
        with path.open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle))
    names = [row["name"] for row in rows]
    assert {"middle-east-daily.csv", "gulf-weekly.csv"} <= {p.name for p in SUBSCRIBER_FILES}
    assert "" in names
    assert any("'" in name for name in names)
    assert any(ARABIC.search(name) for name in names)
    assert any(not row["timezone"] for row in rows)
