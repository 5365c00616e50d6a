"""``/webhooks/ses`` and ``/webhooks/mailgun``: the mail providers' bounces and complaints.

    POST body (JSON, whatever the Content-Type: SNS sends text/plain) ─► the provider's handler
        (digest.inbound.sns, digest.inbound.mailgun: signature, topic, age, replay)
        refused ─► its status (400, 403, 409, 413) and one line in plain text; logged
        taken ─► digest.inbound.take.take_events: the same path as a bounce by mail
               (suppress, count a soft bounce, de-duplicated by the event's id) ─► 200;
               failed ─► 503, and a Mailgun call's token forgotten, so its retry is taken
    a provider not configured ─► 404, as for any address that serves nothing

A webhook's body may be larger than a form's: an SES notification carries the original
message's headers, and SNS messages run to 256 KB. The body limit of these two addresses is
``WEBHOOK_BODY_LIMIT`` (digest.web.security.RequestLimits), the bound the handlers read to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from digest.errors import WebhookRefused
from digest.inbound.events import InboundEvent
from digest.inbound.take import take_events
from digest.inbound.webhooks import MAX_BODY_BYTES
from digest.web.context import web_context

_log = logging.getLogger(__name__)
PREFIX = "/webhooks/"
WEBHOOK_BODY_LIMIT = MAX_BODY_BYTES


async def ses(request: Request) -> Response:
    handler = web_context(request).webhooks.ses
    # Not on the store's threads: it may wait on Amazon for a signing certificate, and a
    # stranger who names our topic could otherwise hold them from the one-click unsubscribes.
    return await _take(request, "ses", handler.handle if handler else None, store=False)


async def mailgun(request: Request) -> Response:
    handler = web_context(request).webhooks.mailgun
    # On the store's threads: it keeps the tokens seen in the store.
    return await _take(
        request,
        "mailgun",
        handler.handle if handler else None,
        store=True,
        not_taken=handler.not_taken if handler else None,
    )


Handle = Callable[[Mapping[str, str], bytes, datetime], list[InboundEvent]]


async def _take(
    request: Request,
    provider: str,
    handle: Handle | None,
    *,
    store: bool,
    not_taken: Callable[[bytes], None] | None = None,
) -> Response:
    if handle is None:
        return PlainTextResponse(f"No {provider} webhook is configured here.\n", status_code=404)
    web = web_context(request)
    body = await request.body()
    headers = dict(request.headers)
    now = web.services.clock.now()
    try:
        if store:
            events = await web.store_threads.run(handle, headers, body, now)
        else:
            events = await anyio.to_thread.run_sync(handle, headers, body, now)
    except WebhookRefused as refused:
        _log.warning("%s webhook refused: %r", provider, refused.reason)
        return PlainTextResponse(f"Refused: {refused.reason}\n", status_code=refused.status)
    try:
        taken = await web.store_threads.run(take_events, web.services, events)
    except Exception:
        # A 503 (digest.web.app), which the provider retries: not to be refused as a replay.
        if not_taken is not None:
            try:
                await web.store_threads.run(not_taken, body)
            except Exception:  # the store still down: the first failure is the one to report
                _log.exception("%s webhook: could not forget the call that was not taken", provider)
        raise
    for outcome in taken:
        _log.info("%s webhook: %s %s", provider, outcome.event.kind, outcome.outcome)
    return PlainTextResponse(f"Taken: {len(taken)} events.\n")


routes = [
    Route(f"{PREFIX}ses", ses, methods=["POST"]),
    Route(f"{PREFIX}mailgun", mailgun, methods=["POST"]),
]
