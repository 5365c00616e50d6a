"""``digest worker`` and ``digest beat`` refuse to start without a broker, saying what to set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from digest.shown import without_password
from tests.servers import free_port, redis_cluster, redis_server
from tests.service_cluster import (
    config_text,
    process,
    sqlite_database,
    wait_for,
    write_members,
)

DIGEST = Path(sys.executable).parent / "digest"
CONFIG = Path(__file__).resolve().parent.parent / "config" / "example.toml"


def _digest(
    config: Path, environ: dict[str, str], cwd: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    """``digest --config CONFIG COMMAND`` as an operator runs it, in ``environ``."""
    return subprocess.run(
        [str(DIGEST), "--config", str(config), *command],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_worker_and_beat_refuse_to_start_without_a_broker(command: str, tmp_path: Path) -> None:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    done = _digest(CONFIG, environ, tmp_path, command)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "DIGEST_BROKER_URL" in lines[0] and "service.broker_url" in lines[0]
    assert f"digest {command} needs a broker" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_worker_with_a_broken_config_exits_2_naming_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    text = CONFIG.read_text(encoding="utf-8")
    config.write_text(text + '\n[smtp]\nhost = "127.0.0.1"\nport = "not a port"\n')
    environ = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    environ["DIGEST_BROKER_URL"] = "redis://127.0.0.1:1/0"  # never reached: the config is first
    done = _digest(config, environ, tmp_path, "worker")
    assert done.returncode == 2, done.stderr
    assert str(config) in done.stderr and "smtp.port" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["status"], ["send", "daily", "--wait"], ["worker"]])
def test_a_broker_url_that_is_no_redis_url_is_refused_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    # `digest status` and `digest send` ended in a traceback of redis-py's URL parser.
    done = _cycle(tmp_path, "amqp://guest:hunter2@127.0.0.1:5672//", command)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert (
        "service.broker_url (set by DIGEST_BROKER_URL): the distributed mode runs on Redis, "
        "not 'amqp'" in " ".join(done.stderr.split())
    )


@pytest.mark.parametrize("queues", ["digets", "", "digest,bulk"])
def test_a_worker_on_a_queue_nothing_is_sent_to_is_refused(queues: str, tmp_path: Path) -> None:
    # It started and sat idle, answering pings: `digest send --wait` counted it as a worker and
    # followed a delivery whose batches waited in the 'digest' queue for ever.
    with redis_server() as broker:
        config, environ = _distributed(tmp_path, broker)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        done = _digest(config, environ, tmp_path, "worker", "--queues", queues)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"digest worker --queues {queues!r}: no task is ever sent to" in line
    assert "every task goes to the 'digest' queue" in line


def _distributed(tmp_path: Path, broker: str) -> tuple[Path, dict[str, str]]:
    """A config of one list on an SQLite database, and an environment naming ``broker``."""
    write_members(tmp_path, 1)
    config = tmp_path / "digest.toml"
    text = config_text(
        tmp_path, None, "http://127.0.0.1:9/wire.xml", service_extra=sqlite_database(tmp_path)
    )
    config.write_text(text)
    environ = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    environ["DIGEST_BROKER_URL"] = broker
    return config, environ


@pytest.mark.parametrize(
    ("command", "spoilt", "reason"),
    [
        (
            "worker",
            lambda url: url.replace("redis://", "redis://:hunter2@"),
            "AUTH <password> called without any password configured",
        ),
        ("beat", lambda url: url.rsplit("/", 1)[0] + "/99", "DB index is out of range"),
    ],
)
def test_worker_and_beat_on_a_broker_that_refuses_the_url_say_so_and_stop(
    command: str, spoilt: Callable[[str], str], reason: str, tmp_path: Path
) -> None:
    # They retried the connection for ever, a log line each time, where no wait could help.
    with redis_server() as broker:
        config, environ = _distributed(tmp_path, spoilt(broker))
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        done = _digest(config, environ, tmp_path, command)
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert (
        f"error: the broker {without_password(spoilt(broker))} refuses this URL: {reason}" in line
    )
    assert "service.broker_url (or DIGEST_BROKER_URL)" in line and "hunter2" not in line


@pytest.mark.parametrize("interval", ["1e12", "inf"])
def test_beat_refuses_an_interval_past_a_day_as_a_usage_error(
    interval: str, tmp_path: Path
) -> None:
    # Celery's scheduler added it to a date: beat ended in an OverflowError traceback.
    config, environ = _distributed(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    done = _digest(config, environ, tmp_path, "beat", "--interval", interval)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "Invalid value for '--interval'" in done.stderr
    assert "less than or equal to 86400" in done.stderr


@pytest.mark.parametrize("concurrency", ["257", "100000"])
def test_worker_refuses_an_absurd_concurrency_as_a_usage_error(
    concurrency: str, tmp_path: Path
) -> None:
    # It set about forking that many pool processes. Refused by the option parser, before the
    # config, the database or the broker is read (here, a database never upgraded).
    config, environ = _distributed(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    done = _digest(config, environ, tmp_path, "worker", "--concurrency", concurrency)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    said = " ".join(done.stderr.replace("│", " ").split())  # rich's error box, unwrapped
    assert "Invalid value for '--concurrency' / '-c'" in said
    assert "less than or equal to 256" in said


def _cycle(tmp_path: Path, broker: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    """``digest COMMAND`` run as an operator would, in the distributed mode on ``broker``."""
    config, environ = _distributed(tmp_path, broker)
    return _digest(config, environ, tmp_path, *command)


@pytest.mark.parametrize("command", [["poll"], ["run", "--once"]])
def test_a_cycle_for_the_workers_with_the_broker_down_says_so_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    done = _cycle(tmp_path, down, command)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert down in line and "DIGEST_BROKER_URL" in line


@pytest.mark.parametrize("command", [["poll"], ["run", "--once"]])
def test_a_cycle_for_the_workers_with_no_worker_up_says_so_instead_of_waiting(
    command: list[str], tmp_path: Path
) -> None:
    with redis_server() as broker:
        done = _cycle(tmp_path, broker, command)
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "no digest worker answers" in line and "DIGEST_BROKER_URL" in line


# Every command that opens the store, with what it needs besides the database: `send` hands
# its batches to the broker, so it needs one that answers (no worker: they wait in the queue).
OPENING_THE_STORE = [
    ["status"],
    ["feeds"],
    ["subscribers", "list"],
    ["preview", "daily"],
    ["serve", "--port", "0"],
    ["inbound", "--port", str(free_port())],
    ["send", "daily"],
]


def test_in_the_distributed_mode_only_db_upgrade_upgrades_an_older_database(
    tmp_path: Path, database_url: str
) -> None:
    # `digest status` from a freshly updated laptop migrated the shared database, under the
    # workers of the older release still running on it.
    from digest.store.db import create_database_engine
    from digest.store.upgrades import head_revision, stored_revision, upgrade

    engine = create_database_engine(database_url)
    upgrade(engine, "0006")
    with redis_server() as broker:
        config, environ = _distributed(tmp_path, broker)
        config.write_text(config.read_text().replace(sqlite_database(tmp_path), ""))
        environ |= {"DIGEST_DATABASE_URL": database_url, "COLUMNS": "200"}
        for command in OPENING_THE_STORE:
            done = _digest(config, environ, tmp_path, *command)
            said = " ".join(done.stderr.split())
            assert done.returncode == 1, (command, done.stdout, said)
            assert "Traceback" not in said, (command, said)
            assert (
                f"has schema 0006, this code needs {head_revision()}: run `digest db upgrade` once"
            ) in said, (command, said)
            assert stored_revision(engine) == "0006", command
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert stored_revision(engine) == head_revision()
        status = _digest(config, environ, tmp_path, "status")
        assert status.returncode == 0, status.stderr
    engine.dispose()


def test_in_the_embedded_mode_a_command_still_upgrades_an_older_database(tmp_path: Path) -> None:
    from digest.store.db import create_database_engine
    from digest.store.upgrades import head_revision, stored_revision, upgrade

    config, environ = _distributed(tmp_path, "")
    del environ["DIGEST_BROKER_URL"]
    engine = create_database_engine(f"sqlite:///{tmp_path}/digest.db")
    upgrade(engine, "0006")
    done = _digest(config, environ, tmp_path, "status")
    assert done.returncode == 0, done.stderr
    assert stored_revision(engine) == head_revision()
    engine.dispose()


# A broker with a memory limit that drops keys to stay under it, as a cache would be set up.
EVICTING = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")


def test_a_broker_that_evicts_keys_is_warned_of_by_status_worker_and_beat(tmp_path: Path) -> None:
    # A full Redis set up as a cache drops keys to make room: a task waiting in the queue, a
    # sign-up with it, a lease (its work handed out again). Nothing said so.
    logs: dict[str, str] = {}
    with redis_server(*EVICTING) as broker:
        config, environ = _distributed(tmp_path, broker)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        shown = _digest(config, environ, tmp_path, "status")
        as_json = _digest(config, environ, tmp_path, "status", "--json")
        for command in ("worker", "beat"):
            log = tmp_path / f"{command}.log"
            with process([str(DIGEST), "--config", str(config), command], environ, log):
                wait_for(
                    lambda log=log: "maxmemory-policy" in log.read_text(errors="replace"),
                    f"digest {command}'s warning",
                    timeout=30,
                )
            logs[command] = " ".join(log.read_text(errors="replace").split())
    warning = (
        f"warning: the broker {broker} evicts keys when its memory is full (maxmemory-policy "
        "allkeys-lru): a task waiting in the queue, a sign-up or a lease may vanish; set "
        "maxmemory-policy noeviction"
    )
    assert shown.returncode == 0, shown.stderr
    assert warning in " ".join(shown.stderr.split())
    assert json.loads(as_json.stdout)["service"]["eviction_policy"] == "allkeys-lru"
    for command, logged in logs.items():
        assert warning in logged, command


def test_a_broker_that_keeps_its_keys_is_not_warned_of(tmp_path: Path) -> None:
    with redis_server("--maxmemory", "64mb") as broker:  # noeviction: Redis's own default
        config, environ = _distributed(tmp_path, broker)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        shown = _digest(config, environ, tmp_path, "status")
        as_json = _digest(config, environ, tmp_path, "status", "--json")
    assert shown.returncode == 0 and "maxmemory-policy" not in shown.stderr, shown.stderr
    assert json.loads(as_json.stdout)["service"]["eviction_policy"] is None


def _ticks_sent(log: Path) -> int:
    return log.read_text(errors="replace").count("Sending due task digest-tick")


def test_beat_given_sighup_starts_again_and_goes_on_ticking(tmp_path: Path) -> None:
    # A service manager's reload (ExecReload=kill -HUP) or a closed session ended beat there
    # and then, without a word, its scratch folder left behind: no tick, so nothing due was
    # handed out, until someone noticed.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with redis_server() as broker:
        config, environ = _distributed(tmp_path, broker)
        environ["TMPDIR"] = str(scratch)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        log = tmp_path / "beat.log"
        command = [str(DIGEST), "--config", str(config), "beat", "--interval", "1"]
        with process(command, environ, log) as beat:
            wait_for(lambda: _ticks_sent(log) >= 1, "beat's first tick", timeout=30)
            beat.send_signal(signal.SIGHUP)
            wait_for(lambda: "beat: Starting..." in log.read_text().split("SIGHUP")[-1], "a start")
            before = _ticks_sent(log)
            wait_for(lambda: _ticks_sent(log) >= before + 2, "ticks after SIGHUP", timeout=30)
            alive = beat.poll() is None
            folders = list(scratch.glob("digest-beat-*"))
    said = " ".join(log.read_text(errors="replace").split())
    assert alive, said[-2000:]
    assert "beat: SIGHUP: starting again" in said
    # Nothing on disk to leave behind: a beat killed before its handlers were in place left
    # a folder in /tmp at each start.
    assert folders == []
    assert "Traceback" not in said


def _run_on_an_upgraded_database(
    tmp_path: Path, broker: str, command: list[str]
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``digest COMMAND`` with ``broker``, its database upgraded first; with what it said on
    one line (status's table too)."""
    config, environ = _distributed(tmp_path, broker)
    environ["COLUMNS"] = "300"
    upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    done = _digest(config, environ, tmp_path, *command)
    return done, " ".join((done.stdout + done.stderr).split())


