"""One rule for relative paths: every path of the config (and of its ``DIGEST_*`` variables) is
relative to the config file's folder, whatever folder a command starts in.

The service's data paths (``service.database_url``'s SQLite file, ``service.data_dir``,
``service.outbox``, ``service.suppression_file``) are made whole here, at load, so that every
later use and every message names the file itself. Data a relative path put in the working
directory before (where a command used to read it) is not silently left behind: when the path
read from the config file's folder holds nothing and the same path from the working directory
does, the config is refused, naming both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from digest.config.service import ServiceSettings


def resolved_service(service: ServiceSettings, base: Path) -> ServiceSettings:
    """``service`` with its relative data paths made whole against ``base``, the config file's
    folder."""
    database = _sqlite_path(service.database_url)
    update: dict[str, object] = {
        "data_dir": base / service.data_dir,
        "outbox": base / service.outbox,
    }
    if service.suppression_file is not None:
        update["suppression_file"] = base / service.suppression_file
    if database is not None and not database.is_absolute():
        parsed = make_url(service.database_url)
        whole = parsed.set(database=str(base / database))
        update["database_url"] = whole.render_as_string(hide_password=False)
    return service.model_copy(update=update)


def left_behind(
    written: ServiceSettings, base: Path, working_directory: Path, *, outbox: bool
) -> Iterator[tuple[str, str]]:
    """(key, why) for each relative data path of ``written`` (the service table as the file and
    the environment give it) that finds nothing from ``base`` while it finds data from
    ``working_directory``: read from the config file's folder, the service would start on a new,
    empty database, secret key or suppression file. ``outbox``: whether mail goes to it."""
    if base == working_directory:
        return
    database = _sqlite_path(written.database_url)
    paths: dict[str, Path | None] = {
        "service.database_url": database,
        "service.data_dir": written.data_dir,
        "service.outbox": written.outbox if outbox else None,
        "service.suppression_file": written.suppression_file,
    }
    for key, path in paths.items():
        if path is None or path.is_absolute():
            continue
        here, there = base / path, working_directory / path
        if _holds_data(key, there) and not (here.exists() or here.is_symlink()):
            yield (
                key,
                f"{path} is read from the config file's folder, as {here}, where there is "
                f"nothing; the working directory holds {there}: give its whole path in the "
                "config, or move it there",
            )


def _sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL names, None for another database, an in-memory one or a
    ``file:`` URI (which SQLite reads itself)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri") == "true":
        return None
    return Path(parsed.database)


# What the service itself writes in its data folder: the folder alone says nothing ("var" from
# "/" is the system's own).
_DATA_DIR_FILES = ("secret_key", "suppressed.csv")


def _holds_data(key: str, path: Path) -> bool:
    """Whether ``path`` holds what the service wrote there for ``key``."""
    try:
        if key == "service.data_dir":
            return any((path / name).is_file() for name in _DATA_DIR_FILES)
        if key == "service.outbox":
            return path.is_dir() and any(path.glob("*.eml"))
        return path.is_file()
    except OSError:
        return False
