"""The configuration reference, read from the settings models of ``digest.config``.

Every table of the config file is walked from ``ConfigFile``: a model field is a table
(``[service]``), a tuple of models an array of tables (``[[lists]]``), a model inside an entry a
sub-table (``[lists.utm]``); every other field is a key. Its type, default and bounds come from
the annotation and its constraints, its description from the docstring under it (the models set
``use_attribute_docstrings``). A table added to ``ConfigFile`` is taken in with no edit here.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import AfterValidator, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from digest.config import CONFIG_ENV, ENV_OVERRIDES, SECRET_ENV, ConfigFile, Settings


@dataclass(frozen=True)
class Key:
    """One key of a table, as the reference shows it."""

    path: str  # "smtp.port", "lists[].utm.source": also the key's anchor on the page
    name: str
    type: str
    default: str
    bounds: str
    description: str


@dataclass(frozen=True)
class Table:
    """One table of the config file, with its keys."""

    path: str  # "service", "lists", "lists.utm"
    header: str  # "[service]", "[[lists]]", "[lists.utm]"
    description: str
    presence: str  # "required", "optional", "optional; its defaults apply when absent"...
    keys: tuple[Key, ...]


def tables(model: type[BaseModel] = ConfigFile) -> list[Table]:
    """Every table of the config file, in the order of the models, sub-tables after their own."""
    found: list[Table] = []
    for name, field in model.model_fields.items():
        inner, repeated = _table_model(field.annotation)
        if inner is None:
            continue
        header = f"[[{name}]]" if repeated else f"[{name}]"
        _walk(inner, name, f"{name}[]" if repeated else name, header, field, found)
    return found


def _walk(
    model: type[BaseModel],
    path: str,
    key_prefix: str,
    header: str,
    field: FieldInfo,
    found: list[Table],
) -> None:
    keys: list[Key] = []
    nested: list[tuple[str, FieldInfo, type[BaseModel]]] = []
    for name, sub in model.model_fields.items():
        inner, repeated = _table_model(sub.annotation)
        if inner is not None and not repeated:
            nested.append((name, sub, inner))
            continue
        keys.append(
            Key(
                path=f"{key_prefix}.{name}",
                name=name,
                type=type_text(sub.annotation),
                default=default_text(sub),
                bounds="; ".join(bounds(sub)),
                description=clean(sub.description),
            )
        )
    # The model's own docstring says most; the field's description is there for a model without.
    own = clean(model.__dict__.get("__doc__"))
    found.append(
        Table(
            path=path,
            header=header,
            description=own or clean(field.description),
            presence=_presence(field),
            keys=tuple(keys),
        )
    )
    for name, sub, inner in nested:
        _walk(inner, f"{path}.{name}", f"{key_prefix}.{name}", f"[{path}.{name}]", sub, found)


def _presence(field: FieldInfo) -> str:
    if field.is_required():
        return "Required."
    if field.default is None or field.default == ():
        return "Optional."
    return "Optional: its keys' defaults apply when it is absent."


def _table_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field's values are tables of, and whether it is an array of them."""
    annotation = _unwrap_optional(annotation)
    if get_origin(annotation) is tuple:
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if len(args) == 1 and _is_model(args[0]):
            return args[0], True
        return None, False
    if _is_model(annotation):
        return annotation, False
    return None, False


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


_TYPE_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    SecretStr: "string",
}


