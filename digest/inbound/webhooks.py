"""What the mail providers' webhooks share: the body read as JSON within bounds, a fetcher.

Each provider's handler is a plain object with ``handle(headers, body, now) -> list of
InboundEvent``, free of any web framework: the web app mounts it, answers 200 when it returns
(then hands the events to ``digest.inbound.take.take_events``), and the status of
``WebhookRefused`` when it raises. ``digest.inbound.providers.webhooks_for(services)`` builds
them from the config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from digest.errors import WebhookRefused

MAX_BODY_BYTES = 1_000_000  # an SES notification with its original headers is a few KB
MAX_FETCH_BYTES = 65_536  # a PEM certificate is about 2 KB

# Fetches an https URL, returning the body; raises on any failure.
Fetcher = Callable[[str], bytes]


def json_body(provider: str, body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or WebhookRefused (400)."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRefused(provider, f"body over {MAX_BODY_BYTES} bytes", 413)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRefused(provider, "the body is not JSON", 400) from None
    if not isinstance(document, dict):
        raise WebhookRefused(provider, "the body is not a JSON object", 400)
    return document


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header, whatever the case of its name; '' when absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def fetcher(client: httpx.Client) -> Fetcher:
    """A Fetcher on ``client`` (no redirects followed, at most MAX_FETCH_BYTES read)."""

    def fetch(url: str) -> bytes:
        with client.stream("GET", url, follow_redirects=False) as response:
            response.raise_for_status()
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_FETCH_BYTES:
                    raise ValueError(f"{url}: more than {MAX_FETCH_BYTES} bytes")
            return data

    return fetch
