"""What a process that runs for weeks must not keep: an engine, and its compiled statements, per
config edit."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from digest.clock import FixedClock
from digest.config import settings_from_mapping
from digest.mail.transport import MemoryTransport
from digest.services import build_services
from digest.store.db import KEPT_IDLE_ENGINES, close_engine, open_engine
from digest.store.schema import Base
from tests.configs import service_table
from tests.conftest import NOW


def test_the_services_of_every_config_edit_compile_their_statements_once(
    tmp_path: Path, database_url: str
) -> None:
    settings = settings_from_mapping(
        {"service": service_table(tmp_path, database_url=database_url)},
        source=tmp_path / "digest.toml",
        environ={},
    )
    dialects: set[int] = set()
    for _ in range(3):  # a run taking edits: the services of each built, used and closed
        services = build_services(settings, clock=FixedClock(NOW), transport=MemoryTransport())
        # A row written through the ORM, as a cycle writes many: the statement is compiled for
        # this engine's dialect and kept in the table's cache for the life of the process.
        services.store.record_secret_key("check", NOW)
        dialects.add(id(services.store.engine.dialect))
        services.close()
        assert services.store.engine.pool.checkedin() == 0  # its connections closed
    gc.collect()
    assert len(dialects) == 1
    cached = {
        id(key[0]) for mapper in Base.registry.mappers for key in mapper._compiled_cache
    } & dialects
    assert cached == dialects


def test_an_engine_opened_and_never_closed_goes_with_its_last_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    engine = open_engine(url)
    held = weakref.ref(engine)
    del engine
    gc.collect()
    assert held() is None
    assert open_engine(url) is not None


def test_a_database_in_memory_is_never_shared() -> None:
    first, second = open_engine("sqlite://"), open_engine("sqlite://")
    assert first is not second
    close_engine(first)
    close_engine(second)


def test_engines_of_urls_no_longer_used_are_let_go(tmp_path: Path) -> None:
    first_url = f"sqlite:///{tmp_path / 'first.db'}"
    first = weakref.ref(open_engine(first_url))
    close_engine(first())  # type: ignore[arg-type]
    assert open_engine(first_url) is first()  # an edit moving the database back finds it
    close_engine(first())  # type: ignore[arg-type]
    for number in range(KEPT_IDLE_ENGINES):  # edits to as many new URLs
        close_engine(open_engine(f"sqlite:///{tmp_path / f'{number}.db'}"))
    gc.collect()
    assert first() is None
