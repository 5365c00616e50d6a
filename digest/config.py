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

import os
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
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
}
# Keys that look like secrets: found in the file, they get a pointed error, not "unknown key".
_SECRET_KEYS = {
    *("password", "secret", "secret_key", "signing_key", "api_key", "token", "private_key"),
}
_SECRET_HINTS = {"password": "DIGEST_SMTP_PASSWORD", "private_key": "DIGEST_DKIM_KEY"}

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
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}: {_cron_problem(expression)}")
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
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as 'Asia/Dubai'"
        ) from None
    return name


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url


def _check_https_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(
            f"{url!r} must be an https URL: mailbox providers require https unsubscribe links"
        )
    # It is written into the List-Unsubscribe header of every copy as it is.
    if not (url.isascii() and url.isprintable()) or " " in url or "=?" in url or ">" in url:
        raise ValueError(
            f"{url!r} must be plain ASCII with no spaces, '>' or '=?' (it goes into mail "
            "headers): percent-encode other characters"
        )
    return url.rstrip("/")


def _check_address(address: str) -> str:
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
    try:
        SandboxedEnvironment().parse(source)
    except TemplateSyntaxError as error:
        raise ValueError(f"subject template does not parse: {error.message}") from None
    return source


def _check_database_url(url: str) -> str:
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
    if not _LINE_BREAKS.isdisjoint(value):
        raise ValueError("must be a single line (it goes into mail headers)")
    return value


def _check_feedback_id(template: str) -> str:
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
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSettings(_Model):
    database_url: Annotated[str, AfterValidator(_check_database_url)] = "sqlite:///var/digest.db"
    broker_url: str | None = None  # None: tasks run in-process (embedded mode)
    data_dir: Path = Path("var")  # files the service keeps for itself, e.g. a generated secret key
    outbox: Path = Path("var/outbox")
    base_url: HttpsUrl
    sender_name: HeaderText
    sender_address: EmailAddress
    reply_to: EmailAddress | None = None
    postal_address: str = Field(min_length=1)
    templates: Path | None = None  # a folder of templates to use instead of the bundled ones
    # The mailto: half of List-Unsubscribe; None means unsubscribe@ the sender's domain.
    unsubscribe_address: EmailAddress | None = None
    # Gmail's Feedback-ID (campaign:customer:type:sender); "" leaves the header out.
    feedback_id: Annotated[str, AfterValidator(_check_feedback_id)] = (
        "{list}:{edition}:digest:{domain}"
    )
    # Addresses that must never get mail (a list's or every list's), kept outside the database so
    # an unsubscribe survives a new one (digest.suppression); None: data_dir/suppressed.csv.
    suppression_file: Path | None = None

    @property
    def suppression_path(self) -> Path:
        return self.suppression_file or self.data_dir / "suppressed.csv"


class SmtpSettings(_Model):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    connections: int = Field(default=4, ge=1, le=32)  # messages sent at once, one process each
    # Delivery retries (digest.retries): copies of one message that may reach the server with no
    # reply (it may have taken them) before the delivery is parked; temporary failures (4xx, the
    # server unreachable) before it is failed; the wait before the first retry, doubled after
    # each, and its cap.
    max_attempts: int = Field(default=3, ge=1, le=20)
    max_retries: int = Field(default=8, ge=0, le=100)
    retry_minutes: float = Field(default=5, gt=0, le=24 * 60)
    max_retry_minutes: float = Field(default=6 * 60, gt=0, le=7 * 24 * 60)


class DkimSettings(_Model):
    """Sign every message with DKIM; the private key comes from key_file or DIGEST_DKIM_KEY."""

    selector: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$")
    domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
    key_file: Path | None = None  # a PEM file; relative to the config file


class IngestSettings(_Model):
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    # Documents larger than this are parsed in a child process, stopped after the timeout or when
    # it needs more memory than allowed (digest.ingest.isolation); smaller ones in the poller.
    parse_apart_above_bytes: int = Field(default=262_144, ge=0)
    parse_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    # A smaller document not read within this time in the poller is handed to a parser process.
    parse_in_poller_seconds: float = Field(default=2.0, gt=0, le=600)
    parse_memory_mb: int = Field(default=512, ge=64)
    contact_url: HttpUrl | None = None  # named in the User-Agent so publishers can reach us
    allow_private_addresses: bool = False
    # When to poll each feed again (digest.polling): adapted to how often it publishes, within
    # these bounds; after errors, an exponential backoff up to max_backoff_minutes.
    min_interval_minutes: float = Field(default=15, ge=1, le=7 * 24 * 60)
    max_interval_minutes: float = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    max_backoff_minutes: float = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    max_concurrency: int = Field(default=16, ge=1, le=256)  # feeds polled at the same time
    per_host_concurrency: int = Field(default=2, ge=1, le=32)  # requests at once to one host

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
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class FeedSettings(_Model):
    url: HttpUrl
    name: str = Field(min_length=1)
    enabled: bool = True
    # Per-feed bounds on the polling interval; unset, the [ingest] ones apply.
    min_interval_minutes: float | None = Field(default=None, ge=1, le=7 * 24 * 60)
    max_interval_minutes: float | None = Field(default=None, ge=1, le=30 * 24 * 60)


