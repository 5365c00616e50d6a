"""A subscriber's copy of an edition: placeholders filled, headers, MIME structure, escaping."""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest import placeholders
from digest.config import ListSettings, ServiceSettings
from digest.errors import DeliveryPermanentError
from digest.mail.personalize import personalize
from digest.mail.tokens import TokenSigner
from digest.records import OutgoingMessage, RenderedEdition, Subscriber

NOW = datetime(2024, 5, 1, 3, 0, 5, tzinfo=UTC)
SLOT = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)

SERVICE = ServiceSettings(
    base_url="https://briefing.example.org",
    sender_name="The Middle East Desk",
    sender_address="briefing@example.org",
    reply_to="desk@example.org",
    postal_address="Example Media Ltd, 12 Harbour Street, Dubai",
)
DIGEST_LIST = ListSettings(
    slug="middle-east-daily",
    name="The Middle East in your inbox",
    topics=("middle-east",),
    schedule="0 7 * * *",
    timezone="Asia/Dubai",
    subscribers=Path("subscribers/middle-east-daily.csv"),
)

HTML = (
    '<!DOCTYPE html><html><body style="margin:0">'
    f'<p style="font-size:16px">{placeholders.GREETING}</p>'
    "<h1>Talks resume in Muscat</h1>"
    "<p>" + "Envoys met for a third day. " * 80 + "</p>"  # one very long line
    '<p dir="rtl">استؤنفت المحادثات في مسقط</p>'
    f"<p>Sent to {placeholders.SUBSCRIBER_EMAIL}. "
    f'<a href="{placeholders.UNSUBSCRIBE_URL}">Unsubscribe</a></p>'
    "</body></html>\n"
)
TEXT = (
    f"{placeholders.GREETING}\n\n"
    "Talks resume in Muscat\n"
    "استؤنفت المحادثات في مسقط\n\n"
    f"Sent to {placeholders.SUBSCRIBER_EMAIL}.\n"
    f"Unsubscribe: {placeholders.UNSUBSCRIBE_URL}\n"
)
RENDERED = RenderedEdition(
    list_slug="middle-east-daily",
    slot=SLOT,
    subject="The Middle East in your inbox: Talks resume in Muscat",
    preheader="Envoys met for a third day",
    html=HTML,
    text=TEXT,
    article_count=12,
)
SIGNER = TokenSigner("test-secret-0123456789")
SAM = Subscriber(id=345, email="sam@example.org", name="Sam Haddad")


def make(
    subscriber: Subscriber = SAM,
    *,
    rendered: RenderedEdition = RENDERED,
    service: ServiceSettings = SERVICE,
    digest_list: ListSettings = DIGEST_LIST,
    now: datetime = NOW,
    edition_id: int = 12,
) -> OutgoingMessage:
    return personalize(
        rendered,
        subscriber,
        edition_id=edition_id,
        service=service,
        digest_list=digest_list,
        signer=SIGNER,
        now=now,
    )


