"""Tests for digest.ingest.clean: sanitizing, plain text, canonical links and entry cleaning."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest

from digest.ingest.clean import SUMMARY_LIMIT, clean_entry
from digest.ingest.markup import collapse_whitespace, html_to_text, sanitize_html, truncate_text
from digest.ingest.parse import parse_feed
from digest.ingest.urls import canonical_link, resolve_url

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example/gulf.xml"
SITE = "https://gulfwire.example/"


def clean(raw: dict[str, Any], **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "feed_url": FEED_URL,
        "feed_link": SITE,
        "feed_language": "en",
        "now": NOW,
    }
    arguments.update(overrides)
    return clean_entry(raw, **arguments)


def utc_struct(moment: datetime) -> time.struct_time:
    return moment.astimezone(UTC).timetuple()


# ----------------------------------------------------------------------------------------------
# sanitize_html


def test_sanitizer_drops_scripts_styles_and_event_handlers() -> None:
    html = (
        '<p onclick="steal()" style="color:red">Hello<script>alert(1)</script>'
        "<style>p { display: none }</style> world</p>"
        '<iframe src="https://evil.example/"></iframe><form action="/x"><input name="q"></form>'
    )
    cleaned = sanitize_html(html, base_url=SITE)
    assert cleaned == "<p>Hello world</p>"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
)
def test_sanitizer_drops_dangerous_links(href: str) -> None:
    cleaned = sanitize_html(f'<a href="{href}">click</a>', base_url=SITE)
    assert "href" not in cleaned
    assert "click" in cleaned
    assert "script" not in cleaned.lower() and "data:" not in cleaned


def test_sanitizer_resolves_relative_links_and_marks_them_noopener() -> None:
    cleaned = sanitize_html(
        '<a href="/ports">ports</a> <a href="docs/a?b=1">doc</a> <a href="//cdn.example/x">cdn</a>',
        base_url="https://gulfwire.example/news/today",
    )
    assert '<a href="https://gulfwire.example/ports" rel="noopener noreferrer">ports</a>' in cleaned
    assert 'href="https://gulfwire.example/news/docs/a?b=1"' in cleaned
    assert 'href="https://cdn.example/x"' in cleaned


def test_sanitizer_drops_relative_links_without_a_base() -> None:
    cleaned = sanitize_html('<a href="/ports">ports</a>', base_url=None)
    assert cleaned == '<a rel="noopener noreferrer">ports</a>'


def test_sanitizer_keeps_mailto_and_the_allowed_tags() -> None:
    html = (
        "<p><strong>S</strong> <b>b</b> <em>e</em> <i>i</i> <code>c</code><br></p>"
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote>"
        '<a href="mailto:desk@gulfwire.example" title="Write">mail</a>'
    )
    cleaned = sanitize_html(html, base_url=None)
    for tag in ("strong", "b", "em", "i", "code", "br", "ul", "ol", "li", "blockquote"):
        assert f"<{tag}>" in cleaned
    assert 'href="mailto:desk@gulfwire.example"' in cleaned
    assert 'title="Write"' in cleaned


def test_sanitizer_drops_images_and_the_paragraphs_they_leave_empty() -> None:
    cleaned = sanitize_html(
        '<p><img src="https://cdn.example/a.jpg" onerror="x()"></p><p>Text <img src=x>here</p>',
        base_url=None,
    )
    assert cleaned == "<p>Text here</p>"


def test_sanitizer_strips_unknown_tags_but_keeps_their_text() -> None:
    cleaned = sanitize_html("<div><h2>Heading</h2><span>body</span></div>", base_url=None)
    assert cleaned == "Heading<br> body"  # the heading's end still parts it from the body


@pytest.mark.parametrize(
    ("description", "paragraphs"),
    [
        # Blocks the allowlist strips were parted by a space only, and their paragraphs ran
        # together: "Strikes go on despite truce Israel said..."
        ("<div>Strikes go on despite truce</div><div>Israel said it would talk.</div>",
         ["Strikes go on despite truce", "Israel said it would talk."]),
        ("<h2>Strikes go on despite truce</h2>Israel said it would talk.",
         ["Strikes go on despite truce", "Israel said it would talk."]),
        ('Strikes go on despite truce<div class="body">Israel said it would talk.</div>',
         ["Strikes go on despite truce", "Israel said it would talk."]),
        ("<section><header>Strikes go on</header><div><div>Israel said.</div></div></section>",
         ["Strikes go on", "Israel said."]),
        ("<figure><figcaption>A port in Duqm</figcaption></figure><p>Oman opened it.</p>",
         ["A port in Duqm", "Oman opened it."]),
        # a block around the whole description: one paragraph, no break left at either end
        ("<div>Israel said it would talk.</div>", ["Israel said it would talk."]),
    ],
)  # fmt: skip
def test_blocks_the_sanitizer_strips_stay_paragraphs_apart(
    description: str, paragraphs: list[str]
) -> None:
    from digest.ingest.summaries import paragraphs_of

    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert paragraphs_of(entry.summary_html) == paragraphs
    assert not entry.summary_html.startswith("<br>") and not entry.summary_html.endswith("<br>")


@pytest.mark.parametrize(
    "description",
    [
        # the picture is dropped, and its caption alone opened the summary: "Duqm port. ..."
        '<figure class="wp-block-image"><img src="/duqm.jpg" alt=""><figcaption>The port of '
        "Duqm at dawn. (Photo: Reuters)</figcaption></figure><p>Oman opened it.</p>",
        '<figure><figcaption>The port of Duqm at dawn.</figcaption><picture><img src="/d.jpg">'
        "</picture></figure><p>Oman opened it.</p>",
        # WordPress's classic [caption] shortcode
        '<div class="wp-caption alignnone"><img src="/duqm.jpg"><p class="wp-caption-text">The '
        "port of Duqm at dawn.</p></div><p>Oman opened it.</p>",
    ],
)
def test_the_caption_of_a_picture_the_summary_drops_goes_with_it(description: str) -> None:
    from digest.ingest.summaries import paragraphs_of

    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert paragraphs_of(entry.summary_html) == ["Oman opened it."]


@pytest.mark.parametrize(
    "embed",
    [
        '<blockquote class="twitter-tweet"><p lang="en" dir="ltr">Drills begin now <a '
        'href="https://t.co/abc">pic.twitter.com/abc123</a></p>&mdash; IRNA News (@IrnaEnglish) '
        '<a href="https://twitter.com/IrnaEnglish/status/1">November 17, 2026</a></blockquote>'
        '<script async src="https://platform.twitter.com/widgets.js"></script>',
        '<blockquote class="instagram-media" data-instgrm-version="14"><div><a href="https://'
        'www.instagram.com/p/x/">View this post on Instagram</a></div><p><a href="https://www.'
        'instagram.com/p/x/">A post shared by Gulf Wire (@gulfwire)</a></p></blockquote>',
        '<blockquote class="tiktok-embed" cite="https://www.tiktok.com/@x/video/1"><section>'
        "<a>@gulfwire</a> Drills ♬ original sound</section></blockquote>",
    ],
)
def test_an_embedded_social_post_leaves_the_summary(embed: str) -> None:
    from digest.ingest.summaries import paragraphs_of

    # Its fallback text reached the reader: "pic.twitter.com/abc123", "— IRNA News
    # (@IrnaEnglish) November 17, 2026", "View this post on Instagram".
    description = f"<p>Iran closed the strait.</p>{embed}<p>Shipping was diverted.</p>"
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert paragraphs_of(entry.summary_html) == [
        "Iran closed the strait.",
        "Shipping was diverted.",
    ]


def test_a_quotation_in_a_blockquote_stays() -> None:
    from digest.ingest.summaries import paragraphs_of

    description = '<p>He said:</p><blockquote class="pull-quote">We will stay.</blockquote>'
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert paragraphs_of(entry.summary_html) == ["He said:", "We will stay."]


def test_a_caption_with_no_picture_and_an_unclosed_one_stay_text() -> None:
    from digest.ingest.summaries import paragraphs_of

    unclosed = "<p>Oman opened it.</p><figure><img src='/d.jpg'><figcaption>The port"
    entry = clean({"link": "https://gulfwire.example/a", "summary": unclosed})
    assert paragraphs_of(entry.summary_html) == ["Oman opened it.", "The port"]


# ----------------------------------------------------------------------------------------------
# html_to_text and truncate_text


def test_html_to_text_decodes_entities_and_collapses_whitespace() -> None:
    text = html_to_text("<p>Doha&nbsp;&amp;\n\n  Muscat</p><p>caf&eacute; &#8212; &lt;b&gt;</p>")
    assert text == "Doha & Muscat café — <b>"


def test_html_to_text_separates_blocks_and_drops_scripts() -> None:
    text = html_to_text("<ul><li>one</li><li>two</li></ul><script>var x = 1;</script>end<br>x")
    assert text == "one two end x"


def test_html_to_text_keeps_the_text_after_a_void_element() -> None:
    assert html_to_text("<p>before<embed src='x.swf'> after</p>") == "before after"


def test_truncate_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = " ".join(["diplomacy"] * 100)
    cut = truncate_text(text, 60)
    assert len(cut) <= 60
    assert cut.endswith("diplomacy…")
    assert truncate_text("short", 60) == "short"


def test_truncate_cuts_hard_when_there_is_no_space() -> None:
    cut = truncate_text("x" * 100, 10)
    assert cut == "x" * 9 + "…"


# ----------------------------------------------------------------------------------------------
# canonical_link


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://gulfwire.example/a?utm_source=rss&utm_medium=feed&id=5#comments",
            "https://gulfwire.example/a?id=5",
        ),
        (
            "HTTPS://GulfWire.Example:443/Story/One?fbclid=x&gclid=y&mc_cid=1&mc_eid=2&ref=home",
            "https://gulfwire.example/Story/One",
        ),
        ("http://gulfwire.example:80", "http://gulfwire.example/"),
        ("http://gulfwire.example:8080/x?b=2&a=1", "http://gulfwire.example:8080/x?b=2&a=1"),
        ("https://user:pw@gulfwire.example/x", "https://gulfwire.example/x"),
        ("https://gulfwire.example/a b/ü", "https://gulfwire.example/a%20b/%C3%BC"),
        ("https://gulfwire.example/a%20b?q=%2F", "https://gulfwire.example/a%20b?q=%2F"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://gulfwire.example/x?UTM_Campaign=z&cmpid=3", "https://gulfwire.example/x"),
    ],
)
def test_canonical_link(url: str, expected: str) -> None:
    assert canonical_link(url) == expected


@pytest.mark.parametrize("url", ["/relative/path", "mailto:a@b.example", "ftp://x.example/f", ""])
def test_canonical_link_refuses_what_is_not_absolute_http(url: str) -> None:
    with pytest.raises(ValueError):
        canonical_link(url)


# ----------------------------------------------------------------------------------------------
# clean_entry


def test_clean_entry_title_author_and_link() -> None:
    entry = clean(
        {
            "title": "Oman &amp; Qatar   sign a <em>pact</em>",
            "title_detail": {
                "type": "text/html",
                "value": "Oman &amp; Qatar   sign a <em>pact</em>",
            },
            "link": "/2025/pact?utm_source=rss#top",
            "id": "gulfwire-4711",
            "author": "desk@gulfwire.example (Layla Haddad)",
            "summary": "<p>Signed today.</p>",
        }
    )
    assert entry.title == "Oman & Qatar sign a pact"
    assert entry.link == "https://gulfwire.example/2025/pact"  # resolved against the site
    assert entry.guid == "gulfwire-4711"
    assert entry.author == "Layla Haddad"
    assert entry.summary_html == "<p>Signed today.</p>"
    assert entry.summary_text == "Signed today."
    assert entry.language == "en"


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        # a break in a title's HTML: the two lines ran together, "Iran closes strait Oil jumps"
        ("<![CDATA[Iran closes strait<br>Oil jumps 3%]]>", "Iran closes strait — Oil jumps 3%"),
        ("<![CDATA[<p>Exclusive</p><p>Iran closes strait</p>]]>", "Exclusive — Iran closes strait"),
        ("<![CDATA[Iran closes strait:<br/>oil jumps]]>", "Iran closes strait: oil jumps"),
        ("<![CDATA[Iran closes strait<br/>]]>", "Iran closes strait"),
        # a plain line break is where a long title was wrapped
        (
            "Iran closes the Strait of\nHormuz for drills",
            "Iran closes the Strait of Hormuz for drills",
        ),
    ],
)
def test_a_break_in_a_titles_html_parts_its_lines(title: str, shown: str) -> None:
    document = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Gulf Wire</title>'
        f"<item><title>{title}</title><link>{SITE}a</link></item></channel></rss>"
    )
    assert _first_entry(document).title == shown


def test_clean_entry_plain_text_title_keeps_angle_brackets() -> None:
    entry = clean(
        {
            "title": "Why x < y matters",
            "title_detail": {"type": "text/plain", "value": "Why x < y matters"},
            "link": "https://gulfwire.example/a",
        }
    )
    assert entry.title == "Why x < y matters"


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("desk@gulfwire.example (Layla Haddad)", "Layla Haddad"),
        ("Omar Nasser <omar@gulfwire.example>", "Omar Nasser"),
        ("Rana Khalil", "Rana Khalil"),
        # the address in angle brackets too: the name was kept as "(Layla Haddad)"
        ("<desk@gulfwire.example> (Layla Haddad)", "Layla Haddad"),
        ("mailto:desk@gulfwire.example (Layla Haddad)", "Layla Haddad"),
    ],
)
def test_clean_entry_author_forms(written: str, name: str) -> None:
    entry = clean({"link": "https://gulfwire.example/a", "author": written})
    assert entry.author == name


def test_clean_entry_guid_falls_back_to_the_canonical_link() -> None:
    entry = clean({"link": "https://gulfwire.example/a?utm_campaign=x"})
    assert entry.guid == "https://gulfwire.example/a"


def test_clean_entry_without_a_usable_link_is_dropped() -> None:
    assert clean({"title": "No link", "id": "urn:uuid:1234"}) is None
    assert clean({"title": "Bad link", "link": "javascript:alert(1)"}) is None


def test_clean_entry_uses_a_permalink_guid_as_link() -> None:
    entry = clean({"id": "https://gulfwire.example/story", "guidislink": True})
    assert entry.link == "https://gulfwire.example/story"


def test_clean_entry_summary_is_cut_at_a_word_boundary() -> None:
    long_text = " ".join(f"word{n}" for n in range(400))
    entry = clean({"link": "https://gulfwire.example/a", "summary": f"<p>{long_text}</p>"})
    assert len(entry.summary_text) <= SUMMARY_LIMIT
    assert entry.summary_text.endswith("…")
    last_word = entry.summary_text[:-1].rsplit(" ", 1)[-1]
    assert last_word in long_text.split(" ")  # a whole word, not a fragment
    assert entry.summary_html == f"<p>{entry.summary_text}</p>"


def test_a_long_summary_cut_to_its_paragraphs_keeps_its_punctuation_after_links() -> None:
    # A whole article, stored as its first paragraphs: every link or bold word was followed by
    # a space in the stored text, "with Hamas . The Gulf 's ports"
    sentence = 'Talks were held with <a href="https://x.example/">Hamas</a>, in <b>Cairo</b>. '
    entry = clean({"link": "https://gulfwire.example/a", "summary": f"<p>{sentence * 30}</p>"})
    assert len(entry.summary_text) <= SUMMARY_LIMIT
    assert entry.summary_text.startswith("Talks were held with Hamas, in Cairo. Talks were")
    assert " ," not in entry.summary_text and " ." not in entry.summary_text
    assert " ," not in entry.summary_html and " ." not in entry.summary_html


def test_clean_entry_takes_the_summary_from_content_when_there_is_no_description() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/a",
            "content": [{"type": "text/html", "value": "<p>From <b>content</b></p>"}],
        }
    )
    assert entry.summary_html == "<p>From <b>content</b></p>"


def test_clean_entry_escapes_plain_text_summaries() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/a",
            "summary": "Tags like <script> stay text",
            "summary_detail": {"type": "text/plain", "value": "Tags like <script> stay text"},
        }
    )
    assert entry.summary_html == "<p>Tags like &lt;script&gt; stay text</p>"
    assert entry.summary_text == "Tags like <script> stay text"


def test_clean_entry_dates_are_utc_and_published_falls_back_to_updated() -> None:
    published = datetime(2025, 6, 10, 6, 30, tzinfo=UTC)
    updated = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
    entry = clean(
        {
            "link": "https://gulfwire.example/a",
            "published_parsed": utc_struct(published),
            "updated_parsed": utc_struct(updated),
        }
    )
    assert entry.published_at == published
    assert entry.published_at.tzinfo is UTC
    assert entry.updated_at == updated

    only_updated = clean(
        {"link": "https://gulfwire.example/b", "updated_parsed": utc_struct(updated)}
    )
    assert only_updated.published_at == updated


def test_clean_entry_reads_dates_far_in_the_future_as_none() -> None:
    near = NOW + timedelta(hours=20)
    far = NOW + timedelta(days=3)
    assert (
        clean({"link": "https://x.example/a", "published_parsed": utc_struct(near)}).published_at
        == near
    )
    assert (
        clean({"link": "https://x.example/b", "published_parsed": utc_struct(far)}).published_at
        is None
    )


def test_clean_entry_ignores_impossible_dates() -> None:
    entry = clean(
        {"link": "https://x.example/a", "published_parsed": (2025, 13, 40, 0, 0, 0, 0, 0, 0)}
    )
    assert entry.published_at is None


@pytest.mark.parametrize(
    "written",
    ["0001-01-01T00:00:00Z", "Mon, 01 Jan 0001 00:00:00 GMT", "1970-01-01T00:00:00Z", "1013-11-24"],
)
def test_clean_entry_reads_dates_before_1970_as_none(written: str) -> None:
    # Go's and .NET's zero time and the Unix epoch are what publishing systems write for "no
    # date"; year 1 kept made every copy to a reader west of UTC fail (fuzz/crashes/).
    parsed = feedparser.parse(
        "<rss version='2.0'><channel><item><link>https://x.example/a</link>"
        f"<pubDate>{written}</pubDate><dc:date>{written}</dc:date></item></channel></rss>"
    )
    entry = clean(parsed.entries[0])
    assert entry.published_at is None and entry.updated_at is None
    since_1970 = clean(
        {"link": "https://x.example/b", "published": "Fri, 02 Jan 1970 00:00:00 GMT"}
    )
    assert since_1970.published_at == datetime(1970, 1, 2, tzinfo=UTC)


def test_clean_entry_categories_are_stripped_and_deduplicated() -> None:
    entry = clean(
        {
            "link": "https://x.example/a",
            "tags": [
                {"term": " Gulf "},
                {"term": "gulf"},
                {"term": "Energy"},
                {"term": ""},
                {"label": "GCC"},
            ],
        }
    )
    assert entry.categories == ("Gulf", "Energy", "GCC")


def test_clean_entry_image_prefers_the_widest_media_content() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/a",
            "media_content": [
                {"url": "https://cdn.example/small.jpg", "medium": "image", "width": "320"},
                {"url": "https://cdn.example/clip.mp4", "medium": "video", "width": "1920"},
                {"url": "/img/large.jpg", "medium": "image", "width": "1280"},
            ],
            "media_thumbnail": [{"url": "https://cdn.example/thumb.jpg"}],
        }
    )
    assert entry.image_url == "https://gulfwire.example/img/large.jpg"


def test_clean_entry_image_takes_the_smallest_rendition_wide_enough_not_the_original() -> None:
    # Agencies list every rendition, the camera's original among them: 8,000 pixels wide, over
    # the image service's 40 megapixels and its 5 MB, so the article lost its picture (and
    # without the service, every reader loaded the original).
    renditions = [
        {"url": "https://cdn.example/original.jpg", "medium": "image", "width": "8000"},
        {"url": "https://cdn.example/small.jpg", "medium": "image", "width": "640"},
        {"url": "https://cdn.example/large.jpg", "medium": "image", "width": "2048"},
        {"url": "https://cdn.example/medium.jpg", "medium": "image", "width": "1280"},
    ]
    entry = clean({"link": "https://gulfwire.example/a", "media_content": renditions})
    assert entry.image_url == "https://cdn.example/medium.jpg"
    # None wide enough: the widest there is.
    narrow = [renditions[1], {**renditions[3], "width": "900"}]
    entry = clean({"link": "https://gulfwire.example/a", "media_content": narrow})
    assert entry.image_url == "https://cdn.example/medium.jpg"


def test_clean_entry_image_skips_a_video_that_media_content_calls_an_image() -> None:
    # Publishers' CMSs write medium="image" on every media:content, their clips included: the
    # type, or the file's suffix, says it is a video, which no mail app shows as a picture.
    parsed = feedparser.parse(
        b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item>
        <title>Clip</title><link>https://gulfwire.example/a</link>
        <media:content url="https://cdn.example/clip.mp4" medium="image" type="video/mp4"
          width="1920"/>
        <media:content url="https://cdn.example/stream" medium="image" type="VIDEO/MP4"
          width="1900"/>
        <media:content url="https://cdn.example/loop.mp4" medium="image" width="1800"/>
        <media:content url="https://cdn.example/clip.webm" type="image/jpeg" width="1700"/>
        <media:content url="https://cdn.example/still" medium="image" type="Image/JPEG"
          width="1600"/>
        <media:content url="https://cdn.example/sloppy.jpg" medium="image" type="jpeg"
          width="900"/>
        <media:content url="https://cdn.example/small.jpg" medium="image" width="320"/>
        </item></channel></rss>"""
    )
    entry = clean(parsed.entries[0])
    assert entry.image_url == "https://cdn.example/still"
    # A type that is no MIME type leaves it to the medium: the picture is still taken.
    del parsed.entries[0].media_content[:5]
    assert clean(parsed.entries[0]).image_url == "https://cdn.example/sloppy.jpg"


