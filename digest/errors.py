"""One exception tree for the whole service.

    DigestError
    ├── ConfigError            bad config file, key or referenced file (says file, key path, why)
    ├── UnknownListError       work names a list the config does not have (says file, the list)
    ├── FetchError             a feed could not be fetched (network, HTTP status, limits)
    ├── ParseError             a feed's bytes are not a feed we can read
    ├── RenderError            a template failed to render an edition
    │   ├── EditionLintError   a rendered edition failed the checks before sending (digest.lint)
    │   └── HeaderCheckError   an edition's headers failed the mailer's last check on its bytes
    ├── DeliveryError          a message could not be handed to the mail server
    │   ├── DeliveryTemporaryError   try again later (4xx, connection refused, timeout)
    │   │   └── DeliveryUnknownError the message's end went out and no reply came back: the
    │   │                            server may have taken it (retried a bounded number of times)
    │   └── DeliveryPermanentError   never retry this recipient (5xx)
    ├── OutboxUnavailableError the outbox folder cannot take any message (says folder, why)
    ├── StoreUnavailableError  the database cannot be reached or opened (says its URL, masked)
    ├── SchemaMismatchError    the database's schema is not this code's (distributed mode)
    ├── SchemaDriftError       a statement refused for a table or column the schema lacks
    ├── MigrationDriftError    a migration met a table or column an older schema lacks
    ├── DatabaseCopyError      `digest db copy` refused its source or target, or stopped midway
    ├── BrokerUnavailableError the broker (Redis) cannot be reached (says its URL, masked)
    ├── BrokerRefusedError     the broker answers and refuses the URL's password or database
    │   └── BrokerForbiddenError     … or a command digest needs, to the URL's user (its ACL)
    ├── NoWorkerError          a command's tasks would wait on the broker for workers none runs
    ├── ListenError            a socket the service serves on cannot be bound (says port and key)
    └── WebhookRefused         a provider's webhook call failed its signature, age or replay check

Third-party errors are wrapped at the boundary with ``raise ... from``, so callers catch only these.
"""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from digest.shown import brief, database_shown, passwords_masked, without_password


class DigestError(Exception):
    """Root of every error the service raises on purpose."""


class ConfigError(DigestError):
    """The configuration is invalid; the message names the file, the key path and the reason."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {key}: {why}" if key else f"{source}: {why}" for key, why in problems]
        super().__init__("\n".join(lines))


class UnknownListError(DigestError, KeyError):
    """Work names a list this process's config does not have: a task handed out by a process
    with another config file, or queued before the list left this one. A KeyError too, as the
    settings' look-up raised before."""

    def __init__(self, source: str, slug: str, configured: list[str]) -> None:
        self.source, self.slug = source, slug
        have = f"its lists: {', '.join(configured)}" if configured else "it has no [[lists]]"
        super().__init__(
            f"{source}: lists: no list {slug!r} ({have}); the list's work waits, its deliveries "
            "pending on the ledger, for a process whose config has it: give every machine the "
            "same config file"
        )

    def __str__(self) -> str:  # the message, not KeyError's quoted repr of it
        return str(self.args[0])


class FetchError(DigestError):
    """A feed could not be fetched."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        answered_at: str | None = None,
    ) -> None:
        self.url = url
        self.reason = passwords_masked(reason)  # it may name where a redirect led
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503 Retry-After)
        # The address whose server gave the HTTP answer, after any redirects: a Retry-After is
        # that server's wish, not the one at the feed's own address (None: no HTTP answer).
        self.answered_at = answered_at
        super().__init__(f"{without_password(url)}: {self.reason}")


class ParseError(DigestError):
    """A feed's content could not be read as a feed."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = passwords_masked(reason)
        super().__init__(f"{without_password(url)}: {self.reason}")


class RenderError(DigestError):
    """An edition could not be rendered."""


class EditionLintError(RenderError):
    """A rendered edition failed the checks that run before any of its messages goes out."""

    def __init__(self, message: str, findings: tuple[object, ...] = ()) -> None:
        self.findings = findings  # digest.lint.Finding records; empty when rebuilt by Celery
        super().__init__(message)


class HeaderCheckError(RenderError):
    """The headers every copy of an edition shares failed the last check before sending: a
    mail program would read them as other headers than the mailer wrote."""

    def __init__(self, message: str, problem: str) -> None:
        self.problem = problem  # what is wrong with the header bytes, without where
        super().__init__(message)


