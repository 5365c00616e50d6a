"""Tests for digest.ingest.safety: the guards on a feed's bytes before feedparser reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.ingest import parse_feed
from digest.ingest.encodings import without_leading_blanks
from digest.ingest.safety import (
    ADDRESS_RUN_LIMIT,
    AUTHOR_FIELD_LIMIT,
    bound_author_fields,
    guard_document,
    html_entities_as_numbers,
    remove_entity_declarations,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.mark.parametrize("before", [b"\n\n", b"  \r\n", b"\xef\xbb\xbf\n", b"\n\xef\xbb\xbf"])
def test_blank_lines_before_the_declaration_neither_hide_it_nor_break_the_parse(
    before: bytes,
) -> None:
    document = (
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>T'
        b"</title><item><title>Caf\xe9</title><link>https://s.example/a</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(before + document, url="https://s.example/f", content_type=None, now=NOW)
    assert feed.warning is None  # read by expat, in the declared encoding
    assert [entry.title for entry in feed.entries] == ["Café"]


def test_blanks_are_left_alone_where_the_document_is_not_ascii_compatible() -> None:
    utf16 = "\n<rss/>".encode("utf-16-le")
    assert without_leading_blanks(utf16) == utf16
    assert without_leading_blanks(b"\n\n{}") == b"\n\n{}"


def test_html_entities_xml_does_not_define_are_written_as_numbers() -> None:
    text = b"Caf&eacute; &rsquo;&nbsp;&amp;nbsp; &lt;b&gt; &bogus; &fjlig; &#233; & AT&T;"
    assert html_entities_as_numbers(text) == (
        b"Caf&#233; &#8217;&#160;&amp;nbsp; &lt;b&gt; &bogus; &#102;&#106; &#233; & AT&T;"
    )


def test_a_feed_with_html_entities_is_read_by_expat_without_a_warning() -> None:
    document = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>The&nbsp;Desk</title><item>'
        b"<title>Caf&eacute; talks&hellip; &amp; more</title><link>https://s.example/a</link>"
        b"</item></channel></rss>"
    )
    feed = parse_feed(document, url="https://s.example/f", content_type=None, now=NOW)
    assert feed.warning is None
    assert (feed.title, feed.entries[0].title) == ("The Desk", "Café talks… & more")


def test_entity_declarations_are_cut_out() -> None:
    document = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x>y"><!entity b \'z\'>\n'
        b'<!ENTITY c SYSTEM "file:///etc/passwd">]><rss>&a;</rss>'
    )
    cleaned, removed = remove_entity_declarations(document)
    assert removed == 3
    assert cleaned == b'<?xml version="1.0"?><!DOCTYPE rss [  \n ]><rss>&a;</rss>'


def test_cutting_a_declaration_cannot_splice_a_new_one() -> None:
    cleaned, removed = remove_entity_declarations(b'<!<!ENTITY a "b">ENTITY c "AAAA">')
    assert removed == 1
    assert b"<!ENTITY" not in cleaned.upper()


def test_an_unterminated_declaration_runs_to_the_end() -> None:
    cleaned, removed = remove_entity_declarations(b'<rss><!ENTITY a "never closed></rss>')
    assert (cleaned, removed) == (b"<rss> ", 1)


def test_a_document_without_declarations_is_returned_as_is() -> None:
    document = b"<rss><channel><title>Plain</title></channel></rss>"
    assert remove_entity_declarations(document) == (document, 0)


def test_author_fields_are_bounded() -> None:
    long_run = b"a" * (ADDRESS_RUN_LIMIT + 1)
    long_text = b"word " * (AUTHOR_FIELD_LIMIT // 5 + 1)
    document = (
        b"<rss><author>desk@site.example (Rana Khalil)</author>"
        b"<dc:creator>" + long_run + b"</dc:creator>"
        b"<managingEditor>" + long_text + b"</managingEditor>"
        b"<title>" + long_run + b"</title></rss>"
    )
    cleaned, emptied = bound_author_fields(document)
    assert emptied == 2
    assert b"<author>desk@site.example (Rana Khalil)</author>" in cleaned
    assert b"<dc:creator></dc:creator><managingEditor></managingEditor>" in cleaned
    assert b"<title>" + long_run + b"</title>" in cleaned  # only author fields are bounded


def test_an_author_field_in_cdata_is_bounded_and_markup_in_a_field_is_left_whole() -> None:
    long_run = b"a" * (ADDRESS_RUN_LIMIT + 1)
    comment = b"<!-- <name> is the byline; " + b"notes " * 200 + b"-->"
    document = (
        b"<rss><dc:creator>\n  <![CDATA[" + long_run + b"]]>\n</dc:creator>"
        b"<author>" + long_run + b"<name>Rana</name></author>" + comment + b"<title>t</title></rss>"
    )
    cleaned, emptied = bound_author_fields(document)
    assert emptied == 2
    assert b"<dc:creator></dc:creator>" in cleaned
    sneaky = b"<author>" + long_run + b"--></author>"  # no comment to hide in
    assert bound_author_fields(sneaky) == (b"<author></author>", 1)
    # The text before a child element is emptied, the element kept; a comment is never cut.
    assert b"<author><name>Rana</name></author>" in cleaned
    assert comment in cleaned


def test_a_comment_naming_an_author_field_keeps_the_feed_readable() -> None:
    # A template's comment mentioning <name>, followed by more than AUTHOR_FIELD_LIMIT bytes
    # before the next end tag: emptying "the field" once cut the comment's "-->".
    items = b"<item><title>Story</title><link>https://site.example/a</link></item>"
    document = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<!-- fill <name> and <author> in the template --><description>"
        + b"About the site. " * 60
        + b"</description>"
        + items
        + b"</channel></rss>"
    )
    feed = parse_feed(document, url="https://site.example/feed", content_type=None, now=NOW)
    assert feed.warning is None
    assert [entry.title for entry in feed.entries] == ["Story"]


def test_an_unclosed_author_field_is_bounded_too() -> None:
    cleaned, emptied = bound_author_fields(b"<rss><author>" + b"a" * 10_000)
    assert (cleaned, emptied) == (b"<rss><author>", 1)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-7"])
def test_declarations_cannot_hide_in_another_encoding(encoding: str) -> None:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE rss [<!ENTITY a "AAAA">]>'
        "<rss><author>" + "b" * 100 + "</author></rss>"
    )
    guarded = guard_document(text.encode(encoding), "application/xml")
    assert guarded.encoding is not None and guarded.encoding.lower().startswith(encoding[:5])
    assert b"<!ENTITY" not in guarded.content
    assert (guarded.entities_removed, guarded.author_fields_emptied) == (1, 1)
    assert guarded.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_the_http_charset_decides_before_the_guards_look() -> None:
    text = '<?xml version="1.0"?><rss><title>שלום</title></rss>'
    guarded = guard_document(text.encode("iso-8859-8"), "application/rss+xml; charset=iso-8859-8")
    assert "שלום".encode() in guarded.content
    assert guarded.encoding_problem is None


def test_guarded_warnings_say_what_was_removed() -> None:
    guarded = guard_document(
        b'<!DOCTYPE rss [<!ENTITY a "b">]><rss><author>' + b"x" * 600 + b"</author></rss>",
        "application/rss+xml",
    )
    assert len(guarded.warnings) == 2
    assert "1 entity declaration(s)" in guarded.warnings[0]
    assert "1 over-long author field(s)" in guarded.warnings[1]


# ----------------------------------------------------------------------------------------------
# Through parse_feed: the holes of feedparser 6.0.x stay closed


def parse(document: str | bytes) -> object:
    data = document.encode() if isinstance(document, str) else document
    return parse_feed(data, url="https://feeds.example/x", content_type=None, now=NOW)


def test_a_linear_entity_amplification_is_not_expanded() -> None:
    # expat lets this through (6 MB from 9 KB is under its amplification limit); we refuse it.
    document = (
        f'<!DOCTYPE rss [<!ENTITY a "{"A" * 3000}">]><rss version="2.0"><channel><item>'
        f"<link>https://x.example/a</link><description>{'&a;' * 2000}</description>"
        "</item></channel></rss>"
    )
    feed = parse(document)
    (entry,) = feed.entries  # type: ignore[attr-defined]
    assert "AAA" not in entry.summary_text
    assert "entity declaration" in feed.warning  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "href",
    [
        "jav&amp;#x09;ascript:alert(1)",
        "&amp;#106;avascript:alert(1)",
        "&amp;#0000106&amp;#0000097vascript:alert(1)",
        "javascript&amp;colon;alert(1)",
        "&amp;#x6A;&amp;#x61;&amp;#x76;&amp;#x61;script:alert(1)",
        " &amp;#14; javascript:alert(1)",
        "java&amp;#x0A;script:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_entity_obfuscated_script_urls_are_dropped(href: str) -> None:
    document = (
        '<rss version="2.0"><channel><item><link>https://x.example/a</link>'
        f'<description>&lt;a href="{href}"&gt;click&lt;/a&gt;</description></item></channel></rss>'
    )
    (entry,) = parse(document).entries  # type: ignore[attr-defined]
    assert "href" not in entry.summary_html
    assert "click" in entry.summary_html


def test_svg_animate_and_form_actions_are_dropped_with_their_urls() -> None:
    html = (
        '<svg><a xlink:href="javascript:alert(1)"><text>svg</text></a>'
        '<animate attributeName="href" to="javascript:alert(2)"/></svg>'
        '<form action="javascript:alert(3)"><input type="submit" formaction="javascript:x"></form>'
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(4)">m</maction></math>'
        "<p>kept</p>"
    )
    document = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id>'
        '<link href="https://x.example/a"/><title>t</title>'
        f'<summary type="html"><![CDATA[{html}]]></summary></entry></feed>'
    )
    (entry,) = parse(document).entries  # type: ignore[attr-defined]
    assert entry.summary_html == "<p>kept</p>"


def test_script_urls_in_links_and_media_are_refused() -> None:
    document = (
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item>'
        "<link>https://x.example/a</link>"
        '<media:content url="jav&#x09;ascript:alert(1)" medium="image"/>'
        '<media:thumbnail url="&#106;avascript:alert(2)"/>'
        '<enclosure url="data:image/png;base64,AAAA" type="image/png"/>'
        "</item><item><link>&#106;avascript:alert(3)</link><title>no link</title></item>"
        "</channel></rss>"
    )
    (entry,) = parse(document).entries  # type: ignore[attr-defined]
    assert entry.image_url is None
