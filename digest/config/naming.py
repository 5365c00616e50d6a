"""How errors name a key of the file: entries of an array of tables by their slug or name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

# The key that names an entry of each array of tables to the operator.
_ENTRY_NAME_KEYS = {"lists": "slug", "topics": "slug", "feeds": "name"}


def entry_key(table: str, entries: Sequence[Any], index: int) -> str:
    """How errors name entry ``index`` of ``[[table]]``: ``lists[daily]``, by its slug (a feed
    by its name), or ``lists[2]``, by position, when it has none or shares it with another.

    ``entries`` are the file's tables (mappings) or the validated settings.
    """
    key = _ENTRY_NAME_KEYS.get(table, "")
    names = [_entry_name(entry, key) for entry in entries]
    name = names[index] if 0 <= index < len(names) else None
    if name is None or names.count(name) > 1:
        return f"{table}[{index}]"
    return f"{table}[{name}]"


def _entry_name(entry: object, key: str) -> str | None:
    value = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
    # A name that reads like a position, or that would end the brackets, is no name here.
    if not isinstance(value, str) or not value.strip() or value.isdigit():
        return None
    if len(value) > 80 or "]" in value or not value.isprintable():
        return None
    return value


def _format_location(location: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    text = ""
    for position, part in enumerate(location):
        entries = raw.get(str(location[0])) if position == 1 else None
        if isinstance(part, int) and isinstance(entries, list):
            text = entry_key(str(location[0]), entries, part)
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def describe(error: ValidationError, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for detail in error.errors(include_url=False):
        location = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
        kind = detail["type"]
        if kind == "extra_forbidden":
            why = "unknown key (check its spelling in the configuration reference of the guides)"
        elif kind == "missing":
            why = "required key is missing"
        elif kind == "value_error":
            why = str(detail["ctx"]["error"]) if "ctx" in detail else detail["msg"]
        else:
            why = f"{detail['msg']} (got {detail.get('input')!r})"
        problems.append((_format_location(location, raw), why))
    return problems
