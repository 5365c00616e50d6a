"""`digest serve` as a real process, on the mail a real cycle sent through a real SMTP server:
the mailbox provider's one-click POST, a link scanner, damaged links, and `digest run` serving
the same pages when [web] asks for them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from digest.mail.tokens import TokenSigner
from tests.servers import SmtpSink, free_port, postgres_cluster, smtp_server
from tests.test_end_to_end import DIGEST, ROOT, SECRET, digest, example_config, parse
from tests.test_inbound_webhooks import SIGNING_KEY, failed, mailgun

pytestmark = pytest.mark.integration

NEW_STORY = """
    <item>
      <title>Oman brokers overnight talks between Tehran and Gulf envoys on shipping</title>
      <link>https://gulfwire.example/2026/12/04/oman-brokers-overnight-talks</link>
      <description>Envoys from Iran and the Gulf states met in Muscat to discuss shipping lanes
      in the Strait of Hormuz, Oman's foreign ministry said.</description>
      <category>Iran</category>
      <category>Diplomacy</category>
      <guid isPermaLink="true">https://gulfwire.example/2026/12/04/oman-brokers-overnight-talks</guid>
      <pubDate>{date}</pubDate>
    </item>
"""


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


def served_config(tmp_path: Path, smtp_port: int, web_port: int, *, web_table: str = "") -> Path:
    """The example config, its base_url this machine's web port, its samples a copy to add to."""
    samples = tmp_path / "samples"
    shutil.copytree(ROOT / "config" / "samples", samples)
    config = example_config(tmp_path, smtp_port=smtp_port)
    text = config.read_text()
    text = text.replace(f'directory = "{ROOT / "config" / "samples"}"', f'directory = "{samples}"')
    text = text.replace(
        'base_url = "https://briefing.example.org"', f'base_url = "http://127.0.0.1:{web_port}"'
    )
    config.write_text(text + web_table)
    return config


def add_story(tmp_path: Path) -> None:
    feed = tmp_path / "samples" / "gulf-wire.xml"
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(time.time() - 60))
    feed.write_text(feed.read_text().replace("<item>", NEW_STORY.format(date=date) + "<item>", 1))


