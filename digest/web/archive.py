"""The archive: a list's past editions, each as it was mailed minus what was personal, and a feed.

    /editions/{list}              newest first, PAGE_SIZE a page (?page=N, 1 to the last page)
    /editions/{list}/{slot}       the stored rendering; slot as in the mail's "View in your
                                  browser" link (digest.render.edition_url: UTC, %Y-%m-%d-%H%M),
                                  ?variant= the reader's variant of it (their topics, their hour)
    /editions/{list}/feed.atom    the newest FEED_SIZE editions as Atom, with ids (tag URIs of
                                  the editions' rows) that no rename of the list changes

Every page has an ETag, the feed and an edition a Last-Modified (the later of the edition's
build and the config file's last write): a conditional GET of a page unchanged is answered 304
(feed readers poll).

Only editions that went to readers (ready or sent) are shown, never an empty one. A former slug
of a list (``previous_slugs``) redirects to its slug now, so old links keep working, and the
editions still stored under a former slug (until the next cycle carries them over) are shown.
The stored HTML holds the personal markers of ``digest.placeholders``: here they become neutral
words and links, and times are written in the list's timezone.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from email.utils import format_datetime as http_date
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from digest import placeholders
from digest.config import ListSettings
from digest.lists import list_for_slug, slugs_and_previous
from digest.local_time import dated_on
from digest.render import edition_url
from digest.store import ArchivedEdition
from digest.web.context import WebContext, web_context
from digest.web.pages import etag_matches
from digest.web.security import EDITION_CSP
from digest.web.words import PageWords, words_for
from digest.wording import (
    Wording,
    direction_of,
    format_datetime,
    format_long_date,
    wording_for,
)

PAGE_SIZE = 20
FEED_SIZE = 30
MAX_PAGE_DIGITS = 6  # ?page= beyond a million editions is no page
_SLOT = re.compile(r"\d{4}-\d{2}-\d{2}-\d{4}")
SLOT_FORMAT = "%Y-%m-%d-%H%M"
# Archived pages change only when an edition is added: caches may keep them a while.
LIST_CACHE = "public, max-age=300"
EDITION_CACHE = "public, max-age=3600"
# Readers follow article links from the archive: the newsroom's own site may say where from.
ARCHIVE_REFERRER = "strict-origin-when-cross-origin"
# Characters XML 1.0 does not allow, whatever the escaping.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


async def _editions_page(request: Request) -> Response:
    web = web_context(request)
    found = _list(web, request)
    if not isinstance(found, tuple):
        return found
    digest_list, words = found
    page = _page_number(request.query_params.get("page"))
    if page is None:
        return _not_found(web)
    editions, total = await web.store_threads.run(
        web.services.store.archived_editions,
        slugs_and_previous(digest_list),
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        return _not_found(web)
    base = f"{web.pages.root}/editions/{digest_list.slug}"
    zone = ZoneInfo(digest_list.timezone)
    wording = wording_for(digest_list.language, digest_list.calendar)
    context = {
        "words": words,
        "list_name": digest_list.name,
        "description": digest_list.description,
        "language": digest_list.language,
        "direction": direction_of(digest_list.language),
        "editions": [
            {
                "date": _edition_date(edition, zone, wording),
                "iso": edition.slot.astimezone(UTC).isoformat(),
                "subject": edition.subject,
                "preheader": edition.preheader,
                "stories": wording.counted(words.stories, edition.article_count),
                "url": f"{base}/{edition.slot.astimezone(UTC):{SLOT_FORMAT}}",
            }
            for edition in editions
        ],
        "page": page,
        "pages": pages,
        # Counts and page numbers in the list's digits (Persian in the Persian calendar).
        "number": wording.number,
        "newer": (base if page == 2 else f"{base}?page={page - 1}") if page > 1 else None,
        "older": f"{base}?page={page + 1}" if page < pages else None,
        "feed": f"{base}/feed.atom",
    }
    return web.pages.render(
        "web/archive.html.j2",
        context,
        headers={"Cache-Control": LIST_CACHE, "Referrer-Policy": ARCHIVE_REFERRER},
    )


async def _edition_page(request: Request) -> Response:
    web = web_context(request)
    found = _list(web, request)
    if not isinstance(found, tuple):
        return found
    digest_list, words = found
    slot = _slot(request.path_params["slot"])
    if slot is None:
        return _not_found(web)
    # A reader's "View in your browser" names their variant of the slot (their topics, their
    # hour): without it they were shown the slot's first, perhaps of topics they had left.
    variant = request.query_params.get("variant")
    archived = await web.store_threads.run(
        web.services.store.archived_edition, slugs_and_previous(digest_list), slot, variant
    )
    if archived is None and variant is not None:
        # Not (or no longer) stored: the slot's edition, at its address without the variant.
        plain = f"{web.pages.root}/editions/{digest_list.slug}/{request.path_params['slot']}"
        return RedirectResponse(plain, status_code=302)
    if archived is None:
        return _not_found(web)
    neutral = neutral_copy(archived[1], digest_list, words, home=f"{web.pages.root}/")
    return HTMLResponse(
        neutral,
        headers={
            "Content-Security-Policy": EDITION_CSP,
            "Cache-Control": EDITION_CACHE,
            "Referrer-Policy": ARCHIVE_REFERRER,
            "Last-Modified": _http_date(_modified(web, archived[0].built_at)),
        },
    )


async def _editions_feed(request: Request) -> Response:
    web = web_context(request)
    found = _list(web, request)
    if not isinstance(found, tuple):
        return found
    digest_list, _ = found
    editions, _ = await web.store_threads.run(
        web.services.store.archived_editions,
        slugs_and_previous(digest_list),
        offset=0,
        limit=FEED_SIZE,
    )
    first = await web.store_threads.run(
        web.services.store.first_edition, slugs_and_previous(digest_list)
    )
    base_url = web.services.settings.service.base_url
    archive_url = f"{base_url}/editions/{digest_list.slug}"
    newest = max((edition.built_at for edition in editions), default=None)
    updated = newest
    if updated is None:
        # No edition yet: the feed is as it was when the list began to run, whenever it is
        # asked for (the clock's time changed its ETag at each poll of a feed reader).
        started = await web.store_threads.run(web.services.store.list_started, digest_list.slug)
        updated = started or _NEVER
    context = {
        "feed_id": archive_url if first is None else _tag(base_url, first[1], f"lists/{first[0]}"),
        "self_url": f"{archive_url}/feed.atom",
        "archive_url": archive_url,
        "title": _xml_text(digest_list.name),
        "subtitle": _xml_text(digest_list.description),
        "updated": _rfc3339(updated),
        "author": _xml_text(web.services.settings.service.sender_name),
        "language": digest_list.language,
        "entries": [_entry(base_url, digest_list.slug, edition) for edition in editions],
    }
    headers = {"Cache-Control": LIST_CACHE}
    if newest is not None:
        headers["Last-Modified"] = _http_date(_modified(web, newest))
    return Response(
        web.pages.html("web/feed.atom.xml.j2", context),
        media_type="application/atom+xml; charset=utf-8",
        headers=headers,
    )


def _modified(web: WebContext, built: datetime) -> datetime:
    """When a page made of an edition built at ``built`` last changed: the later of that and
    the config file's last write, whose list name, description and timezone the page shows
    (an If-Modified-Since of the old page must not keep the old name)."""
    written = web.settings_written
    return built if written is None else max(built, min(written, web.services.clock.now()))


def neutral_copy(page: str, digest_list: ListSettings, words: PageWords, *, home: str) -> str:
    """The stored HTML with no one's greeting, address or token: the personal markers become
    neutral words and links, the time markers times in the list's timezone."""
    zone = ZoneInfo(digest_list.timezone)
    wording = wording_for(digest_list.language, digest_list.calendar)
    values = {
        placeholders.GREETING: "",
        placeholders.UNSUBSCRIBE_URL: html.escape(home),
        placeholders.PREFERENCES_URL: html.escape(home),
        placeholders.SUBSCRIBER_EMAIL: html.escape(words.recipient),
    }

    def value(match: re.Match[str]) -> str:
        moment = placeholders.time_of(match.group())
        if moment is not None:
            return html.escape(format_datetime(moment, zone, wording))
        return values[match.group()]

    signup = f"{home.rstrip('/')}/subscribe/{digest_list.slug}"
    page = _footer_link(page, placeholders.UNSUBSCRIBE_URL, signup, words.signup_button)
    page = _footer_link(page, placeholders.PREFERENCES_URL, home, words.all_lists)
    return placeholders.ANY.sub(value, _with_main(page))


