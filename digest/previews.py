"""An edition before it is stored: its preview, the service's copies of its pictures, and the
checks a sample personal copy of it must pass (digest.lint)."""

from __future__ import annotations

from digest import lint
from digest.config import ListSettings
from digest.errors import (
    HeaderCheckError,
)
from digest.images.gathering import gather_pictures
from digest.images.records import Pictures
from digest.mail.personalize import fill_for_preview, personalize
from digest.records import (
    Edition,
    OutgoingMessage,
    RenderedEdition,
    Subscriber,
)
from digest.services import Services, signing_secret
from digest.windows import compose_next_edition


def render_preview(services: Services, list_slug: str) -> RenderedEdition:
    """The edition ``list_slug`` would send now, placeholders unfilled; nothing is stored but,
    with web.images, the pictures it shows (which the build then finds kept)."""
    digest_list = services.settings.list(list_slug)
    now = services.clock.now()
    edition = compose_next_edition(
        services, digest_list, now, now, services.store.article_sequence()
    )
    return services.renderer.render(edition, digest_list, edition_pictures(services, edition))


def edition_pictures(services: Services, edition: Edition) -> Pictures | None:
    """The service's copies of the pictures ``edition`` shows (fetched now if not kept yet), or
    None when the service does not serve pictures (web.images off): the publishers' addresses."""
    if not services.settings.web.images:
        return None
    return gather_pictures(
        edition,
        settings=services.settings,
        store=services.store,
        client=services.picture_client(),
        secret=signing_secret(services.settings),
        now=services.clock.now(),
    )


def preview_edition(services: Services, list_slug: str) -> RenderedEdition:
    """The edition ``list_slug`` would send now, for a reader with no name; nothing is stored."""
    settings = services.settings
    rendered = render_preview(services, list_slug)
    return fill_for_preview(
        rendered, service=settings.service, digest_list=settings.list(list_slug)
    )


SAMPLE_READER = "you@example.org"


def sample_message(
    services: Services, rendered: RenderedEdition, digest_list: ListSettings
) -> OutgoingMessage:
    """One personal copy of ``rendered`` for a made-up reader, to check and to preview."""
    reader = Subscriber(id=0, email=SAMPLE_READER, name=None, timezone=digest_list.timezone)
    return personalize(
        rendered,
        reader,
        edition_id=0,
        service=services.settings.service,
        digest_list=digest_list,
        signer=services.signer,
        now=services.clock.now(),
    )


def check_edition(
    services: Services, rendered: RenderedEdition, digest_list: ListSettings
) -> tuple[lint.Finding, ...]:
    """What ``digest.lint`` finds wrong with ``rendered``, seen through a sample personal copy.

    Headers that fail the mailer's own last check (``digest.mail.personalize``) are a finding
    too, so that the edition is refused, or the article at fault left out, like any other.
    """
    try:
        sample = sample_message(services, rendered, digest_list)
    except HeaderCheckError as error:
        return (lint.Finding("headers", f"the mailer's last check refused them: {error.problem}"),)
    return lint.lint_edition(
        rendered, sample, postal_address=services.settings.service.postal_address
    )
