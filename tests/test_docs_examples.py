"""The guides' examples work as written: a newcomer copies them, block by block.

TOML blocks. Every ```toml block of README.md and docs/**/*.md must parse, and validate with the
project's own loader (``digest.config.settings_from_mapping``, what ``digest config check``
runs). What a block is, the line just before its fence says, in an HTML comment that the built
guides do not show:

    (no marker)                      a fragment of config/example.toml: its tables are merged
                                     key by key into the example's, and an entry of [[lists]],
                                     [[topics]] or [[feeds]] into the example's entry of the
                                     same slug (a feed: name), or of a slug it names in its
                                     previous_slugs (a rename), or appended when there is none;
                                     the result, read as if from config/, must validate
    <!-- toml: whole -->             a whole config file, validated on its own
    <!-- toml: in [TABLE] -->        keys of one table only (a block in a list item, say):
                                     merged into the example's [TABLE]
    <!-- toml: parse only: WHY -->   parsed only; WHY says why it cannot validate
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from digest.config import settings_from_mapping
from digest.errors import ConfigError
from tests.servers import free_port, postgres_cluster

ROOT = Path(__file__).resolve().parents[1]
DIGEST = str(Path(sys.executable).parent / "digest")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLE = ROOT / "config/example.toml"
_SHELL_FENCE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


# --- TOML blocks -----------------------------------------------------------------------------

# A fence, indented as its list item is, with the marker line just before it when there is one.
_TOML_FENCE = re.compile(
    r"(?:^[ \t]*<!-- toml: (?P<marker>[^\n]*?) -->\n)?^(?P<indent>[ \t]*)```toml\n"
    r"(?P<body>.*?)^(?P=indent)```",
    re.S | re.M,
)
_ENTRY_NAMES = {"lists": "slug", "topics": "slug", "feeds": "name"}  # how entries are matched


@dataclass(frozen=True)
class TomlBlock:
    where: str  # "docs/web.md:37"
    marker: str  # "", "whole", "in [service]", "parse only: …"
    text: str


def toml_blocks(page: str, name: str) -> list[TomlBlock]:
    """The ```toml blocks of the Markdown ``page``, their indentation taken off."""
    blocks = []
    for match in _TOML_FENCE.finditer(page):
        indent = match.group("indent")
        lines = match.group("body").splitlines()
        text = "".join(line.removeprefix(indent) + "\n" for line in lines)
        where = f"{name}:{page.count(chr(10), 0, match.start('indent')) + 1}"
        blocks.append(TomlBlock(where, (match.group("marker") or "").strip(), text))
    return blocks


def merged(base: dict[str, Any], fragment: dict[str, Any], *, top: bool = True) -> dict[str, Any]:
    """``base`` with ``fragment`` merged in, as the marker convention above says."""
    result = copy.deepcopy(base)
    for key, value in fragment.items():
        here = result.get(key)
        if isinstance(value, dict) and isinstance(here, dict):
            result[key] = merged(here, value, top=False)
        elif top and key in _ENTRY_NAMES and isinstance(value, list) and isinstance(here, list):
            name = _ENTRY_NAMES[key]
            for entry in value:
                # The entry of that name; or, for a renamed one, the entry it was.
                names = {entry.get(name), *entry.get("previous_slugs", ())}
                same = [i for i, old in enumerate(here) if old.get(name) in names]
                if same:
                    here[same[0]] = merged(here[same[0]], entry, top=False)
                else:
                    here.append(copy.deepcopy(entry))
        else:
            result[key] = copy.deepcopy(value)
    return result


def toml_problem(block: TomlBlock) -> str | None:
    """Why ``block`` does not parse, or does not validate as its marker says; None when it does."""
    try:
        fragment = tomllib.loads(block.text)
    except tomllib.TOMLDecodeError as error:
        return f"{block.where}: not valid TOML: {error}"
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    if block.marker.startswith("parse only:"):
        reason = block.marker.removeprefix("parse only:").strip()
        return None if reason else f"{block.where}: say why it is parsed only"
    if block.marker == "whole":
        config = fragment
    elif table := re.fullmatch(r"in \[([a-z_]+)\]", block.marker):
        config = merged(example, {table.group(1): fragment})
    elif block.marker == "":
        config = merged(example, fragment)
    else:
        return f"{block.where}: unknown marker {block.marker!r}"
    try:
        # Read as if it were config/example.toml: relative paths from config/, no environment.
        settings_from_mapping(config, source=EXAMPLE, environ={})
    except ConfigError as error:
        return f"{block.where}: {error}"
    return None


def test_every_toml_block_of_the_guides_parses_and_validates() -> None:
    blocks = [
        block
        for document in DOCUMENTS
        for block in toml_blocks(document.read_text(encoding="utf-8"), document.name)
    ]
    assert len(blocks) > 12
    assert [problem for block in blocks if (problem := toml_problem(block))] == []


def test_a_toml_block_that_does_not_parse_or_validate_is_caught() -> None:
    def problem(marker: str, text: str) -> str:
        return str(toml_problem(TomlBlock("page.md:1", marker, text)))

    assert "not valid TOML" in problem("", "[web\nport = 1\n")
    assert problem("", "[web]\nport = 8080\n") == "None"
    assert "web.port" in problem("", '[web]\nport = "eighty"\n')
    assert "smtp.speed" in problem("in [smtp]", 'host = "mail.example.org"\nspeed = 3\n')
    # An entry merges into the example's entry of that slug; a new one must be whole.
    assert problem("", '[[lists]]\nslug = "gulf-weekly"\nlayout = "compact"\n') == "None"
    assert "lists[daily]" in problem("", '[[lists]]\nslug = "daily"\n')
    renamed = '[[topics]]\nslug = "gulf-states"\nprevious_slugs = ["gulf"]\n'
    assert "unknown topic 'gulf'" in problem("", renamed)  # the lists still name the old slug
    assert "service" in problem("whole", "[web]\nport = 8080\n")
    assert problem("parse only: names a key file the reader makes", "[dkim]\n") == "None"
    assert "say why" in problem("parse only:", "[dkim]\n")
    assert "unknown marker" in problem("all of it", "[dkim]\n")


def test_markers_are_read_before_plain_and_indented_fences() -> None:
    page = (
        "Text.\n\n<!-- toml: whole -->\n```toml\n[web]\n```\n\n1. In a list:\n\n"
        '    <!-- toml: in [service] -->\n    ```toml\n    outbox = "out"\n    ```\n\n'
        "```toml\n[smtp]\n```\n"
    )
    blocks = [(block.where, block.marker, block.text) for block in toml_blocks(page, "p.md")]
    assert blocks == [
        ("p.md:4", "whole", "[web]\n"),
        ("p.md:11", "in [service]", 'outbox = "out"\n'),
        ("p.md:15", "", "[smtp]\n"),
    ]


# --- Running on several machines: the database and its role ------------------------------------

SEVERAL_MACHINES = ROOT / "docs/several-machines.md"
# A line the guide runs as PostgreSQL's superuser, with sudo or, as root, with runuser.
_AS_POSTGRES = re.compile(r"^(?:sudo -u postgres|runuser -u postgres --) (?P<command>.+)$")
_DATABASE_URL = re.compile(r"DIGEST_DATABASE_URL=(\S+)")


@dataclass(frozen=True)
class DatabaseSetup:
    """The superuser's commands of one shell block, and the URL the guide then gives digest."""

    commands: tuple[str, ...]
    url: str


def database_setups(text: str) -> Iterator[DatabaseSetup]:
    """Each shell block that makes the database and its role, with the first
    ``DIGEST_DATABASE_URL`` that block or a later one exports."""
    blocks = _SHELL_FENCE.findall(text)
    for index, block in enumerate(blocks):
        lines = [line.split("  #")[0].strip() for line in block.splitlines()]
        commands = [m.group("command") for line in lines if (m := _AS_POSTGRES.match(line))]
        if not commands:
            continue
        urls = [u for later in blocks[index:] for u in _DATABASE_URL.findall(later)]
        yield DatabaseSetup(tuple(commands), urls[0])


def test_the_guide_makes_the_database_and_its_role_before_the_first_upgrade() -> None:
    # The guide went from "install the postgres extra" to `digest db upgrade`: the role and the
    # database it names were never made, and the URL had no password, which a distribution's
    # PostgreSQL asks of every connection over TCP.
    text = SEVERAL_MACHINES.read_text(encoding="utf-8")
    setups = list(database_setups(text))
    assert len(setups) == 2  # the deployment, and the trial on one machine
    first_upgrade = text.index("digest db upgrade\n")
    assert text.index("CREATE ROLE") < first_upgrade and text.index("createdb") < first_upgrade
    for setup in setups:
        url = make_url(setup.url)
        assert url.password, setup.url
        made = " ".join(setup.commands)
        assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}'" in made
        assert f"createdb --owner {url.username} {url.database}" in made


@pytest.mark.parametrize("which", [0, 1], ids=["several-machines", "one-machine"])
def test_the_guides_database_commands_make_a_database_digest_upgrades(
    tmp_path: Path, which: int
) -> None:
    # Run as written against a cluster set up as a distribution's is: only the socket's postgres
    # gets in without a password, and TCP connections must give one.
    setup = list(database_setups(SEVERAL_MACHINES.read_text(encoding="utf-8")))[which]
    with postgres_cluster(
        superuser="postgres", local_auth="peer", host_auth="scram-sha-256"
    ) as server:
        port = make_url(server.url).port
        # The guide's commands reach the default socket; this cluster's is elsewhere.
        where = {"PGHOST": str(server.socket_folder), "PGPORT": str(port)}
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        for command in setup.commands:
            done = subprocess.run(
                [*as_postgres, "env", *(f"{k}={v}" for k, v in where.items()), "sh", "-c", command],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{command}: {done.stderr}"
        url = make_url(setup.url).set(host="127.0.0.1", port=port)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        upgrade = subprocess.run(
            [DIGEST, "--config", str(ROOT / "config/example.toml"), "db", "upgrade"],
            cwd=tmp_path,
            env={**environment, "DIGEST_DATABASE_URL": url.render_as_string(hide_password=False)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "Database at revision" in upgrade.stdout + upgrade.stderr


# --- Feeds and topics: the worked example of `digest topics suggest` -----------------------------

FEEDS_AND_TOPICS = ROOT / "docs/feeds-and-topics.md"
_SUGGESTION_ROW = re.compile(r"^ (\S+) +(\d+) +(\d+) +(\d+)\b", re.M)


def _example_elsewhere(folder: Path) -> Path:
    """config/ copied into ``folder``, its sample server on a free port (tests run side by side)."""
    shutil.copytree(ROOT / "config", folder / "config")
    config = folder / "config/example.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("8421", str(free_port())))
    return config


def _digest(config: Path, *args: str, cwd: Path) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run(
        [DIGEST, "--config", str(config), *args],
        cwd=cwd,
        env={**environment, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_worked_example_of_topics_suggest_is_what_the_example_prints(tmp_path: Path) -> None:
    # The guide showed rows ("indirect") the command no longer printed, and did not say what an
    # editor reads in each column nor how to take a phrase into the config.
    page = FEEDS_AND_TOPICS.read_text(encoding="utf-8")
    example = page.split("**A worked example.**")[1].split("Stop words")[0]
    shown = [
        (phrase, int(near), int(filed), int(elsewhere))
        for phrase, near, filed, elsewhere in _SUGGESTION_ROW.findall(example)
    ]
    assert "topics suggest diplomacy --limit 4" in example and len(shown) == 4
    config = _example_elsewhere(tmp_path)
    _digest(config, "run", "--once", cwd=tmp_path)
    printed = json.loads(
        _digest(config, "topics", "suggest", "diplomacy", "--limit", "4", "--json", cwd=tmp_path)
    )
    assert shown == [
        (row["phrase"], len(row["near_misses"]), row["filed"], row["elsewhere"]) for row in printed
    ]
    # Accepting "cooperation" as the guide says files the near miss it names, and only that.
    text = config.read_text(encoding="utf-8")
    diplomacy = text.index('slug = "diplomacy"')
    closing = text.index("\n]", text.index("ambiguous = [", diplomacy))
    edited = config.with_name("new.toml")
    edited.write_text(text[:closing] + ' "cooperation",' + text[closing:], encoding="utf-8")
    moved = _digest(config, "topics", "test", str(edited), cwd=tmp_path)
    moves = [line for line in moved.splitlines() if line.startswith(("+ ", "- "))]
    assert len(moves) == 1, moved
    title = moves[0].removeprefix("+ diplomacy").split("  (id")[0].strip()
    assert f"`+ diplomacy  {title}`" in example
