"""Every benchmark in bench/ still starts: CI does not run them (they need quiet machines and
minutes), so a renamed name in the library would otherwise break one unnoticed until the next
measurement."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path for path in BENCH.glob("*.py") if not path.name.startswith("_"))


def test_there_are_benchmarks() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_each_benchmark_imports_and_prints_its_usage(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_every_name_a_benchmark_imports_from_the_project_exists() -> None:
    """Also the imports inside functions, which --help never reaches (throughput.py's workers
    path imported RedisLeases from a module it had left)."""
    missing = []
    for script in SCRIPTS:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            if node.module.partition(".")[0] not in ("digest", "worker", "tests", "bench"):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    continue
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    missing.append(f"{script.name}:{node.lineno}: {node.module}.{alias.name}")
    assert missing == []


def test_compose_cost_before_times_the_other_checkouts_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from this checkout's root, as its docs show, ``--before`` timed this checkout twice:
    ``python -c`` puts the working directory ahead of PYTHONPATH."""
    other = tmp_path / "other"
    (other / "digest").mkdir(parents=True)
    marker = tmp_path / "composed-by-other"
    modules = {
        "__init__": "",
        "stories": "",
        # What the pool of candidates unpickles to:
        "records": "class Record:\n    sort_time = 0\n    article = property(lambda self: self)\n\n"
        "    def __setstate__(self, state): ...\n\n\nCandidate = Article = Record\n",
        "config": "ListSettings = TopicSettings = lambda **settings: settings\n",
        "compose": f"def build_edition(*args, **kwargs):\n    open({str(marker)!r}, 'a').close()\n",
    }
    for name, text in modules.items():
        (other / "digest" / f"{name}.py").write_text(text)
    monkeypatch.chdir(BENCH.parent)
    monkeypatch.syspath_prepend(str(BENCH))
    compose_cost = importlib.import_module("compose_cost")
    compose_cost.timed(compose_cost.candidates(3), other)
    assert marker.exists()
