"""Amazon SES bounces and complaints, delivered by Amazon SNS to an https endpoint.

    POST body (SNS JSON) ─► TopicArn one of [inbound] ses_topic_arns? else refused
        ─► SigningCertURL https on sns.<the topic's region>.amazonaws.com? else refused
        ─► the certificate, fetched once per URL (an injected Fetcher) and cached (a few)
        ─► the signature over the canonical fields: RSA, SHA1 (SignatureVersion 1) or SHA256 (2)
        ─► SubscriptionConfirmation: its SubscribeURL (on the same host) is visited: confirmed
           Notification: the SES message ─► Bounce Permanent ─► hard; Transient, Undetermined
           ─► soft; Complaint (but not-spam) ─► complaint; one event per recipient

SNS signs for any AWS account's topic: the topic check is what makes a notification ours.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.errors import WebhookRefused
from digest.inbound.events import (
    COMPLAINT,
    HARD_BOUNCE,
    SOFT_BOUNCE,
    EventKind,
    InboundEvent,
    event_id,
    short,
)
from digest.inbound.webhooks import Fetcher, header, json_body

PROVIDER = "Amazon SNS"
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        *("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    ),
    "UnsubscribeConfirmation": (
        *("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    ),
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# SNS signs with one certificate per region, changed every few years: a handful are ever kept.
# Any URL on SNS's host is fetched before its signature can be checked, so without a bound a
# stranger naming our topic could have certificate after certificate kept.
MAX_CERTIFICATES = 16


class SesWebhook:
    """Takes SNS's POSTs of SES notifications for the configured topics."""

    def __init__(self, fetch: Fetcher, topic_arns: Collection[str]) -> None:
        self._fetch = fetch
        self._topics = frozenset(topic_arns)
        self._keys: dict[str, rsa.RSAPublicKey] = {}  # certificate URL -> its key
        self._lock = threading.Lock()

    def handle(self, headers: Mapping[str, str], body: bytes, now: datetime) -> list[InboundEvent]:
        """The events of one POST; raises WebhookRefused for one not from SNS for our topics."""
        message = json_body(PROVIDER, body)
        kind = _text(message, "Type")
        declared = header(headers, "x-amz-sns-message-type")
        if declared and declared != kind:
            raise WebhookRefused(PROVIDER, "the message type header and body disagree", 400)
        if kind not in _SIGNED_FIELDS:
            raise WebhookRefused(PROVIDER, f"unknown message type {short(kind, 40)!r}", 400)
        topic = _text(message, "TopicArn")
        if topic not in self._topics:
            why = (
                f"topic {short(topic, 200)!r} is not in [inbound] ses_topic_arns"
                if self._topics
                else "no topic is configured: set [inbound] ses_topic_arns"
            )
            raise WebhookRefused(PROVIDER, why)
        region = _region_of(topic)
        self._verify(message, kind, region)
        if kind == "SubscriptionConfirmation":
            self._confirm(_text(message, "SubscribeURL"), region)
            return []
        if kind == "UnsubscribeConfirmation":
            return []
        return _ses_events(_text(message, "MessageId"), _text(message, "Message"))

    def _verify(self, message: Mapping[str, Any], kind: str, region: str) -> None:
        algorithm = _HASHES.get(_text(message, "SignatureVersion"))
        if algorithm is None:
            raise WebhookRefused(PROVIDER, "unknown SignatureVersion (1 and 2 are known)")
        try:
            signature = base64.b64decode(_text(message, "Signature"), validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRefused(PROVIDER, "the signature is not base64") from None
        signed = "".join(
            f"{name}\n{message[name]}\n"
            for name in _SIGNED_FIELDS[kind]
            if isinstance(message.get(name), str)
        ).encode("utf-8")
        key = self._key(_text(message, "SigningCertURL"), region)
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise WebhookRefused(PROVIDER, "the signature does not verify") from None

    def _key(self, url: str, region: str) -> rsa.RSAPublicKey:
        _check_sns_url(url, "SigningCertURL", region)
        if not urlsplit(url).path.endswith(".pem"):
            raise WebhookRefused(PROVIDER, "SigningCertURL is not a .pem certificate")
        with self._lock:
            key = self._keys.get(url)
        if key is not None:
            return key
        try:
            certificate = x509.load_pem_x509_certificate(self._fetch(url))
        except Exception as error:  # unreachable, not PEM: either way nothing to verify with
            raise WebhookRefused(
                PROVIDER, f"the signing certificate could not be had ({type(error).__name__})", 503
            ) from error
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise WebhookRefused(PROVIDER, "the signing certificate's key is not RSA")
        with self._lock:
            while len(self._keys) >= MAX_CERTIFICATES:
                del self._keys[next(iter(self._keys))]  # the oldest kept
            self._keys[url] = public_key
        return public_key

    def _confirm(self, url: str, region: str) -> None:
        _check_sns_url(url, "SubscribeURL", region)
        try:
            self._fetch(url)
        except Exception as error:  # unreachable, refused: a 503 the provider retries
            raise WebhookRefused(
                PROVIDER, f"the subscription could not be confirmed ({type(error).__name__})", 503
            ) from error


def _region_of(topic_arn: str) -> str:
    """The region of ``arn:aws:sns:REGION:ACCOUNT:NAME`` (one of ours, checked before)."""
    return topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else ""


def _check_sns_url(url: str, field: str, region: str) -> None:
    # SNS in the topic's own region, not any sns.<label>.amazonaws.com: that also names S3
    # buckets called "sns" (sns.s3.amazonaws.com, sns.s3-us-west-2.amazonaws.com), whose
    # owner could serve a certificate of their own and sign any notification with it.
    hosts = {f"sns.{region}.amazonaws.com", f"sns.{region}.amazonaws.com.cn"}
    parts = urlsplit(url)
    why = f"{field} is not https on sns.{region or '<region>'}.amazonaws.com, the topic's region"
    if not region or parts.scheme != "https" or parts.hostname not in hosts:
        raise WebhookRefused(PROVIDER, why)
    if parts.port not in (None, 443) or parts.username or parts.password:
        raise WebhookRefused(PROVIDER, why)
    if field == "SigningCertURL" and (parts.query or parts.fragment):
        raise WebhookRefused(PROVIDER, f"{field} has a query or fragment, which SNS's have not")


def _text(message: Mapping[str, Any], name: str) -> str:
    value = message.get(name)
    return value if isinstance(value, str) else ""


def _ses_events(notification_id: str, text: str) -> list[InboundEvent]:
    """The SES notification (the SNS Message, itself JSON) as events, one per recipient."""
    try:
        ses = json.loads(text)
    except (ValueError, RecursionError):
        raise WebhookRefused(PROVIDER, "the notification's Message is not JSON", 400) from None
    if not isinstance(ses, dict):
        raise WebhookRefused(PROVIDER, "the notification's Message is not a JSON object", 400)
    kind = ses.get("notificationType") or ses.get("eventType")  # notifications or event publishing
    if kind == "Bounce":
        bounce = _mapping(ses.get("bounce"))
        bounce_type = bounce.get("bounceType")
        found: EventKind = HARD_BOUNCE if bounce_type == "Permanent" else SOFT_BOUNCE
        recipients = _list(bounce.get("bouncedRecipients"))
        about = bounce.get("feedbackId") or notification_id
        detail = f"SES {bounce_type} {bounce.get('bounceSubType', '')}"
    elif kind == "Complaint":
        complaint = _mapping(ses.get("complaint"))
        if complaint.get("complaintFeedbackType") == "not-spam":
            return []
        found = COMPLAINT
        recipients = _list(complaint.get("complainedRecipients"))
        about = complaint.get("feedbackId") or notification_id
        detail = f"SES complaint {complaint.get('complaintFeedbackType') or ''}"
    else:
        return []  # deliveries, opens: nothing to do
    events = []
    for recipient in recipients:
        address = _mapping(recipient).get("emailAddress")
        if not isinstance(address, str) or "@" not in address or len(address) > 320:
            continue
        status = _mapping(recipient).get("status") or ""
        events.append(
            InboundEvent(
                kind=found,
                event_id=event_id("ses", found, about, address.lower()),
                source="ses",
                email=address.strip().lower(),
                detail=short(f"{detail} {status}".strip()),
            )
        )
    return events


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
