"""The operator's files as one function of their bytes, and what must hold whatever they are.

    input ─► (kind, file bytes) ─► csv:  imports.read_list_file, as ``subscribers import``,
                                         ``config check`` and every tick read a list's file
                                ─► opml: opml.read_opml ─► plan_import ─► toml_blocks, as
                                         ``feeds import`` proposes [[feeds]] to add
                                ─► toml: config.load_settings, as every command reads its config

An input is the file, optionally preceded by one line ``Kind: csv``, ``Kind: opml`` or
``Kind: toml``; without it, the bytes are read as each of the three. The operator writes these
files by hand, with a spreadsheet or another program's export: careless, not hostile, and a
crash is still a defect, since the operator must be told the file, the line or key, and why.

What must hold for any input (``OperatorFileFailure`` when it does not):

- the only error is ``ConfigError``, naming the file, with a reason for every problem;
- a subscriber file's refused lines each name a line of the file and say why on one line; no
  address is kept twice; a kept row names a line of the file;
- an OPML import proposes TOML that reads back (``tomllib``) as the very feeds it planned, each
  a feed the config accepts;
- a config either loads or is refused;
- each takes at most ``READ_SECONDS`` + ``READ_SECONDS_PER_BYTE`` per byte of CPU time.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

from digest.config import FeedSettings, ListSettings, Settings, load_settings
from digest.errors import ConfigError
from digest.imports import read_list_file
from digest.opml import plan_import, read_opml, toml_blocks

ROOT = Path(__file__).resolve().parent.parent
KIND_PREFIX = b"Kind:"
READ_SECONDS = 1.0
READ_SECONDS_PER_BYTE = 50e-6
SUBSCRIBERS = Path("subscribers.csv")
OPML = "feeds.opml"


class OperatorFileFailure(AssertionError):
    """An input broke one of the module docstring's invariants."""


@functools.cache
def config_folder() -> Path:
    """A copy of the example's config folder (its subscriber files, its samples), so that a
    config written into it finds the files the example names; made once, removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="digest-fuzz-config-"))
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.cache
def example_list() -> tuple[Settings, ListSettings]:
    """The example's config and its first list, the one a subscriber file is read for."""
    settings = load_settings(config_folder() / "example.toml", {})
    return settings, settings.lists[0]


def split_input(data: bytes) -> tuple[str | None, bytes]:
    """An input's kind (None when it has no such first line) and file."""
    if not data.startswith(KIND_PREFIX):
        return None, data
    line, _, document = data.partition(b"\n")
    return line[len(KIND_PREFIX) :].decode("latin-1").strip().lower() or None, document


def check_operator_file(data: bytes) -> None:
    """Read ``data`` as the operator's file of its kind (of each kind when it names none)."""
    kind, document = split_input(data)
    checks = [CHECKS[kind]] if kind in CHECKS else list(CHECKS.values())
    for check in checks:
        started = time.process_time()
        check(document)
        spent = time.process_time() - started
        bound = READ_SECONDS + READ_SECONDS_PER_BYTE * len(document)
        if spent > bound:
            raise OperatorFileFailure(
                f"{check.__name__} took {spent:.2f} s of CPU time for {len(document)} bytes "
                f"(bound {bound:.2f} s)"
            )


def _refused(error: ConfigError, source: str) -> None:
    if error.source != source or not error.problems:
        raise OperatorFileFailure(f"a ConfigError naming {error.source!r}, not {source!r}")
    for key, why in error.problems:
        if not why.strip():
            raise OperatorFileFailure(f"a problem at {key!r} with no reason")


def check_subscriber_file(document: bytes) -> None:
    try:
        read = read_list_file(SUBSCRIBERS, *example_list(), document)
    except ConfigError as error:
        _refused(error, str(SUBSCRIBERS))
        return
    # Every way a file ends a line: csv and the reader may count any of them.
    lines = max(1, document.count(b"\n") + document.count(b"\r") + 1)
    for where, why in read.refused:
        number = where.removeprefix("line ")
        if not number.isdigit() or not 1 <= int(number) <= lines:
            raise OperatorFileFailure(f"a refused row at {where!r} of a file of {lines} lines")
        if not why.strip() or any(char in why for char in "\r\n"):
            raise OperatorFileFailure(f"{where}: a reason not on one line: {why[:200]!r}")
    seen: set[str] = set()
    for row in read.rows:
        if not 1 <= row.line <= lines:
            raise OperatorFileFailure(f"a row of line {row.line} in a file of {lines} lines")
        if row.email.lower() in seen:
            raise OperatorFileFailure(f"line {row.line}: {row.email!r} kept twice")
        seen.add(row.email.lower())


