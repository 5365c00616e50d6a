"""Which image addresses are no picture of the story: tracking pixels, spacers, broken addresses.

A feed's picture is loaded by the reader's mail app from the publisher's server when the mail is
opened; a tracking pixel among them tells the publisher who opened it and when. Without the
image service, the address is all there is to judge by, so this is a list of address patterns,
kept here and nowhere else (tests/test_pictures.py holds an example of each):

- hosts that serve only counters, beacons and ads (``TRACKER_HOSTS``, subdomains included);
- paths of trackers and of platform furniture: FeedBurner's flare buttons, WordPress's emoji,
  stats and comment-count images, gravatars (the author's face, not the story's);
- file names that say pixel, spacer, blank, transparent, 1x1, placeholder or default image;
- a width or height of 0 or 1 in the query (``?w=1&h=1``);
- broken addresses: a path ending in ``undefined``, ``null``, ``None``, ``[object Object]``, an
  unfilled template (``{{image}}``, ``${url}``), no path at all, a ``data:`` URI, a user name or
  password in the address.

A WebP or AVIF picture is kept: most mail apps show it (Outlook for Windows does not), and
converting it is the image service's work.
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import idna

from digest.ingest.network import is_public_address

if TYPE_CHECKING:
    from collections.abc import Callable

    from digest.records import Article, EditionItem

# Hosts whose images are never a story's picture (a subdomain matches too).
TRACKER_HOSTS = frozenset(
    {
        "doubleclick.net", "googlesyndication.com", "googleadservices.com",
        "google-analytics.com", "googletagmanager.com", "scorecardresearch.com",
        "quantserve.com", "imrworldwide.com", "chartbeat.net", "chartbeat.com", "parsely.com",
        "parse.ly", "omtrdc.net", "2o7.net", "demdex.net", "krxd.net", "moatads.com",
        "adsrvr.org", "adnxs.com", "taboola.com", "outbrain.com", "bat.bing.com",
        "pixel.wp.com", "stats.wordpress.com", "pixel.quantserve.com", "feedsportal.com",
        "feedburner.google.com", "pi.feedsportal.com", "feeds.feedblitz.com",
        "gravatar.com", "tracking.feedpress.it", "pixel.mathtag.com", "px.ads.linkedin.com",
        "ct.pinterest.com", "analytics.twitter.com", "mc.yandex.ru",
    }
)  # fmt: skip

# Paths (host and path) of counters, flare buttons and platform icons.
_TRACKER_PATHS = re.compile(
    r"^feeds\.feedburner\.com/~|^[^/]*facebook\.com/tr(?:/|$)|^feeds\.wordpress\.com/1\.0/"
    r"|^[^/]*/~/i/|/wp-includes/images/|/images/core/emoji/",
    re.IGNORECASE,
)
# Words of a file name made only of them ("rss-pixel.gif", "spacer.png", "1x1.gif") name no
# photograph; a photograph's name has some other word ("clear-skies.jpg").
_TRACKER_WORDS = frozenset(
    {
        "pixel", "px", "tracking", "tracker", "track", "beacon", "spacer", "blank", "transparent",
        "clear", "trans", "1x1", "0x0", "dot", "rss", "feed", "open", "counter", "empty",
        "s", "t", "p", "b", "x", "i",
    }
)  # fmt: skip
# Those of them that say so whatever the file's suffix ("blank.jpg"); the others ("t", "dot")
# only in a GIF or a PNG.
_STRONG_TRACKER_WORDS = frozenset(
    {"pixel", "px", "tracking", "tracker", "beacon", "spacer", "blank", "transparent", "1x1", "0x0"}
)
# In a GIF, PNG or SVG, a strong word anywhere ("lazy-spacer-grey.gif") or one of these words
# at the end ("story-123-pixel.png") says so too.
_TRACKER_ENDINGS = frozenset({"pixel", "spacer", "beacon", "1x1", "0x0", "dot", "counter"})
# Words of a stand-in for a missing picture ("abc_news_default_2000x2000.jpg", "no-image.png").
_PLACEHOLDER_WORDS = frozenset({"default", "fallback", "dummy"})
# "No image" and its kin, written as one word or several ("no-image", "NoImageAvailable"), from
# the start of a word: "volcano-image.jpg" and "pacino_photo.jpg" are photographs.
_NO_PICTURE_STARTS = ("noimage", "nophoto", "noimg", "nopicture")
_NAME_WORDS = re.compile(r"[-_.\s]+")
# Where a camel-case name starts a word ("siteNoImage" is "site No Image").
_CAMEL_CASE_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# A pixel or a spacer is a GIF, a PNG or an SVG, or has no suffix at all.
_NO_PHOTO_SUFFIXES = ("gif", "png", "svg", "")
# What a script or a template wrote when the picture's address was missing.
_BROKEN_SEGMENT = re.compile(
    r"^(?:undefined|null|none|nil|nan|false|\[object object\]|object object)$"
    r"|\{\{|\}\}|\$\{|<%|%>",
    re.IGNORECASE,
)
_SIZE_PARAMETERS = frozenset({"w", "h", "width", "height", "wid", "hei", "sz"})


def not_a_picture(url: str) -> str | None:
    """Why ``url`` is no picture of a story ("a tracking pixel", "a broken address"), or None
    when nothing in the address says so."""
    address = url.strip()
    if address[:5].lower() == "data:":
        return "an inline data address"
    try:
        parts = urlsplit(address)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return "a broken address"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "a broken address"
    if "@" in parts.netloc:
        # A user name and password in a picture's address went to every reader, and browsers
        # refuse to load a picture whose address holds them (Chromium since version 59).
        return "an address with a user name or password"
    if any(host == tracker or host.endswith("." + tracker) for tracker in TRACKER_HOSTS):
        return "a tracker's address"
    if _TRACKER_PATHS.search(host + parts.path):
        return "a tracker's address"
    path = unquote(parts.path)
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return "a broken address"  # the site's home page, not a picture
    # The file's name without its suffix too: a script that joins "/img/" + name + ".jpg"
    # writes "/img/undefined.jpg" when the name is missing.
    file_stem = segments[-1].rpartition(".")[0]
    if any(
        _BROKEN_SEGMENT.search(segment) for segment in [*segments, file_stem]
    ) or _BROKEN_SEGMENT.search(unquote(parts.query)):
        return "a broken address"
    stem, _, suffix = segments[-1].lower().rpartition(".")
    if not stem:
        stem, suffix = suffix, ""
    words = [word for word in _NAME_WORDS.split(stem) if word]
    named = set(words)
    only_tracker_words = bool(named) and named <= _TRACKER_WORDS
    if only_tracker_words and (suffix in _NO_PHOTO_SUFFIXES or _STRONG_TRACKER_WORDS & named):
        return "a tracking pixel or a spacer"
    if suffix in _NO_PHOTO_SUFFIXES and (
        _STRONG_TRACKER_WORDS & named or (words and words[-1] in _TRACKER_ENDINGS)
    ):
        return "a tracking pixel or a spacer"
    if (
        _PLACEHOLDER_WORDS & named
        or "placeholder" in "".join(words)
        or _says_no_picture(segments[-1])
    ):
        return "a placeholder, no picture of the story"
    for name, value in parse_qsl(parts.query):
        if name.lower() in _SIZE_PARAMETERS and value.strip() in ("0", "1", "1px"):
            return "a tracking pixel or a spacer"
    return None


def _says_no_picture(file_name: str) -> bool:
    """Whether ``file_name`` says "no image" ("no-image.png", "noimage.jpg",
    "NoImageAvailable.jpg", "site_no_photo.gif"), from the start of one of its words, camel-case
    ones included."""
    stem = file_name.rpartition(".")[0] or file_name
    words = [word.lower() for word in _NAME_WORDS.split(_CAMEL_CASE_WORD.sub("-", stem)) if word]
    return any("".join(words[start:]).startswith(_NO_PICTURE_STARTS) for start in range(len(words)))


# Names only a local network resolves, by their standards: the machine itself (RFC 6761),
# multicast DNS on the local link (RFC 6762: "printer.local"), home networks (RFC 8375) and
# private use (ICANN's ".internal").
_LOCAL_NETWORK_NAMES = ("localhost", "local", "home.arpa", "internal")

# An IPv4 address in a form browsers also read ("127.1", "0x7f.0.0.1", "2130706433").
_LEGACY_IPV4 = re.compile(r"[0-9][0-9a-fx.]*", re.IGNORECASE)


def names_private_host(url: str) -> bool:
    """Whether ``url``'s host is one only a private network reaches: localhost or another name
    only a local network resolves (``_LOCAL_NETWORK_NAMES``: "nas.local", "router.home.arpa"),
    or an IP address that is not public (private, loopback, link-local:
    ``network.is_public_address``), in any form a browser reads as one.

    Shown in a mail, such a picture is a broken box for every reader outside that network, and
    for a reader inside it a request the feed makes their mail app send into it (a router's
    page, 169.254.169.254)."""
    try:
        host = _host_as_browsers_read(urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return False
    if any(host == name or host.endswith("." + name) for name in _LOCAL_NETWORK_NAMES):
        return True
    if ":" in host:  # an IPv6 literal (urlsplit dropped its brackets)
        return not is_public_address(host)
    if not _LEGACY_IPV4.fullmatch(host):
        return False
    try:
        address = socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return False  # digits that are no address: a host name after all
    return not is_public_address(address)


def _host_as_browsers_read(host: str) -> str:
    """``host`` as a browser reads it before it connects (the WHATWG URL standard): its
    percent-escapes decoded, then mapped by IDNA's UTS 46, which lowercases it and turns
    full-width and circled digits and letters into ASCII ones and the ideographic and full-width
    full stops into dots. ``http://１２７。０。０。１/`` and ``http://%31%32%37.0.0.1/`` are
    127.0.0.1 to the reader's mail app, and must be to this check."""
    decoded = unquote(host)
    try:
        return idna.uts46_remap(decoded, std3_rules=False, transitional=False).lower()
    except idna.IDNAError:
        return decoded.lower()  # a host no browser reads either: the mail app cannot load it