# Where the edition's own table starts and its footer's does, as the mail template writes them.
_EDITION_START = re.compile(r'<table\b[^<>]*\bclass="container\b')
_FOOTER_START = re.compile(r'<table\b[^<>]*\bclass="footer\b')


def _with_main(page: str) -> str:
    """The edition, between its top bar and its footer, in a ``<main>``: a web page's landmark,
    which a mail has no use for (its app gives it one), and which a screen reader's "skip to
    main" and list of landmarks look for. A page of another layout (an operator's template)
    is left as it is."""
    start = _EDITION_START.search(page)
    end = _FOOTER_START.search(page, start.end()) if start else None
    if start is None or end is None:
        return page
    edition = page[start.start() : end.start()]
    return f"{page[: start.start()]}<main>{edition}</main>\n{page[end.start() :]}"


def _footer_link(page: str, placeholder: str, href: str, name: str) -> str:
    """The links to a reader's own page (``placeholder``: their unsubscribe or preferences
    page) made links to ``href``, named ``name``. The archive's copy has no reader, so no
    token: "Unsubscribe" and "Preferences" led to the front page, which does neither; "Sign up"
    to the list's sign-up and "All newsletters" to the front page say where they lead (a
    reader with a copy of their own unsubscribes from its link). A link of other markup than
    a plain name (an operator's own template) keeps its name and leads to the front page."""
    link = re.compile(r'(<a\b[^<>]*\bhref=")' + re.escape(placeholder) + r'("[^<>]*>)[^<>]*</a>')
    return link.sub(
        lambda found: f"{found[1]}{html.escape(href)}{found[2]}{html.escape(name)}</a>", page
    )


