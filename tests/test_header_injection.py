"""Hostile feed titles and subscriber names, sent to a real SMTP server and read back: every
message carries exactly the headers the mailer writes, and no value holds a line break.

The payloads are the ones that forged headers before: RFC 2047 encoded words (B and Q, nested,
adjacent, inside a word, in odd charsets) whose decoded text holds CR LF or a blank line, the
Unicode line separators, bare CR, bare LF, NUL, and lengths a server refuses in one line. They
reach the subject through the list's subject template (``lead_title``) and the To header through
the subscriber's name; hypothesis adds generated ones. Each message is parsed back with the
email package, as a reader's mail program would read it.
"""

from __future__ import annotations

import base64
import email
import re
import sys
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest import pipeline, placeholders
from digest.clock import FixedClock
from digest.config import ListSettings, Settings, SmtpSettings, settings_from_mapping
from digest.errors import DeliveryPermanentError
from digest.mail.headers import cut, header_text
from digest.mail.personalize import NAME_CHARS, Personalizer
from digest.mail.reader_addresses import clean_name
from digest.mail.smtp import SmtpTransport
from digest.mail.tokens import TokenSigner
from digest.mail.transport import MemoryTransport
from digest.records import Article, Edition, EditionItem, RenderedEdition, Section, Subscriber
from digest.render import Renderer
from digest.render.text import one_line
from digest.sample_server import serve_folder
from digest.services import build_services
from tests.servers import SmtpSink, smtp_server
from tests.test_pipeline import DAY1, feeds  # noqa: F401
from tests.test_pipeline import make_settings as make_pipeline_settings
from tests.test_pipeline import write_feed as write_pipeline_feed

pytestmark = pytest.mark.integration

SLOT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
NOW = SLOT + timedelta(minutes=5)
SIGNER = TokenSigner("header-injection-secret")
INJECTED = "\r\nReply-To: attacker@evil.example\r\nX-Injected: 1"
# What every copy carries (Reply-To from the config, Feedback-ID by default), and nothing else.
EXPECTED = sorted(
    name.lower()
    for name in (
        "From",
        "Reply-To",
        "Subject",
        "List-Id",
        "List-Unsubscribe-Post",
        "Feedback-ID",
        "Auto-Submitted",
        "Precedence",
        "X-Auto-Response-Suppress",
        "MIME-Version",
        "Content-Type",
        "To",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
    )
)


def b_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode('ascii')}?="


def q_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?q?{''.join(f'={byte:02X}' for byte in text.encode(charset))}?="


PAYLOADS = {
    "b-encoded CRLF": "Talks resume " + b_word(INJECTED),
    "q-encoded CRLF": "Talks resume " + q_word(INJECTED),
    "lowercase q, underscores": "=?UTF-8?Q?=0d=0aX-Injected:_1?=",
    "blank line": b_word("\r\n\r\nX-Injected: 1\r\n\r\n<p>body</p>"),
    "nested words": b_word(q_word(INJECTED)),
    "twice nested": b_word(b_word(q_word(INJECTED))),
    "adjacent words": b_word("\r\n") + " " + q_word("X-Injected: 1") + "\t" + b_word("\r\n"),
    "word inside a word": "Talks" + q_word("\r\n") + "X-Injected:" + q_word(" 1") + "end",
    "language tag": "=?utf-8*en?q?=0D=0AX-Injected:_1?=",
    "utf-7": "=?utf-7?q?+AA0ACg-X-Injected:_1?=",
    "latin-1": b_word("caf\xe9\r\nX-Injected: 1", "iso-8859-1"),
    "unknown charset": "=?x-unknown?q?=0D=0AX-Injected:_1?=",
    "encoded U+2028": b_word("Talks\u2028X-Injected: 1"),
    "U+2028": "Talks\u2028X-Injected: 1",
    "U+2029": "Talks\u2029X-Injected: 1",
    "NEL": "Talks\x85X-Injected: 1",
    # A name the email package folds: its quotes must not go, or To reads as a group.
    "a long name that reads as a group": "Bcc: x@evil.example" * 4,
    "bare CR": "Talks\rX-Injected: 1",
    "bare LF": "Talks\nX-Injected: 1",
    "CRLF": "Talks\r\nX-Injected: 1",
    "NUL": "Talks\x00X-Injected: 1",
    "vertical tab, form feed": "Talks\x0bX-Injected: 1\x0cX-Other: 2",
    "an encoded word cut short": "Talks =?utf-8?b?DQpYLUluamVjdGVkOiAx",
    "quotes and angle brackets": '"Eve" <eve@evil.example>, ' + b_word('"\r\nBcc: x@evil.example'),
    "5,000 characters, no space": "x" * 5000,
    "5,000 characters of words": "word " * 1000,
    "long encoded words": b_word("é" * 600 + INJECTED) * 3,
    "Arabic, then CRLF": b_word("محادثات مسقط" + INJECTED),
}


