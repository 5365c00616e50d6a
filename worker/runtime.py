"""The services a worker process hands to tasks: built once per process, from the same settings."""

from __future__ import annotations

import os

from digest.config import Settings, config_path_from_env, load_settings
from digest.services import Services, build_services

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
        _services = build_services(settings())
    return _services


def reset() -> None:
    """Forget the services, e.g. in a forked worker child that must open its own connections."""
    global _services
    if _services is not None:
        _services.close()
    _services = None
