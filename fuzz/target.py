"""The feed path as one function of a document's bytes, and what must hold whatever they are.

    input ─► (Content-Type line, document bytes)
          ─► ingest.parse_feed, as the poller calls it (guards, feedparser or JSON Feed, clean)
          ─► Article per entry (two feeds the example's rules file under "middle-east", so every
             entry reaches an edition), clustered as the store clusters them (digest.dedup)
          ─► topics.TopicClassifier with the example config's topics
          ─► for each list of the example: compose.build_edition ─► render.Renderer.render
             ─► mail.personalize a copy for each of two readers ─► each parsed back
             ─► lint.lint_edition

An input is a feed document, optionally preceded by one line ``Content-Type: TYPE`` (the HTTP
header the poller would pass along); ``split_input`` reads it. No network, no database: the
stages are the library's own functions, called as ``digest.pipeline`` calls them.

What must hold for any input (``FeedPathFailure`` when it does not):

- the only error is the project's own ``ParseError`` (a document that is no feed); any other
  exception escapes and is the finding;
- every entry's link and image are absolute http(s) URLs within ``URL_LIMIT``; its summary HTML,
  the edition's HTML and the HTML part of the copy have no script, no event-handler attribute,
  no URL of another scheme than http(s) or mailto;
- the copy's header block is exactly the header set of a copy of a plain edition, no header
  value holds a line break once decoded, every line is 7-bit and at most 998 octets, none starts
  with a dot, no placeholder is left unfilled and the personal unsubscribe link is in both parts;
- parsing and cleaning take at most ``PARSE_SECONDS`` + ``PARSE_SECONDS_PER_BYTE`` per byte of
  CPU time (ten times the README's measured worst case of 5 µs a byte), the whole path at most
  ``PATH_SECONDS`` more: CPU time of this process, so other work on the machine does not count.
"""

from __future__ import annotations

import functools
import html
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from digest import compose, dedup, lint, placeholders
from digest.config import ListSettings, Settings, load_settings
from digest.errors import ParseError
from digest.ingest import parse_feed
from digest.mail.personalize import personalize
from digest.mail.tokens import TokenSigner
from digest.records import (
    URL_LIMIT,
    Article,
    Candidate,
    Edition,
    OutgoingMessage,
    ParsedFeed,
    RenderedEdition,
    Subscriber,
)
from digest.render import Renderer
from digest.topics import TopicClassifier, classifier_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.toml"

# The sample week's end: the samples' dates fall in the week before it.
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
FEED_URL = "http://127.0.0.1:8421/fuzz/feed.xml"
# Feeds the example's rules file under "middle-east" whatever their articles say (feeds = [...]),
# so that every entry reaches the editions of both lists' topic trees; two of them, so that the
# "also covered by" grouping of digest.dedup (which never groups one feed's articles) has work.
FEEDS = ((1, "Al-Manara"), (2, "HaMizrah"))
# One reader east of UTC with a name, one west of it without: times are written in each one's zone.
READERS = (
    Subscriber(id=7, email="reader@example.org", name="Reader", timezone="Asia/Tehran"),
    Subscriber(id=8, email="west@example.org", name=None, timezone="America/Los_Angeles"),
)

PARSE_SECONDS = 1.0
PARSE_SECONDS_PER_BYTE = 50e-6
PATH_SECONDS = 10.0

CONTENT_TYPE_PREFIX = b"Content-Type:"
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Attributes whose value a mail client follows or loads.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "srcset", "action", "formaction", "background", "poster", "xlink:href",
     "longdesc", "lowsrc", "dynsrc", "cite", "data"}
)  # fmt: skip
# Elements that run, embed or submit something: never in anything a reader gets.
FORBIDDEN_ELEMENTS = frozenset(
    {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
     "button", "textarea", "select", "svg", "math", "base", "link", "noscript", "template"}
)  # fmt: skip
_SCRIPT_TAG = re.compile(r"<\s*script", re.IGNORECASE)
_MARKER = re.compile(r"%%DIGEST-[A-Z0-9-]*%%")
_STYLE_SCRIPT = ("javascript:", "vbscript:", "expression(")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")


class FeedPathFailure(AssertionError):
    """An input broke one of the module docstring's invariants."""


@dataclass(frozen=True, slots=True)
class _World:
    """What every input shares: the example's settings and the stages built from them once."""

    settings: Settings
    classifier: TopicClassifier
    renderer: Renderer
    signer: TokenSigner
    header_names: Counter[str]