def line_breaking(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def read_back(data: bytes, recipient: str) -> EmailMessage:
    """``data`` parsed as a mail program would, after the checks every message must pass."""
    head, separator, _ = data.partition(b"\r\n\r\n")
    assert separator, "no blank line ends the headers"
    assert head.isascii()
    for line in head.split(b"\r\n"):
        assert len(line) <= 998, f"a header line of {len(line)} octets"
        assert b"\r" not in line and b"\n" not in line, f"a bare CR or LF in {line[:80]!r}"
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert sorted(name.lower() for name in parsed.keys()) == EXPECTED  # noqa: SIM118
    for name, value in parsed.items():
        text = str(value)
        assert not any(line_breaking(char) for char in text), f"{name}: {text[:120]!r}"
        assert "X-Injected:" not in name
    assert [address.addr_spec for address in parsed["To"].addresses] == [recipient]
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    return parsed


# ---------------------------------------------------------------------------------------------
# The edition rendered and personalized as the pipeline does it, sent to aiosmtpd


def make_settings(tmp_path: Path) -> Settings:
    (tmp_path / "members.csv").write_text("email,name\n", encoding="utf-8")
    raw = {
        "service": {
            "base_url": "https://briefing.example.org",
            "sender_name": "The Middle East Desk",
            "sender_address": "briefing@example.org",
            "reply_to": "desk@example.org",
            "postal_address": "Example Media Ltd, 12 Harbour Street, Dubai",
        },
        "topics": [{"slug": "middle-east", "name": "Middle East"}],
        "lists": [
            {
                "slug": "middle-east-daily",
                "name": "The Middle East in your inbox",
                "topics": ["middle-east"],
                "schedule": "0 7 * * *",
                "timezone": "Asia/Dubai",
                "subject": "{{ list_name }}: {{ lead_title }}",
                "subscribers": "members.csv",
            }
        ],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


def article(article_id: int, title: str) -> Article:
    return Article(
        id=article_id,
        feed_id=1,
        feed_name="Gulf Wire",
        guid=f"guid-{article_id}",
        link=f"https://news.example.org/story-{article_id}",
        title=title,
        summary_html="<p>Envoys met for a third day.</p>",
        summary_text="Envoys met for a third day.",
        author="Layla Haddad",
        published_at=SLOT - timedelta(hours=2),
        first_seen_at=SLOT - timedelta(hours=1),
        language="en",
    )


def edition_led_by(title: str) -> Edition:
    lead = EditionItem(article(1, title), "middle-east")
    other = EditionItem(article(2, "Qatar opens a desalination plant"), "middle-east")
    return Edition(
        list_slug="middle-east-daily",
        slot=SLOT,
        window_start=None,
        window_end=SLOT,
        lead=lead,
        sections=(Section("middle-east", "Middle East", (other,)),),
    )


class Mailer:
    """One list's renderer and an SMTP connection to a real server, for many editions."""

    def __init__(self, settings: Settings, sink: SmtpSink) -> None:
        self.settings = settings
        self.digest_list: ListSettings = settings.lists[0]
        self.renderer = Renderer(settings)
        self.sink = sink
        smtp = SmtpSettings(host=sink.host, port=sink.port, tls="none")
        self.transport = SmtpTransport(smtp, None)

    def send(self, rendered: RenderedEdition, subscriber: Subscriber) -> EmailMessage:
        """One copy sent and received; what the server got, parsed back and checked."""
        personalizer = Personalizer(
            rendered,
            edition_id=7,
            service=self.settings.service,
            digest_list=self.digest_list,
            signer=SIGNER,
        )
        message = personalizer.message_for(subscriber, NOW)
        before = len(self.sink.received)
        self.transport.send(message)
        assert len(self.sink.received) == before + 1
        received = self.sink.received[-1]
        assert received.rcpt_tos == [subscriber.email]
        return read_back(received.data, subscriber.email)


@pytest.fixture(scope="module")
def mailer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailer]:
    with smtp_server() as sink:
        sender = Mailer(make_settings(tmp_path_factory.mktemp("mailer")), sink)
        try:
            yield sender
        finally:
            sender.transport.close()


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_a_payload_in_a_title_and_a_name_stays_inside_its_header(
    mailer: Mailer, payload: str
) -> None:
    rendered = mailer.renderer.render(edition_led_by(payload), mailer.digest_list)
    eve = Subscriber(id=666, email="eve@example.org", name=payload)
    parsed = mailer.send(rendered, eve)
    subject = str(parsed["Subject"])
    assert subject.startswith("The Middle East in your inbox: ")
    assert len(subject) <= 150
    assert "=?" not in subject and "=?" not in str(parsed["To"])
    # The email package reads the space that folds two encoded words apart into the name.
    display_name = "".join(parsed["To"].addresses[0].display_name.split())
    assert len(display_name) <= 100


def test_a_name_too_long_for_one_line_is_shown_whole_beside_the_readers_address(
    mailer: Mailer,
) -> None:
    """A name with a colon, a comma or an @ is a quoted string; one too long for a line of
    78 characters stays one, so mail programs show it as the name, not as more addresses."""
    rendered = mailer.renderer.render(edition_led_by("Talks"), mailer.digest_list)
    for name in (
        "Ann and Bob, of the family of the late Mr Smith: friends@evil.example and more",
        'Zoë "the reader", of the family of the late Mr Smith: friends@evil.example',
    ):
        parsed = mailer.send(rendered, Subscriber(id=5, email="zoe@example.org", name=name))
        [address] = parsed["To"].addresses
        assert address.addr_spec == "zoe@example.org"
        # The email package reads the space that folds two encoded words apart into the name.
        assert "".join(address.display_name.split()) == "".join(name.split())


def test_decoded_text_is_shown_not_dropped(mailer: Mailer) -> None:
    """The words stood for text: the reader sees it, on one line, in its header."""
    title = "Talks resume " + b_word("in Muscat" + INJECTED)
    rendered = mailer.renderer.render(edition_led_by(title), mailer.digest_list)
    name = q_word("Zoë\r\nBcc: x@evil.example")
    parsed = mailer.send(rendered, Subscriber(id=5, email="zoe@example.org", name=name))
    assert parsed["Subject"] == (
        "The Middle East in your inbox: Talks resume in Muscat "
        "Reply-To: attacker@evil.example X-Injected: 1"
    )
    assert parsed["To"].addresses[0].display_name == "Zoë Bcc: x@evil.example"


def test_a_name_of_5000_characters_without_a_space_is_cut_to_fit_a_line(mailer: Mailer) -> None:
    rendered = mailer.renderer.render(edition_led_by("Talks resume"), mailer.digest_list)
    parsed = mailer.send(rendered, Subscriber(id=9, email="long@example.org", name="x" * 5000))
    name = "".join(parsed["To"].addresses[0].display_name.split())  # see above
    assert name.startswith("x" * 90) and len(name) <= 100


# Generated text: pieces of anything, line breaks of every kind, and encoded words (of any of
# these, in several charsets, nested) that hide them.
_BREAKS = st.sampled_from(
    ["\r", "\n", "\r\n", "\r\n\r\n", "\x00", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\t"]
)
_PIECES = st.sampled_from(
    ["=?", "?=", "?q?", "?b?", ":", " ", "Bcc: x@evil.example", "X-Injected: 1", '"', "<", ">"]
)
_CHARSETS = st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "utf-7", "x-unknown", "utf-8*en"])


