"""What one key's value may be: the checks of single values, and the annotated types that
carry them into the settings models."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from croniter import CroniterError, croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from digest.records import URL_LIMIT
from digest.schedule import days_on_either
from digest.shown import user_info_ends_early, without_password
from digest.zone_names import unknown_zone_why, zone_named

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ADDRESS = re.compile(
    r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


# The five fields of a cron expression, in order, with the values each takes.
_CRON_FIELDS = (
    ("minute", 0, 59, "0-59"),
    ("hour", 0, 23, "0-23"),
    ("day-of-month", 1, 31, "1-31"),
    ("month", 1, 12, "1-12 or jan-dec"),
    ("day-of-week", 0, 7, "0-7 or sun-sat, 0 and 7 both Sunday"),
)
# croniter's random fields ("R", "R(0-30)", "R/15"): drawn afresh each time the expression is
# read, so each tick found another latest slot with no edition yet and built it again.
_RANDOM_FIELD = re.compile(r"^r(\(\d+-\d+\))?(/\d+)?$", re.IGNORECASE)


def _check_cron(expression: str) -> str:
    """A cron expression: minute hour day-of-month month day-of-week."""
    # croniter also takes a sixth field, of seconds ("0 7 * * * *": every second of 07:00, an
    # edition per slot) and a seventh, of years: five fields, or an "@daily" of croniter's.
    five = expression.startswith("@") or len(expression.split()) == len(_CRON_FIELDS)
    random = any(_RANDOM_FIELD.match(field) for field in expression.split())
    if not five or random or not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}: {_cron_problem(expression)}")
    try:
        start = datetime(2026, 1, 1)
        croniter(expression, start, day_or=days_on_either(expression)).get_next(datetime)
    except CroniterError:
        raise ValueError(
            f"cron expression {expression!r} never fires: its day and month name no real date "
            "(such as 30 February or 31 April); e.g. '0 7 * * *' is 07:00 every day"
        ) from None
    return expression


def _cron_problem(expression: str) -> str:
    """Which part of an invalid cron expression is wrong, and what it may be instead."""
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        extra = " (no field of seconds or years)" if len(fields) > len(_CRON_FIELDS) else ""
        return (
            f"expected five fields 'minute hour day-of-month month day-of-week', got "
            f"{len(fields)}{extra}; e.g. '0 7 * * *' is 07:00 every day"
        )
    for position, (name, low, high, allowed) in enumerate(_CRON_FIELDS):
        # The field on its own, every other one '*': croniter says which one it refuses.
        alone = ["*"] * len(_CRON_FIELDS)
        alone[position] = fields[position]
        if croniter.is_valid(" ".join(alone)) and not _RANDOM_FIELD.match(fields[position]):
            continue
        outside = [
            n for n in map(int, re.findall(r"\d+", fields[position])) if not low <= n <= high
        ]
        if outside and "/" not in fields[position]:
            where = "" if fields[position] == str(outside[0]) else f" (in {fields[position]!r})"
            return f"{name} {outside[0]} is out of range{where}: the {name} field takes {allowed}"
        return (
            f"the {name} field {fields[position]!r} is not understood: use {allowed}, '*', "
            "ranges 'a-b', lists 'a,b' and steps '*/n'"
        )
    return "the fields are each valid but not together; e.g. '0 7 * * *' is 07:00 every day"


def _check_timezone(name: str) -> str:
    """An IANA timezone name, such as ``Asia/Dubai``: one the tz database lists (a folder such
    as "Asia" or a leap-second zone such as "right/UTC" is none; digest.zone_names)."""
    if zone_named(name) is None:
        raise ValueError(unknown_zone_why(name))
    return name


def _check_http_url(url: str) -> str:
    """An http or https URL that can be requested as written (see ``http_url_problem``), of
    at most URL_LIMIT characters."""
    if len(url) > URL_LIMIT:
        # The store keeps no more (a feed's address is a key of its table): a longer one passed
        # the check and ended each poll on PostgreSQL in "value too long". Not quoted: a
        # paragraph of address would hide the key it belongs to.
        raise ValueError(
            f"the address is {len(url):,} characters long: an address here is at most "
            f"{URL_LIMIT:,}; shorten it"
        )
    problem = http_url_problem(url)
    if problem is not None:
        raise ValueError(f"{without_password(url)!r} {problem}")
    return url


USER_INFO_ENDS_EARLY = (
    "its password or user name holds a '/', '?' or '#', which ends the address early: "
    "write each as %2F, %3F or %23"
)


def unreadable_url_problem(url: str) -> str | None:
    """Why ``url`` cannot even be split into its parts, or None. urlsplit raises ValueError on
    a host in brackets that is no IP address ("https://[oops]/") or a bracket left open."""
    try:
        urlsplit(url)
    except ValueError as error:
        return f"is not a URL that can be read: {error}; only an IPv6 address goes between [ ]"
    return None


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is no http or https URL that can be requested as written, or None.

    urlsplit drops blanks around an address and tabs or line breaks within it, so such a URL
    passed for one, and every fetch of it failed in words that did not show why (a space at its
    start: "Request URL is missing an 'http://' or 'https://' protocol"); so did a port past
    65535, which only the fetch refused.
    """
    if url != url.strip() or any(not (char.isprintable() or char == " ") for char in url):
        return (
            "has a blank at an end or a control character in it: write the address alone, "
            "between the quotes"
        )
    if (problem := unreadable_url_problem(url)) is not None:
        return problem
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    if user_info_ends_early(url):
        return USER_INFO_ENDS_EARLY
    try:
        _ = parts.port
    except ValueError:
        return "has a port out of range: ports go from 0 to 65535"
    return None


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1): this machine only."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def _check_host(host: str) -> str:
    """A host name or an IP address: what a socket connects to or listens on, nothing more."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if "://" in host:
        raise ValueError(
            f"{host!r} is a URL: write the host name or address alone, e.g. 'smtp.example.org'"
        )
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and name:
        raise ValueError(
            f"{host!r} holds a port: write the host {name.strip('[]')!r} here and the port "
            f"{port} in the port key beside it"
        )
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(
            f"{host!r} is not a host name or IP address, e.g. 'smtp.example.org' or '192.0.2.25'"
        )
    return host


# Every copy's List-Unsubscribe header holds "<base_url/unsubscribe/TOKEN>," on one line of at
# most 998 octets, and the token of the longest list slug and subscriber id is about 150
# characters: this leaves room for both, and more than any site's address needs.
BASE_URL_LIMIT = 500


def _check_https_url(url: str) -> str:
    """An https URL in plain ASCII, with no spaces, ``>`` or ``=?``, of at most
    ``BASE_URL_LIMIT`` characters."""
    if len(url) > BASE_URL_LIMIT:
        raise ValueError(
            f"the address is {len(url):,} characters long: base_url is at most "
            f"{BASE_URL_LIMIT}, as every copy's List-Unsubscribe header carries it on one line "
            "with a token after it; shorten it"
        )
    if (problem := unreadable_url_problem(url)) is not None:
        raise ValueError(f"{url!r} {problem}")
    parts = urlsplit(url)
    # Plain http only where no mailbox provider will ever follow it: a local trial, the tests.
    loopback_http = parts.scheme == "http" and is_loopback_host(parts.hostname)
    if not (parts.scheme == "https" or loopback_http) or not parts.hostname:
        raise ValueError(
            f"{url!r} must be an https URL: mailbox providers require https unsubscribe links "
            "(plain http is accepted only for a loopback host, e.g. http://127.0.0.1:8080 for "
            "a local trial)"
        )
    # It is written into the List-Unsubscribe header of every copy as it is.
    if not (url.isascii() and url.isprintable()) or " " in url or "=?" in url or ">" in url:
        raise ValueError(
            f"{url!r} must be plain ASCII with no spaces, '>' or '=?' (it goes into mail "
            "headers): percent-encode other characters"
        )
    # Every link of a mail is this URL with "/unsubscribe/TOKEN" (and the like) after it: after
    # a query or a fragment that is no path, and a user name would be sent to every reader.
    if "?" in url or "#" in url or "@" in parts.netloc:
        raise ValueError(
            f"{url!r} must be the site's address and an optional path, with no '?' query, "
            "'#' fragment or user name: the mail's links are made by adding /unsubscribe/TOKEN "
            "and the like to it"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"{url!r} has a port that is no number from 1 to 65535")
    return url.rstrip("/")


def _check_address(address: str) -> str:
    """An email address in plain ASCII, without ``=?``, at most 254 characters."""
    if not _ADDRESS.match(address):
        raise ValueError(f"{address!r} is not an email address")
    # Mail programs read "=?...?=" as an encoded word (which may hide a line break), and a
    # header of a message without SMTPUTF8 holds ASCII only.
    if not address.isascii() or "=?" in address or len(address) > 254:
        raise ValueError(
            f"{address!r} is not an address the mailer can put in a header: use plain ASCII "
            "without '=?', at most 254 characters"
        )
    return address


# What str.splitlines() breaks at: CR, LF, VT, FF, the file/group/record separators, NEL and
# the Unicode line and paragraph separators; some mail program reads each as a line end.
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def no_line_breaks(value: str) -> str:
    """A single line: it goes into mail headers."""
    if not _LINE_BREAKS.isdisjoint(value):
        raise ValueError("must be a single line (it goes into mail headers)")
    return value


# Kept in a text of several lines (a postal address, a description): line ends and tabs.
_LAID_OUT = frozenset("\t\n\r")


def no_controls(value: str) -> str:
    """No control character but tabs and line ends: an ESC, a BEL or a NUL of a name went into
    every copy's headers and, raw, into its HTML and the pages."""
    for position, char in enumerate(value):
        if char not in _LAID_OUT and unicodedata.category(char) == "Cc":
            raise ValueError(
                f"holds a control character (U+{ord(char):04X}) at character {position + 1}, "
                "which no mail or page can show: remove it"
            )
    return value