def test_clean_entry_image_from_an_image_enclosure() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/a",
            "links": [
                {"rel": "alternate", "href": "https://gulfwire.example/a"},
                {"rel": "enclosure", "type": "audio/mpeg", "href": "https://cdn.example/a.mp3"},
                {"rel": "enclosure", "type": "image/png", "href": "https://cdn.example/e.png"},
            ],
        }
    )
    assert entry.image_url == "https://cdn.example/e.png"


def test_clean_entry_image_from_the_first_img_in_the_content() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/news/a",
            "summary": (
                '<p><img src="https://track.example/p.gif" width="1" height="1">'
                '<img src="data:image/png;base64,AAAA"><img src="pics/lead.jpg"> text</p>'
            ),
        }
    )
    # The pixel is skipped, the data: URI refused, the relative one made absolute.
    assert entry.image_url == "https://gulfwire.example/news/pics/lead.jpg"
    assert "<img" not in entry.summary_html


def test_clean_entry_image_must_be_http() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/a",
            "media_thumbnail": [{"url": "javascript:alert(1)"}, {"url": "ftp://x.example/a.jpg"}],
        }
    )
    assert entry.image_url is None


def test_clean_entry_language_from_the_entry_then_the_feed() -> None:
    own = clean(
        {
            "link": "https://x.example/a",
            "title": "عنوان",
            "title_detail": {"type": "text/plain", "value": "عنوان", "language": "ar"},
        }
    )
    assert own.language == "ar"
    inherited = clean({"link": "https://x.example/b"}, feed_language="en-GB")
    assert inherited.language == "en-gb"


