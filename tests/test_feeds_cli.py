"""`digest feeds` (status, import, export, enable) and `digest poll`, with a loopback server."""

from __future__ import annotations

import gc
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.gc_tuning import YOUNG_GENERATION_THRESHOLD
from digest.opml import read_opml
from tests.feedserver import FeedServer, Route, answer, feed_server, redirect
from tests.test_poll_behaviour import conditional, rss

pytestmark = pytest.mark.integration


@dataclass
class Setup:
    config: Path
    server: FeedServer


# The service and ingest tables of both configs below.
SETTINGS = """\
[service]
database_url = "sqlite:///{folder}/digest.db"
data_dir = "{folder}/var"
outbox = "{folder}/outbox"
base_url = "https://news.example.org"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[ingest]
allow_private_addresses = true
timeout_seconds = 5
"""

CONFIG = (
    SETTINGS
    + """

[[feeds]]
name = "Wire"
url = "{base}/wire"

[[feeds]]
name = "Missing"
url = "{base}/missing"

[[feeds]]
name = "Paused"
url = "{base}/paused"
enabled = false

[[feeds]]
name = "Gone"
url = "{base}/gone"
"""
)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    routes = {
        "/wire": conditional(rss("wire")),
        "/paused": conditional(rss("paused")),
        "/gone": answer(410, b"gone"),
    }
    with feed_server(routes) as server:
        config = tmp_path / "digest.toml"
        config.write_text(CONFIG.format(folder=tmp_path, base=server.base_url))
        yield Setup(config, server)


