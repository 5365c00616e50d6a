"""The services a worker process hands to tasks: built once per process, from the same settings."""

from __future__ import annotations

import logging
import os

from digest import ticking
from digest.config import Settings, config_path_from_env, load_settings, settings_stamp
from digest.errors import ConfigError
from digest.services import Services, build_services
from digest.ticking import Leases, LocalLeases

_log = logging.getLogger(__name__)

_settings: Settings | None = None
_services: Services | None = None
_handed_in = False  # the services are a command's own (digest run): it reloads them itself
_behind = False  # the file's settings were refused for what they name: a task tries them again
_read_stamp: tuple[tuple[int, int, int] | None, ...] | None = None  # at the last task's read
_fingerprint: tuple[Settings, str] | None = None  # the settings in force, and their fingerprint
_skews_said: set[tuple[str, str, str]] = set()  # (the sender's, this one's, task) logged


def configure(settings: Settings, services: Services | None = None) -> None:
    """Use these settings (and, in-process, these services) instead of reading DIGEST_CONFIG."""
    global _settings, _services, _handed_in, _read_stamp
    _settings, _services, _handed_in = settings, services, services is not None
    _read_stamp = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings(config_path_from_env(None), os.environ)
    return _settings


def services() -> Services:
    global _services
    if _services is None:
        _services = _build(settings())
    return _services


def _build(config: Settings) -> Services:
    # Distributed: `digest worker` checked the schema at start (digest.cli.service); a
    # worker never migrates, so that many starting at once race no migration.
    return build_services(config, migrate=config.service.broker_url is None)


def reset() -> None:
    """Forget the services, e.g. in a forked worker child that must open its own connections."""
    global _services
    if _services is not None:
        _services.close()
    _services = None


def refresh(*, quiet: bool = False) -> Services:
    """The services for the config as its file says now (invariant 5): rebuilt when it changed,
    the previous ones kept when the file is invalid or names what cannot be built, such as a
    DKIM key that is no key (the refusal is logged, unless ``quiet``)."""
    global _settings, _services, _behind
    current = settings()
    fresh = ticking.reload_settings(current, os.environ, quiet=quiet)
    if fresh == current:
        _behind = False
        return services()
    try:
        # Built before the previous ones go: what only building reads (the DKIM key the edit
        # names, the secret) may refuse the edit too, and the worker must go on meanwhile.
        rebuilt = _build(fresh)
    except ConfigError as error:
        _behind = True
        if not quiet:
            ticking.refuse_edit(error)
        return services()
    reset()
    _settings, _services, _behind = fresh, rebuilt, False
    return rebuilt


def for_task() -> Services:
    """The services a task runs with. On a worker, the config as its file says now: each pool
    process reads it afresh, not only the one that ran the tick, so that an edit applies to the
    next task wherever it runs (a list added since the start is known to a sign-up, a list
    renamed to the batches of its edition). The tick says an invalid edit once a minute; the
    other tasks keep the previous settings quietly. In-process (``digest run``), the services
    handed in are the command's, which reloads them itself.

    The file is read again only when its stat, or that of a file a secret was read from, says
    it changed: reading and checking it costs
    milliseconds, a delivery batch's task runs several times a second, and a stat is cheap."""
    global _read_stamp
    if _handed_in:
        return services()
    # Taken before the read: an edit during it is seen next. The secret files count too.
    stamp = settings_stamp(settings())
    if stamp[0] is None or stamp != _read_stamp or _behind:
        refreshed = refresh(quiet=True)
        # Not remembered while the file's settings are refused for a file they name: fixing
        # that file (the DKIM key) leaves the config's stat as it was.
        _read_stamp = None if _behind else stamp
        return refreshed
    return services()


def fingerprint() -> str:
    """``Settings.shared_fingerprint`` of the settings in force, computed once per settings."""
    global _fingerprint
    current = settings()
    if _fingerprint is None or _fingerprint[0] is not current:
        _fingerprint = (current, current.shared_fingerprint())
    return _fingerprint[1]


def note_sender(sent: str, task_name: str) -> bool:
    """Whether the process that sent a task read the same feeds, topics and lists as this one
    (``sent``: its ``fingerprint``), this one's config read afresh first. A difference is
    logged once per pair of configs and task: the machines were given different config files,
    or one of them has not read an edit yet, and a task may then name a list
    or feed this process does not know, or build with other rules than the tick expected."""
    for_task()
    mine = fingerprint()
    if sent == mine:
        return True
    if (sent, mine, task_name) not in _skews_said:
        _skews_said.add((sent, mine, task_name))
        _log.warning(
            "task %s was sent by a process whose config differs from this one's in its feeds, "
            "topics or lists (config %s there, %s here, from %s): give every machine the same "
            "config file (DIGEST_CONFIG); the task runs with this process's config",
            task_name,
            sent,
            mine,
            settings().source,
        )
    return False


_leases: tuple[str | None, Leases] | None = None  # (the broker they live on, the leases)


def leases() -> Leases:
    """Leases on the broker's Redis, shared by all workers; in-process ones in embedded mode."""
    global _leases
    broker = settings().service.broker_url
    if _leases is None or _leases[0] != broker:
        if broker is None:
            _leases = (None, LocalLeases(services().clock))
        else:
            from worker.leases import RedisLeases  # redis-py is imported when leases are shared

            _leases = (broker, RedisLeases(broker))
    return _leases[1]
