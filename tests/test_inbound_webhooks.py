"""The providers' webhooks: Amazon SES through SNS and Mailgun, signed by the tests' own keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.clock import FixedClock
from digest.errors import WebhookRefused
from digest.inbound.mailgun import MailgunWebhook
from digest.inbound.providers import webhooks_for
from digest.inbound.sns import SesWebhook
from digest.inbound.take import take_events
from digest.services import build_services
from digest.store import open_store
from tests.certificates import pem, self_signed
from tests.test_lists import raw_config, settings_of

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
SUBSCRIBE_URL = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t"


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key, certificate = self_signed("sns.amazonaws.com", NOW, days=365)
    return key, pem(certificate)


KEY, CERTIFICATE = _key_and_certificate()
OTHER_KEY, _ = _key_and_certificate()


class Fetcher:
    """The certificate, served as if by SNS; remembers what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        return CERTIFICATE


_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        *("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    ),
}


def sns(
    kind: str = "Notification",
    *,
    message: Any = None,
    version: str = "1",
    key: rsa.RSAPrivateKey = KEY,
    message_id: str = "sns-1",
    **extra: str,
) -> dict[str, str]:
    body: dict[str, str] = {
        "Type": kind,
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(message) if not isinstance(message, str) else message,
        "Timestamp": "2026-11-25T09:29:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **extra,
    }
    if kind == "SubscriptionConfirmation":
        body.setdefault("SubscribeURL", SUBSCRIBE_URL)
        body.setdefault("Token", "token-1")
    signed = "".join(f"{n}\n{body[n]}\n" for n in _FIELDS[kind] if n in body).encode()
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    body["Signature"] = base64.b64encode(key.sign(signed, padding.PKCS1v15(), algorithm)).decode()
    return body


def bounce(bounce_type: str = "Permanent", *addresses: str) -> dict[str, Any]:
    recipients = [
        {"emailAddress": a, "status": "5.1.1"} for a in (addresses or ("Rana@example.org",))
    ]
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": recipients,
            "feedbackId": "feedback-1",
        },
        "mail": {"messageId": "ses-1", "source": "bounces+1-2-x@example.org"},
    }


def complaint(feedback_type: str = "abuse") -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "sam@example.org"}],
            "complaintFeedbackType": feedback_type,
            "feedbackId": "feedback-2",
        },
    }


