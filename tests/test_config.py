"""Config validation: each kind of mistake is refused with the file, the key path and why."""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.config import config_path_from_env, entry_key, load_settings
from digest.errors import ConfigError
from digest.mail.smtp import SmtpTransport
from digest.preflight import preflight
from digest.services import default_transport
from digest.shown import without_password
from tests.certificates import key_pem, pem, self_signed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.toml"

MINIMAL = """
[service]
base_url = "https://news.example.org"
sender_name = "Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[[feeds]]
name = "Wire"
url = "https://wire.example.org/feed.xml"

[[topics]]
slug = "middle-east"
name = "Middle East"

[[topics]]
slug = "iran"
name = "Iran"
parent = "middle-east"
[topics.rules]
include = ["Iran"]

[[lists]]
slug = "daily"
name = "Daily"
topics = ["middle-east", "iran"]
schedule = "0 7 * * *"
timezone = "Asia/Dubai"
subscribers = "members.csv"
"""


def write_config(tmp_path: Path, text: str, *, subscribers: bool = True) -> Path:
    if subscribers:
        (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    path = tmp_path / "digest.toml"
    path.write_text(text)
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    assert str(path) in str(caught.value)
    return caught.value.problems


@pytest.mark.parametrize(
    ("line", "replacement", "key"),
    [
        ('name = "Daily"', 'name = "Daily\\u001b[31m"', "lists[daily].name"),
        (
            'slug = "daily"',
            'slug = "daily"\ndescription = "Today\\u0007"',
            "lists[daily].description",
        ),
        ('sender_name = "Desk"', 'sender_name = "Desk\\u009b"', "service.sender_name"),
        (
            'postal_address = "1 Example Street, Example City"',
            'postal_address = "1 Example Street\\u0000"',
            "service.postal_address",
        ),
        ('name = "Middle East"', 'name = "Middle\\u007fEast"', "topics[middle-east].name"),
        ('name = "Wire"', 'name = "Wire\\u0008"', "feeds[0].name"),
    ],
)
def test_a_control_character_in_a_text_readers_see_is_refused_naming_the_key(
    tmp_path: Path, line: str, replacement: str, key: str
) -> None:
    # An ESC in a list's name went into every copy's Subject and List-Id ("The Desk [31m") and
    # raw into the HTML, with a BEL and a NUL of its description: config check said OK.
    assert line in MINIMAL
    [(where, why)] = problems(write_config(tmp_path, MINIMAL.replace(line, replacement, 1)))
    assert where == key
    assert "a control character (U+" in why and "remove it" in why


def test_line_breaks_and_tabs_of_a_postal_address_or_description_are_kept(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'postal_address = "1 Example Street, Example City"',
        'postal_address = """1 Example Street\nExample City\t"""',
    ).replace('slug = "daily"', 'slug = "daily"\ndescription = "The day\tin brief"', 1)
    settings = load_settings(write_config(tmp_path, text), {})
    assert settings.service.postal_address == "1 Example Street\nExample City\t"
    assert settings.list("daily").description == "The day\tin brief"


def test_example_config_is_valid() -> None:
    settings = load_settings(EXAMPLE, {})
    assert settings.list("middle-east-daily").timezone == "Asia/Dubai"
    assert settings.topic("iran").parent == "middle-east"
    assert settings.smtp is None
    assert settings.service.outbox == EXAMPLE.parent / "var/outbox"
    assert settings.secret_key is None


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, MINIMAL), {})
    daily = settings.list("daily")
    assert daily.max_articles == 25
    assert daily.send_when_empty is False
    assert settings.config_path(daily.subscribers) == tmp_path / "members.csv"
    assert settings.service.database_url == f"sqlite:///{tmp_path}/var/digest.db"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, MINIMAL.replace('slug = "daily"', 'slug = "daily"\nfrequency = 2')
    )
    assert problems(path) == [
        (
            "lists[daily].frequency",
            "unknown key (check its spelling in the configuration reference of the guides)",
        )
    ]


@pytest.mark.parametrize(
    ("addition", "key", "meant"),
    [
        ('timezon = "Asia/Dubai"\n', "lists[daily].timezon", "timezone"),
        ('[lists.utm]\ncampain = "x"\n', "lists[daily].utm.campain", "campaign"),
        ('[smpt]\nhost = "smtp.example.org"\n', "smpt", "smtp"),
        ('[smtp]\nhost = "smtp.example.org"\nprot = 25\n', "smtp.prot", "port"),
        (
            '[[topics]]\nslug = "x"\nname = "X"\n[topics.rules]\nincludes = ["x"]\n',
            "topics[x].rules.includes",
            "include",
        ),
    ],
)
def test_a_misspelt_key_is_answered_with_the_key_it_is_close_to(
    tmp_path: Path, addition: str, key: str, meant: str
) -> None:
    path = write_config(tmp_path, MINIMAL + addition)
    assert problems(path) == [(key, f"unknown key: did you mean {meant!r}?")]


def test_wrong_type_is_named(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL + 'max_articles = "many"\n')
    [(key, why)] = problems(path)
    assert key == "lists[daily].max_articles"
    assert "integer" in why and "'many'" in why


