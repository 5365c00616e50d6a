"""Write the fuzz targets' seed corpora (fuzz/corpus/ for the feed path, fuzz/corpus-TARGET/ for
each other target, whose seeds its own module writes: ``TARGET_SEEDS``).

    .venv/bin/python fuzz/make_corpus.py           rewrite fuzz/corpus/ and fuzz/corpus-*/

Seeds are the project's own documents: the bundled sample feeds (config/samples/), the parse
tests' feeds (tests/data/feeds/, tests/data/real_world/), and small documents written here in
every shape the parser reads (RSS 0.91/2.0, RSS 1.0 RDF, Atom 1.0 and 0.3, JSON Feed 1.0/1.1)
with the hostile bits feeds are known to carry: encoded words in titles, URLs no parser accepts,
script in every disguise, entities of every kind, nesting, declared encodings that lie, dates
out of range, author fields that make regexes backtrack, forged placeholders. Each input is the
document, after a ``Content-Type: TYPE`` line when a type goes with it (``fuzz.target``).

Every seed must pass the target as the code is: the fuzzer starts by running them all.
``attack_seeds`` are the attacks the hardening of the feed path was written against (a header
forged by an encoded word, URLs no parser accepts, declared encodings no codec has).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path

from fuzz import inbound_target, operator_target, picture_target

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

TYPES = {
    ".xml": "application/rss+xml",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8",
}
# The other targets (scripts/fuzz names them), each with the seeds its module writes.
TARGET_SEEDS: dict[str, Callable[[], Iterator[tuple[str, bytes]]]] = {
    "inbound_mail": inbound_target.seeds,
    "pictures": picture_target.seeds,
    "operator_files": operator_target.seeds,
}
PROJECT_DOCUMENTS = ("config/samples", "tests/data/feeds", "tests/data/real_world")


def with_type(content_type: str | None, document: bytes) -> bytes:
    """A fuzz input: the document after its Content-Type line, if any."""
    if content_type is None:
        return document
    return b"Content-Type: " + content_type.encode("latin-1") + b"\n" + document


def encoded_word(text: str, encoding: str = "b") -> str:
    """``text`` as one RFC 2047 encoded word, as a mail header would carry it."""
    data = text.encode("utf-8")
    if encoding == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="
    quoted = "".join(
        chr(byte) if chr(byte).isalnum() else ("_" if byte == 0x20 else f"={byte:02X}")
        for byte in data
    )
    return f"=?utf-8?q?{quoted}?="


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f'{declaration}\n<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
        "<channel><title>Fuzz Wire</title><link>https://wire.example.org/</link>"
        f"<language>en</language>\n{items}\n</channel></rss>\n"
    )


def item(
    title: str,
    link: str = "https://wire.example.org/news/1",
    description: str = "Talks in Tehran resumed.",
    extra: str = "",
) -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link>"
        f"<guid>{escape(link)}</guid><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate>"
        f"<description>{description}</description>{extra}</item>"
    )


def atom(entries: str, *, base: str = "https://ledger.example.org/") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}" xml:lang="ar">'
        '<title type="html">Ledger &lt;b&gt;Levant&lt;/b&gt;</title>'
        '<link href="/" rel="alternate"/><id>urn:fuzz:ledger</id>'
        f"<updated>2026-11-24T08:00:00Z</updated>\n{entries}\n</feed>\n"
    )


def entry(title: str, content: str, *, link: str = "/2026/11/beirut", kind: str = "html") -> str:
    return (
        f'<entry><title type="{kind}">{title}</title><link href="{link}"/>'
        f"<id>urn:fuzz:{hashlib.sha256(title.encode()).hexdigest()[:12]}</id>"
        "<updated>2026-11-24T09:30:00+03:00</updated>"
        "<author><name>Rania Haddad</name><email>desk@ledger.example.org</email></author>"
        f'<content type="{kind}">{content}</content></entry>'
    )


def rdf(items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://review.example.org/"><title>Review</title>'
        "<link>https://review.example.org/</link></channel>\n"
        f"{items}\n</rdf:RDF>\n"
    )


def rdf_item(title: str, link: str, date: str) -> str:
    return (
        f'<item rdf:about="{escape(link)}"><title>{title}</title><link>{link}</link>'
        f"<dc:date>{date}</dc:date><dc:creator>Dariush Karimi</dc:creator>"
        "<description>The rial fell in Tehran.</description></item>"
    )


def json_feed(
    items: list[object], version: str = "https://jsonfeed.org/version/1.1", *, ascii: bool = False
) -> bytes:
    feed = {
        "version": version,
        "title": "JSON Wire",
        "home_page_url": "https://json.example.org/",
        "language": "en",
        "items": items,
    }
    # ASCII escapes are how a lone surrogate can be written at all ("\\ud800").
    return json.dumps(feed, ensure_ascii=ascii).encode("utf-8")


def generated_seeds() -> Iterator[tuple[str, bytes]]:
    """(name, input) of the written seeds: each a small document with hostile bits."""
    # Encoded words in titles: harmless text, one mutation away from a header.
    titles = (
        encoded_word("Iran talks resume in Doha")
        + " "
        + encoded_word("Café in Tehran: €", "q")
        + " =?iso-8859-1?q?caf=E9?= =?utf-8?b?broken?= =?bogus?x?y?="
    )
    yield (
        "rss-encoded-words.xml",
        with_type("application/rss+xml", rss(item(escape(titles))).encode("utf-8")),
    )
    yield (
        "atom-encoded-word-author.atom",
        with_type(
            "application/atom+xml",
            atom(
                entry(escape(encoded_word("Beirut port")), "<p>Port</p>").replace(
                    "Rania Haddad", encoded_word("Rania Haddad", "q")
                )
            ).encode("utf-8"),
        ),
    )
    # URLs: schemes that must go nowhere, relative ones, odd but valid hosts, long ones.
    links = [
        "javascript:alert(1)",
        "jav&amp;#x09;ascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "//wire.example.org/relative-scheme",
        "/relative/path?utm_source=rss&amp;id=1",
        "http://[::1]:8080/ipv6",
        "http://WIRE.example.org:80/a/../b/./c#frag",
        "https://wire.example.org/" + "a" * 2100,
        "http://user:pass@wire.example.org/%zz%%41",
        "https://xn--mgbh0fb.example/عربي?q=تهران",
        "  https://wire.example.org/spaced  ",
        "mailto:desk@wire.example.org",
    ]
    yield (
        "rss-odd-links.xml",
        rss("".join(item(f"Link {n} Iran", link) for n, link in enumerate(links))).encode("utf-8"),
    )
    # Script in every disguise, in descriptions and content.
    scripts = [
        "<script>alert(1)</script>Tehran",
        '<img src="x" onerror="alert(1)">Doha',
        '<a href="javascript:alert(1)">Riyadh</a>',
        '<a href="jav&#x09;ascript:alert(1)">Amman</a>',
        '<a href="&#106;avascript:alert(1)">Beirut</a>',
        '<svg onload="alert(1)"><a xlink:href="javascript:x">Gaza</a></svg>',
        '<iframe src="https://evil.example/"></iframe><style>*{x:expression(1)}</style>',
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        '<a href="https://ok.example/" onclick="x()" style="background:url(javascript:x)">ok</a>',
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<form action="javascript:x"><button formaction="javascript:y">b</button></form>',
        "<!--<script>alert(1)</script>--><![CDATA[<script>x</script>]]>",
        '<a href="/relative">rel</a> <img data-src="https://img.example/p.jpg" src="blank.gif">',
    ]
    yield (
        "rss-scripts.xml",
        with_type(
            "text/xml",
            rss(
                "".join(
                    item(f"Script {n} Iran", f"https://wire.example.org/s/{n}", escape(html))
                    for n, html in enumerate(scripts)
                )
            ).encode("utf-8"),
        ),
    )
    yield (
        "rss-scripts-cdata.xml",
        rss(
            "".join(
                item(f"CDATA {n} Gulf", f"https://wire.example.org/c/{n}", f"<![CDATA[{html}]]>")
                for n, html in enumerate(scripts)
            )
        ).encode("utf-8"),
    )
    yield (
        "atom-xhtml-scripts.atom",
        atom(
            entry(
                "XHTML Syria",
                '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">Damascus '
                '<a href="javascript:x">link</a><script>alert(1)</script>'
                '<img src="/img/lead.jpg" width="800"/></p></div>',
                kind="xhtml",
            )
        ).encode("utf-8"),
    )
    # Entities: HTML names XML lacks, references to forbidden characters, double escaping,
    # declared entities (an amplifying one included), undeclared names.
    entities = (
        "&nbsp;&rsquo;&eacute;&hellip; &#0; &#x1F; &#xD800; &#x110000; &#65535; "
        "Israel&amp;#8217;s &amp;amp; &bogus; &#00000000000000000039;"
    )
    yield (
        "rss-entities.xml",
        rss(item(f"Entities {entities} Israel", description=entities)).encode("utf-8"),
    )
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "Gaza Gaza Gaza Gaza">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
    )
    yield (
        "rss-entity-declarations.xml",
        rss(item("&c; &ext;", description="&c;"), declaration=bomb).encode("utf-8"),
    )
    # Nesting: deep but small, unclosed, and a document's structure left open.
    nested = "<ul><li>" * 300 + "Iran" + "</li></ul>" * 300
    yield "rss-nested-lists.xml", rss(item("Nested Iran", description=escape(nested))).encode()
    unclosed = "<div><b><i><blockquote>" * 100 + "Syria"
    yield (
        "rss-unclosed-cdata.xml",
        rss(item("Unclosed Syria", description=f"<![CDATA[{unclosed}]]>")).encode("utf-8"),
    )
    yield "rss-truncated.xml", rss(item("Truncated Lebanon")).encode("utf-8")[:300]
    # Encodings: declared ones that match, that lie, that are unknown; a byte order mark.
    arabic = rss(item("مفاوضات في الدوحة", "https://wire.example.org/ar")).replace(
        'encoding="utf-8"', 'encoding="windows-1256"'
    )
    yield "rss-windows-1256.xml", arabic.encode("cp1256")
    yield (
        "rss-declared-utf8-sent-latin1.xml",
        with_type(
            "application/rss+xml; charset=iso-8859-1",
            rss(item("Café Beyrouth")).encode("latin-1"),
        ),
    )
    yield (
        "rss-unknown-encoding.xml",
        rss(item("Unknown encoding Iran"))
        .replace('encoding="utf-8"', 'encoding="x-no-such-encoding"')
        .encode("utf-8"),
    )
    utf16 = rss(item("UTF-16 Tehran")).replace('encoding="utf-8"', 'encoding="utf-16"')
    yield "rss-utf16-bom.xml", b"\xff\xfe" + utf16.encode("utf-16-le")
    yield (
        "rss-utf7.xml",
        rss(item("UTF-7 +AGkAcgBhAG4-"))
        .replace('encoding="utf-8"', 'encoding="utf-7"')
        .encode("utf-8"),
    )
    yield "rss-leading-blanks-bom.xml", b"\n\n  \xef\xbb\xbf\n" + rss(item("BOM Iraq")).encode()
    # Dates out of every range, zones feedparser does not know.
    dates = [
        "Tue, 31 Feb 2026 25:61:61 GMT",
        "Wed, 24 Nov 99999 08:00:00 +9999",
        "Tue, 24 Nov 2026 08:00:00 IRST",
        "2026-11-24T08:00:00GMT+3",
        "0000-00-00T00:00:00Z",
        "-1",
        "Tue, 24 Nov 2126 08:00:00 GMT",
    ]
    yield (
        "rdf-dates.rdf",
        with_type(
            "application/rdf+xml",
            rdf(
                "".join(
                    rdf_item(f"Date {n} Iran", f"https://review.example.org/{n}", escape(date))
                    for n, date in enumerate(dates)
                )
            ).encode("utf-8"),
        ),
    )
    # Author fields: a run of address characters, a long byline, name-and-address forms.
    run = "a" * 400 + "@" + "b" * 400
    authors = (
        f"<author>{run}</author><dc:creator>Nadia (desk@wire.example.org)</dc:creator>"
        "<author>desk@wire.example.org (Nadia Saleh)</author>"
    )
    yield "rss-authors.xml", rss(item("Authors Gulf", extra=authors)).encode("utf-8")
    # Images: media, enclosures, lazy ones, pixels, srcset.
    images = (
        '<media:content url="https://img.example.org/wide.jpg" medium="image" width="1200"/>'
        '<media:thumbnail url="/thumb.jpg"/>'
        '<enclosure url="https://img.example.org/a.mp3" type="audio/mpeg" length="1"/>'
        '<enclosure url="javascript:alert(1)" type="image/jpeg" length="1"/>'
    )
    yield (
        "rss-images.xml",
        rss(
            item(
                "Images Qatar",
                description=escape(
                    '<img src="https://pixel.wp.com/g.gif"><img srcset="a.jpg 1x, b.jpg 2x">'
                ),
                extra=images,
            )
        ).encode("utf-8"),
    )
    # Forged placeholders and other text meant for the mail.
    forged = "%%DIGEST-UNSUBSCRIBE-URL%% %%DIGEST-GREETING%% %%%%DIGEST-TIME-1%%%% 100%%"
    yield (
        "rss-forged-placeholders.xml",
        rss(item(f"{forged} Iran", "https://wire.example.org/%%DIGEST-GREETING%%", forged)).encode(
            "utf-8"
        ),
    )
    controls = "Tab\there Line\u2028Sep NEL\u0085 RTL\u202eoverride ANSI \x1b[31m Zero\u200bwidth"
    yield (
        "rss-control-characters.xml",
        rss(item(escape(controls) + " Iran", description=escape(controls))).encode("utf-8"),
    )
    # Repeated and missing identifiers; entries without links; more entries than kept.
    same_guid = "".join(
        item(f"Same guid {n} Iran", f"https://wire.example.org/g/{n}").replace(
            f"<guid>https://wire.example.org/g/{n}</guid>", "<guid>same</guid>"
        )
        for n in range(4)
    )
    yield "rss-same-guid.xml", rss(same_guid + "<item><title>No link</title></item>").encode()
    many = "".join(f"<item><link>http://w.example/{n}</link></item>" for n in range(1005))
    yield "rss-over-max-entries.xml", rss(many).encode("utf-8")
    # Atom 0.3 and RSS 0.91 shapes.
    yield (
        "atom03.atom",
        (
            b'<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">'
            b"<title>Old</title><entry><title>Old Atom Iran</title>"
            b'<link rel="alternate" href="https://old.example.org/1"/><issued>2026-11-24T08:00:00Z'
            b"</issued><summary>Kurdish talks</summary></entry></feed>"
        ),
    )
    yield (
        "rss091.xml",
        (
            b'<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title>'
            b"<item><title>Old RSS Lebanon</title><link>https://old.example.org/2</link>"
            b"<description>Beirut</description></item></channel></rss>"
        ),
    )
    # JSON Feed: types a schema would refuse, surrogates, nesting, version 1.
    yield "jsonfeed-odd-types.json", with_type(
        "application/feed+json",
        json_feed(
            [
                {"id": 1, "url": "https://json.example.org/1", "title": ["Iran"], "tags": 5},
                {"id": None, "url": None, "external_url": "//json.example.org/2"},
                {"id": "x", "url": "javascript:alert(1)", "content_html": "<script>x</script>"},
                {"id": "y", "url": "https://json.example.org/3", "title": "\ud800 Gaza",
                 "summary": {"nested": [1, 2, {"deeper": True}]}, "date_published": 1e308,
                 "image": "http://[::1]/i.png", "authors": [{"name": 7}], "language": 12},
                "not an object",
            ],
            ascii=True,
        ),
    )  # fmt: skip
    yield (
        "jsonfeed-1.0.json",
        json_feed(
            [
                {
                    "id": "a",
                    "url": "https://json.example.org/a",
                    "title": "Doha",
                    "author": {"name": "Desk"},
                    "content_text": "Qatar " * 200,
                }
            ],
            version="https://jsonfeed.org/version/1",
        ),
    )
    yield "json-not-a-feed.json", with_type("application/json", b'{"items": {"a": 1}}')
    yield "json-deep.json", with_type("application/json", b"[" * 500 + b"]" * 500)
    # Not feeds: a page naming its feeds, an empty document, text.
    yield (
        "html-page-names-feeds.html",
        with_type(
            "text/html",
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            b'<link rel="alternate" type="application/atom+xml" href="http://[::1]/a"></head></html>',
        ),
    )
    yield "empty.txt", with_type("text/plain", b" \n\t")
    yield (
        "odd-content-type.xml",
        with_type(
            'application/xml; charset="utf-8"; q=0.1; charset=latin1',
            rss(item("Typed Iran")).encode(),
        ),
    )


def attack_seeds() -> Iterator[tuple[str, bytes]]:
    """(name, input) of the attacks that once broke the feed path, each named after its kind."""
    injection = encoded_word("Gulf talks\r\nReply-To: attacker@evil.example\r\nX-Injected: yes")
    yield "header-injection-encoded-word-title.xml", rss(item(injection)).encode("utf-8")
    # The email package decodes these words too; their bytes are no UTF-8, and building the
    # Subject header fails (UnicodeEncodeError: surrogates) for every copy of the edition.
    undecodable = "=?iso-8859-1?q?caf=E9?= =?utf-8?b?broken?="
    yield "header-encoded-word-undecodable-title.xml", rss(item(undecodable)).encode("utf-8")
    yield "bad-url-bracket-link.xml", rss(item("Bracket Iran", "http://[oops]/x")).encode()
    yield (
        "bad-url-bracket-image.xml",
        rss(
            item(
                "Bracket image Iran", extra='<media:content url="http://[x/a.jpg" medium="image"/>'
            )
        ).encode("utf-8"),
    )
    yield (
        "bad-encoding-nul-declaration.xml",
        rss(
            item("NUL encoding Iran"), declaration='<?xml version="1.0" encoding="UTF-8\0"?>'
        ).encode("utf-8"),
    )
    # A byte that is no UTF-8 in the declared name: UnicodeDecodeError, the same way out.
    yield (
        "bad-encoding-non-utf8-declaration.xml",
        rss(
            item("Byte encoding Iran"), declaration='<?xml version="1.0" encoding="UTF-\udcff"?>'
        ).encode("utf-8", "surrogateescape"),
    )


def project_documents() -> Iterator[tuple[str, bytes]]:
    """The project's own feed files, each with the type it would be served as."""
    for folder in PROJECT_DOCUMENTS:
        for path in sorted((ROOT / folder).iterdir()):
            content_type = TYPES.get(path.suffix)
            if path.suffix == ".md":
                continue
            yield f"{Path(folder).name}-{path.name}", with_type(content_type, path.read_bytes())


def write(folder: Path, seeds: Iterator[tuple[str, bytes]]) -> int:
    """Write ``seeds`` into ``folder``; returns the bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, data in seeds:
        (folder / name).write_bytes(data)
        total += len(data)
    return total


def seeds() -> Iterator[tuple[str, bytes]]:
    """(name, input) of every seed of fuzz/corpus/."""
    yield from project_documents()
    yield from generated_seeds()
    yield from attack_seeds()


def corpus_of(target: str) -> Path:
    """The seed corpus of a target of ``TARGET_SEEDS``."""
    return ROOT / "fuzz" / f"corpus-{target}"


def main() -> None:
    corpora = [(CORPUS, seeds)] + [
        (corpus_of(target), made) for target, made in TARGET_SEEDS.items()
    ]
    for folder, made in corpora:
        if folder.exists():
            shutil.rmtree(folder)
        size = write(folder, made())
        count = sum(1 for _ in folder.iterdir())
        print(f"{count} seeds, {size:,} bytes, in {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
