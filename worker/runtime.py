"""The services a worker process hands to tasks: built once per process, from the same settings."""

from __future__ import annotations

import os

from digest import ticking
from digest.config import Settings, config_path_from_env, load_settings
from digest.services import Services, build_services
from digest.ticking import Leases, LocalLeases

_settings: Settings | None = None
_services: Services | None = None


def configure(settings: Settings, services: Services | None = None) -> None:
    """Use these settings (and, in-process, these services) instead of reading DIGEST_CONFIG."""
    global _settings, _services
    _settings, _services = settings, services


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings(config_path_from_env(None), os.environ)
    return _settings


def services() -> Services:
    global _services
    if _services is None:
        # Distributed: `digest worker` checked the schema at start (digest.cli.service); a
        # worker never migrates, so that many starting at once race no migration.
        _services = build_services(settings(), migrate=settings().service.broker_url is None)
    return _services


def reset() -> None:
    """Forget the services, e.g. in a forked worker child that must open its own connections."""
    global _services
    if _services is not None:
        _services.close()
    _services = None


def refresh() -> Services:
    """The services for the config as its file says now (invariant 5): rebuilt when it changed,
    the previous ones kept when the file is invalid (the refusal is logged)."""
    global _settings
    current = settings()
    fresh = ticking.reload_settings(current, os.environ)
    if fresh != current:
        reset()
        _settings = fresh
    return services()


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
