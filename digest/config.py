"""Settings: built once from defaults, then the TOML file, then ``DIGEST_*`` environment variables.

Every stage receives the frozen ``Settings`` (or the part of it it needs). Any problem is raised as
one ``ConfigError`` that lists every problem found, each with the file, the key path and the reason.

Paths that are part of the configuration (subscriber CSV files, the sample feed folder, a template
folder) are resolved against the config file's folder; paths for data the service writes (the
outbox, an SQLite database) are resolved against the working directory.

Secrets never come from the file: ``DIGEST_SECRET_KEY`` signs unsubscribe links and
``DIGEST_SMTP_PASSWORD`` logs in to the mail server.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from digest.errors import ConfigError

CONFIG_ENV = "DIGEST_CONFIG"
DEFAULT_CONFIG_PATH = Path("config/example.toml")

# Environment variables that override a key of the file.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "DIGEST_DATABASE_URL": ("service", "database_url"),
    "DIGEST_BROKER_URL": ("service", "broker_url"),
    "DIGEST_OUTBOX": ("service", "outbox"),
    "DIGEST_BASE_URL": ("service", "base_url"),
}
SECRET_ENV = {
    "secret_key": "DIGEST_SECRET_KEY",
    "smtp_password": "DIGEST_SMTP_PASSWORD",
    "dkim_key": "DIGEST_DKIM_KEY",
    "mailgun_signing_key": "DIGEST_MAILGUN_SIGNING_KEY",
}
# Keys that look like secrets: found in the file, they get a pointed error, not "unknown key".
_SECRET_KEYS = {
    *("password", "secret", "secret_key", "signing_key", "api_key", "token", "private_key"),
}
_SECRET_HINTS = {
    "password": "DIGEST_SMTP_PASSWORD",
    "private_key": "DIGEST_DKIM_KEY",
    "signing_key": "DIGEST_MAILGUN_SIGNING_KEY",
}

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ADDRESS = re.compile(
    r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


# The five fields of a cron expression, in order, with the values each takes.
_CRON_FIELDS = (
    ("minute", 0, 59, "0-59"),
    ("hour", 0, 23, "0-23"),
    ("day-of-month", 1, 31, "1-31"),
    ("month", 1, 12, "1-12 or jan-dec"),
    ("day-of-week", 0, 7, "0-7 or sun-sat, 0 and 7 both Sunday"),
)


def _check_cron(expression: str) -> str:
    """A cron expression: minute hour day-of-month month day-of-week."""
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}: {_cron_problem(expression)}")
    try:
        croniter(expression, datetime(2026, 1, 1)).get_next(datetime)
    except CroniterError:
        raise ValueError(
            f"cron expression {expression!r} never fires: its day and month name no real date "
            "(such as 30 February or 31 April); e.g. '0 7 * * *' is 07:00 every day"
        ) from None
    return expression


def _cron_problem(expression: str) -> str:
    """Which part of an invalid cron expression is wrong, and what it may be instead."""
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        return (
            f"expected five fields 'minute hour day-of-month month day-of-week', got "
            f"{len(fields)}; e.g. '0 7 * * *' is 07:00 every day"
        )
    for position, (name, low, high, allowed) in enumerate(_CRON_FIELDS):
        # The field on its own, every other one '*': croniter says which one it refuses.
        alone = ["*"] * len(_CRON_FIELDS)
        alone[position] = fields[position]
        if croniter.is_valid(" ".join(alone)):
            continue
        outside = [
            n for n in map(int, re.findall(r"\d+", fields[position])) if not low <= n <= high
        ]
        if outside and "/" not in fields[position]:
            where = "" if fields[position] == str(outside[0]) else f" (in {fields[position]!r})"
            return f"{name} {outside[0]} is out of range{where}: the {name} field takes {allowed}"
        return (
            f"the {name} field {fields[position]!r} is not understood: use {allowed}, '*', "
            "ranges 'a-b', lists 'a,b' and steps '*/n'"
        )
    return "the fields are each valid but not together; e.g. '0 7 * * *' is 07:00 every day"


def _check_timezone(name: str) -> str:
    """An IANA timezone name, such as ``Asia/Dubai``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as 'Asia/Dubai'"
        ) from None
    return name