def _check_term(term: str) -> str:
    if not term.strip():
        raise ValueError("empty term: write a word or phrase, or remove the entry")
    if "\n" in term or "\r" in term:
        raise ValueError(f"{term!r} spans lines: write one term per string")
    return term


Term = Annotated[str, AfterValidator(_check_term)]


class TopicRules(_Model):
    """An editor's brief for one topic; digest.topics documents how each rule counts."""

    feeds: tuple[str, ...] = ()  # feed names whose every article belongs to the topic
    categories: tuple[str, ...] = ()  # feed categories (case-insensitive)
    include: tuple[Term, ...] = ()  # words and phrases, matched on word boundaries
    places: tuple[Term, ...] = ()  # countries, regions, cities: count like include
    people: tuple[Term, ...] = ()  # leaders and officials: count like include
    groups: tuple[Term, ...] = ()  # parties, armed groups, institutions: count like include
    ambiguous: tuple[Term, ...] = ()  # count only next to other evidence from the topic's tree
    exclude: tuple[Term, ...] = ()  # words and phrases that veto the topic
    ignore: tuple[Term, ...] = ()  # phrases that are not mentions ("Gulf of Mexico")
    threshold: float = Field(default=1.0, gt=0, le=1000)  # score at which terms file an article
    clitic_prefixes: bool = True  # Arabic/Hebrew terms also match behind attached prefixes

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
    slug: Slug
    name: str = Field(min_length=1)
    parent: Slug | None = None
    rules: TopicRules = TopicRules()


UtmValue = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_check_utm_value)]


class UtmSettings(_Model):
    """Tracking parameters added to the article links of a list's editions (never to our own)."""

    source: UtmValue | None = "digest"
    medium: UtmValue | None = "email"
    campaign: UtmValue | None = "{list}-{date}"
    term: UtmValue | None = None
    content: UtmValue | None = None


class ListSettings(_Model):
    slug: Slug
    name: HeaderText
    description: str = ""
    topics: tuple[Slug, ...] = Field(min_length=1)
    schedule: CronExpression
    timezone: TimezoneName = "UTC"
    # BCP 47 tag of the edition's own words (labels, dates); "ar", "he", "fa"… lay it out
    # right to left. Each article keeps its own direction, from its feed's language or script.
    language: LanguageTag = "en"
    subject: Annotated[str, AfterValidator(_check_subject_template)] = "{{ list_name }}: {{ date }}"
    max_articles: int = Field(default=25, ge=1, le=200)
    recommended: int = Field(default=3, ge=0, le=20)
    send_when_empty: bool = False
    subscribers: Path | None = Field(
        default=None,
        description=(
            "A CSV file (columns email, name, timezone) imported into the list as confirmed "
            "readers at the start of a cycle whenever it changed since its last import. An "
            "import adds and updates, never removes or resubscribes anyone: readers live in "
            "the database (digest subscribers). Leave it out for a list whose readers sign up "
            "or are imported with digest subscribers import."
        ),
    )
    utm: UtmSettings | None = None  # none: article links are left as the feed gave them
    # The slugs this list had before: its editions, members and unsubscribes follow it to this
    # slug (digest.lists). [] says "a new list", where a list that left the config has history.
    previous_slugs: tuple[Slug, ...] | None = None


class ConfigFile(_Model):
    """The tables of a config file, as written by the operator."""

    service: ServiceSettings
    smtp: SmtpSettings | None = None
    dkim: DkimSettings | None = None
    ingest: IngestSettings = IngestSettings()
    sample_server: SampleServerSettings | None = None
    feeds: tuple[FeedSettings, ...] = ()
    topics: tuple[TopicSettings, ...] = ()
    lists: tuple[ListSettings, ...] = ()


class Settings(ConfigFile):
    """The config file plus what never comes from it: where it was read from, and the secrets."""

    source: Path = Path("<settings>")
    secret_key: SecretStr | None = None
    smtp_password: SecretStr | None = None
    dkim_key: SecretStr | None = None  # PEM text from DIGEST_DKIM_KEY

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
            why = "unknown key (check its spelling against the config reference in README.md)"
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