def _build_world() -> _World:
    settings = load_settings(EXAMPLE_CONFIG, {})
    signer = TokenSigner("fuzz-feed-path")
    world = _World(
        settings=settings,
        classifier=classifier_for(settings),
        renderer=Renderer(settings),
        signer=signer,
        header_names=Counter(),
    )
    # The header set every copy must have: that of a copy of a plain edition.
    digest_list = settings.lists[0]
    plain = RenderedEdition(
        list_slug=digest_list.slug,
        slot=NOW,
        subject="Plain subject",
        preheader="Plain preheader",
        html="<p>Plain</p>",
        text="Plain\n",
        article_count=0,
    )
    message = _personal_copy(world, plain, digest_list, READERS[0])
    world.header_names.update(_header_names(message.data))
    return world


@functools.cache
def world() -> _World:
    """The stages every input goes through, built on first use."""
    return _build_world()


def split_input(data: bytes) -> tuple[str | None, bytes]:
    """An input's Content-Type (None when it has no such first line) and document.

    The type keeps only what an HTTP header value can carry (tab, printable Latin-1), as the
    poller gets it from its HTTP client."""
    if not data.startswith(CONTENT_TYPE_PREFIX):
        return None, data
    line, _, document = data.partition(b"\n")
    value = line[len(CONTENT_TYPE_PREFIX) :].decode("latin-1")
    value = "".join(char for char in value if char == "\t" or " " <= char <= "~" or char >= "\xa0")
    return value.strip() or None, document


def check_feed_path(data: bytes) -> None:
    """Run ``data`` through the feed path and check the invariants of the module docstring."""
    stage = world()
    content_type, document = split_input(data)
    started = time.process_time()
    try:
        parsed = parse_feed(document, url=FEED_URL, content_type=content_type, now=NOW)
    except ParseError:
        parsed = None
    parse_bound = PARSE_SECONDS + PARSE_SECONDS_PER_BYTE * len(document)
    _check_time("parsing and cleaning", started, parse_bound, len(document))
    if parsed is None:
        return
    _check_entries(parsed)
    candidates = _candidates(stage, parsed)
    for digest_list in stage.settings.lists:
        edition = compose.build_edition(
            digest_list,
            stage.settings.topics,
            slot=NOW,
            window_start=None,
            window_end=NOW,
            candidates=candidates,
        )
        _check_edition(edition, digest_list, candidates)
        if edition.is_empty and not digest_list.send_when_empty:
            continue  # the pipeline renders no edition it does not send
        rendered = stage.renderer.render(edition, digest_list)
        _check_html("the edition's HTML", rendered.html, placeholders_allowed=True)
        for reader in READERS:
            message = _personal_copy(stage, rendered, digest_list, reader)
            _check_message(stage, message)
        lint.lint_edition(
            rendered, message, postal_address=stage.settings.service.postal_address
        )  # its findings may block an edition; what matters here is that it can judge any
    _check_time("the feed path", started, parse_bound + PATH_SECONDS, len(document))


def _check_time(what: str, started: float, bound: float, size: int) -> None:
    spent = time.process_time() - started
    if spent > bound:
        raise FeedPathFailure(
            f"{what} took {spent:.2f} s of CPU time for a document of {size} bytes "
            f"(bound: {bound:.2f} s)"
        )


def _check_entries(parsed: ParsedFeed) -> None:
    for index, entry in enumerate(parsed.entries):
        where = f"entry {index} ({entry.guid[:80]!r})"
        urls = {"link": entry.link, "image_url": entry.image_url or entry.link}
        for name, url in urls.items():
            if not _is_absolute_http(url) or len(url) > URL_LIMIT:
                raise FeedPathFailure(f"{where}: {name} {url[:200]!r} is no absolute http(s) URL")
        _check_html(f"{where}: summary_html", entry.summary_html, placeholders_allowed=False)
        for field in (entry.title, entry.summary_text, entry.author or ""):
            if "\x00" in field:
                raise FeedPathFailure(f"{where}: a NUL character was kept in {field[:80]!r}")


def _candidates(stage: _World, parsed: ParsedFeed) -> list[Candidate]:
    """The entries as stored articles of the two feeds, clustered and classified."""
    articles = []
    for index, entry in enumerate(parsed.entries):
        feed_id, feed_name = FEEDS[index % len(FEEDS)]
        articles.append(
            Article.from_entry(
                entry,
                id=index + 1,
                feed_id=feed_id,
                feed_name=feed_name,
                first_seen_at=NOW - timedelta(minutes=index),
            )
        )
    clusters = dedup.clusters(
        (article.id, article.feed_id, article.title, article.summary_text) for article in articles
    )
    candidates = []
    for article in articles:
        clustered = replace(article, cluster_id=clusters[article.id])
        topics = {match.topic: match.score for match in stage.classifier.classify(clustered)}
        if topics:
            candidates.append(Candidate(article=clustered, topics=topics))
    return candidates


