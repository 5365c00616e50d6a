"""What ``digest config check`` and the start of ``digest run`` check: one function, one verdict.

    settings ─► each list's subscriber file: rows counted; a bad row a warning, an unreadable file
                an error; a file unchanged since its last import is not read again (its
                confirmed members are counted in the database instead)
             ─► the suppression file: a bad line a warning, an unreadable file an error (not
                read again either when unchanged since the database last read it)
             ─► previous_slugs that contradict the config: errors
             ─► a DIGEST_SECRET_KEY too short to be a random key: a warning
             ─► an in-memory SQLite database (it keeps nothing): an error
             ─► a secret key file (no DIGEST_SECRET_KEY) that is empty or unreadable: an error
             ─► a mail template of service.templates that does not compile: an error
             ─► the DKIM key that is no PEM RSA private key: an error
             ─► an outbox (no [smtp]) where a file stands: an error
             ─► a file holding a secret (the config with a password, the DKIM or secret key, a
                DIGEST_X_FILE) that every user may read, a password sent to another machine
                unencrypted (SMTP without TLS, redis://): a warning
             ─► smtp.tls that does not fit smtp.port (465 and 'ssl', 587 and 'starttls'): a warning
             ─► a base_url on plain http (loopback only): a warning that no reader can use it
             ─► a subject whose headline starts past what a phone shows: a warning
    database ─► (when there is one to see) an undeclared rename: an error; a list that left the
                config with deliveries pending: a warning naming it

An error stops both commands before anything is sent; a warning is printed by both and stops
nothing. ``run`` repeats the database part at each cycle (``digest.lists.carry_over``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from digest.config import Settings
from digest.config.exposure import cleartext_password_warnings, exposed_secret_warnings
from digest.config.naming import entry_key
from digest.errors import ConfigError, SecretKeyMismatchError, StoreUnavailableError
from digest.imports import file_digest, list_mark, read_list_file
from digest.ingest.network import is_public_address
from digest.lists import held_warnings, history_problems, previous_slug_problems
from digest.mail.dkim import dkim_signer
from digest.mail.subscribers import subscriber_file_warnings
from digest.mail.tokens import read_secret, secret_check
from digest.render import Renderer
from digest.services import secret_file, secret_source
from digest.shown import without_password
from digest.store import Store
from digest.store.db import close_engine, open_engine, sqlite_file
from digest.store.suppressions import FileMark
from digest.store.upgrades import (
    current_revision,
    head_revision,
    known_revisions,
    refuse_another_applications,
)
from digest.subject_check import subject_warnings
from digest.suppression import Suppressions, read_suppressions
from digest.topic_renames import unknown_topic_warnings
from digest.unsubscribes import suppression_mark


@dataclass(frozen=True)
class Preflight:
    errors: list[str] = field(default_factory=list)  # each names the file and where
    warnings: list[str] = field(default_factory=list)
    subscribers: dict[str, int] = field(default_factory=dict)  # rows imported, by list slug
    database: str = ""  # what became of the database checks, when they were not run


def preflight(settings: Settings, store: Store | None) -> Preflight:
    """Check the files the config names and, with ``store``, the lists' history in it."""
    result = Preflight()
    _check_subscriber_files(settings, store, result)
    _check_suppression_file(settings, store, result)
    _check_secret_key(settings, store, result)
    key_file = secret_file(settings) if settings.secret_key is None else None
    result.warnings.extend(exposed_secret_warnings(settings, key_file))
    result.warnings.extend(cleartext_password_warnings(settings))
    _check_service(settings, result)
    result.warnings.extend(subject_warnings(settings))
    result.warnings.extend(_private_feed_warnings(settings))
    if store is None:
        problems = previous_slug_problems(settings)
    else:
        problems = history_problems(settings, store)
        result.warnings.extend(held_warnings(settings, store))
        result.warnings.extend(unknown_topic_warnings(settings, store, datetime.now(UTC)))
    if problems:
        result.errors.append(str(ConfigError(str(settings.source), problems)))
    return result


def _check_subscriber_files(settings: Settings, store: Store | None, result: Preflight) -> None:
    """Each list's subscribers file, read as its import would (unless unchanged since it was),
    or the members the store holds of a list without one."""
    for digest_list in settings.lists:
        if digest_list.subscribers is None:
            result.subscribers[digest_list.slug] = (
                store.members_of([digest_list.slug]) if store is not None else 0
            )
            continue
        path = settings.config_path(digest_list.subscribers)
        mark = store.file_mark(list_mark(digest_list.slug)) if store is not None else None
        if store is not None and mark is not None and _unchanged(mark, path):
            # Not read again: what its import said is said again.
            result.subscribers[digest_list.slug] = store.members_of([digest_list.slug])
            result.warnings.extend(mark.notes)
            continue
        try:
            read = read_list_file(path, settings, digest_list)
        except ConfigError as error:
            result.errors.append(str(error))
            continue
        result.subscribers[digest_list.slug] = len(read.rows)
        result.warnings.extend(subscriber_file_warnings(path, read.refused, digest_list.slug))


