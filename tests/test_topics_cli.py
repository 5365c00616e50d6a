"""Tests for ``digest topics explain`` and ``digest topics test`` on a real SQLite store and the
loopback sample server."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_settings
from digest.ingest import parse_feed
from digest.store import open_store
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.toml"
SAMPLES = ROOT / "config" / "samples"


def example_config(tmp_path: Path, name: str = "digest.toml", edit: str = "") -> Path:
    """The example config, its sample server on a free port and its database in ``tmp_path``."""
    port = free_port()
    text = EXAMPLE.read_text(encoding="utf-8").replace("127.0.0.1:8421", f"127.0.0.1:{port}")
    text = text.replace("port = 8421", f"port = {port}")
    text = text.replace('directory = "samples"', f'directory = "{SAMPLES}"')
    text = re.sub(
        r'subscribers = "(subscribers/[^"]+)"', rf'subscribers = "{ROOT / "config"}/\1"', text
    )
    text = text.replace(
        'database_url = "sqlite:///var/digest.db"',
        f'database_url = "sqlite:///{tmp_path / "digest.db"}"\ndata_dir = "{tmp_path / "var"}"',
    )
    if edit:
        old, new = edit.split(" => ")
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result


def store_samples(config: Path, *files: str) -> dict[str, int]:
    """Store the entries of sample feed files as their configured feeds would; title -> id."""
    settings = load_settings(config, {})
    store = open_store(settings.service.database_url)
    now = datetime.now(UTC)
    feeds = {Path(feed.url).name: feed for feed in store.sync_feeds(settings.feeds, now)}
    ids: dict[str, int] = {}
    for name in files:
        parsed = parse_feed(
            (SAMPLES / name).read_bytes(), url=feeds[name].url, content_type=None, now=now
        )
        stored = store.store_entries(feeds[name].id, parsed.entries, now)
        for article in store.articles(stored.new):
            ids[article.title] = article.id
    store.engine.dispose()
    return ids


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return example_config(tmp_path)


def test_explain_a_feed_file_as_json(config: Path) -> None:
    result = run(
        "--config", str(config), "topics", "explain", str(SAMPLES / "weekend-life.xml"), "--json"
    )
    assert result.exit_code == 0, result.output
    records = {record["article"]["title"]: record for record in json.loads(result.output)}
    assert len(records) == 24
    # The file's name is a configured feed's: its rules apply under that name.
    assert {record["article"]["feed"] for record in records.values()} == {"Weekend Life"}
    recipe = records["A slow-roast turkey recipe that frees up your oven on the day"]
    assert recipe["topics"] == []
    turkey = next(v for v in recipe["verdicts"] if v["topic"] == "turkey")
    assert turkey["filed"] is False
    assert turkey["rules"][0]["rule"] == "ambiguous" and turkey["rules"][0]["counted"] is False
    middle_east = next(v for v in recipe["verdicts"] if v["topic"] == "middle-east")
    assert {"term": "recipe", "field": "title"} in middle_east["vetoed_by"]
    assert middle_east["filed"] is False and middle_east["reason"].startswith("vetoed")
    skier = records["Lebanon, New Hampshire, skier takes her first World Cup podium"]
    assert skier["topics"] == []
    assert (
        "Lebanon, New Hampshire"
        in next(v for v in skier["verdicts"] if v["topic"] == "lebanon")["ignored"]
    )


def test_explain_a_configured_feed_url_fetches_it(config: Path) -> None:
    settings = load_settings(config, {})
    url = next(feed.url for feed in settings.feeds if feed.name == "Persia Review")
    result = run("--config", str(config), "topics", "explain", url, "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert len(records) == 20
    for record in records:
        assert "iran" in record["topics"]  # the feed implies the topic
        iran = next(v for v in record["verdicts"] if v["topic"] == "iran")
        feed_rules = [rule for rule in iran["rules"] if rule["rule"] == "feed"]
        assert feed_rules == [
            {
                "topic": "iran",
                "rule": "feed",
                "term": "Persia Review",
                "field": "feed",
                "count": 1,
                "points": 1.0,
                "counted": True,
                "note": "",
            }
        ]


def test_explain_refuses_a_url_that_is_not_a_configured_feed(config: Path) -> None:
    result = run("--config", str(config), "topics", "explain", "https://news.example.org/feed")
    assert result.exit_code == 1
    assert "is not a feed of" in result.output


def test_explain_a_stored_article_prints_rules_and_scores(config: Path) -> None:
    ids = store_samples(config, "world-briefing.xml")
    title = "Late-season Hurricane Vicky strengthens over the Gulf of Mexico"
    result = run("--config", str(config), "topics", "explain", str(ids[title]))
    assert result.exit_code == 0, result.output
    assert title in result.output
    assert "topics: no topic" in result.output
    assert "ignored: 'Gulf of Mexico'" in result.output

    iraq = "Iraq signs framework deal for an elevated metro in Baghdad"
    result = run("--config", str(config), "topics", "explain", str(ids[iraq]))
    assert result.exit_code == 0, result.output
    assert re.search(r"topics: middle-east \d+, iraq \d+", result.output)
    assert "place 'Iraq' in title" in result.output
    assert "implies the topic" in result.output

    missing = run("--config", str(config), "topics", "explain", "999999")
    assert missing.exit_code == 1
    assert "no stored article has id 999999" in missing.output


@pytest.mark.parametrize("source", ["99999999999999999999999", "2147483648", "9" * 5000])
def test_explain_an_id_past_any_stored_one_says_no_article_has_it(
    config: Path, source: str
) -> None:
    # A mistyped id too large for the database's integer column was sent to it as a parameter
    # and came back as an OverflowError traceback.
    store_samples(config, "world-briefing.xml")
    result = run("--config", str(config), "topics", "explain", source)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, OverflowError | ValueError)
    assert f"no stored article has id {source}" in result.output


@pytest.mark.parametrize("source", ["²", "١٢"])
def test_explain_takes_only_ascii_digits_as_an_article_id(config: Path, source: str) -> None:
    # str.isdigit() holds for "²", which int() refuses (a ValueError traceback), and for
    # Arabic-Indic digits, which int() read as the id of another article.
    ids = store_samples(config, "world-briefing.xml")
    assert 12 in ids.values()
    result = run("--config", str(config), "topics", "explain", source)
    assert result.exit_code == 1, result.output
    assert f"cannot read the feed file {source}" in result.output


def test_dry_run_shows_what_moves_per_topic(config: Path, tmp_path: Path) -> None:
    ids = store_samples(config, "world-briefing.xml", "weekend-life.xml")
    # The new rules drop Iraq's place names: Iraq stories leave the topic (and Baghdad's metro
    # leaves the Middle East), and a turkey trot is now filed under Turkey.
    new = example_config(
        tmp_path,
        "new.toml",
        edit='ambiguous = ["Turkey", "Ottoman", => include = ["Turkey"]\nambiguous = ["Ottoman", ',
    )
    text = new.read_text(encoding="utf-8")
    text = text.replace(
        '"Turkish", "Turks", "Turkish lira"', '"Turkish", "Turks", "Turkish lira", "Turkey"'
    )
    text = text.replace('include = ["Turkey"]\n', "")
    text = text.replace('"Turkey Trot",', "")
    new.write_text(text, encoding="utf-8")

    result = run("--config", str(config), "topics", "test", str(new), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles"] == len(ids) == 52
    turkey = next(row for row in report["topics"] if row["topic"] == "turkey")
    assert turkey["gained"] >= 2 and turkey["lost"] == 0
    assert turkey["new"] == turkey["now"] + turkey["gained"]
    gained = {m["title"] for m in report["moves"] if m["topic"] == "turkey"}
    assert "Turkey trot season: how to run a Thanksgiving 5K without training for it" in gained
    assert all(m["change"] == "gained" for m in report["moves"] if m["topic"] == "turkey")

    # The same through the option form, as a table; unchanged rules move nothing.
    table = run("--config", str(config), "topics", "test", "--config", str(new), "--days", "3")
    assert table.exit_code == 0, table.output
    assert (
        "+ turkey" in table.output and "52 articles first seen in the last 3 days" in table.output
    )
    same = run("--config", str(config), "topics", "test", str(config))
    assert same.exit_code == 0, same.output
    assert "Nothing moves." in same.output


def test_dry_run_refuses_a_broken_new_config(config: Path, tmp_path: Path) -> None:
    broken = example_config(tmp_path, "broken.toml", edit="threshold = 3 => threshold = 0")
    result = run("--config", str(config), "topics", "test", str(broken))
    assert result.exit_code == 2
    assert "rules.threshold" in result.output
    nothing = run("--config", str(config), "topics", "test")
    assert nothing.exit_code == 2
    assert "digest topics test NEW.toml" in nothing.output


def test_control_characters_in_a_feed_reach_the_terminal_as_nothing_it_obeys(
    config: Path, tmp_path: Path
) -> None:
    # To a terminal U+009B is a CSI, as ESC [ is (here "clear the screen and its scrollback"),
    # and U+009D an OSC (here a hidden link).
    title = (
        "Iran talks \u009b2J\u009b3J\u009d8;;https://evil.example/\u009cclick\u009d8;;\u009c end"
    )
    feed = tmp_path / "wire.json"
    feed.write_text(
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "Wire",
                "items": [{"id": "1", "url": "https://news.example.org/a", "title": title}],
            }
        ),
        encoding="utf-8",
    )
    # A feed's text is cleaned as it is read: each C1 control the Windows-1252 character its
    # byte stands for, or nothing.
    read = run("--config", str(config), "topics", "explain", str(feed), "--json")
    assert read.exit_code == 0, read.output
    cleaned = json.loads(read.output)[0]["article"]["title"]
    assert cleaned == "Iran talks ›2J›3J8;;https://evil.example/œclick8;;œ end"
    # An article stored before its feed's text was cleaned still holds them: the terminal gets
    # none, the JSON the same data.
    settings = load_settings(config, {})
    store = open_store(settings.service.database_url)
    now = datetime.now(UTC)
    [wire] = store.sync_feeds(settings.feeds[:1], now)
    parsed = parse_feed(feed.read_bytes(), url=wire.url, content_type=None, now=now)
    entry = dataclasses.replace(parsed.entries[0], title=title)
    [stored] = store.store_entries(wire.id, [entry], now).new
    store.engine.dispose()
    shown = run("--config", str(config), "topics", "explain", str(stored))
    assert shown.exit_code == 0, shown.output
    assert "Iran talks" in shown.output and "end" in shown.output
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", shown.output), repr(shown.output)
    as_json = run("--config", str(config), "topics", "explain", str(stored), "--json")
    assert as_json.exit_code == 0, as_json.output
    assert not re.search("[\x7f-\x9f]", as_json.output), repr(as_json.output)
    assert json.loads(as_json.output)[0]["article"]["title"] == title  # the same data


def test_explain_refuses_a_feed_name_no_feed_has(config: Path) -> None:
    # The file's articles were explained under the misspelt name: the feed's rules, which
    # file every article of the Gulf Wire, silently did not fire.
    wire = str(SAMPLES / "gulf-wire.xml")
    args = ("--config", str(config), "topics", "explain", wire, "--json", "--feed-name")
    misspelt = run(*args, "Gulf Wyre")
    assert misspelt.exit_code == 1
    assert "--feed-name 'Gulf Wyre' is not a feed of" in misspelt.output
    assert "Gulf Wire" in misspelt.output  # the names it could have been
    named = run(*args, "Gulf Wire")
    assert named.exit_code == 0, named.output
    records = json.loads(named.output)
    assert all(record["article"]["feed"] == "Gulf Wire" for record in records)


def test_suggest_names_a_topic_it_does_not_know_as_written(config: Path) -> None:
    # The slug was escaped before it was quoted: its backslash was doubled, which rich read as
    # a backslash and the markup after it ("[bold]" styled the rest of the line).
    for slug in ("gulf[bold]x", "gulf\\\\[bold]x"):
        result = run("--config", str(config), "topics", "suggest", slug)
        assert result.exit_code == 2, result.output
        assert f"no topic {slug!r} in " in result.stderr, result.stderr


def test_an_old_slug_of_a_renamed_topic_or_list_is_named_with_its_new_one(
    tmp_path: Path,
) -> None:
    """An editor types the slug they have used for years: after a rename (previous_slugs) the
    refusal says what the topic or list is called now, not only the slugs that exist."""
    config = example_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    for old, new in (
        ('slug = "diplomacy"\n', 'slug = "talks"\nprevious_slugs = ["diplomacy"]\n'),
        ('"lebanon", "diplomacy"]', '"lebanon", "talks"]'),
        ('["gulf", "diplomacy"]', '["gulf", "talks"]'),
        (
            'slug = "middle-east-daily"\n',
            'slug = "me-daily"\nprevious_slugs = ["middle-east-daily"]\n',
        ),
    ):
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    topic = run("--config", str(config), "topics", "suggest", "diplomacy")
    assert topic.exit_code == 2
    assert "'diplomacy' was renamed 'talks'" in " ".join(topic.output.split()), topic.output
    preview = run("--config", str(config), "preview", "middle-east-daily", "--json")
    assert preview.exit_code == 2
    assert "'middle-east-daily' was renamed 'me-daily'" in " ".join(preview.output.split())
    unknown = run("--config", str(config), "preview", "nothing-like-it")
    assert unknown.exit_code == 2 and "was renamed" not in unknown.output
    assert "its lists are me-daily, gulf-weekly" in unknown.output


def test_suggest_for_a_topic_without_articles_says_so(tmp_path: Path) -> None:
    """Nothing to suggest for a topic that no article of the window is filed under or comes
    near said "no phrase recurs in its 169 articles": the window's count, read as the topic's,
    where the topic had none."""
    config = example_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + '\n[[topics]]\nslug = "arctic"\nname = "Arctic"\n'
        '[topics.rules]\ninclude = ["Svalbard"]\n',
        encoding="utf-8",
    )
    stored = store_samples(config, "gulf-wire.xml")
    result = run("--config", str(config), "topics", "suggest", "arctic")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"none of the {len(stored)} articles of the last 7 days is filed under arctic" in said
    assert "its " + str(len(stored)) + " articles" not in said