def test_a_database_the_store_does_not_run_on(tmp_path: Path) -> None:
    url = 'database_url = "mysql+pymysql://desk@db/digest"\n'
    path = write_config(tmp_path, MINIMAL.replace("[service]\n", "[service]\n" + url))
    [(key, why)] = problems(path)
    assert key == "service.database_url"
    assert "the store runs on SQLite or PostgreSQL, not 'mysql'" in why


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "sqlite://digest.db",
            "'sqlite://digest.db' names no file: SQLite takes three slashes before a relative "
            "path and four before an absolute one, e.g. 'sqlite:///digest.db'",
        ),
        ("sqlite:digest.db", "'sqlite:digest.db' is not a database URL"),
        (
            # The file was "var/news", made without a word, and the one named stayed unused.
            "sqlite:///var/news?desk.db",
            "its '?' begins the URL's options, which makes the file 'var/news': write a '?' of "
            "the file's name as %3F ('var/news%3Fdesk.db')",
        ),
        (
            "postgresql+psycopg://desk:hunter2@db:five/digest",
            "'postgresql+psycopg://desk:***@db:five/digest' is not a database URL",
        ),
        (
            # What troubleshooting advises, written as a duration: psycopg refused it at the
            # first connection, and every command ended in a traceback hundreds of lines long.
            "postgresql+psycopg://desk:hunter2@db/digest?connect_timeout=30s",
            "its connect_timeout, '30s', is no number of seconds: write it as a whole number, "
            "e.g. ?connect_timeout=30",
        ),
        (
            # Given twice, it was named as a Python tuple, "('5', '6')".
            "postgresql+psycopg://desk:hunter2@db/digest?connect_timeout=5&connect_timeout=6",
            "its connect_timeout is given 2 times ('5', '6'): write it once, e.g. "
            "?connect_timeout=30",
        ),
    ],
)
def test_a_database_url_the_driver_cannot_read_is_refused_by_the_check(
    tmp_path: Path, url: str, reason: str
) -> None:
    # Accepted, each ended every command that opens the store in a traceback.
    text = MINIMAL.replace("[service]\n", f'[service]\ndatabase_url = "{url}"\n')
    [(key, why)] = problems(write_config(tmp_path, text))
    assert key == "service.database_url"
    assert why.startswith(reason)
    assert "hunter2" not in why


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "amqp://guest:hunter2@mq.example.org//",
            "the distributed mode runs on Redis, not 'amqp': use redis://host:6379/0",
        ),
        (
            " redis://redis.example.org:6379/0",
            "' redis://redis.example.org:6379/0' has a blank or a control character in it",
        ),
        (
            "redis://redis.example.org:6379/0/",
            "'redis://redis.example.org:6379/0/': the database number after the host must be a "
            "whole number",
        ),
        (
            "redis://:hunter2@redis.example.org:63790/zero",
            "'redis://:***@redis.example.org:63790/zero': the database number",
        ),
        (
            "redis://redis.example.org:99999/0",
            "'redis://redis.example.org:99999/0' has a port out of range",
        ),
        (
            # The address ended at the "/": the rest, password included, was shown as the
            # database number.
            "redis://:hunter/2@redis.example.org:6379/0",
            "its password or user name holds a '/', '?' or '#', which ends the address early",
        ),
        ("redis://:hunter#2@redis.example.org:6379/0", "its password or user name holds"),
        (
            # A host in brackets that is no IP address: Python's words alone, the URL unnamed.
            "redis://:hunter2@[redis]:6379/0",
            "'redis://:***@[redis]:6379/0' is not a URL that can be read: 'redis' does not "
            "appear to be an IPv4 or IPv6 address; only an IPv6 address goes between [ ]",
        ),
        (
            "rediss://redis.example.org:6380/0",
            "'rediss://redis.example.org:6380/0': a rediss:// URL must say how to check the "
            "server's certificate: end it with ?ssl_cert_reqs=required",
        ),
    ],
)
def test_a_broker_url_the_distributed_mode_cannot_use_is_refused(
    tmp_path: Path, url: str, reason: str
) -> None:
    # Accepted, each ended `digest status` and `digest send` in a traceback from redis-py, or
    # `digest worker` in one from Celery (exit 0 for a rediss:// URL).
    [(key, why)] = problems(write_config(tmp_path, MINIMAL), {"DIGEST_BROKER_URL": url})
    assert key == "service.broker_url (set by DIGEST_BROKER_URL)"
    assert why.startswith(reason)
    assert "hunter" not in why


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            # The address ended at the "/": the start of the password was read as a port and
            # the whole address, password included, was shown in "has a port out of range".
            "http://desk:hunter/2@wire.example.org/feed.xml",
            "'http://desk:***@wire.example.org/feed.xml' its password or user name holds a '/', "
            "'?' or '#', which ends the address early: write each as %2F, %3F or %23",
        ),
        (
            "http://desk:hunter2@wire.example.org:99999/feed.xml",
            "'http://desk:***@wire.example.org:99999/feed.xml' has a port out of range",
        ),
        (
            " http://desk:hunter2@wire.example.org/feed.xml",
            "' http://desk:***@wire.example.org/feed.xml' has a blank at an end",
        ),
        (
            # Masking the password raised urlsplit's ValueError on such a host: the message
            # was Python's alone, and `feeds import` of one ended in a traceback.
            "http://desk:hunter2@[wire.example.org/feed.xml",
            "'http://desk:***@[wire.example.org/feed.xml' is not a URL that can be read: "
            "Invalid IPv6 URL",
        ),
    ],
)
def test_a_feed_address_refused_never_shows_its_password(
    tmp_path: Path, url: str, reason: str
) -> None:
    path = write_config(tmp_path, MINIMAL.replace("https://wire.example.org/feed.xml", url))
    [(key, why)] = problems(path)
    assert key == "feeds[Wire].url"
    assert why.startswith(reason), why
    assert "hunter" not in why


