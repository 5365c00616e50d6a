"""The guides' examples work as written: a newcomer copies them, block by block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.servers import postgres_cluster

ROOT = Path(__file__).resolve().parents[1]
DIGEST = str(Path(sys.executable).parent / "digest")
_SHELL_FENCE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


# --- Running on several machines: the database and its role ------------------------------------

SEVERAL_MACHINES = ROOT / "docs/several-machines.md"
# A line the guide runs as PostgreSQL's superuser, with sudo or, as root, with runuser.
_AS_POSTGRES = re.compile(r"^(?:sudo -u postgres|runuser -u postgres --) (?P<command>.+)$")
_DATABASE_URL = re.compile(r"DIGEST_DATABASE_URL=(\S+)")


@dataclass(frozen=True)
class DatabaseSetup:
    """The superuser's commands of one shell block, and the URL the guide then gives digest."""

    commands: tuple[str, ...]
    url: str


def database_setups(text: str) -> Iterator[DatabaseSetup]:
    """Each shell block that makes the database and its role, with the first
    ``DIGEST_DATABASE_URL`` that block or a later one exports."""
    blocks = _SHELL_FENCE.findall(text)
    for index, block in enumerate(blocks):
        lines = [line.split("  #")[0].strip() for line in block.splitlines()]
        commands = [m.group("command") for line in lines if (m := _AS_POSTGRES.match(line))]
        if not commands:
            continue
        urls = [u for later in blocks[index:] for u in _DATABASE_URL.findall(later)]
        yield DatabaseSetup(tuple(commands), urls[0])


def test_the_guide_makes_the_database_and_its_role_before_the_first_upgrade() -> None:
    # The guide went from "install the postgres extra" to `digest db upgrade`: the role and the
    # database it names were never made, and the URL had no password, which a distribution's
    # PostgreSQL asks of every connection over TCP.
    text = SEVERAL_MACHINES.read_text(encoding="utf-8")
    setups = list(database_setups(text))
    assert len(setups) == 2  # the deployment, and the trial on one machine
    first_upgrade = text.index("digest db upgrade\n")
    assert text.index("CREATE ROLE") < first_upgrade and text.index("createdb") < first_upgrade
    for setup in setups:
        url = make_url(setup.url)
        assert url.password, setup.url
        made = " ".join(setup.commands)
        assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}'" in made
        assert f"createdb --owner {url.username} {url.database}" in made


@pytest.mark.parametrize("which", [0, 1], ids=["several-machines", "one-machine"])
def test_the_guides_database_commands_make_a_database_digest_upgrades(
    tmp_path: Path, which: int
) -> None:
    # Run as written against a cluster set up as a distribution's is: only the socket's postgres
    # gets in without a password, and TCP connections must give one.
    setup = list(database_setups(SEVERAL_MACHINES.read_text(encoding="utf-8")))[which]
    with postgres_cluster(
        superuser="postgres", local_auth="peer", host_auth="scram-sha-256"
    ) as server:
        port = make_url(server.url).port
        # The guide's commands reach the default socket; this cluster's is elsewhere.
        where = {"PGHOST": str(server.socket_folder), "PGPORT": str(port)}
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        for command in setup.commands:
            done = subprocess.run(
                [*as_postgres, "env", *(f"{k}={v}" for k, v in where.items()), "sh", "-c", command],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{command}: {done.stderr}"
        url = make_url(setup.url).set(host="127.0.0.1", port=port)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        upgrade = subprocess.run(
            [DIGEST, "--config", str(ROOT / "config/example.toml"), "db", "upgrade"],
            cwd=tmp_path,
            env={**environment, "DIGEST_DATABASE_URL": url.render_as_string(hide_password=False)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "Database at revision" in upgrade.stdout + upgrade.stderr