def type_text(annotation: Any) -> str:
    """A TOML reader's name for a Python annotation: ``string``, ``list of string``…"""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_text(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        parts = [type_text(arg) for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(parts)
    if origin is Literal:
        return "one of " + ", ".join(f'`"{value}"`' for value in get_args(annotation))
    if origin in (tuple, list, set, frozenset):
        items = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return "list of " + (type_text(items[0]) if items else "values")
    if origin is dict:
        return "table of " + type_text(get_args(annotation)[-1])
    if annotation in _TYPE_NAMES:
        return _TYPE_NAMES[annotation]
    if _is_model(annotation):
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field: FieldInfo) -> str:
    """The default as it would be written in TOML, or "required"."""
    if field.is_required():
        return "required"
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        return "computed"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, int | float):
        return f"`{value:_}`".replace("_", ",") if abs(value) >= 10_000 else f"`{value}`"
    if isinstance(value, str | Path):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[]`" if not value else "`[" + ", ".join(f'"{item}"' for item in value) + "]`"
    return f"`{value}`"


def bounds(field: FieldInfo) -> list[str]:
    """What a value must be beyond its type: numeric bounds, lengths, patterns, checks."""
    found: list[str] = []
    for item in _constraints(field.metadata, field.annotation):
        found.extend(_bound_text(item))
    return list(dict.fromkeys(found))


def _constraints(metadata: list[Any], annotation: Any) -> Iterator[Any]:
    """The field's own constraints, then those written into its (inner) Annotated types."""
    for item in metadata:
        if isinstance(item, FieldInfo):
            yield from _constraints(item.metadata, None)
        else:
            yield item
    for arg in _annotated_parts(annotation):
        yield from _constraints([arg], None)


def _annotated_parts(annotation: Any) -> Iterator[Any]:
    if annotation is None:
        return
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        yield from extra
        yield from _annotated_parts(base)
        return
    for arg in get_args(annotation):
        if arg is not Ellipsis and not isinstance(arg, str | int):
            yield from _annotated_parts(arg)


def _bound_text(item: Any) -> list[str]:
    numeric: list[tuple[type[Any], str, Callable[[Any], Any]]] = [
        (Ge, "≥", lambda bound: bound.ge),
        (Gt, ">", lambda bound: bound.gt),
        (Le, "≤", lambda bound: bound.le),
        (Lt, "<", lambda bound: bound.lt),
    ]
    for kind, sign, value in numeric:
        if isinstance(item, kind):
            return [f"{sign} {_number(value(item))}"]
    if isinstance(item, MinLen):
        return ["not empty"] if item.min_length == 1 else [f"at least {item.min_length} long"]
    if isinstance(item, MaxLen):
        return [f"at most {item.max_length} characters"]
    pattern = getattr(item, "pattern", None)
    if isinstance(pattern, str):
        return [f"matches `{pattern}`"]
    if isinstance(item, AfterValidator):
        text = clean(inspect.getdoc(item.func)).rstrip(".") or item.func.__name__.strip("_")
        return [text[:1].lower() + text[1:]]
    return []


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)


def clean(text: str | None) -> str:
    """A docstring as one Markdown line: whitespace collapsed, reST ``code`` made Markdown's."""
    if not text:
        return ""
    text = " ".join(text.split())
    return re.sub(r"``(.+?)``", r"`\1`", text)


def undocumented(model: type[BaseModel] = ConfigFile) -> list[str]:
    """Keys and tables with no description: the reference would leave them unexplained."""
    missing = [table.header for table in tables(model) if not table.description]
    missing += [key.path for table in tables(model) for key in table.keys if not key.description]
    return missing


def key_paths(model: type[BaseModel] = ConfigFile) -> set[str]:
    """Every table and key as a dotted path, no brackets: ``smtp.port``, ``lists.utm.source``."""
    paths: set[str] = set()
    for table in tables(model):
        paths.add(table.path)
        paths.update(key.path.replace("[]", "") for key in table.keys)
    return paths


@dataclass(frozen=True)
class Variable:
    """An environment variable the settings read."""

    name: str
    description: str


def variables() -> list[Variable]:
    """The ``DIGEST_*`` variables: the config file, the secrets, the keys they override."""
    found = [Variable(CONFIG_ENV, "The config file, when `--config` is not given.")]
    for field_name, variable in SECRET_ENV.items():
        found.append(Variable(variable, clean(Settings.model_fields[field_name].description)))
    for variable, (table, key) in ENV_OVERRIDES.items():
        found.append(Variable(variable, f"Overrides [`{table}.{key}`](#{table}.{key})."))
    return found


def markdown() -> str:
    """The configuration reference page."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings models in `digest/config/` each time the documentation is",
        "built: every key of the config file, its type, its default, what values it takes and what",
        "it does. [Configuration](../configuration.md) explains how the file is read and checked.",
        "",
        "## Environment variables {#environment}",
        "",
        "Secrets never go in the file; these variables carry them, and override a few keys.",
        "A secret's variable and the two addresses' may instead name a file holding the value,",
        "as `DIGEST_SMTP_PASSWORD_FILE`, or be a systemd credential",
        "([configuration](../configuration.md#secrets-in-files)).",
        "",
        "| variable | what |",
        "| --- | --- |",
    ]
    lines += [f"| `{var.name}` | {_cell(var.description)} |" for var in variables()]
    for table in tables():
        lines += ["", f"## `{table.header}` {{#{table.path}}}", ""]
        lines += [f"{table.description} {table.presence}", ""]
        lines += ["| key | type | default | values | description |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        for key in table.keys:
            anchor = f'<a id="{key.path}"></a>`{key.name}`'
            cells = (anchor, key.type, key.default, key.bounds or "", key.description)
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