@pytest.mark.parametrize(
    "url",
    ["https://mastodon.example.org/@desk.rss", "https://wire.example.org:8443/@desk/feed.xml"],
)
def test_an_at_sign_in_a_feed_path_is_no_password(tmp_path: Path, url: str) -> None:
    path = write_config(tmp_path, MINIMAL.replace("https://wire.example.org/feed.xml", url))
    assert load_settings(path, {}).feeds[0].url == url
    assert without_password(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://redis.internal",
        "redis://:s3cret@redis.internal:6379/15",
        "redis://:s3%2Fcret@redis.internal:6379/15",
        "rediss://redis.internal:6380/0?ssl_cert_reqs=required",
    ],
)
def test_a_redis_broker_url_is_accepted(tmp_path: Path, url: str) -> None:
    settings = load_settings(write_config(tmp_path, MINIMAL), {"DIGEST_BROKER_URL": url})
    assert settings.service.broker_url == url


def test_bad_cron_expression(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace('"0 7 * * *"', '"61 7 * * *"'))
    [(key, why)] = problems(path)
    assert key == "lists[daily].schedule"
    assert "invalid cron expression '61 7 * * *'" in why


def test_unknown_timezone(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace('"Asia/Dubai"', '"Mars/Olympus"'))
    assert problems(path) == [
        (
            "lists[daily].timezone",
            "unknown timezone 'Mars/Olympus': use an IANA name such as 'Asia/Dubai'",
        )
    ]


@pytest.mark.parametrize("name", ["Asia", "right/UTC"])
def test_a_folder_or_a_leap_second_zone_is_no_timezone(tmp_path: Path, name: str) -> None:
    # "Asia" made ZoneInfo raise IsADirectoryError: an error naming a file and no key.
    path = write_config(tmp_path, MINIMAL.replace('"Asia/Dubai"', f'"{name}"'))
    assert problems(path) == [
        (
            "lists[daily].timezone",
            f"unknown timezone {name!r}: use an IANA name such as 'Asia/Dubai'",
        )
    ]


@pytest.mark.parametrize(
    ("language", "calendar", "dated_by"),
    [
        ("fa", None, "persian"),
        ("fa-AF", None, "persian"),
        ("fa", "gregorian", "gregorian"),
        ("en", None, "gregorian"),
        ("ar", "gregorian", "gregorian"),
    ],
)
def test_a_lists_calendar_follows_its_language_unless_set(
    tmp_path: Path, language: str, calendar: str | None, dated_by: str
) -> None:
    from digest.wording import calendar_for

    lines = f'language = "{language}"\n' + (f'calendar = "{calendar}"\n' if calendar else "")
    settings = load_settings(write_config(tmp_path, MINIMAL + lines), {})
    digest_list = settings.list("daily")
    assert digest_list.calendar == calendar
    assert calendar_for(digest_list.language, digest_list.calendar) == dated_by


@pytest.mark.parametrize("language", ["en", "ar", "he", "ps"])
def test_the_persian_calendar_is_refused_to_a_list_not_in_persian(
    tmp_path: Path, language: str
) -> None:
    path = write_config(tmp_path, MINIMAL + f'language = "{language}"\ncalendar = "persian"\n')
    assert problems(path) == [
        (
            "lists[daily].calendar",
            "the Persian calendar's months are named in Persian (fa, fa-AF, prs) only, and the "
            f'list\'s language is {language!r}: set calendar = "gregorian" or leave it out',
        )
    ]


def test_a_calendar_the_service_does_not_know_is_named(tmp_path: Path) -> None:
    [(key, why)] = problems(write_config(tmp_path, MINIMAL + 'calendar = "jalali"\n'))
    assert key == "lists[daily].calendar"
    assert "'gregorian'" in why and "'persian'" in why


def test_list_naming_an_unknown_topic(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, MINIMAL.replace('["middle-east", "iran"]', '["middle-east", "yemen"]')
    )
    assert problems(path) == [("lists[daily].topics", "unknown topic 'yemen'")]


def test_duplicate_slug(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        MINIMAL.replace('slug = "iran"', 'slug = "middle-east"').replace(
            'parent = "middle-east"', ""
        ),
    )
    assert (
        "topics[1].slug",
        "duplicate slug 'middle-east' (also topics[0]): give each entry its own slug",
    ) in problems(path)


@pytest.mark.parametrize(
    ("line", "slug", "key"),
    [
        ('slug = "daily"', "الخليج", "lists[الخليج].slug"),
        ('slug = "iran"', "إيران", "topics[إيران].slug"),
        ('slug = "daily"', "Gulf Weekly", "lists[Gulf Weekly].slug"),
        ('slug = "daily"', "gulf-wéekly", "lists[gulf-wéekly].slug"),
        ('slug = "daily"', "daily\\n", "lists[0].slug"),  # "$" ends a line, not the text
    ],
)
def test_a_slug_in_another_script_is_told_which_characters_a_slug_takes(
    tmp_path: Path, line: str, slug: str, key: str
) -> None:
    # An Arabic newsroom names its lists in Arabic: "String should match pattern
    # '^[a-z0-9][a-z0-9-]{0,62}$'" left the editor to read a regular expression, and did not
    # say that the name, unlike the slug, may be written in any script.
    path = write_config(tmp_path, MINIMAL.replace(line, f'slug = "{slug}"', 1))
    found = problems(path)
    value = tomllib.loads(f'slug = "{slug}"')["slug"]  # as the config reads it
    assert (
        key,
        f"{value!r} is not a slug: write it with lowercase ASCII letters a-z, digits 0-9 and "
        "'-', starting with a letter or digit, at most 63 characters (it goes into web "
        "addresses and mail headers); the name may be in any script",
    ) in found, found