def post(webhook: SesWebhook, body: dict[str, str]) -> list[Any]:
    headers = {"X-Amz-Sns-Message-Type": body["Type"]}
    return webhook.handle(headers, json.dumps(body).encode(), NOW)


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (bounce("Permanent"), [("hard-bounce", "rana@example.org")]),
        (bounce("Transient"), [("soft-bounce", "rana@example.org")]),
        (bounce("Undetermined"), [("soft-bounce", "rana@example.org")]),
        (
            bounce("Permanent", "a@example.org", "b@example.org"),
            [("hard-bounce", "a@example.org"), ("hard-bounce", "b@example.org")],
        ),
        (complaint(), [("complaint", "sam@example.org")]),
        (complaint("not-spam"), []),
        ({"notificationType": "Delivery", "delivery": {}}, []),
    ],
)
def test_a_signed_ses_notification_becomes_events(
    version: str, message: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    events = post(SesWebhook(Fetcher(), [TOPIC]), sns(message=message, version=version))
    assert [(event.kind, event.email) for event in events] == expected
    assert all(event.source == "ses" for event in events)


def test_the_certificate_is_fetched_once() -> None:
    fetcher = Fetcher()
    webhook = SesWebhook(fetcher, [TOPIC])
    post(webhook, sns(message=bounce(), message_id="a"))
    post(webhook, sns(message=complaint(), message_id="b"))
    assert fetcher.asked == [CERT_URL]


def test_the_certificates_kept_are_bounded() -> None:
    # Each URL's certificate is kept: a stranger naming our topic with URL after URL on SNS's
    # host (its signature need not verify) had each fetched and kept, without end.
    fetcher = Fetcher()
    webhook = SesWebhook(fetcher, [TOPIC])
    urls = [CERT_URL.replace("-abc.pem", f"-{n}.pem") for n in range(100)]
    for url in urls:
        post(webhook, sns(message=bounce(), SigningCertURL=url, message_id=url))
    assert len(fetcher.asked) == 100
    post(webhook, sns(message=bounce(), SigningCertURL=urls[-1], message_id="again"))
    assert len(fetcher.asked) == 100  # the latest are kept
    post(webhook, sns(message=bounce(), SigningCertURL=urls[0], message_id="first"))
    assert len(fetcher.asked) == 101  # the oldest were let go


def _tampered_message() -> dict[str, str]:
    body = sns(message=bounce("Transient"))
    body["Message"] = json.dumps(bounce("Permanent"))
    return body


def _tampered_signature() -> dict[str, str]:
    body = sns(message=bounce())
    signature = bytearray(base64.b64decode(body["Signature"]))
    signature[10] ^= 1
    body["Signature"] = base64.b64encode(bytes(signature)).decode()
    return body


@pytest.mark.parametrize(
    ("body", "why", "fetched"),
    [
        (_tampered_message(), "does not verify", True),
        (_tampered_signature(), "does not verify", True),
        (sns(message=bounce(), key=OTHER_KEY), "does not verify", True),
        (sns(message=bounce(), version="3"), "SignatureVersion", False),
        ({**sns(message=bounce()), "Signature": "not base64!"}, "not base64", False),
        (
            sns(message=bounce(), TopicArn="arn:aws:sns:eu-west-1:999999999999:theirs"),
            "topic",
            False,
        ),
        (
            sns(message=bounce(), SigningCertURL=CERT_URL.replace("https", "http")),
            "SigningCertURL",
            False,
        ),
        (
            sns(message=bounce(), SigningCertURL="https://sns.evil.example/cert.pem"),
            "SigningCertURL",
            False,
        ),
        (
            sns(
                message=bounce(),
                SigningCertURL="https://sns.eu-west-1.amazonaws.com.evil.example/c.pem",
            ),
            "SigningCertURL",
            False,
        ),
        (
            sns(message=bounce(), SigningCertURL="https://sns.eu-west-1.amazonaws.com/x.txt"),
            ".pem",
            False,
        ),
        (  # SNS names no certificate with a query: each would be fetched and kept anew
            sns(message=bounce(), SigningCertURL=CERT_URL + "?copy=1"),
            "SigningCertURL",
            False,
        ),
        (  # an S3 bucket named "sns" (its owner's certificate), not SNS
            sns(message=bounce(), SigningCertURL=CERT_URL.replace("eu-west-1", "s3")),
            "SigningCertURL",
            False,
        ),
        (  # SNS signs a topic's messages in the topic's own region
            sns(message=bounce(), SigningCertURL=CERT_URL.replace("eu-west-1", "us-east-1")),
            "SigningCertURL",
            False,
        ),
        (
            sns(
                "SubscriptionConfirmation",
                SubscribeURL=SUBSCRIBE_URL.replace("eu-west-1", "s3-website-us-east-1"),
            ),
            "SubscribeURL",
            True,
        ),
        (
            sns("SubscriptionConfirmation", SubscribeURL="https://evil.example/x"),
            "SubscribeURL",
            True,
        ),
    ],
)
def test_an_sns_message_not_signed_by_sns_for_our_topic_is_refused(
    body: dict[str, str], why: str, fetched: bool
) -> None:
    fetcher = Fetcher()
    with pytest.raises(WebhookRefused, match=why) as refused:
        post(SesWebhook(fetcher, [TOPIC]), body)
    assert refused.value.status == 403
    assert bool(fetcher.asked) == fetched


def test_without_configured_topics_every_notification_is_refused() -> None:
    with pytest.raises(WebhookRefused, match="set \\[inbound\\] ses_topic_arns"):
        post(SesWebhook(Fetcher(), []), sns(message=bounce()))


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b"[" * 100_000, b"x" * 2_000_000])
def test_a_body_that_is_no_sns_message_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookRefused):
        SesWebhook(Fetcher(), [TOPIC]).handle({}, body, NOW)


def test_a_subscription_confirmation_visits_its_url_once_verified() -> None:
    fetcher = Fetcher()
    events = post(SesWebhook(fetcher, [TOPIC]), sns("SubscriptionConfirmation", message="Confirm"))
    assert events == [] and fetcher.asked == [CERT_URL, SUBSCRIBE_URL]