def _check_edition(
    edition: Edition, digest_list: ListSettings, candidates: Iterable[Candidate]
) -> None:
    known = {candidate.article.id for candidate in candidates}
    shown = [article.id for article in edition.articles()]
    if not set(shown) <= known:
        raise FeedPathFailure(f"{digest_list.slug}: the edition shows articles it was not given")
    if len(shown) != len(set(shown)):
        raise FeedPathFailure(f"{digest_list.slug}: the edition shows an article twice")
    if len(shown) > digest_list.max_articles:
        raise FeedPathFailure(
            f"{digest_list.slug}: {len(shown)} articles shown, over max_articles "
            f"{digest_list.max_articles}"
        )


def _personal_copy(
    stage: _World, rendered: RenderedEdition, digest_list: ListSettings, reader: Subscriber
) -> OutgoingMessage:
    return personalize(
        rendered,
        reader,
        edition_id=1,
        service=stage.settings.service,
        digest_list=digest_list,
        signer=stage.signer,
        now=NOW,
    )


def _header_names(data: bytes) -> Counter[str]:
    message = message_from_bytes(data, _class=EmailMessage, policy=policy.default)
    return Counter(name.lower() for name in message)


def _check_message(stage: _World, message: OutgoingMessage) -> None:
    data = message.data
    if not data.isascii():
        raise FeedPathFailure("the message is not 7-bit")
    head, separator, _ = data.partition(b"\r\n\r\n")
    if not separator:
        raise FeedPathFailure("the message has no blank line after its headers")
    for line in data.split(b"\r\n"):
        if len(line) > 998:
            raise FeedPathFailure(f"a line of {len(line)} octets: {line[:120]!r}")
        if line.startswith(b"."):
            raise FeedPathFailure(f"a line starts with a dot: {line[:120]!r}")
    if b"\n" in data.replace(b"\r\n", b"") or b"\r" in data.replace(b"\r\n", b""):
        raise FeedPathFailure("the message holds a bare CR or LF")
    names = _header_names(head + b"\r\n\r\n")
    if names != stage.header_names:
        extra = names - stage.header_names
        missing = stage.header_names - names
        raise FeedPathFailure(
            f"the copy's headers are not the expected set: extra {sorted(extra.elements())}, "
            f"missing {sorted(missing.elements())}"
        )
    parsed = message_from_bytes(data, _class=EmailMessage, policy=policy.default)
    for name, value in parsed.items():
        if "\r" in str(value) or "\n" in str(value):
            raise FeedPathFailure(f"the {name} header holds a line break: {str(value)[:200]!r}")
    text, rich = lint.message_bodies(data)
    if text is None or rich is None:
        raise FeedPathFailure("the copy lacks its plain-text or its HTML part")
    for part, body in (("text", text), ("HTML", rich)):
        left = _MARKER.search(body)
        if left is not None:
            raise FeedPathFailure(f"the {part} part keeps a placeholder: {left.group()}")
        if f"{stage.settings.service.base_url}/unsubscribe/" not in html.unescape(body):
            raise FeedPathFailure(f"the {part} part lacks the reader's unsubscribe link")
    _check_html("the copy's HTML part", rich, placeholders_allowed=False)


class _Markup(HTMLParser):
    """Every element and attribute of an HTML text, as a browser's tokenizer reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def _check_html(what: str, text: str, *, placeholders_allowed: bool) -> None:
    """No script, no event handler, no followed URL of another scheme than http(s)/mailto."""
    found = _SCRIPT_TAG.search(text)
    if found is not None:
        raise FeedPathFailure(f"{what}: a script tag: {_around(text, found.start())!r}")
    markup = _Markup()
    markup.feed(text)
    markup.close()
    for tag, attributes in markup.elements:
        if tag in FORBIDDEN_ELEMENTS:
            raise FeedPathFailure(f"{what}: a <{tag}> element")
        for name, value in attributes:
            if name.startswith("on"):
                raise FeedPathFailure(f"{what}: an event handler {name}={value!r} on <{tag}>")
            # A URL's scheme is what counts ("https://x/javascript:" is harmless text); in a
            # style, a script URL or expression anywhere runs in some mail clients.
            folded = _IGNORED_IN_SCHEME.sub("", html.unescape(value or "")).lower()
            if name == "style" and any(bad in folded for bad in _STYLE_SCRIPT):
                raise FeedPathFailure(f"{what}: script in style={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and value:
                _check_url(what, tag, name, value, placeholders_allowed)


def _check_url(what: str, tag: str, name: str, value: str, placeholders_allowed: bool) -> None:
    if placeholders_allowed and placeholders.ANY.fullmatch(value.strip()):
        return
    url = _IGNORED_IN_SCHEME.sub("", value)
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme not in LINK_SCHEMES:
        raise FeedPathFailure(f"{what}: {name}={value[:200]!r} on <{tag}> is not http(s)/mailto")


def _is_absolute_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _around(text: str, position: int) -> str:
    return text[max(0, position - 60) : position + 60]
