"""The whole cycle as an operator runs it: the `digest` command, a loopback feed server, SMTP."""

from __future__ import annotations

import csv
import email
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import load_settings
from digest.mail.tokens import TokenSigner
from digest.store.upgrades import head_revision
from tests.configs import service_table
from tests.feedserver import answer, feed_server
from tests.servers import SmtpSink, free_port, smtp_server
from tests.test_lists_cli import write_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.toml"
DIGEST = str(Path(sys.executable).parent / "digest")
SECRET = "end-to-end-secret"

pytestmark = pytest.mark.integration


def example_config(tmp_path: Path, *, smtp_port: int | None) -> Path:
    """The example config, with its sample server on a free port and its data in ``tmp_path``."""
    port = free_port()
    text = EXAMPLE.read_text().replace("127.0.0.1:8421", f"127.0.0.1:{port}")
    text = text.replace("port = 8421", f"port = {port}")
    text = text.replace('directory = "samples"', f'directory = "{ROOT / "config" / "samples"}"')
    text = re.sub(
        r'subscribers = "(subscribers/[^"]+)"', rf'subscribers = "{ROOT / "config"}/\1"', text
    )
    text = text.replace(
        'database_url = "sqlite:///var/digest.db"',
        f'database_url = "sqlite:///{tmp_path / "digest.db"}"\ndata_dir = "{tmp_path / "var"}"',
    )
    text = text.replace('outbox = "var/outbox"', f'outbox = "{tmp_path / "outbox"}"')
    if smtp_port is not None:
        text += f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\ntls = "none"\n'
    path = tmp_path / "digest.toml"
    path.write_text(text)
    return path


