"""Sign-up with double opt-in: the work behind the form, and the confirmation.

    the form (digest.web.signup) ─► a SignUpRequest on the queue; the reader is answered at once
    handle_sign_up(request), off the request path (digest.web.signups: a thread, or a Celery
        task on the workers in the distributed mode):
        address, or its mailbox's plain spelling, suppressed or forgotten ─► nothing
        membership confirmed or pending ─► stays; a pending one is sent the mail again
        new, or unsubscribed ─► pending (channel "sign-up"), and the confirmation mail:
            a link to base_url/confirm/TOKEN, signed, expiring after web.confirm_days
    the confirmation page's button ─► confirm_sign_up: pending ─► confirmed (channel "sign-up")

Only confirmed members receive editions (digest.store.deliveries.queue_deliveries). A
confirmed reader who signs up again gets no mail: the form's answer is the same for everyone,
and a mail saying "you are subscribed already" would only tell a stranger's form to write to
them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from digest.addresses import mailbox_of, without_addresses
from digest.errors import DeliveryError, HeaderCheckError
from digest.lists import list_for_slug, slugs_and_previous
from digest.mail.confirmation import confirmation_message
from digest.mail.transport import MailTransport
from digest.services import Services
from digest.store.memberships import Change, SignUp
from digest.store.subscribers import SIGN_UP
from digest.suppression import RESUBSCRIBED, suppression_turn
from digest.unsubscribes import write_suppression_line

_log = logging.getLogger(__name__)
_TOKEN_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class SignUpRequest:
    """What the form asked for: a checked, normalized address, a name (or none), a list."""

    list_slug: str
    email: str
    name: str | None = None

    def as_args(self) -> tuple[str, str, str | None]:
        """The arguments of the Celery task that handles it."""
        return self.list_slug, self.email, self.name


def confirm_max_age(services: Services) -> timedelta:
    return timedelta(days=services.settings.web.confirm_days)


def lapse_unconfirmed(services: Services, now: datetime) -> None:
    """The sign-ups whose confirmation link no longer works stop counting: a person who only
    ever asked is deleted with what was typed into the form; a membership of a person kept
    (a reader who left, a member of another list) is as it was before its sign-up."""
    before = now - confirm_max_age(services)
    dropped = services.store.drop_unconfirmed(before)
    if dropped:
        _log.info(
            "%d sign-ups never confirmed within web.confirm_days were dropped, with what was "
            "typed into the form",
            dropped,
        )
    slugs_of = {
        slug: slugs_and_previous(each)
        for each in services.settings.lists
        for slug in slugs_and_previous(each)
    }
    lapsed = services.store.lapse_sign_ups(before, now, slugs_of)
    if lapsed:
        _log.info(
            "%d sign-ups of readers kept for another reason were not confirmed within "
            "web.confirm_days: each membership is as it was before its sign-up",
            lapsed,
        )


def handle_sign_up(
    services: Services, transport: MailTransport, request: SignUpRequest
) -> SignUp | None:
    """Record the sign-up and send the confirmation mail when one is due (see the module's
    docstring); None when the list is no longer configured. A mail the transport refuses is
    logged: the reader, told to check their inbox, signs up again."""
    digest_list = list_for_slug(services.settings, request.list_slug)
    if digest_list is None:
        _log.warning("a sign-up for list %r, which is no longer configured", request.list_slug)
        return None
    now = services.clock.now()
    store = services.store
    key = services.address_key(request.email)
    # A mailbox that bounced or complained under its plain spelling is not mailed again under
    # another ("ann+news@", "a.nn@gmail.com"), which anyone's form can write.
    mailbox = services.address_key(mailbox_of(request.email))
    wanted = (request.email, request.name, digest_list.slug, key, now)
    # The list's members may still be held under a former slug until the next cycle moves them.
    former = slugs_and_previous(digest_list)[1:]
    try:
        outcome = store.sign_up(*wanted, mailbox_key=mailbox, former_slugs=former)
    except IntegrityError:
        # Two workers made the same new subscriber or membership at once: the other's stands,
        # and this one now finds it.
        outcome = store.sign_up(*wanted, mailbox_key=mailbox, former_slugs=former)
    if not outcome.wants_confirmation or outcome.subscriber_id is None:
        return outcome
    subscriber = store.subscriber(outcome.subscriber_id)
    if subscriber is None:  # forgotten between the two calls
        return outcome
    token = services.signer.confirm_token(subscriber.id, digest_list.slug, now)
    url = f"{services.settings.service.base_url}/confirm/{token}"
    try:
        message = confirmation_message(
            services.settings,
            services.renderer,
            digest_list,
            subscriber,
            url,
            now,
            dkim=services.dkim,
        )
        transport.send(message)
    except (DeliveryError, HeaderCheckError) as error:
        # By id: anyone can type any address into the form, and a log of the refused ones
        # would keep every address typed (the server's reply quotes it too).
        said = error.reason if isinstance(error, DeliveryError) else str(error)
        recipient = error.recipient if isinstance(error, DeliveryError) else subscriber.email
        _log.error(
            "list %r: the confirmation mail of subscriber %d was not sent: %s",
            digest_list.slug,
            subscriber.id,
            without_addresses(said, (subscriber.email, recipient), f"subscriber {subscriber.id}"),
        )
    return outcome


def confirm_sign_up(
    services: Services, subscriber_id: int, list_slug: str, issued: datetime
) -> Change | None:
    """The confirmation page's button: the pending membership confirmed (channel "sign-up");
    pressing it again changes nothing, and an unsubscribed reader stays unsubscribed. None
    when there is no such membership. ``issued`` is when the link was made: a link older than
    the membership's pending state (the reader left since, and someone signed them up again)
    confirms nothing; only the mail of that later sign-up does.

    A reader who had unsubscribed from the list and came back gets a ``sign-up`` line in the
    suppression file, after their unsubscribe's (also one made under the list's former slug):
    the file read again (an operator's edit) then leaves them subscribed (digest.suppression).
    """
    digest_list = list_for_slug(services.settings, list_slug)
    slug = digest_list.slug if digest_list is not None else list_slug
    # The reader may have left the list under a former slug, which their history keeps.
    slugs = slugs_and_previous(digest_list) if digest_list is not None else (slug,)
    store, now = services.store, services.clock.now()
    # The change and its line in one turn of the file: an unsubscribe of the same reader a
    # moment apart gets its line in the order of the database (digest.suppression).
    with suppression_turn(services.settings.service.suppression_path) as turn:
        # The link holds whole seconds; the sign-up that sent it was recorded within that second.
        asked_at = issued + _TOKEN_SECOND
        # Held under a former slug until the next cycle carries the rename over, while the
        # pages already serve the list under its slug now: tried under each, newest first.
        change = None
        for held_as in slugs:
            change = store.confirm(subscriber_id, held_as, now, SIGN_UP, asked_at=asked_at)
            if change is not None:
                break
        if change is not None and change.changed and store.ever_unsubscribed(subscriber_id, slugs):
            write_suppression_line(
                services, subscriber_id, slug, RESUBSCRIBED, now, turn, sync=True,
                lost="a returning reader",
            )  # fmt: skip
    return change