class DeliveryError(DigestError):
    """A message could not be delivered."""

    def __init__(self, recipient: str, reason: str) -> None:
        self.recipient = recipient
        self.reason = reason
        super().__init__(f"{recipient}: {reason}")


class DeliveryTemporaryError(DeliveryError):
    """The mail server may accept the message later."""


class DeliveryUnknownError(DeliveryTemporaryError):
    """The whole message went out but its reply never came (the connection lost, or no reply in
    time): the server may have taken it, so sending it again may deliver a second copy."""


class DeliveryPermanentError(DeliveryError):
    """The mail server refused the message for good."""


class WebhookRefused(DigestError):
    """A webhook call that is not a provider's, or not now: the web app answers ``status``."""

    def __init__(self, provider: str, reason: str, status: int = 403) -> None:
        self.provider = provider
        self.reason = reason
        self.status = status
        super().__init__(f"{provider} webhook refused: {reason}")


# What SQLite says of a file that is not an SQLite database, or a damaged one.
NOT_A_DATABASE = frozenset(
    (
        "file is not a database",
        "file is encrypted or is not a database",
        "database disk image is malformed",
    )
)


class SendingProcessLost(DigestError):
    """A sending process of the embedded mode ended abruptly (killed, out of memory) in the
    middle of an edition: the deliveries it had not recorded stay pending."""


class OutboxUnavailableError(DigestError):
    """The outbox folder cannot take a message (read-only, full, not permitted, a file in its
    place): every copy would meet it, so none is tried and the deliveries stay pending, with no
    attempt counted against their readers."""

    def __init__(self, folder: str, reason: str, written: int = 0) -> None:
        self.folder, self.reason = folder, reason
        # The batch's copies written to the folder and recorded sent before it met this: said
        # among the messages delivered, which counted none when the disk filled mid-batch.
        self.written = written
        super().__init__(
            f"service.outbox: cannot write to {folder}: {reason}; the deliveries stay pending "
            "and go once it can be written (make it writable, free room on its disk, or point "
            "service.outbox or DIGEST_OUTBOX elsewhere)"
        )

    def __reduce__(self) -> tuple[type[OutboxUnavailableError], tuple[str, str, int]]:
        return (type(self), (self.folder, self.reason, self.written))  # raised in a sending process


class StoreUnavailableError(DigestError):
    """The database cannot be reached or opened: the server is down, the file cannot be made."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        missing_driver: bool = False,
        not_digest: bool = False,
        not_permitted: bool = False,
        read_only: bool = False,
        timed_out: bool = False,
    ) -> None:
        self.url = url
        self.reason = reason
        flagged = {
            "timed_out": timed_out,
            "not_permitted": not_permitted,
            "read_only": read_only,
            "not_digest": not_digest,
            "missing_driver": missing_driver,
        }
        kind = next((name for name, on in flagged.items() if on), None) or _told_by(url, reason)
        super().__init__(
            f"cannot open the database {database_shown(url)}: {brief(reason)}; "
            f"{_DATABASE_ADVICE[kind]}"
        )


def _told_by(url: str, reason: str) -> str:
    """What kind of failure the database's own words (``reason``) tell, for the advice."""
    if disk_full(reason) or ("disk I/O error" in reason and _sqlite_disk_full(url)):
        return "disk_full"
    if not url.startswith("sqlite"):
        # libpq's words for sslmode=verify-ca or verify-full without the server's authority.
        if "certificate verify failed" in reason or "root certificate file" in reason:
            return "untrusted_certificate"
        return "unreachable"
    if "database is locked" in reason:
        return "locked"
    if "readonly database" in reason:
        return "file_not_writable"
    if reason in NOT_A_DATABASE:
        return "not_a_database"
    return "no_file"


def disk_full(reason: str) -> bool:
    """Whether a database's own words (SQLite's, PostgreSQL's "could not extend file") say
    that the disk holding it is full."""
    return "database or disk is full" in reason or "No space left on device" in reason


# Below this many free bytes, a disk I/O error of SQLite is said as a full disk: opening a
# database takes room for its -shm file (32 KiB) and the first pages of its -wal.
_SQLITE_ROOM_NEEDED = 1024 * 1024


