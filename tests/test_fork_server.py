"""The fork server of the sending processes starts at the entry point when, and only when, the
command line will send in processes (``digest.fork_server``); the pool then forks from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.fork_server import command_and_config
from tests.service_cluster import config_text, sqlite_database


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["run", "--once"], ("run", None)),
        (["--config", "a.toml", "send", "daily"], ("send", Path("a.toml"))),
        (["-c", "a.toml", "run"], ("run", Path("a.toml"))),
        (["--config=a.toml", "run", "--list", "daily"], ("run", Path("a.toml"))),
        (["-ca.toml", "send", "daily", "--wait"], ("send", Path("a.toml"))),
        (["status"], ("status", None)),
        (["run", "--help"], None),
        (["--help"], None),
        (["--version"], None),
        (["--config"], None),
        ([], None),
    ],
)
def test_the_command_and_its_config_are_read_from_the_options_before_it(
    arguments: list[str], expected: tuple[str, Path | None] | None
) -> None:
    assert command_and_config(arguments) == expected


# Starts the fork server as the entry point does, then a pool process through the sending
# processes' own context; prints what started and which process the pool process came from.
PROBE = """
import json, os, sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from digest.fork_server import fork_context, start_early


def servers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == os.getpid() and b"multiprocessing.forkserver" in command:
            found.append(int(entry.name))
    return found


if __name__ == "__main__":
    started = start_early(sys.argv[1:], os.environ)
    early = servers()
    parent = None
    if started:
        with ProcessPoolExecutor(1, mp_context=fork_context()) as pool:
            parent = pool.submit(os.getppid).result()
    print(json.dumps({"started": started, "servers": early, "pool_parent": parent}))
"""


def probe(tmp_path: Path, *arguments: str, broker: str | None = None) -> dict[str, object]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    environment = {**os.environ, "DIGEST_SECRET_KEY": "fork-server-secret"}
    for name in ("DIGEST_BROKER_URL", "DIGEST_CONFIG", "DIGEST_DATABASE_URL"):
        environment.pop(name, None)
    if broker is not None:
        environment["DIGEST_BROKER_URL"] = broker
    done = subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_config(tmp_path: Path, *, smtp_port: int | None, connections: int) -> Path:
    (tmp_path / "members.csv").write_text("email,name\nreader@example.org,\n")
    config = tmp_path / "digest.toml"
    config.write_text(
        config_text(
            tmp_path,
            smtp_port,
            "http://127.0.0.1:9/wire.xml",
            service_extra=sqlite_database(tmp_path),
            connections=connections,
        )
    )
    return config


def test_a_run_on_two_connections_starts_the_server_its_pool_forks_from(tmp_path: Path) -> None:
    config = write_config(tmp_path, smtp_port=2525, connections=2)
    result = probe(tmp_path, "--config", str(config), "run", "--once")
    assert result["started"] is True
    assert isinstance(result["servers"], list) and len(result["servers"]) == 1
    # The sending processes come from that server, not from a second one started later.
    assert result["pool_parent"] == result["servers"][0]


@pytest.mark.parametrize(
    ("command", "smtp_port", "connections"),
    [
        (["status"], 2525, 2),  # sends nothing
        (["run", "--once"], 2525, 1),  # one connection: sends in the command's own process
        (["send", "daily"], None, 1),  # the outbox folder
    ],
)
def test_commands_that_send_in_no_process_start_no_server(
    tmp_path: Path, command: list[str], smtp_port: int | None, connections: int
) -> None:
    config = write_config(tmp_path, smtp_port=smtp_port, connections=connections)
    result = probe(tmp_path, "--config", str(config), *command)
    assert result == {"started": False, "servers": [], "pool_parent": None}


def test_the_distributed_mode_starts_no_server(tmp_path: Path) -> None:
    config = write_config(tmp_path, smtp_port=2525, connections=2)
    result = probe(
        tmp_path, "--config", str(config), "send", "daily", broker="redis://127.0.0.1:9/0"
    )
    assert result == {"started": False, "servers": [], "pool_parent": None}


def test_a_config_that_cannot_be_read_starts_nothing_and_the_command_says_why(
    tmp_path: Path,
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text("[smtp\n")
    assert probe(tmp_path, "--config", str(config), "run", "--once")["started"] is False
    digest = Path(sys.executable).parent / "digest"
    done = subprocess.run(
        [str(digest), "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "not valid TOML" in done.stderr
