"""The sign-up's confirmation mail: one message to one reader, with the list's look and words.

    confirmation_message(settings, renderer, list, subscriber, confirm_url, now)
        ─► templates email/confirm.html.j2 + email/confirm.txt.j2 (the list's language)
        ─► headers from the config, made one line each (header_text), and the reader's
           address alone (no name: it was typed by whoever filled in the form), the block
           checked as a reader's mail program reads it (decoded_problem)
        ─► OutgoingMessage for the configured transport (outbox folder or SMTP)

A name typed into the sign-up form does not reach the message at all (it is kept for the
editions, which go only to a confirmed reader, who can change it), and the finished header
block is checked before the message is handed over: nothing typed into a form becomes a
header of its own (invariant 6).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime as rfc5322_date

from digest.config import ListSettings, Settings
from digest.errors import DeliveryPermanentError, HeaderCheckError
from digest.mail.dkim import DkimSigner
from digest.mail.headers import decoded_problem, header_text
from digest.mail.personalize import NAME_CHARS, POLICY, SUBJECT_CHARS
from digest.records import OutgoingMessage, Subscriber
from digest.render import Renderer, tidy_text
from digest.wording import direction_of, wording_for

HTML_TEMPLATE = "email/confirm.html.j2"
TEXT_TEMPLATE = "email/confirm.txt.j2"


def confirmation_message(
    settings: Settings,
    renderer: Renderer,
    digest_list: ListSettings,
    subscriber: Subscriber,
    confirm_url: str,
    now: datetime,
    *,
    dkim: DkimSigner | None = None,
) -> OutgoingMessage:
    """The confirmation mail asking ``subscriber`` to confirm their sign-up to ``digest_list``.

    Raises DeliveryPermanentError when the address cannot go in a header, HeaderCheckError when
    the headers would not read back as written (a config value no check caught).
    """
    service = settings.service
    words = wording_for(digest_list.language, digest_list.calendar)
    days = settings.web.confirm_days
    context = {
        "list_name": digest_list.name,
        "language": digest_list.language,
        "direction": direction_of(digest_list.language),
        "site_name": service.sender_name,
        "postal_address": service.postal_address,
        "confirm_url": confirm_url,
        "words": words,
        "days": words.counted(words.days, days),
    }
    environment = renderer.environment
    html = environment.get_template(HTML_TEMPLATE).render(context)
    text = tidy_text(environment.get_template(TEXT_TEMPLATE).render(context))
    # Random: a reader who signs up twice gets two mails, which no mail program may take for
    # one and the same.
    message_id = f"<confirm.{secrets.token_hex(10)}@{service.sender_domain}>"

    message = EmailMessage(policy=POLICY)
    try:
        message["From"] = Address(
            display_name=header_text(service.sender_name, NAME_CHARS),
            addr_spec=service.sender_address,
        )
        # The address alone, never a name: the mail goes to an address nobody has confirmed
        # yet, and a stranger's form could fill the name with words of their own ("Your
        # account is locked, call…") for our signed mail to carry into a victim's inbox.
        message["To"] = Address(addr_spec=subscriber.email)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise DeliveryPermanentError(
            subscriber.email, f"not an address a message can be sent to ({error})"
        ) from error
    if service.reply_to:
        message["Reply-To"] = service.reply_to
    subject = words.confirm_subject.format(list=digest_list.name)
    message["Subject"] = header_text(subject, SUBJECT_CHARS)
    message["Date"] = rfc5322_date(now)
    message["Message-ID"] = message_id
    # Not a bulk message: no List-Unsubscribe, and mailbox providers should not treat it as one.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    data = message.as_bytes(policy=POLICY)
    head = data.partition(b"\r\n\r\n")[0] + b"\r\n"
    problem = decoded_problem(head)
    if problem is not None:
        raise HeaderCheckError(
            f"list {digest_list.slug!r}: the confirmation mail's headers failed the last check "
            f"before sending ({problem}); nothing was sent",
            problem,
        )
    if dkim is not None:
        data = dkim.sign(data)
    return OutgoingMessage(
        sender=service.sender_address,
        recipient=subscriber.email,
        message_id=message_id,
        data=data,
    )