def _sqlite_disk_full(url: str) -> bool:
    """Whether the disk of the SQLite file ``url`` names is full. SQLite says "disk I/O error",
    not that its disk is full, when it cannot give its -shm file beside the database its
    pages (it writes a byte in each): the advice for a missing folder misled there."""
    try:
        database = make_url(url).database if url.startswith("sqlite") else None
        if not database or database == ":memory:":
            return False
        stats = os.statvfs(Path(database).absolute().parent)
    except (ArgumentError, OSError):
        return False
    return stats.f_bavail * stats.f_frsize < _SQLITE_ROOM_NEEDED


# What to do about a database that cannot be opened, by the kind of failure. Each but the last
# two is told apart because the advice of an unreachable database would mislead there.
_DATABASE_ADVICE = {
    # The server answers, and gave up on a statement past its bound.
    "timed_out": (
        "another session holds a lock this command waits for (a transaction left open, "
        "in psql or in a process that is stuck: see pg_stat_activity), or the server is "
        "overloaded; end that session, or raise service.database_timeout_seconds"
    ),
    # PostgreSQL refused the URL's user (SQLSTATE 42501): the server is up and the address
    # right. Since PostgreSQL 15 only a database's owner may create tables in its schema public,
    # and tables made by `digest db upgrade` run as another user are that user's.
    "not_permitted": (
        "the user of the URL may not make or use digest's tables there: make it the "
        "owner of the database (ALTER DATABASE ... OWNER TO ...) and of the tables in "
        "it, or put the user that owns them in service.database_url (or "
        "DIGEST_DATABASE_URL)"
    ),
    # The server answers but takes no writes: a standby (a replica, or the old primary after a
    # failover), or a database set read-only (default_transaction_read_only).
    "read_only": (
        "the server takes no writes there (a standby, or a database set read-only): "
        "point service.database_url (or DIGEST_DATABASE_URL) at the primary server, or "
        "make the database writable again"
    ),
    "not_digest": (
        "it is another application's database (or a digest one that lost its "
        "alembic_version table), and nothing was written to it: point "
        "service.database_url (or DIGEST_DATABASE_URL) at digest's, or at a new file or "
        "an empty database to start one"
    ),
    "missing_driver": (
        "install the driver the URL names (PostgreSQL's, psycopg, comes with "
        '`pip install -e ".[postgres]"`), or name one that is installed in '
        "service.database_url (or DIGEST_DATABASE_URL), e.g. "
        "postgresql+psycopg://user@host/database"
    ),
    # SQLite's words, and PostgreSQL's ("could not extend file ..."): the address is right and
    # the server up.
    "disk_full": (
        "the disk that holds it is full: free space there, or move the database to a "
        "larger disk and correct service.database_url (or DIGEST_DATABASE_URL), then run "
        "this again"
    ),
    # SQLite waited its busy timeout for another process's write: the file is fine.
    "locked": (
        "another process is writing to it (a digest command still running, such as "
        "digest run or an import) and held it too long: wait for it to finish and run "
        "this again"
    ),
    # The file opened, so its folder is there: this user may not write the file, or its -wal
    # and -shm files beside it (often left by a command run as root).
    "file_not_writable": (
        "this user may not write the file, or its -wal and -shm files beside it: check "
        "their owner and permissions (a command run as another user, such as root, may "
        "have made them), then run this again"
    ),
    "not_a_database": (
        "the file is not a digest database (another file, or a damaged one): point "
        "service.database_url (or DIGEST_DATABASE_URL) at the right file, or restore it "
        "from a backup"
    ),
    "no_file": (
        "check that its folder exists (or can be made) and is writable, or point "
        "service.database_url (or DIGEST_DATABASE_URL) at another file"
    ),
    # The server answers over TLS with a certificate this machine does not trust: a managed
    # service's own authority, or one the operator signed.
    "untrusted_certificate": (
        "the server's TLS certificate is not trusted here (signed by an authority this "
        "machine does not know, such as a managed service's own or the server itself): "
        "name that authority in the URL, as sslrootcert=PATH (its certificate, a PEM "
        "file), in service.database_url (or DIGEST_DATABASE_URL)"
    ),
    "unreachable": (
        "check that the database server is running and accepts connections at that "
        "address and that the database and its user exist, or correct "
        "service.database_url (or DIGEST_DATABASE_URL)"
    ),
}


