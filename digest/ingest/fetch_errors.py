"""A fetch that went wrong, in the operator's words: an error status, Retry-After, a deadline."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NoReturn

import httpx

from digest.config import IngestSettings
from digest.errors import FetchError
from digest.shown import brief, shown_address


def at_url(url: str, current: str) -> str:
    """Where an answer came from, when a redirect took the fetch elsewhere: " at URL"."""
    return "" if current == url else f" at {shown_address(current)}"


def whole_number(text: str, digits: int = 18) -> int | None:
    """``text`` as a number of ASCII digits (str.isdigit also takes "²", which int refuses), of
    its first ``digits`` only: more is noise past any byte count or wait, and int() refuses a
    number of more than 4,300 digits, which a header can hold."""
    return int(text[:digits]) if text.isascii() and text.isdigit() else None


# What h11 and httpcore say about a broken answer, in the words an operator needs; other messages
# are passed on as they are.
_PROTOCOL_PROBLEMS = {
    "Receive buffer too long": "it sent more than 100 KB of headers, more than any real server",
    "Server disconnected without sending a response.": "it closed the connection without answering",
    "Received server _SWITCH_UPGRADE event without a pending proposal": (
        "it answered HTTP 101 Switching Protocols, an upgrade we never asked for"
    ),
    "Invalid URL in location header": "its redirect points to an invalid address",
    "peer closed connection without sending complete message body": (
        "it closed the connection before the end of the feed"
    ),
}


def protocol_problem(error: Exception) -> str:
    text = str(error)
    for said, meant in _PROTOCOL_PROBLEMS.items():
        text = text.replace(said, meant)
    return brief(text)


def deadline_passed(
    url: str,
    settings: IngestSettings,
    where: str,
    cause: BaseException | None = None,
    *,
    progress: str = "",
) -> NoReturn:
    """``progress``: how much of the body had arrived, when the deadline passed while reading it."""
    raise FetchError(
        url,
        f"gave up after {settings.timeout_seconds:g} seconds{where}: fetching the feed took too "
        f"long (the limit is ingest.timeout_seconds){progress and '; '}{progress}",
    ) from cause


def status_error(
    url: str, current: str, response: httpx.Response, now: datetime | None
) -> FetchError:
    status = response.status_code
    label = status_label(response)
    asked = _first_value(response.headers, "retry-after")
    wait = None
    if status in (429, 503):
        wait = retry_after_seconds(asked, _first_value(response.headers, "date"), now)
    # Only a wait still ahead is the server's wish (``retry_after``); the poll holds back the
    # other feeds of the server that said it (``answered_at``), whatever the words here.
    retry_after = _retry_after(asked) if wait else _no_wait(asked)
    where = at_url(url, current)
    if status == 410:
        reason = (
            f"the feed is gone ({label}){where}: the publisher removed it for good; "
            "remove it from the config or replace its URL"
        )
    elif status == 404:
        reason = f"not found ({label}){where}: check the feed URL"
    elif status in (401, 403):
        reason = f"access denied ({label}){where}: the server will not serve this feed to us"
    elif status == 429:
        reason = f"rate limited ({label}){where}{retry_after}"
    elif status == 503:
        reason = f"the server is unavailable ({label}){where}{retry_after}"
    elif status >= 500:
        reason = f"server error ({label}){where}; it may recover by the next poll"
    else:
        reason = f"the server refused the request ({label}){where}"
    return FetchError(url, reason, status=status, retry_after=wait, answered_at=current)


def refuse_unusable(url: str, current: str, response: httpx.Response, now: datetime | None) -> None:
    """Raise FetchError unless ``response`` (no redirect, no 304) carries the whole feed."""
    status = response.status_code
    if status >= 400:
        raise status_error(url, current, response, now)
    if not 200 <= status < 300:
        raise FetchError(url, f"unexpected answer {status_label(response)}", status=status)
    if status == 204:
        raise FetchError(
            url,
            f"the server answered HTTP 204 No Content{at_url(url, current)}: "
            "it has no feed to send at this address",
            status=status,
        )
    if status == 206 and not _whole_range(response.headers.get("content-range")):
        # We never ask for a range; a part of a feed would be parsed as a short feed.
        content_range = brief(response.headers.get("content-range") or "none")
        raise FetchError(
            url,
            f"the server sent only part of the feed (HTTP 206 Partial Content, "
            f"Content-Range: {content_range}){at_url(url, current)}, though we asked for "
            "all of it",
            status=status,
        )


def _whole_range(content_range: str | None) -> bool:
    """Whether a Content-Range ("bytes 0-2041/2042") covers the whole representation."""
    found = re.fullmatch(r"\s*bytes\s+0-([0-9]{1,15})/([0-9]{1,15})\s*", content_range or "")
    return found is not None and int(found[1]) + 1 == int(found[2])


def status_label(response: httpx.Response) -> str:
    """The status and the server's reason phrase ("HTTP 503 Service Unavailable"), which a
    server may make as long as its headers (100 KB), cut as any detail of an error is."""
    return f"HTTP {response.status_code} {brief(response.reason_phrase)}".rstrip()


def _first_value(headers: httpx.Headers, name: str) -> str | None:
    """The first of a header's values. A proxy or CDN may repeat a header its origin sent;
    httpx joins the copies ("7200, 7200"), which no longer reads as a number or a date."""
    values = headers.get_list(name)
    return values[0] if values else None


def retry_after_seconds(
    value: str | None, date: str | None = None, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds, or an HTTP date.

    A date is measured against the response's own Date header when there is one, so a server whose
    clock is off still gets the wait it meant; without one, against ``now``, the caller's clock
    (the poll's, so the wait is the same whichever clock the poll runs on). A value that cannot
    be read gives None, and so does a date with neither to measure it against (only the
    injected clock tells the time).
    """
    text = (value or "").strip()
    if not text:
        return None
    seconds = whole_number(text, digits=12)  # twelve digits are 30,000 years
    if seconds is not None:
        return float(seconds)
    when = _http_date(text)
    if when is None:
        return None
    reference = (_http_date(date) if date else None) or now
    if reference is None:
        return None
    return max(0.0, when.timestamp() - reference.timestamp())


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _no_wait(value: str | None) -> str:
    """A Retry-After that gives no wait (unreadable, or a time already past), said as such."""
    if not value:
        return ""
    text = " ".join(value.split())[:64]
    return f"; its Retry-After gives no wait ahead ({text}): the feed backs off as after any error"


def _retry_after(value: str | None) -> str:
    if not value:
        return ""
    text = " ".join(value.split())[:64]  # it goes into logs: no line breaks, no essays
    if whole_number(text) is not None:
        # Its digits as sent (up to 64): a number read from its first few would be another.
        return f"; the server asks to retry after {text} seconds (Retry-After: {text})"
    return f"; the server asks to retry after {text} (Retry-After)"
