"""No password or key reaches what the service prints: a run against real servers that ask for
them (PostgreSQL with a password, an SMTP server with AUTH), the secrets handed over as a
service manager hands them (systemd credentials), every output searched for every secret."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy.engine import make_url

from tests.feedserver import answer, feed_server
from tests.servers import SmtpSink, free_port, postgres_cluster
from tests.service_cluster import DIGEST, config_text, rss

PG_PASSWORD = "pg-Secr3t-4a1"
SMTP_PASSWORD = "smtp-Secr3t-7c2"
SECRET_KEY = "link-Secr3t-key-0123456789abcdef"
SECRETS = (PG_PASSWORD, SMTP_PASSWORD, SECRET_KEY)


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    accepted = data.login == b"desk" and data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=accepted, handled=False)  # refused: the server replies 535


@pytest.mark.integration
def test_no_secret_reaches_any_output_of_a_run_against_servers_that_ask_for_them(
    tmp_path: Path,
) -> None:
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(
        sink,
        hostname=sink.host,
        port=sink.port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        with (
            postgres_cluster(superuser="postgres", host_auth="scram-sha-256") as server,
            feed_server({"/wire.xml": answer(200, rss(datetime.now(UTC)))}) as feeds,
        ):
            port = make_url(server.url).port
            as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            where = ["-h", str(server.socket_folder), "-p", str(port)]
            statement = f"CREATE ROLE desk LOGIN PASSWORD '{PG_PASSWORD}'"
            for command in (
                ["psql", *where, "-c", statement],
                ["createdb", *where, "-O", "desk", "d"],
            ):
                subprocess.run([*as_postgres, *command], check=True, capture_output=True)
            said = _commands(tmp_path, port, sink.port, feeds.url("/wire.xml"))
    finally:
        controller.stop()
    assert len(sink.received) == 2, said  # the run sent, with the password from the credential
    for command, (_code, output) in said.items():
        assert [secret for secret in SECRETS if secret in output] == [], (command, output)
        assert "Traceback" not in output, (command, output)
    assert "refused the login of 'desk'" in said["export-person"][1]
    assert said["status with a refused password"][0] == 1
    assert (
        f"postgresql+psycopg://desk:***@127.0.0.1:{port}/d"
        in (said["status with a refused password"][1])
    )


def _commands(folder: Path, port: int, smtp_port: int, feed_url: str) -> dict[str, tuple[int, str]]:
    """Each command's exit code and output, run as a service manager runs them: the database
    URL, the SMTP password and the secret key in $CREDENTIALS_DIRECTORY."""
    (folder / "members.csv").write_text("email,name\nsam@example.org,Sam\nkim@example.org,Kim\n")
    config = folder / "digest.toml"
    config.write_text(
        config_text(
            folder,
            smtp_port,
            feed_url,
            smtp_extra='user = "desk"',
            list_extra="send_when_empty = true",
        )
    )
    credentials = folder / "credentials"
    credentials.mkdir(mode=0o700)
    url = f"postgresql+psycopg://desk:{PG_PASSWORD}@127.0.0.1:{port}/d"
    (credentials / "database_url").write_text(url + "\n")
    (credentials / "secret_key").write_text(SECRET_KEY + "\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environment |= {"CREDENTIALS_DIRECTORY": str(credentials), "COLUMNS": "200"}

    def run(*arguments: str) -> tuple[int, str]:
        done = subprocess.run(
            [DIGEST, "--config", str(config), *arguments],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    said = {"db upgrade": run("db", "upgrade"), "config check": run("config", "check")}
    (credentials / "smtp_password").write_text(SMTP_PASSWORD)
    said["run"] = run("run", "--once")
    (credentials / "smtp_password").write_text("not-" + SMTP_PASSWORD)
    said["send with a refused login"] = run("send", "daily")
    # The ledger keeps the refusal's reason, which an export of the person shows.
    said["export-person"] = run("subscribers", "export-person", "sam@example.org")
    for command in (["status"], ["status", "--json"], ["feeds", "--json"], ["schedule"]):
        said[" ".join(command)] = run(*command)
    (credentials / "database_url").write_text(url.replace(PG_PASSWORD, "not-" + PG_PASSWORD))
    said["status with a refused password"] = run("status")
    return said
