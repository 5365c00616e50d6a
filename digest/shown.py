"""Text from outside as errors and logs show it: on one line, cut to a length, and with the
password of every address in it masked (a feed behind basic auth, a database or broker URL)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The most of a library's error text put into an error: some quote the whole offending line.
DETAIL_CHARS = 200


def brief(text: str) -> str:
    """``text`` on one line, and short enough for a feed's error and the log."""
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


# The longest address an error names whole (see shown_address): a real one is rarely over a
# hundred characters.
ADDRESS_SHOWN_CHARS = 300


def shown_address(address: str) -> str:
    """``address`` as an error names it: whole up to ``ADDRESS_SHOWN_CHARS``, else its start and
    its length. A server makes up the addresses it redirects to, and a Location may fill the
    100 KB the headers may take; a feed's error is stored, printed by `digest poll` and shown in
    the `digest feeds` table. A password in it is masked before the cut, which could split it."""
    address = passwords_masked(address)
    if len(address) <= ADDRESS_SHOWN_CHARS:
        return address
    return f"{address[: ADDRESS_SHOWN_CHARS - 1]}… ({len(address):,} characters)"


# The password of an address's user info ("://user:password@"): what passwords_masked hides.
_PASSWORD_IN_ADDRESS = re.compile(r"(://[^/?#@\s:]*):[^/?#@\s]*@")


def passwords_masked(text: str) -> str:
    """``text`` with the password of every address in it masked, as ``without_password`` masks
    one address: a fetch's error names the addresses a redirect led to, and a redirect on the
    same server keeps the feed's user and password in them."""
    return _PASSWORD_IN_ADDRESS.sub(r"\1:***@", text) if "@" in text else text


def database_shown(url: str) -> str:
    """A database URL as shown and logged: its password masked where SQLAlchemy, and so the
    driver, reads one. Unlike a web address's, it may hold a "/" ("user:pa/ss@host", which
    ``without_password`` takes for a path and left whole), or come as a query parameter
    ("?password=..."), which libpq takes too."""
    from sqlalchemy.engine import make_url  # here: most commands never show a database URL
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return without_password(url)
    if parsed.password is None and "password" not in parsed.query:
        return url  # as the operator wrote it
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def user_info_ends_early(url: str) -> bool:
    """Whether a "/", "?" or "#" in the password of ``url`` ("http://desk:pa/ss@host") ends its
    address before the "@": what follows, the rest of the password included, is read as the
    path, and the start of the password as a port. An "@" in the path alone
    ("https://host:8443/@team.rss") is no such thing: the ":" there starts a port. A URL
    urlsplit cannot read ("https://[oops]/") is none either: its own check says why."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return False
    if "@" in netloc or "@" not in url.partition("://")[2] or netloc.endswith("]"):
        return False
    _, colon, after = netloc.rpartition(":")
    return bool(colon) and not after.isdigit()


def without_password(url: str) -> str:
    """``url`` with the password of its user info masked ("user:***@host"), for what is shown
    and logged: a feed behind basic auth carries it in its configured address."""
    scheme, separator, rest = url.partition("://")
    if user_info_ends_early(url):
        # "user:pa/ss@host" (which the config refuses, saying why): the rest of the password
        # was taken for the path and shown whole. It runs to the "@".
        user = rest.partition(":")[0]
        return f"{scheme}://{user}:***@{rest.partition('@')[2]}"
    authority, slash, path = rest.partition("/")
    user_info, at, host = authority.rpartition("@")
    user, colon, _password = user_info.partition(":")
    if not (separator and at and colon):
        return url
    return f"{scheme}://{user}:***@{host}{slash}{path}"
