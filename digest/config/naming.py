"""How errors name a key of the file: entries of an array of tables by their slug or name."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

# The key that names an entry of each array of tables to the operator.
_ENTRY_NAME_KEYS = {"lists": "slug", "topics": "slug", "feeds": "name"}


def entry_key(table: str, entries: Sequence[object], index: int) -> str:
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


def _table_model(model: type[BaseModel], location: Sequence[int | str]) -> type[BaseModel] | None:
    """The settings model of the table at ``location`` (positions in arrays skipped)."""
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        found = _model_in(field.annotation) if field is not None else None
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model an annotation holds: ``X``, ``X | None``, ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _unknown_key(key: object, model: type[BaseModel] | None) -> str:
    why = "unknown key (check its spelling in the configuration reference of the guides)"
    if model is None or not isinstance(key, str):
        return why
    near = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.75)
    return f"unknown key: did you mean {near[0]!r}?" if near else why


def describe(
    error: ValidationError, raw: Mapping[str, Any], model: type[BaseModel] | None = None
) -> list[tuple[str, str]]:
    """The problems of ``error``, each as (key path, why); with ``model``, the model validated,
    an unknown key close to a key of its table is answered with that key."""
    problems = []
    for detail in error.errors(include_url=False):
        location = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
        kind = detail["type"]
        if kind == "extra_forbidden":
            table = _table_model(model, location[:-1]) if model is not None else None
            why = _unknown_key(location[-1] if location else None, table)
        elif kind == "missing":
            why = "required key is missing"
        elif kind == "value_error":
            why = str(detail["ctx"]["error"]) if "ctx" in detail else detail["msg"]
        else:
            why = f"{detail['msg']} (got {detail.get('input')!r})"
        problems.append((_format_location(location, raw), why))
    return problems