# Mailgun ---------------------------------------------------------------------------------------

SIGNING_KEY = "key-mailgun-0123456789"


def mailgun(
    event: dict[str, Any], *, at: datetime = NOW, token: str = "token-a", key: str = SIGNING_KEY
) -> bytes:
    timestamp = str(int(at.timestamp()))
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }
    return json.dumps(body).encode()


def failed(severity: str, event_id: str = "ev-1") -> dict[str, Any]:
    return {
        "event": "failed",
        "severity": severity,
        "recipient": "Rana@example.org",
        "id": event_id,
        "delivery-status": {"code": 550, "message": "5.1.1 no such user"},
    }


@pytest.fixture
def ledger(database_url: str) -> Any:
    store = open_store(database_url)
    yield store
    store.engine.dispose()


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (failed("permanent"), [("hard-bounce", "rana@example.org")]),
        (failed("temporary"), []),  # an attempt Mailgun makes again: nothing failed yet
        (
            {"event": "complained", "recipient": "sam@example.org", "id": "ev-2"},
            [("complaint", "sam@example.org")],
        ),
        ({"event": "delivered", "recipient": "sam@example.org", "id": "ev-3"}, []),
    ],
)
def test_a_signed_mailgun_event_becomes_events(
    ledger: Any, event: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    events = MailgunWebhook(SIGNING_KEY, ledger, 900).handle({}, mailgun(event), NOW)
    assert [(e.kind, e.email) for e in events] == expected


def _tampered_mailgun(field: str, value: str) -> bytes:
    body = json.loads(mailgun(failed("permanent")))
    body["signature"][field] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (mailgun(failed("permanent"), key="key-of-someone-else"), "does not verify"),
        (_tampered_mailgun("signature", "0" * 64), "does not verify"),
        (_tampered_mailgun("token", "token-b"), "does not verify"),
        (_tampered_mailgun("timestamp", str(int(NOW.timestamp()) + 1)), "does not verify"),
        (mailgun(failed("permanent"), at=NOW - timedelta(hours=1)), "not within 900 seconds"),
        (mailgun(failed("permanent"), at=NOW + timedelta(hours=1)), "not within 900 seconds"),
        (json.dumps({"event-data": failed("permanent")}).encode(), "no signature"),
        (b"not json", "not JSON"),
    ],
)
def test_a_mailgun_call_not_signed_just_now_by_mailgun_is_refused(
    ledger: Any, body: bytes, why: str
) -> None:
    with pytest.raises(WebhookRefused, match=why):
        MailgunWebhook(SIGNING_KEY, ledger, 900).handle({}, body, NOW)


def test_a_replayed_mailgun_token_is_refused(ledger: Any) -> None:
    webhook = MailgunWebhook(SIGNING_KEY, ledger, 900)
    webhook.handle({}, mailgun(failed("permanent")), NOW)
    again = mailgun(failed("permanent", "ev-other"))  # the same token, even for another event
    with pytest.raises(WebhookRefused, match="replay") as refused:
        webhook.handle({}, again, NOW + timedelta(seconds=30))
    assert refused.value.status == 409
    # A fresh token, long after the first was forgotten, is fine.
    later = NOW + timedelta(days=1)
    assert webhook.handle({}, mailgun(failed("permanent"), at=later, token="token-c"), later)


def test_mailgun_retries_of_one_copy_are_one_soft_bounce(tmp_path: Path, ledger: Any) -> None:
    # Mailgun posts an event, each with an id of its own, for every attempt at a copy it
    # retries: counted by those ids, one slow afternoon reached soft_limit. Its attempts to be
    # made again count nothing; the copy's soft failure (here, dropped as "Too old") once.
    raw = raw_config(tmp_path, "http://127.0.0.1:9")
    raw["bounces"] = {"soft_limit": 2}
    services = build_services(settings_of(tmp_path, raw), clock=FixedClock(NOW))
    webhook = MailgunWebhook(SIGNING_KEY, ledger, 900)

    def attempt(event_id: str, message_id: str, token: str, severity: str) -> list[str]:
        event = {
            **failed(severity, event_id),
            "message": {"headers": {"message-id": message_id}},
        }
        if severity == "permanent":
            event["delivery-status"] = {"code": 602, "message": "Too old"}
        taken = take_events(services, webhook.handle({}, mailgun(event, token=token), NOW))
        return [t.outcome for t in taken]

    assert attempt("ev-1", "copy-1@example.org", "t1", "temporary") == []
    assert attempt("ev-2", "copy-1@example.org", "t2", "temporary") == []
    assert attempt("ev-3", "copy-1@example.org", "t3", "permanent") == ["counted (1 of 2)"]
    # The same copy's failure again (its event posted twice): still one.
    assert attempt("ev-4", "copy-1@example.org", "t4", "permanent") == ["duplicate"]
    assert services.store.suppression(services.address_key("rana@example.org")) is None
    assert attempt("ev-5", "copy-2@example.org", "t5", "temporary") == []
    outcome = attempt("ev-6", "copy-2@example.org", "t6", "permanent")
    assert outcome[0].startswith("suppressed after 2")
    services.close()


