"""Tests for digest.lint: the checks that stop a bad edition before any of its messages goes out."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from digest import pipeline
from digest.clock import FixedClock
from digest.errors import EditionLintError, RenderError
from digest.lint import HTML_SIZE_LIMIT, Finding, blocking, lint_edition, reject_if_blocking
from digest.mail.personalize import personalize
from digest.mail.tokens import TokenSigner
from digest.mail.transport import MemoryTransport
from digest.records import OutgoingMessage, RenderedEdition, Subscriber
from digest.render import Renderer
from digest.services import build_services
from tests.test_pipeline import DAY1, feeds, make_settings, write_feed  # noqa: F401
from tests.test_render import make_settings as render_settings
from tests.test_render import sample_edition

POSTAL = "Example Media Ltd, 12 Harbour Street, Dubai Media City, Dubai, United Arab Emirates"
UNSUBSCRIBE = "https://briefing.example.org/unsubscribe/token-123"
GOOD_HTML = f"""<!DOCTYPE html><html><head><style>p {{ margin: 0 }}</style></head><body>
<p><a href="https://news.example.org/a">A story</a></p>
<img src="https://images.example.org/a.jpg" width="96" alt="Photo · Gulf Wire">
<p><a href="{UNSUBSCRIBE}">Unsubscribe</a></p><p>{POSTAL}</p></body></html>"""
GOOD_TEXT = f"A story\nhttps://news.example.org/a\n\nUnsubscribe:\n{UNSUBSCRIBE}\n\n{POSTAL}\n"
HEADERS = {
    "From": "The Middle East Desk <briefing@example.org>",
    "To": "reader@example.org",
    "Subject": "The Middle East in your inbox",
    "Date": "Wed, 25 Nov 2026 07:00:00 +0400",
    "Message-ID": "<0.0.abc@example.org>",
    "List-Id": '"The Middle East in your inbox" <middle-east-daily.example.org>',
    "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def message(
    html: str | None = GOOD_HTML, text: str | None = GOOD_TEXT, **headers: str | None
) -> OutgoingMessage:
    """A whole message with the given parts; a header given as None is left out."""
    mail = EmailMessage(policy=SMTP)
    for name, value in {**HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}}.items():
        if value is not None:
            mail[name] = value
    if text is not None:
        mail.set_content(text)
    if html is not None:
        if text is None:
            mail.set_content(html, subtype="html")
        else:
            mail.add_alternative(html, subtype="html")
    return OutgoingMessage("briefing@example.org", "reader@example.org", "<x>", mail.as_bytes())


RENDERED = RenderedEdition(
    list_slug="middle-east-daily",
    slot=sample_edition().slot,
    subject="s",
    preheader="p",
    html="",
    text="",
    article_count=1,
)


def findings(sample: OutgoingMessage) -> list[Finding]:
    return list(lint_edition(RENDERED, sample, postal_address=POSTAL))


def checks(sample: OutgoingMessage) -> list[str]:
    return [finding.check for finding in findings(sample) if finding.blocking]


def test_a_good_message_has_no_findings() -> None:
    assert findings(message()) == []


@pytest.mark.parametrize(
    "missing", ["From", "Date", "Message-ID", "List-Id", "List-Unsubscribe-Post"]
)
def test_each_required_header(missing: str) -> None:
    found = findings(message(**{missing.replace("-", "_"): None}))
    assert [f.check for f in found if f.blocking][:1] == ["headers"], found
    assert any(missing in f.message for f in found)


def with_header_lines(lines: bytes) -> OutgoingMessage:
    """The good message with raw ``lines`` (CRLF-ended) put right after its Subject header."""
    good = message()
    data = good.data.replace(b"\r\nDate:", b"\r\n" + lines + b"Date:", 1)
    assert data != good.data
    return OutgoingMessage(good.sender, good.recipient, good.message_id, data)


def test_a_forged_or_doubled_header_is_refused() -> None:
    forged = findings(with_header_lines(b"Reply-To: x@evil.example\r\nX-Injected: 1\r\n"))
    assert [f.check for f in forged if f.blocking] == ["headers"]
    assert "forged headers: x-injected (not the mailer's)" in forged[0].message
    doubled = findings(with_header_lines(b"Subject: a second subject\r\n"))
    assert [f.message for f in doubled] == ["the personal copies carry forged headers: subject"]


def test_a_header_that_decodes_to_a_line_break_is_refused() -> None:
    found = findings(with_header_lines(b"Comments: =?utf-8?q?a=0D=0AX-Injected:_1?=\r\n"))
    assert any("the Comments header holds a line break once decoded" in f.message for f in found)
    separator = findings(with_header_lines(b"Keywords: a =?utf-8?b?4oCo?= b\r\n"))  # U+2028
    assert any("Keywords header holds a line break" in f.message for f in separator)


def test_a_header_line_over_998_octets_is_refused() -> None:
    found = findings(message(To="reader@example.org", Subject="x" * 1200))
    assert not any("octets" in f.message for f in found)  # the email package folds it
    raw = findings(with_header_lines(b"Comments: " + b"x" * 1000 + b"\r\n"))
    assert any("1010 octets long" in f.message for f in raw)


def test_one_click_unsubscribe_needs_https_and_the_post_header() -> None:
    found = findings(message(List_Unsubscribe="<mailto:leave@example.org>"))
    assert any("<https://" in f.message for f in found)
    wrong = findings(message(List_Unsubscribe_Post="List-Unsubscribe=Yes"))
    assert any("RFC 8058" in f.message for f in wrong)
    nameless = findings(message(From="briefing@example.org"))
    assert any("sender_name" in f.message for f in nameless)


@pytest.mark.parametrize("base", ["http://127.0.0.1:8080", "http://localhost:8080"])
def test_a_plain_http_unsubscribe_link_passes_on_a_loopback_host_only(base: str) -> None:
    url = f"{base}/unsubscribe/token"
    local = message(
        html=GOOD_HTML.replace(UNSUBSCRIBE, url),
        text=GOOD_TEXT.replace(UNSUBSCRIBE, url),
        List_Unsubscribe=f"<{url}>",
    )
    assert checks(local) == []
    remote = url.replace(base, "http://news.example.org")
    public = message(
        html=GOOD_HTML.replace(UNSUBSCRIBE, remote),
        text=GOOD_TEXT.replace(UNSUBSCRIBE, remote),
        List_Unsubscribe=f"<{remote}>",
    )
    assert "headers" in checks(public)


def test_postal_address_must_show_in_both_parts() -> None:
    found = findings(
        message(html=GOOD_HTML.replace(POSTAL, ""), text=GOOD_TEXT.replace(POSTAL, ""))
    )
    assert [f.message for f in found if f.check == "postal-address"] == [
        "the HTML part does not show service.postal_address",
        "the plain-text part does not show service.postal_address",
    ]
    # Wrapped over two lines in the text part, or with entities in the HTML, it still counts.
    wrapped = GOOD_TEXT.replace("Dubai, United", "Dubai,\nUnited")
    assert findings(message(text=wrapped, html=GOOD_HTML.replace("Ltd,", "Ltd&#44;"))) == []


def test_unsubscribe_link_in_both_parts() -> None:
    html = GOOD_HTML.replace(f'<a href="{UNSUBSCRIBE}">Unsubscribe</a>', "")
    assert checks(message(html=html)) == ["unsubscribe"]
    assert checks(message(text=GOOD_TEXT.replace(UNSUBSCRIBE, ""))) == ["unsubscribe"]


def test_a_plain_text_part_is_required() -> None:
    assert checks(message(text=None)) == ["text-part"]
    assert checks(message(text=" \n")) == ["text-part", "postal-address", "unsubscribe"]


def test_html_over_the_clipping_limit_is_refused() -> None:
    padding = "<p>" + "x" * (HTML_SIZE_LIMIT + 1) + "</p>"
    found = findings(message(html=GOOD_HTML.replace("</body>", padding + "</body>")))
    (size,) = [f for f in found if f.check == "size"]
    assert size.blocking and "102 KB" in size.message and "max_articles" in size.message


def test_images_need_alt_text_and_links_must_be_absolute() -> None:
    html = GOOD_HTML.replace('alt="Photo · Gulf Wire"', 'alt=" "').replace(
        "https://news.example.org/a", "/a"
    )
    found = findings(message(html=html))
    assert sorted(f.check for f in found if f.blocking) == ["images", "links"]
    assert any("'/a'" in f.message for f in found)
    javascript = GOOD_HTML.replace("https://news.example.org/a", "javascript:alert(1)")
    assert checks(message(html=javascript)) == ["links"]
    # mailto: is an absolute link too; a missing width only warns.
    fine = GOOD_HTML.replace("https://news.example.org/a", "mailto:desk@example.org")
    found = findings(message(html=fine.replace(' width="96"', "")))
    assert [(f.check, f.blocking) for f in found] == [("images", False)]


def test_a_marker_left_unfilled_is_refused() -> None:
    found = findings(message(html=GOOD_HTML.replace("A story", "%%DIGEST-NICKNAME%%")))
    assert [f.check for f in found] == ["placeholders"]
    assert "%%DIGEST-NICKNAME%%" in found[0].message


def test_reject_if_blocking_says_what_to_fix() -> None:
    reject_if_blocking(RENDERED, [Finding("images", "no width", blocking=False)])  # warns only
    bad = findings(message(html=GOOD_HTML.replace(POSTAL, "")))
    with pytest.raises(EditionLintError) as raised:
        reject_if_blocking(RENDERED, bad)
    assert isinstance(raised.value, RenderError)
    text = str(raised.value)
    assert "list 'middle-east-daily'" in text and "was not sent" in text
    assert "postal-address: the HTML part does not show service.postal_address" in text
    assert raised.value.findings == tuple(blocking(bad))
    # Rebuilt from its message alone, as Celery does with a worker's exception.
    assert str(EditionLintError(text)) == text


def test_the_rendered_example_passes_through_a_real_personal_copy(tmp_path: Path) -> None:
    settings = render_settings(tmp_path)
    digest_list = settings.list("middle-east-daily")
    rendered = Renderer(settings).render(sample_edition(), digest_list)
    sample = personalize(
        rendered,
        Subscriber(id=7, email="sam@example.org", name="Sam"),
        edition_id=3,
        service=settings.service,
        digest_list=digest_list,
        signer=TokenSigner("test-secret-0123456789"),
        now=rendered.slot,
    )
    found = lint_edition(rendered, sample, postal_address=settings.service.postal_address)
    print("\n".join(map(str, found)) or "no findings")
    assert found == ()


# ---------------------------------------------------------------------------------------------
# In the pipeline: a refused edition is not stored, nothing is queued, and it goes out once fixed


def test_a_bad_edition_is_not_sent_and_goes_out_once_fixed(
    tmp_path: Path,
    feeds: tuple[Path, str],  # noqa: F811
) -> None:
    folder, base_url = feeds
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=2))])
    brand = tmp_path / "brand" / "email"
    brand.mkdir(parents=True)
    # An operator's text template that forgot the unsubscribe link and the postal address.
    (brand / "digest.txt.j2").write_text("{{ list_name }}\n", encoding="utf-8")
    settings = make_settings(tmp_path, base_url)
    broken = settings.model_copy(
        update={"service": settings.service.model_copy(update={"templates": tmp_path / "brand"})}
    )
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    services = build_services(broken, clock=clock, transport=transport)
    try:
        summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        assert summary.editions_built == 0 and summary.messages_delivered == 0
        (problem,) = summary.problems
        assert "list 'daily'" in problem and "was not sent" in problem
        assert "postal-address: the plain-text part" in problem
        assert "unsubscribe: the plain-text part" in problem
        assert transport.sent == []
        assert services.store.latest_edition("daily") is None  # the window is not used up
        assert services.store.editions_with_pending_deliveries() == []
    finally:
        services.close()

    (brand / "digest.txt.j2").unlink()  # the operator fixes the template
    clock.advance(timedelta(minutes=1))
    services = build_services(settings, clock=clock, transport=transport)
    try:
        summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        assert summary.problems == () and summary.messages_delivered == 3
        assert all(b"Iran story 1" in sent.data for sent in transport.sent)
    finally:
        services.close()


def test_an_empty_alt_is_a_picture_to_skip_and_no_alt_is_refused() -> None:
    # A picture its publisher did not describe has alt="" (the headline beside it says what it
    # is): a screen reader skips it. It was refused as "no alt text", as a missing alt is.
    skipped = GOOD_HTML.replace('alt="Photo · Gulf Wire"', 'alt=""')
    assert checks(message(html=skipped)) == []
    missing = GOOD_HTML.replace(' alt="Photo · Gulf Wire"', "")
    assert checks(message(html=missing)) == ["images"]