def _check_http_url(url: str) -> str:
    """An http or https URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1): this machine only."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_https_url(url: str) -> str:
    """An https URL in plain ASCII, with no spaces, ``>`` or ``=?``."""
    parts = urlsplit(url)
    # Plain http only where no mailbox provider will ever follow it: a local trial, the tests.
    loopback_http = parts.scheme == "http" and is_loopback_host(parts.hostname)
    if not (parts.scheme == "https" or loopback_http) or not parts.hostname:
        raise ValueError(
            f"{url!r} must be an https URL: mailbox providers require https unsubscribe links "
            "(plain http is accepted only for a loopback host, e.g. http://127.0.0.1:8080 for "
            "a local trial)"
        )
    # It is written into the List-Unsubscribe header of every copy as it is.
    if not (url.isascii() and url.isprintable()) or " " in url or "=?" in url or ">" in url:
        raise ValueError(
            f"{url!r} must be plain ASCII with no spaces, '>' or '=?' (it goes into mail "
            "headers): percent-encode other characters"
        )
    return url.rstrip("/")


def _check_address(address: str) -> str:
    """An email address in plain ASCII, without ``=?``, at most 254 characters."""
    if not _ADDRESS.match(address):
        raise ValueError(f"{address!r} is not an email address")
    # Mail programs read "=?...?=" as an encoded word (which may hide a line break), and a
    # header of a message without SMTPUTF8 holds ASCII only.
    if not address.isascii() or "=?" in address or len(address) > 254:
        raise ValueError(
            f"{address!r} is not an address the mailer can put in a header: use plain ASCII "
            "without '=?', at most 254 characters"
        )
    return address


def _check_subject_template(source: str) -> str:
    """A Jinja2 template that parses."""
    try:
        SandboxedEnvironment().parse(source)
    except TemplateSyntaxError as error:
        raise ValueError(f"subject template does not parse: {error.message}") from None
    return source


def _check_database_url(url: str) -> str:
    """An SQLAlchemy URL of SQLite or PostgreSQL."""
    backend = url.partition(":")[0].partition("+")[0].lower()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            f"the store runs on SQLite or PostgreSQL, not {backend or url!r}: use "
            "sqlite:///path/to/digest.db or postgresql+psycopg://user@host/database"
        )
    return url


# What str.splitlines() breaks at: CR, LF, VT, FF, the file/group/record separators, NEL and
# the Unicode line and paragraph separators; some mail program reads each as a line end.
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _no_line_breaks(value: str) -> str:
    """A single line: it goes into mail headers."""
    if not _LINE_BREAKS.isdisjoint(value):
        raise ValueError("must be a single line (it goes into mail headers)")
    return value


def _check_feedback_id(template: str) -> str:
    """Formats with ``{list}``, ``{edition}`` and ``{domain}`` into ASCII with no spaces or
    ``=?``, at most 200 characters."""
    try:
        value = template.format(list="daily", edition=12, domain="example.org")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"feedback_id {template!r} does not format ({error}): use only the variables "
            "{list}, {edition} and {domain}"
        ) from None
    if (
        not value.isascii()
        or not value.isprintable()
        or " " in value
        or "=?" in value  # mail programs would decode it as an encoded word
        or len(value) > 200
    ):
        raise ValueError(
            f"feedback_id {template!r} must give ASCII with no spaces or '=?' (<= 200 chars): "
            "it is written into a mail header as it is"
        )
    return template


def _check_utm_value(template: str) -> str:
    """Formats with ``{list}`` and ``{date}``, on a single line."""
    try:
        template.format(list="daily", date="2026-11-25")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"{template!r} does not format ({error}): use only the variables {{list}} and {{date}}"
        ) from None
    return _no_line_breaks(template)


Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
CronExpression = Annotated[str, AfterValidator(_check_cron)]
TimezoneName = Annotated[str, AfterValidator(_check_timezone)]
LanguageTag = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
EmailAddress = Annotated[str, AfterValidator(_check_address)]
HeaderText = Annotated[str, Field(min_length=1), AfterValidator(_no_line_breaks)]


class _Model(BaseModel):
    # Each key's docstring is its description (the config reference is generated from it).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ServiceSettings(_Model):
    """What every process of the service shares: the database, the broker, who sends the mail."""

    database_url: Annotated[str, AfterValidator(_check_database_url)] = "sqlite:///var/digest.db"
    """SQLite or PostgreSQL, as an SQLAlchemy URL; ``postgresql+psycopg://…`` in production
    (``pip install -e ".[postgres]"``). An SQLite path is relative to the working directory."""
    broker_url: str | None = None
    """The Celery broker (``redis://…``); none runs tasks in-process (the embedded mode)."""
    data_dir: Path = Path("var")
    """Files the service keeps for itself: a generated secret key, previews, the suppression
    file by default. Relative to the working directory."""
    outbox: Path = Path("var/outbox")
    """The folder mail is written to as ``.eml`` files when there is no ``[smtp]`` table."""
    base_url: HttpsUrl
    """The public https address that links in mail point to (unsubscribe:
    ``base_url/unsubscribe/TOKEN``)."""
    sender_name: HeaderText
    """The display name in the ``From`` of every message."""
    sender_address: EmailAddress
    """The address in the ``From`` of every message; its domain is the sending domain."""
    reply_to: EmailAddress | None = None
    """The ``Reply-To`` address; none leaves the header out."""
    postal_address: str = Field(min_length=1)
    """The postal address shown in every message's footer (bulk-mail law asks for one)."""
    templates: Path | None = None
    """A folder with ``email/digest.html.j2`` and ``email/digest.txt.j2`` to use instead of the
    bundled templates; relative to the config file."""
    unsubscribe_address: EmailAddress | None = None
    """The ``mailto:`` half of ``List-Unsubscribe``; none means ``unsubscribe@`` the sender's
    domain."""
    feedback_id: Annotated[str, AfterValidator(_check_feedback_id)] = (
        "{list}:{edition}:digest:{domain}"
    )
    """Gmail's ``Feedback-ID`` (campaign:customer:type:sender), with the variables ``{list}``
    (slug), ``{edition}`` (number) and ``{domain}`` (the sender's); ``""`` leaves it out."""
    suppression_file: Path | None = None
    """Addresses that must never get mail again (a list's or every list's), kept outside the
    database so that an unsubscribe survives a new one; none means ``data_dir/suppressed.csv``.
    Relative to the working directory."""

    @property
    def suppression_path(self) -> Path:
        return self.suppression_file or self.data_dir / "suppressed.csv"

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2].lower()

    @property
    def unsubscribe_mailbox(self) -> str:
        """The address of List-Unsubscribe's mailto: the configured one, else unsubscribe@ the
        sender's domain."""
        return self.unsubscribe_address or f"unsubscribe@{self.sender_domain}"


def _check_send_rate(value: str | None) -> str | None:
    if value is not None:
        from digest.send_rate import parse_rate

        parse_rate(value)  # a ValueError names the value and what is accepted
    return value


