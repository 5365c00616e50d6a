"""Where the command line meets the operator: expected failures end as a few lines, not a traceback.

Every command and group of the ``digest`` app runs inside ``expected_failures``: a ``DigestError``
(the service's own, each saying what is wrong, where and what to do), an OS error on a file the
operator named, a database that cannot be reached and Ctrl-C are printed as short messages with
an exit code a script can test:

    2    the configuration (or a file it names) is invalid: nothing ran
    1    the command failed (a database or port it needs, a feed, a file)
    130  interrupted by Ctrl-C (128 + SIGINT, as the shell reports it)
    143  stopped by SIGTERM (128 + SIGTERM), where the command takes it as it takes Ctrl-C
    129  stopped by SIGHUP (a closed terminal, ``kill -HUP``), taken as SIGTERM is

Anything else is a bug and keeps its traceback, without local variables (they hold settings).

Text from outside (a feed's titles and authors, a server's reply, a reader's name, a config
value) reaches the operator's terminal through one of three helpers, never as it came:
``printable`` for a value printed as it is, ``shown`` for a value inside rich markup (one line,
its brackets escaped) and ``json_text`` for JSON on standard output.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from typer._click.exceptions import NoSuchOption  # typer's own click, as its commands raise
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from digest.errors import ConfigError, DigestError, StoreUnavailableError
from digest.shown import brief
from digest.terminal_escapes import escape_obeyed

errors = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep


class _Context:
    database_url: str | None = None  # the configured one, once the config is read


_context = _Context()


def note_database(url: str) -> None:
    """Remember the database the command uses, so that an error reaching the boundary names it."""
    _context.database_url = url


EXIT_FAILED = 1
EXIT_INVALID_CONFIG = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_HUNG_UP = 129


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where the command is (``sigterm_as_ctrl_c``)."""

    last_words, exit_code = "Terminated.", EXIT_TERMINATED


class HungUp(Terminated):
    """SIGHUP, taken as SIGTERM is (``sigterm_as_ctrl_c``)."""

    last_words, exit_code = "Hung up.", EXIT_HUNG_UP


# The stops a command takes as Ctrl-C: a service manager's, ``kill PID``, and a closed
# terminal's (or ``kill -HUP``), which a run in a terminal left by ssh gets.
_STOPS = {signal.SIGTERM: Terminated, signal.SIGHUP: HungUp}


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """For the block, SIGTERM (a service manager stopping the command, ``kill PID``) and
    SIGHUP (a closed terminal) end the command as Ctrl-C does, by an exception that unwinds
    it: the copies a mail server took are recorded on the ledger and the sending processes are
    told to stop. Their default actions ended the process there and then, so those copies went
    again at the next run.

    A second stop is ignored: the first one's unwinding is what records, and must finish.
    """

    def terminate(signum: int, frame: FrameType | None) -> None:
        for stop in _STOPS:
            signal.signal(stop, signal.SIG_IGN)
        raise _STOPS[signal.Signals(signum)]

    previous = {stop: signal.signal(stop, terminate) for stop in _STOPS}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