def test_webhook_events_suppress_once_through_the_same_path_as_mail(tmp_path: Path) -> None:
    raw = raw_config(tmp_path, "http://127.0.0.1:9")
    raw["inbound"] = {"ses_topic_arns": [TOPIC]}
    settings = settings_of(tmp_path, raw).model_copy(update={"mailgun_signing_key": None})
    services = build_services(settings, clock=FixedClock(NOW))
    webhooks = webhooks_for(services)
    assert webhooks.ses is not None and webhooks.mailgun is None
    ses = SesWebhook(Fetcher(), [TOPIC])  # the same, with the test's certificate
    body = json.dumps(sns(message=bounce())).encode()
    first = take_events(services, ses.handle({}, body, NOW))
    again = take_events(services, ses.handle({}, body, NOW))  # SNS delivers it again
    assert [t.outcome for t in first] == ["suppressed for every list"]
    assert [t.outcome for t in again] == ["duplicate"]
    # Suppressed in the database, once; the suppression file gets it at the next cycle.
    found = services.store.suppression(services.address_key("rana@example.org"))
    assert found is not None and found.reason == "hard-bounce" and found.channel == "bounce"
    services.close()


# Anything at all posted to a webhook: refused with its status, never another error (a 500), and
# never an event. JSON shapes near the real ones reach past the parsing into the checks.
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_SNS_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "Type": st.sampled_from(["Notification", "SubscriptionConfirmation", "Other", ""]),
        "TopicArn": st.sampled_from([TOPIC, "arn:aws:sns:x", ""]) | st.text(max_size=20),
        "Message": st.text(max_size=60) | st.just(json.dumps({"notificationType": "Bounce"})),
        "MessageId": st.text(max_size=20),
        "Signature": st.text(max_size=40),
        "SignatureVersion": st.sampled_from(["1", "2", "3"]),
        "SigningCertURL": st.sampled_from([CERT_URL, "http://evil.example/x.pem", ""]),
        "SubscribeURL": st.sampled_from([SUBSCRIBE_URL, "https://evil.example/"]),
        "Timestamp": st.text(max_size=30),
    },
)
_MAILGUN_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "signature": st.fixed_dictionaries(
            {},
            optional={
                "timestamp": st.text(max_size=12) | st.just(str(int(NOW.timestamp()))),
                "token": st.text(max_size=20),
                "signature": st.text(max_size=64),
            },
        )
        | _JSON_VALUES,
        "event-data": _JSON_VALUES,
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300)
    | _JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | _SNS_FIELDS.map(lambda v: json.dumps(v).encode())
    | _MAILGUN_FIELDS.map(lambda v: json.dumps(v).encode()),
    headers=st.dictionaries(
        st.sampled_from(["x-amz-sns-message-type", "content-type", "x"]),
        st.text(max_size=30),
        max_size=3,
    ),
)
def test_any_body_is_refused_with_its_status_and_makes_no_event(
    ledger: Any, body: bytes, headers: dict[str, str]
) -> None:
    for webhook in (SesWebhook(Fetcher(), [TOPIC]), MailgunWebhook(SIGNING_KEY, ledger, 900)):
        try:
            events = webhook.handle(headers, body, NOW)
        except WebhookRefused as refused:
            assert 400 <= refused.status < 500
        else:
            raise AssertionError(f"{type(webhook).__name__} took an unsigned body: {events}")