def _check_suppression_file(settings: Settings, store: Store | None, result: Preflight) -> None:
    """The suppression file, read as the send would (unless unchanged since it was)."""
    suppression_path = settings.service.suppression_path
    try:
        mark = store.file_mark(suppression_mark(suppression_path)) if store is not None else None
        if mark is not None and _unchanged(mark, suppression_path):
            suppressions = Suppressions()  # not read again: what it said is said again
            result.warnings.extend(mark.notes)
        else:
            suppressions = read_suppressions(suppression_path)
    except ConfigError as error:
        result.errors.append(str(error))
    else:
        result.warnings.extend(
            f"{suppression_path}: {line}: {why} (the line is left out)"
            for line, why in suppressions.refused
        )


def _check_secret_key(settings: Settings, store: Store | None, result: Preflight) -> None:
    """The secret key, from the config or its file, and with ``store`` whether it is the one
    the database's links were signed with."""
    secret: str | None = None
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
        result.warnings.extend(_short_secret(secret, settings.origin("DIGEST_SECRET_KEY")))
    else:
        try:
            # What digest run reads at start, or makes: none yet is a new key.
            secret = read_secret(secret_file(settings)) or ""
        except ConfigError as error:
            result.errors.append(str(error))
    if store is not None and secret is not None:
        result.errors.extend(_secret_key_mismatch(settings, store, secret))


def _check_service(settings: Settings, result: Preflight) -> None:
    """What digest run loads or needs at start: templates, DKIM key, a database kept, the
    outbox or SMTP server, and links that open elsewhere than on this machine."""
    template_problems = _template_problems(settings)
    if template_problems:
        result.errors.append(str(ConfigError(str(settings.source), template_problems)))
    try:
        dkim_signer(settings)  # what digest run loads at start: a file that is no key
    except ConfigError as error:
        result.errors.append(str(error))
    url = settings.service.database_url
    if make_url(url).get_backend_name() == "sqlite" and sqlite_file(url) is None:
        why = (
            "an in-memory SQLite database is not kept: it goes when the command ends, and each "
            "connection of a run (its threads poll the feeds) sees an empty one of its own; give "
            "a file, e.g. sqlite:///var/digest.db"
        )
        result.errors.append(
            str(ConfigError(str(settings.source), [("service.database_url", why)]))
        )
    if settings.smtp is not None:
        result.warnings.extend(_tls_mismatch(settings))
    if settings.smtp is None:
        blocked = not_a_folder(settings.service.outbox)
        if blocked is not None:
            why = (
                f"{blocked} is a file, not a folder: mail is written to the outbox folder as .eml "
                "files; move the file away or point service.outbox (or DIGEST_OUTBOX) elsewhere"
            )
            result.errors.append(str(ConfigError(str(settings.source), [("service.outbox", why)])))
    if settings.service.base_url.startswith("http:"):
        result.warnings.append(
            f"{settings.source}: service.base_url is {settings.service.base_url}: the unsubscribe "
            "and archive links in mail open only on this machine; set an https URL before "
            "mailing readers"
        )


def _template_problems(settings: Settings) -> list[tuple[str, str]]:
    """The mail templates of the operator's ``service.templates`` folder that do not compile:
    each would fail every edition it renders, list after list, once articles come in."""
    if settings.service.templates is None:
        return []
    renderer = Renderer(settings)
    problems = []
    for path in sorted((renderer.folder / "email").glob("*.j2")):
        try:
            renderer.environment.get_template(f"email/{path.name}")
        except jinja2.TemplateSyntaxError as error:
            where = f"{path}, line {error.lineno}"
            problems.append(("service.templates", f"{where}: {error.message}"))
    return problems


# The ports whose servers speak TLS from the first byte, and those that start in plain text.
_IMPLICIT_TLS_PORTS = frozenset({465})
_PLAIN_START_PORTS = frozenset({25, 587, 2525})