def test_clean_entry_without_a_title_borrows_the_start_of_the_summary() -> None:
    entry = clean({"link": "https://x.example/a", "summary": "A short note from Muscat."})
    assert entry.title == "A short note from Muscat."


# Characters that show as nothing: zero-width space, joiners, word joiner, byte order mark,
# soft hyphen, direction marks and isolates, a combining mark on nothing.
INVISIBLE = [
    "\u200b\u200b\u200b",
    "\u200c\u200d",
    "\u2060 \ufeff",
    "\u00ad",
    "\u200f\u2067\u2069",
    "\u0301",
]


@pytest.mark.parametrize("invisible", INVISIBLE)
def test_a_title_of_invisible_characters_borrows_the_start_of_the_summary(invisible: str) -> None:
    # Kept, such a title was a headline link with no text to click, and an empty subject.
    entry = clean(
        {"title": invisible, "link": "https://x.example/a", "summary": "A short note from Muscat."}
    )
    assert entry.title == "A short note from Muscat."
    bare = clean({"title": invisible, "link": "https://x.example/b", "summary": invisible})
    assert bare.title == "https://x.example/b"


@pytest.mark.parametrize("title", ["-", "—", ".", "…", "...", "?!", "( )", "· · ·"])
def test_a_title_of_punctuation_alone_borrows_the_start_of_the_summary(title: str) -> None:
    # What a publishing system writes for no title; kept, the headline said nothing.
    entry = clean({"title": title, "link": "https://x.example/a", "summary": "A note from Muscat."})
    assert entry.title == "A note from Muscat."


