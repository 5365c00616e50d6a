"""`digest inbound` and `digest run` with [inbound] as an operator runs them: real processes."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from digest.config import load_settings
from digest.services import build_services
from tests import inbound_mail
from tests.servers import free_port, smtp_server
from tests.test_end_to_end import DIGEST, SECRET, digest, example_config, parse

pytestmark = pytest.mark.integration


def start_inbound(config: Path, port: int) -> subprocess.Popen[str]:
    """A real `digest inbound` on ``port``, listening when this returns."""
    environment = {**os.environ, "DIGEST_SECRET_KEY": SECRET}
    environment.pop("DIGEST_CONFIG", None)
    process = subprocess.Popen(
        [DIGEST, "--config", str(config), "inbound", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    wait_for_port(port, process)
    return process


def wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.communicate(timeout=10)
                raise AssertionError(f"digest inbound did not listen on {port}: {output}") from None
            time.sleep(0.1)


def test_digest_inbound_takes_a_bounce_and_a_mailto_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    with smtp_server() as sink:
        config = example_config(tmp_path, smtp_port=sink.port)
        run_port = free_port()
        config.write_text(
            config.read_text()
            + f"\n[bounces]\nenabled = true\n\n[inbound]\nenabled = true\nport = {run_port}\n"
        )
        first = digest(config, "run", "--once")
        assert first.returncode == 0, first.stderr
        # digest run also received, and said where.
        assert f"inbound: smtp://127.0.0.1:{run_port}" in first.stdout
    senders = {mail.rcpt_tos[0]: mail for mail in sink.received}
    assert all(mail.mail_from.startswith("bounces+") for mail in sink.received)
    bounced, leaving = sorted(senders)[:2]
    unsubscribe = parse(senders[leaving].data)["List-Unsubscribe"]
    token = re.search(r"subject=unsubscribe-([\w.-]+)>", unsubscribe)
    assert token is not None

    port = free_port()
    process = start_inbound(config, port)
    try:
        verp = senders[bounced].mail_from
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("", [verp], inbound_mail.dsn(to=verp))
            mailto = inbound_mail.mailto(
                to="unsubscribe@example.org", subject=f"unsubscribe-{token[1]}"
            )
            client.sendmail(leaving, ["unsubscribe@example.org"], mailto)
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("", ["desk@example.org"], b"Subject: hi\r\n\r\nhello\r\n")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert f"inbound: smtp://127.0.0.1:{port}" in stdout and "Stopped." in stdout
    # One line per message for the operator: what it was and what was done, or why not.
    assert "inbound: refused mail for desk@example.org" in stderr

    # In the database, which holds the readers (the suppression file gets the lines at the
    # next cycle: digest.unsubscribes).
    services = build_services(load_settings(config, {"DIGEST_SECRET_KEY": SECRET}), migrate=False)
    try:
        reader_ids = {
            address: subscriber.id
            for address in (bounced, leaving)
            if (subscriber := services.store.subscriber_by_email(address)) is not None
        }
        suppression = services.store.suppression(services.address_key(bounced))
        left = {
            membership.list_slug
            for membership in services.store.memberships()
            if membership.email == leaving and membership.status == "unsubscribed"
        }
    finally:
        services.close()
    assert suppression is not None and suppression.reason == "hard-bounce"
    assert len(left) == 1, "the mailto unsubscribes from the one list its token names"
    # The log tells of each reader by id: one line per bounce naming its address made the
    # receiver's log a list of the readers who bounced, complained or left.
    said = f"inbound: hard-bounce for subscriber {reader_ids[bounced]} (smtp): suppressed"
    assert said in stderr
    said = f"inbound: unsubscribe for subscriber {reader_ids[leaving]} (smtp): unsubscribed from"
    assert said in stderr
    assert bounced not in stderr and leaving not in stderr


def test_digest_inbound_on_a_taken_port_says_which_and_exits_1(tmp_path: Path) -> None:
    config = example_config(tmp_path, smtp_port=None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = digest(config, "inbound", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot serve the inbound receiver on 127.0.0.1:{port} (--port = {port})" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def _rcpt_code(port: int, address: str) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("")
        code, _ = client.rcpt(address)
        return code


def test_digest_inbound_applies_an_edit_of_the_config_and_refuses_an_invalid_one(
    tmp_path: Path,
) -> None:
    """Invariant 5 for the receiver: an edit applies without a restart (here a new unsubscribe
    address), one the checks refuse is said once and leaves the settings in force, and what the
    socket took at start is said to wait for the next start."""
    config = example_config(tmp_path, smtp_port=None)
    original = config.read_text()
    port = free_port()
    process = start_inbound(config, port)
    try:
        assert _rcpt_code(port, "unsubscribe@example.org") == 250
        assert _rcpt_code(port, "leave@example.org") == 550

        edited = original.replace(
            "[service]\n", '[service]\nunsubscribe_address = "leave@example.org"\n', 1
        )
        config.write_text(edited + "\n[inbound]\nmax_connections = 7\n")
        deadline = time.monotonic() + 30
        while _rcpt_code(port, "leave@example.org") != 250:
            assert time.monotonic() < deadline, "the edit was not applied"
            time.sleep(0.2)
        assert _rcpt_code(port, "unsubscribe@example.org") == 550

        config.write_text(edited.replace('unsubscribe_address = "leave@example.org"', "bogus = 1"))
        time.sleep(3)  # three looks at the file: the refusal is said once
        assert _rcpt_code(port, "leave@example.org") == 250, "the refused edit took effect"
    finally:
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stderr.count("changed: bounces and unsubscribes are taken on it") == 1, stderr
    assert stderr.count("inbound.max_connections apply at the next start") == 1, stderr
    assert stderr.count("config edit refused, the previous settings stay in force") == 1, stderr
    assert "bogus" in stderr and "Traceback" not in stderr


def _smtp_lines(port: int, commands: list[bytes]) -> list[bytes]:
    """Each command sent on one raw session, and the first line of each reply: smtplib would
    not write these addresses as a hostile client does."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        replies = connection.makefile("rb")
        replies.readline()  # the greeting
        answers = []
        for command in commands:
            connection.sendall(command + b"\r\n")
            answers.append(replies.readline())
            while answers[-1][3:4] == b"-":  # a reply of several lines: its last one
                answers[-1] = replies.readline()
        return answers