def digest(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--config", str(config), *args], env={"COLUMNS": "200"})
    return result


def feeds_json(config: Path) -> dict[str, dict[str, Any]]:
    result = digest(config, "feeds", "--json")
    assert result.exit_code == 0, result.output
    return {item["name"]: item for item in json.loads(result.stdout)}


def test_feeds_before_any_poll_are_never_polled(setup: Setup) -> None:
    feeds = feeds_json(setup.config)
    assert list(feeds) == ["Wire", "Missing", "Paused", "Gone"]
    assert {name: item["status"] for name, item in feeds.items()} == {
        "Wire": "never polled",
        "Missing": "never polled",
        "Paused": "disabled",
        "Gone": "never polled",
    }
    wire = feeds["Wire"]
    assert wire["url"] == f"{setup.server.base_url}/wire"
    assert (wire["http_status"], wire["articles"], wire["consecutive_errors"]) == (None, 0, 0)
    assert wire["last_error"] is None and wire["next_poll"] is None


def test_poll_then_feeds_shows_each_feeds_health(setup: Setup) -> None:
    polled = digest(setup.config, "poll")
    assert polled.exit_code == 0, polled.output
    assert "3 feeds polled, 2 failed, 3 new articles" in polled.stdout
    assert "digest feeds enable" in polled.stderr
    feeds = feeds_json(setup.config)
    wire, missing, paused, gone = (feeds[name] for name in ("Wire", "Missing", "Paused", "Gone"))
    assert (wire["status"], wire["http_status"], wire["articles"]) == ("ok", 200, 3)
    assert wire["entries_per_day"] > 0 and wire["next_poll"] and wire["last_fetch"]
    assert (missing["status"], missing["http_status"], missing["consecutive_errors"]) == (
        "error",
        404,
        1,
    )
    assert "not found" in missing["last_error"]
    assert paused["status"] == "disabled" and paused["last_fetch"] is None
    assert (gone["status"], gone["http_status"]) == ("disabled", 410)
    assert "digest feeds enable" in gone["disabled_reason"]
    assert "/paused" not in setup.server.paths()

    table = digest(setup.config, "feeds")
    assert table.exit_code == 0, table.output
    for text in ("Wire", "ok", "200", "error", "404", "disabled", "410 Gone", "not found"):
        assert text in table.stdout


def test_feeds_polled_on_a_clock_that_ran_a_day_fast_are_polled_again_once_it_is_set_right(
    setup: Setup, tmp_path: Path
) -> None:
    """A clock a day fast, then set right: the polls it recorded are dated tomorrow, and so
    their next ones. `digest poll` polled nothing until then, and `digest feeds` said "in 1 d"."""
    assert digest(setup.config, "poll").exit_code == 0
    with sqlite3.connect(tmp_path / "digest.db") as database:
        for column in ("last_fetched_at", "next_poll_at"):
            for feed_id, moment in database.execute(f"SELECT id, {column} FROM feeds").fetchall():
                if moment is not None:
                    later = datetime.fromisoformat(moment) + timedelta(days=1)
                    database.execute(
                        f"UPDATE feeds SET {column} = ? WHERE id = ?",
                        (later.strftime("%Y-%m-%d %H:%M:%S.%f"), feed_id),
                    )
    table = digest(setup.config, "feeds")
    wire = next(line for line in table.stdout.splitlines() if "Wire" in line)
    assert "now: this clock is behind its last poll" in wire, table.stdout
    again = digest(setup.config, "poll")
    assert "2 feeds polled, 1 failed, 0 new articles" in again.stdout  # Wire and Missing
    assert "now: this clock" not in digest(setup.config, "feeds").stdout


def test_poll_polls_only_due_feeds_and_force_polls_every_enabled_one(setup: Setup) -> None:
    assert digest(setup.config, "poll").exit_code == 0
    again = digest(setup.config, "poll")
    assert "0 feeds polled" in again.stdout
    forced = digest(setup.config, "poll", "--force")
    assert "2 feeds polled, 1 failed, 0 new articles" in forced.stdout  # Wire and Missing
    assert feeds_json(setup.config)["Wire"]["http_status"] == 304  # still conditional
    assert setup.server.paths().count("/gone") == 1


def test_enable_lifts_a_410(setup: Setup) -> None:
    digest(setup.config, "poll")
    url = f"{setup.server.base_url}/gone"
    enabled = digest(setup.config, "feeds", "enable", url)
    assert enabled.exit_code == 0, enabled.output
    assert "will be polled at the next cycle" in enabled.stdout
    gone = feeds_json(setup.config)["Gone"]
    assert gone["disabled_reason"] is None and gone["consecutive_errors"] == 0
    unknown = digest(setup.config, "feeds", "enable", "https://nowhere.example/rss")
    assert unknown.exit_code == 1 and "No feed with the URL" in unknown.stderr


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>Theirs</title></head><body>
  <outline text="News">
    <outline type="rss" text="Wire again" xmlUrl="{base}/wire"/>
    <outline type="rss" text="Post" xmlUrl="https://post.example/rss"/>
    <outline type="rss" text="Wire" xmlUrl="https://wire2.example/atom"/>
  </outline>
</body></opml>"""


def test_import_prints_the_blocks_to_add(setup: Setup, tmp_path: Path) -> None:
    opml = tmp_path / "theirs.opml"
    opml.write_text(OPML.format(base=setup.server.base_url))
    result = digest(setup.config, "feeds", "import", str(opml))
    assert result.exit_code == 0, result.output
    assert "already in the config as 'Wire'" in result.stderr
    added = tomllib.loads(result.stdout)["feeds"]
    assert added == [
        {"name": "Post", "url": "https://post.example/rss"},
        {"name": "Wire (2)", "url": "https://wire2.example/atom"},
    ]
    assert "post.example" not in setup.config.read_text()  # printing writes nothing


def test_import_write_appends_valid_feeds_and_refuses_duplicates(
    setup: Setup, tmp_path: Path
) -> None:
    opml = tmp_path / "theirs.opml"
    opml.write_text(OPML.format(base=setup.server.base_url))
    written = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert written.exit_code == 0, written.output
    assert "Added 2 feeds" in written.stdout
    config = tomllib.loads(setup.config.read_text())
    assert [feed["name"] for feed in config["feeds"]] == [
        "Wire",
        "Missing",
        "Paused",
        "Gone",
        "Post",
        "Wire (2)",
    ]
    assert "Post" in feeds_json(setup.config)
    # Importing the same file again adds nothing, and says why.
    again = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert again.exit_code == 1
    assert "already in the config as 'Post'" in again.stderr
    assert "Nothing to add" in again.stderr


def test_import_write_appends_to_a_config_saved_with_a_byte_order_mark(
    setup: Setup, tmp_path: Path
) -> None:
    setup.config.write_bytes(b"\xef\xbb\xbf" + setup.config.read_bytes())
    opml = tmp_path / "theirs.opml"
    opml.write_text(OPML.format(base=setup.server.base_url))
    written = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert written.exit_code == 0, written.output
    names = [feed["name"] for feed in tomllib.loads(setup.config.read_text())["feeds"]]
    assert names[-2:] == ["Post", "Wire (2)"]


def test_import_write_keeps_the_configs_mode_and_owner(setup: Setup, tmp_path: Path) -> None:
    # The service may run as another user that reads the config through its group.
    setup.config.chmod(0o640)
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(setup.config, *owner)
    opml = tmp_path / "theirs.opml"
    opml.write_text(OPML.format(base=setup.server.base_url))
    written = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert written.exit_code == 0, written.output
    status = setup.config.stat()
    assert stat.S_IMODE(status.st_mode) == 0o640
    assert (status.st_uid, status.st_gid) == owner
    assert sorted(path.name for path in setup.config.parent.glob(".digest.toml.*")) == []


def test_import_write_through_a_symlink_edits_the_config_it_points_at(
    setup: Setup, tmp_path: Path
) -> None:
    kept = tmp_path / "kept" / "digest.toml"
    kept.parent.mkdir()
    setup.config.replace(kept)
    setup.config.symlink_to(kept)
    opml = tmp_path / "theirs.opml"
    opml.write_text(OPML.format(base=setup.server.base_url))
    written = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert written.exit_code == 0, written.output
    assert setup.config.is_symlink()
    names = [feed["name"] for feed in tomllib.loads(kept.read_text())["feeds"]]
    assert names[-2:] == ["Post", "Wire (2)"]


def test_import_write_refuses_to_break_the_config(setup: Setup, tmp_path: Path) -> None:
    # A config whose feeds are an inline array cannot take [[feeds]] tables after it.
    text = setup.config.read_text().split("[[feeds]]")[0]
    text = 'feeds = [{name = "A", url = "https://a.example/rss"}]\n' + text
    setup.config.write_text(text)
    opml = tmp_path / "theirs.opml"
    opml.write_text(OPML.format(base=setup.server.base_url))
    result = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert result.exit_code == 2
    assert "Not written" in result.stderr
    assert setup.config.read_text() == text


def test_import_of_malformed_opml_names_the_file_and_the_reason(
    setup: Setup, tmp_path: Path
) -> None:
    opml = tmp_path / "broken.opml"
    opml.write_text("<opml><body><outline text='x'")
    result = digest(setup.config, "feeds", "import", str(opml))
    assert result.exit_code == 2
    assert f"{opml}: not well-formed XML" in result.stderr


def test_export_prints_opml_2_of_the_configured_feeds(setup: Setup, tmp_path: Path) -> None:
    result = digest(setup.config, "feeds", "export")
    assert result.exit_code == 0, result.output
    assert '<opml version="2.0">' in result.stdout
    exported = read_opml(result.stdout.encode(), "stdout")
    assert [(feed.title, feed.url) for feed in exported] == [
        ("Wire", f"{setup.server.base_url}/wire"),
        ("Missing", f"{setup.server.base_url}/missing"),
        ("Paused", f"{setup.server.base_url}/paused"),
        ("Gone", f"{setup.server.base_url}/gone"),
    ]
    target = tmp_path / "out.opml"
    to_file = digest(setup.config, "feeds", "export", "--output", str(target))
    assert to_file.exit_code == 0, to_file.output
    assert read_opml(target.read_bytes(), str(target)) == exported


@pytest.fixture
def default_collector() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("default_collector")
def test_digest_poll_runs_with_the_collector_tuned(setup: Setup) -> None:
    assert digest(setup.config, "poll").exit_code == 0
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("default_collector")
def test_a_celery_worker_runs_with_the_collector_tuned() -> None:
    from celery.signals import worker_init

    import worker.app  # noqa: F401  (connects the worker's signal handlers)

    worker_init.send(sender=None)
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 10, 10)


def test_a_table_piped_or_redirected_keeps_every_value_whole(tmp_path: Path) -> None:
    # Piped (a log, grep, a cron mail), rich would take the output to be 80 columns wide and cut
    # a long name and address short ("The Levant Le…"); nobody reading the log can widen it.
    name = "The Levant Ledger of Regional Affairs and Diplomacy"
    url = "http://127.0.0.1:9/feeds/levant-ledger-of-regional-affairs-and-diplomacy.atom"
    config = tmp_path / "digest.toml"
    config.write_text(
        CONFIG.format(folder=tmp_path, base="http://127.0.0.1:9").split("[[feeds]]")[0]
        + f'[[feeds]]\nname = "{name}"\nurl = "{url}"\n'
    )
    environment = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "digest"), "--config", str(config), "feeds"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(name in line for line in lines), result.stdout
    assert any(url in line for line in lines), result.stdout
    assert "…" not in result.stdout


PUBLISHER = (
    SETTINGS
    + """\
per_host_concurrency = 1

[[feeds]]
name = "World"
url = "{base}/world"

[[feeds]]
name = "Business"
url = "{base}/business"
"""
)


def asking_to_wait() -> dict[str, Route]:
    """The publisher's routes: World answers 429 and asks to wait an hour, Business its feed."""
    return {
        "/world": answer(429, b"slow down", {"Retry-After": "3600"}),
        "/business": conditional(rss("business")),
    }


@contextmanager
def publisher_asking_to_wait(tmp_path: Path) -> Iterator[tuple[Path, FeedServer]]:
    """The PUBLISHER config, written for a server of :func:`asking_to_wait` served for the
    block."""
    with feed_server(asking_to_wait()) as server:
        config = tmp_path / "digest.toml"
        config.write_text(PUBLISHER.format(folder=tmp_path, base=server.base_url))
        yield config, server


def test_feeds_names_the_host_a_redirect_led_to_that_asked_to_wait(tmp_path: Path) -> None:
    # World's address redirects to a CDN, which answers 429: the CDN's Business is paused, and
    # the table says where the answer came from, not only World's own address.
    with (
        feed_server(asking_to_wait()) as cdn,
        feed_server({"/world": redirect(302, cdn.url("/world"))}) as own,
    ):
        config = tmp_path / "digest.toml"
        config.write_text(
            PUBLISHER.format(folder=tmp_path, base=own.base_url).replace(
                f"{own.base_url}/business", cdn.url("/business")
            )
        )
        polled = digest(config, "poll")
        feeds = feeds_json(config)
        table = digest(config, "feeds")
    assert polled.exit_code == 0, polled.output
    assert cdn.paths() == ["/world"]
    assert (feeds["Business"]["status"], feeds["Business"]["paused_by"]) == (
        "paused",
        own.url("/world"),
    )
    assert table.exit_code == 0, table.output
    shown = " ".join(table.stdout.split())  # the cell wraps: its two ends, each on its line
    assert f"HTTP 429 with Retry-After at {own.url('/world')} (redirected to" in shown
    assert f"{cdn.base_url}); no request to the host before" in shown


def test_feeds_shows_a_feed_added_while_its_host_is_paused(tmp_path: Path) -> None:
    # A feed of the host added to the config during the pause has never been polled, nor put
    # off: the table still shows it paused, until the end of the host's wait.
    with publisher_asking_to_wait(tmp_path) as (config, server):
        polled = digest(config, "poll")
        with config.open("a") as more:
            more.write(f'\n[[feeds]]\nname = "Sport"\nurl = "{server.base_url}/sport"\n')
        feeds = feeds_json(config)
        table = digest(config, "feeds")
    assert polled.exit_code == 0, polled.output
    assert (feeds["Sport"]["status"], feeds["Sport"]["next_poll"]) == ("paused", None)
    assert table.exit_code == 0, table.output
    [sport] = [line for line in table.stdout.splitlines() if line.startswith("│ Sport ")]
    assert "paused by its host" in sport
    # Business, put off by the poll, and Sport, which never was: both until the host's wait ends.
    assert table.stdout.count(f"host before {feeds['World']['next_poll'][:19]}") == 2


def test_the_table_and_the_json_mask_a_feeds_password(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        CONFIG.format(folder=tmp_path, base="http://127.0.0.1:9").split("[[feeds]]")[0]
        + '[[feeds]]\nname = "Members"\nurl = "http://desk:s3cret@127.0.0.1:9/members.xml"\n'
    )
    table = digest(config, "feeds")
    assert table.exit_code == 0, table.output
    assert "http://desk:***@127.0.0.1:9/members.xml" in table.stdout
    assert "s3cret" not in table.output
    as_json = digest(config, "feeds", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert "s3cret" not in as_json.output
    assert feeds_json(config)["Members"]["url"] == "http://desk:***@127.0.0.1:9/members.xml"


def test_feeds_shows_the_feeds_a_hosts_retry_after_paused(tmp_path: Path) -> None:
    with publisher_asking_to_wait(tmp_path) as (config, server):
        polled = digest(config, "poll")
        assert polled.exit_code == 0, polled.output
        summary = " ".join(polled.stdout.split())
        assert "1 feed polled, 1 failed, 0 new articles, 1 paused (their host asked to wait" in (
            summary
        )
        feeds = feeds_json(config)
        table = digest(config, "feeds")
    assert server.paths() == ["/world"]
    world, business = feeds["World"], feeds["Business"]
    assert (world["status"], world["http_status"], world["paused_by"]) == ("error", 429, None)
    assert (business["status"], business["paused_by"]) == ("paused", f"{server.base_url}/world")
    assert business["next_poll"] == world["next_poll"]
    assert table.exit_code == 0, table.output
    assert "paused" in table.stdout
    assert "paused by its host: HTTP 429 with Retry-After at" in " ".join(table.stdout.split())


# What a hostile server can put in its reply: controls a terminal obeys (U+009B is CSI, as ESC [
# is: clear the screen and its scrollback; U+009D an OSC, a hidden link) and rich markup.
HOSTILE_REPLY = "text/html\u009b2J\u009b3J\u009d8;;https://evil.example/\u009c[bold red]x[/]"
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_poll_and_run_print_a_servers_reply_as_text_it_cannot_control(tmp_path: Path) -> None:
    # A web page served under a content type holding controls and markup: the poll's problem
    # line quotes the content type.
    page = answer(200, b"<html><body>Not a feed</body></html>", {"Content-Type": HOSTILE_REPLY})
    with feed_server({"/wire": page}) as server:
        for command in (("poll",), ("run", "--once")):
            folder = tmp_path / command[0]  # a store of its own: the feed is due in each
            folder.mkdir()
            config = folder / "digest.toml"
            config.write_text(
                SETTINGS.format(folder=folder)
                + f'\n[[feeds]]\nname = "Wire"\nurl = "{server.url("/wire")}"\n'
            )
            result = digest(config, *command)
            assert "served as text/html" in result.stderr, (command, result.output)
            assert not CONTROLS.search(result.output), (command, repr(result.output))
            assert "[bold red]x[/]" in result.stderr, (command, result.output)  # as written
            assert "\x1b[1;31mx" not in result.output


def test_feeds_shows_names_and_errors_as_written_with_no_control_characters(
    tmp_path: Path,
) -> None:
    # Names as an operator may write them (a backslash before a bracket or at the end once
    # closed the row's markup, and styled the rest), and an error quoting a server's reply.
    names = ["x\\\\", "\\\\[bold]y[/bold] z", "[link=http://evil.example/]w[/link]"]
    page = answer(200, b"<html><body>Not a feed</body></html>", {"Content-Type": HOSTILE_REPLY})
    with feed_server({"/wire": page, "/a": page, "/b": page}) as server:
        config = tmp_path / "digest.toml"
        config.write_text(
            SETTINGS.format(folder=tmp_path)
            + "".join(
                f'\n[[feeds]]\nname = "{name}"\nurl = "{server.url(path)}"\n'
                for name, path in zip(names, ("/wire", "/a", "/b"), strict=True)
            )
        )
        assert digest(config, "poll").exit_code == 0
    table = digest(config, "feeds")
    assert table.exit_code == 0, table.output
    for written in ("x\\", "\\[bold]y[/bold] z", "[link=http://evil.example/]w[/link]"):
        assert written in table.stdout, (written, table.stdout)
    assert "served as" in table.stdout
    assert not CONTROLS.search(table.stdout), repr(table.stdout)
    listed = digest(config, "feeds", "--json")
    assert listed.exit_code == 0, listed.output
    assert not CONTROLS.search(listed.stdout.replace("\n", " ")), repr(listed.stdout)
    records = json.loads(listed.stdout)
    assert [record["name"] for record in records] == [
        "x\\",
        "\\[bold]y[/bold] z",
        "[link=http://evil.example/]w[/link]",
    ]
    assert HOSTILE_REPLY in records[0]["last_error"]  # the same data
    enabled = digest(config, "feeds", "enable", records[1]["url"])
    assert enabled.exit_code == 0, enabled.output
    assert "\\[bold]y[/bold] z (" in enabled.stdout, enabled.stdout


def test_import_prints_an_opml_titles_controls_as_nothing_a_terminal_obeys(
    setup: Setup, tmp_path: Path
) -> None:
    # An OPML file comes from anywhere: a title with U+009B sequences (a CSI: clear the screen)
    # and U+009D ones (an OSC) printed as they came, and a U+202E turned the block backwards.
    opml = tmp_path / "theirs.opml"
    opml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head/><body>'
        '<outline type="rss" title="Post \u009b2J\u009d8;;x\u009c \u202eevil" '
        'xmlUrl="https://post.example/rss"/></body></opml>',
        encoding="utf-8",
    )
    printed = digest(setup.config, "feeds", "import", str(opml))
    assert printed.exit_code == 0, printed.output
    assert not CONTROLS.search(printed.stdout.replace("\n", " ")), repr(printed.stdout)
    [added] = tomllib.loads(printed.stdout)["feeds"]
    assert added["name"] == "Post 2J8;;x \u202eevil"  # the direction control written as \u202e
    written = digest(setup.config, "feeds", "import", str(opml), "--write")
    assert written.exit_code == 0, written.output
    assert feeds_json(setup.config)["Post 2J8;;x \u202eevil"]["url"] == "https://post.example/rss"


def test_export_names_the_file_it_wrote_as_it_is(setup: Setup, tmp_path: Path) -> None:
    # "[backup]" in the path is rich markup: the path printed lost it.
    target = tmp_path / "[backup]" / "feeds.opml"
    target.parent.mkdir()
    written = digest(setup.config, "feeds", "export", "--output", str(target))
    assert written.exit_code == 0, written.output
    assert f"4 feeds written to {target}" in " ".join(written.stderr.split()), written.stderr


def test_a_feed_name_longer_than_the_store_keeps_is_refused_by_the_config(
    tmp_path: Path,
) -> None:
    # The store keeps 300 characters of a feed's name: a longer one passed `digest config
    # check`, then on PostgreSQL every `digest feeds` and every poll ended in "value too long
    # for type character varying(300)" (SQLite kept it whole, so it showed on the servers only).
    config = tmp_path / "digest.toml"
    config.write_text(
        CONFIG.format(folder=tmp_path, base="http://127.0.0.1:9").replace(
            'name = "Wire"', f'name = "{"W" * 5000}"'
        )
    )
    for command in (["config", "check"], ["feeds"]):
        refused = digest(config, *command)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert "Invalid configuration" in said and "feeds[0].name" in said
        assert "5000 characters long" in said and "at most 300" in said
        assert "W" * 301 not in said  # the name is not quoted whole, 5,000 characters of it
    fits = CONFIG.format(folder=tmp_path, base="http://127.0.0.1:9").replace(
        'name = "Wire"', f'name = "{"W" * 300}"'
    )
    config.write_text(fits)
    assert digest(config, "config", "check").exit_code == 0


def test_a_feed_address_longer_than_the_store_keeps_is_refused_by_the_config(
    tmp_path: Path,
) -> None:
    # The store keeps 2,048 characters of a feed's address, the config took up to 2,083: such
    # an address passed the check, then on PostgreSQL every `digest feeds` and every poll ended
    # in "value too long for type character varying(2048)".
    long_path = "a" * 2060
    config = tmp_path / "digest.toml"
    config.write_text(
        CONFIG.format(folder=tmp_path, base="http://127.0.0.1:9").replace("/wire", f"/{long_path}")
    )
    for command in (["config", "check"], ["feeds"]):
        refused = digest(config, *command)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert "Invalid configuration" in said and "feeds[Wire].url" in said
        assert "characters long" in said and "at most 2,048" in said
        assert long_path not in said.replace(" ", "")  # not quoted whole


def test_a_newsroom_of_one_is_counted_in_the_singular(tmp_path: Path) -> None:
    # One feed, one topic, one list, one reader: the operator read "1 feeds, 1 topics, 1 lists"
    # and "1 feeds polled, ... 1 new articles" (digest.plurals.english_count).
    (tmp_path / "readers.csv").write_text("email,name\nreader@example.org,Reader\n")
    one = (
        SETTINGS
        + """
[[feeds]]
name = "Wire"
url = "{base}/wire"

[[topics]]
slug = "news"
name = "News"

[[lists]]
slug = "daily"
name = "Daily"
topics = ["news"]
schedule = "0 7 * * *"
timezone = "UTC"
subscribers = "{folder}/readers.csv"
"""
    )
    with feed_server({"/wire": conditional(rss("wire", count=1))}) as server:
        config = tmp_path / "digest.toml"
        config.write_text(one.format(folder=tmp_path, base=server.base_url))
        checked = digest(config, "config", "check")
        assert checked.exit_code == 0, checked.output
        assert "1 feed, 1 topic, 1 list" in checked.stdout
        polled = digest(config, "poll")
        assert polled.exit_code == 0, polled.output
        assert "1 feed polled, 0 failed, 1 new article" in polled.stdout
        assert "1 new articles" not in polled.stdout
