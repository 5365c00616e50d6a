"""The service's own tables: where it keeps its data, how it polls, what its processes serve
and how work is cut into tasks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import AfterValidator, Field, model_validator

from digest.config.values import (
    USER_INFO_ENDS_EARLY,
    EmailAddress,
    HeaderText,
    HostName,
    HttpsUrl,
    HttpUrl,
    SettingsModel,
    ShownText,
    unreadable_url_problem,
)
from digest.shown import without_password


def _check_database_url(url: str) -> str:
    """An SQLAlchemy URL of SQLite or PostgreSQL."""
    backend = url.partition(":")[0].partition("+")[0].lower()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            f"the store runs on SQLite or PostgreSQL, not {backend or url!r}: use "
            "sqlite:///path/to/digest.db or postgresql+psycopg://user@host/database"
        )
    # Not at import: the config is read by every command, most never open the store.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is no number
        raise ValueError(
            f"{without_password(url)!r} is not a database URL: use sqlite:///path/to/digest.db "
            "or postgresql+psycopg://user@host/database"
        ) from None
    if parsed.host and "@" in parsed.host:
        # "user:p@ss@host": SQLAlchemy ends the password at the first "@", and the driver, told
        # to reach host "ss@host", put the rest of the password in its error.
        raise ValueError(
            "its user name or password holds an '@', which ends them early: write each '@' in "
            "them as %40 (and a ':' in the user name as %3A)"
        )
    timeout = parsed.query.get("connect_timeout")
    if backend == "postgresql" and isinstance(timeout, tuple):
        given = ", ".join(repr(value) for value in timeout)
        raise ValueError(
            f"its connect_timeout is given {len(timeout)} times ({given}): write it once, e.g. "
            "?connect_timeout=30"
        )
    if backend == "postgresql" and isinstance(timeout, str) and not _whole_seconds(timeout):
        # psycopg refuses it at the first connection, in a traceback (libpq takes only digits).
        raise ValueError(
            f"its connect_timeout, {timeout!r}, is no number of seconds: write it as a whole "
            "number, e.g. ?connect_timeout=30"
        )
    if backend == "sqlite" and parsed.host:
        # "sqlite://digest.db": the driver refuses it at the first connection, in a traceback.
        path = url.split("://", 1)[1]
        raise ValueError(
            f"{url!r} names no file: SQLite takes three slashes before a relative path and four "
            f"before an absolute one, e.g. 'sqlite:///{path}'"
        )
    if backend == "sqlite" and "?" in url and not _driver_options(url.partition("?")[2]):
        # "sqlite:///var/news?desk.db": SQLAlchemy takes what follows the "?" for options and,
        # having none it can read, drops it; the store went to a file called "var/news".
        path = url.split(":///", 1)[-1]
        raise ValueError(
            f"its '?' begins the URL's options, which makes the file {parsed.database!r}: write "
            f"a '?' of the file's name as %3F ({path.replace('?', '%3F', 1)!r})"
        )
    return url


def _whole_seconds(value: str) -> bool:
    """Whether ``value``, a URL option, is a whole number of seconds."""
    return value.strip().isdigit()


def _driver_options(query: str) -> bool:
    """Whether ``query`` reads as the URL's options ("timeout=30&mode=ro"), every one of them."""
    return bool(query) and all("=" in option for option in query.split("&"))


# What a rediss:// URL's ssl_cert_reqs may say: both redis-py (the leases, the send rate) and
# Celery (the queue) read these words; Celery refuses a rediss:// URL without one.
_SSL_CERT_REQS = ("required", "optional", "none")