def test_a_hostile_senders_terminal_escapes_reach_the_operators_log_as_text(
    tmp_path: Path,
) -> None:
    # A quoted local part may hold any character but CR and LF: aiosmtpd takes ESC and BEL in
    # one, and the receiver logged the address as given. A sender could clear the operator's
    # terminal, retitle it, and write over the lines above with lines of its own.
    config = example_config(tmp_path, smtp_port=None)
    port = free_port()
    process = start_inbound(config, port)
    try:
        answers = _smtp_lines(
            port,
            [
                b"EHLO mx.example.net",
                b'MAIL FROM:<"\x1b[2J\x1b]0;pwned\x07"@example.net>',
                b'RCPT TO:<"\x1b[1A\x1b[2K"@example.org>',
                b"RCPT TO:<unsubscribe@example.org>",
                b"DATA",
                b"Subject: hello\r\n\r\nhi\r\n.",
                b"QUIT",
            ],
        )
        assert [answer[:3] for answer in answers] == [
            b"250",
            b"250",
            b"550",
            b"250",
            b"354",
            b"250",
            b"221",
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "\x1b" not in stderr and "\x07" not in stderr
    # Still said, each control character shown as U+FFFD (digest.cli.boundary.printable).
    assert 'inbound: refused mail for "\ufffd[1A\ufffd[2K"@example.org' in stderr
    # A sender is named by their domain only (the local part may be a reader's): the sequences
    # of this one's local part are not written at all.
    assert "a message from …@example.net ignored" in stderr and "pwned" not in stderr


def test_digest_inbound_logs_what_a_client_sends_as_text_it_cannot_control(
    tmp_path: Path,
) -> None:
    # Anyone who reaches the receiver names the recipients: an ESC or U+009B sequence (clear the
    # screen, write the clipboard) or a U+202E in one reached the operator's terminal as it came.
    config = example_config(tmp_path, smtp_port=None)
    port = free_port()
    process = start_inbound(config, port)
    hostile = "x\u009b3J\u009d8\u009c\u202elive@example.org"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            reader = connection.makefile("rb")
            reader.readline()  # the greeting
            for line in (
                "EHLO client.example.org",
                "MAIL FROM:<> SMTPUTF8",
                f"RCPT TO:<{hostile}>",
            ):
                connection.sendall(line.encode() + b"\r\n")
                while (reply := reader.readline())[3:4] == b"-":
                    pass
            assert reply.startswith(b"550"), reply
            connection.sendall(b"QUIT\r\n")
    finally:
        # SIGHUP (a closed terminal) ended it by its default action: it stops as on SIGTERM.
        process.send_signal(signal.SIGHUP)
        _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "inbound: refused mail for x" in stderr and "live@example.org" in stderr
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", stderr), repr(stderr)
