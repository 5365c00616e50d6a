"""Sign-up against `digest serve` as a real process, its confirmation mail through a real SMTP
server (aiosmtpd on loopback): a link scanner opening every URL of the mail changes nothing,
the button confirms, and the next edition `digest run` sends reaches the new reader only."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import Envelope

from tests.servers import SmtpSink, free_port, smtp_server
from tests.test_end_to_end import digest, parse
from tests.test_web_serve import add_story, digest_process, served_config

pytestmark = pytest.mark.integration

LIST = "middle-east-daily"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


def statuses(config: Path, database_url: str | None = None) -> dict[str, str]:
    listed = digest(
        config, "subscribers", "list", "--list", LIST, "--json", database_url=database_url
    )
    assert listed.returncode == 0, listed.stderr
    return {row["email"]: row["status"] for row in json.loads(listed.stdout)}


def confirmation_mails(smtp: SmtpSink, count: int) -> dict[str, EmailMessage]:
    """The confirmation mails the server received, by recipient, once there are ``count``."""
    deadline = time.monotonic() + 60
    while True:
        found = {
            mail.rcpt_tos[0]: parse(mail.data)
            for mail in smtp.received
            if str(parse(mail.data)["Subject"]).startswith("Confirm your subscription")
        }
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} confirmation mails, not {count}"
        time.sleep(0.1)


def urls_of(message: EmailMessage) -> set[str]:
    """Every URL of both parts: what a link scanner opens."""
    found: set[str] = set()
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        found |= set(re.findall(r"https?://[^\s\"'<>]+", body.get_content()))
    return found


def sign_up(client: httpx.Client, address: str, email: str, name: str) -> httpx.Response:
    page = client.get(f"{address}/").text
    token = re.search(
        rf'action="/subscribe/{LIST}".*?name="form_token" value="([^"]+)"', page, re.S
    )
    assert token is not None, page
    return client.post(
        f"{address}/subscribe/{LIST}",
        data={"form_token": token.group(1), "email": email, "name": name},
    )


def test_sign_up_confirm_and_receive_the_next_edition_through_real_servers(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    first = digest(config, "run", "--once")  # the list's first edition, to the imported readers
    assert first.returncode == 0, first.stderr
    with (
        digest_process(config, "serve", "--port", str(web_port)) as (_, address),
        httpx.Client(timeout=10) as client,
    ):
        for email, name in (("nour@example.org", "Nour"), ("idle@example.org", "Idle")):
            answer = sign_up(client, address, email, name)
            assert answer.status_code == 200 and "Check your inbox" in answer.text
        mails = confirmation_mails(smtp, 2)
        assert set(mails) == {"nour@example.org", "idle@example.org"}
        mail = mails["nour@example.org"]
        assert mail["To"] == "nour@example.org"  # no name: anyone may have typed it
        assert "List-Unsubscribe" not in mail

        # A link scanner opens every URL of the mail, GET and HEAD, following redirects.
        ours = [url for url in urls_of(mail) if url.startswith(address)]
        assert len(ours) == 1 and "/confirm/" in ours[0]
        for url in ours:
            for method in ("GET", "HEAD"):
                assert client.request(method, url, follow_redirects=True).status_code == 200
        assert statuses(config)["nour@example.org"] == "pending"

        # The reader presses the button.
        page = client.get(ours[0]).text
        token = re.search(r'name="form_token" value="([^"]+)"', page)
        assert token is not None
        done = client.post(ours[0], data={"form_token": token.group(1)})
        assert done.status_code == 200 and "You are subscribed" in done.text
    now = statuses(config)
    assert now["nour@example.org"] == "confirmed" and now["idle@example.org"] == "pending"

    sent_before = len(smtp.received)
    add_story(tmp_path)
    polled = digest(config, "poll", "--force")
    assert polled.returncode == 0, polled.stderr
    second = digest(config, "run", "--once", "--list", LIST)
    assert second.returncode == 0, second.stderr
    edition_to = {mail.rcpt_tos[0] for mail in smtp.received[sent_before:]}
    assert "nour@example.org" in edition_to
    assert "idle@example.org" not in edition_to  # never confirmed: no edition


class SlowSink(SmtpSink):
    """Takes each message a second and a half late: a sign-up's mail is still on its way."""

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)


# SIGHUP (a closed terminal, `kill -HUP`) ended serve at once by its default action, and the
# sign-ups answered but not mailed were lost: it stops as SIGTERM does.
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_sign_ups_answered_before_a_stop_still_get_their_mail(
    tmp_path: Path, stop: signal.Signals
) -> None:
    with smtp_server(SlowSink("127.0.0.1", free_port())) as smtp:
        config = served_config(tmp_path, smtp.port, free_port())
        with (
            digest_process(config, "serve", "--port", "0") as (process, address),
            httpx.Client(timeout=10) as client,
        ):
            for email in ("first@example.org", "second@example.org"):
                assert sign_up(client, address, email, "").status_code == 200
            process.send_signal(stop)  # at once: both mails are still to go out
            assert process.wait(timeout=30) == 0
            assert process.stderr is not None
            assert "Traceback" not in process.stderr.read()
        assert {mail.rcpt_tos[0] for mail in smtp.received} == {
            "first@example.org",
            "second@example.org",
        }


def test_a_forged_x_forwarded_for_does_not_escape_the_client_limit(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    web_port = free_port()
    limit = '\n[web]\nsignup_rate_per_client = "2/hour"\n'
    config = served_config(tmp_path, smtp.port, web_port, web_table=limit)

    def three_sign_ups(address: str, client: httpx.Client) -> list[int]:
        codes = []
        for number in range(3):
            client.headers["x-forwarded-for"] = f"198.51.100.{number}"
            codes.append(sign_up(client, address, f"r{number}@example.org", "").status_code)
        return codes

    with (
        digest_process(config, "serve", "--port", str(web_port)) as (_, address),
        httpx.Client(timeout=10) as client,
    ):
        # Every request comes from 127.0.0.1, whatever the header says: one client.
        assert three_sign_ups(address, client) == [200, 200, 429]
    # Behind a proxy the operator names, each forwarded address is a client of its own.
    config.write_text(config.read_text() + 'trusted_proxies = ["127.0.0.1"]\n')
    with (
        digest_process(config, "serve", "--port", str(web_port)) as (_, address),
        httpx.Client(timeout=10) as client,
    ):
        assert three_sign_ups(address, client) == [200, 200, 200]
