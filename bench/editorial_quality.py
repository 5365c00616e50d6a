"""How an editor would judge the example's editions built from captured real feeds.

    python bench/editorial_quality.py [--realfeeds ../shared/realfeeds]

Builds the lists of config/example.toml (its topics and lists; its own sample feeds switched
off) from the captured feeds of real news outlets in ``../shared/realfeeds/`` (read there, never
copied into this repository; see its README), and from a feed of editing shapes this script
writes itself (desk and agency bylines, pixels, datelines, tracking parameters, paragraphs). It
polls them through the real pipeline (loopback server, SQLite, classification, clusters),
composes and renders the next edition of every list, and counts what an editor would strike:

- "More from" a desk, an agency or an outlet (hand-labelled bylines below), not a person;
- pictures shown that are tracking pixels, spacers, placeholders or broken addresses;
- run-together text: two paragraphs of a feed's description printed as one;
- wire datelines and bylines left opening a summary paragraph;
- links shown with a tracking parameter;
- same-story pairs shown apart within a section, and different labelled stories merged into one
  item, by the labels of ``bench/realfeeds_stories.toml`` (the ones ``bench/dedup_quality.py``
  measures the grouping by) and the two stories of the bench's own feed;
- the lead: how many outlets reported its story (by the same labels), beside the most any
  labelled story shown under the lead's topic had, and its title;
- the layout's dependence on poll order: the editions built again from the same feeds polled in
  shuffled orders, and the lists whose items (titles in order) came out otherwise.

Every judgement here is the bench's own (its patterns and labels), not the product's, so that
the same script measures the code before and after a change:

    PYTHONPATH=/path/to/older/checkout python bench/editorial_quality.py

The real feeds are optional: without the folder, only the bench's own feed is measured.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import shutil
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH: an older checkout given there is measured

from digest import pipeline  # noqa: E402
from digest.cli.app import running  # noqa: E402
from digest.clock import FixedClock  # noqa: E402
from digest.config import settings_from_mapping  # noqa: E402
from digest.records import Edition  # noqa: E402

EXAMPLE = ROOT / "config" / "example.toml"
# ../shared/realfeeds beside the checkout (or beside a folder that holds checkouts).
REALFEEDS = next(
    (folder / "shared" / "realfeeds" for folder in ROOT.parents if (folder / "shared").is_dir()),
    ROOT.parent / "shared" / "realfeeds",
)
NOW = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)  # just after the captures
OWN_FEED = "editing-shapes.xml"
ALL_CAPTURED = "all-captured"  # a list of every article, made by the bench

# Bylines of the captured feeds (and of the bench's own feed) that are no person: labelled by
# hand from the feeds, compared case-insensitively.
NOT_PEOPLE = {
    name.casefold()
    for name in (
        "The Week US", "The Week UK", "The Week Staff", "Associated Press", "FP Staff",
        "allAfrica", "the Monitor's Editorial Board", "Africa Check", "Namibian",
        "Liberian Observer", "AFP", "Reuters", "News Desk", "Web Desk", "Gulf Desk Staff",
        "وكالات", "מערכת וואלה",
    )
}  # fmt: skip

# Reports of one event, labelled by hand, in one file shared with bench/dedup_quality.py: a
# story's name -> its articles' links (every other captured article is a story of its own).
REALFEEDS_LABELS = ROOT / "bench" / "realfeeds_stories.toml"
# The bench's own feed's two stories: a story's name -> its articles' links.
OWN_STORIES = {
    "own-truce": ("https://gulfshapes.example/truce-1", "https://gulfshapes.example/gaza-truce-2"),
    "own-causeway": ("https://gulfshapes.example/causeway",),
}


def labelled_stories() -> dict[str, tuple[str, ...]]:
    """Every labelled story: the captured feeds' (``realfeeds_stories.toml``) and the bench's
    own feed's, each link in the spelling the service stores (``canonical_link``)."""
    from digest.ingest.urls import canonical_link

    with REALFEEDS_LABELS.open("rb") as file:
        events: dict[str, list[str]] = tomllib.load(file)["events"]
    stories = {name: tuple(links) for name, links in events.items()}
    clash = stories.keys() & OWN_STORIES.keys()
    assert not clash, f"{REALFEEDS_LABELS.name} uses the bench's own story names: {clash}"
    stories.update(OWN_STORIES)
    return {name: tuple(canonical_link(link) for link in links) for name, links in stories.items()}


