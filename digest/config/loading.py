"""The whole file: its tables, the settings built from it and the environment, and how a
problem is reported."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from digest.config.cross_check import cross_check
from digest.config.editorial import FeedSettings, ListSettings, TopicSettings
from digest.config.mail import BouncesSettings, DkimSettings, InboundSettings, SmtpSettings
from digest.config.naming import describe
from digest.config.paths import left_behind, resolved_service
from digest.config.retention import RetentionSettings
from digest.config.secret_files import Environment, SecretOrigin, with_secret_files
from digest.config.service import (
    IngestSettings,
    MetricsSettings,
    SampleServerSettings,
    ServiceSettings,
    WorkerSettings,
)
from digest.config.values import SettingsModel
from digest.config.web import WebSettings
from digest.errors import ConfigError, UnknownListError

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


class ConfigFile(SettingsModel):
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
    retention: RetentionSettings = RetentionSettings()
    """How long the delivery ledger and the articles are kept."""
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
    secret_origins: tuple[SecretOrigin, ...] = ()
    """Where each secret or address the environment set came from: the variable itself, the
    file ``DIGEST_X_FILE`` names or a credential (digest.config.secret_files). A tuple, not a
    dict: the settings stay hashable."""

    def origin(self, variable: str) -> str:
        """Where ``variable``'s value was read from, for the operator: the file or credential
        that held it, else the variable itself."""
        found = self.origin_of(variable)
        return found.shown if found is not None else variable

    def origin_of(self, variable: str) -> SecretOrigin | None:
        """Where the environment set ``variable`` from; None when it did not."""
        return next((found for found in self.secret_origins if found.variable == variable), None)

    @property
    def secret_files(self) -> tuple[Path, ...]:
        """The files secrets were read from: a running process reads them again when one
        changes, as when the config file does (``settings_stamp``)."""
        return tuple(found.file for found in self.secret_origins if found.file is not None)

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
        configured = [digest_list.slug for digest_list in self.lists]
        raise UnknownListError(str(self.source), slug, configured)

    def shared_fingerprint(self) -> str:
        """A short hash of what every process of the distributed mode must read alike, as a
        task's sender and the worker running it: the feeds, the topics and the lists. Not the
        addresses of the database or the broker, which each machine may spell its own way, nor
        comments, paths of the file or secrets."""
        shared = self.model_dump(mode="json", include={"feeds", "topics", "lists"})
        text = json.dumps(shared, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def base_dir(self) -> Path:
        """The folder that relative config paths are resolved against: the config file's."""
        return config_folder(self.source)

    def config_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path


def config_folder(source: Path) -> Path:
    """The whole path of the folder of the config file ``source``."""
    return source.parent.resolve()


def config_path_from_env(explicit: Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file to use: the ``--config`` option, else ``DIGEST_CONFIG``, else the example."""
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def load_settings(
    path: Path, environ: Mapping[str, str] = os.environ, *, working_directory: Path | None = None
) -> Settings:
    """Read, validate and cross-check a config file. Raises ConfigError listing every problem."""
    source = str(path)
    try:
        raw = tomllib.loads(read_config_text(path))
    except FileNotFoundError:
        raise ConfigError(source, [("", "file not found")]) from None
    except OSError as error:
        raise ConfigError(source, [("", f"cannot read: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [("", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [("", f"not valid TOML: {error}")]) from None
    return settings_from_mapping(
        raw, source=path, environ=environ, working_directory=working_directory
    )


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells an edit of a config file: its modification time, size and inode (an editor
    that writes a new file and renames it over the old one changes the inode); None when it is
    gone or unreadable, which reading it says why."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def settings_stamp(settings: Settings) -> tuple[tuple[int, int, int] | None, ...]:
    """What tells an edit of what ``settings`` were read from: the config file's stamp and
    that of each file a secret or address was read from (``file_stamp``), so that a password
    file rotated in place is read again as an edited config is."""
    return tuple(file_stamp(path) for path in (settings.source, *settings.secret_files))


def read_config_text(path: Path) -> str:
    """The text of a config file: UTF-8, with or without the byte order mark some Windows
    editors (Notepad) write at its start, which TOML parsers refuse as "Invalid statement"."""
    return path.read_text(encoding="utf-8-sig")


def settings_from_mapping(
    raw: Mapping[str, Any],
    *,
    source: Path,
    environ: Mapping[str, str] = os.environ,
    working_directory: Path | None = None,
) -> Settings:
    """Validate an already-parsed config (a TOML document's tables) into Settings, its relative
    paths made whole against the config file's folder (digest.config.paths); data that
    ``working_directory`` (this process's by default) holds at one of them, and the config
    file's folder does not, is refused."""
    problems = list(_secret_keys_in_file(raw))
    base = config_folder(source)
    environment = with_secret_files(environ, base)
    problems.extend(environment.problems)
    if problems:
        raise ConfigError(str(source), problems)
    environ = environment.values
    data = _apply_environment(raw, environ)
    try:
        config_file = ConfigFile.model_validate(data)
    except ValidationError as error:
        problems = _name_the_environment(describe(error, data, ConfigFile), environment)
        raise ConfigError(str(source), problems) from None
    left = left_behind(
        config_file.service,
        base,
        (working_directory or Path.cwd()).absolute(),
        outbox=config_file.smtp is None,
    )
    problems = _name_the_environment(list(left), environment)
    if problems:
        raise ConfigError(str(source), problems)
    config_file = config_file.model_copy(
        update={"service": resolved_service(config_file.service, base)}
    )
    secrets = {
        field_name: environ[variable]
        for field_name, variable in SECRET_ENV.items()
        if environ.get(variable)
    }
    settings = Settings.model_validate(
        {
            **dict(config_file),
            "source": source,
            **secrets,
            "secret_origins": tuple(environment.origins.values()),
        }
    )
    problems = list(cross_check(settings))
    if problems:
        raise ConfigError(str(source), problems)
    return settings


def _name_the_environment(
    problems: list[tuple[str, str]], environment: Environment
) -> list[tuple[str, str]]:
    """Problems with a value an environment variable set name the variable (or the file that
    gave its value): the config file may hold another value, or none, and the operator would
    look for the fault there."""
    overridden = {
        f"{table}.{key}": environment.shown(variable)
        for variable, (table, key) in ENV_OVERRIDES.items()
        if environment.values.get(variable)
    }
    return [
        (f"{key} (set by {overridden[key]})" if key in overridden else key, why)
        for key, why in problems
    ]


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