def _encoded(text: str, charset: str, kind: str) -> str:
    codec = charset.split("*")[0]
    try:
        data = text.encode(codec)
    except (LookupError, UnicodeError):
        data = text.encode("utf-8", "surrogatepass")
    if kind == "b":
        return f"=?{charset}?b?{base64.b64encode(data).decode('ascii')}?="
    return f"=?{charset}?q?{''.join(f'={byte:02X}' for byte in data)}?="


def _words(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(_encoded, inner, _CHARSETS, st.sampled_from(["b", "q"]))


_LEAVES = st.one_of(st.text(max_size=12), _BREAKS, _PIECES)
HOSTILE = st.one_of(
    st.recursive(
        _LEAVES,
        lambda inner: st.one_of(
            _words(inner), st.lists(inner, min_size=2, max_size=6).map("".join)
        ),
        max_leaves=16,
    ),
    st.builds(
        lambda char, count: char * count, st.sampled_from(["x", "é", "x "]), st.integers(1, 3000)
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(title=HOSTILE, name=HOSTILE)
def test_generated_titles_and_names_never_forge_a_header(
    mailer: Mailer, title: str, name: str
) -> None:
    edition = edition_led_by(title)
    # The subject as render makes it (the template with lead_title), on a small fixed body:
    # the whole render is the parametrized test's, this one is about the headers.
    subject = mailer.renderer.subject(edition, mailer.digest_list, 2)
    rendered = RenderedEdition(
        list_slug="middle-east-daily",
        slot=SLOT,
        subject=subject,
        preheader="",
        html=f"<html><body><p>{placeholders.GREETING}</p></body></html>\n",
        text=f"{placeholders.GREETING}\n",
        article_count=2,
    )
    mailer.send(rendered, Subscriber(id=11, email="gen@example.org", name=name))


# Display names as a hostile reader, publisher or operator writes them: the specials of an
# address header, quotes, backslashes, encoded words, right-to-left text, at the lengths where
# the email package folds (78) and where the name is cut (100).
_SPECIALS = st.sampled_from(
    ['"', "\\", ",", ":", ";", "<", ">", "(", ")", "@", ".", "[", "]", " ", "'", "_", "?", "="]
)
_NAME_PIECES = st.sampled_from(
    ["é", "Zoë", "\u05d0\u05d1", "\u202e", "=?utf-8?q?x?=", "Bcc: x@evil.example", "a" * 40]
)
NAMES = st.one_of(HOSTILE, st.lists(st.one_of(_SPECIALS, _NAME_PIECES), max_size=40).map("".join))


def _words_of(text: str) -> str:
    """``text`` without its white space: the email package reads the space that folds two
    encoded words apart into the name (the existing tests say so too)."""
    return "".join(text.split())


def _one_named(values: list[str], address: str) -> str:
    """The display name of the one address ``values`` (a header's values, as compat32 and
    reply-all read them) hold, decoded; fails when they hold another address, or none."""
    [(name, found)] = getaddresses(values)
    assert found == address, values
    return str(make_header(decode_header(name)))


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=NAMES, sender_name=NAMES, list_name=NAMES)
# A quoted word too long for a line: the email package encoded List-Id's quotes into the name.
@example(name="", sender_name="", list_name="x" * 99)
@example(name="Bcc: x@evil.example" * 5, sender_name="Desk, Inc.", list_name="Markets \\" * 20)
@example(name="Zoë, Bcc: x@evil.example" * 4, sender_name="Désk (" * 20, list_name='é"' * 60)
def test_every_name_in_a_header_reads_back_as_itself_in_both_policies(
    mailer: Mailer, name: str, sender_name: str, list_name: str
) -> None:
    """To holds the reader's address alone, From the sender's, List-Id the list's id: read as
    mail programs and reply-all read them (the default policy, the legacy compat32 one and
    ``getaddresses``), each with its display name as the service wrote it."""
    service = mailer.settings.service.model_copy(update={"sender_name": sender_name})
    digest_list = mailer.digest_list.model_copy(update={"name": list_name})
    rendered = RenderedEdition(
        list_slug=digest_list.slug,
        slot=SLOT,
        subject=header_text(list_name, 150),
        preheader="",
        html=f"<html><body><p>{placeholders.GREETING}</p></body></html>\n",
        text=f"{placeholders.GREETING}\n",
        article_count=1,
    )
    personalizer = Personalizer(
        rendered, edition_id=7, service=service, digest_list=digest_list, signer=SIGNER
    )
    reader = Subscriber(id=11, email="gen@example.org", name=name)
    data = personalizer.message_for(reader, NOW).data
    parsed = read_back(data, reader.email)  # the default policy
    legacy = email.message_from_bytes(data, policy=policy.compat32)
    assert sorted(key.lower() for key in legacy.keys()) == EXPECTED  # noqa: SIM118
    expected = {
        "To": (reader.email, cut(one_line(header_text(name, 500)), NAME_CHARS)),
        "From": (service.sender_address, header_text(sender_name, NAME_CHARS)),
        "List-Id": ("middle-east-daily.example.org", header_text(list_name, NAME_CHARS)),
    }
    for field, (address, shown) in expected.items():
        assert len(parsed.get_all(field, [])) == 1, field
        legacy_name = _one_named(legacy.get_all(field, []), address)
        assert _words_of(legacy_name) == _words_of(shown), field
        if field == "List-Id":  # unstructured: the phrase as written, decoded
            phrase, _, rest = str(parsed[field]).rpartition(" <")
            assert rest == f"{address}>"
            if phrase.startswith('"'):
                phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
        else:
            [found] = parsed[field].addresses
            assert found.addr_spec == address
            phrase = found.display_name
        assert _words_of(phrase) == _words_of(shown), field


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Al-Hashimi de la Fuente y Martínez-Rodríguez",
        "محمد عبد الرحمن بن عبد العزيز آل سعود",
        "Zoë, of the family of the late Mr Smith: friends@evil.example and more",
    ],
)
def test_a_long_non_ascii_name_keeps_its_words_whole_in_both_policies(
    mailer: Mailer, name: str
) -> None:
    """Encoded words are cut at the name's spaces: the default policy keeps the space that
    folds two words apart, and read "Rodrígue z" where the email package had cut them."""
    service = mailer.settings.service.model_copy(update={"sender_name": name})
    rendered = mailer.renderer.render(edition_led_by("Talks"), mailer.digest_list)
    personalizer = Personalizer(
        rendered, edition_id=7, service=service, digest_list=mailer.digest_list, signer=SIGNER
    )
    data = personalizer.message_for(Subscriber(id=5, email="zoe@example.org", name=name), NOW).data
    parsed = read_back(data, "zoe@example.org")
    legacy = email.message_from_bytes(data, policy=policy.compat32)
    for field, address in (("To", "zoe@example.org"), ("From", service.sender_address)):
        [found] = parsed[field].addresses
        assert (found.addr_spec, " ".join(found.display_name.split())) == (address, name)
        assert _one_named(legacy.get_all(field, []), address) == name