STORIES = labelled_stories()
STORY_OF = {link: story for story, links in STORIES.items() for link in links}

# The bench's own patterns for what must not reach a reader.
PIXEL = re.compile(
    r"pixel|1x1|spacer|blank\.gif|transparent\.(?:gif|png)|/undefined\b|/null\b|default|"
    r"placeholder|doubleclick|scorecardresearch|feedburner\.com/~|^data:",
    re.IGNORECASE,
)
DATELINE = re.compile(
    r"^(?:\[[^\]]+\]\s*)?(?:"
    r"[^()]{0,40}\((?:Reuters|AFP|AP|Xinhua|WAFA|IRNA|Anadolu|رويترز|أ ف ب|وفا|רויטרס)\)\s*[-–—:]"
    r"|[A-Z]{3,}(?:[ ,][A-Z][A-Za-z.]*){0,3}\s*(?:[-–—]{1,2}|:)\s"
    r"|[A-Z][a-z]+(?: [A-Z][a-z]+){0,2} -- "
    r"|By [A-Z][\w.]* [A-Z]"
    r"|[^\s()-]+(?: [^\s()-]+)? - (?:وفا|الأناضول|رويترز)"
    r")"
)
TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|cmp|intcmp|ns_\w+|at_\w+|_ga|smid|smtyp|"
    r"xtor|ito|ftag|guccounter|pk_\w+)$",
    re.IGNORECASE,
)

OWN_ITEMS = [
    # (link path, title, author, description HTML, picture)
    ("truce-1?ocid=rss&CMP=share_btn", "Gaza truce holds as talks resume in Cairo", "AFP",
     "<p>Strikes go on despite truce</p><p>GAZA CITY, Jan 5 (AFP) — Israel and Hamas negotiators "
     "resumed talks in Cairo on the Gaza truce, Egyptian officials said.</p>",
     "https://gulfshapes.example/assets/rss-pixel.png"),
    ("gaza-truce-2?ns_mchannel=social&ns_source=tw", "Cairo talks on Gaza truce enter second day",
     "Jane Doe | Reuters",
     "JERUSALEM (Reuters) - Negotiators on the Gaza truce met in Cairo for a second day.\n"
     "Israel said the talks would go on.", "https://gulfshapes.example/images/undefined"),
    ("causeway?smid=tw-share&at_medium=custom7", "Saudi-Bahrain causeway adds customs lanes",
     "By JANE DOE, Reuters",
     "<p>By Jane Doe</p><p>MANAMA — Bahrain and Saudi Arabia will add eight customs lanes on "
     "the King Fahd Causeway, the causeway authority said.</p>",
     "https://gulfshapes.example/photos/causeway.webp"),
    ("qatar-lng?_ga=2.1.2&mc_cid=abc", "Qatar signs LNG supply deal with Japan", "AFP",
     "DOHA, Jan 5 (AFP) -- Qatar signed a 15-year LNG supply deal with a Japanese utility, "
     "QatarEnergy said.", "https://gulfshapes.example/1x1.gif"),
    ("oman-port?xtor=RSS-3208", "Oman opens Duqm port expansion", "News Desk",
     "<p>MUSCAT: Oman opened the expansion of Duqm port on Monday.</p><p>The port authority "
     "said traffic would double.</p>", "https://gulfshapes.example/img/spacer.gif"),
    ("kuwait-budget?utm_source=rss", "Kuwait cabinet approves budget", "News Desk",
     "KUWAIT CITY (Reuters) - Kuwait's cabinet approved the budget for the next fiscal year.",
     "https://sb.scorecardresearch.com/p?c1=2"),
    ("uae-rail", "Etihad Rail opens first passenger line", "Gulf Desk Staff",
     "ABU DHABI — Etihad Rail opened its first passenger line between Abu Dhabi and Dubai.",
     "https://gulfshapes.example/photos/rail.jpg"),
    ("saudi-tourism", "Saudi Arabia records tourism high", "Gulf Desk Staff",
     "RIYADH — Saudi Arabia recorded its highest number of tourists.",
     "https://gulfshapes.example/photos/tourism.jpg?width=1&height=1"),
]  # fmt: skip