def _check_rate(value: str) -> str:
    """A rate in the ``limits`` syntax: '50/second', '20/hour', '5 per 10 minutes'."""
    from digest.send_rate import parse_rate  # not at import: the config is read by every command

    parse_rate(value)  # a ValueError names the value and what is accepted
    return value


def _check_slug(slug: str) -> str:
    """Lowercase ASCII letters, digits and '-', starting with a letter or digit, at most 63
    characters (``^[a-z0-9][a-z0-9-]{0,62}$``)."""
    if re.fullmatch(SLUG_PATTERN, slug):  # not match: "$" would take "daily\n" too
        return slug
    # An Arabic newsroom names its lists in Arabic: a regular expression told it nothing, and
    # not that the name beside the slug may be written in any script.
    raise ValueError(
        f"{slug!r} is not a slug: write it with lowercase ASCII letters a-z, digits 0-9 and '-', "
        "starting with a letter or digit, at most 63 characters (it goes into web addresses and "
        "mail headers); the name may be in any script"
    )


Slug = Annotated[str, AfterValidator(_check_slug)]
CronExpression = Annotated[str, AfterValidator(_check_cron)]
TimezoneName = Annotated[str, AfterValidator(_check_timezone)]
LanguageTag = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
HostName = Annotated[str, AfterValidator(_check_host)]
EmailAddress = Annotated[str, AfterValidator(_check_address)]
RateText = Annotated[str, AfterValidator(_check_rate)]
HeaderText = Annotated[
    str, Field(min_length=1), AfterValidator(no_line_breaks), AfterValidator(no_controls)
]
# Text readers see, in a page or a mail's body: a name, a description, a postal address.
ShownText = Annotated[str, AfterValidator(no_controls)]


class SettingsModel(BaseModel):
    # Each key's docstring is its description (the config reference is generated from it).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def feed_url_key(url: str) -> str:
    """A feed's URL as two entries for one feed may differ in it and still be one: the scheme
    and the host have no case (RFC 3986), a default port is no port, and the host is spelt as
    ``canonical_link`` spells an article's. Two entries for one feed would poll it twice and
    file each article under the feed polled first; an OPML import of one would add it again."""
    # Not at import: importing digest.config alone must not import the ingest stage (httpx,
    # feedparser) that digest.ingest's package brings in.
    from digest.ingest.urls import canonical_netloc

    parts = urlsplit(url)
    try:
        netloc = canonical_netloc(parts)
    except ValueError:  # not a port: the URL is refused by its own check
        return url
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