@pytest.mark.parametrize("title", ["1984", "🔥", "G7", "?! Why Muscat"])
def test_a_short_title_of_digits_or_symbols_is_kept(title: str) -> None:
    entry = clean({"title": title, "link": "https://x.example/a", "summary": "A note from Muscat."})
    assert entry.title == title


@pytest.mark.parametrize("invisible", INVISIBLE)
def test_an_author_of_invisible_characters_is_no_author(invisible: str) -> None:
    # Kept, the byline opened with an invisible name and a lone "·".
    entry = clean({"title": "Talks", "link": "https://x.example/a", "author": invisible})
    assert entry.author is None


def test_whitespace_is_collapsed_as_the_unicode_pattern_would_for_every_character() -> None:
    everything = "a".join(chr(point) for point in range(sys.maxunicode + 1))
    assert collapse_whitespace(everything) == re.sub(r"\s+", " ", everything).strip()
    assert collapse_whitespace(" \t\u00a0Gulf \n\u2003 talks\u3000") == "Gulf talks"


RESOLVE_BASES = [
    "https://news.example/2026/11/story.html",
    "http://news.example",
    "HTTPS://User:pw@News.Example:8443/a/b/?q=1#top",
    "https://news.example/a/b;params?x=1",
    "ftp://files.example/pub/",
    "mailto:desk@news.example",
    "/relative/base",
    "",
]
RESOLVE_REFERENCES = [
    "/desk/7",
    "/img/3-7.jpg?w=600&h=400#main",
    "/a;p?q",
    "/a//b/",
    "/",
    "/a/./b",
    "/a/../b",
    "/..",
    "/.hidden",
    "//cdn.example/x.jpg",
    "/a b",
    "/a\tb",
    "/a\nb",
    "/caf\u00e9/\u0645\u0642\u0627\u0644",
    "relative/path",
    "../up",
    "?query",
    "#fragment",
    "https://other.example/x",
    "javascript:alert(1)",
    "",
]