def own_feed() -> str:
    """The bench's feed of editing shapes: Gulf stories, so the example's lists file them."""
    items = []
    for index, (path, title, author, description, picture) in enumerate(OWN_ITEMS):
        link = f"https://gulfshapes.example/{path}".replace("&", "&amp;")
        items.append(
            f"<item><title>{title}</title><link>{link}</link><guid>shape-{index}</guid>"
            f"<dc:creator><![CDATA[{author}]]></dc:creator>"
            f"<pubDate>Wed, 18 Feb 2026 0{index}:00:00 GMT</pubDate>"
            f"<category>Gulf</category><category>Middle East</category>"
            f'<media:content url="{picture.replace("&", "&amp;")}" medium="image"/>'
            f"<description><![CDATA[{description}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">'
        "<channel><title>Gulf Shapes</title><link>https://gulfshapes.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    )


# ---------------------------------------------------------------------------------------------
# Building the editions


def feed_title(path: Path) -> str:
    match = re.search(
        rb"<title>(?:<!\[CDATA\[)?\s*([^<\]]*?)\s*(?:\]\]>)?</title>", path.read_bytes()
    )
    title = unescape(match.group(1).decode("utf-8", "replace")) if match else ""
    return title.strip() or path.stem


def build_settings(folder: Path, files: list[Path], port: int) -> Any:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for feed in raw["feeds"]:
        feed["enabled"] = False  # the example's own samples: this bench reads other feeds
    raw["feeds"] += [
        {"name": name, "url": f"http://127.0.0.1:{port}/{path.name}"}
        for path, name in ((path, feed_title(path)) for path in files)
    ]
    # A bench-only list of everything captured, to see what the example's lists leave out.
    captured = [feed["name"] for feed in raw["feeds"] if feed.get("enabled", True)]
    raw["topics"].append({"slug": "captured", "name": "Captured", "rules": {"feeds": captured}})
    raw["lists"].append(
        {
            **raw["lists"][0],
            "slug": ALL_CAPTURED,
            "name": "Everything captured",
            "topics": ["captured"],
            "max_articles": 200,
            "recommended": 0,
        }
    )
    raw["service"]["database_url"] = f"sqlite:///{folder / 'bench.db'}"
    raw["service"]["data_dir"] = str(folder / "var")
    raw["service"]["outbox"] = str(folder / "outbox")
    raw["sample_server"] = {"directory": str(folder / "feeds"), "port": port}
    for digest_list in raw["lists"]:
        digest_list["subscribers"] = str(EXAMPLE.parent / digest_list["subscribers"])
        # Each list's one edition reaches back over the whole capture (30 days), not one period
        # of its schedule: a daily's first-day reach showed half the articles, and pairs of
        # days-old stories counted as not apart only because neither was shown.
        digest_list["first_edition_lookback_hours"] = 24 * 30
    return settings_from_mapping(raw, source=EXAMPLE, environ={"DIGEST_SECRET_KEY": "bench"})


@dataclass
class Built:
    edition: Edition
    html: str
    text: str


def build_editions(
    realfeeds: Path | None, *, own_feed_too: bool = True, poll_order: int | None = None
) -> dict[str, Built]:
    """Every list's next edition; ``poll_order`` seeds a shuffle of the order feeds are polled
    in (None: the config's order)."""
    from tests.servers import free_port

    with tempfile.TemporaryDirectory(prefix="editorial-") as temp:
        folder = Path(temp)
        (folder / "feeds").mkdir()
        files = []
        if realfeeds is not None:
            for path in sorted(realfeeds.glob("*.xml")):
                # Served from a temporary folder (the sample server follows no symbolic link),
                # deleted when the bench ends: nothing of them enters the repository.
                shutil.copyfile(path, folder / "feeds" / path.name)
                files.append(folder / "feeds" / path.name)
        if own_feed_too:
            (folder / "feeds" / OWN_FEED).write_text(own_feed(), encoding="utf-8")
            files.append(folder / "feeds" / OWN_FEED)
        settings = build_settings(folder, files, free_port())
        built = {}
        with running(settings) as services:
            services.clock = FixedClock(NOW)
            feeds = [
                feed for feed in services.store.sync_feeds(settings.feeds, NOW) if feed.enabled
            ]
            if poll_order is not None:
                random.Random(poll_order).shuffle(feeds)
            for feed in feeds:
                pipeline.poll_feed(services, feed.id)
            for digest_list in settings.lists:
                edition = pipeline.compose_next_edition(
                    services, digest_list, NOW, NOW, services.store.article_sequence()
                )
                rendered = services.renderer.render(edition, digest_list)
                built[digest_list.slug] = Built(edition, rendered.html, rendered.text)
        return built


# ---------------------------------------------------------------------------------------------
# Judging them


class _Html(HTMLParser):
    """The summary paragraphs, pictures, links and "More from" labels of an edition's HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.summaries: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.more_from: list[str] = []
        self._capture: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        kind = values.get("class") or ""
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")
        if tag == "a" and kind.endswith("-link") and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "p" and kind in ("summary", "lead-summary", "more-from-title"):
            self._capture = [kind]

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._capture.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._capture is not None:
            kind, *parts = self._capture
            text = " ".join("".join(parts).split())
            (self.more_from if kind == "more-from-title" else self.summaries).append(text)
            self._capture = None


@dataclass
class Findings:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, example: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, []).append(example)


KINDS = (
    "items shown",
    'non-person "More from"',
    "pixel or broken pictures",
    "run-together text",
    "datelines left in summaries",
    "tracking params left in links",
    "same-story pairs apart in a section",
    "different stories merged",
    "lead: outlets of its story",
    "most outlets of a story in its topic",
    "layouts changed by poll order",
)
POLL_ORDERS = 3  # shuffled poll orders the editions are built again from


def outlets_of(story: str | None) -> int:
    """How many outlets reported a labelled story (the hosts of its labelled links); an
    unlabelled article counts as one outlet's."""
    if story is None:
        return 1
    return len({urlsplit(link).hostname for link in STORIES[story]})


def story_of(link: str) -> str | None:
    """The labelled story of a stored article's link (its query cut, as the bench's own feed's
    links carry tracking parameters the service may or may not strip), or None."""
    return STORY_OF.get(link) or STORY_OF.get(link.split("?")[0])


def paragraphs_in_feed(html: str) -> list[str]:
    """A feed description's paragraphs, read by the bench: block tags and line breaks."""
    blocks = re.split(r"(?i)</?(?:p|div|li|h\d)[^>]*>|<br\s*/?>|\n", html)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", b)).split()) for b in blocks if b.strip()]


def judge(built: Built, descriptions: dict[str, list[str]], findings: Findings) -> None:
    page = _Html()
    page.feed(built.html)
    edition = built.edition
    findings.counts["items shown"] += sum(1 for _ in edition.items())
    for label in page.more_from:
        person = re.sub(r"^(?:More from|المزيد من|עוד מאת|بیشتر از)\s*", "", label)
        if person.casefold() in NOT_PEOPLE:
            findings.add('non-person "More from"', label)
    for source in page.images:
        if PIXEL.search(source):
            findings.add("pixel or broken pictures", source)
    for link in page.links:
        tracked = [name for name, _ in parse_qsl(urlsplit(link).query) if TRACKING.match(name)]
        if tracked:
            findings.add("tracking params left in links", link)
    shown_text = page.summaries + [" ".join(block.split()) for block in built.text.split("\n\n")]
    # The HTML's summaries, and the text part's blocks (it keeps summaries the HTML gave up to
    # fit Gmail's clipping limit), each paragraph counted once.
    for paragraph in dict.fromkeys(shown_text):
        if DATELINE.match(paragraph):
            findings.add("datelines left in summaries", paragraph[:70])
    for item in edition.items():
        paragraphs = descriptions.get(item.article.link, [])
        for first, second in itertools.pairwise(paragraphs):
            joint = " ".join(first.split()[-3:] + second.split()[:3])
            if len(first.split()) >= 2 and any(joint in block for block in shown_text):
                findings.add("run-together text", joint)
                break
        stories = [story_of(other.link) for other in (item.article, *item.also_covered_by)]
        labelled = {story for story in stories if story is not None}
        if len(labelled) > 1:
            findings.add("different stories merged", " + ".join(sorted(labelled)))
    if edition.lead is not None:
        findings.counts["lead: outlets of its story"] = max(
            outlets_of(story_of(a.link))
            for a in (edition.lead.article, *edition.lead.also_covered_by)
        )
        findings.counts["most outlets of a story in its topic"] = max(
            outlets_of(story_of(a.link))
            for item in edition.items()
            if item.topic == edition.lead.topic
            for a in (item.article, *item.also_covered_by)
        )
        findings.examples["lead: outlets of its story"] = [edition.lead.article.title]
    for section in edition.sections:
        seen: Counter[str] = Counter(
            story for item in section.items if (story := story_of(item.article.link))
        )
        for story, count in seen.items():
            for _ in range(count * (count - 1) // 2):
                findings.add("same-story pairs apart in a section", f"{section.topic}: {story}")


def titles(edition: Edition) -> list[str]:
    """The layout as a reader sees it: the items' titles in order."""
    return [item.article.title for item in edition.items()]


def feed_descriptions(folder: Path | None) -> dict[str, list[str]]:
    """Each entry's description paragraphs by its canonical link, read with feedparser."""
    import feedparser

    from digest.ingest.urls import canonical_link

    documents = [own_feed().encode()]
    if folder is not None:
        documents += [path.read_bytes() for path in sorted(folder.glob("*.xml"))]
    found: dict[str, list[str]] = {}
    for document in documents:
        for entry in feedparser.parse(document).entries:
            html = entry.get("summary") or ""
            for link in (entry.get("feedburner_origlink"), entry.get("link")):
                if link:
                    try:
                        found[canonical_link(link)] = paragraphs_in_feed(html)
                    except ValueError:
                        continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realfeeds", type=Path, default=REALFEEDS)
    parser.add_argument("--examples", action="store_true", help="list what was counted")
    parser.add_argument(
        "--real-only", action="store_true", help="leave out the bench's own feed of shapes"
    )
    arguments = parser.parse_args()
    realfeeds: Path | None = arguments.realfeeds
    if realfeeds is None or not realfeeds.is_dir():
        print(f"{realfeeds} not found: measuring the bench's own feed only")
        realfeeds = None
    own_feed_too = realfeeds is None or not arguments.real_only
    built = build_editions(realfeeds, own_feed_too=own_feed_too)
    changed: Counter[str] = Counter()
    for seed in range(1, POLL_ORDERS + 1):
        again = build_editions(realfeeds, own_feed_too=own_feed_too, poll_order=seed)
        for slug, edition in again.items():
            if titles(edition.edition) != titles(built[slug].edition):
                changed[slug] += 1
    descriptions = feed_descriptions(realfeeds)
    if realfeeds is not None:  # the labels name articles the feeds still have
        missing = [link for link in STORY_OF if link.split("?")[0] not in descriptions]
        assert not missing, f"{REALFEEDS_LABELS.name} names links the feeds do not have: {missing}"
    print(f"(each list built again from {POLL_ORDERS} shuffled poll orders)")
    for slug, edition in built.items():
        findings = Findings()
        judge(edition, descriptions, findings)
        findings.counts["layouts changed by poll order"] = changed[slug]
        print(
            f"\n{slug}"
            + (" (made by the bench: every article captured)" if slug == ALL_CAPTURED else "")
        )
        for kind in KINDS:
            print(f"  {kind:38} {findings.counts[kind]:4}")
            if kind == "lead: outlets of its story" and kind in findings.examples:
                print(f"      {findings.examples[kind][0]}")
            elif arguments.examples and kind != "items shown":
                for example in findings.examples.get(kind, ())[:6]:
                    print(f"      {example}")


if __name__ == "__main__":
    main()