class SmtpSettings(_Model):
    """The mail server that takes the messages; without this table mail goes to the outbox."""

    host: str = Field(min_length=1)
    """The mail server's host name or address."""
    port: int = Field(default=587, ge=1, le=65535)
    """The mail server's port."""
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    """How the connection is encrypted: STARTTLS after connecting, TLS from the start, or not."""
    user: str | None = None
    """The login; its password comes from ``DIGEST_SMTP_PASSWORD``. None: no login."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """How long one exchange with the server may take."""
    connections: int = Field(default=4, ge=1, le=32)
    """Messages sent at once, each by its own process with its own connection."""
    # Delivery retries (digest.retries).
    max_attempts: int = Field(default=3, ge=1, le=20)
    """Copies of one message that may reach the server with no reply (it may have taken them)
    before the delivery is parked."""
    max_retries: int = Field(default=8, ge=0, le=100)
    """Temporary failures (4xx, the server unreachable) of one delivery before it is failed."""
    retry_minutes: float = Field(default=5, gt=0, le=24 * 60)
    """The wait before a delivery's first retry, doubled after each."""
    max_retry_minutes: float = Field(default=6 * 60, gt=0, le=7 * 24 * 60)
    """The longest wait between two retries of a delivery."""
    suppress_after_refusals: int = Field(
        default=3,
        ge=1,
        le=100,
        description="A reader whose address the server refused for good (5xx) this many times, "
        "each for a different edition, within bounces.soft_window_days, is suppressed like a "
        "hard bounce; each refusal fails that delivery at once either way.",
    )
    send_rate: Annotated[str | None, AfterValidator(_check_send_rate)] = Field(
        default=None,
        description="At most this many messages to this server, from all workers together "
        "(shared through Redis in the distributed mode), e.g. '50/second' or '3000/minute'; "
        "none: as fast as the server takes them.",
    )


class DkimSettings(_Model):
    """Sign every message with DKIM; the private key comes from key_file or DIGEST_DKIM_KEY."""

    selector: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$")
    """The DKIM selector: the public key is published at ``{selector}._domainkey.{domain}``."""
    domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
    """The ``d=`` of the signature; none means the sender's domain."""
    key_file: Path | None = None
    """A PEM RSA private key, relative to the config file; none: ``DIGEST_DKIM_KEY`` holds the
    PEM text."""


class IngestSettings(_Model):
    """How feeds are fetched and parsed, and how often each is polled."""

    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    """How long one whole fetch may take, a server that drips a byte at a time included."""
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    """The largest feed document read, counted while it streams and again once decompressed."""
    parse_apart_above_bytes: int = Field(default=262_144, ge=0)
    """Documents larger than this are parsed in a parser process, stopped after
    ``parse_timeout_seconds`` or past ``parse_memory_mb``; smaller ones in the poller."""
    parse_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    """How long a parser process may take over one document."""
    parse_in_poller_seconds: float = Field(default=2.0, gt=0, le=600)
    """A smaller document not read within this time in the poller is handed to a parser
    process."""
    parse_memory_mb: int = Field(default=512, ge=64)
    """The memory a parser process may use."""
    contact_url: HttpUrl | None = None
    """Named in the User-Agent (``digest/VERSION (+contact_url)``) so that publishers can reach
    the operator."""
    allow_private_addresses: bool = False
    """Fetch feeds on private, loopback and link-local addresses (refused otherwise, after DNS
    and on every redirect); the example sets it to reach its loopback sample server."""
    min_interval_minutes: float = Field(default=15, ge=1, le=7 * 24 * 60)
    """The shortest time between two polls of a feed (the poll interval adapts to how often the
    feed publishes, within these bounds)."""
    max_interval_minutes: float = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    """The longest time between two polls of a feed."""
    max_backoff_minutes: float = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    """The longest wait after errors in a row (the wait doubles with each)."""
    max_concurrency: int = Field(default=16, ge=1, le=256)
    """Feeds polled at the same time."""
    per_host_concurrency: int = Field(default=2, ge=1, le=32)
    """Requests at once to one host."""

    @model_validator(mode="after")
    def _intervals_in_order(self) -> IngestSettings:
        if self.min_interval_minutes > self.max_interval_minutes:
            raise ValueError(
                f"min_interval_minutes ({self.min_interval_minutes:g}) is more than "
                f"max_interval_minutes ({self.max_interval_minutes:g})"
            )
        return self


class SampleServerSettings(_Model):
    """Serve a folder of feed files on loopback while a command runs (the offline example)."""

    directory: Path
    """The folder of feed files, relative to the config file."""
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    """The loopback address to serve on."""
    port: int = Field(ge=1, le=65535)
    """The port to serve on; the feeds' URLs name it."""


def _check_request_rate(value: str) -> str:
    from digest.send_rate import parse_rate

    parse_rate(value)  # a ValueError names the value and what is accepted
    return value


