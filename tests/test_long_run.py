"""What a process that runs for weeks must not keep: each config edit's services, once closed."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from digest.clock import FixedClock
from digest.config import settings_from_mapping
from digest.mail.transport import MemoryTransport
from digest.services import build_services
from digest.store.schema import Base
from tests.configs import service_table
from tests.conftest import NOW


def test_services_closed_at_a_config_edit_leave_nothing_of_their_engine_behind(
    tmp_path: Path, database_url: str
) -> None:
    settings = settings_from_mapping(
        {"service": service_table(tmp_path, database_url=database_url)},
        source=tmp_path / "digest.toml",
        environ={},
    )
    for _ in range(3):  # a run taking edits: the services of each built, used and closed
        services = build_services(settings, clock=FixedClock(NOW), transport=MemoryTransport())
        # A row written through the ORM, as a cycle writes many: the statement is compiled for
        # this engine's dialect and kept in the table's cache.
        services.store.record_secret_key("check", NOW)
        dialect = weakref.ref(services.store.engine.dialect)
        caches = [mapper._compiled_cache for mapper in Base.registry.mappers]
        assert any(key[0] is dialect() for cache in caches for key in cache)
        del caches
        services.close()
        del services
        gc.collect()
        assert dialect() is None