class SchemaMismatchError(DigestError):
    """The database's schema is not the one this code was written for (distributed mode)."""

    def __init__(self, url: str, current: str | None, head: str | None, *, newer: bool) -> None:
        self.current, self.head = current, head
        shown = database_shown(url)
        super().__init__(f"the database {shown} has {_revision_told(current, head, newer=newer)}")


def _revision_told(current: str | None, head: str | None, *, newer: bool) -> str:
    """A schema's revision other than the code's, and what to run for it."""
    if newer:
        return (
            f"schema {current}, newer than this code knows (its newest is {head}): run the "
            "version of digest that upgraded it"
        )
    found = f"schema {current}" if current else "no schema yet"
    return (
        f"{found}, this code needs {head}: run `digest db upgrade` once, then start the "
        "workers and beat again"
    )


class SchemaDriftError(DigestError):
    """The database refused a statement for a table or column this code expects and its schema
    lacks: the database is at another release's revision, or was changed by hand. Every run
    meets it again, so it is no outage to wait out."""

    def __init__(
        self, url: str, missing: str, reason: str, current: str | None, head: str, *, known: bool
    ) -> None:
        self.url, self.missing, self.current = url, missing, current
        if current == head:
            # `digest db upgrade` finds nothing to do there: the revision is the code's.
            told = (
                f"schema {current}, this code's, changed since by hand (a table or column "
                "dropped or renamed): put back what was dropped or renamed, or restore the "
                "database from a backup; `digest db upgrade` does not remake it"
            )
        elif current is None:
            told = (
                "a schema that is not this code's: run `digest db upgrade` once, or the "
                "version of digest that upgraded it"
            )
        else:
            told = _revision_told(current, head, newer=not known)
        super().__init__(
            f"the database {database_shown(url)} lacks {missing} this code expects "
            f"({brief(reason)}); it has {told}"
        )


class MigrationDriftError(DigestError):
    """A migration of ``digest db upgrade`` met a table, column, constraint or index the
    database's older schema lacks: the schema was changed by hand. The upgrade is one
    transaction, so the database is left at its revision; running the upgrade again meets the
    same."""

    def __init__(
        self, url: str, missing: str, reason: str, current: str, migration: str, title: str
    ) -> None:
        self.url, self.missing, self.current, self.migration = url, missing, current, migration
        super().__init__(
            f"the database {database_shown(url)} lacks {missing} that migration {migration} "
            f"({title}) changes ({brief(reason)}): its schema {current} was changed by hand (a "
            "table, column, constraint or index dropped or renamed). Nothing was changed: each "
            f"upgrade is one transaction, and the database is still at {current}. Put back what "
            f"was dropped or renamed as schema {current} had it, or restore the database from a "
            "backup, then run `digest db upgrade` again"
        )


class DatabaseCopyError(DigestError):
    """``digest db copy`` refused to start (the source not at the code's revision or in use, the
    target holding data) or stopped midway, its target left empty; the message says which."""


class SecretKeyMismatchError(DigestError):
    """The secret key is not the one the database's links and address keys were made with."""

    def __init__(self, url: str, key_from: str) -> None:
        self.url, self.key_from = url, key_from
        generated = not key_from.startswith(("DIGEST_", "credential "))
        fix = (
            "restore the key file from the backup, or set DIGEST_SECRET_KEY to it"
            if generated
            else "put it where this one was read from"
        )
        super().__init__(
            f"the secret key ({key_from}) is not the one the database {database_shown(url)} was "
            "used with: every unsubscribe and preferences link already mailed would be refused, "
            "and forgotten addresses could be imported again. Give this machine the key the "
            f"database was used with ({fix}, the same on every machine); to change the key on "
            "purpose, run `digest db adopt-secret-key`"
        )


class BrokerUnavailableError(DigestError):
    """The broker of the distributed mode (Redis) does not answer."""

    def __init__(self, url: str, reason: str, *, meanwhile: str = "") -> None:
        self.url = url
        self.reason = reason
        after = f"; {meanwhile}" if meanwhile else ""
        why = brief(reason).rstrip(".")  # redis-py ends its own with one
        super().__init__(
            f"the broker {without_password(url)} does not answer: {why}{after}; check "
            "that Redis runs there and accepts connections, or correct service.broker_url (or "
            "DIGEST_BROKER_URL)"
        )


