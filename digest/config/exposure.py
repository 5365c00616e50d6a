"""Secrets exposed: in files every user of the machine may read (the config file when it holds a
password, the DKIM private key, the generated secret key, the files ``DIGEST_X_FILE`` names),
or sent across a network in the clear (an SMTP login without TLS, a ``redis://`` password).

A warning each, naming the file or key and what it exposes (never the secret), and what closes
it; a file its group may read is left alone (a service's own group, say), and so is a password
sent to this machine's loopback.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from digest.config.loading import Settings, read_config_text
from digest.config.naming import entry_key
from digest.config.secret_files import FILE_SUFFIX
from digest.config.values import is_loopback_host
from digest.shown import without_password

_IN_THE_CLEAR = "in the clear, for anyone on the way to read"


def exposed_secret_warnings(settings: Settings, secret_key_file: Path | None) -> list[str]:
    """A warning for each file holding a secret that others than its owner and group may read."""
    held: list[tuple[Path, str]] = []
    passwords = list(_passwords_in_config(settings.source))
    if passwords:
        held.append((settings.source, f"a password ({', '.join(passwords)})"))
    if settings.dkim is not None and settings.dkim.key_file is not None:
        key_file = settings.config_path(settings.dkim.key_file)
        held.append((key_file, "the DKIM private key (dkim.key_file)"))
    if secret_key_file is not None:
        held.append((secret_key_file, "the secret key that signs every link"))
    for origin in settings.secret_origins:
        if origin.by == "file" and origin.file is not None:
            held.append((origin.file, f"{origin.variable}{FILE_SUFFIX}'s secret"))
    warnings = []
    for path, what in held:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # missing or unreadable: the checks of that file say so
        if mode & stat.S_IRWXO:
            warnings.append(
                f"{path} is readable by every user of this machine (mode {mode:04o}) and holds "
                f"{what}: chmod o-rwx {path}"
            )
    return warnings


def cleartext_password_warnings(settings: Settings) -> list[str]:
    """A warning for each password the service sends to another machine unencrypted."""
    warnings = []
    smtp = settings.smtp
    if smtp is not None and smtp.tls == "none" and smtp.user and not is_loopback_host(smtp.host):
        warnings.append(
            f"{settings.source}: smtp.tls = 'none' with smtp.user = {smtp.user!r}: the password "
            f"crosses the network to {smtp.host} {_IN_THE_CLEAR}; set smtp.tls = 'starttls' "
            "(port 587) or 'ssl' (port 465)"
        )
    broker = settings.service.broker_url
    if broker:
        parts = urlsplit(broker)
        if parts.scheme == "redis" and parts.password and not is_loopback_host(parts.hostname):
            origin = settings.origin_of("DIGEST_BROKER_URL")
            key = f"service.broker_url (set by {origin.shown})" if origin else "service.broker_url"
            warnings.append(
                f"{settings.source}: {key} is {without_password(broker)}: the password crosses "
                f"the network to {parts.hostname} {_IN_THE_CLEAR}; use rediss:// (Redis with TLS)"
            )
    return warnings


def _passwords_in_config(source: Path) -> Iterator[str]:
    """The keys of the config file whose address carries a password."""
    try:
        raw = tomllib.loads(read_config_text(source))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    service = raw.get("service", {})
    for key in ("database_url", "broker_url"):
        if _has_password(service.get(key)):
            yield f"service.{key}"
    feeds = raw.get("feeds", [])
    for index, feed in enumerate(feeds):
        if _has_password(feed.get("url")):
            yield f"{entry_key('feeds', feeds, index)}.url"


def _has_password(url: object) -> bool:
    if not isinstance(url, str):
        return False
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False