@pytest.mark.parametrize("command", [["status"], ["send", "daily"], ["poll"]])
def test_a_broker_that_refuses_the_password_is_said_to_refuse_it_not_to_be_silent(
    command: list[str], tmp_path: Path
) -> None:
    # A Redis that answered "invalid username-password pair" was said not to answer, and the
    # operator was sent to check that Redis runs, where only a corrected password could help.
    with redis_server("--requirepass", "the-right-one") as broker:
        spoilt = broker.replace("redis://", "redis://:hunter2@")
        done, said = _run_on_an_upgraded_database(tmp_path, spoilt, command)
    assert f"the broker {without_password(spoilt)} refuses this URL: " in said, said
    assert "invalid username-password pair" in said and "does not answer" not in said
    assert "hunter2" not in said and "Traceback" not in said
    assert done.returncode == (0 if command == ["status"] else 1), said


@pytest.mark.parametrize("command", [["status"], ["poll"], ["send", "daily", "--wait"]])
def test_a_broker_user_refused_publish_is_told_what_to_allow_not_a_traceback(
    command: list[str], tmp_path: Path
) -> None:
    # Asking the workers whether they answer publishes to them all: a Redis ACL user made
    # without +publish ended status, poll, run and send --wait in kombu's traceback.
    acl = ("--user", "newsroom", "on", ">the-pass", "~*", "&*", "+@all", "-publish")
    with redis_cluster(*acl) as broker:
        url = f"redis://newsroom:the-pass@127.0.0.1:{broker.port}/0"
        done, said = _run_on_an_upgraded_database(tmp_path, url, command)
    assert (
        f"the broker {without_password(url)} refuses a command digest needs: this user has no "
        "permissions to run the 'publish' command; allow it to the URL's user in Redis's ACL"
    ) in said, said
    assert "the-pass" not in said and "Traceback" not in said
    assert done.returncode == (0 if command == ["status"] else 1), said