def picture_url(url: str | None) -> str | None:
    """``url`` when it may be the story's picture; None when it is none or no picture."""
    if not url or not_a_picture(url) is not None:
        return None
    return url


# The reports of one story whose pictures the service fetches: its own and two others, enough
# for one to pass the check when another is a logo or too small, without fetching a whole cluster.
STORY_PICTURE_CANDIDATES = 3


def story_pictures(item: EditionItem) -> tuple[Article, ...]:
    """The reports of ``item``'s story whose address may be a picture, best first: its own, then
    its other reports of the same story (``also_covered_by``) in their order; at most
    ``STORY_PICTURE_CANDIDATES``. Only members of the story's cluster, so the picture shown is
    always one of the event."""
    found = [a for a in (item.article, *item.also_covered_by) if picture_url(a.image_url)]
    return tuple(found[:STORY_PICTURE_CANDIDATES])


def story_picture(
    item: EditionItem, usable: Callable[[Article], bool] | None = None
) -> Article | None:
    """The report whose picture a story shows: its own when it has one, else the first other
    report of the same story (``also_covered_by``) that has one, credited to that report's
    outlet. A wire report without a picture then leads with another outlet's photograph of the
    same event rather than with none. ``usable`` narrows the choice further: with the image
    service, to the pictures it fetched and its check kept, so one refused (a logo, a picture too
    small) gives way to the next report's rather than leave the story without any."""
    for article in story_pictures(item):
        if usable is None or usable(article):
            return article
    return None