@contextmanager
def digest_process(
    config: Path, *args: str, secret: str = SECRET
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``digest ARGS`` running, with ``secret`` as its key (the database's: another is
    refused); yields it and the address it said it serves at."""
    environment = {**os.environ, "DIGEST_SECRET_KEY": secret, "COLUMNS": "200"}
    environment.pop("DIGEST_CONFIG", None)
    process = subprocess.Popen(
        [DIGEST, "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "Serving the web pages on" not in line:
            line = process.stdout.readline()
            if (not line and process.poll() is not None) or time.monotonic() > deadline:
                raise AssertionError(f"digest {args} did not serve: {process.communicate()}")
        address = re.search(r"on (http://\S+)", line)
        assert address is not None, line
        yield process, address.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def every_url(message: EmailMessage) -> set[str]:
    """What a link scanner opens: every link of both parts and of List-Unsubscribe."""
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    parser = _Links()
    parser.feed(html)
    urls = set(parser.links) | set(re.findall(r"https?://\S+", text))
    urls |= set(re.findall(r"<(https?://[^>]+)>", message["List-Unsubscribe"]))
    return {url for url in urls if url.startswith("http")}


def by_recipient(smtp: SmtpSink, list_name: str) -> dict[str, EmailMessage]:
    messages = {}
    for mail in smtp.received:
        message = parse(mail.data)
        if list_name in str(message["List-Id"]):
            messages[mail.rcpt_tos[0]] = message
    return messages


def unsubscribe_url(message: EmailMessage) -> str:
    found = re.search(r"<(http://[^>]+/unsubscribe/[^>]+)>", message["List-Unsubscribe"])
    assert found is not None
    return found.group(1)


def test_one_click_as_gmail_sends_it_unsubscribes_and_a_link_scanner_changes_nothing(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    first = digest(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    daily = by_recipient(smtp, "The Middle East in your inbox")
    assert len(daily) >= 3
    leaving, scanned, *others = sorted(daily)

    with digest_process(config, "serve", "--port", str(web_port)) as (_, address):
        assert address == f"http://127.0.0.1:{web_port}"
        with httpx.Client(timeout=10) as client:  # no cookies are kept from one call to the next
            assert client.get(f"{address}/healthz").json()["status"] == "ok"

            # A link scanner opens every URL of a reader's mail, and follows redirects.
            ours = [url for url in every_url(daily[scanned]) if url.startswith(address)]
            assert any("/unsubscribe/" in url for url in ours)
            assert any("/editions/middle-east-daily/" in url for url in ours)
            for url in ours:
                for method in ("GET", "HEAD"):
                    answer = client.request(method, url, follow_redirects=True)
                    assert answer.status_code in (200, 404), (url, answer.status_code)

            # The mail's "View in your browser" link opens the edition, with nothing personal.
            view = next(url for url in ours if "/editions/" in url)
            page = client.get(view)
            assert page.status_code == 200 and "%%DIGEST" not in page.text
            assert scanned not in page.text and "/unsubscribe/" not in page.text

            # Damaged, and made for another action: refused, nothing changes.
            url = unsubscribe_url(daily[leaving])
            preferences = re.search(
                r'href="(http://[^"]+/preferences/([^"]+))"',
                daily[leaving].get_body(("html",)).get_content(),  # type: ignore[union-attr]
            )
            assert preferences is not None
            one_click = {
                "content": b"List-Unsubscribe=One-Click",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            }
            for bad in (url[:-2], url + "A", url.rsplit("/", 1)[0] + "/" + preferences.group(2)):
                assert client.post(bad, **one_click).status_code == 400  # type: ignore[arg-type]

            # The mailbox provider's one-click POST: exactly this body, no cookie, no form token.
            answer = client.post(url, **one_click)  # type: ignore[arg-type]
            assert answer.status_code == 200
            assert client.post(url, **one_click).status_code == 200  # type: ignore[arg-type]

    sent_before = len(smtp.received)
    add_story(tmp_path)
    polled = digest(config, "poll", "--force")  # the feeds are not due again for minutes
    assert polled.returncode == 0, polled.stderr
    second = digest(config, "run", "--once", "--list", "middle-east-daily")
    assert second.returncode == 0, second.stderr
    next_edition = {mail.rcpt_tos[0] for mail in smtp.received[sent_before:]}
    assert leaving not in next_edition
    assert {scanned, *others} <= next_edition  # the scanned reader is still subscribed


def status_of(address: str, request: bytes) -> int:
    """The status the server answers ``request`` (raw bytes) with, read off the socket."""
    host, port = address.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


def test_oversized_heads_and_bodies_are_refused_by_the_real_server(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    with digest_process(config, "serve", "--port", str(web_port)) as (_, address):
        # A head with no end in sight past 16 KiB: h11 refuses it unread (it has no 431).
        endless = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 17_000
        assert status_of(address, endless) == 400
        # A whole head over the limit: refused by h11 or, arriving in one read, by the app.
        whole = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
        assert status_of(address, whole) in (400, 431)
        # A body declared too large: 413 before a byte of it is sent or read.
        declared = b"POST /unsubscribe/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        assert status_of(address, declared) == 413
        chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
        chunked = b"POST /unsubscribe/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        assert status_of(address, chunked + chunk * 2) == 413
        with httpx.Client(timeout=10) as client:
            assert client.get(f"{address}/healthz").status_code == 200


def test_serve_names_the_port_when_it_is_taken(tmp_path: Path, smtp: SmtpSink) -> None:
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port, web_table=f"\n[web]\nport = {web_port}\n")
    with digest_process(config, "serve"):
        taken = digest(config, "serve")
    assert taken.returncode == 1
    assert f"cannot serve the web pages on 127.0.0.1:{web_port} (web.port = {web_port})" in (
        taken.stderr
    )
    assert "Traceback" not in taken.stderr


@pytest.mark.parametrize("port", ["65536", "70000"])
def test_serve_refuses_a_port_past_65535_in_one_line(
    tmp_path: Path, smtp: SmtpSink, port: str
) -> None:
    config = served_config(tmp_path, smtp.port, free_port())
    refused = digest(config, "serve", "--port", port)
    assert refused.returncode == 2, refused.stderr
    assert "--port" in refused.stderr and "65535" in refused.stderr
    assert "Traceback" not in refused.stderr and "OverflowError" not in refused.stderr


def test_the_log_of_serve_never_holds_a_readers_token(
    tmp_path: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token in a link opens one reader's unsubscribe, preferences or sign-up: whoever reads
    the log (a log shipper, a support desk) must not be able to act as the reader. The lines
    that name a request's path (the store down, a form from another origin) name it with the
    token masked."""
    signer = TokenSigner(SECRET)
    tokens = {
        "unsubscribe": signer.unsubscribe_token(7, "middle-east-daily"),
        "preferences": signer.preferences_token(7, "middle-east-daily"),
        "confirm": signer.confirm_token(7, "middle-east-daily", datetime.now(UTC)),
    }
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    with postgres_cluster() as database:
        monkeypatch.setenv("DIGEST_DATABASE_URL", database.url)  # for `digest serve`
        assert digest(config, "db", "upgrade", database_url=database.url).returncode == 0
        with digest_process(config, "serve", "--port", str(web_port)) as (process, address):
            with httpx.Client(base_url=address, timeout=20) as client:
                # A form posted from a page of another site: refused, and logged.
                foreign = {"origin": "https://elsewhere.example"}
                for action, token in tokens.items():
                    client.post(f"/{action}/{token}", data={"form_token": "x"}, headers=foreign)
                database.stop()  # then the store does not answer: each page is a 503, logged
                answers = [
                    _answer_to(client, f"/{action}/{token}") for action, token in tokens.items()
                ]
            process.terminate()
            _, log = process.communicate(timeout=30)
    assert [answer.status_code for answer in answers] == [503, 503, 503]
    assert "the store failed during POST /unsubscribe/…" in log, log
    assert "the store failed during GET /preferences/…" in log
    assert "a form posted to /unsubscribe/… from a page of https://elsewhere.example" in log
    for token in tokens.values():
        assert token not in log and token.split(".")[-1] not in log


def test_serve_logs_what_it_takes_and_refuses_one_dated_line_each(
    tmp_path: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's record of a running `digest serve`: a provider's call taken (INFO) was
    never shown, and a refusal or a failure was written with no date, by Python's last-resort
    handler, while the config's reloads alone were dated lines."""
    monkeypatch.setenv("DIGEST_MAILGUN_SIGNING_KEY", SIGNING_KEY)
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    with digest_process(config, "serve", "--port", str(web_port)) as (process, address):
        call = mailgun(failed("permanent"), at=datetime.now(UTC))
        taken = httpx.post(f"{address}/webhooks/mailgun", content=call, timeout=20)
        forged = mailgun(failed("permanent", "ev-2"), at=datetime.now(UTC), token="token-b")
        forged = forged.replace(b'"signature": "', b'"signature": "0')
        refused = httpx.post(f"{address}/webhooks/mailgun", content=forged, timeout=20)
        process.terminate()
        _, log = process.communicate(timeout=30)
    assert (taken.status_code, refused.status_code) == (200, 403), (taken.text, refused.text)
    dated = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    assert re.search(dated + r"mailgun webhook: hard-bounce", log, re.M), log
    assert re.search(dated + r"mailgun webhook refused: ", log, re.M), log


def test_a_malformed_form_writes_no_line_into_the_log_of_serve(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    """A multipart body that does not parse is the form again, nothing done; the parser wrote
    a warning for each ("Expected boundary character…"), undated, through Python's last-resort
    handler: any stranger could write lines into the operator's log at will."""
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    token = TokenSigner(SECRET).unsubscribe_token(7, "middle-east-daily")
    bodies = [
        b"--b\r\nnot a part\r\n",  # a line that is no boundary
        b"--boundary\r\nContent-Disposition: form-data\r\n\r\nx\r\n--boundary--\r\n",
        b"--boundary\r\nno colon\r\n\r\nx\r\n--boundary--\r\n",
    ]
    with digest_process(config, "serve", "--port", str(web_port)) as (process, address):
        with httpx.Client(base_url=address, timeout=20) as client:
            answers = [
                client.post(
                    path,
                    content=body,
                    headers={"content-type": "multipart/form-data; boundary=boundary"},
                )
                for path in ("/subscribe/middle-east-daily", f"/unsubscribe/{token}")
                for body in bodies
            ]
        process.terminate()
        _, log = process.communicate(timeout=30)
    assert {answer.status_code for answer in answers} == {403}, [a.text for a in answers]
    assert log.strip() == "", log


def _answer_to(client: httpx.Client, path: str) -> httpx.Response:
    """The page at ``path``, or the answer to its form when it has one (an unsubscribe or a
    sign-up is confirmed by its button, and reads the store only then)."""
    page = client.get(path)
    form_token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or form_token is None:
        return page
    return client.post(path, data={"form_token": form_token.group(1)})


def _page_when(client: httpx.Client, url: str, ready: Callable[[httpx.Response], bool]) -> None:
    """Ask for ``url`` until its answer is ``ready``: an edit applies at the first request a
    second after it, and the requests meanwhile are answered on the previous settings."""
    deadline = time.monotonic() + 30
    while not ready(answer := client.get(url)):
        assert time.monotonic() < deadline, (url, answer.status_code, answer.text[:300])
        time.sleep(0.2)


def test_serve_applies_a_config_edit_without_a_restart_and_keeps_the_last_good_one(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = served_config(tmp_path, smtp.port, free_port())
    original = config.read_text()
    with (
        digest_process(config, "serve", "--port", "0") as (process, address),
        httpx.Client(timeout=10) as client,
    ):
        weekly, daily = f"{address}/subscribe/gulf-weekly", f"{address}/subscribe/middle-east-daily"
        assert "Gulf Weekly" in client.get(weekly).text

        # A list renamed for readers, and another taken out: both seen without a restart.
        edited = original.replace('name = "Gulf Weekly"', 'name = "Gulf Business Weekly"')
        config.write_text(edited)
        _page_when(client, weekly, lambda page: "Gulf Business Weekly" in page.text)
        weekly_table = edited[edited.index('[[lists]]\nslug = "gulf-weekly"') :]
        weekly_table = weekly_table[: weekly_table.index("\n\n") + 2]
        config.write_text(edited.replace(weekly_table, ""))
        _page_when(client, weekly, lambda page: page.status_code == 404)

        # An invalid edit: refused once, with the key; the pages stay on the last good settings.
        config.write_text(edited.replace('schedule = "0 7 * * *"', 'schedule = "0 25 * * *"'))
        time.sleep(1.5)  # a request a second after the edit reads the file again
        for _ in range(5):
            assert client.get(daily).status_code == 200
            assert client.get(weekly).status_code == 404
            time.sleep(0.3)

        # Fixed: the edit applies.
        config.write_text(original)
        _page_when(client, weekly, lambda page: page.status_code == 200)
        assert "Gulf Weekly" in client.get(weekly).text
        assert process.poll() is None
    assert process.stderr is not None
    log = process.stderr.read()
    assert log.count("config edit refused, the previous settings stay in force") == 1, log
    assert "lists[middle-east-daily].schedule" in log, log
    assert log.count(f"{config} changed: the pages are served on it") == 3, log
    assert "Traceback" not in log, log


def test_digest_run_serves_the_pages_when_the_config_asks(tmp_path: Path, smtp: SmtpSink) -> None:
    web_port = free_port()
    table = f"\n[web]\nenabled = true\nport = {web_port}\n"
    config = served_config(tmp_path, smtp.port, web_port, web_table=table)
    with digest_process(config, "run", "--interval", "600") as (process, address):
        assert address == f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=10) as client:
            while True:  # the first cycle runs beside the pages; its edition appears in them
                page = client.get(f"{address}/editions/middle-east-daily")
                assert page.status_code == 200
                if "/editions/middle-east-daily/" in page.text:
                    break
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    once = digest(config, "run", "--once")
    assert once.returncode == 0 and "Serving the web pages" not in once.stdout


def test_a_kept_alive_connection_gets_each_answer_without_waiting_for_an_ack(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    with (
        digest_process(config, "serve", "--port", str(web_port)) as (_, address),
        httpx.Client(timeout=10) as client,
    ):
        client.get(f"{address}/")  # the connection, kept alive from here on
        started = time.monotonic()
        for _ in range(100):
            assert client.get(f"{address}/").status_code == 200
        # With Nagle's algorithm on, each answer waits out the client's delayed ACK (40 ms
        # here): 4 s at the least for 100. Without it, 1-3 ms each.
        assert time.monotonic() - started < 1.5


def test_serve_logs_what_a_browser_sends_as_text_it_cannot_control(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    # Anyone can post a form with any Origin: the refusal's warning quoted it as it came, its
    # U+009B sequences (clear the screen) reaching the operator's terminal.
    config = served_config(tmp_path, smtp.port, free_port())
    with (
        digest_process(config, "serve", "--port", "0") as (process, address),
        httpx.Client(timeout=10) as client,
    ):
        refused = client.post(
            f"{address}/subscribe/middle-east-daily",
            data={"email": "sam@example.org"},
            headers={"Origin": b"http://evil.example\xc2\x9b2J\xc2\x9b3J"},
        )
        assert refused.status_code in (400, 403), refused.status_code
    assert process.stderr is not None
    log = process.stderr.read()
    assert "was refused: not the origin of service.base_url" in log, log
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", log), repr(log)
