"""How mail leaves and comes back: the mail server, DKIM, VERP return paths and the receiver of
bounces and complaints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from digest.config.values import HostName, RateText, SettingsModel


class SmtpSettings(SettingsModel):
    """The mail server that takes the messages; without this table mail goes to the outbox."""

    host: HostName
    """The mail server's host name or address."""
    port: int = Field(default=587, ge=1, le=65535)
    """The mail server's port."""
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    """How the connection is encrypted: STARTTLS after connecting, TLS from the start, or not."""
    ca_file: Path | None = None
    """A PEM file of the authorities to trust for the server's certificate instead of the
    system's (a relay's certificate of a private CA), relative to the config file. The
    certificate and its host name are checked with or without it."""
    user: str | None = None
    """The login; its password comes from ``DIGEST_SMTP_PASSWORD``. None: no login."""
    # At most the longest wait RFC 5321 (4.5.3.2) asks of a client: ten minutes for the reply
    # to a message's end. Unbounded, `inf` made every send fail with an OverflowError.
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """How long the server may take over one reply, in all: one that trickles in slower counts
    as a lost connection."""
    connections: int = Field(default=4, ge=1, le=32)
    """Messages sent at once, each by its own process with its own connection."""
    # Delivery retries (digest.retries).
    max_attempts: int = Field(default=3, ge=1, le=20)
    """Copies of one message that may reach the server with no reply (it may have taken them)
    before the delivery is parked."""
    max_retries: int = Field(default=8, ge=0, le=100)
    """Temporary failures (4xx, the server unreachable) of one delivery before it is failed."""
    retry_minutes: float = Field(default=5, gt=0, le=24 * 60)
    """The wait before a delivery's first retry, doubled after each."""
    max_retry_minutes: float = Field(default=6 * 60, gt=0, le=7 * 24 * 60)
    """The longest wait between two retries of a delivery."""
    suppress_after_refusals: int = Field(
        default=3,
        ge=1,
        le=100,
        description="A reader whose address the server refused for good (5xx) this many times, "
        "each for a different edition, within bounces.soft_window_days, is suppressed like a "
        "hard bounce; each refusal fails that delivery at once either way. A refusal that "
        "faults the message or the sender (a 5.7.x blocklist, 5.3.4, a bare 552) is not counted.",
    )
    send_rate: RateText | None = Field(
        default=None,
        description="At most this many messages to this server, from all workers together "
        "(shared through Redis in the distributed mode), e.g. '50/second' or '3000/minute'; "
        "none: as fast as the server takes them.",
    )


class DkimSettings(SettingsModel):
    """Sign every message with DKIM; the private key comes from key_file or DIGEST_DKIM_KEY."""

    selector: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$")
    """The DKIM selector: the public key is published at ``{selector}._domainkey.{domain}``."""
    domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
    """The ``d=`` of the signature; none means the sender's domain."""
    key_file: Path | None = None
    """A PEM RSA private key, relative to the config file; none: ``DIGEST_DKIM_KEY`` holds the
    PEM text."""


_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+")


def _check_local_part(value: str) -> str:
    # Room for "+", the token (up to 52 characters) and RFC 5321's 64 of a local part.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,19}", value):
        raise ValueError(
            f"{value!r} cannot start a return path: use letters, digits, '-' and '_' (no '+', "
            "which the token follows), at most 20 characters, e.g. 'bounces'"
        )
    return value


def _check_domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value) or len(value) > 253:
        raise ValueError(f"{value!r} is not a domain name such as bounce.example.org")
    return value


class BouncesSettings(SettingsModel):
    """VERP return paths: each copy's envelope sender names its delivery, so that a bounce says
    whose copy bounced (digest.inbound)."""

    enabled: bool = Field(
        default=False,
        description="Send each copy from its own return path, local_part+TOKEN@domain, where the "
        "token names the delivery and is signed with the secret key. Turn it on once mail to "
        "that domain reaches `digest inbound` (see docs/inbound.md); off, every copy's envelope "
        "sender is service.sender_address.",
    )
    local_part: Annotated[str, AfterValidator(_check_local_part)] = Field(
        default="bounces",
        description="The mailbox part of the return path, before the '+': letters, digits, '-' "
        "and '_', at most 20 characters.",
    )
    domain: Annotated[str, AfterValidator(_check_domain)] | None = Field(
        default=None,
        description="The domain of the return path, whose MX (or a Postfix transport) hands "
        "its mail to `digest inbound`; none: the domain of service.sender_address.",
    )
    soft_limit: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Soft bounces (mailbox full, server unavailable, delivery time expired) of "
        "one address, each of a different message, after which it is suppressed like a hard "
        "bounce. A delay warning is none.",
    )
    soft_window_days: float = Field(
        default=30,
        gt=0,
        le=365,
        description="The soft bounces counted against soft_limit are those of the last this "
        "many days.",
    )


def _check_topic_arn(arn: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", arn):
        raise ValueError(
            f"{arn!r} is not an SNS topic ARN: write it as "
            "arn:aws:sns:REGION:ACCOUNT:TOPIC, as the SNS console shows it"
        )
    return arn


class InboundSettings(SettingsModel):
    """The receiver of bounces, complaints and mailto unsubscribes (digest.inbound)."""

    enabled: bool = Field(
        default=False,
        description="`digest run` also runs the inbound receiver, on host and port; "
        "`digest inbound` runs it on its own whatever this says.",
    )
    host: HostName = Field(
        default="127.0.0.1",
        description="Address the receiver listens on; 0.0.0.0 for every interface.",
    )
    port: int = Field(default=2525, ge=1, le=65535, description="Port the receiver listens on.")
    lmtp: bool = Field(
        default=False,
        description="Speak LMTP rather than SMTP: for a Postfix transport (lmtp:HOST:PORT).",
    )
    max_message_bytes: int = Field(
        default=2_000_000,
        ge=10_000,
        le=100_000_000,
        description="Larger messages are refused (552) before they are read.",
    )
    max_connections: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Connections the receiver holds at once; one more is answered 421 (try "
        "again later) and closed, so a flood of clients cannot take the process's memory and "
        "files.",
    )
    ses_topic_arns: tuple[Annotated[str, AfterValidator(_check_topic_arn)], ...] = Field(
        default=(),
        description="The SNS topics whose Amazon SES notifications the SES webhook takes; a "
        "notification signed by SNS for any other topic is refused.",
    )
    webhook_max_age_seconds: int = Field(
        default=900,
        ge=30,
        le=86_400,
        description="A Mailgun webhook call signed longer ago than this (or this far in the "
        "future) is refused, so a captured call cannot be replayed later.",
    )