class BrokerRefusedError(DigestError):
    """The broker answers, and refuses what the URL says for good: a password (or user) it does
    not take, a database number it does not have. Waiting for it does not mend that."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        why = brief(reason).rstrip(".")
        super().__init__(
            f"the broker {without_password(url)} refuses this URL: {why}; correct the password "
            "(or user) or the database number in service.broker_url (or DIGEST_BROKER_URL)"
        )


class BrokerForbiddenError(BrokerRefusedError):
    """The broker lets the URL's user in and refuses it a command digest needs (Redis's ACL: a
    user made without ``+publish``, which asking the workers whether they answer takes)."""

    def __init__(self, url: str, reason: str) -> None:
        grant = _grant(url, reason)
        DigestError.__init__(
            self,
            f"the broker {without_password(url)} refuses a command digest needs: "
            f"{brief(reason).rstrip('.')}; allow it to the URL's user in Redis's ACL "
            f"(ACL SETUSER {grant}), or give the user ~* &* +@all -@dangerous +info",
        )
        self.url = url
        self.reason = reason


def _grant(url: str, reason: str) -> str:
    """What ``ACL SETUSER`` takes to allow what Redis refused, for the URL's user ("default"
    when it names none): Redis names a refused command ("no permissions to run the 'brpop'
    command"), and says a key or a channel without naming it."""
    refused = re.search(r"run the '([\w|.-]+)' command", reason)
    if refused:
        allowed = f"+{refused.group(1)}"
    elif "access a key" in reason:
        allowed = "~*"
    elif "access a channel" in reason:
        allowed = "&*"
    else:
        return "NAME +COMMAND"
    try:
        user = unquote(urlsplit(url).username or "") or "default"
    except ValueError:  # a URL urllib cannot split: said as the general form
        user = "NAME"
    return f"{user} {allowed}"


class BrokerCertificateError(DigestError):
    """A rediss:// broker whose TLS certificate this machine does not trust: signed by an
    authority it does not know (a private one), or made for another name. No wait mends it."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"the broker {without_password(url)} has a certificate this machine does not trust: "
            f"certificate verify failed: {brief(reason).rstrip('.')}; name the authority that "
            "signed it in the URL, as ssl_ca_certs=PATH (its certificate, a PEM file), in "
            "service.broker_url (or DIGEST_BROKER_URL)"
        )


class NoWorkerError(DigestError):
    """A command would hand its tasks to the workers and wait for them, and none answers."""

    def __init__(self, url: str, *, meanwhile: str = "") -> None:
        self.url = url
        if meanwhile:  # the work was handed out already: it waits for a worker, wherever
            super().__init__(
                f"no digest worker answers on the broker {without_password(url)} any more; "
                f"{meanwhile}; start one (digest worker) to go on with it"
            )
            return
        super().__init__(
            f"no digest worker answers on the broker {without_password(url)}: start one "
            "(digest worker) to take this command's tasks, or leave DIGEST_BROKER_URL (and "
            "service.broker_url) unset to run them in this process"
        )


class ListenError(DigestError):
    """An address the service was told to serve on cannot be bound (most often: in use)."""

    def __init__(
        self, what: str, host: str, port: int, key: str, reason: str, advice: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.key = key
        self.reason = reason
        advice = advice or f"stop what is listening there or set {key} to a free port"
        super().__init__(
            f"cannot serve {what} on {host}:{port} ({key} = {port}): {reason}; {advice}"
        )

    @classmethod
    def from_os_error(
        cls, what: str, host: str, port: int, key: str, error: OSError
    ) -> ListenError:
        """The error for a failed bind, with the advice that fits its cause: a port in use is
        not fixed the way a privileged port or a host that is not this machine's is."""
        reason = error.strerror or str(error)
        if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            advice = (
                f"{host!r} is not an address of this machine: listen on one of its addresses "
                "(127.0.0.1 for this machine alone, 0.0.0.0 for all)"
            )
        elif error.errno == errno.EACCES and 0 < port < 1024:
            advice = (
                f"ports below 1024 need root or the CAP_NET_BIND_SERVICE capability: set {key} "
                "to a port above 1023"
            )
        else:
            advice = None
        return cls(what, host, port, key, reason, advice)