# What a terminal obeys rather than shows. C0 controls and DEL: ESC opens every sequence (a
# clipboard write, "\x1b]52;...", a cleared screen, a moved cursor), CR sends the cursor back
# over what the line said. C1 controls: U+009B opens a control sequence as ESC [ does, U+009D
# an OSC (a hidden link, a new window title). A feed's or a server's text may carry any of them.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
# Bidirectional embeddings, overrides, isolates and marks: U+202E shows the rest of the line
# backwards, the row of a table included, so that "moc.elgoog" reads "google.com". The terminal
# orders right-to-left text by itself; these only ever mislead it.
_DIRECTION_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` from outside as a terminal is to show it: on one line (line breaks and tabs as
    a space; with ``lines``, its line breaks kept as "\\n"), every other control character as
    U+FFFD (it prints, and moves, clears or links nothing), direction controls left out."""
    if text.isprintable():  # the common case: no control, no separator, no direction control
        return text
    if lines:
        return "\n".join(printable(line) for line in text.splitlines())
    text = _LINE_BREAKS.sub(" ", text)
    return _DIRECTION_CONTROLS.sub("", _CONTROLS.sub("\ufffd", text))


def shown(text: str, *, lines: bool = False) -> str:
    """``text`` from outside for rich markup: ``printable``, its brackets escaped, so that
    "[bold]" or "[link=...]" in a title prints as written."""
    return escape(printable(text, lines=lines))


def json_text(value: object, *, indent: int | None = 2) -> str:
    """``value`` as JSON for standard output, a terminal as likely as a pipe: the same data, with
    every character a terminal would obey written as a \\u escape (digest.terminal_escapes).
    ``indent=None`` writes it on one line, for a row of a streamed array."""
    return escape_obeyed(json.dumps(value, ensure_ascii=False, indent=indent))


class PrintableLogLines(logging.Formatter):
    """Log lines for the operator's terminal: what a record quotes (an address a client named,
    a server's reply, a feed's title) as ``printable`` shows it, a traceback on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), lines=True)


class _LastResortLines(logging.Handler):
    """What ``logging.lastResort`` does (a warning of a logger nothing configured, on the
    standard error as it is then), each line through the terminal helpers."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # as every handler: a failing log line is no failing command
            self.handleError(record)


def printable_last_resort() -> logging.Handler:
    """The handler for ``logging.lastResort`` in the ``digest`` commands. Most of them configure
    no logging, and Python's own printed a warning as it came: one quoting what a browser sent
    (a form's Origin in `digest serve`) put its control sequences on the operator's terminal."""
    handler = _LastResortLines(logging.WARNING)
    handler.setFormatter(PrintableLogLines("%(message)s"))
    return handler


def report(error: BaseException | str, *, title: str = "error:") -> None:
    """Print ``error`` for the operator: its text as written (markup escaped, controls shown as
    U+FFFD: it may quote a server's reply or a feed's title), never styled."""
    errors.print(f"[bold red]{title}[/] {shown(str(error), lines=True)}", highlight=False)


@contextmanager
def expected_failures() -> Iterator[None]:
    """Run a command; turn its expected failures into a message and an exit code."""
    try:
        with _interrupts_first():
            yield
    except ConfigError as error:
        errors.print(f"[bold red]Invalid configuration[/]\n{escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    except DigestError as error:
        report(error)
        raise typer.Exit(EXIT_FAILED) from None
    except (OperationalError, InterfaceError, ProgrammingError) as error:
        # Commands open the store inside digest.store.db.database_errors, which names the
        # database; this is the net under it, for a command that opens it some other way. Other
        # database errors are bugs: they keep their traceback.
        report(_database_failed(error))
        raise typer.Exit(EXIT_FAILED) from None
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        report(f"{where}{error.strerror or error}")
        raise typer.Exit(EXIT_FAILED) from None
    except Terminated as stop:
        errors.print(stop.last_words, highlight=False)
        raise typer.Exit(stop.exit_code) from None
    except KeyboardInterrupt:
        errors.print("Interrupted.", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _database_failed(error: DBAPIError) -> DigestError | str:
    """What to say of a database error that reached the net: a table or column the schema
    lacks as that (digest.store.db.schema_drift), the rest as a database that cannot be opened;
    a ProgrammingError of another kind is a bug, raised on with its traceback."""
    from digest.store.db import schema_drift_of
    from digest.store.schema_lacks import driver_reason, missing_from_schema

    reason = driver_reason(error)
    if _context.database_url is not None:
        drift = schema_drift_of(_context.database_url, error)
        if drift is not None:
            return drift
    if isinstance(error, ProgrammingError) and missing_from_schema(error) is None:
        raise error
    if _context.database_url is None:
        return f"the database failed: {brief(reason)}"
    return StoreUnavailableError(_context.database_url, reason)


@contextmanager
def _interrupts_first() -> Iterator[None]:
    """An error raised while Ctrl-C or SIGTERM unwinds the command is the interrupt's doing, and
    the command ends as interrupted (130, 143). Ctrl-C can break off a database call between a
    statement and its answer; a cleanup on the way out (a result left open, a connection the
    pool pings) then failed on that connection, and `digest send` ended "cannot open the
    database …: can't change 'autocommit' now", exit 1, for a Ctrl-C."""
    try:
        yield
    except Exception as error:
        interrupt = _interrupt_behind(error)
        if interrupt is None:
            raise
        raise interrupt from error


def _interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (or Terminated) being handled when ``error``, or an error it was
    raised from, was raised; None when there is none."""
    seen: set[int] = set()
    waiting: list[BaseException] = [error]
    while waiting:
        cause = waiting.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, KeyboardInterrupt):
            return cause
        waiting += [link for link in (cause.__cause__, cause.__context__) if link is not None]
    return None


# Typer's own click is private (typer._click): contexts and parameters are typed Any here.


class _PlainArgument(TyperArgument):
    """An argument as ``--help`` should show it: its name alone (``LIST``), where typer's rich
    help adds its Python type (``LIST <str>``) and puts a required one in braces in the usage
    line (``{LIST}``), which reads as text to type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = str(self.display_name_raw)
        name = name if self.required else f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name


def _value_name(option: Any) -> str:
    """The word that stands for an option's value, as a reader would say it: ``--port PORT``,
    ``--days N`` (the help says "the last N days"), ``--output FILE``, and otherwise the name's
    last word (``--list LIST``, ``--feed-name NAME``)."""
    longest = max((*option.opts, *option.secondary_opts), key=len)
    word = str(longest.lstrip("-").rsplit("-", 1)[-1].upper())
    kind = option.type_descriptor
    if word == "PORT":
        return word
    if kind.annotation in (int, float):
        return "N"
    return "FILE" if kind.is_path else word


def _plain_help(params: list[Any]) -> list[Any]:
    """Parameters that ``--help`` shows with a word for their value rather than its Python type:
    flags take no value, so they show none (typer would print ``<bool>``); other options show
    their metavar or their name's last word (``<int range>``, ``<str>``); arguments, their name."""
    for param in params:
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _value_name(param)
        elif isinstance(param, TyperArgument) and not isinstance(param, _PlainArgument):
            # Typer builds its parameters itself; the class is all that changes: the help.
            param.__class__ = _PlainArgument
    return params


# The options of ``digest`` itself, which go before a command's name.
_GLOBAL_OPTIONS = ("--config", "-c")


def _global_option_placed_after(error: NoSuchOption, ctx: Any) -> NoSuchOption:
    """``error`` said plainly when the option is one of digest's own, typed after the command:
    "No such option: --config" alone reads as if there were none."""
    name = error.option_name.split("=", 1)[0]
    if name not in _GLOBAL_OPTIONS:
        return error
    command = " ".join(str(ctx.command_path).split()[1:])
    error.message = (
        f"{name} is an option of digest itself: put it before the command's name "
        f"(digest --config FILE {command} …), or set DIGEST_CONFIG"
    )
    return error


class DigestCommand(TyperCommand):
    """A command whose parameters ``--help`` shows plainly (``_plain_help``), and which says
    where digest's own options go when they are typed after its name."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return list(super().parse_args(ctx, args))
        except NoSuchOption as error:
            raise _global_option_placed_after(error, ctx) from None


class DigestGroup(TyperGroup):
    """A command group that runs its commands inside ``expected_failures``."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return list(super().parse_args(ctx, args))
        except NoSuchOption as error:
            if ctx.parent is None:  # digest's own: --config is one of them
                raise
            raise _global_option_placed_after(error, ctx) from None

    def invoke(self, ctx: Any) -> Any:
        with expected_failures():
            return super().invoke(ctx)


class DigestTyper(typer.Typer):
    """``typer.Typer`` whose groups and commands are the ones above."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("cls", DigestGroup)
        options.setdefault("pretty_exceptions_show_locals", False)
        super().__init__(**options)

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            if "short_help" not in options and function.__doc__:
                options["short_help"] = short_help(function.__doc__)
            command = typer.Typer.command(self, name, cls=cls or DigestCommand, **options)
            return command(function)

        return register


def short_help(docstring: str) -> str:
    """A command's line in ``digest --help``: its docstring's first paragraph as one line. With
    rich markup, typer keeps the docstring's line breaks there, and a sentence broke in two."""
    return " ".join(inspect.cleandoc(docstring).split("\n\n")[0].split())
