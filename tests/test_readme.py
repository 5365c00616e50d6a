"""The README is the front door: short, its two commands the ones the guides and CI run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shell_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)]


def test_the_readme_is_short_and_links_into_every_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 150
    linked = set(re.findall(r"\]\((docs/[a-z-]+\.md)\)", readme))
    guides = {
        f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md") if page.name != "index.md"
    }
    assert guides <= linked, guides - linked
    assert "docs/images/mail.png" in readme and (ROOT / "docs/images/mail.png").is_file()


def test_the_first_command_is_the_one_getting_started_follows() -> None:
    first = _shell_blocks(ROOT / "README.md")[0]
    assert first in _shell_blocks(ROOT / "docs/getting-started.md")
    assert "--config config/example.toml run --once" in first


def test_the_second_command_is_what_ci_runs() -> None:
    second = _shell_blocks(ROOT / "README.md")[1]
    assert second == "./scripts/test"
    assert "exec ./scripts/test" in (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "mkdocs build --strict" in (ROOT / "scripts/test").read_text(encoding="utf-8")
