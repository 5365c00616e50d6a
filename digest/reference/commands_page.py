"""The command reference, read from the ``digest`` Typer app.

Typer builds a click command tree from ``digest.cli.app``; each command's help, usage and
parameters are read from it, so a command added to any module of ``digest.cli`` is taken in with
no edit here. Typer carries its own copy of click, so commands are told apart by what they have
(a group has ``commands``), not by click's classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer
import typer.main

from digest.cli import app as digest_app


@dataclass(frozen=True)
class Parameter:
    """An option or argument of a command, as ``--help`` shows it."""

    spelling: str  # "-o, --output <path>", "LIST <str>", "--poll"
    help: str  # the parameter's own help, empty when it has none
    notes: str  # what --help adds: "[default: 5; 1<=x<=100]", "[required]"
    takes_value: bool
    option_names: tuple[str, ...]  # every spelling of an option; empty for an argument


@dataclass(frozen=True)
class Command:
    """A command or group of the command line."""

    path: str  # "digest feeds import"
    usage: str
    help: str
    parameters: tuple[Parameter, ...]
    subcommands: tuple[str, ...]  # names, for a group


def commands(app: typer.Typer = digest_app) -> list[Command]:
    """Every command and group under ``digest``, depth first, in the order they were added."""
    root = typer.main.get_command(app)
    return list(_walk(root, "digest", None))


def _walk(command: Any, path: str, parent: Any) -> Iterator[Command]:
    context = command.context_class(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
    subcommands = getattr(command, "commands", {})
    yield Command(
        path=path,
        usage=" ".join(command.collect_usage_pieces(context)),
        help=_text(command.help),
        parameters=tuple(
            _parameter(param, context)
            for param in command.get_params(context)
            if not getattr(param, "hidden", False) and param.name != "help"
        ),
        subcommands=tuple(name for name, sub in subcommands.items() if not sub.hidden),
    )
    for name, sub in subcommands.items():
        if not sub.hidden:
            yield from _walk(sub, f"{path} {name}", context)


def _parameter(param: Any, context: Any) -> Parameter:
    spelling, shown = param.get_help_record(context)
    own = _text(param.help)
    # --help prints the parameter's help, then two spaces and its notes in brackets.
    notes = shown[len(param.help or "") :].strip() if shown.startswith(param.help or "") else ""
    is_option = param.param_type_name == "option"
    return Parameter(
        spelling=spelling,
        help=own,
        notes=notes,
        takes_value=is_option and not param.is_flag,
        option_names=(*param.opts, *param.secondary_opts) if is_option else (),
    )


def _text(help_text: str | None) -> str:
    """Help as Markdown: Rich's escaped brackets plain again, whitespace collapsed."""
    if not help_text:
        return ""
    text = help_text.replace("\\[", "[")
    return re.sub(r"[ \t]*\n[ \t]*", "\n", text).strip()


def undocumented(app: typer.Typer = digest_app) -> list[str]:
    """Commands and parameters with no help: the reference would leave them unexplained."""
    missing = []
    for command in commands(app):
        if not command.help:
            missing.append(command.path)
        missing += [f"{command.path} {p.spelling}" for p in command.parameters if not p.help]
    return missing


def anchor(path: str) -> str:
    """The anchor of a command's section: ``digest-feeds-import``."""
    return path.replace(" ", "-")


def markdown() -> str:
    """The command reference page."""
    lines = [
        "# Command reference",
        "",
        "Generated from the command line itself (`digest/cli/`) each time the documentation is",
        "built; `digest COMMAND --help` prints the same. Every command takes the global options",
        "of `digest` before its name (`digest --config FILE run --once`). Exit codes: **0** done,",
        "**1** the command failed, **2** the configuration or a file it names is invalid,",
        "**130** stopped with Ctrl-C ([Troubleshooting](../troubleshooting.md) lists the",
        "messages).",
    ]
    for command in commands():
        lines += ["", f"## `{command.path}` {{#{anchor(command.path)}}}", ""]
        lines += ["```text", f"{command.path} {command.usage}".rstrip(), "```", ""]
        lines += [_paragraphs(command.help), ""]
        if command.subcommands:
            links = [
                f"[`{name}`](#{anchor(command.path + ' ' + name)})" for name in command.subcommands
            ]
            lines += ["Commands: " + ", ".join(links) + ".", ""]
        if command.parameters:
            lines += ["| option or argument | what |", "| --- | --- |"]
            for param in command.parameters:
                what = " ".join(f"{param.help} {param.notes}".split())
                cells = (f"`{param.spelling}`", what)
                lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _paragraphs(text: str) -> str:
    """Typer's help keeps paragraphs apart with a blank line; lines inside one are joined."""
    return "\n\n".join(" ".join(part.split("\n")) for part in text.split("\n\n"))