# ---------------------------------------------------------------------------------------------
# The whole pipeline: a feed served on loopback, a subscriber file, a real SMTP server


def write_feed(folder: Path, stories: list[tuple[int, str]]) -> None:
    items = "".join(
        f"""<item><title>{escape(title)}</title>
        <link>https://wire.example.org/story/{number}</link><guid>urn:wire:{number}</guid>
        <description>Gulf story {number}. More as it develops.</description>
        <pubDate>Mon, 23 Nov 2026 {10 + number % 10}:00:00 +0000</pubDate></item>"""
        for number, title in stories
    )
    (folder / "wire.xml").write_text(
        f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
        <title>Wire</title><link>https://wire.example.org/</link>{items}</channel></rss>""",
        encoding="utf-8",
    )


MEMBERS = {
    "sam@example.org": "Sam",
    "eve@example.org": "Eve " + b_word(INJECTED),
    "mallory@example.org": q_word("\r\n\r\nX-Injected: 1"),
    "long@example.org": "x" * 5000,
    "zoe@example.org": "Zoë " + b_word("Zoë\u2028Bcc: x@evil.example"),
}


def pipeline_settings(tmp_path: Path, base_url: str, smtp: SmtpSink) -> Settings:
    rows = "".join(f'{address},"{name}"\n' for address, name in MEMBERS.items())
    (tmp_path / "members.csv").write_text("email,name\n" + rows, encoding="utf-8")
    raw = {
        "service": {
            "database_url": f"sqlite:///{tmp_path / 'digest.db'}",
            "data_dir": str(tmp_path / "var"),
            "base_url": "https://news.example.org",
            "sender_name": "The Desk",
            "sender_address": "desk@example.org",
            "reply_to": "letters@example.org",
            "postal_address": "1 Example Street, Example City",
        },
        "smtp": {"host": smtp.host, "port": smtp.port, "tls": "none", "connections": 1},
        "ingest": {"allow_private_addresses": True},
        "feeds": [{"name": "Wire", "url": f"{base_url}/wire.xml"}],
        "topics": [{"slug": "gulf", "name": "Gulf", "rules": {"include": ["Gulf"]}}],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily Brief",
                "topics": ["gulf"],
                "schedule": "0 7 * * *",
                "timezone": "Asia/Dubai",
                "subject": "{{ lead_title }} | {{ list_name }}",
                "subscribers": "members.csv",
            }
        ],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


