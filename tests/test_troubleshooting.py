"""Troubleshooting quotes the service's messages: each quoted wording must still be in the code."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs/troubleshooting.md"

# The parts of a quoted message that vary, written in capitals on the page.
_PLACEHOLDERS = (
    "FILE|KEY|PATH|URL|SLUG|N|REASON|LINE|CODE|SLOT|HOST|PORT|NAME|FOLDER|VALUE|EDITION|LIST|"
    "WHY|WHAT|COMMAND|TERM|KIND|ID|TYPE|DOMAIN"
)
# Where a message is cut into the pieces that must each be found in the code: a placeholder, an
# ellipsis, a quote or bracket (values are quoted by repr), a brace (the code writes "{list}" as
# "{{list}}" in an f-string), and ": " or "; " (a message is often made of a key path, a reason
# and a remedy written by different lines of code).
_CUTS = re.compile(rf"\b(?:{_PLACEHOLDERS})\b|…|['\"\[\]{{}}]|: |; ")
_QUOTED = re.compile(r"\*\*`([^`]+)`\*\*")


def _as_printed(code: str) -> str:
    """Python source as a reader of its messages would see it: string literals split over lines
    joined, each f-string field one wildcard character, Rich markup removed."""
    code = re.sub(r"([\"'])\s*\n\s*(?:#[^\n]*\n\s*)*[rbf]*([\"'])", "", code)
    # A count in operator output (digest.plurals.english_count) is quoted as it reads of
    # most counts: "N deliveries are parked", whatever form it takes for one.
    code = re.sub(r"\{english_count\([^{}\n]*?, '[^'\n]*', '([^'\n]*)'\)\}", "\x00 \\1", code)
    code = re.sub(r"\{[^{}\n]*\}", "\x00", code)
    return re.sub(r"\[/?[a-z ]*\]", "", code)


def _source_text() -> str:
    return "\n".join(
        _as_printed(path.read_text(encoding="utf-8"))
        for package in ("digest", "worker")  # the workers' log lines are messages too
        for path in sorted((ROOT / package).rglob("*.py"))
    )


def _pieces(message: str) -> list[str]:
    pieces = (piece.strip(" '\"") for piece in _CUTS.split(message))
    return [piece for piece in pieces if len(piece) >= 8]


def wording_gone(page: str, source: str) -> list[tuple[str, str]]:
    """(message, piece) for each piece of a quoted message that the code no longer says."""
    gone = []
    for match in _QUOTED.finditer(" ".join(page.split())):
        for piece in _pieces(match.group(1)):
            if piece not in source:
                gone.append((match.group(1), piece))
    return gone


def test_every_quoted_message_is_still_worded_so_in_the_code() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert len(_QUOTED.findall(page)) > 40
    assert wording_gone(page, _source_text()) == []


def test_a_message_reworded_in_the_code_is_caught() -> None:
    source = 'raise ConfigError(source, [("", f"cannot read the key file {path}: {why}")])\n'
    page = (
        "**`PATH: cannot read the key file PATH: WHY`** still holds.\n"
        "**`PATH: cannot open the key file: WHY`** no longer does.\n"
    )
    assert wording_gone(page, source) == [
        ("PATH: cannot open the key file: WHY", "cannot open the key file")
    ]


def test_strings_split_over_lines_and_markup_are_read_as_printed() -> None:
    source = _as_printed(
        "errors.print(\n"
        '    f"[bold red]digest {command} needs a broker[/]: set DIGEST_BROKER_URL "\n'
        '    f"or service.broker_url in {escape(str(settings.source))}",\n)\n'
    )
    page = (
        "**`digest COMMAND needs a broker: set DIGEST_BROKER_URL or service.broker_url in FILE`**"
    )
    assert wording_gone(page, source) == []
    assert wording_gone(page.replace("broker:", "queue:"), source) != []


def test_a_count_is_quoted_in_its_plural() -> None:
    source = _as_printed(
        "errors.print(\n"
        "    f\"[yellow]{english_count(parked, 'delivery is', 'deliveries are')} parked[/]: \"\n"
        '    "see digest status",\n)\n'
    )
    assert wording_gone("**`N deliveries are parked: see digest status`**", source) == []
    assert wording_gone("**`N deliveries were parked: see digest status`**", source) != []


def _literal_pieces(node: ast.expr) -> list[str]:
    """The literal text of a string or f-string, cut at its fields."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        pieces, current = [], ""
        for value in node.values:
            if isinstance(value, ast.Constant):
                current += str(value.value)
            else:
                pieces.append(current)
                current = ""
        return [*pieces, current]
    return []


def _configuration_messages(path: Path) -> Iterator[tuple[int, ast.expr]]:
    """The reasons of the configuration problems raised in ``path``: each ``(key, why)`` given
    to ``ConfigError`` (``why`` followed to the string it names) and, in the config package, each
    ``ValueError`` a validator raises (pydantic reports its text as the reason)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            assigned.setdefault(node.targets[0].id, []).append(node.value)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "ValueError" and path.parent.name == "config" and node.args:
            yield node.lineno, node.args[0]
        elif node.func.id == "ConfigError":
            for part in ast.walk(node):
                if isinstance(part, ast.Tuple) and len(part.elts) == 2:
                    why = part.elts[1]
                    for value in assigned.get(why.id, []) if isinstance(why, ast.Name) else [why]:
                        yield node.lineno, value


def test_every_configuration_problem_has_an_entry() -> None:
    page = " ".join(PAGE.read_text(encoding="utf-8").split())
    checked, missing = 0, []
    for path in sorted((ROOT / "digest").rglob("*.py")):
        for line, message in _configuration_messages(path):
            pieces = [piece for piece in map(_first_piece, _literal_pieces(message)) if piece]
            if not pieces:
                continue  # made wholly elsewhere (a joined list of problems): checked there
            checked += 1
            if pieces[0] not in page:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {pieces[0]!r}")
    assert checked > 40
    assert missing == []


def _first_piece(text: str) -> str:
    """The first piece of a message's literal text that the page would quote whole."""
    pieces = [piece.strip(" '\"") for piece in _CUTS.split(text)]
    return next((piece for piece in pieces if len(piece) >= 8), "")
