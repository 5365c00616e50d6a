"""The mail stage: signed tokens, a personal copy per subscriber, and the transports."""

from __future__ import annotations

from digest.mail.personalize import Personalizer, fill_for_preview, personalize
from digest.mail.reader_addresses import clean_name, normalize_email
from digest.mail.smtp import SmtpTransport
from digest.mail.subscribers import SubscriberRow, read_subscriber_csv
from digest.mail.tokens import InvalidToken, TokenSigner, load_or_create_secret
from digest.mail.transport import (
    MailTransport,
    MemoryTransport,
    OutboxTransport,
    outbox_file_name,
)

__all__ = [
    "InvalidToken",
    "MailTransport",
    "MemoryTransport",
    "OutboxTransport",
    "Personalizer",
    "SmtpTransport",
    "SubscriberRow",
    "TokenSigner",
    "clean_name",
    "fill_for_preview",
    "load_or_create_secret",
    "normalize_email",
    "outbox_file_name",
    "personalize",
    "read_subscriber_csv",
]