def test_missing_subscriber_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL, subscribers=False)
    assert problems(path) == [
        ("lists[daily].subscribers", f"file not found: {tmp_path / 'members.csv'}")
    ]


def test_a_folder_given_as_the_subscriber_file_is_named_as_a_folder(tmp_path: Path) -> None:
    (tmp_path / "members").mkdir()
    path = write_config(tmp_path, MINIMAL.replace('"members.csv"', '"members"'), subscribers=False)
    assert problems(path) == [
        ("lists[daily].subscribers", f"{tmp_path / 'members'} is a folder: give the file in it")
    ]


def test_missing_config_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "nowhere.toml") == [("", "file not found")]


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # Windows Notepad saves UTF-8 with a byte order mark, which TOML parsers refuse on their own
    # as "Invalid statement (at line 1, column 1)".
    path = write_config(tmp_path, MINIMAL)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    settings = load_settings(path, {})
    assert [digest_list.slug for digest_list in settings.lists] == ["daily"]


def test_toml_syntax_error_says_where(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL + "\n[[lists]\n")
    [(key, why)] = problems(path)
    assert key == "" and "not valid TOML" in why and "line" in why


def test_unknown_parent_and_unknown_rule_feed(tmp_path: Path) -> None:
    text = MINIMAL.replace('parent = "middle-east"', 'parent = "levant"').replace(
        'include = ["Iran"]', 'include = ["Iran"]\nfeeds = ["Nope"]'
    )
    found = problems(write_config(tmp_path, text))
    assert ("topics[iran].parent", "unknown topic 'levant'") in found
    assert ("topics[iran].rules.feeds", "no feed is named 'Nope'") in found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace('"0 7 * * *"', '"every day"').replace('"Asia/Dubai"', '"Nowhere"')
    keys = {key for key, _ in problems(write_config(tmp_path, text))}
    assert keys == {"lists[daily].schedule", "lists[daily].timezone"}


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    text = MINIMAL + '\n[smtp]\nhost = "smtp.example.org"\npassword = "hunter2"\n'
    [(key, why)] = problems(write_config(tmp_path, text))
    assert key == "smtp.password"
    assert "DIGEST_SMTP_PASSWORD" in why


def test_a_bad_value_from_the_environment_names_its_variable(tmp_path: Path) -> None:
    # The file holds a good value, or none: the error must not send the operator to it.
    environ = {"DIGEST_DATABASE_URL": "mysql://db.example.org/digest"}
    [(key, why)] = problems(write_config(tmp_path, MINIMAL), environ)
    assert key == "service.database_url (set by DIGEST_DATABASE_URL)"
    assert "not 'mysql'" in why
    environ = {"DIGEST_BASE_URL": "http://news.example.org"}
    [(key, why)] = problems(write_config(tmp_path, MINIMAL), environ)
    assert key == "service.base_url (set by DIGEST_BASE_URL)"
    # A bad value in the file, with no variable set, is named as before.
    text = MINIMAL.replace('"https://news.example.org"', '"http://news.example.org"')
    [(key, _)] = problems(write_config(tmp_path, text))
    assert key == "service.base_url"


def test_a_base_url_too_long_for_the_unsubscribe_header_is_refused(tmp_path: Path) -> None:
    # Every copy's List-Unsubscribe header carries it with a token after it, on one line of at
    # most 998 octets: a longer one passed the check, and the run then stopped at the first
    # edition on the headers of a copy for "you@example.org".
    long = "https://news.example.org/" + "desk/" * 180
    text = MINIMAL.replace('"https://news.example.org"', f'"{long}"')
    [(key, why)] = problems(write_config(tmp_path, text))
    assert key == "service.base_url"
    assert why.startswith(f"the address is {len(long):,} characters long") and "at most" in why