def check_opml_file(document: bytes) -> None:
    try:
        feeds = read_opml(document, OPML)
    except ConfigError as error:
        _refused(error, OPML)
        return
    plan = plan_import(feeds, ())
    proposed = toml_blocks(plan.new)
    try:
        read_back = tomllib.loads(proposed).get("feeds", [])
    except tomllib.TOMLDecodeError as error:
        raise OperatorFileFailure(f"the proposed TOML does not read back: {error}") from error
    planned = [{"name": feed.name, "url": feed.url} for feed in plan.new]
    if read_back != planned:
        raise OperatorFileFailure(f"the proposed TOML reads back as {read_back!r}, not {planned!r}")
    for feed in read_back:
        FeedSettings.model_validate(feed)


def check_config_file(document: bytes) -> None:
    path = config_folder() / "fuzz.toml"
    path.write_bytes(document)
    try:
        load_settings(path, {})
    except ConfigError as error:
        _refused(error, str(path))


CHECKS: dict[str, Callable[[bytes], None]] = {
    "csv": check_subscriber_file,
    "opml": check_opml_file,
    "toml": check_config_file,
}


def seeds() -> Iterator[tuple[str, bytes]]:
    """(name, input) of the seed corpus: the example's own files and small ones written here in
    the shapes spreadsheets and other programs save."""
    for path in sorted((ROOT / "config" / "subscribers").iterdir()):
        yield f"csv-{path.name}", b"Kind: csv\n" + path.read_bytes()
    yield "toml-example.toml", b"Kind: toml\n" + (ROOT / "config" / "example.toml").read_bytes()
    csvs = {
        "excel-semicolon.csv": "sep=;\r\nemail;name;timezone\r\nsam@example.net;Sam;Asia/Dubai\r\n",
        "quoted-newline.csv": 'email,name\n"a@example.net","Line\nbreak"\nA@EXAMPLE.NET,Twice\n',
        "odd-cells.csv": "\ufeffemail,name,timezone,list,status\n"
        "x@example.net,=HYPERLINK(1),Europe/Londn,weekly,bounced\n,,\n\x1a",
        "broken-quote.csv": 'email\n"unterminated@example.net\n',
    }
    for name, text in csvs.items():
        yield f"csv-{name}", b"Kind: csv\n" + text.encode("utf-8")
    yield "csv-utf16.csv", b"Kind: csv\n" + "email,name\r\nr@example.net,Rania\r\n".encode("utf-16")
    outline = '<outline text="{0}" title="{0}" type="rss" xmlUrl="{1}" htmlUrl="{2}"/>'
    opml = (
        '<?xml version="1.0"?>\n<opml version="2.0"><head><title>Mine</title></head><body>'
        '<outline text="News">'
        + outline.format("Gulf Wire", "https://wire.example.org/feed", "https://wire.example.org/")
        + outline.format("Gulf Wire", "feed://wire.example.org/other", "")
        + outline.format("&#x9b;Tab\tname\u202e", "HTTP://WIRE.example.org:80/feed", "")
        + outline.format("Relative", "/rss.xml", "")
        + outline.format("Quote &quot; \\ name", "https://[::1]/x", "")
        + "</outline></body></opml>\n"
    )
    yield "opml-folders.opml", b"Kind: opml\n" + opml.encode("utf-8")
    yield "opml-doctype.opml", b'Kind: opml\n<!DOCTYPE opml [<!ENTITY a "b">]><opml/>'
    configs = {
        "bom.toml": '\ufeff[service]\nbase_url = "https://x.example"\n',
        "types.toml": '[service]\nbase_url = 5\n[[lists]]\nslug = ["x"]\n[[feeds]]\nurl = "x"\n',
        "secret.toml": '[smtp]\npassword = "hunter2"\n',
    }
    for name, text in configs.items():
        yield f"toml-{name}", b"Kind: toml\n" + text.encode("utf-8")
