"""The reference pages written from the code: every key and command described, none left out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from digest.cli import app as digest_app
from digest.config import ConfigFile
from digest.reference import commands_page, settings_page


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every scalar key of the config file, walked here independently of the generator."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        inner, repeated = settings_page._table_model(field.annotation)
        path = f"{prefix}{name}"
        if inner is None:
            found.add(path)
        else:
            found |= _leaf_paths(inner, f"{path}[]." if repeated else f"{path}.")
    return found


def test_every_config_key_has_a_description() -> None:
    assert settings_page.undocumented() == []


def test_a_key_without_a_description_is_caught() -> None:
    class Model(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        described: int = 1
        """A key with its description."""
        bare: int = 2

    class Root(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        thing: Model
        """A table."""

    assert settings_page.undocumented(Root) == ["thing.bare"]


def test_the_config_reference_has_a_row_for_every_key() -> None:
    page = settings_page.markdown()
    keys = _leaf_paths(ConfigFile)
    assert len(keys) > 70  # every table's keys, not just the top level
    for key in sorted(keys):
        assert f'<a id="{key}"></a>' in page, key
    # And nothing else: a row is written only for a key the models have.
    rows = {line.split('"')[1] for line in page.splitlines() if line.startswith('| <a id="')}
    assert rows == keys


def test_the_config_reference_says_type_default_bounds_and_description() -> None:
    page = settings_page.markdown()
    row = next(line for line in page.splitlines() if '<a id="smtp.port">' in line)
    assert "| integer | `587` | ≥ 1; ≤ 65,535 | The mail server's port. |" in row
    row = next(line for line in page.splitlines() if '<a id="lists[].schedule">' in line)
    assert "| string | required | a cron expression: minute hour" in row
    row = next(line for line in page.splitlines() if '<a id="smtp.tls">' in line)
    assert 'one of `"starttls"`, `"ssl"`, `"none"` | `"starttls"`' in row
    row = next(line for line in page.splitlines() if '<a id="lists[].topics">' in line)
    assert "list of string | required | not empty; lowercase ASCII letters, digits and '-'" in row
    assert "(`^[a-z0-9][a-z0-9-]{0,62}$`)" in row
    assert "## `[[lists]]` {#lists}" in page
    assert "## `[lists.utm]` {#lists.utm}" in page
    assert "## `[topics.rules]` {#topics.rules}" in page


def test_a_new_table_is_taken_in_without_an_edit() -> None:
    class WebSettings(BaseModel):
        """The web side."""

        model_config = ConfigDict(use_attribute_docstrings=True)
        port: Annotated[int, Field(ge=1, le=65535)] = 8000
        """Where it listens."""
        origins: list[str] = []
        """Where forms may be posted from."""

    class Root(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)
        web: WebSettings | None = None
        """The web side."""

    [table] = settings_page.tables(Root)
    assert (table.header, table.presence) == ("[web]", "Optional.")
    assert table.keys[0] == settings_page.Key(
        path="web.port",
        name="port",
        type="integer",
        default="`8000`",
        bounds="≥ 1; ≤ 65,535",
        description="Where it listens.",
    )
    assert (table.keys[1].type, table.keys[1].default) == ("list of string", "`[]`")


def test_every_environment_variable_is_described() -> None:
    names = {variable.name: variable.description for variable in settings_page.variables()}
    assert {"DIGEST_CONFIG", "DIGEST_SECRET_KEY", "DIGEST_DATABASE_URL"} <= set(names)
    assert all(names.values())


def test_every_command_and_option_has_help() -> None:
    assert commands_page.undocumented() == []


# What a help screen must not show: a type in angle brackets ("<str>", "<int range>", "<bool>"),
# braces round an argument in the usage line ("{LIST}"), or words standing in for help.
_HELP_NOISE = re.compile(r"<[a-z][a-z ,|\[\]]*>|\{[A-Za-z_.]+\}|\b(?:TODO|FIXME|XXX|TBD)\b")
_ROW = re.compile(r"^│ (?:\* )?\s*(-[-\w]+|[A-Z][\w.]*)(?:,? -\w)?\s+(.*?)\s*│$")


def help_problems(path: str, screen: str) -> list[str]:
    """What ``--help`` of ``path`` lacks or shows in the way: no description under its usage
    line, an option or argument row with nothing said of it, noise."""
    problems = [f"{path}: {noise!r}" for noise in _HELP_NOISE.findall(screen)]
    lines = [line.rstrip() for line in screen.splitlines()]
    usage = next(index for index, line in enumerate(lines) if line.strip().startswith("Usage:"))
    description = next((line for line in lines[usage + 1 :] if line.strip()), "")
    if not description.strip() or description.lstrip().startswith("╭"):
        problems.append(f"{path}: no description")
    in_parameters = False
    for line in lines:
        if line.startswith("╭"):
            in_parameters = "Options" in line or "Arguments" in line
        elif in_parameters and (row := _ROW.match(line)) and not re.search(r"[a-z]{3,}", row[2]):
            problems.append(f"{path} {row.group(1)}: no help ({line.strip()!r})")
    return problems


def test_every_help_screen_says_what_the_command_and_each_option_does() -> None:
    # `digest serve --help` read "--host <str>", `digest topics suggest --help` "{TOPIC}" and
    # "TOPIC <str>": a type name in brackets where the reader needs a word to type.
    problems = []
    for command in commands_page.commands():
        words = command.path.split()[1:]
        result = CliRunner().invoke(digest_app, [*words, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        problems += help_problems(command.path, result.stdout)
    assert problems == []


def test_a_help_screen_with_noise_or_without_help_is_caught() -> None:
    screen = (
        " Usage: digest serve [OPTIONS] {LIST}\n\n Serve the pages.\n\n"
        "╭─ Options ──╮\n│ --host   <str>  Address to listen on.  │\n"
        "│ --port   PORT                   │\n╰────╯\n"
    )
    assert help_problems("digest serve", screen) == [
        "digest serve: '{LIST}'",
        "digest serve: '<str>'",
        "digest serve --port: no help ('│ --port   PORT                   │')",
    ]
    bare = " Usage: digest db [OPTIONS]\n\n╭─ Options ──╮\n│ --help  Show this.  │\n╰──╯\n"
    assert help_problems("digest db", bare) == ["digest db: no description"]


def test_a_command_without_help_is_caught() -> None:
    app = typer.Typer()

    @app.command()
    def told(count: Annotated[int, typer.Option(help="How many.")] = 1) -> None:
        """A command with help."""

    @app.command()
    def untold(count: Annotated[int, typer.Option()] = 1) -> None:
        pass

    missing = commands_page.undocumented(app)
    assert "digest untold" in missing
    assert any(item.startswith("digest untold --count") for item in missing)
    assert not any("told " in item and "untold" not in item for item in missing)


def test_the_command_reference_has_a_section_for_every_command() -> None:
    page = commands_page.markdown()
    paths = [command.path for command in commands_page.commands()]
    assert {"digest run", "digest feeds import", "digest db upgrade", "digest worker"} <= set(paths)
    for path in paths:
        assert f"## `{path}` {{#{commands_page.anchor(path)}}}" in page
    preview = page.split("## `digest preview`")[1].split("\n## ")[0]
    assert "| `--png` | Also screenshot it in Chromium" in preview
    assert "| `LIST` | The list's slug. [required] |" in preview


ROOT = Path(__file__).resolve().parents[1]


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``project`` (its mkdocs.yml and docs/) into ``site``."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copytree(ROOT / "scripts", project / "scripts")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    return project


def test_the_built_site_has_every_key_and_command(tmp_path: Path) -> None:
    result = _build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    config_page = (tmp_path / "site/reference/configuration/index.html").read_text()
    for key in _leaf_paths(ConfigFile):
        assert f'id="{key}"' in config_page, key
    commands = (tmp_path / "site/reference/commands/index.html").read_text()
    for command in commands_page.commands():
        assert f'id="{commands_page.anchor(command.path)}"' in commands, command.path


def test_a_broken_link_or_anchor_or_a_page_left_out_fails_the_build(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    index = project / "docs/index.md"
    original = index.read_text()
    for breakage, complaint in (
        ("[gone](no-such-page.md)", "no-such-page.md"),
        ("[gone](reference/configuration.md#smtp.no_such_key)", "smtp.no_such_key"),
        ("[gone](getting-started.md#no-such-heading)", "no-such-heading"),
    ):
        index.write_text(original + "\n" + breakage + "\n")
        result = _build(project, tmp_path / "site")
        assert result.returncode != 0, breakage
        assert complaint in result.stderr
    index.write_text(original)
    (project / "docs/orphan.md").write_text("# Not in the nav\n")
    result = _build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "orphan.md" in result.stderr


# What the guides and the README say must exist: every key path and command they name.
_DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_SHELL_FENCE = re.compile(r"^```(?:sh|bash|console|shell)\n(.*?)^```", re.S | re.M)
_TEXT_FENCE = re.compile(r"^```text\n(.*?)^```", re.S | re.M)
_COMMAND = re.compile(r"(?:^|(?<=[\s/(]))digest((?:[ \t]+[^\s]+)*)")
_SHELL_STOP = {"&&", "||", "|", ";", "#", "\\", ">", "<", "2>&1"}


def _mentions(text: str) -> tuple[list[str], list[str]]:
    """The code spans of a Markdown text, and the lines of its shell blocks, with the commands
    typed at a prompt in its text blocks (``$ digest …`` before the output it shows)."""
    shell = [line for block in _SHELL_FENCE.findall(text) for line in block.splitlines()]
    shell += [
        line.removeprefix("$ ")
        for block in _TEXT_FENCE.findall(text)
        for line in block.splitlines()
        if line.startswith("$ ")
    ]
    without_fences = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return _CODE_SPAN.findall(without_fences), shell


def _key_problem(span: str, tables: set[str], paths: set[str]) -> str | None:
    match = re.fullmatch(r"([a-z_]+)((?:\[[^\]]*\])?(?:\.[a-z_]+)+)", span)
    if match is None or match.group(1) not in tables:
        return None
    dotted = re.sub(r"\[[^\]]*\]", "", span)
    return None if dotted in paths else f"no config key {span!r}"


def _command_problem(words: list[str], root: Any) -> str | None:
    """Walks ``digest WORDS…`` down the command tree: a word or option it lacks is a problem."""
    command, path, arguments = root, "digest", False
    index = 0
    while index < len(words):
        word = words[index]
        if word in _SHELL_STOP or word.startswith("#"):
            break
        if word.startswith("-") and len(word) > 1:
            name = word.split("=")[0]
            option = next(
                (p for p in command.params if name in (*p.opts, *getattr(p, "secondary_opts", []))),
                None,
            )
            if option is None and name != "--help":
                return f"{path} has no option {name}"
            if option is not None and not option.is_flag and "=" not in word:
                index += 1  # its value
        elif not arguments and word in getattr(command, "commands", {}):
            command = command.commands[word]
            path = f"{path} {word}"
        elif not arguments and hasattr(command, "commands") and re.fullmatch(r"[a-z][a-z-]+", word):
            if not command.params or not getattr(command, "invoke_without_command", False):
                return f"{path} has no command {word!r}"
            arguments = True
        else:
            arguments = True  # a leaf's arguments; options may still follow
        index += 1
    return None


def _problems_in(text: str) -> list[str]:
    tables = set(ConfigFile.model_fields)
    paths = settings_page.key_paths()
    root = typer.main.get_command(digest_app)
    spans, shell = _mentions(text)
    problems = [p for span in spans if (p := _key_problem(span.strip(), tables, paths))]
    for line in [*spans, *shell]:
        for match in _COMMAND.finditer(line):
            # A synopsis brackets what is optional: "[--days 7]" names the option --days.
            words = match.group(1).replace("[", " ").replace("]", " ").split()
            if (problem := _command_problem(words, root)) is not None:
                problems.append(f"{problem} (in {line.strip()!r})")
    return problems


def test_the_guides_name_only_keys_and_commands_that_exist() -> None:
    assert len(_DOCUMENTS) > 10
    problems = {
        str(path.relative_to(ROOT)): found
        for path in _DOCUMENTS
        if (found := _problems_in(path.read_text(encoding="utf-8")))
    }
    assert problems == {}


def test_a_key_or_command_that_no_longer_exists_is_caught() -> None:
    text = (
        "Set `smtp.connections` and `lists[daily].schedule`; `smtp.speed` is gone.\n"
        "Run `digest run --once`, `digest feeds import theirs.opml --write` and `digest launch`.\n"
        "```sh\n.venv/bin/digest --config x.toml run --twice && echo done\n```\n"
        "Synopsis: `digest topics suggest TOPIC [--days 7] [--dayz 7]`.\n"
        "```text\n$ digest poll --quickly\nPolled 3 feeds\n```\n"
    )
    assert _problems_in(text) == [
        "no config key 'smtp.speed'",
        "digest has no command 'launch' (in 'digest launch')",
        "digest topics suggest has no option --dayz (in 'digest topics suggest TOPIC [--days 7] "
        "[--dayz 7]')",
        "digest run has no option --twice (in '.venv/bin/digest --config x.toml run --twice "
        "&& echo done')",
        "digest poll has no option --quickly (in 'digest poll --quickly')",
    ]


_METRIC = re.compile(r"\bdigest_[a-z_]+\b")


def unknown_metrics(text: str) -> set[str]:
    """The metric names ``text`` writes that no metric of digest.metrics is exposed as."""
    from digest.metrics import ALL
    from digest.reference import metrics_page

    exposed = {name for spec in ALL for name in metrics_page.exposed_names(spec)}
    exposed |= {spec.name for spec in ALL}
    return set(_METRIC.findall(text)) - exposed


def test_every_metric_is_in_the_metrics_reference() -> None:
    from digest.metrics import ALL
    from digest.reference import metrics_page

    page = metrics_page.markdown()
    for spec in ALL:
        assert spec.help in page.replace("\\|", "|")
        for name in metrics_page.exposed_names(spec):
            assert f"`{name}`" in page


def test_the_guides_name_only_metrics_that_exist() -> None:
    for document in _DOCUMENTS:
        gone = unknown_metrics(document.read_text(encoding="utf-8"))
        assert not gone, f"{document.relative_to(ROOT)} names metrics that do not exist: {gone}"


def test_a_metric_that_no_longer_exists_is_caught() -> None:
    text = "Watch `digest_deliveries_total`, `digest_task_seconds_count` and `digest_pixels_total`."
    assert unknown_metrics(text) == {"digest_pixels_total"}