@pytest.mark.parametrize("base", RESOLVE_BASES)
def test_resolving_a_url_is_what_urljoin_does(base: str) -> None:
    for reference in RESOLVE_REFERENCES:
        assert resolve_url(base, reference) == urljoin(base, reference), reference


def test_an_entry_takes_its_picture_past_a_pixel_and_a_broken_address() -> None:
    """The first candidates a feed offers are a pixel and a script's "undefined"; the story's
    photograph comes after them, in the description."""
    entry = clean(
        {
            "link": "https://news.example.org/2026/truce",
            "title": "Truce holds",
            "media_content": [
                {"url": "https://news.example.org/assets/rss-pixel.png", "medium": "image"},
                {"url": "https://news.example.org/images/undefined", "medium": "image"},
            ],
            "summary": '<p><img src="https://news.example.org/photos/truce.jpg">Calm.</p>',
        }
    )
    assert entry is not None
    assert entry.image_url == "https://news.example.org/photos/truce.jpg"


# --- clean text: paragraphs apart, no wire dateline, no tracking parameter ---------------------


def test_a_summary_keeps_its_paragraphs_and_loses_its_wire_dateline() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/truce",
            "summary": "<p>Strikes go on despite truce</p>"
            "<p>JERUSALEM (Reuters) - Israel said on Monday it would keep talking.</p>",
        }
    )
    assert entry.summary_html == (
        "<p>Strikes go on despite truce</p><p>Israel said on Monday it would keep talking.</p>"
    )
    assert (
        entry.summary_text
        == "Strikes go on despite truce Israel said on Monday it would keep talking."
    )


@pytest.mark.parametrize(
    "summary",
    [
        '<a href="https://gulfwire.example/truce">https://gulfwire.example/truce</a>',
        "https://gulfwire.example/truce",
        "<p>(www.gulfwire.example/truce)</p>",
        '<p><a href="https://gulfwire.example/truce"><img src="/p.jpg"></a></p>',
    ],
)
def test_a_summary_of_only_a_link_or_a_picture_is_no_summary(summary: str) -> None:
    # A description that is a bare link to the story was stored, and shown, as its address.
    entry = clean({"link": "https://gulfwire.example/truce", "title": "Truce", "summary": summary})
    assert entry.summary_html == "" and entry.summary_text == ""


@pytest.mark.parametrize("nothing", ["<p>…</p>", "-", "<p>&nbsp;</p><p>&#8203;</p>", "[…]"])
def test_a_summary_that_shows_nothing_is_no_summary(nothing: str) -> None:
    entry = clean({"link": "https://gulfwire.example/truce", "title": "Truce", "summary": nothing})
    assert entry.summary_html == "" and entry.summary_text == ""
    kept = clean(
        {"link": "https://gulfwire.example/truce", "summary": "<p>…</p><p>Truce holds.</p>"}
    )
    assert kept.summary_text == "Truce holds."


def test_an_address_within_a_summary_stays() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/truce",
            "summary": "<p>Truce text</p><p>Read it at https://gulfwire.example/text.</p>",
        }
    )
    assert entry.summary_text == "Truce text Read it at https://gulfwire.example/text."


def test_plain_text_lines_in_a_description_stay_paragraphs() -> None:
    entry = clean(
        {
            "link": "https://gulfwire.example/truce",
            "summary": "Strikes go on despite truce\nJERUSALEM: Israeli officials said on Monday.",
        }
    )
    assert entry.summary_html == (
        "<p>Strikes go on despite truce</p><p>Israeli officials said on Monday.</p>"
    )