def parse(message: OutgoingMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(parsed: EmailMessage) -> tuple[str, str]:
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    # Quoted-printable carries the CRLF line ends of the wire; compare in Python's "\n".
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def test_headers() -> None:
    message = make()
    parsed = parse(message)
    assert parsed["From"] == "The Middle East Desk <briefing@example.org>"
    assert parsed["To"] == "Sam Haddad <sam@example.org>"
    assert parsed["Reply-To"] == "desk@example.org"
    assert parsed["Subject"] == "The Middle East in your inbox: Talks resume in Muscat"
    assert email.utils.parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed["Message-ID"] == message.message_id
    assert parsed["List-Id"] == '"The Middle East in your inbox" <middle-east-daily.example.org>'
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["MIME-Version"] == "1.0"
    assert "Bcc" not in parsed and "Cc" not in parsed
    assert message.sender == "briefing@example.org"
    assert message.recipient == "sam@example.org"


def test_no_reply_to_unless_configured() -> None:
    service = SERVICE.model_copy(update={"reply_to": None})
    assert "Reply-To" not in parse(make(service=service))


def test_message_is_multipart_alternative_text_then_html_in_utf8() -> None:
    parsed = parse(make())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    text, html = bodies(parsed)
    assert "استؤنفت المحادثات في مسقط" in text
    assert "<h1>Talks resume in Muscat</h1>" in html
    assert "استؤنفت المحادثات في مسقط" in html


def test_wire_format_is_crlf_ascii_with_short_lines() -> None:
    data = make().data
    assert data.isascii(), "7-bit clean: no server needs 8BITMIME"
    assert b"\n" not in data.replace(b"\r\n", b""), "every line ends in CRLF"
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    head, _, _ = data.partition(b"\r\n\r\n")
    # Headers are folded, except List-Unsubscribe whose URL must stay one piece.
    for line in head.split(b"\r\n"):
        assert len(line) <= 78 or line.startswith(b"List-Unsubscribe:"), line


def test_greeting_with_name() -> None:
    text, html = bodies(parse(make()))
    assert text.startswith("Hello Sam Haddad,\n")
    assert '<p style="font-size:16px">Hello Sam Haddad,</p>' in html


def test_greeting_without_name() -> None:
    for subscriber in (
        Subscriber(id=9, email="anon@example.org"),
        Subscriber(id=9, email="anon@example.org", name="  \t "),
    ):
        parsed = parse(make(subscriber))
        text, html = bodies(parsed)
        assert text.startswith("Hello,\n")
        assert '<p style="font-size:16px">Hello,</p>' in html
        assert parsed["To"] == "anon@example.org"


def test_every_placeholder_is_filled() -> None:
    data = make().data
    text, html = bodies(parse(make()))
    for marker in placeholders.ALL:
        assert marker not in text and marker not in html
    assert b"%%DIGEST" not in data
    assert "Sent to sam@example.org." in text
    assert "Sent to sam@example.org." in html


def test_unsubscribe_link_matches_header_and_reads_back() -> None:
    parsed = parse(make())
    header = parsed["List-Unsubscribe"]
    assert header.startswith("<https://briefing.example.org/unsubscribe/") and header.endswith(">")
    url = header[1:-1]
    text, html = bodies(parsed)
    assert f"Unsubscribe: {url}\n" in text
    assert f'<a href="{url}">Unsubscribe</a>' in html
    token = url.rpartition("/")[2]
    assert SIGNER.read_unsubscribe_token(token) == (345, "middle-east-daily")


def test_hostile_name_is_escaped_in_html_and_kept_out_of_headers() -> None:
    hostile = Subscriber(
        id=666,
        email="eve@example.org",
        name='Eve <script>alert("x")</script>\r\nBcc: victim@example.net',
    )
    message = make(hostile)
    parsed = parse(message)
    text, html = bodies(parsed)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    # The text part is plain text: the name as given, but on one line.
    assert text.startswith('Hello Eve <script>alert("x")</script> Bcc: victim@example.net,\n')
    # No header was injected: one recipient, and the name is only a display name.
    assert "Bcc" not in parsed
    assert b"\r\nBcc:" not in message.data
    to = parsed["To"]
    assert [address.addr_spec for address in to.addresses] == ["eve@example.org"]
    assert to.addresses[0].display_name == 'Eve <script>alert("x")</script> Bcc: victim@example.net'


def test_line_breaks_in_subject_and_list_name_are_neutralized() -> None:
    rendered = RenderedEdition(
        list_slug=RENDERED.list_slug,
        slot=SLOT,
        subject="Talks resume\r\nBcc: victim@example.net\nX-Evil: 1",
        preheader="",
        html=HTML,
        text=TEXT,
        article_count=1,
    )
    message = make(rendered=rendered)
    parsed = parse(message)
    assert parsed["Subject"] == "Talks resume Bcc: victim@example.net X-Evil: 1"
    assert "Bcc" not in parsed and "X-Evil" not in parsed


def test_arabic_name_is_encoded_in_to() -> None:
    message = make(Subscriber(id=7, email="m.abdullah@example.org", name="محمد عبد الله"))
    head = message.data.partition(b"\r\n\r\n")[0].decode("ascii")
    assert "=?utf-8?" in head.split("To:", 1)[1].split("\r\nReply-To:", 1)[0]
    parsed = parse(message)
    to = parsed["To"]
    assert to.addresses[0].display_name == "محمد عبد الله"
    assert to.addresses[0].addr_spec == "m.abdullah@example.org"
    text, _ = bodies(parsed)
    assert text.startswith("Hello محمد عبد الله,\n")


def test_non_ascii_subject_and_list_name_are_encoded() -> None:
    digest_list = DIGEST_LIST.model_copy(update={"name": "الشرق الأوسط في بريدك"})
    rendered = RenderedEdition(
        list_slug=RENDERED.list_slug,
        slot=SLOT,
        subject="الشرق الأوسط في بريدك: استؤنفت المحادثات في مسقط",
        preheader="",
        html=HTML,
        text=TEXT,
        article_count=1,
    )
    message = make(rendered=rendered, digest_list=digest_list)
    assert message.data.isascii()
    parsed = parse(message)
    assert parsed["Subject"] == "الشرق الأوسط في بريدك: استؤنفت المحادثات في مسقط"
    assert parsed["List-Id"] == "الشرق الأوسط في بريدك <middle-east-daily.example.org>"


def test_list_name_with_quotes_is_a_valid_quoted_string() -> None:
    digest_list = DIGEST_LIST.model_copy(update={"name": 'The "Desk" \\ Daily'})
    parsed = parse(make(digest_list=digest_list))
    assert parsed["List-Id"] == '"The \\"Desk\\" \\\\ Daily" <middle-east-daily.example.org>'


def test_message_id_is_deterministic_per_edition_and_subscriber() -> None:
    first = make()
    assert first.message_id.startswith("<12.345.") and first.message_id.endswith("@example.org>")
    later = make(now=NOW + timedelta(hours=3))
    assert later.message_id == first.message_id, "a resend carries the same Message-ID"
    assert later.data != first.data  # the Date differs
    other_subscriber = make(Subscriber(id=346, email="rana@example.org", name="Rana"))
    assert other_subscriber.message_id != first.message_id
    other_edition = make(edition_id=13)
    assert other_edition.message_id != first.message_id


def test_same_inputs_give_the_same_bytes() -> None:
    assert make().data == make().data


def test_message_id_domain_is_the_senders() -> None:
    service = SERVICE.model_copy(update={"sender_address": "news@Mail.Example.COM"})
    message = make(service=service)
    assert message.message_id.endswith("@mail.example.com>")
    assert parse(message)["List-Id"].endswith("<middle-east-daily.mail.example.com>")


def test_unusable_address_is_a_permanent_delivery_error() -> None:
    with pytest.raises(DeliveryPermanentError) as caught:
        make(Subscriber(id=1, email="not an address"))
    assert caught.value.recipient == "not an address"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make(now=datetime(2024, 5, 1, 3, 0))
