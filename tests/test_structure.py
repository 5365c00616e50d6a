"""The code's shape: no two modules of `digest/` and `worker/` import each other, directly or
round a circle, counting the imports made inside functions (a lazy import back is still a
circle; only imports for type checkers are left out). A circle is how the pipeline once held
all orchestration: each stage now has its module, and what depends on what reads one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("digest", "worker")


def module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imported(path: Path) -> Iterator[str]:
    """Every module name ``path`` imports (and every name it imports from one), anywhere in the
    file but under ``if TYPE_CHECKING:``."""

    class Imports(ast.NodeVisitor):
        def __init__(self) -> None:
            self.names: list[str] = []

        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test):
                for statement in node.orelse:
                    self.visit(statement)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            self.names.extend(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module:
                self.names.append(node.module)
                self.names.extend(f"{node.module}.{alias.name}" for alias in node.names)

    visitor = Imports()
    visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
    yield from visitor.names


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {
        name: {
            other
            for other in imported(path)
            # A module importing its own package (whose __init__ gathers the package's
            # modules) is the package's inside, not a circle.
            if other in modules and other != name and not name.startswith(other + ".")
        }
        for name, path in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_lazy_import_back() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_the_stages_read_one_way() -> None:
    graph = import_graph()
    stages = {"digest.ingesting", "digest.building", "digest.delivering"}
    for stage in stages:
        assert not graph[stage] & (stages | {"digest.pipeline", "digest.sending"}), stage
    # The library knows nothing of Celery: only the command line starts a worker or beat.
    library = [name for name in graph if name.startswith("digest") and ".cli" not in name]
    assert [name for name in library if any(o.startswith("worker") for o in graph[name])] == []


def test_the_commands_import_alembic_only_to_migrate() -> None:
    """Alembic (with Mako) is a tenth of a command's import time; only the commands that read
    or run migrations import it, when they do."""
    probe = (
        "import sys, digest.cli.commands, worker.tasks; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert found.stdout.strip() == "[]"


def test_what_a_terminal_obeys_is_escaped_by_one_function_for_json_and_toml() -> None:
    """The JSON the commands print and the TOML a feeds import writes escape the characters a
    terminal obeys. Each held its own copy of the character class, which drift apart unseen:
    both use the library's one function, and no other module spells the class."""
    from digest.cli.boundary import json_text
    from digest.opml import _toml_string

    users = {"digest.opml", "digest.cli.boundary"}
    for name, path in module_files().items():
        uses = "digest.terminal_escapes.escape_obeyed" in set(imported(path))
        assert uses == (name in users), name
        if name != "digest.terminal_escapes":
            source = path.read_text(encoding="utf-8")
            assert "\\u2028\\u2029\\u202a-\\u202e" not in source, f"{name} spells it again"
    # The same characters, escaped alike: U+009B would open a control sequence, U+202E turn
    # the rest of the line backwards.
    for character in "\x85\x9b\x9d\u061c\u200f\u2028\u202e\u2067":
        escape = f"\\u{ord(character):04x}"
        assert escape in json_text(f"a{character}b") and escape in _toml_string(f"a{character}b")