def _tls_mismatch(settings: Settings) -> list[str]:
    """A warning when smtp.tls does not fit smtp.port: each side then waits for the other to
    speak first, and every copy fails with 'timed out' after smtp.timeout_seconds, or with an
    SSL 'wrong version number', which name neither key."""
    smtp = settings.smtp
    if smtp is None:
        return []
    where = f"{settings.source}: smtp.port = {smtp.port} with smtp.tls = {smtp.tls!r}"
    if smtp.port in _IMPLICIT_TLS_PORTS and smtp.tls != "ssl":
        return [
            f"{where}: a server on port {smtp.port} speaks TLS from the start; set "
            "smtp.tls = 'ssl' (or port 587 with 'starttls')"
        ]
    if smtp.port in _PLAIN_START_PORTS and smtp.tls == "ssl":
        return [
            f"{where}: a server on port {smtp.port} starts in plain text; set "
            "smtp.tls = 'starttls' (or port 465 with 'ssl')"
        ]
    return []


def _private_feed_warnings(settings: Settings) -> list[str]:
    """A warning for each feed at a private, loopback or link-local address written in its URL
    (or ``localhost``) while ``ingest.allow_private_addresses`` is off: every poll of it is
    refused, and config check said OK. A host name is not looked up here: what it resolves
    to is checked at each fetch (digest.ingest.network)."""
    if settings.ingest.allow_private_addresses:
        return []
    warnings = []
    for index, feed in enumerate(settings.feeds):
        host = urlsplit(feed.url).hostname or ""
        if host.lower() != "localhost" and (not _is_ip_address(host) or is_public_address(host)):
            continue
        where = entry_key("feeds", settings.feeds, index)
        warnings.append(
            f"{settings.source}: {where}: {without_password(feed.url)} is on a private, "
            "loopback or link-local address: every poll of it is refused; set "
            "ingest.allow_private_addresses = true to fetch feeds from the local network"
        )
    return warnings


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


# A key shorter than this is a word or a placeholder ("changeme"), not a random key.
MIN_SECRET_CHARACTERS = 16


def _short_secret(secret: str, origin: str) -> list[str]:
    """A warning when DIGEST_SECRET_KEY (read from ``origin``) is too short to be a random key:
    the links it signs carry their HMAC, so one link a reader forwards lets anyone try keys
    offline, and the key found forges every reader's unsubscribe, preferences and confirmation
    links."""
    length = len(secret.strip())
    if length >= MIN_SECRET_CHARACTERS:
        return []
    return [
        f"{origin} is {length} characters: a key that short can be guessed from any "
        "link in a mail, and then forges every reader's unsubscribe and preferences links; set "
        "32 random characters or more (python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))'), knowing that the links in mail already sent stop "
        "working when it changes"
    ]


def not_a_folder(folder: Path) -> Path | None:
    """The file that stands where ``folder`` (or one of the folders above it) must be made, or
    None when it is a folder or can be made."""
    for path in (folder, *folder.parents):
        if path.is_dir():
            return None
        if path.exists() or path.is_symlink():
            return path
    return None


def _unchanged(mark: FileMark, path: Path) -> bool:
    """Whether ``path`` is the very file the database last read, as ``mark`` says."""
    if mark.digest is None:
        return False
    try:
        return file_digest(path) == mark.digest
    except OSError:
        return False  # read below, which says what is wrong


def existing_store(settings: Settings) -> tuple[Store | None, str]:
    """The database of ``settings`` when it exists and has a schema, to read and never change;
    else None and why. ``config check`` creates nothing."""
    url = settings.service.database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return None, "no database file to check"
        if Path(parsed.database).is_dir():
            # Not a database to come: every command that opens it refuses it.
            return None, f"{parsed.database} is a folder, not a database file"
        if not Path(parsed.database).is_file():
            return None, f"no database yet at {parsed.database}"
    engine = open_engine(url, statement_seconds=settings.service.database_timeout_seconds)
    try:
        revision = current_revision(engine)
        if revision != head_revision():
            try:
                refuse_another_applications(engine, revision)
            except StoreUnavailableError as error:
                close_engine(engine)
                # As `digest run` and every other command, which refuse it.
                return None, f"the database is another application's: {error.reason}"
            close_engine(engine)
            if revision is None:
                return None, "the database has no schema yet"
            if revision not in known_revisions():
                # A rollback of the code: `digest db upgrade` would refuse it, not help.
                return None, (
                    "the database's schema is newer than this version (run the version of "
                    "digest that upgraded it)"
                )
            return None, "the database's schema is older than this version (digest db upgrade)"
    except SQLAlchemyError as error:
        close_engine(engine)
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return None, f"the database could not be reached ({reason})"
    return Store(engine), ""


def _secret_key_mismatch(settings: Settings, store: Store, secret: str) -> list[str]:
    """What every command refuses at start (digest.services.require_secret_key): a secret key
    other than the one the database is used with; read only, nothing recorded."""
    known = store.secret_key_check()
    if known is None or (secret and secret_check(secret) == known):
        return []
    return [str(SecretKeyMismatchError(settings.service.database_url, secret_source(settings)))]