def _check_network(value: str) -> str:
    """An IP address or a network in CIDR notation."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or network: write e.g. '127.0.0.1' or '10.0.0.0/8'"
        ) from None
    return value


_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?"
)


def _check_origin(value: str) -> str:
    """'*' or a scheme://host[:port] origin: it is written into a Content-Security-Policy as
    it is, so nothing else (no space, no ';') may pass."""
    if value != "*" and not _ORIGIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an origin: write 'https://www.example.org' (scheme, host and "
            "optional port, no path) or '*' for any site"
        )
    return value


class WebSettings(_Model):
    """The readers' web pages (sign-up, unsubscribe, archive), and what ``digest run`` serves."""

    enabled: bool = Field(
        default=False,
        description="Serve the web pages from `digest run` (the loop) too; `digest serve` "
        "serves them on its own whatever this says.",
    )
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="The address to listen on; 127.0.0.1 behind a reverse proxy that terminates "
        "https, 0.0.0.0 to listen on every interface.",
    )
    port: int = Field(
        default=8080, ge=1, le=65535, description="The port to listen on (`digest serve --port`)."
    )
    confirm_days: float = Field(
        default=3,
        gt=0,
        le=60,
        description="How long the link of a sign-up's confirmation mail works, in days; after "
        "that the reader signs up again.",
    )
    signup_rate_per_client: Annotated[str, AfterValidator(_check_request_rate)] = Field(
        default="20/hour",
        description="The most sign-ups one client address may ask for in a moving window "
        "(`limits` syntax: '20/hour', '5 per 10 minutes'); more get a 429 page. Counted in the "
        "broker's Redis in the distributed mode, in each process otherwise.",
    )
    signup_rate_per_address: Annotated[str, AfterValidator(_check_request_rate)] = Field(
        default="3/hour",
        description="The most sign-ups for one email address in a moving window, whoever asks; "
        "bounds the confirmation mails a stranger can make one mailbox receive.",
    )
    trusted_proxies: tuple[Annotated[str, AfterValidator(_check_network)], ...] = Field(
        default=(),
        description="Addresses or networks (CIDR) of the reverse proxies in front of the web "
        "pages, e.g. ['127.0.0.1']. Only a request from one of them has its client address read "
        "from X-Forwarded-For (for the sign-up rate limits); none means the socket's address, "
        "always.",
    )
    embed_origins: tuple[Annotated[str, AfterValidator(_check_origin)], ...] = Field(
        default=("*",),
        description="The sites that may show the sign-up form of `/embed/LIST` in a frame "
        "(`frame-ancestors`): origins such as 'https://www.example.org', '*' for any site, [] "
        "for none. Every other page refuses to be framed.",
    )
    images: bool = Field(
        default=False,
        description="Serve the editions' pictures from the service: each picture an edition "
        "shows is fetched once at build time (through the same guards as feeds), checked, "
        "converted and kept in the database, and the mail points at `base_url/images/ID.jpg`, "
        "so no publisher sees a reader open it. Turn it on only when `digest serve` answers at "
        "service.base_url; off, the mail shows the publishers' addresses.",
    )
    image_max_bytes: int = Field(
        default=5_000_000,
        ge=10_000,
        le=50_000_000,
        description="The largest picture fetched, in bytes; a larger one is dropped from the "
        "edition (the item shows without it).",
    )
    image_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long fetching one picture may take, a server that drips a byte at a "
        "time included.",
    )
    images_max_mb: int = Field(
        default=500,
        ge=1,
        description="The most the kept pictures may take in the database, in megabytes; past "
        "it the pictures no recent edition showed are deleted first (an old mail then shows "
        "an empty box where its picture was).",
    )


def _check_term(term: str) -> str:
    """A word or phrase, not empty, on one line."""
    if not term.strip():
        raise ValueError("empty term: write a word or phrase, or remove the entry")
    if "\n" in term or "\r" in term:
        raise ValueError(f"{term!r} spans lines: write one term per string")
    return term


Term = Annotated[str, AfterValidator(_check_term)]


class FeedSettings(_Model):
    """One feed to poll."""

    url: HttpUrl
    """The feed's address; it may carry a user and password (``https://user:password@host/``)."""
    name: str = Field(min_length=1)
    """The feed's name, unique; topic rules refer to it."""
    enabled: bool = True
    """The operator's switch: a disabled feed is not polled."""
    min_interval_minutes: float | None = Field(default=None, ge=1, le=7 * 24 * 60)
    """This feed's shortest time between two polls; none: ``ingest.min_interval_minutes``."""
    max_interval_minutes: float | None = Field(default=None, ge=1, le=30 * 24 * 60)
    """This feed's longest time between two polls; none: ``ingest.max_interval_minutes``."""
    agency_bylines: tuple[Term, ...] = Field(
        default=(),
        description=(
            "Bylines of this feed that name a desk, an agency or the outlet rather than a "
            'person ("Harbour Syndicate"), compared case-insensitively, for this feed only. '
            "Added to the built-in list (Reuters, AFP, AP, News Desk, Staff...); a byline "
            'read as no person never heads a "More from".'
        ),
    )
    trust_categories: bool = Field(
        default=False,
        description="Take this feed's own categories (tags) as evidence on their own. By "
        "default a category files an article, or adds to its score, only together with "
        "evidence from its title or text: publishers tag an arts piece with a country's name "
        "as readily as a report from it.",
    )