def test_a_long_summary_is_cut_in_its_paragraphs() -> None:
    first, second = "Strikes go on despite the truce. " * 5, "Officials said talks go on. " * 40
    entry = clean(
        {"link": "https://gulfwire.example/truce", "summary": f"<p>{first}</p><p>{second}</p>"}
    )
    assert entry.summary_html.startswith(f"<p>{first.strip()}</p><p>Officials said")
    assert entry.summary_html.count("<p>") == 2
    assert len(entry.summary_text) <= SUMMARY_LIMIT
    assert entry.summary_text.endswith("…")


@pytest.mark.parametrize(
    "query",
    [
        "utm_source=rss&utm_medium=feed",
        "fbclid=IwAR0abc",
        "gclid=abc",
        "mc_cid=abc&mc_eid=def",
        "ocid=msn",
        "cmpid=rss",
        "CMP=twt_gu",
        "INTCMP=sfl",
        "ns_mchannel=social&ns_source=twitter&ns_campaign=bbc",
        "at_medium=custom7&at_campaign=64&at_custom1=x",
        "_ga=2.123.456",
        "smid=tw-nytimes&smtyp=cur",
        "ref=rss",
        "mod=rss_Top_Stories",
        "partner=rss&emc=rss",
        "source=feed",
        "xtor=RSS-3208",
        "WT.mc_id=abc",
        "pk_campaign=x&mtm_source=y",
        "guccounter=1&guce_referrer=aHR0",
        "ito=792",
        "ftag=MSF0951a18",
    ],
)
def test_known_tracking_parameters_leave_links(query: str) -> None:
    assert canonical_link(f"https://gulfwire.example/story?id=7&{query}") == (
        "https://gulfwire.example/story?id=7"
    )


@pytest.mark.parametrize(
    "query",
    ["mod=viewthread&tid=12", "src=viewer", "s=truce", "source=un", "page=2", "id=7"],
)
def test_parameters_a_site_may_need_stay_on_links(query: str) -> None:
    assert canonical_link(f"https://gulfwire.example/story?{query}") == (
        f"https://gulfwire.example/story?{query}"
    )


def _first_entry_author(item_xml: str, *, atom: bool = False) -> Any:
    if atom:
        document = (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Gulf Wire'
            f'</title><entry><title>Port talks</title><link href="{SITE}a"/>{item_xml}</entry>'
            "</feed>"
        )
    else:
        document = (
            '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>Gulf Wire</title><item><title>Port talks</title><link>{SITE}a</link>"
            f"{item_xml}</item></channel></rss>"
        )
    return clean(dict(feedparser.parse(document).entries[0])).author


@pytest.mark.parametrize(
    ("item_xml", "atom", "author"),
    [
        # names on lines of their own read as one four-word "person", "Layla Haddad Omar Nasser"
        ("<dc:creator>Layla Haddad\nOmar Nasser</dc:creator>", False, "Layla Haddad, Omar Nasser"),
        ("<dc:creator>\n  Layla Haddad\r\n  Omar Nasser\n</dc:creator>", False,
         "Layla Haddad, Omar Nasser"),
        ("<dc:creator><![CDATA[Layla Haddad<br/>Omar Nasser]]></dc:creator>", False,
         "Layla Haddad, Omar Nasser"),
        ("<dc:creator>أحمد علي\nمحمد حسن</dc:creator>", False, "أحمد علي, محمد حسن"),
        # a line that goes on with the next is joined to it, not split
        ("<dc:creator>Layla Haddad,\nOmar Nasser</dc:creator>", False, "Layla Haddad, Omar Nasser"),
        ("<dc:creator>By\nLayla Haddad</dc:creator>", False, "Layla Haddad"),
        ("<dc:creator>Layla Haddad\nand Omar Nasser</dc:creator>", False,
         "Layla Haddad and Omar Nasser"),
        # several author elements: only the last was kept, the first writer lost
        ("<dc:creator>Layla Haddad</dc:creator><dc:creator>Omar Nasser</dc:creator>", False,
         "Layla Haddad, Omar Nasser"),
        ("<author><name>Layla Haddad</name></author><author><name>Omar Nasser</name></author>",
         True, "Layla Haddad, Omar Nasser"),
        ("<author><name>Layla Haddad</name><email>layla@gulfwire.example</email></author>", True,
         "Layla Haddad"),
    ],
)  # fmt: skip
def test_clean_entry_reads_every_name_of_an_author_field(
    item_xml: str, atom: bool, author: str
) -> None:
    assert _first_entry_author(item_xml, atom=atom) == author


@pytest.mark.parametrize(
    ("item_xml", "author"),
    [
        # escaped twice, as titles often are: the byline read "Liam O&#039;Neil"
        ("<dc:creator>Liam O&amp;amp;#039;Neil</dc:creator>", "Liam O'Neil"),
        ("<dc:creator><![CDATA[Liam O&amp;#039;Neil]]></dc:creator>", "Liam O'Neil"),
        ("<dc:creator>Layla Haddad &amp;amp; Omar Nasser</dc:creator>",
         "Layla Haddad & Omar Nasser"),
        ("<dc:creator>Jos&amp;amp;eacute; Garc&amp;amp;iacute;a</dc:creator>", "José García"),
        ("<dc:creator>AT&amp;amp;T; Desk</dc:creator>", "AT&T; Desk"),  # "&T;" names nothing
    ],
)  # fmt: skip
def test_an_author_escaped_twice_reads_as_its_characters(item_xml: str, author: str) -> None:
    assert _first_entry_author(item_xml) == author


@pytest.mark.parametrize(
    "item_xml",
    [
        # an address alone, its domain's last label longer than four letters: feedparser's own
        # reading took the label's tail for a name, and the byline read "ple" or "rnational"
        "<author>jane.doe@gulfwire.example</author>",
        "<author>web.desk@arabnews.international</author>",
        "<author>news@al-monitor.media</author>",
        "<dc:creator>desk@gulfwire.online</dc:creator>",
    ],
)
def test_an_author_field_of_an_address_alone_names_nobody(item_xml: str) -> None:
    assert _first_entry_author(item_xml) is None


