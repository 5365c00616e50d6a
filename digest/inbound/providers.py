"""The mail providers' webhook handlers the config enables, for the web app to mount."""

from __future__ import annotations

from dataclasses import dataclass

from digest.inbound.mailgun import MailgunWebhook
from digest.inbound.sns import SesWebhook
from digest.inbound.webhooks import fetcher
from digest.services import Services


@dataclass(frozen=True)
class Webhooks:
    """Each handler, or None when its provider is not configured (the route answers 404)."""

    ses: SesWebhook | None = None
    mailgun: MailgunWebhook | None = None


def webhooks_for(services: Services) -> Webhooks:
    """SES when ``[inbound] ses_topic_arns`` is set, Mailgun when DIGEST_MAILGUN_SIGNING_KEY
    is; certificates are fetched with the services' HTTP client, Mailgun's tokens kept in the
    store."""
    settings = services.settings
    ses = mailgun = None
    if settings.inbound.ses_topic_arns:
        ses = SesWebhook(fetcher(services.http), settings.inbound.ses_topic_arns)
    if settings.mailgun_signing_key is not None:
        mailgun = MailgunWebhook(
            settings.mailgun_signing_key.get_secret_value(),
            services.store,
            settings.inbound.webhook_max_age_seconds,
        )
    return Webhooks(ses=ses, mailgun=mailgun)
