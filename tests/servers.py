"""Real servers for tests, started on loopback on free ports and stopped by process id."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install -y postgresql)")
    return str(candidates[-1])


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL cluster that a test may restart (same port, same data)."""

    url: str  # SQLAlchemy URL of its ``postgres`` database
    _start: list[str]
    _stop: list[str]
    socket_folder: Path  # where its Unix socket is: PGHOST for psql and the other clients

    def stop(self) -> None:
        """Stop it now, as a crash would: connections are cut, no checkpoint."""
        subprocess.run([*self._stop], check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run([*self._start], check=True, capture_output=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        status = [*self._stop[: self._stop.index("-D") + 2], "status"]
        return subprocess.run(status, check=False, capture_output=True).returncode == 0

    def log_tail(self, lines: int = 40) -> str:
        log = self.socket_folder / "log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields a SQLAlchemy URL of its ``postgres`` database.

    Nothing stops this one on purpose (tests that restart a server make their own), so a
    server found gone at the end died under the tests that used it: the error carries the
    end of its log, which is deleted with the cluster, to say why."""
    with postgres_cluster() as server:
        yield server.url
        if not server.running():
            raise RuntimeError(
                f"the tests' PostgreSQL server ({server.url}) stopped while they ran; "
                f"the end of its log:\n{server.log_tail()}"
            )


@contextmanager
def postgres_cluster(
    *, superuser: str = "digest", local_auth: str = "trust", host_auth: str = "trust"
) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster, as a ``PostgresServer`` that can be restarted.

    By default its superuser is ``digest`` and every connection is trusted. A distribution's
    own cluster is ``superuser="postgres", local_auth="peer", host_auth="scram-sha-256"``: the
    socket's ``postgres`` only, and a password over TCP. Its socket is in ``server.socket_folder``.
    """
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, user="postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    subprocess.run(
        [
            *as_postgres,
            _postgres_binary("initdb"),
            *("-D", str(data), "-U", superuser),
            *(f"--auth-local={local_auth}", f"--auth-host={host_auth}"),
        ],
        check=True,
        capture_output=True,
    )
    pg_ctl = [*as_postgres, _postgres_binary("pg_ctl"), "-D", str(data)]
    options = f"-p {port} -k {folder} -h 127.0.0.1 -c fsync=off"
    server = PostgresServer(
        f"postgresql+psycopg://{superuser}@127.0.0.1:{port}/postgres",
        [*pg_ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"],
        [*pg_ctl, "-m", "immediate", "-w", "stop"],
        folder,
    )
    server.start()
    try:
        yield server
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def pgbouncer(postgres_url: str, pool_mode: str = "transaction") -> Iterator[str]:
    """PgBouncer in ``pool_mode`` on a free loopback port in front of the PostgreSQL of
    ``postgres_url`` (trusted, as the tests' clusters are), stopped by its process id at the
    end; yields ``postgres_url`` with its host and port changed to PgBouncer's."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise RuntimeError("pgbouncer is not installed (apt-get install -y pgbouncer)")
    target = make_url(postgres_url)
    folder, port = Path(tempfile.mkdtemp(prefix="digest-pgbouncer-")), free_port()
    (folder / "users.txt").write_text(f'"{target.username}" ""\n', encoding="utf-8")
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={target.host} port={target.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = {pool_mode}\nlogfile = {folder / 'log'}\n",
        encoding="utf-8",
    )
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(folder, user="postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    process = subprocess.Popen(
        [*as_postgres, binary, str(folder / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # ready once it accepts a connection
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = folder / "log"
                    said = log.read_text(errors="replace") if log.exists() else ""
                    raise RuntimeError(f"pgbouncer did not start on {port}: {said}") from None
                time.sleep(0.05)
        yield target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # runuser's group, PgBouncer in it
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message_id(self) -> str:
        """The Message-ID header's value ("" when it has none): a copy sent again carries the
        same one."""
        head = self.data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        return found.group(1).decode("ascii", "replace") if found else ""


@dataclass
class SmtpSink:
    """An aiosmtpd server on loopback that keeps every message it accepts."""

    host: str
    port: int
    received: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), content)
        )
        return "250 OK"


@contextmanager
def smtp_server(sink: SmtpSink | None = None) -> Iterator[SmtpSink]:
    """``sink`` (a recording SmtpSink on a free port when None) served on loopback."""
    sink = sink or SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


class RedisServer:
    """A throwaway redis-server on loopback, nothing saved to disk, that a test may restart on
    the same port (it comes back empty: no queue, no keys); ``options`` are more of
    redis-server's own ("--maxmemory-policy", "allkeys-lru")."""

    def __init__(self, *options: str, tls: tuple[Path, Path] | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.folder, self.port = Path(tempfile.mkdtemp(prefix="digest-redis-")), free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        listen = ["--port", str(self.port)]
        if tls is not None:  # (certificate, key): TLS only, clients not asked for theirs
            certificate, key = (str(path) for path in tls)
            self.url = f"rediss://127.0.0.1:{self.port}/0?ssl_cert_reqs=required"
            listen = [
                "--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no",
                "--tls-cert-file", certificate, "--tls-key-file", key,
                "--tls-ca-cert-file", certificate,
            ]  # fmt: skip
        self._command = [
            binary, *listen, "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", *options,
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        process = self._process = subprocess.Popen(
            self._command, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while True:  # ready once it accepts a connection
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """Stop answering, its connections left open (SIGSTOP): a machine paused, a network
        dropping packets. ``resume`` ends it."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)


@contextmanager
def redis_cluster(*options: str, tls: tuple[Path, Path] | None = None) -> Iterator[RedisServer]:
    """A ``RedisServer`` (with redis-server's ``options``; with ``tls``, its certificate and
    key, on TLS alone), started, stopped by its process id at the end."""
    server = RedisServer(*options, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@contextmanager
def redis_server(*options: str) -> Iterator[str]:
    """A throwaway redis-server on loopback, nothing saved to disk (with redis-server's
    ``options``); yields its URL."""
    with redis_cluster(*options) as server:
        yield server.url