def test_secrets_and_overrides_come_from_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL)
    settings = load_settings(
        path,
        {
            "DIGEST_SECRET_KEY": "s3cret",
            "DIGEST_SMTP_PASSWORD": "pw",
            "DIGEST_DATABASE_URL": "postgresql+psycopg://digest@127.0.0.1/digest",
            "DIGEST_BROKER_URL": "redis://127.0.0.1:6379/0",
        },
    )
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "s3cret"
    assert settings.smtp_password is not None
    assert "s3cret" not in repr(settings)
    # An address's password is masked in a repr too (a log line, a traceback's locals).
    with_passwords = load_settings(
        path,
        {
            "DIGEST_DATABASE_URL": "postgresql+psycopg://desk:hunter2@127.0.0.1/digest",
            "DIGEST_BROKER_URL": "redis://:hunter3@127.0.0.1:6379/0",
        },
    )
    assert "hunter" not in repr(with_passwords) + str(with_passwords)
    assert "postgresql+psycopg://desk:***@127.0.0.1/digest" in repr(with_passwords.service)
    assert with_passwords.service.database_url.endswith("desk:hunter2@127.0.0.1/digest")
    assert settings.service.database_url.startswith("postgresql")
    assert settings.service.broker_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("table", "host", "reason"),
    [
        ("smtp", "smtp.example.org:587", "holds a port: write the host 'smtp.example.org' here"),
        ("smtp", "[2001:db8::25]:25", "holds a port: write the host '2001:db8::25' here"),
        ("smtp", "smtps://smtp.example.org", "is a URL: write the host name or address alone"),
        ("smtp", "smtp example.org", "is not a host name or IP address"),
        ("inbound", "0.0.0.0:2525", "holds a port"),
        ("web", "http://0.0.0.0", "is a URL"),
        ("metrics", "", "is not a host name or IP address"),
    ],
)
def test_a_host_that_is_no_host_name_is_refused(
    tmp_path: Path, table: str, host: str, reason: str
) -> None:
    # Accepted, the mistake showed only when every delivery failed ("Name or service not
    # known"), or when the server would not start.
    extra = 'port = 2525\ntls = "none"\n' if table == "smtp" else ""
    path = write_config(tmp_path, MINIMAL + f'\n[{table}]\nhost = "{host}"\n{extra}')
    [(key, why)] = problems(path)
    assert key == f"{table}.host"
    assert reason in why


@pytest.mark.parametrize("host", ["smtp.example.org", "localhost", "192.0.2.25", "::1", "0.0.0.0"])
def test_host_names_and_addresses_are_hosts(tmp_path: Path, host: str) -> None:
    path = write_config(tmp_path, MINIMAL + f'\n[smtp]\nhost = "{host}"\n')
    assert load_settings(path, {}).smtp is not None


def test_base_url_must_be_https(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace("https://news", "http://news"))
    [(key, why)] = problems(path)
    assert key == "service.base_url" and "https" in why


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://127.9.0.1"],
)
def test_base_url_may_be_plain_http_on_a_loopback_host(tmp_path: Path, url: str) -> None:
    path = write_config(tmp_path, MINIMAL.replace("https://news.example.org", url))
    settings = load_settings(path, {})
    assert settings.service.base_url == url
    # Allowed, and said at every check and run: no reader can follow such a link.
    [warning] = preflight(settings, None).warnings
    assert f"service.base_url is {url}" in warning and "set an https URL" in warning


def test_relative_data_paths_are_read_from_the_config_files_folder_wherever_digest_starts(
    tmp_path: Path,
) -> None:
    # Started by a service manager (in /) or by cron (in the user's home), the same config put
    # the database, the outbox, the secret key and the suppression file in that folder: the
    # system's own /var, or a new empty database for each place a command was run from.
    folder = tmp_path / "etc"
    folder.mkdir()
    text = MINIMAL.replace(
        "[service]\n",
        '[service]\ndatabase_url = "sqlite:///var/digest.db?timeout=30"\n'
        'suppression_file = "../lists/suppressed.csv"\n',
    )
    path = write_config(folder, text)
    for started_in in (Path("/"), tmp_path, folder):
        service = load_settings(path, {}, working_directory=started_in).service
        assert service.database_url == f"sqlite:///{folder}/var/digest.db?timeout=30"
        assert service.data_dir == folder / "var"
        assert service.outbox == folder / "var/outbox"
        assert service.suppression_path == folder / "../lists/suppressed.csv"
    # The variables' paths too, and absolute ones stay as they are.
    environ = {"DIGEST_DATABASE_URL": "sqlite:///db/d.db", "DIGEST_OUTBOX": f"{tmp_path}/out"}
    service = load_settings(path, environ, working_directory=Path("/")).service
    assert service.database_url == f"sqlite:///{folder}/db/d.db"
    assert service.outbox == tmp_path / "out"
    assert preflight(load_settings(path, {}), None).warnings == []
    # A relative --config is read from the working directory, and the paths from its folder.
    relative = Path(os.path.relpath(path))
    assert load_settings(relative, {}).service.data_dir == folder / "var"


