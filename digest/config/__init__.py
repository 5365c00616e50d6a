"""Settings: built once from defaults, then the TOML file, then ``DIGEST_*`` environment variables.

Every stage receives the frozen ``Settings`` (or the part of it it needs). Any problem is raised as
one ``ConfigError`` that lists every problem found, each with the file, the key path and the reason.

Relative paths are resolved against the config file's folder, never the working directory: those
of the configuration (subscriber CSV files, the sample feed folder, a template folder) and those
of the data the service writes (the outbox, an SQLite database), made whole at load
(``paths``).

Secrets never come from the file: ``DIGEST_SECRET_KEY`` signs unsubscribe links and
``DIGEST_SMTP_PASSWORD`` logs in to the mail server.

    values       what one key's value may be (cron, timezone, URL, address, single line)
    service, mail, web, editorial, retention
                 the tables' models: the service's own, mail out and back, the readers' pages,
                 what the newsroom edits (feeds, topics, lists), and how long rows are kept
    loading      the file: its tables, the environment, secrets, one ConfigError for all
    naming       how errors name a key (``lists[daily].topics``)
    cross_check  problems spanning keys: references, duplicates, files that must exist
    paths        the service's data paths made whole, and data left in the working directory
"""

from digest.config.editorial import (
    FeedSettings,
    ListSettings,
    TopicRules,
    TopicSettings,
    UtmSettings,
)
from digest.config.loading import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    ENV_OVERRIDES,
    SECRET_ENV,
    ConfigFile,
    Settings,
    config_path_from_env,
    file_stamp,
    load_settings,
    read_config_text,
    settings_from_mapping,
    settings_stamp,
)
from digest.config.mail import BouncesSettings, DkimSettings, InboundSettings, SmtpSettings
from digest.config.naming import entry_key
from digest.config.service import (
    IngestSettings,
    MetricsSettings,
    SampleServerSettings,
    ServiceSettings,
    WorkerSettings,
)
from digest.config.values import SLUG_PATTERN, feed_url_key, http_url_problem, is_loopback_host
from digest.config.web import WebSettings

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_OVERRIDES",
    "SECRET_ENV",
    "SLUG_PATTERN",
    "BouncesSettings",
    "ConfigFile",
    "DkimSettings",
    "FeedSettings",
    "InboundSettings",
    "IngestSettings",
    "ListSettings",
    "MetricsSettings",
    "SampleServerSettings",
    "ServiceSettings",
    "Settings",
    "SmtpSettings",
    "TopicRules",
    "TopicSettings",
    "UtmSettings",
    "WebSettings",
    "WorkerSettings",
    "config_path_from_env",
    "entry_key",
    "feed_url_key",
    "file_stamp",
    "http_url_problem",
    "is_loopback_host",
    "load_settings",
    "read_config_text",
    "settings_from_mapping",
    "settings_stamp",
]
