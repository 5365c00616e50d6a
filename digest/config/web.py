"""The readers' web pages: sign-up, unsubscribe, preferences, archive and pictures."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field

from digest.config.values import HostName, RateText, SettingsModel


def _check_network(value: str) -> str:
    """An IP address or a network in CIDR notation, short of every address: a proxy is
    believed about the client, and a list that trusts every address believes any client."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or network: write e.g. '127.0.0.1' or '10.0.0.0/8'"
        ) from None
    if network.prefixlen == 0:
        raise ValueError(
            f"{value!r} holds every address, so any client's X-Forwarded-For would be believed "
            "and the sign-up rate limit per client counted on addresses it makes up: name the "
            "proxies' own addresses or network, e.g. '10.0.0.0/8'"
        )
    return value


_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?"
)


def _check_origin(value: str) -> str:
    """'*' or a scheme://host[:port] origin: it is written into a Content-Security-Policy as
    it is, so nothing else (no space, no ';') may pass."""
    if value != "*" and not _ORIGIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an origin: write 'https://www.example.org' (scheme, host and "
            "optional port, no path) or '*' for any site"
        )
    return value


class WebSettings(SettingsModel):
    """The readers' web pages (sign-up, unsubscribe, archive), and what ``digest run`` serves."""

    enabled: bool = Field(
        default=False,
        description="Serve the web pages from `digest run` (the loop) too; `digest serve` "
        "serves them on its own whatever this says.",
    )
    host: HostName = Field(
        default="127.0.0.1",
        description="The address to listen on; 127.0.0.1 behind a reverse proxy that terminates "
        "https, 0.0.0.0 to listen on every interface.",
    )
    port: int = Field(
        default=8080, ge=1, le=65535, description="The port to listen on (`digest serve --port`)."
    )
    confirm_days: float = Field(
        default=3,
        gt=0,
        le=60,
        description="How long the link of a sign-up's confirmation mail works, in days; after "
        "that the reader signs up again, and a sign-up still unconfirmed is deleted with the "
        "name typed into the form (a reader who had left is unsubscribed again, as they left).",
    )
    signup_rate_per_client: RateText = Field(
        default="20/hour",
        description="The most sign-ups one client address may ask for in a moving window "
        "(`limits` syntax: '20/hour', '5 per 10 minutes'); more get a 429 page. Counted in the "
        "broker's Redis in the distributed mode, in each process otherwise.",
    )
    signup_rate_per_address: RateText = Field(
        default="3/hour",
        description="The most sign-ups for one email address in a moving window, whoever asks; "
        "bounds the confirmation mails a stranger can make one mailbox receive.",
    )
    signup_rate_per_address_daily: RateText = Field(
        default="6/day",
        description="A second, longer window for one email address, counted as "
        "signup_rate_per_address is: 3 an hour alone lets 72 confirmation mails a day reach one "
        "mailbox; this keeps them to a few, and a reader who lost the mail can still ask again.",
    )
    trusted_proxies: tuple[Annotated[str, AfterValidator(_check_network)], ...] = Field(
        default=(),
        description="Addresses or networks (CIDR) of the reverse proxies in front of the web "
        "pages, e.g. ['127.0.0.1']. Only a request from one of them has its client address read "
        "from X-Forwarded-For (for the sign-up rate limits); none means the socket's address, "
        "always.",
    )
    embed_origins: tuple[Annotated[str, AfterValidator(_check_origin)], ...] = Field(
        default=("*",),
        description="The sites that may show the sign-up form of `/embed/LIST` in a frame "
        "(`frame-ancestors`): origins such as 'https://www.example.org', '*' for any site, [] "
        "for none. Every other page refuses to be framed.",
    )
    images: bool = Field(
        default=False,
        description="Serve the editions' pictures from the service: each picture an edition "
        "shows is fetched once at build time (through the same guards as feeds), checked, "
        "converted and kept in the database, and the mail points at `base_url/images/ID.jpg`, "
        "so no publisher sees a reader open it. Turn it on only when `digest serve` answers at "
        "service.base_url; off, the mail shows the publishers' addresses.",
    )
    images_allow_private_addresses: bool = Field(
        default=False,
        description="Let the picture fetches of `images` reach private, loopback and "
        "link-local addresses. Off, a picture address that names one (or redirects to one) "
        "is refused, whatever ingest.allow_private_addresses lets the feeds reach: a feed "
        "names its pictures, and a fetch of 169.254.169.254 or an intranet page from the "
        "service is no reader's business.",
    )
    image_max_bytes: int = Field(
        default=5_000_000,
        ge=10_000,
        le=50_000_000,
        description="The largest picture fetched, in bytes; a larger one is dropped from the "
        "edition (the item shows without it).",
    )
    image_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long fetching one picture may take, a server that drips a byte at a "
        "time included.",
    )
    images_max_mb: int = Field(
        default=500,
        ge=1,
        description="The most the kept pictures may take in the database, in megabytes; past "
        "it the pictures no recent edition showed are deleted first (an old mail then shows "
        "an empty box where its picture was).",
    )