@pytest.mark.parametrize(
    "title",
    [
        "Gulf talks " + b_word(INJECTED),
        "Gulf talks " + b_word("\r\n\r\nX-Injected: 1\r\n\r\n<p>forged body</p>"),
        "Gulf talks " + q_word(INJECTED) + " " + b_word("\u2028X-Injected: 2"),
    ],
    ids=["encoded CRLF", "blank line", "adjacent Q and B"],
)
def test_a_hostile_feed_and_subscriber_file_forge_no_header_in_any_copy(
    tmp_path: Path, title: str
) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    # The hostile story is the newest, so it leads and its title is in the subject.
    write_feed(folder, [(3, title), (2, "Gulf ports reopen after the storm")])
    with smtp_server() as sink, serve_folder(folder) as base_url:
        settings = pipeline_settings(tmp_path, base_url, sink)
        services = build_services(settings, clock=FixedClock(SLOT + timedelta(minutes=30)))
        try:
            summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        finally:
            services.close()
    assert summary.problems == ()
    assert summary.messages_delivered == len(MEMBERS)
    assert sorted(r for mail in sink.received for r in mail.rcpt_tos) == sorted(MEMBERS)
    for mail in sink.received:
        parsed = read_back(mail.data, mail.rcpt_tos[0])
        assert str(parsed["Subject"]).strip().startswith("Gulf talks ")
        assert parsed["Reply-To"] == "letters@example.org"
        # Both stories went out: nothing had to be left out of the edition.
        assert b"story/3" in mail.data and b"story/2" in mail.data