@pytest.mark.parametrize("denied", ["brpop"])
def test_a_worker_whose_broker_user_lacks_a_command_stops_saying_what_to_allow(
    denied: str, tmp_path: Path
) -> None:
    # Its consumer met Redis's "no permissions" and started again, some five times a second
    # for ever, each time "Connection to broker lost" and a page of warnings that named
    # neither the command nor what to allow; no restart could mend it.
    acl = ("--user", "newsroom", "on", ">the-pass", "~*", "&*", "+@all", f"-{denied}")
    with redis_cluster(*acl) as broker:
        url = f"redis://newsroom:the-pass@127.0.0.1:{broker.port}/0"
        config, environ = _distributed(tmp_path, url)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        log = tmp_path / "worker.log"
        command = [str(DIGEST), "--config", str(config), "worker", "--concurrency", "1"]
        with process(command, environ, log) as worker:
            wait_for(lambda: worker.poll() is not None, "the worker to stop", timeout=30)
    logged = log.read_text(errors="replace")
    said = " ".join(logged.split())
    assert worker.returncode == 1, logged[-3000:]
    assert (
        f"the broker {without_password(url)} refuses a command digest needs: this user has no "
        f"permissions to run the '{denied}' command; allow it to the URL's user in Redis's ACL "
        f"(ACL SETUSER newsroom +{denied})"
    ) in said, logged[-3000:]
    assert said.count("refuses a command digest needs") == 1, logged[-3000:]
    assert "Traceback" not in logged and "the-pass" not in logged, logged[-3000:]