def test_data_a_relative_path_left_in_the_working_directory_is_named_not_started_anew(
    tmp_path: Path,
) -> None:
    # Data written relative to the working directory (as relative paths were once read) is not
    # left behind for a new, empty database and a new secret key: the config is refused, with
    # both paths and the key.
    folder, home = tmp_path / "etc", tmp_path / "srv"
    folder.mkdir()
    (home / "var/outbox").mkdir(parents=True)
    (home / "var/digest.db").write_bytes(b"")
    (home / "var/secret_key").write_text("k" * 40)
    (home / "var/outbox/1.eml").write_text("")
    text = MINIMAL.replace("[service]\n", '[service]\ndatabase_url = "sqlite:///var/digest.db"\n')
    path = write_config(folder, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {}, working_directory=home)
    assert caught.value.problems == [
        (
            key,
            f"{written} is read from the config file's folder, as {folder / written}, where "
            f"there is nothing; the working directory holds {home / written}: give its whole "
            "path in the config, or move it there",
        )
        for key, written in [
            ("service.database_url", "var/digest.db"),
            ("service.data_dir", "var"),
            ("service.outbox", "var/outbox"),
        ]
    ]
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {"DIGEST_OUTBOX": "var/outbox"}, working_directory=home)
    assert "service.outbox (set by DIGEST_OUTBOX)" in str(caught.value)
    # Moved beside the config, it is found there, whatever the working directory holds.
    (home / "var").rename(folder / "var")
    (home / "var/outbox").mkdir(parents=True)
    (home / "var/outbox/2.eml").write_text("")
    assert load_settings(path, {}, working_directory=home).service.outbox == folder / "var/outbox"
    # The system's own /var is no data of the service's.
    assert load_settings(path, {}, working_directory=Path("/")).service.data_dir == folder / "var"


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.5", "http://news.example.org", "http://127.0.0.1.example.org", "ftp://[::1]"],
)
def test_base_url_is_plain_http_nowhere_else(tmp_path: Path, url: str) -> None:
    path = write_config(tmp_path, MINIMAL.replace("https://news.example.org", url))
    [(key, why)] = problems(path)
    assert key == "service.base_url"
    assert "must be an https URL" in why and "only for a loopback host" in why


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # Every link of a mail is base_url + "/unsubscribe/TOKEN": after a query or a fragment
        # it is no path at all ("https://news.example.org/?s=1/unsubscribe/…").
        ("https://news.example.org/?s=1", "'?' query"),
        ("https://news.example.org/news?", "'?' query"),
        ("https://news.example.org/#top", "'#' fragment"),
        ("https://desk:secret@news.example.org", "user name"),
        ("https://news.example.org:99999", "port"),
        ("https://news.example.org:https", "port"),
    ],
)
def test_base_url_is_a_site_and_a_path_the_links_can_follow(
    tmp_path: Path, url: str, says: str
) -> None:
    path = write_config(tmp_path, MINIMAL.replace("https://news.example.org", url))
    [(key, why)] = problems(path)
    assert key == "service.base_url" and says in why, why


def test_the_web_table_is_checked_and_off_by_default(tmp_path: Path) -> None:
    assert not load_settings(write_config(tmp_path, MINIMAL), {}).web.enabled
    path = write_config(tmp_path, MINIMAL + "\n[web]\nenabled = true\nport = 70000\n")
    [(key, why)] = problems(path)
    assert key == "web.port" and "65535" in why


