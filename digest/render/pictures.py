"""Which picture a story shows, and from what address: the service's copy or the publisher's."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from digest.images.records import Pictures, Role
from digest.ingest.pictures import names_private_host, picture_url
from digest.records import Article
from digest.render.bounds import LEAD_IMAGE_WIDTH, bounded_url


def kept_by(
    pictures: Pictures | None, role: Role, private_allowed: bool
) -> Callable[[Article], bool]:
    """With the service's pictures, whether it kept a report's picture for ``role``; without
    them (no web service), any address that is no known pixel and that the mail can show
    (``_publisher_picture_url``) will do, but one on a private network (``names_private_host``)
    only where the feeds may be on one too (``ingest.allow_private_addresses``): the reader's
    mail app loads it. A report whose address cannot be shown gives way to the next report's
    picture, rather than leave the story without any."""
    if pictures is None:
        return lambda article: (
            _publisher_picture_url(picture_url(article.image_url)) is not None
            and (private_allowed or not names_private_host(article.image_url or ""))
        )
    return lambda article: (role, picture_url(article.image_url) or "") in pictures


def picture_address(
    article: Article, role: Role, pictures: Pictures | None
) -> tuple[str | None, int | None]:
    """The address a story's picture is shown from, and the lead's height at its display width
    when the service's copy tells it."""
    # A pixel stored before its pattern was known is no picture either (ingest.pictures).
    source = picture_url(article.image_url)
    if pictures is None:
        return _publisher_picture_url(source), None
    served = pictures.get((role, source)) if source else None
    if served is None:
        return None, None  # not fetched, or refused by the check: the item shows without it
    height = round(LEAD_IMAGE_WIDTH * served.height / served.width) if served.width else None
    return served.url, height


# A space a feed left in a picture's path or query ("…/Harbour at dawn.jpg"), which browsers
# send percent-encoded; a tab or a line break they drop, and a space in the host name fails the
# address: no address to guess at.
_SPACE_IN_URL = re.compile(r"[^\S\t\n\r]")


def _publisher_picture_url(url: str | None) -> str | None:
    """The publisher's address of a picture as the mail shows it (no image service): the spaces
    after its host written as a browser requests them (%20), then ``bounded_url``; None when
    it cannot be shown."""
    if url is None:
        return None
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    host, slash, after_host = rest.partition("/")
    if separator and slash:
        url = f"{scheme}://{host}/{_SPACE_IN_URL.sub(lambda space: quote(space[0]), after_host)}"
    return bounded_url(url)