# ---------------------------------------------------------------------------------------------
# With the first line of defence switched off (header text cleaned as it was before), the
# checks before sending still catch the payload: the article is left out, with a warning that
# names its feed and link, and the rest of the edition goes out rather than none of it.


def _old_one_line(text: str | None, limit: int) -> str:
    """What the headers had before: literal control characters dropped, encoded words kept."""
    return clean_name(text) or ""


@pytest.fixture
def first_line_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # raising=False: the old code, where this test must fail too, has no header_text.
    for module in ("digest.mail.personalize", "digest.render.renderer"):
        monkeypatch.setattr(sys.modules[module], "header_text", _old_one_line, raising=False)
    yield


@pytest.mark.usefixtures("first_line_down")
@pytest.mark.parametrize(
    "payload",
    ["\r\nReply-To: attacker@evil.example\r\nX-Injected: 1", "\r\n\r\nX-Injected: 1\r\n\r\n"],
    ids=["encoded CRLF", "blank line"],
)
def test_an_article_that_gets_past_the_cleaning_is_left_out_and_the_rest_goes_out(
    tmp_path: Path,
    feeds: tuple[Path, str],  # noqa: F811
    payload: str,
) -> None:
    folder, base_url = feeds
    hostile = "Iran story " + b_word(payload)
    write_pipeline_feed(
        folder,
        [
            (1, hostile, DAY1 - timedelta(hours=1)),  # the newest: it leads
            (2, "Iran story 2", DAY1 - timedelta(hours=2)),
            (3, "Gulf story 3", DAY1 - timedelta(hours=3)),
        ],
    )
    transport = MemoryTransport()
    settings = make_pipeline_settings(
        tmp_path, base_url, subject="{{ list_name }}: {{ lead_title }}"
    )
    services = build_services(settings, clock=FixedClock(DAY1), transport=transport)
    try:
        summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
    finally:
        services.close()
    (warning,) = summary.problems
    assert "list 'daily'" in warning and "was left out of the edition" in warning
    assert "feed 'Wire'" in warning and "https://wire.example.org/story/1" in warning
    assert "Iran story" in warning
    assert summary.editions_built == 1 and summary.messages_delivered == 3
    for message in transport.sent:
        assert b"X-Injected" not in message.data
        assert b"wire.example.org/story/2" in message.data
        assert b"wire.example.org/story/3" in message.data
        assert b"wire.example.org/story/1" not in message.data