def test_config_path_comes_from_option_then_environment() -> None:
    assert config_path_from_env(Path("a.toml"), {"DIGEST_CONFIG": "b.toml"}) == Path("a.toml")
    assert config_path_from_env(None, {"DIGEST_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_path_from_env(None, {}) == Path("config/example.toml")


def test_entries_are_named_by_slug_or_name_else_by_position() -> None:
    lists = [{"slug": "daily"}, {"slug": "weekly"}, {"slug": "weekly"}, {}, {"slug": 7}]
    assert [entry_key("lists", lists, index) for index in range(5)] == [
        "lists[daily]",
        "lists[1]",  # shared: the position says which one
        "lists[2]",
        "lists[3]",  # no slug
        "lists[4]",  # not a string
    ]
    feeds = [{"name": "Gulf Wire"}, {"name": "Wire [old]"}, {"name": "2024"}, {"name": " "}]
    assert [entry_key("feeds", feeds, index) for index in range(4)] == [
        "feeds[Gulf Wire]",
        "feeds[1]",  # a bracket in the name would end the key early
        "feeds[2]",  # digits read as a position
        "feeds[3]",
    ]


@pytest.mark.parametrize(
    "other",
    [
        "HTTPS://Wire.Example.ORG/feed.xml",
        "https://wire.example.org:443/feed.xml",
    ],
)
def test_one_feed_written_twice_in_other_letters_is_a_duplicate(tmp_path: Path, other: str) -> None:
    # The scheme and the host have no case, and 443 is https's own port: two entries for one
    # feed polled it twice, each article filed under whichever came first.
    second = f'[[feeds]]\nname = "Wire again"\nurl = "{other}"\n'
    path = write_config(tmp_path, MINIMAL.replace("[[feeds]]", second + "\n[[feeds]]", 1))
    [(key, why)] = [problem for problem in problems(path) if "duplicate url" in problem[1]]
    assert key == "feeds[Wire].url"
    assert "(also feeds[Wire again])" in why


def test_feeds_on_other_paths_or_ports_are_not_duplicates(tmp_path: Path) -> None:
    others = "".join(
        f'[[feeds]]\nname = "Wire {n}"\nurl = "{url}"\n\n'
        for n, url in enumerate(
            ["https://wire.example.org/Feed.xml", "https://wire.example.org:8443/feed.xml"]
        )
    )
    path = write_config(tmp_path, MINIMAL.replace("[[feeds]]", others + "[[feeds]]", 1))
    assert len(load_settings(path, {}).feeds) == 3


@pytest.mark.parametrize("seconds", ["inf", "1e12", "601"])
def test_an_smtp_timeout_past_ten_minutes_is_refused(tmp_path: Path, seconds: str) -> None:
    # Accepted, `timeout_seconds = inf` (a TOML float) ended every run that sent mail in an
    # OverflowError traceback from the socket.
    path = write_config(
        tmp_path, MINIMAL + f'\n[smtp]\nhost = "127.0.0.1"\ntimeout_seconds = {seconds}\n'
    )
    [(key, why)] = problems(path)
    assert key == "smtp.timeout_seconds"
    assert "600" in why


@pytest.mark.parametrize(
    ("feed_name", "rule_name"),
    [
        ("Wire ", "Wire"),  # a blank left at the end of the name
        ("Ha\u0301aretz", "H\u00e1aretz"),  # decomposed, as pasted from a Mac, and composed
    ],
    ids=["blank", "composed"],
)
def test_a_topic_rule_finds_a_feed_whose_name_looks_the_same(
    tmp_path: Path, feed_name: str, rule_name: str
) -> None:
    # The config was refused with "no feed is named 'Wire'" while a feed was named, to the eye,
    # just that: a blank at its end, or an accent written as a combining mark.
    text = MINIMAL.replace('name = "Wire"', f'name = "{feed_name}"').replace(
        'include = ["Iran"]', f'include = ["Iran"]\nfeeds = ["{rule_name}"]'
    )
    settings = load_settings(write_config(tmp_path, text), {})
    [feed] = settings.feeds
    [rule_feed] = settings.topics[1].rules.feeds
    assert feed.name == rule_feed == rule_name


def test_two_feeds_whose_names_look_the_same_are_one_name_twice(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "[[topics]]",
        '[[feeds]]\nname = "Wire "\nurl = "https://other.example.org/feed.xml"\n\n[[topics]]',
        1,
    )
    # Two entries the eye cannot tell apart are one name twice, not two feeds.
    assert problems(write_config(tmp_path, text)) == [
        ("feeds[1].name", "duplicate name 'Wire' (also feeds[0]): give each entry its own name")
    ]
    blank = MINIMAL.replace('name = "Wire"', 'name = "  "')
    assert problems(write_config(tmp_path, blank)) == [
        ("feeds[0].name", "blank: write the feed's name")
    ]


def test_a_list_timezone_typo_is_answered_with_the_zone_it_is_close_to(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace('"Asia/Dubai"', '"Asia/Dubay"'))
    assert problems(path) == [
        (
            "lists[daily].timezone",
            "unknown timezone 'Asia/Dubay': use an IANA name such as 'Asia/Dubai'; "
            "did you mean 'Asia/Dubai'?",
        )
    ]


def test_a_list_naming_a_renamed_topic_by_its_old_slug_is_told_the_new_one(
    tmp_path: Path,
) -> None:
    # The topic was renamed (its previous_slugs keep the old slug) and the lists left as they
    # were: "unknown topic 'iran'" while the config names 'iran' right there.
    text = MINIMAL.replace(
        'slug = "iran"\nname = "Iran"', 'slug = "persia"\nname = "Iran"\nprevious_slugs = ["iran"]'
    )
    assert problems(write_config(tmp_path, text)) == [
        (
            "lists[daily].topics",
            "unknown topic 'iran': it was renamed 'persia' (topics[persia].previous_slugs); "
            "write 'persia'",
        )
    ]
    # A parent named by its old slug is told the same.
    parent_renamed = MINIMAL.replace(
        'slug = "middle-east"\nname = "Middle East"',
        'slug = "region"\nname = "Middle East"\nprevious_slugs = ["middle-east"]',
    )
    renamed_why = (
        "unknown topic 'middle-east': it was renamed 'region' (topics[region].previous_slugs); "
        "write 'region'"
    )
    assert problems(write_config(tmp_path, parent_renamed)) == [
        ("topics[iran].parent", renamed_why),
        ("lists[daily].topics", renamed_why),
    ]


def test_secrets_and_addresses_come_from_files_a_service_manager_hands_over(
    tmp_path: Path,
) -> None:
    # A password in the environment is read by anyone who may read /proc/PID/environ or a
    # unit file: each secret variable may name a file instead (DIGEST_X_FILE), and systemd's
    # LoadCredential= hands the file over in $CREDENTIALS_DIRECTORY, named without DIGEST_.
    path = write_config(tmp_path, MINIMAL)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "secret_key").write_text("from-the-credential-key-0123456789\n")
    (credentials / "database_url").write_text("postgresql+psycopg://desk:pw@db.internal/digest")
    (tmp_path / "smtp-password").write_text("smtp pass word\r\n")
    (tmp_path / "broker").write_text("redis://:redis-pw@redis.internal:6379/0\n")
    settings = load_settings(
        path,
        {
            "CREDENTIALS_DIRECTORY": str(credentials),
            "DIGEST_SMTP_PASSWORD_FILE": str(tmp_path / "smtp-password"),
            "DIGEST_BROKER_URL_FILE": "broker",  # relative: the config file's folder's
        },
        working_directory=Path("/"),
    )
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "from-the-credential-key-0123456789"
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "smtp pass word"
    assert settings.service.database_url == "postgresql+psycopg://desk:pw@db.internal/digest"
    assert settings.service.broker_url == "redis://:redis-pw@redis.internal:6379/0"
    assert settings.origin("DIGEST_BROKER_URL") == f"DIGEST_BROKER_URL_FILE={tmp_path / 'broker'}"
    hash(settings)  # where each came from is kept, and the settings stay hashable
    # The variable itself wins over a credential: a credential is the unit's default.
    settings = load_settings(
        path, {"CREDENTIALS_DIRECTORY": str(credentials), "DIGEST_SECRET_KEY": "x" * 32}
    )
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "x" * 32


def test_a_secret_file_that_cannot_be_used_is_named_with_its_variable(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL)
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "bad-url").write_text("mysql://desk:hunter2@db/digest\n")
    missing = tmp_path / "missing"
    found = problems(
        path,
        {
            "DIGEST_SMTP_PASSWORD_FILE": str(missing),
            "DIGEST_SECRET_KEY_FILE": str(tmp_path / "empty"),
            "DIGEST_DKIM_KEY": "-----BEGIN PRIVATE KEY-----",
            "DIGEST_DKIM_KEY_FILE": str(tmp_path / "empty"),
        },
    )
    assert found == [
        ("DIGEST_SECRET_KEY_FILE", f"{tmp_path / 'empty'} is empty: write the secret into it"),
        (
            "DIGEST_SMTP_PASSWORD_FILE",
            f"cannot read {missing}: No such file or directory",
        ),
        ("DIGEST_DKIM_KEY_FILE", "DIGEST_DKIM_KEY is set too: set one of the two"),
    ]
    # A bad value read from a file names the file's variable, and its password stays unsaid.
    [(key, why)] = problems(path, {"DIGEST_DATABASE_URL_FILE": str(tmp_path / "bad-url")})
    assert key == f"service.database_url (set by DIGEST_DATABASE_URL_FILE={tmp_path / 'bad-url'})"
    assert "hunter2" not in why


