"""Fixtures shared by the tests: fixed clocks and a database on every supported backend."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from digest.clock import FixedClock
from tests.servers import postgres_server

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
_databases = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    # The commands' output is read as a pipe, a log or a cron mail gets it: no terminal width.
    # A test that wants one sets COLUMNS itself. An inherited width changed the tables (and a
    # pytest-xdist worker starts with COLUMNS=80 and LINES=24 in its environment).
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: an SQLite file, or a new database in the test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'digest.db'}"
    server_url: str = request.getfixturevalue("postgres_url")
    name = f"test_{next(_databases)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
