"""The mail's polish in its final HTML (after premailer): Outlook for Windows' settings, the
"Also covered by" line's fonts, the direction of the "More from" label, the lead picture's box."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from lxml import html as lxml_html

from digest.records import Edition
from digest.render import Renderer
from tests.test_render import article, make_settings, sample_edition


def with_also_covered(edition: Edition) -> Edition:
    """``sample_edition`` with two other outlets' reports of the lead story."""
    assert edition.lead is not None
    others = (
        article(21, "Riyadh and Tehran to reopen trade offices", feed="Gulf Wire"),
        article(22, "Saudi-Iran trade offices to reopen by March", feed="Levant Post"),
    )
    return replace(edition, lead=replace(edition.lead, also_covered_by=others))


def render(tmp_path: Path, edition: Edition | None = None, **list_overrides: object) -> str:
    settings = make_settings(tmp_path, **list_overrides)
    renderer = Renderer(settings)
    return renderer.render(
        edition or with_also_covered(sample_edition()), settings.list("middle-east-daily")
    ).html


def style_of(element: lxml_html.HtmlElement) -> str:
    return str(element.get("style") or "").replace(" ", "")


def test_outlook_settings_survive_inlining(tmp_path: Path) -> None:
    html = render(tmp_path)
    opening = html[: html.index("<head")]
    assert 'xmlns:v="urn:schemas-microsoft-com:vml"' in opening
    assert 'xmlns:o="urn:schemas-microsoft-com:office:office"' in opening
    head = html[: html.index("<body")]
    settings = re.search(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", head, re.S)
    assert settings is not None, "the conditional comment left the head"
    assert "<o:OfficeDocumentSettings>" in settings.group(1)
    assert "<o:PixelsPerInch>96</o:PixelsPerInch>" in settings.group(1)
    # The 600px ghost table holds the top bar as well as the edition and the footer.
    body = html[html.index("<body") :]
    ghost_open = body.index('<!--[if mso]><table role="presentation" width="600"')
    ghost_close = body.index("<!--[if mso]></td></tr></table><![endif]-->")
    assert ghost_open < body.index('class="topbar"') < body.index('class="container"')
    assert body.index('class="footer"') < ghost_close


def test_spacer_rows_have_an_exact_line_height_for_outlook(tmp_path: Path) -> None:
    # Without recommendations, a spacer row closes the last section.
    edition = replace(with_also_covered(sample_edition()), recommended=())
    tree = lxml_html.fromstring(render(tmp_path, edition))
    spacers = tree.xpath(
        "//td[contains(@class,'accent-bar') or contains(@class,'rule-double')"
        " or contains(@class,'spacer') or contains(@class,'gutter')]"
    )
    classes = {cls for td in spacers for cls in td.get("class", "").split()}
    assert {"accent-bar", "rule-double", "spacer", "gutter"} <= classes
    for td in spacers:
        style = style_of(td)
        # Outlook reads the rule only before the line-height it governs.
        assert "mso-line-height-rule:exactly;line-height:" in style, (td.get("class"), style)


def test_also_covered_by_is_set_in_the_mails_own_fonts(tmp_path: Path) -> None:
    tree = lxml_html.fromstring(render(tmp_path))
    (line,) = tree.xpath("//p[contains(@class,'also-covered')]")
    assert "font-family:Helvetica,Arial,sans-serif" in style_of(line)
    assert [link.text for link in line.xpath(".//a")] == ["Gulf Wire", "Levant Post"]


def test_more_from_label_takes_the_lists_direction_and_isolates_the_name(tmp_path: Path) -> None:
    # An Arabic list; the story with "More from" is in English, laid out left to right.
    tree = lxml_html.fromstring(render(tmp_path, language="ar"))
    (title,) = tree.xpath("//p[contains(@class,'more-from-title')]")
    assert title.xpath("ancestor::table[contains(@class,'story')][1]/@dir") == ["ltr"]
    assert title.get("dir") == "rtl" and title.get("lang") == "ar"
    assert [bdi.text for bdi in title.xpath("bdi")] == ["Layla Haddad"]
    assert title.text.strip() == "المزيد من"


def test_lead_picture_keeps_its_box_when_pictures_are_held_back(tmp_path: Path) -> None:
    tree = lxml_html.fromstring(render(tmp_path))
    (image,) = tree.xpath("//img[contains(@class,'lead-image')]")
    cell = image.getparent()
    assert cell.tag == "td"
    assert (cell.get("width"), cell.get("height")) == ("528", "297")
    style = style_of(cell)
    assert "height:297px" in style and "background-color:#ebe6dc" in style
    # The alt text shows in the mail's caption style, centred in the box.
    assert "font-family:Helvetica,Arial,sans-serif" in style and "text-align:center" in style


def test_a_story_without_a_picture_has_no_empty_box(tmp_path: Path) -> None:
    edition = sample_edition()
    assert edition.lead is not None
    bare = replace(edition.lead, article=replace(edition.lead.article, image_url=None))
    tree = lxml_html.fromstring(render(tmp_path, replace(edition, lead=bare)))
    assert tree.xpath("//td[contains(@class,'lead-image-cell')]") == []


def test_an_english_lists_more_from_stays_left_to_right_over_an_arabic_story(
    tmp_path: Path,
) -> None:
    edition = sample_edition()
    section = edition.sections[0]
    arabic = section.items[2]
    assert arabic.article.language == "ar"
    earlier = article(30, "تقرير سابق عن التأشيرات", author="أحمد الخطيب", language="ar")
    items = (*section.items[:2], replace(arabic, more_from=(earlier,)))
    edition = replace(edition, sections=(replace(section, items=items), *edition.sections[1:]))
    tree = lxml_html.fromstring(render(tmp_path, edition))
    titles = tree.xpath("//p[contains(@class,'more-from-title')]")
    (title,) = [p for p in titles if p.xpath("bdi")[0].text == "أحمد الخطيب"]
    assert title.xpath("ancestor::table[contains(@class,'story')][1]/@dir") == ["rtl"]
    assert (title.get("dir"), title.get("lang"), title.text.strip()) == ("ltr", "en", "More from")


def test_also_covered_by_is_in_the_lists_language(tmp_path: Path) -> None:
    tree = lxml_html.fromstring(render(tmp_path, language="ar"))
    (line,) = tree.xpath("//p[contains(@class,'also-covered')]")
    assert (line.get("dir"), line.get("lang")) == ("rtl", "ar")
    assert line.text.strip() == "تناولته أيضًا:"