def test_a_password_in_a_file_every_user_may_read_is_warned_of(tmp_path: Path) -> None:
    # Written with a umask of 022, the config file holding the database's password, a DKIM key
    # or a secret's file is readable by every account of the machine.
    key = tmp_path / "dkim.pem"
    key.write_bytes(key_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    password_file = tmp_path / "smtp-password"
    password_file.write_text("hunter3\n")
    text = MINIMAL.replace(
        'base_url = "https://news.example.org"',
        'base_url = "https://news.example.org"\n'
        'database_url = "postgresql+psycopg://desk:hunter2@db.internal/digest"',
    ).replace(
        'url = "https://wire.example.org/feed.xml"',
        'url = "https://reader:hunter4@wire.example.org/feed.xml"',
    )
    text += '\n[dkim]\nselector = "s1"\nkey_file = "dkim.pem"\n'
    path = write_config(tmp_path, text)
    for file in (path, key, password_file):
        file.chmod(0o644)
    environ = {"DIGEST_SMTP_PASSWORD_FILE": str(password_file)}
    settings = load_settings(path, environ)
    warnings = [
        warning
        for warning in preflight(settings, None).warnings
        if "readable by every user" in warning
    ]
    assert warnings == [
        f"{path} is readable by every user of this machine (mode 0644) and holds a password "
        f"(service.database_url, feeds[Wire].url): chmod o-rwx {path}",
        f"{key} is readable by every user of this machine (mode 0644) and holds the DKIM "
        f"private key (dkim.key_file): chmod o-rwx {key}",
        f"{password_file} is readable by every user of this machine (mode 0644) and holds "
        f"DIGEST_SMTP_PASSWORD_FILE's secret: chmod o-rwx {password_file}",
    ]
    assert not any("hunter" in warning for warning in warnings)
    for file in (path, key, password_file):
        file.chmod(0o640)  # its group (the service's) may read it
    warnings = preflight(settings, None).warnings
    assert not any("readable by every user" in warning for warning in warnings)


def test_an_smtp_ca_file_is_read_from_the_config_files_folder_and_checked(
    tmp_path: Path,
) -> None:
    text = MINIMAL + '\n[smtp]\nhost = "relay.internal"\nca_file = "relay-ca.pem"\n'
    path = write_config(tmp_path, text)
    [(key, why)] = problems(path)
    assert (key, why) == ("smtp.ca_file", f"file not found: {tmp_path / 'relay-ca.pem'}")
    (tmp_path / "relay-ca.pem").write_text("not a certificate\n")
    [(key, why)] = problems(path)
    assert key == "smtp.ca_file"
    assert why.startswith(f"{tmp_path / 'relay-ca.pem'} holds no PEM certificate: ")
    _, certificate = self_signed("relay.internal", datetime.now(UTC))
    (tmp_path / "relay-ca.pem").write_bytes(pem(certificate))
    settings = load_settings(path, {}, working_directory=Path("/"))
    transport = default_transport(settings)
    assert isinstance(transport, SmtpTransport)
    assert transport.ca_file == tmp_path / "relay-ca.pem"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            '[smtp]\nhost = "relay.internal"\nport = 25\ntls = "none"\nuser = "desk"\n',
            "smtp.tls = 'none' with smtp.user = 'desk': the password crosses the network to "
            "relay.internal in the clear, for anyone on the way to read; set smtp.tls = "
            "'starttls' (port 587) or 'ssl' (port 465)",
        ),
        (
            "",
            "service.broker_url (set by DIGEST_BROKER_URL) is redis://:***@redis.internal:6379/0:"
            " the password crosses the network to redis.internal in the clear, for anyone on "
            "the way to read; use rediss:// (Redis with TLS)",
        ),
    ],
)
def test_a_password_sent_in_the_clear_across_a_network_is_warned_of(
    tmp_path: Path, table: str, expected: str
) -> None:
    environ = {"DIGEST_SMTP_PASSWORD": "hunter2"}
    if not table:
        environ = {"DIGEST_BROKER_URL": "redis://:hunter2@redis.internal:6379/0"}
    path = write_config(tmp_path, MINIMAL + "\n" + table)
    warnings = preflight(load_settings(path, environ), None).warnings
    assert [w for w in warnings if "in the clear" in w] == [f"{path}: {expected}"]
    # On this machine's loopback, nothing crosses a network.
    loopback = {key: value.replace("redis.internal", "127.0.0.1") for key, value in environ.items()}
    path = write_config(tmp_path, MINIMAL + "\n" + table.replace("relay.internal", "localhost"))
    warnings = preflight(load_settings(path, loopback), None).warnings
    assert not any("in the clear" in warning for warning in warnings)