class TopicRules(_Model):
    """An editor's brief for one topic; digest.topics documents how each rule counts."""

    feeds: tuple[str, ...] = ()
    """Names of feeds whose every article belongs to the topic."""
    categories: tuple[str, ...] = ()
    """Feed categories that file an article under the topic (case-insensitive, normalized like
    terms)."""
    include: tuple[Term, ...] = ()
    """Words and phrases, matched as whole words: 3 points in the title, 1 in the summary or a
    category name."""
    places: tuple[Term, ...] = ()
    """Countries, regions, cities: they count like ``include``."""
    people: tuple[Term, ...] = ()
    """Leaders and officials: they count like ``include``."""
    groups: tuple[Term, ...] = ()
    """Parties, armed groups, institutions: they count like ``include``."""
    ambiguous: tuple[Term, ...] = ()
    """Terms that count only next to other evidence from the topic's tree ("Jordan")."""
    exclude: tuple[Term, ...] = ()
    """Words and phrases that veto the topic when in the title or summary."""
    ignore: tuple[Term, ...] = ()
    """Phrases that are no mention ("Gulf of Mexico"): their words count for nothing, and veto
    nothing; a parent's apply to its descendants."""
    threshold: float = Field(default=1.0, gt=0, le=1000)
    """The score at which terms alone file an article (feeds and categories always do)."""
    clitic_prefixes: bool = True
    """Arabic and Hebrew terms also match behind attached prefixes (بـ, وال, ב, ו…)."""

    @model_validator(mode="after")
    def _each_term_once(self) -> TopicRules:
        """A term in two lists is a contradiction (or a slip): say which lists, so one goes."""
        seen: dict[str, str] = {}
        problems = []
        for kind in ("include", "places", "people", "groups", "ambiguous", "exclude", "ignore"):
            for term in getattr(self, kind):
                key = " ".join(term.casefold().split())
                if key in seen and seen[key] != kind:
                    problems.append(f"{term!r} is in both {seen[key]} and {kind}")
                seen.setdefault(key, kind)
        if problems:
            raise ValueError("; ".join(problems) + ": keep each term in one list")
        return self


class TopicSettings(_Model):
    """A topic articles are filed under; an edition has a section per topic."""

    slug: Slug
    """The topic's identifier; lists and other topics refer to it."""
    name: str = Field(min_length=1)
    """The topic's name, as a section heading."""
    parent: Slug | None = None
    """A topic slug: a parent takes in everything its children match."""
    rules: TopicRules = TopicRules()
    """The editor's brief: what files an article under the topic."""


UtmValue = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_check_utm_value)]


class UtmSettings(_Model):
    """Tracking parameters added to the article links of a list's editions (never to our own)."""

    source: UtmValue | None = "digest"
    """``utm_source``."""
    medium: UtmValue | None = "email"
    """``utm_medium``."""
    campaign: UtmValue | None = "{list}-{date}"
    """``utm_campaign``; ``{list}`` is the slug, ``{date}`` the edition's date (YYYY-MM-DD)."""
    term: UtmValue | None = None
    """``utm_term``; none leaves it out."""
    content: UtmValue | None = None
    """``utm_content``; none leaves it out."""


class ListSettings(_Model):
    """A mailing list: its topics, its schedule and its subscribers."""

    slug: Slug
    """The list's identifier (in commands, ``List-Id`` and unsubscribe links)."""
    name: HeaderText
    """The list's display name (masthead, ``List-Id``)."""
    description: str = ""
    """One line under the masthead."""
    topics: tuple[Slug, ...] = Field(min_length=1)
    """Topic slugs, in the order of the edition's sections; the first one's best story leads."""
    schedule: CronExpression
    """When an edition is due: a cron expression (``minute hour day month weekday``), in
    ``timezone``."""
    timezone: TimezoneName = "UTC"
    """The IANA timezone of the schedule, e.g. ``Asia/Dubai``."""
    reader_local: bool = Field(
        default=False,
        description="Read the schedule in each reader's own timezone ('0 7 * * *': 07:00 where "
        "the reader is); readers without a timezone get the list's. Each reader still gets "
        "every article of the list's topics once across their own editions.",
    )
    language: LanguageTag = "en"
    """The BCP 47 tag of the edition's own words (labels, dates: English, Arabic, Hebrew, Persian;
    others fall back to English words); ``ar``, ``he``, ``fa``, ``ur``… lay the edition out right
    to left. Each article keeps its own direction, from its feed's language or script."""
    subject: Annotated[str, AfterValidator(_check_subject_template)] = "{{ list_name }}: {{ date }}"
    """A Jinja2 template of the subject, with the variables ``list_name``, ``date``,
    ``lead_title`` and ``article_count``."""
    max_articles: int = Field(default=25, ge=1, le=200)
    """The most articles in one edition, all blocks counted."""
    recommended: int = Field(default=3, ge=0, le=20)
    """The size of the "Recommended" block."""
    lead: Literal["most-covered", "freshest"] | None = Field(
        default=None,
        description="How the lead story is chosen. 'most-covered': the story the most outlets "
        "(then the most reports) covered in the window, score and recency breaking ties, as a "
        "weekly wants. 'freshest': the best fresh story among those at least two outlets covered, "
        "as a daily briefing wants. Left out, it follows the schedule: 'most-covered' when "
        "editions are three days or more apart, else 'freshest'.",
    )
    send_when_empty: bool = False
    """Send an edition even when no article is new."""
    subscribers: Path | None = None
    """A CSV file (columns ``email``, ``name``, ``timezone``; relative to the config file)
    imported into the list as confirmed readers at the start of a cycle whenever it changed
    since its last import. An import adds and updates, never removes or resubscribes anyone:
    readers live in the database (``digest subscribers``). Leave it out for a list whose readers
    sign up or are imported with ``digest subscribers import``."""
    utm: UtmSettings | None = None
    """Tracking parameters for the list's article links; none leaves them as the feed gave
    them."""
    layout: Literal["full", "compact"] = Field(
        default="full",
        description="How much of each item the edition shows: 'full' gives every item its "
        "summary and picture; 'compact' (a morning briefing) gives them to the lead and the "
        "first compact_summaries items (shorter, without an author's other pieces), and lists "
        "the rest as headlines with their outlet and time.",
    )
    compact_summaries: int = Field(
        default=2,
        ge=0,
        le=50,
        description="With layout = 'compact', how many items after the lead keep their summary "
        "and picture, counted in the edition's order (sections, then recommended).",
    )
    previous_slugs: tuple[Slug, ...] | None = None
    """The slugs this list had before: its editions, members and unsubscribes follow it to this
    slug. ``[]`` says it is a new list, where a list that left the config has history."""