@pytest.mark.parametrize(
    "address",
    ["=?utf-8?q?=0D=0AX-Injected=3A_1?=@example.org", "a" * 64 + "@" + "b" * 200 + ".org"],
)
def test_an_address_that_cannot_go_in_a_header_fails_that_copy_only(
    mailer: Mailer, address: str
) -> None:
    rendered = mailer.renderer.render(edition_led_by("Talks resume"), mailer.digest_list)
    personalizer = Personalizer(
        rendered,
        edition_id=7,
        service=mailer.settings.service,
        digest_list=mailer.digest_list,
        signer=SIGNER,
    )
    with pytest.raises(DeliveryPermanentError, match="not an address a message can be sent to"):
        personalizer.message_for(Subscriber(id=1, email=address), NOW)
    mailer.send(rendered, Subscriber(id=2, email="sam@example.org", name="Sam"))


@pytest.mark.usefixtures("first_line_down")
def test_an_edition_left_with_no_article_is_not_sent(
    tmp_path: Path,
    feeds: tuple[Path, str],  # noqa: F811
) -> None:
    folder, base_url = feeds
    write_pipeline_feed(folder, [(1, "Iran story " + b_word(INJECTED), DAY1 - timedelta(hours=1))])
    transport = MemoryTransport()
    settings = make_pipeline_settings(
        tmp_path, base_url, subject="{{ list_name }}: {{ lead_title }}"
    )
    services = build_services(settings, clock=FixedClock(DAY1), transport=transport)
    try:
        summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        latest = services.store.latest_edition("daily")
    finally:
        services.close()
    (warning,) = summary.problems
    assert "https://wire.example.org/story/1" in warning
    assert warning.endswith("; the edition is left empty")
    assert summary.editions_skipped == 1 and transport.sent == []
    assert latest is not None and latest.article_count == 0
