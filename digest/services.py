"""The collaborators every stage is handed: settings, store, clock, HTTP client, mail transport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.exc import InterfaceError, OperationalError

from digest.addresses import key_function
from digest.clock import Clock, SystemClock
from digest.config import FeedSettings, Settings
from digest.errors import SecretKeyMismatchError
from digest.ingest import build_client
from digest.mail.dkim import DkimSigner, dkim_signer
from digest.mail.personalize import Personalizer
from digest.mail.smtp import SmtpTransport
from digest.mail.tokens import TokenSigner, load_or_create_secret, secret_check
from digest.mail.transport import MailTransport, OutboxTransport
from digest.render import Renderer
from digest.send_rate import SendRate, Unlimited, send_rate_for
from digest.store import Store, open_store
from digest.store.db import close_engine
from digest.topics import TopicClassifier, classifier_for

if TYPE_CHECKING:
    from digest.sending import SendingProcesses


@dataclass
class Services:
    settings: Settings
    store: Store
    clock: Clock
    http: httpx.Client
    transport: MailTransport
    classifier: TopicClassifier
    renderer: Renderer
    signer: TokenSigner
    # The key an address is suppressed under (digest.addresses), with the signer's secret.
    address_key: Callable[[str], str]
    dkim: DkimSigner | None = None
    send_rate: SendRate = field(default_factory=Unlimited)  # smtp.send_rate (digest.send_rate)
    # Recent editions' compiled messages (see digest.delivering.personalizer_for). They live here,
    # not in a module global, so a second store or a reloaded config can never be handed a
    # message compiled for another: edition ids are only unique within one database.
    personalizers: dict[int, Personalizer] = field(default_factory=dict, repr=False)
    # The processes that send batches on smtp.connections connections (digest.sending), kept
    # for every edition these services send.
    sending: SendingProcesses | None = field(default=None, repr=False)
    # The pictures' own client (picture_client): private addresses by web's word, not ingest's.
    pictures_http: httpx.Client | None = field(default=None, repr=False)
    # The [[feeds]] entries by URL, and the settings they were read from (see feed_settings).
    _feeds_by_url: tuple[Settings | None, dict[str, FeedSettings]] = field(
        default=(None, {}), repr=False
    )

    def feed_settings(self, url: str) -> FeedSettings | None:
        """The ``[[feeds]]`` entry of ``url``, or None. Every poll asks: a scan of a thousand
        feeds each time adds up, so a dict is built once for the settings in force."""
        built_from, by_url = self._feeds_by_url
        if built_from is not self.settings:
            by_url = {feed.url: feed for feed in self.settings.feeds}
            self._feeds_by_url = (self.settings, by_url)
        return by_url.get(url)

    def picture_client(self) -> httpx.Client:
        """The client of the pictures' fetches (digest.images.fetching), made on first use."""
        if self.pictures_http is None:
            from digest.images.fetching import build_picture_client  # only when web.images

            self.pictures_http = build_picture_client(self.settings)
        return self.pictures_http

    def close(self) -> None:
        if self.sending is not None:
            self.sending.close()
            self.sending = None
        self.transport.close()
        self.http.close()
        if self.pictures_http is not None:
            self.pictures_http.close()
        close_engine(self.store.engine)


def default_transport(settings: Settings) -> MailTransport:
    """SMTP when ``[smtp]`` is configured, else .eml files in the outbox folder."""
    if settings.smtp is not None:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        smtp = settings.smtp
        if smtp.ca_file is not None:
            smtp = smtp.model_copy(update={"ca_file": settings.config_path(smtp.ca_file)})
        password_from = settings.origin("DIGEST_SMTP_PASSWORD")
        return SmtpTransport(smtp, password=password, password_from=password_from)
    return OutboxTransport(settings.service.outbox)


def secret_file(settings: Settings) -> Path:
    """Where the generated secret key is kept when ``DIGEST_SECRET_KEY`` is unset."""
    return settings.service.data_dir / "secret_key"


def signing_secret(settings: Settings) -> str:
    """``DIGEST_SECRET_KEY``, or a key generated once and kept in the data folder."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    return load_or_create_secret(secret_file(settings))


def require_secret_key(store: Store, settings: Settings, secret: str, clock: Clock) -> None:
    """Refuse a secret key other than the one the database is used with (the first becomes
    it): links already mailed are signed with that one, and forgotten addresses are kept only
    as keys made with it, so another (a key file not restored with the database, a machine
    given another DIGEST_SECRET_KEY) would break every link and forget the forgetting.

    A database that does not answer now is not checked: its first use says so (a process of
    the readers' pages answers 503 meanwhile), and the next start checks it."""
    check = secret_check(secret)
    try:
        known = store.secret_key_check()
    except (OperationalError, InterfaceError):
        return
    if known is None:
        known = store.record_secret_key(check, clock.now())
    if known != check:
        raise SecretKeyMismatchError(settings.service.database_url, secret_source(settings))


def secret_source(settings: Settings) -> str:
    """Where the secret key comes from, for the operator."""
    if settings.secret_key is not None:
        return settings.origin("DIGEST_SECRET_KEY")  # the variable, its file or credential
    return str(secret_file(settings))


def shares_database(settings: Settings) -> bool:
    """Whether the database is the distributed mode's (a broker is set), which the workers of
    one release share: a command opening it checks its schema and leaves the upgrade to
    `digest db upgrade` (digest.store.open_store); the embedded mode's is upgraded on start."""
    return settings.service.broker_url is not None


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: MailTransport | None = None,
    http: httpx.Client | None = None,
    migrate: bool = True,
) -> Services:
    secret = signing_secret(settings)
    clock = clock or SystemClock()
    store = open_store(
        settings.service.database_url,
        migrate=migrate,
        shared=shares_database(settings),
        statement_seconds=settings.service.database_timeout_seconds,
    )
    try:
        require_secret_key(store, settings, secret, clock)
    except BaseException:  # Ctrl-C too: the engine is the caller's only once this returns
        close_engine(store.engine)
        raise
    return Services(
        settings=settings,
        store=store,
        clock=clock,
        http=http or build_client(settings.ingest),
        transport=transport or default_transport(settings),
        classifier=classifier_for(settings),
        renderer=Renderer(settings),
        signer=TokenSigner(secret),
        address_key=key_function(secret),
        dkim=dkim_signer(settings),  # a bad key is a config error now, not at the first send
        send_rate=default_send_rate(settings),
    )


def default_send_rate(settings: Settings) -> SendRate:
    """``smtp.send_rate`` for the configured server; no pace for the outbox folder."""
    smtp = settings.smtp
    if smtp is None:
        return Unlimited()
    return send_rate_for(
        smtp.send_rate, f"{smtp.host}:{smtp.port}", settings.service.broker_url, smtp.connections
    )