_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+")


def _check_local_part(value: str) -> str:
    # Room for "+", the token (up to 52 characters) and RFC 5321's 64 of a local part.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,19}", value):
        raise ValueError(
            f"{value!r} cannot start a return path: use letters, digits, '-' and '_' (no '+', "
            "which the token follows), at most 20 characters, e.g. 'bounces'"
        )
    return value


def _check_domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value) or len(value) > 253:
        raise ValueError(f"{value!r} is not a domain name such as bounce.example.org")
    return value


class BouncesSettings(_Model):
    """VERP return paths: each copy's envelope sender names its delivery, so that a bounce says
    whose copy bounced (digest.inbound)."""

    enabled: bool = Field(
        default=False,
        description="Send each copy from its own return path, local_part+TOKEN@domain, where the "
        "token names the delivery and is signed with the secret key. Turn it on once mail to "
        "that domain reaches `digest inbound` (see docs/inbound.md); off, every copy's envelope "
        "sender is service.sender_address.",
    )
    local_part: Annotated[str, AfterValidator(_check_local_part)] = Field(
        default="bounces",
        description="The mailbox part of the return path, before the '+': letters, digits, '-' "
        "and '_', at most 20 characters.",
    )
    domain: Annotated[str, AfterValidator(_check_domain)] | None = Field(
        default=None,
        description="The domain of the return path, whose MX (or a Postfix transport) hands "
        "its mail to `digest inbound`; none: the domain of service.sender_address.",
    )
    soft_limit: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Soft bounces (mailbox full, server unavailable, delayed) of one address, "
        "each of a different message, after which it is suppressed like a hard bounce.",
    )
    soft_window_days: float = Field(
        default=30,
        gt=0,
        le=365,
        description="The soft bounces counted against soft_limit are those of the last this "
        "many days.",
    )


def _check_topic_arn(arn: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", arn):
        raise ValueError(
            f"{arn!r} is not an SNS topic ARN: write it as "
            "arn:aws:sns:REGION:ACCOUNT:TOPIC, as the SNS console shows it"
        )
    return arn


class InboundSettings(_Model):
    """The receiver of bounces, complaints and mailto unsubscribes (digest.inbound)."""

    enabled: bool = Field(
        default=False,
        description="`digest run` also runs the inbound receiver, on host and port; "
        "`digest inbound` runs it on its own whatever this says.",
    )
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the receiver listens on; 0.0.0.0 for every interface.",
    )
    port: int = Field(default=2525, ge=1, le=65535, description="Port the receiver listens on.")
    lmtp: bool = Field(
        default=False,
        description="Speak LMTP rather than SMTP: for a Postfix transport (lmtp:HOST:PORT).",
    )
    max_message_bytes: int = Field(
        default=2_000_000,
        ge=10_000,
        le=100_000_000,
        description="Larger messages are refused (552) before they are read.",
    )
    ses_topic_arns: tuple[Annotated[str, AfterValidator(_check_topic_arn)], ...] = Field(
        default=(),
        description="The SNS topics whose Amazon SES notifications the SES webhook takes; a "
        "notification signed by SNS for any other topic is refused.",
    )
    webhook_max_age_seconds: int = Field(
        default=900,
        ge=30,
        le=86_400,
        description="A Mailgun webhook call signed longer ago than this (or this far in the "
        "future) is refused, so a captured call cannot be replayed later.",
    )


class MetricsSettings(_Model):
    """Prometheus metrics of the distributed mode (digest.metrics), on loopback unless told."""

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the metrics endpoints listen on; 0.0.0.0 for every interface.",
    )
    worker_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of `digest worker`'s /metrics (task outcomes); none: not served. "
        "`digest worker --metrics-port` overrides it, e.g. for two workers on one machine.",
    )
    beat_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of `digest beat`'s /metrics (queue depth); none: not served.",
    )