def _entry(base_url: str, list_slug: str, edition: ArchivedEdition) -> dict[str, Any]:
    # The list's slug now: an edition still stored under a former one is at its address too.
    url = edition_url(base_url, list_slug, edition.slot)
    return {
        "id": _entry_id(base_url, edition),
        "url": url,
        "title": _xml_text(edition.subject),
        "summary": _xml_text(edition.preheader),
        "published": _rfc3339(edition.slot),
        "updated": _rfc3339(edition.built_at),
    }


def _entry_id(base_url: str, edition: ArchivedEdition) -> str:
    """The edition's Atom id, a tag URI (RFC 4151) of the service's host, the edition's day and
    its row: ``tag:news.example.org,2026-11-24:editions/7``. Not its address, which names the
    list's slug: RFC 4287 wants an entry's id never to change, and feed readers take an entry
    of a new id for a new entry, so a renamed list would have shown its last editions again."""
    return _tag(base_url, edition.slot, f"editions/{edition.edition_id}")


def _tag(base_url: str, day: datetime, specific: str) -> str:
    """A tag URI (RFC 4151) of the service's host on ``day``."""
    host = (urlsplit(base_url).hostname or "localhost").lower()
    return f"tag:{host},{day.astimezone(UTC):%Y-%m-%d}:{specific}"


def _edition_date(edition: ArchivedEdition, zone: ZoneInfo, wording: Wording) -> str:
    """The date the edition's masthead and subject give: in the list's timezone, or, for a
    list read in each reader's timezone, where its readers are (07:00 in Auckland is the
    evening before in Dubai: that edition is dated a day later than the list's zone says)."""
    day = dated_on(edition.variant, edition.slot)
    if day is None:
        return format_long_date(edition.slot, zone, wording)
    return format_long_date(datetime.combine(day, time(12), UTC), ZoneInfo("UTC"), wording)


