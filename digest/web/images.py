"""``/images/ID.jpg``: the pictures of the editions, served from the service's own copies.

The mail points here (web.images, digest.images) instead of the publishers' servers, so a reader
opening it is seen by none of them. The bytes under an id never change (the id is an HMAC of
the picture's address and role; a picture is converted once), so they are cached for a year.
"""

from __future__ import annotations

import hashlib
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.images.gathering import EXTENSIONS
from digest.web.context import web_context
from digest.web.pages import etag_matches

IMAGE_CACHE = "public, max-age=31536000, immutable"
# A picture is shown in the mail and in the archive's pages, on our origin or in a mail app:
# nothing in it may run, whatever a browser would sniff it as.
IMAGE_CSP = "default-src 'none'; sandbox"
# Matched whole (fullmatch): "$" also matches before a final newline, which would serve the
# picture under a second address ("ID.jpg%0A"), one more copy for every cache in front of us.
_NAME = re.compile(r"([0-9a-f]{32})\.(jpg|png)")


async def picture(request: Request) -> Response:
    web = web_context(request)
    match = _NAME.fullmatch(request.path_params["name"])
    # The mail's address has no query: one ("ID.jpg?v=2") would be one more copy of the
    # picture in every cache in front of us, and each new one a request the database answers.
    if match is None or request.scope.get("query_string"):
        return _not_found(request)
    found = await web.store_threads.run(web.services.store.picture_bytes, match[1])
    if found is None or EXTENSIONS.get(found.content_type) != match[2]:
        return _not_found(request)
    etag = '"' + hashlib.sha256(found.data).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": IMAGE_CACHE,
        "ETag": etag,
        "Content-Security-Policy": IMAGE_CSP,
    }
    if etag_matches(etag, request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.content_type, headers=headers)


def _not_found(request: Request) -> Response:
    # A short plain answer: a mail app asking for a picture shows no page.
    return Response("No such picture.\n", status_code=404, media_type="text/plain")


routes = [Route("/images/{name}", picture, methods=["GET", "HEAD"])]