class WorkerSettings(_Model):
    """How delivery work is cut into tasks, and how long the broker keeps a task a worker took
    (the distributed mode, worker/app.py)."""

    batch_size: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Readers per delivery task. Smaller batches spread an edition over more "
        "workers sooner and lose less work to a killed one; larger ones cost fewer broker "
        "messages.",
    )
    batch_time_limit_seconds: int = Field(
        default=600,
        ge=10,
        le=1200,
        description="How long one delivery batch may run before it is stopped; its readers "
        "not yet recorded as sent go again later (the few copies it sent since it last "
        "recorded go twice, with the same Message-ID). The hard limit, which ends the "
        "process, is a tenth more (at least 5 s).",
    )
    visibility_timeout_seconds: int | None = Field(
        default=None,
        ge=15,
        le=1700,
        description="How long Redis keeps a task a worker took but did not finish before it "
        "hands the task to another worker: how long the batches of a worker killed outright "
        "(its machine lost) wait to go again. It must exceed the batch's hard time limit, or a "
        "batch still running would be handed out twice; none: the hard limit plus 240 s.",
    )

    @property
    def batch_hard_time_limit_seconds(self) -> int:
        return self.batch_time_limit_seconds + max(5, self.batch_time_limit_seconds // 10)

    @property
    def visibility_timeout(self) -> int:
        return self.visibility_timeout_seconds or self.batch_hard_time_limit_seconds + 240

    @model_validator(mode="after")
    def _visibility_above_the_hard_limit(self) -> WorkerSettings:
        hard = self.batch_hard_time_limit_seconds
        if self.visibility_timeout <= hard:
            raise ValueError(
                f"visibility_timeout_seconds ({self.visibility_timeout}) must be more than a "
                f"batch's hard time limit ({hard} s, from batch_time_limit_seconds "
                f"{self.batch_time_limit_seconds}): a batch still running would be handed to a "
                "second worker and its copies sent twice"
            )
        return self


class ConfigFile(_Model):
    """The tables of a config file, as written by the operator."""

    service: ServiceSettings
    """The service's own settings."""
    smtp: SmtpSettings | None = None
    """The mail server; without it mail goes to ``service.outbox``."""
    dkim: DkimSettings | None = None
    """DKIM signing; without it messages go unsigned (a relay may sign them)."""
    ingest: IngestSettings = IngestSettings()
    """Fetching, parsing and polling feeds."""
    sample_server: SampleServerSettings | None = None
    """A loopback server for a folder of feed files, while a command runs."""
    metrics: MetricsSettings = MetricsSettings()
    """Prometheus metrics of `digest worker` and `digest beat`."""
    bounces: BouncesSettings = BouncesSettings()
    """VERP return paths, and what bounces do to an address."""
    inbound: InboundSettings = InboundSettings()
    """The receiver of bounces, complaints and mailto unsubscribes, and the providers' webhooks."""
    web: WebSettings = WebSettings()
    """The readers' web pages: sign-up, unsubscribe, archive."""
    worker: WorkerSettings = WorkerSettings()
    """Delivery batches and the broker's hold on a task (the distributed mode)."""
    feeds: tuple[FeedSettings, ...] = ()
    """The feeds to poll."""
    topics: tuple[TopicSettings, ...] = ()
    """The topics articles are filed under."""
    lists: tuple[ListSettings, ...] = ()
    """The mailing lists."""


class Settings(ConfigFile):
    """The config file plus what never comes from it: where it was read from, and the secrets."""

    source: Path = Path("<settings>")
    """The config file read."""
    secret_key: SecretStr | None = None
    """Signs unsubscribe links; when unset, a key is generated once in ``data_dir/secret_key``."""
    smtp_password: SecretStr | None = None
    """The password of ``smtp.user``."""
    dkim_key: SecretStr | None = None
    """The PEM private key that signs mail, when ``[dkim]`` has no ``key_file``."""
    mailgun_signing_key: SecretStr | None = None
    """``DIGEST_MAILGUN_SIGNING_KEY``: checks the signature of Mailgun's webhook calls."""

    @property
    def bounce_domain(self) -> str:
        """The domain of the VERP return paths: ``[bounces] domain`` or the sender's."""
        return (self.bounces.domain or self.service.sender_domain).lower()

    def topic(self, slug: str) -> TopicSettings:
        for topic in self.topics:
            if topic.slug == slug:
                return topic
        raise KeyError(slug)

    def list(self, slug: str) -> ListSettings:
        for digest_list in self.lists:
            if digest_list.slug == slug:
                return digest_list
        raise KeyError(slug)

    @property
    def base_dir(self) -> Path:
        """The folder that relative config paths are resolved against."""
        return self.source.parent

    def config_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path


def config_path_from_env(explicit: Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file to use: the ``--config`` option, else ``DIGEST_CONFIG``, else the example."""
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def load_settings(path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read, validate and cross-check a config file. Raises ConfigError listing every problem."""
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, [("", "file not found")]) from None
    except OSError as error:
        raise ConfigError(source, [("", f"cannot read: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [("", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [("", f"not valid TOML: {error}")]) from None
    return settings_from_mapping(raw, source=path, environ=environ)


def settings_from_mapping(
    raw: Mapping[str, Any], *, source: Path, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Validate an already-parsed config (a TOML document's tables) into Settings."""
    problems = list(_secret_keys_in_file(raw))
    if problems:
        raise ConfigError(str(source), problems)
    data = _apply_environment(raw, environ)
    try:
        config_file = ConfigFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(str(source), _describe(error, data)) from None
    secrets = {
        field_name: environ[variable]
        for field_name, variable in SECRET_ENV.items()
        if environ.get(variable)
    }
    settings = Settings.model_validate({**dict(config_file), "source": source, **secrets})
    problems = list(_cross_check(settings))
    if problems:
        raise ConfigError(str(source), problems)
    return settings


def _apply_environment(raw: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    data = {key: (dict(value) if isinstance(value, dict) else value) for key, value in raw.items()}
    for variable, (table, key) in ENV_OVERRIDES.items():
        if environ.get(variable):
            section = data.setdefault(table, {})
            if isinstance(section, dict):
                section[key] = environ[variable]
    return data


def _secret_keys_in_file(raw: Mapping[str, Any], path: str = "") -> Iterable[tuple[str, str]]:
    for key, value in raw.items():
        key_path = f"{path}.{key}" if path else key
        if key in _SECRET_KEYS:
            hint = _SECRET_HINTS.get(key, "DIGEST_SECRET_KEY")
            yield (
                key_path,
                f"secrets never go in the config file: set the {hint} environment variable",
            )
        elif isinstance(value, dict):
            yield from _secret_keys_in_file(value, key_path)


# The key that names an entry of each array of tables to the operator.
_ENTRY_NAME_KEYS = {"lists": "slug", "topics": "slug", "feeds": "name"}


def entry_key(table: str, entries: Sequence[Any], index: int) -> str:
    """How errors name entry ``index`` of ``[[table]]``: ``lists[daily]``, by its slug (a feed
    by its name), or ``lists[2]``, by position, when it has none or shares it with another.

    ``entries`` are the file's tables (mappings) or the validated settings.
    """
    key = _ENTRY_NAME_KEYS.get(table, "")
    names = [_entry_name(entry, key) for entry in entries]
    name = names[index] if 0 <= index < len(names) else None
    if name is None or names.count(name) > 1:
        return f"{table}[{index}]"
    return f"{table}[{name}]"


def _entry_name(entry: object, key: str) -> str | None:
    value = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
    # A name that reads like a position, or that would end the brackets, is no name here.
    if not isinstance(value, str) or not value.strip() or value.isdigit():
        return None
    if len(value) > 80 or "]" in value or not value.isprintable():
        return None
    return value


def _format_location(location: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    text = ""
    for position, part in enumerate(location):
        entries = raw.get(str(location[0])) if position == 1 else None
        if isinstance(part, int) and isinstance(entries, list):
            text = entry_key(str(location[0]), entries, part)
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _describe(error: ValidationError, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for detail in error.errors(include_url=False):
        location = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
        kind = detail["type"]
        if kind == "extra_forbidden":
            why = "unknown key (check its spelling in the configuration reference of the guides)"
        elif kind == "missing":
            why = "required key is missing"
        elif kind == "value_error":
            why = str(detail["ctx"]["error"]) if "ctx" in detail else detail["msg"]
        else:
            why = f"{detail['msg']} (got {detail.get('input')!r})"
        problems.append((_format_location(location, raw), why))
    return problems


def _duplicates(values: Iterable[str]) -> set[str]:
    return {value for value, count in Counter(values).items() if count > 1}


def _cross_check(settings: Settings) -> Iterable[tuple[str, str]]:
    """Problems that span several keys: references, duplicates, files that must exist."""
    for what, values in (
        ("feeds", [feed.url for feed in settings.feeds]),
        ("feeds", [feed.name for feed in settings.feeds]),
        ("topics", [topic.slug for topic in settings.topics]),
        ("lists", [digest_list.slug for digest_list in settings.lists]),
    ):
        for duplicate in sorted(_duplicates(values)):
            first = values.index(duplicate)
            index = values.index(duplicate, first + 1)
            attribute = {"feeds": "url" if "://" in duplicate else "name"}.get(what, "slug")
            entries = getattr(settings, what)
            yield (
                f"{entry_key(what, entries, index)}.{attribute}",
                f"duplicate {attribute} {duplicate!r} (also {entry_key(what, entries, first)}):"
                f" give each entry its own {attribute}",
            )
    for index, feed in enumerate(settings.feeds):
        low = feed.min_interval_minutes or settings.ingest.min_interval_minutes
        high = feed.max_interval_minutes or settings.ingest.max_interval_minutes
        if low > high:
            yield (
                f"{entry_key('feeds', settings.feeds, index)}.min_interval_minutes",
                f"the feed's shortest interval ({low:g} minutes) is longer than its longest "
                f"({high:g} minutes; max_interval_minutes here or in [ingest])",
            )

    topic_slugs = {topic.slug for topic in settings.topics}
    feed_names = {feed.name for feed in settings.feeds}
    for index, topic in enumerate(settings.topics):
        if topic.parent is not None and topic.parent not in topic_slugs:
            yield (
                f"{entry_key('topics', settings.topics, index)}.parent",
                f"unknown topic {topic.parent!r}",
            )
        for feed_name in topic.rules.feeds:
            if feed_name not in feed_names:
                yield (
                    f"{entry_key('topics', settings.topics, index)}.rules.feeds",
                    f"no feed is named {feed_name!r}",
                )
    yield from _parent_cycles(settings.topics)

    for index, digest_list in enumerate(settings.lists):
        for slug in digest_list.topics:
            if slug not in topic_slugs:
                yield (
                    f"{entry_key('lists', settings.lists, index)}.topics",
                    f"unknown topic {slug!r}",
                )
        for duplicate in sorted(_duplicates(digest_list.topics)):
            yield (
                f"{entry_key('lists', settings.lists, index)}.topics",
                f"topic {duplicate!r} is listed twice",
            )
        if digest_list.subscribers is None:
            continue
        subscribers = settings.config_path(digest_list.subscribers)
        if not subscribers.is_file():
            yield (
                f"{entry_key('lists', settings.lists, index)}.subscribers",
                f"file not found: {subscribers}",
            )

    if settings.sample_server is not None:
        folder = settings.config_path(settings.sample_server.directory)
        if not folder.is_dir():
            yield "sample_server.directory", f"folder not found: {folder}"
    if settings.service.templates is not None:
        folder = settings.config_path(settings.service.templates)
        if not folder.is_dir():
            yield "service.templates", f"folder not found: {folder}"
    if settings.dkim is not None:
        if settings.dkim.key_file is not None:
            key_file = settings.config_path(settings.dkim.key_file)
            if not key_file.is_file():
                yield "dkim.key_file", f"file not found: {key_file}"
        elif settings.dkim_key is None:
            yield (
                "dkim",
                "no private key: set dkim.key_file to a PEM file or the DIGEST_DKIM_KEY variable",
            )


def _parent_cycles(topics: tuple[TopicSettings, ...]) -> Iterable[tuple[str, str]]:
    parents = {topic.slug: topic.parent for topic in topics}
    for index, topic in enumerate(topics):
        seen = {topic.slug}
        parent = topic.parent
        while parent is not None and parent in parents:
            if parent in seen:
                yield (
                    f"{entry_key('topics', topics, index)}.parent",
                    f"topic {topic.slug!r} is its own ancestor",
                )
                break
            seen.add(parent)
            parent = parents[parent]