def _list(web: WebContext, request: Request) -> tuple[ListSettings, PageWords] | Response:
    """The list the path names; a redirect when it names a former slug; else a 404 page."""
    slug = request.path_params["list_slug"]
    digest_list = list_for_slug(web.services.settings, slug)
    if digest_list is None:
        return _not_found(web)
    if digest_list.slug != slug:
        rest = request.url.path.split("/", 3)[3:]  # "", "editions", slug, rest
        target = "/".join([f"{web.pages.root}/editions", digest_list.slug, *rest])
        if request.url.query:
            target += f"?{request.url.query}"
        return RedirectResponse(target, status_code=301)
    return digest_list, words_for(digest_list.language)


def _page_number(text: str | None) -> int | None:
    if text is None:
        return 1
    if not text.isascii() or not text.isdigit() or len(text) > MAX_PAGE_DIGITS:
        return None
    number = int(text)
    return number if number >= 1 else None


def _slot(text: str) -> datetime | None:
    if not _SLOT.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, SLOT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


# The <updated> of the feed of a list that has not run yet.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_date(moment: datetime) -> str:
    return http_date(moment.astimezone(UTC), usegmt=True)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _not_found(web: WebContext) -> Response:
    # In English, as every error page: its words are not the list's.
    return web.pages.error(
        404,
        "No such page",
        "There is no newsletter or edition at this address. It may have been mistyped; the "
        "list of newsletters links to every archive.",
    )


async def editions_page(request: Request) -> Response:
    return await _cached(request, _editions_page, paged=True)


async def edition_page(request: Request) -> Response:
    return await _cached(request, _edition_page, paged=False, variants=True)


async def editions_feed(request: Request) -> Response:
    return await _cached(request, _editions_feed, paged=False)


async def _cached(
    request: Request,
    render: Callable[[Request], Awaitable[Response]],
    *,
    paged: bool,
    variants: bool = False,
) -> Response:
    """The page from the archive cache, else rendered and, when it is a 200, kept there."""
    cache = web_context(request).archive_cache
    # Only ?page= changes a page, and only the list of editions (``paged``) has pages: other
    # query strings share its entry, and so do the ways of writing one number ("2", "02",
    # "000002"), so made-up ones cannot push the real pages out. An edition or the feed reads
    # no ?page=, so one of them with a made-up ?page= is still its one entry.
    page = request.query_params.get("page") if paged else None
    number = _page_number(page)
    key = request.url.path if page is None else f"{request.url.path}?page={number or page}"
    # An edition's variant is its own page; a made-up one is redirected, never kept.
    variant = request.query_params.get("variant") if variants else None
    if variant is not None:
        key = f"{key}?variant={variant}"
    response = cache.get(key)
    if response is None:
        response = await render(request)
        if response.status_code == 200:
            response.headers["ETag"] = _etag(response.body)
            cache.put(key, response)
    if response.status_code == 200 and _not_modified(request, response):
        # Feed readers poll with the validators of their last copy: unchanged, it costs them
        # and us no body. A 304 carries the headers a 200 would have had (RFC 9110 §15.4.5).
        kept = ("cache-control", "etag", "last-modified", "content-security-policy", "vary")
        headers = {name: response.headers[name] for name in kept if name in response.headers}
        return Response(status_code=304, headers=headers)
    return response


def _etag(body: bytes | memoryview) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _not_modified(request: Request, response: Response) -> bool:
    """Whether the client's copy is the page: its If-None-Match names the page's ETag, or,
    without one (which decides when both are sent, RFC 9110 §13.2.2), its If-Modified-Since is
    no earlier than the page's Last-Modified. A date that cannot be read matches nothing."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(response.headers.get("etag", ""), if_none_match)
    since = request.headers.get("if-modified-since")
    modified = response.headers.get("last-modified")
    if since is None or modified is None:
        return False
    try:
        since_moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since_moment.tzinfo is None:  # "-0000": a date in UTC from a source that says so
        since_moment = since_moment.replace(tzinfo=UTC)
    return parsedate_to_datetime(modified) <= since_moment


routes = [
    Route("/editions/{list_slug}", editions_page, methods=["GET"]),
    Route("/editions/{list_slug}/feed.atom", editions_feed, methods=["GET"]),
    Route("/editions/{list_slug}/{slot}", edition_page, methods=["GET"]),
]
