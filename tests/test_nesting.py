"""Tests for digest.ingest.nesting: deep nesting is bounded, linear in time, and real HTML is
left as it is."""

from __future__ import annotations

import gc
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import nh3
import pytest

from digest.ingest import parse_feed
from digest.ingest.image_tags import image_sources
from digest.ingest.markup import html_to_text, sanitize_html
from digest.ingest.nesting import MAX_DEPTH, bound_nesting

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)

# Shapes that cost html5ever's tree builder a look down its whole stack per tag.
HOSTILE_SHAPES: dict[str, Callable[[int], str]] = {
    "nested <ul>": lambda n: "<ul>" * n + "x" + "</ul>" * n,
    "unclosed <div>": lambda n: "<div>" * n + "x",
    "nested <blockquote>": lambda n: "<blockquote>" * n + "x",
    "<span> then stray end tags": lambda n: "<span>" * (n // 2) + "</x>" * (n // 2),
    "misnested <b><div></b>": lambda n: "<b><div></b>" * (n // 3),
    "misnested <span><div></span>": lambda n: "<span><div></span>" * (n // 4),
    "<div> after <!-->": lambda n: "<!-->" + "<div>" * n,
    "<div> after a script comment": lambda n: "<script><!--<script></script>" + "<div>" * n,
    "<g> in an <svg> <style>": lambda n: "<svg><style>" + "<g>" * n,
    "<div> with attributes": lambda n: '<div class="a" id=b>' * (n // 4) + "x",
    "<x/> after an ignored <svg>": lambda n: "<select><svg></select>" + "<x/>" * (n // 4),
    "<x/> after a foreignObject": lambda n: "<svg><foreignObject>" + "<x/>" * (n // 4),
    "nested <optgroup>": lambda n: "<optgroup>" * (n // 2),
    "<keygen> in <svg> and stray end tags": lambda n: "<svg><keygen><svg></em><keygen>" * (n // 6),
    "<td> in <svg>": lambda n: "<svg>" + "<td>" * (n // 2),
    "<plaintext> in <svg>": lambda n: "<svg><plaintext>" + "<g>" * (n // 2),
    # Not html5ever's cost but the bound's own: each comment's end must not be looked for from
    # the comment to the end of the fragment.
    "comments <!---->": lambda n: "<!---->" * (n // 2),
    "comments <!----!>": lambda n: "<!----!>" * (n // 2),
}


def _depth(html: str) -> int:
    """How deeply the elements nest in sanitized HTML (every tag written and closed)."""
    depth = deepest = 0
    for tag in re.finditer(r"<(/?)([a-zA-Z][^\s/>]*)", html):
        if tag.group(2).lower() in _WRITTEN_UNCLOSED:
            continue
        depth += -1 if tag.group(1) else 1
        deepest = max(deepest, depth)
    return deepest


# The elements html5ever writes with no end tag (in <svg> it closes some: both are skipped).
_WRITTEN_UNCLOSED = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img",
        "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip


@pytest.mark.parametrize(
    "html",
    [
        "<p>Plain <b>bold</b> and <a href='/x'>a link</a>.</p>" * 400,
        "<ul>" + "<li>one<li>two<li><p>three<p>four" * 300 + "</ul>",
        "<table>" + "<tr><td>a<td>b<tr><td>c" * 300 + "</table>",
        "<div><!-- <div><div><div> -->" * 10 + "<div><p>x</p></div>" * 300 + "</div>" * 10,
        "<script>if (a < b) { document.write('<div><div>') }</script>" * 300,
        "<div title='<div><div>'>x</div>" * 300,
        "<svg><path d='M0'/><title>icon</title></svg><p>text</p>" * 100,
        "<p>" + "<br>" * 1000 + "</p>",
    ],
)
def test_real_markup_is_left_as_it_is(html: str) -> None:
    assert bound_nesting(html) is html


def test_deep_nesting_keeps_the_text_and_max_depth_elements() -> None:
    html = "<ul>" * 5 + "x" + "</ul>" * 5 + "y"
    assert bound_nesting(html, 3) == "<ul><ul><ul>x</ul></ul></ul>y"
    deep = "<blockquote>" * 10_000 + "quoted" + "</blockquote>" * 10_000 + "<p>after</p>"
    bounded = bound_nesting(deep)
    assert bounded.count("<blockquote>") == MAX_DEPTH
    assert bounded.count("</blockquote>") == MAX_DEPTH
    assert bounded.endswith("quoted" + "</blockquote>" * MAX_DEPTH + "<p>after</p>")


@pytest.mark.parametrize("shape", HOSTILE_SHAPES)
def test_html5ever_is_never_handed_deeper_nesting_than_the_bound(shape: str) -> None:
    html = HOSTILE_SHAPES[shape](20_000)
    every_tag = nh3.Cleaner(tags=None, attributes={}, clean_content_tags=set(), link_rel=None)
    assert _depth(every_tag.clean(bound_nesting(html))) <= 3 * MAX_DEPTH


# Tags and fragments from which the soups below are drawn: whatever changes how html5ever nests.
_VOCABULARY = (
    (
        "<div> </div> <span> </span> <b> </b> <b id=1> <b id=2> <i> </i> <p> </p> <p/> <li> <li/> "
        "<ul> </ul> <dd> <dt> <table> </table> <td> </td> <tr> </tr> <tbody> <caption> <colgroup> "
        "<col> <select> </select> <select/> <option> <optgroup> <svg> </svg> <math> </math> <mi> "
        "<mtext> <desc> <foreignObject> </foreignObject> <annotation-xml> <g> </g> <path/> <x/> "
        "<div/> </x> </br> <br> <hr> <img> <input> <keygen> <source> <script> </script> <style> "
        "</style> <title> </title> <textarea> </textarea> <xmp> <iframe> <noscript> </noscript> "
        "<plaintext> <template> </template> <button> </button> <form> </form> <nobr> <font> <a> "
        "</a> <a_href=x> <h1> </h1> <body> </body> <html> <frameset> <marquee> <object> <ruby> "
        "<rt> <!--> <!-- --> --!> <![CDATA[ ]]> <!x> <?x> </ > <div_a='>'> t"
    )
    .replace("_", " ")
    .split(" ")
)


def _soup(seed: int, tokens: int) -> str:
    draw = random.Random(seed)
    words = draw.sample(_VOCABULARY, draw.randint(2, 10))
    if seed % 2:  # a pattern repeated, as an attacker writes one
        pattern = draw.choices(words, k=draw.randint(1, 6))
        return "".join(pattern * (tokens // len(pattern)))
    return "".join(draw.choices(words, [draw.random() for _ in words], k=tokens))


# Every HTML element of the vocabulary kept, so that the output shows how html5ever nested them
# (nh3 drops what is inside <svg> and <math> whatever it is told: for those, the time tells),
# but those whose text is written as it is, tags and all, which would read as nesting.
_RAW_TEXT = {"script", "style", "xmp", "iframe", "noscript", "textarea", "title", "plaintext"}
_EVERY_TAG = nh3.Cleaner(
    tags={word.strip("<>/").split(" ")[0].lower() for word in _VOCABULARY if word[1:2].isalpha()}
    - _RAW_TEXT,
    attributes={},
    clean_content_tags=set(),
    link_rel=None,
)


@pytest.mark.parametrize("seed", range(24))
def test_no_soup_of_tags_reaches_html5ever_deeper_or_slower_than_linear(seed: int) -> None:
    html = _soup(seed, 40_000)
    assert _depth(_EVERY_TAG.clean(bound_nesting(html))) <= 3 * MAX_DEPTH, html[:300]
    small = _soup(seed, 2_500)

    def sanitize(fragment: str) -> Callable[[], object]:
        return lambda: sanitize_html(fragment, base_url="https://site.example/")

    # Sixteen times the tokens: about sixteen times the time, where a quadratic cost is 256.
    assert _seconds(sanitize(html)) / max(_seconds(sanitize(small)), 1e-4) < 64, html[:300]


def _seconds(work: Callable[[], object]) -> float:
    """The best of three runs, in this process's CPU time with the collector held: what the work
    itself costs, whatever else the machine runs beside the tests (the wall clock counted the
    time other processes had the cores) and however much earlier tests left on the heap."""
    best = float("inf")
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            started = time.process_time()
            work()
            best = min(best, time.process_time() - started)
    finally:
        if collecting:
            gc.enable()
    return best


def _document(description: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        "<link>https://site.example/</link><item><title>Deep</title>"
        "<link>https://site.example/a</link>"
        f'<description><![CDATA[{description}<img src="/a.jpg">]]></description>'
        "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
        f"<![CDATA[{description}]]></content:encoded></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("shape", HOSTILE_SHAPES)
def test_a_deeply_nested_description_is_parsed_and_cleaned_in_linear_time(shape: str) -> None:
    # Before the bound, html5ever took a time quadratic in the nesting: 250 KB of <ul> held the
    # poller for 5 s and more (twice as long for twice the depth, squared). Sixteen times the
    # size must now cost about sixteen times as long, not 256 times.
    def parse(size: int) -> Callable[[], object]:
        unit = len(HOSTILE_SHAPES[shape](1000)) / 1000
        document = _document(HOSTILE_SHAPES[shape](int(size / unit)))

        def run() -> object:
            return parse_feed(document, url="https://site.example/f", content_type=None, now=NOW)

        return run

    small, large = _seconds(parse(7_500)), _seconds(parse(120_000))
    assert large < 2.0
    assert large / max(small, 1e-4) < 64


def test_every_reader_of_feed_html_is_bounded() -> None:
    html = "<div>" * 60_000 + '<img src="https://site.example/a.jpg">words'
    started = time.perf_counter()
    assert sanitize_html(html, base_url=None) == "words"
    assert html_to_text(html) == "words"
    assert image_sources(html + "<b>") == ["https://site.example/a.jpg"]
    assert time.perf_counter() - started < 2.0