def test_a_name_beside_an_address_with_a_long_last_label_is_the_name() -> None:
    written = "<author>jane@news.online (Jane Doe)</author>"
    assert _first_entry_author(written) == "Jane Doe"
    assert _first_entry_author("<author>Jane Doe jane@news.online</author>") == "Jane Doe"


def test_names_on_lines_of_their_own_are_each_a_person() -> None:
    from digest.bylines import read_byline

    author = _first_entry_author("<dc:creator>Layla Haddad\nOmar Nasser\nAFP</dc:creator>")
    byline = read_byline(author, outlet="Gulf Wire")
    assert byline.people == ("Layla Haddad", "Omar Nasser")
    assert byline.credits == ("AFP",)


def _first_entry(document: str) -> Any:
    return clean(dict(feedparser.parse(document).entries[0]))


def _rss_item(title: str, description: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Gulf Wire</title>'
        f"<item><title>{title}</title><link>{SITE}a</link>"
        f"<description>{description}</description></item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("title", "description", "shown_title", "paragraphs"),
    [
        # HTML escaped twice showed the reader its tags: "Truce <em>holds</em>", "<p>Talks..."
        ("<![CDATA[Truce &lt;em&gt;holds&lt;/em&gt; in Gaza]]>",
         "<![CDATA[&lt;p&gt;Talks resume.&lt;/p&gt;&lt;p&gt;Israel said.&lt;/p&gt;]]>",
         "Truce holds in Gaza", ["Talks resume.", "Israel said."]),
        ("Truce &amp;lt;em&amp;gt;holds&amp;lt;/em&amp;gt;",
         "&amp;lt;p&amp;gt;Talks &amp;amp;amp; more.&amp;lt;/p&amp;gt;",
         "Truce holds", ["Talks & more."]),
        ("Truce holds", "<![CDATA[Talks resume.&lt;br /&gt;Israel said.]]>",
         "Truce holds", ["Talks resume.", "Israel said."]),
        # escaped twice, it is still sanitized
        ("Truce holds",
         "<![CDATA[&lt;script&gt;x()&lt;/script&gt;"
         "&lt;p onclick=&quot;x()&quot;&gt;Talks&lt;/p&gt;]]>",
         "Truce holds", ["Talks"]),
        # text that holds a "<" is text: no tag both opened and closed
        ("Why x &lt; y matters", "<![CDATA[If x &lt; y and a &lt;b&gt; tag is shown, &lt;3.]]>",
         "Why x < y matters", ["If x < y and a <b> tag is shown, <3."]),
        ("<![CDATA[Why a &lt;b&gt; tag matters]]>", "<![CDATA[<p>A &lt;b&gt; tag &lt;/i&gt;</p>]]>",
         "Why a <b> tag matters", ["A <b> tag </i>"]),
        # any of HTML's named references escaped twice, not only the few of punctuation:
        # "Caf&eacute; owners pay &euro;5" was shown as written
        ("<![CDATA[Caf&amp;eacute; owners pay &amp;euro;5]]>",
         "<![CDATA[<p>Caf&amp;eacute; owners pay &amp;euro;5 &amp;mdash; or more.</p>]]>",
         "Café owners pay €5", ["Café owners pay €5 — or more."]),
        ("Caf&amp;amp;eacute; &amp;amp;copy; AT&amp;amp;T;",
         "&lt;p&gt;Caf&amp;amp;eacute; AT&amp;amp;T; &amp;amp;lt;b&amp;amp;gt;&lt;/p&gt;",
         "Café © AT&T;", ["Café AT&T; <b>"]),
    ],
)  # fmt: skip
def test_markup_escaped_twice_is_read_as_markup(
    title: str, description: str, shown_title: str, paragraphs: list[str]
) -> None:
    from digest.ingest.summaries import paragraphs_of

    entry = _first_entry(_rss_item(title, description))
    assert entry.title == shown_title
    assert paragraphs_of(entry.summary_html) == paragraphs
    assert "<script" not in entry.summary_html and "onclick" not in entry.summary_html


@pytest.mark.parametrize(
    ("title", "description"),
    [
        # a CDATA section escaped inside the element, or wrapped in another
        ("&lt;![CDATA[Truce holds in Gaza]]&gt;",
         "&lt;![CDATA[&lt;p&gt;Talks resume.&lt;/p&gt;]]&gt;"),
        ("<![CDATA[<![CDATA[Truce holds in Gaza]]]]><![CDATA[>]]>",
         "<![CDATA[<![CDATA[<p>Talks resume.</p>]]]]><![CDATA[>]]>"),
    ],
)  # fmt: skip
def test_a_cdata_section_wrapped_twice_is_read_as_its_text(title: str, description: str) -> None:
    # Its markers reached the text, where HTML reads "<![CDATA[...]]>" as a comment: the title
    # was lost (the link or the summary's start stood for it) and the summary ended in "]]>".
    # Read as a poll reads it: feedparser's own sanitizer off (see digest.ingest.parse).
    document = _rss_item(title, description).encode()
    [entry] = parse_feed(
        document, url=FEED_URL, content_type="application/rss+xml", now=NOW
    ).entries
    assert entry.title == "Truce holds in Gaza"
    assert entry.summary_text == "Talks resume."
    author = "<dc:creator>&lt;![CDATA[Layla Haddad]]&gt;</dc:creator>"
    assert _first_entry_author(author) == "Layla Haddad"
    nested = "<dc:creator><![CDATA[<![CDATA[Layla Haddad]]]]><![CDATA[>]]></dc:creator>"
    assert _first_entry_author(nested) == "Layla Haddad"


def test_markup_in_an_atom_text_construct_is_read_as_markup() -> None:
    entry = _first_entry(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Gulf Wire</title>'
        f'<entry><title type="text">Truce &lt;em&gt;holds&lt;/em&gt;</title><link href="{SITE}a"/>'
        '<summary type="text">&lt;p&gt;Talks resume.&lt;/p&gt;&lt;p&gt;Israel said.&lt;/p&gt;'
        "</summary></entry></feed>"
    )
    assert entry.title == "Truce holds"
    assert entry.summary_text == "Talks resume. Israel said."


