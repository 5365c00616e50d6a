"""The systemd units of docs/systemd.md work as written: systemd reads them, their commands exist
and their flags parse, they hand over credentials digest reads, and their stop bounds fit."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app
from digest.cli.boundary import EXIT_INVALID_CONFIG
from digest.config.mail import SmtpSettings
from digest.config.secret_files import FILE_VARIABLES, credential_name
from digest.config.service import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs/systemd.md"
INSTALLED = "/opt/digest/bin/digest"
_UNIT = re.compile(r"```ini\n# /etc/systemd/system/(\S+)[^\n]*\n(.*?)```", re.DOTALL)


def units() -> dict[str, str]:
    return dict(_UNIT.findall(PAGE.read_text(encoding="utf-8")))


def settings(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def command(unit: str) -> list[str]:
    [exec_start] = settings(unit)["ExecStart"]
    program, *arguments = shlex.split(exec_start)
    assert program == INSTALLED
    return arguments


def test_the_page_has_a_unit_for_each_long_running_command() -> None:
    found = {name: command(unit)[0] for name, unit in units().items()}
    assert found == {
        "digest-run.service": "run",
        "digest-beat.service": "beat",
        "digest-worker.service": "worker",
        "digest-serve.service": "serve",
    }


def test_systemd_reads_every_unit_without_a_complaint(tmp_path: Path) -> None:
    digest = Path(sys.executable).parent / "digest"
    assert digest.exists()
    for name, unit in units().items():
        path = tmp_path / name
        path.write_text(unit.replace(INSTALLED, str(digest)))
        verified = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
        )
        assert (name, verified.returncode, verified.stdout + verified.stderr) == (name, 0, "")


def test_each_units_command_and_flags_parse() -> None:
    for unit in units().values():
        result = CliRunner().invoke(app, [*command(unit), "--help"])
        assert result.exit_code == 0, result.output


def test_the_units_hand_over_only_credentials_digest_reads() -> None:
    readable = {credential_name(variable) for variable in FILE_VARIABLES}
    for unit in units().values():
        for credential in settings(unit).get("LoadCredential", []):
            assert credential.split(":", 1)[0] in readable


def test_the_units_stop_bounds_and_restarts_fit_the_commands() -> None:
    found = {name: settings(unit) for name, unit in units().items()}
    # A worker finishes the batch in hand on SIGTERM: systemd must not kill it sooner.
    worker = found["digest-worker.service"]
    assert int(worker["TimeoutStopSec"][0]) > WorkerSettings().batch_hard_time_limit_seconds
    # A run waits for a reply on its way, at most smtp.timeout_seconds.
    run = found["digest-run.service"]
    assert int(run["TimeoutStopSec"][0]) > SmtpSettings(host="smtp.example.org").timeout_seconds
    for name, unit in found.items():
        # A configuration that cannot run is not restarted over and over.
        assert unit["RestartPreventExitStatus"] == [str(EXIT_INVALID_CONFIG)], name
        assert unit["KillMode"] == ["mixed"], name
        # SIGHUP starts beat and a worker again; it would end run and serve.
        reloads = "ExecReload" in unit
        assert reloads == (command(units()[name])[0] in {"beat", "worker"}), name
