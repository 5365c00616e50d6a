"""The feed path's fuzz target (fuzz/): its seed corpus and every crash it found, replayed.

The fuzzer runs in ``scripts/test`` for a bounded minute; here each input it starts from, and
each reproducer kept in fuzz/crashes/, goes through the same target as part of the normal
suite, so a regression shows as a failing test that names the input.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from digest import placeholders
from digest.records import OutgoingMessage, RenderedEdition
from fuzz import make_corpus
from fuzz.target import (
    NOW,
    READERS,
    FeedPathFailure,
    _check_html,
    _check_message,
    _check_time,
    _personal_copy,
    check_feed_path,
    split_input,
    world,
)

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = sorted((FUZZ / "corpus").iterdir())
CRASHES = sorted(path for path in (FUZZ / "crashes").iterdir() if path.name != "README.md")


@pytest.mark.parametrize("path", CORPUS + CRASHES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_feed_path_holds_for(path: Path) -> None:
    check_feed_path(path.read_bytes())


def test_the_corpus_is_what_its_generator_writes() -> None:
    written = {path.name: path.read_bytes() for path in CORPUS}
    generated = dict(make_corpus.seeds())
    assert sorted(written) == sorted(generated), "run: .venv/bin/python fuzz/make_corpus.py"
    changed = [name for name in written if written[name] != generated[name]]
    assert not changed, f"out of date, run fuzz/make_corpus.py: {changed}"


def test_the_corpus_is_small_and_varied() -> None:
    assert sum(path.stat().st_size for path in CORPUS) < 1_000_000
    kinds = Counter(path.suffix for path in CORPUS)
    assert {".xml", ".atom", ".rdf", ".json", ".html"} <= set(kinds)
    assert len(CRASHES) >= 2  # the regressions the fuzzer found


def test_an_input_may_carry_its_content_type() -> None:
    assert split_input(b"<rss/>") == (None, b"<rss/>")
    assert split_input(b"Content-Type: text/xml; charset=utf-8\n<rss/>") == (
        "text/xml; charset=utf-8",
        b"<rss/>",
    )
    # What an HTTP header cannot carry is not passed on.
    assert split_input(b"Content-Type: text/\x00x\rml\n<rss/>") == ("text/xml", b"<rss/>")


# The checks themselves: each must fire on what it is there to catch.


@pytest.mark.parametrize(
    "html",
    [
        "<p>ok</p><script>alert(1)</script>",
        "<p>ok</p>< SCRIPT src=x>",
        '<img src="https://x.example/a.png" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href=" data:text/html,x">x</a>',
        '<a href="https://x.example/" style="background:url(javascript:x)">x</a>',
        '<iframe src="https://x.example/"></iframe>',
    ],
)
def test_the_html_check_finds_script(html: str) -> None:
    with pytest.raises(FeedPathFailure):
        _check_html("test", html, placeholders_allowed=False)


def test_the_html_check_passes_escaped_text_and_plain_links() -> None:
    _check_html(
        "test",
        '<p>&lt;script&gt; onclick= javascript: <a href="https://x.example/?a=1&amp;b">x</a> '
        '<a href="mailto:desk@x.example">desk</a></p>',
        placeholders_allowed=False,
    )


def test_the_message_check_finds_an_injected_header() -> None:
    stage = world()
    good = _good_copy()
    _check_message(stage, good)
    head, _, body = good.data.partition(b"\r\n\r\n")
    injected = head.replace(b"Subject: ", b"Subject: x\r\nX-Injected: yes\r\nX-Subject: ", 1)
    with pytest.raises(FeedPathFailure, match="x-injected"):
        _check_message(stage, _with_data(good, injected + b"\r\n\r\n" + body))
    unfilled = body.replace(b"Plain", b"%%DIGEST-TIME--60%%", 1)
    with pytest.raises(FeedPathFailure, match="placeholder"):
        _check_message(stage, _with_data(good, head + b"\r\n\r\n" + unfilled))


def test_the_time_check_fires_past_its_bound() -> None:
    _check_time("parsing", time.process_time(), 5.0, 100)
    with pytest.raises(FeedPathFailure, match="took"):
        _check_time("parsing", time.process_time() - 10.0, 5.0, 100)


def _good_copy() -> OutgoingMessage:
    """A copy of a plain edition, made as the target makes them."""
    stage = world()
    digest_list = stage.settings.lists[0]
    rendered = RenderedEdition(
        list_slug=digest_list.slug,
        slot=NOW,
        subject="Subject",
        preheader="Preheader",
        html=f"<p>Plain {placeholders.UNSUBSCRIBE_URL}</p>",
        text=f"Plain {placeholders.UNSUBSCRIBE_URL}\n",
        article_count=1,
    )
    return _personal_copy(stage, rendered, digest_list, READERS[0])


def _with_data(message: OutgoingMessage, data: bytes) -> OutgoingMessage:
    return replace(message, data=data)
