"""The worst a document under the parse-apart size costs the poller: hostile shapes, timed.

    python bench/hostile_parse.py [--sizes 32768,65536,131072,262144] [--runs 3]

Each shape is a feed document built to each size (in bytes, up to the parse-apart size,
``ingest.parse_apart_above_bytes``, 256 KB by default): deep nesting of several tags, unclosed
tags, misnested tags, stray end tags, long attribute runs, many entries of medium nesting, and
what the XML parser itself finds hard.
Each is read as the poller reads a document: ``parse_feed``, the XML parse and the cleaning of
every entry (sanitizer, plain text, images), in this process, with no deadline. It prints a table
(shape, size, seconds as the median of the runs, µs per byte) and the worst case, which the
README quotes; a µs-per-byte figure that grows with the size is a time that grows faster than
the size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.ingest import parse_feed  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)
_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Wire</title>'
    "<link>https://wire.example/</link>"
)
_TAIL = "</channel></rss>"


def _item(n: int, description: str, *, cdata: bool = True, content: str = "") -> str:
    body = f"<![CDATA[{description}]]>" if cdata else escape(description)
    encoded = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else ""
    return (
        f"<item><title>Story {n}</title><link>https://wire.example/{n}</link>"
        f"<guid>story-{n}</guid><description>{body}</description>{encoded}</item>"
    )


def _one_description(unit: str, tail: str = "x", *, cdata: bool = True) -> Callable[[int], str]:
    """One entry whose description repeats ``unit`` to the document's size."""

    def build(size: int) -> str:
        room = size - len(_HEAD) - len(_TAIL) - len(_item(0, tail))
        per_unit = len(unit) if cdata else len(escape(unit))
        return _HEAD + _item(0, unit * max(0, room // per_unit) + tail, cdata=cdata) + _TAIL

    return build


def _description_and_content(unit: str) -> Callable[[int], str]:
    """One entry whose description and content both repeat ``unit``: both are read."""

    def build(size: int) -> str:
        half = (size - len(_HEAD) - len(_TAIL) - len(_item(0, "x", content="x"))) // 2
        html = unit * max(0, half // len(unit)) + "x"
        return _HEAD + _item(0, html + '<img src="/a.jpg">', content=html) + _TAIL

    return build


def _many_entries(depth: int) -> Callable[[int], str]:
    """Entries of about 2 KB, each a description nested ``depth`` deep."""

    def build(size: int) -> str:
        nested = "<div><ul><li>" * depth + "words " * 20 + "</li></ul></div>" * depth
        items: list[str] = []
        used = len(_HEAD) + len(_TAIL)
        while used < size:
            item = _item(len(items), nested)
            if used + len(item) > size:
                break
            items.append(item)
            used += len(item)
        return _HEAD + "".join(items) + _TAIL

    return build


def _xml_shape(unit: str, close: str = "") -> Callable[[int], str]:
    """A document whose XML itself repeats ``unit`` (read by feedparser's parsers)."""

    def build(size: int) -> str:
        head = _HEAD + "<item><title>t</title><link>https://wire.example/a</link><description>"
        count = max(0, (size - len(head) - len(_TAIL) - 30) // (len(unit) + len(close)))
        return head + unit * count + close * count + "</description></item>" + _TAIL

    return build


def _json_feed(unit: str) -> Callable[[int], str]:
    def build(size: int) -> str:
        html = unit * max(0, (size - 200) // len(unit))
        item = {"id": "1", "url": "https://wire.example/1", "content_html": html}
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]})

    return build


SHAPES: dict[str, Callable[[int], str]] = {
    "plain text (reference)": _one_description("words and more words "),
    "nested <ul>": _one_description("<ul>"),
    "nested <div>, escaped": _one_description("<div>", cdata=False),
    "nested <blockquote>": _one_description("<blockquote>"),
    "nested <ul><li>": _one_description("<ul><li>"),
    "nested <table><td>": _one_description("<table><td>"),
    "unclosed <p><b>": _one_description("<p><b>"),
    "<span> and stray end tags": _description_and_content("<span></x>"),
    "misnested <b><div></b>": _one_description("<b><div></b>"),
    "misnested <a><p></a>": _one_description('<a href="/x"><p></a>'),
    "run of <img src=x ": _one_description("<img src=x "),
    "run of <a href=": _one_description("<a href="),
    "long attribute run": _one_description(' data-x="1"', tail=">x", cdata=True),
    "comments <!--": _one_description("<!--"),
    "comments <!---->": _one_description("<!---->"),
    "comments <!----!>": _one_description("<!----!>"),
    "entities &amp;": _one_description("&amp;&lt;&#8217;"),
    "description and content, nested <div>": _description_and_content("<div>"),
    "entries nested 30 deep": _many_entries(30),
    "entries nested 3 deep": _many_entries(3),
    "XML: unclosed <b> (loose parser)": _xml_shape("<b>"),
    "XML: nested elements": _xml_shape("<x>", "</x>"),
    "XML: unclosed <b a=1> with attributes": _xml_shape('<b a="1" b="2">'),
    "XML: a namespace declared per element": _xml_shape('<a:x xmlns:a="urn:a">', "</a:x>"),
    "XML: many small items": _xml_shape(
        "</description></item><item><link>https://wire.example/b</link>"
        "<category>c</category><description>"
    ),
    "JSON Feed: nested <div>": _json_feed("<div>"),
}


def _seconds(document: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        parse_feed(document, url="https://wire.example/feed", content_type=None, now=NOW)
        times.append(time.perf_counter() - started)
    return median(times)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--sizes", default="32768,65536,131072,262144")
    arguments.add_argument("--runs", type=int, default=3)
    options = arguments.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]

    print(f"{'shape':40} {'bytes':>8} {'seconds':>8} {'µs/byte':>8}")
    worst: tuple[float, str, int] = (0.0, "", 0)
    for shape, build in SHAPES.items():
        for size in sizes:
            document = build(size).encode()
            seconds = _seconds(document, options.runs)
            per_byte = seconds / len(document) * 1e6
            print(f"{shape:40} {len(document):8,} {seconds:8.3f} {per_byte:8.2f}", flush=True)
            if size == max(sizes) and seconds > worst[0]:
                worst = (seconds, shape, len(document))
    seconds, shape, length = worst
    print(f"\nworst at {length:,} bytes: {seconds:.2f} s ({shape})")


if __name__ == "__main__":
    main()
