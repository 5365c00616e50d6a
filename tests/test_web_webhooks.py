"""The providers' webhooks on the web app: /webhooks/ses and /webhooks/mailgun take signed calls
through the same path as a bounce by mail, and refuse replays, forgeries, oversized bodies and
bodies that are no JSON, with their status and nothing changed; `digest serve` answers them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from limits.storage import MemoryStorage
from pydantic import SecretStr
from starlette.testclient import TestClient

from digest.inbound.mailgun import MailgunWebhook
from digest.inbound.providers import Webhooks
from digest.inbound.sns import SesWebhook
from digest.services import build_services
from digest.store import open_store
from digest.web import create_app
from digest.web.context import STORE_THREADS
from digest.web.ratelimits import SignUpLimits
from digest.web.server import serving
from digest.web.signups import ThreadQueue
from tests.servers import SmtpSink, free_port, smtp_server
from tests.test_end_to_end import digest
from tests.test_inbound_webhooks import (
    CERT_URL,
    SIGNING_KEY,
    TOPIC,
    Fetcher,
    bounce,
    complaint,
    failed,
    mailgun,
    sns,
)
from tests.test_web_serve import digest_process, served_config
from tests.webtools import Newsroom, newsroom

SNS_HEADERS = {
    # What SNS sends: its notifications are JSON under text/plain.
    "content-type": "text/plain; charset=UTF-8",
    "x-amz-sns-message-type": "Notification",
}


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Newsroom]:
    with newsroom(tmp_path, editions=1) as built:
        yield built


def app_client(room: Newsroom, providers: Webhooks) -> TestClient:
    services = room.services
    app = create_app(
        services,
        signups=ThreadQueue(services, lambda: services.transport),
        limits=SignUpLimits("100/hour", "100/hour", MemoryStorage()),
        providers=providers,
    )
    return TestClient(app)


@pytest.fixture
def client(room: Newsroom) -> TestClient:
    providers = Webhooks(
        ses=SesWebhook(Fetcher(), [TOPIC]),
        mailgun=MailgunWebhook(SIGNING_KEY, room.services.store, 900),
    )
    return app_client(room, providers)


def suppressed(room: Newsroom, email: str) -> str | None:
    found = room.services.store.suppression(room.services.address_key(email))
    return found.reason if found is not None else None


def test_a_signed_ses_bounce_as_sns_posts_it_suppresses_the_reader_once(
    room: Newsroom, client: TestClient
) -> None:
    body = json.dumps(sns(message=bounce("Permanent", "Rana@example.org"))).encode()
    answer = client.post("/webhooks/ses", content=body, headers=SNS_HEADERS)
    assert answer.status_code == 200, answer.text
    assert suppressed(room, "rana@example.org") == "hard-bounce"
    assert not room.is_member("daily", "Rana")
    # SNS delivers at least once: the same notification again is a duplicate, and a 200.
    again = client.post("/webhooks/ses", content=body, headers=SNS_HEADERS)
    assert again.status_code == 200
    outcomes = [row for row in room.services.store.inbound_events() if "rana" in str(row)]
    assert len(outcomes) == 1


def test_an_ses_notification_larger_than_a_form_is_taken(
    room: Newsroom, client: TestClient
) -> None:
    # SES can include the original message's headers: larger than the 16 KiB a form may be.
    message = complaint()
    message["mail"] = {
        "messageId": "ses-2",
        "headers": [
            {"name": "Received", "value": f"from relay{n}.example.net by mx.example.org"}
            for n in range(300)
        ],
    }
    body = json.dumps(sns(message=message)).encode()
    assert len(body) > 16 * 1024
    answer = client.post("/webhooks/ses", content=body, headers=SNS_HEADERS)
    assert answer.status_code == 200, answer.text
    assert suppressed(room, "sam@example.org") == "complaint"


def test_forged_replayed_oversized_and_foreign_calls_change_nothing(
    room: Newsroom, client: TestClient
) -> None:
    now = room.clock.now()
    forged_sns = sns(message=bounce("Permanent", "Sam@example.org"))
    forged_sns["Message"] = forged_sns["Message"].replace("Sam@", "Li@")
    other_topic = sns(message=bounce(), TopicArn="arn:aws:sns:eu-west-1:999999999999:theirs")
    signed = mailgun(failed("permanent"), at=now)
    cases: list[tuple[str, bytes, dict[str, str], int]] = [
        ("/webhooks/ses", json.dumps(forged_sns).encode(), SNS_HEADERS, 403),
        ("/webhooks/ses", json.dumps(other_topic).encode(), SNS_HEADERS, 403),
        ("/webhooks/ses", b"Type=Notification&Message=x", {}, 400),  # a form: no JSON
        ("/webhooks/mailgun", mailgun(failed("permanent"), at=now, key="not-ours"), {}, 403),
        ("/webhooks/mailgun", b"\xff\xfe not json", {"content-type": "application/json"}, 400),
        ("/webhooks/mailgun", b"[1, 2]", {"content-type": "application/json"}, 400),
    ]
    for path, body, headers, status in cases:
        answer = client.post(path, content=body, headers=headers)
        assert answer.status_code == status, (path, body[:60], answer.text)
        assert answer.headers["content-type"].startswith("text/plain")
    assert all(suppressed(room, e) is None for e in ("sam@example.org", "li@example.org"))
    assert room.services.store.inbound_events() == []

    # Mailgun's signed call is taken once; the same call again is a replay, refused.
    first = client.post("/webhooks/mailgun", content=signed, headers={"content-type": "x/y"})
    assert first.status_code == 200 and suppressed(room, "rana@example.org") == "hard-bounce"
    replay = client.post("/webhooks/mailgun", content=signed)
    assert replay.status_code == 409 and "replay" in replay.text

    # Past the webhooks' bound (1 MB): refused by its declared length, never read.
    huge = client.post("/webhooks/ses", content=b"{" + b" " * 1_000_001 + b"}")
    assert huge.status_code == 413
    # Other addresses keep the forms' bound.
    assert client.post("/unsubscribe/x", content=b"x" * (16 * 1024 + 1)).status_code == 413


def test_a_mailgun_permanent_failure_that_faults_the_copy_not_the_address_is_only_soft(
    room: Newsroom, client: TestClient
) -> None:
    # Mailgun calls any 5xx "permanent", and the copy it gave up on after 8 hours of retries
    # too: each suppressed its reader at once, where the same reply in a DSN counts as soft. A
    # provider's block of our sending address (5.7.1) suppressed every reader at that provider.
    now = room.clock.now()

    def post(recipient: str, token: str, code: int, message: str, enhanced: str = "") -> None:
        event = {
            **failed("permanent", f"ev-{token}"),
            "recipient": recipient,
            "delivery-status": {"code": code, "message": message, "enhanced-code": enhanced},
        }
        answer = client.post("/webhooks/mailgun", content=mailgun(event, at=now, token=token))
        assert answer.status_code == 200, answer.text

    blocked = "5.7.1 Our system has detected that this message is likely unsolicited mail"
    post("sam@example.org", "t1", 550, blocked, "5.7.1")
    post("li@example.org", "t2", 552, "Mailbox full")  # no enhanced code: a bare 552
    post("rana@example.org", "t3", 602, "Too old")  # Mailgun's own: retried 8 hours, gave up
    assert [suppressed(room, e) for e in ("sam@example.org", "li@example.org")] == [None, None]
    assert suppressed(room, "rana@example.org") is None
    kinds = {email: kind for _, kind, email, _ in room.services.store.inbound_events()}
    assert kinds == {
        "sam@example.org": "soft-bounce",
        "li@example.org": "soft-bounce",
        "rana@example.org": "soft-bounce",
    }
    # The address itself gone is a hard bounce still.
    post("sam@example.org", "t4", 550, "5.1.1 The email account does not exist", "5.1.1")
    assert suppressed(room, "sam@example.org") == "hard-bounce"


def test_mailgun_attempts_it_will_retry_are_no_bounce_until_it_gives_up(
    room: Newsroom, client: TestClient
) -> None:
    # Mailgun posts "failed, temporary" for each attempt a server defers (greylisting, a
    # server busy), then tries again, and most such copies arrive. Counted as soft bounces, five
    # copies greylisted on their way in suppressed a reader who had every one of them.
    now = room.clock.now()
    soft_limit = room.services.settings.bounces.soft_limit

    def post(token: str, copy: str, severity: str, code: int, message: str) -> None:
        event = {
            **failed(severity, f"ev-{token}"),
            "delivery-status": {"code": code, "message": message},
            "message": {"headers": {"message-id": f"{copy}@example.org"}},
        }
        answer = client.post("/webhooks/mailgun", content=mailgun(event, at=now, token=token))
        assert answer.status_code == 200, answer.text

    for copy in range(soft_limit):
        post(f"t{copy}", f"copy-{copy}", "temporary", 451, "4.7.1 Greylisted, try again later")
    assert suppressed(room, "rana@example.org") is None
    assert room.services.store.inbound_events() == []
    # The copy Mailgun drops after 8 hours of such attempts is the failure that counts.
    post("t-last", "copy-0", "permanent", 602, "Too old")
    assert [kind for _, kind, _, _ in room.services.store.inbound_events()] == ["soft-bounce"]


def test_a_mailgun_call_the_store_failed_to_take_is_taken_when_mailgun_retries_it(
    room: Newsroom,
) -> None:
    providers = Webhooks(mailgun=MailgunWebhook(SIGNING_KEY, room.services.store, 900))
    client = TestClient(app_client(room, providers).app, raise_server_exceptions=False)
    signed = mailgun(failed("permanent"), at=room.clock.now())
    engine = room.services.store.engine
    with engine.begin() as connection:  # the events' table gone for a moment: the take fails
        connection.exec_driver_sql("ALTER TABLE inbound_events RENAME TO inbound_events_away")
    try:
        assert client.post("/webhooks/mailgun", content=signed).status_code == 503
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE inbound_events_away RENAME TO inbound_events")
    assert suppressed(room, "rana@example.org") is None
    # Mailgun sends the same call again: taken, not refused as a replay of the failed one.
    again = client.post("/webhooks/mailgun", content=signed)
    assert again.status_code == 200, again.text
    assert suppressed(room, "rana@example.org") == "hard-bounce"
    assert client.post("/webhooks/mailgun", content=signed).status_code == 409


def test_a_mailgun_signature_of_numbers_no_integer_holds_is_refused_not_a_500(
    room: Newsroom,
) -> None:
    # Python's JSON parser reads Infinity, NaN and 1e400 (too large for a float) as floats no
    # integer holds: as the signature's timestamp, token or signature, each was a 500.
    providers = Webhooks(mailgun=MailgunWebhook(SIGNING_KEY, room.services.store, 900))
    fields = {"timestamp": "1764000000", "token": '"token-a"', "signature": '"ab"'}
    with serving(app_client(room, providers).app, "127.0.0.1", 0) as address:
        for number in ("Infinity", "-Infinity", "NaN", "1e400"):
            for field in fields:
                written = {**fields, field: number}
                signature = ", ".join(f'"{name}": {value}' for name, value in written.items())
                body = f'{{"signature": {{{signature}}}, "event-data": {{}}}}'.encode()
                answer = httpx.post(f"{address}/webhooks/mailgun", content=body)
                assert answer.status_code == 403, (body, answer.status_code, answer.text)
                assert answer.text == "Refused: no signature (timestamp, token, signature)\n"
    assert room.services.store.inbound_events() == []


def test_a_provider_not_configured_is_a_404(room: Newsroom) -> None:
    client = app_client(room, Webhooks())
    for path in ("/webhooks/ses", "/webhooks/mailgun"):
        answer = client.post(path, content=json.dumps(sns(message=bounce())).encode())
        assert answer.status_code == 404
    assert client.get("/webhooks/mailgun").status_code == 405
    assert suppressed(room, "rana@example.org") is None


def test_the_app_mounts_the_webhooks_the_config_enables(tmp_path: Path) -> None:
    with newsroom(tmp_path, editions=0) as room:
        settings = room.services.settings.model_copy(
            update={"mailgun_signing_key": SecretStr(SIGNING_KEY)}
        )
        services = build_services(settings, clock=room.clock, transport=room.services.transport)
        try:
            client = TestClient(create_app(services))
            body = mailgun(failed("temporary"), at=room.clock.now())
            assert client.post("/webhooks/mailgun", content=body).status_code == 200
            assert client.post("/webhooks/ses", content=b"{}").status_code == 404
        finally:
            services.close()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


@pytest.mark.integration
def test_digest_serve_takes_a_mailgun_complaint_and_refuses_its_replay(
    tmp_path: Path, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    web_port = free_port()
    config = served_config(tmp_path, smtp.port, web_port)
    first = digest(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    monkeypatch.setenv("DIGEST_MAILGUN_SIGNING_KEY", SIGNING_KEY)
    reader = "leila.haddad@example.org"
    event = {"event": "complained", "recipient": reader, "id": "ev-serve-1"}
    body = mailgun(event, at=datetime.now(UTC), token="token-serve")
    serving = digest_process(config, "serve", "--port", str(web_port))
    with serving as (_, address), httpx.Client(timeout=10) as http:
        url = f"{address}/webhooks/mailgun"
        headers = {"content-type": "application/json"}
        taken = http.post(url, content=body, headers=headers)
        assert taken.status_code == 200, taken.text
        assert http.post(url, content=body, headers=headers).status_code == 409
        assert http.post(f"{address}/webhooks/ses", content=b"{}").status_code == 404
    listed = digest(config, "subscribers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [row for row in json.loads(listed.stdout) if row["email"] == reader]
    assert rows and all(row["status"] == "unsubscribed" for row in rows), rows
    store = open_store(f"sqlite:///{tmp_path / 'digest.db'}")
    try:
        assert [e for e in store.inbound_events() if "ev-serve-1" in str(e)]
    finally:
        store.engine.dispose()


def test_ses_calls_waiting_on_a_certificate_hold_no_store_thread(room: Newsroom) -> None:
    # A stranger who knows our topic can post calls that make us fetch a certificate; while
    # Amazon is slow to answer, readers' one-click unsubscribes must still be taken.
    release, waiting = threading.Event(), threading.Semaphore(0)

    def slow_certificate(url: str) -> bytes:
        waiting.release()
        release.wait(60)
        raise OSError("no certificate")

    providers = Webhooks(ses=SesWebhook(slow_certificate, [TOPIC]))
    services = room.services
    app = create_app(
        services,
        signups=ThreadQueue(services, lambda: services.transport),
        limits=SignUpLimits("100/hour", "100/hour", MemoryStorage()),
        providers=providers,
    )
    held = STORE_THREADS  # as many calls as the store has threads
    with serving(app, "127.0.0.1", 0) as address, httpx.Client(timeout=60) as http:
        calls = []
        for number in range(held):
            message = sns(
                message=bounce(), SigningCertURL=CERT_URL.replace(".pem", f"{number}.pem")
            )
            body = json.dumps(message).encode()
            calls.append(
                threading.Thread(
                    target=http.post, args=(f"{address}/webhooks/ses",), kwargs={"content": body}
                )
            )
        for call in calls:
            call.start()
        for _ in range(held):
            assert waiting.acquire(timeout=30)  # every call is now waiting on its certificate
        try:
            token = room.unsubscribe_token("daily", "Sam")
            answer = httpx.post(
                f"{address}/unsubscribe/{token}",
                content=b"List-Unsubscribe=One-Click",
                timeout=10,  # the calls wait for a minute: anything queued behind them fails
            )
            assert answer.status_code == 200
            assert not room.is_member("daily", "Sam")
        finally:
            release.set()
            for call in calls:
                call.join(60)
