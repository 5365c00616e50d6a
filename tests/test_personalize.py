"""A subscriber's copy of an edition: placeholders filled, headers, MIME structure, escaping."""

from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest import placeholders
from digest.config import ListSettings, ServiceSettings, Settings
from digest.config.values import BASE_URL_LIMIT
from digest.errors import DeliveryPermanentError
from digest.mail.personalize import Personalizer, fill_for_preview, personalize
from digest.mail.tokens import InvalidToken, TokenSigner
from digest.records import (
    Article,
    Edition,
    EditionItem,
    OutgoingMessage,
    RenderedEdition,
    Section,
    Subscriber,
)
from digest.render import Renderer

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

PUBLISHED = datetime(2024, 5, 1, 1, 14, tzinfo=UTC)  # 05:14 in Dubai, 21:14 the day before in NY
HTML = (
    '<!DOCTYPE html><html><body style="margin:0">'
    f'<p style="font-size:16px">{placeholders.GREETING}</p>'
    "<h1>Talks resume in Muscat</h1>"
    f"<p>Gulf Wire &middot; {placeholders.time_marker(PUBLISHED)}</p>"
    "<p>" + "Envoys met for a third day. " * 80 + "</p>"  # one very long line
    '<p dir="rtl">استؤنفت المحادثات في مسقط</p>'
    f"<p>Sent to {placeholders.SUBSCRIBER_EMAIL}. "
    f'<a href="{placeholders.UNSUBSCRIBE_URL}">Unsubscribe</a> '
    f'<a href="{placeholders.PREFERENCES_URL}">Preferences</a></p>'
    "</body></html>\n"
)
TEXT = (
    f"{placeholders.GREETING}\n\n"
    "Talks resume in Muscat\n"
    f"Gulf Wire · {placeholders.time_marker(PUBLISHED)}\n"
    "...and a line that starts with dots\n"
    ".\n"
    "استؤنفت المحادثات في مسقط\n\n"
    f"Sent to {placeholders.SUBSCRIBER_EMAIL}.\n"
    f"Unsubscribe: {placeholders.UNSUBSCRIBE_URL}\n"
    f"Preferences: {placeholders.PREFERENCES_URL}\n"
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


def rendered_with_subject(subject: str) -> RenderedEdition:
    """RENDERED under another ``subject``, with no preheader and one article."""
    return replace(RENDERED, subject=subject, preheader="", article_count=1)


# An RFC 2047 encoded word as a phrase may hold it: base64, or Q with no special left bare.
ENCODED_WORD = r"=\?utf-8\?(?:[bB]\?[A-Za-z0-9+/=]+|[qQ]\?[A-Za-z0-9!*+/=_-]+)\?="


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


def test_a_long_sender_name_with_a_colon_and_a_comma_stays_the_senders_name() -> None:
    """Too long for one line with the address: still one quoted string, not a group "The
    Middle East Desk:" of bare words and another address."""
    name = "The Middle East Desk: news, analysis and comment from our correspondents in Gaza"
    parsed = parse(make(service=SERVICE.model_copy(update={"sender_name": name})))
    [sender] = parsed["From"].addresses
    assert (sender.addr_spec, sender.display_name) == ("briefing@example.org", name)


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


def test_every_copy_asks_auto_responders_not_to_answer() -> None:
    # Out-of-office replies go to the sender whatever Reply-To says: without these marks every
    # edition brought the desk one from each reader away, and the sieve vacation, Gmail and
    # Exchange responders each read another of them (RFC 3834 and 5230, Precedence, MS-OXCMAIL).
    parsed = parse(make())
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Precedence"] == "bulk"
    assert parsed["X-Auto-Response-Suppress"] == "OOF, AutoReply"


def test_the_longest_base_url_the_config_takes_fits_the_unsubscribe_header() -> None:
    base_url = "https://briefing.example.org/" + "p" * (BASE_URL_LIMIT - 29)
    service = ServiceSettings(**{**SERVICE.model_dump(), "base_url": base_url})
    assert len(service.base_url) == BASE_URL_LIMIT
    # The longest slug a list may have, and the largest id a subscriber row may have.
    digest_list = DIGEST_LIST.model_copy(update={"slug": "s" * 63})
    reader = Subscriber(id=2**63 - 1, email="sam@example.org", name="Sam")
    message = make(reader, service=service, digest_list=digest_list)
    head = message.data.partition(b"\r\n\r\n")[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert parse(message)["List-Unsubscribe"].startswith(f"<{base_url}/unsubscribe/")


def test_an_edition_with_no_subject_goes_under_the_lists_name() -> None:
    parsed = parse(make(rendered=rendered_with_subject("")))
    assert parsed["Subject"] == "The Middle East in your inbox"


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
    message = make()
    assert message.smtp_ready, "the transport may send it without rewriting it"
    data = message.data
    assert data.isascii(), "7-bit clean: no server needs 8BITMIME"
    assert b"\n" not in data.replace(b"\r\n", b""), "every line ends in CRLF"
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    head, _, body = data.partition(b"\r\n\r\n")
    # Headers are folded, except List-Unsubscribe, whose two URLs must each stay in one piece.
    unsubscribe = head.split(b"\r\nList-Unsubscribe: ")[1].split(b"\r\nList-Unsubscribe-Post")[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 78 or line.removeprefix(b"List-Unsubscribe: ") in unsubscribe, line
    # Quoted-printable lines are at most 76 characters, and none needs SMTP dot-stuffing.
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert b"\r\n." not in data


@pytest.mark.parametrize("padding", range(0, 80, 7))
def test_no_line_of_a_copy_starts_with_from_and_a_space(tmp_path: Path, padding: int) -> None:
    # An mbox file ends each message at a line "From …": mail stored in one (Thunderbird's local
    # folders, mutt, Python's mailbox) has every such line of the body written ">From …", so a
    # headline "From Gaza to Kyiv…" read ">From Gaza to Kyiv…", and the body no longer matched
    # its DKIM hash. Quoted-printable can write the F as "=46" (RFC 2049), also after a soft
    # line break, in a subscriber's value, and where the "=46" makes a line too long.
    headline = "From Gaza to Kyiv, the envoys' week"
    long_line = "x" * padding + " From the desk " + "From " * 20
    text = RENDERED.text.replace("Talks resume in Muscat\n", f"{headline}\n{long_line}\n")
    reader = Subscriber(id=5, email="zoe@example.org", name="From Here")
    message = make(reader, rendered=replace(RENDERED, text=text, html=RENDERED.html + long_line))
    body = message.data.partition(b"\r\n\r\n")[2]
    assert not [line for line in body.split(b"\r\n") if line.startswith(b"From ")]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    box = mailbox.mbox(tmp_path / "mbox")
    box.add(message.data)
    box.close()
    [stored] = mailbox.mbox(tmp_path / "mbox")
    read = email.message_from_bytes(stored.as_bytes(), policy=email.policy.default)
    assert isinstance(read, EmailMessage)
    text_read, html_read = bodies(read)
    assert text_read.startswith(f"Hello From Here,\n\n{headline}\n{long_line}\n")
    assert html_read.endswith(long_line)


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


@pytest.mark.parametrize(
    ("language", "named", "unnamed"),
    [
        ("ar", "مرحباً Sam Haddad،", "مرحباً،"),
        ("he", "שלום Sam Haddad,", "שלום,"),
        ("fa", "سلام Sam Haddad،", "سلام،"),
        ("en-GB", "Hello Sam Haddad,", "Hello,"),
    ],
)
def test_the_greeting_is_in_the_lists_language(language: str, named: str, unnamed: str) -> None:
    """An Arabic list's copy once opened with "Hello," (",Hello" laid out right to left)."""
    digest_list = DIGEST_LIST.model_copy(update={"language": language})
    text, html = bodies(parse(make(digest_list=digest_list)))
    assert text.startswith(f"{named}\n") and f">{named}</p>" in html
    anonymous = Subscriber(id=9, email="anon@example.org")
    text, _ = bodies(parse(make(anonymous, digest_list=digest_list)))
    assert text.startswith(f"{unnamed}\n")


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
    https, mailto = str(parsed["List-Unsubscribe"]).split(", ")
    assert https.startswith("<https://briefing.example.org/unsubscribe/") and https.endswith(">")
    url = https[1:-1]
    text, html = bodies(parsed)
    assert f"Unsubscribe: {url}\n" in text
    assert f'<a href="{url}">Unsubscribe</a>' in html
    token = url.rpartition("/")[2]
    assert SIGNER.read_unsubscribe_token(token) == (345, "middle-east-daily")
    # The mailto: fallback carries the same token, to the sender's domain by default.
    assert mailto == f"<mailto:unsubscribe@example.org?subject=unsubscribe-{token}>"


def test_unsubscribe_address_is_configurable() -> None:
    service = SERVICE.model_copy(update={"unsubscribe_address": "leave@lists.example.org"})
    mailto = str(parse(make(service=service))["List-Unsubscribe"]).split(", ")[1]
    assert mailto.startswith("<mailto:leave@lists.example.org?subject=unsubscribe-")


def test_preferences_link_has_its_own_token() -> None:
    text, html = bodies(parse(make()))
    url = text.split("Preferences: ")[1].split("\n")[0]
    assert url.startswith("https://briefing.example.org/preferences/")
    assert f'<a href="{url}">Preferences</a>' in html
    token = url.rpartition("/")[2]
    assert SIGNER.read_preferences_token(token) == (345, "middle-east-daily")
    with pytest.raises(InvalidToken):
        SIGNER.read_unsubscribe_token(token)  # it opens the preferences and nothing else


def test_feedback_id_names_list_edition_and_sender() -> None:
    assert parse(make())["Feedback-ID"] == "middle-east-daily:12:digest:example.org"
    custom = SERVICE.model_copy(update={"feedback_id": "{list}:{edition}:digest:acme-news"})
    assert parse(make(service=custom))["Feedback-ID"] == "middle-east-daily:12:digest:acme-news"
    assert "Feedback-ID" not in parse(make(service=SERVICE.model_copy(update={"feedback_id": ""})))


def test_times_are_written_in_the_subscribers_timezone() -> None:
    # Of the edition's year: the year is left out, as a reader of today's mail expects.
    text, html = bodies(parse(make()))  # no timezone of their own: the list's, Asia/Dubai
    assert "Gulf Wire · 1 May, 05:14 GST\n" in text
    assert "<p>Gulf Wire &middot; 1 May, 05:14 GST</p>" in html
    new_york = Subscriber(id=345, email="sam@example.org", name="Sam", timezone="America/New_York")
    text, html = bodies(parse(make(new_york)))
    assert "Gulf Wire · 30 Apr, 21:14 ET\n" in text
    assert "<p>Gulf Wire &middot; 30 Apr, 21:14 ET</p>" in html
    unknown = Subscriber(id=345, email="sam@example.org", timezone="Mars/Olympus_Mons")
    assert "1 May, 05:14 GST" in bodies(parse(make(unknown)))[0]


def test_times_are_written_in_the_lists_language() -> None:
    # An Arabic list's copy gave its articles' times with English month names.
    text, _ = bodies(parse(make(digest_list=DIGEST_LIST.model_copy(update={"language": "ar"}))))
    assert "Gulf Wire · 1 مايو، 05:14 بتوقيت الإمارات\n" in text


NOWRUZ_SLOT = datetime(2026, 3, 21, 3, 30, tzinfo=UTC)  # 07:00 on 1 Farvardin 1405 in Tehran
LAST_NIGHT = datetime(2026, 3, 20, 22, 0, tzinfo=UTC)  # Nowruz in Tehran, not yet in London


def _nowruz_edition() -> RenderedEdition:
    marker = placeholders.time_marker(LAST_NIGHT)
    return replace(
        RENDERED,
        slot=NOWRUZ_SLOT,
        text=TEXT + f"رادیو فردا · {marker}\n",
        html=HTML.replace("</body>", f"<p>رادیو فردا &middot; {marker}</p></body>"),
    )


def test_a_persian_lists_times_are_solar_hijri_in_persian_digits_where_each_reader_is() -> None:
    persian = DIGEST_LIST.model_copy(update={"language": "fa", "timezone": "Asia/Tehran"})
    tehran = Subscriber(id=345, email="sam@example.org", timezone="Asia/Tehran")
    london = Subscriber(id=346, email="sara@example.org", timezone="Europe/London")
    rendered = _nowruz_edition()
    text, html = bodies(parse(make(tehran, rendered=rendered, digest_list=persian)))
    # Of the edition's year where the reader is: no year, as in any list.
    assert "رادیو فردا · ۱ فروردین، ۰۱:۳۰ به وقت تهران\n" in text
    assert "<p>رادیو فردا &middot; ۱ فروردین، ۰۱:۳۰ به وقت تهران</p>" in html
    # In London it is still the last evening of 1404: a time of last year keeps its year.
    text, html = bodies(parse(make(london, rendered=rendered, digest_list=persian)))
    assert "رادیو فردا · ۲۹ اسفند ۱۴۰۴، ۲۲:۰۰ به وقت گرینویچ\n" in text
    assert "<p>رادیو فردا &middot; ۲۹ اسفند ۱۴۰۴، ۲۲:۰۰ به وقت گرینویچ</p>" in html
    # The feed's own words and the edition's other text keep their digits.
    assert "Envoys met for a third day." in html
    # A Dari list names the month as Afghanistan does; a Gregorian one writes what it did.
    dari = persian.model_copy(update={"language": "fa-AF"})
    assert (
        "رادیو فردا · ۱ حمل، ۰۱:۳۰ به وقت تهران\n"
        in bodies(parse(make(tehran, rendered=rendered, digest_list=dari)))[0]
    )
    gregorian = persian.model_copy(update={"calendar": "gregorian"})
    assert (
        "رادیو فردا · 21 مارس، 01:30 به وقت تهران\n"
        in bodies(parse(make(tehran, rendered=rendered, digest_list=gregorian)))[0]
    )


def test_a_persian_preview_is_dated_as_its_readers_read_it() -> None:
    persian = DIGEST_LIST.model_copy(update={"language": "fa", "timezone": "Asia/Tehran"})
    preview = fill_for_preview(_nowruz_edition(), service=SERVICE, digest_list=persian)
    assert "رادیو فردا · ۱ فروردین، ۰۱:۳۰ به وقت تهران\n" in preview.text
    assert "<p>رادیو فردا &middot; ۱ فروردین، ۰۱:۳۰ به وقت تهران</p>" in preview.html


def with_line(label: str, marker: str) -> RenderedEdition:
    """The edition with a last line of ``label`` and a time marker, in both its bodies."""
    return replace(
        RENDERED,
        text=TEXT + f"{label} · {marker}\n",
        html=HTML.replace("</body>", f"<p>{label} &middot; {marker}</p></body>"),
    )


def test_a_preview_fills_every_marker_for_a_made_up_reader_in_the_lists_timezone() -> None:
    # What `digest preview` shows the newsroom: the greeting of no name, links that lead
    # nowhere of a reader's, a made-up address, and each time as the list's readers read it
    # (the year written only for a year not the edition's, there).
    old = placeholders.time_marker(datetime(2023, 12, 31, 18, 30, tzinfo=UTC))
    rendered = with_line("Old", old)
    preview = fill_for_preview(rendered, service=SERVICE, digest_list=DIGEST_LIST)
    assert preview.text == (
        "Hello,\n\nTalks resume in Muscat\nGulf Wire · 1 May, 05:14 GST\n"
        "...and a line that starts with dots\n.\nاستؤنفت المحادثات في مسقط\n\n"
        "Sent to you@example.org.\n"
        "Unsubscribe: https://briefing.example.org/unsubscribe/preview\n"
        "Preferences: https://briefing.example.org/preferences/preview\n"
        "Old · 31 Dec 2023, 22:30 GST\n"
    )
    assert preview.html.startswith(
        '<!DOCTYPE html><html><body style="margin:0"><p style="font-size:16px">Hello,</p>'
        "<h1>Talks resume in Muscat</h1><p>Gulf Wire &middot; 1 May, 05:14 GST</p>"
    )
    assert preview.html.endswith(
        "<p>Sent to you@example.org. "
        '<a href="https://briefing.example.org/unsubscribe/preview">Unsubscribe</a> '
        '<a href="https://briefing.example.org/preferences/preview">Preferences</a></p>'
        "<p>Old &middot; 31 Dec 2023, 22:30 GST</p></body></html>\n"
    )
    assert replace(preview, text=rendered.text, html=rendered.html) == rendered
    # New Year's Day's edition at 03:00 UTC is still 31 December in New York: a story of
    # that afternoon is of the edition's year there, and written without it.
    new_york = DIGEST_LIST.model_copy(update={"timezone": "America/New_York"})
    afternoon = placeholders.time_marker(datetime(2024, 12, 31, 18, 30, tzinfo=UTC))
    eve = replace(
        RENDERED, slot=datetime(2025, 1, 1, 3, 0, tzinfo=UTC), text=f"Late · {afternoon}\n"
    )
    assert fill_for_preview(eve, service=SERVICE, digest_list=new_york).text == (
        "Late · 31 Dec, 13:30 ET\n"
    )


def test_a_time_of_another_year_than_the_editions_keeps_its_year() -> None:
    # New Year's Day's edition: last night's article is of last year where the reader is.
    slot = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)  # 07:00 in Dubai
    last_night = placeholders.time_marker(datetime(2024, 12, 31, 18, 30, tzinfo=UTC))
    this_morning = placeholders.time_marker(datetime(2025, 1, 1, 2, 0, tzinfo=UTC))
    rendered = replace(
        RENDERED,
        slot=slot,
        text=TEXT + f"Late · {last_night}\nEarly · {this_morning}\n",
        html=HTML.replace(
            "</body>",
            f"<p>Late &middot; {last_night}</p><p>Early &middot; {this_morning}</p></body>",
        ),
    )
    text, html = bodies(parse(make(rendered=rendered, now=slot)))
    assert "Late · 31 Dec 2024, 22:30 GST\n" in text and "Early · 1 Jan, 06:00 GST\n" in text
    assert "<p>Late &middot; 31 Dec 2024, 22:30 GST</p>" in html
    # A reader in New York on 31 December: the edition's year there is 2024.
    new_york = Subscriber(id=345, email="sam@example.org", timezone="America/New_York")
    text = bodies(parse(make(new_york, rendered=rendered, now=slot)))[0]
    assert "Late · 31 Dec, 13:30 ET\n" in text and "Early · 31 Dec, 21:00 ET\n" in text


def test_times_before_1970_are_filled_like_any_other() -> None:
    # Their marker holds a minus sign; it was left in the copy as it was (fuzz/crashes/).
    marker = placeholders.time_marker(datetime(1969, 7, 20, 20, 17, tzinfo=UTC))
    rendered = with_line("Archive", marker)
    text, html = bodies(parse(make(rendered=rendered)))
    assert "%%DIGEST" not in text and "%%DIGEST" not in html
    assert "Archive · 21 Jul 1969, 00:17 GST\n" in text
    assert "<p>Archive &middot; 21 Jul 1969, 00:17 GST</p>" in html


def test_one_personalizer_makes_every_copy() -> None:
    personalizer = Personalizer(
        RENDERED, edition_id=12, service=SERVICE, digest_list=DIGEST_LIST, signer=SIGNER
    )
    rana = Subscriber(id=346, email="rana@example.org", name="Rana", timezone="Europe/London")
    for subscriber in (SAM, rana, SAM):
        assert personalizer.message_for(subscriber, NOW) == make(subscriber)


@pytest.mark.parametrize("blank", [" ", "\t"])
@pytest.mark.parametrize("length", range(70, 80))
def test_a_line_ending_in_a_blank_stays_within_76_characters(length: int, blank: str) -> None:
    # binascii writes a line's last space as "=20" after measuring the line: a line of 74 or 75
    # characters ending in one came out 77 or 78 long, past RFC 2045's 76.
    line = "x" * (length - 1) + blank
    rendered = replace(RENDERED, text=RENDERED.text + line + "\n", html=RENDERED.html + line)
    message = make(rendered=rendered)
    body = message.data.partition(b"\r\n\r\n")[2]
    assert max(len(encoded) for encoded in body.split(b"\r\n")) <= 76
    text, html = bodies(parse(message))
    assert text.endswith(f"\n{line}\n") and html.endswith(f"\n{line}")


@pytest.mark.parametrize("length", range(0, 160, 7))
def test_values_of_any_length_survive_the_encoding(length: int) -> None:
    # Names that put "=XX" escapes and spaces at every position around the 76-column breaks.
    name = ("Zoë ō=x " * 30)[:length].strip() or None
    message = make(Subscriber(id=5, email="zoe@example.org", name=name))
    parsed = parse(message)
    text, html = bodies(parsed)
    greeting = f"Hello {name}," if name else "Hello,"
    assert text.startswith(greeting + "\n\nTalks resume in Muscat\n")
    assert f'<p style="font-size:16px">{greeting}</p>' in html
    assert max(len(line) for line in message.data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76
    assert "\n.\n" in text and "...and a line that starts with dots" in text


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


def test_a_direction_override_left_open_in_a_name_turns_nothing_after_it_around() -> None:
    # "Hello <RLO>Sam Haddad," showed the rest of the greeting backwards (",laddaH maS"), and
    # the address after the name in the To line.
    message = make(Subscriber(id=667, email="sam@example.org", name="\u202eSam Haddad"))
    parsed = parse(message)
    text, html = bodies(parsed)
    assert text.startswith("Hello Sam Haddad,\n")
    assert ">Hello Sam Haddad,</p>" in html
    assert parsed["To"].addresses[0].display_name == "Sam Haddad"
    # Controls written in pairs are the reader's own, and stay.
    paired = make(Subscriber(id=668, email="sara@example.org", name="\u202bسارة\u202c"))
    assert bodies(parse(paired))[0].startswith("Hello \u202bسارة\u202c,\n")


def test_a_name_keeps_no_more_marks_on_a_letter_than_a_script_stacks() -> None:
    # Fifty accents on one letter of the name drew a column of ink up over the masthead above
    # the greeting, as they did from a headline (digest.render.text.MAX_STACKED_MARKS).
    message = make(Subscriber(id=669, email="zed@example.org", name="Z" + "\u0301" * 50 + "ed"))
    text, html = bodies(parse(message))
    assert text.startswith("Hello Z\u0301\u0301\u0301\u0301ed,\n")
    assert ">Hello Z\u0301\u0301\u0301\u0301ed,</p>" in html


def test_line_breaks_in_subject_and_list_name_are_neutralized() -> None:
    rendered = rendered_with_subject("Talks resume\r\nBcc: victim@example.net\nX-Evil: 1")
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


@pytest.mark.parametrize(
    "name",
    [
        "Zoë" + "x" * 50,  # one word, "=?utf-8?q?Zo=C3=AB" and 50 x: 70 characters encoded
        "Zoë " + "y" * 49,  # two words, 70 characters as one encoded word
    ],
)
def test_a_name_that_fits_one_encoded_word_is_read_back_as_written(name: str) -> None:
    # 70 characters is the most an encoded word of the code's may hold: a name of exactly that
    # cut in two came back from mail programs built on the email package's default policy
    # with the folding space in it ("Zoëxx…x x", "Zoë  yy…y").
    message = make(Subscriber(id=7, email="zoe@example.org", name=name))
    assert parse(message)["To"].addresses[0].display_name == name
    head = message.data.partition(b"\r\n\r\n")[0].decode("ascii")
    assert re.search(rf"\r\nTo: {ENCODED_WORD}\r\n <zoe@example.org>\r\n", head), head


def to_field(message: OutgoingMessage) -> str:
    """The To header as written on the wire, its folds kept."""
    head = message.data.partition(b"\r\n\r\n")[0].decode("ascii")
    found = re.search(r"\r\nTo: (.*?)\r\n(?! )", head, re.DOTALL)
    assert found is not None, head
    return found.group(1)


@pytest.mark.parametrize(
    ("name", "cut"),
    [
        # Greek letters go as base64: 21 of them (42 bytes) in 70 characters.
        ("Ωμέγα" * 19, [21, 21, 21, 21, 11]),
        # Latin ones as Q: "Zoë" and 50 x are 70 characters, as in the test above.
        ("Zoë" + "x" * 51, [53, 1]),
        # Words of a name are cut at a space, which goes with the word before it.
        ("Zoë Al-Hashimi de la Fuente y Martínez-Rodríguez", [30, 18]),
    ],
)
def test_a_name_too_long_for_one_encoded_word_is_cut_into_as_few_as_fit(
    name: str, cut: list[int]
) -> None:
    # A name longer than one encoded word holds: each word holds as much of it as its 70
    # characters can, mail programs join them back into the name, and the address stays on
    # the last one's line.
    field = to_field(make(Subscriber(id=7, email="zoe@example.org", name=name)))
    *lines, last = field.split("\r\n ")
    assert last.endswith(" <zoe@example.org>"), field
    words = [*lines, last.removesuffix(" <zoe@example.org>")]
    assert all(re.fullmatch(ENCODED_WORD, word) and len(word) <= 70 for word in words), field
    texts = [str(make_header(decode_header(word))) for word in words]
    assert [len(text) for text in texts] == cut
    assert "".join(texts) == name  # RFC 2047 readers join adjacent encoded words


@pytest.mark.parametrize(("letters", "same_line"), [(35, True), (36, False)])
def test_the_address_stays_on_the_names_line_while_the_line_fits_78(
    letters: int, same_line: bool
) -> None:
    # "To: " and the name's encoded word of 21 + letters, " <zoe@example.org>": 78 at 35.
    field = to_field(make(Subscriber(id=7, email="zoe@example.org", name="Zoë " + "y" * letters)))
    word = "=?utf-8?q?Zo=C3=AB_" + "y" * letters + "?="
    if same_line:
        assert field == f"{word} <zoe@example.org>" and len(f"To: {field}") == 78
    else:
        assert field == f"{word}\r\n <zoe@example.org>"


@pytest.mark.parametrize(("letters", "same_line"), [(52, True), (53, False)])
def test_the_address_stays_on_an_ascii_names_line_while_the_line_fits_78(
    letters: int, same_line: bool
) -> None:
    # "To: Sam " and the letters, then " <sam@example.org>": 78 characters at 52.
    name = "Sam " + "H" * letters
    field = to_field(make(Subscriber(id=7, email="sam@example.org", name=name)))
    if same_line:
        assert field == f"{name} <sam@example.org>" and len(f"To: {field}") == 78
    else:
        assert field == f"{name}\r\n <sam@example.org>"


def test_non_ascii_subject_and_list_name_are_encoded() -> None:
    digest_list = DIGEST_LIST.model_copy(update={"name": "الشرق الأوسط في بريدك"})
    rendered = rendered_with_subject("الشرق الأوسط في بريدك: استؤنفت المحادثات في مسقط")
    message = make(rendered=rendered, digest_list=digest_list)
    assert message.data.isascii()
    parsed = parse(message)
    assert parsed["Subject"] == "الشرق الأوسط في بريدك: استؤنفت المحادثات في مسقط"
    assert parsed["List-Id"] == "الشرق الأوسط في بريدك <middle-east-daily.example.org>"


def test_list_name_with_quotes_is_a_valid_quoted_string() -> None:
    digest_list = DIGEST_LIST.model_copy(update={"name": 'The "Desk" \\ Daily'})
    parsed = parse(make(digest_list=digest_list))
    assert parsed["List-Id"] == '"The \\"Desk\\" \\\\ Daily" <middle-east-daily.example.org>'


@pytest.mark.parametrize(
    "name",
    [
        "Le Golfe (édition du matin)",  # a ")" was left outside every encoded word
        "Nahost: Überblick, täglich; kurz",
        "Golfe <matin> à Doha",  # a bare "<matin>" read as the list's id
        'Le "Golfe" à Doha',
        "الشرق الأوسط (يومي)",
    ],
)
def test_a_non_ascii_list_name_is_one_phrase_of_encoded_words_in_list_id(name: str) -> None:
    # RFC 2919: List-Id is a phrase, then the id in angle brackets. The email package encoded
    # only the words holding non-ASCII letters and left "(", ")", ",", ";", ":", quotes and
    # angle brackets bare beside them, where they are no part of a phrase: a filter reading the
    # header by its grammar found no id, or "matin" for one.
    message = make(digest_list=DIGEST_LIST.model_copy(update={"name": name}))
    head = message.data.partition(b"\r\n\r\n")[0].decode("ascii")
    value = re.search(r"^List-Id: (.*?)\r\n(?! )", head, re.M | re.S)
    assert value is not None
    unfolded = value.group(1).replace("\r\n", "")
    phrase, _, list_id = unfolded.rpartition(" ")
    assert list_id == "<middle-east-daily.example.org>"
    assert re.fullmatch(rf"{ENCODED_WORD}(?:[ \t]+{ENCODED_WORD})*", phrase), phrase
    decoded = str(make_header(decode_header(phrase)))
    assert decoded == name
    assert parse(message)["List-Id"] == f"{name} <middle-east-daily.example.org>"


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


def test_a_copy_of_another_list_or_slot_has_another_message_id() -> None:
    # The edition and reader ids start again with a fresh database: the list and the slot keep
    # the ids of two editions apart, or a reader's mail program dropped the second as a twin.
    first = make()
    other_list = make(rendered=replace(RENDERED, list_slug="gulf-weekly"))
    other_slot = make(rendered=replace(RENDERED, slot=SLOT + timedelta(days=1)))
    ids = {first.message_id, other_list.message_id, other_slot.message_id}
    assert len(ids) == 3
    for message_id in ids:
        assert re.fullmatch(r"<12\.345\.[0-9a-f]{12}@example\.org>", message_id), message_id


@pytest.mark.parametrize(
    "address",
    [
        "sam..haddad@example.org",  # two dots in a row
        ".sam@example.org",  # a dot first
        "sam=?utf-8?q?x?=@example.org",  # an encoded word, which mail programs would decode
        "s" * 64 + "@" + "d" * 186 + ".org",  # 255 characters, over RFC 5321's 254
    ],
)
def test_an_address_mail_programs_would_misread_is_refused_for_good(address: str) -> None:
    with pytest.raises(DeliveryPermanentError) as refused:
        make(Subscriber(id=9, email=address))
    assert refused.value.reason == "not an address a message can be sent to"
    assert refused.value.recipient == address


def test_an_address_of_254_characters_is_sent_to() -> None:
    address = "s" * 64 + "@" + "d" * 185 + ".org"
    assert len(address) == 254
    assert make(Subscriber(id=9, email=address)).recipient == address


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make(now=datetime(2024, 5, 1, 3, 0))


# Rendered and personalized together: hostile feed text and names, tracking, times ------------

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hostile_edition() -> Personalizer:
    """The personalizer of an edition rendered from hostile feed text, topic and list names."""
    raw = {
        "service": SERVICE.model_dump(exclude_none=True, mode="json"),
        "topics": [{"slug": "middle-east", "name": f"Middle East {HOSTILE}"}],
        "lists": [
            {
                **DIGEST_LIST.model_dump(exclude_none=True, mode="json"),
                "description": f"Daily {HOSTILE}",
                "utm": {"source": "digest", "medium": "email", "campaign": "{list}-{date}"},
            }
        ],
    }
    settings = Settings.model_validate(raw)  # no subscriber file: nothing is sent here

    def article(number: int, **fields: object) -> Article:
        values: dict[str, object] = {
            "id": number,
            "feed_id": 1,
            "feed_name": f"Wire {HOSTILE}",
            "guid": f"g{number}",
            "link": f"https://wire.example.org/story/{number}?id={number}",
            "title": f"Story {number} {HOSTILE} %%DIGEST-EMAIL%% %%DIGEST-TIME-1%%",
            "summary_html": "",
            "summary_text": f"Summary {HOSTILE} \"quoted\" & 'single' %%DIGEST-GREETING%%",
            "author": f"Eve {HOSTILE}",
            "published_at": PUBLISHED,
            "first_seen_at": PUBLISHED,
            **fields,
        }
        return Article(**values)  # type: ignore[arg-type]

    lead = EditionItem(article(1, link="javascript:alert(1)"), "middle-east")
    others = tuple(EditionItem(article(n), "middle-east") for n in (2, 3))
    edition = Edition(
        list_slug=DIGEST_LIST.slug,
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=lead,
        sections=(Section("middle-east", f"Middle East {HOSTILE}", others),),
    )
    return Personalizer(
        Renderer(settings).render(edition, settings.lists[0]),
        edition_id=12,
        service=settings.service,
        digest_list=settings.lists[0],
        signer=SIGNER,
    )


class Elements(HTMLParser):
    """Every element of an HTML document with its attributes: what a mail client would build."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_hostile_titles_names_and_summaries_arrive_escaped() -> None:
    eve = Subscriber(id=666, email="eve@example.org", name=f'Eve {HOSTILE} "x" & y')
    parsed = parse(hostile_edition().message_for(eve, NOW))
    text, html = bodies(parsed)
    elements = Elements()
    elements.feed(html)
    assert "script" not in {tag for tag, _ in elements.found}
    assert not [name for _, attrs in elements.found for name, _ in attrs if name.startswith("on")]
    assert not [value for _, attrs in elements.found for _, value in attrs
                if (value or "").strip().lower().startswith("javascript:")]  # fmt: skip
    assert [src for tag, attrs in elements.found if tag == "img" for name, src in attrs] == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 6  # titles, summaries, authors, feeds, name, topic
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert f"Hello Eve {escaped} &quot;x&quot; &amp; y," in html
    # Feed text that spells a marker stays text: it is neither filled nor leaks the address.
    assert "%%DIGEST" not in html and "%%DIGEST" not in text
    assert text.count("eve@example.org") == 1 and html.count("eve@example.org") == 1
    # The plain text is plain: the hostile strings are there as text, nothing is HTML-escaped.
    assert HOSTILE in text


def test_article_links_carry_the_lists_tracking_and_our_own_links_do_not() -> None:
    parsed = parse(hostile_edition().message_for(SAM, NOW))
    text, html = bodies(parsed)
    tracking = "utm_source=digest&utm_medium=email&utm_campaign=middle-east-daily-2024-05-01"
    assert f"https://wire.example.org/story/2?id=2&{tracking}" in text
    escaped = tracking.replace("&", "&amp;")
    assert f'href="https://wire.example.org/story/2?id=2&amp;{escaped}"' in html
    for line in text.splitlines():
        if "/unsubscribe/" in line or "/preferences/" in line:
            assert "utm_" not in line
    assert "utm_" not in str(parsed["List-Unsubscribe"])
    # Times are the subscriber's: Dubai (the list's) for Sam, who has no timezone of his own.
    assert "1 May, 05:14 GST" in text


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("sam@xn--bcher-kva.de", "sam@bücher.de"),
        ("ali@xn--mgbh0fb.xn--kgbechtv", "ali@مثال.إختبار"),
        ("sam@example.org", "sam@example.org"),
    ],
)
def test_an_international_domain_is_shown_to_its_reader_as_they_wrote_it(
    stored: str, shown: str
) -> None:
    # Kept and sent as IDNA ("xn--..."), which is what SMTP and the To header need; the footer
    # read "sent to sam@xn--bcher-kva.de", an address its reader never typed nor recognised.
    name = "علي حسن"
    message = make(Subscriber(id=7, email=stored, name=name))
    assert message.recipient == stored
    parsed = parse(message)
    assert parsed["To"].addresses[0].addr_spec == stored
    assert parsed["To"].addresses[0].display_name == name
    text, html = bodies(parsed)
    assert f"Sent to {shown}." in text
    assert f"Sent to {shown}." in html
