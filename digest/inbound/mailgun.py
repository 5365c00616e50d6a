"""Mailgun's webhooks: failed (permanent, temporary) and complained events.

POST body (JSON) ─► signature: HMAC-SHA256 of timestamp + token under the webhook signing
                    key (DIGEST_MAILGUN_SIGNING_KEY) ─► else refused
                 ─► timestamp within [inbound] webhook_max_age_seconds of now ─► else refused
                 ─► token never seen before (kept in the store) ─► else refused: a replay
                 ─► event-data: failed permanent ─► hard, but soft when its reply faults the
                    copy or our sender rather than the address (read by the rules of a bounce
                    by mail) or Mailgun gave up retrying it ("Too old"); failed temporary ─►
                    nothing yet (an attempt Mailgun will make again); complained ─►
                    complaint; the rest ─► nothing; one event per copy (Message-ID),
                    recipient and kind, however many events Mailgun posts about it

Mailgun calls "permanent" any 5xx reply (a mailbox full, a provider's block of our sending
address) and the copy it dropped after retrying for 8 hours: taken as hard bounces, a block at
one provider suppressed every reader there, where the same replies by DSN count as soft. And
"temporary" is an attempt the server deferred (greylisting, a server busy), which Mailgun makes
again for up to 8 hours and which most often succeeds: a DSN's "Action: delayed". Counted as
soft bounces, five greylisted copies suppressed a reader who had every one; the copy's last
word (delivered, or a permanent failure, "Too old" included) is what counts.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from digest.errors import WebhookRefused
from digest.inbound.bounces import refusal_faults_the_address
from digest.inbound.events import (
    COMPLAINT,
    HARD_BOUNCE,
    SOFT_BOUNCE,
    EventKind,
    InboundEvent,
    event_id,
    short,
)
from digest.inbound.webhooks import json_body

PROVIDER = "Mailgun"
# Mailgun's own delivery-status code of a copy it dropped after its 8 hours of retries ("Too
# old"): the reader's server unreachable or deferring all that time, as a DSN's 4.4.7.
GAVE_UP = "602"


class TokenLedger(Protocol):
    def first_use_of_webhook_token(
        self, provider: str, token: str, now: datetime, forget_before: datetime
    ) -> bool: ...

    def forget_webhook_token(self, provider: str, token: str) -> None: ...


class MailgunWebhook:
    """Takes Mailgun's webhook POSTs signed with ``signing_key``."""

    def __init__(self, signing_key: str, tokens: TokenLedger, max_age_seconds: int) -> None:
        if not signing_key:
            raise ValueError("the Mailgun signing key is empty: set DIGEST_MAILGUN_SIGNING_KEY")
        self._key = signing_key.encode("utf-8")
        self._tokens = tokens
        self._max_age = timedelta(seconds=max_age_seconds)

    def handle(self, headers: Mapping[str, str], body: bytes, now: datetime) -> list[InboundEvent]:
        """The events of one POST; raises WebhookRefused for one not signed by Mailgun just now
        or seen before."""
        document = json_body(PROVIDER, body)
        signature = _mapping(document.get("signature"))
        timestamp, token = _text(signature, "timestamp"), _text(signature, "token")
        given = _text(signature, "signature")
        if not timestamp or not token or not given or len(token) > 200:
            raise WebhookRefused(PROVIDER, "no signature (timestamp, token, signature)")
        expected = hmac.new(self._key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError,
        # a 500, for a forged signature of "\u0080").
        if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace")):
            raise WebhookRefused(PROVIDER, "the signature does not verify")
        try:
            signed_at = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
        except (ValueError, OverflowError, OSError):
            raise WebhookRefused(PROVIDER, "the timestamp is not a number of seconds") from None
        if abs(now - signed_at) > self._max_age:
            raise WebhookRefused(
                PROVIDER,
                f"signed at {signed_at:%Y-%m-%d %H:%M:%S}, not within "
                f"{self._max_age.total_seconds():g} seconds of now (webhook_max_age_seconds)",
            )
        if not self._tokens.first_use_of_webhook_token(
            "mailgun", token, now, now - 2 * self._max_age
        ):
            raise WebhookRefused(PROVIDER, "the token was used before: a replay", 409)
        return _events(_mapping(document.get("event-data")))

    def not_taken(self, body: bytes) -> None:
        """The events of ``body``, which ``handle`` accepted, could not be taken (the store
        failed): its token is forgotten, so that Mailgun's retry of the same call is taken
        rather than refused as a replay."""
        try:
            token = _text(_mapping(json_body(PROVIDER, body).get("signature")), "token")
        except WebhookRefused:
            return
        if token:
            self._tokens.forget_webhook_token("mailgun", token)


def _events(data: Mapping[str, Any]) -> list[InboundEvent]:
    name, severity = _text(data, "event"), _text(data, "severity")
    status = _mapping(data.get("delivery-status"))
    kind: EventKind
    if name == "failed":
        if severity != "permanent":
            return []  # Mailgun tries the copy again: nothing has failed yet
        kind = _failure_kind(status)
    elif name == "complained":
        kind = COMPLAINT
    else:
        return []
    recipient = _text(data, "recipient").strip().lower()
    identifier = _text(data, "id")
    if "@" not in recipient or len(recipient) > 320 or not identifier:
        return []
    detail = f"Mailgun {name} {severity} {status.get('code') or ''} {status.get('message') or ''}"
    # Mailgun posts an event, with an id of its own, for every attempt at a copy it retries: the
    # copy (its Message-ID) and kind make the event, so that soft bounces count copies.
    message_id = _text(_mapping(_mapping(data.get("message")).get("headers")), "message-id")
    about = ("copy", kind, message_id.strip()) if message_id.strip() else (identifier,)
    return [
        InboundEvent(
            kind=kind,
            event_id=event_id("mailgun", *about, recipient),
            source="mailgun",
            email=recipient,
            detail=short(detail.strip()),
        )
    ]


def _failure_kind(status: Mapping[str, Any]) -> EventKind:
    """A permanent failure's kind: hard only when the server's reply faults the address
    itself."""
    code = _text(status, "code")
    if code == GAVE_UP:
        return SOFT_BOUNCE
    # The enhanced code first: it is what the rules of a bounce read (5.7.x, 5.2.2...).
    reply = " ".join(
        part for part in (code, _text(status, "enhanced-code"), _text(status, "message")) if part
    )
    return HARD_BOUNCE if refusal_faults_the_address(reply) else SOFT_BOUNCE


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, float) and not math.isfinite(value):
        # Python's JSON parser reads Infinity, NaN and 1e400 as such floats, which no int
        # holds: int() raised, and an unsigned call was a 500.
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    return value if isinstance(value, str) else ""