def digest(
    config: Path,
    *args: str,
    secret: str | None = SECRET,
    columns: int = 120,
    database_url: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``digest --config CONFIG ARGS`` run to its end, with ``secret`` as DIGEST_SECRET_KEY (None:
    unset, the key file of the data folder is used), and ``database_url`` as DIGEST_DATABASE_URL
    (None: the config's)."""
    environment = {**os.environ, "COLUMNS": str(columns)}
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET_KEY", "DIGEST_DATABASE_URL"):
        environment.pop(name, None)
    if secret is not None:
        environment["DIGEST_SECRET_KEY"] = secret
    if database_url is not None:
        environment["DIGEST_DATABASE_URL"] = database_url
    return subprocess.run(
        [DIGEST, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def subscribers(name: str) -> list[str]:
    with (ROOT / "config" / "subscribers" / name).open(encoding="utf-8-sig") as file:
        return [row["email"].lower() for row in csv.DictReader(file)]


class _StoryLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("class") in ("headline-link", "more-from-link"):
            self.links.append(attributes.get("href") or "")


def story_links(html: str) -> list[str]:
    """The links of every story shown: headlines and "More from" entries."""
    parser = _StoryLinks()
    parser.feed(html)
    return parser.links


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def smtp() -> SmtpSink:
    with smtp_server() as sink:
        yield sink


def test_one_cycle_mails_every_subscriber_once_and_a_second_sends_nothing(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = example_config(tmp_path, smtp_port=smtp.port)
    first = digest(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert re.search(r"feeds polled\s+│\s+8", first.stdout)
    assert re.search(r"messages delivered\s+│\s+14", first.stdout)

    expected = sorted(subscribers("middle-east-daily.csv") + subscribers("gulf-weekly.csv"))
    assert sorted(r for mail in smtp.received for r in mail.rcpt_tos) == expected
    assert all(mail.mail_from == "briefing@example.org" for mail in smtp.received)

    settings = load_settings(config, {})
    signer = TokenSigner(SECRET)
    article_links: set[str] = set()
    for mail in smtp.received:
        message = parse(mail.data)
        assert message["To"].addresses[0].addr_spec.lower() == mail.rcpt_tos[0]
        assert message["From"].addresses[0].display_name == "The Middle East Desk"
        assert message["List-Id"].endswith(".example.org>")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Message-ID"] and message["Date"]
        assert message.get_content_type() == "multipart/alternative"
        unsubscribe = re.fullmatch(
            r"<(https://[^>]+)>, <mailto:unsubscribe@example\.org\?subject=unsubscribe-[\w.-]+>",
            message["List-Unsubscribe"],
        )
        assert unsubscribe is not None
        token = unsubscribe.group(1).rsplit("/", 1)[1]
        list_slug = signer.read_unsubscribe_token(token)[1]
        assert list_slug in {"middle-east-daily", "gulf-weekly"}
        assert message["List-Id"].startswith(f'"{settings.list(list_slug).name}"')

        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert unsubscribe.group(1) in html and unsubscribe.group(1) in text
        assert 'style="' in html  # CSS was inlined
        assert settings.service.postal_address in html
        # Nothing from the feeds arrives unescaped: the samples carry scripts and handlers.
        for hostile in ("<script", "<iframe", "onclick", "onerror", "onmouseover", "javascript:"):
            assert hostile not in html.lower()
        assert "%%DIGEST-" not in html and "%%DIGEST-" not in text
        # Each article at most once: every headline link appears once as a headline.
        stories = story_links(html)
        assert stories and len(stories) == len(set(stories))
        article_links.update(stories)
    assert len(article_links) > 20

    second = digest(config, "run", "--once")
    assert second.returncode == 0, second.stderr
    assert re.search(r"messages delivered\s+│\s+0", second.stdout)
    assert len(smtp.received) == 14


def test_the_example_writes_eml_files_to_the_outbox(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    result = digest(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 14
    message = parse(files[0].read_bytes())
    # The headline first, where a phone's inbox has room for it; the list's name after.
    headline, _, list_name = message["Subject"].rpartition(" | ")
    assert list_name == "The Middle East in your inbox"
    assert headline and headline in unescape(message.get_body(("html",)).get_content())

    forced = digest(config, "run", "--once", "--list", "gulf-weekly")
    assert forced.returncode == 0, forced.stderr
    # Forced in the same minute with no new article: nothing new to say, so nothing is sent.
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 14


def test_run_names_an_outbox_with_brackets_as_it_is(tmp_path: Path) -> None:
    # "[mail]" in the outbox's path is rich markup: the path printed lost it.
    config = example_config(tmp_path, smtp_port=None)
    outbox = tmp_path / "[mail]"
    config.write_text(config.read_text().replace(str(tmp_path / "outbox"), str(outbox)))
    result = digest(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(list(outbox.glob("*.eml"))) == 14
    assert f"Messages written to {outbox}/" in " ".join(result.stdout.split()), result.stdout


def test_config_check_db_upgrade_and_preview(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    upgrade = digest(config, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert f"Database at revision {head_revision()}" in upgrade.stdout
    assert (tmp_path / "digest.db").exists()

    check = digest(config, "config", "check")
    assert check.returncode == 0, check.stderr
    assert "8 feeds, 12 topics, 2 lists" in check.stdout

    preview = digest(config, "preview", "middle-east-daily", "--poll")
    assert preview.returncode == 0, preview.stderr
    path = Path(preview.stdout.strip().splitlines()[-1])
    html = path.read_text()
    assert "The Middle East in your inbox" in html and 'style="' in html
    assert not (tmp_path / "outbox").exists()  # a preview sends nothing


def test_db_upgrade_says_which_revisions_it_goes_through_before_it_starts(
    tmp_path: Path,
) -> None:
    # A migration that indexes the ledger of a database a year old takes a quarter of a minute
    # and more, in which `digest db upgrade` said nothing: it looked hung.
    from digest.store.db import create_database_engine
    from digest.store.upgrades import upgrade

    config = example_config(tmp_path, smtp_port=None)
    engine = create_database_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    upgrade(engine, "0016")
    engine.dispose()
    first = digest(config, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    said = " ".join(first.stdout.split())
    assert f"Upgrading the database from revision 0016 to {head_revision()}" in said, said
    assert said.index("Upgrading") < said.index(f"Database at revision {head_revision()}")
    again = digest(config, "db", "upgrade")
    assert "Upgrading" not in again.stdout  # nothing to do: said in one line
    assert f"Database at revision {head_revision()}" in again.stdout


def test_run_says_it_upgrades_the_database_before_it_starts(tmp_path: Path) -> None:
    # The embedded mode upgrades its database when a command opens it; after an update,
    # `digest run` sat through a long migration without a word.
    from digest.store.db import create_database_engine
    from digest.store.upgrades import stored_revision, upgrade

    config = example_config(tmp_path, smtp_port=None)
    engine = create_database_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    upgrade(engine, "0016")
    run = digest(config, "run", "--once")
    assert run.returncode == 0, run.stderr
    said = " ".join(run.stderr.split())
    assert f"Upgrading the database from revision 0016 to {head_revision()}" in said, said
    assert stored_revision(engine) == head_revision()
    engine.dispose()


def test_a_database_a_newer_release_upgraded_is_refused_in_one_line_by_every_command(
    tmp_path: Path,
) -> None:
    # The code rolled back after `digest db upgrade` of a newer release: Alembic does not know
    # the database's revision, and each command that opened the store ended in its traceback.
    config = example_config(tmp_path, smtp_port=None)
    assert digest(config, "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "digest.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    commands = [
        ("status",),
        ("feeds",),
        ("subscribers", "list"),
        ("send", "middle-east-daily"),
        ("run", "--once"),
        ("serve",),
        ("inbound",),
        ("db", "upgrade"),
    ]
    for command in commands:
        result = digest(config, *command)
        said = " ".join(result.stderr.split())
        assert result.returncode == 1, (command, result.stdout, said)
        assert "Traceback" not in said and "CommandError" not in said, (command, said)
        assert (
            "has schema 0099_from_the_future, newer than this code knows "
            f"(its newest is {head_revision()}): run the version of digest that upgraded it"
        ) in said, (command, said)


def test_config_check_on_a_database_a_newer_release_upgraded_does_not_say_to_upgrade_it(
    tmp_path: Path,
) -> None:
    config = example_config(tmp_path, smtp_port=None)
    assert digest(config, "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "digest.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    check = digest(config, "config", "check")
    said = " ".join((check.stdout + check.stderr).split())
    assert check.returncode == 0, said
    assert "schema is newer than this version (run the version of digest that upgraded it)" in said
    assert "older" not in said and "digest db upgrade" not in said


def test_config_check_on_another_application_s_database_says_so_not_that_it_is_newer(
    tmp_path: Path,
) -> None:
    # Its Alembic keeps a revision digest never had: `config check` said the database came
    # from a newer digest, while `digest run` refuses it as another application's.
    config = example_config(tmp_path, smtp_port=None)
    with sqlite3.connect(tmp_path / "digest.db") as connection:
        connection.executescript(
            "CREATE TABLE users (id INTEGER PRIMARY KEY);"
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);"
            "INSERT INTO alembic_version VALUES ('3f2a9c1b7d10');"
        )
    check = digest(config, "config", "check")
    said = " ".join((check.stdout + check.stderr).split())
    assert check.returncode == 0, said
    assert (
        "Lists' history not checked: the database is another application's: it holds tables "
        "(users) and schema 3f2a9c1b7d10, not digest's"
    ) in said
    assert "newer" not in said


def test_commands_started_together_on_an_older_database_upgrade_it_once_and_all_run(
    tmp_path: Path,
) -> None:
    # `digest run`, `digest serve` and `digest inbound` started together after an upgrade of
    # the code: each read the old revision and ran the same migration, and all but the first
    # failed ("table ... already exists", or a traceback).
    from digest.store.db import create_database_engine
    from digest.store.upgrades import upgrade

    config = example_config(tmp_path, smtp_port=None)
    environment = {**os.environ, "DIGEST_SECRET_KEY": SECRET, "COLUMNS": "120"}
    environment.pop("DIGEST_CONFIG", None)
    commands = [("status",), ("subscribers", "list"), ("feeds",), ("status",)]
    for attempt in range(2):
        for old in tmp_path.glob("digest.db*"):
            old.unlink()
        engine = create_database_engine(f"sqlite:///{tmp_path / 'digest.db'}")
        upgrade(engine, "0006")
        engine.dispose()
        started = [
            subprocess.Popen(
                [DIGEST, "--config", str(config), *command],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
            for command in commands
        ]
        for command, process in zip(commands, started, strict=True):
            _, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, (attempt, command, stderr)
        with sqlite3.connect(tmp_path / "digest.db") as connection:
            assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
                (head_revision(),)
            ]


def test_preview_poll_says_which_feeds_failed_and_why(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    (tmp_path / "no-samples").mkdir()  # the sample server answers 404 for every feed
    config.write_text(
        config.read_text().replace(str(ROOT / "config" / "samples"), str(tmp_path / "no-samples"))
    )
    preview = digest(config, "preview", "middle-east-daily", "--poll")
    failures = [line for line in preview.stderr.splitlines() if line.startswith("feed http")]
    assert len(failures) == 8 and all("404" in line for line in failures), preview.stderr
    assert "polled 8 feeds: 0 new articles, 8 failed" in preview.stderr


def test_a_broken_config_is_refused_with_file_key_and_reason(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    config.write_text(config.read_text().replace('schedule = "0 7 * * *"', 'schedule = "7am"'))
    result = digest(config, "run", "--once")
    assert result.returncode == 2
    key = "lists[middle-east-daily].schedule"
    assert f"{config}: {key}: invalid cron expression '7am'" in result.stderr
    assert not (tmp_path / "digest.db").exists()  # nothing ran


def test_readers_written_in_other_scripts_are_mailed_as_they_signed_up(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    # The list's file as Excel saves "CSV UTF-8": a byte order mark, Arabic and Hebrew names, a
    # domain in Arabic letters and one in German, and an address whose part before the @ is
    # Arabic, which the mailer refuses (it needs SMTPUTF8) while it mails the others.
    readers = (
        "email,name,timezone\r\n"
        "rana@مثال.إختبار,رنا حداد,Asia/Dubai\r\n"
        "sam@bücher.de,שמואל כהן,Asia/Jerusalem\r\n"
        "علي@example.com,علي,Asia/Baghdad\r\n"
    )
    (tmp_path / "readers.csv").write_bytes(b"\xef\xbb\xbf" + readers.encode())
    config = example_config(tmp_path, smtp_port=smtp.port)
    text = config.read_text()
    config.write_text(
        re.sub(r'subscribers = "[^"]*middle-east-daily\.csv"', 'subscribers = "readers.csv"', text)
    )
    result = digest(config, "run", "--once", "--list", "middle-east-daily")
    assert result.returncode == 0, result.stderr
    assert "'علي@example.com' has letters outside ASCII before the @" in result.stderr
    sent = {mail.rcpt_tos[0]: parse(mail.data) for mail in smtp.received}
    assert sorted(sent) == ["rana@xn--mgbh0fb.xn--kgbechtv", "sam@xn--bcher-kva.de"]
    for address, name, written in (
        ("rana@xn--mgbh0fb.xn--kgbechtv", "رنا حداد", "rana@مثال.إختبار"),
        ("sam@xn--bcher-kva.de", "שמואל כהן", "sam@bücher.de"),
    ):
        message = sent[address]
        [to] = message["To"].addresses
        assert (to.display_name, to.addr_spec) == (name, address)
        text_part = message.get_body(("plain",)).get_content()
        html_part = message.get_body(("html",)).get_content()
        assert written in " ".join(text_part.split()) and written in html_part
        assert name in text_part  # the greeting


def _persian_feed(outlet: str, items: list[tuple[str, str, str, str, int | datetime]]) -> bytes:
    """An RSS feed of a Persian outlet: (guid, title, author, summary, hours ago or the time it
    was published) per item."""
    now = datetime.now(UTC)
    entries = "".join(
        f"<item><title>{title}</title><link>https://{outlet}.example.org/{guid}</link>"
        f"<guid>{guid}</guid><dc:creator>{author}</dc:creator>"
        f"<pubDate>{format_datetime(_published(now, when))}</pubDate>"
        f"<description>{summary}</description></item>"
        for guid, title, author, summary, when in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>خبرها</title>'
        f"<link>https://{outlet}.example.org/</link><language>fa</language>"
        f"<description>خبرها</description>{entries}</channel></rss>"
    ).encode()


def _published(now: datetime, when: int | datetime) -> datetime:
    return when if isinstance(when, datetime) else now - timedelta(hours=when)


# Iran's month names: the Persian calendar's dates are checked against jdatetime alone here.
_SOLAR_MONTHS = (
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
)  # fmt: skip


def _solar(moment: datetime, zone: str) -> tuple[str, str]:
    """The Solar Hijri day ("۱۶ آذر") and time ("۰۹:۱۴") of ``moment`` in ``zone``, in
    Persian digits."""
    import jdatetime

    local = moment.astimezone(ZoneInfo(zone))
    solar = jdatetime.date.fromgregorian(date=local.date())
    persian = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    day = f"{solar.day} {_SOLAR_MONTHS[solar.month - 1]}".translate(persian)
    return day, f"{local:%H:%M}".translate(persian)


def test_a_persian_edition_reaches_its_reader_filed_grouped_and_signed_as_written(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    # Two Persian outlets: one types the ZWNJ and the Persian yeh and kaf, the other spaces "می"
    # and "ها" and types the Arabic ي and ك. The operator's rules are typed either way too.
    zwnj = "\u200c"
    # The last 21:00 UTC before now (within the day the first edition reaches back): 00:30 of
    # the next day in Tehran, 21:00 or 22:00 of the day before in London.
    now = datetime.now(UTC)
    evening = now.replace(hour=21, minute=0, second=0, microsecond=0)
    if evening > now:
        evening -= timedelta(days=1)
    farda = _persian_feed("farda", [
        ("f1", f"اتحادیه اروپا تحریم{zwnj}های تازه علیه ایران را تصویب کرد", "مریم احمدی",
         f"وزیران خارجه اروپا بسته تازه{zwnj}ای از تحریم{zwnj}ها را تصویب کردند. مسئول سیاست "
         f"خارجی اتحادیه می{zwnj}گوید این تحریم{zwnj}ها به برنامه پهپادی ایران مربوط است.", 3),
        ("f2", "نشست امنیتی خاور میانه در ژنو", f"نوشته{zwnj}ی علی رضایی",
         f"دیپلمات{zwnj}های منطقه در ژنو گفت{zwnj}وگو درباره امنیت کشتیرانی را ادامه دادند.", 4),
    ])  # fmt: skip
    iranwire = _persian_feed("iranwire", [
        ("w1", "اتحاديه اروپا تحريم هاي تازه عليه ايران را تصويب كرد", "سارا کریمی",
         "وزيران خارجه اروپا بسته تازه اي از تحريم ها را تصويب كردند. مسئول سياست خارجي "
         "اتحاديه مي گويد اين تحريم ها به برنامه پهپادي ايران مربوط است.", 2),
        ("w2", f"تحریم{zwnj}های نفتی ونزوئلا تمدید شد", f"به{zwnj}قلم سارا کریمی",
         "واشنگتن محدودیت فروش نفت کاراکاس را شش ماه دیگر تمدید کرد.", 5),
        # Each reader's copy dates it where they are: the day before in London. The
        # headline's figures are the publisher's, Latin digits kept.
        ("w3", "بازار تهران با شاخص 2.5 میلیون واحدی بسته شد", "نگار موسوی",
         "بورس تهران در پایان معاملات روز با رشد بسته شد.", evening),
    ])  # fmt: skip
    (tmp_path / "readers.csv").write_text(
        "email,name,timezone\nmaryam@example.org,مریم,Asia/Tehran\n"
        "sara@example.org,سارا,Europe/London\n"
    )
    routes = {"/farda.xml": answer(200, farda), "/iranwire.xml": answer(200, iranwire)}
    with feed_server(routes) as feeds:
        config = write_config(tmp_path, {
            "service": service_table(
                tmp_path, sender_name="میز خبر", postal_address="تهران، خیابان نمونه، پلاک ۱"
            ),
            "ingest": {"allow_private_addresses": True},
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none"},
            "feeds": [
                {"name": "رادیو فردا", "url": feeds.url("/farda.xml")},
                {"name": f"ایران{zwnj}وایر", "url": feeds.url("/iranwire.xml")},
            ],
            "topics": [{
                "slug": "region", "name": "منطقه",
                "rules": {"places": ["ایران", "تهران"], "include": ["تحریم", f"خاور{zwnj}میانه"],
                          "threshold": 2},
            }],
            "lists": [{
                "slug": "farsi-daily", "name": "خبرنامه روزانه", "language": "fa",
                "topics": ["region"], "schedule": "0 7 * * *", "timezone": "Asia/Tehran",
                "subscribers": str(tmp_path / "readers.csv"),
            }],
        })  # fmt: skip
        result = digest(config, "run", "--once", "--list", "farsi-daily")
    assert result.returncode == 0, result.stderr
    sent = {mail.rcpt_tos[0]: parse(mail.data) for mail in smtp.received}
    assert sorted(sent) == ["maryam@example.org", "sara@example.org"]
    # The edition of 07:00 in Tehran, dated in the Persian calendar (a Persian list's default)
    # in its masthead and subject, the same for both readers; each item's time where the
    # reader is.
    tehran_now = datetime.now(ZoneInfo("Asia/Tehran"))
    slot_day = tehran_now.date() - timedelta(days=1 if tehran_now.hour < 7 else 0)
    edition_day = _solar(datetime.combine(slot_day, time(12), UTC), "UTC")[0]
    dated = rf"{edition_day} ۱۴[۰-۹]{{2}}"
    for address, zone, clock in (
        ("maryam@example.org", "Asia/Tehran", "به وقت تهران"),  # as Iranian outlets write it
        ("sara@example.org", "Europe/London", "به وقت گرینویچ"),
    ):
        message = sent[address]
        assert re.fullmatch(f"خبرنامه روزانه: {dated}", str(message["Subject"]))
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        evening_day, evening_time = _solar(evening, zone)
        for part in (html, " ".join(text.split())):
            assert re.search(f"(شنبه|جمعه) {dated}", part)  # the masthead: weekday and date
            # With its year only on the eve of Nowruz, when it is last year's in London.
            assert re.search(f"{evening_day}( ۱۴[۰-۹]{{2}})?، {evening_time} {clock}", part)
            assert "بازار تهران با شاخص 2.5 میلیون واحدی بسته شد" in part
        # The byline's date set apart by a dash: a dot before it read as a Persian zero.
        assert f" – \u2068{evening_day}" in text and "·" not in text
        # No Gregorian year outside the links (the edition's address holds its UTC date).
        assert not re.search(r"\b20[2-9][0-9]\b", re.sub(r"https?://\S+", "", text))
        assert all(len(line) <= 72 for line in text.splitlines() if "://" not in line)
    # The two copies give two days.
    assert _solar(evening, "Asia/Tehran")[0] != _solar(evening, "Europe/London")[0]
    assert _solar(evening, "Asia/Tehran")[1] == "۰۰:۳۰"
    message = sent["maryam@example.org"]
    assert message["To"].addresses[0].display_name == "مریم"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert '<html lang="fa" dir="rtl"' in html
    for part in (html, text):
        # Filed by the rules as the operator typed them: "تحریم" finds "تحریم‌های", and
        # "خاور‌میانه" finds "خاور میانه".
        assert f"تحریم{zwnj}های نفتی ونزوئلا تمدید شد" in part
        assert "نشست امنیتی خاور میانه در ژنو" in part
        # The two outlets' one report is one story, its second outlet under "Also covered by".
        assert "همچنین در" in part
        # Bylines name the author, not the Persian "written by" before the name.
        assert "سارا کریمی" in part and "علی رضایی" in part
        assert f"به{zwnj}قلم" not in part and f"نوشته{zwnj}ی" not in part
        # The ZWNJ a word holds stays one, where a line is cut or not.
        assert f"گفت{zwnj}وگو" in " ".join(part.split())
        assert zwnj * 2 not in part
        assert "لغو اشتراک" in part and "تهران، خیابان نمونه، پلاک ۱" in part
    assert (
        sorted(story_links(html)).count("https://farda.example.org/f1")
        + sorted(story_links(html)).count("https://iranwire.example.org/w1")
        == 1
    )
    assert "سلام مریم،" in text