def _check_broker_url(url: str) -> str:
    """A Redis URL that Celery, the leases and the send rate can all use: ``redis://`` or
    ``rediss://``, a whole database number, and (TLS) the certificate check spelt out.

    Anything else was taken as it stood and ended ``digest status`` and ``digest send`` in a
    traceback from redis-py (an ``amqp://`` broker, a blank pasted before the address, a "/" after
    the database number), and ``digest worker`` on a rediss:// URL in one from Celery, exit 0."""
    shown = without_password(url)
    if (problem := unreadable_url_problem(url)) is not None:
        raise ValueError(f"{shown!r} {problem}")
    if "@" in url.partition("://")[2] and "@" not in urlsplit(url).netloc:
        # "redis://:pa/ss@host": the address ends at the "/", and the rest, password included,
        # was read as the database number (and shown as such). A Redis URL has no other "@".
        raise ValueError(USER_INFO_ENDS_EARLY)
    if url != url.strip() or any(not char.isprintable() or char == " " for char in url):
        raise ValueError(
            f"{shown!r} has a blank or a control character in it: write the address alone, "
            "between the quotes"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(
            f"the distributed mode runs on Redis, not {parts.scheme or shown!r}: use "
            "redis://host:6379/0 (rediss:// for TLS); Redis holds its queue, leases and send rate"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"{shown!r} has a port out of range: ports go from 0 to 65535") from None
    database = parts.path.removeprefix("/")
    if database and not database.isdigit():
        raise ValueError(
            f"{shown!r}: the database number after the host must be a whole number, as in "
            "redis://host:6379/0 (no '/' after it)"
        )
    if parts.scheme == "rediss":
        checks = parse_qs(parts.query).get("ssl_cert_reqs", [])
        if len(checks) != 1 or checks[0] not in _SSL_CERT_REQS:
            raise ValueError(
                f"{shown!r}: a rediss:// URL must say how to check the server's certificate: "
                "end it with ?ssl_cert_reqs=required (or optional, or none)"
            )
    return url


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


class ServiceSettings(SettingsModel):
    """What every process of the service shares: the database, the broker, who sends the mail."""

    database_url: Annotated[str, AfterValidator(_check_database_url)] = "sqlite:///var/digest.db"
    """SQLite or PostgreSQL, as an SQLAlchemy URL; ``postgresql+psycopg://…`` in production
    (``pip install -e ".[postgres]"``). An SQLite path is relative to the config file."""
    database_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    """How long one statement may take on PostgreSQL, a wait for a lock another session holds
    included, before the server cancels it and the command (or task) gives up, saying so. The
    waits the service means (another build of the list, another ``digest db upgrade``) have no
    bound, and neither has a migration's work. A shorter ``statement_timeout`` the server gives
    the session (``ALTER ROLE … SET`` or ``ALTER DATABASE … SET`` by a DBA) stays in force."""
    broker_url: Annotated[str, AfterValidator(_check_broker_url)] | None = None
    """The Celery broker, a Redis server (``redis://host:6379/0``; for TLS,
    ``rediss://host:6380/0?ssl_cert_reqs=required``); none runs tasks in-process (the embedded
    mode)."""
    data_dir: Path = Path("var")
    """Files the service keeps for itself: a generated secret key, previews, the suppression
    file by default. Relative to the config file."""
    outbox: Path = Path("var/outbox")
    """The folder mail is written to as ``.eml`` files when there is no ``[smtp]`` table;
    relative to the config file."""
    base_url: HttpsUrl
    """The public https address that links in mail point to (unsubscribe:
    ``base_url/unsubscribe/TOKEN``), at most 500 characters."""
    sender_name: HeaderText
    """The display name in the ``From`` of every message."""
    sender_address: EmailAddress
    """The address in the ``From`` of every message; its domain is the sending domain."""
    reply_to: EmailAddress | None = None
    """The ``Reply-To`` address; none leaves the header out."""
    postal_address: ShownText = Field(min_length=1)
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
    Relative to the config file."""

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

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The addresses' passwords masked: a repr goes to logs and tracebacks.
        for name, value in super().__repr_args__():
            masked = name in {"database_url", "broker_url"} and isinstance(value, str)
            yield name, without_password(value) if masked else value


class IngestSettings(SettingsModel):
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


class SampleServerSettings(SettingsModel):
    """Serve a folder of feed files on loopback while a command runs (the offline example)."""

    directory: Path
    """The folder of feed files, relative to the config file."""
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    """The loopback address to serve on."""
    port: int = Field(ge=1, le=65535)
    """The port to serve on; the feeds' URLs name it."""
    replay_dates: bool = False
    """Move the feeds' dates by whole days so that the newest falls in the day before the
    command runs: the example's editions then hold today's news, not the day the samples
    were written."""


class MetricsSettings(SettingsModel):
    """Prometheus metrics of the distributed mode (digest.metrics), on loopback unless told."""

    host: HostName = Field(
        default="127.0.0.1",
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


class WorkerSettings(SettingsModel):
    """How delivery work is cut into tasks, and how long the broker keeps a task a worker took
    (the distributed mode, worker/app.py)."""

    batch_size: int = Field(
        default=500,  # digest.delivering.DELIVERY_BATCH_SIZE
        ge=1,
        le=5000,
        description="Readers per delivery task. Each batch pays a fixed cost (its task, its "
        "ledger reads, its rows held, its SMTP pipeline emptied): 500 sent 13% faster than "
        "200 (docs/performance.md). Smaller batches spread an edition over more workers "
        "sooner, and leave fewer readers waiting on a lost machine's batches.",
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