@pytest.mark.parametrize(
    "description",
    [
        # a "read more" link ending an excerpt printed its words as the summary's last ones
        '<p>Qatar signed the deal.</p><p><a href="/a">Read more</a></p>',
        '<p>Qatar signed the deal. <a href="/a">Continue reading <span class="meta-nav">&rarr;'
        "</span></a></p>",
        '<p>Qatar signed the deal. <a class="more-link" href="/a">Continue reading<span '
        'class="screen-reader-text"> "Qatar signs"</span></a></p>',
        'Qatar signed the deal. <a href="/a">Read More &raquo;</a>',
        '<p>Qatar signed the deal.</p><p><a href="/a">Read the story on Gulf Wire</a></p>',
        'Qatar signed the deal. <a href="/a">Click here to read more</a>',
        '<p>Qatar signed the deal.</p><p><a href="/a">Read the article</a></p>',
    ],
)
def test_a_read_more_link_ending_a_summary_goes(description: str) -> None:
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert entry.summary_text == "Qatar signed the deal."


@pytest.mark.parametrize(
    "description",
    [
        # the SEO plugins' footer in the other order of its words (Rank Math's default)
        '<p>Qatar signed the deal.</p><p>The post <a href="/a">Qatar signs</a> first appeared on '
        '<a href="/">Gulf Wire</a>.</p>',
        # after line breaks, not in a paragraph of its own
        'Qatar signed the deal.<br><br>The post <a href="/a">Qatar signs</a> appeared first on '
        '<a href="/">Gulf Wire</a>.',
        # in the excerpt's own paragraph
        '<p>Qatar signed the deal. The post <a href="/a">Qatar signs</a> appeared first on '
        '<a href="/">Gulf Wire</a>.</p>',
        # as plain text, its links gone
        "Qatar signed the deal. The post Qatar signs appeared first on Gulf Wire.",
    ],
)
def test_a_the_post_appeared_first_footer_goes_in_every_shape(description: str) -> None:
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert entry.summary_text == "Qatar signed the deal."


def test_a_sentence_about_a_post_that_appeared_first_stays() -> None:
    said = (
        "Queues grew in Muscat. The post office that appeared first on the list was closed, "
        "officials said on Monday."
    )
    entry = clean({"link": "https://gulfwire.example/a", "summary": said})
    assert entry.summary_text == said


@pytest.mark.parametrize(
    "description",
    [
        # the "read more" words left as text by a feed that strips links
        "Qatar signed the deal. Read more »",
        "Qatar signed the deal. Continue reading...",
        "<p>Qatar signed the deal.</p><p>Continue reading →</p>",
        "Qatar signed the deal. READ MORE",
        # the words, then the story's headline as the link
        '<p>Qatar signed the deal.</p><p>Read more: <a href="/a">Qatar signs LNG deal</a></p>',
        '<p>Qatar signed the deal.</p><p>READ MORE: <a href="/a">Qatar signs LNG deal</a></p>',
    ],
)
def test_read_more_words_ending_a_summary_go_without_their_link(description: str) -> None:
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert entry.summary_text == "Qatar signed the deal."


def test_read_more_words_within_a_sentence_stay() -> None:
    said = "Officials urged residents to read more about the plan"
    entry = clean({"link": "https://gulfwire.example/a", "summary": said})
    assert entry.summary_text == said


@pytest.mark.parametrize(
    "escaped", ["&lt;br&gt;", "&lt;br/&gt;", "&lt;BR /&gt;", "&amp;lt;br&amp;gt;"]
)
def test_a_line_break_escaped_inside_html_parts_its_lines(escaped: str) -> None:
    from digest.ingest.summaries import paragraphs_of

    # HTML whose breaks alone were escaped showed the reader "pact.<br>More talks".
    description = f"<p>Qatar and Oman signed a pact.{escaped}More talks next week.</p>"
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert paragraphs_of(entry.summary_html) == [
        "Qatar and Oman signed a pact.",
        "More talks next week.",
    ]
    assert "<br" not in entry.summary_text and "&lt;" not in entry.summary_html


def test_a_summary_that_is_only_a_read_more_link_is_no_summary() -> None:
    # Shown, the summary was the link's words alone: "Read the story".
    description = '<p><a href="/a">Read the story</a></p>'
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert entry.summary_text == "" and entry.summary_html == ""


def test_a_link_that_is_the_summary_s_own_text_stays() -> None:
    description = '<p>Qatar cited <a href="/r">the report</a></p>'
    entry = clean({"link": "https://gulfwire.example/a", "summary": description})
    assert entry.summary_text == "Qatar cited the report"


def test_an_arabic_read_more_link_ending_a_summary_goes() -> None:
    arabic = 'قالت الحكومة إن المحادثات مستمرة. <a href="/a">اقرأ المزيد</a>'
    entry = clean({"link": "https://gulfwire.example/a", "summary": arabic})
    assert entry.summary_text == "قالت الحكومة إن المحادثات مستمرة."


@pytest.mark.parametrize(
    ("author", "description"),
    [
        # the author field again as the summary's first paragraph: the byline printed it twice
        ("Jane Doe | Reuters", "<p>Jane Doe | Reuters</p><p>Qatar signed the deal.</p>"),
        ("By Jane Doe", "<p>Jane Doe</p><p>Qatar signed the deal.</p>"),
        ("أحمد علي", "<p>أحمد علي</p><p>Qatar signed the deal.</p>"),
    ],
)
def test_a_first_paragraph_that_repeats_the_author_goes(author: str, description: str) -> None:
    entry = clean({"link": "https://gulfwire.example/a", "author": author, "summary": description})
    assert entry.summary_text == "Qatar signed the deal."


def test_a_first_paragraph_that_only_starts_with_the_author_stays() -> None:
    description = "<p>Jane Doe said the deal was signed.</p><p>Qatar agreed.</p>"
    entry = clean(
        {"link": "https://gulfwire.example/a", "author": "Jane Doe", "summary": description}
    )
    assert entry.summary_text == "Jane Doe said the deal was signed. Qatar agreed."
    alone = clean(
        {"link": "https://gulfwire.example/b", "author": "Jane Doe", "summary": "Jane Doe"}
    )
    assert alone.summary_text == "Jane Doe"  # nothing else to show
