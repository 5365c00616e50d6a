"""Addresses as feeds write them, made absolute and canonical: one spelling per article, with
the query parameters that only track a click removed, and the addresses urllib cannot read
noted for the feed's warning instead of raised."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from urllib.parse import SplitResult, quote, unquote_plus, urljoin, urlsplit, urlunsplit

from digest.records import URL_LIMIT

# Query parameters that only tell the publisher where a click came from: the one list of them,
# kept up to date with what major publishers add (tests/test_clean.py holds an example of each).
# Compared case-insensitively ("CMP", "WT.mc_id").
TRACKING_PARAMETERS = frozenset(
    {
        # click ids of ad and social platforms
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "ttclid", "li_fat_id", "epik", "sccid", "irclickid",
        # mail platforms (Mailchimp, HubSpot, Marketo, Vero, Klaviyo)
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "vero_conv", "_kx",
        # publishers' campaign codes
        "ref", "ref_src", "ref_url", "cmpid", "cmp", "intcmp", "icid", "ocid", "ncid", "s_cid",
        "s_kwcid", "soc_src", "soc_trk", "smid", "smtyp", "xtor", "ito", "ftag", "emc",
        "__twitter_impression", "oly_anon_id", "oly_enc_id", "traffic_source", "rss",
        "_ga", "_gl", "guccounter", "guce_referrer", "guce_referrer_sig", "sr_share",
        "taid", "dicbo", "mbid", "int_source", "int_medium", "int_campaign", "cid_source",
    }
)  # fmt: skip
# Families: utm_* (Google), ns_* (BBC's comScore), at_* (AT Internet: BBC, Le Monde),
# pk_* and mtm_* (Matomo), hsa_* (HubSpot ads), wt.* and wt_* (Webtrends), oly_* (Olytics).
TRACKING_PREFIXES = ("utm_", "ns_", "at_", "pk_", "mtm_", "hsa_", "wt.", "wt_", "oly_")
# Parameters that track only when they say the click came from a feed ("?mod=rss_Top_Stories",
# "?partner=rss", "?source=feed"): elsewhere a site may use them for its own pages
# ("?mod=viewthread" on a forum, "?src=" of a viewer).
FEED_MARKER_PARAMETERS = frozenset(
    {"mod", "partner", "src", "source", "from", "feed", "f", "via", "r", "s"}
)
_FEED_MARKER_VALUE = re.compile(
    r"(?:rss|atom|feeds?|feedburner|rssfeeds?)(?:[-_.:].*)?|.*[-_](?:rss|feed)", re.IGNORECASE
)

# Characters left as they are when re-quoting a URL's path and query (existing %XX escapes too).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# Browsers ignore control characters in URLs ("java\tscript:"), so they are dropped before reading.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# The addresses urllib could not read while a document's entries were cleaned (``collecting_
# unreadable``); each was left out. None when no one is collecting.
_UNREADABLE: ContextVar[list[str] | None] = ContextVar("unreadable", default=None)


@contextmanager
def collecting_unreadable() -> Iterator[list[str]]:
    """Collect, into the list yielded, the addresses left out because urllib cannot read them
    ("http://[oops]/"), so that the feed's warning can say so; within another collection, into
    that one's list."""
    if (outer := _UNREADABLE.get()) is not None:
        yield outer
        return
    found: list[str] = []
    token = _UNREADABLE.set(found)
    try:
        yield found
    finally:
        _UNREADABLE.reset(token)


def note_unreadable(address: str) -> None:
    if (found := _UNREADABLE.get()) is not None:
        found.append(address)


def canonical_link(url: str) -> str:
    """The one spelling of an article's address used to recognise it across feeds.

    Absolute http(s), lowercased scheme and host, default port, credentials and fragment removed,
    tracking parameters (``utm_*``, ``fbclid``, ...) removed, unsafe characters percent-encoded.
    Raises ValueError for anything that is not an absolute http(s) URL.
    """
    parts = urlsplit(CONTROL.sub("", url).strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not (parts.hostname or "").rstrip("."):
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    netloc = canonical_netloc(parts)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    kept = [pair for pair in parts.query.split("&") if pair and not _is_tracking(pair)]
    query = quote("&".join(kept), safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def canonical_netloc(parts: SplitResult) -> str:
    """The host and port of an http(s) URL as one spelling: lowercased, without a trailing dot,
    in ASCII (IDNA), without credentials, and without the scheme's default port. Raises
    ValueError for a port that is not a number."""
    host = (parts.hostname or "").rstrip(".")
    with suppress(UnicodeError):  # else keep the host as written; it is lowercased already
        host = host.encode("idna").decode("ascii")
    if parts.netloc.rpartition("@")[2].startswith("["):
        host = f"[{host}]"  # an IPv6 (or future) literal, as it was written
    port = parts.port
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port is None or port == default_port else f"{host}:{port}"


def _is_tracking(pair: str) -> bool:
    written_name, _, written_value = pair.partition("=")
    name = unquote_plus(written_name).lower()
    if name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES):
        return True
    return name in FEED_MARKER_PARAMETERS and bool(
        _FEED_MARKER_VALUE.fullmatch(unquote_plus(written_value))
    )


def resolve_url(base_url: str, reference: str) -> str:
    """``urljoin(base_url, reference)``, at a fraction of its cost for the common case: a path
    from the site's root ("/2026/story.html") on an http(s) base, which needs no resolving of
    "." or ".." segments and keeps everything else as written."""
    if (
        reference[:1] == "/"
        and reference[1:2] != "/"  # "//host/path" names another host
        and "/." not in reference
        and reference.isprintable()  # urljoin drops tabs and line breaks
        and " " not in reference
    ):
        base = urlsplit(base_url)
        if base.scheme in ("http", "https") and base.netloc:
            return f"{base.scheme}://{base.netloc}{reference}"
    return urljoin(base_url, reference)


def absolute_http_url(url: str | None, base_url: str | None) -> str | None:
    """``url`` made absolute against ``base_url``, if the result is an http(s) URL no longer than
    ``URL_LIMIT``; else None."""
    if not url:
        return None
    candidate = CONTROL.sub("", url).strip()
    try:
        parts = urlsplit(candidate)
        if base_url and not (parts.scheme and parts.netloc):  # relative: resolve it
            candidate = resolve_url(base_url, candidate)
            parts = urlsplit(candidate)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:  # "http://[oops]/" (no IPv6 address in brackets), "http://host:x/"
        note_unreadable(candidate)
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return candidate if len(candidate) <= URL_LIMIT else None


def is_http_url(url: str | None) -> bool:
    return absolute_http_url(url, None) is not None


def link_host(url: str) -> str:
    """The host a link names, lower-cased; empty when it names none or cannot be read
    ("http://[oops]/", a bracketed host that is no address)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