def test_beat_on_a_full_broker_says_so_in_one_line_a_tick(tmp_path: Path) -> None:
    # A Redis at its memory limit (noeviction) refuses every write: beat logged each tick it
    # could not send as some 150 lines of traceback and stack, every minute.
    with redis_server() as broker:
        config, environ = _distributed(tmp_path, broker)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        log = tmp_path / "beat.log"
        command = [str(DIGEST), "--config", str(config), "beat", "--interval", "1"]
        with process(command, environ, log), redis.Redis.from_url(broker) as client:
            wait_for(lambda: _ticks_sent(log) >= 1, "beat's first tick", timeout=30)
            client.config_set("maxmemory", 1)  # full: every write is refused
            wait_for(
                lambda: log.read_text().count("tick not sent") >= 2, "two refused ticks", timeout=30
            )
            client.config_set("maxmemory", 0)
            refused = _ticks_sent(log)
            wait_for(lambda: _ticks_sent(log) >= refused + 2, "ticks once it has room", timeout=30)
    logged = log.read_text(errors="replace")
    said = " ".join(logged.split())
    assert "Traceback" not in logged and 'File "' not in logged, logged[-3000:]
    assert (
        f"beat: tick not sent: the broker {broker} refused it: command not allowed when used "
        "memory > 'maxmemory'; it is full: raise its maxmemory, or see what fills it "
        "(digest status shows the queue); the next tick tries again"
    ) in said


def _self_signed_files(folder: Path) -> tuple[Path, Path]:
    """A certificate of 127.0.0.1 signed by its own key, and that key, as PEM files."""
    from cryptography.hazmat.primitives import serialization

    from tests.certificates import pem, self_signed

    key, certificate = self_signed("127.0.0.1", datetime.now(UTC), ip_address="127.0.0.1")
    certificate_file, key_file = folder / "redis.crt", folder / "redis.key"
    certificate_file.write_bytes(pem(certificate))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


@pytest.mark.parametrize("command", [["worker"], ["beat"], ["send", "daily"]])
def test_a_broker_whose_certificate_is_not_trusted_is_said_so_and_nothing_waits(
    command: list[str], tmp_path: Path
) -> None:
    # A rediss:// broker whose certificate no authority of the machine signed (a private CA's)
    # was taken as a broker not up yet: the worker and beat retried for ever, and digest send
    # said Redis did not answer. No wait mends a certificate: the URL must name its authority.
    certificate, key = _self_signed_files(tmp_path)
    with redis_cluster(tls=(certificate, key)) as server:
        config, environ = _distributed(tmp_path, server.url)
        upgraded = _digest(config, environ, tmp_path, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        done = _digest(config, environ, tmp_path, *command)
        trusted = f"{server.url}&ssl_ca_certs={certificate}"
        status = _digest(config, environ | {"DIGEST_BROKER_URL": trusted}, tmp_path, "status")
    said = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"error: the broker {server.url} has a certificate this machine does not trust: "
        "certificate verify failed: self-signed certificate"
    ) in said, said
    assert "name the authority that signed it in the URL, as ssl_ca_certs=PATH" in said
    assert "Traceback" not in said
    assert status.returncode == 0 and "0 waiting, 0 in hand" in status.stdout, status.stderr
